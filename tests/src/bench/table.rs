//! The benchmark table: one row per figure, rendered as Markdown with the
//! machine and kernel it was measured on.
//!
//! A row is either a measured figure (median, min, max over interleaved runs,
//! with its ratio against a reference from the same run), a single value
//! that does not vary between runs (an instruction count, a jited size), or an
//! explanation of why the figure is missing (a tool not installed, a lab that
//! did not come up). No row is ever dropped silently.

use super::stats::{ratio, Better, Summary};
use std::fmt::Write as _;

/// What a row holds.
#[derive(Clone, Debug, PartialEq)]
pub enum Figure {
    /// A figure measured in several interleaved runs.
    Measured(Summary),
    /// A value that is the same in every run (counted, not timed).
    Exact(f64),
    /// Why there is no figure: the reason is printed in the row.
    Missing(String),
}

/// The reference a row is compared with, measured in the same run.
#[derive(Clone, Debug, PartialEq)]
pub struct Versus {
    /// The reference's name as printed, e.g. "(a) kernel forwarding".
    pub name: String,
    /// The reference's median (or exact value); `None` when the reference
    /// is a missing row, so that this row says "n/a vs" it instead of
    /// passing for a reference itself.
    pub value: Option<f64>,
    pub better: Better,
}

/// One line of the table.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// The benchmark's number and name, e.g. "1. forwarding".
    pub bench: String,
    /// What is measured and how, e.g. "UDP 64 B delivered, (b) bpf_redirect".
    pub case: String,
    pub unit: String,
    pub figure: Figure,
    pub versus: Option<Versus>,
    /// A stated goal, as "times better than the reference" (e.g. 20.0).
    pub target: Option<f64>,
    /// Neither compared nor a reference: a figure that stands alone.
    pub alone: bool,
}

impl Row {
    pub fn new(bench: &str, case: impl Into<String>, unit: &str, figure: Figure) -> Row {
        Row {
            bench: bench.to_string(),
            case: case.into(),
            unit: unit.to_string(),
            figure,
            versus: None,
            target: None,
            alone: false,
        }
    }

    pub fn missing(
        bench: &str,
        case: impl Into<String>,
        unit: &str,
        why: impl Into<String>,
    ) -> Row {
        Row::new(bench, case, unit, Figure::Missing(why.into()))
    }

    /// A row from raw samples; samples that give no summary become a
    /// missing row that says so.
    pub fn from_samples(bench: &str, case: impl Into<String>, unit: &str, samples: &[f64]) -> Row {
        let figure = match super::stats::summarize(samples) {
            Some(s) => Figure::Measured(s),
            None => Figure::Missing(format!("no valid sample in {} runs", samples.len())),
        };
        Row::new(bench, case, unit, figure)
    }

    pub fn versus(mut self, name: &str, reference: &Row, better: Better) -> Row {
        self.versus = Some(Versus {
            name: name.to_string(),
            value: reference.value(),
            better,
        });
        self
    }

    /// Marks a row that has no ratio and is no one's reference.
    pub fn alone(mut self) -> Row {
        self.alone = true;
        self
    }

    pub fn target(mut self, times_better: f64) -> Row {
        self.target = Some(times_better);
        self
    }

    /// The row's central value: the median, or the exact value.
    pub fn value(&self) -> Option<f64> {
        match &self.figure {
            Figure::Measured(s) => Some(s.median),
            Figure::Exact(v) => Some(*v),
            Figure::Missing(_) => None,
        }
    }

    /// How many times better than its reference this row is, if both exist.
    pub fn ratio(&self) -> Option<f64> {
        let v = self.versus.as_ref()?;
        ratio(self.value()?, v.value?, v.better)
    }

    /// True when the row carries numbers (a figure, and a ratio if it has
    /// a reference whose ratio is defined).
    pub fn is_filled(&self) -> bool {
        self.value().is_some_and(f64::is_finite)
    }
}

/// Where and when the table was measured.
#[derive(Clone, Debug, Default)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub kernel: String,
    pub memory_gib: f64,
    pub date_utc: String,
    pub commit: String,
}

impl Machine {
    /// Reads the CPU model and core count from /proc/cpuinfo, the kernel from
    /// /proc/sys/kernel/osrelease, memory from /proc/meminfo.
    pub fn detect() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name").and_then(|r| r.split_once(':')))
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_else(|| "unknown CPU".to_string());
        let cores = cpuinfo
            .lines()
            .filter(|l| l.starts_with("processor"))
            .count();
        let cores = if cores > 0 {
            cores
        } else {
            std::thread::available_parallelism().map_or(0, |n| n.get())
        };
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "unknown kernel".to_string());
        let memory_gib = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| {
                m.lines()
                    .find_map(|l| l.strip_prefix("MemTotal:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            })
            .map_or(0.0, |kib| kib / 1024.0 / 1024.0);
        let commit = std::process::Command::new("git")
            .args(["rev-parse", "--short", "HEAD"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_else(|| "unknown".to_string());
        Machine {
            cpu,
            cores,
            kernel,
            memory_gib,
            date_utc: utc_now(),
            commit,
        }
    }
}

/// The current time as `YYYY-MM-DD HH:MM UTC`, from the system clock.
fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
/// well-known algorithm, in eras of 400 years).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Prints a number with about four significant digits, and thousands
/// separated by a thin space for large values, so columns stay readable.
pub fn fmt_num(v: f64) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    let a = v.abs();
    if a >= 10_000.0 {
        let s = format!("{:.0}", v.abs());
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            if i > 0 && (s.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        if v < 0.0 {
            out.insert(0, '-');
        }
        out
    } else if a >= 100.0 || a == 0.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else if a >= 0.01 {
        format!("{v:.3}")
    } else {
        format!("{v:.2e}")
    }
}

fn fmt_ratio(r: f64) -> String {
    if r >= 100.0 {
        format!("{r:.0}x")
    } else if r >= 10.0 {
        format!("{r:.1}x")
    } else if r >= 0.01 || r <= 0.0 {
        format!("{r:.2}x")
    } else {
        // Hundreds of times worse than the reference: "0.00x" would hide
        // how many; say it as a fraction.
        format!("1/{:.0}x", 1.0 / r)
    }
}

/// Markdown-safe cell text: no pipes, no newlines.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// The whole report: a header naming the machine, then the table.
pub fn render(machine: &Machine, rows: &[Row], elapsed_s: f64) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# `make bench`\n");
    let _ = writeln!(
        out,
        "Machine: {} ({} cores), {:.0} GiB RAM, Linux {}. Commit {}, {}; the whole run took {:.0} s.\n",
        machine.cpu,
        machine.cores,
        machine.memory_gib,
        machine.kernel,
        machine.commit,
        machine.date_utc,
        elapsed_s
    );
    let _ = writeln!(
        out,
        "Each figure is the median of interleaved runs (A B A B ...), with the min and max run. \
         \"Ratio\" is how many times better than the named reference, measured in the same run \
         (above 1: better; below 1: worse).\n"
    );
    let _ = writeln!(
        out,
        "| Benchmark | Case | Median | Min | Max | Unit | Ratio vs reference | Target |"
    );
    let _ = writeln!(out, "|---|---|--:|--:|--:|---|---|---|");
    for r in rows {
        let (median, min, max) = match &r.figure {
            Figure::Measured(s) => (fmt_num(s.median), fmt_num(s.min), fmt_num(s.max)),
            Figure::Exact(v) => (fmt_num(*v), "=".to_string(), "=".to_string()),
            Figure::Missing(why) => (
                format!("**missing**: {}", cell(why)),
                "-".into(),
                "-".into(),
            ),
        };
        let vs = match (&r.versus, r.ratio()) {
            (Some(v), Some(x)) => format!("{} vs {}", fmt_ratio(x), cell(&v.name)),
            (Some(v), None) => format!("n/a vs {} (zero or missing)", cell(&v.name)),
            (None, _) if r.alone => "-".to_string(),
            (None, _) => "reference".to_string(),
        };
        let target = match (r.target, r.ratio()) {
            (Some(t), Some(x)) if x >= t => format!(">= {t}x: met"),
            (Some(t), Some(_)) => format!(">= {t}x: **not met**"),
            (Some(t), None) => format!(">= {t}x: unknown"),
            (None, _) => String::new(),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            cell(&r.bench),
            cell(&r.case),
            median,
            min,
            max,
            cell(&r.unit),
            vs,
            target
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measured(bench: &str, case: &str, samples: &[f64]) -> Row {
        Row::from_samples(bench, case, "ms", samples)
    }

    #[test]
    fn ratios_follow_the_reference_and_direction() {
        let seed = measured("3. bring-up", "seed", &[400.0, 420.0, 380.0]);
        let ours = measured("3. bring-up", "ours", &[20.0, 19.0, 21.0])
            .versus("seed", &seed, Better::Lower)
            .target(20.0);
        assert_eq!(ours.ratio(), Some(20.0));
        let text = render(&Machine::default(), &[seed, ours], 1.0);
        assert!(
            text.contains(
                "| 3. bring-up | ours | 20 | 19 | 21 | ms | 20.0x vs seed | >= 20x: met |"
            ),
            "{text}"
        );
        assert!(
            text.contains("| 3. bring-up | seed | 400 | 380 | 420 | ms | reference |  |"),
            "{text}"
        );
    }

    #[test]
    fn missing_rows_are_printed_with_their_reason() {
        let r = Row::missing(
            "4. assembler",
            "llvm-mc-19",
            "s",
            "llvm-mc-19 not installed (apt install llvm-19)",
        );
        assert!(!r.is_filled());
        let text = render(&Machine::default(), &[r], 0.0);
        assert!(
            text.contains("**missing**: llvm-mc-19 not installed"),
            "{text}"
        );
        let unmeasurable = Row::from_samples("x", "y", "s", &[f64::NAN]);
        assert_eq!(
            unmeasurable.figure,
            Figure::Missing("no valid sample in 1 runs".into())
        );
    }

    #[test]
    fn target_not_met_is_said_plainly() {
        let slow = Row::new("4", "ref", "s", Figure::Exact(10.0));
        let r = Row::new("4", "ours", "s", Figure::Exact(4.0))
            .versus("ref", &slow, Better::Lower)
            .target(5.0);
        assert!(
            render(&Machine::default(), &[r], 0.0).contains("2.50x vs ref | >= 5x: **not met**")
        );
    }

    #[test]
    fn tiny_ratios_are_fractions() {
        assert_eq!(fmt_ratio(0.5), "0.50x");
        assert_eq!(fmt_ratio(0.0032), "1/312x");
    }

    #[test]
    fn zero_reference_gives_no_ratio() {
        let zero = Row::new("1", "loss (a)", "%", Figure::Exact(0.0));
        let r =
            Row::new("1", "loss (b)", "%", Figure::Exact(0.0)).versus("(a)", &zero, Better::Lower);
        assert_eq!(r.ratio(), None);
        assert!(render(&Machine::default(), &[r], 0.0).contains("n/a vs (a)"));
    }

    /// A reference that failed to measure leaves the rows against it without
    /// a ratio; they must not be printed as references themselves.
    #[test]
    fn rows_against_a_missing_reference_say_n_a() {
        let gone = Row::missing("6", "udp (a)", "pkt/s", "no reply through the lab");
        let r = measured("6", "udp (b)", &[5.0, 6.0]).versus("(a)", &gone, Better::Higher);
        assert_eq!(r.ratio(), None);
        let text = render(&Machine::default(), &[gone, r], 0.0);
        assert!(
            text.contains("| 6 | udp (b) | 5.50 | 5 | 6 | ms | n/a vs (a) (zero or missing) |"),
            "{text}"
        );
        assert_eq!(text.matches("| reference |").count(), 1, "{text}");
    }

    #[test]
    fn numbers_are_readable() {
        assert_eq!(fmt_num(1_234_567.0), "1,234,567");
        assert_eq!(fmt_num(123.4), "123");
        assert_eq!(fmt_num(12.34), "12.3");
        assert_eq!(fmt_num(1.234), "1.23");
        assert_eq!(fmt_num(0.1234), "0.123");
        assert_eq!(fmt_num(0.0), "0");
        assert_eq!(fmt_num(17.0), "17");
    }

    #[test]
    fn dates_from_days() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(20_418), (2025, 11, 26));
    }

    #[test]
    fn cells_cannot_break_the_table() {
        let r = Row::missing("1", "a|b", "x", "line one\nline two");
        let text = render(&Machine::default(), &[r], 0.0);
        assert!(text.contains("a\\|b"));
        assert!(text.contains("line one line two"));
    }
}
