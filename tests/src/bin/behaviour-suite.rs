//! `behaviour-suite`: runs the kernel-behaviour suite on the running kernel
//! and prints one `LABTEST` line per behaviour, then `LABTEST-END`.
//!
//! The kernel-matrix runner runs this binary, statically linked, as the
//! workload of each VM and directly on the host. Run it yourself as root:
//! `behaviour-suite [--list] [ID...]`.

use lab_tests::behaviours::REGISTRY;

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
    if !is_root() {
        eprintln!("behaviour-suite: needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN and CAP_BPF) to create namespaces and load programs");
        std::process::exit(1);
    }
    let failures = lab_tests::suite::run(&args);
    std::process::exit(if failures == 0 { 0 } else { 1 });
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|e| e == "0"))
        })
        .unwrap_or(false)
}
