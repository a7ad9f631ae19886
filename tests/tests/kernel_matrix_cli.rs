//! The kernel-matrix runner, end to end, on saved outputs (`--logs`): no
//! kernel is booted, so this needs neither root nor QEMU. A broken
//! expectation, a panic and a truncated log must each turn the matrix red and
//! the exit code non-zero.

use std::path::PathBuf;
use std::process::Command;

use lab_tests::behaviours::REGISTRY;
use lab_tests::report::{end_line, result_line, Verdict};

fn dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("lab-matrix-cli-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A complete, all-pass log, with one behaviour's verdict replaced.
fn log(replace: Option<(&str, Verdict)>) -> String {
    let mut s = String::from("[    0.0] Linux version 6.99 (fake)\nLABINIT start\n");
    for b in REGISTRY {
        let v = match &replace {
            Some((id, v)) if *id == b.id => v.clone(),
            _ => Verdict::pass(),
        };
        s.push_str(&result_line(b.id, &v));
        s.push('\n');
    }
    s.push_str(&end_line(REGISTRY.len()));
    s.push('\n');
    s
}

fn run_matrix(name: &str, logs: &[(&str, String)]) -> (i32, String) {
    let d = dir();
    let mut spec = Vec::new();
    for (label, text) in logs {
        let p = d.join(format!("{name}-{label}.log"));
        std::fs::write(&p, text).unwrap();
        spec.push(format!("{label}={}", p.display()));
    }
    let out = d.join(format!("{name}.md"));
    let st = Command::new(env!("CARGO_BIN_EXE_kernel-matrix"))
        .arg("--logs")
        .arg(spec.join(","))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let md = std::fs::read_to_string(&out).unwrap_or_default();
    (st.status.code().unwrap_or(-1), md)
}

#[test]
fn all_pass_is_green_and_exits_zero() {
    let (code, md) = run_matrix("green", &[("6.1", log(None)), ("host", log(None))]);
    assert_eq!(code, 0, "{md}");
    assert!(md.contains("GREEN"), "{md}");
    for b in REGISTRY {
        assert!(md.contains(&format!("`{}`", b.id)), "row {} missing", b.id);
    }
}

#[test]
fn a_broken_expectation_exits_non_zero() {
    let id = REGISTRY[0].id;
    let broken = log(Some((
        id,
        Verdict::Fail("packet reached netns_2 with BPF_F_INGRESS".into()),
    )));
    let (code, md) = run_matrix("red", &[("6.1", log(None)), ("6.12", broken)]);
    assert_eq!(code, 1, "{md}");
    assert!(md.contains("RED: 1 failing cell(s)"), "{md}");
    assert!(md.contains("fail (packet reached netns_2"), "{md}");
}

#[test]
fn panic_and_truncation_exit_non_zero() {
    let panic = format!(
        "{}[    3.1] Kernel panic - not syncing: Attempted to kill init!\n",
        log(None)
    );
    let full = log(None);
    // Cut at a line boundary: the run simply stopped (a cut inside a line
    // is also a failure, as a malformed line).
    let half = full[..full.len() / 2].rfind('\n').unwrap_or(0);
    let truncated = full[..=half].to_string();
    let (code, md) = run_matrix(
        "panic",
        &[("6.1", panic), ("6.12", truncated), ("host", log(None))],
    );
    assert_eq!(code, 1, "{md}");
    assert!(md.contains("FAILED: kernel panic"), "{md}");
    assert!(md.contains("FAILED: output truncated"), "{md}");
    assert!(!md.contains("GREEN"));
}

#[test]
fn a_missing_log_file_is_a_failure() {
    let (code, md) = run_matrix("missing", &[("host", log(None))]);
    assert_eq!(code, 0, "{md}");
    let st = Command::new(env!("CARGO_BIN_EXE_kernel-matrix"))
        .args(["--logs", "6.1=/nonexistent/console.log", "--out"])
        .arg(dir().join("nofile.md"))
        .status()
        .unwrap();
    assert_eq!(st.code(), Some(1));
}
