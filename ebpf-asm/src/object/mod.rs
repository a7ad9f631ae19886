//! The object model: one relocatable BPF object as plain data, the same
//! whether it came from text ([`crate::assemble`]), from the builder
//! ([`crate::builder`]), or from an ELF file ([`Object::from_elf`]), and
//! written to ELF by [`Object::to_elf`]. It follows the split of LLVM's MC
//! layer (sections, symbols, fixups) and the ELF `EM_BPF` conventions
//! clang writes and libbpf reads (`tools/lib/bpf/libbpf.c`).
//!
//! One module per concern:
//! - [`section`]: [`Section`] and [`SectionKind`] (program, `.rodata`,
//!   `.data`, `.bss`, `.maps`, `license`, other sections such as `.BTF` and
//!   `.BTF.ext` kept as bytes);
//! - [`symbol`]: [`Symbol`], [`SymbolType`] (`STT_*`), [`Binding`] (`STB_*`);
//! - [`reloc`]: [`Relocation`] and [`RelocType`] (`R_BPF_64_64`,
//!   `R_BPF_64_ABS64`, `R_BPF_64_ABS32`, `R_BPF_64_NODYLD32`,
//!   `R_BPF_64_32`), as llvm-mc writes them;
//! - [`map`]: [`MapDecl`], the fields of each BTF-defined map in `.maps`,
//!   for the BTF writer;
//! - [`fixup`]: the label and fixup engine the text assembler and the
//!   builder share;
//! - `read` / `write`: ELF in and out;
//! - `query`: what a loader asks (BTF map definitions, functions, data symbols).
//!
//! Programs are named by one rule, [`Object::programs`]: every global
//! `STT_FUNC` symbol in an executable section is a program, named by the
//! symbol (libbpf's rule); local functions and `.text` functions are
//! subprograms. Which program *type* a section name implies is the
//! loader's business, not this crate's.
//!
//! ```
//! use ebpf_asm::object::Object;
//! let p = ebpf_asm::assemble(".section xdp\n.name pass\nr0 = 2\nexit\n", &Default::default())?;
//! let obj = Object::from_program(&p);
//! let bytes = obj.to_elf()?;
//! let back = Object::from_elf(&bytes)?;
//! let progs = back.programs();
//! assert_eq!((progs[0].name.as_str(), progs[0].section.as_str()), ("pass", "xdp"));
//! assert_eq!(back.license(), Some("GPL"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod fixup;
pub mod map;
mod query;
mod read;
pub mod reloc;
pub mod section;
pub mod symbol;
mod write;

pub use map::{MapDecl, MapField, MapSlot, MapValues, LIBBPF_PIN_BY_NAME, MAP_FIELDS};
pub use query::{type_size, DataSymbol, FunctionRange};
pub use reloc::{RelocType, Relocation};
pub use section::{Section, SectionKind};
pub use symbol::{Binding, Symbol, SymbolType, Visibility};

use crate::insn::Insn;
use crate::program::{default_name, Program};
use std::fmt;

/// Why an ELF object could not be read or written: the section and byte
/// offset (within that section, or within the file when no section is
/// named) where it went wrong, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElfError {
    pub section: Option<String>,
    pub offset: Option<u64>,
    pub message: String,
}

impl fmt::Display for ElfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.section, self.offset) {
            (Some(s), Some(o)) => write!(f, "section {s} at offset {o:#x}: {}", self.message),
            (Some(s), None) => write!(f, "section {s}: {}", self.message),
            (None, Some(o)) => write!(f, "file offset {o:#x}: {}", self.message),
            (None, None) => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for ElfError {}

/// A relocatable BPF object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Object {
    /// In file order (without the null section, symbol and string tables
    /// and relocation sections, which the writer makes).
    pub sections: Vec<Section>,
    /// Symbols; relocations and each other refer to them by index.
    pub symbols: Vec<Symbol>,
    /// The maps declared in `.maps` (from text; empty when read from an
    /// ELF, whose map fields live in `.BTF`: see `crate::btf`).
    pub maps: Vec<MapDecl>,
}

/// One program of an object: a global function in an executable section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramRef {
    /// The function symbol's name.
    pub name: String,
    /// The section's name (what the loader reads the program type from).
    pub section: String,
    /// Index into [`Object::sections`].
    pub section_index: usize,
    /// Byte offset of the first instruction in the section.
    pub offset: u64,
    /// Size in bytes (the symbol's `.size`, or up to the next function).
    pub size: u64,
}

impl Object {
    /// An empty object.
    pub fn new() -> Object {
        Object::default()
    }

    /// Reads an ELF file; every error names the section and offset.
    pub fn from_elf(bytes: &[u8]) -> Result<Object, ElfError> {
        read::from_elf(bytes)
    }

    /// The ELF file bytes.
    pub fn to_elf(&self) -> Result<Vec<u8>, ElfError> {
        write::to_elf(self)
    }

    /// The object for one assembled or built [`Program`]: its section, a
    /// global function symbol sized to it, `license` with `_license`, and one
    /// `R_BPF_64_64` per map reference against an undefined symbol named
    /// after the map (the implicit addend, a map-value offset, is already in
    /// the lddw's `imm`).
    pub fn from_program(prog: &Program) -> Object {
        let mut obj = Object::new();
        let code = prog.to_bytes();
        let text = obj.add_section(Section::new(prog.section(), SectionKind::Program));
        let size = code.len() as u64;
        obj.sections[text].push_vec(code);
        obj.symbols.push(Symbol {
            name: prog.name().to_string(),
            section: Some(text),
            value: 0,
            size,
            kind: SymbolType::Func,
            binding: Binding::Global,
            visibility: symbol::Visibility::Default,
        });
        let lic = obj.add_section(Section::new("license", SectionKind::License));
        let mut license = prog.license().as_bytes().to_vec();
        license.push(0);
        obj.sections[lic].push_bytes(&license);
        obj.symbols.push(Symbol {
            name: "_license".to_string(),
            section: Some(lic),
            value: 0,
            size: license.len() as u64,
            kind: SymbolType::Object,
            binding: Binding::Global,
            visibility: symbol::Visibility::Default,
        });
        for r in prog.relocations() {
            let symbol = obj.symbol_or_undefined(&r.symbol);
            obj.sections[text].relocations.push(Relocation {
                offset: (r.slot * Insn::SIZE) as u64,
                symbol,
                kind: RelocType::Ld64,
            });
        }
        obj
    }

    /// Appends a section, returning its index.
    pub fn add_section(&mut self, s: Section) -> usize {
        self.sections.push(s);
        self.sections.len() - 1
    }

    /// The index of section `name`, if present.
    pub fn section_index(&self, name: &str) -> Option<usize> {
        self.sections.iter().position(|s| s.name == name)
    }

    /// The section `name`, if present.
    pub fn section(&self, name: &str) -> Option<&Section> {
        self.sections.iter().find(|s| s.name == name)
    }

    /// The index of the non-section symbol `name`, if present.
    pub fn symbol_index(&self, name: &str) -> Option<usize> {
        self.symbols
            .iter()
            .position(|s| s.name == name && s.kind != SymbolType::Section)
    }

    /// The index of symbol `name`, adding it undefined if absent.
    pub fn symbol_or_undefined(&mut self, name: &str) -> usize {
        match self.symbol_index(name) {
            Some(i) => i,
            None => {
                self.symbols.push(Symbol::undefined(name));
                self.symbols.len() - 1
            }
        }
    }

    /// The index of the `STT_SECTION` symbol of section `section`, adding
    /// it if absent (llvm-mc relocates against it for local data).
    pub fn section_symbol(&mut self, section: usize) -> usize {
        if let Some(i) = self
            .symbols
            .iter()
            .position(|s| s.kind == SymbolType::Section && s.section == Some(section))
        {
            return i;
        }
        let name = self
            .sections
            .get(section)
            .map(|s| s.name.clone())
            .unwrap_or_default();
        self.symbols.push(Symbol {
            name,
            section: Some(section),
            value: 0,
            size: 0,
            kind: SymbolType::Section,
            binding: Binding::Local,
            visibility: symbol::Visibility::Default,
        });
        self.symbols.len() - 1
    }

    /// The `license` section's string, without its NUL.
    pub fn license(&self) -> Option<&str> {
        let s = self.section("license")?;
        let end = s.data.iter().position(|&b| b == 0).unwrap_or(s.data.len());
        std::str::from_utf8(&s.data[..end]).ok()
    }

    /// The programs, by the one naming rule (see the module doc): each
    /// global `STT_FUNC` in an executable section other than `.text`; a
    /// non-empty executable section without one is a single program named
    /// by [`default_name`] of the section. In section, then offset, order.
    pub fn programs(&self) -> Vec<ProgramRef> {
        let mut out = Vec::new();
        for (i, s) in self.sections.iter().enumerate() {
            if s.kind != SectionKind::Program || s.name == ".text" {
                continue;
            }
            let mut funcs: Vec<&Symbol> = self
                .symbols
                .iter()
                .filter(|y| y.section == Some(i) && y.kind == SymbolType::Func)
                .collect();
            funcs.sort_by_key(|y| y.value);
            let globals: Vec<&&Symbol> = funcs
                .iter()
                .filter(|y| y.binding != Binding::Local)
                .collect();
            if globals.is_empty() {
                if s.size > 0 {
                    out.push(ProgramRef {
                        name: default_name(&s.name),
                        section: s.name.clone(),
                        section_index: i,
                        offset: 0,
                        size: s.size,
                    });
                }
                continue;
            }
            for g in globals {
                let next = funcs
                    .iter()
                    .map(|y| y.value)
                    .find(|&v| v > g.value)
                    .unwrap_or(s.size);
                let size = if g.size > 0 { g.size } else { next - g.value };
                out.push(ProgramRef {
                    name: g.name.clone(),
                    section: s.name.clone(),
                    section_index: i,
                    offset: g.value,
                    size,
                });
            }
        }
        out
    }

    /// The program named `name` (see [`Object::programs`]).
    pub fn program(&self, name: &str) -> Option<ProgramRef> {
        self.programs().into_iter().find(|p| p.name == name)
    }
}

/// A readable dump: sections with sizes and relocations, then symbols and
/// maps, one per line.
impl fmt::Display for Object {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.sections.iter().enumerate() {
            writeln!(
                f,
                "section {i} {} {:?} size {} align {}",
                s.name, s.kind, s.size, s.align
            )?;
            for r in &s.relocations {
                let name = self.symbols.get(r.symbol).map_or("?", |y| y.name.as_str());
                writeln!(f, "  {:#06x} {} {name}", r.offset, r.kind.name())?;
            }
        }
        for (i, y) in self.symbols.iter().enumerate() {
            let sec = y
                .section
                .and_then(|s| self.sections.get(s))
                .map_or("UND", |s| s.name.as_str());
            writeln!(
                f,
                "symbol {i} {} {:?} {:?} {sec}+{:#x} size {}",
                y.name, y.kind, y.binding, y.value, y.size
            )?;
        }
        for m in &self.maps {
            write!(f, "map {} at .maps+{:#x}:", m.name, m.offset)?;
            for fl in &m.fields {
                write!(f, " {}={}", fl.name, fl.value)?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
