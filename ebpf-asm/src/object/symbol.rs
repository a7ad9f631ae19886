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
