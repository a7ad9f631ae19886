//! A relocatable ELF64 `EM_BPF` file to an [`Object`], read with the
//! `object` crate's low-level ELF reader. Every malformed byte is an
//! [`ElfError`] naming the section and offset; nothing here panics
//! (property-tested in `tests/properties.rs`).

use super::{
    Binding, ElfError, Object, RelocType, Relocation, Section, SectionKind, Symbol, SymbolType,
    Visibility,
};
use object::elf::{
    EM_BPF, SHT_NOBITS, SHT_NULL, SHT_REL, SHT_RELA, SHT_STRTAB, SHT_SYMTAB, STB_GLOBAL, STB_LOCAL,
    STB_WEAK, STT_FILE, STT_FUNC, STT_NOTYPE, STT_OBJECT, STT_SECTION,
};
use object::read::elf::{ElfFile64, FileHeader, Rel, SectionHeader, Sym};
use object::Endianness;

fn err(section: Option<&str>, offset: Option<u64>, message: impl Into<String>) -> ElfError {
    ElfError {
        section: section.map(str::to_string),
        offset,
        message: message.into(),
    }
}

pub(super) fn from_elf(bytes: &[u8]) -> Result<Object, ElfError> {
    let file = ElfFile64::<Endianness>::parse(bytes)
        .map_err(|e| err(None, None, format!("not a 64-bit ELF object: {e}")))?;
    let endian = file.endian();
    let machine = file.elf_header().e_machine(endian);
    if machine != EM_BPF {
        return Err(err(
            None,
            Some(18),
            format!("e_machine is {machine}, not EM_BPF (247); build with clang -target bpf"),
        ));
    }
    if endian != Endianness::Little {
        return Err(err(
            None,
            Some(5),
            "big-endian BPF object (bpfeb); this machine needs -target bpfel",
        ));
    }
    let table = file.elf_section_table();
    let mut obj = Object::new();
    // ELF section index -> index in obj.sections.
    let mut index_of = vec![None; table.len()];
    let mut rel_sections = Vec::new();
    for (i, hdr) in table.iter().enumerate() {
        let name_bytes = table
            .section_name(endian, hdr)
            .map_err(|e| err(None, None, format!("section {i}: bad name: {e}")))?;
        let name = String::from_utf8_lossy(name_bytes).into_owned();
        let sh_type = hdr.sh_type(endian).0;
        if sh_type == SHT_REL.0 {
            rel_sections.push((i, name));
            continue;
        }
        if sh_type == SHT_RELA.0 {
            return Err(err(
                Some(&name),
                Some(hdr.sh_offset(endian)),
                "RELA relocations; BPF objects use REL (the addend in the instruction)",
            ));
        }
        if [SHT_NULL.0, SHT_SYMTAB.0, SHT_STRTAB.0].contains(&sh_type) {
            continue;
        }
        let sh_flags = hdr.sh_flags(endian).0;
        let mut s = Section::new(&name, SectionKind::classify(&name, sh_type, sh_flags));
        s.sh_type = sh_type;
        s.sh_flags = sh_flags;
        s.entsize = hdr.sh_entsize(endian);
        s.align = hdr.sh_addralign(endian);
        if sh_type == SHT_NOBITS.0 {
            s.size = hdr.sh_size(endian);
        } else {
            let data = hdr.data(endian, bytes).map_err(|e| {
                err(
                    Some(&name),
                    Some(hdr.sh_offset(endian)),
                    format!("section bytes outside the file: {e}"),
                )
            })?;
            s.data = data.to_vec();
            s.size = data.len() as u64;
        }
        index_of[i] = Some(obj.sections.len());
        obj.sections.push(s);
    }

    let symbols = file.elf_symbol_table();
    // ELF symbol index -> index in obj.symbols (the null symbol and
    // STT_FILE have none).
    let mut sym_of = vec![None; symbols.len()];
    for (i, sym) in symbols.iter().enumerate().skip(1) {
        let st_type = sym.st_type();
        if st_type == STT_FILE {
            continue;
        }
        let shndx = sym.st_shndx(endian);
        let section = match shndx.index() {
            Some(0) | None => None,
            Some(n) => Some(index_of.get(n as usize).copied().flatten().ok_or_else(|| {
                err(
                    Some(".symtab"),
                    Some(i as u64 * 24),
                    format!("symbol {i} names section {n}, which holds no data"),
                )
            })?),
        };
        let kind = if st_type == STT_FUNC {
            SymbolType::Func
        } else if st_type == STT_OBJECT {
            SymbolType::Object
        } else if st_type == STT_SECTION {
            SymbolType::Section
        } else if st_type == STT_NOTYPE {
            SymbolType::NoType
        } else {
            return Err(err(
                Some(".symtab"),
                Some(i as u64 * 24),
                format!(
                    "symbol {i} has type {}, which BPF objects do not use",
                    st_type.0
                ),
            ));
        };
        let bind = sym.st_bind();
        let binding = if bind == STB_LOCAL {
            Binding::Local
        } else if bind == STB_GLOBAL {
            Binding::Global
        } else if bind == STB_WEAK {
            Binding::Weak
        } else {
            return Err(err(
                Some(".symtab"),
                Some(i as u64 * 24),
                format!("symbol {i} has binding {}", bind.0),
            ));
        };
        let mut name = String::from_utf8_lossy(symbols.symbol_name(endian, sym).map_err(|e| {
            err(
                Some(".symtab"),
                Some(i as u64 * 24),
                format!("symbol {i}: bad name: {e}"),
            )
        })?)
        .into_owned();
        if kind == SymbolType::Section && name.is_empty() {
            if let Some(s) = section.and_then(|s| obj.sections.get(s)) {
                name = s.name.clone();
            }
        }
        sym_of[i] = Some(obj.symbols.len());
        obj.symbols.push(Symbol {
            name,
            section,
            value: sym.st_value(endian),
            size: sym.st_size(endian),
            kind,
            binding,
            visibility: Visibility::from_st_other(sym.st_other().0),
        });
    }

    for (i, name) in rel_sections {
        let Some(hdr) = table.iter().nth(i) else {
            continue;
        };
        let (rels, _) = hdr
            .rel(endian, bytes)
            .map_err(|e| err(Some(&name), Some(hdr.sh_offset(endian)), e.to_string()))?
            .ok_or_else(|| err(Some(&name), None, "not a REL section"))?;
        let target = hdr.sh_info(endian) as usize;
        let Some(t) = index_of.get(target).copied().flatten() else {
            return Err(err(
                Some(&name),
                None,
                format!("sh_info {target} names no section with data"),
            ));
        };
        for (k, r) in rels.iter().enumerate() {
            let at = Some(k as u64 * 16);
            let r_type = r.r_type(endian).0;
            let kind = RelocType::from_r_type(r_type).ok_or_else(|| {
                err(
                    Some(&name),
                    at,
                    format!("relocation type {r_type} is not a BPF one"),
                )
            })?;
            let sym = r.r_sym(endian) as usize;
            let symbol = sym_of.get(sym).copied().flatten().ok_or_else(|| {
                err(
                    Some(&name),
                    at,
                    format!("relocation names symbol {sym}, which does not exist"),
                )
            })?;
            let offset = r.r_offset(endian);
            let width = match kind {
                RelocType::Ld64 | RelocType::Abs64 | RelocType::Call32 => 8,
                RelocType::Abs32 | RelocType::NoDyld32 => 4,
            };
            let tsec = &mut obj.sections[t];
            if !offset
                .checked_add(width)
                .is_some_and(|end| end <= tsec.size)
            {
                return Err(err(
                    Some(&name),
                    at,
                    format!(
                        "relocation at {offset} past the end of {} ({} bytes)",
                        tsec.name, tsec.size
                    ),
                ));
            }
            tsec.relocations.push(Relocation {
                offset,
                symbol,
                kind,
            });
        }
    }
    for s in &mut obj.sections {
        s.relocations.sort_by_key(|r| r.offset);
    }
    Ok(obj)
}
