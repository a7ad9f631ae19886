//! Checks, before touching anything, that the process may build the lab.
//!
//! It reads the effective capability set from `/proc/self/status` (`CapEff`,
//! see proc(5)); bit numbers come from `include/uapi/linux/capability.h`.
//! Without them the kernel would refuse the first request with a bare EPERM
//! deep inside `up`; this says plainly what is missing instead.

use crate::error::io_text;
use std::fs;

/// `CAP_NET_ADMIN` (include/uapi/linux/capability.h): links, addresses,
/// routes, qdiscs and filters.
pub const CAP_NET_ADMIN: u32 = 12;
/// `CAP_SYS_ADMIN` (include/uapi/linux/capability.h): `unshare`/`setns` of a
/// network namespace and the bind mounts under `/run/netns`.
pub const CAP_SYS_ADMIN: u32 = 21;
/// `CAP_BPF` (include/uapi/linux/capability.h, Linux 5.8+): `BPF_PROG_LOAD`.
pub const CAP_BPF: u32 = 39;

/// The capabilities `up` and `down` need, with their kernel names.
pub const LAB_CAPS: [(u32, &str); 3] = [
    (CAP_NET_ADMIN, "CAP_NET_ADMIN"),
    (CAP_SYS_ADMIN, "CAP_SYS_ADMIN"),
    (CAP_BPF, "CAP_BPF"),
];

/// Parses the `CapEff:` line of `/proc/PID/status` (a 64-bit hex mask).
pub fn parse_cap_eff(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("CapEff:"))?;
    u64::from_str_radix(line.trim_start_matches("CapEff:").trim(), 16).ok()
}

/// The names of the capabilities in `needed` that `cap_eff` lacks.
pub fn missing(cap_eff: u64, needed: &[(u32, &'static str)]) -> Vec<&'static str> {
    needed
        .iter()
        .filter(|(bit, _)| cap_eff & (1u64 << bit) == 0)
        .map(|(_, name)| *name)
        .collect()
}

/// Ok when this process holds every capability in `needed`; otherwise a
/// message for the user that names root and the missing capabilities.
pub fn require(what: &str, needed: &[(u32, &'static str)]) -> Result<(), String> {
    let status = fs::read_to_string("/proc/self/status").map_err(|e| {
        format!(
            "{what}: cannot read /proc/self/status to check capabilities: {os}",
            os = io_text(&e)
        )
    })?;
    let Some(cap_eff) = parse_cap_eff(&status) else {
        return Err(format!(
            "{what}: /proc/self/status has no readable CapEff line"
        ));
    };
    let lacking = missing(cap_eff, needed);
    if lacking.is_empty() {
        return Ok(());
    }
    Err(refusal(what, needed, &lacking))
}

/// The message for a process that lacks `lacking` of `needed`.
pub fn refusal(what: &str, needed: &[(u32, &'static str)], lacking: &[&str]) -> String {
    let all: Vec<&str> = needed.iter().map(|(_, n)| *n).collect();
    format!(
        "{what} needs root ({}); this process lacks {}. Run it as root, e.g. with sudo.",
        all.join(", "),
        lacking.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cap_eff() {
        let s = "Name:\tx\nCapInh:\t0000000000000000\nCapEff:\t000001ffffffffff\nCapBnd:\t0\n";
        assert_eq!(parse_cap_eff(s), Some(0x1ff_ffff_ffff));
        assert_eq!(parse_cap_eff("CapEff:\tzz\n"), None);
        assert_eq!(parse_cap_eff(""), None);
    }

    #[test]
    fn the_refusal_names_root_and_the_capabilities() {
        let m = refusal(
            "redirect-lab up",
            &LAB_CAPS,
            &missing(1 << CAP_BPF, &LAB_CAPS),
        );
        assert_eq!(
            m,
            "redirect-lab up needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN, CAP_BPF); this process \
             lacks CAP_NET_ADMIN, CAP_SYS_ADMIN. Run it as root, e.g. with sudo."
        );
    }

    #[test]
    fn names_what_is_missing() {
        assert!(missing(u64::MAX, &LAB_CAPS).is_empty());
        assert_eq!(
            missing(0, &LAB_CAPS),
            vec!["CAP_NET_ADMIN", "CAP_SYS_ADMIN", "CAP_BPF"]
        );
        assert_eq!(
            missing(1 << CAP_NET_ADMIN | 1 << CAP_SYS_ADMIN, &LAB_CAPS),
            vec!["CAP_BPF"]
        );
    }
}
