//! `redirect-lab path` end to end (root, BTF): one datagram through an
//! isolated lab, traced with our tp_btf programs, for the seed's two
//! stories and the program-less lab; a lab that is not up is refused; and
//! nothing (program, link, map) is left after the command exits.

mod lab_common;

use std::process::Command;

use lab_common::*;
use loader::lab::UpOptions;

/// One event of `path --json`, the fields the tests read.
#[derive(Debug, Clone)]
struct Ev {
    hook: String,
    netns: String,
    device: String,
    pkt_type: String,
    reason: String,
    note: String,
}

/// The value of `"key":` in a one-line JSON object (strings unquoted).
fn field(line: &str, key: &str) -> String {
    let pat = format!("\"{key}\":");
    let Some(i) = line.find(&pat) else {
        panic!("no {key} in {line}")
    };
    let rest = &line[i + pat.len()..];
    if let Some(s) = rest.strip_prefix('"') {
        let end = s.find('"').expect("closing quote");
        s[..end].to_string()
    } else {
        rest.split([',', '}']).next().unwrap_or("").to_string()
    }
}

fn path(prefix: &str, extra: &[&str]) -> (Vec<Ev>, String, bool) {
    let out = Command::new(redirect_lab_binary())
        .args(["path", "--prefix", prefix, "--json"])
        .args(extra)
        .output()
        .expect("run redirect-lab path");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let evs = stdout
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| Ev {
            hook: field(l, "hook"),
            netns: field(l, "netns"),
            device: field(l, "device"),
            pkt_type: field(l, "pkt_type"),
            reason: field(l, "reason"),
            note: field(l, "note"),
        })
        .collect();
    (evs, format!("{stdout}\n{stderr}"), out.status.success())
}

/// The index of the first event at or after `from` matching all of `want`
/// (hook, netns, device; "" matches anything).
fn find(evs: &[Ev], from: usize, want: (&str, &str, &str)) -> Option<usize> {
    (from..evs.len()).find(|&i| {
        let e = &evs[i];
        (want.0.is_empty() || e.hook == want.0)
            && (want.1.is_empty() || e.netns == want.1)
            && (want.2.is_empty() || e.device == want.2)
    })
}

/// Asserts the events contain `steps` in this order.
fn in_order(evs: &[Ev], steps: &[(&str, &str, &str)], log: &str) -> Vec<usize> {
    let mut at = 0;
    let mut found = Vec::new();
    for s in steps {
        let i = find(evs, at, *s).unwrap_or_else(|| panic!("no {s:?} after event {at}:\n{log}"));
        found.push(i);
        at = i + 1;
    }
    found
}

#[test]
fn egress_leaves_by_veth2_1_and_reaches_the_socket() {
    let g = LabGuard::up("pte", &UpOptions::default());
    let rx = spawn_listener(&g.lab, 1, DELIVERY_TIMEOUT, false);
    let (evs, log, ok) = path(g.lab.names.prefix.as_deref().unwrap(), &[]);
    assert!(ok, "{log}");
    in_order(
        &evs,
        &[
            ("netif_receive_skb", "netns_1", "veth1@2"),
            ("net_dev_queue", "netns_1", "veth2@1"),
            ("netif_receive_skb", "netns_2", "veth2@2"),
        ],
        &log,
    );
    // UDP copies a linear skb to the socket with copy_linear_skb and frees
    // it with __consume_stateless_skb, neither of which has a tracepoint;
    // skb_copy_datagram_iovec shows only for non-linear ones. So the base
    // layer's proof of delivery is the listener's datagram and no drop.
    assert!(
        !evs.iter().any(|e| e.hook == "kfree_skb"),
        "egress with a listener drops nothing:\n{log}"
    );
    assert!(
        !evs.iter().any(|e| e.pkt_type == "OTHERHOST"),
        "egress never makes the packet OTHERHOST:\n{log}"
    );
    assert_eq!(rx.join().unwrap().len(), 1, "the listener got the datagram");
}

#[test]
fn xdp_mode_shows_the_redirect_before_any_skb_in_netns_1() {
    let g = LabGuard::up(
        "ptx",
        &UpOptions {
            mode: loader::lab::mode::find("xdp").expect("xdp mode"),
            ..Default::default()
        },
    );
    let rx = spawn_listener(&g.lab, 1, DELIVERY_TIMEOUT, false);
    let (evs, log, ok) = path(g.lab.names.prefix.as_deref().unwrap(), &[]);
    assert!(ok, "{log}");
    // XDP on veth1@2 redirects the frame into veth2@1 before netns_1's
    // receive path sees it; veth2@2 (running XDP_PASS) builds the skb in its
    // NAPI poll and hands it to GRO, which has no netif_receive_skb
    // tracepoint, so netns_2's first step is its IP stack's route lookup.
    in_order(
        &evs,
        &[
            ("xdp_redirect", "netns_1", "veth1@2"),
            ("fib_table_lookup", "netns_2", "veth2@2"),
        ],
        &log,
    );
    assert!(
        !evs.iter()
            .any(|e| e.hook == "netif_receive_skb" && e.netns == "netns_1"),
        "XDP redirected before netns_1's receive path:\n{log}"
    );
    assert!(
        !evs.iter().any(|e| e.hook == "xdp_redirect_err"),
        "the redirect succeeded:\n{log}"
    );
    assert_eq!(rx.join().unwrap().len(), 1, "the listener got the datagram");
}

#[test]
fn ingress_is_received_again_on_veth2_1_and_dropped_otherhost() {
    let g = LabGuard::up(
        "pti",
        &UpOptions {
            ingress: true,
            ..Default::default()
        },
    );
    let svg = std::env::temp_dir().join(format!("lab_path_{}.svg", std::process::id()));
    let svg_arg = svg.to_str().unwrap().to_string();
    let (evs, log, ok) = path(g.lab.names.prefix.as_deref().unwrap(), &["--svg", &svg_arg]);
    assert!(ok, "{log}");
    // The picture: well-formed XML by an outside parser (Python's
    // xml.dom.minidom), the lab's devices, and the drop on it.
    let text = std::fs::read_to_string(&svg).expect("the --svg file");
    let _ = std::fs::remove_file(&svg);
    let parsed = Command::new("python3")
        .args(["-c", "import sys, xml.dom.minidom as m; d = m.parseString(sys.stdin.read()); print(d.documentElement.tagName)"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(text.as_bytes())?;
            c.wait_with_output()
        });
    match parsed {
        Ok(o) => assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "svg", "{text}"),
        Err(e) => eprintln!("python3 not available ({e}); the XML check is skipped"),
    }
    for want in [
        "veth1@2",
        "veth2@1",
        "netns_2",
        "<polyline",
        "netif_rx veth2@1",
    ] {
        assert!(text.contains(want), "{want} not in the SVG:\n{text}");
    }
    let at = in_order(
        &evs,
        &[
            ("netif_receive_skb", "netns_1", "veth1@2"),
            ("netif_rx", "netns_1", "veth2@1"),
        ],
        &log,
    );
    assert_eq!(evs[at[1]].pkt_type, "OTHERHOST", "{log}");
    let drop = find(&evs, at[1], ("kfree_skb", "netns_1", "")).expect("a drop in netns_1");
    // The reason, where this kernel reports one (enum skb_drop_reason in
    // BTF, 5.17+), is OTHERHOST by the kernel's own name.
    let btf = loader::tracing::vmlinux().unwrap();
    if btf
        .enum_value_in("skb_drop_reason", "SKB_DROP_REASON_OTHERHOST")
        .is_ok()
    {
        assert_eq!(evs[drop].reason, "OTHERHOST", "{log}");
        assert_eq!(evs[drop].note, "dropped: OTHERHOST");
    }
    assert!(
        !evs.iter().any(|e| e.netns == "netns_2"),
        "nothing reaches netns_2:\n{log}"
    );
}

#[test]
fn without_a_program_netns_1_forwards_to_netns_2() {
    let g = LabGuard::up(
        "ptn",
        &UpOptions {
            no_program: true,
            ..Default::default()
        },
    );
    let (evs, log, ok) = path(g.lab.names.prefix.as_deref().unwrap(), &[]);
    assert!(ok, "{log}");
    in_order(
        &evs,
        &[
            ("netif_receive_skb", "netns_1", "veth1@2"),
            ("net_dev_queue", "netns_1", "veth2@1"),
            ("netif_receive_skb", "netns_2", "veth2@2"),
        ],
        &log,
    );
}

#[test]
fn a_lab_that_is_not_up_is_refused_and_nothing_is_left() {
    require_root();
    let prefix = unique_prefix("ptx");
    let (_, log, ok) = path(&prefix, &[]);
    assert!(!ok, "{log}");
    assert!(log.contains("is not up"), "{log}");

    // After a successful run, no program, map or link of ours remains.
    let g = LabGuard::up("ptd", &UpOptions::default());
    let p = g.lab.names.prefix.as_deref().unwrap();
    let (_, log, ok) = path(p, &["--function", "no_such_function_here"]);
    assert!(!ok, "{log}");
    assert!(log.contains("no FUNC named no_such_function_here"), "{log}");
    let (_, log, ok) = path(
        p,
        &[
            "--function",
            "ip_route_input_noref",
            "--function",
            "ktime_get",
        ],
    );
    assert!(!ok, "{log}");
    assert!(
        log.contains("--function ktime_get: it takes no struct sk_buff *"),
        "{log}"
    );
    let (_, log, ok) = path(p, &["--functions"]);
    assert!(ok, "{log}");
    assert!(log.contains("attached "), "{log}");
    assert!(nothing_left(), "path left programs or maps behind");
}

/// No program named path_skb and no path_* map exists (bounded wait: other
/// tests of this binary may be tracing right now).
fn nothing_left() -> bool {
    eventually(std::time::Duration::from_secs(10), || {
        let progs = loader::Program::list()
            .unwrap()
            .into_iter()
            .filter(|p| p.name == "path_skb")
            .count();
        let maps = loader::Map::ids()
            .unwrap()
            .into_iter()
            .filter_map(|id| loader::Map::from_id(id).ok()?.info().ok())
            .filter(|m| m.name == "path_events" || m.name == "path_lost")
            .count();
        progs == 0 && maps == 0
    })
}

#[test]
fn follow_prints_the_users_traffic_and_ctrl_c_detaches() {
    use std::io::{BufRead, BufReader, Read};
    let g = LabGuard::up("ptc", &UpOptions::default());
    let prefix = g.lab.names.prefix.clone().unwrap();
    let mut child = Command::new(redirect_lab_binary())
        .args(["path", "--prefix", &prefix, "--follow", "--seconds", "20"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn path --follow");
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    let mut head = String::new();
    // It says "following" once every program is attached.
    while err.read_line(&mut line).unwrap() > 0 {
        head.push_str(&line);
        if line.starts_with("following") {
            break;
        }
        line.clear();
    }
    assert!(head.contains("following"), "{head}");
    // While it follows, its events come through one ring buffer, sized as
    // the kernel requires; no other map type holds them.
    let events: Vec<loader::MapInfo> = loader::Map::ids()
        .unwrap()
        .into_iter()
        .filter_map(|id| loader::Map::from_id(id).ok()?.info().ok())
        .filter(|m| m.name == "path_events")
        .collect();
    assert!(!events.is_empty(), "no path_events map while following");
    for m in &events {
        assert_eq!(m.map_type, loader::MapType::RingBuf.raw(), "{m:?}");
        assert_eq!(m.max_entries, loader::lab::path::RINGBUF_BYTES, "{m:?}");
    }
    g.lab.send(b"followed", None).expect("send");
    std::thread::sleep(std::time::Duration::from_millis(700));
    // Ctrl-C, as the terminal sends it: SIGINT to our own child.
    let k = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(k.success());
    let status = child.wait().unwrap();
    assert!(!status.success(), "Ctrl-C ends it by the signal");
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(
        out.lines()
            .any(|l| l.contains("net_dev_queue") && l.contains("netns_1") && l.contains("veth2@1")),
        "the sent datagram was followed:\n{out}"
    );
    assert!(nothing_left(), "Ctrl-C left programs or maps behind");
}
