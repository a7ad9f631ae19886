//! `redirect-lab asm` and `redirect-lab disasm`: text to instructions (as an
//! ELF object, raw bytes or hex) and back, with `ebpf-asm`. These need no
//! privileges: nothing reaches the kernel.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use ebpf_asm::disasm::{disassemble, DisasmOptions, Syntax};

use super::{parse_hex, read_file, write_file, CliResult};

/// Output formats of `asm`.
#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    /// A relocatable ELF object (for bpftool, tc, llvm-objdump, `run`).
    Elf,
    /// The instruction bytes, 8 per slot.
    Raw,
    /// The instruction bytes as hex text, one slot per line.
    Hex,
}

/// `asm` arguments.
#[derive(Args)]
pub struct AsmArgs {
    /// Assembly source.
    pub input: PathBuf,
    /// Constant NAME=VALUE (integer, MAC aa:bb:.. or IPv4 a.b.c.d);
    /// overrides a `.equ` of the same name.
    #[arg(short = 'D', value_name = "NAME=VALUE")]
    pub define: Vec<String>,
    /// Output format.
    #[arg(short = 'f', long, value_enum, default_value = "elf")]
    pub format: Format,
    /// Output file ("-" for stdout). Default: IN with .o (elf) or .bin
    /// (raw) extension, stdout for hex.
    #[arg(short = 'o', long)]
    pub output: Option<PathBuf>,
}

/// Listing syntaxes of `disasm`.
#[derive(Clone, Copy, ValueEnum)]
pub enum SyntaxArg {
    /// The kernel's (verifier log, bpftool): `r0 = *(u32 *)(r1 +76)`.
    Kernel,
    /// LLVM's (llvm-objdump): `w0 = *(u32 *)(r1 + 76)`.
    Llvm,
}

impl From<SyntaxArg> for Syntax {
    fn from(s: SyntaxArg) -> Syntax {
        match s {
            SyntaxArg::Kernel => Syntax::Kernel,
            SyntaxArg::Llvm => Syntax::Llvm,
        }
    }
}

/// `disasm` arguments.
#[derive(Args)]
pub struct DisasmArgs {
    /// An ELF object (.o), raw instruction bytes (.bin) or hex text (.hex).
    pub input: PathBuf,
    /// Listing syntax.
    #[arg(long, value_enum, default_value = "kernel")]
    pub syntax: SyntaxArg,
    /// The ELF section to list (default: the only program section).
    #[arg(long)]
    pub section: Option<String>,
    /// Show each slot's bytes, like llvm-objdump.
    #[arg(long)]
    pub bytes: bool,
}

/// Runs `redirect-lab asm`.
pub fn asm(a: AsmArgs) -> CliResult {
    let defines = a
        .define
        .iter()
        .map(|d| loader::defines::parse_define(d))
        .collect::<Result<Vec<_>, _>>()?;
    let text = String::from_utf8(read_file(&a.input)?)
        .map_err(|_| format!("{} is not UTF-8 text", a.input.display()))?;
    let file = a.input.display().to_string();
    let assembled = loader::file::assemble_text(&file, &text, &defines)?;
    let prog = &assembled.prog;
    for w in loader::defines::define_warnings(&file, &text, prog, &defines) {
        eprintln!("redirect-lab: {w}");
    }
    for w in prog.warnings() {
        eprintln!("redirect-lab: {}", w.as_warning());
    }
    let (out, default_path): (Vec<u8>, Option<PathBuf>) = match a.format {
        // A file that is an object is written whole; raw and hex hold its
        // (one) program's instructions, relocations not applied.
        Format::Elf => (
            match &assembled.object {
                Some(o) => o.to_elf().map_err(|e| e.to_string())?,
                None => ebpf_asm::elf::write_object(prog).map_err(|e| e.to_string())?,
            },
            Some(a.input.with_extension("o")),
        ),
        Format::Raw => (prog.to_bytes(), Some(a.input.with_extension("bin"))),
        Format::Hex => {
            let mut s = String::new();
            for slot in prog.to_bytes().chunks(8) {
                let b: Vec<String> = slot.iter().map(|b| format!("{b:02x}")).collect();
                s.push_str(&b.join(" "));
                s.push('\n');
            }
            (s.into_bytes(), None)
        }
    };
    match a.output.or(default_path) {
        Some(p) if p != Path::new("-") => {
            write_file(&p, &out)?;
            eprintln!(
                "{}: {} instructions ({} bytes) -> {}",
                a.input.display(),
                prog.insns().len(),
                prog.insns().len() * 8,
                p.display()
            );
        }
        _ => {
            use std::io::Write;
            // Out never returns an error: it exits on EPIPE or reports others.
            let _ = super::Out.write_all(&out).and_then(|_| super::Out.flush());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `redirect-lab disasm`.
pub fn disasm(a: DisasmArgs) -> CliResult {
    let raw = read_file(&a.input)?;
    let mut relocs = Vec::new();
    let (label, bytes) = if raw.starts_with(b"\x7fELF") {
        let obj = ebpf_asm::object::Object::from_elf(&raw)
            .map_err(|e| loader::Error::Elf(format!("{}: {e}", a.input.display())))?;
        let i = loader::load::pick_section(&obj, a.section.as_deref())?;
        let sec = &obj.sections[i];
        // Relocations against section symbols name the section, as
        // llvm-objdump -r does.
        for r in &sec.relocations {
            let symbol = obj.symbols.get(r.symbol).map_or("?", |y| y.name.as_str());
            relocs.push((r.offset / 8, r.kind.name(), symbol.to_string()));
        }
        (format!("section {}", sec.name), sec.data.clone())
    } else if a.input.extension().is_some_and(|e| e == "hex") {
        let text =
            String::from_utf8(raw).map_err(|_| format!("{} is not text", a.input.display()))?;
        (
            "hex".to_string(),
            parse_hex(&text).map_err(|e| format!("{}: {e}", a.input.display()))?,
        )
    } else {
        ("raw".to_string(), raw)
    };
    let opts = DisasmOptions {
        syntax: a.syntax.into(),
        bytes: a.bytes,
        ..DisasmOptions::default()
    };
    let listing = disassemble(&bytes, &opts).map_err(|e| {
        // Anything that is neither ELF nor .hex is taken as raw slots; when
        // that fails, say so, since the usual cause is the wrong kind of file.
        let hint = if label == "raw" {
            "; not an ELF object, so it was read as raw 8-byte instructions \
             (name hex text *.hex; assemble .s files with `redirect-lab asm`)"
        } else {
            ""
        };
        format!("{} ({label}): cannot decode: {e}{hint}", a.input.display())
    })?;
    // llvm-mc reads `;` as a statement separator, not a comment, so the
    // LLVM listing's own lines use `#` and the listing stays valid input.
    let c = match a.syntax {
        SyntaxArg::Kernel => ";",
        SyntaxArg::Llvm => "#",
    };
    outln!(
        "{c} {} ({label}): {} slots",
        a.input.display(),
        bytes.len() / 8
    );
    out!("{listing}");
    if !listing.ends_with('\n') {
        outln!();
    }
    if !relocs.is_empty() {
        outln!("{c} relocations, patched at load time:");
        for r in &relocs {
            outln!("{c}   slot {}: {} {}", r.0, r.1, r.2);
        }
    }
    Ok(ExitCode::SUCCESS)
}
