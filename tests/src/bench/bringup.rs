//! Benchmark 3: bringing the lab up from a torn-down state, `redirect-lab up`
//! against the seed's path.
//!
//! - Ours: `redirect-lab up --prefix P` (the binary when built, else the same
//!   library call in-process): assemble `bpf-src/redirect.s`, load it with
//!   bpf(2), and build the whole topology and the TC attachment over
//!   rtnetlink, in one process.
//! - The seed's: `tests/bench/seed-up.sh up`, which does what the seed's
//!   `make up` does: dump vmlinux.h with bpftool, compile the C with clang,
//!   then about thirty `ip`/`tc` processes. Its host side lives in its own
//!   namespace, so neither path touches the real host.
//!
//! Each run gets fresh, never reused names; teardown happens between runs
//! and is not timed. Target: ours at least 20x faster.

use super::ours::{self, LabMode};
use super::stats::{interleave, Better};
use super::table::Row;
use super::traffic::find_tool;
use super::{unique_name, Config};
use std::process::Command;
use std::time::{Duration, Instant};

const BENCH: &str = "3. lab bring-up";

fn run_checked(cmd: &mut Command, what: &str) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{what}: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    Err(format!(
        "{what} failed ({}): {}",
        out.status,
        err.lines().rev().take(3).collect::<Vec<_>>().join(" / ")
    ))
}

/// `redirect-lab up --prefix P`, timed; then `down`, not timed.
fn ours(cfg: &Config) -> Result<f64, String> {
    let prefix = unique_name("bu");
    let t = Instant::now();
    let result = match &cfg.redirect_lab {
        Some(bin) => run_checked(
            Command::new(bin).args(["up", "--prefix", &prefix]),
            &format!("redirect-lab up --prefix {prefix}"),
        ),
        None => ours::lab_up(&prefix, LabMode::Redirect),
    };
    let secs = t.elapsed().as_secs_f64();
    ours::lab_down(&prefix);
    result.map(|()| secs)
}

/// `seed-up.sh up P W`, timed; then `seed-up.sh down P`, not timed.
fn seed(cfg: &Config) -> Result<f64, String> {
    let script = cfg.root.join("tests/bench/seed-up.sh");
    let prefix = unique_name("sd");
    let work = cfg.workdir.join(&prefix);
    let t = Instant::now();
    let result = run_checked(
        Command::new("timeout")
            .arg("60")
            .arg("sh")
            .arg(&script)
            .arg("up")
            .arg(&prefix)
            .arg(&work),
        "tests/bench/seed-up.sh up",
    );
    let secs = t.elapsed().as_secs_f64();
    let _ = Command::new("sh")
        .arg(&script)
        .arg("down")
        .arg(&prefix)
        .output();
    let _ = std::fs::remove_dir_all(&work);
    result.map(|()| secs)
}

pub fn run(cfg: &Config) -> Vec<Row> {
    let reps = if cfg.smoke { 1 } else { cfg.reps };
    let ours_name = if cfg.redirect_lab.is_some() {
        "redirect-lab up --prefix P"
    } else {
        "redirect-lab up --prefix P (library call: binary not built)"
    };
    let seed_name = "seed's path (tests/bench/seed-up.sh: bpftool, clang, ip, tc)";
    let missing: Vec<&str> = ["bpftool", "clang", "ip", "tc", "timeout"]
        .into_iter()
        .filter(|t| find_tool(t).is_none())
        .collect();
    let runs = interleave(reps, 2, |_, case| {
        let r = if case == 0 {
            ours(cfg)
        } else if !missing.is_empty() {
            Err(format!(
                "not installed: {} (apt install bpftool clang iproute2)",
                missing.join(", ")
            ))
        } else {
            seed(cfg)
        };
        // Let the kernel finish destroying the last namespaces (it does so
        // in the background) before the next case starts its clock.
        std::thread::sleep(Duration::from_millis(if cfg.smoke { 10 } else { 200 }));
        r.map(|s| s * 1000.0)
    });
    let mut it = runs.into_iter();
    let mut row = |name: &str| match it.next() {
        Some(Ok(v)) => Row::from_samples(BENCH, name, "ms", &v),
        Some(Err(e)) => Row::missing(BENCH, name, "ms", e),
        None => Row::missing(BENCH, name, "ms", "not run"),
    };
    let ours = row(ours_name);
    let seed = row(seed_name);
    vec![
        ours.versus("seed's path", &seed, Better::Lower)
            .target(20.0),
        seed,
    ]
}
