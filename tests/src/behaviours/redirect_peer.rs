//! A difference between kernels found while building the suite:
//! `bpf_redirect_peer` (Linux 5.10) and the packet's `pkt_type`.
//!
//! A frame whose destination MAC is not veth1@2's arrives there as
//! `PACKET_OTHERHOST`. The TC program still sees it and hands it with
//! `bpf_redirect_peer` straight to veth2@2's receive path in netns_2, where
//! no `eth_type_trans` runs again. Kernels that keep the old `pkt_type` then
//! drop it in `ip_rcv`; kernels that scrub the packet on a peer redirect
//! (`skb_scrub_packet` sets `PACKET_HOST`, reported for 6.15+) deliver it.
//! Both are correct for their kernel; the cell records which one ran. (In
//! the matrix Debian's 5.10.262 keeps `PACKET_OTHERHOST` and drops the
//! frame, while Debian's 6.1.192 scrubs like 6.12, 7.2 and the host, which
//! points to a stable backport that reached 6.1 but not 5.10.)

use std::time::{Duration, Instant};

use loader::lab::plan::{DEST_ADDR, DEST_MAC};

use crate::behaviours::redirect::is_lab_datagram;
use crate::program::{self, Variant};
use crate::report::Verdict;
use crate::sys::{PACKET_HOST, PACKET_OTHERHOST};
use crate::topology::{Side, Topology};

pub fn pkt_type_on_peer_redirect() -> Result<Verdict, String> {
    let t = Topology::build("peer")?;
    let src = program::with_helper("bpf_redirect_peer")?;
    let p = program::assemble_variant(&src, &Variant::to(t.veth2_1))?;
    let prog = match program::load(&p) {
        Ok(prog) => prog,
        Err(loader::Error::Verifier(v)) if v.unknown_helper.is_some() => {
            return Ok(Verdict::NotApplicable(format!(
                "no bpf_redirect_peer (Linux 5.10+): {}",
                v.message
            )))
        }
        Err(e) => return Err(format!("loading the bpf_redirect_peer variant: {e}")),
    };
    t.attach(&prog)?;
    let listener = t.listener()?;
    listener
        .set_read_timeout(Some(Duration::from_millis(100)))
        .map_err(|e| format!("SO_RCVTIMEO: {e}"))?;
    let sender = t.tap(Side::Host, t.veth1_1)?;
    let tap = t.tap(Side::Netns2, t.veth2_2)?;
    // The precondition: veth1@2 must receive it as PACKET_OTHERHOST, or this
    // behaviour would prove nothing about scrubbing.
    let arrival = t.tap(Side::Netns1, t.veth1_2)?;
    let src_mac = t
        .handle(Side::Host)?
        .link_get(t.veth1_1)
        .map_err(|e| format!("RTM_GETLINK veth1@1: {e}"))?
        .mac
        .ok_or("veth1@1 has no MAC")?;
    // Addressed to 02:00:00:00:00:00 (veth2@2's MAC), not to veth1@2.
    let frame = program::wire_udp_frame(DEST_MAC, src_mac, DEST_ADDR.octets(), b"peer");
    let mut seen = None;
    let mut delivered = false;
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut buf = [0u8; 256];
    for _ in 0..5 {
        sender
            .send(&frame)
            .map_err(|e| format!("raw send on veth1@1: {e}"))?;
        if listener.recv(&mut buf).is_ok() {
            delivered = true;
        }
        while seen.is_none() && Instant::now() < deadline {
            match tap.recv(Duration::from_millis(50)) {
                Ok(Some(f)) if is_lab_datagram(&f.data) => seen = Some(f.pkt_type),
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(e) => return Err(format!("tap on veth2@2: {e}")),
            }
        }
        if delivered && seen.is_some() {
            break;
        }
    }
    let arrived_as = crate::behaviours::redirect::drain(&arrival, Duration::from_millis(50))?
        .first()
        .map(|f| f.pkt_type);
    if arrived_as != Some(PACKET_OTHERHOST) {
        return Ok(Verdict::Fail(format!(
            "precondition: veth1@2 received the frame with pkt_type {arrived_as:?}, not PACKET_OTHERHOST"
        )));
    }
    match (seen, delivered) {
        (None, _) => Ok(Verdict::Fail(
            "veth2@2 never saw the frame: bpf_redirect_peer did not redirect".into(),
        )),
        (Some(PACKET_HOST), true) => Ok(Verdict::pass_with(
            "pkt_type scrubbed to PACKET_HOST: delivered",
        )),
        (Some(PACKET_OTHERHOST), false) => Ok(Verdict::pass_with(
            "pkt_type kept as PACKET_OTHERHOST: dropped in netns_2",
        )),
        (Some(t), d) => Ok(Verdict::Fail(format!(
            "inconsistent: pkt_type {t} at veth2@2, delivered to the socket: {d}"
        ))),
    }
}
