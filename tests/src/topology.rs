//! The seed's topology, fully isolated, for one behaviour: three namespaces
//! of our own (the "host" side is a namespace too, so the real host's
//! interfaces and routes are never touched), built with the `netlink` crate
//! alone (the VMs have no iproute2).
//!
//! ```text
//! | <id>-h             | <id>-1                   | <id>-2                 |
//! | veth1@1 10.0.1.10 -|- veth1@2 10.0.1.11       |                        |
//! |                    |  veth2@1 10.0.2.10 ------|- veth2@2 10.0.2.11     |
//! |                    |  proxy ARP, forwarding   |  MAC 02:00:00:00:00:00 |
//! ```
//!
//! Everything is deleted when the [`Topology`] is dropped, also on failure
//! and on panic (the namespaces are `NetnsGuard`s). All of this lives in one
//! module so it can be swapped for `loader::lab`'s isolated (`--prefix`) mode.

use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use netlink::handle::Handle;
use netlink::netns::NetnsGuard;
use netlink::tc::{BpfFilterSpec, FilterId, TcHook};

use crate::program::DEST_MAC;
use crate::sys::PacketTap;

pub const HOST_ADDR: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 10);
pub const NS1_ADDR_1: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 11);
pub const NS1_ADDR_2: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 10);
pub const DEST_ADDR: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 11);
pub const DEST_PORT: u16 = 7777;

/// Which namespace of the topology.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Host,
    Ns1,
    Ns2,
}

pub struct Topology {
    // Field order is drop order: netns_2 and netns_1 go before the host side.
    pub ns2: NetnsGuard,
    pub ns1: NetnsGuard,
    pub host: NetnsGuard,
    /// veth1@2 in netns_1: where the program is attached (ingress).
    pub veth1_2: i32,
    /// veth2@1 in netns_1: the redirect target.
    pub veth2_1: i32,
    /// veth2@2 in netns_2.
    pub veth2_2: i32,
    /// veth1@1 on the host side.
    pub veth1_1: i32,
}

fn nl<T>(what: &str, r: netlink::error::Result<T>) -> Result<T, String> {
    r.map_err(|e| format!("{what}: {e}"))
}

impl Topology {
    /// Builds the seed's topology under unique names (`lt<pid>-<n>`).
    pub fn build(tag: &str) -> Result<Topology, String> {
        let host = nl(
            "create host-side netns",
            NetnsGuard::unique(&format!("lt-{tag}-h")),
        )?;
        let ns1 = nl("create netns_1", NetnsGuard::unique(&format!("lt-{tag}-1")))?;
        let ns2 = nl("create netns_2", NetnsGuard::unique(&format!("lt-{tag}-2")))?;
        for ns in [&host, &ns1, &ns2] {
            // No IPv6: router solicitations and MLD reports would add frames
            // the counting behaviours must not see.
            for p in [
                "net/ipv6/conf/all/disable_ipv6",
                "net/ipv6/conf/default/disable_ipv6",
            ] {
                let _ = ns.sysctl_write(p, "1");
            }
        }
        let mut h = nl("netlink socket in host side", Handle::in_netns(&host))?;
        let mut h1 = nl("netlink socket in netns_1", Handle::in_netns(&ns1))?;
        let mut h2 = nl("netlink socket in netns_2", Handle::in_netns(&ns2))?;

        let veth1_1 = nl("veth1@1", h.link_add_veth("veth1@1", "veth1@2", Some(&ns1)))?;
        let veth2_1 = nl(
            "veth2@1",
            h1.link_add_veth("veth2@1", "veth2@2", Some(&ns2)),
        )?;
        let veth1_2 = nl("veth1@2 ifindex", h1.link_index("veth1@2"))?;
        let veth2_2 = nl("veth2@2 ifindex", h2.link_index("veth2@2"))?;

        nl("veth2@2 MAC", h2.link_set_address(veth2_2, DEST_MAC))?;
        nl("addr veth1@1", h.addr_add_v4(veth1_1, HOST_ADDR, 24))?;
        nl("addr veth1@2", h1.addr_add_v4(veth1_2, NS1_ADDR_1, 24))?;
        nl("addr veth2@1", h1.addr_add_v4(veth2_1, NS1_ADDR_2, 24))?;
        nl("addr veth2@2", h2.addr_add_v4(veth2_2, DEST_ADDR, 24))?;
        for (hd, name) in [(&mut h, "lo"), (&mut h1, "lo"), (&mut h2, "lo")] {
            let lo = nl("lo ifindex", hd.link_index(name))?;
            nl("lo up", hd.link_set_up(lo))?;
        }
        nl("veth1@1 up", h.link_set_up(veth1_1))?;
        nl("veth1@2 up", h1.link_set_up(veth1_2))?;
        nl("veth2@1 up", h1.link_set_up(veth2_1))?;
        nl("veth2@2 up", h2.link_set_up(veth2_2))?;
        nl(
            "route to 10.0.2.0/24",
            h.route_add_v4(Ipv4Addr::new(10, 0, 2, 0), 24, veth1_1, None),
        )?;
        nl(
            "route to 10.0.1.0/24",
            h2.route_add_v4(Ipv4Addr::new(10, 0, 1, 0), 24, veth2_2, None),
        )?;
        // Proxy ARP answers only when forwarding is on for the device; a new
        // namespace inherits nothing from a Docker host here, so set both.
        nl(
            "forwarding",
            ns1.sysctl_write("net/ipv4/conf/all/forwarding", "1"),
        )?;
        nl(
            "proxy_arp veth1@2",
            ns1.sysctl_write("net/ipv4/conf/veth1@2/proxy_arp", "1"),
        )?;
        nl(
            "proxy_arp veth2@1",
            ns1.sysctl_write("net/ipv4/conf/veth2@1/proxy_arp", "1"),
        )?;
        Ok(Topology {
            ns2,
            ns1,
            host,
            veth1_2,
            veth2_1,
            veth2_2,
            veth1_1,
        })
    }

    pub fn netns(&self, side: Side) -> &NetnsGuard {
        match side {
            Side::Host => &self.host,
            Side::Ns1 => &self.ns1,
            Side::Ns2 => &self.ns2,
        }
    }

    pub fn handle(&self, side: Side) -> Result<Handle, String> {
        nl("netlink socket", Handle::in_netns(self.netns(side)))
    }

    /// The seed's attach: clsact on veth1@2, then a direct-action cls_bpf
    /// filter on its ingress.
    pub fn attach(&self, prog: &loader::Program) -> Result<FilterId, String> {
        let mut h = self.handle(Side::Ns1)?;
        nl("clsact on veth1@2", h.qdisc_add_clsact(self.veth1_2))?;
        let spec = BpfFilterSpec::new(TcHook::Ingress, prog.as_fd(), "redirect");
        nl(
            "cls_bpf on veth1@2 ingress",
            h.filter_add_bpf(self.veth1_2, &spec),
        )
    }

    /// A UDP socket on 10.0.2.11:7777 in netns_2.
    pub fn listener(&self) -> Result<UdpSocket, String> {
        let s = nl(
            "enter netns_2",
            self.ns2
                .run(|| UdpSocket::bind(SocketAddrV4::new(DEST_ADDR, DEST_PORT))),
        )?
        .map_err(|e| format!("bind 10.0.2.11:7777 in netns_2: {e}"))?;
        Ok(s)
    }

    /// A UDP socket on 10.0.1.10 on the host side.
    pub fn sender(&self) -> Result<UdpSocket, String> {
        nl(
            "enter host side",
            self.host
                .run(|| UdpSocket::bind(SocketAddrV4::new(HOST_ADDR, 0))),
        )?
        .map_err(|e| format!("bind 10.0.1.10 on the host side: {e}"))
    }

    /// An `AF_PACKET` tap on a device of one side.
    pub fn tap(&self, side: Side, ifindex: i32) -> Result<PacketTap, String> {
        nl(
            "enter netns",
            self.netns(side).run(|| PacketTap::open(ifindex)),
        )?
        .map_err(|e| format!("AF_PACKET socket on ifindex {ifindex}: {e}"))
    }

    /// An `Ip:` counter of `/proc/net/snmp` in one side, read through
    /// `/proc/thread-self` because `setns` changes only the calling thread.
    pub fn ip_counter(&self, side: Side, field: &str) -> Result<u64, String> {
        let text = nl(
            "enter netns",
            self.netns(side)
                .run(|| std::fs::read_to_string("/proc/thread-self/net/snmp")),
        )?
        .map_err(|e| format!("/proc/thread-self/net/snmp: {e}"))?;
        snmp_value(&text, "Ip", field).ok_or_else(|| format!("no Ip {field} in /proc/net/snmp"))
    }

    /// The ARP table of one side: (IP, MAC, flags) per complete entry.
    pub fn arp_table(&self, side: Side) -> Result<Vec<(String, String, String)>, String> {
        let text = nl(
            "enter netns",
            self.netns(side)
                .run(|| std::fs::read_to_string("/proc/thread-self/net/arp")),
        )?
        .map_err(|e| format!("/proc/thread-self/net/arp: {e}"))?;
        Ok(text
            .lines()
            .skip(1)
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                Some((
                    f.first()?.to_string(),
                    f.get(3)?.to_string(),
                    f.get(2)?.to_string(),
                ))
            })
            .collect())
    }

    /// Sends up to `max` datagrams, one every `gap`, until `listener` gets
    /// one (returned) or all were sent and `settle` passed without one.
    pub fn send_until_received(
        &self,
        listener: &UdpSocket,
        payload: &[u8],
        max: u32,
        gap: Duration,
        settle: Duration,
    ) -> Result<(u32, Option<Vec<u8>>), String> {
        let sender = self.sender()?;
        listener
            .set_read_timeout(Some(gap))
            .map_err(|e| format!("SO_RCVTIMEO: {e}"))?;
        let dst = SocketAddrV4::new(DEST_ADDR, DEST_PORT);
        let mut buf = [0u8; 2048];
        let mut sent = 0;
        while sent < max {
            sender
                .send_to(payload, dst)
                .map_err(|e| format!("send to 10.0.2.11:7777 from the host side: {e}"))?;
            sent += 1;
            if let Ok(n) = listener.recv(&mut buf) {
                return Ok((sent, Some(buf[..n].to_vec())));
            }
        }
        let deadline = Instant::now() + settle;
        while Instant::now() < deadline {
            if let Ok(n) = listener.recv(&mut buf) {
                return Ok((sent, Some(buf[..n].to_vec())));
            }
        }
        Ok((sent, None))
    }
}

/// A value from `/proc/net/snmp`, where each table is a header line of
/// names and a line of values, both starting with `Table:`.
pub fn snmp_value(text: &str, table: &str, field: &str) -> Option<u64> {
    let prefix = format!("{table}:");
    let mut rows = text.lines().filter(|l| l.starts_with(&prefix));
    let names = rows.next()?;
    let values = rows.next()?;
    let idx = names.split_whitespace().position(|n| n == field)?;
    values.split_whitespace().nth(idx)?.parse().ok()
}

/// Seconds to wait for ARP and delivery: TCG-emulated VMs are slow.
pub const WAIT: Duration = Duration::from_millis(200);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snmp_values_by_name() {
        let t = "Ip: Forwarding DefaultTTL InReceives ForwDatagrams\nIp: 1 64 10 3\nIcmp: InMsgs\nIcmp: 0\n";
        assert_eq!(snmp_value(t, "Ip", "ForwDatagrams"), Some(3));
        assert_eq!(snmp_value(t, "Ip", "InReceives"), Some(10));
        assert_eq!(snmp_value(t, "Ip", "Nope"), None);
        assert_eq!(snmp_value("", "Ip", "X"), None);
    }
}
