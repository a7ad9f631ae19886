//! `loader`: the `bpf(2)` system call, by hand, and the lab built on it.
//!
//! It joins `ebpf-asm` (instructions and objects) and `netlink`
//! (attachment), and reads as three rooms:
//!
//! - [`bpf`]: the `bpf(2)` layer, following `include/uapi/linux/bpf.h`
//!   (programs, maps, links, pins, the verifier log, object loading);
//! - [`lab`]: the redirect lab itself (topology up/down/status, traffic,
//!   trace), built on the bpf layer and on `netlink`;
//! - `cli/` (in the `redirect-lab` binary): the command line.
//!
//! `bpf::sys`, `bpf::tracing` (its attr layout), `bpf::ringbuf` (the
//! mmap()ed ring buffer) and `lab::sys` are the only modules with `unsafe`
//! code.
//! The bpf layer's modules are re-exported at the crate root, so
//! `loader::prog::Program` and `loader::bpf::prog::Program` are one path.

pub mod bpf;
pub mod lab;

pub use bpf::{
    asm, btf, declared, defines, error, file, gzip, kconfig, ksym, link, load, map, pin, prog,
    retval, ringbuf, sys, tracing, types, verifier, xlated,
};

pub use asm::AsmLoad;
pub use error::{Error, Result, SysError};
pub use link::{Link, LinkInfo};
pub use map::{Map, MapInfo, MapSpec};
pub use prog::{LoadOptions, ProgInfo, Program, TestRun, TestRunResult};
pub use ringbuf::RingBuf;
pub use types::{AttachType, LinkType, MapType, ProgType};
pub use verifier::{SourceLine, SourceMap, VerifierError};
