//! Write a [`Program`] as a relocatable ELF64 `EM_BPF` object, the format
//! clang emits and `bpftool prog load`, `tc ... bpf da obj FILE sec tc`,
//! libbpf and `llvm-objdump -d` read. The layout follows what libbpf expects
//! (`tools/lib/bpf/libbpf.c`, `bpf_object__elf_collect`):
//!
//! - the instructions in a section named by `.section` (default `tc`, which
//!   libbpf maps to `BPF_PROG_TYPE_SCHED_CLS`), flagged `SHF_ALLOC|SHF_EXECINSTR`;
//! - a global `STT_FUNC` symbol for the program, sized to the section;
//! - a `license` section holding the NUL-terminated license string, with an
//!   `STT_OBJECT` symbol `_license`, as clang's `SEC("license")` produces;
//! - one `R_BPF_64_64` relocation per map reference, against an undefined
//!   symbol named after the map (the loader resolves it). For a map-value
//!   reference the offset is the implicit addend, already in the lddw's `imm`
//!   (BPF objects use REL relocations, without explicit addends);
//! - `.BTF` and `.BTF.ext` from [`crate::btf::gen`]: the program's FUNC and
//!   its line info, pointing at the `.s` file's own lines (file name from
//!   `AsmOptions::file_name`, else `NAME.s`).

use crate::btf::gen;
use crate::insn::Insn;
use crate::program::Program;
use object::write::{Object, Relocation, StandardSegment, Symbol, SymbolSection};
use object::{
    elf, Architecture, BinaryFormat, Endianness, RelocationFlags, SectionKind, SymbolFlags,
    SymbolKind, SymbolScope,
};
use std::collections::HashMap;
use std::fmt;

/// Why an object could not be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElfError(pub String);

impl fmt::Display for ElfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot write the ELF object: {}", self.0)
    }
}

impl std::error::Error for ElfError {}

/// The ELF object bytes for `prog`.
pub fn write_object(prog: &Program) -> Result<Vec<u8>, ElfError> {
    let mut obj = Object::new(BinaryFormat::Elf, Architecture::Bpf, Endianness::Little);
    let segment = obj.segment_name(StandardSegment::Text).to_vec();

    // Map-value offsets are already in the lddw's `imm` (the implicit addend).
    let code = prog.to_bytes();
    let text = obj.add_section(
        segment.clone(),
        prog.section().as_bytes().to_vec(),
        SectionKind::Text,
    );
    obj.set_section_data(text, code.clone(), 8);
    obj.add_symbol(Symbol {
        name: prog.name().as_bytes().to_vec(),
        value: 0,
        size: code.len() as u64,
        kind: SymbolKind::Text,
        scope: SymbolScope::Dynamic,
        weak: false,
        section: SymbolSection::Section(text),
        flags: SymbolFlags::None,
    });

    let mut license = prog.license().as_bytes().to_vec();
    license.push(0);
    let lic = obj.add_section(segment, b"license".to_vec(), SectionKind::Data);
    let size = license.len() as u64;
    obj.set_section_data(lic, license, 1);
    obj.add_symbol(Symbol {
        name: b"_license".to_vec(),
        value: 0,
        size,
        kind: SymbolKind::Data,
        scope: SymbolScope::Dynamic,
        weak: false,
        section: SymbolSection::Section(lic),
        flags: SymbolFlags::None,
    });

    let file_name = match prog.file_name() {
        "" => format!("{}.s", prog.name()),
        f => f.to_string(),
    };
    let btf = gen::generate(&gen::Input::from_program(prog, &file_name));
    for (name, data) in [(".BTF", btf.btf_bytes()), (".BTF.ext", btf.ext_bytes())] {
        let s = obj.add_section(Vec::new(), name.as_bytes().to_vec(), SectionKind::Other);
        obj.set_section_data(s, data, 4);
    }

    let mut map_symbols = HashMap::new();
    for r in prog.relocations() {
        let sym = *map_symbols.entry(r.symbol.clone()).or_insert_with(|| {
            obj.add_symbol(Symbol {
                name: r.symbol.as_bytes().to_vec(),
                value: 0,
                size: 0,
                kind: SymbolKind::Data,
                scope: SymbolScope::Dynamic,
                weak: false,
                section: SymbolSection::Undefined,
                flags: SymbolFlags::None,
            })
        });
        obj.add_relocation(
            text,
            Relocation {
                offset: (r.slot * Insn::SIZE) as u64,
                symbol: sym,
                addend: 0,
                flags: RelocationFlags::Elf {
                    r_type: elf::R_BPF_64_64,
                },
            },
        )
        .map_err(|e| ElfError(e.to_string()))?;
    }
    obj.write().map_err(|e| ElfError(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::{assemble, AsmOptions};
    use object::{Object as _, ObjectSection, ObjectSymbol};

    #[test]
    fn sections_and_symbols() {
        let p = assemble(
            ".section classifier/x\n.license \"Dual MIT/GPL\"\n.name prog1\nr1 = counters ll\nr0 = 0\nexit\n",
            &AsmOptions::default(),
        )
        .expect("assembles");
        let bytes = write_object(&p).expect("writes");
        let f = object::File::parse(&*bytes).expect("parses");
        assert_eq!(f.architecture(), Architecture::Bpf);
        let s = f.section_by_name("classifier/x").expect("program section");
        assert_eq!(s.data().expect("data"), &p.to_bytes()[..]);
        let l = f.section_by_name("license").expect("license section");
        assert_eq!(l.data().expect("data"), b"Dual MIT/GPL\0");
        let sym = f
            .symbols()
            .find(|s| s.name() == Ok("prog1"))
            .expect("symbol");
        assert_eq!(sym.size(), 32);
        assert!(sym.is_global());
        let relocs: Vec<_> = s.relocations().collect();
        assert_eq!(relocs.len(), 1);
        assert_eq!(relocs[0].0, 0);
    }
}
