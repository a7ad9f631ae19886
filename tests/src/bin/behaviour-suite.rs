//! `behaviour-suite`: runs the kernel-behaviour suite on the running kernel
//! and prints one `LABTEST` line per behaviour, then `LABTEST-END`.
//!
//! The kernel-matrix runner runs this binary, statically linked, as the
//! workload of each VM and directly on the host. Run it yourself as root:
//! `behaviour-suite [--list] [ID...]`.

use lab_tests::behaviours::REGISTRY;
use loader::lab::privilege;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        for b in REGISTRY {
            println!("{:<28} {:<8} {}", b.id, b.min_kernel, b.title);
        }
        return;
    }
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("usage: behaviour-suite [--list] [ID...]  (needs root)");
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
    let failures = lab_tests::suite::run(&args);
    std::process::exit(if failures == 0 { 0 } else { 1 });
}
