//! `loader`: the `bpf(2)` system call, by hand, and the lab built on it.
//!
//! It follows `include/uapi/linux/bpf.h` for every `union bpf_attr` layout
//! (see [`sys`]; it and `lab::sys` are the only modules with `unsafe`
//! code). It joins `ebpf-asm` (instructions) and `netlink` (attachment).
//!
//! - [`prog`]: `BPF_PROG_LOAD` with the verifier log, `BPF_PROG_TEST_RUN`,
//!   program info and listing;
//! - [`asm`]: loading `ebpf-asm` programs (map patching, source maps);
//! - [`elf`]: loading clang-built ELF objects (global data as array maps);
//! - [`mod@file`]: load a `.s` or `.o` file, whichever it is;
//! - [`verifier`]: reading the verifier log, mapping it to source lines;
//! - [`map`]: maps and their elements;
//! - [`link`]: `BPF_LINK_CREATE` (TCX, XDP) and link info;
//! - [`retval`]: what TC and XDP return values mean;
//! - [`pin`]: bpffs pins;
//! - [`types`]: program, attach, map and link types with their kernel versions;
//! - [`defines`]: `-D NAME=VALUE` parsing (integers, MACs, IPv4);
//! - [`error`]: errors that name the command, the errno and what to do;
//! - [`lab`]: the redirect lab itself (topology up/down/status, traffic, trace).

pub mod asm;
pub mod defines;
pub mod elf;
pub mod error;
pub mod file;
pub mod lab;
pub mod link;
pub mod map;
pub mod pin;
pub mod prog;
pub mod retval;
pub mod sys;
pub mod types;
pub mod verifier;
pub mod xlated;

pub use asm::AsmLoad;
pub use error::{Error, Result, SysError};
pub use link::{Link, LinkInfo};
pub use map::{Map, MapInfo, MapSpec};
pub use prog::{LoadOptions, ProgInfo, Program, TestRun, TestRunResult};
pub use types::{AttachType, LinkType, MapType, ProgType};
pub use verifier::{SourceLine, SourceMap, VerifierError};
