//! The two system calls the lab makes outside bpf(2) and netlink:
//! `setsockopt(SO_BINDTODEVICE)` and `mount("tracefs")`.
//!
//! Follows socket(7) (`SO_BINDTODEVICE`, constant from
//! `include/uapi/asm-generic/socket.h`) and mount(2). This is the only module
//! of `lab/` with `unsafe` code.

use std::ffi::CString;
use std::io;
use std::os::fd::AsRawFd;

/// `SOL_SOCKET` (include/uapi/asm-generic/socket.h).
const SOL_SOCKET: libc::c_int = 1;
/// `SO_BINDTODEVICE` (include/uapi/asm-generic/socket.h): the socket sends
/// and receives only through the named device, whatever the routes say.
const SO_BINDTODEVICE: libc::c_int = 25;

/// Binds a socket to one network device by name (needs CAP_NET_RAW unless
/// the socket is already bound to it).
pub fn bind_to_device(sock: &impl AsRawFd, dev: &str) -> io::Result<()> {
    let name = CString::new(dev).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let bytes = name.as_bytes_with_nul();
    // SAFETY: the fd is a live socket borrowed for the call; the option value
    // points to `bytes.len()` readable bytes that outlive the call.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            SOL_SOCKET,
            SO_BINDTODEVICE,
            bytes.as_ptr().cast(),
            bytes.len() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// `mount -t tracefs nodev TARGET`.
pub fn mount_tracefs(target: &str) -> io::Result<()> {
    let source = CString::new("nodev").map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let fstype =
        CString::new("tracefs").map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let target = CString::new(target).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: every pointer is a NUL-terminated string alive across the call;
    // a null `data` is allowed by mount(2).
    let rc = unsafe {
        libc::mount(
            source.as_ptr(),
            target.as_ptr(),
            fstype.as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
