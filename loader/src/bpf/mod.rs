//! The `bpf(2)` layer: everything between an `ebpf-asm` object and the
//! kernel objects it becomes, and nothing about the lab.
//!
//! It follows `include/uapi/linux/bpf.h` for every `union bpf_attr` layout.
//! [`sys`], [`tracing`] and [`ringbuf`] (its shared-memory reader) are the
//! only modules here with `unsafe` code.
//!
//! - [`sys`]: the `bpf(2)` commands, one `#[repr(C)]` attr each;
//! - [`prog`]: `BPF_PROG_LOAD` with the verifier log, `BPF_PROG_TEST_RUN`,
//!   program info and listing;
//! - [`asm`]: loading `ebpf-asm` programs (map patching, source maps);
//! - [`btf`]: `BPF_BTF_LOAD`, and the func/line info `BPF_PROG_LOAD` takes;
//! - [`mod@load`]: one object (clang's or ours) to kernel objects: BTF,
//!   `.maps` and data-section maps, relocations, bpf-to-bpf calls, programs;
//! - [`declared`]: the maps of `.maps`: reused, pinned by name, maps of
//!   maps with their inner template, and the slots `.values` fills;
//! - [`ksym`]: externs (kfuncs, ksyms) resolved against the running kernel;
//! - [`kconfig`]: `__kconfig` externs, from the kernel's config and release;
//! - [`gzip`]: an RFC 1952/1951 reader, for `/proc/config.gz`;
//! - [`mod@file`]: read a `.s` or `.o` file into that object, and load it;
//! - [`verifier`]: reading the verifier log, mapping it to source lines;
//! - [`xlated`]: the program as the kernel runs it, listed like bpftool;
//! - [`map`]: maps and their elements;
//! - [`ringbuf`]: ring buffer maps and their mmap()ed reader;
//! - [`link`]: `BPF_LINK_CREATE` (TCX, XDP) and link info;
//! - [`retval`]: what TC and XDP return values mean;
//! - [`pin`]: bpffs pins;
//! - [`tracing`]: `tp_btf` and fentry programs, attached with
//!   `BPF_RAW_TRACEPOINT_OPEN`;
//! - [`types`]: program, attach, map and link types with their kernel versions;
//! - [`defines`]: `-D NAME=VALUE` parsing (integers, MACs, IPv4);
//! - [`error`]: errors that name the command, the errno and what to do.

pub mod asm;
pub mod btf;
pub mod declared;
pub mod defines;
pub mod error;
pub mod file;
pub mod gzip;
pub mod kconfig;
pub mod ksym;
pub mod link;
pub mod load;
pub mod map;
pub mod pin;
pub mod prog;
pub mod retval;
pub mod ringbuf;
pub mod sys;
pub mod tracing;
pub mod types;
pub mod verifier;
pub mod xlated;
