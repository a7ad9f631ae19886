//! Bytes back to text.
//!
//! The default syntax is the kernel's (`kernel/bpf/disasm.c`, what the
//! verifier log and `bpftool prog dump xlated` print), so a listing can be
//! read beside a verifier log line by line; [`Syntax::Llvm`] prints what
//! `llvm-objdump -d --mcpu=v4 --no-print-imm-hex` prints. Two deliberate
//! differences from the kernel make every listing assemble back to the same
//! bytes: lddw carries LLVM's `ll` suffix, and jump targets inside the program
//! get synthesized labels (`L12:`, option [`DisasmOptions::labels`]).
//!
//! Decoding never panics: bad input gives a [`DecodeError`] naming the slot.

use crate::encode::{DecodeError, DecodeReason};
use crate::helpers::helper_name;
use crate::insn::*;
use std::fmt::{self, Write};

/// Which text syntax to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Syntax {
    /// `r0 = *(u32 *)(r1 +76)`, `if r1 > 0x3 goto pc+3`, `call bpf_redirect#23`.
    #[default]
    Kernel,
    /// `w0 = *(u32 *)(r1 + 76)`, `if r1 > 3 goto +3`, `call 23`.
    Llvm,
}

/// Listing options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DisasmOptions {
    pub syntax: Syntax,
    /// Prefix each line with the slot and the opcode, like the verifier:
    /// `12: (b7) r0 = 0`.
    pub slot_numbers: bool,
    /// Prefix each line with the slot and the raw bytes, like llvm-objdump:
    /// `    12:\tb7 00 00 00 00 00 00 00\tr0 = 0`. Wins over `slot_numbers`.
    pub bytes: bool,
    /// Name jump targets inside the program `L<slot>` and jump to the names.
    pub labels: bool,
}

impl Default for DisasmOptions {
    fn default() -> Self {
        DisasmOptions {
            syntax: Syntax::Kernel,
            slot_numbers: false,
            bytes: false,
            labels: true,
        }
    }
}

/// Split bytes into slots; a trailing partial slot is an error.
pub fn slots_of(bytes: &[u8]) -> Result<Vec<Insn>, DecodeError> {
    if bytes.len() % Insn::SIZE != 0 {
        return Err(DecodeError {
            slot: bytes.len() / Insn::SIZE,
            reason: DecodeReason::TrailingBytes(bytes.len() % Insn::SIZE),
        });
    }
    Ok(bytes
        .chunks_exact(Insn::SIZE)
        .map(|c| Insn::from_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
        .collect())
}

/// Disassemble raw little-endian instruction bytes into a listing.
pub fn disassemble(bytes: &[u8], opts: &DisasmOptions) -> Result<String, DecodeError> {
    disassemble_insns(&slots_of(bytes)?, opts)
}

/// Disassemble slots into a listing (one instruction per line).
pub fn disassemble_insns(slots: &[Insn], opts: &DisasmOptions) -> Result<String, DecodeError> {
    // Pass 1: decode everything, so jump targets are known. A slot that
    // does not decode is listed as `.8byte` (what llvm-objdump shows as
    // `<unknown>`), which both assemblers read back, and the listing goes on
    // with the next slot.
    let mut decoded: Vec<(usize, Result<Instruction, DecodeError>)> =
        Vec::with_capacity(slots.len());
    let mut at = 0;
    while at < slots.len() {
        match crate::encode::decode(&slots[at..]) {
            Ok((ins, used)) => {
                decoded.push((at, Ok(ins)));
                at += used.max(1);
            }
            Err(e) => {
                decoded.push((
                    at,
                    Err(DecodeError {
                        slot: at + e.slot,
                        reason: e.reason,
                    }),
                ));
                at += 1;
            }
        }
    }
    let mut starts = vec![false; slots.len() + 1];
    for &(at, _) in &decoded {
        starts[at] = true;
    }
    starts[slots.len()] = true;
    let mut is_target = vec![false; slots.len() + 1];
    if opts.labels {
        for (at, ins) in decoded
            .iter()
            .filter_map(|(at, r)| Some((*at, r.as_ref().ok()?)))
        {
            if let Some(t) = target_slot(at, ins, &starts) {
                is_target[t] = true;
            }
        }
    }
    // About 24 bytes of instruction text per slot, and 40 more for the
    // bytes column: enough that a long listing is not copied as it grows.
    let per_slot = if opts.bytes { 64 } else { 24 };
    let mut out = Listing(Vec::with_capacity(slots.len() * per_slot));
    for (at, r) in &decoded {
        let at = *at;
        if is_target[at] {
            let _ = writeln!(out, "L{at}:");
        }
        let ins = match r {
            Ok(ins) => *ins,
            Err(e) => {
                if opts.bytes {
                    push_bytes_column(&mut out.0, at, &slots[at..at + 1]);
                } else if opts.slot_numbers {
                    let _ = write!(out, "{at}: ({:02x}) ", slots[at].code);
                } else if opts.labels {
                    out.0.push(b'\t');
                }
                if let Some(text) = format_addr_space_cast(&slots[at], opts.syntax) {
                    let _ = writeln!(out, "{text}");
                    continue;
                }
                let raw = u64::from_le_bytes(slots[at].to_bytes());
                let _ = writeln!(out, ".8byte {raw:#018x}\t# <unknown>: {}", e.reason);
                continue;
            }
        };
        if opts.bytes {
            push_bytes_column(&mut out.0, at, &slots[at..at + ins.slots()]);
        } else if opts.slot_numbers {
            let _ = write!(out, "{at}: ({:02x}) ", slots[at].code);
        } else if opts.labels {
            out.0.push(b'\t');
        }
        let label = if opts.labels {
            target_slot(at, &ins, &starts).filter(|t| is_target[*t])
        } else {
            None
        };
        let _ = write_instruction(&mut out, &ins, opts.syntax, label);
        out.0.push(b'\n');
    }
    if is_target[slots.len()] {
        let _ = writeln!(out, "L{}:", slots.len());
    }
    Ok(out.into_string())
}

/// `off` of a 64-bit register move that makes it an address-space cast
/// (the kernel's `BPF_ADDR_SPACE_CAST`, checked in `kernel/bpf/verifier.c`
/// and printed by `kernel/bpf/disasm.c`): `imm` is
/// `dst_addr_space << 16 | src_addr_space`.
pub const BPF_ADDR_SPACE_CAST: i16 = 1;

/// The fields of an `addr_space_cast` slot: `(dst, src, dst_as, src_as)`.
pub fn addr_space_cast(slot: &Insn) -> Option<(u8, u8, u16, u16)> {
    let mov64_x = crate::opcode::BPF_ALU64 | crate::opcode::BPF_MOV | crate::opcode::BPF_X;
    (slot.code == mov64_x && slot.off == BPF_ADDR_SPACE_CAST && slot.dst <= 10 && slot.src <= 10)
        .then_some((
            slot.dst,
            slot.src,
            (slot.imm as u32 >> 16) as u16,
            slot.imm as u16,
        ))
}

/// `rD = addr_space_cast(rS, DST_AS, SRC_AS)`: decimal as the kernel prints
/// it, hex as llvm-objdump-19 does.
pub fn format_addr_space_cast(slot: &Insn, syntax: Syntax) -> Option<String> {
    let (d, s, dst_as, src_as) = addr_space_cast(slot)?;
    Some(match syntax {
        Syntax::Kernel => format!("r{d} = addr_space_cast(r{s}, {dst_as}, {src_as})"),
        Syntax::Llvm => format!("r{d} = addr_space_cast(r{s}, {dst_as:#x}, {src_as:#x})"),
    })
}

/// A listing being written: bytes, so that [`push_bytes_column`] can append
/// its ASCII columns without a UTF-8 check per line; everything else comes
/// in as `&str` through [`fmt::Write`]. Checked once, at the end.
struct Listing(Vec<u8>);

impl fmt::Write for Listing {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

impl Listing {
    fn into_string(self) -> String {
        // Only `&str`s and ASCII went in, so this is always `Ok`; were it
        // not, the lossy copy still gives a listing rather than a panic.
        String::from_utf8(self.0)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }
}

/// [`push_bytes_column`]'s columns as a `String`, for listings built outside
/// this module (the loader's `bpftool prog dump xlated` look-alike), so that
/// every `--bytes` listing lines up the same way.
pub fn bytes_column(at: usize, slots: &[Insn]) -> String {
    let mut out = Listing(Vec::with_capacity(64));
    push_bytes_column(&mut out.0, at, slots);
    out.into_string()
}

/// llvm-objdump's columns before an instruction: the slot number
/// right-aligned in six columns, then the instruction's bytes (one slot, or
/// two for lddw) as hex pairs: `    12:\tb7 00 00 00 00 00 00 00\t`.
///
/// Built in an array and appended at once: through `write!` (`{at:>6}`,
/// `{b:02x}`) or a `String::push` per character, these columns cost more
/// than the instruction text itself.
fn push_bytes_column(out: &mut Vec<u8>, at: usize, slots: &[Insn]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    // Room for usize::MAX.
    const DIGITS: usize = 20;
    // Spaces to start with: the number's padding and the gaps between pairs.
    let mut text = [b' '; DIGITS + 2 + 2 * 24];
    let mut start = DIGITS;
    let mut n = at;
    loop {
        start -= 1;
        text[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let start = start.min(DIGITS - 6);
    text[DIGITS..DIGITS + 2].copy_from_slice(b":\t");
    let mut end = DIGITS + 2;
    for b in slots.iter().take(2).flat_map(|s| s.to_bytes()) {
        text[end] = HEX[usize::from(b >> 4)];
        text[end + 1] = HEX[usize::from(b & 0xf)];
        end += 3; // the pair and the space after it
    }
    text[end - 1] = b'\t'; // in place of the last space
    out.extend_from_slice(&text[start..end]);
}

/// The slot a branch lands on, if it is the start of an instruction here.
fn target_slot(at: usize, ins: &Instruction, starts: &[bool]) -> Option<usize> {
    let off = ins.branch_offset()?;
    let t = at as i64 + 1 + off;
    let t = usize::try_from(t).ok()?;
    starts.get(t).copied().unwrap_or(false).then_some(t)
}

/// One instruction as text, with numeric jump offsets.
pub fn format_instruction(ins: &Instruction, syntax: Syntax) -> String {
    let mut s = String::new();
    let _ = write_instruction(&mut s, ins, syntax, None);
    s
}

/// A memory operand: `(r1 +8)` (kernel) or `(r1 + 8)` (LLVM).
struct M(Syntax, Reg, i16);
impl fmt::Display for M {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let M(syntax, reg, off) = *self;
        f.write_str("(")?;
        f.write_str(reg.name(Width::W64))?;
        // Pieces instead of a nested write!: most lines have an operand
        // like this one, and each write! is a trip through core::fmt.
        match syntax {
            Syntax::Kernel => write!(f, " {off:+}")?,
            Syntax::Llvm => {
                f.write_str(if off < 0 { " - " } else { " + " })?;
                fmt::Display::fmt(&off.unsigned_abs(), f)?;
            }
        }
        f.write_str(")")
    }
}

/// A jump target: a label or `pc+3` / `+3`.
struct T(Syntax, i64, Option<usize>);
impl fmt::Display for T {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.2, self.0) {
            (Some(l), _) => {
                f.write_str("L")?;
                fmt::Display::fmt(&l, f)
            }
            (None, Syntax::Kernel) => write!(f, "pc{:+}", self.1),
            (None, Syntax::Llvm) => write!(f, "{:+}", self.1),
        }
    }
}

/// The register width shown for the data of a load or store. LLVM's alu32
/// mode writes accesses of 32 bits or fewer with `w` registers, since the
/// loaded value is zero-extended; the kernel always prints `r`.
fn data_reg_width(syntax: Syntax, size: Size) -> Width {
    if syntax == Syntax::Llvm && size != Size::DW {
        Width::W32
    } else {
        Width::W64
    }
}

/// Write one instruction; `label` replaces the numeric target if given.
pub fn write_instruction(
    out: &mut impl Write,
    ins: &Instruction,
    syntax: Syntax,
    label: Option<usize>,
) -> fmt::Result {
    let k = syntax == Syntax::Kernel;
    match *ins {
        Instruction::Alu {
            width,
            op,
            dst,
            src,
        } => {
            write!(out, "{} {} ", dst.name(width), op.operator())?;
            match src {
                Source::Reg(s) => out.write_str(s.name(width)),
                Source::Imm(i) => write!(out, "{i}"),
            }
        }
        Instruction::Neg { width, dst } => write!(out, "{0} = -{0}", dst.name(width)),
        Instruction::MovSx {
            width,
            dst,
            src,
            bits,
        } => write!(out, "{} = (s{bits}){}", dst.name(width), src.name(width)),
        Instruction::Endian { order, dst, bits } => {
            let name = match order {
                ByteOrder::ToLe => "le",
                ByteOrder::ToBe => "be",
                ByteOrder::Swap => "bswap",
            };
            write!(out, "{dst} = {name}{bits} {dst}")
        }
        Instruction::Ja { off } => write!(out, "goto {}", T(syntax, off as i64, label)),
        Instruction::JaLong { imm } => write!(out, "gotol {}", T(syntax, imm as i64, label)),
        Instruction::MayGoto { off } => write!(out, "may_goto {}", T(syntax, off as i64, label)),
        Instruction::Jump {
            width,
            cond,
            dst,
            src,
            off,
        } => {
            write!(out, "if {} {} ", dst.name(width), cond.operator())?;
            match (src, k) {
                (Source::Reg(s), _) => out.write_str(s.name(width))?,
                (Source::Imm(i), true) => write!(out, "{:#x}", i as u32)?,
                (Source::Imm(i), false) => write!(out, "{i}")?,
            }
            write!(out, " goto {}", T(syntax, off as i64, label))
        }
        Instruction::Call(CallKind::Helper(id)) => {
            if k {
                let name = u32::try_from(id).ok().and_then(helper_name);
                write!(out, "call {}#{id}", name.unwrap_or("unknown"))
            } else {
                write!(out, "call {id}")
            }
        }
        Instruction::Call(CallKind::Local(imm)) => {
            // LLVM prints `call N` for every kind; that would read back as a
            // helper call, so both syntaxes use the kernel's `call pc+N`.
            match label {
                Some(l) => write!(out, "call L{l}"),
                None => write!(out, "call pc{imm:+}"),
            }
        }
        Instruction::Call(CallKind::Kfunc { btf_id, off }) => {
            write!(out, "call kfunc#{btf_id}")?;
            if off != 0 {
                write!(out, "[{off}]")?;
            }
            Ok(())
        }
        Instruction::CallX { dst } => write!(out, "callx {dst}"),
        Instruction::Exit => write!(out, "exit"),
        Instruction::LdImm64 { dst, pseudo, imm } => {
            let (lo, hi) = (imm as i32, (imm >> 32) as i32);
            match pseudo {
                LdPseudo::Imm64 if k => write!(out, "{dst} = {:#x} ll", imm as u64),
                LdPseudo::Imm64 => write!(out, "{dst} = {imm} ll"),
                _ if !k && hi == 0 => {
                    write!(out, "ld_pseudo\t{dst}, {}, {}", pseudo.src(), lo as u32)
                }
                LdPseudo::MapValue => write!(out, "{dst} = map_value[fd:{lo}]{hi:+} ll"),
                LdPseudo::MapIdxValue => write!(out, "{dst} = map_value[idx:{lo}]{hi:+} ll"),
                LdPseudo::MapFd | LdPseudo::MapIdx | LdPseudo::BtfId | LdPseudo::Func => {
                    let head = match pseudo {
                        LdPseudo::MapFd => "map[fd:",
                        LdPseudo::MapIdx => "map[idx:",
                        LdPseudo::BtfId => "btf_id[",
                        _ => "func[",
                    };
                    write!(out, "{dst} = {head}{lo}]")?;
                    // The second slot's imm is usually 0 for these forms
                    // (btf_id may carry a module's BTF fd there): shown only
                    // when set, so the listing still reassembles exactly.
                    if hi != 0 {
                        write!(out, "{hi:+}")?;
                    }
                    write!(out, " ll")
                }
            }
        }
        Instruction::LdAbs { size, imm } => {
            write!(out, "r0 = *({} *)skb[{imm}]", size.unsigned_name())
        }
        Instruction::LdInd { size, src, imm } => {
            if !k && imm == 0 {
                write!(out, "r0 = *({} *)skb[{src}]", size.unsigned_name())
            } else if imm < 0 {
                let m = -(imm as i64);
                write!(out, "r0 = *({} *)skb[{src} - {m}]", size.unsigned_name())
            } else {
                write!(out, "r0 = *({} *)skb[{src} + {imm}]", size.unsigned_name())
            }
        }
        Instruction::Load {
            size,
            dst,
            src,
            off,
        } => {
            let w = data_reg_width(syntax, size);
            write!(
                out,
                "{} = *({} *){}",
                dst.name(w),
                size.unsigned_name(),
                M(syntax, src, off)
            )
        }
        Instruction::LoadSx {
            size,
            dst,
            src,
            off,
        } => write!(
            out,
            "{dst} = *({} *){}",
            size.signed_name(),
            M(syntax, src, off)
        ),
        Instruction::Store {
            size,
            dst,
            off,
            imm,
        } => write!(
            out,
            "*({} *){} = {imm}",
            size.unsigned_name(),
            M(syntax, dst, off)
        ),
        Instruction::StoreX {
            size,
            dst,
            src,
            off,
        } => {
            let w = data_reg_width(syntax, size);
            write!(
                out,
                "*({} *){} = {}",
                size.unsigned_name(),
                M(syntax, dst, off),
                src.name(w)
            )
        }
        Instruction::Atomic {
            size,
            op,
            dst,
            src,
            off,
        } => {
            let w = if !k && size == Size::W {
                Width::W32
            } else {
                Width::W64
            };
            let ty = size.unsigned_name();
            let mem = M(syntax, dst, off);
            let s = src.name(w);
            let r0 = Reg::R0.name(w);
            let a64 = if size == Size::DW { "64" } else { "" };
            match (op, k) {
                (AtomicOp::Add | AtomicOp::Or | AtomicOp::And | AtomicOp::Xor, _) => {
                    let sym = match op {
                        AtomicOp::Add => "+=",
                        AtomicOp::Or => "|=",
                        AtomicOp::And => "&=",
                        _ => "^=",
                    };
                    write!(out, "lock *({ty} *){mem} {sym} {s}")
                }
                (AtomicOp::Xchg, true) => write!(out, "{s} = atomic{a64}_xchg(({ty} *){mem}, {s})"),
                (AtomicOp::CmpXchg, true) => {
                    write!(out, "{r0} = atomic{a64}_cmpxchg(({ty} *){mem}, {r0}, {s})")
                }
                (AtomicOp::Xchg, false) | (AtomicOp::CmpXchg, false) => {
                    let name = match (op, size) {
                        (AtomicOp::Xchg, Size::DW) => "xchg_64",
                        (AtomicOp::Xchg, _) => "xchg32_32",
                        (_, Size::DW) => "cmpxchg_64",
                        _ => "cmpxchg32_32",
                    };
                    let bare = match off {
                        o if o < 0 => format!("{dst} - {}", -(o as i32)),
                        o => format!("{dst} + {o}"),
                    };
                    if op == AtomicOp::Xchg {
                        write!(out, "{s} = {name}({bare}, {s})")
                    } else {
                        write!(out, "{r0} = {name}({bare}, {r0}, {s})")
                    }
                }
                (_, _) => {
                    let name = op.arith_name().unwrap_or("add");
                    let prefix = if k {
                        format!("atomic{a64}")
                    } else {
                        "atomic".to_string()
                    };
                    write!(out, "{s} = {prefix}_fetch_{name}(({ty} *){mem}, {s})")
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::{assemble, AsmOptions};

    fn k(src: &str) -> String {
        let p = assemble(src, &AsmOptions::default()).expect("assembles");
        let o = DisasmOptions {
            labels: false,
            ..Default::default()
        };
        disassemble(&p.to_bytes(), &o).expect("decodes")
    }

    #[test]
    fn kernel_syntax_matches_verifier_text() {
        assert_eq!(k("r0 = *(u32 *)(r1 + 76)"), "r0 = *(u32 *)(r1 +76)\n");
        assert_eq!(k("if r1 > 3 goto +3"), "if r1 > 0x3 goto pc+3\n");
        assert_eq!(k("call 23"), "call bpf_redirect#23\n");
        assert_eq!(k("call 999"), "call unknown#999\n");
        assert_eq!(k("*(u64 *)(r10 - 8) = r1"), "*(u64 *)(r10 -8) = r1\n");
        assert_eq!(
            k("r2 = atomic_fetch_add((u64 *)(r1 + 8), r2)"),
            "r2 = atomic64_fetch_add((u64 *)(r1 +8), r2)\n"
        );
        assert_eq!(
            k("r1 = 0x6863726174736e69 ll"),
            "r1 = 0x6863726174736e69 ll\n"
        );
    }

    #[test]
    fn labels_and_prefixes() {
        let p = assemble(
            "if r1 == 0 goto out\nr0 = 1\nout:\nexit\n",
            &AsmOptions::default(),
        )
        .expect("assembles");
        let text = disassemble(&p.to_bytes(), &DisasmOptions::default()).expect("decodes");
        assert_eq!(text, "\tif r1 == 0x0 goto L2\n\tr0 = 1\nL2:\n\texit\n");
        let o = DisasmOptions {
            slot_numbers: true,
            labels: false,
            ..Default::default()
        };
        assert_eq!(
            disassemble(&p.to_bytes(), &o).expect("decodes"),
            "0: (15) if r1 == 0x0 goto pc+1\n1: (b7) r0 = 1\n2: (95) exit\n"
        );
        let o = DisasmOptions {
            bytes: true,
            labels: false,
            syntax: Syntax::Llvm,
            ..Default::default()
        };
        assert!(disassemble(&p.to_bytes(), &o)
            .expect("decodes")
            .starts_with("     0:\t15 01 01 00 00 00 00 00\tif r1 == 0 goto +1\n"));
    }

    #[test]
    fn bytes_column_matches_the_format_strings() {
        let lddw = [
            Insn::from_bytes([0x18, 0x01, 0, 0, 0xef, 0xbe, 0xad, 0xde]),
            Insn::from_bytes([0, 0, 0, 0, 0x0f, 0xf0, 0x9a, 0xa9]),
        ];
        for at in [0, 7, 12, 99_999, 123_456, 1_234_567, usize::MAX] {
            for n in 1..=2 {
                let mut s = Vec::new();
                push_bytes_column(&mut s, at, &lddw[..n]);
                let s = String::from_utf8(s).expect("ASCII");
                let hex: Vec<String> = lddw[..n]
                    .iter()
                    .flat_map(|i| i.to_bytes())
                    .map(|b| format!("{b:02x}"))
                    .collect();
                assert_eq!(s, format!("{at:>6}:\t{}\t", hex.join(" ")));
            }
        }
    }

    #[test]
    fn undecodable_slots_are_listed_as_raw_data_and_the_listing_goes_on() {
        let text = disassemble(
            &[
                0xff, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0, 0x18, 1, 0, 0, 0, 0, 0, 0,
            ],
            &Default::default(),
        )
        .expect("lists");
        assert_eq!(
            text,
            "\t.8byte 0x00000000000000ff\t# <unknown>: unknown opcode 0xff\n\texit\n\t.8byte 0x0000000000000118\t# <unknown>: truncated lddw: the second slot is missing\n"
        );
        // The listing assembles back to the same bytes.
        let p = crate::assemble(&text, &Default::default()).expect("reassembles");
        assert_eq!(p.to_bytes()[..8], [0xff, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(p.insns().len(), 3);
        // Only a partial slot is an error: there is no slot to list.
        let e = disassemble(&[0x95, 0, 0], &Default::default()).unwrap_err();
        assert_eq!(e.reason, DecodeReason::TrailingBytes(3));
    }
}
