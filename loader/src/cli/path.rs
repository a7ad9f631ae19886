//! `redirect-lab path`: follow one datagram of the lab that is up through
//! the kernel (see `loader::lab::path`), one line per event in order.
//!
//! It attaches the tp_btf base layer (and with `--functions` the curated
//! fentry set), sends one datagram from the host side as `send` does, prints
//! the events of the lab's 5-tuple, and detaches: every program, link and
//! map is a closed fd when the command returns.

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use loader::lab::path::{self, Places, Tracer, CURATED_FUNCTIONS};
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
    #[arg(long)]
    pub functions: bool,
    /// One JSON object per event instead of text.
    #[arg(long)]
    pub json: bool,
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
    let btf = loader::tracing::vmlinux().map_err(|e| LabError::Failed(e.to_string()))?;
    let places = Places::of(&lab)?;
    let functions: Vec<String> = if a.functions {
        CURATED_FUNCTIONS.iter().map(|s| s.to_string()).collect()
    } else {
        Vec::new()
    };
    let tracer = Tracer::attach(&btf, &functions)?;
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
    for (hook, why) in &tracer.skipped {
        eprintln!("  skipped {hook}: {why}");
    }
    lab.send(a.payload.as_bytes(), None)?;
    // The datagram crosses three namespaces within microseconds; give
    // softirq processing on a busy machine ample time.
    std::thread::sleep(Duration::from_millis(300));
    let events = places.keep(tracer.drain()?);
    let lost = tracer.lost()?;
    let (daddr, dport) = path::destination();
    if !a.json {
        outln!(
            "{} events for UDP to {daddr}:{dport}{}",
            events.len(),
            if lost > 0 {
                format!(" ({lost} lost: the events map was full)")
            } else {
                String::new()
            }
        );
    }
    let t0 = events.first().map(|e| e.ts_ns).unwrap_or(0);
    for e in &events {
        let side = places.side(e);
        let dev = places.device(e);
        let hook = tracer.hook_name(e);
        let reason = tracer.reason_name(e);
        let note = path::annotate(hook, side, dev, e.pkt_type, reason);
        let kind = if tracer.is_function(e) {
            "fentry"
        } else {
            "tp_btf"
        };
        if a.json {
            outln!(
                "{{\"t_ns\":{},\"skb\":\"{:#x}\",\"kind\":\"{kind}\",\"hook\":{},\"netns\":{},\
                 \"netns_inode\":{},\"device\":{},\"ifindex\":{},\"len\":{},\"pkt_type\":{},\
                 \"protocol\":{},\"mark\":{},\"reason\":{},\"saddr\":\"{}\",\"daddr\":\"{}\",\
                 \"sport\":{},\"dport\":{},\"cpu\":{},\"note\":{}}}",
                e.ts_ns - t0,
                e.skb,
                json_str(hook),
                json_str(label(side)),
                e.netns,
                dev.map(json_str).unwrap_or_else(|| "null".into()),
                e.ifindex,
                e.len,
                json_str(path::pkt_type_name(e.pkt_type)),
                e.protocol,
                e.mark,
                reason.map(json_str).unwrap_or_else(|| "null".into()),
                e.saddr,
                e.daddr,
                e.sport,
                e.dport,
                e.cpu,
                json_str(&note)
            );
        } else {
            outln!(
                "{:>9.3}us {:#018x} {:<6} {:<24} {:<8} {:<8} len={:<5} pkt_type={:<9} {}",
                (e.ts_ns - t0) as f64 / 1000.0,
                e.skb,
                kind,
                hook,
                label(side),
                dev.unwrap_or("-"),
                e.len,
                path::pkt_type_name(e.pkt_type),
                note
            );
        }
    }
    // Dropping the tracer closes every link, program and map.
    drop(tracer);
    Ok(())
}
