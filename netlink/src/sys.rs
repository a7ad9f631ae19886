//! The only `unsafe` code in this crate: thin wrappers over `setns(2)`,
//! `unshare(2)`, `mount(2)`, `umount2(2)`, `setsockopt(2)`, `geteuid(2)`, and
//! the `SIOCETHTOOL` ioctl (include/uapi/linux/ethtool.h).
//!
//! Each wrapper turns the C return convention (-1 and `errno`) into an
//! `io::Result`. Constants come from `<sched.h>` (`CLONE_NEWNET`) and
//! `<sys/mount.h>` (`MS_*`, `MNT_DETACH`) through the `libc` crate, and from
//! `include/uapi/linux/netlink.h` (`SOL_NETLINK` options, see `consts`).

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::path::Path;

fn cstr(p: &Path) -> io::Result<CString> {
    use std::os::unix::ffi::OsStrExt;
    CString::new(p.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))
}

fn check(ret: libc::c_int) -> io::Result<()> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// `setns(fd, CLONE_NEWNET)`: moves the *calling thread* into the network namespace `fd`.
pub fn setns_net(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: setns takes an fd and a flag; `fd` is a live BorrowedFd for the
    // duration of the call and no memory is passed.
    check(unsafe { libc::setns(fd.as_raw_fd(), libc::CLONE_NEWNET) })
}

/// `unshare(CLONE_NEWNET)`: gives the calling thread a fresh network namespace.
pub fn unshare_net() -> io::Result<()> {
    // SAFETY: unshare only takes flags; CLONE_NEWNET is allowed in a
    // multi-threaded process and affects only the calling thread.
    check(unsafe { libc::unshare(libc::CLONE_NEWNET) })
}

/// `mount(src, dst, "none", MS_BIND, NULL)`: pins a namespace file at `dst`.
pub fn mount_bind(src: &Path, dst: &Path) -> io::Result<()> {
    let (s, d) = (cstr(src)?, cstr(dst)?);
    // SAFETY: all pointers are NUL-terminated CStrings alive across the call;
    // the data argument may be NULL for a bind mount.
    check(unsafe {
        libc::mount(
            s.as_ptr(),
            d.as_ptr(),
            c"none".as_ptr(),
            libc::MS_BIND,
            std::ptr::null(),
        )
    })
}

/// `mount("", path, "none", MS_SHARED | MS_REC, NULL)`: makes mounts under
/// `path` propagate to other mount namespaces (what iproute2 does to /run/netns).
pub fn mount_make_shared(path: &Path) -> io::Result<()> {
    let p = cstr(path)?;
    // SAFETY: NUL-terminated strings alive across the call; NULL data is allowed.
    check(unsafe {
        libc::mount(
            c"".as_ptr(),
            p.as_ptr(),
            c"none".as_ptr(),
            libc::MS_SHARED | libc::MS_REC,
            std::ptr::null(),
        )
    })
}

/// `mount(path, path, "none", MS_BIND | MS_REC, NULL)`: makes `path` a mount
/// point of its own, so that it can then be made shared.
pub fn mount_bind_self(path: &Path) -> io::Result<()> {
    let p = cstr(path)?;
    // SAFETY: NUL-terminated strings alive across the call; NULL data is allowed.
    check(unsafe {
        libc::mount(
            p.as_ptr(),
            p.as_ptr(),
            c"none".as_ptr(),
            libc::MS_BIND | libc::MS_REC,
            std::ptr::null(),
        )
    })
}

/// `umount2(path, MNT_DETACH)`: drops the bind mount that pins a namespace.
pub fn umount_detach(path: &Path) -> io::Result<()> {
    let p = cstr(path)?;
    // SAFETY: NUL-terminated string alive across the call.
    check(unsafe { libc::umount2(p.as_ptr(), libc::MNT_DETACH) })
}

/// `setsockopt(fd, SOL_NETLINK, opt, &1, sizeof(int))`.
pub fn netlink_opt_enable(fd: BorrowedFd<'_>, opt: i32) -> io::Result<()> {
    let one: libc::c_int = 1;
    // SAFETY: we pass a pointer to a live c_int and its exact size.
    check(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_NETLINK,
            opt,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    })
}

/// `setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeval)`: `recv` fails with
/// EAGAIN instead of blocking forever.
pub fn set_recv_timeout(fd: BorrowedFd<'_>, t: std::time::Duration) -> io::Result<()> {
    let tv = libc::timeval {
        tv_sec: t.as_secs() as libc::time_t,
        tv_usec: t.subsec_micros() as libc::suseconds_t,
    };
    // SAFETY: we pass a pointer to a live timeval and its exact size.
    check(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&tv as *const libc::timeval).cast(),
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        )
    })
}

/// Whether we run as root (effective uid 0).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no arguments and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Borrows the fd of neli's socket, which implements only `AsRawFd`.
pub fn borrow_socket(s: &neli::socket::NlSocket) -> BorrowedFd<'_> {
    // SAFETY: `NlSocket` owns the fd and closes it only on drop; the returned
    // BorrowedFd borrows `s`, so it cannot outlive the open fd.
    unsafe { BorrowedFd::borrow_raw(s.as_raw_fd()) }
}

/// `SIOCETHTOOL` (include/uapi/linux/sockios.h).
const SIOCETHTOOL: libc::c_ulong = 0x8946;
/// `ETHTOOL_STXCSUM`: set TX checksum offload (include/uapi/linux/ethtool.h).
pub const ETHTOOL_STXCSUM: u32 = 0x17;

/// `struct ethtool_value` (include/uapi/linux/ethtool.h).
#[repr(C)]
struct EthtoolValue {
    cmd: u32,
    data: u32,
}

/// `ethtool -K DEV tx on|off` through the `SIOCETHTOOL` ioctl on a datagram
/// socket, in the calling thread's network namespace: the one device
/// setting rtnetlink has no attribute for.
pub fn ethtool_set_tx_csum(dev: &str, on: bool) -> io::Result<()> {
    let name = dev.as_bytes();
    if name.len() >= libc::IFNAMSIZ {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("device name {dev:?} is longer than IFNAMSIZ - 1"),
        ));
    }
    // SAFETY: socket() takes no pointers; the fd is owned below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd was just returned by socket() and is owned by nobody else.
    let sock = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    let mut value = EthtoolValue {
        cmd: ETHTOOL_STXCSUM,
        data: u32::from(on),
    };
    // SAFETY: ifreq is plain old data; all-zero is a valid value.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in ifr.ifr_name.iter_mut().zip(name) {
        *d = *s as libc::c_char;
    }
    ifr.ifr_ifru.ifru_data = (&mut value as *mut EthtoolValue).cast();
    // SAFETY: SIOCETHTOOL reads the ifreq and the ethtool_value it points
    // to; both live on this stack frame for the whole call.
    check(unsafe { libc::ioctl(sock.as_raw_fd(), SIOCETHTOOL as _, &mut ifr) })
}
