//! [`Object`] to a relocatable ELF64 `EM_BPF` file, little-endian, with REL
//! relocations (the addend stays in the patched bytes), the layout clang and
//! llvm-mc write and libbpf, `bpftool` and `tc` read. Written with the
//! `object` crate's ELF writer.

use super::{Binding, ElfError, Object, SectionKind, SymbolType, Visibility};
use object::write::{self, StandardSegment, SymbolSection};
use object::{
    Architecture, BinaryFormat, Endianness, RelocationFlags, SectionFlags, SymbolFlags, SymbolKind,
    SymbolScope,
};

pub(super) fn to_elf(obj: &Object) -> Result<Vec<u8>, ElfError> {
    let mut out = write::Object::new(BinaryFormat::Elf, Architecture::Bpf, Endianness::Little);
    let segment = out.segment_name(StandardSegment::Text).to_vec();
    let mut ids = Vec::with_capacity(obj.sections.len());
    for s in &obj.sections {
        // A @nobits section is the object crate's uninitialized data
        // whatever its name says, since only that kind takes a bare size.
        let kind = match s.kind {
            _ if s.is_nobits() => object::SectionKind::UninitializedData,
            SectionKind::Program => object::SectionKind::Text,
            SectionKind::Rodata if s.entsize == 1 => object::SectionKind::ReadOnlyString,
            SectionKind::Rodata => object::SectionKind::ReadOnlyData,
            SectionKind::Other if s.entsize == 1 => object::SectionKind::OtherString,
            SectionKind::Data | SectionKind::Maps | SectionKind::License => {
                object::SectionKind::Data
            }
            SectionKind::Bss => object::SectionKind::UninitializedData,
            SectionKind::Other => object::SectionKind::Other,
        };
        let id = out.add_section(segment.clone(), s.name.as_bytes().to_vec(), kind);
        if s.is_nobits() {
            out.append_section_bss(id, s.size, s.align.max(1));
        } else {
            // Borrowed, not copied: the writer copies it once, into the file.
            out.set_section_data(id, s.data.as_slice(), s.align.max(1));
        }
        out.section_mut(id).flags = SectionFlags::Elf {
            sh_type: object::elf::SectionType(s.sh_type),
            sh_flags: object::elf::SectionFlags(s.sh_flags),
        };
        ids.push(id);
    }
    let section_id = |i: usize, what: &str| {
        ids.get(i).copied().ok_or_else(|| ElfError {
            section: None,
            offset: None,
            message: format!("{what} names section {i}, which does not exist"),
        })
    };
    let mut syms = Vec::with_capacity(obj.symbols.len());
    for s in &obj.symbols {
        if s.kind == SymbolType::Section {
            let sec = s.section.ok_or_else(|| ElfError {
                section: None,
                offset: None,
                message: format!("section symbol {:?} has no section", s.name),
            })?;
            syms.push(out.section_symbol(section_id(sec, "a section symbol")?));
            continue;
        }
        let section = match s.section {
            Some(i) => SymbolSection::Section(section_id(i, &format!("symbol {:?}", s.name))?),
            None => SymbolSection::Undefined,
        };
        let kind = match s.kind {
            SymbolType::Func => SymbolKind::Text,
            SymbolType::Object => SymbolKind::Data,
            _ if s.section.is_none() => SymbolKind::Unknown,
            _ => SymbolKind::Label,
        };
        let scope = match s.binding {
            Binding::Local => SymbolScope::Compilation,
            Binding::Global | Binding::Weak => SymbolScope::Dynamic,
        };
        // The writer derives st_info and st_other from kind and scope,
        // with STV_DEFAULT; any other visibility needs both spelt out.
        let flags = match s.visibility {
            Visibility::Default => SymbolFlags::None,
            v => {
                let bind = match s.binding {
                    Binding::Local => object::elf::STB_LOCAL,
                    Binding::Global => object::elf::STB_GLOBAL,
                    Binding::Weak => object::elf::STB_WEAK,
                };
                let ty = match s.kind {
                    SymbolType::Func => object::elf::STT_FUNC,
                    SymbolType::Object => object::elf::STT_OBJECT,
                    SymbolType::Section => object::elf::STT_SECTION,
                    SymbolType::NoType => object::elf::STT_NOTYPE,
                };
                SymbolFlags::Elf {
                    st_info: object::elf::SymbolInfo((bind.0 << 4) | ty.0),
                    st_other: object::elf::SymbolOther(v.st_other()),
                }
            }
        };
        syms.push(out.add_symbol(write::Symbol {
            name: s.name.as_bytes().to_vec(),
            value: s.value,
            size: s.size,
            kind,
            scope,
            weak: s.binding == Binding::Weak,
            section,
            flags,
        }));
    }
    for (i, s) in obj.sections.iter().enumerate() {
        for r in &s.relocations {
            let symbol = *syms.get(r.symbol).ok_or_else(|| ElfError {
                section: Some(s.name.clone()),
                offset: Some(r.offset),
                message: format!("relocation names symbol {}, which does not exist", r.symbol),
            })?;
            out.add_relocation(
                ids[i],
                write::Relocation {
                    offset: r.offset,
                    symbol,
                    addend: 0,
                    flags: RelocationFlags::Elf {
                        r_type: object::elf::RelocationType(r.kind.r_type()),
                    },
                },
            )
            .map_err(|e| ElfError {
                section: Some(s.name.clone()),
                offset: Some(r.offset),
                message: e.to_string(),
            })?;
        }
    }
    out.write().map_err(|e| ElfError {
        section: None,
        offset: None,
        message: e.to_string(),
    })
}
