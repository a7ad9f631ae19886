//! Relocations: places in a section that the linker or loader must patch
//! with a symbol's address. BPF objects use REL relocations (no explicit
//! addend: it sits in the patched bytes), with the types LLVM's
//! `BPFELFObjectWriter` writes (`llvm/include/llvm/BinaryFormat/ELFRelocs/BPF.def`).

use object::elf;

/// `R_BPF_64_ABS64`, `llvm/include/llvm/BinaryFormat/ELFRelocs/BPF.def`
/// (the `object` crate does not name it).
pub const R_BPF_64_ABS64: u32 = 2;
/// `R_BPF_64_ABS32`, same file.
pub const R_BPF_64_ABS32: u32 = 3;
/// `R_BPF_64_NODYLD32`, same file.
pub const R_BPF_64_NODYLD32: u32 = 4;

/// The BPF relocation types llvm-mc writes, with when it writes each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RelocType {
    /// `R_BPF_64_64` (1): the 64-bit `imm` pair of an `lddw` (`r1 = map ll`).
    Ld64,
    /// `R_BPF_64_ABS64` (2): a `.quad SYM` in data (or a DWARF address).
    Abs64,
    /// `R_BPF_64_ABS32` (3): a `.long SYM` in data sections other than
    /// `.BTF`/`.BTF.ext` and DWARF.
    Abs32,
    /// `R_BPF_64_NODYLD32` (4): a `.long SYM` in `.BTF`/`.BTF.ext` (and
    /// `.debug_*`), which a dynamic loader must not touch.
    NoDyld32,
    /// `R_BPF_64_32` (10): the `imm` of `call NAME` to another function.
    Call32,
}

/// Every type, for look-ups by number.
const ALL: [RelocType; 5] = [
    RelocType::Ld64,
    RelocType::Abs64,
    RelocType::Abs32,
    RelocType::NoDyld32,
    RelocType::Call32,
];

impl RelocType {
    /// The ELF `r_type` number.
    pub fn r_type(self) -> u32 {
        match self {
            RelocType::Ld64 => elf::R_BPF_64_64.0,
            RelocType::Abs64 => R_BPF_64_ABS64,
            RelocType::Abs32 => R_BPF_64_ABS32,
            RelocType::NoDyld32 => R_BPF_64_NODYLD32,
            RelocType::Call32 => elf::R_BPF_64_32.0,
        }
    }

    /// The type for an ELF `r_type`, or `None` for one BPF does not define.
    pub fn from_r_type(r: u32) -> Option<RelocType> {
        ALL.into_iter().find(|t| t.r_type() == r)
    }

    /// The name as `llvm-readelf -r` prints it.
    pub fn name(self) -> &'static str {
        match self {
            RelocType::Ld64 => "R_BPF_64_64",
            RelocType::Abs64 => "R_BPF_64_ABS64",
            RelocType::Abs32 => "R_BPF_64_ABS32",
            RelocType::NoDyld32 => "R_BPF_64_NODYLD32",
            RelocType::Call32 => "R_BPF_64_32",
        }
    }

    /// The type llvm-mc writes for a data word of `bytes` (4 or 8) naming a
    /// symbol, in the section `section`.
    pub fn for_data(section: &str, bytes: usize) -> Option<RelocType> {
        let debug = section.starts_with(".BTF") || section.starts_with(".debug_");
        match bytes {
            8 => Some(RelocType::Abs64),
            4 if debug => Some(RelocType::NoDyld32),
            4 => Some(RelocType::Abs32),
            _ => None,
        }
    }
}

/// One relocation: patch `offset` bytes into its section with symbol
/// number `symbol` of [`super::Object::symbols`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Relocation {
    /// Byte offset in the section (an instruction's first byte for
    /// `Ld64`/`Call32`).
    pub offset: u64,
    /// Index into [`super::Object::symbols`].
    pub symbol: usize,
    pub kind: RelocType,
}
