//! Inspect mode: every request and reply decoded as a tree of named fields,
//! as a hex dump, and as the `ip`/`tc` command that would send the same
//! request. The lab's `--explain` switch turns it on with
//! [`crate::Handle::set_inspect`].
//!
//! Names are the kernel's (`RTM_NEWTFILTER`, `TCA_BPF_FD`), from
//! `include/uapi/linux/netlink.h`, `rtnetlink.h`, `if_link.h`, `if_addr.h`,
//! `veth.h` and `pkt_cls.h`. The decoder never panics, whatever the bytes:
//! whatever it cannot decode it shows as `<malformed: ...>`.

use crate::consts::*;
use crate::handle::fixed_len;
use crate::wire::{self, IfAddrMsg, IfInfoMsg, RtMsg, TcMsg, NLMSG_HDRLEN};
use std::fmt::Write as _;
use std::io::Write as _;

/// Which way a message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From us to the kernel.
    Request,
    /// From the kernel to us.
    Reply,
}

/// One message seen in inspect mode.
#[derive(Debug, Clone, Copy)]
pub struct Event<'a> {
    /// Request or reply.
    pub direction: Direction,
    /// The request's description ("RTM_NEWQDISC clsact on veth1@2 (ifindex 4)").
    pub request: &'a str,
    /// The equivalent `ip`/`tc` command of the request.
    pub command: &'a str,
    /// The bytes sent or received (one or more netlink messages).
    pub bytes: &'a [u8],
}

/// The inspect callback type.
pub type InspectFn = Box<dyn FnMut(&Event<'_>) + Send>;

/// An inspect callback that writes [`render`] of each message to stderr.
pub fn stderr_printer() -> InspectFn {
    Box::new(|ev| {
        let _ = std::io::stderr().write_all(render(ev).as_bytes());
    })
}

/// An inspect callback that appends [`render`] output to a shared string
/// (useful in tests and for programs that print it elsewhere).
pub fn collector(out: std::sync::Arc<std::sync::Mutex<String>>) -> InspectFn {
    Box::new(move |ev| {
        if let Ok(mut s) = out.lock() {
            s.push_str(&render(ev));
        }
    })
}

/// The full text for one event: title, command line, tree and hex dump.
pub fn render(ev: &Event<'_>) -> String {
    let mut s = String::new();
    match ev.direction {
        Direction::Request => {
            let _ = writeln!(s, ">>> request: {}", ev.request);
            let _ = writeln!(s, "    same as: {}", ev.command);
        }
        Direction::Reply => {
            let _ = writeln!(s, "<<< reply to: {}", ev.request);
        }
    }
    s.push_str(&tree(ev.bytes));
    // Requests are short and every byte matters; a link dump reply runs to
    // kilobytes of counters, so its dump is cut (the tree above is complete).
    if ev.direction == Direction::Reply && ev.bytes.len() > REPLY_HEX_LIMIT {
        s.push_str(&hex_dump(&ev.bytes[..REPLY_HEX_LIMIT]));
        let _ = writeln!(s, "    ... {} more bytes", ev.bytes.len() - REPLY_HEX_LIMIT);
    } else {
        s.push_str(&hex_dump(ev.bytes));
    }
    s
}

/// How much of a reply [`render`] shows in hex.
pub const REPLY_HEX_LIMIT: usize = 256;

/// A classic hex dump: offset, 16 bytes in hex, the same as ASCII.
pub fn hex_dump(bytes: &[u8]) -> String {
    let mut s = String::new();
    for (i, chunk) in bytes.chunks(16).enumerate() {
        let _ = write!(s, "    {:04x}  ", i * 16);
        for j in 0..16 {
            match chunk.get(j) {
                Some(b) => {
                    let _ = write!(s, "{b:02x} ");
                }
                None => s.push_str("   "),
            }
            if j == 7 {
                s.push(' ');
            }
        }
        s.push_str(" |");
        for &b in chunk {
            s.push(if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '.'
            });
        }
        s.push_str("|\n");
    }
    s
}

/// The name of a netlink message type.
pub fn msg_type_name(ty: u16) -> &'static str {
    match ty {
        NLMSG_NOOP => "NLMSG_NOOP",
        NLMSG_ERROR => "NLMSG_ERROR",
        NLMSG_DONE => "NLMSG_DONE",
        NLMSG_OVERRUN => "NLMSG_OVERRUN",
        RTM_NEWLINK => "RTM_NEWLINK",
        RTM_DELLINK => "RTM_DELLINK",
        RTM_GETLINK => "RTM_GETLINK",
        RTM_SETLINK => "RTM_SETLINK",
        RTM_NEWADDR => "RTM_NEWADDR",
        RTM_DELADDR => "RTM_DELADDR",
        RTM_GETADDR => "RTM_GETADDR",
        RTM_NEWROUTE => "RTM_NEWROUTE",
        RTM_DELROUTE => "RTM_DELROUTE",
        RTM_GETROUTE => "RTM_GETROUTE",
        RTM_NEWQDISC => "RTM_NEWQDISC",
        RTM_DELQDISC => "RTM_DELQDISC",
        RTM_GETQDISC => "RTM_GETQDISC",
        RTM_NEWTFILTER => "RTM_NEWTFILTER",
        RTM_DELTFILTER => "RTM_DELTFILTER",
        RTM_GETTFILTER => "RTM_GETTFILTER",
        _ => "?",
    }
}

/// `nlmsg_flags` as names; the meaning of bits 8..11 depends on the type.
pub fn flag_names(ty: u16, flags: u16) -> String {
    let mut v = Vec::new();
    let common = [
        (NLM_F_REQUEST, "REQUEST"),
        (NLM_F_MULTI, "MULTI"),
        (NLM_F_ACK, "ACK"),
        (NLM_F_ECHO, "ECHO"),
        (NLM_F_DUMP_INTR, "DUMP_INTR"),
    ];
    let upper: &[(u16, &str)] = if ty == NLMSG_ERROR {
        &[(NLM_F_CAPPED, "CAPPED"), (NLM_F_ACK_TLVS, "ACK_TLVS")]
    } else if crate::handle::is_get(ty) {
        &[(NLM_F_ROOT, "ROOT"), (NLM_F_MATCH, "MATCH")]
    } else {
        &[
            (NLM_F_REPLACE, "REPLACE"),
            (NLM_F_EXCL, "EXCL"),
            (NLM_F_CREATE, "CREATE"),
        ]
    };
    let mut known = 0;
    for &(bit, name) in common.iter().chain(upper.iter()) {
        known |= bit;
        if flags & bit != 0 {
            v.push(name.to_string());
        }
    }
    if flags & !known != 0 {
        v.push(format!("0x{:x}", flags & !known));
    }
    if v.is_empty() {
        "0".into()
    } else {
        v.join("|")
    }
}

/// Attribute namespaces: which enum an attribute type number belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ctx {
    Link,
    LinkInfo,
    VethData,
    Xdp,
    Addr,
    Route,
    Tc,
    Bpf,
    Opaque,
}

/// How to show an attribute's payload.
enum Val {
    Str,
    U8,
    U32,
    I32,
    Mac,
    Ip(u8),
    Nested(Ctx),
    /// A struct ifinfomsg, then attributes (`VETH_INFO_PEER`).
    IfInfoThen(Ctx),
    Stats64,
    Tag,
    Hex,
    /// A u32 of named bits.
    Flags(&'static [(u32, &'static str)]),
}

const BPF_FLAGS: &[(u32, &str)] = &[(TCA_BPF_FLAG_ACT_DIRECT, "TCA_BPF_FLAG_ACT_DIRECT")];
const CLS_FLAGS: &[(u32, &str)] = &[
    (TCA_CLS_FLAGS_SKIP_HW, "SKIP_HW"),
    (TCA_CLS_FLAGS_SKIP_SW, "SKIP_SW"),
    (TCA_CLS_FLAGS_IN_HW, "IN_HW"),
    (TCA_CLS_FLAGS_NOT_IN_HW, "NOT_IN_HW"),
];
const XDP_FLAGS: &[(u32, &str)] = &[
    (XDP_FLAGS_UPDATE_IF_NOEXIST, "UPDATE_IF_NOEXIST"),
    (XDP_FLAGS_SKB_MODE, "SKB_MODE"),
    (XDP_FLAGS_DRV_MODE, "DRV_MODE"),
    (XDP_FLAGS_HW_MODE, "HW_MODE"),
    (XDP_FLAGS_REPLACE, "REPLACE"),
];
const IFA_FLAG_NAMES: &[(u32, &str)] = &[(IFA_F_NODAD, "NODAD"), (IFA_F_TENTATIVE, "TENTATIVE")];

fn bits(v: u32, names: &[(u32, &str)]) -> String {
    let mut parts: Vec<String> = names
        .iter()
        .filter(|(b, _)| v & b != 0)
        .map(|(_, n)| n.to_string())
        .collect();
    let known = names.iter().fold(0, |acc, (b, _)| acc | b);
    if v & !known != 0 {
        parts.push(format!("0x{:x}", v & !known));
    }
    if parts.is_empty() {
        "0".into()
    } else {
        parts.join("|")
    }
}

fn attr_info(ctx: Ctx, ty: u16, family: u8, kind: Option<&str>) -> (&'static str, Val) {
    use Val::*;
    match (ctx, ty) {
        (Ctx::Link, IFLA_ADDRESS) => ("IFLA_ADDRESS", Mac),
        (Ctx::Link, IFLA_BROADCAST) => ("IFLA_BROADCAST", Mac),
        (Ctx::Link, IFLA_PERM_ADDRESS) => ("IFLA_PERM_ADDRESS", Mac),
        (Ctx::Link, IFLA_IFNAME) => ("IFLA_IFNAME", Str),
        (Ctx::Link, IFLA_MTU) => ("IFLA_MTU", U32),
        (Ctx::Link, IFLA_LINK) => ("IFLA_LINK", I32),
        (Ctx::Link, IFLA_QDISC) => ("IFLA_QDISC", Str),
        (Ctx::Link, IFLA_PARENT_DEV_NAME) => ("IFLA_PARENT_DEV_NAME", Str),
        (Ctx::Link, IFLA_TXQLEN) => ("IFLA_TXQLEN", U32),
        (Ctx::Link, IFLA_GROUP) => ("IFLA_GROUP", U32),
        (Ctx::Link, IFLA_EXT_MASK) => ("IFLA_EXT_MASK", U32),
        (Ctx::Link, IFLA_PROMISCUITY) => ("IFLA_PROMISCUITY", U32),
        (Ctx::Link, IFLA_NUM_TX_QUEUES) => ("IFLA_NUM_TX_QUEUES", U32),
        (Ctx::Link, IFLA_NUM_RX_QUEUES) => ("IFLA_NUM_RX_QUEUES", U32),
        (Ctx::Link, IFLA_CARRIER_CHANGES) => ("IFLA_CARRIER_CHANGES", U32),
        (Ctx::Link, IFLA_GSO_MAX_SEGS) => ("IFLA_GSO_MAX_SEGS", U32),
        (Ctx::Link, IFLA_GSO_MAX_SIZE) => ("IFLA_GSO_MAX_SIZE", U32),
        (Ctx::Link, IFLA_CARRIER_UP_COUNT) => ("IFLA_CARRIER_UP_COUNT", U32),
        (Ctx::Link, IFLA_CARRIER_DOWN_COUNT) => ("IFLA_CARRIER_DOWN_COUNT", U32),
        (Ctx::Link, IFLA_MIN_MTU) => ("IFLA_MIN_MTU", U32),
        (Ctx::Link, IFLA_MAX_MTU) => ("IFLA_MAX_MTU", U32),
        (Ctx::Link, IFLA_GRO_MAX_SIZE) => ("IFLA_GRO_MAX_SIZE", U32),
        (Ctx::Link, IFLA_TSO_MAX_SIZE) => ("IFLA_TSO_MAX_SIZE", U32),
        (Ctx::Link, IFLA_TSO_MAX_SEGS) => ("IFLA_TSO_MAX_SEGS", U32),
        (Ctx::Link, IFLA_ALLMULTI) => ("IFLA_ALLMULTI", U32),
        (Ctx::Link, IFLA_OPERSTATE) => ("IFLA_OPERSTATE", U8),
        (Ctx::Link, IFLA_LINKMODE) => ("IFLA_LINKMODE", U8),
        (Ctx::Link, IFLA_CARRIER) => ("IFLA_CARRIER", U8),
        (Ctx::Link, IFLA_PROTO_DOWN) => ("IFLA_PROTO_DOWN", U8),
        (Ctx::Link, IFLA_MAP) => ("IFLA_MAP", Hex),
        (Ctx::Link, IFLA_AF_SPEC) => ("IFLA_AF_SPEC", Hex),
        (Ctx::Link, IFLA_LINKINFO) => ("IFLA_LINKINFO", Nested(Ctx::LinkInfo)),
        (Ctx::Link, IFLA_STATS64) => ("IFLA_STATS64", Stats64),
        (Ctx::Link, IFLA_NET_NS_FD) => ("IFLA_NET_NS_FD", U32),
        (Ctx::Link, IFLA_LINK_NETNSID) => ("IFLA_LINK_NETNSID", I32),
        (Ctx::Link, IFLA_XDP) => ("IFLA_XDP", Nested(Ctx::Xdp)),
        (Ctx::Link, IFLA_STATS) => ("IFLA_STATS", Hex),
        (Ctx::Link, _) => ("IFLA_?", Hex),
        (Ctx::LinkInfo, IFLA_INFO_KIND) => ("IFLA_INFO_KIND", Str),
        (Ctx::LinkInfo, IFLA_INFO_DATA) if kind == Some("veth") => {
            ("IFLA_INFO_DATA", Nested(Ctx::VethData))
        }
        (Ctx::LinkInfo, IFLA_INFO_DATA) => ("IFLA_INFO_DATA", Hex),
        (Ctx::LinkInfo, _) => ("IFLA_INFO_?", Hex),
        (Ctx::VethData, VETH_INFO_PEER) => ("VETH_INFO_PEER", IfInfoThen(Ctx::Link)),
        (Ctx::VethData, _) => ("VETH_INFO_?", Hex),
        (Ctx::Xdp, IFLA_XDP_FD) => ("IFLA_XDP_FD", I32),
        (Ctx::Xdp, IFLA_XDP_ATTACHED) => ("IFLA_XDP_ATTACHED", U8),
        (Ctx::Xdp, IFLA_XDP_FLAGS) => ("IFLA_XDP_FLAGS", Flags(XDP_FLAGS)),
        (Ctx::Xdp, IFLA_XDP_PROG_ID) => ("IFLA_XDP_PROG_ID", U32),
        (Ctx::Xdp, IFLA_XDP_DRV_PROG_ID) => ("IFLA_XDP_DRV_PROG_ID", U32),
        (Ctx::Xdp, IFLA_XDP_SKB_PROG_ID) => ("IFLA_XDP_SKB_PROG_ID", U32),
        (Ctx::Xdp, IFLA_XDP_HW_PROG_ID) => ("IFLA_XDP_HW_PROG_ID", U32),
        (Ctx::Xdp, IFLA_XDP_EXPECTED_FD) => ("IFLA_XDP_EXPECTED_FD", I32),
        (Ctx::Xdp, _) => ("IFLA_XDP_?", Hex),
        (Ctx::Addr, IFA_ADDRESS) => ("IFA_ADDRESS", Ip(family)),
        (Ctx::Addr, IFA_LOCAL) => ("IFA_LOCAL", Ip(family)),
        (Ctx::Addr, IFA_LABEL) => ("IFA_LABEL", Str),
        (Ctx::Addr, IFA_FLAGS) => ("IFA_FLAGS", Flags(IFA_FLAG_NAMES)),
        (Ctx::Addr, _) => ("IFA_?", Hex),
        (Ctx::Route, RTA_DST) => ("RTA_DST", Ip(family)),
        (Ctx::Route, RTA_OIF) => ("RTA_OIF", U32),
        (Ctx::Route, RTA_GATEWAY) => ("RTA_GATEWAY", Ip(family)),
        (Ctx::Route, RTA_PRIORITY) => ("RTA_PRIORITY", U32),
        (Ctx::Route, RTA_PREFSRC) => ("RTA_PREFSRC", Ip(family)),
        (Ctx::Route, RTA_TABLE) => ("RTA_TABLE", U32),
        (Ctx::Route, _) => ("RTA_?", Hex),
        (Ctx::Tc, TCA_KIND) => ("TCA_KIND", Str),
        (Ctx::Tc, TCA_OPTIONS) if kind == Some("bpf") => ("TCA_OPTIONS", Nested(Ctx::Bpf)),
        (Ctx::Tc, TCA_OPTIONS) => ("TCA_OPTIONS", Hex),
        (Ctx::Tc, TCA_CHAIN) => ("TCA_CHAIN", U32),
        (Ctx::Tc, _) => ("TCA_?", Hex),
        (Ctx::Bpf, TCA_BPF_CLASSID) => ("TCA_BPF_CLASSID", U32),
        (Ctx::Bpf, TCA_BPF_FD) => ("TCA_BPF_FD", U32),
        (Ctx::Bpf, TCA_BPF_NAME) => ("TCA_BPF_NAME", Str),
        (Ctx::Bpf, TCA_BPF_FLAGS) => ("TCA_BPF_FLAGS", Flags(BPF_FLAGS)),
        (Ctx::Bpf, TCA_BPF_FLAGS_GEN) => ("TCA_BPF_FLAGS_GEN", Flags(CLS_FLAGS)),
        (Ctx::Bpf, TCA_BPF_TAG) => ("TCA_BPF_TAG", Tag),
        (Ctx::Bpf, TCA_BPF_ID) => ("TCA_BPF_ID", U32),
        (Ctx::Bpf, _) => ("TCA_BPF_?", Hex),
        (Ctx::Opaque, _) => ("?", Hex),
    }
}

fn body_ctx(ty: u16) -> Ctx {
    match ty {
        RTM_NEWLINK..=RTM_SETLINK => Ctx::Link,
        RTM_NEWADDR..=RTM_GETADDR => Ctx::Addr,
        RTM_NEWROUTE..=RTM_GETROUTE => Ctx::Route,
        RTM_NEWQDISC..=RTM_GETQDISC | RTM_NEWTFILTER..=RTM_GETTFILTER => Ctx::Tc,
        _ => Ctx::Opaque,
    }
}

fn hex_short(b: &[u8]) -> String {
    let mut s: String = b.iter().take(32).map(|x| format!("{x:02x}")).collect();
    if b.len() > 32 {
        let _ = write!(s, "... ({} bytes)", b.len());
    }
    if s.is_empty() {
        s.push_str("(empty)");
    }
    s
}

fn show_val(out: &mut String, v: &Val, a: &wire::Attr<'_>) {
    let p = a.payload;
    let r = match v {
        Val::Str => format!("{:?}", a.string()),
        Val::U8 => a
            .u8()
            .map(|x| x.to_string())
            .unwrap_or_else(|e| format!("<malformed: {e}>")),
        Val::U32 => a
            .u32()
            .map(|x| format!("{x} (0x{x:x})"))
            .unwrap_or_else(|e| format!("<malformed: {e}>")),
        Val::I32 => a
            .i32()
            .map(|x| x.to_string())
            .unwrap_or_else(|e| format!("<malformed: {e}>")),
        Val::Mac if p.len() == 6 => crate::link::format_mac(p),
        Val::Ip(f) => crate::addr::ip_from(*f, p)
            .map(|ip| ip.to_string())
            .unwrap_or_else(|| hex_short(p)),
        Val::Stats64 => match crate::link::LinkStats::parse(p) {
            Ok(s) => {
                let mut t = format!(
                    "rx_packets {} tx_packets {} rx_bytes {} tx_bytes {} rx_dropped {} tx_dropped {}",
                    s.rx_packets, s.tx_packets, s.rx_bytes, s.tx_bytes, s.rx_dropped, s.tx_dropped
                );
                if let Some(o) = s.rx_otherhost_dropped {
                    let _ = write!(t, " rx_otherhost_dropped {o}");
                }
                t
            }
            Err(e) => format!("<malformed: {e}>"),
        },
        Val::Tag => hex_short(p),
        Val::Flags(names) => a
            .u32()
            .map(|x| bits(x, names))
            .unwrap_or_else(|e| format!("<malformed: {e}>")),
        _ => hex_short(p),
    };
    out.push_str(&r);
}

/// Renders attributes; `base` is the buffer's offset in the message, for the
/// offsets printed (which match `NLMSGERR_ATTR_OFFS`).
fn attrs_tree(out: &mut String, buf: &[u8], base: usize, ctx: Ctx, family: u8, depth: usize) {
    let indent = "    ".repeat(depth + 1);
    // Sibling context: the kind decides how TCA_OPTIONS / IFLA_INFO_DATA read.
    let kind = wire::attrs(buf).filter_map(Result::ok).find_map(|a| {
        let is_kind = matches!(
            (ctx, a.ty),
            (Ctx::Tc, TCA_KIND) | (Ctx::LinkInfo, IFLA_INFO_KIND)
        );
        is_kind.then(|| a.string())
    });
    for a in wire::attrs(buf) {
        let a = match a {
            Ok(a) => a,
            Err(e) => {
                let _ = writeln!(out, "{indent}<malformed: {e}>");
                return;
            }
        };
        let (name, val) = attr_info(ctx, a.ty, family, kind.as_deref());
        let _ = write!(
            out,
            "{indent}[{:04x}] {name}({}) len {}:",
            base + a.offset,
            a.ty,
            a.payload.len() + 4
        );
        let inner = base + a.offset + wire::NLA_HDRLEN;
        if depth > 8 {
            out.push_str(" <nesting too deep>\n");
            continue;
        }
        // A nest's children go on the lines below; any other value follows
        // on this line.
        if !matches!(val, Val::Nested(_)) {
            out.push(' ');
        }
        match val {
            Val::Nested(c) => {
                out.push('\n');
                attrs_tree(out, a.payload, inner, c, family, depth + 1);
            }
            Val::IfInfoThen(c) => match IfInfoMsg::parse(a.payload) {
                Ok(h) => {
                    let _ = writeln!(out, "{}", ifinfo_line(&h));
                    let rest = a.payload.get(IfInfoMsg::LEN..).unwrap_or(&[]);
                    attrs_tree(out, rest, inner + IfInfoMsg::LEN, c, family, depth + 1);
                }
                Err(e) => {
                    let _ = writeln!(out, "<malformed: {e}>");
                }
            },
            v => {
                show_val(out, &v, &a);
                out.push('\n');
            }
        }
    }
}

fn ifinfo_line(h: &IfInfoMsg) -> String {
    format!(
        "ifinfomsg {{ ifi_family {}, ifi_type {}, ifi_index {}, ifi_flags 0x{:x}, ifi_change 0x{:x} }}",
        h.family, h.ty, h.index, h.flags, h.change
    )
}

/// Decodes every message in `bytes` as an indented tree.
pub fn tree(bytes: &[u8]) -> String {
    let mut out = String::new();
    for m in wire::messages(bytes) {
        let m = match m {
            Ok(m) => m,
            Err(e) => {
                let _ = writeln!(out, "  <malformed: {e}>");
                break;
            }
        };
        let _ = writeln!(
            out,
            "  nlmsghdr {{ len {}, type {}({}), flags {}, seq {}, pid {} }}",
            m.payload.len() + NLMSG_HDRLEN,
            msg_type_name(m.ty),
            m.ty,
            flag_names(m.ty, m.flags),
            m.seq,
            m.pid
        );
        message_body(&mut out, m.ty, m.flags, m.payload);
    }
    out
}

fn message_body(out: &mut String, ty: u16, flags: u16, p: &[u8]) {
    let base = NLMSG_HDRLEN;
    match ty {
        NLMSG_ERROR => match wire::parse_error(p, flags) {
            Ok(e) => {
                let what = if e.errno == 0 {
                    "ACK".to_string()
                } else {
                    format!("-{}", crate::error::errno_text(e.errno))
                };
                let _ = writeln!(
                    out,
                    "    nlmsgerr {{ error {what}, request type {}({}) seq {} }}",
                    msg_type_name(e.request_type),
                    e.request_type,
                    e.request_seq
                );
                if let Some(m) = e.msg {
                    let _ = writeln!(out, "    NLMSGERR_ATTR_MSG: {m:?}");
                }
                if let Some(o) = e.bad_attr_offset {
                    let _ = writeln!(out, "    NLMSGERR_ATTR_OFFS: {o}");
                }
                if let Some(t) = e.missing_type {
                    let _ = writeln!(out, "    NLMSGERR_ATTR_MISS_TYPE: {t}");
                }
            }
            Err(e) => {
                let _ = writeln!(out, "    <malformed nlmsgerr: {e}>");
            }
        },
        NLMSG_DONE => {
            let e = wire::parse_done(p, flags);
            let _ = writeln!(out, "    done, status {}", -e.errno);
            if let Some(m) = e.msg {
                let _ = writeln!(out, "    NLMSGERR_ATTR_MSG: {m:?}");
            }
        }
        _ => {
            let Some(flen) = fixed_len(ty) else {
                let _ = writeln!(out, "    payload {}", hex_short(p));
                return;
            };
            let (line, family) = match fixed_line(ty, p) {
                Ok(x) => x,
                Err(e) => {
                    let _ = writeln!(out, "    <malformed: {e}>");
                    return;
                }
            };
            let _ = writeln!(out, "    {line}");
            let rest = p.get(flen..).unwrap_or(&[]);
            attrs_tree(out, rest, base + flen, body_ctx(ty), family, 0);
        }
    }
}

fn fixed_line(ty: u16, p: &[u8]) -> Result<(String, u8), wire::WireError> {
    Ok(match body_ctx(ty) {
        Ctx::Link => (ifinfo_line(&IfInfoMsg::parse(p)?), 0),
        Ctx::Addr => {
            let h = IfAddrMsg::parse(p)?;
            (
                format!(
                    "ifaddrmsg {{ ifa_family {}, ifa_prefixlen {}, ifa_flags 0x{:x}, ifa_scope {}, ifa_index {} }}",
                    h.family, h.prefixlen, h.flags, h.scope, h.index
                ),
                h.family,
            )
        }
        Ctx::Route => {
            let h = RtMsg::parse(p)?;
            (
                format!(
                    "rtmsg {{ rtm_family {}, rtm_dst_len {}, rtm_src_len {}, rtm_tos {}, rtm_table {}, rtm_protocol {}, rtm_scope {}, rtm_type {}, rtm_flags 0x{:x} }}",
                    h.family, h.dst_len, h.src_len, h.tos, h.table, h.protocol, h.scope, h.ty, h.flags
                ),
                h.family,
            )
        }
        _ => {
            let h = TcMsg::parse(p)?;
            // A qdisc handle reads major:minor; a filter handle is the
            // classifier's own number, which tc prints in hex.
            let handle = if (RTM_NEWTFILTER..=RTM_GETTFILTER).contains(&ty) {
                format!("0x{:x}", h.handle)
            } else {
                tc_handle(h.handle)
            };
            (
                format!(
                    "tcmsg {{ tcm_family {}, tcm_ifindex {}, tcm_handle {}, tcm_parent {}, tcm_info 0x{:08x} (prio {}, protocol 0x{:04x}) }}",
                    h.family,
                    h.ifindex,
                    handle,
                    tc_handle(h.parent),
                    h.info,
                    h.prio(),
                    h.protocol()
                ),
                0,
            )
        }
    })
}

/// A TC handle as `tc` prints it: `ffff:fff2`, `ffff:`, `root`.
pub fn tc_handle(h: u32) -> String {
    match h {
        TC_H_ROOT => "root".into(),
        TC_H_UNSPEC => "0".into(),
        _ if h & TC_H_MIN_MASK == 0 => format!("{:x}:", h >> 16),
        _ => format!("{:x}:{:x}", h >> 16, h & TC_H_MIN_MASK),
    }
}

/// Names the attribute of a request message that contains byte `offset`
/// (counted from the start of the `nlmsghdr`, as `NLMSGERR_ATTR_OFFS` is):
/// "TCA_OPTIONS > TCA_BPF_NAME".
pub fn attr_path_at(msg: &[u8], offset: usize) -> Option<String> {
    let m = wire::messages(msg).next()?.ok()?;
    let flen = fixed_len(m.ty)?;
    let family = fixed_line(m.ty, m.payload).ok()?.1;
    let rest = m.payload.get(flen..)?;
    let mut path = Vec::new();
    find_path(
        rest,
        NLMSG_HDRLEN + flen,
        body_ctx(m.ty),
        family,
        offset,
        &mut path,
        0,
    );
    if path.is_empty() {
        None
    } else {
        Some(path.join(" > "))
    }
}

fn find_path(
    buf: &[u8],
    base: usize,
    ctx: Ctx,
    family: u8,
    offset: usize,
    path: &mut Vec<String>,
    depth: usize,
) {
    if depth > 8 {
        return;
    }
    let kind = wire::attrs(buf).filter_map(Result::ok).find_map(|a| {
        let is_kind = matches!(
            (ctx, a.ty),
            (Ctx::Tc, TCA_KIND) | (Ctx::LinkInfo, IFLA_INFO_KIND)
        );
        is_kind.then(|| a.string())
    });
    for a in wire::attrs(buf).filter_map(Result::ok) {
        let start = base + a.offset;
        let end = start + wire::NLA_HDRLEN + a.payload.len();
        if offset < start || offset >= end {
            continue;
        }
        let (name, val) = attr_info(ctx, a.ty, family, kind.as_deref());
        path.push(name.to_string());
        let inner = start + wire::NLA_HDRLEN;
        match val {
            Val::Nested(c) => find_path(a.payload, inner, c, family, offset, path, depth + 1),
            Val::IfInfoThen(c) => {
                if let Some(rest) = a.payload.get(IfInfoMsg::LEN..) {
                    find_path(
                        rest,
                        inner + IfInfoMsg::LEN,
                        c,
                        family,
                        offset,
                        path,
                        depth + 1,
                    )
                }
            }
            _ => {}
        }
        return;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::MsgBuilder;

    fn filter_request() -> Vec<u8> {
        let h = TcMsg {
            ifindex: 4,
            parent: 0xFFFF_FFF2,
            info: tc_h_make(1 << 16, ETH_P_ALL.to_be() as u32),
            ..Default::default()
        };
        let mut m = MsgBuilder::new(RTM_NEWTFILTER, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE)
            .fixed(&h.emit());
        m.attr_str(TCA_KIND, "bpf");
        m.nest_start(TCA_OPTIONS);
        m.attr_u32(TCA_BPF_FD, 9);
        m.attr_str(TCA_BPF_NAME, "redirect");
        m.nest_end();
        m.finish(5, 0)
    }

    #[test]
    fn tree_names_fields() {
        let t = tree(&filter_request());
        assert!(
            t.contains("type RTM_NEWTFILTER(44), flags REQUEST|ACK|CREATE"),
            "{t}"
        );
        assert!(t.contains("tcm_parent ffff:fff2"), "{t}");
        assert!(t.contains("TCA_BPF_FD(6) len 8: 9 (0x9)"), "{t}");
        assert!(t.contains("TCA_BPF_NAME(7) len 13: \"redirect\""), "{t}");
        // A nest's line ends at its colon; its children follow below.
        assert!(t.contains("TCA_OPTIONS(2) len 28:\n"), "{t}");
        assert!(t.lines().all(|l| !l.ends_with(' ')), "trailing space:\n{t}");
    }

    #[test]
    fn offset_names_attribute() {
        let b = filter_request();
        // nlmsghdr 16 + tcmsg 20 + TCA_KIND 8 = 44: TCA_OPTIONS; +4 +8 = TCA_BPF_NAME at 56.
        assert_eq!(attr_path_at(&b, 44).as_deref(), Some("TCA_OPTIONS"));
        assert_eq!(
            attr_path_at(&b, 56).as_deref(),
            Some("TCA_OPTIONS > TCA_BPF_NAME")
        );
        assert_eq!(attr_path_at(&b, 36).as_deref(), Some("TCA_KIND"));
        assert_eq!(attr_path_at(&b, 2000), None);
    }

    #[test]
    fn hex_dump_layout() {
        let d = hex_dump(b"ABCDEFGHIJKLMNOPQ");
        assert!(
            d.starts_with("    0000  41 42 43 44 45 46 47 48  49 4a"),
            "{d}"
        );
        assert!(d.contains("|ABCDEFGHIJKLMNOP|\n    0010  51"), "{d}");
    }
}
