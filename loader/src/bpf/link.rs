//! Links: `BPF_LINK_CREATE` for TCX (and XDP / netkit) attachment, and link
//! info. A link holds the attachment for as long as its fd (or a pin) lives.
//!
//! Follows the `BPF_LINK_CREATE` section and `struct bpf_link_info` of
//! `include/uapi/linux/bpf.h` (torvalds/linux master: the `tcx` member of
//! `link_create` and `bpf_link_info` arrived in Linux 6.6).

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

use crate::error::{too_old_hint, Error, Result, SysError};
use crate::prog::{next_ids, obj_info};
use crate::sys::{self, cmd, BpfLinkInfo, GetIdAttr, LinkCreateAttr};
use crate::types::{AttachType, LinkType};

/// `BPF_F_BEFORE`: attach before the relative program (or, with none, at
/// the head of the chain). include/uapi/linux/bpf.h, Linux 6.6.
pub const BPF_F_BEFORE: u32 = 1 << 3;
/// `BPF_F_AFTER`: attach after the relative program (or at the tail).
pub const BPF_F_AFTER: u32 = 1 << 4;

/// A bpf_link. Dropping the last fd (with no pin) detaches the program.
#[derive(Debug)]
pub struct Link {
    fd: OwnedFd,
}

/// What `BPF_OBJ_GET_INFO_BY_FD` says about a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkInfo {
    /// Kernel-wide link id.
    pub id: u32,
    /// Raw link type (see [`LinkType::from_raw`]).
    pub link_type: u32,
    /// The attached program's id.
    pub prog_id: u32,
    /// For TCX, XDP and netkit links: the device.
    pub ifindex: Option<u32>,
    /// For TCX and netkit links: the attach type.
    pub attach_type: Option<u32>,
}

impl Link {
    /// `BPF_LINK_CREATE` attaching `prog` at `attach_type` on `ifindex`
    /// (TCX ingress/egress, XDP, netkit). `flags` are the `BPF_F_BEFORE` /
    /// `BPF_F_AFTER` ordering flags for TCX; 0 appends.
    pub fn attach_ifindex(
        prog: BorrowedFd<'_>,
        ifindex: u32,
        attach_type: AttachType,
        flags: u32,
    ) -> Result<Link> {
        let mut attr = LinkCreateAttr {
            prog_fd: prog.as_raw_fd() as u32,
            target_fd_or_ifindex: ifindex,
            attach_type: attach_type.raw(),
            flags,
            ..Default::default()
        };
        let fd =
            sys::bpf_fd(cmd::BPF_LINK_CREATE, &mut attr).map_err(|e| {
                let hint = too_old_hint(attach_type.kernel_name(), attach_type.since())
                    .unwrap_or_else(|| match e.raw_os_error() {
                        Some(libc::ENODEV) => {
                            format!("no device with ifindex {ifindex} in this network namespace")
                        }
                        // drivers/net/netkit.c, netkit_dev_fetch.
                        Some(libc::EACCES) if is_netkit(attach_type) => format!(
                            "ifindex {ifindex} is a netkit peer: both ends' programs attach \
                             through the primary's ifindex"
                        ),
                        Some(libc::ENXIO) if is_netkit(attach_type) => {
                            format!("ifindex {ifindex} is not a netkit device")
                        }
                        Some(libc::EINVAL) => format!(
                        "the kernel refused {attach_type} for this program: the program type must \
                         match the hook (SCHED_CLS for TCX, XDP for XDP) and flags must be valid"
                    ),
                        Some(libc::EEXIST) | Some(libc::EBUSY) => format!(
                        "something is already attached at {attach_type} on ifindex {ifindex} that \
                         does not allow another"
                    ),
                        _ => format!("could not attach at {attach_type} on ifindex {ifindex}"),
                    });
                SysError::with_hint("BPF_LINK_CREATE", &e, hint)
            })?;
        Ok(Link { fd })
    }

    /// Wraps a link fd.
    pub fn from_fd(fd: OwnedFd) -> Link {
        Link { fd }
    }

    /// Opens a pinned link.
    pub fn from_pin(path: impl AsRef<Path>) -> Result<Link> {
        let fd = crate::pin::get(path.as_ref())?;
        if crate::pin::obj_kind(fd.as_fd()) != Some(crate::pin::ObjKind::Link) {
            return Err(Error::Input(format!(
                "{} is pinned but is not a BPF link",
                path.as_ref().display()
            )));
        }
        Ok(Link { fd })
    }

    /// Opens a link by id (`BPF_LINK_GET_FD_BY_ID`).
    pub fn from_id(id: u32) -> Result<Link> {
        let mut attr = GetIdAttr {
            start_id: id,
            ..Default::default()
        };
        let fd = sys::bpf_fd(cmd::BPF_LINK_GET_FD_BY_ID, &mut attr).map_err(|e| {
            SysError::with_hint("BPF_LINK_GET_FD_BY_ID", &e, format!("no link with id {id}"))
        })?;
        Ok(Link { fd })
    }

    /// Ids of every link in the kernel (`BPF_LINK_GET_NEXT_ID`).
    pub fn ids() -> Result<Vec<u32>> {
        next_ids(cmd::BPF_LINK_GET_NEXT_ID)
    }

    /// `BPF_OBJ_GET_INFO_BY_FD` on this link.
    pub fn info(&self) -> Result<LinkInfo> {
        link_info(self.fd.as_fd())
    }

    /// Pins the link, so the attachment outlives this process.
    pub fn pin(&self, path: impl AsRef<Path>) -> Result<()> {
        crate::pin::pin(self.fd.as_fd(), path.as_ref())
    }
}

impl AsFd for Link {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// `BPF_NETKIT_PRIMARY` or `BPF_NETKIT_PEER`.
fn is_netkit(t: AttachType) -> bool {
    matches!(t, AttachType::NetkitPrimary | AttachType::NetkitPeer)
}

/// `BPF_OBJ_GET_INFO_BY_FD` for a link fd.
pub fn link_info(fd: BorrowedFd<'_>) -> Result<LinkInfo> {
    let mut info = BpfLinkInfo::default();
    obj_info(fd, &mut info)?;
    let w = info.union_words;
    let (ifindex, attach_type) = match LinkType::from_raw(info.type_) {
        // `tcx { ifindex; attach_type; }` and `netkit { ifindex; attach_type; }`
        Some(LinkType::Tcx) | Some(LinkType::Netkit) => (Some(w[0]), Some(w[1])),
        // `xdp { ifindex; }`
        Some(LinkType::Xdp) => (Some(w[0]), None),
        _ => (None, None),
    };
    Ok(LinkInfo {
        id: info.id,
        link_type: info.type_,
        prog_id: info.prog_id,
        ifindex,
        attach_type,
    })
}
