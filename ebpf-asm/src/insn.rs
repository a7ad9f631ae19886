//! The two views of an instruction: the raw 8-byte slot ([`Insn`], laid out
//! like the kernel's `struct bpf_insn` in `include/uapi/linux/bpf.h`) and the
//! decoded, typed [`Instruction`] whose variants follow the groups of RFC 9669
//! section 4 and 5. [`mod@crate::encode`] converts between them.

use crate::opcode::*;
use std::fmt;

/// One 8-byte instruction slot, exactly `struct bpf_insn`:
///
/// ```text
/// struct bpf_insn { __u8 code; __u8 dst_reg:4; __u8 src_reg:4; __s16 off; __s32 imm; };
/// ```
///
/// On a little-endian target (bpfel) `dst_reg` is the low nibble of byte 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Insn {
    pub code: u8,
    pub dst: u8,
    pub src: u8,
    pub off: i16,
    pub imm: i32,
}

impl Insn {
    /// Size of one slot in bytes; jump offsets count slots.
    pub const SIZE: usize = 8;

    pub const fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
        Insn {
            code,
            dst,
            src,
            off,
            imm,
        }
    }

    /// Little-endian (bpfel) bytes. `dst`/`src` are masked to their 4 bits.
    pub fn to_bytes(&self) -> [u8; 8] {
        let off = self.off.to_le_bytes();
        let imm = self.imm.to_le_bytes();
        [
            self.code,
            (self.dst & 0x0f) | (self.src << 4),
            off[0],
            off[1],
            imm[0],
            imm[1],
            imm[2],
            imm[3],
        ]
    }

    /// The inverse of [`Insn::to_bytes`] for every 8-byte input.
    pub fn from_bytes(b: [u8; 8]) -> Insn {
        Insn {
            code: b[0],
            dst: b[1] & 0x0f,
            src: b[1] >> 4,
            off: i16::from_le_bytes([b[2], b[3]]),
            imm: i32::from_le_bytes([b[4], b[5], b[6], b[7]]),
        }
    }
}

/// A register number 0..=10. `r10` is the read-only frame pointer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reg(u8);

impl Reg {
    pub const R0: Reg = Reg(0);
    pub const R1: Reg = Reg(1);
    pub const R2: Reg = Reg(2);
    pub const R3: Reg = Reg(3);
    pub const R4: Reg = Reg(4);
    pub const R5: Reg = Reg(5);
    pub const R6: Reg = Reg(6);
    pub const R7: Reg = Reg(7);
    pub const R8: Reg = Reg(8);
    pub const R9: Reg = Reg(9);
    /// The frame pointer.
    pub const R10: Reg = Reg(10);

    /// `Some` for 0..=10 (`MAX_BPF_REG` registers).
    pub const fn new(n: u8) -> Option<Reg> {
        if n < MAX_BPF_REG {
            Some(Reg(n))
        } else {
            None
        }
    }
    pub const fn num(self) -> u8 {
        self.0
    }

    /// The register's name at a width: `r3` (all 64 bits) or `w3` (the low
    /// 32). A table, because a listing prints two or three per line.
    pub fn name(self, width: Width) -> &'static str {
        const R: [&str; MAX_BPF_REG as usize] = [
            "r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10",
        ];
        const W: [&str; MAX_BPF_REG as usize] = [
            "w0", "w1", "w2", "w3", "w4", "w5", "w6", "w7", "w8", "w9", "w10",
        ];
        let names = match width {
            Width::W64 => &R,
            Width::W32 => &W,
        };
        names[usize::from(self.0)]
    }
}

/// Operand width of arithmetic and jumps: BPF_ALU/BPF_JMP32 (32) or BPF_ALU64/BPF_JMP (64).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Width {
    W32,
    W64,
}

impl Width {
    /// Register prefix in both syntaxes: `w` for 32-bit, `r` for 64-bit.
    pub fn reg_prefix(self) -> char {
        match self {
            Width::W32 => 'w',
            Width::W64 => 'r',
        }
    }
}

/// Memory access size (the BPF_SIZE field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Size {
    B,
    H,
    W,
    DW,
}

impl Size {
    pub fn code(self) -> u8 {
        match self {
            Size::B => BPF_B,
            Size::H => BPF_H,
            Size::W => BPF_W,
            Size::DW => BPF_DW,
        }
    }
    pub fn from_code(code: u8) -> Size {
        match bpf_size(code) {
            BPF_B => Size::B,
            BPF_H => Size::H,
            BPF_W => Size::W,
            _ => Size::DW,
        }
    }
    pub fn bytes(self) -> u32 {
        match self {
            Size::B => 1,
            Size::H => 2,
            Size::W => 4,
            Size::DW => 8,
        }
    }
    /// C type in `*(u32 *)`, as the kernel and LLVM print it.
    pub fn unsigned_name(self) -> &'static str {
        match self {
            Size::B => "u8",
            Size::H => "u16",
            Size::W => "u32",
            Size::DW => "u64",
        }
    }
    /// C type in `*(s32 *)` for sign-extending loads.
    pub fn signed_name(self) -> &'static str {
        match self {
            Size::B => "s8",
            Size::H => "s16",
            Size::W => "s32",
            Size::DW => "s64",
        }
    }
}

/// The second operand of arithmetic and conditional jumps: BPF_X or BPF_K.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    Reg(Reg),
    Imm(i32),
}

/// Two-operand arithmetic (RFC 9669 section 4.1), including the signed
/// division forms selected by `off == 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AluOp {
    Add,
    Sub,
    Mul,
    Div,
    SDiv,
    Or,
    And,
    Lsh,
    Rsh,
    Mod,
    SMod,
    Xor,
    Mov,
    Arsh,
}

impl AluOp {
    pub const ALL: [AluOp; 14] = [
        AluOp::Add,
        AluOp::Sub,
        AluOp::Mul,
        AluOp::Div,
        AluOp::SDiv,
        AluOp::Or,
        AluOp::And,
        AluOp::Lsh,
        AluOp::Rsh,
        AluOp::Mod,
        AluOp::SMod,
        AluOp::Xor,
        AluOp::Mov,
        AluOp::Arsh,
    ];
    /// (BPF_OP value, `off` value).
    pub fn code_and_off(self) -> (u8, i16) {
        match self {
            AluOp::Add => (BPF_ADD, 0),
            AluOp::Sub => (BPF_SUB, 0),
            AluOp::Mul => (BPF_MUL, 0),
            AluOp::Div => (BPF_DIV, 0),
            AluOp::SDiv => (BPF_DIV, 1),
            AluOp::Or => (BPF_OR, 0),
            AluOp::And => (BPF_AND, 0),
            AluOp::Lsh => (BPF_LSH, 0),
            AluOp::Rsh => (BPF_RSH, 0),
            AluOp::Mod => (BPF_MOD, 0),
            AluOp::SMod => (BPF_MOD, 1),
            AluOp::Xor => (BPF_XOR, 0),
            AluOp::Mov => (BPF_MOV, 0),
            AluOp::Arsh => (BPF_ARSH, 0),
        }
    }
    /// The compound-assignment operator both syntaxes print (`+=`, `s/=`, ...);
    /// `=` for mov.
    pub fn operator(self) -> &'static str {
        match self {
            AluOp::Add => "+=",
            AluOp::Sub => "-=",
            AluOp::Mul => "*=",
            AluOp::Div => "/=",
            AluOp::SDiv => "s/=",
            AluOp::Or => "|=",
            AluOp::And => "&=",
            AluOp::Lsh => "<<=",
            AluOp::Rsh => ">>=",
            AluOp::Mod => "%=",
            AluOp::SMod => "s%=",
            AluOp::Xor => "^=",
            AluOp::Mov => "=",
            AluOp::Arsh => "s>>=",
        }
    }
}

/// Byte-order operations (RFC 9669 section 4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ByteOrder {
    /// BPF_ALU | BPF_END | BPF_TO_LE: `le16/32/64` (no-op on bpfel, truncates).
    ToLe,
    /// BPF_ALU | BPF_END | BPF_TO_BE: `be16/32/64`.
    ToBe,
    /// BPF_ALU64 | BPF_END | BPF_TO_LE: unconditional `bswap16/32/64` (v4).
    Swap,
}

/// Conditions of BPF_JMP/BPF_JMP32 (RFC 9669 section 4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JmpCond {
    Eq,
    Gt,
    Ge,
    Set,
    Ne,
    SGt,
    SGe,
    Lt,
    Le,
    SLt,
    SLe,
}

impl JmpCond {
    pub const ALL: [JmpCond; 11] = [
        JmpCond::Eq,
        JmpCond::Gt,
        JmpCond::Ge,
        JmpCond::Set,
        JmpCond::Ne,
        JmpCond::SGt,
        JmpCond::SGe,
        JmpCond::Lt,
        JmpCond::Le,
        JmpCond::SLt,
        JmpCond::SLe,
    ];
    pub fn code(self) -> u8 {
        match self {
            JmpCond::Eq => BPF_JEQ,
            JmpCond::Gt => BPF_JGT,
            JmpCond::Ge => BPF_JGE,
            JmpCond::Set => BPF_JSET,
            JmpCond::Ne => BPF_JNE,
            JmpCond::SGt => BPF_JSGT,
            JmpCond::SGe => BPF_JSGE,
            JmpCond::Lt => BPF_JLT,
            JmpCond::Le => BPF_JLE,
            JmpCond::SLt => BPF_JSLT,
            JmpCond::SLe => BPF_JSLE,
        }
    }
    pub fn from_code(op: u8) -> Option<JmpCond> {
        Some(match op {
            BPF_JEQ => JmpCond::Eq,
            BPF_JGT => JmpCond::Gt,
            BPF_JGE => JmpCond::Ge,
            BPF_JSET => JmpCond::Set,
            BPF_JNE => JmpCond::Ne,
            BPF_JSGT => JmpCond::SGt,
            BPF_JSGE => JmpCond::SGe,
            BPF_JLT => JmpCond::Lt,
            BPF_JLE => JmpCond::Le,
            BPF_JSLT => JmpCond::SLt,
            BPF_JSLE => JmpCond::SLe,
            _ => return None,
        })
    }
    /// The comparison operator both syntaxes print.
    pub fn operator(self) -> &'static str {
        match self {
            JmpCond::Eq => "==",
            JmpCond::Gt => ">",
            JmpCond::Ge => ">=",
            JmpCond::Set => "&",
            JmpCond::Ne => "!=",
            JmpCond::SGt => "s>",
            JmpCond::SGe => "s>=",
            JmpCond::Lt => "<",
            JmpCond::Le => "<=",
            JmpCond::SLt => "s<",
            JmpCond::SLe => "s<=",
        }
    }
}

/// Atomic operations (RFC 9669 section 5.3), the `imm` of BPF_STX | BPF_ATOMIC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AtomicOp {
    Add,
    Or,
    And,
    Xor,
    FetchAdd,
    FetchOr,
    FetchAnd,
    FetchXor,
    Xchg,
    CmpXchg,
}

impl AtomicOp {
    pub const ALL: [AtomicOp; 10] = [
        AtomicOp::Add,
        AtomicOp::Or,
        AtomicOp::And,
        AtomicOp::Xor,
        AtomicOp::FetchAdd,
        AtomicOp::FetchOr,
        AtomicOp::FetchAnd,
        AtomicOp::FetchXor,
        AtomicOp::Xchg,
        AtomicOp::CmpXchg,
    ];
    pub fn imm(self) -> i32 {
        match self {
            AtomicOp::Add => BPF_ADD as i32,
            AtomicOp::Or => BPF_OR as i32,
            AtomicOp::And => BPF_AND as i32,
            AtomicOp::Xor => BPF_XOR as i32,
            AtomicOp::FetchAdd => BPF_ADD as i32 | BPF_FETCH,
            AtomicOp::FetchOr => BPF_OR as i32 | BPF_FETCH,
            AtomicOp::FetchAnd => BPF_AND as i32 | BPF_FETCH,
            AtomicOp::FetchXor => BPF_XOR as i32 | BPF_FETCH,
            AtomicOp::Xchg => BPF_XCHG,
            AtomicOp::CmpXchg => BPF_CMPXCHG,
        }
    }
    pub fn from_imm(imm: i32) -> Option<AtomicOp> {
        AtomicOp::ALL.into_iter().find(|op| op.imm() == imm)
    }
    /// The underlying arithmetic name (`add`, `or`, ...) for the fetch and
    /// non-fetch forms; `None` for xchg/cmpxchg.
    pub fn arith_name(self) -> Option<&'static str> {
        match self {
            AtomicOp::Add | AtomicOp::FetchAdd => Some("add"),
            AtomicOp::Or | AtomicOp::FetchOr => Some("or"),
            AtomicOp::And | AtomicOp::FetchAnd => Some("and"),
            AtomicOp::Xor | AtomicOp::FetchXor => Some("xor"),
            _ => None,
        }
    }
    pub fn is_fetch(self) -> bool {
        self.imm() & BPF_FETCH != 0
    }
}

/// What the 64-bit immediate of lddw means: its `src_reg` (bpf.h `BPF_PSEUDO_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LdPseudo {
    /// Plain 64-bit constant (src 0).
    Imm64,
    MapFd,
    MapValue,
    BtfId,
    Func,
    MapIdx,
    MapIdxValue,
}

impl LdPseudo {
    pub const ALL: [LdPseudo; 7] = [
        LdPseudo::Imm64,
        LdPseudo::MapFd,
        LdPseudo::MapValue,
        LdPseudo::BtfId,
        LdPseudo::Func,
        LdPseudo::MapIdx,
        LdPseudo::MapIdxValue,
    ];
    pub fn src(self) -> u8 {
        match self {
            LdPseudo::Imm64 => 0,
            LdPseudo::MapFd => BPF_PSEUDO_MAP_FD,
            LdPseudo::MapValue => BPF_PSEUDO_MAP_VALUE,
            LdPseudo::BtfId => BPF_PSEUDO_BTF_ID,
            LdPseudo::Func => BPF_PSEUDO_FUNC,
            LdPseudo::MapIdx => BPF_PSEUDO_MAP_IDX,
            LdPseudo::MapIdxValue => BPF_PSEUDO_MAP_IDX_VALUE,
        }
    }
    pub fn from_src(src: u8) -> Option<LdPseudo> {
        LdPseudo::ALL.into_iter().find(|p| p.src() == src)
    }
}

/// The three kinds of `call` (bpf.h `BPF_PSEUDO_CALL`, `BPF_PSEUDO_KFUNC_CALL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallKind {
    /// A kernel helper by its static id (`imm`), src 0.
    Helper(i32),
    /// A BPF function in this program, `imm` slots after the next instruction.
    Local(i32),
    /// A kernel function by BTF id; `off` is the `fd_array` index of its BTF
    /// object (0 = vmlinux).
    Kfunc { btf_id: i32, off: i16 },
}

/// A decoded instruction. Every variant maps to exactly one encoding and back
/// ([`mod@crate::encode`]); fields the ISA reserves are zero and not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Instruction {
    /// `dst op= src` (BPF_ALU / BPF_ALU64 with BPF_K or BPF_X).
    Alu {
        width: Width,
        op: AluOp,
        dst: Reg,
        src: Source,
    },
    /// `dst = -dst`.
    Neg {
        width: Width,
        dst: Reg,
    },
    /// Sign-extending move `dst = (s8)src` (BPF_MOV | BPF_X with off 8/16/32).
    MovSx {
        width: Width,
        dst: Reg,
        src: Reg,
        bits: u8,
    },
    /// `dst = be16 dst`, `dst = le32 dst`, `dst = bswap64 dst`.
    Endian {
        order: ByteOrder,
        dst: Reg,
        bits: u8,
    },
    /// `goto +off` (BPF_JMP | BPF_JA).
    Ja {
        off: i16,
    },
    /// `gotol +imm` (BPF_JMP32 | BPF_JA, v4).
    JaLong {
        imm: i32,
    },
    /// `may_goto +off` (BPF_JMP | BPF_JCOND, src BPF_MAY_GOTO).
    MayGoto {
        off: i16,
    },
    /// `if dst cond src goto +off`.
    Jump {
        width: Width,
        cond: JmpCond,
        dst: Reg,
        src: Source,
        off: i16,
    },
    Call(CallKind),
    /// `callx dst`: call through a register (BPF_JMP | BPF_CALL | BPF_X, as LLVM encodes it).
    CallX {
        dst: Reg,
    },
    Exit,
    /// lddw, two slots: `dst = imm ll`, with the meaning given by `pseudo`.
    /// `imm` is the full 64 bits: low half in slot 1, high half in slot 2.
    LdImm64 {
        dst: Reg,
        pseudo: LdPseudo,
        imm: i64,
    },
    /// Legacy `r0 = *(u32 *)skb[imm]`.
    LdAbs {
        size: Size,
        imm: i32,
    },
    /// Legacy `r0 = *(u32 *)skb[src + imm]`.
    LdInd {
        size: Size,
        src: Reg,
        imm: i32,
    },
    /// `dst = *(size *)(src + off)`.
    Load {
        size: Size,
        dst: Reg,
        src: Reg,
        off: i16,
    },
    /// Sign-extending `dst = *(s8 *)(src + off)` (BPF_MEMSX, v4).
    LoadSx {
        size: Size,
        dst: Reg,
        src: Reg,
        off: i16,
    },
    /// `*(size *)(dst + off) = imm`.
    Store {
        size: Size,
        dst: Reg,
        off: i16,
        imm: i32,
    },
    /// `*(size *)(dst + off) = src`.
    StoreX {
        size: Size,
        dst: Reg,
        src: Reg,
        off: i16,
    },
    /// Atomic read-modify-write on `*(size *)(dst + off)`; size W or DW.
    Atomic {
        size: Size,
        op: AtomicOp,
        dst: Reg,
        src: Reg,
        off: i16,
    },
}

impl Instruction {
    /// Number of 8-byte slots: 2 for lddw, 1 otherwise.
    pub fn slots(&self) -> usize {
        match self {
            Instruction::LdImm64 { .. } => 2,
            _ => 1,
        }
    }

    /// The register this instruction writes, if any (for the r10 check).
    pub fn written_reg(&self) -> Option<Reg> {
        match *self {
            Instruction::Alu { dst, .. }
            | Instruction::Neg { dst, .. }
            | Instruction::MovSx { dst, .. }
            | Instruction::Endian { dst, .. }
            | Instruction::LdImm64 { dst, .. }
            | Instruction::Load { dst, .. }
            | Instruction::LoadSx { dst, .. } => Some(dst),
            Instruction::Atomic {
                op: AtomicOp::CmpXchg,
                ..
            } => Some(Reg::R0),
            Instruction::Atomic { op, src, .. } if op.is_fetch() => Some(src),
            _ => None,
        }
    }

    /// The relative jump offset in slots, for instructions that branch
    /// within the program (jumps and local calls).
    pub fn branch_offset(&self) -> Option<i64> {
        match *self {
            Instruction::Ja { off }
            | Instruction::MayGoto { off }
            | Instruction::Jump { off, .. } => Some(off as i64),
            Instruction::JaLong { imm } | Instruction::Call(CallKind::Local(imm)) => {
                Some(imm as i64)
            }
            _ => None,
        }
    }
}

impl fmt::Display for Reg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name(Width::W64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn register_names() {
        for n in 0..MAX_BPF_REG {
            let r = Reg::new(n).expect("a register");
            assert_eq!(r.name(Width::W64), format!("r{n}"));
            assert_eq!(r.name(Width::W32), format!("w{n}"));
            assert_eq!(r.to_string(), format!("r{n}"));
        }
    }

    #[test]
    fn bytes_roundtrip_and_layout() {
        let i = Insn::new(0xb7, 1, 0, 0, -1);
        assert_eq!(i.to_bytes(), [0xb7, 0x01, 0, 0, 0xff, 0xff, 0xff, 0xff]);
        let j = Insn::new(0x61, 2, 1, 76, 0);
        assert_eq!(j.to_bytes(), [0x61, 0x12, 76, 0, 0, 0, 0, 0]);
        assert_eq!(Insn::from_bytes(j.to_bytes()), j);
        for b in [[0u8; 8], [0xff; 8], [1, 0xab, 2, 3, 4, 5, 6, 7]] {
            assert_eq!(Insn::from_bytes(b).to_bytes(), b);
        }
    }

    #[test]
    fn reg_range() {
        assert_eq!(Reg::new(10), Some(Reg::R10));
        assert_eq!(Reg::new(11), None);
    }
}
