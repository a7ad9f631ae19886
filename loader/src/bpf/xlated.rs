//! Listing a loaded program's translated ("xlated") instructions the way
//! `bpftool prog dump xlated` does.
//!
//! What `BPF_OBJ_GET_INFO_BY_FD` returns is not what was loaded: the kernel
//! (kernel/bpf/syscall.c, `bpf_insn_prepare_dump`) rewrites it for the dump.
//! Two rewrites matter for a listing, and both leave instructions that a
//! plain disassembler of object files reads wrongly:
//!
//! * A helper call's `imm` is no longer the helper id (`BPF_FUNC_*`): the
//!   verifier fixed it up to the helper's address relative to
//!   `__bpf_call_base` (kernel/bpf/core.c), so `__bpf_call_base + imm` is the
//!   kernel function called. Its name comes from `/proc/kallsyms`, as in
//!   bpftool's `kernel_syms_load` and `print_call` (tools/bpf/bpftool/
//!   xlated_dumper.c). Without readable addresses the kernel sends imm 0.
//! * An lddw of a map (`BPF_PSEUDO_MAP_FD`) or map value
//!   (`BPF_PSEUDO_MAP_VALUE`) carries the map's *id* in `imm`, not a file
//!   descriptor, and the value's offset in the second slot's `imm`. bpftool
//!   prints `map[id:N]` and `map[id:N][0]+OFF`.
//!
//! Everything else is listed by `ebpf_asm`'s disassembler.

use std::collections::HashMap;

use ebpf_asm::disasm::{bytes_column, format_instruction, slots_of, Syntax};
use ebpf_asm::encode::decode_slots;
use ebpf_asm::opcode::{
    BPF_CALL, BPF_DW, BPF_IMM, BPF_JMP, BPF_LD, BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE,
};
use ebpf_asm::{DecodeError, Insn};

// The uapi constants come from ebpf_asm::opcode, which writes them once.
const CALL_CODE: u8 = BPF_JMP | BPF_CALL;
const LDDW_CODE: u8 = BPF_LD | BPF_DW | BPF_IMM;
/// `src_reg` of a helper call (as opposed to `BPF_PSEUDO_CALL`/`_KFUNC_CALL`).
const HELPER_CALL_SRC: u8 = 0;

/// The symbol the kernel's helper-call `imm` is relative to.
const CALL_BASE_SYMBOL: &str = "__bpf_call_base";

/// Kernel symbols by address, for naming helper calls.
#[derive(Debug, Default, Clone)]
pub struct KernelSymbols {
    /// `__bpf_call_base`'s address, when `/proc/kallsyms` shows addresses.
    pub call_base: Option<u64>,
    names: HashMap<u64, String>,
}

impl KernelSymbols {
    /// Reads `/proc/kallsyms`. With `kernel.kptr_restrict` hiding addresses
    /// (all zero) or the file unreadable, nothing can be named: helper calls
    /// then show their offsets.
    pub fn load() -> KernelSymbols {
        std::fs::read_to_string("/proc/kallsyms")
            .map(|t| KernelSymbols::parse(&t))
            .unwrap_or_default()
    }

    /// Parses kallsyms text: `ADDRESS TYPE NAME [MODULE]` per line.
    pub fn parse(text: &str) -> KernelSymbols {
        let mut syms = KernelSymbols::default();
        for line in text.lines() {
            let mut f = line.split_whitespace();
            let (Some(addr), Some(_kind), Some(name)) = (f.next(), f.next(), f.next()) else {
                continue;
            };
            let Ok(addr) = u64::from_str_radix(addr, 16) else {
                continue;
            };
            if addr == 0 {
                continue;
            }
            if name == CALL_BASE_SYMBOL {
                syms.call_base = Some(addr);
            }
            // The first name at an address wins, as in a sorted kallsyms.
            syms.names.entry(addr).or_insert_with(|| name.to_string());
        }
        syms
    }

    /// The function a translated helper call with this `imm` calls.
    pub fn helper_address(&self, imm: i32) -> Option<u64> {
        self.call_base
            .map(|base| base.wrapping_add_signed(i64::from(imm)))
    }

    /// The name of the kernel symbol at `addr`.
    pub fn name_at(&self, addr: u64) -> Option<&str> {
        self.names.get(&addr).map(String::as_str)
    }
}

/// Listing options for [`listing`].
#[derive(Debug, Clone, Copy)]
pub struct XlatedOptions {
    pub syntax: Syntax,
    /// Each slot's bytes (llvm-objdump style) instead of `N: (code)`.
    pub bytes: bool,
}

/// The text of one translated instruction at `slots[0]` that an object-file
/// disassembler would get wrong, or `None` to let it list the instruction.
fn xlated_text(slots: &[Insn], syms: &KernelSymbols) -> Option<String> {
    let i = slots.first()?;
    if i.code == CALL_CODE && i.src == HELPER_CALL_SRC {
        if i.imm == 0 {
            return Some(
                "call helper (address withheld by the kernel: kptr_restrict or lockdown)"
                    .to_string(),
            );
        }
        return Some(match syms.helper_address(i.imm) {
            Some(addr) => match syms.name_at(addr) {
                Some(name) => format!("call {name}#{}", i.imm),
                None => format!("call helper@{addr:#x}#{}", i.imm),
            },
            None => format!("call helper@{CALL_BASE_SYMBOL}{:+}", i.imm),
        });
    }
    if i.code == LDDW_CODE {
        let second = slots.get(1)?;
        let dst = format!("r{}", i.dst);
        return match i.src {
            BPF_PSEUDO_MAP_FD => Some(format!("{dst} = map[id:{}]", i.imm as u32)),
            BPF_PSEUDO_MAP_VALUE => Some(format!(
                "{dst} = map[id:{}][0]+{}",
                i.imm as u32, second.imm as u32
            )),
            _ => None,
        };
    }
    None
}

/// Lists translated instructions (from `Program::xlated_insns`) with helper
/// calls named and map references shown by map id, like bpftool.
pub fn listing(
    bytes: &[u8],
    syms: &KernelSymbols,
    opts: XlatedOptions,
) -> Result<String, DecodeError> {
    let slots = slots_of(bytes)?;
    let mut out = String::with_capacity(slots.len() * 32);
    for (at, ins) in decode_slots(&slots)? {
        if opts.bytes {
            out.push_str(&bytes_column(at, &slots[at..at + ins.slots()]));
        } else {
            out.push_str(&format!("{at}: ({:02x}) ", slots[at].code));
        }
        match xlated_text(&slots[at..], syms) {
            Some(t) => out.push_str(&t),
            None => out.push_str(&format_instruction(&ins, opts.syntax)),
        }
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn insn(code: u8, dst: u8, src: u8, imm: i32) -> Insn {
        Insn {
            code,
            dst,
            src,
            off: 0,
            imm,
        }
    }

    fn bytes(insns: &[Insn]) -> Vec<u8> {
        insns.iter().flat_map(|i| i.to_bytes()).collect()
    }

    const KALLSYMS: &str = "ffffffff81000000 T _stext\n\
        ffffffff81200000 T __bpf_call_base\n\
        ffffffff81200000 T __bpf_call_base_alias\n\
        ffffffff81300010 T bpf_skb_pull_data\n\
        0000000000000000 T hidden\n\
        garbage line\n";

    #[test]
    fn helper_calls_are_named_from_kallsyms() {
        let syms = KernelSymbols::parse(KALLSYMS);
        assert_eq!(syms.call_base, Some(0xffff_ffff_8120_0000));
        let prog = bytes(&[
            insn(CALL_CODE, 0, 0, 0x10_0010),
            insn(CALL_CODE, 0, 0, 0x20),
            insn(0x95, 0, 0, 0),
        ]);
        let opts = XlatedOptions {
            syntax: Syntax::Kernel,
            bytes: false,
        };
        let l = listing(&prog, &syms, opts).unwrap();
        let lines: Vec<&str> = l.lines().collect();
        assert_eq!(lines[0], "0: (85) call bpf_skb_pull_data#1048592");
        assert_eq!(lines[1], "1: (85) call helper@0xffffffff81200020#32");
        assert_eq!(lines[2], "2: (95) exit");
        // No addresses: say what the imm is relative to.
        let l = listing(&prog, &KernelSymbols::default(), opts).unwrap();
        assert!(
            l.starts_with("0: (85) call helper@__bpf_call_base+1048592\n"),
            "{l}"
        );
    }

    #[test]
    fn map_loads_show_map_ids() {
        let prog = bytes(&[
            insn(LDDW_CODE, 1, BPF_PSEUDO_MAP_VALUE, 102_404),
            insn(0, 0, 0, 8),
            insn(LDDW_CODE, 2, BPF_PSEUDO_MAP_FD, 7),
            insn(0, 0, 0, 0),
            insn(LDDW_CODE, 3, 0, 5),
            insn(0, 0, 0, 0),
        ]);
        let opts = XlatedOptions {
            syntax: Syntax::Kernel,
            bytes: false,
        };
        let l = listing(&prog, &KernelSymbols::default(), opts).unwrap();
        let lines: Vec<&str> = l.lines().collect();
        assert_eq!(lines[0], "0: (18) r1 = map[id:102404][0]+8");
        assert_eq!(lines[1], "2: (18) r2 = map[id:7]");
        assert_eq!(lines[2], "4: (18) r3 = 0x5 ll");
    }

    #[test]
    fn bad_bytes_are_errors_not_panics() {
        let syms = KernelSymbols::default();
        let opts = XlatedOptions {
            syntax: Syntax::Kernel,
            bytes: true,
        };
        assert!(listing(&[0x18, 1, 2, 3, 4, 5, 6, 7], &syms, opts).is_err());
        assert!(listing(&[1, 2, 3], &syms, opts).is_err());
        for _ in 0..200 {
            let b: Vec<u8> = (0..32).map(|_| fastrand_byte()).collect();
            let _ = listing(&b, &syms, opts);
        }
    }

    /// A small xorshift, so the test needs no dependency.
    fn fastrand_byte() -> u8 {
        use std::cell::Cell;
        thread_local!(static S: Cell<u64> = const { Cell::new(0x9e37_79b9_7f4a_7c15) });
        S.with(|s| {
            let mut x = s.get();
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            s.set(x);
            x as u8
        })
    }
}
