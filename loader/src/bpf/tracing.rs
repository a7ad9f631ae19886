//! Tracing programs (`BPF_PROG_TYPE_TRACING`): loading them against a hook
//! named by vmlinux BTF, and attaching them with `BPF_RAW_TRACEPOINT_OPEN`.
//!
//! Follows `include/uapi/linux/bpf.h` (`BPF_PROG_LOAD`'s `attach_btf_id` /
//! `attach_btf_obj_fd`, the `raw_tracepoint` part of `union bpf_attr`) and
//! the kernel's `bpf_tracing_prog_attach()` in `kernel/bpf/syscall.c`.
//!
//! Two hooks are used by `redirect-lab path`:
//!
//! - **`tp_btf`** (`expected_attach_type = BPF_TRACE_RAW_TP`): a raw
//!   tracepoint whose arguments the verifier types from the
//!   `btf_trace_NAME` typedef, so the program may follow BTF pointers
//!   (`skb->dev->nd_net.net->ns.inum`) with plain loads. `attach_btf_id` is
//!   the typedef's id.
//! - **fentry** (`expected_attach_type = BPF_TRACE_FENTRY`): runs at a kernel
//!   function's entry with its arguments as u64s; `attach_btf_id` is the
//!   FUNC's id and `attach_btf_obj_fd` 0 (vmlinux, not a module).
//!
//! Both are attached with `BPF_RAW_TRACEPOINT_OPEN` and a NULL name: for a
//! tracing program the kernel takes the hook from the program itself.
//! `BPF_LINK_CREATE` would also do on newer kernels, but 5.10 answers it
//! with EINVAL for tracing programs. The result is a link fd either way:
//! closing it detaches.
//!
//! With `bpf::sys`, this is a syscall module: the attr struct below is the
//! only reason for its `unsafe`.

use std::ffi::CString;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::path::Path;

use ebpf_asm::btf::vmlinux::Vmlinux;

use crate::error::{Error, Result, SysError};
use crate::link::Link;
use crate::prog::{LoadOptions, Program};
use crate::sys::{self, Attr};
use crate::types::{AttachType, ProgType};
use crate::verifier::SourceMap;

/// `BPF_RAW_TRACEPOINT_OPEN` (`enum bpf_cmd`, include/uapi/linux/bpf.h).
pub const BPF_RAW_TRACEPOINT_OPEN: u32 = 17;

/// Where the kernel publishes its own BTF (CONFIG_DEBUG_INFO_BTF).
pub const VMLINUX_BTF: &str = "/sys/kernel/btf/vmlinux";

/// The `raw_tracepoint` part of `union bpf_attr`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct RawTracepointOpenAttr {
    /// `name`: user pointer to the tracepoint's name; 0 (NULL) for tracing
    /// programs, whose hook is their `attach_btf_id`.
    pub name: u64,
    /// `prog_fd`.
    pub prog_fd: u32,
    /// Tail padding: the struct is 8-byte aligned (6.10 adds a `cookie`
    /// after it; zero is what older and newer kernels both accept).
    pub _pad0: u32,
}
// SAFETY: repr(C), integers only, padding is an explicit field (size
// asserted below).
unsafe impl Attr for RawTracepointOpenAttr {}

const _: () = {
    use std::mem::{offset_of, size_of};
    assert!(offset_of!(RawTracepointOpenAttr, prog_fd) == 8);
    assert!(size_of::<RawTracepointOpenAttr>() == 16);
};

/// The hook a tracing program is loaded for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hook {
    /// `tp_btf/NAME`: the raw tracepoint NAME, by its `btf_trace_NAME` id.
    RawTp { name: String, btf_id: u32 },
    /// `fentry/NAME`: the kernel function NAME, by its FUNC id.
    Fentry { name: String, btf_id: u32 },
}

impl Hook {
    /// The `tp_btf` hook for tracepoint `name`, looked up in `btf`.
    pub fn raw_tp(btf: &Vmlinux, name: &str) -> Result<Hook> {
        let tp = btf
            .tracepoint(name)
            .map_err(|e| Error::Input(format!("tp_btf/{name}: {e}")))?;
        Ok(Hook::RawTp {
            name: name.to_string(),
            btf_id: tp.btf_id,
        })
    }

    /// The fentry hook for function `name`, looked up in `btf`.
    pub fn fentry(btf: &Vmlinux, name: &str) -> Result<Hook> {
        let (btf_id, _) = btf
            .function(name)
            .map_err(|e| Error::Input(format!("fentry/{name}: {e}")))?;
        Ok(Hook::Fentry {
            name: name.to_string(),
            btf_id,
        })
    }

    /// `tp_btf/NAME` or `fentry/NAME`, as libbpf names the sections.
    pub fn section(&self) -> String {
        match self {
            Hook::RawTp { name, .. } => format!("tp_btf/{name}"),
            Hook::Fentry { name, .. } => format!("fentry/{name}"),
        }
    }

    fn attach_type(&self) -> AttachType {
        match self {
            Hook::RawTp { .. } => AttachType::TraceRawTp,
            Hook::Fentry { .. } => AttachType::TraceFentry,
        }
    }

    fn btf_id(&self) -> u32 {
        match self {
            Hook::RawTp { btf_id, .. } | Hook::Fentry { btf_id, .. } => *btf_id,
        }
    }
}

/// Reads and indexes the running kernel's BTF. A kernel built without
/// CONFIG_DEBUG_INFO_BTF has no such file: that is said plainly, since no
/// tracing program can load there.
pub fn vmlinux() -> Result<Vmlinux> {
    vmlinux_at(Path::new(VMLINUX_BTF))
}

/// [`vmlinux`] from another file (`redirect-lab path --vmlinux-btf`, which
/// the tests point at a missing or garbage file to see what a kernel without
/// BTF gets). The errors say what the file should have been and what to do.
pub fn vmlinux_at(path: &Path) -> Result<Vmlinux> {
    let shown = path.display();
    let bytes = std::fs::read(path).map_err(|e| Error::Io {
        what: format!(
            "reading {shown} (the kernel's own BTF; a kernel built without \
             CONFIG_DEBUG_INFO_BTF has none, and cannot run tp_btf or fentry programs: \
             boot one built with CONFIG_DEBUG_INFO_BTF=y)"
        ),
        source: e,
    })?;
    Vmlinux::parse(&bytes).map_err(|e| {
        Error::Input(format!(
            "{shown} is not usable BTF ({e}); tp_btf and fentry programs need the running \
             kernel's BTF (CONFIG_DEBUG_INFO_BTF=y), as /sys/kernel/btf/vmlinux publishes it"
        ))
    })
}

/// Loads `insns` as a `BPF_PROG_TYPE_TRACING` program for `hook`. The
/// program needs no BTF of its own, but a GPL-compatible `license`: tracing
/// programs may only be loaded GPL.
pub fn load(
    insns: &[u8],
    hook: &Hook,
    name: &str,
    license: &str,
    source_map: Option<&SourceMap>,
) -> Result<Program> {
    let mut opts = LoadOptions::new(ProgType::Tracing, name);
    opts.expected_attach_type = Some(hook.attach_type());
    opts.attach_btf_id = hook.btf_id();
    opts.license = license;
    opts.source_map = source_map;
    Program::load_with(insns, &opts).map_err(|e| explain_load(e, hook))
}

/// Adds what a tracing load's errno means for this hook.
fn explain_load(e: Error, hook: &Hook) -> Error {
    let Error::Sys(mut s) = e else {
        return e;
    };
    let hint = match (hook, s.errno) {
        (Hook::Fentry { name, .. }, libc::ENOENT) => Some(format!(
            "{name} is in vmlinux BTF but the kernel found no symbol for it (not in kallsyms: \
             inlined or renamed); pick another function"
        )),
        (Hook::Fentry { name, .. }, libc::EPERM) if sys::geteuid() == 0 => Some(format!(
            "fentry/{name} was refused before verification even as root (this lab's 6.18 host \
             does so for every fentry program, cause unknown; lockdown or a kernel without \
             fentry trampolines can do it); tp_btf programs still work"
        )),
        (Hook::Fentry { name, .. }, libc::ESRCH | libc::EINVAL) => Some(format!(
            "fentry/{name}: the kernel could not set up the trampoline (a module function \
             needs the module's BTF; a few functions may not be traced)"
        )),
        (Hook::RawTp { name, .. }, libc::EINVAL) => Some(format!(
            "tp_btf/{name}: the kernel refused the hook (a program reading past the \
             tracepoint's arguments, or a kernel older than 5.5)"
        )),
        _ => None,
    };
    if let Some(h) = hint {
        s.hint = Some(h);
    }
    Error::Sys(s)
}

/// Attaches a loaded tracing program: `BPF_RAW_TRACEPOINT_OPEN` with a NULL
/// name. The returned link holds the attachment; dropping it detaches.
pub fn attach(prog: BorrowedFd<'_>) -> Result<Link> {
    let mut attr = RawTracepointOpenAttr {
        name: 0,
        prog_fd: prog.as_raw_fd() as u32,
        ..Default::default()
    };
    let fd = sys::bpf_fd(BPF_RAW_TRACEPOINT_OPEN, &mut attr).map_err(|e| {
        SysError::with_hint(
            "BPF_RAW_TRACEPOINT_OPEN",
            &e,
            "the kernel could not attach the tracing program (ENOENT: no trampoline for \
             the function; EBUSY: already attached)"
                .to_string(),
        )
    })?;
    Ok(Link::from_fd(fd))
}

/// Attaches a raw tracepoint by name (`BPF_PROG_TYPE_RAW_TRACEPOINT`
/// programs, the untyped `raw_tp`): the same command with the name set.
pub fn attach_raw_tracepoint(prog: BorrowedFd<'_>, name: &str) -> Result<Link> {
    let cname = CString::new(name)
        .map_err(|_| Error::Input(format!("tracepoint name {name:?} contains a NUL")))?;
    let mut attr = RawTracepointOpenAttr {
        name: cname.as_ptr() as u64,
        prog_fd: prog.as_raw_fd() as u32,
        ..Default::default()
    };
    let fd = sys::bpf_fd(BPF_RAW_TRACEPOINT_OPEN, &mut attr).map_err(|e| {
        SysError::with_hint(
            "BPF_RAW_TRACEPOINT_OPEN",
            &e,
            format!("no raw tracepoint named {name:?}"),
        )
    })?;
    Ok(Link::from_fd(fd))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_or_garbage_btf_file_is_explained() {
        let e = match vmlinux_at(Path::new("/nonexistent/vmlinux")) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("read a file that does not exist"),
        };
        assert!(e.contains("/nonexistent/vmlinux"), "{e}");
        assert!(e.contains("CONFIG_DEBUG_INFO_BTF"), "{e}");
        let f = std::env::temp_dir().join(format!("garbage-btf-{}", std::process::id()));
        std::fs::write(&f, b"\x9f\xeb\x01\x00 not BTF at all").unwrap();
        let e = match vmlinux_at(&f) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("garbage parsed as BTF"),
        };
        let _ = std::fs::remove_file(&f);
        assert!(e.contains("is not usable BTF"), "{e}");
    }

    #[test]
    fn hook_sections() {
        let h = Hook::RawTp {
            name: "net_dev_queue".into(),
            btf_id: 7,
        };
        assert_eq!(h.section(), "tp_btf/net_dev_queue");
        assert_eq!(h.attach_type(), AttachType::TraceRawTp);
        let f = Hook::Fentry {
            name: "ip_rcv".into(),
            btf_id: 9,
        };
        assert_eq!(f.section(), "fentry/ip_rcv");
        assert_eq!(f.attach_type().raw(), 24);
        assert_eq!(f.btf_id(), 9);
    }
}
