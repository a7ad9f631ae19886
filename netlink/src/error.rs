//! The crate's error type: every failure names the request it belongs to.
//!
//! A kernel refusal carries the errno and the kernel's extended-ACK text
//! (`NLMSGERR_ATTR_MSG`, see `include/uapi/linux/netlink.h`), plus which
//! attribute of our request it pointed at (`NLMSGERR_ATTR_OFFS`) and a hint
//! on what to do.

use std::fmt;
use std::io;

/// Anything that can go wrong in this crate.
#[derive(Debug)]
pub enum Error {
    /// The kernel answered our request with a negative errno.
    Kernel {
        /// The request, e.g. "RTM_NEWTFILTER bpf on veth1@2 (ifindex 5) ingress".
        request: String,
        /// The positive errno.
        errno: i32,
        /// The kernel's extack message, if it sent one.
        extack: Option<String>,
        /// The attribute of our request the kernel pointed at, decoded
        /// from `NLMSGERR_ATTR_OFFS` (e.g. "TCA_OPTIONS > TCA_BPF_NAME").
        attribute: Option<String>,
        /// What this crate knows about the refusal when the kernel said
        /// nothing (cls_bpf parses its options without extack).
        note: Option<String>,
    },
    /// A system call failed (socket, setns, mount, a file under /proc/sys).
    Io {
        /// What we were doing.
        context: String,
        /// The error.
        source: io::Error,
    },
    /// A reply broke the protocol (wrong sequence number or port id, malformed bytes).
    Protocol {
        /// The request it answered.
        request: String,
        /// What was wrong.
        detail: String,
    },
    /// A lookup found nothing (a link name, a namespace).
    NotFound(String),
    /// The caller passed something unusable (a name with '/', an empty name).
    Invalid(String),
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// The errno, if the kernel or a system call reported one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Kernel { errno, .. } => Some(*errno),
            Error::Io { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }

    /// The kernel's extack message, if any.
    pub fn extack(&self) -> Option<&str> {
        match self {
            Error::Kernel { extack, .. } => extack.as_deref(),
            _ => None,
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

/// The symbolic name of an errno (`EEXIST`), for messages a reader can grep;
/// plain `"errno"` for one this table lacks (messages use [`errno_label`],
/// which adds the number then). The loader's bpf(2) errors use this table too.
pub fn errno_name(errno: i32) -> &'static str {
    match errno {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::ESRCH => "ESRCH",
        libc::EINTR => "EINTR",
        libc::EIO => "EIO",
        libc::ENXIO => "ENXIO",
        libc::E2BIG => "E2BIG",
        libc::EBADF => "EBADF",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::ENOTBLK => "ENOTBLK",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::EXDEV => "EXDEV",
        libc::ENODEV => "ENODEV",
        libc::ENOTDIR => "ENOTDIR",
        libc::EISDIR => "EISDIR",
        libc::EINVAL => "EINVAL",
        libc::ENFILE => "ENFILE",
        libc::EMFILE => "EMFILE",
        libc::ENOTTY => "ENOTTY",
        libc::ETXTBSY => "ETXTBSY",
        libc::EFBIG => "EFBIG",
        libc::ENOSPC => "ENOSPC",
        libc::ESPIPE => "ESPIPE",
        libc::EROFS => "EROFS",
        libc::EMLINK => "EMLINK",
        libc::EPIPE => "EPIPE",
        libc::EDOM => "EDOM",
        libc::ERANGE => "ERANGE",
        libc::ENAMETOOLONG => "ENAMETOOLONG",
        libc::ENOLCK => "ENOLCK",
        libc::ENOSYS => "ENOSYS",
        libc::ENOTEMPTY => "ENOTEMPTY",
        libc::ELOOP => "ELOOP",
        libc::ENOMSG => "ENOMSG",
        libc::ENODATA => "ENODATA",
        libc::EPROTO => "EPROTO",
        libc::EBADMSG => "EBADMSG",
        libc::EOVERFLOW => "EOVERFLOW",
        libc::EILSEQ => "EILSEQ",
        libc::ENOTSOCK => "ENOTSOCK",
        libc::EDESTADDRREQ => "EDESTADDRREQ",
        libc::EMSGSIZE => "EMSGSIZE",
        libc::EPROTOTYPE => "EPROTOTYPE",
        libc::ENOPROTOOPT => "ENOPROTOOPT",
        libc::EPROTONOSUPPORT => "EPROTONOSUPPORT",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::EAFNOSUPPORT => "EAFNOSUPPORT",
        libc::EADDRINUSE => "EADDRINUSE",
        libc::EADDRNOTAVAIL => "EADDRNOTAVAIL",
        libc::ENETDOWN => "ENETDOWN",
        libc::ENETUNREACH => "ENETUNREACH",
        libc::ECONNABORTED => "ECONNABORTED",
        libc::ECONNRESET => "ECONNRESET",
        libc::ENOBUFS => "ENOBUFS",
        libc::EISCONN => "EISCONN",
        libc::ENOTCONN => "ENOTCONN",
        libc::ETIMEDOUT => "ETIMEDOUT",
        libc::ECONNREFUSED => "ECONNREFUSED",
        libc::EHOSTUNREACH => "EHOSTUNREACH",
        libc::EALREADY => "EALREADY",
        libc::EINPROGRESS => "EINPROGRESS",
        libc::ECANCELED => "ECANCELED",
        // ENOTSUPP (524) is kernel-internal (include/linux/errno.h) but leaks
        // out of bpf(2) and some drivers for unsupported features; libc has
        // no name for it.
        524 => "ENOTSUPP",
        _ => "errno",
    }
}

/// The errno's name for a message: `EPIPE`, or `errno 1234` when the table
/// above has no name for it, so the number is never lost.
pub fn errno_label(errno: i32) -> String {
    match errno_name(errno) {
        "errno" => format!("errno {errno}"),
        name => name.to_string(),
    }
}

/// "EEXIST (errno 17: File exists)"; "errno 1234 (Unknown error 1234)" for an
/// errno without a name.
pub fn errno_text(errno: i32) -> String {
    let text = strip_os_error(&io::Error::from_raw_os_error(errno));
    match errno_name(errno) {
        "errno" => format!("errno {errno} ({text})"),
        name => format!("{name} (errno {errno}: {text})"),
    }
}

/// What a reader can do, from the kernel's message if it sent one, else the errno.
fn hint(errno: i32, request: &str, extack: Option<&str>) -> Option<&'static str> {
    let m = extack.unwrap_or("");
    Some(if m.contains("Parent Qdisc doesn't exist") {
        "add the clsact qdisc first (Handle::qdisc_add_clsact; tc qdisc add dev X clsact)"
    } else if m.contains("does not match expected") {
        "another program than the expected one is attached: query it (Handle::xdp_query) and retry"
    } else if m.contains("already attached") {
        "detach the current program first, or replace it by giving the expected one"
    } else {
        match errno {
            libc::EPERM | libc::EACCES => {
                "this needs root (CAP_NET_ADMIN, and CAP_SYS_ADMIN for namespaces): run it with sudo"
            }
            libc::EEXIST => "it already exists: delete it first, or use the replace variant",
            libc::ENODEV => "no such device in this network namespace: check the ifindex or name",
            libc::ENOENT if request.contains("FILTER") => {
                "no such qdisc or filter: add the clsact qdisc first (Handle::qdisc_add_clsact)"
            }
            libc::EINVAL if request.contains("RTM_NEWTFILTER") && extack.is_none() => {
                "cls_bpf refused an option without saying which: the program must be \
                 BPF_PROG_TYPE_SCHED_CLS and the name at most 256 bytes"
            }
            libc::EBADF => "the program or namespace fd is not valid",
            _ => return None,
        }
    })
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Kernel {
                request,
                errno,
                extack,
                attribute,
                note,
            } => {
                write!(f, "{request}: kernel refused with {}", errno_text(*errno))?;
                if let Some(m) = extack {
                    write!(f, ": \"{m}\"")?;
                }
                if let Some(a) = attribute {
                    write!(f, " [at attribute {a}]")?;
                }
                if let Some(n) = note {
                    write!(f, "; {n}")?;
                } else if let Some(h) = hint(*errno, request, extack.as_deref()) {
                    write!(f, "; {h}")?;
                }
                Ok(())
            }
            Error::Io { context, source } => match source.raw_os_error() {
                Some(e) => {
                    write!(f, "{context}: {}", errno_text(e))?;
                    if let Some(h) = hint(e, context, None) {
                        write!(f, "; {h}")?;
                    }
                    Ok(())
                }
                None => write!(f, "{context}: {source}"),
            },
            Error::Protocol { request, detail } => {
                write!(f, "{request}: bad netlink reply: {detail}")
            }
            Error::NotFound(what) => write!(f, "not found: {what}"),
            Error::Invalid(what) => write!(f, "invalid argument: {what}"),
        }
    }
}

/// `io::Error`'s Display appends " (os error N)"; we print the errno ourselves.
fn strip_os_error(e: &io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_error_text_names_everything() {
        let e = Error::Kernel {
            request: "RTM_NEWQDISC clsact on veth1@2 (ifindex 4)".into(),
            errno: libc::EEXIST,
            extack: Some("Exclusivity flag on, cannot modify".into()),
            attribute: None,
            note: None,
        };
        let s = e.to_string();
        assert!(s.starts_with("RTM_NEWQDISC clsact on veth1@2 (ifindex 4): kernel refused with EEXIST (errno 17: File exists)"), "{s}");
        assert!(s.contains("\"Exclusivity flag on, cannot modify\""), "{s}");
        assert_eq!(e.errno(), Some(17));
    }

    #[test]
    fn errno_names_cover_common_failures_and_keep_the_number_otherwise() {
        assert_eq!(errno_name(libc::EPIPE), "EPIPE");
        assert_eq!(errno_name(libc::EMSGSIZE), "EMSGSIZE");
        assert_eq!(errno_name(libc::ECONNRESET), "ECONNRESET");
        assert_eq!(errno_label(libc::ENOENT), "ENOENT");
        assert_eq!(errno_label(4095), "errno 4095");
        assert_eq!(errno_text(libc::EPIPE), "EPIPE (errno 32: Broken pipe)");
        assert!(
            errno_text(4095).starts_with("errno 4095 ("),
            "{}",
            errno_text(4095)
        );
    }
}
