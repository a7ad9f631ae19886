//! `listen` and `send`: UDP through the lab, with sockets that live in the
//! lab's namespaces.
//!
//! A socket belongs to the network namespace its creating thread was in when
//! `socket(2)` ran, for its whole life (see network_namespaces(7)). So each
//! socket here is created on a short-lived thread that entered the right
//! namespace, then used from any thread. The sender is bound to `veth1@1`
//! with `SO_BINDTODEVICE` (socket(7)): whatever the routing table says, it
//! can only leave by the lab's wire, never by the host's real interface.

use crate::error::io_text;
use std::io::{self, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, Instant};

use super::plan::{Side, DEST_ADDR, LISTEN_PORT, PREFIX_LEN, SUBNET_2, VETH1_1};
use super::{procfs, sys, Lab, LabError};

/// The lab's listening address, 10.0.2.11:7777.
pub const LISTEN_ADDR: SocketAddrV4 = SocketAddrV4::new(DEST_ADDR, LISTEN_PORT);

/// Limits and behaviour of `listen`.
#[derive(Clone, Copy, Debug, Default)]
pub struct ListenOptions {
    /// Stop after this many datagrams; `None`: until Ctrl-C or the timeout.
    pub count: Option<u64>,
    /// Stop after this long; `None`: wait forever.
    pub timeout: Option<Duration>,
    /// Send each datagram back to its sender (two-way traffic).
    pub echo: bool,
}

/// One received datagram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Datagram {
    pub from: SocketAddr,
    pub payload: Vec<u8>,
}

/// The largest UDP payload over IPv4: the 16-bit IPv4 total length (65,535)
/// minus a 20-byte IPv4 header and the 8-byte UDP header (RFC 768, RFC 791).
/// Larger sends fail with EMSGSIZE.
pub const MAX_UDP_PAYLOAD: usize = 65_535 - 20 - 8;

impl Lab {
    /// A UDP socket bound to 10.0.2.11:7777 inside `netns_2`.
    pub fn udp_listener(&self) -> Result<UdpSocket, LabError> {
        self.require_up()?;
        self.run_in(Side::Netns2, || UdpSocket::bind(LISTEN_ADDR))?
            .map_err(|e| {
                LabError::Failed(format!(
                    "binding UDP {LISTEN_ADDR} in {}: {}{}",
                    self.names.label(Side::Netns2),
                    io_text(&e),
                    if e.kind() == io::ErrorKind::AddrInUse {
                        " (another `redirect-lab listen` is running?)"
                    } else {
                        ""
                    }
                ))
            })
    }

    /// Checks that the host side can reach the lab, and only through it:
    /// `veth1@1` exists and the route to 10.0.2.0/24 goes through it.
    pub fn check_host_route(&self) -> Result<(), LabError> {
        let host = self.names.label(Side::Host).to_string();
        let text = self.read_proc(Side::Host, "route")?;
        let via_lab = procfs::parse_routes(&text)
            .into_iter()
            .any(|r| r.iface == VETH1_1 && r.dst == SUBNET_2 && r.prefix_len == PREFIX_LEN);
        if via_lab {
            Ok(())
        } else {
            Err(LabError::NotUp(format!(
                "in {host}, there is no route to {SUBNET_2}/{PREFIX_LEN} via {VETH1_1}; \
                 refusing to send, so nothing leaves by another interface. \
                 Run `redirect-lab up{}` first.",
                self.names.prefix_arg()
            )))
        }
    }

    /// A UDP socket in the host-side namespace, bound to `veth1@1`.
    pub fn host_udp_socket(&self) -> Result<UdpSocket, LabError> {
        self.require_up()?;
        self.check_host_route()?;
        let host = self.names.label(Side::Host).to_string();
        self.run_in(Side::Host, || -> io::Result<UdpSocket> {
            let sock = UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0))?;
            sys::bind_to_device(&sock, VETH1_1)?;
            Ok(sock)
        })?
        .map_err(|e| {
            LabError::Failed(format!(
                "UDP socket on {VETH1_1} in {host}: {os}",
                os = io_text(&e)
            ))
        })
    }

    /// Sends one datagram from the host side to 10.0.2.11:7777 and, when
    /// `wait_reply` is set, waits that long for one answer.
    pub fn send(
        &self,
        payload: &[u8],
        wait_reply: Option<Duration>,
    ) -> Result<Option<Datagram>, LabError> {
        if payload.len() > MAX_UDP_PAYLOAD {
            return Err(LabError::Input(format!(
                "the payload is {} bytes; one UDP datagram over IPv4 carries at most \
                 {MAX_UDP_PAYLOAD} (65,535 minus the 20-byte IPv4 and 8-byte UDP headers), \
                 and the kernel would refuse it with EMSGSIZE",
                payload.len()
            )));
        }
        let sock = self.host_udp_socket()?;
        sock.send_to(payload, LISTEN_ADDR).map_err(|e| {
            LabError::Failed(format!(
                "sending to {LISTEN_ADDR} on {VETH1_1}: {os}",
                os = io_text(&e)
            ))
        })?;
        let Some(wait) = wait_reply else {
            return Ok(None);
        };
        recv_one(&sock, Instant::now() + wait)
            .map_err(|e| LabError::Failed(format!("waiting for a reply: {os}", os = io_text(&e))))
    }

    /// Receives on 10.0.2.11:7777 in `netns_2` until a limit in `options`
    /// is reached, and returns how many datagrams came.
    ///
    /// A socket stays in the namespace it was made in, even after `up`
    /// rebuilds the lab or `down` removes it; a listener bound there would
    /// hear nothing ever again. So the namespace's identity (the nsfs inode
    /// behind `/run/netns/NAME`) is checked whenever the socket is idle,
    /// and the listener follows the lab: it waits while the lab is down and
    /// binds again in the new `netns_2`.
    pub fn listen(
        &self,
        options: ListenOptions,
        mut on_event: impl FnMut(ListenEvent<'_>),
    ) -> Result<u64, LabError> {
        let start = Instant::now();
        let end = options.timeout.map(|t| start + t);
        let ns_path = netlink::netns::path_of(&self.names.netns_2);
        let mut received = 0u64;
        let err = |e: io::Error| {
            LabError::Failed(format!(
                "receiving on {LISTEN_ADDR}: {os}",
                os = io_text(&e)
            ))
        };
        // Read the identity before binding: if the lab is replaced in
        // between, the next idle check sees a change and binds again,
        // which is harmless; the other order could miss a replacement.
        let mut bound_to = netns_identity(&ns_path);
        let mut sock = self.udp_listener()?;
        on_event(ListenEvent::Listening);
        loop {
            loop {
                if options.count.is_some_and(|c| received >= c)
                    || end.is_some_and(|e| Instant::now() >= e)
                {
                    return Ok(received);
                }
                let slice = Instant::now() + IDLE_CHECK;
                let deadline = end.map_or(slice, |e| e.min(slice));
                match recv_one(&sock, deadline).map_err(err)? {
                    Some(d) => {
                        if options.echo {
                            sock.send_to(&d.payload, d.from).map_err(err)?;
                        }
                        received += 1;
                        on_event(ListenEvent::Datagram(&d));
                    }
                    None if netns_identity(&ns_path) != bound_to => break,
                    None => {}
                }
            }
            // The namespace changed under us: wait for a complete lab.
            if !self.is_up() {
                on_event(ListenEvent::LabGone);
                while !self.is_up() {
                    if end.is_some_and(|e| Instant::now() >= e) {
                        return Ok(received);
                    }
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
            // `up` creates the namespaces first and the addresses later:
            // retry the bind until 10.0.2.11 exists. The event is reported
            // only once the new socket is bound, so nothing sent after it
            // is missed.
            let mut tries = 0;
            (bound_to, sock) = loop {
                let identity = netns_identity(&ns_path);
                match self.udp_listener() {
                    Ok(s) => break (identity, s),
                    Err(e) if tries >= 50 => return Err(e),
                    Err(_) => {
                        tries += 1;
                        std::thread::sleep(Duration::from_millis(100));
                    }
                }
            };
            on_event(ListenEvent::LabRebuilt);
        }
    }
}

/// What [`Lab::listen`] reports.
#[derive(Debug)]
pub enum ListenEvent<'a> {
    /// The socket is bound in `netns_2`: reported once, before anything
    /// else, so a caller announces "listening" only when it is true.
    Listening,
    /// A datagram arrived.
    Datagram(&'a Datagram),
    /// The lab was removed; waiting for the next `up`.
    LabGone,
    /// The lab was rebuilt; now listening in the new `netns_2`.
    LabRebuilt,
}

/// How often an idle listener checks that its namespace is still the lab's.
const IDLE_CHECK: Duration = Duration::from_secs(1);

/// (device, inode) of the namespace mounted at `path`: the same pair means
/// the same namespace (nsfs gives each namespace its own inode).
fn netns_identity(path: &Path) -> Option<(u64, u64)> {
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// The receive loop of `listen`, on an already bound socket.
pub fn listen_on(
    sock: &UdpSocket,
    options: ListenOptions,
    on_datagram: &mut dyn FnMut(&Datagram),
) -> io::Result<u64> {
    let start = Instant::now();
    let mut received = 0u64;
    loop {
        if options.count.is_some_and(|c| received >= c) {
            return Ok(received);
        }
        let deadline = match options.timeout {
            Some(t) => {
                let d = start + t;
                if Instant::now() >= d {
                    return Ok(received);
                }
                d
            }
            // Wake up now and then even with no timeout, so the loop stays
            // simple; Ctrl-C ends the process the usual way.
            None => Instant::now() + Duration::from_secs(3600),
        };
        if let Some(d) = recv_one(sock, deadline)? {
            if options.echo {
                sock.send_to(&d.payload, d.from)?;
            }
            received += 1;
            on_datagram(&d);
        }
    }
}

/// One datagram, or `None` when `deadline` passes first.
pub fn recv_one(sock: &UdpSocket, deadline: Instant) -> io::Result<Option<Datagram>> {
    let mut buf = vec![0u8; 65536];
    loop {
        let now = Instant::now();
        if now >= deadline {
            return Ok(None);
        }
        // set_read_timeout(Some(0)) is an error, so never pass a zero duration.
        sock.set_read_timeout(Some((deadline - now).max(Duration::from_millis(1))))?;
        match sock.recv_from(&mut buf) {
            Ok((n, from)) => {
                return Ok(Some(Datagram {
                    from,
                    payload: buf[..n].to_vec(),
                }))
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) =>
            {
                continue
            }
            Err(e) => return Err(e),
        }
    }
}

/// Prints a datagram the way `listen` shows it: the payload as text (one
/// trailing newline dropped), with its sender.
pub fn print_datagram(out: &mut dyn Write, d: &Datagram) -> io::Result<()> {
    let text = String::from_utf8_lossy(&d.payload);
    writeln!(
        out,
        "{} (from {})",
        text.strip_suffix('\n').unwrap_or(&text),
        d.from
    )
}
