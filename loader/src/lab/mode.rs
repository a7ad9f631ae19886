//! The lab's redirect techniques as plain data: one [`Mode`] per technique,
//! in the style of [`super::plan`].
//!
//! A mode says which program (`bpf-src/<file>.s`, embedded into the binary
//! too), which program type it is loaded as, where it hooks (TC ingress
//! through netlink cls_bpf, a TCX `bpf_link`, or XDP), which extra steps the
//! plan needs, and which pitfall `up --pitfall` reproduces. `up`, `--explain`
//! and `status` follow the hook and the steps; nothing else in the lab knows
//! the modes by name. Adding a technique is one `.s` file and one entry of
//! [`MODES`].
//!
//! The kernel facts behind each entry come from `include/uapi/linux/bpf.h`
//! (helper ids, `BPF_F_INGRESS`, `BPF_TCX_INGRESS`, `bpf_fib_lookup`),
//! `include/uapi/linux/if_link.h` (`IFLA_XDP`, `XDP_FLAGS_*`) and the
//! selftests `tools/testing/selftests/bpf/prog_tests/tc_redirect.c` and
//! `test_xdp_veth.c`.

use std::fmt;

use super::plan::{Side, Sysctl, VETH1_2, VETH2_1, VETH2_2};
use crate::retval::BPF_F_INGRESS;
use crate::types::{AttachType, MapType, ProgType};

/// A second program a mode attaches with `BPF_LINK_CREATE` on a device's
/// ifindex (a netkit pair's programs), besides its main one: where it
/// attaches is data, like the main program's [`Hook`].
#[derive(Debug, PartialEq, Eq)]
pub struct LinkProgram {
    /// `bpf-src/<name>.s`, and the same file built into the binary.
    pub source: &'static str,
    pub embedded: &'static str,
    /// `BPF_LINK_CREATE`'s `attach_type` (include/uapi/linux/bpf.h), and
    /// the program type that hook runs.
    pub attach: AttachType,
    pub prog_type: ProgType,
    /// The device whose ifindex goes into `target_ifindex`, in netns_1 (for
    /// netkit: the primary, which owns both ends' programs).
    pub dev: &'static str,
    /// Where the program actually runs, in words (a netkit PEER program runs
    /// on the peer's transmit, though it is attached through the primary).
    pub runs: &'static str,
    /// The device in netns_1 whose ifindex is the program's `TARGET_IFINDEX`.
    pub target: &'static str,
    /// The helper it calls (what `every_program_names_its_helper` checks).
    pub helper: &'static str,
}

/// `--mode netkit --pitfall`: the same program on the other end of the
/// pair's programs, `BPF_NETKIT_PRIMARY` (54), which runs on veth2@1's
/// transmit (netns_1 -> netns_2) and so never sees netns_2's replies.
pub static NETKIT_ON_PRIMARY: LinkProgram = LinkProgram {
    source: "bpf-src/netkit.s",
    embedded: include_str!("../../../bpf-src/netkit.s"),
    attach: AttachType::NetkitPrimary,
    prog_type: ProgType::SchedCls,
    dev: VETH2_1,
    runs: "veth2@1's transmit in netns_1",
    target: VETH1_2,
    helper: "bpf_redirect_neigh",
};

/// `--mode netkit`'s way back: `bpf-src/netkit.s` on veth2@2's transmit
/// (`BPF_NETKIT_PEER`, attached through veth2@1), `bpf_redirect_neigh` to
/// veth1@2.
pub static NETKIT_RETURN: LinkProgram = LinkProgram {
    source: "bpf-src/netkit.s",
    embedded: include_str!("../../../bpf-src/netkit.s"),
    attach: AttachType::NetkitPeer,
    prog_type: ProgType::SchedCls,
    dev: VETH2_1,
    runs: "veth2@2's transmit in netns_2",
    target: VETH1_2,
    helper: "bpf_redirect_neigh",
};

/// A map a mode's program references by name (`r1 = NAME ll`), created and
/// pinned by `up` (see [`super::plan::map_pin_path`]), and filled with
/// ifindexes of netns_1's devices.
#[derive(Debug, PartialEq, Eq)]
pub struct LabMap {
    /// The symbol in the program, the kernel's map name, and the name
    /// `redirect-lab map set NAME ...` takes.
    pub name: &'static str,
    pub map_type: MapType,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    /// What `up` puts in it: (key, device in netns_1 whose ifindex is the value).
    pub initial: &'static [(u32, &'static str)],
}

/// Where a mode's program runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hook {
    /// clsact qdisc + direct-action cls_bpf filter on the device's ingress,
    /// through rtnetlink (`tc filter replace ... ingress bpf da`).
    TcIngress,
    /// `BPF_LINK_CREATE` with `BPF_TCX_INGRESS` (Linux 6.6), the link pinned
    /// on bpffs so it outlives `up`. Probed: where the kernel refuses it,
    /// `up` says so and falls back to [`Hook::TcIngress`].
    TcxIngress,
    /// `IFLA_XDP` on `RTM_SETLINK`: native (`XDP_FLAGS_DRV_MODE`) unless
    /// `--xdp-generic` asks for `XDP_FLAGS_SKB_MODE`.
    Xdp,
}

impl Hook {
    /// The program type the hook runs.
    pub fn prog_type(self) -> ProgType {
        match self {
            Hook::TcIngress | Hook::TcxIngress => ProgType::SchedCls,
            Hook::Xdp => ProgType::Xdp,
        }
    }

    /// What `--explain` and the report call it.
    pub fn describe(self) -> &'static str {
        match self {
            Hook::TcIngress => "tc ingress (clsact + cls_bpf direct-action, rtnetlink)",
            Hook::TcxIngress => "tcx ingress (BPF_LINK_CREATE BPF_TCX_INGRESS, pinned link)",
            Hook::Xdp => "xdp (IFLA_XDP on RTM_SETLINK)",
        }
    }
}

/// A setup step a mode adds to the plan, beyond the topology.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Extra {
    /// Attach `bpf-src/xdp_pass.s` natively on veth2@2 in netns_2: a native
    /// XDP redirect into veth2@1 is only received when its peer runs XDP
    /// (`veth_xdp_xmit` needs the peer's NAPI, which an XDP program turns on).
    XdpPassOnPeer,
    /// `ethtool -K DEV tx off`: the sender computes its checksums itself.
    /// A local socket's UDP/TCP checksum is left to the device
    /// (`CHECKSUM_PARTIAL`); veth never computes it, and an XDP frame has no
    /// room to say it is missing, so after an XDP redirect netns_2 counts
    /// `Udp: InCsumErrors` and drops the packet (measured on 6.18).
    TxChecksumOff { side: Side, dev: &'static str },
    /// A sysctl written after the topology (a pitfall's switch).
    Sysctl { side: Side, sysctl: Sysctl },
    /// A second veth pair inside netns_1, both ends there: a
    /// `bpf_redirect_peer` target whose peer is in the same namespace.
    SameNetnsPair {
        name: &'static str,
        peer: &'static str,
    },
    /// Load a [`LinkProgram`] and attach it with `BPF_LINK_CREATE`, from a
    /// thread in netns_1, the link pinned so it outlives `up`.
    Link(&'static LinkProgram),
}

/// A pitfall a mode can reproduce with `up --pitfall`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pitfall {
    /// What goes wrong, in one line.
    pub what: &'static str,
    /// Steps the pitfall adds to the plan.
    pub extras: &'static [ExtraRef],
    /// Steps of the mode the pitfall leaves out.
    pub without: &'static [ExtraRef],
    /// The program's target becomes this device (peer: a same-netns pair).
    pub target: Option<&'static str>,
}

/// An [`Extra`] in a `static` table (sysctls own a `String`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExtraRef {
    XdpPassOnPeer,
    /// TX checksum offload off on veth1@1, the host side's sender.
    TxChecksumOffOnSender,
    /// `net/ipv4/conf/<dev>/forwarding` = value in netns_1.
    Forwarding(&'static str, &'static str),
    /// The plan leaves out veth2@1's address (and with it the connected
    /// route): an omission, not a step of its own.
    NoAddrOnTarget,
    /// A veth pair `name`/`peer` with both ends in netns_1.
    SameNetnsPair(&'static str, &'static str),
    /// veth2@1/veth2@2 become a netkit pair (`IFLA_INFO_KIND "netkit"`,
    /// `NETKIT_L2`): a substitution in the topology, not a step of its own.
    NetkitPair,
    /// A second program on a `BPF_LINK_CREATE` link.
    Link(&'static LinkProgram),
}

impl ExtraRef {
    /// The plan step, if it is one.
    pub fn extra(self) -> Option<Extra> {
        Some(match self {
            ExtraRef::XdpPassOnPeer => Extra::XdpPassOnPeer,
            ExtraRef::TxChecksumOffOnSender => Extra::TxChecksumOff {
                side: Side::Host,
                dev: super::plan::VETH1_1,
            },
            ExtraRef::Forwarding(dev, value) => Extra::Sysctl {
                side: Side::Netns1,
                sysctl: Sysctl {
                    path: format!("net/ipv4/conf/{dev}/forwarding"),
                    value,
                },
            },
            ExtraRef::NoAddrOnTarget | ExtraRef::NetkitPair => return None,
            ExtraRef::SameNetnsPair(name, peer) => Extra::SameNetnsPair { name, peer },
            ExtraRef::Link(p) => Extra::Link(p),
        })
    }
}

/// One redirect technique.
#[derive(Debug, PartialEq, Eq)]
pub struct Mode {
    /// `--mode NAME`.
    pub name: &'static str,
    /// The program, relative to the repository: `bpf-src/<name>.s`.
    pub source: &'static str,
    /// The same file, built into the binary.
    pub embedded: &'static str,
    pub hook: Hook,
    /// `-D REDIRECT_FLAGS=` for the programs that take it.
    pub redirect_flags: u64,
    /// The helper the technique is about: what a kernel lacking it refuses.
    pub helper: &'static str,
    /// The first kernel with the technique.
    pub since: &'static str,
    /// What happens to the packet, in one line.
    pub summary: &'static str,
    /// Steps every `up` of this mode adds.
    pub extras: &'static [ExtraRef],
    /// What `--pitfall` reproduces.
    pub pitfall: Option<Pitfall>,
    /// For programs that leave their helper's return code in `skb->cb[0]`:
    /// the codes' names. `up` then runs one test packet through the program
    /// (`BPF_PROG_TEST_RUN`) and reports the code by name.
    pub test_codes: Option<&'static [(u32, &'static str)]>,
    /// Maps the program uses.
    pub maps: &'static [LabMap],
}

/// `BPF_FIB_LKUP_RET_*`, include/uapi/linux/bpf.h.
pub const FIB_RET_CODES: &[(u32, &str)] = &[
    (0, "BPF_FIB_LKUP_RET_SUCCESS"),
    (1, "BPF_FIB_LKUP_RET_BLACKHOLE"),
    (2, "BPF_FIB_LKUP_RET_UNREACHABLE"),
    (3, "BPF_FIB_LKUP_RET_PROHIBIT"),
    (4, "BPF_FIB_LKUP_RET_NOT_FWDED"),
    (5, "BPF_FIB_LKUP_RET_FWD_DISABLED"),
    (6, "BPF_FIB_LKUP_RET_UNSUPP_LWT"),
    (7, "BPF_FIB_LKUP_RET_NO_NEIGH"),
    (8, "BPF_FIB_LKUP_RET_FRAG_NEEDED"),
    (9, "BPF_FIB_LKUP_RET_NO_SRC_ADDR"),
];

/// A `BPF_FIB_LOOKUP_*` flag (include/uapi/linux/bpf.h) and the kernel that
/// added it (net/core/filter.c's accepted-flags mask grew with each).
#[derive(Debug, PartialEq, Eq)]
pub struct FibFlag {
    pub value: u32,
    pub name: &'static str,
    pub since: &'static str,
}

/// Every `bpf_fib_lookup` flag; `fib.s` uses none (a full lookup, as
/// `ip_forward` does), and [`super::Lab::probe_fib_flags`] asks the kernel
/// which of them it knows.
pub static FIB_LOOKUP_FLAGS: &[FibFlag] = &[
    FibFlag {
        value: 1,
        name: "BPF_FIB_LOOKUP_DIRECT",
        since: "4.18",
    },
    FibFlag {
        value: 2,
        name: "BPF_FIB_LOOKUP_OUTPUT",
        since: "4.18",
    },
    FibFlag {
        value: 4,
        name: "BPF_FIB_LOOKUP_SKIP_NEIGH",
        since: "6.3",
    },
    FibFlag {
        value: 8,
        name: "BPF_FIB_LOOKUP_TBID",
        since: "6.5",
    },
    FibFlag {
        value: 16,
        name: "BPF_FIB_LOOKUP_SRC",
        since: "6.7",
    },
    FibFlag {
        value: 32,
        name: "BPF_FIB_LOOKUP_MARK",
        since: "6.10",
    },
];

/// Device names of the same-netns pair the `peer` pitfall adds.
pub const SAME_NS_A: &str = "vethsame@1";
pub const SAME_NS_B: &str = "vethsame@2";

/// Every mode `up --mode` accepts; the first is the default.
pub static MODES: &[Mode] = &[
    Mode {
        name: "egress",
        source: "bpf-src/redirect.s",
        embedded: include_str!("../../../bpf-src/redirect.s"),
        hook: Hook::TcIngress,
        redirect_flags: 0,
        helper: "bpf_redirect",
        since: "4.4",
        summary: "bpf_redirect(veth2@1, 0): transmitted out of veth2@1 (there is no \
                  BPF_F_EGRESS; flags 0 means egress)",
        extras: &[],
        pitfall: None,
        test_codes: None,
        maps: &[],
    },
    Mode {
        name: "ingress",
        source: "bpf-src/redirect.s",
        embedded: include_str!("../../../bpf-src/redirect.s"),
        hook: Hook::TcIngress,
        redirect_flags: BPF_F_INGRESS,
        helper: "bpf_redirect",
        since: "4.4",
        summary: "bpf_redirect(veth2@1, BPF_F_INGRESS): received on veth2@1 in netns_1, \
                  dropped there as PACKET_OTHERHOST",
        extras: &[],
        pitfall: None,
        test_codes: None,
        maps: &[],
    },
    Mode {
        name: "peer",
        source: "bpf-src/peer.s",
        embedded: include_str!("../../../bpf-src/peer.s"),
        hook: Hook::TcIngress,
        redirect_flags: 0,
        helper: "bpf_redirect_peer",
        since: "5.10",
        summary: "bpf_redirect_peer(veth2@1, 0): straight into veth2@2's receive path in \
                  netns_2, skipping veth2@1's transmit and the backlog",
        extras: &[],
        pitfall: Some(Pitfall {
            what: "the target's peer is in the same netns (vethsame@1/@2 both in netns_1): \
                   skb_do_redirect drops the packet, silently",
            extras: &[ExtraRef::SameNetnsPair(SAME_NS_A, SAME_NS_B)],
            without: &[],
            target: Some(SAME_NS_A),
        }),
        test_codes: None,
        maps: &[],
    },
    Mode {
        name: "neigh",
        source: "bpf-src/neigh.s",
        embedded: include_str!("../../../bpf-src/neigh.s"),
        hook: Hook::TcIngress,
        redirect_flags: 0,
        helper: "bpf_redirect_neigh",
        since: "5.10",
        summary: "bpf_redirect_neigh(veth2@1, NULL, 0, 0): out of veth2@1 with the MAC the \
                  neighbour layer (ARP) found, no hard-coded MAC",
        extras: &[],
        pitfall: Some(Pitfall {
            what: "veth2@1 has no IPv4 address and so no route to 10.0.2.0/24: the neighbour \
                   layer cannot resolve 10.0.2.11",
            extras: &[ExtraRef::NoAddrOnTarget],
            without: &[],
            target: None,
        }),
        test_codes: None,
        maps: &[],
    },
    Mode {
        name: "fib",
        source: "bpf-src/fib.s",
        embedded: include_str!("../../../bpf-src/fib.s"),
        hook: Hook::TcIngress,
        redirect_flags: 0,
        helper: "bpf_fib_lookup",
        since: "4.18",
        summary: "bpf_fib_lookup in netns_1's table, then smac/dmac from it and bpf_redirect \
                  (bpf_redirect_neigh on BPF_FIB_LKUP_RET_NO_NEIGH)",
        extras: &[],
        pitfall: Some(Pitfall {
            what: "forwarding off on veth1@2: bpf_fib_lookup returns \
                   BPF_FIB_LKUP_RET_FWD_DISABLED",
            extras: &[ExtraRef::Forwarding(VETH1_2, "0")],
            without: &[],
            target: None,
        }),
        test_codes: Some(FIB_RET_CODES),
        maps: &[],
    },
    Mode {
        name: "xdp",
        source: "bpf-src/xdp.s",
        embedded: include_str!("../../../bpf-src/xdp.s"),
        hook: Hook::Xdp,
        redirect_flags: 0,
        helper: "bpf_redirect",
        since: "4.14",
        summary: "XDP on veth1@2: MAC rewrite and bpf_redirect(veth2@1) before any sk_buff \
                  exists; veth2@2 runs XDP_PASS so veth_xdp_xmit has a receiver",
        extras: &[ExtraRef::TxChecksumOffOnSender, ExtraRef::XdpPassOnPeer],
        pitfall: Some(Pitfall {
            what: "no XDP program on veth2@2: a native XDP redirect into veth2@1 is dropped",
            extras: &[],
            without: &[ExtraRef::XdpPassOnPeer],
            target: None,
        }),
        test_codes: None,
        maps: &[],
    },
    Mode {
        name: "devmap",
        source: "bpf-src/devmap.s",
        embedded: include_str!("../../../bpf-src/devmap.s"),
        hook: Hook::Xdp,
        redirect_flags: 0,
        helper: "bpf_redirect_map",
        since: "4.14",
        summary: "XDP on veth1@2 with bpf_redirect_map(&ports, 0, 0) on a DEVMAP: the target \
                  is data (`redirect-lab map set ports 0 DEV`), not code",
        extras: &[ExtraRef::TxChecksumOffOnSender, ExtraRef::XdpPassOnPeer],
        pitfall: None,
        test_codes: None,
        maps: &[LabMap {
            name: "ports",
            map_type: MapType::Devmap,
            key_size: 4,
            value_size: 4,
            max_entries: 4,
            initial: &[(0, VETH2_1)],
        }],
    },
    Mode {
        name: "tcx",
        source: "bpf-src/redirect.s",
        embedded: include_str!("../../../bpf-src/redirect.s"),
        hook: Hook::TcxIngress,
        redirect_flags: 0,
        helper: "bpf_redirect",
        since: "6.6",
        summary: "the egress program attached by BPF_LINK_CREATE BPF_TCX_INGRESS, no qdisc; \
                  the link is pinned so it outlives the process",
        extras: &[],
        pitfall: None,
        test_codes: None,
        maps: &[],
    },
    Mode {
        name: "netkit",
        // The way there is peer.s (a peer redirect skips netkit_xmit, so no
        // netkit program can see it); the way back is netkit.s on the pair
        // itself (BPF_NETKIT_PEER). See netkit.s for why not PRIMARY.
        source: "bpf-src/peer.s",
        embedded: include_str!("../../../bpf-src/peer.s"),
        hook: Hook::TcIngress,
        redirect_flags: 0,
        helper: "bpf_redirect_peer",
        since: "6.7",
        summary: "veth2@1/veth2@2 are a netkit pair (L2); there: bpf_redirect_peer(veth2@1, 0) \
                  from veth1@2's tc ingress lands in veth2@2's receive path (netkit_peer_dev); \
                  back: netkit.s on a BPF_NETKIT_PEER link runs at veth2@2's transmit and \
                  bpf_redirect_neigh's the replies out of veth1@2; netns_1's stack is skipped \
                  both ways",
        extras: &[ExtraRef::NetkitPair, ExtraRef::Link(&NETKIT_RETURN)],
        pitfall: Some(Pitfall {
            what: "netkit.s attached with BPF_NETKIT_PRIMARY instead: it runs on veth2@1's \
                   transmit (netkit_xmit runs the sending device's programs), never sees \
                   netns_2's replies, and netns_1's stack forwards them",
            extras: &[ExtraRef::Link(&NETKIT_ON_PRIMARY)],
            without: &[ExtraRef::Link(&NETKIT_RETURN)],
            target: None,
        }),
        test_codes: None,
        maps: &[],
    },
];

/// The mode `up` uses without `--mode`.
pub fn default_mode() -> &'static Mode {
    &MODES[0]
}

/// Looks a mode up by name; the error lists the known ones.
pub fn find(name: &str) -> Result<&'static Mode, String> {
    MODES.iter().find(|m| m.name == name).ok_or_else(|| {
        format!(
            "unknown mode {name:?}; the modes are: {}",
            MODES.iter().map(|m| m.name).collect::<Vec<_>>().join(", ")
        )
    })
}

/// The XDP_PASS program [`Extra::XdpPassOnPeer`] attaches.
pub const XDP_PASS_S: &str = "bpf-src/xdp_pass.s";
pub const EMBEDDED_XDP_PASS_S: &str = include_str!("../../../bpf-src/xdp_pass.s");

impl Mode {
    /// The steps this mode adds, with or without its pitfall.
    pub fn extras(&self, pitfall: bool) -> Vec<Extra> {
        let p = self.pitfall.as_ref().filter(|_| pitfall);
        let mut v: Vec<Extra> = self
            .extras
            .iter()
            .filter(|e| !p.is_some_and(|p| p.without.contains(e)))
            .filter_map(|e| e.extra())
            .collect();
        if let Some(p) = p {
            v.extend(p.extras.iter().filter_map(|e| e.extra()));
        }
        v
    }

    /// The device the program redirects to.
    pub fn target(&self, pitfall: bool) -> &'static str {
        match (&self.pitfall, pitfall) {
            (
                Some(Pitfall {
                    target: Some(t), ..
                }),
                true,
            ) => t,
            _ => VETH2_1,
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} [{} at {}, since Linux {}]",
            self.name,
            self.summary,
            self.source,
            self.hook.describe(),
            self.since
        )
    }
}

impl Extra {
    /// The command line this step replaces.
    pub fn command(&self, names: &super::plan::LabNames) -> String {
        let exec = |side: Side| match names.netns(side) {
            Some(ns) => format!("ip netns exec {ns} "),
            None => String::new(),
        };
        match self {
            Extra::XdpPassOnPeer => format!(
                "{}ip link set dev {VETH2_2} xdpdrv obj xdp_pass.o sec xdp",
                exec(Side::Netns2)
            ),
            Extra::TxChecksumOff { side, dev } => format!("{}ethtool -K {dev} tx off", exec(*side)),
            Extra::Sysctl { side, sysctl } => format!(
                "{}sh -c 'echo {} > /proc/sys/{}'",
                exec(*side),
                sysctl.value,
                sysctl.path
            ),
            Extra::SameNetnsPair { name, peer } => format!(
                "{e}ip link add name {name} type veth peer name {peer} && \
                 {e}ip link set {name} up && {e}ip link set {peer} up",
                e = exec(Side::Netns1)
            ),
            Extra::Link(p) => format!(
                "{}bpftool prog load {} prog.o && bpftool link create ... {} dev {} && \
                 bpftool link pin <id> {}",
                exec(Side::Netns1),
                p.source,
                p.attach.short_name(),
                p.dev,
                super::plan::link_pin_path(names, p.attach).display()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_found() {
        for m in MODES {
            assert_eq!(find(m.name).unwrap().name, m.name);
            assert!(m.source.starts_with("bpf-src/") && m.source.ends_with(".s"));
            assert!(!m.embedded.is_empty());
        }
        let e = find("bogus").unwrap_err();
        assert!(e.contains("unknown mode \"bogus\""), "{e}");
        assert!(e.contains("egress, ingress, peer"), "{e}");
        assert!(find("devmap").unwrap().embedded.contains("r1 = ports ll"));
        assert_eq!(default_mode().name, "egress");
    }

    /// A mode's maps are declared in its `.s` (`.map`); the table says how
    /// the lab makes them, and must make exactly what the file declares (the
    /// loader refuses a map of another shape in place of the declaration).
    #[test]
    fn the_tables_maps_are_the_ones_the_programs_declare() {
        for m in MODES.iter().filter(|m| !m.maps.is_empty()) {
            let a = crate::file::assemble_text(m.source, m.embedded, &[]).expect("assembles");
            let obj = a.object.expect("a file with maps is an object");
            for lm in m.maps {
                let d = obj
                    .maps
                    .iter()
                    .find(|d| d.name == lm.name)
                    .unwrap_or_else(|| panic!("{} does not declare {}", m.source, lm.name));
                assert_eq!(d.map_type(), Some(lm.map_type.raw()), "{}", lm.name);
                assert_eq!(d.key_size(), Some(lm.key_size), "{}", lm.name);
                assert_eq!(d.value_size(), Some(lm.value_size), "{}", lm.name);
                assert_eq!(d.max_entries(), Some(lm.max_entries), "{}", lm.name);
            }
        }
    }

    #[test]
    fn extras_follow_the_pitfall() {
        let xdp = find("xdp").unwrap();
        let csum = Extra::TxChecksumOff {
            side: Side::Host,
            dev: super::super::plan::VETH1_1,
        };
        assert_eq!(xdp.extras(false), vec![csum.clone(), Extra::XdpPassOnPeer]);
        assert_eq!(xdp.extras(true), vec![csum]);
        assert!(find("neigh").unwrap().extras(true).is_empty());
        let fib = find("fib").unwrap();
        let cmds: Vec<String> = fib
            .extras(true)
            .iter()
            .map(|e| e.command(&super::super::plan::LabNames::seed()))
            .collect();
        assert_eq!(
            cmds,
            vec![
                "ip netns exec netns_1 sh -c 'echo 0 > /proc/sys/net/ipv4/conf/veth1@2/forwarding'"
            ]
        );
        assert_eq!(find("peer").unwrap().target(true), SAME_NS_A);
        assert_eq!(find("peer").unwrap().target(false), VETH2_1);
    }

    #[test]
    fn every_program_names_its_helper() {
        for m in MODES {
            assert!(
                m.embedded.contains(&format!("call {}", m.helper)),
                "{} does not call {}",
                m.source,
                m.helper
            );
            for e in m.extras {
                if let ExtraRef::Link(p) = e {
                    assert!(
                        p.embedded.contains(&format!("call {}", p.helper)),
                        "{} does not call {}",
                        p.source,
                        p.helper
                    );
                }
            }
        }
    }

    #[test]
    fn netkit_attaches_its_second_program_on_the_peer_through_the_primary() {
        let nk = find("netkit").unwrap();
        let links: Vec<&LinkProgram> = nk
            .extras
            .iter()
            .filter_map(|e| match e {
                ExtraRef::Link(p) => Some(*p),
                _ => None,
            })
            .collect();
        assert_eq!(links, vec![&NETKIT_RETURN]);
        assert_eq!(NETKIT_RETURN.attach.raw(), 55, "BPF_NETKIT_PEER");
        assert_eq!(
            NETKIT_RETURN.dev, VETH2_1,
            "netkit wants the primary's ifindex"
        );
        assert!(nk.extras(false).contains(&Extra::Link(&NETKIT_RETURN)));
        // The pitfall swaps the attach type, nothing else.
        let p = nk.extras(true);
        assert!(p.contains(&Extra::Link(&NETKIT_ON_PRIMARY)));
        assert!(!p.contains(&Extra::Link(&NETKIT_RETURN)));
        assert_eq!(NETKIT_ON_PRIMARY.attach.raw(), 54, "BPF_NETKIT_PRIMARY");
        assert_eq!(NETKIT_ON_PRIMARY.source, NETKIT_RETURN.source);
    }
}
