//! The few system calls the VM's init makes that the standard library lacks:
//! `mount(2)`, `finit_module(2)`, `reboot(2)`, and the `SIOCSIFFLAGS` ioctl
//! that brings `lo` up.
//!
//! It follows `mount(2)`, `finit_module(2)`, `reboot(2)` and `netdevice(7)`;
//! the constants come from `include/uapi/linux/reboot.h` and
//! `include/uapi/linux/sockios.h` through the `libc` crate. This is the only
//! module of `lab-tests` with `unsafe` code.

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

fn cstr(s: &str) -> io::Result<CString> {
    CString::new(s).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in path"))
}

/// `mount(source, target, fstype, flags, data)`.
pub fn mount(source: &str, target: &str, fstype: &str, data: Option<&str>) -> io::Result<()> {
    let source = cstr(source)?;
    let target = cstr(target)?;
    let fstype = cstr(fstype)?;
    let data = data.map(cstr).transpose()?;
    let data_ptr = data
        .as_ref()
        .map_or(std::ptr::null(), |d| d.as_ptr().cast::<libc::c_void>());
    // SAFETY: every pointer is a NUL-terminated string (or null for data) that
    // outlives the call; mount(2) reads them and keeps no reference.
    let rc = unsafe {
        libc::mount(
            source.as_ptr(),
            target.as_ptr(),
            fstype.as_ptr(),
            libc::MS_NOSUID | libc::MS_NODEV,
            data_ptr,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// `finit_module(fd, "", 0)`: loads a kernel module from an open file.
pub fn finit_module(file: &File) -> io::Result<()> {
    let params = c"";
    // SAFETY: the fd is open for the duration of the call and params is a
    // valid empty C string; the syscall takes no other pointers.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_finit_module,
            file.as_raw_fd(),
            params.as_ptr(),
            0 as libc::c_int,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Flushes file systems and powers the machine off. With QEMU's `-no-reboot`
/// this ends the QEMU process. Returns only on failure.
pub fn power_off() -> io::Error {
    // SAFETY: sync(2) takes no arguments and cannot fail.
    unsafe { libc::sync() };
    // SAFETY: reboot(2) with LINUX_REBOOT_CMD_POWER_OFF takes no pointer; on
    // success it does not return.
    unsafe { libc::reboot(libc::LINUX_REBOOT_CMD_POWER_OFF) };
    io::Error::last_os_error()
}

/// Sets `IFF_UP` on a device of the current network namespace, the way
/// `ifconfig NAME up` does, with `SIOCGIFFLAGS`/`SIOCSIFFLAGS` on any socket.
pub fn set_link_up(name: &str) -> io::Result<()> {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() >= libc::IFNAMSIZ {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "bad interface name",
        ));
    }
    // SAFETY: socket(2) takes no pointers; the result is checked below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh socket that we own; OwnedFd closes it once.
    let sock = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    // SAFETY: ifreq is plain old data; all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(bytes) {
        *dst = *src as libc::c_char;
    }
    // SAFETY: req is a valid ifreq with a NUL-terminated name; the ioctl
    // writes ifru_flags inside it.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: SIOCGIFFLAGS filled the flags member of the union.
    unsafe { req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
    // SAFETY: as above; the kernel reads the name and flags.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
