//! `redirect-lab path`: follow one datagram of the lab that is up through
//! the kernel (see `loader::lab::path`), one line per event in order.
//!
//! It attaches the tp_btf base layer (and with `--functions` the curated
//! fentry set), sends one datagram from the host side as `send` does, prints
//! the events of the lab's 5-tuple, and detaches: every program, link and
//! map is a closed fd when the command returns.

use std::collections::HashSet;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;

use loader::lab::path::{self, svg, Event, Places, Tracer, CURATED_FUNCTIONS};
use loader::lab::plan::Side;
use loader::lab::privilege::{self, LAB_CAPS};
use loader::lab::{Lab, LabError};

use super::json_str;

#[derive(Args, Debug)]
pub struct PathArgs {
    /// Trace the isolated lab with this prefix.
    #[arg(long, value_name = "P")]
    pub prefix: Option<String>,
    /// Add the function layer (fentry on a curated set of skb functions).
    #[arg(long, conflicts_with = "all")]
    pub functions: bool,
    /// Add fentry on every function the vmlinux BTF scan finds taking a
    /// struct sk_buff * (about 1,500 on the matrix's kernels).
    #[arg(long)]
    pub all: bool,
    /// Add fentry on this kernel function (repeatable); it must exist in
    /// vmlinux BTF and take a struct sk_buff *.
    #[arg(long = "function", value_name = "NAME")]
    pub function: Vec<String>,
    /// One JSON object per event instead of text.
    #[arg(long)]
    pub json: bool,
    /// Send nothing: print the lab's packets as they come (the user's own
    /// traffic, e.g. `redirect-lab send`), until Ctrl-C or --seconds.
    #[arg(long)]
    pub follow: bool,
    /// Also draw the lab with the path on it, as SVG, into FILE (written
    /// when the run ends; with --follow, give --seconds).
    #[arg(long, value_name = "FILE")]
    pub svg: Option<std::path::PathBuf>,
    /// With --follow: stop after this many seconds.
    #[arg(long, value_name = "S", requires = "follow")]
    pub seconds: Option<f64>,
    /// Read the kernel's BTF from FILE instead of /sys/kernel/btf/vmlinux
    /// (for tests: what a kernel without BTF gets).
    #[arg(long, value_name = "FILE", hide = true)]
    pub vmlinux_btf: Option<std::path::PathBuf>,
    /// The datagram's payload.
    #[arg(long, default_value = "path")]
    pub payload: String,
}

/// Runs `path`; errors are printed as `redirect-lab path: message`.
pub fn run(a: PathArgs) -> ExitCode {
    match path(a) {
        Ok(()) => ExitCode::SUCCESS,
        Err(LabError::Privilege(m)) => {
            eprintln!("{m}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("redirect-lab path: {e}");
            ExitCode::FAILURE
        }
    }
}

fn label(side: Option<Side>) -> &'static str {
    match side {
        Some(Side::Host) => "host",
        Some(Side::Netns1) => "netns_1",
        Some(Side::Netns2) => "netns_2",
        // Only device-less events of a lab skb are kept (see Places::keep).
        None => "-",
    }
}

fn path(a: PathArgs) -> Result<(), LabError> {
    privilege::require("redirect-lab path", &LAB_CAPS).map_err(LabError::Privilege)?;
    let lab = Lab::new(a.prefix.as_deref())?;
    lab.require_up()?;
    let btf = match &a.vmlinux_btf {
        Some(f) => loader::tracing::vmlinux_at(f),
        None => loader::tracing::vmlinux(),
    }
    .map_err(|e| LabError::Failed(e.to_string()))?;
    let places = Places::of(&lab)?;
    // A function named by the user must exist: a typo is an error, not a
    // silently empty layer.
    for f in &a.function {
        let (_, args) = btf.function(f).map_err(|e| {
            LabError::Input(format!(
                "--function {f}: {e} (see `bpftool btf dump file {}`)",
                loader::tracing::VMLINUX_BTF
            ))
        })?;
        if !args.iter().any(|x| x.c_type.contains("struct sk_buff *")) {
            return Err(LabError::Input(format!(
                "--function {f}: it takes no struct sk_buff * ({})",
                args.iter()
                    .map(|x| x.c_type.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    let mut functions: Vec<String> = if a.all {
        path::all_functions(&btf)
    } else if a.functions {
        CURATED_FUNCTIONS.iter().map(|s| s.to_string()).collect()
    } else {
        Vec::new()
    };
    functions.extend(a.function.iter().cloned());
    let mut tracer = Tracer::attach(&btf, &functions)?;
    let fentries = tracer.hooks.iter().filter(|h| h.function).count();
    eprintln!(
        "attached {} programs ({} tp_btf, {} fentry); skipped {}",
        tracer.hooks.len(),
        tracer.hooks.len() - fentries,
        fentries,
        tracer.skipped.len()
    );
    if let Some(w) = &tracer.function_layer_refused {
        eprintln!("warning: {w}");
    }
    if tracer.skipped.len() <= 20 {
        for (hook, why) in &tracer.skipped {
            eprintln!("  skipped {hook}: {why}");
        }
    } else {
        // --all: hundreds of skips; count them by reason, with an example.
        let mut by: std::collections::BTreeMap<String, (usize, &str)> = Default::default();
        for (hook, why) in &tracer.skipped {
            let key: String = why.replace(hook.as_str(), "FN").chars().take(100).collect();
            by.entry(key).or_insert((0, hook)).0 += 1;
        }
        for (why, (n, example)) in by {
            eprintln!("  skipped {n} (e.g. {example}): {why}");
        }
    }
    let mut printer = Printer {
        json: a.json,
        t0: None,
        seen: HashSet::new(),
        steps: Vec::new(),
    };
    if a.follow {
        let limit = match a.seconds {
            Some(s) => Some(Duration::try_from_secs_f64(s).map_err(|_| {
                LabError::Input(format!("--seconds {s}: give a number of seconds >= 0"))
            })?),
            None => None,
        };
        let start = Instant::now();
        eprintln!("following the lab's UDP to 10.0.2.11:7777; Ctrl-C stops (and detaches)");
        // Nothing is pinned: however this process ends, Ctrl-C included,
        // its fds close and the kernel frees every program, link and map.
        // Each turn blocks in epoll_wait on the ring buffer until a program
        // submits an event, waking at least once a second to check --seconds.
        loop {
            let wait = match limit {
                Some(l) => match l.checked_sub(start.elapsed()) {
                    Some(left) if !left.is_zero() => left.min(Duration::from_secs(1)),
                    _ => break,
                },
                None => Duration::from_secs(1),
            };
            let events = places.keep_seen(tracer.poll(wait)?, &mut printer.seen);
            printer.print(&tracer, &places, &events);
        }
    } else {
        lab.send(a.payload.as_bytes(), None)?;
        // The datagram crosses three namespaces within microseconds, and
        // the listener reads it soon after; give a busy machine ample time.
        std::thread::sleep(Duration::from_millis(300));
        let events = places.keep_seen(tracer.drain()?, &mut printer.seen);
        if !a.json {
            let (daddr, dport) = path::destination();
            outln!("{} events for UDP to {daddr}:{dport}", events.len());
        }
        printer.print(&tracer, &places, &events);
    }
    if let Some(file) = &a.svg {
        let title = format!(
            "redirect-lab path{}: UDP to 10.0.2.11:7777",
            lab.names.prefix_arg()
        );
        std::fs::write(file, svg::draw(&title, &printer.steps)).map_err(|e| {
            LabError::Failed(format!(
                "writing {}: {}",
                file.display(),
                loader::error::io_text(&e)
            ))
        })?;
        eprintln!("wrote {}", file.display());
    }
    let lost = tracer.lost()?;
    if lost > 0 {
        eprintln!("warning: {lost} events lost (the ring buffer was full)");
    }
    // Dropping the tracer closes every link, program and map.
    drop(tracer);
    Ok(())
}

/// Prints events, one line (or JSON object) each, timed from the first.
struct Printer {
    json: bool,
    t0: Option<u64>,
    /// The lab's skbs seen so far (see `Places::keep_seen`).
    seen: HashSet<u64>,
    /// Everything printed, for --svg.
    steps: Vec<svg::Step>,
}

impl Printer {
    fn print(&mut self, tracer: &Tracer, places: &Places, events: &[Event]) {
        let Some(first) = events.first() else {
            return;
        };
        let t0 = *self.t0.get_or_insert(first.ts_ns);
        for e in events {
            let side = places.side(e);
            let dev = places.device(e);
            let hook = tracer.hook_name(e);
            let reason = tracer.reason_name(e);
            let note = tracer.note(places, e);
            self.steps.push(svg::Step {
                side,
                device: dev,
                hook: hook.to_string(),
                note: note.clone(),
                dropped: hook == "kfree_skb",
            });
            // A neighbour event's daddr is the entry's key, its reason field
            // the entry's NUD state.
            let nud = tracer
                .is_neigh(e)
                .then(|| path::nud_state_name(e.reason as u8));
            // Events of hooks that carry no skb have no pkt_type.
            let pkt_type = if e.skb == 0 {
                "-"
            } else {
                path::pkt_type_name(e.pkt_type)
            };
            let kind = if tracer.is_function(e) {
                "fentry"
            } else {
                "tp_btf"
            };
            if self.json {
                outln!(
                    "{{\"t_ns\":{},\"skb\":\"{:#x}\",\"kind\":\"{kind}\",\"hook\":{},\"netns\":{},\
                     \"netns_inode\":{},\"device\":{},\"ifindex\":{},\"len\":{},\"pkt_type\":{},\
                     \"protocol\":{},\"mark\":{},\"reason\":{},\"saddr\":\"{}\",\"daddr\":\"{}\",\
                     \"sport\":{},\"dport\":{},\"ip_proto\":{},\"cpu\":{},\"nud_state\":{},\
                     \"note\":{}}}",
                    e.ts_ns.saturating_sub(t0),
                    e.skb,
                    json_str(hook),
                    json_str(label(side)),
                    e.netns,
                    dev.map(json_str).unwrap_or_else(|| "null".into()),
                    e.ifindex,
                    e.len,
                    json_str(pkt_type),
                    e.protocol,
                    e.mark,
                    reason.map(json_str).unwrap_or_else(|| "null".into()),
                    e.saddr,
                    e.daddr,
                    e.sport,
                    e.dport,
                    e.ip_proto,
                    e.cpu,
                    nud.map(|n| json_str(&n)).unwrap_or_else(|| "null".into()),
                    json_str(&note)
                );
            } else {
                outln!(
                    "{:>9.3}us {:#018x} {:<6} {:<24} {:<8} {:<8} len={:<5} pkt_type={:<9} {}",
                    (e.ts_ns.saturating_sub(t0)) as f64 / 1000.0,
                    e.skb,
                    kind,
                    hook,
                    label(side),
                    dev.unwrap_or("-"),
                    e.len,
                    pkt_type,
                    note
                );
            }
        }
    }
}
