//! Loading programs from `ebpf-asm`: source maps for verifier errors, helper
//! names, and patching map references into `lddw` instructions.
//!
//! The `lddw` pseudo forms follow `include/uapi/linux/bpf.h` ("When
//! BPF_LD | BPF_DW | BPF_IMM's src_reg != 0 ..."): `BPF_PSEUDO_MAP_FD` puts a
//! map fd in `imm`; `BPF_PSEUDO_MAP_VALUE` also puts an offset into the map
//! value in the second slot's `imm`, and the kernel turns both into the
//! map's (or value's) address.

use std::os::fd::{AsRawFd, BorrowedFd};

use ebpf_asm::opcode::{BPF_DW, BPF_IMM, BPF_LD, BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE};
use ebpf_asm::RelocKind;

use crate::error::{Error, Result};
use crate::prog::{LoadOptions, Program};
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
    /// Loads a program produced by `ebpf-asm`: map references are patched
    /// from `how.maps`, and a verifier rejection names the source line.
    pub fn load_asm(prog: &ebpf_asm::Program, how: &AsmLoad<'_>) -> Result<Program> {
        let mut bytes = prog.to_bytes();
        for r in prog.relocations() {
            let fd = how
                .maps
                .iter()
                .find(|(n, _)| *n == r.symbol)
                .map(|(_, fd)| fd.as_raw_fd())
                .ok_or_else(|| {
                    Error::Input(format!(
                        "{}: instruction {} uses map {:?}, which was not provided",
                        how.file_name, r.slot, r.symbol
                    ))
                })?;
            let off = match r.kind {
                RelocKind::MapFd => None,
                RelocKind::MapValue { offset } => Some(offset),
            };
            patch_map_ref(&mut bytes, r.slot, fd, off)?;
        }
        let map = source_map(prog, how.file_name);
        let name = kernel_name(prog.name());
        let mut opts = LoadOptions::new(how.prog_type, &name);
        opts.license = prog.license();
        opts.verbose = how.verbose;
        opts.source_map = Some(&map);
        // BTF by default: the FUNC, and a line_info per instruction naming
        // the .s line, so bpftool and the verifier log quote the source.
        let btf = crate::btf::ProgBtf::for_program(prog, how.file_name)?;
        opts.btf = Some(&btf);
        Program::load_with(&bytes, &opts)
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
