//! `redirect-lab run`: load a program (`.s` or `.o`) and run it on a packet
//! with `BPF_PROG_TEST_RUN`, without attaching it anywhere; print the return
//! value, the kernel's timing and the packet after the run.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use loader::file::{load_file, FileOptions};
use loader::{ProgType, TestRun};

use super::{hex, json_str, parse_hex, read_file, write_file, CliResult};

/// `run` arguments.
#[derive(Args)]
pub struct RunArgs {
    /// The program: assembly text (.s) or an ELF object (.o).
    pub file: PathBuf,
    /// Assembler constant NAME=VALUE (integer, MAC aa:bb:.. or IPv4 a.b.c.d).
    #[arg(short = 'D', value_name = "NAME=VALUE")]
    pub define: Vec<String>,
    /// The packet, starting at the Ethernet header: raw bytes, or hex text
    /// if the file name ends in .hex.
    #[arg(long, value_name = "PACKET_FILE")]
    pub data: PathBuf,
    /// Runs to average the duration over.
    #[arg(long, default_value_t = 1)]
    pub repeat: u32,
    /// Write the packet after the run to this file (raw bytes).
    #[arg(long, value_name = "FILE")]
    pub data_out: Option<PathBuf>,
    /// Print one JSON object (retval, duration_ns, data_out as hex).
    #[arg(long)]
    pub json: bool,
    /// Show the level-2 verifier log and its stats line.
    #[arg(long, short)]
    pub verbose: bool,
    /// ELF section holding the program (default: the only one).
    #[arg(long)]
    pub section: Option<String>,
    /// The program to run, by its function name (objects with several).
    #[arg(long, value_name = "NAME")]
    pub program: Option<String>,
    /// Set a global of .rodata/.data/.bss (a `const volatile` value) before
    /// the load: NAME=VALUE (integer, MAC or IPv4, as for -D).
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub set: Vec<String>,
    /// Program type (sched_cls, xdp, ...); default from the file.
    #[arg(long = "type", value_name = "TYPE")]
    pub prog_type: Option<String>,
}

/// Runs `redirect-lab run`.
pub fn run(a: RunArgs) -> CliResult {
    let defines = a
        .define
        .iter()
        .map(|d| loader::defines::parse_define(d))
        .collect::<Result<Vec<_>, _>>()?;
    let sets = a
        .set
        .iter()
        .map(|d| loader::defines::parse_define(d))
        .collect::<Result<Vec<_>, _>>()?;
    let prog_type = match &a.prog_type {
        Some(t) => Some(
            ProgType::from_name(t)
                .ok_or_else(|| format!("unknown program type {t:?} (try sched_cls or xdp)"))?,
        ),
        None => None,
    };
    let raw = read_file(&a.data)?;
    let packet = if a.data.extension().is_some_and(|e| e == "hex") {
        let text =
            String::from_utf8(raw).map_err(|_| format!("{} is not text", a.data.display()))?;
        parse_hex(&text).map_err(|e| format!("{}: {e}", a.data.display()))?
    } else {
        raw
    };

    let loaded = load_file(
        &a.file,
        &FileOptions {
            defines: &defines,
            sets: &sets,
            program: a.program.as_deref(),
            section: a.section.as_deref(),
            prog_type,
            verbose: a.verbose,
            // Maps pinned by name are shared where libbpf shares them.
            pin_root: None,
        },
    )?;
    for w in &loaded.warnings {
        eprintln!("redirect-lab: {w}");
    }
    if a.verbose {
        if let Some(log) = loaded.program.verifier_log() {
            eprintln!(
                "--- verifier log (level 2) ---\n{}\n--- end of verifier log ---",
                log.trim_end()
            );
        }
    }
    let info = loaded.program.info()?;
    let result = loaded.program.test_run(&TestRun {
        data_in: &packet,
        repeat: a.repeat,
        ..Default::default()
    })?;
    if let Some(out) = &a.data_out {
        write_file(out, &result.data_out)?;
    }
    let name = loader::retval::name(ProgType::from_raw(info.prog_type), result.retval);
    let changed = result.data_out != packet;
    if a.json {
        let mut fields = vec![
            format!("\"retval\":{}", result.retval),
            format!(
                "\"retval_name\":{}",
                name.map(json_str).unwrap_or_else(|| "null".into())
            ),
            format!("\"duration_ns\":{}", result.duration_ns),
            format!("\"repeat\":{}", a.repeat.max(1)),
            format!("\"data_out\":\"{}\"", hex(&result.data_out)),
            format!("\"data_changed\":{changed}"),
            format!("\"prog_id\":{}", info.id),
            format!("\"prog_tag\":\"{}\"", info.tag_hex()),
        ];
        if a.verbose {
            if let Some(s) = loaded.program.verifier_stats() {
                fields.push(format!("\"verifier_stats\":{}", json_str(s)));
            }
        }
        outln!("{{{}}}", fields.join(","));
    } else {
        match name {
            Some(n) => outln!("retval: {} ({n})", result.retval),
            None => outln!("retval: {}", result.retval),
        }
        // The kernel runs at least once whatever `repeat` says (0 means 1).
        let runs = a.repeat.max(1);
        outln!(
            "duration: {} ns ({})",
            result.duration_ns,
            if runs == 1 {
                "one run".to_string()
            } else {
                format!("mean of {runs} runs")
            }
        );
        outln!(
            "data_out: {} bytes, {}",
            result.data_out.len(),
            if changed { "changed" } else { "unchanged" }
        );
        for (i, chunk) in result.data_out.chunks(16).enumerate() {
            let bytes: Vec<String> = chunk.iter().map(|b| format!("{b:02x}")).collect();
            outln!("  {:04x}: {}", i * 16, bytes.join(" "));
        }
        if a.verbose {
            if let Some(s) = loaded.program.verifier_stats() {
                outln!("verifier: {s}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
