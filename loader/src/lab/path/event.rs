//! The path tracer's event: the 64-byte record `bpf-src/path/skb.s` stores
//! for every hook a lab packet passes, and its decoding. Decoding never
//! panics: a short record is `None`.
//!
//! Layout (little-endian, as the program writes it from registers):
//!
//! | off | size | field |
//! |----:|-----:|-------|
//! | 0   | 8 | skb address |
//! | 8   | 8 | `bpf_ktime_get_ns()` |
//! | 16  | 4 | hook index |
//! | 20  | 4 | CPU |
//! | 24  | 4 | netns inode (`skb->dev->nd_net.net->ns.inum`) |
//! | 28  | 4 | ifindex (`skb->dev->ifindex`) |
//! | 32  | 4 | `skb->len` |
//! | 36  | 1 | `skb->pkt_type` |
//! | 38  | 2 | `skb->protocol` (big-endian) |
//! | 40  | 4 | `skb->mark` |
//! | 44  | 4 | drop reason (`kfree_skb` where the kernel has one) |
//! | 48  | 4 | IPv4 source, 52: destination (network order) |
//! | 56  | 2 | UDP source port, 58: destination port (network order) |
//! | 60  | 1 | IP protocol |
//!
//! The events of hooks that carry no skb reuse the record: `fib.s` puts the
//! lookup's error at 44, `xdp.s` the redirect's err at 44, and `neigh.s` the
//! entry's NUD state at 44 and its IPv4 key at 52 (skb 0 for all three).

use std::net::Ipv4Addr;

/// The size of one record.
pub const EVENT_SIZE: usize = 64;

/// `PACKET_*` (include/uapi/linux/if_packet.h): what `skb->pkt_type` means.
pub const PACKET_HOST: u8 = 0;
pub const PACKET_BROADCAST: u8 = 1;
pub const PACKET_MULTICAST: u8 = 2;
pub const PACKET_OTHERHOST: u8 = 3;
pub const PACKET_OUTGOING: u8 = 4;
pub const PACKET_LOOPBACK: u8 = 5;

/// `NUD_*` (include/uapi/linux/neighbour.h): a neighbour entry's state, the
/// `reason` field of a `neigh_*` event.
pub const NUD_INCOMPLETE: u8 = 0x01;
pub const NUD_REACHABLE: u8 = 0x02;
pub const NUD_STALE: u8 = 0x04;
pub const NUD_DELAY: u8 = 0x08;
pub const NUD_PROBE: u8 = 0x10;
pub const NUD_FAILED: u8 = 0x20;
pub const NUD_NOARP: u8 = 0x40;
pub const NUD_PERMANENT: u8 = 0x80;

/// The kernel's names of the bits set in a NUD state, `|`-joined
/// (`NONE` for 0: a new entry before its first solicitation).
pub fn nud_state_name(state: u8) -> String {
    const NAMES: [(u8, &str); 8] = [
        (NUD_INCOMPLETE, "INCOMPLETE"),
        (NUD_REACHABLE, "REACHABLE"),
        (NUD_STALE, "STALE"),
        (NUD_DELAY, "DELAY"),
        (NUD_PROBE, "PROBE"),
        (NUD_FAILED, "FAILED"),
        (NUD_NOARP, "NOARP"),
        (NUD_PERMANENT, "PERMANENT"),
    ];
    if state == 0 {
        return "NONE".into();
    }
    NAMES
        .iter()
        .filter(|(bit, _)| state & bit != 0)
        .map(|(_, n)| *n)
        .collect::<Vec<_>>()
        .join("|")
}

/// One event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub skb: u64,
    pub ts_ns: u64,
    pub hook: u32,
    pub cpu: u32,
    pub netns: u32,
    pub ifindex: u32,
    pub len: u32,
    pub pkt_type: u8,
    /// Host order (`ETH_P_IP` is 0x0800).
    pub protocol: u16,
    pub mark: u32,
    pub reason: u32,
    pub saddr: Ipv4Addr,
    pub daddr: Ipv4Addr,
    pub sport: u16,
    pub dport: u16,
    pub ip_proto: u8,
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

fn u64_at(b: &[u8], off: usize) -> u64 {
    u64::from(u32_at(b, off)) | (u64::from(u32_at(b, off + 4)) << 32)
}

impl Event {
    /// Decodes a record; `None` when it is shorter than [`EVENT_SIZE`].
    pub fn decode(b: &[u8]) -> Option<Event> {
        if b.len() < EVENT_SIZE {
            return None;
        }
        Some(Event {
            skb: u64_at(b, 0),
            ts_ns: u64_at(b, 8),
            hook: u32_at(b, 16),
            cpu: u32_at(b, 20),
            netns: u32_at(b, 24),
            ifindex: u32_at(b, 28),
            len: u32_at(b, 32),
            pkt_type: b[36],
            protocol: u16::from_be_bytes([b[38], b[39]]),
            mark: u32_at(b, 40),
            reason: u32_at(b, 44),
            saddr: Ipv4Addr::new(b[48], b[49], b[50], b[51]),
            daddr: Ipv4Addr::new(b[52], b[53], b[54], b[55]),
            sport: u16::from_be_bytes([b[56], b[57]]),
            dport: u16::from_be_bytes([b[58], b[59]]),
            ip_proto: b[60],
        })
    }
}

/// The kernel's name for a `pkt_type`.
pub fn pkt_type_name(t: u8) -> &'static str {
    match t {
        PACKET_HOST => "HOST",
        PACKET_BROADCAST => "BROADCAST",
        PACKET_MULTICAST => "MULTICAST",
        PACKET_OTHERHOST => "OTHERHOST",
        PACKET_OUTGOING => "OUTGOING",
        PACKET_LOOPBACK => "LOOPBACK",
        _ => "?",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_documented_layout() {
        let mut b = [0u8; EVENT_SIZE];
        b[0..8].copy_from_slice(&0xffff_8880_1234_5678u64.to_le_bytes());
        b[8..16].copy_from_slice(&99u64.to_le_bytes());
        b[16..20].copy_from_slice(&3u32.to_le_bytes());
        b[24..28].copy_from_slice(&4026531840u32.to_le_bytes());
        b[28..32].copy_from_slice(&7u32.to_le_bytes());
        b[32..36].copy_from_slice(&42u32.to_le_bytes());
        b[36] = PACKET_OTHERHOST;
        b[38..40].copy_from_slice(&[0x08, 0x00]);
        b[48..52].copy_from_slice(&[10, 0, 1, 10]);
        b[52..56].copy_from_slice(&[10, 0, 2, 11]);
        b[58..60].copy_from_slice(&7777u16.to_be_bytes());
        b[60] = 17;
        let e = Event::decode(&b).unwrap();
        assert_eq!(e.skb, 0xffff_8880_1234_5678);
        assert_eq!(
            (e.ts_ns, e.hook, e.netns, e.ifindex, e.len),
            (99, 3, 4026531840, 7, 42)
        );
        assert_eq!(pkt_type_name(e.pkt_type), "OTHERHOST");
        assert_eq!(e.protocol, 0x0800);
        assert_eq!(e.daddr, Ipv4Addr::new(10, 0, 2, 11));
        assert_eq!((e.dport, e.ip_proto), (7777, 17));
    }

    #[test]
    fn nud_states_by_their_kernel_names() {
        assert_eq!(nud_state_name(0), "NONE");
        assert_eq!(nud_state_name(NUD_INCOMPLETE), "INCOMPLETE");
        assert_eq!(nud_state_name(NUD_REACHABLE), "REACHABLE");
        assert_eq!(nud_state_name(NUD_STALE | NUD_PROBE), "STALE|PROBE");
    }

    #[test]
    fn never_panics_on_any_bytes() {
        let mut rng = 0x1234_5678_9abc_def0u64;
        for n in 0..10_000usize {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let len = n % 80;
            let bytes: Vec<u8> = (0..len).map(|i| (rng >> (i % 56)) as u8).collect();
            let e = Event::decode(&bytes);
            assert_eq!(e.is_some(), len >= EVENT_SIZE);
        }
    }
}
