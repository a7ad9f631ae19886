//! The system calls the lab makes outside bpf(2) and netlink:
//! `setsockopt(SO_BINDTODEVICE)`, `mount("tracefs")`, a raw ICMP socket
//! for `ping`, `sigaction` for the commands that clean up on Ctrl-C, and
//! `setrlimit(RLIMIT_NOFILE)` for the path tracer's thousands of fds.
//!
//! Follows socket(7) (`SO_BINDTODEVICE`, constant from
//! `include/uapi/asm-generic/socket.h`), raw(7), poll(2), mount(2) and sigaction(2). This
//! is the only module of `lab/` with `unsafe` code.

use std::ffi::CString;
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

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

/// A raw ICMP socket (`socket(AF_INET, SOCK_RAW, IPPROTO_ICMP)`, see raw(7)
/// and icmp(7)): sends ICMP messages we build, receives every ICMP packet
/// for this namespace with its IPv4 header. Needs CAP_NET_RAW.
pub fn icmp_raw_socket() -> io::Result<OwnedFd> {
    // SAFETY: socket(2) takes no pointers; a non-negative return is a new fd
    // that nothing else owns, so OwnedFd may take it.
    let fd = unsafe {
        libc::socket(
            libc::AF_INET,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::c_int::from(super::ping::IPPROTO_ICMP),
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by socket(2) and is owned by no one else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `sendto(2)` of `buf` to an IPv4 address (the port is unused by raw sockets).
pub fn send_to_v4(sock: &impl AsRawFd, buf: &[u8], dst: Ipv4Addr) -> io::Result<usize> {
    let addr = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 0,
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes(dst.octets()),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: `buf` is readable for `buf.len()` bytes and `addr` is a valid
    // sockaddr_in whose size is passed; both outlive the call.
    let n = unsafe {
        libc::sendto(
            sock.as_raw_fd(),
            buf.as_ptr().cast(),
            buf.len(),
            0,
            (&addr as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// Waits up to `timeout` for a datagram and reads it into `buf`; `None` on
/// timeout. poll(2), then recv(2).
pub fn recv_timeout(
    sock: &impl AsRawFd,
    buf: &mut [u8],
    timeout: Duration,
) -> io::Result<Option<usize>> {
    let mut pfd = libc::pollfd {
        fd: sock.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = timeout.as_millis().min(i32::MAX as u128) as libc::c_int;
    // SAFETY: `pfd` is one valid pollfd, and we pass a count of 1.
    let ready = unsafe { libc::poll(&mut pfd, 1, ms) };
    if ready < 0 {
        let e = io::Error::last_os_error();
        return if e.kind() == io::ErrorKind::Interrupted {
            Ok(None)
        } else {
            Err(e)
        };
    }
    if ready == 0 {
        return Ok(None);
    }
    // SAFETY: `buf` is writable for `buf.len()` bytes for the whole call.
    let n = unsafe { libc::recv(sock.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(Some(n as usize))
    }
}

/// Installs `handler` for each of `signals` with `sigaction(2)`, flags
/// `SA_RESETHAND` (a second signal gets the default action, so a second
/// Ctrl-C ends the process at once) and `SA_RESTART` (bounded socket waits
/// resume instead of failing with EINTR). The handler must be
/// async-signal-safe: an atomic store, nothing more.
pub fn on_signals(signals: &[libc::c_int], handler: extern "C" fn(libc::c_int)) -> io::Result<()> {
    for &signo in signals {
        // SAFETY: an all-zero sigaction is a valid value (empty mask, no
        // flags) which is then filled in; `handler` has the signature
        // sa_handler expects, and the caller's contract (above) keeps it
        // async-signal-safe.
        let rc = unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = handler as libc::sighandler_t;
            sa.sa_flags = libc::SA_RESETHAND | libc::SA_RESTART;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(signo, &sa, std::ptr::null_mut())
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Raises the soft `RLIMIT_NOFILE` to at least `want` (never above the hard
/// limit, never lowering it), with getrlimit(2)/setrlimit(2).
pub fn raise_nofile(want: u64) -> io::Result<()> {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `r` is a valid, writable rlimit for the duration of the call.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let target = want.min(r.rlim_max);
    if r.rlim_cur >= target {
        return Ok(());
    }
    r.rlim_cur = target;
    // SAFETY: `r` is a valid rlimit read by the kernel during the call.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &r) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
