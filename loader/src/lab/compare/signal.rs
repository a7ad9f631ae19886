//! Ctrl-C for `redirect-lab compare`: SIGINT and SIGTERM set a flag
//! instead of ending the process, so the run stops at its next step and
//! every lab is removed by its guard on the way out (the labs are named
//! network namespaces, bind mounts under /run/netns, which outlive a killed
//! process; the tracer's programs and links are only fds and would not).
//!
//! `sigaction(2)` with `SA_RESETHAND`: a second Ctrl-C gets the default
//! action and ends the process at once. `SA_RESTART` keeps the bounded
//! socket waits of the measurements from failing with EINTR. This is a
//! syscall module, so its `unsafe` blocks live here.

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
    for signo in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: an all-zero sigaction is a valid value (empty mask, no
        // flags) which is then filled in; `on_signal` has the signature
        // sa_handler expects and only touches an atomic.
        let rc = unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            sa.sa_flags = libc::SA_RESETHAND | libc::SA_RESTART;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(signo, &sa, std::ptr::null_mut())
        };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}
