//! Property test: the reply parser never panics. A million datagrams, random
//! or mutated from realistic replies (fixed seeds, so a failure reproduces),
//! go through the same code the Handle runs on every `recv`, the typed
//! decoders, and inspect mode's tree. No root needed.

use netlink::consts::*;
use netlink::handle::parse_replies;
use netlink::wire::{self, IfAddrMsg, IfInfoMsg, MsgBuilder, RtMsg, TcMsg, NLMSG_HDRLEN};
use netlink::{inspect, Address, BpfFilter, Link, Qdisc, Route};

const PORT: u32 = 4242;
const SEQ: u32 = 1000;
const ROUNDS: usize = 1_000_000;

fn link_reply() -> Vec<u8> {
    let h = IfInfoMsg {
        ty: 1,
        index: 3,
        flags: IFF_UP | IFF_RUNNING,
        ..Default::default()
    };
    let mut m = MsgBuilder::new(RTM_NEWLINK, NLM_F_MULTI).fixed(&h.emit());
    m.attr_str(IFLA_IFNAME, "veth1@2");
    m.attr(IFLA_ADDRESS, &[2, 0, 0, 0, 0, 1]);
    m.attr_u32(IFLA_MTU, 1500);
    m.attr_i32(IFLA_LINK, 2);
    m.attr_i32(IFLA_LINK_NETNSID, 0);
    m.attr_u8(IFLA_OPERSTATE, 6);
    m.attr(IFLA_STATS64, &[7u8; 200]);
    m.nest_start(IFLA_LINKINFO);
    m.attr_str(IFLA_INFO_KIND, "veth");
    m.nest_end();
    m.nest_start(IFLA_XDP | NLA_F_NESTED);
    m.attr_u8(IFLA_XDP_ATTACHED, XDP_ATTACHED_SKB);
    m.attr_u32(IFLA_XDP_PROG_ID, 77);
    m.nest_end();
    m.finish(SEQ, PORT)
}

fn filter_reply() -> Vec<u8> {
    let h = TcMsg {
        ifindex: 3,
        handle: 1,
        parent: tc_h_make(TC_H_CLSACT, TC_H_MIN_INGRESS),
        info: tc_h_make(49152 << 16, ETH_P_ALL.to_be() as u32),
        ..Default::default()
    };
    let mut m = MsgBuilder::new(RTM_NEWTFILTER, NLM_F_MULTI).fixed(&h.emit());
    m.attr_str(TCA_KIND, "bpf");
    m.attr_u32(TCA_CHAIN, 0);
    m.nest_start(TCA_OPTIONS);
    m.attr_str(TCA_BPF_NAME, "redirect");
    m.attr_u32(TCA_BPF_FLAGS, TCA_BPF_FLAG_ACT_DIRECT);
    m.attr_u32(TCA_BPF_FLAGS_GEN, TCA_CLS_FLAGS_NOT_IN_HW);
    m.attr(TCA_BPF_TAG, &[1, 2, 3, 4, 5, 6, 7, 8]);
    m.attr_u32(TCA_BPF_ID, 42);
    m.nest_end();
    let mut v = m.finish(SEQ, PORT);
    let mut done = MsgBuilder::new(NLMSG_DONE, NLM_F_MULTI);
    done.raw(&0i32.to_ne_bytes());
    v.extend(done.finish(SEQ, PORT));
    v
}

fn addr_route_reply() -> Vec<u8> {
    let a = IfAddrMsg {
        family: libc::AF_INET as u8,
        prefixlen: 24,
        index: 3,
        ..Default::default()
    };
    let mut m = MsgBuilder::new(RTM_NEWADDR, NLM_F_MULTI).fixed(&a.emit());
    m.attr(IFA_LOCAL, &[10, 0, 1, 1]);
    m.attr(IFA_ADDRESS, &[10, 0, 1, 1]);
    m.attr_u32(IFA_FLAGS, IFA_F_NODAD);
    let mut v = m.finish(SEQ, PORT);
    let r = RtMsg {
        family: libc::AF_INET as u8,
        dst_len: 24,
        table: RT_TABLE_MAIN,
        ..Default::default()
    };
    let mut m = MsgBuilder::new(RTM_NEWROUTE, NLM_F_MULTI).fixed(&r.emit());
    m.attr(RTA_DST, &[10, 0, 2, 0]);
    m.attr(RTA_GATEWAY, &[10, 0, 1, 2]);
    m.attr_u32(RTA_OIF, 3);
    m.attr_u32(RTA_TABLE, 254);
    v.extend(m.finish(SEQ, PORT));
    v
}

fn error_reply() -> Vec<u8> {
    let req = MsgBuilder::new(RTM_NEWQDISC, NLM_F_REQUEST).finish(SEQ, 0);
    let mut m = MsgBuilder::new(NLMSG_ERROR, NLM_F_CAPPED | NLM_F_ACK_TLVS);
    m.raw(&(-libc::EEXIST).to_ne_bytes());
    m.raw(&req);
    m.attr_str(NLMSGERR_ATTR_MSG, "Exclusivity flag on, cannot modify");
    m.attr_u32(NLMSGERR_ATTR_OFFS, 36);
    m.finish(SEQ, PORT)
}

fn request() -> Vec<u8> {
    let mut m = MsgBuilder::new(RTM_NEWTFILTER, NLM_F_REQUEST).fixed(&TcMsg::default().emit());
    m.attr_str(TCA_KIND, "bpf");
    m.nest_start(TCA_OPTIONS);
    m.attr_u32(TCA_BPF_FD, 5);
    m.nest_end();
    m.finish(SEQ, 0)
}

const INTERESTING: [u32; 10] = [0, 1, 3, 4, 15, 16, 0x7fff, 0xffff, 0xffff_fffc, 0xffff_ffff];

fn mutate(rng: &mut fastrand::Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    if rng.u8(..) < 20 {
        let len = rng.usize(..300);
        return (0..len).map(|_| rng.u8(..)).collect();
    }
    let mut b = seeds[rng.usize(..seeds.len())].clone();
    for _ in 0..rng.usize(1..6) {
        if b.is_empty() {
            b.push(rng.u8(..));
        }
        let at = rng.usize(..b.len());
        match rng.u8(..8) {
            0 => b[at] ^= 1 << rng.u8(..8),
            1 => b[at] = rng.u8(..),
            2 => {
                // A length or type field set to an edge value.
                let v = INTERESTING[rng.usize(..INTERESTING.len())];
                let bytes = if rng.bool() {
                    (v as u16).to_ne_bytes().to_vec()
                } else {
                    v.to_ne_bytes().to_vec()
                };
                for (i, x) in bytes.into_iter().enumerate() {
                    if let Some(slot) = b.get_mut(at + i) {
                        *slot = x;
                    }
                }
            }
            3 => b.truncate(at),
            4 => b.extend((0..rng.usize(..40)).map(|_| rng.u8(..))),
            5 => {
                let other = &seeds[rng.usize(..seeds.len())];
                let from = rng.usize(..other.len());
                b.splice(at..at, other[from..].iter().copied());
            }
            6 => {
                // Keep nlmsg_len consistent with a changed size, so the
                // damage reaches the attribute parsers.
                let len = b.len() as u32;
                if b.len() >= 4 {
                    b[..4].copy_from_slice(&len.to_ne_bytes());
                }
            }
            _ => {
                let end = (at + rng.usize(..16)).min(b.len());
                b.drain(at..end);
            }
        }
    }
    b
}

#[test]
fn a_million_random_and_mutated_replies_never_panic() {
    let seeds = vec![
        link_reply(),
        filter_reply(),
        addr_route_reply(),
        error_reply(),
    ];
    let req = request();
    // The seeds themselves decode as expected, so the mutations start from valid input.
    let link = Link::parse(&seeds[0][NLMSG_HDRLEN..]).expect("seed link");
    assert_eq!(
        (link.name.as_str(), link.xdp_prog_id),
        ("veth1@2", Some(77))
    );
    let batch = parse_replies(&seeds[1], PORT, SEQ, &req, "seed").expect("seed filter");
    assert!(batch.finished && batch.replies.len() == 1);
    let f = BpfFilter::parse(&batch.replies[0].payload)
        .expect("parse")
        .expect("bpf");
    assert_eq!((f.id, f.name.as_deref()), (Some(42), Some("redirect")));
    let e = parse_replies(&seeds[3], PORT, SEQ, &req, "seed").expect_err("seed error");
    assert_eq!(e.extack(), Some("Exclusivity flag on, cannot modify"));

    let mut rng = fastrand::Rng::with_seed(0x006e_6574_6c69_6e6b);
    let (mut ok, mut err) = (0usize, 0usize);
    for i in 0..ROUNDS {
        let b = mutate(&mut rng, &seeds);
        match parse_replies(&b, PORT, SEQ, &req, "fuzz") {
            Ok(batch) => {
                ok += 1;
                for r in &batch.replies {
                    let _ = Link::parse(&r.payload);
                    let _ = BpfFilter::parse(&r.payload);
                    let _ = Address::parse(&r.payload);
                    let _ = Route::parse(&r.payload);
                    let _ = Qdisc::parse(&r.payload);
                }
            }
            Err(e) => {
                err += 1;
                if i % 16 == 0 {
                    let _ = e.to_string();
                }
            }
        }
        for m in wire::messages(&b).map_while(Result::ok) {
            let _ = wire::parse_error(m.payload, m.flags);
            let _ = wire::parse_done(m.payload, m.flags);
        }
        // Rendering is slower; a sample of 1 in 128 keeps this test a few seconds.
        if i % 128 == 0 {
            let _ = inspect::tree(&b);
            let _ = inspect::attr_path_at(&b, rng.usize(..b.len() + 8));
        }
    }
    // Both outcomes occurred: the mutations were neither all harmless nor all fatal.
    assert!(
        ok > ROUNDS / 100 && err > ROUNDS / 100,
        "ok {ok}, err {err}"
    );
}
