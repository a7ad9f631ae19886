//! Every kernel constant this crate uses, each written once, grouped by the
//! uapi header it comes from (paths under `include/uapi/linux/`).
//!
//! Names are the kernel's own, so `grep TCA_BPF_FD` finds both this file and
//! the header. Values are checked against Debian's 6.1 headers in
//! `/usr/include/linux/`; none of them changed in later kernels.

// ---------------------------------------------------------------------------
// netlink.h: the netlink frame itself.
// ---------------------------------------------------------------------------

/// `NLMSG_NOOP`: message to be ignored.
pub const NLMSG_NOOP: u16 = 1;
/// `NLMSG_ERROR`: an error, or an ACK when its errno is 0 (`struct nlmsgerr`).
pub const NLMSG_ERROR: u16 = 2;
/// `NLMSG_DONE`: end of a multipart dump.
pub const NLMSG_DONE: u16 = 3;
/// `NLMSG_OVERRUN`: data lost.
pub const NLMSG_OVERRUN: u16 = 4;

/// `NLM_F_REQUEST`: this message is a request.
pub const NLM_F_REQUEST: u16 = 0x01;
/// `NLM_F_MULTI`: part of a multipart reply, ended by `NLMSG_DONE`.
pub const NLM_F_MULTI: u16 = 0x02;
/// `NLM_F_ACK`: reply with an ACK (an `NLMSG_ERROR` with errno 0) on success.
pub const NLM_F_ACK: u16 = 0x04;
/// `NLM_F_ECHO`: send the resulting notification back to the requester too.
pub const NLM_F_ECHO: u16 = 0x08;
/// `NLM_F_DUMP_INTR`: the dump was inconsistent (the table changed under it).
pub const NLM_F_DUMP_INTR: u16 = 0x10;
/// `NLM_F_ROOT` (GET requests): return the whole table.
pub const NLM_F_ROOT: u16 = 0x100;
/// `NLM_F_MATCH` (GET requests): return all matching entries.
pub const NLM_F_MATCH: u16 = 0x200;
/// `NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH`.
pub const NLM_F_DUMP: u16 = NLM_F_ROOT | NLM_F_MATCH;
/// `NLM_F_REPLACE` (NEW requests): replace an existing object.
pub const NLM_F_REPLACE: u16 = 0x100;
/// `NLM_F_EXCL` (NEW requests): fail if the object already exists.
pub const NLM_F_EXCL: u16 = 0x200;
/// `NLM_F_CREATE` (NEW requests): create the object if it does not exist.
pub const NLM_F_CREATE: u16 = 0x400;
/// `NLM_F_CAPPED` (on `NLMSG_ERROR`): the echoed request was cut to its header.
pub const NLM_F_CAPPED: u16 = 0x100;
/// `NLM_F_ACK_TLVS` (on `NLMSG_ERROR`): extended-ACK attributes follow.
pub const NLM_F_ACK_TLVS: u16 = 0x200;

/// `NLMSGERR_ATTR_MSG`: the kernel's error text (extack), a NUL-ended string.
pub const NLMSGERR_ATTR_MSG: u16 = 1;
/// `NLMSGERR_ATTR_OFFS`: byte offset, inside our request, of the attribute at fault.
pub const NLMSGERR_ATTR_OFFS: u16 = 2;
/// `NLMSGERR_ATTR_COOKIE`: subsystem-specific cookie.
pub const NLMSGERR_ATTR_COOKIE: u16 = 3;
/// `NLMSGERR_ATTR_POLICY`: the policy of the rejected attribute.
pub const NLMSGERR_ATTR_POLICY: u16 = 4;
/// `NLMSGERR_ATTR_MISS_TYPE`: type of a required attribute that was missing.
pub const NLMSGERR_ATTR_MISS_TYPE: u16 = 5;
/// `NLMSGERR_ATTR_MISS_NEST`: offset of the nest in which it was missing.
pub const NLMSGERR_ATTR_MISS_NEST: u16 = 6;

/// `NETLINK_CAP_ACK` (socket option): do not echo our whole request back in errors.
pub const NETLINK_CAP_ACK: i32 = 10;
/// `NETLINK_EXT_ACK` (socket option): add extack attributes (error text, offset) to ACKs.
pub const NETLINK_EXT_ACK: i32 = 11;

/// `NLA_F_NESTED`: the attribute's payload is itself a list of attributes.
pub const NLA_F_NESTED: u16 = 1 << 15;
/// `NLA_F_NET_BYTEORDER`: the payload is big-endian.
pub const NLA_F_NET_BYTEORDER: u16 = 1 << 14;
/// `NLA_TYPE_MASK = ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER)`.
pub const NLA_TYPE_MASK: u16 = !(NLA_F_NESTED | NLA_F_NET_BYTEORDER);

// ---------------------------------------------------------------------------
// rtnetlink.h: message types, route fields, and the TC attribute numbers.
// ---------------------------------------------------------------------------

/// `RTM_NEWLINK`: create or change a link (`struct ifinfomsg`).
pub const RTM_NEWLINK: u16 = 16;
/// `RTM_DELLINK`: delete a link.
pub const RTM_DELLINK: u16 = 17;
/// `RTM_GETLINK`: get one link, or dump them all.
pub const RTM_GETLINK: u16 = 18;
/// `RTM_SETLINK`: change a link (used for `IFLA_XDP`).
pub const RTM_SETLINK: u16 = 19;
/// `RTM_NEWADDR`: add an address (`struct ifaddrmsg`).
pub const RTM_NEWADDR: u16 = 20;
/// `RTM_DELADDR`: delete an address.
pub const RTM_DELADDR: u16 = 21;
/// `RTM_GETADDR`: dump addresses.
pub const RTM_GETADDR: u16 = 22;
/// `RTM_NEWROUTE`: add a route (`struct rtmsg`).
pub const RTM_NEWROUTE: u16 = 24;
/// `RTM_DELROUTE`: delete a route.
pub const RTM_DELROUTE: u16 = 25;
/// `RTM_GETROUTE`: dump routes.
pub const RTM_GETROUTE: u16 = 26;
/// `RTM_NEWQDISC`: add or replace a qdisc (`struct tcmsg`).
pub const RTM_NEWQDISC: u16 = 36;
/// `RTM_DELQDISC`: delete a qdisc.
pub const RTM_DELQDISC: u16 = 37;
/// `RTM_GETQDISC`: dump qdiscs.
pub const RTM_GETQDISC: u16 = 38;
/// `RTM_NEWTFILTER`: add or replace a classifier (`struct tcmsg`).
pub const RTM_NEWTFILTER: u16 = 44;
/// `RTM_DELTFILTER`: delete a classifier.
pub const RTM_DELTFILTER: u16 = 45;
/// `RTM_GETTFILTER`: dump classifiers.
pub const RTM_GETTFILTER: u16 = 46;

/// `RTA_DST` (`enum rtattr_type_t`): route destination address.
pub const RTA_DST: u16 = 1;
/// `RTA_OIF`: output interface index.
pub const RTA_OIF: u16 = 4;
/// `RTA_GATEWAY`: next-hop address.
pub const RTA_GATEWAY: u16 = 5;
/// `RTA_PRIORITY`: route metric.
pub const RTA_PRIORITY: u16 = 6;
/// `RTA_PREFSRC`: preferred source address.
pub const RTA_PREFSRC: u16 = 7;
/// `RTA_TABLE`: 32-bit routing table id.
pub const RTA_TABLE: u16 = 15;

/// `RTN_UNICAST`: a gateway or direct route.
pub const RTN_UNICAST: u8 = 1;
/// `RTPROT_BOOT`: route installed by an administrator (what `ip route add` sends).
pub const RTPROT_BOOT: u8 = 3;
/// `RT_SCOPE_UNIVERSE`: a route through a gateway.
pub const RT_SCOPE_UNIVERSE: u8 = 0;
/// `RT_SCOPE_LINK`: destination directly on the link.
pub const RT_SCOPE_LINK: u8 = 253;
/// `RT_TABLE_MAIN`: the main routing table.
pub const RT_TABLE_MAIN: u8 = 254;

/// `TCA_KIND` (`enum` after `struct tcmsg`): qdisc or classifier name ("clsact", "bpf").
pub const TCA_KIND: u16 = 1;
/// `TCA_OPTIONS`: nested, kind-specific options.
pub const TCA_OPTIONS: u16 = 2;
/// `TCA_CHAIN`: filter chain index.
pub const TCA_CHAIN: u16 = 11;

// ---------------------------------------------------------------------------
// if.h: device flags in `ifinfomsg.ifi_flags` (`enum net_device_flags`).
// ---------------------------------------------------------------------------

/// `IFF_UP`: administratively up.
pub const IFF_UP: u32 = 1 << 0;
/// `IFF_LOOPBACK`: a loopback device.
pub const IFF_LOOPBACK: u32 = 1 << 3;
/// `IFF_RUNNING`: operationally up (RFC 2863 OPER_UP).
pub const IFF_RUNNING: u32 = 1 << 6;
/// `IFF_LOWER_UP`: the driver signals carrier.
pub const IFF_LOWER_UP: u32 = 1 << 16;

// ---------------------------------------------------------------------------
// if_link.h: link attributes (`IFLA_*`), link info, XDP.
// ---------------------------------------------------------------------------

/// `IFLA_ADDRESS`: link-layer (MAC) address.
pub const IFLA_ADDRESS: u16 = 1;
/// `IFLA_IFNAME`: device name, NUL-ended.
pub const IFLA_IFNAME: u16 = 3;
/// `IFLA_MTU`: u32 MTU.
pub const IFLA_MTU: u16 = 4;
/// `IFLA_LINK`: ifindex of the lower/peer device (a veth's peer).
pub const IFLA_LINK: u16 = 5;
/// `IFLA_OPERSTATE`: u8 RFC 2863 operational state.
pub const IFLA_OPERSTATE: u16 = 16;
/// `IFLA_LINKINFO`: nested `IFLA_INFO_*`.
pub const IFLA_LINKINFO: u16 = 18;
/// `IFLA_STATS64`: `struct rtnl_link_stats64`.
pub const IFLA_STATS64: u16 = 23;
/// `IFLA_NET_NS_FD`: u32 fd of the network namespace to put the device in.
pub const IFLA_NET_NS_FD: u16 = 28;
/// `IFLA_LINK_NETNSID`: s32 id of the namespace `IFLA_LINK` lives in.
pub const IFLA_LINK_NETNSID: u16 = 37;
/// `IFLA_XDP`: nested `IFLA_XDP_*`.
pub const IFLA_XDP: u16 = 43;

// Shown by name in inspect mode only.
/// `IFLA_BROADCAST`: link-layer broadcast address.
pub const IFLA_BROADCAST: u16 = 2;
/// `IFLA_QDISC`: name of the root qdisc.
pub const IFLA_QDISC: u16 = 6;
/// `IFLA_STATS`: `struct rtnl_link_stats` (32-bit counters).
pub const IFLA_STATS: u16 = 7;
/// `IFLA_TXQLEN`: transmit queue length.
pub const IFLA_TXQLEN: u16 = 13;
/// `IFLA_MAP`: `struct rtnl_link_ifmap`.
pub const IFLA_MAP: u16 = 14;
/// `IFLA_LINKMODE`: u8 link mode.
pub const IFLA_LINKMODE: u16 = 17;
/// `IFLA_AF_SPEC`: nested per-address-family data.
pub const IFLA_AF_SPEC: u16 = 26;
/// `IFLA_GROUP`: u32 device group.
pub const IFLA_GROUP: u16 = 27;
/// `IFLA_EXT_MASK`: u32 `RTEXT_FILTER_*` for dumps.
pub const IFLA_EXT_MASK: u16 = 29;
/// `IFLA_PROMISCUITY`: u32 promiscuity count.
pub const IFLA_PROMISCUITY: u16 = 30;
/// `IFLA_NUM_TX_QUEUES`: u32 TX queue count.
pub const IFLA_NUM_TX_QUEUES: u16 = 31;
/// `IFLA_NUM_RX_QUEUES`: u32 RX queue count.
pub const IFLA_NUM_RX_QUEUES: u16 = 32;
/// `IFLA_CARRIER`: u8 carrier state.
pub const IFLA_CARRIER: u16 = 33;
/// `IFLA_CARRIER_CHANGES`: u32 carrier change count.
pub const IFLA_CARRIER_CHANGES: u16 = 35;
/// `IFLA_PROTO_DOWN`: u8 protocol down.
pub const IFLA_PROTO_DOWN: u16 = 39;
/// `IFLA_GSO_MAX_SEGS`: u32 GSO segment limit.
pub const IFLA_GSO_MAX_SEGS: u16 = 40;
/// `IFLA_GSO_MAX_SIZE`: u32 GSO size limit.
pub const IFLA_GSO_MAX_SIZE: u16 = 41;
/// `IFLA_CARRIER_UP_COUNT`: u32 carrier up count.
pub const IFLA_CARRIER_UP_COUNT: u16 = 47;
/// `IFLA_CARRIER_DOWN_COUNT`: u32 carrier down count.
pub const IFLA_CARRIER_DOWN_COUNT: u16 = 48;
/// `IFLA_MIN_MTU`: u32 minimum MTU.
pub const IFLA_MIN_MTU: u16 = 50;
/// `IFLA_MAX_MTU`: u32 maximum MTU.
pub const IFLA_MAX_MTU: u16 = 51;
/// `IFLA_PERM_ADDRESS`: permanent hardware address.
pub const IFLA_PERM_ADDRESS: u16 = 54;
/// `IFLA_PARENT_DEV_NAME`: parent device name.
pub const IFLA_PARENT_DEV_NAME: u16 = 56;
/// `IFLA_GRO_MAX_SIZE`: u32 GRO size limit.
pub const IFLA_GRO_MAX_SIZE: u16 = 58;
/// `IFLA_TSO_MAX_SIZE`: u32 TSO size limit.
pub const IFLA_TSO_MAX_SIZE: u16 = 59;
/// `IFLA_TSO_MAX_SEGS`: u32 TSO segment limit.
pub const IFLA_TSO_MAX_SEGS: u16 = 60;
/// `IFLA_ALLMULTI`: u32 allmulti count.
pub const IFLA_ALLMULTI: u16 = 61;

/// `IFLA_INFO_KIND`: the link type as a string ("veth").
pub const IFLA_INFO_KIND: u16 = 1;
/// `IFLA_INFO_DATA`: nested, kind-specific data (for veth: `VETH_INFO_*`).
pub const IFLA_INFO_DATA: u16 = 2;

/// `IFLA_XDP_FD`: s32 program fd to attach, or -1 to detach.
pub const IFLA_XDP_FD: u16 = 1;
/// `IFLA_XDP_ATTACHED`: u8 `XDP_ATTACHED_*` mode (in dumps).
pub const IFLA_XDP_ATTACHED: u16 = 2;
/// `IFLA_XDP_FLAGS`: u32 `XDP_FLAGS_*`.
pub const IFLA_XDP_FLAGS: u16 = 3;
/// `IFLA_XDP_PROG_ID`: u32 id of the attached program (in dumps).
pub const IFLA_XDP_PROG_ID: u16 = 4;
/// `IFLA_XDP_DRV_PROG_ID`: program attached in driver mode.
pub const IFLA_XDP_DRV_PROG_ID: u16 = 5;
/// `IFLA_XDP_SKB_PROG_ID`: program attached in generic (skb) mode.
pub const IFLA_XDP_SKB_PROG_ID: u16 = 6;
/// `IFLA_XDP_HW_PROG_ID`: program offloaded to hardware.
pub const IFLA_XDP_HW_PROG_ID: u16 = 7;
/// `IFLA_XDP_EXPECTED_FD`: s32 fd of the program we expect to replace.
pub const IFLA_XDP_EXPECTED_FD: u16 = 8;

/// `XDP_FLAGS_UPDATE_IF_NOEXIST`: fail if a program is already attached.
pub const XDP_FLAGS_UPDATE_IF_NOEXIST: u32 = 1 << 0;
/// `XDP_FLAGS_SKB_MODE`: generic XDP, in the stack after the skb is built.
pub const XDP_FLAGS_SKB_MODE: u32 = 1 << 1;
/// `XDP_FLAGS_DRV_MODE`: native XDP in the driver.
pub const XDP_FLAGS_DRV_MODE: u32 = 1 << 2;
/// `XDP_FLAGS_HW_MODE`: offloaded to the NIC.
pub const XDP_FLAGS_HW_MODE: u32 = 1 << 3;
/// `XDP_FLAGS_REPLACE`: replace only the program given by `IFLA_XDP_EXPECTED_FD`.
pub const XDP_FLAGS_REPLACE: u32 = 1 << 4;

/// `XDP_ATTACHED_NONE`.
pub const XDP_ATTACHED_NONE: u8 = 0;
/// `XDP_ATTACHED_DRV`.
pub const XDP_ATTACHED_DRV: u8 = 1;
/// `XDP_ATTACHED_SKB`.
pub const XDP_ATTACHED_SKB: u8 = 2;
/// `XDP_ATTACHED_HW`.
pub const XDP_ATTACHED_HW: u8 = 3;
/// `XDP_ATTACHED_MULTI`: several modes at once; look at the per-mode ids.
pub const XDP_ATTACHED_MULTI: u8 = 4;

// ---------------------------------------------------------------------------
// veth.h
// ---------------------------------------------------------------------------

/// `VETH_INFO_PEER`: nested `struct ifinfomsg` + `IFLA_*` for the peer end.
pub const VETH_INFO_PEER: u16 = 1;

// ---------------------------------------------------------------------------
// if_link.h: netkit (Linux 6.7, drivers/net/netkit.c), `IFLA_NETKIT_*` inside
// `IFLA_INFO_DATA` of kind "netkit".
// ---------------------------------------------------------------------------

/// `IFLA_NETKIT_PEER_INFO`: nested `struct ifinfomsg` + `IFLA_*` for the peer
/// end, as `VETH_INFO_PEER` is for veth.
pub const IFLA_NETKIT_PEER_INFO: u16 = 1;
/// `IFLA_NETKIT_PRIMARY`: u8, read-only (dumps): this end is the primary.
pub const IFLA_NETKIT_PRIMARY: u16 = 2;
/// `IFLA_NETKIT_POLICY`: u32 `enum netkit_action`, the primary's verdict when
/// no program is attached.
pub const IFLA_NETKIT_POLICY: u16 = 3;
/// `IFLA_NETKIT_PEER_POLICY`: u32, the same for the peer.
pub const IFLA_NETKIT_PEER_POLICY: u16 = 4;
/// `IFLA_NETKIT_MODE`: u32 `enum netkit_mode`.
pub const IFLA_NETKIT_MODE: u16 = 5;
/// `NETKIT_L3` (the default): no Ethernet header, `IFF_NOARP`, no MAC.
pub const NETKIT_L3: u32 = 0;
/// `NETKIT_L2`: Ethernet framing, ARP, a settable MAC.
pub const NETKIT_L2: u32 = 1;
/// `NETKIT_PASS` (`enum netkit_action`): hand the packet to the peer.
pub const NETKIT_PASS: u32 = 0;
/// `NETKIT_DROP`.
pub const NETKIT_DROP: u32 = 2;

// ---------------------------------------------------------------------------
// if_addr.h: `struct ifaddrmsg` attributes and flags.
// ---------------------------------------------------------------------------

/// `IFA_ADDRESS`: the prefix address (the peer, on point-to-point links).
pub const IFA_ADDRESS: u16 = 1;
/// `IFA_LOCAL`: the local address.
pub const IFA_LOCAL: u16 = 2;
/// `IFA_LABEL`: address label (the device name, for IPv4).
pub const IFA_LABEL: u16 = 3;
/// `IFA_FLAGS`: u32 flags, extending the u8 `ifa_flags`.
pub const IFA_FLAGS: u16 = 8;
/// `IFA_F_NODAD`: skip IPv6 duplicate address detection.
pub const IFA_F_NODAD: u32 = 0x02;
/// `IFA_F_TENTATIVE`: IPv6 duplicate address detection still running.
pub const IFA_F_TENTATIVE: u32 = 0x40;

// ---------------------------------------------------------------------------
// if_ether.h
// ---------------------------------------------------------------------------

/// `ETH_P_ALL`: every protocol; a classifier's `tcm_info` minor, in network order.
pub const ETH_P_ALL: u16 = 0x0003;

// ---------------------------------------------------------------------------
// pkt_sched.h: traffic-control handles.
// ---------------------------------------------------------------------------

/// `TC_H_MAJ_MASK`.
pub const TC_H_MAJ_MASK: u32 = 0xFFFF_0000;
/// `TC_H_MIN_MASK`.
pub const TC_H_MIN_MASK: u32 = 0x0000_FFFF;
/// `TC_H_UNSPEC`.
pub const TC_H_UNSPEC: u32 = 0;
/// `TC_H_ROOT`: the root of a device's egress qdisc tree.
pub const TC_H_ROOT: u32 = 0xFFFF_FFFF;
/// `TC_H_INGRESS`: the ingress qdisc's parent.
pub const TC_H_INGRESS: u32 = 0xFFFF_FFF1;
/// `TC_H_CLSACT = TC_H_INGRESS`: clsact takes the ingress qdisc's slot.
pub const TC_H_CLSACT: u32 = TC_H_INGRESS;
/// `TC_H_MIN_INGRESS`: clsact's ingress hook.
pub const TC_H_MIN_INGRESS: u32 = 0xFFF2;
/// `TC_H_MIN_EGRESS`: clsact's egress hook.
pub const TC_H_MIN_EGRESS: u32 = 0xFFF3;

/// `TC_H_MAKE(maj, min)` from pkt_sched.h.
pub const fn tc_h_make(maj: u32, min: u32) -> u32 {
    (maj & TC_H_MAJ_MASK) | (min & TC_H_MIN_MASK)
}

// ---------------------------------------------------------------------------
// pkt_cls.h: the cls_bpf classifier.
// ---------------------------------------------------------------------------

/// `TCA_BPF_CLASSID`.
pub const TCA_BPF_CLASSID: u16 = 3;
/// `TCA_BPF_FD`: u32 fd of the program to attach.
pub const TCA_BPF_FD: u16 = 6;
/// `TCA_BPF_NAME`: NUL-ended name shown by `tc filter show`.
pub const TCA_BPF_NAME: u16 = 7;
/// `TCA_BPF_FLAGS`: u32 `TCA_BPF_FLAG_*`.
pub const TCA_BPF_FLAGS: u16 = 8;
/// `TCA_BPF_FLAGS_GEN`: u32 generic classifier flags (`TCA_CLS_FLAGS_*`).
pub const TCA_BPF_FLAGS_GEN: u16 = 9;
/// `TCA_BPF_TAG`: the program's 8-byte tag (in dumps).
pub const TCA_BPF_TAG: u16 = 10;
/// `TCA_BPF_ID`: u32 program id (in dumps).
pub const TCA_BPF_ID: u16 = 11;

/// `CLS_BPF_NAME_LEN` (net/sched/cls_bpf.c, *not* uapi): the longest
/// `TCA_BPF_NAME` the kernel's policy accepts, without the NUL.
pub const CLS_BPF_NAME_LEN: usize = 256;

/// `TCA_BPF_FLAG_ACT_DIRECT`: the program's return code is the TC action.
pub const TCA_BPF_FLAG_ACT_DIRECT: u32 = 1 << 0;

/// `TCA_CLS_FLAGS_SKIP_HW`: do not offload to hardware.
pub const TCA_CLS_FLAGS_SKIP_HW: u32 = 1 << 0;
/// `TCA_CLS_FLAGS_SKIP_SW`: do not run in software.
pub const TCA_CLS_FLAGS_SKIP_SW: u32 = 1 << 1;
/// `TCA_CLS_FLAGS_IN_HW`: offloaded to hardware.
pub const TCA_CLS_FLAGS_IN_HW: u32 = 1 << 2;
/// `TCA_CLS_FLAGS_NOT_IN_HW`: not offloaded.
pub const TCA_CLS_FLAGS_NOT_IN_HW: u32 = 1 << 3;
