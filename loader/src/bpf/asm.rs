//! Loading programs from `ebpf-asm` (through [`crate::load`]): source maps
//! for verifier errors, helper names, and patching map references into
//! `lddw` instructions.
//!
//! The `lddw` pseudo forms follow `include/uapi/linux/bpf.h` ("When
//! BPF_LD | BPF_DW | BPF_IMM's src_reg != 0 ..."): `BPF_PSEUDO_MAP_FD` puts a
//! map fd in `imm`; `BPF_PSEUDO_MAP_VALUE` also puts an offset into the map
//! value in the second slot's `imm`, and the kernel turns both into the
//! map's (or value's) address.

use std::os::fd::BorrowedFd;

use ebpf_asm::opcode::{BPF_DW, BPF_IMM, BPF_LD, BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE};
use ebpf_asm::RelocKind;

use crate::error::{Error, Result};
use crate::prog::Program;
use crate::types::ProgType;
use crate::verifier::{SourceLine, SourceMap};

/// The name of helper `id`, from ebpf-asm's helper table.
pub fn helper_name(id: i64) -> Option<String> {
    let id = u32::try_from(id).ok()?;
    ebpf_asm::helpers::helper_name(id).map(str::to_string)
}

/// Slot -> source line for an assembled program, naming `file`.
pub fn source_map(prog: &ebpf_asm::Program, file: &str) -> SourceMap {
    (0..prog.insns().len())
        .map(|slot| {
            prog.source_of(slot).map(|s| SourceLine {
                file: file.to_string(),
                line: s.line,
                text: s.text.trim().to_string(),
            })
        })
        .collect()
}

/// Patches the `lddw` at `slot` to reference a map: its fd, and with
/// `value_offset` a pointer `offset` bytes into its value.
pub fn patch_map_ref(
    insns: &mut [u8],
    slot: usize,
    fd: i32,
    value_offset: Option<i32>,
) -> Result<()> {
    let start = slot
        .checked_mul(8)
        .filter(|s| s + 16 <= insns.len())
        .ok_or_else(|| {
            Error::Input(format!(
                "map reference at instruction {slot} is past the end of the program ({} slots)",
                insns.len() / 8
            ))
        })?;
    if insns[start] != BPF_LD | BPF_DW | BPF_IMM {
        return Err(Error::Input(format!(
            "map reference at instruction {slot}: opcode {:#04x} is not lddw (0x18)",
            insns[start]
        )));
    }
    let pseudo = if value_offset.is_some() {
        BPF_PSEUDO_MAP_VALUE
    } else {
        BPF_PSEUDO_MAP_FD
    };
    insns[start + 1] = (insns[start + 1] & 0x0f) | (pseudo << 4);
    insns[start + 4..start + 8].copy_from_slice(&fd.to_le_bytes());
    let second = start + 8;
    insns[second + 4..second + 8].copy_from_slice(&value_offset.unwrap_or(0).to_le_bytes());
    Ok(())
}

/// How to load an assembled program.
#[derive(Debug, Clone)]
pub struct AsmLoad<'a> {
    /// The program type.
    pub prog_type: ProgType,
    /// The file the source came from, for error messages.
    pub file_name: &'a str,
    /// Maps the program names (`lddw` of a map symbol), by name.
    pub maps: &'a [(&'a str, BorrowedFd<'a>)],
    /// Keep the level-2 verifier log and stats.
    pub verbose: bool,
}

/// The kernel name for a program: at most 15 bytes of `[A-Za-z0-9_.]`.
pub fn kernel_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .take(15)
        .collect();
    if cleaned.is_empty() {
        "prog".into()
    } else {
        cleaned
    }
}

impl Program {
    /// Loads a program produced by `ebpf-asm` through the one object
    /// loader ([`crate::load::load`]): its object with the generated BTF
    /// (so func_info and line_info name the `.s` lines, and a verifier
    /// rejection quotes them), map references resolved from `how.maps`.
    pub fn load_asm(prog: &ebpf_asm::Program, how: &AsmLoad<'_>) -> Result<Program> {
        let obj = ebpf_asm::object::Object::from_program_with_btf(prog, how.file_name);
        let section = obj.section_index(prog.section()).unwrap_or(0);
        // `r1 = map + 0 ll` is a value pointer although its addend is 0.
        let value_refs: Vec<(usize, u64)> = prog
            .relocations()
            .iter()
            .filter(|r| r.kind == RelocKind::MapValue { offset: 0 })
            .map(|r| (section, (r.slot * 8) as u64))
            .collect();
        for r in prog.relocations() {
            if !how.maps.iter().any(|(n, _)| *n == r.symbol) {
                return Err(Error::Input(format!(
                    "{}: instruction {} uses map {:?}, which was not provided",
                    how.file_name, r.slot, r.symbol
                )));
            }
        }
        let mut loaded = crate::load::load(
            &obj,
            &crate::load::LoadSpec {
                file_name: how.file_name,
                prog_type: Some(how.prog_type),
                extern_maps: how.maps,
                extern_value_refs: &value_refs,
                verbose: how.verbose,
                ..Default::default()
            },
        )?;
        loaded
            .programs
            .pop()
            .map(|p| p.program)
            .ok_or_else(|| Error::Input(format!("{}: no program", how.file_name)))
    }

    /// Loads the one program of an assembled object (a `.s` file that
    /// declares its maps with `.map` or keeps data in `.rodata`...) through
    /// [`crate::load::load`]: `how.maps` stand in for the `.maps`
    /// declarations of the same name and resolve undefined map symbols.
    pub fn load_asm_object(obj: &ebpf_asm::object::Object, how: &AsmLoad<'_>) -> Result<Program> {
        let mut loaded = crate::load::load(
            obj,
            &crate::load::LoadSpec {
                file_name: how.file_name,
                prog_type: Some(how.prog_type),
                extern_maps: how.maps,
                verbose: how.verbose,
                ..Default::default()
            },
        )
        .map_err(|e| match e {
            // Text, not an ELF file: no "ELF object:" prefix.
            Error::Elf(m) => Error::Input(m),
            e => e,
        })?;
        if loaded.programs.len() != 1 {
            return Err(Error::Input(format!(
                "{}: {} programs; the lab loads files with one",
                how.file_name,
                loaded.programs.len()
            )));
        }
        loaded
            .programs
            .pop()
            .map(|p| p.program)
            .ok_or_else(|| Error::Input(format!("{}: no program", how.file_name)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patches_lddw_with_map_fd_and_value() {
        let mut b = vec![0u8; 24];
        b[0] = 0x18;
        b[1] = 0x01; // dst r1
        patch_map_ref(&mut b, 0, 7, Some(12)).unwrap();
        assert_eq!(b[1], 0x21);
        assert_eq!(&b[4..8], &7i32.to_le_bytes());
        assert_eq!(&b[12..16], &12i32.to_le_bytes());
        patch_map_ref(&mut b, 0, 9, None).unwrap();
        assert_eq!(b[1], 0x11);
        assert!(patch_map_ref(&mut b, 1, 9, None).is_err()); // not lddw
        assert!(patch_map_ref(&mut b, 2, 9, None).is_err()); // past the end
        assert!(patch_map_ref(&mut b, usize::MAX, 9, None).is_err());
    }

    #[test]
    fn kernel_names_are_sanitised() {
        assert_eq!(kernel_name("redirect"), "redirect");
        assert_eq!(kernel_name("a-very-long-program-name"), "a_very_long_pro");
        assert_eq!(kernel_name(""), "prog");
    }
}
