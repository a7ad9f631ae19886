//! End-to-end tests of the redirect lab, each on its own isolated lab
//! (`--prefix`), so they run in parallel and never touch the real host.
//!
//! They check the seed's claims against the kernel: the datagram reaches
//! netns_2 while netns_1's IP stack never sees it; with `BPF_F_INGRESS` it
//! re-enters netns_1 and goes nowhere; replies come back; and the lab works
//! where the seed's does not (ip_forward=0).

mod lab_common;

use std::io::{Read, Write};
use std::net::{SocketAddrV4, TcpListener, TcpStream};
use std::time::Duration;

use lab_common::*;
use loader::lab::plan::{DEST_ADDR, VETH1_1, VETH1_2, VETH2_1, VETH2_2};
use loader::lab::{Side, UpOptions};

const N: usize = 5;

#[test]
fn datagram_reaches_netns_2_without_netns_1s_stack() {
    let g = LabGuard::up("fwd", &UpOptions::default());
    let lab = &g.lab;
    let listener = spawn_listener(lab, N as u64, DELIVERY_TIMEOUT, false);
    let rx_before = counters(lab, Side::Netns1, VETH1_2);
    let tx_before = counters(lab, Side::Netns1, VETH2_1);
    let forw_before = ip_counter(lab, Side::Netns1, "ForwDatagrams");
    let in_before = ip_counter(lab, Side::Netns1, "InReceives");

    let sent = send_n(lab, "redirected", N);
    let got = listener.join().expect("listener thread");
    let payloads: Vec<String> = got
        .iter()
        .map(|d| String::from_utf8_lossy(&d.payload).into_owned())
        .collect();
    assert_eq!(
        payloads, sent,
        "every datagram reaches the listener in netns_2, in order"
    );
    for d in &got {
        assert_eq!(
            d.from.ip().to_string(),
            "10.0.1.10",
            "sent from veth1@1's address"
        );
    }

    let rx_after = counters(lab, Side::Netns1, VETH1_2);
    let tx_after = counters(lab, Side::Netns1, VETH2_1);
    assert!(
        rx_after.rx_packets >= rx_before.rx_packets + N as u64,
        "veth1@2 received them: rx {} -> {}",
        rx_before.rx_packets,
        rx_after.rx_packets
    );
    assert!(
        tx_after.tx_packets >= tx_before.tx_packets + N as u64,
        "veth2@1 transmitted them (redirect without BPF_F_INGRESS = egress): tx {} -> {}",
        tx_before.tx_packets,
        tx_after.tx_packets
    );
    // The packets crossed netns_1 without its IP layer: ip_rcv never
    // counted them (InReceives), and nothing was routed (ForwDatagrams).
    assert_eq!(ip_counter(lab, Side::Netns1, "ForwDatagrams"), forw_before);
    assert_eq!(ip_counter(lab, Side::Netns1, "InReceives"), in_before);
}

/// The control for the test above: the same traffic without the program is
/// forwarded by netns_1's stack, and the counters used above do move.
#[test]
fn without_the_program_netns_1_forwards_and_counts() {
    let g = LabGuard::up(
        "ctl",
        &UpOptions {
            no_program: true,
            ..Default::default()
        },
    );
    let lab = &g.lab;
    let listener = spawn_listener(lab, N as u64, DELIVERY_TIMEOUT, false);
    let forw_before = ip_counter(lab, Side::Netns1, "ForwDatagrams");
    send_n(lab, "forwarded", N);
    let got = listener.join().expect("listener thread");
    assert_eq!(got.len(), N, "netns_1 forwards by itself");
    let forw_after = ip_counter(lab, Side::Netns1, "ForwDatagrams");
    assert!(
        forw_after >= forw_before + N as u64,
        "netns_1's stack routed them: ForwDatagrams {forw_before} -> {forw_after}"
    );
}

#[test]
fn with_bpf_f_ingress_the_packet_reenters_netns_1_and_goes_nowhere() {
    let g = LabGuard::up(
        "ing",
        &UpOptions {
            ingress: true,
            ..Default::default()
        },
    );
    let lab = &g.lab;
    let listener = spawn_listener(lab, 1, SILENCE, false);
    let other_before = otherhost(lab, Side::Netns1, VETH2_1);
    let forw_before = ip_counter(lab, Side::Netns1, "ForwDatagrams");
    let in_before = ip_counter(lab, Side::Netns1, "InReceives");
    send_n(lab, "ingress", N);
    let got = listener.join().expect("listener thread");
    assert!(
        got.is_empty(),
        "nothing reaches netns_2 with BPF_F_INGRESS: {got:?}"
    );
    // Each packet was received on veth2@1 and dropped there by the stack as
    // PACKET_OTHERHOST: its destination MAC is veth2@2's, not veth2@1's.
    let other_after = otherhost(lab, Side::Netns1, VETH2_1);
    assert_eq!(
        other_after,
        other_before + N as u64,
        "veth2@1 received exactly our {N} packets and dropped them as PACKET_OTHERHOST"
    );
    // So netns_1's IP layer never took them, nor routed them on.
    assert_eq!(ip_counter(lab, Side::Netns1, "ForwDatagrams"), forw_before);
    assert_eq!(ip_counter(lab, Side::Netns1, "InReceives"), in_before);
}

/// `rx_otherhost_dropped` of a device (Linux 5.19+).
fn otherhost(lab: &loader::lab::Lab, side: Side, dev: &str) -> u64 {
    lab.link_stats(side, dev)
        .expect("IFLA_STATS64")
        .rx_otherhost_dropped
        .expect("this kernel reports rx_otherhost_dropped (5.19+)")
}

#[test]
fn without_the_mac_rewrite_veth2_2_drops_the_packet() {
    let g = LabGuard::up(
        "mac",
        &UpOptions {
            keep_dest_mac: true,
            ..Default::default()
        },
    );
    let lab = &g.lab;
    let listener = spawn_listener(lab, 1, SILENCE, false);
    let tx_before = counters(lab, Side::Netns1, VETH2_1);
    send_n(lab, "unrewritten", N);
    let got = listener.join().expect("listener thread");
    assert!(
        got.is_empty(),
        "a frame for veth1@2's MAC is dropped by veth2@2: {got:?}"
    );
    let tx_after = counters(lab, Side::Netns1, VETH2_1);
    assert!(
        tx_after.tx_packets >= tx_before.tx_packets + N as u64,
        "the redirect still happened: veth2@1 tx {} -> {}",
        tx_before.tx_packets,
        tx_after.tx_packets
    );
}

#[test]
fn replies_come_back_udp_and_tcp() {
    let g = LabGuard::up("two", &UpOptions::default());
    let lab = &g.lab;

    // UDP: the listener echoes; the sender waits for the echo.
    let listener = spawn_listener(lab, 1, DELIVERY_TIMEOUT, true);
    let reply = lab
        .send(b"ping", Some(DELIVERY_TIMEOUT))
        .expect("send")
        .expect("a UDP reply from netns_2");
    assert_eq!(reply.payload, b"ping");
    assert_eq!(reply.from.to_string(), "10.0.2.11:7777");
    assert_eq!(listener.join().expect("listener").len(), 1);

    // TCP: a server in netns_2, a client in the host-side namespace. The
    // SYN goes through the redirect, the SYN-ACK back through netns_1's stack.
    let server = lab
        .run_in(Side::Netns2, || {
            TcpListener::bind(SocketAddrV4::new(DEST_ADDR, 8080))
        })
        .expect("enter netns_2")
        .expect("bind TCP in netns_2");
    let server_thread = std::thread::spawn(move || -> std::io::Result<Vec<u8>> {
        server.set_nonblocking(false)?;
        let (mut conn, _) = server.accept()?;
        conn.set_read_timeout(Some(DELIVERY_TIMEOUT))?;
        let mut buf = [0u8; 5];
        conn.read_exact(&mut buf)?;
        conn.write_all(b"world")?;
        Ok(buf.to_vec())
    });
    let answer = lab
        .run_in(Side::Host, || -> std::io::Result<Vec<u8>> {
            let addr = SocketAddrV4::new(DEST_ADDR, 8080).into();
            let mut c = TcpStream::connect_timeout(&addr, DELIVERY_TIMEOUT)?;
            c.set_read_timeout(Some(DELIVERY_TIMEOUT))?;
            c.write_all(b"hello")?;
            let mut buf = [0u8; 5];
            c.read_exact(&mut buf)?;
            Ok(buf.to_vec())
        })
        .expect("enter the host side")
        .expect("TCP exchange from the host side to netns_2");
    assert_eq!(answer, b"world");
    assert_eq!(
        server_thread.join().expect("server").expect("server io"),
        b"hello"
    );
}

#[test]
fn delivers_with_ip_forward_0_on_the_host_side() {
    let g = LabGuard::up("nofwd", &UpOptions::default());
    let lab = &g.lab;
    let host = g.names().host.clone().expect("isolated lab");
    netlink::sysctl_write(&host, "net/ipv4/ip_forward", "0")
        .expect("ip_forward=0 on the host side");
    let ns1 = netlink::netns::Netns::open(&g.names().netns_1).expect("netns_1");
    assert_eq!(
        ns1.sysctl_read("net/ipv4/ip_forward").expect("read"),
        "1",
        "up turned it on in netns_1"
    );
    let listener = spawn_listener(lab, 1, DELIVERY_TIMEOUT, false);
    send_n(lab, "noforward", 1);
    assert_eq!(listener.join().expect("listener").len(), 1);
}

/// The seed's failure, reproduced: with forwarding off in netns_1 (what a
/// new namespace inherits from a host with ip_forward=0), proxy ARP on
/// veth1@2 stays silent and nothing arrives.
#[test]
fn seed_pitfall_proxy_arp_needs_forwarding() {
    let g = LabGuard::up("pit", &UpOptions::default());
    let lab = &g.lab;
    netlink::sysctl_write(&g.names().netns_1, "net/ipv4/ip_forward", "0").expect("forwarding off");
    let listener = spawn_listener(lab, 1, SILENCE, false);
    send_n(lab, "seed", 1);
    assert!(
        listener.join().expect("listener").is_empty(),
        "without forwarding in netns_1, 10.0.2.11 never resolves"
    );
}

#[test]
fn send_refuses_without_the_route_via_veth1_1() {
    let g = LabGuard::up("rt", &UpOptions::default());
    let lab = &g.lab;
    lab.check_host_route().expect("route present after up");
    // Taking veth1@1 down removes the routes through it.
    let mut h = lab.handle_in(Side::Host).expect("handle");
    let idx = h.link_index(VETH1_1).expect("veth1@1");
    h.link_set_down(idx).expect("down");
    assert!(eventually(Duration::from_secs(2), || lab
        .check_host_route()
        .is_err()));
    let err = lab
        .send(b"x", None)
        .expect_err("send must refuse")
        .to_string();
    assert!(err.contains("no route to 10.0.2.0/24 via veth1@1"), "{err}");
}

#[test]
fn send_and_listen_refuse_when_the_lab_is_down() {
    require_root();
    let lab = loader::lab::Lab::new(Some(&unique_prefix("down"))).expect("prefix");
    let err = lab.send(b"x", None).expect_err("no lab").to_string();
    assert!(
        err.contains("not up") && err.contains("redirect-lab up --prefix"),
        "{err}"
    );
    let err = lab.udp_listener().expect_err("no lab").to_string();
    assert!(err.contains("not up"), "{err}");
    assert!(lab.status().is_err());
}

#[test]
fn status_shows_the_topology_the_filter_and_the_program() {
    let g = LabGuard::up("st", &UpOptions::default());
    let report = g.report.clone().expect("report");
    let st = g.lab.status().expect("status");
    for (side, dev) in loader::lab::plan::DEVICES {
        let d = st
            .device(side, dev)
            .unwrap_or_else(|| panic!("{dev} in status"));
        assert!(d.up && d.ifindex > 0, "{d:?}");
    }
    let v22 = st.device(Side::Netns2, VETH2_2).expect("veth2@2");
    assert_eq!(v22.mac.as_deref(), Some("02:00:00:00:00:00"));
    let v21 = st.device(Side::Netns1, VETH2_1).expect("veth2@1");
    assert_eq!(
        Some(v21.ifindex),
        report.target_ifindex,
        "the program targets veth2@1"
    );
    assert_eq!(st.filters.len(), 1, "{st}");
    let f = &st.filters[0];
    assert_eq!(f.filter.name.as_deref(), Some("redirect-lab"));
    assert!(f.filter.direct_action());
    assert_eq!(f.filter.id, report.prog_id);
    let p = f.prog.as_ref().expect("program info");
    assert_eq!(p.name, "redirect");
    assert_eq!(Some(p.tag_hex()), report.prog_tag);
    let text = st.to_string();
    assert!(
        text.contains("veth2@2") && text.contains("direct-action"),
        "{text}"
    );
}

/// `listen` follows the lab: after `up` rebuilds it, the listener binds in
/// the new netns_2 (a socket stays in the namespace it was made in, so
/// without this it would hear nothing again).
#[test]
fn listen_follows_a_rebuilt_lab() {
    let g = LabGuard::up("follow", &UpOptions::default());
    let lab = g.lab.clone();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let listener = std::thread::spawn(move || {
        let options = loader::lab::ListenOptions {
            count: Some(1),
            timeout: Some(Duration::from_secs(15)),
            echo: false,
        };
        lab.listen(options, |event| {
            let _ = tx.send(match event {
                loader::lab::ListenEvent::Datagram(d) => {
                    String::from_utf8_lossy(&d.payload).into_owned()
                }
                other => format!("{other:?}"),
            });
        })
    });
    std::thread::sleep(Duration::from_millis(300));
    let mut out = Vec::new();
    g.lab.up(&UpOptions::default(), &mut out).expect("rebuild");
    let mut events = Vec::new();
    while let Ok(e) = rx.recv_timeout(Duration::from_secs(5)) {
        let rebuilt = e == "LabRebuilt";
        events.push(e);
        if rebuilt {
            break;
        }
    }
    assert_eq!(
        events.last().map(String::as_str),
        Some("LabRebuilt"),
        "{events:?}"
    );
    send_n(&g.lab, "after-rebuild", 1);
    assert_eq!(
        rx.recv_timeout(DELIVERY_TIMEOUT).as_deref(),
        Ok("after-rebuild-0")
    );
    assert_eq!(listener.join().expect("listener").expect("listen"), 1);
}

/// `up --explain` shows every layer: the listing with bytes, the
/// BPF_PROG_LOAD request and the verifier's verdict, and each netlink
/// message decoded, as hex and as the equivalent ip/tc command.
#[test]
fn explain_prints_every_layer() {
    require_root();
    let lab = loader::lab::Lab::new(Some(&unique_prefix("exp"))).expect("prefix");
    let _guard = LabGuard {
        lab: lab.clone(),
        report: None,
    };
    let mut out = Vec::new();
    let options = UpOptions {
        explain: true,
        ..Default::default()
    };
    lab.up(&options, &mut out).expect("up --explain");
    let text = String::from_utf8_lossy(&out);
    for needle in [
        // The seed's steps, as the commands they replace.
        "ip link add name veth1@1 type veth peer name veth1@2 netns",
        "sh -c 'echo 1 > /proc/sys/net/ipv4/conf/veth1@2/proxy_arp'",
        // The assembled program: slot, bytes, kernel text, source line.
        "61 16 4c 00 00 00 00 00   r6 = *(u32 *)(r1 +76)",
        "call bpf_redirect#23",
        // bpf(2).
        "BPF_PROG_LOAD request",
        "prog_type = BPF_PROG_TYPE_SCHED_CLS (3)",
        "verifier verdict: accepted",
        "verifier stats: processed",
        // netlink: decoded, equivalent command, hex.
        ">>> request: RTM_NEWLINK",
        ">>> request: RTM_NEWQDISC",
        ">>> request: RTM_NEWTFILTER",
        "same as: ",
        "TCA_BPF_NAME",
        "\"redirect-lab\"",
        "NLMSG_ERROR",
    ] {
        assert!(
            text.contains(needle),
            "{needle:?} missing from --explain output:\n{text}"
        );
    }
    // A hex dump line: offset, 16 bytes, ASCII column.
    assert!(
        text.lines()
            .any(|l| l.trim_start().starts_with("0000  ") && l.ends_with('|')),
        "no hex dump in:\n{text}"
    );
}

/// ICMP echo both ways: the request through the redirect, the reply back
/// through netns_1's stack.
#[test]
fn ping_gets_echo_replies() {
    let g = LabGuard::up("png", &UpOptions::default());
    let forw_before = ip_counter(&g.lab, Side::Netns1, "ForwDatagrams");
    let replies = g.lab.ping(3, DELIVERY_TIMEOUT).expect("ping");
    assert_eq!(replies.len(), 3);
    assert!(
        replies.iter().all(Option::is_some),
        "every echo answered: {replies:?}"
    );
    // The replies (10.0.2.11 -> 10.0.1.10) are routed by netns_1's stack;
    // only the requests take the redirect.
    let forw_after = ip_counter(&g.lab, Side::Netns1, "ForwDatagrams");
    assert_eq!(
        forw_after,
        forw_before + 3,
        "netns_1 forwarded the 3 replies, not the requests"
    );
}
