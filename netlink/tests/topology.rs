//! A veth pair across two namespaces, brought up, addressed and routed; a
//! UDP datagram crosses it; everything is gone after delete. Cross-checked
//! with iproute2 when it is installed.

mod common;

use common::{iproute2, require_root};
use netlink::consts::{IFA_F_NODAD, IFA_F_TENTATIVE, RT_SCOPE_LINK};
use netlink::inspect;
use netlink::netns::{self, NetnsGuard};
use netlink::Handle;
use std::net::{Ipv4Addr, Ipv6Addr, UdpSocket};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[test]
fn veth_pair_addresses_route_and_udp() {
    require_root();
    let ns1 = NetnsGuard::unique("nlt-topo1").expect("create ns1");
    let ns2 = NetnsGuard::unique("nlt-topo2").expect("create ns2");

    let mut h1 = Handle::in_netns(&ns1).expect("handle in ns1");
    let mut h2 = Handle::in_netns(&ns2).expect("handle in ns2");

    let v1 = h1
        .link_add_veth("veth1", "veth2", Some(&ns2))
        .expect("veth add");
    let v2 = h2.link_index("veth2").expect("peer is in ns2");
    assert!(
        h1.link_index("veth2").is_err(),
        "the peer must not be in ns1"
    );

    for (h, v) in [(&mut h1, v1), (&mut h2, v2)] {
        let lo = h.link_index("lo").expect("lo");
        h.link_set_up(lo).expect("lo up");
        h.link_set_up(v).expect("veth up");
    }
    h1.addr_add_v4(v1, Ipv4Addr::new(10, 0, 1, 1), 24)
        .expect("addr ns1");
    h2.addr_add_v4(v2, Ipv4Addr::new(10, 0, 1, 2), 24)
        .expect("addr ns2");
    h2.addr_add_v4(v2, Ipv4Addr::new(10, 0, 2, 11), 32)
        .expect("second addr ns2");
    // 10.0.2.0/24 is only reachable through the gateway: the datagram below
    // proves the route, not just the connected subnet.
    h1.route_add_v4(
        Ipv4Addr::new(10, 0, 2, 0),
        24,
        v1,
        Some(Ipv4Addr::new(10, 0, 1, 2)),
    )
    .expect("route via gateway");
    h1.route_add_v4(Ipv4Addr::new(10, 0, 3, 0), 24, v1, None)
        .expect("route on link");

    let routes = h1.routes_v4().expect("route dump");
    let via = routes
        .iter()
        .find(|r| r.dst == Ipv4Addr::new(10, 0, 2, 0) && r.prefix == 24)
        .expect("our gateway route is listed");
    assert_eq!(via.gateway, Some(Ipv4Addr::new(10, 0, 1, 2)));
    assert_eq!(via.oif, Some(v1 as u32));
    let onlink = routes
        .iter()
        .find(|r| r.dst == Ipv4Addr::new(10, 0, 3, 0))
        .expect("our link route is listed");
    assert_eq!((onlink.gateway, onlink.scope), (None, RT_SCOPE_LINK));

    let addrs = h2.addrs(libc::AF_INET as u8).expect("addr dump");
    assert!(addrs
        .iter()
        .any(|a| a.addr == Ipv4Addr::new(10, 0, 2, 11) && a.prefix == 32));

    // A UDP datagram from ns1 to 10.0.2.11 in ns2, through the route.
    let rx = ns2
        .run(|| UdpSocket::bind("10.0.2.11:0"))
        .expect("enter ns2")
        .expect("bind in ns2");
    rx.set_read_timeout(Some(Duration::from_secs(3)))
        .expect("timeout");
    let dst = rx.local_addr().expect("local addr");
    let tx = ns1
        .run(|| UdpSocket::bind("0.0.0.0:0"))
        .expect("enter ns1")
        .expect("bind in ns1");
    let mut buf = [0u8; 64];
    let mut got = None;
    // Bounded: the first datagram can be lost while ARP resolves; try 5 times.
    for _ in 0..5 {
        tx.send_to(b"hello over veth", dst).expect("send");
        if let Ok((n, from)) = rx.recv_from(&mut buf) {
            got = Some((n, from));
            break;
        }
    }
    let (n, from) = got.expect("the datagram crossed the veth pair");
    assert_eq!(&buf[..n], b"hello over veth");
    assert_eq!(from.ip(), std::net::IpAddr::V4(Ipv4Addr::new(10, 0, 1, 1)));

    // links(): kind, peer, counters.
    let links1 = h1.links().expect("link dump");
    let l1 = links1
        .iter()
        .find(|l| l.name == "veth1")
        .expect("veth1 listed");
    assert_eq!(l1.kind.as_deref(), Some("veth"));
    assert_eq!(
        l1.peer_ifindex,
        Some(v2),
        "IFLA_LINK names the peer's ifindex"
    );
    assert!(
        l1.peer_netnsid.is_some(),
        "the peer is in another namespace"
    );
    assert!(l1.is_up());
    let s1 = l1.stats.expect("IFLA_STATS64");
    assert!(s1.tx_packets >= 1 && s1.tx_bytes > 0, "{s1:?}");
    let l2 = h2.link_get(v2).expect("veth2");
    assert!(l2.stats.expect("stats").rx_packets >= 1);

    // Change veth2's MAC behind ns1's back: ns1's ARP entry still has the
    // old one, so the next frames arrive addressed to another host, and the
    // IP layer drops them as PACKET_OTHERHOST, counted in IFLA_STATS64.
    // (rx_otherhost_dropped exists since 5.19; every kernel we test has it.)
    let before = l2.stats.and_then(|s| s.rx_otherhost_dropped);
    assert!(
        before.is_some(),
        "IFLA_STATS64 without rx_otherhost_dropped"
    );
    if let Some(before) = before {
        h2.link_set_address(v2, [0x02, 0, 0, 0, 0, 0x99])
            .expect("new mac");
        for _ in 0..3 {
            tx.send_to(b"to the old mac", dst).expect("send");
        }
        rx.set_read_timeout(Some(Duration::from_millis(500)))
            .expect("timeout");
        assert!(rx.recv_from(&mut buf).is_err(), "nothing delivered");
        let after = h2
            .link_get(v2)
            .expect("veth2")
            .stats
            .and_then(|s| s.rx_otherhost_dropped);
        assert!(after >= Some(before + 1), "{before} -> {after:?}");
    }

    if let Some(out) = iproute2("ip", &["-n", ns1.name(), "-o", "link"]) {
        assert!(out.contains("veth1@"), "ip -o link shows veth1: {out}");
        assert!(out.contains("state UP") || out.contains(",UP"), "{out}");
    }
    if let Some(out) = iproute2("ip", &["netns", "list"]) {
        assert!(
            out.contains(ns1.name()) && out.contains(ns2.name()),
            "{out}"
        );
    }

    // Delete: both veth ends go with ns1, synchronously.
    let name1 = ns1.name().to_string();
    drop(h1);
    drop(ns1);
    assert!(!netns::path_of(&name1).exists());
    assert!(!netns::is_mounted(&netns::path_of(&name1)));
    let left: Vec<_> = h2
        .links()
        .expect("dump")
        .into_iter()
        .map(|l| l.name)
        .collect();
    assert_eq!(left, vec!["lo".to_string()], "veth2 went with veth1");
    if let Some(out) = iproute2("ip", &["netns", "list"]) {
        assert!(!out.contains(&name1), "{out}");
    }
}

#[test]
fn mac_address_ipv6_nodad_and_link_delete() {
    require_root();
    let ns = NetnsGuard::unique("nlt-mac").expect("netns");
    let mut h = Handle::in_netns(&ns).expect("handle");
    let a = h
        .link_add_veth("va", "vb", None)
        .expect("veth in one netns");
    let b = h.link_index("vb").expect("peer here");
    let mac = [0x02, 0x00, 0x00, 0x00, 0x00, 0x11];
    h.link_set_address(a, mac).expect("set mac");
    h.link_set_up(a).expect("up");
    h.link_set_up(b).expect("up");
    let l = h.link_get(a).expect("get");
    assert_eq!(l.mac, Some(mac));
    assert_eq!(l.peer_ifindex, Some(b));
    assert_eq!(l.peer_netnsid, None, "same namespace: no IFLA_LINK_NETNSID");

    let v6 = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1);
    h.addr_add_v6(a, v6, 64).expect("ipv6 nodad");
    let got = h.addrs(libc::AF_INET6 as u8).expect("dump v6");
    let ours = got.iter().find(|x| x.addr == v6).expect("address listed");
    assert_eq!(ours.prefix, 64);
    assert!(ours.flags & IFA_F_NODAD != 0, "flags {:#x}", ours.flags);
    assert!(ours.flags & IFA_F_TENTATIVE == 0, "nodad: usable at once");
    // Usable at once: bind to it without waiting for DAD.
    ns.run(|| UdpSocket::bind((v6, 0)).map(drop))
        .expect("enter")
        .expect("bind to the new IPv6 address at once");

    h.link_set_down(a).expect("down");
    assert!(!h.link_get(a).expect("get").is_up());
    h.link_del(a).expect("delete");
    let names: Vec<_> = h
        .links()
        .expect("dump")
        .into_iter()
        .map(|l| l.name)
        .collect();
    assert_eq!(names, vec!["lo".to_string()], "deleting va removed vb too");
}

#[test]
fn inspect_mode_prints_tree_hex_and_command() {
    require_root();
    let ns = NetnsGuard::unique("nlt-insp").expect("netns");
    let mut h = Handle::in_netns(&ns).expect("handle");
    let lo = h.link_index("lo").expect("lo");
    let out = Arc::new(Mutex::new(String::new()));
    h.set_inspect(Some(inspect::collector(out.clone())));
    h.link_set_up(lo).expect("up");
    h.qdisc_add_clsact(lo).expect("clsact on lo");
    let _ = h.qdisc_add_clsact(lo).expect_err("second clsact");
    h.set_inspect(None);
    let text = out.lock().expect("lock").clone();
    let cmd = format!("same as: ip -n {} link set dev lo up", ns.name());
    assert!(text.contains(&cmd), "{text}");
    assert!(
        text.contains(&format!(
            "same as: tc -n {} qdisc add dev lo clsact",
            ns.name()
        )),
        "{text}"
    );
    assert!(
        text.contains("type RTM_NEWLINK(16), flags REQUEST|ACK"),
        "{text}"
    );
    assert!(
        text.contains("ifi_index 1, ifi_flags 0x1, ifi_change 0x1"),
        "{text}"
    );
    assert!(text.contains("TCA_KIND(1) len 11: \"clsact\""), "{text}");
    assert!(text.contains("nlmsgerr { error ACK"), "{text}");
    assert!(
        text.contains("NLMSGERR_ATTR_MSG: \"Exclusivity flag on, cannot modify\""),
        "{text}"
    );
    assert!(text.contains("    0000  "), "hex dump present: {text}");
    // The socket options are in force: NETLINK_CAP_ACK makes the kernel echo
    // only our request's header (CAPPED), NETLINK_EXT_ACK adds the
    // attributes (ACK_TLVS) that carried the message above.
    assert!(
        text.contains("type NLMSG_ERROR(2), flags CAPPED,"),
        "{text}"
    );
    assert!(
        text.contains("type NLMSG_ERROR(2), flags CAPPED|ACK_TLVS,"),
        "{text}"
    );
}

#[test]
fn sysctl_inside_a_namespace() {
    require_root();
    let ns = NetnsGuard::unique("nlt-sysctl").expect("netns");
    let mut h = Handle::in_netns(&ns).expect("handle");
    h.link_add_veth("veth1@2", "veth2@1", None)
        .expect("veth with @ names");
    ns.sysctl_write("net/ipv4/conf/veth1@2/proxy_arp", "1")
        .expect("write");
    assert_eq!(
        ns.sysctl_read("net/ipv4/conf/veth1@2/proxy_arp")
            .expect("read"),
        "1"
    );
    netns::sysctl_write(ns.name(), "net/ipv4/ip_forward", "1").expect("forwarding");
    assert_eq!(ns.sysctl_read("net/ipv4/ip_forward").expect("read"), "1");
    // The host's device tree does not have it: the write went to the namespace.
    assert!(!std::path::Path::new("/proc/sys/net/ipv4/conf/veth1@2").exists());
    let e = ns
        .sysctl_write("net/ipv4/conf/nosuchdev/proxy_arp", "1")
        .expect_err("no such dev");
    assert_eq!(e.errno(), Some(libc::ENOENT), "{e}");
    assert!(
        e.to_string()
            .contains("sysctl -w net.ipv4.conf.nosuchdev.proxy_arp=1"),
        "{e}"
    );
}

/// Inspect mode's "same as" lines are real commands: replayed with iproute2
/// into a second namespace, they build the same links, addresses, routes and
/// qdisc as our messages built in the first.
#[test]
fn inspect_command_lines_replayed_by_iproute2_build_the_same_state() {
    require_root();
    if iproute2("ip", &["-V"]).is_none() || iproute2("tc", &["-V"]).is_none() {
        eprintln!("iproute2 not installed: replay check skipped");
        return;
    }
    let ours = NetnsGuard::unique("nlt-replay-a").expect("netns");
    let theirs = NetnsGuard::unique("nlt-replay-b").expect("netns");
    let mut h = Handle::in_netns(&ours).expect("handle");
    let commands = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = commands.clone();
    h.set_inspect(Some(Box::new(move |ev: &inspect::Event<'_>| {
        if ev.direction == inspect::Direction::Request {
            if let Ok(mut v) = sink.lock() {
                v.push(ev.command.to_string());
            }
        }
    })));
    let a = h.link_add_veth("veth1@2", "veth2@1", None).expect("veth");
    let b = h.link_index("veth2@1").expect("peer");
    h.link_set_address(a, [0x02, 0, 0, 0, 0, 0x0a])
        .expect("mac");
    h.link_set_up(a).expect("up");
    h.link_set_up(b).expect("up");
    h.link_set_down(b).expect("down");
    h.link_set_up(b).expect("up");
    h.addr_add_v4(a, Ipv4Addr::new(10, 0, 1, 1), 24)
        .expect("v4");
    h.addr_add_v6(a, Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1), 64)
        .expect("v6");
    h.route_add_v4(
        Ipv4Addr::new(10, 0, 2, 0),
        24,
        a,
        Some(Ipv4Addr::new(10, 0, 1, 2)),
    )
    .expect("route via");
    h.route_add_v4(Ipv4Addr::new(10, 0, 3, 0), 24, b, None)
        .expect("route dev");
    h.qdisc_add_clsact(a).expect("clsact");
    h.set_inspect(None);

    let from = format!(" -n {} ", ours.name());
    let to = format!(" -n {} ", theirs.name());
    let commands = commands.lock().expect("lock").clone();
    assert!(commands.len() >= 11, "{commands:?}");
    for c in &commands {
        let c = c.replacen(&from, &to, 1);
        assert!(c.contains(&to), "every command names its namespace: {c}");
        let out = std::process::Command::new("sh")
            .args(["-c", &c])
            .output()
            .expect("sh");
        assert!(
            out.status.success(),
            "{c}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    let mut g = Handle::in_netns(&theirs).expect("handle");
    let summary = |h: &mut Handle| {
        let mut links: Vec<_> = h
            .links()
            .expect("links")
            .into_iter()
            .map(|l| {
                (
                    l.name.clone(),
                    l.kind.clone(),
                    l.is_up(),
                    l.name.starts_with("veth1").then_some(l.mac),
                )
            })
            .collect();
        links.sort();
        let mut addrs: Vec<_> = h
            .addrs(0)
            .expect("addrs")
            .into_iter()
            .filter(|x| {
                !x.addr.is_loopback()
                    && !matches!(x.addr, std::net::IpAddr::V6(v) if v.segments()[0] == 0xfe80)
            })
            .map(|x| (x.addr, x.prefix, x.flags & IFA_F_NODAD))
            .collect();
        addrs.sort();
        let mut routes: Vec<_> = h
            .routes_v4()
            .expect("routes")
            .into_iter()
            .map(|r| (r.dst, r.prefix, r.gateway, r.scope))
            .collect();
        routes.sort();
        (links, addrs, routes)
    };
    let (mine, replayed) = (summary(&mut h), summary(&mut g));
    assert_eq!(mine, replayed);
    assert_eq!(mine.1.len(), 2, "{mine:?}");
    let a2 = g.link_index("veth1@2").expect("replayed veth");
    let e = g
        .qdisc_add_clsact(a2)
        .expect_err("the replayed clsact is there");
    assert_eq!(e.errno(), Some(libc::EEXIST));
}
