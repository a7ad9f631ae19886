//! Encoding a typed [`Instruction`] into raw slots and decoding slots back.
//!
//! The rules follow RFC 9669 (sections 3-5) and the checks the kernel's
//! verifier makes on reserved fields (`kernel/bpf/verifier.c`,
//! `check_alu_op`/`do_check`): a field the ISA does not use must be zero.
//! Because decoding rejects such slots, `encode(decode(x)) == x` for every
//! slot sequence `decode` accepts, and `decode(encode(i)) == i` for every
//! instruction.

use crate::insn::*;
use crate::opcode::*;
use std::fmt;

/// Why a slot sequence is not a valid instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeReason {
    /// The opcode byte names no instruction.
    UnknownOpcode(u8),
    /// A register field is 11..15.
    BadRegister { field: &'static str, value: u8 },
    /// A field the instruction does not use is not zero.
    ReservedNonZero { field: &'static str, value: i64 },
    /// An `imm`/`off` value outside the allowed set (e.g. `be24`).
    BadValue { field: &'static str, value: i64 },
    /// lddw is the last slot of the input.
    TruncatedLddw,
    /// The second slot of lddw has a non-zero code/dst/src/off.
    BadLddwSecondSlot,
    /// The input is not a multiple of 8 bytes.
    TrailingBytes(usize),
    /// There is no slot to decode.
    Empty,
}

/// A decode failure, naming the slot (8-byte index) and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    pub slot: usize,
    pub reason: DecodeReason,
}

impl fmt::Display for DecodeReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeReason::UnknownOpcode(c) => write!(f, "unknown opcode 0x{c:02x}"),
            DecodeReason::BadRegister { field, value } => {
                write!(f, "{field} register r{value} does not exist (r0..r10)")
            }
            DecodeReason::ReservedNonZero { field, value } => {
                write!(f, "reserved field {field} must be 0, is {value}")
            }
            DecodeReason::BadValue { field, value } => {
                write!(f, "{field} value {value} is not allowed here")
            }
            DecodeReason::TruncatedLddw => {
                write!(f, "truncated lddw: the second slot is missing")
            }
            DecodeReason::BadLddwSecondSlot => write!(
                f,
                "second slot of lddw must have code, dst, src and off zero"
            ),
            DecodeReason::Empty => write!(f, "no instruction: the input is empty"),
            DecodeReason::TrailingBytes(n) => {
                write!(f, "{n} trailing bytes: input is not a multiple of 8")
            }
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "slot {}: {}", self.slot, self.reason)
    }
}

impl std::error::Error for DecodeError {}

/// The encoded slots of one instruction (one, or two for lddw).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Encoded {
    pub slots: [Insn; 2],
    pub len: usize,
}

impl Encoded {
    pub fn as_slice(&self) -> &[Insn] {
        &self.slots[..self.len]
    }
}

fn one(i: Insn) -> Encoded {
    Encoded {
        slots: [i, Insn::default()],
        len: 1,
    }
}

fn class_alu(w: Width) -> u8 {
    match w {
        Width::W32 => BPF_ALU,
        Width::W64 => BPF_ALU64,
    }
}

fn class_jmp(w: Width) -> u8 {
    match w {
        Width::W32 => BPF_JMP32,
        Width::W64 => BPF_JMP,
    }
}

/// Encode one instruction. Infallible: every [`Instruction`] value whose
/// invariants hold (see [`Instruction`]) has an encoding; values outside the
/// ISA (e.g. `bits: 24`) are still written as-is and `decode` rejects them.
pub fn encode(ins: &Instruction) -> Encoded {
    match *ins {
        Instruction::Alu {
            width,
            op,
            dst,
            src,
        } => {
            let (code, off) = op.code_and_off();
            let (s, sreg, imm) = match src {
                Source::Reg(r) => (BPF_X, r.num(), 0),
                Source::Imm(i) => (BPF_K, 0, i),
            };
            one(Insn::new(
                class_alu(width) | code | s,
                dst.num(),
                sreg,
                off,
                imm,
            ))
        }
        Instruction::Neg { width, dst } => {
            one(Insn::new(class_alu(width) | BPF_NEG, dst.num(), 0, 0, 0))
        }
        Instruction::MovSx {
            width,
            dst,
            src,
            bits,
        } => one(Insn::new(
            class_alu(width) | BPF_MOV | BPF_X,
            dst.num(),
            src.num(),
            bits as i16,
            0,
        )),
        Instruction::Endian { order, dst, bits } => {
            let code = match order {
                ByteOrder::ToLe => BPF_ALU | BPF_END | BPF_TO_LE,
                ByteOrder::ToBe => BPF_ALU | BPF_END | BPF_TO_BE,
                ByteOrder::Swap => BPF_ALU64 | BPF_END | BPF_TO_LE,
            };
            one(Insn::new(code, dst.num(), 0, 0, bits as i32))
        }
        Instruction::Ja { off } => one(Insn::new(BPF_JMP | BPF_JA, 0, 0, off, 0)),
        Instruction::JaLong { imm } => one(Insn::new(BPF_JMP32 | BPF_JA, 0, 0, 0, imm)),
        Instruction::MayGoto { off } => {
            one(Insn::new(BPF_JMP | BPF_JCOND, 0, BPF_MAY_GOTO, off, 0))
        }
        Instruction::Jump {
            width,
            cond,
            dst,
            src,
            off,
        } => {
            let (s, sreg, imm) = match src {
                Source::Reg(r) => (BPF_X, r.num(), 0),
                Source::Imm(i) => (BPF_K, 0, i),
            };
            one(Insn::new(
                class_jmp(width) | cond.code() | s,
                dst.num(),
                sreg,
                off,
                imm,
            ))
        }
        Instruction::Call(kind) => {
            let (src, off, imm) = match kind {
                CallKind::Helper(id) => (0, 0, id),
                CallKind::Local(rel) => (BPF_PSEUDO_CALL, 0, rel),
                CallKind::Kfunc { btf_id, off } => (BPF_PSEUDO_KFUNC_CALL, off, btf_id),
            };
            one(Insn::new(BPF_JMP | BPF_CALL, 0, src, off, imm))
        }
        Instruction::CallX { dst } => {
            one(Insn::new(BPF_JMP | BPF_CALL | BPF_X, dst.num(), 0, 0, 0))
        }
        Instruction::Exit => one(Insn::new(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)),
        Instruction::LdImm64 { dst, pseudo, imm } => Encoded {
            slots: [
                Insn::new(
                    BPF_LD | BPF_DW | BPF_IMM,
                    dst.num(),
                    pseudo.src(),
                    0,
                    imm as i32,
                ),
                Insn::new(0, 0, 0, 0, (imm >> 32) as i32),
            ],
            len: 2,
        },
        Instruction::LdAbs { size, imm } => {
            one(Insn::new(BPF_LD | BPF_ABS | size.code(), 0, 0, 0, imm))
        }
        Instruction::LdInd { size, src, imm } => one(Insn::new(
            BPF_LD | BPF_IND | size.code(),
            0,
            src.num(),
            0,
            imm,
        )),
        Instruction::Load {
            size,
            dst,
            src,
            off,
        } => one(Insn::new(
            BPF_LDX | BPF_MEM | size.code(),
            dst.num(),
            src.num(),
            off,
            0,
        )),
        Instruction::LoadSx {
            size,
            dst,
            src,
            off,
        } => one(Insn::new(
            BPF_LDX | BPF_MEMSX | size.code(),
            dst.num(),
            src.num(),
            off,
            0,
        )),
        Instruction::Store {
            size,
            dst,
            off,
            imm,
        } => one(Insn::new(
            BPF_ST | BPF_MEM | size.code(),
            dst.num(),
            0,
            off,
            imm,
        )),
        Instruction::StoreX {
            size,
            dst,
            src,
            off,
        } => one(Insn::new(
            BPF_STX | BPF_MEM | size.code(),
            dst.num(),
            src.num(),
            off,
            0,
        )),
        Instruction::Atomic {
            size,
            op,
            dst,
            src,
            off,
        } => one(Insn::new(
            BPF_STX | BPF_ATOMIC | size.code(),
            dst.num(),
            src.num(),
            off,
            op.imm(),
        )),
    }
}

fn reg(field: &'static str, v: u8) -> Result<Reg, DecodeReason> {
    Reg::new(v).ok_or(DecodeReason::BadRegister { field, value: v })
}

fn zero(field: &'static str, v: i64) -> Result<(), DecodeReason> {
    if v == 0 {
        Ok(())
    } else {
        Err(DecodeReason::ReservedNonZero { field, value: v })
    }
}

/// Decode the instruction starting at `slots[0]`. Returns it and how many
/// slots it used (1 or 2). `slot` in the error is relative to `slots`.
pub fn decode(slots: &[Insn]) -> Result<(Instruction, usize), DecodeError> {
    let Some(&i) = slots.first() else {
        return Err(DecodeError {
            slot: 0,
            reason: DecodeReason::Empty,
        });
    };
    if i.code == BPF_LD | BPF_DW | BPF_IMM {
        let ins = decode_lddw(i, slots.get(1).copied())
            .map_err(|(slot, reason)| DecodeError { slot, reason })?;
        return Ok((ins, 2));
    }
    decode_one(i)
        .map(|ins| (ins, 1))
        .map_err(|reason| DecodeError { slot: 0, reason })
}

fn decode_lddw(i: Insn, next: Option<Insn>) -> Result<Instruction, (usize, DecodeReason)> {
    let dst = reg("dst", i.dst).map_err(|r| (0, r))?;
    let pseudo = LdPseudo::from_src(i.src).ok_or((
        0,
        DecodeReason::BadValue {
            field: "src (lddw pseudo source)",
            value: i.src as i64,
        },
    ))?;
    zero("off", i.off as i64).map_err(|r| (0, r))?;
    let n = next.ok_or((0, DecodeReason::TruncatedLddw))?;
    if n.code != 0 || n.dst != 0 || n.src != 0 || n.off != 0 {
        return Err((1, DecodeReason::BadLddwSecondSlot));
    }
    let imm = ((n.imm as i64) << 32) | (i.imm as u32 as i64);
    Ok(Instruction::LdImm64 { dst, pseudo, imm })
}

/// Decode a single-slot instruction (anything but lddw).
pub fn decode_one(i: Insn) -> Result<Instruction, DecodeReason> {
    let unknown = || DecodeReason::UnknownOpcode(i.code);
    match bpf_class(i.code) {
        BPF_ALU | BPF_ALU64 => decode_alu(i),
        BPF_JMP | BPF_JMP32 => decode_jmp(i),
        BPF_LD => {
            let size = Size::from_code(i.code);
            if size == Size::DW {
                return Err(unknown());
            }
            zero("dst", i.dst as i64)?;
            zero("off", i.off as i64)?;
            match bpf_mode(i.code) {
                BPF_ABS => {
                    zero("src", i.src as i64)?;
                    Ok(Instruction::LdAbs { size, imm: i.imm })
                }
                BPF_IND => Ok(Instruction::LdInd {
                    size,
                    src: reg("src", i.src)?,
                    imm: i.imm,
                }),
                _ => Err(unknown()),
            }
        }
        BPF_LDX => {
            let size = Size::from_code(i.code);
            let (dst, src) = (reg("dst", i.dst)?, reg("src", i.src)?);
            zero("imm", i.imm as i64)?;
            match bpf_mode(i.code) {
                BPF_MEM => Ok(Instruction::Load {
                    size,
                    dst,
                    src,
                    off: i.off,
                }),
                BPF_MEMSX if size != Size::DW => Ok(Instruction::LoadSx {
                    size,
                    dst,
                    src,
                    off: i.off,
                }),
                _ => Err(unknown()),
            }
        }
        BPF_ST => {
            if bpf_mode(i.code) != BPF_MEM {
                return Err(unknown());
            }
            let dst = reg("dst", i.dst)?;
            zero("src", i.src as i64)?;
            Ok(Instruction::Store {
                size: Size::from_code(i.code),
                dst,
                off: i.off,
                imm: i.imm,
            })
        }
        _ => {
            // BPF_STX
            let size = Size::from_code(i.code);
            let (dst, src) = (reg("dst", i.dst)?, reg("src", i.src)?);
            match bpf_mode(i.code) {
                BPF_MEM => {
                    zero("imm", i.imm as i64)?;
                    Ok(Instruction::StoreX {
                        size,
                        dst,
                        src,
                        off: i.off,
                    })
                }
                BPF_ATOMIC if matches!(size, Size::W | Size::DW) => {
                    let op = AtomicOp::from_imm(i.imm).ok_or(DecodeReason::BadValue {
                        field: "imm (atomic operation)",
                        value: i.imm as i64,
                    })?;
                    Ok(Instruction::Atomic {
                        size,
                        op,
                        dst,
                        src,
                        off: i.off,
                    })
                }
                _ => Err(unknown()),
            }
        }
    }
}

fn decode_alu(i: Insn) -> Result<Instruction, DecodeReason> {
    let width = if bpf_class(i.code) == BPF_ALU64 {
        Width::W64
    } else {
        Width::W32
    };
    let dst = reg("dst", i.dst)?;
    let op = bpf_op(i.code);
    let x = bpf_src(i.code) == BPF_X;
    match op {
        BPF_NEG => {
            if x {
                return Err(DecodeReason::UnknownOpcode(i.code));
            }
            zero("src", i.src as i64)?;
            zero("off", i.off as i64)?;
            zero("imm", i.imm as i64)?;
            Ok(Instruction::Neg { width, dst })
        }
        BPF_END => {
            zero("src", i.src as i64)?;
            zero("off", i.off as i64)?;
            let order = match (width, x) {
                (Width::W32, false) => ByteOrder::ToLe,
                (Width::W32, true) => ByteOrder::ToBe,
                (Width::W64, false) => ByteOrder::Swap,
                (Width::W64, true) => return Err(DecodeReason::UnknownOpcode(i.code)),
            };
            if !matches!(i.imm, 16 | 32 | 64) {
                return Err(DecodeReason::BadValue {
                    field: "imm (byte-swap width)",
                    value: i.imm as i64,
                });
            }
            Ok(Instruction::Endian {
                order,
                dst,
                bits: i.imm as u8,
            })
        }
        BPF_MOV if x && i.off != 0 => {
            let ok = match width {
                Width::W32 => matches!(i.off, 8 | 16),
                Width::W64 => matches!(i.off, 8 | 16 | 32),
            };
            if !ok {
                return Err(DecodeReason::BadValue {
                    field: "off (movsx width)",
                    value: i.off as i64,
                });
            }
            zero("imm", i.imm as i64)?;
            Ok(Instruction::MovSx {
                width,
                dst,
                src: reg("src", i.src)?,
                bits: i.off as u8,
            })
        }
        _ => {
            let aop = match (op, i.off) {
                (BPF_ADD, 0) => AluOp::Add,
                (BPF_SUB, 0) => AluOp::Sub,
                (BPF_MUL, 0) => AluOp::Mul,
                (BPF_DIV, 0) => AluOp::Div,
                (BPF_DIV, 1) => AluOp::SDiv,
                (BPF_OR, 0) => AluOp::Or,
                (BPF_AND, 0) => AluOp::And,
                (BPF_LSH, 0) => AluOp::Lsh,
                (BPF_RSH, 0) => AluOp::Rsh,
                (BPF_MOD, 0) => AluOp::Mod,
                (BPF_MOD, 1) => AluOp::SMod,
                (BPF_XOR, 0) => AluOp::Xor,
                (BPF_MOV, 0) => AluOp::Mov,
                (BPF_ARSH, 0) => AluOp::Arsh,
                (BPF_DIV | BPF_MOD, off) => {
                    return Err(DecodeReason::BadValue {
                        field: "off (0 = unsigned, 1 = signed)",
                        value: off as i64,
                    })
                }
                (0xe0 | 0xf0, _) => return Err(DecodeReason::UnknownOpcode(i.code)),
                (_, off) => {
                    return Err(DecodeReason::ReservedNonZero {
                        field: "off",
                        value: off as i64,
                    })
                }
            };
            let src = if x {
                zero("imm", i.imm as i64)?;
                Source::Reg(reg("src", i.src)?)
            } else {
                zero("src", i.src as i64)?;
                Source::Imm(i.imm)
            };
            Ok(Instruction::Alu {
                width,
                op: aop,
                dst,
                src,
            })
        }
    }
}

fn decode_jmp(i: Insn) -> Result<Instruction, DecodeReason> {
    let jmp32 = bpf_class(i.code) == BPF_JMP32;
    let x = bpf_src(i.code) == BPF_X;
    let unknown = || DecodeReason::UnknownOpcode(i.code);
    match bpf_op(i.code) {
        BPF_JA => {
            if x {
                return Err(unknown());
            }
            zero("dst", i.dst as i64)?;
            zero("src", i.src as i64)?;
            if jmp32 {
                zero("off", i.off as i64)?;
                Ok(Instruction::JaLong { imm: i.imm })
            } else {
                zero("imm", i.imm as i64)?;
                Ok(Instruction::Ja { off: i.off })
            }
        }
        BPF_CALL if !jmp32 => {
            if x {
                zero("src", i.src as i64)?;
                zero("off", i.off as i64)?;
                zero("imm", i.imm as i64)?;
                return Ok(Instruction::CallX {
                    dst: reg("dst", i.dst)?,
                });
            }
            zero("dst", i.dst as i64)?;
            let kind = match i.src {
                0 => CallKind::Helper(i.imm),
                BPF_PSEUDO_CALL => CallKind::Local(i.imm),
                BPF_PSEUDO_KFUNC_CALL => CallKind::Kfunc {
                    btf_id: i.imm,
                    off: i.off,
                },
                s => {
                    return Err(DecodeReason::BadValue {
                        field: "src (call kind)",
                        value: s as i64,
                    })
                }
            };
            if i.src != BPF_PSEUDO_KFUNC_CALL {
                zero("off", i.off as i64)?;
            }
            Ok(Instruction::Call(kind))
        }
        BPF_EXIT if !jmp32 && !x => {
            zero("dst", i.dst as i64)?;
            zero("src", i.src as i64)?;
            zero("off", i.off as i64)?;
            zero("imm", i.imm as i64)?;
            Ok(Instruction::Exit)
        }
        BPF_JCOND if !jmp32 && !x => {
            zero("dst", i.dst as i64)?;
            zero("imm", i.imm as i64)?;
            if i.src != BPF_MAY_GOTO {
                return Err(DecodeReason::BadValue {
                    field: "src (pseudo jump condition)",
                    value: i.src as i64,
                });
            }
            Ok(Instruction::MayGoto { off: i.off })
        }
        op => {
            let cond = JmpCond::from_code(op).ok_or_else(unknown)?;
            let dst = reg("dst", i.dst)?;
            let src = if x {
                zero("imm", i.imm as i64)?;
                Source::Reg(reg("src", i.src)?)
            } else {
                zero("src", i.src as i64)?;
                Source::Imm(i.imm)
            };
            Ok(Instruction::Jump {
                width: if jmp32 { Width::W32 } else { Width::W64 },
                cond,
                dst,
                src,
                off: i.off,
            })
        }
    }
}

/// Decode a whole byte string into instructions with their slot index.
/// A trailing partial slot is an error, as in [`crate::disasm::slots_of`].
pub fn decode_bytes(bytes: &[u8]) -> Result<Vec<(usize, Instruction)>, DecodeError> {
    decode_slots(&crate::disasm::slots_of(bytes)?)
}

/// Decode slots into instructions, each with the slot it starts at (lddw
/// takes two). The one walk every listing and check uses: an error names
/// the slot in `slots`, not in the instruction that failed.
pub fn decode_slots(slots: &[Insn]) -> Result<Vec<(usize, Instruction)>, DecodeError> {
    let mut out = Vec::with_capacity(slots.len());
    let mut at = 0;
    while at < slots.len() {
        let (ins, used) = decode(&slots[at..]).map_err(|e| DecodeError {
            slot: at + e.slot,
            reason: e.reason,
        })?;
        out.push((at, ins));
        at += used;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt(ins: Instruction) {
        let e = encode(&ins);
        let (back, used) = decode(e.as_slice()).expect("decodes");
        assert_eq!(back, ins);
        assert_eq!(used, e.len);
    }

    #[test]
    fn known_encodings() {
        let e = encode(&Instruction::Call(CallKind::Helper(23)));
        assert_eq!(e.slots[0].to_bytes(), [0x85, 0, 0, 0, 23, 0, 0, 0]);
        let e = encode(&Instruction::Endian {
            order: ByteOrder::Swap,
            dst: Reg::R1,
            bits: 16,
        });
        assert_eq!(e.slots[0].to_bytes(), [0xd7, 1, 0, 0, 16, 0, 0, 0]);
        let e = encode(&Instruction::LdImm64 {
            dst: Reg::R1,
            pseudo: LdPseudo::Imm64,
            imm: 1 << 32,
        });
        assert_eq!(e.len, 2);
        assert_eq!(e.slots[1].imm, 1);
    }

    #[test]
    fn rejects_reserved_and_truncated() {
        let add_with_off = Insn::new(BPF_ALU64 | BPF_ADD | BPF_K, 1, 0, 5, 0);
        assert_eq!(
            decode(&[add_with_off]).unwrap_err().reason,
            DecodeReason::ReservedNonZero {
                field: "off",
                value: 5
            }
        );
        let lddw = Insn::new(BPF_LD | BPF_DW | BPF_IMM, 1, 0, 0, 0);
        assert_eq!(
            decode(&[lddw]).unwrap_err().reason,
            DecodeReason::TruncatedLddw
        );
        let e = decode_bytes(&[0x95, 0, 0, 0, 0, 0, 0, 0, 0x18, 1, 0, 0, 0, 0, 0, 0]).unwrap_err();
        assert_eq!(e.slot, 1);
        assert_eq!(decode(&[Insn::new(0x95, 11, 0, 0, 0)]).unwrap_err().slot, 0);
    }

    #[test]
    fn roundtrip_samples() {
        rt(Instruction::MovSx {
            width: Width::W32,
            dst: Reg::R1,
            src: Reg::R2,
            bits: 8,
        });
        rt(Instruction::Call(CallKind::Kfunc { btf_id: 7, off: 2 }));
        rt(Instruction::LdImm64 {
            dst: Reg::R9,
            pseudo: LdPseudo::MapValue,
            imm: -5,
        });
    }
}
