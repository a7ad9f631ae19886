//! Links: create a veth pair, set a link up/down or its MAC address, delete
//! it, look it up, and list links with kind, peer and counters.
//!
//! It follows `include/uapi/linux/rtnetlink.h` (`RTM_*LINK`, `struct
//! ifinfomsg`), `if_link.h` (`IFLA_*`, `IFLA_INFO_*`, `struct
//! rtnl_link_stats64`), `veth.h` (`VETH_INFO_PEER`) and `if.h` (`IFF_*`).

use crate::consts::*;
use crate::error::{Error, Result};
use crate::handle::Handle;
use crate::netns::Netns;
use crate::wire::{self, IfInfoMsg, WireError};
use std::os::fd::{AsFd, AsRawFd};

/// `IFNAMSIZ` (if.h) is 16 including the NUL: names have at most 15 bytes.
pub const IFNAMSIZ: usize = 16;

/// The first counters of `struct rtnl_link_stats64` (if_link.h).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// `rx_packets`.
    pub rx_packets: u64,
    /// `tx_packets`.
    pub tx_packets: u64,
    /// `rx_bytes`.
    pub rx_bytes: u64,
    /// `tx_bytes`.
    pub tx_bytes: u64,
    /// `rx_errors`.
    pub rx_errors: u64,
    /// `tx_errors`.
    pub tx_errors: u64,
    /// `rx_dropped`.
    pub rx_dropped: u64,
    /// `tx_dropped`.
    pub tx_dropped: u64,
    /// `rx_nohandler`: dropped because no protocol handler wanted them (4.6+).
    pub rx_nohandler: Option<u64>,
    /// `rx_otherhost_dropped`: frames for another MAC address, dropped by
    /// the IP layer as `PACKET_OTHERHOST` (5.19+). The redirect lab's
    /// "wrong MAC" experiment shows up here.
    pub rx_otherhost_dropped: Option<u64>,
}

impl LinkStats {
    /// Reads the counters of `struct rtnl_link_stats64` this crate names
    /// (the first eight, and two later ones when the kernel sends them).
    pub fn parse(b: &[u8]) -> std::result::Result<LinkStats, WireError> {
        let f = |i: usize| -> std::result::Result<u64, WireError> {
            b.get(i * 8..i * 8 + 8)
                .and_then(|s| s.try_into().ok())
                .map(u64::from_ne_bytes)
                .ok_or_else(|| WireError {
                    what: format!("IFLA_STATS64 has {} bytes, fewer than 64", b.len()),
                    offset: 0,
                })
        };
        Ok(LinkStats {
            rx_packets: f(0)?,
            tx_packets: f(1)?,
            rx_bytes: f(2)?,
            tx_bytes: f(3)?,
            rx_errors: f(4)?,
            tx_errors: f(5)?,
            rx_dropped: f(6)?,
            tx_dropped: f(7)?,
            // Newer kernels append counters; older ones send a shorter struct.
            rx_nohandler: f(23).ok(),
            rx_otherhost_dropped: f(24).ok(),
        })
    }
}

/// One link as `RTM_NEWLINK` describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Link {
    /// `ifi_index`.
    pub ifindex: i32,
    /// `IFLA_IFNAME`.
    pub name: String,
    /// `IFLA_LINKINFO` / `IFLA_INFO_KIND` ("veth"); `None` for loopback and physical devices.
    pub kind: Option<String>,
    /// `IFLA_LINK`: for a veth, the peer's ifindex (in `peer_netnsid`'s namespace if set).
    pub peer_ifindex: Option<i32>,
    /// `IFLA_LINK_NETNSID`: the peer lives in another namespace with this id.
    pub peer_netnsid: Option<i32>,
    /// `IFLA_ADDRESS`: the MAC address.
    pub mac: Option<[u8; 6]>,
    /// `IFLA_MTU`.
    pub mtu: Option<u32>,
    /// `ifi_flags` (`IFF_*`).
    pub flags: u32,
    /// `IFLA_OPERSTATE` (`IF_OPER_*`: 6 is UP, 2 DOWN, 7 DORMANT...).
    pub operstate: Option<u8>,
    /// `IFLA_STATS64`.
    pub stats: Option<LinkStats>,
    /// `IFLA_XDP` / `IFLA_XDP_PROG_ID`: the attached XDP program.
    pub xdp_prog_id: Option<u32>,
    /// `IFLA_XDP` / `IFLA_XDP_ATTACHED` (`XDP_ATTACHED_*`).
    pub xdp_attached: Option<u8>,
}

impl Link {
    /// `IFF_UP` is set.
    pub fn is_up(&self) -> bool {
        self.flags & IFF_UP != 0
    }

    /// The MAC as "aa:bb:cc:dd:ee:ff".
    pub fn mac_string(&self) -> Option<String> {
        self.mac.map(|m| format_mac(&m))
    }

    /// Decodes an `RTM_NEWLINK` payload (`ifinfomsg` + attributes).
    pub fn parse(payload: &[u8]) -> std::result::Result<Link, WireError> {
        let hdr = IfInfoMsg::parse(payload)?;
        let mut l = Link {
            ifindex: hdr.index,
            flags: hdr.flags,
            ..Link::default()
        };
        let body = payload.get(IfInfoMsg::LEN..).unwrap_or(&[]);
        for a in wire::attrs(body) {
            let a = a?;
            match a.ty {
                IFLA_IFNAME => l.name = a.string(),
                IFLA_ADDRESS => l.mac = a.payload.try_into().ok(),
                IFLA_MTU => l.mtu = a.u32().ok(),
                IFLA_LINK => l.peer_ifindex = a.i32().ok(),
                IFLA_LINK_NETNSID => l.peer_netnsid = a.i32().ok(),
                IFLA_OPERSTATE => l.operstate = a.u8().ok(),
                IFLA_STATS64 => l.stats = Some(LinkStats::parse(a.payload)?),
                IFLA_LINKINFO => {
                    for i in a.nested() {
                        let i = i?;
                        if i.ty == IFLA_INFO_KIND {
                            l.kind = Some(i.string());
                        }
                    }
                }
                IFLA_XDP => {
                    for x in a.nested() {
                        let x = x?;
                        match x.ty {
                            IFLA_XDP_ATTACHED => l.xdp_attached = x.u8().ok(),
                            IFLA_XDP_PROG_ID => l.xdp_prog_id = x.u32().ok(),
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(l)
    }
}

/// "aa:bb:cc:dd:ee:ff".
pub fn format_mac(m: &[u8]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

pub(crate) fn check_ifname(name: &str) -> Result<()> {
    if name.is_empty() || name.len() >= IFNAMSIZ || name.contains(['/', ' ', '\0', ':']) {
        return Err(Error::Invalid(format!(
            "interface name {name:?}: it must be 1 to {} bytes, without '/', ':', spaces or NUL (IFNAMSIZ in if.h)",
            IFNAMSIZ - 1
        )));
    }
    Ok(())
}

impl Handle {
    /// `RTM_NEWLINK` type veth: creates `name` here and its peer `peer`,
    /// placed in `peer_netns` if given (`IFLA_NET_NS_FD` inside `VETH_INFO_PEER`).
    /// Returns the new link's ifindex.
    ///
    /// `ip link add NAME type veth peer name PEER netns NS`
    pub fn link_add_veth(
        &mut self,
        name: &str,
        peer: &str,
        peer_netns: Option<&Netns>,
    ) -> Result<i32> {
        check_ifname(name)?;
        check_ifname(peer)?;
        let mut command = format!(
            "{} link add {name} type veth peer name {peer}",
            self.ip("ip")
        );
        let mut what = format!("RTM_NEWLINK veth {name} (peer {peer}");
        if let Some(ns) = peer_netns {
            command.push_str(&format!(" netns {}", ns.name()));
            what.push_str(&format!(" in netns {}", ns.name()));
        }
        what.push(')');
        let mut req = self.request(
            RTM_NEWLINK,
            NLM_F_CREATE | NLM_F_EXCL,
            &IfInfoMsg::default().emit(),
            what,
            command,
        );
        let m = &mut req.msg;
        m.attr_str(IFLA_IFNAME, name);
        m.nest_start(IFLA_LINKINFO);
        m.attr_str(IFLA_INFO_KIND, "veth");
        m.nest_start(IFLA_INFO_DATA);
        // VETH_INFO_PEER holds a whole ifinfomsg, then the peer's IFLA_* attributes.
        m.nest_start(VETH_INFO_PEER);
        m.raw(&IfInfoMsg::default().emit());
        m.attr_str(IFLA_IFNAME, peer);
        if let Some(ns) = peer_netns {
            m.attr_u32(IFLA_NET_NS_FD, ns.as_fd().as_raw_fd() as u32);
        }
        m.nest_end();
        m.nest_end();
        m.nest_end();
        self.execute(req)?;
        // The new ifindex: older kernels do not echo RTM_NEWLINK, so ask,
        // quietly (inspect mode shows the request that matters).
        let saved = self.inspect.take();
        let idx = self.link_index(name);
        self.inspect = saved;
        idx
    }

    /// `RTM_NEWLINK` type netkit (Linux 6.7, `drivers/net/netkit.c`): creates
    /// the primary `name` here and its peer `peer`, placed in `peer_netns` if
    /// given (`IFLA_NET_NS_FD` inside `IFLA_NETKIT_PEER_INFO`), with
    /// `IFLA_NETKIT_MODE` `mode` (`NETKIT_L2` or `NETKIT_L3`) and both
    /// policies `NETKIT_PASS` (what a side does while it has no program).
    /// A kernel without `CONFIG_NETKIT` refuses the kind ("Unknown device
    /// type", `EOPNOTSUPP`). Returns the primary's ifindex.
    ///
    /// `peer_mac` (L2 only) is the peer's `IFLA_ADDRESS`, set at creation.
    ///
    /// `ip link add NAME type netkit mode l2 forward peer forward name PEER address MAC netns NS`
    pub fn link_add_netkit(
        &mut self,
        name: &str,
        peer: &str,
        peer_netns: Option<&Netns>,
        mode: u32,
        peer_mac: Option<[u8; 6]>,
    ) -> Result<i32> {
        check_ifname(name)?;
        check_ifname(peer)?;
        let mode_word = if mode == NETKIT_L2 { "l2" } else { "l3" };
        let mut command = format!(
            "{} link add {name} type netkit mode {mode_word} forward peer forward name {peer}",
            self.ip("ip")
        );
        if let Some(mac) = peer_mac {
            command.push_str(&format!(" address {}", format_mac(&mac)));
        }
        let mut what = format!("RTM_NEWLINK netkit {name} (mode {mode_word}, peer {peer}");
        if let Some(ns) = peer_netns {
            command.push_str(&format!(" netns {}", ns.name()));
            what.push_str(&format!(" in netns {}", ns.name()));
        }
        what.push(')');
        let mut req = self.request(
            RTM_NEWLINK,
            NLM_F_CREATE | NLM_F_EXCL,
            &IfInfoMsg::default().emit(),
            what,
            command,
        );
        let m = &mut req.msg;
        m.attr_str(IFLA_IFNAME, name);
        m.nest_start(IFLA_LINKINFO);
        m.attr_str(IFLA_INFO_KIND, "netkit");
        m.nest_start(IFLA_INFO_DATA);
        m.nest_start(IFLA_NETKIT_PEER_INFO);
        m.raw(&IfInfoMsg::default().emit());
        m.attr_str(IFLA_IFNAME, peer);
        // The peer's MAC is given at creation: netkit (6.12 and 7.2 measured)
        // refuses a later RTM_NEWLINK IFLA_ADDRESS on the peer with EOPNOTSUPP.
        if let Some(mac) = peer_mac {
            m.attr(IFLA_ADDRESS, &mac);
        }
        if let Some(ns) = peer_netns {
            m.attr_u32(IFLA_NET_NS_FD, ns.as_fd().as_raw_fd() as u32);
        }
        m.nest_end();
        m.attr_u32(IFLA_NETKIT_MODE, mode);
        m.attr_u32(IFLA_NETKIT_POLICY, NETKIT_PASS);
        m.attr_u32(IFLA_NETKIT_PEER_POLICY, NETKIT_PASS);
        m.nest_end();
        m.nest_end();
        self.execute(req)?;
        let saved = self.inspect.take();
        let idx = self.link_index(name);
        self.inspect = saved;
        idx
    }

    fn link_change(
        &mut self,
        ifindex: i32,
        flags: u32,
        change: u32,
        what: &str,
        cmd: &str,
    ) -> Result<()> {
        let label = self.dev_label(ifindex);
        let dev = self.dev_arg(ifindex);
        let hdr = IfInfoMsg {
            index: ifindex,
            flags,
            change,
            ..Default::default()
        };
        let req = self.request(
            RTM_NEWLINK,
            0,
            &hdr.emit(),
            format!("RTM_NEWLINK {what} on {label}"),
            format!("{} link set dev {dev} {cmd}", self.ip("ip")),
        );
        self.execute(req).map(drop)
    }

    /// Sets `IFF_UP` (`ifi_change = IFF_UP`). `ip link set dev X up`
    pub fn link_set_up(&mut self, ifindex: i32) -> Result<()> {
        self.link_change(ifindex, IFF_UP, IFF_UP, "up", "up")
    }

    /// Clears `IFF_UP`. `ip link set dev X down`
    pub fn link_set_down(&mut self, ifindex: i32) -> Result<()> {
        self.link_change(ifindex, 0, IFF_UP, "down", "down")
    }

    /// Sets the MAC address (`IFLA_ADDRESS`). `ip link set dev X address M`
    pub fn link_set_address(&mut self, ifindex: i32, mac: [u8; 6]) -> Result<()> {
        let label = self.dev_label(ifindex);
        let dev = self.dev_arg(ifindex);
        let hdr = IfInfoMsg {
            index: ifindex,
            ..Default::default()
        };
        let mut req = self.request(
            RTM_NEWLINK,
            0,
            &hdr.emit(),
            format!("RTM_NEWLINK address {} on {label}", format_mac(&mac)),
            format!(
                "{} link set dev {dev} address {}",
                self.ip("ip"),
                format_mac(&mac)
            ),
        );
        req.msg.attr(IFLA_ADDRESS, &mac);
        self.execute(req).map(drop)
    }

    /// `RTM_DELLINK`; a veth takes its peer with it. `ip link del dev X`
    pub fn link_del(&mut self, ifindex: i32) -> Result<()> {
        let label = self.dev_label(ifindex);
        let dev = self.dev_arg(ifindex);
        let hdr = IfInfoMsg {
            index: ifindex,
            ..Default::default()
        };
        let req = self.request(
            RTM_DELLINK,
            0,
            &hdr.emit(),
            format!("RTM_DELLINK {label}"),
            format!("{} link del dev {dev}", self.ip("ip")),
        );
        self.execute(req)?;
        self.forget(ifindex);
        Ok(())
    }

    /// `RTM_GETLINK` with `IFLA_IFNAME`: the ifindex of `name`.
    /// Fails with [`Error::NotFound`] if there is no such link here.
    pub fn link_index(&mut self, name: &str) -> Result<i32> {
        check_ifname(name)?;
        let mut req = self.request(
            RTM_GETLINK,
            0,
            &IfInfoMsg::default().emit(),
            format!("RTM_GETLINK {name}"),
            format!("{} link show dev {name}", self.ip("ip")),
        );
        req.msg.attr_str(IFLA_IFNAME, name);
        let link = match self.execute(req) {
            Err(e) if e.errno() == Some(libc::ENODEV) => {
                let where_ = self
                    .netns_name()
                    .map(|n| format!(" in netns {n}"))
                    .unwrap_or_default();
                return Err(Error::NotFound(format!("link {name}{where_}")));
            }
            r => self.one_link(r?, name)?,
        };
        self.remember(link.ifindex, &link.name);
        Ok(link.ifindex)
    }

    /// `RTM_GETLINK` by ifindex: one link, with counters.
    pub fn link_get(&mut self, ifindex: i32) -> Result<Link> {
        let hdr = IfInfoMsg {
            index: ifindex,
            ..Default::default()
        };
        let req = self.request(
            RTM_GETLINK,
            0,
            &hdr.emit(),
            format!("RTM_GETLINK ifindex {ifindex}"),
            format!("{} -s link show <ifindex {ifindex}>", self.ip("ip")),
        );
        let r = self.execute(req)?;
        let l = self.one_link(r, &format!("ifindex {ifindex}"))?;
        self.remember(l.ifindex, &l.name);
        Ok(l)
    }

    fn one_link(&self, replies: Vec<crate::handle::Reply>, what: &str) -> Result<Link> {
        let r = replies
            .into_iter()
            .find(|r| r.ty == RTM_NEWLINK)
            .ok_or_else(|| Error::Protocol {
                request: format!("RTM_GETLINK {what}"),
                detail: "ACK without an RTM_NEWLINK".into(),
            })?;
        Link::parse(&r.payload).map_err(|e| Error::Protocol {
            request: format!("RTM_GETLINK {what}"),
            detail: e.to_string(),
        })
    }

    /// `RTM_GETLINK` dump: every link in this namespace. `ip -s -d link show`
    pub fn links(&mut self) -> Result<Vec<Link>> {
        let req = self.request(
            RTM_GETLINK,
            NLM_F_DUMP,
            &IfInfoMsg::default().emit(),
            "RTM_GETLINK dump".into(),
            format!("{} -s -d link show", self.ip("ip")),
        );
        let links = self.dump(req, RTM_NEWLINK, Link::parse)?;
        for l in &links {
            self.remember(l.ifindex, &l.name);
        }
        Ok(links)
    }
}
