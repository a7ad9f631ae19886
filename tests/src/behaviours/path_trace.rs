//! The path behaviours of issue 12: one datagram through the lab, followed
//! with `loader::lab::path`'s tracing programs (tp_btf base layer, fentry
//! function layer where the kernel accepts it), asserting the order of the
//! steps by names that exist on every kernel of the matrix. Functions that
//! are renamed or missing on some kernels are probed in BTF, never assumed.

use loader::lab::path::{Event, Places, Tracer};
use loader::lab::plan::Side;
use loader::retval::BPF_F_INGRESS;

use crate::program::{self, Variant};
use crate::report::Verdict;
use crate::topology::{Topology, WAIT};

const PAYLOAD: &[u8] = b"redirect-lab path";

/// One traced step: hook, side, device, pkt_type.
#[derive(Debug, Clone)]
struct Step {
    hook: String,
    side: Option<Side>,
    dev: Option<&'static str>,
    pkt_type: u8,
    reason: Option<String>,
    /// The IPv4 destination; for a neigh_* step the entry's key.
    daddr: std::net::Ipv4Addr,
    /// A neigh_* step's NUD state (the event's reason field).
    state: u32,
}

/// What one trace saw.
struct Trace {
    steps: Vec<Step>,
    delivered: bool,
    refused: Option<String>,
    /// Whether netns_1's ARP table (/proc/net/arp) had the destination
    /// before the datagram was sent, and has it after.
    arp_before: bool,
    arp_after: bool,
}

/// How the lab is set up for a trace.
#[derive(Clone, Copy)]
enum Setup {
    Program(i64),
    NoProgram,
}

/// Builds a lab, attaches the tracer (with `functions`), sends until the
/// listener has one datagram (or 3 tries), and returns the steps of the
/// first lab skb seen on veth1@2, in order; plus the tracer's notes.
fn trace(tag: &str, setup: Setup, functions: &[&str]) -> Result<Trace, String> {
    let t = Topology::build(tag)?;
    let dest = loader::lab::plan::DEST_ADDR.to_string();
    let has_dest = |t: &Topology| -> Result<bool, String> {
        Ok(t.arp_table(Side::Netns1)?
            .iter()
            .any(|(ip, _, _)| *ip == dest))
    };
    let _prog = match setup {
        Setup::Program(flags) => {
            let p = program::load_variant(&Variant {
                redirect_flags: flags,
                ..Variant::to(t.veth2_1)
            })?;
            t.attach(&p)?;
            Some(p)
        }
        Setup::NoProgram => None,
    };
    let btf = loader::tracing::vmlinux().map_err(|e| e.to_string())?;
    let places = Places::of(t.lab()).map_err(|e| e.to_string())?;
    let fns: Vec<String> = functions.iter().map(|s| s.to_string()).collect();
    let mut tracer = Tracer::attach(&btf, &fns).map_err(|e| e.to_string())?;
    let listener = t.listener()?;
    let max = match setup {
        Setup::Program(f) if f == BPF_F_INGRESS as i64 => 1,
        _ => 3,
    };
    let arp_before = has_dest(&t)?;
    let (_, got) = t.send_until_received(&listener, PAYLOAD, max, WAIT, WAIT)?;
    let arp_after = has_dest(&t)?;
    let events: Vec<Event> = places.keep(tracer.drain().map_err(|e| e.to_string())?);
    let first = events
        .iter()
        .find(|e| e.skb != 0 && places.device(e) == Some("veth1@2"))
        .map(|e| e.skb);
    // That skb's events, and the route lookups (fib_table_lookup carries
    // no skb: its event has skb 0 and is placed by its timestamp).
    let steps = events
        .iter()
        .filter(|e| Some(e.skb) == first || (e.skb == 0 && first.is_some()))
        .map(|e| Step {
            hook: tracer.hook_name(e).to_string(),
            side: places.side(e),
            dev: places.device(e),
            pkt_type: e.pkt_type,
            reason: tracer.reason_name(e).map(str::to_string),
            daddr: e.daddr,
            state: e.reason,
        })
        .collect();
    Ok(Trace {
        steps,
        delivered: got.is_some(),
        refused: tracer.function_layer_refused.clone(),
        arp_before,
        arp_after,
    })
}

/// netns_1's neighbour steps for the lab's destination.
fn netns1_neigh_of_dest(steps: &[Step]) -> Vec<&Step> {
    steps
        .iter()
        .filter(|s| {
            s.hook.starts_with("neigh_")
                && s.side == Some(Side::Netns1)
                && s.daddr == loader::lab::plan::DEST_ADDR
        })
        .collect()
}

fn find(steps: &[Step], from: usize, hook: &str, side: Side, dev: Option<&str>) -> Option<usize> {
    (from..steps.len()).find(|&i| {
        let s = &steps[i];
        s.hook == hook && s.side == Some(side) && (dev.is_none() || s.dev == dev)
    })
}

fn show(steps: &[Step]) -> String {
    steps
        .iter()
        .map(|s| format!("{}@{}:{:?}", s.hook, s.dev.unwrap_or("-"), s.side))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Steps that must come in this order; the first missing one fails.
fn in_order(steps: &[Step], want: &[(&str, Side, Option<&str>)]) -> Result<Vec<usize>, String> {
    let mut at = 0;
    let mut out = Vec::new();
    for (hook, side, dev) in want {
        match find(steps, at, hook, *side, *dev) {
            Some(i) => {
                out.push(i);
                at = i + 1;
            }
            None => {
                return Err(format!(
                    "no {hook} on {} in {side:?} after step {at}: {}",
                    dev.unwrap_or("any device"),
                    show(steps)
                ))
            }
        }
    }
    Ok(out)
}

/// egress: received on veth1@2 in netns_1, queued on veth2@1 with no
/// fib_table_lookup in netns_1 in between, received on veth2@2 in netns_2,
/// and the socket got it; never OTHERHOST, no drop.
pub fn egress() -> Result<Verdict, String> {
    let Trace {
        steps, delivered, ..
    } = trace("pte", Setup::Program(0), &[])?;
    let at = match in_order(
        &steps,
        &[
            ("netif_receive_skb", Side::Netns1, Some("veth1@2")),
            ("net_dev_queue", Side::Netns1, Some("veth2@1")),
            ("netif_receive_skb", Side::Netns2, Some("veth2@2")),
        ],
    ) {
        Ok(at) => at,
        Err(e) => return Ok(Verdict::Fail(e)),
    };
    if let Some(i) = find(&steps, at[0], "fib_table_lookup", Side::Netns1, None) {
        if i < at[1] {
            return Ok(Verdict::Fail(format!(
                "netns_1's stack looked up a route between veth1@2 and veth2@1: {}",
                show(&steps)
            )));
        }
    }
    if !delivered {
        return Ok(Verdict::Fail("netns_2's socket got nothing".into()));
    }
    if let Some(s) = steps.iter().find(|s| s.hook == "kfree_skb") {
        return Ok(Verdict::Fail(format!(
            "dropped in {:?}: {:?}",
            s.side, s.reason
        )));
    }
    if steps.iter().any(|s| s.pkt_type == 3) {
        return Ok(Verdict::Fail(format!(
            "OTHERHOST on egress: {}",
            show(&steps)
        )));
    }
    // The program writes the MACs itself: netns_1's neighbour layer never
    // resolves the destination.
    if let Some(s) = netns1_neigh_of_dest(&steps).first() {
        return Ok(Verdict::Fail(format!(
            "netns_1's neighbour layer ran ({}) for the redirected packet: {}",
            s.hook,
            show(&steps)
        )));
    }
    Ok(Verdict::Pass(Some(format!("{} steps", steps.len()))))
}

/// ingress: netif_rx again on veth2@1 in netns_1 with pkt_type OTHERHOST,
/// a drop with reason OTHERHOST where the kernel reports reasons, and
/// nothing in netns_2.
pub fn ingress() -> Result<Verdict, String> {
    let Trace { steps, .. } = trace("pti", Setup::Program(BPF_F_INGRESS as i64), &[])?;
    let at = match in_order(
        &steps,
        &[
            ("netif_receive_skb", Side::Netns1, Some("veth1@2")),
            ("netif_rx", Side::Netns1, Some("veth2@1")),
            ("kfree_skb", Side::Netns1, None),
        ],
    ) {
        Ok(at) => at,
        Err(e) => return Ok(Verdict::Fail(e)),
    };
    if steps[at[1]].pkt_type != 3 {
        return Ok(Verdict::Fail(format!(
            "veth2@1 received it with pkt_type {}, not OTHERHOST",
            steps[at[1]].pkt_type
        )));
    }
    if steps.iter().any(|s| s.side == Some(Side::Netns2)) {
        return Ok(Verdict::Fail(format!("seen in netns_2: {}", show(&steps))));
    }
    let btf = loader::tracing::vmlinux().map_err(|e| e.to_string())?;
    let has_reasons = btf
        .enum_value_in("skb_drop_reason", "SKB_DROP_REASON_OTHERHOST")
        .is_ok()
        && btf
            .tracepoint("kfree_skb")
            .is_ok_and(|tp| tp.args.iter().any(|a| a.c_type == "enum skb_drop_reason"));
    let reason = steps[at[2]].reason.clone();
    if has_reasons {
        if reason.as_deref() != Some("OTHERHOST") {
            return Ok(Verdict::Fail(format!("dropped with reason {reason:?}")));
        }
        Ok(Verdict::Pass(Some("dropped: OTHERHOST".into())))
    } else {
        Ok(Verdict::Pass(Some(
            "no drop reasons on this kernel (kfree_skb has none)".into(),
        )))
    }
}

/// --no-program: netns_1's own stack forwards, so the packet is received on
/// veth1@2, netns_1 looks up a route (fib_table_lookup, where the kernel
/// has the tracepoint), it is queued on veth2@1 and received on veth2@2.
pub fn no_program() -> Result<Verdict, String> {
    let tr = trace("ptn", Setup::NoProgram, &[])?;
    let (steps, delivered) = (&tr.steps, tr.delivered);
    let btf = loader::tracing::vmlinux().map_err(|e| e.to_string())?;
    let fib = btf.tracepoint("fib_table_lookup").is_ok();
    let neigh = btf.tracepoint("neigh_create").is_ok();
    let lookup = ("fib_table_lookup", Side::Netns1, Some("veth1@2"));
    let mut want = vec![("netif_receive_skb", Side::Netns1, Some("veth1@2"))];
    if fib {
        want.push(lookup);
    }
    // A fresh lab's netns_1 has no entry for the destination: its
    // neighbour layer makes one and resolves it (ARP) before veth2@1 sends.
    if neigh {
        if tr.arp_before {
            return Err("netns_1's ARP table had the destination before the first send".into());
        }
        want.push(("neigh_create", Side::Netns1, Some("veth2@1")));
        want.push(("neigh_update", Side::Netns1, Some("veth2@1")));
    }
    let at = match in_order(
        steps,
        &[
            want.as_slice(),
            &[("net_dev_queue", Side::Netns1, Some("veth2@1"))],
        ]
        .concat(),
    ) {
        Ok(at) => at,
        Err(e) => return Ok(Verdict::Fail(e)),
    };
    if neigh {
        let n = want.len();
        let (create, update) = (&steps[at[n - 2]], &steps[at[n - 1]]);
        if create.daddr != loader::lab::plan::DEST_ADDR
            || update.daddr != loader::lab::plan::DEST_ADDR
        {
            return Ok(Verdict::Fail(format!(
                "netns_1 resolved {} / {}, not the destination",
                create.daddr, update.daddr
            )));
        }
        // neigh_update fires before the update: the entry was INCOMPLETE
        // (ARP asked), and the kernel's own table has it now.
        if update.state != u32::from(loader::lab::path::event::NUD_INCOMPLETE) {
            return Ok(Verdict::Fail(format!(
                "netns_1's entry was {} at the update, not INCOMPLETE",
                loader::lab::path::nud_state_name(update.state as u8)
            )));
        }
        if !tr.arp_after {
            return Ok(Verdict::Fail(
                "netns_1's ARP table has no entry for the destination".into(),
            ));
        }
    }
    if let Err(e) = in_order(
        steps,
        &[
            ("net_dev_queue", Side::Netns1, Some("veth2@1")),
            ("netif_receive_skb", Side::Netns2, Some("veth2@2")),
        ],
    ) {
        return Ok(Verdict::Fail(e));
    }
    if !delivered {
        return Ok(Verdict::Fail("netns_2's socket got nothing".into()));
    }
    Ok(Verdict::Pass(neigh.then(|| {
        "netns_1 resolved 10.0.2.11 (neigh_create, neigh_update)".to_string()
    })))
}

/// The function layer: skb_do_redirect and __bpf_redirect for egress in
/// netns_1, ip_rcv / ip_forward in netns_1 only without the program. Not
/// applicable where fentry is refused (the errno is the note).
pub fn functions() -> Result<Verdict, String> {
    const FNS: &[&str] = &["skb_do_redirect", "__bpf_redirect", "ip_rcv", "ip_forward"];
    let Trace {
        steps: with,
        refused,
        ..
    } = trace("ptf", Setup::Program(0), FNS)?;
    if let Some(r) = refused {
        return Ok(Verdict::NotApplicable(r));
    }
    if let Err(e) = in_order(
        &with,
        &[
            ("skb_do_redirect", Side::Netns1, Some("veth1@2")),
            ("__bpf_redirect", Side::Netns1, Some("veth1@2")),
        ],
    ) {
        return Ok(Verdict::Fail(format!("with the program: {e}")));
    }
    if let Some(s) = with
        .iter()
        .find(|s| (s.hook == "ip_rcv" || s.hook == "ip_forward") && s.side == Some(Side::Netns1))
    {
        return Ok(Verdict::Fail(format!(
            "with the program netns_1's stack ran {}",
            s.hook
        )));
    }
    let without = trace("ptg", Setup::NoProgram, FNS)?.steps;
    if let Err(e) = in_order(
        &without,
        &[
            ("ip_rcv", Side::Netns1, Some("veth1@2")),
            ("ip_forward", Side::Netns1, Some("veth1@2")),
        ],
    ) {
        return Ok(Verdict::Fail(format!("without the program: {e}")));
    }
    Ok(Verdict::pass())
}
