//! The machine-readable result lines the behaviour suite prints, and the
//! parser that turns a run's output (a VM's serial console or the host run's
//! stdout) back into verdicts.
//!
//! The protocol is line based so that kernel messages interleaved on the
//! serial console cannot corrupt it:
//!
//! ```text
//! LABTEST <behaviour-id> pass [note]
//! LABTEST <behaviour-id> fail <reason>
//! LABTEST <behaviour-id> na <reason>
//! LABTEST-END <number of LABTEST lines before it>
//! ```
//!
//! A run whose output holds "Kernel panic", has no `LABTEST-END`, or whose
//! count does not match, failed as a whole: no verdict from it counts as a pass.

use std::collections::BTreeMap;
use std::fmt;

pub const RESULT_PREFIX: &str = "LABTEST ";
pub const END_PREFIX: &str = "LABTEST-END ";

/// What one behaviour did on one kernel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The kernel behaved as expected; the note records what it did where
    /// kernels legitimately differ (e.g. "refused with EINVAL").
    Pass(Option<String>),
    /// The kernel, or our code, did not behave as expected.
    Fail(String),
    /// The feature does not exist on this kernel, detected by probing.
    NotApplicable(String),
}

impl Verdict {
    pub fn pass() -> Verdict {
        Verdict::Pass(None)
    }
    pub fn pass_with(note: impl Into<String>) -> Verdict {
        Verdict::Pass(Some(note.into()))
    }
    pub fn is_fail(&self) -> bool {
        matches!(self, Verdict::Fail(_))
    }
}

impl fmt::Display for Verdict {
    /// The matrix cell text: "pass", "fail (why)", "n/a (why)".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Pass(None) => f.write_str("pass"),
            Verdict::Pass(Some(n)) => write!(f, "pass ({n})"),
            Verdict::Fail(r) => write!(f, "fail ({r})"),
            Verdict::NotApplicable(r) => write!(f, "n/a ({r})"),
        }
    }
}

/// Makes free text fit on one protocol line.
fn one_line(s: &str) -> String {
    let s: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.chars().count() > 300 {
        let cut: String = s.chars().take(297).collect();
        format!("{cut}...")
    } else {
        s
    }
}

/// The `LABTEST` line for one verdict.
pub fn result_line(id: &str, v: &Verdict) -> String {
    match v {
        Verdict::Pass(None) => format!("{RESULT_PREFIX}{id} pass"),
        Verdict::Pass(Some(n)) => format!("{RESULT_PREFIX}{id} pass {}", one_line(n)),
        Verdict::Fail(r) => format!("{RESULT_PREFIX}{id} fail {}", one_line(r)),
        Verdict::NotApplicable(r) => format!("{RESULT_PREFIX}{id} na {}", one_line(r)),
    }
}

pub fn end_line(count: usize) -> String {
    format!("{END_PREFIX}{count}")
}

/// How a whole run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunStatus {
    Complete,
    /// The run failed as a whole; every behaviour counts as failed.
    Failed(String),
}

/// A parsed run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunResult {
    pub status: RunStatus,
    pub verdicts: BTreeMap<String, Verdict>,
}

impl RunResult {
    /// A run that never produced output (e.g. the kernel could not be fetched).
    pub fn failed(reason: impl Into<String>) -> RunResult {
        RunResult {
            status: RunStatus::Failed(reason.into()),
            verdicts: BTreeMap::new(),
        }
    }

    /// The verdict for one behaviour, as the matrix shows it: a failed run
    /// turns every cell into a failure, and a missing line is a failure.
    pub fn cell(&self, id: &str) -> Verdict {
        if let RunStatus::Failed(why) = &self.status {
            return Verdict::Fail(why.clone());
        }
        self.verdicts
            .get(id)
            .cloned()
            .unwrap_or_else(|| Verdict::Fail("no result reported".into()))
    }
}

/// The prefix of lab-init's module lines (`LABINIT module veth.ko loaded`,
/// `LABINIT module veth.ko FAILED to load: Exec format error`).
pub const MODULE_FAILED_PREFIX: &str = "LABINIT module ";

/// Parses a run's output. `timed_out` says the runner had to kill it.
pub fn parse_run(output: &str, timed_out: bool) -> RunResult {
    let mut verdicts = BTreeMap::new();
    let mut count = 0usize;
    let mut end: Option<Option<usize>> = None;
    let mut duplicate = None;
    let mut malformed = None;
    let mut module_failed = None;
    for raw in output.lines() {
        // The serial console may glue a kernel message before our text.
        let line = raw.trim_end_matches('\r');
        // lab-init's line for a module finit_module(2) refused; the suite
        // does not run then, so this is the column's one-line reason.
        if let Some(pos) = line.find(MODULE_FAILED_PREFIX) {
            let rest = &line[pos + MODULE_FAILED_PREFIX.len()..];
            if let Some((name, why)) = rest.split_once(" FAILED to load: ") {
                module_failed.get_or_insert_with(|| {
                    format!(
                        "module {} failed to load: {}",
                        name.trim(),
                        one_line(why.trim())
                    )
                });
            }
            continue;
        }
        if let Some(pos) = line.find(END_PREFIX) {
            end = Some(line[pos + END_PREFIX.len()..].trim().parse().ok());
            continue;
        }
        let Some(pos) = line.find(RESULT_PREFIX) else {
            continue;
        };
        let rest = &line[pos + RESULT_PREFIX.len()..];
        let mut parts = rest.splitn(3, ' ');
        let id = parts.next().unwrap_or_default();
        let kind = parts.next().unwrap_or_default();
        let text = parts.next().unwrap_or_default().trim().to_string();
        let verdict = match kind {
            "pass" if text.is_empty() => Verdict::Pass(None),
            "pass" => Verdict::Pass(Some(text)),
            "fail" => Verdict::Fail(if text.is_empty() {
                "no reason given".into()
            } else {
                text
            }),
            "na" => Verdict::NotApplicable(text),
            _ => {
                malformed.get_or_insert_with(|| line.to_string());
                continue;
            }
        };
        if id.is_empty() {
            malformed.get_or_insert_with(|| line.to_string());
            continue;
        }
        count += 1;
        if verdicts.insert(id.to_string(), verdict).is_some() {
            duplicate.get_or_insert_with(|| id.to_string());
        }
    }
    let status = if output.contains("Kernel panic") {
        RunStatus::Failed("kernel panic".into())
    } else if let Some(m) = module_failed {
        RunStatus::Failed(m)
    } else if timed_out {
        RunStatus::Failed("timed out".into())
    } else if let Some(m) = malformed {
        RunStatus::Failed(format!("malformed result line: {}", one_line(&m)))
    } else if let Some(d) = duplicate {
        RunStatus::Failed(format!("behaviour {d} reported twice"))
    } else {
        match end {
            None => RunStatus::Failed("output truncated (no LABTEST-END)".into()),
            Some(None) => RunStatus::Failed("malformed LABTEST-END".into()),
            Some(Some(n)) if n != count => {
                RunStatus::Failed(format!("LABTEST-END says {n} results, saw {count}"))
            }
            Some(Some(_)) => RunStatus::Complete,
        }
    };
    RunResult { status, verdicts }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_module_that_fails_to_load_fails_the_run_with_its_reason() {
        let out = "LABINIT module veth.ko loaded\n\
                   LABINIT module cls_bpf.ko FAILED to load: Exec format error (os error 8)\n\
                   LABINIT suite skipped\n";
        let run = parse_run(out, false);
        assert_eq!(
            run.status,
            RunStatus::Failed(
                "module cls_bpf.ko failed to load: Exec format error (os error 8)".into()
            )
        );
        let ok = format!("LABINIT module veth.ko loaded\n{}", end_line(0));
        assert_eq!(parse_run(&ok, false).status, RunStatus::Complete);
    }

    #[test]
    fn lines_round_trip() {
        let vs = [
            ("a", Verdict::pass()),
            ("b", Verdict::pass_with("refused:\n EINVAL")),
            ("c", Verdict::Fail("expected 7, got 2".into())),
            ("d", Verdict::NotApplicable("no TCX (needs 6.6)".into())),
        ];
        let mut out = String::from("[    1.2] random kernel noise\n");
        for (id, v) in &vs {
            out.push_str(&result_line(id, v));
            out.push('\n');
        }
        out.push_str(&end_line(vs.len()));
        let r = parse_run(&out, false);
        assert_eq!(r.status, RunStatus::Complete);
        assert_eq!(r.cell("a"), Verdict::pass());
        assert_eq!(r.cell("b"), Verdict::pass_with("refused: EINVAL"));
        assert!(r.cell("c").is_fail());
        assert_eq!(
            r.cell("d"),
            Verdict::NotApplicable("no TCX (needs 6.6)".into())
        );
        assert!(r.cell("zzz").is_fail(), "a missing behaviour is a failure");
    }

    #[test]
    fn panic_log_is_failed_even_with_passes() {
        let out = format!(
            "{}\n[  2.0] Kernel panic - not syncing: Attempted to kill init!\n{}\n",
            result_line("a", &Verdict::pass()),
            end_line(1)
        );
        let r = parse_run(&out, false);
        assert_eq!(r.status, RunStatus::Failed("kernel panic".into()));
        assert!(r.cell("a").is_fail());
    }

    #[test]
    fn truncated_log_is_failed() {
        let out = format!("{}\n", result_line("a", &Verdict::pass()));
        let r = parse_run(&out, false);
        assert!(matches!(r.status, RunStatus::Failed(ref s) if s.contains("truncated")));
        assert!(r.cell("a").is_fail());
    }

    #[test]
    fn timeout_and_wrong_count_are_failed() {
        let ok = format!("{}\n{}\n", result_line("a", &Verdict::pass()), end_line(1));
        assert!(matches!(parse_run(&ok, true).status, RunStatus::Failed(_)));
        let wrong = format!("{}\n{}\n", result_line("a", &Verdict::pass()), end_line(2));
        assert!(matches!(
            parse_run(&wrong, false).status,
            RunStatus::Failed(_)
        ));
    }

    #[test]
    fn parser_never_panics() {
        for _ in 0..5000 {
            let len = fastrand::usize(0..300);
            let mut s: String = (0..len).map(|_| fastrand::char(..)).collect();
            if fastrand::bool() {
                s = format!("LABTEST x pass\nLABTEST-END {s}\nLABTEST {s}");
            }
            let _ = parse_run(&s, fastrand::bool());
        }
    }
}
