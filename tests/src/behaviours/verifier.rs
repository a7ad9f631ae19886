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
        Err(loader::Error::Verifier(v)) if v.log.contains("invalid access to packet") => {
            Ok(Verdict::pass_with(rejection_note(&v.log)))
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

/// The verifier's own words for the refusal, as the note records them: the
/// "invalid access to packet" line (its register-state format has changed
/// between kernels) and the explanation line after it when there is one.
pub fn rejection_note(log: &str) -> String {
    let lines: Vec<&str> = log.lines().map(str::trim).collect();
    let Some(i) = lines
        .iter()
        .position(|l| l.contains("invalid access to packet"))
    else {
        return String::new();
    };
    let mut note = format!("\"{}\"", lines[i]);
    if let Some(next) = lines.get(i + 1).filter(|l| {
        !l.is_empty()
            && !l.starts_with("processed")
            && !l.chars().next().is_some_and(|c| c.is_ascii_digit())
    }) {
        note.push_str(&format!(", then \"{next}\""));
    }
    note
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_note_quotes_the_refusal_and_its_explanation() {
        let log = "0: R1=ctx() R10=fp0\n12: (71) r3 = *(u8 *)(r2 +23)\n\
                   invalid access to packet, off=23 size=1, R2(id=0,off=23,r=0)\n\
                   R2 offset is outside of the packet\nprocessed 13 insns\n";
        assert_eq!(
            super::rejection_note(log),
            "\"invalid access to packet, off=23 size=1, R2(id=0,off=23,r=0)\", then \"R2 offset is outside of the packet\""
        );
        let bare =
            "invalid access to packet, off=23 size=1, R2(id=0,off=23,r=0)\nprocessed 13 insns";
        assert_eq!(
            super::rejection_note(bare),
            "\"invalid access to packet, off=23 size=1, R2(id=0,off=23,r=0)\""
        );
    }

    #[test]
    fn removes_exactly_the_bounds_check() {
        let s = super::without_bounds_check().unwrap();
        assert!(!s.contains("goto pass\t\t; too short"));
        assert!(s.contains("r2 += 34"));
    }
}
