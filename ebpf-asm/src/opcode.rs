//! The opcode byte, split into its fields, with every constant named as in
//! the kernel's `include/uapi/linux/bpf.h` (and its base, `bpf_common.h`) and
//! RFC 9669 section 3 ("Instruction encoding").
//!
//! The 8-bit opcode is `class` (low 3 bits) plus two class-dependent fields:
//!
//! ```text
//!  arithmetic and jumps:  | op (4 bits) | source (1 bit) | class (3 bits) |
//!  loads and stores:      | mode (3 bits) | size (2 bits) | class (3 bits) |
//! ```
//!
//! Each constant is written once, here; every other module uses these names.

// ---- Instruction classes: BPF_CLASS(code), include/uapi/linux/bpf_common.h ----
/// Non-standard load (lddw, legacy packet loads).
pub const BPF_LD: u8 = 0x00;
/// Load from memory into a register.
pub const BPF_LDX: u8 = 0x01;
/// Store an immediate to memory.
pub const BPF_ST: u8 = 0x02;
/// Store a register to memory (and the atomics).
pub const BPF_STX: u8 = 0x03;
/// 32-bit arithmetic.
pub const BPF_ALU: u8 = 0x04;
/// 64-bit jumps, calls, exit.
pub const BPF_JMP: u8 = 0x05;
/// 32-bit jumps (compare the low halves).
pub const BPF_JMP32: u8 = 0x06;
/// 64-bit arithmetic.
pub const BPF_ALU64: u8 = 0x07;

// ---- Size: BPF_SIZE(code), include/uapi/linux/bpf_common.h and bpf.h ----
/// 4 bytes ("word").
pub const BPF_W: u8 = 0x00;
/// 2 bytes ("half word").
pub const BPF_H: u8 = 0x08;
/// 1 byte.
pub const BPF_B: u8 = 0x10;
/// 8 bytes ("double word"), from include/uapi/linux/bpf.h.
pub const BPF_DW: u8 = 0x18;

// ---- Mode: BPF_MODE(code), include/uapi/linux/bpf_common.h and bpf.h ----
/// 64-bit immediate (lddw), only with BPF_LD | BPF_DW.
pub const BPF_IMM: u8 = 0x00;
/// Legacy packet load at an absolute offset.
pub const BPF_ABS: u8 = 0x20;
/// Legacy packet load at a register-relative offset.
pub const BPF_IND: u8 = 0x40;
/// Regular memory access.
pub const BPF_MEM: u8 = 0x60;
/// Sign-extending load (bpf.h, v4 ISA).
pub const BPF_MEMSX: u8 = 0x80;
/// Atomic read-modify-write (bpf.h).
pub const BPF_ATOMIC: u8 = 0xc0;

// ---- Source: BPF_SRC(code), include/uapi/linux/bpf_common.h ----
/// The second operand is the 32-bit immediate.
pub const BPF_K: u8 = 0x00;
/// The second operand is the source register.
pub const BPF_X: u8 = 0x08;
/// For BPF_END: convert to little-endian (bpf.h); same bit as BPF_K.
pub const BPF_TO_LE: u8 = 0x00;
/// For BPF_END: convert to big-endian (bpf.h); same bit as BPF_X.
pub const BPF_TO_BE: u8 = 0x08;

// ---- ALU operations: BPF_OP(code), bpf_common.h (and bpf.h for MOV, ARSH, END) ----
pub const BPF_ADD: u8 = 0x00;
pub const BPF_SUB: u8 = 0x10;
pub const BPF_MUL: u8 = 0x20;
/// Unsigned divide; with `off == 1` signed (sdiv, v4).
pub const BPF_DIV: u8 = 0x30;
pub const BPF_OR: u8 = 0x40;
pub const BPF_AND: u8 = 0x50;
pub const BPF_LSH: u8 = 0x60;
pub const BPF_RSH: u8 = 0x70;
/// Negate; only the BPF_K form exists.
pub const BPF_NEG: u8 = 0x80;
/// Unsigned modulo; with `off == 1` signed (smod, v4).
pub const BPF_MOD: u8 = 0x90;
pub const BPF_XOR: u8 = 0xa0;
/// Move; with `off` 8/16/32 and BPF_X a sign-extending move (movsx, v4).
pub const BPF_MOV: u8 = 0xb0;
/// Arithmetic (sign-preserving) right shift.
pub const BPF_ARSH: u8 = 0xc0;
/// Byte swap: le/be in BPF_ALU, unconditional bswap in BPF_ALU64 (v4).
pub const BPF_END: u8 = 0xd0;

// ---- Jump operations: BPF_OP(code), bpf_common.h and bpf.h ----
/// Unconditional jump; in BPF_JMP32 with a 32-bit `imm` offset (gotol, v4).
pub const BPF_JA: u8 = 0x00;
pub const BPF_JEQ: u8 = 0x10;
pub const BPF_JGT: u8 = 0x20;
pub const BPF_JGE: u8 = 0x30;
pub const BPF_JSET: u8 = 0x40;
pub const BPF_JNE: u8 = 0x50;
pub const BPF_JSGT: u8 = 0x60;
pub const BPF_JSGE: u8 = 0x70;
pub const BPF_CALL: u8 = 0x80;
pub const BPF_EXIT: u8 = 0x90;
pub const BPF_JLT: u8 = 0xa0;
pub const BPF_JLE: u8 = 0xb0;
pub const BPF_JSLT: u8 = 0xc0;
pub const BPF_JSLE: u8 = 0xd0;
/// Conditional pseudo jumps (`may_goto`), bpf.h since Linux 6.9.
pub const BPF_JCOND: u8 = 0xe0;
/// The only BPF_JCOND condition, carried in `src_reg` (bpf.h `enum bpf_cond_pseudo_jmp`).
pub const BPF_MAY_GOTO: u8 = 0;

// ---- Atomic operations, carried in `imm` of BPF_STX | BPF_ATOMIC (bpf.h) ----
/// Flag: also return the old value in the source register.
pub const BPF_FETCH: i32 = 0x01;
/// Atomic exchange (always fetches).
pub const BPF_XCHG: i32 = 0xe0 | BPF_FETCH;
/// Atomic compare-and-exchange against r0 (always fetches).
pub const BPF_CMPXCHG: i32 = 0xf0 | BPF_FETCH;

// ---- Pseudo sources of lddw, in `src_reg` of BPF_LD | BPF_DW | BPF_IMM (bpf.h) ----
/// `imm` is a map file descriptor.
pub const BPF_PSEUDO_MAP_FD: u8 = 1;
/// `imm` is a map fd, the second slot's `imm` an offset into its value.
pub const BPF_PSEUDO_MAP_VALUE: u8 = 2;
/// `imm` is a BTF id of a kernel variable (second imm: BTF object fd).
pub const BPF_PSEUDO_BTF_ID: u8 = 3;
/// `imm` is the offset, in slots, of a BPF function (a callback pointer).
pub const BPF_PSEUDO_FUNC: u8 = 4;
/// `imm` is an index into `fd_array` naming a map.
pub const BPF_PSEUDO_MAP_IDX: u8 = 5;
/// Like BPF_PSEUDO_MAP_IDX, plus an offset into the map value.
pub const BPF_PSEUDO_MAP_IDX_VALUE: u8 = 6;

// ---- Call kinds, in `src_reg` of BPF_JMP | BPF_CALL (bpf.h) ----
/// `imm` is the offset of a BPF function in this program (bpf-to-bpf call).
pub const BPF_PSEUDO_CALL: u8 = 1;
/// `imm` is a BTF id of a kernel function (kfunc); `off` selects the BTF object.
pub const BPF_PSEUDO_KFUNC_CALL: u8 = 2;

// ---- Register file (RFC 9669 section 2.4; bpf.h `MAX_BPF_REG`) ----
/// Number of registers: r0..r10. r10 is the read-only frame pointer.
pub const MAX_BPF_REG: u8 = 11;

/// The class field of an opcode.
pub const fn bpf_class(code: u8) -> u8 {
    code & 0x07
}
/// The size field of a load/store opcode.
pub const fn bpf_size(code: u8) -> u8 {
    code & 0x18
}
/// The mode field of a load/store opcode.
pub const fn bpf_mode(code: u8) -> u8 {
    code & 0xe0
}
/// The operation field of an arithmetic or jump opcode.
pub const fn bpf_op(code: u8) -> u8 {
    code & 0xf0
}
/// The source bit of an arithmetic or jump opcode.
pub const fn bpf_src(code: u8) -> u8 {
    code & 0x08
}
