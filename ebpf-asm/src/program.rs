//! An assembled program: its slots, the map references still to be patched
//! (relocations), its ELF metadata (section, license, name) and a map from
//! slots back to source lines, so a verifier error on instruction N can be
//! shown next to the line that produced it.

use crate::disasm::DisasmOptions;
use crate::encode::{decode_slots, DecodeError};
use crate::insn::{Insn, Instruction};
use std::fmt;

/// How a loader must patch an lddw that names a map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RelocKind {
    /// Put the map's fd in `imm` and set `src = BPF_PSEUDO_MAP_FD`.
    MapFd,
    /// Put the map's fd in `imm`, `offset` in the second slot's `imm`, and set
    /// `src = BPF_PSEUDO_MAP_VALUE` (a pointer into the map's value).
    MapValue { offset: i32 },
}

impl RelocKind {
    /// What the lddw carries before the loader patches it: the map-value
    /// offset in the first slot's `imm` (as in an ELF object, where BPF uses
    /// REL relocations with the addend in the instruction), else 0.
    pub fn implicit_addend(self) -> i64 {
        match self {
            RelocKind::MapFd => 0,
            RelocKind::MapValue { offset } => offset as u32 as i64,
        }
    }
}

/// A reference from an lddw slot to a map known only by name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Relocation {
    /// Index of the first slot of the lddw.
    pub slot: usize,
    pub symbol: String,
    pub kind: RelocKind,
}

/// A source line, for mapping a slot back to the text that produced it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceLine {
    /// 1-based line number.
    pub line: u32,
    pub text: String,
}

/// Instruction slots plus everything needed to load or write them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    pub(crate) insns: Vec<Insn>,
    pub(crate) relocations: Vec<Relocation>,
    pub(crate) section: String,
    pub(crate) license: String,
    pub(crate) name: String,
    /// The assembled text, kept so `source_of` can quote it.
    pub(crate) source: String,
    /// Per slot: (line number, byte range of the line in `source`); empty
    /// when the program was not built from text.
    pub(crate) lines: Vec<(u32, u32, u32)>,
    /// `-D` names the text never mentioned (see [`Program::unused_defines`]).
    pub(crate) unused_defines: Vec<String>,
    /// The file the text came from (`AsmOptions::file_name`), which BTF
    /// line info names; empty when not built from text.
    pub(crate) file_name: String,
    /// Statements encoded as llvm-mc encodes them that the verifier will
    /// refuse or that do not mean what they seem (see [`Program::warnings`]).
    pub(crate) warnings: Vec<crate::text::AsmError>,
}

/// Default ELF section: a TC classifier, as `tc ... bpf da obj FILE sec tc` expects.
pub const DEFAULT_SECTION: &str = "tc";
/// Default license; GPL-only helpers (`bpf_trace_printk`) need a GPL-compatible one.
pub const DEFAULT_LICENSE: &str = "GPL";

impl Program {
    /// A program from raw slots, with default metadata and no source map.
    pub fn from_insns(insns: Vec<Insn>) -> Program {
        Program {
            insns,
            relocations: Vec::new(),
            section: DEFAULT_SECTION.to_string(),
            license: DEFAULT_LICENSE.to_string(),
            name: default_name(DEFAULT_SECTION),
            source: String::new(),
            lines: Vec::new(),
            unused_defines: Vec::new(),
            warnings: Vec::new(),
            file_name: String::new(),
        }
    }

    /// A program from raw little-endian bytes (a `.bin`, or a section read
    /// from an ELF file), checked by decoding every instruction.
    pub fn from_bytes(bytes: &[u8]) -> Result<Program, DecodeError> {
        let slots = crate::disasm::slots_of(bytes)?;
        decode_slots(&slots)?;
        Ok(Program::from_insns(slots))
    }

    /// The 8-byte slots (lddw takes two).
    pub fn insns(&self) -> &[Insn] {
        &self.insns
    }

    /// Little-endian bytes of all slots, ready for `BPF_PROG_LOAD`'s `insns`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.insns.len() * Insn::SIZE);
        for i in &self.insns {
            out.extend_from_slice(&i.to_bytes());
        }
        out
    }

    /// Map references still to patch, in slot order.
    pub fn relocations(&self) -> &[Relocation] {
        &self.relocations
    }

    /// ELF section name (`.section`), default `tc`.
    pub fn section(&self) -> &str {
        &self.section
    }

    /// License string (`.license`), default `GPL`.
    pub fn license(&self) -> &str {
        &self.license
    }

    /// Program/function symbol name (`.name`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The `-D` constants ([`crate::AsmOptions::defines`]) that the text
    /// never used in an expression, `.equ`, `.ifdef` or `.ifndef`, in the
    /// order given: usually a misspelt name, which would otherwise change
    /// nothing silently. Empty for programs not assembled from text.
    pub fn unused_defines(&self) -> &[String] {
        &self.unused_defines
    }

    /// Warnings from the text assembler, each at line:column: writes to r10
    /// and 64-bit moves of 0x80000000..=0xffffffff (sign-extended), which
    /// llvm-mc encodes and so do we. Empty for programs not from text.
    pub fn warnings(&self) -> &[crate::text::AsmError] {
        &self.warnings
    }

    pub fn set_section(&mut self, s: &str) {
        self.section = s.to_string();
    }
    pub fn set_license(&mut self, s: &str) {
        self.license = s.to_string();
    }
    pub fn set_name(&mut self, s: &str) {
        self.name = s.to_string();
    }

    /// The source file's name, as given to the assembler ("" if none).
    pub fn file_name(&self) -> &str {
        &self.file_name
    }

    /// The whole text the program was assembled from ("" if none).
    pub fn source_text(&self) -> &str {
        &self.source
    }

    /// The source line that produced `slot` (either slot of an lddw).
    pub fn source_of(&self, slot: usize) -> Option<SourceLine> {
        let &(line, start, end) = self.lines.get(slot)?;
        let text = self.source.get(start as usize..end as usize)?;
        Some(SourceLine {
            line,
            text: text.to_string(),
        })
    }

    /// The decoded instructions with their first slot index.
    pub fn instructions(&self) -> Result<Vec<(usize, Instruction)>, DecodeError> {
        decode_slots(&self.insns)
    }
}

/// The kernel-syntax listing with labels, as [`crate::disasm`] prints it.
impl fmt::Display for Program {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match crate::disasm::disassemble_insns(&self.insns, &DisasmOptions::default()) {
            Ok(text) => f.write_str(&text),
            Err(e) => write!(f, "; cannot list this program: {e}"),
        }
    }
}

/// The name used when no `.name` is given: the section's last `/` part, or
/// `prog` if that is not a C identifier.
pub fn default_name(section: &str) -> String {
    let last = section.rsplit('/').next().unwrap_or(section);
    let ident = !last.is_empty()
        && !last.as_bytes()[0].is_ascii_digit()
        && last.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if ident {
        last.to_string()
    } else {
        "prog".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_bytes_checks_and_display_lists() {
        let p = Program::from_bytes(&[0xb7, 0, 0, 0, 7, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0])
            .expect("valid");
        assert_eq!(p.insns().len(), 2);
        assert_eq!(p.to_string(), "\tr0 = 7\n\texit\n");
        assert!(Program::from_bytes(&[0xff, 0, 0, 0, 0, 0, 0, 0]).is_err());
        assert!(Program::from_bytes(&[0x95, 0, 0]).is_err());
    }

    #[test]
    fn names() {
        assert_eq!(default_name("tc"), "tc");
        assert_eq!(default_name("classifier/ingress"), "ingress");
        assert_eq!(default_name("xdp.frags"), "prog");
    }
}
