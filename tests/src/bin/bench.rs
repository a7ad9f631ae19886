//! `bench` (`make bench`): runs every benchmark of `lab_tests::bench`, prints
//! the Markdown table and writes it to `target/bench.md`, and the forwarding
//! rows' CPU per packet as a bar chart to `target/bench.svg` (beside `--out`).
//!
//! Usage: `bench [--smoke] [--reps N] [--only NAME]... [--out FILE]`
//! - `--smoke`: tiny sizes, to check that every benchmark runs;
//! - `--only`: run the benchmarks whose name contains NAME (e.g. `assembler`);
//! - `--out`: write the table there instead of `target/bench.md`.

use lab_tests::bench::{self, table};
use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: bench [--smoke] [--reps N] [--only NAME]... [--out FILE]";

fn main() -> ExitCode {
    let mut smoke = false;
    let mut reps = None;
    let mut only = Vec::new();
    let mut out = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--smoke" => smoke = true,
            "--reps" => match args
                .next()
                .and_then(|v| v.parse::<usize>().ok())
                .filter(|n| (1..=100).contains(n))
            {
                Some(n) => reps = Some(n),
                None => {
                    eprintln!("bench: --reps needs a number from 1 to 100\n{USAGE}");
                    return ExitCode::from(2);
                }
            },
            "--only" => match args.next() {
                Some(n) => only.push(n),
                None => {
                    eprintln!("bench: --only needs a benchmark name\n{USAGE}");
                    return ExitCode::from(2);
                }
            },
            "--out" => match args.next() {
                Some(p) => out = Some(PathBuf::from(p)),
                None => {
                    eprintln!("bench: --out needs a file\n{USAGE}");
                    return ExitCode::from(2);
                }
            },
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            other => {
                eprintln!("bench: unknown argument {other:?}\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    if !netlink::is_root() {
        eprintln!(
            "bench: needs root (CAP_BPF, CAP_NET_ADMIN, CAP_SYS_ADMIN): it loads programs and builds \
             isolated labs in network namespaces. Run `sudo make bench`."
        );
        return ExitCode::FAILURE;
    }
    let mut cfg = bench::Config::new(smoke);
    if let Some(n) = reps {
        cfg.reps = n;
    }
    let start = std::time::Instant::now();
    let machine = table::Machine::detect();
    let rows = bench::run_all(&cfg, &only);
    let md = table::render(&machine, &rows, start.elapsed().as_secs_f64());
    println!("{md}");
    let out = out.unwrap_or_else(|| cfg.root.join("target").join("bench.md"));
    if let Some(dir) = out.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    if let Err(e) = std::fs::write(&out, &md) {
        eprintln!("bench: cannot write {}: {e}", out.display());
        return ExitCode::FAILURE;
    }
    eprintln!("bench: wrote {}", out.display());
    // The forwarding rows' CPU per packet as a picture, beside the table.
    if let Some(svg) = bench::chart::cpu_chart(&rows) {
        let svg_out = out.with_extension("svg");
        if let Err(e) = std::fs::write(&svg_out, svg) {
            eprintln!("bench: cannot write {}: {e}", svg_out.display());
            return ExitCode::FAILURE;
        }
        eprintln!("bench: wrote {}", svg_out.display());
    }
    ExitCode::SUCCESS
}
