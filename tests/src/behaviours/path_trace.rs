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
    /// From the function layer (fentry).
    function: bool,
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
    /// fentry programs attached, and the hooks skipped with why.
    fentry: usize,
    skipped: Vec<(String, String)>,
    /// Seconds to attach everything, and to detach it (drop the tracer).
    attach_s: f64,
    detach_s: f64,
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
    let fns: Vec<String> = functions.iter().map(|s| s.to_string()).collect();
    trace_within(tag, setup, &fns, None)
}

/// [`trace`] with fentry tried only within `budget` (see
/// `Tracer::attach_within`).
fn trace_within(
    tag: &str,
    setup: Setup,
    fns: &[String],
    budget: Option<std::time::Duration>,
) -> Result<Trace, String> {
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
    let t0 = std::time::Instant::now();
    let mut tracer = Tracer::attach_within(&btf, fns, budget).map_err(|e| e.to_string())?;
    let attach_s = t0.elapsed().as_secs_f64();
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
            function: tracer.is_function(e),
        })
        .collect();
    let refused = tracer.function_layer_refused.clone();
    let fentry = tracer.hooks.iter().filter(|h| h.function).count();
    let skipped = std::mem::take(&mut tracer.skipped);
    let t1 = std::time::Instant::now();
    drop(tracer);
    let detach_s = t1.elapsed().as_secs_f64();
    Ok(Trace {
        steps,
        delivered: got.is_some(),
        refused,
        arp_before,
        arp_after,
        fentry,
        skipped,
        attach_s,
        detach_s,
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

/// How long path-attach-all may spend attaching fentry programs in the
/// matrix. 5.10 waits for an RCU-tasks grace period on every trampoline
/// update, attach and detach alike, so under TCG it gets through a fraction
/// of the ~1,500 functions in this time; the newer kernels attach them all.
///
/// The matrix gives each guest two minutes for the whole suite, and a loaded
/// machine's TCG guests use most of it, so the budget is small: the figure
/// is per program, set against a reference timed in the same guest. `make
/// bench` (benchmark 7) boots a guest of its own that runs this behaviour
/// alone with no budget (`behaviour-suite --attach-budget none`, see
/// [`set_attach_all_budget`]).
pub const ATTACH_ALL_BUDGET: std::time::Duration = std::time::Duration::from_secs(2);

/// The budget [`attach_all`] uses when [`set_attach_all_budget`] was
/// called: `Some(None)` is no budget at all.
static BUDGET_OVERRIDE: std::sync::OnceLock<Option<std::time::Duration>> =
    std::sync::OnceLock::new();

/// Sets [`attach_all`]'s fentry time budget for this process (`None`: try
/// every function), instead of [`ATTACH_ALL_BUDGET`]. Only the first call
/// counts; `behaviour-suite --attach-budget` makes it before any behaviour
/// runs.
pub fn set_attach_all_budget(budget: Option<std::time::Duration>) {
    let _ = BUDGET_OVERRIDE.set(budget);
}

fn attach_all_budget() -> Option<std::time::Duration> {
    BUDGET_OVERRIDE
        .get()
        .copied()
        .unwrap_or(Some(ATTACH_ALL_BUDGET))
}

/// `BPF_PROG_LOAD` of the smallest program, `r0 = 0; exit`, as a socket
/// filter: the reference the attach time is set against. Seconds per load.
fn plain_load_s(n: usize) -> Result<f64, String> {
    // BPF_ALU64 | BPF_MOV | BPF_K r0 = 0, then BPF_JMP | BPF_EXIT
    // (include/uapi/linux/bpf.h, bpf_common.h).
    const R0_0_EXIT: [u8; 16] = [0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0];
    let opts = loader::LoadOptions::new(loader::ProgType::SocketFilter, "ref_r0_exit");
    let t = std::time::Instant::now();
    for _ in 0..n {
        loader::Program::load_with(&R0_0_EXIT, &opts).map_err(|e| e.to_string())?;
    }
    Ok(t.elapsed().as_secs_f64() / n as f64)
}

/// The errno name in a failed command's message ("BPF_PROG_LOAD failed:
/// the verifier rejected ...: ENOENT (No such file ...)"): the first word
/// after " failed: " that is E and capitals or digits.
fn errno_of(why: &str) -> Option<&str> {
    let (_, rest) = why.split_once(" failed: ")?;
    rest.split(|c: char| !c.is_ascii_alphanumeric()).find(|w| {
        w.len() >= 3
            && w.starts_with('E')
            && w.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    })
}

/// The budget in words, for the verdict.
fn budget_text(budget: Option<std::time::Duration>) -> String {
    match budget {
        Some(b) => format!("in {} s", b.as_secs_f64()),
        None => "with no budget".into(),
    }
}

/// fentry on every skb function the BTF scan finds (`path --all`, curated
/// set first), within the budget ([`ATTACH_ALL_BUDGET`] in the matrix, none
/// in benchmark 7's own guest): the attached ones see a redirected datagram
/// in netns_1, and every one not attached says why (an errno, or the
/// budget). The counts, the attach and detach times and the refusals by
/// errno go out as a `LABBENCH` line for `make bench` (benchmark 7), set
/// against a plain `BPF_PROG_LOAD` measured in the same run; the verdict
/// asserts no time. Not applicable where fentry is refused.
pub fn attach_all() -> Result<Verdict, String> {
    let btf = loader::tracing::vmlinux().map_err(|e| e.to_string())?;
    // The curated set first (the functions the seed's packet passes), so
    // that whatever the budget reaches includes them.
    let all = loader::lab::path::all_functions(&btf);
    let budget = attach_all_budget();
    // Two descriptors per fentry program (program and link), plus the lab's.
    let want = 2 * all.len() as u64 + 512;
    crate::sys::raise_nofile(want).map_err(|e| {
        format!(
            "raising RLIMIT_NOFILE to {want} for {} fentry programs: {e}",
            all.len()
        )
    })?;
    let reference = plain_load_s(20)?;
    let tr = trace_within("pta", Setup::Program(0), &all, budget)?;
    if let Some(r) = tr.refused {
        return Ok(Verdict::NotApplicable(r));
    }
    let not_tried = tr
        .skipped
        .iter()
        .filter(|(_, why)| why.starts_with("not tried"))
        .count();
    let tried = all.len() - not_tried;
    // The refusals by errno name ("... failed: ENOENT (...)"), each with
    // its first function and the command that failed.
    let mut by_errno = std::collections::BTreeMap::<&str, (usize, &str, &str)>::new();
    for (hook, why) in tr.skipped.iter().filter(|(h, _)| h.starts_with("fentry/")) {
        if let (Some((cmd, _)), Some(e)) = (why.split_once(" failed: "), errno_of(why)) {
            let cmd = cmd.rsplit(' ').next().unwrap_or(cmd);
            by_errno.entry(e).or_insert((0, hook.as_str(), cmd)).0 += 1;
        }
    }
    let refused_kv: String = by_errno
        .iter()
        .map(|(e, (n, _, _))| format!(" refused_{e}={n}"))
        .collect();
    println!(
        "LABBENCH path-attach-all functions={} tried={tried} attached={} attach_s={:.4} \
         detach_s={:.4} ref_load_s={:.6} budget_s={}{refused_kv}",
        all.len(),
        tr.fentry,
        tr.attach_s,
        tr.detach_s,
        reference,
        // -1: no budget.
        budget.map_or(-1.0, |b| b.as_secs_f64()),
    );
    if tr.fentry == 0 {
        return Ok(Verdict::Fail(format!(
            "no fentry program attached of {tried} tried: {:?}",
            tr.skipped.first()
        )));
    }
    // Every refusal names its errno (the loader's message for a failed
    // bpf(2) command); only the time budget may skip without one.
    if let Some((hook, why)) = tr
        .skipped
        .iter()
        .filter(|(hook, _)| hook.starts_with("fentry/"))
        .find(|(_, why)| !why.starts_with("not tried") && errno_of(why).is_none())
    {
        return Ok(Verdict::Fail(format!(
            "{hook} skipped without an errno: {why}"
        )));
    }
    let seen: std::collections::BTreeSet<&str> = tr
        .steps
        .iter()
        .filter(|s| s.function && s.side == Some(Side::Netns1))
        .map(|s| s.hook.as_str())
        .collect();
    if seen.is_empty() {
        return Ok(Verdict::Fail(format!(
            "{} fentry programs attached, none saw the datagram in netns_1: {}",
            tr.fentry,
            show(&tr.steps)
        )));
    }
    let refused: Vec<String> = by_errno
        .iter()
        .map(|(e, (n, hook, cmd))| format!("{e} {n}, e.g. {hook} at {cmd}"))
        .collect();
    Ok(Verdict::Pass(Some(format!(
        "fentry on {} of {} skb functions ({} tried {}; refused: {}); {} saw the datagram \
         in netns_1",
        tr.fentry,
        all.len(),
        tried,
        budget_text(budget),
        if refused.is_empty() {
            "none".to_string()
        } else {
            refused.join(", ")
        },
        seen.len()
    ))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_names_are_found_in_the_loaders_messages() {
        assert_eq!(
            errno_of("BPF_RAW_TRACEPOINT_OPEN failed: EBUSY (Device or resource busy): x"),
            Some("EBUSY")
        );
        assert_eq!(
            errno_of(
                "BPF_PROG_LOAD failed: the verifier rejected program \"path_skb\" \
                 (BPF_PROG_TYPE_TRACING): ENOENT (No such file or directory) The address"
            ),
            Some("ENOENT")
        );
        assert_eq!(errno_of("not tried: the time budget of 2 s ran out"), None);
        assert_eq!(errno_of("vmlinux BTF: no FUNC named x"), None);
    }
}
