//! `behaviour-suite`: runs the kernel-behaviour suite on the running kernel
//! and prints one `LABTEST` line per behaviour, then `LABTEST-END`.
//!
//! The kernel-matrix runner runs this binary, statically linked, as the
//! workload of each VM and directly on the host. Run it yourself as root:
//! `behaviour-suite [--list] [--timeout SECS] [--attach-budget SECS|none]
//! [ID...]`. `--timeout` replaces the per-behaviour limit
//! (`suite::BEHAVIOUR_TIMEOUT`); `--attach-budget` replaces path-attach-all's
//! fentry budget (`none`: every function). `make bench` boots a guest with
//! `path-attach-all --attach-budget none --timeout 1500` on its kernel
//! command line (after `--`, which the kernel hands to init, and lab-init
//! to this binary).

use lab_tests::behaviours::{ON_REQUEST, REGISTRY};
use loader::lab::privilege;

const USAGE: &str =
    "usage: behaviour-suite [--list] [--timeout SECS] [--attach-budget SECS|none] [ID...]  (needs root)";

/// Seconds as a duration, for the two options.
fn secs(opt: &str, v: Option<String>) -> std::time::Duration {
    match v.as_deref().and_then(|v| v.parse::<f64>().ok()) {
        Some(s) if s > 0.0 && s <= 86_400.0 => std::time::Duration::from_secs_f64(s),
        _ => {
            eprintln!(
                "behaviour-suite: {opt} needs seconds (above 0, up to 86400), got {:?}\n{USAGE}",
                v.as_deref().unwrap_or("nothing")
            );
            std::process::exit(2);
        }
    }
}

fn main() {
    let mut args = Vec::new();
    let mut timeout = lab_tests::suite::BEHAVIOUR_TIMEOUT;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--timeout" => timeout = secs("--timeout", it.next()),
            "--attach-budget" => {
                let v = it.next();
                let budget = match v.as_deref() {
                    Some("none") => None,
                    _ => Some(secs("--attach-budget", v)),
                };
                lab_tests::behaviours::path_trace::set_attach_all_budget(budget);
            }
            _ => args.push(a),
        }
    }
    if args.iter().any(|a| a == "--list") {
        for b in REGISTRY {
            println!("{:<28} {:<8} {}", b.id, b.min_kernel, b.title);
        }
        // Named only, never in the matrix: say so, so a listing is no recipe
        // for running them with the rest.
        for b in ON_REQUEST {
            println!(
                "{:<28} {:<8} (on request only) {}",
                b.id, b.min_kernel, b.title
            );
        }
        return;
    }
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return;
    }
    if let Some(unknown) = args
        .iter()
        .find(|a| lab_tests::behaviours::find(a).is_none())
    {
        eprintln!("behaviour-suite: unknown behaviour {unknown:?}; see --list");
        std::process::exit(2);
    }
    // The behaviours build the lab, so they need what the lab needs.
    if let Err(e) = privilege::require("behaviour-suite", &privilege::LAB_CAPS) {
        eprintln!("{e}");
        std::process::exit(1);
    }
    let failures = lab_tests::suite::run_within(&args, timeout);
    std::process::exit(if failures == 0 { 0 } else { 1 });
}
