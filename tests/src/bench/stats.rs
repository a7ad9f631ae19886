//! The arithmetic of the benchmark table: medians with their spread,
//! percentiles of latency samples, and ratios against a reference measured in
//! the same run.
//!
//! Everything here is pure (no clock, no kernel), so it is unit tested on
//! hand-made numbers. A run that produced a NaN or an infinity has no median:
//! it is reported as missing rather than printed as a number.

/// A metric's median over the interleaved runs, with the smallest and the
/// largest run beside it so that a reader sees how noisy the figure is.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    /// How many runs the figure stands on.
    pub runs: usize,
}

/// The median, minimum and maximum of `samples`, or `None` if there is no
/// sample or one of them is not a finite number. An even count takes the mean
/// of the two middle values.
pub fn summarize(samples: &[f64]) -> Option<Summary> {
    if samples.is_empty() || samples.iter().any(|s| !s.is_finite()) {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let median = if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    };
    Some(Summary {
        median,
        min: sorted[0],
        max: sorted[n - 1],
        runs: n,
    })
}

/// The `p`-th percentile (0 < p <= 100) by the nearest-rank method: the
/// smallest sample that at least `p` percent of the samples do not exceed.
/// For latency that is the honest choice: p99 of 100 samples is a sample that
/// was really observed, never an interpolation.
pub fn percentile(samples: &[f64], p: f64) -> Option<f64> {
    if samples.is_empty() || !(p > 0.0 && p <= 100.0) || samples.iter().any(|s| !s.is_finite()) {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Which way a metric improves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Better {
    /// Times, latencies, sizes, loss: less is better.
    Lower,
    /// Packets per second, throughput: more is better.
    Higher,
}

/// How many times better `value` is than `reference`: above 1 is better,
/// below 1 is worse, whatever the direction of the metric. So a bring-up of
/// 10 ms against a reference of 200 ms is 20x, and 150 kpps against 100 kpps
/// is 1.5x. `None` when the ratio means nothing (a zero or negative operand,
/// a non-finite number), for example a loss rate of 0 in both.
pub fn ratio(value: f64, reference: f64, better: Better) -> Option<f64> {
    if !(value.is_finite() && reference.is_finite()) || value <= 0.0 || reference <= 0.0 {
        return None;
    }
    Some(match better {
        Better::Lower => reference / value,
        Better::Higher => value / reference,
    })
}

/// Runs `cases` cases `reps` times each, interleaved (A B C A B C ...), so
/// that a slow drift of the machine (another process, a warming cache, the
/// CPU clock) spreads over every case instead of landing on one. `run(rep,
/// case)` measures once. A case that fails once is not run again: its error
/// is kept and reported in place of its figures, while the other cases go on.
pub fn interleave<T, E>(
    reps: usize,
    cases: usize,
    mut run: impl FnMut(usize, usize) -> Result<T, E>,
) -> Vec<Result<Vec<T>, E>> {
    let mut out: Vec<Result<Vec<T>, E>> = (0..cases).map(|_| Ok(Vec::new())).collect();
    for rep in 0..reps {
        for (case, slot) in out.iter_mut().enumerate() {
            if let Ok(samples) = slot {
                match run(rep, case) {
                    Ok(sample) => samples.push(sample),
                    Err(e) => *slot = Err(e),
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        let s = summarize(&[5.0, 1.0, 3.0]).unwrap();
        assert_eq!((s.median, s.min, s.max, s.runs), (3.0, 1.0, 5.0, 3));
        let s = summarize(&[4.0, 1.0, 3.0, 2.0]).unwrap();
        assert_eq!((s.median, s.min, s.max, s.runs), (2.5, 1.0, 4.0, 4));
        let s = summarize(&[7.0]).unwrap();
        assert_eq!((s.median, s.min, s.max), (7.0, 7.0, 7.0));
    }

    #[test]
    fn median_ignores_order_and_resists_an_outlier() {
        let s = summarize(&[10.0, 11.0, 1000.0, 9.0, 10.5]).unwrap();
        assert_eq!(s.median, 10.5);
        assert_eq!(s.max, 1000.0);
    }

    #[test]
    fn no_summary_without_finite_samples() {
        assert_eq!(summarize(&[]), None);
        assert_eq!(summarize(&[1.0, f64::NAN]), None);
        assert_eq!(summarize(&[f64::INFINITY]), None);
    }

    #[test]
    fn nearest_rank_percentiles() {
        let samples: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&samples, 50.0), Some(50.0));
        assert_eq!(percentile(&samples, 99.0), Some(99.0));
        assert_eq!(percentile(&samples, 100.0), Some(100.0));
        // Few samples: p99 is the largest one, never beyond it.
        assert_eq!(percentile(&[3.0, 1.0, 2.0], 99.0), Some(3.0));
        assert_eq!(percentile(&[3.0, 1.0, 2.0], 50.0), Some(2.0));
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(percentile(&[1.0], 0.0), None);
        assert_eq!(percentile(&[1.0], 101.0), None);
    }

    #[test]
    fn ratio_is_times_better_in_both_directions() {
        assert_eq!(ratio(10.0, 200.0, Better::Lower), Some(20.0));
        assert_eq!(ratio(200.0, 10.0, Better::Lower), Some(0.05));
        assert_eq!(ratio(150.0, 100.0, Better::Higher), Some(1.5));
        assert_eq!(ratio(50.0, 100.0, Better::Higher), Some(0.5));
        assert_eq!(ratio(3.0, 3.0, Better::Higher), Some(1.0));
    }

    #[test]
    fn ratio_refuses_meaningless_operands() {
        assert_eq!(ratio(0.0, 0.0, Better::Lower), None);
        assert_eq!(ratio(1.0, 0.0, Better::Higher), None);
        assert_eq!(ratio(-1.0, 2.0, Better::Higher), None);
        assert_eq!(ratio(f64::NAN, 2.0, Better::Lower), None);
    }

    #[test]
    fn interleave_alternates_cases_and_keeps_errors() {
        let mut order = Vec::new();
        let out = interleave(3, 3, |rep, case| {
            order.push((rep, case));
            if case == 1 && rep == 1 {
                Err(format!("case {case} broke"))
            } else {
                Ok(rep * 10 + case)
            }
        });
        assert_eq!(
            order,
            vec![
                (0, 0),
                (0, 1),
                (0, 2),
                (1, 0),
                (1, 1),
                (1, 2),
                (2, 0),
                (2, 2)
            ]
        );
        assert_eq!(out[0], Ok(vec![0, 10, 20]));
        assert_eq!(out[1], Err("case 1 broke".to_string()));
        assert_eq!(out[2], Ok(vec![2, 12, 22]));
    }
}
