//! Pinning objects on bpffs (`BPF_OBJ_PIN`, `BPF_OBJ_GET`), mounting
//! `/sys/fs/bpf` first when it is not a bpffs yet.
//!
//! Follows the `BPF_OBJ_PIN` / `BPF_OBJ_GET` sections of
//! `include/uapi/linux/bpf.h` and `kernel/bpf/inode.c` (pins live only on a
//! filesystem of type bpf; anywhere else the kernel answers EPERM or EINVAL).

use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

use crate::error::{Error, Result, SysError};
use crate::prog::c_path;
use crate::sys::{self, cmd, ObjAttr};

/// Where bpffs is conventionally mounted.
pub const BPFFS_ROOT: &str = "/sys/fs/bpf";

/// Makes sure `/sys/fs/bpf` is a bpffs, mounting it if it is not.
pub fn ensure_bpffs() -> Result<()> {
    // Two threads racing here would both mount, and the second bpffs would
    // hide pins made on the first: check and mount under one lock.
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _held = LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let root = c_path(Path::new(BPFFS_ROOT))?;
    match sys::statfs_type(&root) {
        Ok(t) if t == sys::BPF_FS_MAGIC => return Ok(()),
        Ok(_) => {}
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
            std::fs::create_dir_all(BPFFS_ROOT)
                .map_err(|e| Error::io(format!("creating {BPFFS_ROOT}"), e))?;
        }
        Err(e) => return Err(Error::io(format!("statfs {BPFFS_ROOT}"), e)),
    }
    sys::mount_bpffs(&root).map_err(|e| {
        Error::io(
            format!("mounting bpffs on {BPFFS_ROOT} (mount -t bpf bpf {BPFFS_ROOT}; needs root)"),
            e,
        )
    })
}

/// True when `path`'s directory is on bpffs.
fn on_bpffs(path: &Path) -> bool {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    match c_path(dir) {
        Ok(c) => sys::statfs_type(&c)
            .map(|t| t == sys::BPF_FS_MAGIC)
            .unwrap_or(false),
        Err(_) => false,
    }
}

/// `BPF_OBJ_PIN`: pins `fd` (program, map or link) at `path`.
pub fn pin(fd: BorrowedFd<'_>, path: &Path) -> Result<()> {
    if path.starts_with(BPFFS_ROOT) {
        ensure_bpffs()?;
    }
    let cpath = c_path(path)?;
    let mut attr = ObjAttr {
        pathname: cpath.as_ptr() as u64,
        bpf_fd: fd.as_raw_fd() as u32,
        ..Default::default()
    };
    sys::bpf(cmd::BPF_OBJ_PIN, &mut attr).map_err(|e| {
        let hint = match e.raw_os_error() {
            Some(libc::EEXIST) => {
                format!("{} already exists; unpin it first (rm it)", path.display())
            }
            Some(libc::ENOENT) => format!("the directory of {} does not exist", path.display()),
            _ if !on_bpffs(path) => format!(
                "{} is not on a bpffs; pins must be under a bpf filesystem such as {BPFFS_ROOT}",
                path.display()
            ),
            _ => format!("could not pin at {}", path.display()),
        };
        SysError::with_hint("BPF_OBJ_PIN", &e, hint)
    })?;
    Ok(())
}

/// `BPF_OBJ_GET`: opens the object pinned at `path`.
pub fn get(path: &Path) -> Result<OwnedFd> {
    let cpath = c_path(path)?;
    let mut attr = ObjAttr {
        pathname: cpath.as_ptr() as u64,
        ..Default::default()
    };
    let fd = sys::bpf_fd(cmd::BPF_OBJ_GET, &mut attr).map_err(|e| {
        let hint = match e.raw_os_error() {
            Some(libc::ENOENT) => format!("nothing is pinned at {}", path.display()),
            _ if !on_bpffs(path) => format!("{} is not on a bpffs", path.display()),
            _ => format!("could not open the pin {}", path.display()),
        };
        SysError::with_hint("BPF_OBJ_GET", &e, hint)
    })?;
    Ok(fd)
}

/// Removes a pin (a plain unlink on bpffs); missing pins are fine.
pub fn unpin(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(format!("removing pin {}", path.display()), e)),
    }
}

/// Which kind of BPF object an fd is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjKind {
    /// A program (`anon_inode:bpf-prog`).
    Prog,
    /// A map (`anon_inode:bpf-map`).
    Map,
    /// A link (`anon_inode:bpf_link`).
    Link,
}

/// Tells programs, maps and links apart. `BPF_OBJ_GET_INFO_BY_FD` cannot:
/// it fills whichever info struct fits the fd into any buffer. The kernel's
/// `show_fdinfo` for each object type (`kernel/bpf/syscall.c`:
/// `bpf_prog_show_fdinfo`, `bpf_map_show_fdinfo`, `bpf_link_show_fdinfo`)
/// prints `prog_type:`, `map_type:` or `link_type:` in
/// `/proc/self/fdinfo/FD`, for anonymous and pinned fds alike.
pub fn obj_kind(fd: BorrowedFd<'_>) -> Option<ObjKind> {
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", fd.as_raw_fd())).ok()?;
    info.lines().find_map(|l| {
        if l.starts_with("prog_type:") {
            Some(ObjKind::Prog)
        } else if l.starts_with("map_type:") {
            Some(ObjKind::Map)
        } else if l.starts_with("link_type:") {
            Some(ObjKind::Link)
        } else {
            None
        }
    })
}
