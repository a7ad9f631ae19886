//! The smoke test of `make bench`: runs the `bench` binary with `--smoke`
//! (every benchmark at a tiny size: a few hundred packets, a few thousand
//! assembly lines, one lab bring-up, the kernel matrix's host column) and
//! checks that the table it writes has a row for each benchmark, every row
//! filled with a number. A row may say "missing" only for a tool that is
//! really not installed here. Speed is never asserted.

use std::path::Path;
use std::process::Command;

fn on_path(tool: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin"].map(Into::into))
        .any(|d| d.join(tool).is_file())
}

/// The cells of the table's data rows.
fn table_rows(md: &str) -> Vec<Vec<String>> {
    md.lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| Benchmark |"))
        .map(|l| {
            l.trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect()
}

#[test]
fn every_benchmark_runs_at_a_tiny_size_and_fills_its_rows() {
    let out = std::env::temp_dir().join(format!("bench-smoke-{}.md", std::process::id()));
    let run = Command::new(env!("CARGO_BIN_EXE_bench"))
        .args(["--smoke", "--out"])
        .arg(&out)
        .output()
        .expect("run the bench binary");
    let stderr = String::from_utf8_lossy(&run.stderr);
    if !netlink::is_root() {
        assert!(
            !run.status.success(),
            "bench must refuse to run without root"
        );
        assert!(stderr.contains("needs root"), "{stderr}");
        eprintln!("not root: checked the refusal only");
        return;
    }
    assert!(run.status.success(), "bench --smoke failed:\n{stderr}");
    let md = std::fs::read_to_string(&out).expect("bench wrote its table");
    let _ = std::fs::remove_file(&out);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        stdout.contains(md.trim()),
        "the printed table is the written one"
    );
    assert!(md.contains("Machine: ") && md.contains(" cores)"), "{md}");

    let rows = table_rows(&md);
    for bench in [
        "1. forwarding",
        "2. program cost",
        "3. lab bring-up",
        "4. assembler",
        "5. kernel matrix",
        "6. redirect modes",
        "7. path tracer",
    ] {
        assert!(
            rows.iter().any(|r| r[0] == bench),
            "no row for {bench}:\n{md}"
        );
    }
    // Attach (per base program, base + fentry, the plain-load reference)
    // and per-packet cost (traced, untraced); the guests' rows are not in
    // a smoke run.
    assert_eq!(
        rows.iter().filter(|r| r[0] == "7. path tracer").count(),
        5,
        "{md}"
    );
    // (a), (b), (c) for 2 UDP sizes x (pps, loss), TCP, RTT p50 and p99.
    assert!(
        rows.iter().filter(|r| r[0] == "1. forwarding").count() >= 3 * 7,
        "{md}"
    );
    // The same metrics for (a) and the six techniques of `up --mode`.
    for mode in ["(peer)", "(neigh)", "(fib)", "(xdp)", "(devmap)", "(tcx)"] {
        assert!(
            rows.iter()
                .filter(|r| r[0] == "6. redirect modes" && r[1].contains(mode))
                .count()
                >= 7,
            "{mode}: {md}"
        );
    }
    for r in &rows {
        assert_eq!(r.len(), 8, "malformed row {r:?}");
        let median = &r[2];
        if let Some(why) = median.strip_prefix("**missing**: ") {
            // A device this kernel lacks is n/a by up's probe, in its words.
            if r[1].contains("(netkit)") && why.contains("needs a netkit device") {
                continue;
            }
            let tool = why.split_whitespace().next().unwrap_or("");
            assert!(
                why.contains("not installed") && !on_path(tool),
                "row {} / {} is missing although it could run: {why}",
                r[0],
                r[1]
            );
            continue;
        }
        let n: f64 = median.replace(',', "").parse().unwrap_or_else(|_| {
            panic!("row {} / {}: median {median:?} is not a number", r[0], r[1])
        });
        assert!(n.is_finite() && n >= 0.0, "{r:?}");
        // Rows with a reference carry a ratio, except where a zero makes it
        // meaningless (a loss rate of 0 against 0). Standalone rows say "-".
        let ratio = &r[6];
        assert!(
            ratio == "reference"
                || ratio == "-"
                || ratio.contains("x vs ")
                || (ratio.starts_with("n/a") && (n == 0.0 || r[5] == "%")),
            "row {} / {}: ratio cell {ratio:?}",
            r[0],
            r[1]
        );
    }
    assert!(Path::new(env!("CARGO_BIN_EXE_bench")).is_file());
}
