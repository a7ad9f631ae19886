//! `redirect-lab up --mode M` through the CLI: bad input leaves a running
//! lab alone, `--explain` and `status` follow the mode's hook, and each
//! pitfall flag reproduces its pitfall. The kernel-level proofs per mode
//! (delivery, TCP echo, ForwDatagrams) are the `mode-*` behaviours in
//! `lab_tests::behaviours::mode_delivery`, run here on the host too.

mod lab_common;

use std::process::{Command, Output};

use lab_common::*;
use loader::lab::{Lab, UpOptions};

fn run(args: &[&str]) -> Output {
    Command::new(redirect_lab_binary())
        .args(args)
        .output()
        .expect("run redirect-lab")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The program id attached by the running lab, whatever its hook.
fn attached_ids(lab: &Lab) -> Vec<u32> {
    let st = lab.status().expect("status");
    let mut ids: Vec<u32> = st.filters.iter().filter_map(|f| f.filter.id).collect();
    ids.extend(st.xdp.iter().map(|x| x.prog_id));
    ids.extend(st.tcx.iter().map(|(l, _)| l.prog_id));
    ids
}

#[test]
fn bad_modes_are_refused_and_the_running_lab_stays() {
    require_root();
    let g = LabGuard::up("mbad", &UpOptions::default());
    let prefix = g.lab.names.prefix.clone().expect("prefix");
    let before = attached_ids(&g.lab);
    assert_eq!(before.len(), 1);
    for (args, expect) in [
        (
            vec!["--mode", "warp"],
            "unknown mode \"warp\"; the modes are: egress, ingress, peer, neigh, fib, xdp, devmap, tcx",
        ),
        (
            vec!["--mode", "egress", "--pitfall"],
            "mode egress has no pitfall to show; --pitfall works with peer, neigh, fib, xdp",
        ),
        (
            vec!["--mode", "fib", "--xdp-generic"],
            "--xdp-generic needs an XDP mode; fib runs at tc ingress",
        ),
        (
            vec!["--mode", "peer", "--forwarding-off"],
            "--forwarding-off is the fib mode's pitfall; give --mode fib",
        ),
        (
            vec!["--mode", "tcx", "--ingress"],
            "--ingress is the `ingress` mode",
        ),
    ] {
        let mut a = vec!["up", "--prefix", &prefix];
        a.extend(args.iter().copied());
        let o = run(&a);
        assert!(!o.status.success(), "{a:?} must fail");
        assert!(text(&o).contains(expect), "{a:?}: {}", text(&o));
        assert_eq!(attached_ids(&g.lab), before, "{a:?} touched the lab");
    }
}

/// `--mode netkit` on a kernel without netkit (this host's 6.18): the probe
/// creates a pair in a scratch netns before anything is torn down, so the
/// running lab keeps its program and the error carries the kernel's words.
/// Where the kernel has netkit, the mode comes up with its netkit link.
#[test]
fn netkit_is_probed_before_the_running_lab_is_touched() {
    require_root();
    let g = LabGuard::up("mnkp", &UpOptions::default());
    let prefix = g.lab.names.prefix.clone().expect("prefix");
    let before = attached_ids(&g.lab);
    let o = run(&["up", "--prefix", &prefix, "--mode", "netkit", "--explain"]);
    let t = text(&o);
    if o.status.success() {
        for want in [
            "type netkit mode l2",
            "attach_type = BPF_NETKIT_PEER (55)",
            "redirect-lab asm bpf-src/peer.s",
        ] {
            assert!(t.contains(want), "netkit --explain lacks {want:?}:\n{t}");
        }
        let st = text(&run(&["status", "--prefix", &prefix]));
        assert!(
            st.contains("netkit link") && st.contains("(BPF_NETKIT_PEER) on veth2@2"),
            "{st}"
        );
        return;
    }
    assert!(
        t.contains("mode netkit needs a netkit device (Linux 6.7+, CONFIG_NETKIT)")
            && t.contains("the running lab was left alone")
            && t.contains("RTM_NEWLINK netkit"),
        "{t}"
    );
    assert_eq!(
        attached_ids(&g.lab),
        before,
        "up --mode netkit touched the lab"
    );
    let st = g.lab.status().expect("status");
    assert!(st.missing.is_empty(), "{:?}", st.missing);
    assert!(st.links.is_empty(), "a link was left: {st}");
}

#[test]
fn explain_and_status_follow_the_hook() {
    require_root();
    let g = LabGuard::up("mexp", &UpOptions::default());
    let prefix = g.lab.names.prefix.clone().expect("prefix");
    for (mode, explain_has, status_has) in [
        (
            "xdp",
            vec![
                "ip link set dev veth1@2 xdpdrv obj prog.o sec xdp",
                "ethtool -K veth1@1 tx off",
                "ip link set dev veth2@2 xdpdrv obj xdp_pass.o sec xdp",
                "prog_type = BPF_PROG_TYPE_XDP (6)",
                "IFLA_XDP",
            ],
            vec![
                "xdp on veth1@2",
                "xdpdrv (native), program",
                "name redirect_xdp",
                "xdp on veth2@2",
                "name xdp_pass",
            ],
        ),
        (
            "tcx",
            vec![
                "bpftool net attach tcx_ingress",
                "BPF_PROG_TYPE_SCHED_CLS",
                "BPF_LINK_CREATE request",
                "attach_type = BPF_TCX_INGRESS (46)",
            ],
            vec![
                "tcx link",
                "on veth1@2 ingress (attached), pinned at /sys/fs/bpf/",
            ],
        ),
        (
            "neigh",
            vec![
                "redirect-lab asm bpf-src/neigh.s",
                "tc filter replace dev veth1@2 ingress",
            ],
            vec!["name redirect_neigh"],
        ),
    ] {
        let o = run(&["up", "--prefix", &prefix, "--mode", mode, "--explain"]);
        let t = text(&o);
        assert!(o.status.success(), "{mode}: {t}");
        assert!(t.contains(&format!("== mode {mode}:")), "{mode}: {t}");
        for want in explain_has {
            assert!(t.contains(want), "{mode} --explain lacks {want:?}:\n{t}");
        }
        // One datagram, so neigh's ARP entry exists.
        let _ = run(&["send", "--prefix", &prefix, "x"]);
        let o = run(&["status", "--prefix", &prefix]);
        let t = text(&o);
        for want in status_has {
            assert!(t.contains(want), "{mode} status lacks {want:?}:\n{t}");
        }
        if mode != "xdp" {
            assert!(
                !t.contains("xdp on"),
                "{mode}: an XDP program left over:\n{t}"
            );
        }
        if mode == "neigh" {
            assert!(
                t.contains("neighbour on veth2@1: 10.0.2.11 is 02:00:00:00:00:00"),
                "{t}"
            );
        }
    }
    // down removes the TCX pin with the lab.
    let o = run(&["up", "--prefix", &prefix, "--mode", "tcx"]);
    assert!(o.status.success(), "{}", text(&o));
    let pin = loader::lab::plan::tcx_pin_path(&g.lab.names);
    assert!(pin.exists());
    let o = run(&["down", "--prefix", &prefix]);
    assert!(text(&o).contains("pin /sys/fs/bpf/"), "{}", text(&o));
    assert!(!pin.exists());
}

#[test]
fn fib_forwarding_off_names_the_return_code() {
    require_root();
    let g = LabGuard::up("mfwd", &UpOptions::default());
    let prefix = g.lab.names.prefix.clone().expect("prefix");
    let o = run(&[
        "up",
        "--prefix",
        &prefix,
        "--mode",
        "fib",
        "--forwarding-off",
    ]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(
        t.contains("bpf_fib_lookup returned BPF_FIB_LKUP_RET_FWD_DISABLED (5)"),
        "{t}"
    );
    let o = run(&["up", "--prefix", &prefix, "--mode", "fib"]);
    let t = text(&o);
    assert!(!t.contains("FWD_DISABLED (5)"), "{t}");
}

#[test]
fn every_mode_behaviour_holds_on_this_kernel() {
    require_root();
    let mut failed = Vec::new();
    for b in lab_tests::behaviours::REGISTRY
        .iter()
        .filter(|b| b.id.starts_with("mode-"))
    {
        match (b.run)() {
            Ok(lab_tests::report::Verdict::Fail(why)) => failed.push(format!("{}: {why}", b.id)),
            Err(e) => failed.push(format!("{}: {e}", b.id)),
            Ok(_) => {}
        }
    }
    assert!(failed.is_empty(), "{failed:#?}");
}

#[test]
fn a_helper_the_kernel_lacks_is_named_and_the_lab_stays() {
    require_root();
    let g = LabGuard::up("mhelp", &UpOptions::default());
    let before = attached_ids(&g.lab);
    // A program calling a helper id no kernel has stands in for a kernel
    // without the mode's helper: the same verifier refusal ("invalid func").
    let options = UpOptions {
        mode: loader::lab::mode::find("peer").expect("peer"),
        source: loader::lab::up::ProgramSource::Text {
            name: "no-such-helper.s".into(),
            text: "\tr0 = 0\n\tcall 9999\n\texit\n".into(),
        },
        ..Default::default()
    };
    let err = g
        .lab
        .up(&options, &mut Vec::new())
        .expect_err("the kernel has no helper 9999")
        .to_string();
    assert!(
        err.contains("mode peer needs bpf_redirect_peer (Linux 5.10+), which this kernel does not have; the running lab was left alone"),
        "{err}"
    );
    assert!(err.contains("unknown#9999"), "{err}");
    assert!(err.contains("no-such-helper.s:2"), "{err}");
    assert_eq!(attached_ids(&g.lab), before);
}

#[test]
fn map_set_retargets_devmap_and_refuses_bad_input() {
    require_root();
    let g = LabGuard::up("mmap", &UpOptions::default());
    let prefix = g.lab.names.prefix.clone().expect("prefix");
    // The egress lab has no map.
    let o = run(&["map", "set", "--prefix", &prefix, "ports", "0", "veth2@1"]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("map ports is not pinned") && text(&o).contains("--mode devmap"),
        "{}",
        text(&o)
    );
    let o = run(&["up", "--prefix", &prefix, "--mode", "devmap"]);
    assert!(o.status.success(), "{}", text(&o));
    for (args, expect) in [
        (
            vec!["nope", "0", "veth2@1"],
            "no lab map \"nope\"; the modes' maps are: ports (devmap)",
        ),
        (
            vec!["ports", "9", "veth2@1"],
            "key 9 is out of range: map ports has 4 entries (0..3)",
        ),
        (vec!["ports", "0", "eth7"], "no device \"eth7\" in"),
    ] {
        let mut a = vec!["map", "set", "--prefix", &prefix];
        a.extend(args.iter().copied());
        let o = run(&a);
        assert!(!o.status.success(), "{a:?}");
        assert!(text(&o).contains(expect), "{a:?}: {}", text(&o));
    }
    let status = || text(&run(&["status", "--prefix", &prefix]));
    assert!(status().contains("(veth2@1)"), "{}", status());
    let o = run(&["map", "set", "--prefix", &prefix, "ports", "1", "veth1@2"]);
    assert!(
        text(&o).contains("ports[1] = ifindex") && text(&o).contains("the program is unchanged"),
        "{}",
        text(&o)
    );
    let st = status();
    assert!(
        st.contains("map ports[0] = ifindex") && st.contains("map ports[1] = ifindex"),
        "{st}"
    );
    assert!(st.contains("(veth1@2)"), "{st}");
}
