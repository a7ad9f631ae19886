//! `ping`: ICMP echo from the host side to 10.0.2.11, through the lab and
//! back, to show that two-way traffic works and not only one datagram.
//!
//! The request goes out of `veth1@1` (bound with `SO_BINDTODEVICE`), is
//! redirected by the program on `veth1@2`, and is answered by netns_2; the
//! reply comes back through netns_1's ordinary IP stack. Messages follow
//! RFC 792 (echo and echo reply) with the RFC 1071 checksum; the types are
//! those of `include/uapi/linux/icmp.h`, the IPv4 header that of
//! `include/uapi/linux/ip.h` (`struct iphdr`). The parser takes any bytes
//! and never panics.

use crate::error::io_text;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use super::plan::{Side, DEST_ADDR, VETH1_1};
use super::{sys, Lab, LabError};

/// `ICMP_ECHOREPLY` (include/uapi/linux/icmp.h).
pub const ICMP_ECHOREPLY: u8 = 0;
/// `ICMP_ECHO` (include/uapi/linux/icmp.h).
pub const ICMP_ECHO: u8 = 8;
/// `IPPROTO_ICMP` (include/uapi/linux/in.h), the `protocol` of `struct iphdr`.
pub const IPPROTO_ICMP: u8 = 1;

/// The Internet checksum (RFC 1071): the ones' complement of the ones'
/// complement sum of 16-bit big-endian words, an odd last byte padded.
pub fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for chunk in data.chunks(2) {
        let word = match chunk {
            [a, b] => u16::from_be_bytes([*a, *b]),
            [a] => u16::from_be_bytes([*a, 0]),
            _ => 0,
        };
        sum += u32::from(word);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An ICMP echo request: type, code, checksum, identifier, sequence, payload.
pub fn echo_request(id: u16, seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut m = vec![ICMP_ECHO, 0, 0, 0];
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(payload);
    let c = checksum(&m);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    m
}

/// An echo reply as read from a raw socket (IPv4 header included).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EchoReply {
    pub from: Ipv4Addr,
    pub id: u16,
    pub seq: u16,
    pub payload: Vec<u8>,
}

/// Parses an IPv4 packet carrying an ICMP echo reply with a valid checksum;
/// `None` for anything else.
pub fn parse_echo_reply(packet: &[u8]) -> Option<EchoReply> {
    let first = *packet.first()?;
    if first >> 4 != 4 {
        return None;
    }
    let ihl = usize::from(first & 0x0f) * 4;
    if ihl < 20 || *packet.get(9)? != IPPROTO_ICMP {
        return None;
    }
    let from = Ipv4Addr::new(
        *packet.get(12)?,
        *packet.get(13)?,
        *packet.get(14)?,
        *packet.get(15)?,
    );
    let icmp = packet.get(ihl..)?;
    if icmp.len() < 8 || icmp[0] != ICMP_ECHOREPLY || icmp[1] != 0 || checksum(icmp) != 0 {
        return None;
    }
    Some(EchoReply {
        from,
        id: u16::from_be_bytes([icmp[4], icmp[5]]),
        seq: u16::from_be_bytes([icmp[6], icmp[7]]),
        payload: icmp[8..].to_vec(),
    })
}

/// One answered echo.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PingReply {
    pub seq: u16,
    pub rtt: Duration,
}

impl Lab {
    /// Sends `count` echo requests to 10.0.2.11 from the host side, one
    /// after the other, waiting up to `timeout` for each reply. Returns one
    /// entry per request: `None` when no reply came.
    pub fn ping(&self, count: u16, timeout: Duration) -> Result<Vec<Option<PingReply>>, LabError> {
        static NEXT_ID: AtomicU16 = AtomicU16::new(0);
        self.require_up()?;
        self.check_host_route()?;
        let host = self.names.label(Side::Host).to_string();
        let sock = self
            .run_in(Side::Host, || -> std::io::Result<_> {
                let s = sys::icmp_raw_socket()?;
                sys::bind_to_device(&s, VETH1_1)?;
                Ok(s)
            })?
            .map_err(|e| {
                LabError::Failed(format!(
                    "raw ICMP socket on {VETH1_1} in {host}: {os}",
                    os = io_text(&e)
                ))
            })?;
        // Raw sockets see every ICMP packet of the namespace: our id tells
        // our replies apart from anyone else's.
        let id = (std::process::id() as u16) ^ NEXT_ID.fetch_add(0x3b1, Ordering::Relaxed);
        let payload = b"redirect-lab ping";
        let mut buf = vec![0u8; 2048];
        let mut out = Vec::new();
        for seq in 1..=count {
            let start = Instant::now();
            sys::send_to_v4(&sock, &echo_request(id, seq, payload), DEST_ADDR).map_err(|e| {
                LabError::Failed(format!(
                    "sending ICMP echo to {DEST_ADDR}: {os}",
                    os = io_text(&e)
                ))
            })?;
            let mut answer = None;
            while let Some(left) = timeout.checked_sub(start.elapsed()) {
                let Some(n) = sys::recv_timeout(&sock, &mut buf, left).map_err(|e| {
                    LabError::Failed(format!("receiving ICMP: {os}", os = io_text(&e)))
                })?
                else {
                    break;
                };
                if let Some(r) = parse_echo_reply(&buf[..n]) {
                    if r.from == DEST_ADDR && r.id == id && r.seq == seq && r.payload == payload {
                        answer = Some(PingReply {
                            seq,
                            rtt: start.elapsed(),
                        });
                        break;
                    }
                }
            }
            out.push(answer);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_matches_rfc_1071_example() {
        // RFC 1071 section 3: the words 0001 f203 f4f5 f6f7 sum to ddf2,
        // so the checksum is its complement, 220d.
        assert_eq!(
            checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]),
            0x220d
        );
        // A message that carries its checksum sums to zero.
        let m = echo_request(0x1234, 7, b"abc");
        assert_eq!(checksum(&m), 0);
        assert_eq!(&m[..2], &[ICMP_ECHO, 0]);
    }

    fn reply_packet(from: [u8; 4], icmp: &[u8]) -> Vec<u8> {
        let mut p = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 64, IPPROTO_ICMP, 0, 0];
        p.extend_from_slice(&from);
        p.extend_from_slice(&[10, 0, 1, 10]);
        p.extend_from_slice(icmp);
        p
    }

    #[test]
    fn parses_an_echo_reply() {
        let mut icmp = echo_request(9, 3, b"xyz");
        icmp[0] = ICMP_ECHOREPLY;
        icmp[2..4].copy_from_slice(&[0, 0]);
        let c = checksum(&icmp);
        icmp[2..4].copy_from_slice(&c.to_be_bytes());
        let r = parse_echo_reply(&reply_packet([10, 0, 2, 11], &icmp)).expect("reply");
        assert_eq!(
            r,
            EchoReply {
                from: DEST_ADDR,
                id: 9,
                seq: 3,
                payload: b"xyz".to_vec()
            }
        );
        // A request, a bad checksum, or a truncated packet is not a reply.
        assert_eq!(
            parse_echo_reply(&reply_packet([10, 0, 2, 11], &echo_request(9, 3, b"xyz"))),
            None
        );
        let mut bad = icmp.clone();
        bad[8] ^= 1;
        assert_eq!(parse_echo_reply(&reply_packet([10, 0, 2, 11], &bad)), None);
        assert_eq!(
            parse_echo_reply(&reply_packet([10, 0, 2, 11], &icmp[..5])),
            None
        );
    }

    #[test]
    fn never_panics_on_any_bytes() {
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        for len in 0..2000usize {
            let mut p = Vec::with_capacity(len % 80);
            for _ in 0..len % 80 {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                p.push(rng as u8);
            }
            if len % 3 == 0 && !p.is_empty() {
                p[0] = 0x40 | (p[0] & 0x0f);
            }
            let _ = parse_echo_reply(&p);
        }
    }
}
