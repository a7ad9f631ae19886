//! Symbols: names for places in sections (functions, data objects, labels)
//! and for things defined elsewhere (maps or kfuncs the loader resolves).
//! Types and bindings are ELF's `STT_*` and `STB_*`.

/// What a symbol names (`STT_*`, set by `.type NAME,@function|@object`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SymbolType {
    /// `STT_NOTYPE`: a plain label, or an undefined name.
    NoType,
    /// `STT_FUNC`: a program or subprogram.
    Func,
    /// `STT_OBJECT`: a map, a global variable, `_license`.
    Object,
    /// `STT_SECTION`: the section itself (relocations against
    /// `.rodata` + addend name it).
    Section,
}

/// Who sees a symbol (`STB_*`, set by `.globl` / `.weak`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Binding {
    Local,
    Global,
    Weak,
}

/// Who outside the object may see a global symbol (`STV_*` in `st_other`,
/// elf.h; set by `.hidden`, `.internal`, `.protected`). BPF objects use
/// `STV_HIDDEN` for `__hidden` functions: global, so BTF calls them global
/// subprograms, yet not exported, so libbpf's linker keeps them private to
/// the object (`tools/lib/bpf/linker.c`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Visibility {
    /// `STV_DEFAULT` (0).
    #[default]
    Default,
    /// `STV_INTERNAL` (1).
    Internal,
    /// `STV_HIDDEN` (2).
    Hidden,
    /// `STV_PROTECTED` (3).
    Protected,
}

impl Visibility {
    /// The `st_other` value (its low two bits; elf.h `ELF64_ST_VISIBILITY`).
    pub fn st_other(self) -> u8 {
        match self {
            Visibility::Default => 0,
            Visibility::Internal => 1,
            Visibility::Hidden => 2,
            Visibility::Protected => 3,
        }
    }

    /// The visibility in `st_other`'s low two bits; other bits are ignored.
    pub fn from_st_other(st_other: u8) -> Visibility {
        match st_other & 3 {
            0 => Visibility::Default,
            1 => Visibility::Internal,
            2 => Visibility::Hidden,
            _ => Visibility::Protected,
        }
    }
}

/// One symbol.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Symbol {
    pub name: String,
    /// Index into [`super::Object::sections`], or `None` for an undefined
    /// symbol (`SHN_UNDEF`).
    pub section: Option<usize>,
    /// Byte offset in the section.
    pub value: u64,
    /// `.size` (bytes), 0 when not given.
    pub size: u64,
    pub kind: SymbolType,
    pub binding: Binding,
    pub visibility: Visibility,
}

impl Symbol {
    /// An undefined global symbol, as llvm-mc writes for a name the text
    /// uses but never defines (a map given by the loader, a kfunc).
    pub fn undefined(name: &str) -> Symbol {
        Symbol {
            name: name.to_string(),
            section: None,
            value: 0,
            size: 0,
            kind: SymbolType::NoType,
            binding: Binding::Global,
            visibility: Visibility::Default,
        }
    }

    /// True when the symbol is defined in this object.
    pub fn is_defined(&self) -> bool {
        self.section.is_some()
    }

    /// True for `.L*` names: assembler-local labels llvm-mc does not put in
    /// the symbol table.
    pub fn is_temporary(&self) -> bool {
        self.name.starts_with(".L")
    }
}
