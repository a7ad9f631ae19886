//! `redirect-lab compare [--modes a,b,...] [--svg FILE] [--json]`: every redirect
//! technique side by side with plain netns_1 forwarding, measured in one
//! run ([`loader::lab::compare`]), as a text table or one JSON object.

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use super::json_str;
use loader::lab::compare::{self, trace, Comparison, Entry, Limits, Ratios, Sizes, PATH_NOTE};
use loader::lab::privilege::{self, LAB_CAPS};
use loader::lab::LabError;

#[derive(Args, Debug)]
pub struct CompareArgs {
    /// The modes to compare, comma-separated (default: all); forwarding is always the reference.
    #[arg(long, value_name = "a,b,...")]
    pub modes: Option<String>,
    /// Print one JSON object {"modes": [...]} instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Also write the figure (topology with each mode's way, CPU per packet chart) to FILE.
    #[arg(long, value_name = "FILE")]
    pub svg: Option<std::path::PathBuf>,
    /// Floods (and ping-pong rounds) per mode, interleaved across modes.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub reps: usize,
    /// Seconds per flood and per ping-pong round (fractions allowed).
    #[arg(long, value_name = "S", default_value_t = 0.3)]
    pub seconds: f64,
    /// Do not trace the paths (the path columns are then null).
    #[arg(long)]
    pub no_path: bool,
}

pub fn compare(a: CompareArgs) -> ExitCode {
    match run(a) {
        Ok(()) => ExitCode::SUCCESS,
        Err(LabError::Privilege(m)) => {
            eprintln!("{m}");
            ExitCode::FAILURE
        }
        Err(e) if compare::signal::interrupted() => {
            eprintln!("redirect-lab compare: {e}");
            // 128 + SIGINT, as a shell reports a process ended by Ctrl-C.
            ExitCode::from(130)
        }
        Err(e) => {
            eprintln!("redirect-lab compare: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(a: CompareArgs) -> Result<(), LabError> {
    let modes = compare::parse_modes(a.modes.as_deref())?;
    let time = Duration::try_from_secs_f64(a.seconds)
        .ok()
        .filter(|t| !t.is_zero() && *t <= Duration::from_secs(60))
        .ok_or_else(|| {
            LabError::Input(format!(
                "--seconds {}: give a number of seconds above 0, at most 60",
                a.seconds
            ))
        })?;
    if a.reps == 0 || a.reps > 100 {
        return Err(LabError::Input(format!(
            "--reps {}: give 1 to 100 repetitions",
            a.reps
        )));
    }
    privilege::require("redirect-lab compare", &LAB_CAPS).map_err(LabError::Privilege)?;
    let sizes = Sizes {
        reps: a.reps,
        flood: Limits {
            packets: Sizes::default().flood.packets,
            time,
        },
        rtt: Limits {
            packets: Sizes::default().rtt.packets,
            time,
        },
        path: !a.no_path,
    };
    // Ctrl-C stops at the next step, and the labs' guards remove them.
    compare::signal::catch()
        .map_err(|e| LabError::Failed(format!("installing the SIGINT handler: {e}")))?;
    let base = netlink::netns::unique_name("cmp");
    eprintln!(
        "compare: labs {base}-0 (forwarding) to {base}-{}, removed at the end",
        modes.len()
    );
    let c = compare::run(&modes, sizes, &base, &mut |step| {
        eprintln!("compare: {step}")
    })?;
    if let Some(w) = &c.function_layer {
        eprintln!("compare: warning: {w}");
    }
    if let Some(path) = &a.svg {
        let svg = compare::picture::figure(&c);
        std::fs::write(path, svg).map_err(|e| {
            LabError::Failed(format!(
                "cannot write {}: {}",
                path.display(),
                loader::error::io_text(&e)
            ))
        })?;
        eprintln!("compare: wrote {}", path.display());
    }
    if a.json {
        outln!("{}", json(&c));
    } else {
        out!("{}", table(&c));
    }
    Ok(())
}

fn num(v: Option<f64>) -> String {
    match v {
        Some(v) if v.is_finite() => format!("{v:.3}"),
        _ => "null".into(),
    }
}

fn opt(v: Option<f64>, digits: usize) -> String {
    match v {
        Some(v) if v.is_finite() => format!("{v:.digits$}"),
        _ => "-".into(),
    }
}

/// The `--json` object.
pub fn json(c: &Comparison) -> String {
    let reference = c.reference();
    let fentry = c.functions_attached > 0;
    let entries: Vec<String> = c
        .entries
        .iter()
        .map(|e| entry_json(e, reference, fentry))
        .collect();
    format!(
        "{{\"kernel\": {}, \"payload_bytes\": {}, \"path_note\": {}, \
         \"function_layer\": {{\"fentry_programs\": {}, \"refused\": {}}}, \"modes\": [\n  {}\n]}}",
        json_str(&c.kernel),
        compare::PAYLOAD,
        json_str(PATH_NOTE),
        c.functions_attached,
        c.function_layer.as_deref().map_or("null".into(), json_str),
        entries.join(",\n  ")
    )
}

fn list(v: &[String]) -> String {
    format!(
        "[{}]",
        v.iter().map(|s| json_str(s)).collect::<Vec<_>>().join(", ")
    )
}

fn step_json(s: &trace::Step) -> String {
    format!(
        "{{\"layer\": {}, \"hook\": {}, \"netns\": {}, \"device\": {}, \"pkt_type\": {}}}",
        json_str(s.layer()),
        json_str(&s.hook),
        json_str(trace::side_name(s.side)),
        s.device.map_or("null".into(), json_str),
        json_str(loader::lab::path::pkt_type_name(s.pkt_type))
    )
}

/// The path columns of an entry, as JSON members.
fn path_json(e: &Entry, reference: &Entry, fentry: bool) -> String {
    let Some(path) = &e.path else {
        return format!(
            "\"path\": null, \"path_len\": null, \"path_len_tp_btf\": null, \
             \"path_len_fentry\": null, \"path_delivered\": null, \"skipped\": null, \
             \"skipped_events\": null, \"added\": null, \"path_error\": {}",
            json_str(e.path_error.as_deref().unwrap_or("not traced"))
        );
    };
    let skipped = e.skipped(reference).unwrap_or_default();
    let names: Vec<String> = skipped.iter().map(|k| k.stage.clone()).collect();
    let events: Vec<String> = skipped.iter().map(|k| k.text()).collect();
    let fentry_len = if fentry {
        e.path_len(true).unwrap_or(0).to_string()
    } else {
        "null".into()
    };
    format!(
        "\"path\": [{}], \"path_len\": {}, \"path_len_tp_btf\": {}, \"path_len_fentry\": {}, \
         \"path_delivered\": {}, \"skipped\": {}, \"skipped_events\": {}, \"added\": {}, \
         \"path_error\": null",
        path.iter().map(step_json).collect::<Vec<_>>().join(", "),
        path.len(),
        e.path_len(false).unwrap_or(0),
        fentry_len,
        e.path_delivered,
        list(&names),
        list(&events),
        list(&e.added(reference).unwrap_or_default()),
    )
}

fn entry_json(e: &Entry, reference: &Entry, fentry: bool) -> String {
    let r = Ratios::of(e, reference);
    let (min, max) = e.cpu_min_max().unzip();
    let n = &e.needs;
    let kernel_ok = match n.kernel_ok {
        Some(b) => b.to_string(),
        None => "null".into(),
    };
    format!(
        "{{\"mode\": {}, {}, \"cpu_ns_per_packet\": {}, \"cpu_ns_min\": {}, \"cpu_ns_max\": {}, \
         \"pps\": {}, \"rtt_p50_us\": {}, \"rtt_p99_us\": {}, \"sent\": {}, \"delivered\": {}, \
         \"ratio_vs_forwarding\": {{\"cpu_ns_per_packet\": {}, \"pps\": {}, \"rtt_p50\": {}, \
         \"rtt_p99\": {}}}, \"needs\": {{\"mac_rewrite\": {}, \"route\": {}, \
         \"xdp_on_peer\": {}, \"since\": {}, \"kernel_ok\": {}}}, \"error\": {}, \"notes\": [{}]}}",
        json_str(e.name),
        path_json(e, reference, fentry),
        num(e.cpu_median()),
        num(min),
        num(max),
        num(e.pps_median()),
        num(e.rtt_p50()),
        num(e.rtt_p99()),
        e.sent,
        e.delivered,
        num(r.cpu_ns_per_packet),
        num(r.pps),
        num(r.rtt_p50),
        num(r.rtt_p99),
        n.mac_rewrite,
        n.route,
        n.xdp_on_peer,
        json_str(n.since),
        kernel_ok,
        e.error.as_deref().map_or("null".into(), json_str),
        e.notes
            .iter()
            .map(|s| json_str(s))
            .collect::<Vec<_>>()
            .join(", "),
    )
}

/// The text table.
pub fn table(c: &Comparison) -> String {
    let reference = c.reference();
    let yn = |b: bool| if b { "yes" } else { "no" };
    let mut s = format!(
        "redirect modes against netns_1 forwarding, UDP {} B, Linux {} (ratios: mode / forwarding, same run)\n\n",
        compare::PAYLOAD,
        c.kernel
    );
    let fentry = c.functions_attached > 0;
    s.push_str(&format!(
        "{:<11} {:>6} {:>9} {:>6} {:>10} {:>6} {:>8} {:>8} {:>6}  {:<4} {:<5} {:<7} {:<6}\n",
        "mode",
        "events",
        "cpu ns/p",
        "x",
        "pps",
        "x",
        "p50 us",
        "p99 us",
        "x",
        "mac",
        "route",
        "xdp@peer",
        "since"
    ));
    for e in &c.entries {
        let r = Ratios::of(e, reference);
        let n = &e.needs;
        let since = match n.kernel_ok {
            Some(false) => format!("{} (newer than this kernel)", n.since),
            _ => n.since.to_string(),
        };
        let events = match (e.path_len(false), e.path_len(true)) {
            (Some(t), Some(f)) if fentry => format!("{t}+{f}"),
            (Some(t), _) => t.to_string(),
            _ => "-".into(),
        };
        s.push_str(&format!(
            "{:<11} {:>6} {:>9} {:>6} {:>10} {:>6} {:>8} {:>8} {:>6}  {:<4} {:<5} {:<7} {:<6}\n",
            e.name,
            events,
            opt(e.cpu_median(), 0),
            opt(r.cpu_ns_per_packet, 2),
            opt(e.pps_median(), 0),
            opt(r.pps, 2),
            opt(e.rtt_p50(), 1),
            opt(e.rtt_p99(), 1),
            opt(r.rtt_p50, 2),
            yn(n.mac_rewrite),
            yn(n.route),
            yn(n.xdp_on_peer),
            since
        ));
    }
    s.push_str(&format!(
        "\nevents: {}; {PATH_NOTE}\n",
        match &c.function_layer {
            _ if fentry => format!(
                "tp_btf+fentry ({} fentry programs attached)",
                c.functions_attached
            ),
            Some(why) => format!("tp_btf only, {why}"),
            None => "tp_btf only (no fentry program attached)".into(),
        }
    ));
    for e in &c.entries {
        s.push_str(&path_text(e, reference));
    }
    s.push('\n');
    for e in &c.entries {
        if e.delivered == 0 && e.error.is_none() {
            s.push_str(&format!(
                "{}: sent {}, none delivered to netns_2's socket\n",
                e.name, e.sent
            ));
        }
        if let Some(err) = &e.error {
            s.push_str(&format!("{}: {err}\n", e.name));
        }
        for n in &e.notes {
            s.push_str(&format!("{}: {n}\n", e.name));
        }
    }
    s
}

/// An entry's path: its events in order, then what it skips.
fn path_text(e: &Entry, reference: &Entry) -> String {
    let Some(path) = &e.path else {
        return format!(
            "\n{}: no path: {}\n",
            e.name,
            e.path_error.as_deref().unwrap_or("not traced")
        );
    };
    let mut s = format!(
        "\n{} ({} events{}):\n",
        e.name,
        path.len(),
        if e.path_delivered {
            ""
        } else {
            ", the datagram did not reach the socket"
        }
    );
    let labels: Vec<String> = path
        .iter()
        .map(|st| {
            if st.function {
                format!("fentry:{}", st.label())
            } else {
                st.label()
            }
        })
        .collect();
    // Wrapped at about 100 columns.
    let mut line = String::from("  ");
    for (i, l) in labels.iter().enumerate() {
        let piece = if i == 0 { l.clone() } else { format!(" > {l}") };
        if line.len() + piece.len() > 100 && !line.trim().is_empty() {
            s.push_str(&line);
            s.push('\n');
            line = String::from("   ");
        }
        line.push_str(&piece);
    }
    s.push_str(&line);
    s.push('\n');
    if !std::ptr::eq(e, reference) {
        match e.skipped(reference) {
            Some(k) if !k.is_empty() => {
                for skip in k {
                    s.push_str(&format!("  skips {}\n", skip.text()));
                }
            }
            _ => s.push_str("  skips no stage of forwarding's path\n"),
        }
        if let Some(a) = e.added(reference).filter(|a| !a.is_empty()) {
            s.push_str(&format!("  adds {}\n", a.join(", ")));
        }
    }
    s
}
