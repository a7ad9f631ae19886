//! The lab's topology as plain data: names, addresses, MACs, and the ordered
//! list of steps that builds it, in the seed's order.
//!
//! It follows the `up` target of the seed's Makefile
//! (`../shared/seed/ebpf-packet-redirection.txt`): every `ip`/`tc` line there
//! is one [`Step`] here, plus the steps the seed misses on a plain host
//! (forwarding in `netns_1`, proxy ARP on `veth2@1`, `lo` up). Nothing in this
//! module touches the kernel, so the whole plan can be printed, tested and
//! read before anything runs; `up.rs` executes it with netlink.
//!
//! ```text
//! | host (or PREFIX_host) | netns_1                 | netns_2              |
//! | veth1@1 10.0.1.10  ---|--- veth1@2 10.0.1.11    |                      |
//! |                       |    [tc ingress: redirect]                      |
//! |                       |    veth2@1 10.0.2.10 ---|--- veth2@2 10.0.2.11 |
//! |                       |                         |   02:00:00:00:00:00  |
//! ```

use std::fmt;
use std::net::Ipv4Addr;

use super::mode::{self, Extra, Hook, Mode};

/// The device in the host namespace, the host's end of the first wire.
pub const VETH1_1: &str = "veth1@1";
/// `netns_1`'s end of the first wire; the program runs on its ingress.
pub const VETH1_2: &str = "veth1@2";
/// `netns_1`'s end of the second wire; the redirect target.
pub const VETH2_1: &str = "veth2@1";
/// `netns_2`'s end of the second wire, with the fixed MAC [`DEST_MAC`].
pub const VETH2_2: &str = "veth2@2";

/// The seed's namespace names; `--prefix P` turns them into `P_netns_1`...
pub const NETNS_1: &str = "netns_1";
pub const NETNS_2: &str = "netns_2";
/// The suffix of the isolated stand-in for the host namespace (prefix mode).
pub const HOST: &str = "host";

pub const HOST_ADDR: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 10);
pub const VETH1_2_ADDR: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 11);
pub const VETH2_1_ADDR: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 10);
/// The listener's address, and the program's `DEST_IP`.
pub const DEST_ADDR: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 11);
pub const SUBNET_1: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 0);
pub const SUBNET_2: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 0);
pub const PREFIX_LEN: u8 = 24;
/// The UDP port the seed's `nc -u -l 10.0.2.11 7777` listens on.
pub const LISTEN_PORT: u16 = 7777;
/// veth2@2's MAC, hard-coded by the seed so the program knows what to write.
pub const DEST_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0];

/// The name of the cls_bpf filter (`TCA_BPF_NAME`), shown by
/// `tc filter show` as `bpf name redirect-lab`.
pub const FILTER_NAME: &str = "redirect-lab";
/// The program's name (`BPF_OBJ_NAME_LEN` allows 15 bytes), as `bpftool prog
/// show` prints it.
pub const PROG_NAME: &str = "redirect";
/// The tc priority of our filter: fixed, so `up` replaces the same filter.
pub const FILTER_PRIO: u16 = 1;

/// The longest prefix we accept: names end up in `/run/netns/`, where the
/// netns name plus "_netns_1" must stay a sane file name.
pub const MAX_PREFIX_LEN: usize = 32;

/// One of the lab's three network namespaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// The host side: the real host namespace in plain mode, `P_host` with a prefix.
    Host,
    /// The middle namespace whose stack the redirect skips.
    Netns1,
    /// The namespace with the listener.
    Netns2,
}

impl Side {
    pub const ALL: [Side; 3] = [Side::Host, Side::Netns1, Side::Netns2];
}

/// The names of one lab instance: the seed's, or the same with a prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabNames {
    /// `None` for the seed's lab, which uses the real host namespace.
    pub prefix: Option<String>,
    pub netns_1: String,
    pub netns_2: String,
    /// `None` for the real host namespace (plain mode).
    pub host: Option<String>,
}

impl LabNames {
    /// The seed's names: `netns_1`, `netns_2`, and the real host namespace.
    pub fn seed() -> LabNames {
        LabNames {
            prefix: None,
            netns_1: NETNS_1.to_string(),
            netns_2: NETNS_2.to_string(),
            host: None,
        }
    }

    /// Names for an isolated lab: `P_host`, `P_netns_1`, `P_netns_2`. Only
    /// letters, digits, `-` and `_` are allowed, since the names become files
    /// in `/run/netns/` and arguments of `ip netns exec`.
    pub fn with_prefix(prefix: &str) -> Result<LabNames, String> {
        if prefix.is_empty() {
            return Err("the lab prefix is empty; give letters, digits, '-' or '_'".into());
        }
        if prefix.len() > MAX_PREFIX_LEN {
            return Err(format!(
                "the lab prefix {prefix:?} is {} bytes long; at most {MAX_PREFIX_LEN} are allowed",
                prefix.len()
            ));
        }
        if let Some(bad) = prefix
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Err(format!(
                "the lab prefix {prefix:?} contains {bad:?}; only letters, digits, '-' and '_' are allowed"
            ));
        }
        Ok(LabNames {
            prefix: Some(prefix.to_string()),
            netns_1: format!("{prefix}_{NETNS_1}"),
            netns_2: format!("{prefix}_{NETNS_2}"),
            host: Some(format!("{prefix}_{HOST}")),
        })
    }

    /// `seed()` for `None`, `with_prefix()` otherwise.
    pub fn new(prefix: Option<&str>) -> Result<LabNames, String> {
        match prefix {
            None => Ok(LabNames::seed()),
            Some(p) => LabNames::with_prefix(p),
        }
    }

    /// The named namespace of a side; `None` means the real host namespace.
    pub fn netns(&self, side: Side) -> Option<&str> {
        match side {
            Side::Host => self.host.as_deref(),
            Side::Netns1 => Some(&self.netns_1),
            Side::Netns2 => Some(&self.netns_2),
        }
    }

    /// How a user names the side in text: `netns_1`, or `host` for the real one.
    pub fn label(&self, side: Side) -> &str {
        self.netns(side).unwrap_or("host")
    }

    /// Every named namespace this lab creates, in creation order.
    pub fn namespaces(&self) -> Vec<&str> {
        Side::ALL.iter().filter_map(|s| self.netns(*s)).collect()
    }

    /// The `--prefix` argument that names this lab on the command line.
    pub fn prefix_arg(&self) -> String {
        match &self.prefix {
            Some(p) => format!(" --prefix {p}"),
            None => String::new(),
        }
    }
}

/// The devices of the lab, with the side each lives on.
pub const DEVICES: [(Side, &str); 4] = [
    (Side::Host, VETH1_1),
    (Side::Netns1, VETH1_2),
    (Side::Netns1, VETH2_1),
    (Side::Netns2, VETH2_2),
];

/// A sysctl the lab writes, relative to `/proc/sys/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sysctl {
    pub path: String,
    pub value: &'static str,
}

/// One step of building the lab, as data. Each maps to one netlink request
/// (or one sysctl write), and prints as the `ip`/`tc` command it replaces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// `ip netns add NAME`: a namespace bind-mounted under `/run/netns/`.
    AddNetns { side: Side },
    /// `ip link set lo up`: the seed leaves `lo` down in its namespaces.
    LoopbackUp { side: Side },
    /// `ip link add NAME type veth peer name PEER netns PEER_NS`.
    AddVeth {
        side: Side,
        name: &'static str,
        peer: &'static str,
        peer_side: Side,
    },
    /// `ip link add NAME type netkit mode l2 ... peer name PEER netns
    /// PEER_NS`: a netkit pair (Linux 6.7) in place of a veth pair; `NAME`
    /// is the primary, the end that owns the BPF programs of both. netkit
    /// on 6.12 and 7.2 refuses a MAC both at creation (`netkit_validate`:
    /// "Setting Ethernet address is not supported") and later (EOPNOTSUPP),
    /// so the peer keeps its random one: `peer_mac` is `None` in the lab.
    AddNetkit {
        side: Side,
        name: &'static str,
        peer: &'static str,
        peer_side: Side,
        peer_mac: Option<[u8; 6]>,
    },
    /// `ip addr add ADDR/LEN dev DEV`.
    AddAddr {
        side: Side,
        dev: &'static str,
        addr: Ipv4Addr,
        prefix_len: u8,
    },
    /// `ip link set DEV up`.
    LinkUp { side: Side, dev: &'static str },
    /// `ip route add DST/LEN dev DEV`.
    AddRoute {
        side: Side,
        dst: Ipv4Addr,
        prefix_len: u8,
        dev: &'static str,
    },
    /// `echo VALUE > /proc/sys/PATH`, inside the side's namespace.
    Sysctl { side: Side, sysctl: Sysctl },
    /// `ip link set dev DEV addr MAC`.
    SetMac {
        side: Side,
        dev: &'static str,
        mac: [u8; 6],
    },
    /// Look up the redirect target's ifindex by name: the seed's
    /// `#define TARGET_INTF 3` is only right by luck.
    ResolveIfindex { side: Side, dev: &'static str },
    /// Assemble and `BPF_PROG_LOAD` the mode's program with the ifindex
    /// found above.
    LoadProgram { source: &'static str },
    /// `tc qdisc replace dev DEV clsact`.
    AddClsact { side: Side, dev: &'static str },
    /// `tc filter replace dev DEV ingress prio 1 bpf direct-action ...`.
    AttachFilter { side: Side, dev: &'static str },
    /// `BPF_LINK_CREATE` with `BPF_TCX_INGRESS`, pinned (falls back to the
    /// two steps above where the kernel has no TCX).
    AttachTcx { side: Side, dev: &'static str },
    /// `ip link set dev DEV xdpdrv|xdpgeneric ...`: `IFLA_XDP`.
    AttachXdp {
        side: Side,
        dev: &'static str,
        generic: bool,
    },
    /// A step of the mode (see [`mode::Extra`]).
    Extra(Extra),
    /// `bpftool map create PIN type T key K value V entries N name NAME`.
    CreateMap { map: &'static mode::LabMap },
    /// `bpftool map update pinned PIN key KEY value <ifindex of DEV>`, from
    /// inside netns_1: a devmap resolves the ifindex in the caller's netns.
    FillMap {
        map: &'static mode::LabMap,
        key: u32,
        dev: &'static str,
    },
}

impl Step {
    /// Whether the step is one the seed's Makefile does not have, and why we
    /// need it.
    pub fn why_added(&self) -> Option<&'static str> {
        match self {
            Step::LoopbackUp { .. } => Some("lo up, so local sockets in the namespace work"),
            Step::Sysctl { sysctl, .. } if sysctl.path.ends_with("ip_forward") => Some(
                "proxy ARP only answers on an interface with IPv4 forwarding on; \
                 a new netns inherits the host's ip_forward, often 0",
            ),
            Step::Sysctl { sysctl, .. } if sysctl.path.ends_with("proxy_delay") => Some(
                "proxy ARP answers a broadcast request after a random wait of up to \
                 proxy_delay (0.8 s by default); 0 answers at once, so the first packet is not late",
            ),
            Step::Sysctl { sysctl, .. } if sysctl.path.contains(VETH2_1) => {
                Some("replies from netns_2 need their ARP answered by veth2@1")
            }
            Step::AddNetkit { .. } => Some(
                "--mode netkit: the netns_1 -> netns_2 link is a netkit pair in L2 mode \
                 (Ethernet framing and ARP), not a veth pair",
            ),
            Step::ResolveIfindex { .. } => {
                Some("the target ifindex is looked up, not assumed to be 3")
            }
            Step::LoadProgram { .. } => {
                Some("the program is assembled and loaded by bpf(2), not by tc")
            }
            Step::Extra(Extra::XdpPassOnPeer) => Some(
                "a native XDP redirect into veth2@1 is only received when veth2@2 runs XDP",
            ),
            Step::Extra(Extra::TxChecksumOff { .. }) => Some(
                "an XDP frame loses the sender's CHECKSUM_PARTIAL: without this netns_2 drops \
                 it as Udp InCsumErrors",
            ),
            Step::Extra(Extra::Link(p)) if p.attach == crate::types::AttachType::NetkitPeer => {
                Some(
                    "--mode netkit: the way back runs a program on the netkit pair itself \
                     (BPF_NETKIT_PEER, at veth2@2's transmit), so replies skip netns_1's stack too",
                )
            }
            Step::Extra(Extra::Link(_)) => Some(
                "--mode netkit --pitfall: the same program on the primary's own transmit \
                 (BPF_NETKIT_PRIMARY), where netns_2's replies never pass",
            ),
            Step::Extra(_) => Some("this mode's pitfall, asked for with --pitfall"),
            Step::CreateMap { .. } | Step::FillMap { .. } => {
                Some("the program's map, pinned so `redirect-lab map set` can retarget it")
            }
            Step::AddNetns { side: Side::Host } => {
                Some("an isolated stand-in for the host namespace")
            }
            _ => None,
        }
    }

    /// The `ip`/`tc` command line this step replaces, as the seed would run it.
    pub fn command(&self, names: &LabNames) -> String {
        let exec = |side: Side| match names.netns(side) {
            Some(ns) => format!("ip netns exec {ns} "),
            None => String::new(),
        };
        match self {
            Step::AddNetns { side } => format!("ip netns add {}", names.label(*side)),
            Step::LoopbackUp { side } => format!("{}ip link set lo up", exec(*side)),
            Step::AddVeth {
                side,
                name,
                peer,
                peer_side,
            } => format!(
                "{}ip link add name {name} type veth peer name {peer} netns {}",
                exec(*side),
                names.label(*peer_side)
            ),
            Step::AddNetkit {
                side,
                name,
                peer,
                peer_side,
                peer_mac,
            } => format!(
                "{}ip link add name {name} type netkit mode l2 forward peer forward name \
                 {peer}{} netns {}",
                exec(*side),
                peer_mac
                    .map(|m| format!(" address {}", MacDisplay(&m)))
                    .unwrap_or_default(),
                names.label(*peer_side)
            ),
            Step::AddAddr {
                side,
                dev,
                addr,
                prefix_len,
            } => format!("{}ip addr add {addr}/{prefix_len} dev {dev}", exec(*side)),
            Step::LinkUp { side, dev } => format!("{}ip link set {dev} up", exec(*side)),
            Step::AddRoute {
                side,
                dst,
                prefix_len,
                dev,
            } => format!("{}ip route add {dst}/{prefix_len} dev {dev}", exec(*side)),
            Step::Sysctl { side, sysctl } => format!(
                "{}sh -c 'echo {} > /proc/sys/{}'",
                exec(*side),
                sysctl.value,
                sysctl.path
            ),
            Step::SetMac { side, dev, mac } => {
                format!(
                    "{}ip link set dev {dev} addr {}",
                    exec(*side),
                    MacDisplay(mac)
                )
            }
            Step::ResolveIfindex { side, dev } => {
                format!("{}cat /sys/class/net/{dev}/ifindex", exec(*side))
            }
            Step::LoadProgram { source } => {
                format!("redirect-lab asm {source} -D TARGET_IFINDEX=<ifindex> -o prog.o")
            }
            Step::AddClsact { side, dev } => {
                format!("{}tc qdisc replace dev {dev} clsact", exec(*side))
            }
            Step::AttachFilter { side, dev } => format!(
                "{}tc filter replace dev {dev} ingress prio {FILTER_PRIO} bpf direct-action \
                 object-file prog.o section tc",
                exec(*side)
            ),
            Step::AttachTcx { side, dev } => format!(
                "{}bpftool net attach tcx_ingress pinned /sys/fs/bpf/prog dev {dev} && \
                 bpftool link pin <id> {}",
                exec(*side),
                tcx_pin_path(names).display()
            ),
            Step::AttachXdp { side, dev, generic } => format!(
                "{}ip link set dev {dev} {} obj prog.o sec xdp",
                exec(*side),
                if *generic { "xdpgeneric" } else { "xdpdrv" }
            ),
            Step::Extra(e) => e.command(names),
            Step::CreateMap { map } => format!(
                "bpftool map create {} type {} key {} value {} entries {} name {}",
                map_pin_path(names, map.name).display(),
                map.map_type.short_name(),
                map.key_size,
                map.value_size,
                map.max_entries,
                map.name
            ),
            Step::FillMap { map, key, dev } => format!(
                "{}bpftool map update pinned {} key {key} 0 0 0 value <ifindex of {dev}>",
                exec(Side::Netns1),
                map_pin_path(names, map.name).display()
            ),
        }
    }
}

/// The bpffs directory the lab pins in, and the file name prefix of its
/// pins: `down` removes every file that starts with it.
pub const PIN_DIR: &str = "/sys/fs/bpf";
pub fn pin_prefix(names: &LabNames) -> String {
    format!("redirect-lab-{}-", names.netns_1)
}

/// Where `up --mode tcx` pins its link, so it outlives the process; `down`
/// removes it.
pub fn tcx_pin_path(names: &LabNames) -> std::path::PathBuf {
    std::path::Path::new(PIN_DIR).join(format!("{}tcx", pin_prefix(names)))
}

/// Where `up` pins a mode's second program's link (`--mode netkit`:
/// `...-netkit_peer`); `down` removes it with the lab's other pins.
pub fn link_pin_path(names: &LabNames, attach: crate::types::AttachType) -> std::path::PathBuf {
    std::path::Path::new(PIN_DIR).join(format!("{}{}", pin_prefix(names), attach.short_name()))
}

/// Where `up` pins a mode's map, which `redirect-lab map set` opens.
pub fn map_pin_path(names: &LabNames, map: &str) -> std::path::PathBuf {
    std::path::Path::new(PIN_DIR).join(format!("{}map-{map}", pin_prefix(names)))
}

/// What `up` should build beyond the topology.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlanOptions {
    /// Build the topology but attach no program: netns_1 forwards with its
    /// own IP stack (the baseline the redirect is compared against).
    pub no_program: bool,
    /// The technique.
    pub mode: &'static Mode,
    /// Reproduce the mode's pitfall.
    pub pitfall: bool,
    /// XDP modes: `XDP_FLAGS_SKB_MODE` instead of native.
    pub xdp_generic: bool,
}

impl Default for PlanOptions {
    fn default() -> PlanOptions {
        PlanOptions {
            no_program: false,
            mode: mode::default_mode(),
            pitfall: false,
            xdp_generic: false,
        }
    }
}

/// The whole build, in order.
pub fn steps(names: &LabNames, options: PlanOptions) -> Vec<Step> {
    use Side::*;
    let fwd = |side, path: String| Step::Sysctl {
        side,
        sysctl: Sysctl { path, value: "1" },
    };
    let no_delay = |side, path: String| Step::Sysctl {
        side,
        sysctl: Sysctl { path, value: "0" },
    };
    let mut steps = Vec::new();
    if names.host.is_some() {
        steps.push(Step::AddNetns { side: Host });
        steps.push(Step::LoopbackUp { side: Host });
    }
    steps.extend([
        Step::AddNetns { side: Netns1 },
        Step::AddNetns { side: Netns2 },
        Step::LoopbackUp { side: Netns1 },
        Step::LoopbackUp { side: Netns2 },
        Step::AddVeth {
            side: Host,
            name: VETH1_1,
            peer: VETH1_2,
            peer_side: Netns1,
        },
        Step::AddAddr {
            side: Host,
            dev: VETH1_1,
            addr: HOST_ADDR,
            prefix_len: PREFIX_LEN,
        },
        Step::AddAddr {
            side: Netns1,
            dev: VETH1_2,
            addr: VETH1_2_ADDR,
            prefix_len: PREFIX_LEN,
        },
        Step::AddVeth {
            side: Netns1,
            name: VETH2_1,
            peer: VETH2_2,
            peer_side: Netns2,
        },
        Step::AddAddr {
            side: Netns1,
            dev: VETH2_1,
            addr: VETH2_1_ADDR,
            prefix_len: PREFIX_LEN,
        },
        Step::AddAddr {
            side: Netns2,
            dev: VETH2_2,
            addr: DEST_ADDR,
            prefix_len: PREFIX_LEN,
        },
        Step::LinkUp {
            side: Host,
            dev: VETH1_1,
        },
        Step::LinkUp {
            side: Netns1,
            dev: VETH1_2,
        },
        Step::LinkUp {
            side: Netns1,
            dev: VETH2_1,
        },
        Step::LinkUp {
            side: Netns2,
            dev: VETH2_2,
        },
        Step::AddRoute {
            side: Host,
            dst: SUBNET_2,
            prefix_len: PREFIX_LEN,
            dev: VETH1_1,
        },
        Step::AddRoute {
            side: Netns2,
            dst: SUBNET_1,
            prefix_len: PREFIX_LEN,
            dev: VETH2_2,
        },
        // ip_forward=1 turns forwarding on for every device already in
        // netns_1 (devinet_sysctl_forward), so it comes after the veths.
        fwd(Netns1, "net/ipv4/ip_forward".into()),
        fwd(Netns1, format!("net/ipv4/conf/{VETH1_2}/proxy_arp")),
        fwd(Netns1, format!("net/ipv4/conf/{VETH2_1}/proxy_arp")),
        no_delay(Netns1, format!("net/ipv4/neigh/{VETH1_2}/proxy_delay")),
        no_delay(Netns1, format!("net/ipv4/neigh/{VETH2_1}/proxy_delay")),
        Step::SetMac {
            side: Netns2,
            dev: VETH2_2,
            mac: DEST_MAC,
        },
    ]);
    if options.no_program {
        return steps;
    }
    let m = options.mode;
    let pitfall_has = |e: mode::ExtraRef| {
        options.pitfall && m.pitfall.as_ref().is_some_and(|p| p.extras.contains(&e))
    };
    if pitfall_has(mode::ExtraRef::NoAddrOnTarget) {
        // Without its address veth2@1 has no connected route either.
        steps.retain(|s| !matches!(s, Step::AddAddr { dev: VETH2_1, .. }));
    }
    if m.extras.contains(&mode::ExtraRef::NetkitPair) {
        // The same two ends, the same names and addresses: only the kind of
        // the netns_1 -> netns_2 link changes.
        for s in steps.iter_mut() {
            if let Step::AddVeth {
                side,
                name: VETH2_1,
                peer,
                peer_side,
            } = *s
            {
                *s = Step::AddNetkit {
                    side,
                    name: VETH2_1,
                    peer,
                    peer_side,
                    // No fixed MAC: see Step::AddNetkit; peer.s needs none.
                    peer_mac: None,
                };
            }
        }
        steps.retain(|s| !matches!(s, Step::SetMac { dev: VETH2_2, .. }));
    }
    steps.extend(m.extras(options.pitfall).into_iter().map(Step::Extra));
    steps.push(Step::ResolveIfindex {
        side: Netns1,
        dev: m.target(options.pitfall),
    });
    for map in m.maps {
        steps.push(Step::CreateMap { map });
        for (key, dev) in map.initial {
            steps.push(Step::FillMap {
                map,
                key: *key,
                dev,
            });
        }
    }
    steps.push(Step::LoadProgram { source: m.source });
    match m.hook {
        Hook::TcIngress => steps.extend([
            Step::AddClsact {
                side: Netns1,
                dev: VETH1_2,
            },
            Step::AttachFilter {
                side: Netns1,
                dev: VETH1_2,
            },
        ]),
        Hook::TcxIngress => steps.push(Step::AttachTcx {
            side: Netns1,
            dev: VETH1_2,
        }),
        Hook::Xdp => steps.push(Step::AttachXdp {
            side: Netns1,
            dev: VETH1_2,
            generic: options.xdp_generic,
        }),
    }
    steps
}

/// Prints a MAC the way `ip link` does: `02:00:00:00:00:00`.
pub struct MacDisplay<'a>(pub &'a [u8]);

impl fmt::Display for MacDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// `DEST_MAC` as the 48-bit number `bpf-src/redirect.s` takes in `-D DEST_MAC=`.
pub fn mac_as_u48(mac: [u8; 6]) -> u64 {
    mac.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_names_use_the_real_host() {
        let n = LabNames::seed();
        assert_eq!(n.namespaces(), vec!["netns_1", "netns_2"]);
        assert_eq!(n.netns(Side::Host), None);
        assert_eq!(n.label(Side::Host), "host");
    }

    #[test]
    fn prefixed_names_isolate_every_side() {
        let n = LabNames::with_prefix("T42").unwrap();
        assert_eq!(
            n.namespaces(),
            vec!["T42_host", "T42_netns_1", "T42_netns_2"]
        );
        assert_eq!(n.prefix_arg(), " --prefix T42");
    }

    #[test]
    fn bad_prefixes_are_refused_with_the_reason() {
        assert!(LabNames::with_prefix("").unwrap_err().contains("empty"));
        assert!(LabNames::with_prefix("a/b").unwrap_err().contains("'/'"));
        assert!(LabNames::with_prefix("x y").unwrap_err().contains("' '"));
        let long = "x".repeat(MAX_PREFIX_LEN + 1);
        assert!(LabNames::with_prefix(&long)
            .unwrap_err()
            .contains("at most"));
        assert!(LabNames::with_prefix("ok-Name_9").is_ok());
    }

    #[test]
    fn plain_mode_touches_the_host_only_as_the_seed_does() {
        // The real host namespace gets exactly the seed's changes: the veth,
        // its address, its link state and the route. No sysctl, no lo.
        let host_steps: Vec<String> = steps(&LabNames::seed(), PlanOptions::default())
            .iter()
            .filter(|s| match s {
                Step::AddNetns { side }
                | Step::LoopbackUp { side }
                | Step::AddVeth { side, .. }
                | Step::AddNetkit { side, .. }
                | Step::AddAddr { side, .. }
                | Step::LinkUp { side, .. }
                | Step::AddRoute { side, .. }
                | Step::Sysctl { side, .. }
                | Step::SetMac { side, .. }
                | Step::ResolveIfindex { side, .. }
                | Step::AddClsact { side, .. }
                | Step::AttachFilter { side, .. }
                | Step::AttachTcx { side, .. }
                | Step::AttachXdp { side, .. } => *side == Side::Host,
                Step::LoadProgram { .. }
                | Step::Extra(_)
                | Step::CreateMap { .. }
                | Step::FillMap { .. } => false,
            })
            .map(|s| s.command(&LabNames::seed()))
            .collect();
        assert_eq!(
            host_steps,
            vec![
                "ip link add name veth1@1 type veth peer name veth1@2 netns netns_1",
                "ip addr add 10.0.1.10/24 dev veth1@1",
                "ip link set veth1@1 up",
                "ip route add 10.0.2.0/24 dev veth1@1",
            ]
        );
    }

    #[test]
    fn the_plan_follows_the_seed_and_adds_what_it_misses() {
        let names = LabNames::with_prefix("T1").unwrap();
        let cmds: Vec<String> = steps(&names, PlanOptions::default())
            .iter()
            .map(|s| s.command(&names))
            .collect();
        let pos = |needle: &str| {
            cmds.iter()
                .position(|c| c.contains(needle))
                .unwrap_or_else(|| panic!("no step {needle:?} in {cmds:#?}"))
        };
        assert_eq!(pos("ip netns add T1_host"), 0);
        // Forwarding is turned on after the veths exist, so it reaches them.
        assert!(pos("ip_forward") > pos("veth2@1 type veth"));
        assert!(pos("ip netns exec T1_netns_1 sh -c 'echo 1 > /proc/sys/net/ipv4/ip_forward'") > 0);
        assert!(pos("conf/veth1@2/proxy_arp") > pos("ip_forward"));
        assert!(pos("conf/veth2@1/proxy_arp") > 0);
        assert!(
            pos("echo 0 > /proc/sys/net/ipv4/neigh/veth1@2/proxy_delay")
                > pos("conf/veth1@2/proxy_arp")
        );
        assert!(pos("ip link set dev veth2@2 addr 02:00:00:00:00:00") > pos("veth2@2 up"));
        // The target is resolved, then the program is loaded, then attached.
        assert!(pos("ifindex") < pos("redirect-lab asm"));
        assert!(pos("redirect-lab asm") < pos("tc qdisc replace dev veth1@2 clsact"));
        assert_eq!(pos("tc filter replace dev veth1@2 ingress"), cmds.len() - 1);
        for ns in ["T1_host", "T1_netns_1", "T1_netns_2"] {
            assert!(cmds.contains(&format!("ip netns exec {ns} ip link set lo up")));
        }
    }

    #[test]
    fn no_program_leaves_the_stack_to_forward() {
        let names = LabNames::seed();
        let s = steps(
            &names,
            PlanOptions {
                no_program: true,
                ..Default::default()
            },
        );
        assert!(!s.iter().any(|s| matches!(s, Step::LoadProgram { .. })));
        assert!(!s.iter().any(|s| matches!(s, Step::AttachFilter { .. })));
        assert!(s.iter().any(|s| matches!(s, Step::SetMac { .. })));
    }

    #[test]
    fn each_mode_plans_its_hook_and_its_steps() {
        let names = LabNames::seed();
        let plan = |name: &str, pitfall: bool| {
            steps(
                &names,
                PlanOptions {
                    mode: mode::find(name).unwrap(),
                    pitfall,
                    ..Default::default()
                },
            )
        };
        let last = |s: &[Step]| s.last().cloned().unwrap();
        // netkit: the second wire changes kind, nothing else does.
        let nk = plan("netkit", false);
        let pe = plan("peer", false);
        // As many steps: netkit's peer keeps its own MAC (one fewer), and
        // the way back gets its netkit link (one more).
        assert_eq!(nk.len(), pe.len());
        assert!(nk.contains(&Step::Extra(Extra::Link(&mode::NETKIT_RETURN))));
        assert!(!pe.iter().any(|s| matches!(s, Step::Extra(Extra::Link(_)))));
        let cmds: Vec<String> = nk.iter().map(|s| s.command(&names)).collect();
        assert!(cmds.contains(
            &"ip netns exec netns_1 ip link add name veth2@1 type netkit mode l2 forward peer \
              forward name veth2@2 netns netns_2"
                .to_string()
        ));
        assert!(!nk
            .iter()
            .any(|s| matches!(s, Step::AddVeth { name: VETH2_1, .. })));
        assert!(nk
            .iter()
            .any(|s| matches!(s, Step::AddVeth { name: VETH1_1, .. })));
        assert_eq!(last(&nk), last(&pe));
        assert!(matches!(last(&plan("tcx", false)), Step::AttachTcx { .. }));
        assert!(matches!(
            last(&plan("xdp", false)),
            Step::AttachXdp { generic: false, .. }
        ));
        assert!(matches!(
            last(&plan("peer", false)),
            Step::AttachFilter { .. }
        ));
        let xdp = plan("xdp", false);
        assert!(xdp.contains(&Step::Extra(Extra::XdpPassOnPeer)));
        assert!(!plan("xdp", true).contains(&Step::Extra(Extra::XdpPassOnPeer)));
        let has_target_addr = |s: &[Step]| {
            s.iter()
                .any(|s| matches!(s, Step::AddAddr { dev: VETH2_1, .. }))
        };
        assert!(has_target_addr(&plan("neigh", false)));
        assert!(!has_target_addr(&plan("neigh", true)));
        let peer = plan("peer", true);
        assert!(peer.contains(&Step::ResolveIfindex {
            side: Side::Netns1,
            dev: mode::SAME_NS_A
        }));
        let devmap = plan("devmap", false);
        let pos = |want: fn(&Step) -> bool| devmap.iter().position(want).unwrap();
        assert!(
            pos(|s| matches!(s, Step::ResolveIfindex { .. }))
                < pos(|s| matches!(s, Step::CreateMap { .. }))
        );
        assert!(
            pos(|s| matches!(s, Step::FillMap { .. }))
                < pos(|s| matches!(s, Step::LoadProgram { .. }))
        );
        assert_eq!(
            devmap
                .iter()
                .find(|s| matches!(s, Step::FillMap { .. }))
                .unwrap()
                .command(&names),
            "ip netns exec netns_1 bpftool map update pinned \
             /sys/fs/bpf/redirect-lab-netns_1-map-ports key 0 0 0 0 value <ifindex of veth2@1>"
        );
    }

    #[test]
    fn mac_helpers() {
        assert_eq!(MacDisplay(&DEST_MAC).to_string(), "02:00:00:00:00:00");
        assert_eq!(mac_as_u48(DEST_MAC), 0x0200_0000_0000);
        assert_eq!(mac_as_u48([1, 2, 3, 4, 5, 6]), 0x0102_0304_0506);
    }
}
