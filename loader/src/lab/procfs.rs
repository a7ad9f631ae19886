//! Counters and routes read from `/proc/thread-self/net/`, the files that
//! describe the network namespace of the calling thread.
//!
//! Formats follow the kernel's printers: `/proc/net/dev` (`dev_seq_show` in
//! net/core/net-procfs.c), `/proc/net/snmp` (`snmp_seq_show_ipstats` in
//! net/ipv4/proc.c) and `/proc/net/route` (`fib_route_seq_show` in
//! net/ipv4/fib_trie.c). `/proc/thread-self` matters: `/proc/self/net` shows
//! the namespace of the process's main thread, while the lab reads these from
//! a thread that entered another namespace.
//!
//! The parsers take any text and never panic; a missing field is `None`.

use std::net::Ipv4Addr;

/// One device's line of `/proc/net/dev`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DevCounters {
    pub rx_bytes: u64,
    pub rx_packets: u64,
    pub rx_dropped: u64,
    pub tx_bytes: u64,
    pub tx_packets: u64,
    pub tx_dropped: u64,
}

/// Parses `/proc/net/dev` into (device, counters) pairs. The line is
/// `NAME: rx_bytes packets errs drop fifo frame compressed multicast
/// tx_bytes packets errs drop fifo colls carrier compressed`.
pub fn parse_net_dev(text: &str) -> Vec<(String, DevCounters)> {
    let mut out = Vec::new();
    for line in text.lines().skip(2) {
        // Device names may contain ':' only in aliases; the last ':' before
        // the numbers ends the name. veth1@1 has no ':'.
        let Some((name, rest)) = line.rsplit_once(':') else {
            continue;
        };
        let nums: Vec<u64> = rest
            .split_whitespace()
            .filter_map(|f| f.parse().ok())
            .collect();
        if nums.len() < 16 {
            continue;
        }
        out.push((
            name.trim().to_string(),
            DevCounters {
                rx_bytes: nums[0],
                rx_packets: nums[1],
                rx_dropped: nums[3],
                tx_bytes: nums[8],
                tx_packets: nums[9],
                tx_dropped: nums[11],
            },
        ));
    }
    out
}

/// One counter of a `/proc/net/snmp` table, e.g. ("Ip", "ForwDatagrams").
/// Each table is two lines: `Ip: Name1 Name2 ...` then `Ip: 1 2 ...`.
pub fn snmp_value(text: &str, table: &str, field: &str) -> Option<u64> {
    let prefix = format!("{table}:");
    let mut lines = text.lines().filter(|l| l.starts_with(&prefix));
    let header = lines.next()?;
    let values = lines.next()?;
    let idx = header.split_whitespace().position(|f| f == field)?;
    values.split_whitespace().nth(idx)?.parse().ok()
}

/// A route of the main table, from `/proc/net/route`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub iface: String,
    pub dst: Ipv4Addr,
    pub prefix_len: u8,
}

/// Parses `/proc/net/route`. Addresses there are the raw `__be32` printed
/// with `%08X`, i.e. read as a native integer: "0002000A" is 10.0.2.0 on a
/// little-endian machine. Its native bytes are therefore the address bytes.
pub fn parse_routes(text: &str) -> Vec<Route> {
    let mut out = Vec::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 8 {
            continue;
        }
        let (Ok(dst), Ok(mask)) = (u32::from_str_radix(f[1], 16), u32::from_str_radix(f[7], 16))
        else {
            continue;
        };
        out.push(Route {
            iface: f[0].to_string(),
            dst: Ipv4Addr::from(dst.to_ne_bytes()),
            prefix_len: mask.count_ones() as u8,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const NET_DEV: &str = "\
Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0
veth1@2:    1234      10    0    1    0     0          0         0      566       5    0    2    0     0       0          0
";

    #[test]
    fn parses_net_dev() {
        let devs = parse_net_dev(NET_DEV);
        assert_eq!(devs.len(), 2);
        assert_eq!(devs[1].0, "veth1@2");
        assert_eq!(
            devs[1].1,
            DevCounters {
                rx_bytes: 1234,
                rx_packets: 10,
                rx_dropped: 1,
                tx_bytes: 566,
                tx_packets: 5,
                tx_dropped: 2,
            }
        );
        assert!(parse_net_dev("garbage\n\n:::\nx: 1 2\n").is_empty());
    }

    #[test]
    fn parses_routes() {
        let a = u32::from_ne_bytes([10, 0, 2, 0]);
        let m = u32::from_ne_bytes([255, 255, 255, 0]);
        let t = format!(
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
             veth1@1\t{a:08X}\t00000000\t0001\t0\t0\t0\t{m:08X}\t0\t0\t0\nbad line\nx y z 1 2 3 4 QQ\n"
        );
        assert_eq!(
            parse_routes(&t),
            vec![Route {
                iface: "veth1@1".into(),
                dst: Ipv4Addr::new(10, 0, 2, 0),
                prefix_len: 24
            }]
        );
    }

    #[test]
    fn reads_snmp_fields() {
        let t = "Ip: Forwarding DefaultTTL InReceives ForwDatagrams\nIp: 1 64 30 7\nIcmp: InMsgs\nIcmp: 3\n";
        assert_eq!(snmp_value(t, "Ip", "ForwDatagrams"), Some(7));
        assert_eq!(snmp_value(t, "Ip", "InReceives"), Some(30));
        assert_eq!(snmp_value(t, "Icmp", "InMsgs"), Some(3));
        assert_eq!(snmp_value(t, "Ip", "Nope"), None);
        assert_eq!(snmp_value("Ip: A\n", "Ip", "A"), None);
    }

    #[test]
    fn parsers_never_panic_on_any_text() {
        let alphabet = b"0123456789abcdefABCDEF :|\n\tIpveth@-_xX";
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        for round in 0..20_000usize {
            let len = round % 300;
            let text: String = (0..len)
                .map(|_| {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    alphabet[(rng % alphabet.len() as u64) as usize] as char
                })
                .collect();
            let _ = parse_net_dev(&text);
            let _ = parse_routes(&text);
            let _ = snmp_value(&text, "Ip", "ForwDatagrams");
        }
    }
}
