//! Benchmark 5: the kernel matrix (`make kernels`): its wall time, and how
//! long each kernel takes from boot (QEMU start) to the suite's result.
//!
//! The runner (`tests/src/bin/kernel-matrix.rs`) reports per-kernel times
//! only on stderr (`kernel-matrix: 6.1 (RELEASE) finished in 3.2s`,
//! `kernel-matrix: host finished in 0.4s`), so this benchmark runs it once
//! and reads those lines. A kernel whose line is missing gets a row that says
//! so. The host column, the same suite without a VM, is the reference for
//! each VM's boot-to-result time; the wall time is set against the 180 s
//! limit of the kernel-matrix issue.
//!
//! `make bench` runs `make kernels` (cached kernels if `target/kernels/` has
//! them; otherwise the row says the run included downloads). The smoke test
//! runs the kernel-matrix binary for the host column only.

use super::stats::Better;
use super::table::{Figure, Row};
use super::traffic::find_tool;
use super::Config;
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

const BENCH: &str = "5. kernel matrix";
/// The kernel-matrix issue: "`make kernels` ≤ 3 minutes wall", four VMs
/// plus the host, kernels cached.
const LIMIT_S: f64 = 180.0;

/// One timing line of the runner's stderr: (label, release, seconds).
pub fn parse_finished(line: &str) -> Option<(String, Option<String>, f64)> {
    let rest = line.trim().strip_prefix("kernel-matrix: ")?;
    let (head, tail) = rest.split_once(" finished in ")?;
    let secs: f64 = tail
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .next()?
        .parse()
        .ok()?;
    let (label, release) = match head.split_once(" (") {
        Some((l, r)) => (l.to_string(), Some(r.trim_end_matches(')').to_string())),
        None => (head.to_string(), None),
    };
    Some((label, release, secs))
}

fn cached(cfg: &Config) -> bool {
    crate::apt::default_series().iter().all(|s| {
        cfg.root
            .join("target/kernels")
            .join(s)
            .join("ready")
            .exists()
    })
}

fn sibling(name: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let p = exe.parent()?.join(name);
    p.is_file().then_some(p)
}

pub fn run(cfg: &Config) -> Vec<Row> {
    let series = crate::apt::default_series();
    let (mut cmd, wall_case, kernels): (Command, String, Vec<&str>) = if cfg.smoke
        || !cfg.run_kernel_matrix
    {
        let Some(bin) = sibling("kernel-matrix") else {
            return vec![Row::missing(
                BENCH,
                "kernel-matrix, host column only",
                "s",
                "the kernel-matrix binary is not built next to this one (cargo build -p lab-tests --bins)",
            )];
        };
        let mut c = Command::new("timeout");
        c.arg("300")
            .arg(bin)
            .args(["--kernels", ",", "--timeout", "60", "--out"])
            // Its own file: the smoke run must not overwrite the real
            // matrix that `make kernels` wrote to target/kernel-matrix.md.
            .arg(
                std::env::temp_dir().join(format!("bench-smoke-matrix-{}.md", std::process::id())),
            );
        (c, "kernel-matrix, host column only (smoke)".into(), vec![])
    } else {
        let Some(make) = find_tool("make") else {
            return vec![Row::missing(
                BENCH,
                "make kernels",
                "s",
                "make not installed (apt install make)",
            )];
        };
        let mut c = Command::new("timeout");
        c.arg("600")
            .arg(make)
            .arg("-C")
            .arg(&cfg.root)
            .arg("kernels");
        let what = if cached(cfg) {
            "make kernels, wall time (kernels cached)"
        } else {
            "make kernels, wall time (first run: includes downloading the kernels)"
        };
        (c, what.into(), series.iter().map(String::as_str).collect())
    };
    let t = Instant::now();
    let out = match cmd.output() {
        Ok(o) => o,
        Err(e) => {
            return vec![Row::missing(
                BENCH,
                wall_case,
                "s",
                format!("cannot run: {e}"),
            )]
        }
    };
    let wall = t.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let times: Vec<(String, Option<String>, f64)> =
        stderr.lines().filter_map(parse_finished).collect();
    let limit = Row::new(
        BENCH,
        "kernel-matrix issue limit",
        "s",
        Figure::Exact(LIMIT_S),
    );
    let mut rows = Vec::new();
    let status = if out.status.success() {
        String::new()
    } else if out.status.code() == Some(124) {
        " (KILLED by the bench's timeout)".to_string()
    } else {
        format!(
            " (exit {}: the matrix has failing cells or errors)",
            out.status
        )
    };
    if times.is_empty() && !out.status.success() {
        let last: Vec<&str> = stderr.lines().rev().take(3).collect();
        rows.push(Row::missing(
            BENCH,
            wall_case,
            "s",
            format!("failed{status}: {}", last.join(" / ")),
        ));
        return rows;
    }
    let wall_row = Row::new(
        BENCH,
        format!("{wall_case}{status}"),
        "s",
        Figure::Exact(wall),
    );
    rows.push(
        wall_row
            .clone()
            .versus("the 180 s limit", &limit, Better::Lower)
            .target(1.0),
    );
    if !kernels.is_empty() {
        rows.push(two_slots(cfg, &wall_row));
    }
    let host = times.iter().find(|(l, _, _)| l == "host");
    let host_row = match host {
        Some((_, _, s)) => Row::new(
            BENCH,
            "suite on the host kernel (no VM), run to result",
            "s",
            Figure::Exact(*s),
        ),
        None => Row::missing(
            BENCH,
            "suite on the host kernel (no VM), run to result",
            "s",
            "no `host finished` line in the runner's output",
        ),
    };
    for series in kernels {
        let case = |rel: Option<&String>| match rel {
            Some(r) => format!("{series} ({r}) in QEMU TCG, boot to result"),
            None => format!("{series} in QEMU TCG, boot to result"),
        };
        rows.push(match times.iter().find(|(l, _, _)| l == series) {
            Some((_, rel, s)) => Row::new(BENCH, case(rel.as_ref()), "s", Figure::Exact(*s))
                .versus("host run", &host_row, Better::Lower),
            None => Row::missing(
                BENCH,
                case(None),
                "s",
                "no `finished in` line for this kernel in the runner's output",
            ),
        });
    }
    rows.push(host_row);
    rows
}

/// The schedule the runner did not choose: the same cached matrix on 2
/// slots (one per core) instead of all jobs at once, against the default
/// just measured.
fn two_slots(cfg: &Config, default: &Row) -> Row {
    let case = "kernel-matrix --slots 2 (one VM per core), wall time";
    let bin = cfg
        .root
        .join("target/static/x86_64-unknown-linux-gnu/release/kernel-matrix");
    if !bin.is_file() {
        return Row::missing(BENCH, case, "s", format!("{} not built", bin.display()));
    }
    let t = Instant::now();
    match Command::new("timeout")
        .arg("600")
        .arg(&bin)
        .args(["--slots", "2", "--out"])
        .arg(std::env::temp_dir().join(format!("bench-slots2-{}.md", std::process::id())))
        .output()
    {
        Ok(o) if o.status.success() => {
            Row::new(BENCH, case, "s", Figure::Exact(t.elapsed().as_secs_f64())).versus(
                "all jobs at once (the default)",
                default,
                Better::Lower,
            )
        }
        Ok(o) => Row::missing(BENCH, case, "s", format!("the run failed ({})", o.status)),
        Err(e) => Row::missing(BENCH, case, "s", format!("cannot run: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_runner_timing_lines() {
        assert_eq!(
            parse_finished(
                "kernel-matrix: 6.1 (6.1.0-56-cloud-amd64) finished in 3.2s; console in x"
            ),
            Some(("6.1".into(), Some("6.1.0-56-cloud-amd64".into()), 3.2))
        );
        assert_eq!(
            parse_finished(
                "kernel-matrix: 6.12 (6.12.1) finished in 40.0s (KILLED on timeout); console in y"
            ),
            Some(("6.12".into(), Some("6.12.1".into()), 40.0))
        );
        assert_eq!(
            parse_finished("kernel-matrix: host finished in 0.4s"),
            Some(("host".into(), None, 0.4))
        );
        assert_eq!(
            parse_finished("kernel-matrix: wrote target/kernel-matrix.md"),
            None
        );
        assert_eq!(parse_finished("kernel-matrix: host finished in xs"), None);
    }
}
