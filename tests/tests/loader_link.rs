//! `BPF_LINK_CREATE` with `BPF_TCX_INGRESS` on loopback, inside a network
//! namespace this test creates (root, Linux 6.6+ for TCX): the link's info,
//! a map-value relocation from assembly, real traffic counted by the program,
//! and detachment when the last fd (or pin) goes away.

use std::net::UdpSocket;
use std::os::fd::AsFd;
use std::path::PathBuf;

use loader::pin::{ensure_bpffs, unpin, BPFFS_ROOT};
use loader::{AsmLoad, AttachType, Link, LinkType, Map, MapSpec, MapType, ProgType, Program};
use netlink::netns::NetnsGuard;

/// Counts packets into the u64 at `counter[0]` and lets them pass (TCX_PASS).
const COUNTER_PROG: &str = "\
\t.section tc
\t.license \"GPL\"
\t.name count_pkts
\tr1 = counter + 0 ll\t\t# &counter[0], patched by the loader (map value)
\tr2 = 1
\tlock *(u64 *)(r1 +0) += r2
\tr0 = 0\t\t\t\t# TCX_PASS
\texit
";

/// Removes a pin on drop.
struct Pin(PathBuf);
impl Drop for Pin {
    fn drop(&mut self) {
        let _ = unpin(&self.0);
    }
}

fn count(map: &Map) -> u64 {
    let v = map.lookup(&0u32.to_ne_bytes()).unwrap().unwrap();
    u64::from_ne_bytes(v.try_into().unwrap())
}

/// Sends `n` datagrams over loopback (each crosses lo's ingress once).
fn send(n: usize) {
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    rx.set_read_timeout(Some(std::time::Duration::from_secs(2)))
        .unwrap();
    let to = rx.local_addr().unwrap();
    let mut buf = [0u8; 16];
    for _ in 0..n {
        tx.send_to(b"ping", to).unwrap();
        rx.recv_from(&mut buf).expect("datagram over loopback");
    }
}

#[test]
fn tcx_link_on_loopback_counts_traffic_and_detaches() {
    let ns = NetnsGuard::unique("ldtcx").expect("create netns");
    if loader::error::kernel_version().is_some_and(|v| v < (6, 6)) {
        // The attach must fail with a message naming the version. Even a
        // refused attach goes to our own namespace's loopback, not the host's.
        ns.run(|| {
            let insns = [[0xb7u8, 0, 0, 0, 0, 0, 0, 0], [0x95, 0, 0, 0, 0, 0, 0, 0]].concat();
            let p = Program::load(ProgType::SchedCls, &insns, "GPL", "tcx_old").unwrap();
            let e = Link::attach_ifindex(p.as_fd(), 1, AttachType::TcxIngress, 0).unwrap_err();
            assert!(e.to_string().contains("introduced in Linux 6.6"), "{e}");
        })
        .expect("run in netns");
        return;
    }
    ensure_bpffs().unwrap();
    ns.run(|| {
        let mut h = netlink::Handle::new().expect("rtnetlink");
        h.link_set_up(1).expect("lo up");

        let counter = Map::create(&MapSpec {
            map_type: MapType::Array,
            key_size: 4,
            value_size: 8,
            max_entries: 1,
            flags: 0,
            name: "counter",
        })
        .unwrap();
        let asm = ebpf_asm::assemble(
            COUNTER_PROG,
            &ebpf_asm::AsmOptions {
                file_name: "count.s".into(),
                defines: Vec::new(),
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(asm.relocations().len(), 1);
        let prog = Program::load_asm(
            &asm,
            &AsmLoad {
                prog_type: ProgType::SchedCls,
                file_name: "count.s",
                maps: &[("counter", counter.as_fd())],
                verbose: false,
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let prog_id = prog.info().unwrap().id;
        assert_eq!(prog.info().unwrap().nr_map_ids, 1);

        let link = Link::attach_ifindex(prog.as_fd(), 1, AttachType::TcxIngress, 0).unwrap();
        let info = link.info().unwrap();
        assert_eq!(LinkType::from_raw(info.link_type), Some(LinkType::Tcx));
        assert_eq!(info.prog_id, prog_id);
        assert_eq!(info.ifindex, Some(1));
        assert_eq!(info.attach_type, Some(AttachType::TcxIngress.raw()));
        assert!(Link::ids().unwrap().contains(&info.id));
        assert_eq!(
            Link::from_id(info.id).unwrap().info().unwrap().prog_id,
            prog_id
        );

        send(5);
        let seen = count(&counter);
        assert!(
            seen >= 5,
            "5 datagrams crossed lo's ingress, counted {seen}"
        );

        // A pinned link outlives its fd; unpinning detaches.
        let pin = Pin(PathBuf::from(format!(
            "{BPFFS_ROOT}/loader_link_{}_{}",
            std::process::id(),
            info.id
        )));
        link.pin(&pin.0).unwrap();
        drop(link);
        send(3);
        let pinned = count(&counter);
        assert!(
            pinned >= seen + 3,
            "still attached through the pin: {seen} -> {pinned}"
        );
        assert_eq!(Link::from_pin(&pin.0).unwrap().info().unwrap().id, info.id);
        // Unlinking the pin drops the last reference from bpffs inode
        // eviction, and the kernel frees such links from a workqueue
        // (`bpf_link_put`), so detachment is asynchronous: wait for it,
        // bounded.
        drop(pin);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let before = count(&counter);
            send(1);
            if count(&counter) == before {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "still counting 5 s after the pin was removed"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let settled = count(&counter);
        send(3);
        assert_eq!(
            count(&counter),
            settled,
            "detached once the pin and every fd are gone"
        );

        // Attaching to a device that does not exist names it.
        let e = Link::attach_ifindex(prog.as_fd(), 999_999, AttachType::TcxIngress, 0).unwrap_err();
        assert!(
            e.to_string().contains("no device with ifindex 999999"),
            "{e}"
        );
    })
    .expect("run in netns");
}
