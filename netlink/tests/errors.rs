//! Kernel refusals come back as typed errors that name the request, the
//! errno and the kernel's extack text.

mod common;

use common::require_root;
use netlink::netns::{self, Netns, NetnsGuard};
use netlink::{Error, Handle, TcHook};

#[test]
fn clsact_twice_is_eexist_with_extack() {
    require_root();
    let ns = NetnsGuard::unique("nlt-err1").expect("netns");
    let mut h = Handle::in_netns(&ns).expect("handle");
    let v = h.link_add_veth("veth1@2", "veth2@1", None).expect("veth");
    assert!(!h
        .qdiscs(v)
        .expect("dump")
        .iter()
        .any(|q| q.kind == "clsact"));
    h.qdisc_add_clsact(v).expect("first clsact");
    let q = h.qdiscs(v).expect("dump");
    let c = q
        .iter()
        .find(|q| q.kind == "clsact")
        .expect("clsact listed");
    assert_eq!(
        (c.handle, c.parent, c.ifindex),
        (0xFFFF_0000, 0xFFFF_FFF1, v)
    );
    let e = h.qdisc_add_clsact(v).expect_err("second clsact must fail");
    assert_eq!(e.errno(), Some(libc::EEXIST), "{e}");
    assert_eq!(
        e.extack(),
        Some("Exclusivity flag on, cannot modify"),
        "{e}"
    );
    let text = e.to_string();
    assert!(
        text.starts_with(&format!(
            "RTM_NEWQDISC clsact on veth1@2 (ifindex {v}): kernel refused with EEXIST (errno 17: File exists): \"Exclusivity flag on, cannot modify\""
        )),
        "{text}"
    );
    // replace keeps it; delete removes it; a second delete has nothing to remove.
    h.qdisc_replace_clsact(v).expect("replace");
    h.qdisc_del_clsact(v).expect("delete");
    assert!(!h
        .qdiscs(v)
        .expect("dump")
        .iter()
        .any(|q| q.kind == "clsact"));
    let e = h.qdisc_del_clsact(v).expect_err("nothing left to delete");
    assert!(matches!(e, Error::Kernel { .. }), "{e}");
    assert!(
        e.to_string().starts_with("RTM_DELQDISC clsact on veth1@2"),
        "{e}"
    );
    // tc_get_qdisc() (net/sched/sch_api.c) looks in the ingress queue, finds
    // the placeholder qdisc left there, and its handle is not clsact's ffff:.
    assert_eq!(e.errno(), Some(libc::EINVAL), "{e}");
    assert_eq!(e.extack(), Some("Invalid handle"), "{e}");
}

#[test]
fn unknown_ifindex_is_enodev() {
    require_root();
    let ns = NetnsGuard::unique("nlt-err2").expect("netns");
    let mut h = Handle::in_netns(&ns).expect("handle");
    let bad = 0x7fff_0000;
    let e = h.link_set_up(bad).expect_err("no such device");
    assert_eq!(e.errno(), Some(libc::ENODEV), "{e}");
    let text = e.to_string();
    assert!(
        text.starts_with("RTM_NEWLINK up on ifindex 2147418112: kernel refused with ENODEV"),
        "{text}"
    );
    let e = h.qdisc_add_clsact(bad).expect_err("no such device");
    assert_eq!(e.errno(), Some(libc::ENODEV), "{e}");
    assert!(
        e.to_string()
            .ends_with("no such device in this network namespace: check the ifindex or name"),
        "{e}"
    );
    // A filter dump of an unknown device is not an error to the kernel:
    // tc_dump_tfilter() just finds nothing to dump.
    let none = h.filter_dump(bad, TcHook::Ingress).expect("empty dump");
    assert!(none.is_empty());
    let e = h.link_index("nosuchdev0").expect_err("no such name");
    assert!(matches!(e, Error::NotFound(_)), "{e}");
    assert!(e.to_string().contains(ns.name()), "{e}");
    let e = h
        .link_add_veth("a-name-longer-than-15", "p", None)
        .expect_err("IFNAMSIZ");
    assert!(matches!(e, Error::Invalid(_)), "{e}");
}

#[test]
fn veth_name_taken_is_eexist() {
    require_root();
    let ns = NetnsGuard::unique("nlt-err3").expect("netns");
    let mut h = Handle::in_netns(&ns).expect("handle");
    h.link_add_veth("v1", "v2", None).expect("veth");
    let e = h.link_add_veth("v1", "v3", None).expect_err("name taken");
    assert_eq!(e.errno(), Some(libc::EEXIST), "{e}");
    assert!(
        e.to_string()
            .starts_with("RTM_NEWLINK veth v1 (peer v3): kernel refused with EEXIST"),
        "{e}"
    );
}

#[test]
fn netns_errors() {
    require_root();
    let ns = NetnsGuard::unique("nlt-err4").expect("netns");
    let e = Netns::create(ns.name()).expect_err("name taken");
    assert_eq!(e.errno(), Some(libc::EEXIST), "{e}");
    let missing = netns::unique_name("nlt-missing");
    let e = Netns::open(&missing).expect_err("no such netns");
    assert!(matches!(e, Error::NotFound(_)), "{e}");
    let e = Netns::delete(&missing).expect_err("no such netns");
    assert!(matches!(e, Error::NotFound(_)), "{e}");
    assert!(matches!(Netns::create("a/b"), Err(Error::Invalid(_))));
    let e = netns::run_in(&missing, || ()).expect_err("no such netns");
    assert!(matches!(e, Error::NotFound(_)), "{e}");
}
