//! `redirect-lab path` end to end (root, BTF): one datagram through an
//! isolated lab, traced with our tp_btf programs, for the seed's two
//! stories and the program-less lab; a lab that is not up is refused; and
//! nothing (program, link, map) is left after the command exits.

mod lab_common;

use std::process::Command;

use lab_common::*;
use loader::lab::plan::Side;
use loader::lab::UpOptions;

/// How long a listener waits: `path` parses BTF and assembles, loads and
/// attaches 16 programs before it sends, which takes seconds on a loaded
/// machine (a debug build, parallel tests); a listener gone by then makes
/// the datagram a NO_SOCKET drop. It returns at the first datagram.
const LISTEN_WHILE_PATH_RUNS: std::time::Duration = std::time::Duration::from_secs(30);

/// One event of `path --json`, the fields the tests read.
#[derive(Debug, Clone)]
struct Ev {
    hook: String,
    netns: String,
    device: String,
    pkt_type: String,
    reason: String,
    note: String,
    daddr: String,
    nud_state: String,
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
            daddr: field(l, "daddr"),
            nud_state: field(l, "nud_state"),
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

/// `ip -n NS neigh ARGS` (iproute2, the oracle for the neighbour table).
fn ip_neigh(lab: &loader::lab::Lab, side: Side, args: &[&str]) -> String {
    let ns = lab.names.netns(side).expect("an isolated lab's namespace");
    let out = Command::new("ip")
        .args(["-n", ns, "neigh"])
        .args(args)
        .output()
        .expect("run ip neigh");
    assert!(out.status.success(), "ip neigh {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// netns_1's neighbour events for the lab's destination.
fn netns1_neigh_of_dest(evs: &[Ev]) -> Vec<&Ev> {
    evs.iter()
        .filter(|e| e.hook.starts_with("neigh_") && e.netns == "netns_1" && e.daddr == "10.0.2.11")
        .collect()
}

#[test]
fn egress_leaves_by_veth2_1_and_reaches_the_socket() {
    let g = LabGuard::up("pte", &UpOptions::default());
    // With the program, netns_1 never resolves the destination: the program
    // writes the MAC itself. Flush so that a lookup would have to show.
    ip_neigh(&g.lab, Side::Netns1, &["flush", "all"]);
    let rx = spawn_listener(&g.lab, 1, LISTEN_WHILE_PATH_RUNS, false);
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
    assert!(
        netns1_neigh_of_dest(&evs).is_empty(),
        "bpf_redirect skips netns_1's neighbour layer:\n{log}"
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
    let rx = spawn_listener(&g.lab, 1, LISTEN_WHILE_PATH_RUNS, false);
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
    // Flushed, netns_1's entry for 10.0.2.11 must be made again: its
    // neighbour layer resolves the next hop (ARP) before veth2@1 sends.
    ip_neigh(&g.lab, Side::Netns1, &["flush", "all"]);
    let before = ip_neigh(&g.lab, Side::Netns1, &["show", "10.0.2.11"]);
    assert!(before.trim().is_empty(), "not flushed: {before}");
    let (evs, log, ok) = path(g.lab.names.prefix.as_deref().unwrap(), &[]);
    assert!(ok, "{log}");
    let at = in_order(
        &evs,
        &[
            ("netif_receive_skb", "netns_1", "veth1@2"),
            ("fib_table_lookup", "netns_1", "veth1@2"),
            ("neigh_create", "netns_1", "veth2@1"),
            ("neigh_event_send_done", "netns_1", "veth2@1"),
            ("neigh_update", "netns_1", "veth2@1"),
            ("net_dev_queue", "netns_1", "veth2@1"),
            ("netif_receive_skb", "netns_2", "veth2@2"),
        ],
        &log,
    );
    // Created, the entry is INCOMPLETE while ARP asks and the packet waits
    // in it; the reply's update sends it (__neigh_update flushes the queue
    // before neigh_update_done fires) and leaves the entry REACHABLE.
    let (create, send, update) = (&evs[at[2]], &evs[at[3]], &evs[at[4]]);
    for e in [create, send, update] {
        assert_eq!(e.daddr, "10.0.2.11", "{e:?}\n{log}");
    }
    assert!(
        create
            .note
            .contains("netns_1's neighbour layer creates an entry for 10.0.2.11"),
        "{log}"
    );
    assert_eq!(send.nud_state, "INCOMPLETE", "{log}");
    assert!(
        send.note
            .contains("netns_1's neighbour layer resolves 10.0.2.11 (ARP)"),
        "{log}"
    );
    assert_eq!(update.nud_state, "INCOMPLETE", "{log}");
    let done = find(&evs, at[4], ("neigh_update_done", "netns_1", "veth2@1"))
        .unwrap_or_else(|| panic!("no neigh_update_done after the update:\n{log}"));
    assert_eq!(evs[done].daddr, "10.0.2.11", "{log}");
    assert_eq!(
        evs[done].nud_state, "REACHABLE",
        "the ARP reply came:\n{log}"
    );
    // The kernel's own table agrees: the entry exists now, with an address.
    let after = ip_neigh(&g.lab, Side::Netns1, &["show", "10.0.2.11"]);
    assert!(
        after.contains("veth2@1") && after.contains("lladdr"),
        "ip neigh: {after}\n{log}"
    );
    // The skb events carry no NUD state; the neighbour ones no pkt_type.
    assert!(evs
        .iter()
        .all(|e| e.hook.starts_with("neigh_") != (e.nud_state == "null")));
    assert!(netns1_neigh_of_dest(&evs).iter().all(|e| e.pkt_type == "-"));
}

#[test]
fn neigh_mode_resolves_the_destination_in_netns_1s_neighbour_layer() {
    let g = LabGuard::up(
        "ptm",
        &UpOptions {
            mode: loader::lab::mode::find("neigh").expect("neigh mode"),
            ..Default::default()
        },
    );
    // bpf_redirect_neigh fills the MACs from netns_1's neighbour table, so
    // with the entry flushed its neighbour layer must resolve it first.
    ip_neigh(&g.lab, Side::Netns1, &["flush", "all"]);
    let (evs, log, ok) = path(g.lab.names.prefix.as_deref().unwrap(), &[]);
    assert!(ok, "{log}");
    let at = in_order(
        &evs,
        &[
            ("netif_receive_skb", "netns_1", "veth1@2"),
            ("neigh_create", "netns_1", "veth2@1"),
            ("neigh_update", "netns_1", "veth2@1"),
            ("net_dev_queue", "netns_1", "veth2@1"),
            ("netif_receive_skb", "netns_2", "veth2@2"),
        ],
        &log,
    );
    assert_eq!(evs[at[1]].daddr, "10.0.2.11", "{log}");
    assert_eq!(evs[at[2]].nud_state, "INCOMPLETE", "{log}");
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
    // A kernel without BTF: no file, or one that is not BTF. Both are
    // refused before anything is attached, saying what the kernel lacks.
    let garbage = std::env::temp_dir().join(format!("lab_path_btf_{}", std::process::id()));
    std::fs::write(&garbage, b"\x7fELF, not BTF").unwrap();
    for (file, want) in [
        ("/nonexistent/vmlinux", "ENOENT"),
        (garbage.to_str().unwrap(), "is not usable BTF"),
    ] {
        let (_, log, ok) = path(p, &["--vmlinux-btf", file]);
        assert!(!ok, "{log}");
        assert!(log.contains(file) && log.contains(want), "{log}");
        assert!(log.contains("CONFIG_DEBUG_INFO_BTF"), "{log}");
        assert!(!log.contains("attached "), "{log}");
    }
    let _ = std::fs::remove_file(&garbage);
    // The function layer: where the kernel refuses fentry (this host: EPERM)
    // that is a warning, said once, and the base layer still runs.
    let (_, log, ok) = path(p, &["--functions"]);
    assert!(ok, "{log}");
    assert!(log.contains("attached "), "{log}");
    if log.contains("fentry is refused") {
        assert_eq!(
            log.matches("warning: fentry is refused").count(),
            1,
            "{log}"
        );
        assert!(log.contains("EPERM"), "{log}");
    }
    assert!(nothing_left(), "path left programs or maps behind");
}

/// No program named path_* and no path_* map exists (bounded wait: other
/// tests of this binary may be tracing right now).
fn nothing_left() -> bool {
    eventually(std::time::Duration::from_secs(10), || {
        let progs = loader::Program::list()
            .unwrap()
            .into_iter()
            .filter(|p| p.name.starts_with("path_"))
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

/// The BPF objects a process holds, by id, from its fds' fdinfo
/// (`prog_id:`, `map_id:`, `link_id:`, as kernel/bpf/syscall.c prints them).
#[derive(Debug, Default)]
struct Held {
    progs: Vec<u32>,
    maps: Vec<u32>,
    links: Vec<u32>,
}

fn held_by(pid: u32) -> Held {
    let mut h = Held::default();
    let dir = format!("/proc/{pid}/fdinfo");
    for ent in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{dir}: {e}")) {
        let Ok(text) = std::fs::read_to_string(ent.unwrap().path()) else {
            continue;
        };
        let id = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(key)?.trim().parse::<u32>().ok())
        };
        // A link's fdinfo names its program too: count that as the link's.
        if let Some(l) = id("link_id:") {
            h.links.push(l);
        } else if let Some(p) = id("prog_id:") {
            h.progs.push(p);
        } else if let Some(m) = id("map_id:") {
            h.maps.push(m);
        }
    }
    h
}

/// The ids `bpftool -j KIND show` lists (the outside oracle).
fn bpftool_ids(kind: &str) -> Option<Vec<u32>> {
    let out = Command::new("bpftool")
        .args(["-j", kind, "show"])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    Some(
        v.as_array()?
            .iter()
            .filter_map(|o| o.get("id")?.as_u64())
            .map(|i| i as u32)
            .collect(),
    )
}

/// Whether every program, map and link `h` names is gone from the kernel,
/// by our own id lists and, where it is installed, by bpftool's.
fn all_gone(h: &Held) -> bool {
    eventually(std::time::Duration::from_secs(10), || {
        let none_in = |ids: &[u32], of: &[u32]| !of.iter().any(|i| ids.contains(i));
        let ours = none_in(&loader::Program::ids().unwrap(), &h.progs)
            && none_in(&loader::Map::ids().unwrap(), &h.maps)
            && none_in(&loader::Link::ids().unwrap(), &h.links);
        let theirs = [("prog", &h.progs), ("map", &h.maps), ("link", &h.links)]
            .iter()
            .all(|(kind, of)| match bpftool_ids(kind) {
                Some(ids) => none_in(&ids, of),
                None => true,
            });
        ours && theirs
    })
}

/// Starts `path --follow` and returns once it says it is following (every
/// program attached), with what it printed on stderr so far.
fn follow(prefix: &str, seconds: &str) -> (std::process::Child, String) {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(redirect_lab_binary())
        .args(["path", "--prefix", prefix, "--follow", "--seconds", seconds])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn path --follow");
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    let mut head = String::new();
    while err.read_line(&mut line).unwrap() > 0 {
        head.push_str(&line);
        if line.starts_with("following") {
            break;
        }
        line.clear();
    }
    assert!(head.contains("following"), "{head}");
    // Keep draining stderr so the child never blocks on a full pipe.
    std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = std::io::Read::read_to_string(&mut err, &mut rest);
    });
    (child, head)
}

/// The count in "attached N programs".
fn attached(head: &str) -> usize {
    head.split("attached ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no program count in {head}"))
}

#[test]
fn follow_prints_the_users_traffic_and_ctrl_c_detaches() {
    use std::io::Read;
    let g = LabGuard::up("ptc", &UpOptions::default());
    let prefix = g.lab.names.prefix.clone().unwrap();
    let (mut child, head) = follow(&prefix, "20");
    // While it follows, it holds one link per program (the programs' own
    // fds are kept too), the ring buffer and the loss counter.
    let held = held_by(child.id());
    let n = attached(&head);
    assert_eq!(held.links.len(), n, "{held:?}\n{head}");
    assert_eq!(held.progs.len(), n, "{held:?}\n{head}");
    assert!(held.maps.len() >= 2, "{held:?}");
    let links = loader::Link::ids().unwrap();
    assert!(held.links.iter().all(|l| links.contains(l)), "{held:?}");
    // Its events come through one ring buffer, sized as the kernel
    // requires; no other map type holds them.
    let events: Vec<loader::MapInfo> = held
        .maps
        .iter()
        .filter_map(|id| loader::Map::from_id(*id).ok()?.info().ok())
        .filter(|m| m.name == "path_events")
        .collect();
    assert_eq!(events.len(), 1, "{held:?}");
    assert_eq!(events[0].map_type, loader::MapType::RingBuf.raw());
    assert_eq!(events[0].max_entries, loader::lab::path::RINGBUF_BYTES);
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
    assert!(
        all_gone(&held),
        "Ctrl-C left some of {held:?} behind (ours: progs {:?}, links {:?})",
        loader::Program::ids(),
        loader::Link::ids()
    );
}

#[test]
fn follow_ends_by_itself_and_detaches() {
    let g = LabGuard::up("pto", &UpOptions::default());
    let prefix = g.lab.names.prefix.clone().unwrap();
    let (mut child, head) = follow(&prefix, "2");
    let held = held_by(child.id());
    assert_eq!(held.links.len(), attached(&head), "{held:?}\n{head}");
    let status = child.wait().unwrap();
    assert!(status.success(), "--seconds 2 ends it normally: {status}");
    assert!(
        all_gone(&held),
        "the normal exit left some of {held:?} behind"
    );
}
