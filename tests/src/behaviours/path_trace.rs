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
fn trace(
    tag: &str,
    setup: Setup,
    functions: &[&str],
) -> Result<(Vec<Step>, bool, Option<String>), String> {
    let t = Topology::build(tag)?;
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
    let (_, got) = t.send_until_received(&listener, PAYLOAD, max, WAIT, WAIT)?;
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
        })
        .collect();
    Ok((steps, got.is_some(), tracer.function_layer_refused.clone()))
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
    let (steps, delivered, _) = trace("pte", Setup::Program(0), &[])?;
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
    Ok(Verdict::Pass(Some(format!("{} steps", steps.len()))))
}

/// ingress: netif_rx again on veth2@1 in netns_1 with pkt_type OTHERHOST,
/// a drop with reason OTHERHOST where the kernel reports reasons, and
/// nothing in netns_2.
pub fn ingress() -> Result<Verdict, String> {
    let (steps, _, _) = trace("pti", Setup::Program(BPF_F_INGRESS as i64), &[])?;
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
    let (steps, delivered, _) = trace("ptn", Setup::NoProgram, &[])?;
    let btf = loader::tracing::vmlinux().map_err(|e| e.to_string())?;
    let fib = btf.tracepoint("fib_table_lookup").is_ok();
    let lookup = ("fib_table_lookup", Side::Netns1, Some("veth1@2"));
    let mut want = vec![("netif_receive_skb", Side::Netns1, Some("veth1@2"))];
    if fib {
        want.push(lookup);
    }
    if let Err(e) = in_order(
        &steps,
        &[
            want.as_slice(),
            &[("net_dev_queue", Side::Netns1, Some("veth2@1"))],
        ]
        .concat(),
    ) {
        return Ok(Verdict::Fail(e));
    }
    if let Err(e) = in_order(
        &steps,
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
    Ok(Verdict::pass())
}

/// The function layer: skb_do_redirect and __bpf_redirect for egress in
/// netns_1, ip_rcv / ip_forward in netns_1 only without the program. Not
/// applicable where fentry is refused (the errno is the note).
pub fn functions() -> Result<Verdict, String> {
    const FNS: &[&str] = &["skb_do_redirect", "__bpf_redirect", "ip_rcv", "ip_forward"];
    let (with, _, refused) = trace("ptf", Setup::Program(0), FNS)?;
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
    let (without, _, _) = trace("ptg", Setup::NoProgram, FNS)?;
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
