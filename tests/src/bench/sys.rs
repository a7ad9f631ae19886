//! The few system calls the traffic generators need that `std` lacks:
//! `setns(2)` to put a thread into a lab namespace, and `sendmmsg(2)` /
//! `recvmmsg(2)` to move UDP datagrams in batches, so that the sender, not
//! the syscall overhead, is what limits the packet rate less than the path
//! being measured. Layouts follow `struct mmsghdr` in `<sys/socket.h>` (glibc)
//! and `include/linux/socket.h`, through the `libc` crate.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

/// Moves the calling thread into the network namespace at `path` (a file
/// under /run/netns or /proc/PID/ns/net). Only this thread changes: the
/// sockets it creates afterwards belong to that namespace for their whole
/// life, whichever thread later uses them.
pub fn enter_netns(path: &Path) -> io::Result<()> {
    let f = File::open(path)
        .map_err(|e| io::Error::new(e.kind(), format!("open {}: {e}", path.display())))?;
    // SAFETY: `f` is an open file descriptor for the duration of the call;
    // setns(2) only reads its arguments.
    let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc != 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(
            e.kind(),
            format!(
                "setns({}, CLONE_NEWNET): {e} (needs root / CAP_SYS_ADMIN)",
                path.display()
            ),
        ));
    }
    Ok(())
}

/// One `struct mmsghdr` per iovec, each carrying just that iovec: the array
/// both sendmmsg(2) and recvmmsg(2) take. The headers hold `iovs`' addresses,
/// so `iovs` must stay alive and unmoved until the call using them returns.
fn mmsghdrs(iovs: &mut [libc::iovec]) -> Vec<libc::mmsghdr> {
    iovs.iter_mut()
        .map(|iov| {
            // SAFETY: an all-zero mmsghdr is valid (null name, no control data).
            let mut m: libc::mmsghdr = unsafe { std::mem::zeroed() };
            m.msg_hdr.msg_iov = iov;
            m.msg_hdr.msg_iovlen = 1;
            m
        })
        .collect()
}

/// Sends every buffer in `bufs` on the connected socket `fd` with one
/// sendmmsg(2). Returns how many datagrams the kernel took (it may take
/// fewer than offered when the socket buffer is full; ENOBUFS and EAGAIN
/// come back as `Ok(0)` so the caller can count the shortfall as loss
/// instead of stopping).
pub fn sendmmsg(fd: &impl AsRawFd, bufs: &[&[u8]]) -> io::Result<usize> {
    let mut iovs: Vec<libc::iovec> = bufs
        .iter()
        .map(|b| libc::iovec {
            iov_base: b.as_ptr() as *mut libc::c_void,
            iov_len: b.len(),
        })
        .collect();
    let mut msgs = mmsghdrs(&mut iovs);
    // SAFETY: `msgs` points at `msgs.len()` initialised headers whose iovecs
    // point into `bufs`, all alive until the call returns; the kernel only
    // reads the buffers and writes each `msg_len`.
    let n = unsafe {
        libc::sendmmsg(
            fd.as_raw_fd(),
            msgs.as_mut_ptr(),
            msgs.len() as libc::c_uint,
            0,
        )
    };
    if n < 0 {
        let e = io::Error::last_os_error();
        return match e.raw_os_error() {
            Some(libc::ENOBUFS) | Some(libc::EAGAIN) => Ok(0),
            _ => Err(e),
        };
    }
    Ok(n as usize)
}

/// Receives up to `bufs.len()` datagrams with one recvmmsg(2), waiting at
/// most for the socket's receive timeout (SO_RCVTIMEO) for the first one.
/// Returns the length of each datagram received; an expired timeout is an
/// empty vector, not an error.
pub fn recvmmsg(fd: &impl AsRawFd, bufs: &mut [Vec<u8>]) -> io::Result<Vec<usize>> {
    let mut iovs: Vec<libc::iovec> = bufs
        .iter_mut()
        .map(|b| libc::iovec {
            iov_base: b.as_mut_ptr() as *mut libc::c_void,
            iov_len: b.len(),
        })
        .collect();
    let mut msgs = mmsghdrs(&mut iovs);
    // SAFETY: each iovec points into a distinct live Vec of the stated
    // length, which the kernel may fill; `msgs` lives across the call; a
    // null timeout makes the call honour SO_RCVTIMEO only.
    let n = unsafe {
        libc::recvmmsg(
            fd.as_raw_fd(),
            msgs.as_mut_ptr(),
            msgs.len() as libc::c_uint,
            libc::MSG_WAITFORONE,
            std::ptr::null_mut(),
        )
    };
    if n < 0 {
        let e = io::Error::last_os_error();
        return match e.raw_os_error() {
            Some(libc::EAGAIN) | Some(libc::EINTR) => Ok(Vec::new()),
            _ => Err(e),
        };
    }
    Ok(msgs[..n as usize]
        .iter()
        .map(|m| m.msg_len as usize)
        .collect())
}

/// Sets a socket's receive buffer to `bytes`, past `net.core.rmem_max`
/// (SO_RCVBUFFORCE, which needs CAP_NET_ADMIN), so that a receiver that is
/// scheduled late does not turn the measurement into a socket-buffer test.
/// Falls back to SO_RCVBUF, which the kernel caps at rmem_max.
pub fn set_rcvbuf(fd: &impl AsRawFd, bytes: usize) -> io::Result<()> {
    let val = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    for opt in [libc::SO_RCVBUFFORCE, libc::SO_RCVBUF] {
        // SAFETY: `val` is a live c_int and its size is passed with it.
        let rc = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                opt,
                (&val as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc == 0 {
            return Ok(());
        }
    }
    Err(io::Error::last_os_error())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;
    use std::time::Duration;

    #[test]
    fn batches_cross_loopback() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        tx.connect(rx.local_addr().unwrap()).unwrap();
        let payloads: Vec<Vec<u8>> = (0..8u8).map(|i| vec![i; 10 + usize::from(i)]).collect();
        let refs: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
        assert_eq!(sendmmsg(&tx, &refs).unwrap(), 8);
        let mut bufs = vec![vec![0u8; 64]; 16];
        let mut got = Vec::new();
        while got.len() < 8 {
            let lens = recvmmsg(&rx, &mut bufs).unwrap();
            assert!(!lens.is_empty(), "timed out after {} datagrams", got.len());
            got.extend(lens.iter().zip(&bufs).map(|(l, b)| b[..*l].to_vec()));
        }
        assert_eq!(got, payloads);
    }

    #[test]
    fn timeout_is_an_empty_batch() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        let mut bufs = vec![vec![0u8; 16]; 4];
        assert!(recvmmsg(&rx, &mut bufs).unwrap().is_empty());
    }

    #[test]
    fn missing_namespace_file_is_a_named_error() {
        let e = enter_netns(Path::new("/nonexistent/netns")).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/netns"));
    }
}
