//! `loader`: the `bpf(2)` system call, by hand, and the lab built on it.
//!
//! It follows `include/uapi/linux/bpf.h` for every `union bpf_attr` layout
//! (see [`sys`], the only module with `unsafe` code). It joins `ebpf-asm`
//! (instructions) and `netlink` (attachment).
//!
//! - [`prog`]: `BPF_PROG_LOAD` with the verifier log, `BPF_PROG_TEST_RUN`,
//!   program info and listing;
//! - [`verifier`]: reading the verifier log, mapping it to source lines;
//! - [`pin`]: bpffs pins;
//! - [`types`]: program, attach, map and link types with their kernel versions;
//! - [`error`]: errors that name the command, the errno and what to do.

pub mod error;
pub mod pin;
pub mod prog;
pub mod sys;
pub mod types;
pub mod verifier;

pub use error::{Error, Result, SysError};
pub use prog::{LoadOptions, ProgInfo, Program, TestRun, TestRunResult};
pub use types::{AttachType, LinkType, MapType, ProgType};
pub use verifier::{SourceLine, SourceMap, VerifierError};
