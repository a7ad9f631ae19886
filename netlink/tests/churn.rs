//! Create and delete namespaces with veths 200 times in a row: no "File
//! exists", no leftover mounts, devices or file descriptors.
//!
//! This file holds one test so that it runs in a process of its own: it
//! counts the process's open fds.

mod common;

use common::require_root;
use netlink::netns::{self, Netns, NetnsGuard};
use netlink::Handle;

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

#[test]
fn create_delete_200_times() {
    require_root();
    // A persistent namespace plays the host: the veth ends that stay here are
    // the ones `ip netns del` leaves behind for a while.
    let host = NetnsGuard::unique("nlt-churn-host").expect("host netns");
    let mut h = Handle::in_netns(&host).expect("handle");
    let name1 = netns::unique_name("nlt-churn-1");
    let name2 = netns::unique_name("nlt-churn-2");
    let fds_before = open_fds();
    for round in 0..200 {
        let ns1 = Netns::create(&name1).unwrap_or_else(|e| panic!("round {round}: {e}"));
        let ns2 = Netns::create(&name2).unwrap_or_else(|e| panic!("round {round}: {e}"));
        h.link_add_veth("veth1@1", "veth1@2", Some(&ns1))
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        h.link_add_veth("veth2@1", "veth2@2", Some(&ns2))
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        ns1.destroy()
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        ns2.destroy()
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        let left: Vec<_> = h
            .links()
            .expect("dump")
            .into_iter()
            .map(|l| l.name)
            .collect();
        assert_eq!(
            left,
            vec!["lo".to_string()],
            "round {round}: the host ends went too"
        );
    }
    assert_eq!(open_fds(), fds_before, "no fd leaked over 200 rounds");
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    for n in [&name1, &name2] {
        assert!(!mountinfo.contains(n.as_str()), "{n} still mounted");
        assert!(!netns::path_of(n).exists(), "{n} still in /run/netns");
    }
}
