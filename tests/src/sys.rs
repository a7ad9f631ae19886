//! The system calls `lab-tests` makes that the standard library lacks: for
//! the VM's init, `mount(2)`, `finit_module(2)`, `reboot(2)` and the
//! `SIOCSIFFLAGS` ioctl that brings `lo` up; for the behaviours, an
//! `AF_PACKET` tap that reports each frame's `pkt_type`, and `setrlimit(2)`
//! for the descriptors path-attach-all holds.
//!
//! It follows `mount(2)`, `finit_module(2)`, `reboot(2)`, `netdevice(7)` and
//! `packet(7)`; the constants come from `include/uapi/linux/reboot.h`,
//! `sockios.h`, `if_ether.h` and `if_packet.h` through the `libc` crate.
//! This is the only module of `lab-tests` with `unsafe` code.

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

/// Takes an exclusive `flock(2)` on `file`, waiting for it; the lock goes
/// with the file's open description, so it is released when `file` is
/// dropped, also by a panicking test. Two openings of the same path conflict,
/// between processes and between threads alike.
pub fn lock_exclusive(file: &File) -> io::Result<()> {
    loop {
        // SAFETY: flock takes a descriptor we own (borrowed from `file` for
        // the call) and a flag; it touches no memory of ours.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
        if rc == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Raises this process's `RLIMIT_NOFILE` (`getrlimit(2)`) to at least
/// `want` descriptors, soft and hard (raising the hard limit needs
/// CAP_SYS_RESOURCE, which the suite has as root). Returns the soft limit in
/// force afterwards. path-attach-all holds a program and a link fd per
/// fentry function, ~3,600 for 7.2's 1,790, past the default 1,024.
pub fn raise_nofile(want: u64) -> io::Result<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one `struct rlimit` into `lim`, which we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    if lim.rlim_cur >= want {
        return Ok(lim.rlim_cur);
    }
    let new = libc::rlimit {
        rlim_cur: want,
        rlim_max: lim.rlim_max.max(want),
    };
    // SAFETY: setrlimit only reads the `struct rlimit` we pass.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &new) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(want)
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

/// An `AF_PACKET` socket bound to one device, seeing every frame it sends or
/// receives (`ETH_P_ALL`), including those the stack will drop as addressed
/// to another host. Open it inside the device's network namespace.
pub struct PacketTap {
    fd: std::os::fd::OwnedFd,
}

/// The `pkt_type` values the behaviours look for
/// (include/uapi/linux/if_packet.h), as `libc` spells them.
pub use libc::{PACKET_HOST, PACKET_OTHERHOST, PACKET_OUTGOING};

/// One frame seen by a [`PacketTap`].
#[derive(Debug, Clone)]
pub struct TappedFrame {
    /// `sll_pkttype`: `PACKET_HOST` (0), `PACKET_BROADCAST` (1),
    /// `PACKET_MULTICAST` (2), `PACKET_OTHERHOST` (3), `PACKET_OUTGOING` (4).
    pub pkt_type: u8,
    pub data: Vec<u8>,
}

impl PacketTap {
    /// Opens a tap on `ifindex` of the calling thread's network namespace.
    pub fn open(ifindex: i32) -> io::Result<PacketTap> {
        let proto_be = (libc::ETH_P_ALL as u16).to_be();
        // SAFETY: socket(2) takes no pointers; the result is checked below.
        let fd = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                i32::from(proto_be),
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh socket that we own; OwnedFd closes it once.
        let fd = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
        // SAFETY: sockaddr_ll is plain old data; all-zero is valid.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = proto_be;
        sll.sll_ifindex = ifindex;
        // SAFETY: sll is a valid sockaddr_ll and the length passed is its size.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&sll as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(PacketTap { fd })
    }

    /// Transmits one whole Ethernet frame out of the bound device, as is:
    /// no ARP, no routing, whatever destination MAC the frame carries.
    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        // SAFETY: frame is valid for frame.len() bytes; the socket is bound
        // to a device, so send(2) needs no address.
        let n = unsafe { libc::send(self.fd.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        if n as usize != frame.len() {
            return Err(io::Error::other(format!(
                "sent {n} of {} bytes",
                frame.len()
            )));
        }
        Ok(())
    }

    /// Waits up to `timeout` for the next frame; `None` when none came.
    pub fn recv(&self, timeout: std::time::Duration) -> io::Result<Option<TappedFrame>> {
        let mut pfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
        // SAFETY: pfd is one valid pollfd and nfds is 1.
        let n = unsafe { libc::poll(&mut pfd, 1, ms) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        if n == 0 {
            return Ok(None);
        }
        let mut buf = vec![0u8; 65536];
        // SAFETY: as above, all-zero sockaddr_ll is valid.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
        // SAFETY: buf and sll are valid for the lengths given; the kernel
        // writes at most those many bytes and updates len.
        let got = unsafe {
            libc::recvfrom(
                self.fd.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT,
                (&mut sll as *mut libc::sockaddr_ll).cast(),
                &mut len,
            )
        };
        if got < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::WouldBlock {
                return Ok(None);
            }
            return Err(e);
        }
        buf.truncate(got as usize);
        Ok(Some(TappedFrame {
            pkt_type: sll.sll_pkttype,
            data: buf,
        }))
    }
}
