//! TC and XDP attachment through hand-built netlink messages, with real
//! programs: assembled by `ebpf_asm`, loaded by `loader`, attached by
//! `netlink`. Each test works in its own namespace, deleted even on failure.

use ebpf_asm::{assemble, AsmOptions};
use loader::{ProgType, Program};
use netlink::consts::{XDP_ATTACHED_NONE, XDP_FLAGS_UPDATE_IF_NOEXIST};
use netlink::netns::NetnsGuard;
use netlink::{BpfFilterSpec, FilterId, Handle, TcHook};
use std::os::fd::AsFd;
use std::process::Command;

/// A program that only returns `ret`: TC_ACT_OK (0) / TC_ACT_SHOT (2) for
/// SCHED_CLS, XDP_PASS (2) for XDP. Assembled from text, as the lab does.
fn program(ty: ProgType, ret: i32, name: &str) -> Program {
    let src = format!("\t.license \"GPL\"\n\tr0 = {ret}\n\texit\n");
    let opts = AsmOptions {
        file_name: format!("{name}.s"),
        ..Default::default()
    };
    let asm = assemble(&src, &opts).unwrap_or_else(|e| panic!("assemble {name}: {e}"));
    Program::load(ty, &asm.to_bytes(), "GPL", name).unwrap_or_else(|e| panic!("load {name}: {e}"))
}

fn require_root() {
    assert!(
        netlink::is_root(),
        "these tests attach BPF programs in new network namespaces: run them as root"
    );
}

/// A namespace with a veth pair `veth1@2`/`veth2@1`, both up.
fn setup(prefix: &str) -> (NetnsGuard, Handle, i32) {
    require_root();
    let ns = NetnsGuard::unique(prefix).expect("netns");
    let mut h = Handle::in_netns(&ns).expect("handle");
    let v = h.link_add_veth("veth1@2", "veth2@1", None).expect("veth");
    let peer = h.link_index("veth2@1").expect("peer");
    h.link_set_up(v).expect("up");
    h.link_set_up(peer).expect("up");
    (ns, h, v)
}

/// `tc` output, or `None` where iproute2 is not installed (but not under
/// CI, which installs it: there the cross-check must run).
fn tc(args: &[&str]) -> Option<String> {
    let out = match Command::new("tc").args(args).output() {
        Ok(out) => out,
        Err(e) if std::env::var_os("CI").is_some() => {
            panic!("tc cannot run ({e}); .ci/run installs iproute2, so CI must have it")
        }
        Err(_) => return None,
    };
    assert!(
        out.status.success(),
        "tc {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn clsact_filter_dump_replace_delete() {
    let (ns, mut h, v) = setup("nlt-tc1");
    let a = program(ProgType::SchedCls, 0, "lab_ok");
    let b = program(ProgType::SchedCls, 2, "lab_shot");
    let (ia, ib) = (a.info().expect("info a"), b.info().expect("info b"));
    assert_ne!(ia.id, ib.id);

    h.qdisc_add_clsact(v).expect("clsact");
    let spec = BpfFilterSpec::new(TcHook::Ingress, a.as_fd(), "redirect_a");
    let id = h.filter_add_bpf(v, &spec).expect("filter add");
    // The kernel chose them; NLM_F_ECHO told us.
    assert_eq!(
        id,
        FilterId {
            prio: 49152,
            handle: 1
        }
    );

    let dump = h.filter_dump(v, TcHook::Ingress).expect("dump");
    assert_eq!(dump.len(), 1, "{dump:?}");
    let f = &dump[0];
    assert_eq!(f.name.as_deref(), Some("redirect_a"));
    assert_eq!(f.id, Some(ia.id));
    assert_eq!(f.tag, Some(ia.tag));
    assert!(f.direct_action(), "TCA_BPF_FLAG_ACT_DIRECT");
    assert_eq!((f.prio, f.handle, f.protocol), (49152, 1, 3));
    assert_eq!(f.ifindex, v);
    assert!(h.filter_dump(v, TcHook::Egress).expect("egress").is_empty());

    if let Some(out) = tc(&[
        "-n",
        ns.name(),
        "filter",
        "show",
        "dev",
        "veth1@2",
        "ingress",
    ]) {
        // The first line is the chain head (no handle); ours has one.
        let line = out
            .lines()
            .find(|l| l.contains(" handle 0x1 "))
            .unwrap_or_default();
        assert!(line.contains("redirect_a"), "{out}");
        assert!(line.contains("direct-action"), "{out}");
        assert!(line.contains(&format!(" id {} ", ia.id)), "{out}");
        assert!(line.contains(&format!("tag {}", ia.tag_hex())), "{out}");
    }

    // Replace: same prio and handle, other program; still one filter.
    let spec_b = BpfFilterSpec {
        prio: id.prio,
        handle: id.handle,
        ..BpfFilterSpec::new(TcHook::Ingress, b.as_fd(), "redirect_b")
    };
    assert_eq!(h.filter_replace_bpf(v, &spec_b).expect("replace"), id);
    let dump = h.filter_dump(v, TcHook::Ingress).expect("dump");
    assert_eq!(dump.len(), 1, "{dump:?}");
    assert_eq!(dump[0].id, Some(ib.id));
    assert_eq!(dump[0].name.as_deref(), Some("redirect_b"));

    // Adding at a taken prio/handle is refused (NLM_F_EXCL).
    let e = h.filter_add_bpf(v, &spec_b).expect_err("taken");
    assert_eq!(e.errno(), Some(libc::EEXIST), "{e}");

    h.filter_del(v, TcHook::Ingress, id).expect("delete");
    assert!(h.filter_dump(v, TcHook::Ingress).expect("dump").is_empty());

    // Egress, with prio and handle of our choosing, and not direct-action.
    let spec_e = BpfFilterSpec {
        prio: 7,
        handle: 3,
        direct_action: false,
        ..BpfFilterSpec::new(TcHook::Egress, a.as_fd(), "egress_a")
    };
    assert_eq!(
        h.filter_add_bpf(v, &spec_e).expect("egress add"),
        FilterId { prio: 7, handle: 3 }
    );
    let dump = h.filter_dump(v, TcHook::Egress).expect("dump");
    assert_eq!(dump.len(), 1);
    assert!(!dump[0].direct_action());
    assert_eq!((dump[0].prio, dump[0].handle), (7, 3));
    h.qdisc_del_clsact(v)
        .expect("clsact del takes the filters with it");
    assert!(h.filter_dump(v, TcHook::Egress).expect("dump").is_empty());
}

#[test]
fn filter_without_clsact_fails() {
    let (_ns, mut h, v) = setup("nlt-tc2");
    let a = program(ProgType::SchedCls, 0, "lab_ok");
    let e = h
        .filter_add_bpf(v, &BpfFilterSpec::new(TcHook::Ingress, a.as_fd(), "x"))
        .expect_err("no clsact");
    eprintln!("{e}");
    assert_eq!(e.errno(), Some(libc::EINVAL), "{e}");
    assert_eq!(
        e.extack(),
        Some("Parent Qdisc doesn't exists"),
        "the kernel says why: {e}"
    );
    assert!(e.to_string().contains("add the clsact qdisc first"), "{e}");
    assert!(
        e.to_string().starts_with(&format!(
            "RTM_NEWTFILTER bpf on veth1@2 (ifindex {v}) ingress: kernel refused with"
        )),
        "{e}"
    );
}

#[test]
fn filter_name_longer_than_the_kernel_allows_fails() {
    let (_ns, mut h, v) = setup("nlt-tc3");
    let a = program(ProgType::SchedCls, 0, "lab_ok");
    h.qdisc_add_clsact(v).expect("clsact");
    // cls_bpf's policy: TCA_BPF_NAME is NLA_NUL_STRING with len
    // CLS_BPF_NAME_LEN (256, net/sched/cls_bpf.c).
    let ok_name = "n".repeat(256);
    let long = "n".repeat(257);
    let e = h
        .filter_add_bpf(v, &BpfFilterSpec::new(TcHook::Ingress, a.as_fd(), &long))
        .expect_err("257-byte name");
    eprintln!("{e}");
    // cls_bpf parses its options without extack: the kernel says only EINVAL,
    // and the error explains it.
    assert_eq!(e.errno(), Some(libc::EINVAL), "{e}");
    let text = e.to_string();
    assert!(
        text.contains("TCA_BPF_NAME is 257 bytes and cls_bpf accepts at most 256"),
        "{text}"
    );
    // Longer than netlink itself can carry: refused before sending.
    let huge = "n".repeat(70_000);
    let e = h
        .filter_add_bpf(v, &BpfFilterSpec::new(TcHook::Ingress, a.as_fd(), &huge))
        .expect_err("70000-byte name");
    assert!(matches!(e, netlink::Error::Invalid(_)), "{e}");
    assert!(e.to_string().contains("nla_len is 16 bits"), "{e}");
    let id = h
        .filter_add_bpf(v, &BpfFilterSpec::new(TcHook::Ingress, a.as_fd(), &ok_name))
        .expect("the longest allowed name");
    let dump = h.filter_dump(v, TcHook::Ingress).expect("dump");
    assert_eq!(dump.len(), 1);
    assert_eq!(dump[0].name.as_deref(), Some(ok_name.as_str()));
    h.filter_del(v, TcHook::Ingress, id).expect("delete");
}

#[test]
fn xdp_attach_query_replace_detach() {
    let (_ns, mut h, v) = setup("nlt-xdp");
    let a = program(ProgType::Xdp, 2, "xdp_pass_a");
    let b = program(ProgType::Xdp, 2, "xdp_pass_b");
    let (ia, ib) = (a.info().expect("info"), b.info().expect("info"));
    assert_eq!(h.xdp_query(v).expect("query"), None);
    h.xdp_attach(v, a.as_fd(), 0, None).expect("attach");
    let q = h.xdp_query(v).expect("query").expect("attached");
    assert_eq!(q.prog_id, ia.id);
    assert_ne!(q.attached, XDP_ATTACHED_NONE);
    let e = h
        .xdp_attach(v, b.as_fd(), XDP_FLAGS_UPDATE_IF_NOEXIST, None)
        .expect_err("already attached");
    assert_eq!(e.errno(), Some(libc::EBUSY), "{e}");
    assert_eq!(e.extack(), Some("XDP program already attached"), "{e}");
    assert!(
        e.to_string().starts_with(&format!(
            "RTM_SETLINK IFLA_XDP attach on veth1@2 (ifindex {v}): "
        )),
        "{e}"
    );
    // Atomic replace: only if `a` is still the one attached.
    h.xdp_attach(v, b.as_fd(), 0, Some(a.as_fd()))
        .expect("replace");
    assert_eq!(
        h.xdp_query(v).expect("query").map(|q| q.prog_id),
        Some(ib.id)
    );
    let e = h
        .xdp_attach(v, a.as_fd(), 0, Some(a.as_fd()))
        .expect_err("a is no longer attached");
    assert_eq!(e.errno(), Some(libc::EEXIST), "{e}");
    assert_eq!(
        e.extack(),
        Some("Active program does not match expected"),
        "{e}"
    );
    h.xdp_detach(v, 0).expect("detach");
    assert_eq!(h.xdp_query(v).expect("query"), None);
    let links = h.links().expect("dump");
    let l = links.iter().find(|l| l.ifindex == v).expect("veth listed");
    assert_eq!(l.xdp_prog_id, None);
}
