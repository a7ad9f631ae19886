//! The kernel matrix: one row per behaviour, one column per kernel, written
//! as a Markdown table (`target/kernel-matrix.md`) and as JSON
//! (`target/kernel-matrix.json`, for CI and other tools), and judged red if
//! any cell failed.

use crate::report::{RunResult, RunStatus, Verdict};

/// A row of the matrix, as the behaviour registry describes it.
#[derive(Clone, Debug)]
pub struct Row {
    pub id: String,
    pub title: String,
    pub min_kernel: String,
}

/// A column: a kernel and what its run reported.
#[derive(Clone, Debug)]
pub struct Column {
    /// "6.1", "6.12", "host".
    pub label: String,
    /// The release it really was (`uname -r`), when known.
    pub release: Option<String>,
    pub run: RunResult,
}

pub struct Matrix {
    pub rows: Vec<Row>,
    pub columns: Vec<Column>,
}

fn cell_text(v: &Verdict) -> String {
    // A '|' would break the Markdown table.
    v.to_string().replace('|', "/")
}

impl Matrix {
    /// True when any cell is a failure (including whole-run failures).
    pub fn is_red(&self) -> bool {
        self.failures() > 0
    }

    pub fn failures(&self) -> usize {
        let cells = self
            .rows
            .iter()
            .flat_map(|r| self.columns.iter().map(move |c| c.run.cell(&r.id)))
            .filter(Verdict::is_fail)
            .count();
        // A failed run with no rows at all must still count.
        let runs = self
            .columns
            .iter()
            .filter(|c| matches!(c.run.status, RunStatus::Failed(_)))
            .count();
        if self.rows.is_empty() {
            runs
        } else {
            cells
        }
    }

    /// Behaviours a kernel reported that the registry does not know: a sign
    /// that the suite binary and the runner disagree, shown rather than lost.
    fn unknown_ids(&self) -> Vec<String> {
        let mut out = Vec::new();
        for c in &self.columns {
            for id in c.run.verdicts.keys() {
                if !self.rows.iter().any(|r| &r.id == id) {
                    out.push(format!("{} ({})", id, c.label));
                }
            }
        }
        out
    }

    pub fn to_markdown(&self) -> String {
        let mut s = String::new();
        s.push_str("| behaviour | min kernel |");
        for c in &self.columns {
            s.push_str(&format!(" {} |", c.label));
        }
        s.push_str("\n|---|---|");
        for _ in &self.columns {
            s.push_str("---|");
        }
        s.push('\n');
        for r in &self.rows {
            s.push_str(&format!("| `{}` {} | {} |", r.id, r.title, r.min_kernel));
            for c in &self.columns {
                s.push_str(&format!(" {} |", cell_text(&c.run.cell(&r.id))));
            }
            s.push('\n');
        }
        s.push('\n');
        for c in &self.columns {
            let status = match &c.run.status {
                RunStatus::Complete => "complete".to_string(),
                RunStatus::Failed(why) => format!("FAILED: {why}"),
            };
            let release = c.release.as_deref().unwrap_or("unknown release");
            s.push_str(&format!("- {}: {release}, run {status}\n", c.label));
        }
        let unknown = self.unknown_ids();
        if !unknown.is_empty() {
            s.push_str(&format!(
                "- results for unknown behaviours: {}\n",
                unknown.join(", ")
            ));
        }
        s.push_str(&format!(
            "\n{}: {} failing cell(s)\n",
            if self.is_red() { "RED" } else { "GREEN" },
            self.failures()
        ));
        s
    }
}

/// A JSON string literal (RFC 8259 section 7: quote, backslash and control
/// characters escaped).
pub fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl Matrix {
    /// The matrix as JSON: `{"green": bool, "kernels": [{"label", "release",
    /// "run", "run_error"}], "cells": [{"kernel", "release", "behaviour",
    /// "verdict", "note"}]}`, one cell per behaviour and kernel. `verdict`
    /// is "pass", "fail" or "n/a"; `note` is the reason or the kernel's
    /// recorded difference, or null.
    pub fn to_json(&self) -> String {
        let opt = |s: Option<&str>| s.map(json_string).unwrap_or_else(|| "null".into());
        let kernels: Vec<String> = self
            .columns
            .iter()
            .map(|c| {
                let (run, why) = match &c.run.status {
                    RunStatus::Complete => ("complete", None),
                    RunStatus::Failed(w) => ("failed", Some(w.as_str())),
                };
                format!(
                    "{{\"label\":{},\"release\":{},\"run\":\"{run}\",\"run_error\":{}}}",
                    json_string(&c.label),
                    opt(c.release.as_deref()),
                    opt(why)
                )
            })
            .collect();
        let mut cells = Vec::new();
        for c in &self.columns {
            for r in &self.rows {
                let (verdict, note) = match c.run.cell(&r.id) {
                    Verdict::Pass(n) => ("pass", n),
                    Verdict::Fail(n) => ("fail", Some(n)),
                    Verdict::NotApplicable(n) => ("n/a", Some(n)),
                };
                cells.push(format!(
                    "{{\"kernel\":{},\"release\":{},\"behaviour\":{},\"verdict\":\"{verdict}\",\"note\":{}}}",
                    json_string(&c.label),
                    opt(c.release.as_deref()),
                    json_string(&r.id),
                    opt(note.as_deref())
                ));
            }
        }
        format!(
            "{{\"green\":{},\"kernels\":[{}],\"cells\":[\n{}\n]}}\n",
            !self.is_red(),
            kernels.join(","),
            cells.join(",\n")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{end_line, parse_run, result_line};

    fn rows() -> Vec<Row> {
        ["redirect", "tcx"]
            .iter()
            .map(|id| Row {
                id: id.to_string(),
                title: format!("{id} title"),
                min_kernel: "4.4".into(),
            })
            .collect()
    }

    fn run(lines: &[(&str, Verdict)]) -> RunResult {
        let mut out = String::new();
        for (id, v) in lines {
            out.push_str(&result_line(id, v));
            out.push('\n');
        }
        out.push_str(&end_line(lines.len()));
        parse_run(&out, false)
    }

    fn col(label: &str, run: RunResult) -> Column {
        Column {
            label: label.into(),
            release: None,
            run,
        }
    }

    #[test]
    fn green_when_every_cell_passes_or_is_na() {
        let m = Matrix {
            rows: rows(),
            columns: vec![
                col(
                    "6.1",
                    run(&[
                        ("redirect", Verdict::pass()),
                        ("tcx", Verdict::NotApplicable("no TCX".into())),
                    ]),
                ),
                col(
                    "host",
                    run(&[("redirect", Verdict::pass()), ("tcx", Verdict::pass())]),
                ),
            ],
        };
        assert!(!m.is_red());
        let md = m.to_markdown();
        assert!(
            md.contains("| `tcx` tcx title | 4.4 | n/a (no TCX) | pass |"),
            "{md}"
        );
        assert!(md.contains("GREEN"));
    }

    /// A fake kernel whose result breaks an expectation turns the matrix red.
    #[test]
    fn a_broken_expectation_turns_the_matrix_red() {
        let m = Matrix {
            rows: rows(),
            columns: vec![
                col(
                    "6.1",
                    run(&[
                        ("redirect", Verdict::pass()),
                        ("tcx", Verdict::NotApplicable("no TCX".into())),
                    ]),
                ),
                col(
                    "6.12",
                    run(&[
                        (
                            "redirect",
                            Verdict::Fail("packet reached netns_2 with flags=BPF_F_INGRESS".into()),
                        ),
                        ("tcx", Verdict::pass()),
                    ]),
                ),
            ],
        };
        assert!(m.is_red());
        assert_eq!(m.failures(), 1);
        let md = m.to_markdown();
        assert!(md.contains("fail (packet reached netns_2"), "{md}");
        assert!(md.contains("RED: 1 failing cell(s)"));
    }

    #[test]
    fn panicked_and_truncated_kernels_fail_every_row() {
        let panic_log = format!(
            "{}\nKernel panic - not syncing: VFS: Unable to mount root fs\n",
            result_line("redirect", &Verdict::pass())
        );
        let truncated = result_line("redirect", &Verdict::pass());
        let m = Matrix {
            rows: rows(),
            columns: vec![
                col("6.1", parse_run(&panic_log, false)),
                col("6.12", parse_run(&truncated, false)),
            ],
        };
        assert_eq!(m.failures(), 4);
        let md = m.to_markdown();
        assert!(md.contains("fail (kernel panic)"), "{md}");
        assert!(md.contains("fail (output truncated"), "{md}");
    }

    #[test]
    fn a_missing_row_is_a_failure_and_pipes_are_escaped() {
        let m = Matrix {
            rows: rows(),
            columns: vec![col(
                "host",
                run(&[("redirect", Verdict::Fail("a|b".into()))]),
            )],
        };
        let md = m.to_markdown();
        assert!(md.contains("fail (a/b)"));
        assert!(md.contains("fail (no result reported)"));
        assert_eq!(m.failures(), 2);
    }
    #[test]
    fn json_has_one_cell_per_behaviour_and_kernel() {
        let m = Matrix {
            rows: rows(),
            columns: vec![
                Column {
                    label: "5.10".into(),
                    release: Some("5.10.0-46-cloud-amd64".into()),
                    run: run(&[
                        ("redirect", Verdict::pass_with("said \"ok\"\\n")),
                        ("tcx", Verdict::NotApplicable("no TCX".into())),
                    ]),
                },
                col("7.2", RunResult::failed("kernel not available: 404")),
            ],
        };
        let j = m.to_json();
        assert!(j.starts_with("{\"green\":false,"), "{j}");
        assert_eq!(j.matches("\"behaviour\":").count(), 4, "{j}");
        assert!(j.contains(r#"{"kernel":"5.10","release":"5.10.0-46-cloud-amd64","behaviour":"redirect","verdict":"pass","note":"said \"ok\"\\n"}"#), "{j}");
        assert!(
            j.contains(r#""behaviour":"tcx","verdict":"n/a","note":"no TCX""#),
            "{j}"
        );
        assert!(j.contains(r#"{"label":"7.2","release":null,"run":"failed","run_error":"kernel not available: 404"}"#), "{j}");
        assert_eq!(json_string("a\u{1}b"), "\"a\\u0001b\"");
    }
}
