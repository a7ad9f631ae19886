//! XDP attach, detach and query through `IFLA_XDP` on `RTM_SETLINK`.
//!
//! It follows `include/uapi/linux/if_link.h` (`IFLA_XDP_*`, `XDP_FLAGS_*`,
//! `XDP_ATTACHED_*`). `ip link set dev X xdp fd N` sends the same message.

use crate::consts::*;
use crate::error::Result;
use crate::handle::Handle;
use crate::wire::IfInfoMsg;
use std::os::fd::{AsRawFd, BorrowedFd};

/// What is attached at a device's XDP hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XdpInfo {
    /// `IFLA_XDP_ATTACHED`: `XDP_ATTACHED_DRV`, `_SKB`, `_HW` or `_MULTI`.
    pub attached: u8,
    /// `IFLA_XDP_PROG_ID`.
    pub prog_id: u32,
}

fn mode_word(flags: u32) -> &'static str {
    if flags & XDP_FLAGS_SKB_MODE != 0 {
        "xdpgeneric"
    } else if flags & XDP_FLAGS_DRV_MODE != 0 {
        "xdpdrv"
    } else if flags & XDP_FLAGS_HW_MODE != 0 {
        "xdpoffload"
    } else {
        "xdp"
    }
}

impl Handle {
    fn xdp_set(
        &mut self,
        ifindex: i32,
        fd: i32,
        flags: u32,
        expected: Option<i32>,
        what: String,
        cmd: String,
    ) -> Result<()> {
        let hdr = IfInfoMsg {
            index: ifindex,
            ..Default::default()
        };
        let mut req = self.request(RTM_SETLINK, 0, &hdr.emit(), what, cmd);
        let m = &mut req.msg;
        m.nest_start(IFLA_XDP | NLA_F_NESTED);
        m.attr_i32(IFLA_XDP_FD, fd);
        let mut flags = flags;
        if let Some(e) = expected {
            flags |= XDP_FLAGS_REPLACE;
            m.attr_i32(IFLA_XDP_EXPECTED_FD, e);
        }
        if flags != 0 {
            m.attr_u32(IFLA_XDP_FLAGS, flags);
        }
        m.nest_end();
        self.execute(req).map(drop)
    }

    /// Attaches an XDP program. `flags` are `XDP_FLAGS_*` (for example
    /// `XDP_FLAGS_SKB_MODE`, `XDP_FLAGS_UPDATE_IF_NOEXIST`); `expected`, if
    /// given, makes it an atomic replace of that program (`XDP_FLAGS_REPLACE`).
    ///
    /// `ip link set dev X xdp fd N`
    pub fn xdp_attach(
        &mut self,
        ifindex: i32,
        prog: BorrowedFd<'_>,
        flags: u32,
        expected: Option<BorrowedFd<'_>>,
    ) -> Result<()> {
        let label = self.dev_label(ifindex);
        let dev = self.dev_arg(ifindex);
        let cmd = format!(
            "{} link set dev {dev} {} fd {}",
            self.ip("ip"),
            mode_word(flags),
            prog.as_raw_fd()
        );
        self.xdp_set(
            ifindex,
            prog.as_raw_fd(),
            flags,
            expected.map(|e| e.as_raw_fd()),
            format!("RTM_SETLINK IFLA_XDP attach on {label}"),
            cmd,
        )
    }

    /// Detaches the XDP program attached with the same mode `flags` (fd -1).
    /// `ip link set dev X xdp off`
    pub fn xdp_detach(&mut self, ifindex: i32, flags: u32) -> Result<()> {
        let label = self.dev_label(ifindex);
        let dev = self.dev_arg(ifindex);
        let cmd = format!(
            "{} link set dev {dev} {} off",
            self.ip("ip"),
            mode_word(flags)
        );
        self.xdp_set(
            ifindex,
            -1,
            flags & (XDP_FLAGS_SKB_MODE | XDP_FLAGS_DRV_MODE | XDP_FLAGS_HW_MODE),
            None,
            format!("RTM_SETLINK IFLA_XDP detach on {label}"),
            cmd,
        )
    }

    /// The XDP program attached to `ifindex`, if any (from `RTM_GETLINK`).
    pub fn xdp_query(&mut self, ifindex: i32) -> Result<Option<XdpInfo>> {
        let l = self.link_get(ifindex)?;
        Ok(match (l.xdp_attached, l.xdp_prog_id) {
            (Some(a), Some(id)) if a != XDP_ATTACHED_NONE => Some(XdpInfo {
                attached: a,
                prog_id: id,
            }),
            _ => None,
        })
    }
}
