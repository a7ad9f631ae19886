//! Shared helpers for the netlink integration tests (root only).
#![allow(dead_code)]

use std::process::Command;

/// These tests talk to the real kernel: they need root.
pub fn require_root() {
    assert!(
        netlink::is_root(),
        "the netlink integration tests create network namespaces: run them as root (sudo -E cargo test -p netlink)"
    );
}

/// Runs an iproute2 command if `ip`/`tc` is installed; `None` if it is not.
/// Under CI (`CI` set), which installs iproute2, a missing tool fails the
/// test instead: there the cross-check must really run.
pub fn iproute2(tool: &str, args: &[&str]) -> Option<String> {
    let out = match Command::new(tool).args(args).output() {
        Ok(out) => out,
        Err(e) if std::env::var_os("CI").is_some() => {
            panic!("{tool} cannot run ({e}); .ci/run installs iproute2, so CI must have it")
        }
        Err(_) => return None,
    };
    assert!(
        out.status.success(),
        "{tool} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}
