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
            let mut note = format!("\"{note}\"");
            if let Some(why) = explanation(&v.log) {
                note.push_str(&format!(", then \"{why}\""));
            }
            Ok(Verdict::pass_with(note))
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

/// The line the verifier prints after "invalid access to packet" to say why
/// (its wording changed: "R6 offset is outside of the packet" on 5.10 to
/// 6.18, "R6 min value is outside of the allowed memory range" on 7.2).
pub fn explanation(log: &str) -> Option<String> {
    let mut lines = log.lines().map(str::trim);
    lines.find(|l| l.contains("invalid access to packet"))?;
    lines
        .next()
        .filter(|l| {
            !l.is_empty()
                && !l.starts_with("processed")
                && !l.chars().next().is_some_and(|c| c.is_ascii_digit())
        })
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_explanation_is_the_line_after_the_refusal() {
        let log = "0: R1=ctx() R10=fp0\n12: (71) r3 = *(u8 *)(r2 +23)\n\
                   invalid access to packet, off=23 size=1, R2(id=0,off=23,r=0)\n\
                   R2 offset is outside of the packet\nprocessed 13 insns\n";
        assert_eq!(
            super::explanation(log).as_deref(),
            Some("R2 offset is outside of the packet")
        );
        let bare = "invalid access to packet, off=23 size=1\nprocessed 13 insns";
        assert_eq!(super::explanation(bare), None);
        assert_eq!(super::explanation("12: (71) r3 = *(u8 *)(r2 +23)"), None);
    }

    #[test]
    fn removes_exactly_the_bounds_check() {
        let s = super::without_bounds_check().unwrap();
        assert!(!s.contains("goto pass\t\t# too short"));
        assert!(s.contains("r2 += 34"));
    }
}
