//! Loading BPF programs from relocatable ELF objects (what
//! `clang -O2 -target bpf -c` writes), read with the `object` crate.
//!
//! What it understands, following the conventions of clang's BPF backend
//! and libbpf's `libbpf.c` (read, not copied):
//! - the program: an executable section (`SEC("tc")` in C), chosen by name;
//!   its function symbol gives the program's name;
//! - the `license` section: a NUL-terminated string;
//! - global data: `.rodata*`, `.data*` and `.bss*` sections become one-entry
//!   array maps holding the section (`.rodata*` read-only for programs,
//!   `BPF_F_RDONLY_PROG`, and frozen, so helpers like `bpf_trace_printk`
//!   accept strings from it as constants);
//! - `R_BPF_64_64` relocations (ELF `EM_BPF` relocation types, LLVM's
//!   `BPFELFObjectWriter`) on `lddw` instructions that point into those
//!   sections, patched to `BPF_PSEUDO_MAP_VALUE` with the map's fd and the
//!   offset into the value (`include/uapi/linux/bpf.h`).
//!
//! Anything else (BTF-defined `.maps`, calls to other functions, other
//! relocation types) is refused with a message saying what is missing.
//! Malformed bytes are errors, never panics.

use object::elf::{EM_BPF, R_BPF_64_32, R_BPF_64_64, SHF_EXECINSTR, SHT_NOBITS};
use object::read::elf::{ElfFile64, FileHeader, SectionHeader};
use object::{
    Endianness, Object, ObjectSection, ObjectSymbol, RelocationFlags, RelocationTarget,
    SectionIndex, SymbolKind,
};

use ebpf_asm::opcode::{BPF_DW, BPF_IMM, BPF_LD};

use crate::asm::patch_map_ref;
use crate::error::{Error, Result};
use crate::map::{Map, MapSpec, BPF_ANY, BPF_F_RDONLY_PROG};
use crate::prog::{LoadOptions, Program};
use crate::types::{MapType, ProgType};

/// A global-data section that becomes an array map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataSection {
    /// Section name (`.rodata`, `.rodata.str1.1`, `.data`, `.bss`).
    pub name: String,
    /// Its bytes (zeros for `.bss`).
    pub data: Vec<u8>,
    /// True for `.rodata*`: read-only for programs, frozen after filling.
    pub read_only: bool,
    /// ELF section index, for matching relocation targets.
    index: usize,
}

/// One map reference to patch: the `lddw` at `slot` points `offset` bytes
/// into data section `data_idx`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataReloc {
    /// Instruction slot of the `lddw`.
    pub slot: usize,
    /// Index into [`ElfProgram::data`].
    pub data_idx: usize,
    /// Offset into the section.
    pub offset: i32,
}

/// A program read out of an ELF object, not yet loaded.
#[derive(Debug, Clone)]
pub struct ElfProgram {
    /// The section it came from (`tc`).
    pub section: String,
    /// The function symbol's name (`redirect`).
    pub name: String,
    /// The `license` section's string.
    pub license: String,
    /// Instruction bytes (8-byte slots).
    pub insns: Vec<u8>,
    /// Global-data sections the program references.
    pub data: Vec<DataSection>,
    /// Map references to patch at load time.
    pub relocs: Vec<DataReloc>,
}

/// A loaded ELF program and the maps made for its global data.
#[derive(Debug)]
pub struct LoadedObject {
    /// The program.
    pub program: Program,
    /// (section name, map) for each global-data section.
    pub maps: Vec<(String, Map)>,
}

fn elf_err(msg: impl Into<String>) -> Error {
    Error::Elf(msg.into())
}

fn is_data_section(name: &str) -> bool {
    [".rodata", ".data", ".bss"]
        .iter()
        .any(|p| name == *p || name.strip_prefix(p).is_some_and(|r| r.starts_with('.')))
}

/// The program type a section name implies, in libbpf's naming
/// (`tc`, `classifier`, `tc/...`, `tcx/...`, `xdp`, `socket`).
pub fn prog_type_for_section(section: &str) -> Option<ProgType> {
    let head = section.split('/').next().unwrap_or(section);
    match head {
        "tc" | "classifier" | "tcx" | "tc_packet_hook" => Some(ProgType::SchedCls),
        "action" => Some(ProgType::SchedAct),
        "xdp" | "xdp.frags" => Some(ProgType::Xdp),
        "socket" => Some(ProgType::SocketFilter),
        _ => None,
    }
}

/// Names of the executable sections with code, for messages and listings.
pub fn program_sections(bytes: &[u8]) -> Result<Vec<String>> {
    let file = parse_file(bytes)?;
    let mut out = Vec::new();
    for s in file.sections() {
        if is_exec(&file, &s) && s.size() > 0 {
            out.push(
                s.name()
                    .map_err(|e| elf_err(format!("bad section name: {e}")))?
                    .to_string(),
            );
        }
    }
    Ok(out)
}

fn parse_file(bytes: &[u8]) -> Result<ElfFile64<'_, Endianness>> {
    let file = ElfFile64::<Endianness>::parse(bytes)
        .map_err(|e| elf_err(format!("not a 64-bit ELF object: {e}")))?;
    let machine = file.elf_header().e_machine(file.endian());
    if machine != EM_BPF {
        return Err(elf_err(format!(
            "e_machine is {machine}, not EM_BPF (247); build with clang -target bpf"
        )));
    }
    if file.endian() != Endianness::Little {
        return Err(elf_err(
            "big-endian BPF object (bpfeb); this machine needs -target bpfel",
        ));
    }
    Ok(file)
}

fn is_exec(
    file: &ElfFile64<'_, Endianness>,
    s: &object::read::elf::ElfSection64<'_, '_, Endianness>,
) -> bool {
    s.elf_section_header().sh_flags(file.endian()).0 & SHF_EXECINSTR.0 != 0
}

/// Picks the program section: by name, or the only one with code (clang's
/// `.text`, which holds non-inlined functions, aside).
fn pick_section<'d, 'f>(
    file: &'f ElfFile64<'d, Endianness>,
    section: Option<&str>,
) -> Result<object::read::elf::ElfSection64<'d, 'f, Endianness>> {
    let progs: Vec<_> = file
        .sections()
        .filter(|s| is_exec(file, s) && s.size() > 0)
        .collect();
    let names: Vec<String> = progs
        .iter()
        .filter_map(|s| s.name().ok().map(str::to_string))
        .collect();
    if let Some(want) = section {
        return progs
            .into_iter()
            .find(|s| s.name().ok() == Some(want))
            .ok_or_else(|| {
                elf_err(format!(
                    "no program section {want:?}; the object has {names:?}"
                ))
            });
    }
    if progs.is_empty() {
        return Err(elf_err("no executable section with code"));
    }
    let mut candidates: Vec<_> = if progs.len() == 1 {
        progs
    } else {
        progs
            .into_iter()
            .filter(|s| s.name().ok() != Some(".text"))
            .collect()
    };
    match candidates.len() {
        1 => candidates
            .pop()
            .ok_or_else(|| elf_err("no program section")),
        _ => Err(elf_err(format!(
            "several program sections {names:?}; choose one with --section"
        ))),
    }
}

/// The instruction bytes of a program section, for listings: (section
/// name, bytes). Relocations are not applied.
pub fn section_bytes(bytes: &[u8], section: Option<&str>) -> Result<(String, Vec<u8>)> {
    let file = parse_file(bytes)?;
    let sec = pick_section(&file, section)?;
    let name = sec
        .name()
        .map_err(|e| elf_err(format!("bad section name: {e}")))?
        .to_string();
    let data = sec
        .data()
        .map_err(|e| elf_err(format!("section {name}: data out of bounds: {e}")))?;
    Ok((name, data.to_vec()))
}

/// One relocation of a program section, for listings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelocEntry {
    /// Instruction slot it patches.
    pub slot: usize,
    /// ELF relocation type name (`R_BPF_64_64`) or number.
    pub kind: String,
    /// The symbol it refers to (a section name for section symbols).
    pub symbol: String,
}

/// The relocations of a program section, without applying them: which
/// `lddw`/`call` the loader (or libbpf) must patch, and with what.
pub fn section_relocations(bytes: &[u8], section: Option<&str>) -> Result<Vec<RelocEntry>> {
    let file = parse_file(bytes)?;
    let sec = pick_section(&file, section)?;
    let mut out = Vec::new();
    for (offset, rel) in sec.relocations() {
        let kind = match rel.flags() {
            RelocationFlags::Elf { r_type } if r_type == R_BPF_64_64 => "R_BPF_64_64".to_string(),
            RelocationFlags::Elf { r_type } if r_type == R_BPF_64_32 => "R_BPF_64_32".to_string(),
            RelocationFlags::Elf { r_type } => format!("type {r_type}"),
            _ => "non-ELF".to_string(),
        };
        let symbol = match rel.target() {
            RelocationTarget::Symbol(i) => match file.symbol_by_index(i) {
                Ok(sym) if sym.kind() == SymbolKind::Section => sym
                    .section_index()
                    .and_then(|si| file.section_by_index(si).ok())
                    .and_then(|s| s.name().ok().map(str::to_string))
                    .unwrap_or_else(|| "?".into()),
                Ok(sym) => sym.name().unwrap_or("?").to_string(),
                Err(_) => "?".into(),
            },
            _ => "?".into(),
        };
        out.push(RelocEntry {
            slot: (offset / 8) as usize,
            kind,
            symbol,
        });
    }
    Ok(out)
}

/// Reads the program in `section` (or the only program section) out of an
/// ELF object.
pub fn parse(bytes: &[u8], section: Option<&str>) -> Result<ElfProgram> {
    let file = parse_file(bytes)?;
    let sec = pick_section(&file, section)?;
    let sec_name = sec
        .name()
        .map_err(|e| elf_err(format!("bad section name: {e}")))?
        .to_string();
    let insns = sec
        .data()
        .map_err(|e| elf_err(format!("section {sec_name}: data out of bounds: {e}")))?
        .to_vec();
    if insns.is_empty() || insns.len() % 8 != 0 {
        return Err(elf_err(format!(
            "section {sec_name} is {} bytes, not a multiple of 8 (struct bpf_insn)",
            insns.len()
        )));
    }

    // The program's name: the function symbol at offset 0 of its section.
    let name = file
        .symbols()
        .find(|s| {
            s.section_index() == Some(sec.index())
                && s.kind() == SymbolKind::Text
                && s.address() == 0
        })
        .and_then(|s| s.name().ok().map(str::to_string))
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| sec_name.replace(['/', '-'], "_"));

    let license = match file.section_by_name("license") {
        Some(s) => {
            let d = s
                .data()
                .map_err(|e| elf_err(format!("license section: {e}")))?;
            let end = d.iter().position(|&b| b == 0).unwrap_or(d.len());
            std::str::from_utf8(&d[..end])
                .map_err(|_| elf_err("license section is not UTF-8"))?
                .to_string()
        }
        None => {
            return Err(elf_err(
                "no \"license\" section; add char LICENSE[] SEC(\"license\") = \"GPL\";",
            ))
        }
    };

    let mut data: Vec<DataSection> = Vec::new();
    let mut relocs = Vec::new();
    for (offset, rel) in sec.relocations() {
        let r_type = match rel.flags() {
            RelocationFlags::Elf { r_type } => r_type,
            _ => return Err(elf_err("non-ELF relocation")),
        };
        if offset % 8 != 0 || offset >= insns.len() as u64 {
            return Err(elf_err(format!(
                "relocation at offset {offset} is not on an instruction"
            )));
        }
        let slot = (offset / 8) as usize;
        if r_type == R_BPF_64_32 {
            return Err(elf_err(format!(
                "instruction {slot} calls another function (R_BPF_64_32); this loader loads \
                 single-function programs: mark helpers static __always_inline"
            )));
        }
        if r_type != R_BPF_64_64 {
            return Err(elf_err(format!(
                "instruction {slot}: unsupported relocation type {r_type}"
            )));
        }
        let RelocationTarget::Symbol(sym_idx) = rel.target() else {
            return Err(elf_err(format!(
                "instruction {slot}: relocation without a symbol"
            )));
        };
        let sym = file
            .symbol_by_index(sym_idx)
            .map_err(|e| elf_err(format!("instruction {slot}: bad symbol index: {e}")))?;
        let sym_name = sym.name().unwrap_or("?").to_string();
        let Some(target_idx) = sym.section_index() else {
            return Err(elf_err(format!(
                "instruction {slot} references {sym_name:?}, which is not defined in this object"
            )));
        };
        let target = file
            .section_by_index(target_idx)
            .map_err(|e| elf_err(format!("instruction {slot}: bad section index: {e}")))?;
        let tname = target.name().unwrap_or("?").to_string();
        if !is_data_section(&tname) {
            return Err(elf_err(format!(
                "instruction {slot} references {sym_name:?} in section {tname:?}; only global data \
                 (.rodata/.data/.bss) is supported (BTF-defined .maps are not)"
            )));
        }
        let data_idx = match data.iter().position(|d| d.index == target_idx.0) {
            Some(i) => i,
            None => {
                data.push(data_section(&file, target_idx, &tname)?);
                data.len() - 1
            }
        };
        // REL relocations keep the addend in the instruction's imm.
        let start = slot * 8;
        let imm = i32::from_le_bytes([
            insns[start + 4],
            insns[start + 5],
            insns[start + 6],
            insns[start + 7],
        ]);
        let off = i64::try_from(sym.address())
            .ok()
            .and_then(|a| a.checked_add(i64::from(imm)));
        let size = data[data_idx].data.len() as i64;
        let offset = match off {
            Some(o) if (0..size.max(1)).contains(&o) => o as i32,
            _ => {
                return Err(elf_err(format!(
                    "instruction {slot}: offset into {tname} is out of the section ({size} bytes)"
                )))
            }
        };
        if insns[start] != BPF_LD | BPF_DW | BPF_IMM || start + 16 > insns.len() {
            return Err(elf_err(format!(
                "instruction {slot}: R_BPF_64_64 on something other than lddw"
            )));
        }
        relocs.push(DataReloc {
            slot,
            data_idx,
            offset,
        });
    }
    Ok(ElfProgram {
        section: sec_name,
        name,
        license,
        insns,
        data,
        relocs,
    })
}

fn data_section(
    file: &ElfFile64<'_, Endianness>,
    idx: SectionIndex,
    name: &str,
) -> Result<DataSection> {
    let s = file
        .section_by_index(idx)
        .map_err(|e| elf_err(format!("section {name}: {e}")))?;
    let size = s.size();
    if size > 64 << 20 {
        return Err(elf_err(format!(
            "section {name} is {size} bytes; too large for a map value"
        )));
    }
    let data = if s.elf_section_header().sh_type(file.endian()) == SHT_NOBITS {
        vec![0u8; size as usize]
    } else {
        s.data()
            .map_err(|e| elf_err(format!("section {name}: data out of bounds: {e}")))?
            .to_vec()
    };
    Ok(DataSection {
        name: name.to_string(),
        read_only: name.starts_with(".rodata"),
        data,
        index: idx.0,
    })
}

impl ElfProgram {
    /// Creates the global-data maps, patches the relocations and loads the
    /// program. `prog_type` defaults to the one the section name implies.
    pub fn load(&self, prog_type: Option<ProgType>, verbose: bool) -> Result<LoadedObject> {
        let prog_type = prog_type
            .or_else(|| prog_type_for_section(&self.section))
            .ok_or_else(|| {
                Error::Input(format!(
                    "cannot tell the program type from section {:?}; give it explicitly",
                    self.section
                ))
            })?;
        let mut maps = Vec::new();
        for d in &self.data {
            let name: String = d.name.chars().take(15).collect();
            let value_size = u32::try_from(d.data.len().max(1))
                .map_err(|_| elf_err(format!("section {} too large", d.name)))?;
            let map = Map::create(&MapSpec {
                map_type: MapType::Array,
                key_size: 4,
                value_size,
                max_entries: 1,
                flags: if d.read_only { BPF_F_RDONLY_PROG } else { 0 },
                name: &name,
            })?;
            let mut value = d.data.clone();
            value.resize(value_size as usize, 0);
            map.update(&0u32.to_ne_bytes(), &value, BPF_ANY)?;
            if d.read_only {
                map.freeze()?;
            }
            maps.push((d.name.clone(), map));
        }
        let mut bytes = self.insns.clone();
        for r in &self.relocs {
            use std::os::fd::{AsFd, AsRawFd};
            let fd = maps[r.data_idx].1.as_fd().as_raw_fd();
            patch_map_ref(&mut bytes, r.slot, fd, Some(r.offset))?;
        }
        let name = crate::asm::kernel_name(&self.name);
        let mut opts = LoadOptions::new(prog_type, &name);
        opts.license = &self.license;
        opts.verbose = verbose;
        let program = Program::load_with(&bytes, &opts)?;
        Ok(LoadedObject { program, maps })
    }
}

/// Reads and loads in one step.
pub fn load(
    bytes: &[u8],
    section: Option<&str>,
    prog_type: Option<ProgType>,
    verbose: bool,
) -> Result<LoadedObject> {
    parse(bytes, section)?.load(prog_type, verbose)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_section_names() {
        assert!(is_data_section(".rodata"));
        assert!(is_data_section(".rodata.str1.1"));
        assert!(is_data_section(".bss"));
        assert!(!is_data_section(".rodatax"));
        assert!(!is_data_section(".maps"));
        assert_eq!(prog_type_for_section("tc"), Some(ProgType::SchedCls));
        assert_eq!(
            prog_type_for_section("tcx/ingress"),
            Some(ProgType::SchedCls)
        );
        assert_eq!(prog_type_for_section("kprobe/x"), None);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bytes in [
            &b""[..],
            &b"\x7fELF"[..],
            &[0u8; 64][..],
            &[0xffu8; 200][..],
        ] {
            assert!(parse(bytes, None).is_err());
        }
    }
}
