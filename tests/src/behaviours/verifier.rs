//! Behaviour 7 of issue 6: the verifier refuses the lab's program once its
//! bounds check is removed.

use loader::lab::up::EMBEDDED_REDIRECT_S;

use crate::program::{self, Variant};
use crate::report::Verdict;

/// The line of `redirect.s` that proves `data + 34 <= data_end`.
const BOUNDS_CHECK: &str = "if r2 > r7 goto pass";

/// `redirect.s` without its bounds-check jump.
pub fn without_bounds_check() -> Result<String, String> {
    let lines: Vec<&str> = EMBEDDED_REDIRECT_S.lines().collect();
    let kept: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| !l.trim_start().starts_with(BOUNDS_CHECK))
        .collect();
    if kept.len() + 1 != lines.len() {
        return Err(format!(
            "bpf-src/redirect.s no longer has exactly one `{BOUNDS_CHECK}` line"
        ));
    }
    Ok(kept.join("\n"))
}

/// Behaviour 7: Without the bounds check: "invalid access to packet". The unmodified
/// program, as a control, loads.
pub fn needs_bounds_check() -> Result<Verdict, String> {
    program::load_variant(&Variant::to(1))
        .map_err(|e| format!("control: the lab's program itself: {e}"))?;
    let src = without_bounds_check()?;
    let p = program::assemble_variant(&src, &Variant::to(1))?;
    match program::load(&p) {
        Ok(_) => Ok(Verdict::Fail(
            "the verifier accepted packet reads without a bounds check".into(),
        )),
        // The note keeps the kernel's own words: the message, and how the
        // verifier prints the context register's state, which changes
        // between releases (`R1=ctx(id=0,off=0,imm=0)` on older kernels,
        // `R1=ctx()` on newer ones). The matrix shows each kernel's.
        Err(loader::Error::Verifier(v)) if v.log.contains("invalid access to packet") => {
            let line = |pat: &str| {
                v.log
                    .lines()
                    .find(|l| l.contains(pat))
                    .map(|l| l.trim().to_string())
            };
            let mut note = line("invalid access to packet").unwrap_or_default();
            if let Some(ctx) = v
                .log
                .split_whitespace()
                .find(|w| w.starts_with("R1=ctx") || w.starts_with("R1_w=ctx"))
            {
                note = format!("{note}; state {ctx}");
            }
            Ok(Verdict::pass_with(format!("\"{note}\"")))
        }
        Err(loader::Error::Verifier(v)) => Ok(Verdict::Fail(format!(
            "refused, but not for packet access: {}",
            v.message
        ))),
        Err(e) => Ok(Verdict::Fail(format!(
            "expected a verifier rejection, got {e}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn removes_exactly_the_bounds_check() {
        let s = super::without_bounds_check().unwrap();
        assert!(!s.contains("goto pass\t\t; too short"));
        assert!(s.contains("r2 += 34"));
    }
}
