//! Benchmark 5: the kernel matrix (`make kernels`): its wall time, how it
//! compares with the one-job-per-core schedule, and how long each kernel
//! takes from boot (QEMU start) to the suite's result.
//!
//! The runner (`tests/src/bin/kernel-matrix.rs`) reports per-kernel times
//! only on stderr (`kernel-matrix: 6.1 (RELEASE) finished in 3.2s`,
//! `kernel-matrix: host finished in 0.4s`), so this benchmark runs it and
//! reads those lines. A kernel whose line is missing gets a row that says
//! so. The host column, the same suite without a VM, is the reference for
//! each VM's boot-to-result time; the wall time is set against the 180 s
//! limit of the kernel-matrix issue (four VMs plus the host, kernels cached).
//!
//! The schedule: the runner starts every kernel and the host at once by
//! default. A second run in the same `make bench` uses `--slots 2` (one job
//! per core, longest first), the schedule that would be best if each QEMU
//! kept its core busy; the ratio between the two shows which is faster on
//! this machine. (Under TCG a VM spends most of its wall time waiting on
//! its own timers and the suite's bounded waits, not computing, which is why
//! starting them all at once wins.)
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
/// Issue 14: four VMs plus the host, kernels cached, `make kernels` within 3 minutes.
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

fn series() -> Vec<String> {
    crate::apt::default_series()
}

fn cached(cfg: &Config) -> bool {
    series().iter().all(|s| {
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

/// What one run of the runner left: wall time, exit note, timing lines.
struct Run {
    wall: f64,
    status: String,
    ok: bool,
    times: Vec<(String, Option<String>, f64)>,
    tail: String,
}

fn run_once(mut cmd: Command) -> Result<Run, String> {
    let t = Instant::now();
    let out = cmd.output().map_err(|e| format!("cannot run: {e}"))?;
    let wall = t.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&out.stderr);
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
    let tail: Vec<&str> = stderr.lines().rev().take(3).collect();
    Ok(Run {
        wall,
        ok: out.status.success(),
        status,
        times: stderr.lines().filter_map(parse_finished).collect(),
        tail: tail.join(" / "),
    })
}

fn make_kernels(make: &std::path::Path, cfg: &Config, flags: &str) -> Command {
    let mut c = Command::new("timeout");
    c.arg("600")
        .arg(make)
        .arg("-C")
        .arg(&cfg.root)
        .arg("kernels");
    if !flags.is_empty() {
        c.arg(format!("KERNELS_FLAGS={flags}"));
    }
    c
}

pub fn run(cfg: &Config) -> Vec<Row> {
    if cfg.smoke || !cfg.run_kernel_matrix {
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
            .args(["--kernels", ",", "--timeout", "60"]);
        return rows_of(
            run_once(c),
            "kernel-matrix, host column only (smoke)".into(),
            None,
            &[],
        );
    }
    let Some(make) = find_tool("make") else {
        return vec![Row::missing(
            BENCH,
            "make kernels",
            "s",
            "make not installed (apt install make)",
        )];
    };
    let what = if cached(cfg) {
        "make kernels, wall time (kernels cached, every job at once)"
    } else {
        "make kernels, wall time (first run: includes downloading the kernels)"
    };
    let main = run_once(make_kernels(&make, cfg, ""));
    let per_core = run_once(make_kernels(&make, cfg, "--slots 2"));
    let per_core_row = match &per_core {
        Ok(r) if !r.times.is_empty() || r.ok => Row::new(
            BENCH,
            format!(
                "make kernels --slots 2 (one job per core, longest first){}",
                r.status
            ),
            "s",
            Figure::Exact(r.wall),
        ),
        Ok(r) => Row::missing(
            BENCH,
            "make kernels --slots 2 (one job per core, longest first)",
            "s",
            format!("failed{}: {}", r.status, r.tail),
        ),
        Err(e) => Row::missing(BENCH, "make kernels --slots 2", "s", e.clone()),
    };
    let s = series();
    let names: Vec<&str> = s.iter().map(String::as_str).collect();
    let mut rows = rows_of(main, what.into(), Some(&per_core_row), &names);
    rows.push(per_core_row);
    rows
}

/// The rows of one run: wall time against the limit (and against the other
/// schedule when given), each kernel's boot-to-result against the host's run.
fn rows_of(
    run: Result<Run, String>,
    wall_case: String,
    other_schedule: Option<&Row>,
    kernels: &[&str],
) -> Vec<Row> {
    let run = match run {
        Ok(r) => r,
        Err(e) => return vec![Row::missing(BENCH, wall_case, "s", e)],
    };
    let limit = Row::new(BENCH, "issue 14 limit", "s", Figure::Exact(LIMIT_S));
    let mut rows = Vec::new();
    if run.times.is_empty() && !run.ok {
        rows.push(Row::missing(
            BENCH,
            wall_case,
            "s",
            format!("failed{}: {}", run.status, run.tail),
        ));
        return rows;
    }
    rows.push(
        Row::new(
            BENCH,
            format!("{wall_case}{}", run.status),
            "s",
            Figure::Exact(run.wall),
        )
        .versus("the 180 s limit", &limit, Better::Lower)
        .target(1.0),
    );
    if let Some(other) = other_schedule {
        rows.push(
            Row::new(
                BENCH,
                "make kernels, every job at once",
                "s",
                Figure::Exact(run.wall),
            )
            .versus("--slots 2", other, Better::Lower),
        );
    }
    let host = run.times.iter().find(|(l, _, _)| l == "host");
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
        rows.push(match run.times.iter().find(|(l, _, _)| l == series) {
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
