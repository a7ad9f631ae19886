//! Loading a file, whatever its form: assembly text (`.s`, assembled by
//! `ebpf-asm` with `-D` constants, with its generated BTF) or a relocatable
//! ELF object (recognised by its `\x7fELF` magic, read by
//! [`ebpf_asm::object::Object::from_elf`]). Both become one
//! [`Object`] and load through the one [`crate::load::load`].
//!
//! This is what `redirect-lab run`, `load` and the lab commands use, so they
//! accept the same files.

use std::path::Path;

use ebpf_asm::object::Object;

use crate::error::{Error, Result};
use crate::load::{LoadSpec, LoadedObject};
use crate::map::Map;
use crate::prog::Program;
use crate::types::ProgType;

/// How to load a file.
#[derive(Debug, Clone, Default)]
pub struct FileOptions<'a> {
    /// `-D NAME=VALUE` constants for assembly files.
    pub defines: &'a [(String, i64)],
    /// `--set NAME=VALUE`: globals of the data sections, set before load.
    pub sets: &'a [(String, i64)],
    /// The program to load, by name (default: every program; one-program
    /// loads need it only when there are several).
    pub program: Option<&'a str>,
    /// The section whose program to load, when no name is given.
    pub section: Option<&'a str>,
    /// The program type (default: from the section name, `.section` in a
    /// `.s` file, as [`crate::load::prog_type_for_section`] reads it).
    pub prog_type: Option<ProgType>,
    /// Where maps declared with `__uint(pinning, LIBBPF_PIN_BY_NAME)` are
    /// pinned (default `/sys/fs/bpf`, as libbpf).
    pub pin_root: Option<&'a Path>,
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

/// A file read into the object model, not loaded yet.
#[derive(Debug, Clone)]
pub struct ReadFile {
    pub object: Object,
    pub kind: FileKind,
    /// Warnings for the user, e.g. `-D` names an assembly file never used
    /// ([`crate::defines::define_warnings`]).
    pub warnings: Vec<String>,
}

/// One loaded program with the maps made for it.
#[derive(Debug)]
pub struct LoadedFile {
    /// The program.
    pub program: Program,
    /// The object's maps, by name (a `.maps` symbol or a data section).
    pub maps: Vec<(String, Map)>,
    /// The file's kind.
    pub kind: FileKind,
    /// Warnings for the user.
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

/// Assembled text: a one-program file (the kernel syntax's) as an
/// [`ebpf_asm::Program`], or a file that is an object (maps declared with
/// `.map`, strings in `.rodata`, several programs, LLVM's own files) as its
/// object with the BTF our assembler writes, plus a program view of its one
/// program for listings. Dereferences to the program.
#[derive(Debug, Clone)]
pub struct Assembled {
    pub prog: ebpf_asm::Program,
    /// `Some` for a file that is an object.
    pub object: Option<Object>,
}

impl std::ops::Deref for Assembled {
    type Target = ebpf_asm::Program;
    fn deref(&self) -> &ebpf_asm::Program {
        &self.prog
    }
}

impl Assembled {
    /// The object: the file's own, or the one-program file's with its BTF.
    pub fn object(&self) -> Object {
        match &self.object {
            Some(o) => o.clone(),
            None => Object::from_program_with_btf(&self.prog, self.prog.file_name()),
        }
    }

    /// Loads its one program (through [`crate::load::load`] either way).
    pub fn load(&self, how: &crate::asm::AsmLoad<'_>) -> Result<Program> {
        match &self.object {
            None => Program::load_asm(&self.prog, how),
            Some(obj) => Program::load_asm_object(obj, how),
        }
    }
}

/// Assembles `text` (from `origin`) with `defines`: as one program when it
/// is one, else as an object (see [`Assembled`]).
pub fn assemble_text(origin: &str, text: &str, defines: &[(String, i64)]) -> Result<Assembled> {
    let opts = ebpf_asm::AsmOptions {
        file_name: origin.to_string(),
        defines: defines.to_vec(),
    };
    let first = match ebpf_asm::assemble(text, &opts) {
        Ok(prog) => return Ok(Assembled { prog, object: None }),
        Err(e) => e,
    };
    // The one-program error is the clearer one unless it says the file is
    // an object; then the object's own error is.
    let a = match ebpf_asm::text::assemble_full(text, &opts) {
        Ok(a) => a,
        Err(e) if first.message.contains("assemble_object") => {
            return Err(Error::Input(e.to_string()))
        }
        Err(_) => return Err(Error::Input(first.to_string())),
    };
    let object = a.object_with_btf();
    let prog = match a.program_view(None) {
        Some(p) => p,
        // Several programs: the view is only for listings; name the first.
        None => a
            .object
            .programs()
            .first()
            .and_then(|p| a.program_view(Some(&p.name)))
            .ok_or_else(|| Error::Input(format!("{origin}: no program in it")))?,
    };
    Ok(Assembled {
        prog,
        object: Some(object),
    })
}

/// Reads `path` into an [`Object`]: an ELF as it is, a `.s` assembled with
/// `defines` and given the BTF our assembler writes.
pub fn read_object(path: &Path, defines: &[(String, i64)]) -> Result<ReadFile> {
    let bytes =
        std::fs::read(path).map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
    let name = path.display().to_string();
    if bytes.starts_with(ELF_MAGIC) {
        let object = Object::from_elf(&bytes).map_err(|e| Error::Elf(format!("{name}: {e}")))?;
        return Ok(ReadFile {
            object,
            kind: FileKind::Elf,
            warnings: Vec::new(),
        });
    }
    let text = String::from_utf8(bytes).map_err(|_| {
        Error::Input(format!(
            "{name} is neither an ELF object nor UTF-8 assembly text"
        ))
    })?;
    let a = assemble_text(&name, &text, defines)?;
    let object = a.object();
    let unused = a.unused_defines().to_vec();
    let warnings = crate::defines::define_warnings_for(&name, &text, &unused, defines);
    Ok(ReadFile {
        object,
        kind: FileKind::Asm,
        warnings,
    })
}

/// Reads `path` and loads every program in it (or `opts.program`), with
/// its BTF and maps.
pub fn load_object_file(path: &Path, opts: &FileOptions<'_>) -> Result<(LoadedObject, ReadFile)> {
    let read = read_object(path, opts.defines)?;
    let name = path.display().to_string();
    let program = match (opts.program, opts.section) {
        (Some(p), _) => Some(p.to_string()),
        (None, Some(sec)) => {
            let in_sec: Vec<_> = read
                .object
                .programs()
                .into_iter()
                .filter(|p| p.section == sec)
                .collect();
            match in_sec.as_slice() {
                [one] => Some(one.name.clone()),
                [] => {
                    let secs = crate::load::program_sections(&read.object);
                    return Err(Error::Elf(format!(
                        "{name}: no program section {sec:?}; the object has {secs:?}"
                    )));
                }
                _ => {
                    let names: Vec<&str> = in_sec.iter().map(|p| p.name.as_str()).collect();
                    return Err(Error::Input(format!(
                        "{name}: section {sec} holds programs {names:?}; choose one with --program"
                    )));
                }
            }
        }
        (None, None) => None,
    };
    let loaded = crate::load::load(
        &read.object,
        &LoadSpec {
            file_name: &name,
            program: program.as_deref(),
            prog_type: opts.prog_type,
            sets: opts.sets,
            verbose: opts.verbose,
            pin_root: opts.pin_root,
            ..Default::default()
        },
    );
    let loaded = match (loaded, read.kind) {
        // A .s file is not an ELF object: say what is wrong without that
        // prefix (the message names the section and offset all the same).
        (Err(Error::Elf(m)), FileKind::Asm) => Err(Error::Input(m)),
        (other, _) => other,
    }?;
    Ok((loaded, read))
}

/// Reads `path` and loads the one program in it (or the one `opts` names).
pub fn load_file(path: &Path, opts: &FileOptions<'_>) -> Result<LoadedFile> {
    let name = path.display().to_string();
    if opts.program.is_none() && opts.section.is_none() {
        let read = read_object(path, opts.defines)?;
        let progs = read.object.programs();
        if progs.len() > 1 {
            let names: Vec<&str> = progs.iter().map(|p| p.name.as_str()).collect();
            return Err(Error::Input(format!(
                "{name} holds programs {names:?}; choose one with --program"
            )));
        }
    }
    let (mut loaded, read) = load_object_file(path, opts)?;
    let mut warnings = read.warnings;
    warnings.append(&mut loaded.warnings);
    let program = loaded
        .programs
        .pop()
        .ok_or_else(|| Error::Elf(format!("{name}: no program")))?
        .program;
    Ok(LoadedFile {
        program,
        maps: loaded.maps.into_iter().map(|m| (m.name, m.map)).collect(),
        kind: read.kind,
        warnings,
    })
}
