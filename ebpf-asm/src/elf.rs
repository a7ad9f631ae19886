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
use crate::object::{Object, Section, SectionKind};
use crate::program::Program;

/// Why an object could not be written (or read): see [`crate::object::ElfError`].
pub use crate::object::ElfError;

/// The ELF object bytes for `prog`, through the object model
/// ([`Object::from_program`], then `.BTF`/`.BTF.ext`, then [`Object::to_elf`]).
pub fn write_object(prog: &Program) -> Result<Vec<u8>, ElfError> {
    let mut obj = Object::from_program(prog);
    let file_name = match prog.file_name() {
        "" => format!("{}.s", prog.name()),
        f => f.to_string(),
    };
    let btf = gen::generate(&gen::Input::from_program(prog, &file_name));
    for (name, data) in [(".BTF", btf.btf_bytes()), (".BTF.ext", btf.ext_bytes())] {
        let mut s = Section::new(name, SectionKind::Other);
        s.push_vec(data);
        s.align = 4;
        obj.add_section(s);
    }
    obj.to_elf()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::{assemble, AsmOptions};
    use object::{Architecture, Object as _, ObjectSection, ObjectSymbol};

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
