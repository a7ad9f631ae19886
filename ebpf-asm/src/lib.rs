//! `ebpf-asm`: the eBPF instruction set as plain Rust data.
//!
//! It follows RFC 9669 (BPF Instruction Set Architecture) and the Linux
//! extensions in `include/uapi/linux/bpf.h`. It knows no kernel: it turns text
//! into instruction bytes and ELF objects, and bytes back into text.
