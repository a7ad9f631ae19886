//! Behaviours 1 to 4 of issue 6: what `bpf_redirect` does with the packet,
//! seen from sockets, `AF_PACKET` taps and netns_1's IP counters on a real
//! veth topology (see `crate::topology`).

use std::time::{Duration, Instant};

use loader::lab::plan::{DEST_ADDR, DEST_MAC, LISTEN_PORT};
use loader::retval::{BPF_F_INGRESS, TC_ACT_REDIRECT, TC_ACT_SHOT};

use crate::program::{self, Variant};
use crate::report::Verdict;
use crate::sys::{PacketTap, TappedFrame, PACKET_OTHERHOST, PACKET_OUTGOING};
use crate::topology::{Side, Topology, WAIT};

const PAYLOAD: &[u8] = b"redirect-lab behaviour";

/// Is this frame our UDP datagram to 10.0.2.11:7777?
pub fn is_lab_datagram(f: &[u8]) -> bool {
    f.len() >= 14 + 20 + 8
        && f[12..14] == [0x08, 0x00]
        && f[14 + 9] == 17
        && f[14 + 16..14 + 20] == DEST_ADDR.octets()
        && f[14 + 22..14 + 24] == LISTEN_PORT.to_be_bytes()
}

/// Collects the lab datagrams a tap sees within `window`.
pub fn drain(tap: &PacketTap, window: Duration) -> Result<Vec<TappedFrame>, String> {
    let deadline = Instant::now() + window;
    let mut out = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match tap.recv(left.min(Duration::from_millis(100))) {
            Ok(Some(f)) if is_lab_datagram(&f.data) => out.push(f),
            Ok(_) => {}
            Err(e) => return Err(format!("reading AF_PACKET tap: {e}")),
        }
    }
    Ok(out)
}

fn attached(t: &Topology, v: &Variant) -> Result<loader::Program, String> {
    let prog = program::load_variant(v)?;
    t.attach(&prog)?;
    Ok(prog)
}

/// Behaviour 1a: Flags 0: the packet leaves by veth2@1 and reaches the socket in netns_2.
pub fn egress_delivers() -> Result<Verdict, String> {
    let t = Topology::build("deliver")?;
    let _prog = attached(&t, &Variant::to(t.veth2_1))?;
    let listener = t.listener()?;
    let tap = t.tap(Side::Netns1, t.veth2_1)?;
    let (sent, got) = t.send_until_received(&listener, PAYLOAD, 20, WAIT, WAIT)?;
    match got {
        None => Ok(Verdict::Fail(format!(
            "nothing reached 10.0.2.11:7777 in netns_2 after {sent} datagrams"
        ))),
        Some(p) if p != PAYLOAD => Ok(Verdict::Fail(format!(
            "netns_2 received {} other bytes",
            p.len()
        ))),
        Some(_) => {
            let seen = drain(&tap, Duration::from_millis(50))?;
            let sent_by_veth2_1 = seen
                .iter()
                .any(|f| f.pkt_type == PACKET_OUTGOING && f.data[..6] == DEST_MAC);
            if sent_by_veth2_1 {
                Ok(Verdict::pass())
            } else {
                Ok(Verdict::Fail(
                    "delivered, but veth2@1 was not seen transmitting it to 02:00:00:00:00:00"
                        .into(),
                ))
            }
        }
    }
}

/// Behaviour 1b: netns_1's IP stack never routes the redirected packet: its
/// `ForwDatagrams` counter rises for a packet it forwards without the
/// program (the control), and stays put with the program.
pub fn skips_netns1_stack() -> Result<Verdict, String> {
    let t = Topology::build("skip")?;
    let listener = t.listener()?;
    let f0 = t.ip_counter(Side::Netns1, "ForwDatagrams")?;
    let (_, got) = t.send_until_received(&listener, PAYLOAD, 20, WAIT, WAIT)?;
    if got.is_none() {
        return Ok(Verdict::Fail(
            "control without the program: netns_1 did not forward the datagram".into(),
        ));
    }
    let f1 = t.ip_counter(Side::Netns1, "ForwDatagrams")?;
    if f1 <= f0 {
        return Ok(Verdict::Fail(format!(
            "control: ForwDatagrams did not rise ({f0} -> {f1}); the counter proves nothing here"
        )));
    }
    let _prog = attached(&t, &Variant::to(t.veth2_1))?;
    let mut received = 0;
    for _ in 0..5 {
        if t.send_until_received(&listener, PAYLOAD, 3, WAIT, Duration::ZERO)?
            .1
            .is_some()
        {
            received += 1;
        }
    }
    let f2 = t.ip_counter(Side::Netns1, "ForwDatagrams")?;
    if received < 5 {
        return Ok(Verdict::Fail(format!(
            "with the program only {received} of 5 datagrams arrived"
        )));
    }
    if f2 != f1 {
        return Ok(Verdict::Fail(format!(
            "netns_1 forwarded {} datagrams with the program attached",
            f2 - f1
        )));
    }
    Ok(Verdict::pass())
}

/// Sends `n` datagrams (the first one also resolves ARP) and waits `settle`.
fn send_some(
    t: &Topology,
    listener: &std::net::UdpSocket,
    n: u32,
) -> Result<Option<Vec<u8>>, String> {
    Ok(t.send_until_received(listener, PAYLOAD, n, WAIT, WAIT * 2)?
        .1)
}

/// Behaviour 2: Without the MAC rewrite the frame keeps veth1@2's MAC as destination;
/// veth2@2 marks it `PACKET_OTHERHOST` and the stack drops it.
pub fn no_mac_rewrite_dropped() -> Result<Verdict, String> {
    let t = Topology::build("keepmac")?;
    let mut v = Variant::to(t.veth2_1);
    v.keep_dest_mac = true;
    let _prog = attached(&t, &v)?;
    let listener = t.listener()?;
    let tap = t.tap(Side::Netns2, t.veth2_2)?;
    let f0 = t.ip_counter(Side::Netns1, "ForwDatagrams")?;
    if let Some(p) = send_some(&t, &listener, 5)? {
        return Ok(Verdict::Fail(format!(
            "netns_2's socket received {} bytes without the MAC rewrite",
            p.len()
        )));
    }
    let seen = drain(&tap, Duration::from_millis(100))?;
    let f1 = t.ip_counter(Side::Netns1, "ForwDatagrams")?;
    if f1 != f0 {
        return Ok(Verdict::Fail(
            "netns_1 forwarded the datagram: it was not redirected".into(),
        ));
    }
    match seen.first() {
        None => Ok(Verdict::Fail(
            "veth2@2 never saw the datagram: it was not redirected".into(),
        )),
        Some(f) if f.pkt_type != PACKET_OTHERHOST => Ok(Verdict::Fail(format!(
            "veth2@2 saw it with pkt_type {}, not PACKET_OTHERHOST",
            f.pkt_type
        ))),
        Some(_) => Ok(Verdict::pass()),
    }
}

/// Behaviour 3: With `BPF_F_INGRESS` the packet is received on veth2@1 in netns_1
/// (as `PACKET_OTHERHOST`, since 02:00:00:00:00:00 is not veth2@1's MAC)
/// and never reaches netns_2.
pub fn ingress_flag_stays_in_netns1() -> Result<Verdict, String> {
    let t = Topology::build("ingress")?;
    let mut v = Variant::to(t.veth2_1);
    v.redirect_flags = BPF_F_INGRESS as i64;
    let _prog = attached(&t, &v)?;
    let listener = t.listener()?;
    let tap1 = t.tap(Side::Netns1, t.veth2_1)?;
    let tap2 = t.tap(Side::Netns2, t.veth2_2)?;
    if let Some(p) = send_some(&t, &listener, 5)? {
        return Ok(Verdict::Fail(format!(
            "netns_2 received {} bytes with BPF_F_INGRESS",
            p.len()
        )));
    }
    let at_veth2_1 = drain(&tap1, Duration::from_millis(100))?;
    let at_veth2_2 = drain(&tap2, Duration::from_millis(50))?;
    if !at_veth2_2.is_empty() {
        return Ok(Verdict::Fail(format!(
            "veth2@2 in netns_2 saw {} of our datagrams",
            at_veth2_2.len()
        )));
    }
    if at_veth2_1.is_empty() {
        return Ok(Verdict::Fail("veth2@1 never saw the datagram".into()));
    }
    if let Some(f) = at_veth2_1.iter().find(|f| f.pkt_type != PACKET_OTHERHOST) {
        return Ok(Verdict::Fail(format!(
            "veth2@1 saw it with pkt_type {} (expected PACKET_OTHERHOST: received, not sent)",
            f.pkt_type
        )));
    }
    Ok(Verdict::pass())
}

fn test_run_verdict(v: &Variant) -> Result<u32, String> {
    let prog = program::load_variant(v)?;
    let frame = program::udp_frame(DEST_ADDR.octets(), PAYLOAD);
    let r = prog
        .test_run(&loader::TestRun {
            data_in: &frame,
            ..Default::default()
        })
        .map_err(|e| format!("BPF_PROG_TEST_RUN: {e}"))?;
    Ok(r.retval)
}

/// A live check that nothing crosses and netns_1 forwards nothing.
fn nothing_crosses(t: &Topology) -> Result<Option<String>, String> {
    let listener = t.listener()?;
    let tap = t.tap(Side::Netns2, t.veth2_2)?;
    let f0 = t.ip_counter(Side::Netns1, "ForwDatagrams")?;
    if send_some(t, &listener, 5)?.is_some() {
        return Ok(Some("the datagram reached netns_2".into()));
    }
    if !drain(&tap, Duration::from_millis(50))?.is_empty() {
        return Ok(Some("veth2@2 saw the datagram".into()));
    }
    if t.ip_counter(Side::Netns1, "ForwDatagrams")? != f0 {
        return Ok(Some(
            "netns_1 forwarded the datagram instead of dropping it".into(),
        ));
    }
    Ok(None)
}

/// Behaviour 4a: Unknown flags: `bpf_redirect` returns `TC_ACT_SHOT` and the packet
/// is dropped.
pub fn invalid_flags_shot() -> Result<Verdict, String> {
    let t = Topology::build("badflags")?;
    let mut v = Variant::to(t.veth2_1);
    v.redirect_flags = 2; // no such BPF_F_* flag for bpf_redirect
    let rv = test_run_verdict(&v)?;
    if rv != TC_ACT_SHOT as u32 {
        return Ok(Verdict::Fail(format!(
            "bpf_redirect(ifindex, 2) returned {rv}, expected TC_ACT_SHOT (2)"
        )));
    }
    let _prog = attached(&t, &v)?;
    Ok(match nothing_crosses(&t)? {
        Some(why) => Verdict::Fail(why),
        None => Verdict::pass(),
    })
}

/// Behaviour 4b: A target ifindex that does not exist: `bpf_redirect` still returns
/// `TC_ACT_REDIRECT` (it only records the target), and the packet is dropped
/// when TC looks the device up.
pub fn missing_ifindex_dropped() -> Result<Verdict, String> {
    let t = Topology::build("noif")?;
    let v = Variant::to(0x7fff_0000);
    let rv = test_run_verdict(&v)?;
    if rv != TC_ACT_REDIRECT as u32 {
        return Ok(Verdict::Fail(format!(
            "bpf_redirect to a missing ifindex returned {rv}, expected 7"
        )));
    }
    let _prog = attached(&t, &v)?;
    Ok(match nothing_crosses(&t)? {
        Some(why) => Verdict::Fail(why),
        None => Verdict::pass_with("test run returns 7; the packet is dropped at redirect"),
    })
}
