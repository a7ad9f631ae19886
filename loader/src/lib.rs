//! `loader`: the `bpf(2)` system call, by hand, and the lab built on it.
//!
//! It follows `include/uapi/linux/bpf.h` for every `union bpf_attr` layout.
//! It joins `ebpf-asm` (instructions) and `netlink` (attachment).
