//! Ctrl-C for `redirect-lab compare`: SIGINT and SIGTERM set a flag
//! instead of ending the process, so the run stops at its next step and
//! every lab is removed by its guard on the way out (the labs are named
//! network namespaces, bind mounts under /run/netns, which outlive a killed
//! process; the tracer's programs and links are only fds and would not).
//!
//! `sigaction(2)` with `SA_RESETHAND`: a second Ctrl-C gets the default
//! action and ends the process at once. `SA_RESTART` keeps the bounded
//! socket waits of the measurements from failing with EINTR. The
//! `sigaction` call itself is in the lab's syscall module, `lab/sys.rs`.

use std::sync::atomic::{AtomicBool, Ordering};

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_signo: libc::c_int) {
    // Only an atomic store: async-signal-safe.
    STOP.store(true, Ordering::SeqCst);
}

/// Whether SIGINT or SIGTERM arrived since [`catch`].
pub fn interrupted() -> bool {
    STOP.load(Ordering::SeqCst)
}

/// Installs the handler for SIGINT and SIGTERM.
pub fn catch() -> std::io::Result<()> {
    crate::lab::sys::on_signals(&[libc::SIGINT, libc::SIGTERM], on_signal)
}
