//! Loading a program from a file, whatever its form: assembly text (`.s`,
//! assembled by `ebpf-asm` with `-D` constants) or a relocatable ELF object
//! (recognised by its `\x7fELF` magic, loaded by [`crate::elf`]).
//!
//! This is what `redirect-lab run` and the lab commands use, so they accept
//! the same files.

use std::path::Path;

use crate::asm::AsmLoad;
use crate::error::{Error, Result};
use crate::map::Map;
use crate::prog::Program;
use crate::types::ProgType;

/// How to load a file.
#[derive(Debug, Clone, Default)]
pub struct FileOptions<'a> {
    /// `-D NAME=VALUE` constants for assembly files.
    pub defines: &'a [(String, i64)],
    /// The ELF section to load (default: the only program section).
    pub section: Option<&'a str>,
    /// The program type (default: from the section name, `.section` in a
    /// `.s` file, as [`crate::elf::prog_type_for_section`] reads it).
    pub prog_type: Option<ProgType>,
    /// Keep the level-2 verifier log and stats.
    pub verbose: bool,
}

/// What kind of file it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// Assembly text.
    Asm,
    /// An ELF object.
    Elf,
}

/// A loaded program with the maps made for it.
#[derive(Debug)]
pub struct LoadedFile {
    /// The program.
    pub program: Program,
    /// Global-data maps (ELF only), by section name.
    pub maps: Vec<(String, Map)>,
    /// The file's kind.
    pub kind: FileKind,
    /// Warnings for the user, e.g. `-D` names an assembly file never used
    /// ([`crate::defines::define_warnings`]).
    pub warnings: Vec<String>,
}

/// The ELF magic (`ELFMAG` in elf.h).
const ELF_MAGIC: &[u8; 4] = b"\x7fELF";

/// Assembles a `.s` file's text with `defines`.
pub fn assemble(path: &Path, text: &str, defines: &[(String, i64)]) -> Result<ebpf_asm::Program> {
    let opts = ebpf_asm::AsmOptions {
        file_name: path.display().to_string(),
        defines: defines.to_vec(),
    };
    ebpf_asm::assemble(text, &opts).map_err(|e| Error::Input(e.to_string()))
}

/// Reads `path` and loads the program in it.
pub fn load_file(path: &Path, opts: &FileOptions<'_>) -> Result<LoadedFile> {
    let bytes =
        std::fs::read(path).map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
    if bytes.starts_with(ELF_MAGIC) {
        let obj = crate::elf::load(&bytes, opts.section, opts.prog_type, opts.verbose)?;
        return Ok(LoadedFile {
            program: obj.program,
            maps: obj.maps,
            kind: FileKind::Elf,
            warnings: Vec::new(),
        });
    }
    let text = String::from_utf8(bytes).map_err(|_| {
        Error::Input(format!(
            "{} is neither an ELF object nor UTF-8 assembly text",
            path.display()
        ))
    })?;
    let prog = assemble(path, &text, opts.defines)?;
    let warnings =
        crate::defines::define_warnings(&path.display().to_string(), &text, &prog, opts.defines);
    if !prog.relocations().is_empty() {
        let names: Vec<&str> = prog
            .relocations()
            .iter()
            .map(|r| r.symbol.as_str())
            .collect();
        return Err(Error::Input(format!(
            "{} references maps {names:?}; loading a .s file with maps needs the maps created \
             first (use loader::Program::load_asm with AsmLoad::maps)",
            path.display()
        )));
    }
    // The same rule as for an ELF object's section, so `.section xdp` in a
    // .s file loads an XDP program just as an object's `xdp` section does.
    let prog_type = match opts.prog_type {
        Some(t) => t,
        None => crate::elf::prog_type_for_section(prog.section()).ok_or_else(|| {
            Error::Input(format!(
                "{}: cannot tell the program type from section {:?} (tc, xdp, socket, \
                 action...); give it explicitly",
                path.display(),
                prog.section()
            ))
        })?,
    };
    let file_name = path.display().to_string();
    let program = Program::load_asm(
        &prog,
        &AsmLoad {
            prog_type,
            file_name: &file_name,
            maps: &[],
            verbose: opts.verbose,
        },
    )?;
    Ok(LoadedFile {
        program,
        maps: Vec::new(),
        kind: FileKind::Asm,
        warnings,
    })
}
