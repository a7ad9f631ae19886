//! `--mode fib`'s flags, probed on each kernel rather than assumed from its
//! version: `bpf-src/fib.s` assembled with each `BPF_FIB_LOOKUP_*` flag in
//! turn and run on one test packet in a fib lab
//! ([`loader::lab::Lab::probe_fib_flags`]). `bpf_fib_lookup` refuses a flag
//! it does not know with `-EINVAL` before any lookup (net/core/filter.c);
//! anything else is a `BPF_FIB_LKUP_RET_*` code. The cell records which
//! flags this kernel knows (the lab's program uses none).

use loader::lab::mode::FIB_RET_CODES;

use super::mode_delivery::up;
use crate::report::Verdict;

/// DIRECT and OUTPUT (4.18) must be accepted everywhere; every answer must be
/// a `BPF_FIB_LKUP_RET_*` code or `-EINVAL`; the newer flags are recorded.
pub fn flags_probed() -> Result<Verdict, String> {
    let g = match up("mfibf", "fib", false)? {
        Ok(g) => g,
        Err(v) => return Ok(v),
    };
    let probes = g.lab.probe_fib_flags().map_err(|e| e.to_string())?;
    let short = |n: &str| n.trim_start_matches("BPF_FIB_LOOKUP_").to_string();
    let mut known = Vec::new();
    let mut refused = Vec::new();
    for p in &probes {
        if p.accepted() {
            if !FIB_RET_CODES.iter().any(|(c, _)| *c as i32 == p.code) {
                return Ok(Verdict::Fail(format!(
                    "{}: bpf_fib_lookup returned {}, neither a BPF_FIB_LKUP_RET_* code nor -EINVAL",
                    p.flag.name, p.code
                )));
            }
            known.push(short(p.flag.name));
        } else {
            if p.flag.since == "4.18" {
                return Ok(Verdict::Fail(format!(
                    "{} (Linux 4.18) refused with -EINVAL",
                    p.flag.name
                )));
            }
            refused.push(format!("{} ({}+)", short(p.flag.name), p.flag.since));
        }
    }
    Ok(Verdict::pass_with(format!(
        "accepted: {}; -EINVAL: {}",
        known.join(" "),
        if refused.is_empty() {
            "none".to_string()
        } else {
            refused.join(" ")
        }
    )))
}
