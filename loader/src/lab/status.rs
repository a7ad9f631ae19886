//! `status`: the lab as the kernel sees it right now.
//!
//! Devices come from an `RTM_GETLINK` dump in each namespace (ifindex,
//! `IFLA_ADDRESS`, `IFLA_STATS64`; include/uapi/linux/if_link.h), the filter
//! from an `RTM_GETTFILTER` dump of `veth1@2` ingress (`TCA_BPF_ID`,
//! `TCA_BPF_NAME`, `TCA_BPF_TAG`; include/uapi/linux/pkt_cls.h), and the
//! program from `BPF_PROG_GET_FD_BY_ID` + `BPF_OBJ_GET_INFO_BY_FD`
//! (include/uapi/linux/bpf.h); the lab's pinned links (TCX, netkit) from
//! `BPF_OBJ_GET_INFO_BY_FD` on each pin (`struct bpf_link_info`). `netns_1`'s
//! `Ip: ForwDatagrams` counter
//! (`/proc/net/snmp`) shows whether its stack forwarded anything.

use std::fmt;

use netlink::{BpfFilter, Handle, LinkStats, Netns, TcHook};

use super::plan::{self, LabNames, Side, DEVICES};
use super::privilege::{self, LAB_CAPS};
use super::{procfs, Lab, LabError};
use crate::prog::{ProgInfo, Program};

/// One lab device.
#[derive(Clone, Debug)]
pub struct DeviceStatus {
    pub side: Side,
    pub name: String,
    pub ifindex: i32,
    pub mac: Option<String>,
    pub up: bool,
    /// `IFLA_STATS64`; its `rx_otherhost_dropped` (5.19+) counts the packets
    /// dropped because their destination MAC was not the device's
    /// (`PACKET_OTHERHOST`), which is where `BPF_F_INGRESS` sends the lab's.
    pub stats: Option<LinkStats>,
}

/// The filter on veth1@2 ingress and the program behind it.
#[derive(Clone, Debug)]
pub struct FilterStatus {
    pub filter: BpfFilter,
    /// `None` when the program could not be opened by id.
    pub prog: Option<ProgInfo>,
}

/// Everything `status` shows.
#[derive(Clone, Debug)]
pub struct LabStatus {
    pub names: LabNames,
    pub devices: Vec<DeviceStatus>,
    /// Devices of the plan that are missing, as "veth2@1 in netns_1".
    pub missing: Vec<String>,
    pub filters: Vec<FilterStatus>,
    /// `Ip: ForwDatagrams` of netns_1. With the program attached, packets
    /// from the host to netns_2 bypass netns_1's stack, but everything
    /// netns_2 sends back (echo replies, TCP answers, and the ICMP port
    /// unreachable it sends for a datagram nobody listens for) is forwarded
    /// by that stack and counted here.
    pub netns_1_forwarded: Option<u64>,
    /// XDP programs on lab devices (`IFLA_XDP_ATTACHED`/`IFLA_XDP_PROG_ID`
    /// of the link dump): `--mode xdp` puts one on veth1@2 and the XDP_PASS
    /// one on veth2@2.
    pub xdp: Vec<XdpStatus>,
    /// The TCX link `--mode tcx` pinned, if any, and its program.
    pub tcx: Option<(crate::link::LinkInfo, Option<ProgInfo>)>,
    /// The other links the lab pinned (`--mode netkit`'s `BPF_NETKIT_PEER`
    /// link), whatever their kind: described from `BPF_OBJ_GET_INFO_BY_FD`
    /// (`struct bpf_link_info`), not from the mode.
    pub links: Vec<PinnedLink>,
    /// netns_1's neighbour entries on veth2@1 (`/proc/net/arp`): where
    /// `--mode neigh` and `--mode fib` got veth2@2's MAC from.
    pub neighbours: Vec<(String, String)>,
    /// The entries of the lab's pinned maps (`--mode devmap`'s `ports`).
    pub maps: Vec<super::maps::MapEntry>,
    /// netns_2's view of the datagrams that arrived: `Udp: InDatagrams`
    /// (delivered to a socket), `Udp: NoPorts` (no socket on the port) and
    /// `Icmp: OutDestUnreachs` (the errors it sent back for those).
    pub netns_2_udp: Option<Netns2Udp>,
}

/// A link pinned under the lab's prefix.
#[derive(Clone, Debug)]
pub struct PinnedLink {
    pub pin: std::path::PathBuf,
    pub info: crate::link::LinkInfo,
    pub prog: Option<ProgInfo>,
}

/// An XDP program on a lab device.
#[derive(Clone, Debug)]
pub struct XdpStatus {
    pub side: Side,
    pub dev: String,
    /// `xdpdrv` (native), `xdpgeneric` (SKB mode), ...
    pub mode: &'static str,
    pub prog: Option<ProgInfo>,
    pub prog_id: u32,
}

fn xdp_mode_word(attached: u8) -> &'static str {
    use netlink::consts::*;
    match attached {
        XDP_ATTACHED_DRV => "xdpdrv (native)",
        XDP_ATTACHED_SKB => "xdpgeneric (SKB mode)",
        XDP_ATTACHED_HW => "xdpoffload",
        XDP_ATTACHED_MULTI => "several modes",
        _ => "?",
    }
}

/// `/proc/net/snmp` counters of netns_2 that tell the direction of traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Netns2Udp {
    pub in_datagrams: u64,
    pub no_ports: u64,
    pub icmp_out_dest_unreachs: u64,
}

impl LabStatus {
    /// The device `name` on `side`, if present.
    pub fn device(&self, side: Side, name: &str) -> Option<&DeviceStatus> {
        self.devices
            .iter()
            .find(|d| d.side == side && d.name == name)
    }
}

impl Lab {
    /// Reads the lab's state. Fails with `NotUp` when its namespaces are missing.
    pub fn status(&self) -> Result<LabStatus, LabError> {
        privilege::require("redirect-lab status", &LAB_CAPS).map_err(LabError::Privilege)?;
        self.require_up()?;
        let mut st = LabStatus {
            names: self.names.clone(),
            devices: Vec::new(),
            missing: Vec::new(),
            filters: Vec::new(),
            xdp: Vec::new(),
            tcx: None,
            links: Vec::new(),
            neighbours: Vec::new(),
            maps: self.map_entries(),
            netns_1_forwarded: self.ip_counter(Side::Netns1, "ForwDatagrams").ok(),
            netns_2_udp: self.read_proc(Side::Netns2, "snmp").ok().and_then(|t| {
                Some(Netns2Udp {
                    in_datagrams: procfs::snmp_value(&t, "Udp", "InDatagrams")?,
                    no_ports: procfs::snmp_value(&t, "Udp", "NoPorts")?,
                    icmp_out_dest_unreachs: procfs::snmp_value(&t, "Icmp", "OutDestUnreachs")?,
                })
            }),
        };
        for side in Side::ALL {
            let label = self.names.label(side).to_string();
            let mut h = self.handle_in(side)?;
            let links = h
                .links()
                .map_err(|e| LabError::Failed(format!("listing links in {label}: {e}")))?;
            for (dev_side, dev) in DEVICES.iter().filter(|(s, _)| *s == side) {
                if let Some(l) = links.iter().find(|l| l.name == *dev) {
                    if let (Some(a), Some(id)) = (l.xdp_attached, l.xdp_prog_id) {
                        if a != netlink::consts::XDP_ATTACHED_NONE {
                            st.xdp.push(XdpStatus {
                                side: *dev_side,
                                dev: l.name.clone(),
                                mode: xdp_mode_word(a),
                                prog: Program::from_id(id).ok().and_then(|p| p.info().ok()),
                                prog_id: id,
                            });
                        }
                    }
                }
                match links.iter().find(|l| l.name == *dev) {
                    Some(l) => st.devices.push(DeviceStatus {
                        side: *dev_side,
                        name: l.name.clone(),
                        ifindex: l.ifindex,
                        mac: l.mac_string(),
                        up: l.is_up(),
                        stats: l.stats,
                    }),
                    None => st.missing.push(format!("{dev} in {label}")),
                }
            }
            if side == Side::Netns1 {
                if let Some(l) = links.iter().find(|l| l.name == plan::VETH1_2) {
                    // No clsact qdisc means no filters: an error here is "none".
                    let filters = h
                        .filter_dump(l.ifindex, TcHook::Ingress)
                        .unwrap_or_default();
                    for f in filters {
                        let prog =
                            f.id.and_then(|id| Program::from_id(id).ok())
                                .and_then(|p| p.info().ok());
                        st.filters.push(FilterStatus { filter: f, prog });
                    }
                }
            }
        }
        let pin = plan::tcx_pin_path(&self.names);
        if pin.exists() {
            if let Ok(info) = crate::link::Link::from_pin(&pin).and_then(|l| l.info()) {
                let prog = Program::from_id(info.prog_id)
                    .ok()
                    .and_then(|p| p.info().ok());
                st.tcx = Some((info, prog));
            }
        }
        st.links = self.pinned_links(&pin);
        if let Ok(arp) = self.read_proc(Side::Netns1, "arp") {
            st.neighbours = arp
                .lines()
                .skip(1)
                .filter_map(|l| {
                    let f: Vec<&str> = l.split_whitespace().collect();
                    (f.get(5) == Some(&plan::VETH2_1) && f.get(2) != Some(&"0x0"))
                        .then(|| (f[0].to_string(), f.get(3).unwrap_or(&"?").to_string()))
                })
                .collect();
        }
        Ok(st)
    }

    /// Every link pinned with the lab's prefix except the TCX one (`skip`),
    /// in name order.
    fn pinned_links(&self, skip: &std::path::Path) -> Vec<PinnedLink> {
        let prefix = plan::pin_prefix(&self.names);
        let mut pins: Vec<std::path::PathBuf> = std::fs::read_dir(plan::PIN_DIR)
            .map(|d| {
                d.flatten()
                    .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
                    .map(|e| e.path())
                    .filter(|p| p != skip)
                    .collect()
            })
            .unwrap_or_default();
        pins.sort();
        pins.into_iter()
            .filter_map(|pin| {
                // A pinned map (devmap's ports) is not a link: from_pin says so.
                let info = crate::link::Link::from_pin(&pin)
                    .and_then(|l| l.info())
                    .ok()?;
                let prog = Program::from_id(info.prog_id)
                    .ok()
                    .and_then(|p| p.info().ok());
                Some(PinnedLink { pin, info, prog })
            })
            .collect()
    }

    /// A device's counters (`IFLA_STATS64` of an `RTM_GETLINK` reply,
    /// `struct rtnl_link_stats64`), as `netlink` reads them.
    pub fn link_stats(&self, side: Side, dev: &str) -> Result<LinkStats, LabError> {
        let label = self.names.label(side).to_string();
        let mut h = self.handle_in(side)?;
        let ifindex = h
            .link_index(dev)
            .map_err(|e| LabError::NotUp(format!("{dev} in {label}: {e}")))?;
        let link = h.link_get(ifindex).map_err(|e| {
            LabError::Failed(format!("reading the counters of {dev} in {label}: {e}"))
        })?;
        link.stats
            .ok_or_else(|| LabError::Failed(format!("no IFLA_STATS64 for {dev} in {label}")))
    }

    /// A netlink socket in a side's namespace.
    pub fn handle_in(&self, side: Side) -> Result<Handle, LabError> {
        let label = self.names.label(side);
        let r = match self.names.netns(side) {
            None => Handle::new(),
            Some(ns) => Netns::open(ns).and_then(|ns| Handle::in_netns(&ns)),
        };
        r.map_err(|e| LabError::Failed(format!("netlink socket in {label}: {e}")))
    }
}

impl fmt::Display for LabStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "devices:")?;
        writeln!(
            f,
            "  {:<12} {:<9} {:>7}  {:<17}  {:<4}  {:>9} {:>11}  {:>9} {:>11}  {:>7} {:>7}  {:>9}",
            "namespace",
            "device",
            "ifindex",
            "mac",
            "up",
            "rx pkts",
            "rx bytes",
            "tx pkts",
            "tx bytes",
            "rx drop",
            "tx drop",
            "otherhost"
        )?;
        for d in &self.devices {
            let s = d.stats.unwrap_or_default();
            writeln!(
                f,
                "  {:<12} {:<9} {:>7}  {:<17}  {:<4}  {:>9} {:>11}  {:>9} {:>11}  {:>7} {:>7}  {:>9}",
                self.names.label(d.side),
                d.name,
                d.ifindex,
                d.mac.as_deref().unwrap_or("-"),
                if d.up { "up" } else { "down" },
                s.rx_packets,
                s.rx_bytes,
                s.tx_packets,
                s.tx_bytes,
                s.rx_dropped,
                s.tx_dropped,
                s.rx_otherhost_dropped
                    .map(|n| n.to_string())
                    .unwrap_or_else(|| "-".into())
            )?;
        }
        for m in &self.missing {
            writeln!(f, "  missing: {m}")?;
        }
        writeln!(
            f,
            "filter on {} ingress ({}):",
            plan::VETH1_2,
            self.names.netns_1
        )?;
        let on_veth1_2 = self.xdp.iter().any(|x| x.dev == plan::VETH1_2) || self.tcx.is_some();
        if self.filters.is_empty() && on_veth1_2 {
            writeln!(f, "  none: the program is attached another way (below)")?;
        } else if self.filters.is_empty() {
            writeln!(
                f,
                "  none: {} forwards with its own IP stack",
                self.names.netns_1
            )?;
        }
        for fs in &self.filters {
            let flt = &fs.filter;
            writeln!(
                f,
                "  bpf name {} prio {} handle {:#x}{} id {} tag {}",
                flt.name.as_deref().unwrap_or("-"),
                flt.prio,
                flt.handle,
                if flt.direct_action() {
                    " direct-action"
                } else {
                    ""
                },
                flt.id.map(|i| i.to_string()).unwrap_or_else(|| "-".into()),
                flt.tag_hex().unwrap_or_else(|| "-".into()),
            )?;
            match &fs.prog {
                Some(p) => writeln!(
                    f,
                    "  program {}: {} name {} tag {}, {} insns as the kernel runs them (xlated {} B, jited {} B)",
                    p.id,
                    p.type_name(),
                    p.name,
                    p.tag_hex(),
                    p.xlated_len / 8,
                    p.xlated_len,
                    p.jited_len
                )?,
                None => writeln!(f, "  program: could not be opened by id")?,
            }
        }
        for x in &self.xdp {
            write!(
                f,
                "xdp on {} ({}): {}, program {}",
                x.dev,
                self.names.label(x.side),
                x.mode,
                x.prog_id
            )?;
            match &x.prog {
                Some(p) => writeln!(f, " name {} tag {}", p.name, p.tag_hex())?,
                None => writeln!(f)?,
            }
        }
        if let Some((l, p)) = &self.tcx {
            writeln!(
                f,
                "tcx link {} on {} ingress ({}), pinned at {}: program {}{}",
                l.id,
                plan::VETH1_2,
                if l.ifindex.unwrap_or(0) == 0 {
                    "detached: its device is gone"
                } else {
                    "attached"
                },
                plan::tcx_pin_path(&self.names).display(),
                l.prog_id,
                p.as_ref()
                    .map(|p| format!(" name {} tag {}", p.name, p.tag_hex()))
                    .unwrap_or_default()
            )?;
        }
        for l in &self.links {
            let i = &l.info;
            // A BPF_NETKIT_PEER link reports the device its programs run on,
            // the peer (netkit_link_fill_info: nkl->dev), which is in
            // netns_2; every other link of the lab is on a netns_1 device.
            let peer = i.attach_type == Some(crate::types::AttachType::NetkitPeer.raw());
            let side = if peer { Side::Netns2 } else { Side::Netns1 };
            let dev = i.ifindex.and_then(|idx| {
                self.devices
                    .iter()
                    .find(|d| d.side == side && d.ifindex as u32 == idx)
                    .map(|d| format!("{} in {}", d.name, self.names.label(side)))
            });
            writeln!(
                f,
                "{} link {}{} on {} ({}), pinned at {}: program {}{}",
                crate::types::LinkType::from_raw(i.link_type)
                    .map(|t| t.short_name().to_string())
                    .unwrap_or_else(|| format!("type {}", i.link_type)),
                i.id,
                i.attach_type
                    .and_then(crate::types::AttachType::from_raw)
                    .map(|a| format!(" ({})", a.kernel_name()))
                    .unwrap_or_default(),
                dev.as_deref().unwrap_or("?"),
                match i.ifindex {
                    Some(0) => "detached: its device is gone",
                    _ => "attached",
                },
                l.pin.display(),
                i.prog_id,
                l.prog
                    .as_ref()
                    .map(|p| format!(" name {} tag {}", p.name, p.tag_hex()))
                    .unwrap_or_default()
            )?;
        }
        for e in &self.maps {
            writeln!(
                f,
                "map {}[{}] = ifindex {} ({})",
                e.map,
                e.key,
                e.ifindex,
                e.dev.as_deref().unwrap_or("no such device in netns_1")
            )?;
        }
        for (ip, mac) in &self.neighbours {
            writeln!(
                f,
                "{} neighbour on {}: {ip} is {mac} (learnt by ARP; what bpf_redirect_neigh \
                 and bpf_fib_lookup write as the destination MAC)",
                self.names.netns_1,
                plan::VETH2_1
            )?;
        }
        writeln!(
            f,
            "(otherhost: received but dropped because the destination MAC was not the device's; \
             a native XDP redirect into a veth without a receiver is an rx drop of veth1@2 on \
             6.3+, a tx drop of veth2@1 before)"
        )?;
        if let Some(n) = self.netns_1_forwarded {
            // A BPF_NETKIT_PEER link takes netns_2's replies before netns_1's
            // stack sees them (--mode netkit); otherwise they all cross it.
            let peer_prog = self.links.iter().any(|l| {
                l.info.attach_type == Some(crate::types::AttachType::NetkitPeer.raw())
                    && l.info.ifindex.unwrap_or(0) != 0
            });
            let back = if peer_prog {
                format!(
                    "the way back skips this stack too: the BPF_NETKIT_PEER program sends {}'s \
                     replies out of {}",
                    self.names.netns_2,
                    plan::VETH1_2
                )
            } else {
                format!(
                    "the way back: replies and ICMP errors from {} cross this stack; with the \
                     program, the way there does not",
                    self.names.netns_2
                )
            };
            writeln!(
                f,
                "{} IP stack: Ip ForwDatagrams = {n} ({back})",
                self.names.netns_1
            )?;
        }
        if let Some(u) = self.netns_2_udp {
            writeln!(
                f,
                "{} UDP: InDatagrams = {} (reached a socket), NoPorts = {} (no listener: \
                 each answered with an ICMP port unreachable, Icmp OutDestUnreachs = {})",
                self.names.netns_2, u.in_datagrams, u.no_ports, u.icmp_out_dest_unreachs
            )?;
        }
        Ok(())
    }
}
