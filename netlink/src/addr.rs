//! Addresses and routes: `RTM_NEWADDR` for IPv4 and IPv6 (with `nodad`) and
//! `RTM_NEWROUTE` for an IPv4 route through a device and optional gateway.
//!
//! It follows `include/uapi/linux/if_addr.h` (`struct ifaddrmsg`, `IFA_*`,
//! `IFA_F_NODAD`) and `rtnetlink.h` (`struct rtmsg`, `RTA_*`, `RT_SCOPE_*`,
//! `RTPROT_BOOT`, `RT_TABLE_MAIN`, `RTN_UNICAST`).

use crate::consts::*;
use crate::error::{Error, Result};
use crate::handle::Handle;
use crate::wire::{self, IfAddrMsg, RtMsg, WireError};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One address as `RTM_NEWADDR` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// `ifa_index`.
    pub ifindex: u32,
    /// `IFA_LOCAL` if present (IPv4), else `IFA_ADDRESS`.
    pub addr: IpAddr,
    /// `ifa_prefixlen`.
    pub prefix: u8,
    /// `IFA_FLAGS` if present, else `ifa_flags`.
    pub flags: u32,
}

impl Address {
    /// Decodes an `RTM_NEWADDR` payload.
    pub fn parse(payload: &[u8]) -> std::result::Result<Option<Address>, WireError> {
        let h = IfAddrMsg::parse(payload)?;
        let (mut local, mut address, mut flags) = (None, None, h.flags as u32);
        for a in wire::attrs(payload.get(IfAddrMsg::LEN..).unwrap_or(&[])) {
            let a = a?;
            match a.ty {
                IFA_LOCAL => local = ip_from(h.family, a.payload),
                IFA_ADDRESS => address = ip_from(h.family, a.payload),
                IFA_FLAGS => flags = a.u32().unwrap_or(flags),
                _ => {}
            }
        }
        Ok(local.or(address).map(|addr| Address {
            ifindex: h.index,
            addr,
            prefix: h.prefixlen,
            flags,
        }))
    }
}

pub(crate) fn ip_from(family: u8, b: &[u8]) -> Option<IpAddr> {
    match (family as i32, b.len()) {
        (libc::AF_INET, 4) => <[u8; 4]>::try_from(b).ok().map(|o| IpAddr::V4(o.into())),
        (libc::AF_INET6, 16) => <[u8; 16]>::try_from(b).ok().map(|o| IpAddr::V6(o.into())),
        _ => None,
    }
}

impl Handle {
    /// Adds an IPv4 address: `IFA_LOCAL` and `IFA_ADDRESS` both `addr`, as
    /// `ip addr add ADDR/PREFIX dev X` sends for a broadcast link.
    pub fn addr_add_v4(&mut self, ifindex: i32, addr: Ipv4Addr, prefix: u8) -> Result<()> {
        if prefix > 32 {
            return Err(Error::Invalid(format!("IPv4 prefix length {prefix} > 32")));
        }
        let label = self.dev_label(ifindex);
        let dev = self.dev_arg(ifindex);
        let h = IfAddrMsg {
            family: libc::AF_INET as u8,
            prefixlen: prefix,
            flags: 0,
            scope: RT_SCOPE_UNIVERSE,
            index: ifindex as u32,
        };
        let mut req = self.request(
            RTM_NEWADDR,
            NLM_F_CREATE | NLM_F_EXCL,
            &h.emit(),
            format!("RTM_NEWADDR {addr}/{prefix} on {label}"),
            format!("{} addr add {addr}/{prefix} dev {dev}", self.ip("ip")),
        );
        req.msg.attr(IFA_LOCAL, &addr.octets());
        req.msg.attr(IFA_ADDRESS, &addr.octets());
        self.execute(req).map(drop)
    }

    /// Adds an IPv6 address with `IFA_F_NODAD`, so it is usable at once
    /// (no duplicate address detection wait). `ip -6 addr add A/P dev X nodad`
    pub fn addr_add_v6(&mut self, ifindex: i32, addr: Ipv6Addr, prefix: u8) -> Result<()> {
        if prefix > 128 {
            return Err(Error::Invalid(format!("IPv6 prefix length {prefix} > 128")));
        }
        let label = self.dev_label(ifindex);
        let dev = self.dev_arg(ifindex);
        let h = IfAddrMsg {
            family: libc::AF_INET6 as u8,
            prefixlen: prefix,
            flags: IFA_F_NODAD as u8,
            scope: RT_SCOPE_UNIVERSE,
            index: ifindex as u32,
        };
        let mut req = self.request(
            RTM_NEWADDR,
            NLM_F_CREATE | NLM_F_EXCL,
            &h.emit(),
            format!("RTM_NEWADDR {addr}/{prefix} nodad on {label}"),
            format!(
                "{} -6 addr add {addr}/{prefix} dev {dev} nodad",
                self.ip("ip")
            ),
        );
        req.msg.attr(IFA_ADDRESS, &addr.octets());
        req.msg.attr_u32(IFA_FLAGS, IFA_F_NODAD);
        self.execute(req).map(drop)
    }

    /// Dumps the addresses of one family (`AF_INET`/`AF_INET6`; 0 for all).
    pub fn addrs(&mut self, family: u8) -> Result<Vec<Address>> {
        let h = IfAddrMsg {
            family,
            ..Default::default()
        };
        let req = self.request(
            RTM_GETADDR,
            NLM_F_DUMP,
            &h.emit(),
            "RTM_GETADDR dump".into(),
            format!("{} addr show", self.ip("ip")),
        );
        let addrs = self.dump(req, RTM_NEWADDR, Address::parse)?;
        Ok(addrs.into_iter().flatten().collect())
    }

    /// Adds an IPv4 route to `dst/prefix` out of `ifindex`, through `gateway`
    /// if given. Without a gateway the destination is on the link
    /// (`RT_SCOPE_LINK`); with one, `RT_SCOPE_UNIVERSE`.
    ///
    /// `ip route add DST/PREFIX [via GW] dev X`
    pub fn route_add_v4(
        &mut self,
        dst: Ipv4Addr,
        prefix: u8,
        ifindex: i32,
        gateway: Option<Ipv4Addr>,
    ) -> Result<()> {
        if prefix > 32 {
            return Err(Error::Invalid(format!("IPv4 prefix length {prefix} > 32")));
        }
        let label = self.dev_label(ifindex);
        let dev = self.dev_arg(ifindex);
        let h = RtMsg {
            family: libc::AF_INET as u8,
            dst_len: prefix,
            table: RT_TABLE_MAIN,
            protocol: RTPROT_BOOT,
            scope: if gateway.is_some() {
                RT_SCOPE_UNIVERSE
            } else {
                RT_SCOPE_LINK
            },
            ty: RTN_UNICAST,
            ..Default::default()
        };
        let via = gateway.map(|g| format!(" via {g}")).unwrap_or_default();
        let mut req = self.request(
            RTM_NEWROUTE,
            NLM_F_CREATE | NLM_F_EXCL,
            &h.emit(),
            format!("RTM_NEWROUTE {dst}/{prefix}{via} on {label}"),
            format!("{} route add {dst}/{prefix}{via} dev {dev}", self.ip("ip")),
        );
        if prefix > 0 {
            req.msg.attr(RTA_DST, &dst.octets());
        }
        if let Some(g) = gateway {
            req.msg.attr(RTA_GATEWAY, &g.octets());
        }
        req.msg.attr_u32(RTA_OIF, ifindex as u32);
        self.execute(req).map(drop)
    }

    /// Dumps the IPv4 routes of the main table.
    pub fn routes_v4(&mut self) -> Result<Vec<Route>> {
        let h = RtMsg {
            family: libc::AF_INET as u8,
            ..Default::default()
        };
        let req = self.request(
            RTM_GETROUTE,
            NLM_F_DUMP,
            &h.emit(),
            "RTM_GETROUTE dump".into(),
            format!("{} route show", self.ip("ip")),
        );
        let mut routes = self.dump(req, RTM_NEWROUTE, Route::parse)?;
        routes.retain(|r| r.table == RT_TABLE_MAIN as u32);
        Ok(routes)
    }
}

/// One IPv4 route as `RTM_NEWROUTE` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// `RTA_DST` (0.0.0.0 when `dst_len` is 0).
    pub dst: Ipv4Addr,
    /// `rtm_dst_len`.
    pub prefix: u8,
    /// `RTA_GATEWAY`.
    pub gateway: Option<Ipv4Addr>,
    /// `RTA_OIF`.
    pub oif: Option<u32>,
    /// `RTA_TABLE`, or `rtm_table`.
    pub table: u32,
    /// `rtm_scope`.
    pub scope: u8,
}

impl Route {
    /// Decodes an `RTM_NEWROUTE` payload (IPv4 only; others give 0.0.0.0).
    pub fn parse(payload: &[u8]) -> std::result::Result<Route, WireError> {
        let h = RtMsg::parse(payload)?;
        let mut r = Route {
            dst: Ipv4Addr::UNSPECIFIED,
            prefix: h.dst_len,
            gateway: None,
            oif: None,
            table: h.table as u32,
            scope: h.scope,
        };
        let v4 = |b: &[u8]| <[u8; 4]>::try_from(b).ok().map(Ipv4Addr::from);
        for a in wire::attrs(payload.get(RtMsg::LEN..).unwrap_or(&[])) {
            let a = a?;
            match a.ty {
                RTA_DST => r.dst = v4(a.payload).unwrap_or(r.dst),
                RTA_GATEWAY => r.gateway = v4(a.payload),
                RTA_OIF => r.oif = a.u32().ok(),
                RTA_TABLE => r.table = a.u32().unwrap_or(r.table),
                _ => {}
            }
        }
        Ok(r)
    }
}
