//! Runs the behaviours of [`crate::behaviours::REGISTRY`] one after another
//! and prints one `LABTEST` line each (see [`crate::report`]), then
//! `LABTEST-END`. A behaviour that panics or overruns its time budget is
//! reported as failed and the suite goes on, so one broken behaviour cannot
//! hide the others. The [`crate::behaviours::ON_REQUEST`] entries (make
//! bench's guest measurements) run only when named.

use std::io::Write;
use std::sync::mpsc;
use std::time::Duration;

use crate::behaviours::{Behaviour, ON_REQUEST, REGISTRY};
use crate::report::{end_line, result_line, Verdict};

/// How long one behaviour may take before it is reported as hung. TCG
/// emulation is slow, so this is generous; the VM timeout bounds the total.
pub const BEHAVIOUR_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs one behaviour on its own thread, turning panics, errors and
/// overruns into failures.
pub fn run_one(b: &'static Behaviour, timeout: Duration) -> Verdict {
    let (tx, rx) = mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name(format!("behaviour-{}", b.id))
        .spawn(move || {
            let r = std::panic::catch_unwind(b.run);
            let _ = tx.send(r);
        });
    if let Err(e) = spawned {
        return Verdict::Fail(format!("cannot start a thread: {e}"));
    }
    match rx.recv_timeout(timeout) {
        Ok(Ok(Ok(v))) => v,
        Ok(Ok(Err(e))) => Verdict::Fail(e),
        Ok(Err(p)) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            Verdict::Fail(format!("panicked: {msg}"))
        }
        Err(_) => Verdict::Fail(format!("no verdict within {}s", timeout.as_secs())),
    }
}

/// Runs the behaviours whose id is in `only` (every matrix behaviour when
/// empty; an [`ON_REQUEST`] entry only when named), printing the protocol on
/// stdout. Returns the number of failures.
pub fn run(only: &[String]) -> usize {
    run_within(only, BEHAVIOUR_TIMEOUT)
}

/// [`run`] with `timeout` per behaviour instead of [`BEHAVIOUR_TIMEOUT`]
/// (benchmark 7's own guest runs path-attach-all with no budget, for
/// minutes).
pub fn run_within(only: &[String], timeout: Duration) -> usize {
    let mut failures = 0;
    let mut count = 0;
    let stdout = std::io::stdout();
    let named = |b: &Behaviour| only.iter().any(|o| o == b.id);
    let chosen = REGISTRY
        .iter()
        .filter(|b| only.is_empty() || named(b))
        .chain(ON_REQUEST.iter().filter(|b| named(b)));
    for b in chosen {
        let v = run_one(b, timeout);
        failures += usize::from(v.is_fail());
        count += 1;
        let mut lock = stdout.lock();
        let _ = writeln!(lock, "{}", result_line(b.id, &v));
        let _ = lock.flush();
    }
    let mut lock = stdout.lock();
    let _ = writeln!(lock, "{}", end_line(count));
    let _ = lock.flush();
    failures
}

#[cfg(test)]
mod tests {
    use super::*;

    fn panics() -> Result<Verdict, String> {
        panic!("boom")
    }
    fn errs() -> Result<Verdict, String> {
        Err("netlink said no".into())
    }
    fn hangs() -> Result<Verdict, String> {
        std::thread::sleep(Duration::from_secs(5));
        Ok(Verdict::pass())
    }
    fn na() -> Result<Verdict, String> {
        Ok(Verdict::NotApplicable("probe said absent".into()))
    }

    static PANICS: Behaviour = Behaviour {
        id: "p",
        title: "",
        min_kernel: "1",
        run: panics,
    };
    static ERRS: Behaviour = Behaviour {
        id: "e",
        title: "",
        min_kernel: "1",
        run: errs,
    };
    static HANGS: Behaviour = Behaviour {
        id: "h",
        title: "",
        min_kernel: "1",
        run: hangs,
    };
    static NA: Behaviour = Behaviour {
        id: "n",
        title: "",
        min_kernel: "1",
        run: na,
    };

    #[test]
    fn panics_errors_and_overruns_are_failures() {
        // A panic's backtrace (RUST_BACKTRACE=1 in CI) takes a while to
        // symbolise on a loaded machine: give the fast cases a generous limit
        // and only the hanging one a short limit.
        let generous = Duration::from_secs(4);
        assert!(matches!(run_one(&PANICS, generous), Verdict::Fail(m) if m.contains("boom")));
        assert_eq!(
            run_one(&ERRS, generous),
            Verdict::Fail("netlink said no".into())
        );
        let t = Duration::from_millis(300);
        assert!(matches!(run_one(&HANGS, t), Verdict::Fail(m) if m.contains("no verdict")));
        assert_eq!(
            run_one(&NA, generous),
            Verdict::NotApplicable("probe said absent".into())
        );
    }
}
