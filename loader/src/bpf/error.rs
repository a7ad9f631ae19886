//! Errors a user can act on: which `bpf(2)` command failed, the errno by
//! name, and what to do about it.
//!
//! The errno meanings follow the bpf(2) man page and the kernel's
//! `kernel/bpf/syscall.c`; verifier rejections carry the whole verifier log
//! (see [`crate::verifier`]).

use std::fmt;
use std::io;

use crate::verifier::VerifierError;

/// Shorthand for this crate's results.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the loader.
#[derive(Debug)]
pub enum Error {
    /// A `bpf(2)` command failed.
    Sys(SysError),
    /// The verifier refused a program (`BPF_PROG_LOAD` with a log).
    Verifier(Box<VerifierError>),
    /// An ELF object was malformed or used something the loader cannot load.
    Elf(String),
    /// Bad input from the user (a name too long, a key of the wrong size...).
    Input(String),
    /// A file could not be read or written.
    Io {
        /// What was being done, with the path.
        what: String,
        /// The underlying error.
        source: io::Error,
    },
}

/// A failed `bpf(2)` command.
#[derive(Debug, Clone)]
pub struct SysError {
    /// The command, by its kernel name (`BPF_PROG_LOAD`).
    pub command: &'static str,
    /// The raw errno.
    pub errno: i32,
    /// What this errno means for this command, and what to do.
    pub hint: Option<String>,
}

impl SysError {
    /// Builds the error for `command` from an OS error, adding the hints that
    /// apply to every command (root, unknown command on an old kernel).
    pub fn new(command: &'static str, err: &io::Error) -> SysError {
        let errno = err.raw_os_error().unwrap_or(libc::EIO);
        let hint = match errno {
            libc::EPERM => Some(needs_root_hint()),
            libc::ENOSYS => {
                Some("this kernel has no bpf(2) system call (CONFIG_BPF_SYSCALL)".into())
            }
            _ => None,
        };
        SysError {
            command,
            errno,
            hint,
        }
    }

    /// Same, with a command-specific hint. EPERM for a process that is not
    /// root is always the root message; for root, EPERM has command-specific
    /// meanings (a frozen map, a pin outside bpffs), so the hint stays.
    pub fn with_hint(command: &'static str, err: &io::Error, hint: impl Into<String>) -> SysError {
        let mut e = SysError::new(command, err);
        if e.errno != libc::EPERM || crate::sys::geteuid() == 0 {
            e.hint = Some(hint.into());
        }
        e
    }
}

fn needs_root_hint() -> String {
    if crate::sys::geteuid() != 0 {
        "needs root (CAP_BPF and CAP_NET_ADMIN); run it with sudo".into()
    } else {
        "needs root (CAP_BPF and CAP_NET_ADMIN); this process is root but lacks them \
         (a container or a dropped capability set?), or kernel.unprivileged_bpf_disabled \
         / lockdown forbids it"
            .into()
    }
}

impl fmt::Display for SysError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} failed: {} ({})",
            self.command,
            errno_label(self.errno),
            errno_text(self.errno)
        )?;
        if let Some(h) = &self.hint {
            write!(f, ": {h}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Sys(e) => e.fmt(f),
            Error::Verifier(e) => e.fmt(f),
            Error::Elf(m) => write!(f, "ELF object: {m}"),
            Error::Input(m) => f.write_str(m),
            Error::Io { what, source } => match source.raw_os_error() {
                Some(_) => write!(f, "{what}: {}", io_text(source)),
                None => write!(f, "{what}: {source}"),
            },
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<SysError> for Error {
    fn from(e: SysError) -> Error {
        Error::Sys(e)
    }
}

impl Error {
    /// The errno behind this error, if it came from the kernel.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Sys(e) => Some(e.errno),
            Error::Verifier(e) => Some(e.errno),
            Error::Io { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }

    /// True when the failure is a missing privilege (EPERM), so a CLI can
    /// print the plain root message.
    pub fn is_permission(&self) -> bool {
        self.errno() == Some(libc::EPERM)
    }

    /// Wraps an I/O error with what was being done.
    pub fn io(what: impl Into<String>, source: io::Error) -> Error {
        Error::Io {
            what: what.into(),
            source,
        }
    }
}

/// The C library's description of an errno ("Invalid argument"), without
/// Rust's "(os error N)" suffix: the name is printed beside it instead.
pub fn errno_text(errno: i32) -> String {
    let s = io::Error::from_raw_os_error(errno).to_string();
    match s.rfind(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// An I/O error for a message: `ENOENT (No such file or directory)` for one
/// that carries an errno, instead of Rust's "No such file or directory (os
/// error 2)"; other errors as they display themselves.
pub fn io_text(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => format!("{} ({})", errno_label(n), errno_text(n)),
        None => e.to_string(),
    }
}

/// The symbolic name of an errno (`EINVAL`), as in `errno.h`. One table
/// serves both crates that talk to the kernel; netlink holds it because the
/// loader already depends on netlink.
pub use netlink::error::{errno_label, errno_name};

/// The running kernel's version as (major, minor), from
/// `/proc/sys/kernel/osrelease`.
pub fn kernel_version() -> Option<(u32, u32)> {
    let s = std::fs::read_to_string("/proc/sys/kernel/osrelease").ok()?;
    parse_kernel_version(&s)
}

/// Parses "6.18.0-1-amd64" into (6, 18).
pub fn parse_kernel_version(s: &str) -> Option<(u32, u32)> {
    let mut it = s.trim().split(|c: char| !c.is_ascii_digit());
    let major = it.next()?.parse().ok()?;
    let minor = it.next()?.parse().ok()?;
    Some((major, minor))
}

/// The running kernel's release string, for messages.
pub fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

/// A hint for a feature introduced in `since` when the running kernel is
/// older.
pub fn too_old_hint(feature: &str, since: (u32, u32)) -> Option<String> {
    too_old_for(feature, since, kernel_version()?, &kernel_release())
}

/// The same, for a given kernel (`running`, its release string `release`).
pub fn too_old_for(
    feature: &str,
    since: (u32, u32),
    running: (u32, u32),
    release: &str,
) -> Option<String> {
    (running < since).then(|| {
        format!(
            "{feature} was introduced in Linux {}.{}; this kernel is {release}, which does not have it",
            since.0, since.1
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_versions_parse() {
        assert_eq!(parse_kernel_version("6.18.0-1-amd64\n"), Some((6, 18)));
        assert_eq!(parse_kernel_version("6.1.0-40-cloud-amd64"), Some((6, 1)));
        assert_eq!(parse_kernel_version("5.4"), Some((5, 4)));
        assert_eq!(parse_kernel_version("garbage"), None);
        assert_eq!(parse_kernel_version(""), None);
    }

    #[test]
    fn old_kernels_get_the_version_named() {
        use crate::types::{AttachType, ProgType};
        let at = AttachType::TcxIngress;
        let h = too_old_for(at.kernel_name(), at.since(), (6, 1), "6.1.0-40-cloud-amd64").unwrap();
        assert_eq!(
            h,
            "BPF_TCX_INGRESS was introduced in Linux 6.6; this kernel is 6.1.0-40-cloud-amd64, \
             which does not have it"
        );
        assert_eq!(
            too_old_for(at.kernel_name(), at.since(), (6, 6), "6.6.0"),
            None
        );
        let pt = ProgType::Netfilter;
        assert!(too_old_for(pt.kernel_name(), pt.since(), (5, 15), "5.15")
            .unwrap()
            .contains("Linux 6.4"));
    }

    #[test]
    fn errors_name_the_command_and_errno() {
        let e = SysError::with_hint(
            "BPF_OBJ_GET",
            &io::Error::from_raw_os_error(libc::ENOENT),
            "nothing is pinned there",
        );
        let s = e.to_string();
        assert!(s.starts_with("BPF_OBJ_GET failed: ENOENT ("), "{s}");
        assert!(s.ends_with(": nothing is pinned there"), "{s}");
        assert!(!s.contains("os error"), "{s}");
        let e = SysError::new("BPF_PROG_LOAD", &io::Error::from_raw_os_error(libc::EPERM));
        assert!(e
            .to_string()
            .contains("needs root (CAP_BPF and CAP_NET_ADMIN)"));
        // bpf(2)'s kernel-internal ENOTSUPP has a name too, never a bare number.
        let e = SysError::new("BPF_LINK_CREATE", &io::Error::from_raw_os_error(524));
        assert!(
            e.to_string()
                .starts_with("BPF_LINK_CREATE failed: ENOTSUPP ("),
            "{e}"
        );
    }
}
