//! `--mode netkit`'s own program: `bpf-src/netkit.s` on a `BPF_NETKIT_PEER`
//! link (drivers/net/netkit.c), which runs on veth2@2's transmit and sends
//! netns_2's replies out of veth1@2 with `bpf_redirect_neigh`.
//!
//! The proof that the program runs is its effect, in the style of the
//! selftests' `tc_redirect.c` checks: a UDP datagram and a TCP connect with
//! a 16-byte echo, with netns_1's `Ip: ForwDatagrams` unchanged across all
//! of it, both directions (the way there is `peer.s`'s peer redirect; without
//! the netkit program every reply would be forwarded by netns_1's stack).
//! Then the contrast: the link's pin is removed, the kernel detaches the
//! program, and the same echo makes netns_1 forward the replies again.
//! The pitfall (`--pitfall`) attaches the same program with
//! `BPF_NETKIT_PRIMARY`: it then runs on veth2@1's transmit, and netns_1
//! forwards every reply. Both are n/a where the kernel refuses to create a
//! netkit pair (no `CONFIG_NETKIT`), with the kernel's words.

use std::time::{Duration, Instant};

use loader::lab::plan::{self, VETH2_2};
use loader::{AttachType, Link};

use super::mode_delivery::{tcp_echo, udp_delivered, up};
use crate::report::Verdict;
use crate::topology::{LabGuard, Side};

fn forwarded(g: &LabGuard) -> Result<u64, String> {
    g.lab
        .ip_counter(Side::Netns1, "ForwDatagrams")
        .map_err(|e| e.to_string())
}

/// UDP + TCP echo with ForwDatagrams unchanged both ways; then, with the
/// link gone, the replies are forwarded by netns_1 again.
pub fn return_path() -> Result<Verdict, String> {
    let g = match up("mnkret", "netkit", false)? {
        Ok(g) => g,
        Err(v) => return Ok(v),
    };
    // The link as the kernel describes it (struct bpf_link_info).
    let st = g.lab.status().map_err(|e| e.to_string())?;
    let peer_attach = AttachType::NetkitPeer.raw();
    let Some(link) = st
        .links
        .iter()
        .find(|l| l.info.attach_type == Some(peer_attach))
    else {
        return Ok(Verdict::Fail(format!(
            "up --mode netkit pinned no BPF_NETKIT_PEER link; status:\n{st}"
        )));
    };
    let prog_name = link.prog.as_ref().map(|p| p.name.clone());
    if prog_name.as_deref() != Some("netkit_return") {
        return Ok(Verdict::Fail(format!(
            "the BPF_NETKIT_PEER link runs {prog_name:?}, not bpf-src/netkit.s"
        )));
    }
    // netkit_link_fill_info reports the device the programs run on: the
    // peer, veth2@2 in netns_2, though the link was made on the primary.
    let peer_idx = st
        .device(Side::Netns2, VETH2_2)
        .map(|d| d.ifindex as u32)
        .ok_or("no veth2@2 in netns_2")?;
    if link.info.ifindex != Some(peer_idx) {
        return Ok(Verdict::Fail(format!(
            "the BPF_NETKIT_PEER link is on ifindex {:?}, veth2@2 is {peer_idx}",
            link.info.ifindex
        )));
    }
    let link_id = link.info.id;
    // status follows the link: it says the way back skips netns_1 too.
    let text = st.to_string();
    if !text.contains("the way back skips this stack too") {
        return Ok(Verdict::Fail(format!(
            "status does not say the BPF_NETKIT_PEER link takes the way back:\n{text}"
        )));
    }

    let listener = g.lab.udp_listener().map_err(|e| e.to_string())?;
    let f0 = forwarded(&g)?;
    if !udp_delivered(&g, &listener, 20)? {
        return Ok(Verdict::Fail(
            "--mode netkit: no UDP datagram reached 10.0.2.11:7777".into(),
        ));
    }
    if let Some(why) = tcp_echo(&g)? {
        return Ok(Verdict::Fail(format!("--mode netkit: {why}")));
    }
    let f1 = forwarded(&g)?;
    if f1 != f0 {
        return Ok(Verdict::Fail(format!(
            "netns_1 forwarded {} datagram(s) during the UDP + TCP echo: the replies \
             crossed its stack, so the netkit program did not take them",
            f1 - f0
        )));
    }

    // The contrast: without the link the replies take netns_1's stack.
    let pin = plan::link_pin_path(&g.lab.names, AttachType::NetkitPeer);
    loader::bpf::pin::unpin(&pin).map_err(|e| format!("unpinning {}: {e}", pin.display()))?;
    // The last reference goes with the pin; the kernel frees the link (and
    // detaches the program) from a work queue, so wait for its id to go.
    let start = Instant::now();
    while Link::ids().map_err(|e| e.to_string())?.contains(&link_id) {
        if start.elapsed() > Duration::from_secs(5) {
            return Ok(Verdict::Fail(format!(
                "link {link_id} still exists 5 s after its pin was removed"
            )));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let text = g.lab.status().map_err(|e| e.to_string())?.to_string();
    if text.contains("the way back skips this stack too") || text.contains("netkit link") {
        return Ok(Verdict::Fail(format!(
            "status still shows the detached netkit link:\n{text}"
        )));
    }
    let f2 = forwarded(&g)?;
    if let Some(why) = tcp_echo(&g)? {
        return Ok(Verdict::Fail(format!(
            "without the netkit link, the TCP echo failed: {why}"
        )));
    }
    let f3 = forwarded(&g)?;
    if f3 == f2 {
        return Ok(Verdict::Fail(
            "without the netkit link netns_1 still forwarded nothing: the check above \
             proves nothing about the program"
                .into(),
        ));
    }
    Ok(Verdict::pass_with(format!(
        "ForwDatagrams +0 with the BPF_NETKIT_PEER link (UDP + TCP echo), +{} for the \
         same echo once it was detached",
        f3 - f2
    )))
}

/// `--mode netkit --pitfall`: netkit.s on `BPF_NETKIT_PRIMARY` instead. The
/// link is on veth2@1 itself, the way there still skips netns_1 (peer.s),
/// but the program runs on veth2@1's transmit, which netns_2's replies never
/// take: the TCP echo works and netns_1 forwards every reply.
pub fn primary_misses_replies() -> Result<Verdict, String> {
    let g = match up("mnkpri", "netkit", true)? {
        Ok(g) => g,
        Err(v) => return Ok(v),
    };
    // Once more with --explain, as `redirect-lab up --mode netkit --pitfall
    // --explain` prints it (up rebuilds the same lab): the link request is
    // shown with the attach type that goes to the kernel.
    let mut explain = Vec::new();
    let options = loader::lab::UpOptions {
        mode: loader::lab::mode::find("netkit")?,
        pitfall: true,
        explain: true,
        ..Default::default()
    };
    g.lab
        .up(&options, &mut explain)
        .map_err(|e| format!("up --mode netkit --pitfall --explain: {e}"))?;
    let explain = String::from_utf8_lossy(&explain);
    for want in [
        "BPF_LINK_CREATE request",
        "attach_type = BPF_NETKIT_PRIMARY (54)",
        "the program runs at veth2@1's transmit in netns_1",
        "bpf-src/netkit.s",
    ] {
        if !explain.contains(want) {
            return Ok(Verdict::Fail(format!(
                "--explain lacks {want:?}:\n{explain}"
            )));
        }
    }
    let st = g.lab.status().map_err(|e| e.to_string())?;
    let primary = AttachType::NetkitPrimary.raw();
    let Some(link) = st
        .links
        .iter()
        .find(|l| l.info.attach_type == Some(primary))
    else {
        return Ok(Verdict::Fail(format!(
            "up --mode netkit --pitfall pinned no BPF_NETKIT_PRIMARY link; status:\n{st}"
        )));
    };
    if st
        .links
        .iter()
        .any(|l| l.info.attach_type == Some(AttachType::NetkitPeer.raw()))
    {
        return Ok(Verdict::Fail(
            "the pitfall kept the BPF_NETKIT_PEER link".into(),
        ));
    }
    let primary_idx = st
        .device(Side::Netns1, plan::VETH2_1)
        .map(|d| d.ifindex as u32)
        .ok_or("no veth2@1 in netns_1")?;
    if link.info.ifindex != Some(primary_idx) {
        return Ok(Verdict::Fail(format!(
            "the BPF_NETKIT_PRIMARY link is on ifindex {:?}, veth2@1 is {primary_idx}",
            link.info.ifindex
        )));
    }
    let listener = g.lab.udp_listener().map_err(|e| e.to_string())?;
    let f0 = forwarded(&g)?;
    if !udp_delivered(&g, &listener, 20)? {
        return Ok(Verdict::Fail(
            "--mode netkit --pitfall: the way there (peer.s) delivered nothing".into(),
        ));
    }
    let f1 = forwarded(&g)?;
    if f1 != f0 {
        return Ok(Verdict::Fail(format!(
            "netns_1 forwarded {} datagram(s) on the way there",
            f1 - f0
        )));
    }
    if let Some(why) = tcp_echo(&g)? {
        return Ok(Verdict::Fail(format!("--mode netkit --pitfall: {why}")));
    }
    let f2 = forwarded(&g)?;
    if f2 == f1 {
        return Ok(Verdict::Fail(
            "with the program on BPF_NETKIT_PRIMARY netns_1 forwarded no reply: the \
             primary's programs saw netns_2's transmit after all"
                .into(),
        ));
    }
    Ok(Verdict::pass_with(format!(
        "BPF_NETKIT_PRIMARY link on veth2@1: UDP there +0, the TCP echo's replies +{} \
         (netns_1 forwarded them)",
        f2 - f1
    )))
}
