//! Sections: what an object's bytes are for. The kinds follow the names
//! clang gives them and the meaning libbpf reads into them
//! (`tools/lib/bpf/libbpf.c`, `bpf_object__elf_collect`); the flags and
//! types are ELF's (`include/uapi/linux/elf.h`, as the `object` crate
//! spells them).

use super::reloc::Relocation;
use object::elf::{SHF_ALLOC, SHF_EXECINSTR, SHF_WRITE, SHT_NOBITS, SHT_PROGBITS};

/// What a section holds, decided by [`SectionKind::classify`] from its name,
/// type and flags; one rule for the text parser, the builder and the ELF
/// reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SectionKind {
    /// Instructions (`SHF_EXECINSTR`): a program section such as `tc` or
    /// `xdp`, or `.text` holding subprograms.
    Program,
    /// `.rodata*`: read-only data (strings, `const volatile` globals).
    Rodata,
    /// `.data*`: initialised writable data.
    Data,
    /// `.bss*`: zero-filled data (`SHT_NOBITS`), only a size.
    Bss,
    /// `.maps`: one zeroed entry per BTF-defined map.
    Maps,
    /// `license`: the NUL-terminated license string.
    License,
    /// Anything else (`.BTF`, `.BTF.ext`, `.debug_*`, ...), kept as bytes.
    Other,
}

impl SectionKind {
    /// The kind of a section named `name` with ELF `sh_type` and `sh_flags`.
    pub fn classify(name: &str, sh_type: u32, sh_flags: u64) -> SectionKind {
        let family =
            |p: &str| name == p || name.strip_prefix(p).is_some_and(|r| r.starts_with('.'));
        if sh_flags & SHF_EXECINSTR.0 != 0 {
            SectionKind::Program
        } else if name == ".maps" {
            SectionKind::Maps
        } else if name == "license" {
            SectionKind::License
        } else if family(".rodata") {
            SectionKind::Rodata
        } else if family(".bss") || (sh_type == SHT_NOBITS.0 && family(".tbss")) {
            SectionKind::Bss
        } else if family(".data") {
            SectionKind::Data
        } else {
            SectionKind::Other
        }
    }

    /// The ELF `sh_type` and `sh_flags` llvm-mc gives a section of this kind
    /// when the text does not say (`.section NAME` without flags).
    pub fn default_elf(self) -> (u32, u64) {
        let alloc = SHF_ALLOC.0;
        match self {
            SectionKind::Program => (SHT_PROGBITS.0, alloc | SHF_EXECINSTR.0),
            SectionKind::Rodata => (SHT_PROGBITS.0, alloc),
            SectionKind::Data | SectionKind::Maps | SectionKind::License => {
                (SHT_PROGBITS.0, alloc | SHF_WRITE.0)
            }
            SectionKind::Bss => (SHT_NOBITS.0, alloc | SHF_WRITE.0),
            SectionKind::Other => (SHT_PROGBITS.0, 0),
        }
    }

    /// True for the sections libbpf turns into one-entry array maps.
    pub fn is_global_data(self) -> bool {
        matches!(
            self,
            SectionKind::Rodata | SectionKind::Data | SectionKind::Bss
        )
    }
}

/// One section: its name, its bytes (or, for `SHT_NOBITS`, only a size),
/// its ELF header fields and the relocations that patch it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub name: String,
    pub kind: SectionKind,
    /// ELF `sh_type` (`SHT_PROGBITS`, `SHT_NOBITS`, ...).
    pub sh_type: u32,
    /// ELF `sh_flags` (`SHF_ALLOC | SHF_EXECINSTR`, ...).
    pub sh_flags: u64,
    /// `sh_entsize`, for merged string sections (`.rodata.str1.1`: 1).
    pub entsize: u64,
    /// `sh_addralign`.
    pub align: u64,
    /// The contents; empty for `SHT_NOBITS`, see [`Section::size`].
    pub data: Vec<u8>,
    /// For `SHT_NOBITS`, the size; else equal to `data.len()`.
    pub size: u64,
    /// Relocations against this section's bytes, in offset order.
    pub relocations: Vec<Relocation>,
}

impl Section {
    /// An empty section of `kind`, with llvm-mc's default type and flags.
    pub fn new(name: &str, kind: SectionKind) -> Section {
        let (sh_type, sh_flags) = kind.default_elf();
        let align = match kind {
            SectionKind::Program | SectionKind::Maps => 8,
            _ => 1,
        };
        Section {
            name: name.to_string(),
            kind,
            sh_type,
            sh_flags,
            entsize: 0,
            align,
            data: Vec::new(),
            size: 0,
            relocations: Vec::new(),
        }
    }

    /// A section named `name` classified by [`SectionKind::classify`] with
    /// llvm-mc's default type and flags for that kind.
    pub fn named(name: &str) -> Section {
        let kind = if name == ".text" {
            SectionKind::Program
        } else {
            SectionKind::classify(name, SHT_PROGBITS.0, 0)
        };
        Section::new(name, kind)
    }

    /// Appends bytes (not for `SHT_NOBITS`: see [`Section::reserve`]).
    pub fn push_bytes(&mut self, bytes: &[u8]) {
        if self.sh_type == SHT_NOBITS.0 {
            self.reserve(bytes.len() as u64);
        } else {
            self.data.extend_from_slice(bytes);
            self.size = self.data.len() as u64;
        }
    }

    /// [`Section::push_bytes`] by value: an empty section takes the vector
    /// itself instead of a copy (a million-line program's code and BTF are
    /// tens of megabytes, and each copy faults in fresh pages).
    pub fn push_vec(&mut self, bytes: Vec<u8>) {
        if self.data.is_empty() && self.sh_type != SHT_NOBITS.0 {
            self.size = bytes.len() as u64;
            self.data = bytes;
        } else {
            self.push_bytes(&bytes);
        }
    }

    /// Grows the section by `n` zero bytes.
    pub fn reserve(&mut self, n: u64) {
        if self.sh_type != SHT_NOBITS.0 {
            self.data.resize(self.data.len() + n as usize, 0);
        }
        self.size += n;
    }

    /// Pads with zeros to a multiple of `align` (a power of two) and raises
    /// the section's alignment to at least `align`, as `.p2align` does.
    pub fn align_to(&mut self, align: u64) {
        let align = align.max(1);
        let pad = (align - self.size % align) % align;
        self.reserve(pad);
        self.align = self.align.max(align);
    }

    /// True when the section has no bytes of its own in the file.
    pub fn is_nobits(&self) -> bool {
        self.sh_type == SHT_NOBITS.0
    }
}
