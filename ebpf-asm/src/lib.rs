//! `ebpf-asm`: the eBPF instruction set as plain Rust data.
//!
//! It follows RFC 9669 (BPF Instruction Set Architecture) and the Linux
//! extensions in `include/uapi/linux/bpf.h`. It knows no kernel: it turns text
//! into instruction bytes and ELF objects, and bytes back into text.
//!
//! - [`opcode`]: the opcode fields and constants, named as in `bpf.h`;
//! - [`insn`]: the raw slot [`Insn`] and the typed [`Instruction`];
//! - [`mod@encode`]: exact encode/decode between the two;
//! - [`helpers`]: kernel helper names and ids;
//! - [`btf`]: BTF and `.BTF.ext`, read and written (`include/uapi/linux/btf.h`);
//! - [`builder`]: build programs from Rust with typed registers and labels;
//! - [`text`]: the text assembler ([`assemble`]);
//! - [`disasm`]: bytes back to text, kernel or LLVM syntax;
//! - [`mod@object`]: the object model (sections, symbols, relocations, maps), read from and written to ELF;
//! - [`elf`]: writes one [`Program`] as an ELF object, through [`object::Object`].

pub mod btf;
pub mod builder;
pub mod disasm;
pub mod elf;
pub mod encode;
pub mod hash;
pub mod helpers;
pub mod insn;
pub mod object;
pub mod opcode;
pub mod program;
pub mod text;

pub use encode::{decode, encode, DecodeError, DecodeReason};
pub use insn::{
    AluOp, AtomicOp, ByteOrder, CallKind, Insn, Instruction, JmpCond, LdPseudo, Reg, Size, Source,
    Width,
};
pub use program::{Program, RelocKind, Relocation, SourceLine};
pub use text::{assemble, AsmError, AsmOptions};
