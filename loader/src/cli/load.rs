//! `redirect-lab load FILE --pin DIR`: load a whole object (`.o` from clang
//! or from `redirect-lab asm`, or a `.s`) through the one object loader
//! (`loader::load`): its BTF, its maps (`.maps` and data sections), every
//! program or the one named; then pin each program at `DIR/NAME` and each
//! map at `DIR/maps/NAME` on bpffs, the layout `bpftool prog loadall OBJ
//! DIR pinmaps DIR/maps` makes, and print what was pinned where.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use loader::file::{load_object_file, FileOptions};
use loader::load::MapOrigin;
use loader::ProgType;

use super::{json_str, CliResult};

/// `load` arguments.
#[derive(Args)]
pub struct LoadArgs {
    /// The object: an ELF object (.o) or assembly text (.s).
    pub file: PathBuf,
    /// Load only this program (its function name).
    #[arg(long, value_name = "NAME")]
    pub program: Option<String>,
    /// Set a global of .rodata/.data/.bss (a `const volatile` value) before
    /// the load: NAME=VALUE (integer, MAC or IPv4).
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub set: Vec<String>,
    /// Assembler constant NAME=VALUE, for .s files.
    #[arg(short = 'D', value_name = "NAME=VALUE")]
    pub define: Vec<String>,
    /// Program type for every program (default: from each section name).
    #[arg(long = "type", value_name = "TYPE")]
    pub prog_type: Option<String>,
    /// The bpffs directory to pin into (created; must not hold pins yet),
    /// e.g. /sys/fs/bpf/myobj.
    #[arg(long, value_name = "DIR")]
    pub pin: PathBuf,
    /// Where maps declared with `__uint(pinning, LIBBPF_PIN_BY_NAME)` are
    /// shared, as DIR/NAME: reused when such a pin exists and matches,
    /// else made and pinned there (libbpf's pin_root_path).
    #[arg(long, value_name = "DIR", default_value = loader::pin::BPFFS_ROOT)]
    pub pin_root: PathBuf,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Keep the level-2 verifier log (printed to stderr).
    #[arg(long, short)]
    pub verbose: bool,
}

/// Pins made so far, removed again if a later step fails.
struct Pinned(Vec<PathBuf>, Vec<PathBuf>);

impl Pinned {
    fn undo(&self) {
        for p in self.0.iter().rev() {
            let _ = std::fs::remove_file(p);
        }
        for d in self.1.iter().rev() {
            let _ = std::fs::remove_dir(d);
        }
    }
}

/// A file name for a pin: the object's name with `/` (never valid in a
/// file name) replaced and leading dots dropped, since bpffs refuses names
/// that start with one (EPERM): `.rodata` is pinned as `rodata`.
fn pin_name(name: &str) -> String {
    let n = name.trim_start_matches('.').replace('/', "_");
    if n.is_empty() {
        "_".into()
    } else {
        n
    }
}

fn make_dir(dir: &Path, pinned: &mut Pinned) -> Result<(), String> {
    if dir.exists() {
        let busy = std::fs::read_dir(dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true);
        if busy {
            return Err(format!(
                "{} exists and is not empty; remove it (rm -r) or pin elsewhere",
                dir.display()
            ));
        }
        return Ok(());
    }
    std::fs::create_dir(dir).map_err(|e| {
        format!(
            "cannot create {}: {} (the parent must exist on bpffs, e.g. /sys/fs/bpf)",
            dir.display(),
            loader::error::io_text(&e)
        )
    })?;
    pinned.1.push(dir.to_path_buf());
    Ok(())
}

/// Runs `redirect-lab load`.
pub fn load(a: LoadArgs) -> CliResult {
    let parse = |flag: &str, v: &[String]| {
        v.iter()
            .map(|d| {
                loader::defines::parse_define(d).map_err(|e| e.to_string().replacen("-D", flag, 1))
            })
            .collect::<Result<Vec<_>, _>>()
    };
    let defines = parse("-D", &a.define)?;
    let sets = parse("--set", &a.set)?;
    let prog_type = match &a.prog_type {
        Some(t) => Some(
            ProgType::from_name(t)
                .ok_or_else(|| format!("unknown program type {t:?} (try sched_cls or xdp)"))?,
        ),
        None => None,
    };
    if a.pin.starts_with(loader::pin::BPFFS_ROOT) {
        loader::pin::ensure_bpffs()?;
    }
    let (loaded, read) = load_object_file(
        &a.file,
        &FileOptions {
            defines: &defines,
            sets: &sets,
            program: a.program.as_deref(),
            prog_type,
            verbose: a.verbose,
            pin_root: Some(&a.pin_root),
            ..Default::default()
        },
    )?;
    for w in read.warnings.iter().chain(&loaded.warnings) {
        eprintln!("redirect-lab: {w}");
    }
    if a.verbose {
        for p in &loaded.programs {
            if let Some(log) = p.program.verifier_log() {
                eprintln!(
                    "--- verifier log of {} (level 2) ---\n{}\n--- end ---",
                    p.name,
                    log.trim_end()
                );
            }
        }
    }

    let mut pinned = Pinned(Vec::new(), Vec::new());
    let result = pin_all(&a, &loaded, &mut pinned);
    if result.is_err() {
        pinned.undo();
    }
    let rows = result?;
    if a.json {
        outln!("{{{}}}", rows.join(","));
    } else {
        for r in rows {
            outln!("{r}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Pins everything, returning the output lines (or JSON fields).
fn pin_all(
    a: &LoadArgs,
    loaded: &loader::load::LoadedObject,
    pinned: &mut Pinned,
) -> Result<Vec<String>, super::CliError> {
    make_dir(&a.pin, pinned)?;
    let mut progs = Vec::new();
    let mut maps = Vec::new();
    let mut lines = vec![format!(
        "{}: {} program(s), {} map(s){}",
        a.file.display(),
        loaded.programs.len(),
        loaded.maps.len(),
        if loaded.btf.is_some() {
            ", BTF loaded"
        } else {
            ", no BTF"
        }
    )];
    for p in &loaded.programs {
        let path = a.pin.join(pin_name(&p.name));
        p.program.pin(&path)?;
        pinned.0.push(path.clone());
        let info = p.program.info()?;
        let subs = if p.subprograms.is_empty() {
            String::new()
        } else {
            format!(", calls {}", p.subprograms.join(", "))
        };
        lines.push(format!(
            "  program {:<16} {:<10} id {:<6} {} insns{subs} -> {}",
            p.name,
            p.prog_type.short_name(),
            info.id,
            p.slots,
            path.display()
        ));
        progs.push(format!(
            "{{\"name\":{},\"section\":{},\"type\":{},\"id\":{},\"insns\":{},\"subprograms\":[{}],\"pin\":{}}}",
            json_str(&p.name),
            json_str(&p.section),
            json_str(p.prog_type.short_name()),
            info.id,
            p.slots,
            p.subprograms.iter().map(|s| json_str(s)).collect::<Vec<_>>().join(","),
            json_str(&path.display().to_string())
        ));
    }
    if !loaded.maps.is_empty() {
        make_dir(&a.pin.join("maps"), pinned)?;
    }
    for m in &loaded.maps {
        let path = a.pin.join("maps").join(pin_name(&m.name));
        m.map.pin(&path)?;
        pinned.0.push(path.clone());
        let info = m.map.info()?;
        let mut origin = match m.origin {
            MapOrigin::Declared => ".maps",
            MapOrigin::Data { frozen: true } => "data, frozen",
            MapOrigin::Data { frozen: false } => "data",
            MapOrigin::Kconfig => "__kconfig externs, frozen",
        }
        .to_string();
        if let Some(p) = &m.pin {
            let how = if p.reused { "reused from" } else { "pinned at" };
            origin += &format!(", by name: {how} {}", p.path.display());
        }
        lines.push(format!(
            "  map     {:<16} {:<10} id {:<6} key {} value {} max_entries {} flags {} ({origin}) -> {}",
            m.name,
            m.map_type.short_name(),
            info.id,
            m.key_size,
            m.value_size,
            m.max_entries,
            m.flags,
            path.display()
        ));
        maps.push(format!(
            "{{\"name\":{},\"type\":{},\"id\":{},\"key_size\":{},\"value_size\":{},\"max_entries\":{},\"flags\":{},\"origin\":{},\"pin\":{}}}",
            json_str(&m.name),
            json_str(m.map_type.short_name()),
            info.id,
            m.key_size,
            m.value_size,
            m.max_entries,
            json_str(&m.flags.names()),
            json_str(&origin),
            json_str(&path.display().to_string())
        ));
    }
    if a.json {
        return Ok(vec![
            format!("\"file\":{}", json_str(&a.file.display().to_string())),
            format!("\"btf\":{}", loaded.btf.is_some()),
            format!("\"programs\":[{}]", progs.join(",")),
            format!("\"maps\":[{}]", maps.join(",")),
        ]);
    }
    Ok(lines)
}
