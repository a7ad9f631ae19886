//! `bpf::tracing` against the running kernel (root, BTF): two `tp_btf`
//! programs, on `net_dev_queue` and `netif_receive_skb`, loaded by the
//! `btf_trace_NAME` typedef's id and attached with `BPF_RAW_TRACEPOINT_OPEN`
//! (NULL name). Each follows BTF pointers (`skb->dev->nd_net.net->ns.inum`,
//! offsets from vmlinux BTF at run time) to count only the datagrams this
//! test sends over its own namespace's loopback; closing the link detaches.

use std::net::UdpSocket;
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;

use loader::tracing::{self, Hook};
use loader::{Link, LinkType, Map, MapSpec, MapType};
use netlink::netns::NetnsGuard;

/// Counts, into `counter[SLOT]`, the skbs of `len == LEN` whose device is in
/// the network namespace with inode NETNS. The offsets are `-D` constants.
const COUNT_PROG: &str = "\
\t.section tracing
\t.license \"GPL\"
\t.name count_skb
\tr6 = *(u64 *)(r1 +0)\t\t# the tracepoint's first argument: struct sk_buff *
\tr2 = *(u32 *)(r6 +SKB_LEN)\t# skb->len
\tif r2 != LEN goto out
\tr2 = *(u64 *)(r6 +SKB_DEV)\t# skb->dev
\tif r2 == 0 goto out
\tr2 = *(u64 *)(r2 +DEV_NET)\t# dev->nd_net.net
\tif r2 == 0 goto out
\tr2 = *(u32 *)(r2 +NET_INUM)\t# net->ns.inum
\tr3 = NETNS ll\t\t# an inode number is above 2^31: a jump's 32-bit immediate would sign-extend it
\tif r2 != r3 goto out
\tr1 = counter + SLOT ll
\tr2 = 1
\tlock *(u64 *)(r1 +0) += r2
out:
\tr0 = 0
\texit
";

fn send(n: usize, payload: usize) {
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    rx.set_read_timeout(Some(std::time::Duration::from_secs(2)))
        .unwrap();
    let to = rx.local_addr().unwrap();
    let data = vec![0x5au8; payload];
    let mut buf = vec![0u8; payload + 1];
    for _ in 0..n {
        tx.send_to(&data, to).unwrap();
        rx.recv_from(&mut buf).expect("datagram over loopback");
    }
}

/// The u64 at byte `8 * i` of `counter[0]`.
fn count(map: &Map, i: usize) -> u64 {
    let v = map.lookup(&0u32.to_ne_bytes()).unwrap().unwrap();
    u64::from_ne_bytes(v[8 * i..8 * i + 8].try_into().unwrap())
}

#[test]
fn tp_btf_counts_own_datagrams_and_detaches() {
    let btf = tracing::vmlinux().expect("this test needs /sys/kernel/btf/vmlinux");
    let off = |path: &str| -> i64 {
        let f = btf.member(path).unwrap_or_else(|e| panic!("{e}"));
        i64::from(f.byte_offset())
    };
    let ns = NetnsGuard::unique("ldtrace").expect("create netns");
    ns.run(|| {
        let mut h = netlink::Handle::new().expect("rtnetlink");
        h.link_set_up(1).expect("lo up");
        let inum = std::fs::metadata("/proc/thread-self/ns/net").unwrap().ino();
        let counter = Map::create(&MapSpec {
            map_type: MapType::Array,
            key_size: 4,
            value_size: 16,
            max_entries: 1,
            flags: 0,
            name: "tp_counter",
        })
        .unwrap();
        // 20 bytes of IPv4 header, 8 of UDP: skb->len at both tracepoints
        // on loopback (the Ethernet header is pulled by then on receive, and
        // lo's transmit has none to count).
        let payload = 1237usize;
        let mut links: Vec<Link> = Vec::new();
        for (slot, tp, extra) in [(0, "net_dev_queue", 14), (8, "netif_receive_skb", 0)] {
            let defines = vec![
                ("SKB_LEN".to_string(), off("sk_buff.len")),
                ("SKB_DEV".to_string(), off("sk_buff.dev")),
                ("DEV_NET".to_string(), off("net_device.nd_net.net")),
                ("NET_INUM".to_string(), off("net.ns.inum")),
                ("LEN".to_string(), (payload + 28 + extra) as i64),
                ("NETNS".to_string(), inum as i64),
                ("SLOT".to_string(), slot),
            ];
            let prog = ebpf_asm::assemble(
                COUNT_PROG,
                &ebpf_asm::AsmOptions {
                    file_name: "count_skb.s".into(),
                    defines,
                },
            )
            .unwrap_or_else(|e| panic!("{e}"));
            let mut bytes = prog.to_bytes();
            let r = &prog.relocations()[0];
            let ebpf_asm::RelocKind::MapValue { offset } = r.kind else {
                panic!("map value reference expected")
            };
            loader::asm::patch_map_ref(
                &mut bytes,
                r.slot,
                std::os::fd::AsRawFd::as_raw_fd(&counter.as_fd()),
                Some(offset),
            )
            .unwrap();
            let hook = Hook::raw_tp(&btf, tp).unwrap();
            let p = tracing::load(&bytes, &hook, "count_skb", "GPL", None)
                .unwrap_or_else(|e| panic!("{}: {e}", hook.section()));
            let link = tracing::attach(p.as_fd()).unwrap_or_else(|e| panic!("{tp}: {e}"));
            let info = link.info().unwrap();
            assert_eq!(info.prog_id, p.info().unwrap().id);
            assert!(
                matches!(
                    LinkType::from_raw(info.link_type),
                    Some(LinkType::Tracing) | Some(LinkType::RawTracepoint)
                ),
                "link type {}",
                info.link_type
            );
            links.push(link);
        }
        send(5, payload);
        let (q, r) = (count(&counter, 0), count(&counter, 1));
        assert_eq!(q, 5, "net_dev_queue saw {q} of our 5 datagrams on lo");
        assert_eq!(r, 5, "netif_receive_skb saw {r} of our 5 datagrams on lo");

        // Closing the links (and the programs) detaches: no more counts.
        drop(links);
        send(3, payload);
        assert_eq!(
            count(&counter, 0),
            5,
            "net_dev_queue still counting after detach"
        );
        assert_eq!(
            count(&counter, 1),
            5,
            "netif_receive_skb still counting after detach"
        );
    })
    .expect("run in netns");
}

#[test]
fn fentry_on_unknown_function_is_named() {
    let btf = tracing::vmlinux().expect("vmlinux BTF");
    let e = Hook::fentry(&btf, "no_such_function_here").unwrap_err();
    assert!(
        e.to_string()
            .contains("no FUNC named no_such_function_here"),
        "{e}"
    );
    let e = Hook::raw_tp(&btf, "no_such_tracepoint").unwrap_err();
    assert!(
        e.to_string().contains("btf_trace_no_such_tracepoint"),
        "{e}"
    );
}
