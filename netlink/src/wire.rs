//! The netlink wire format: `struct nlmsghdr`, `struct nlattr` and the four
//! rtnetlink fixed headers, each a plain struct with an `emit`/`parse` pair.
//!
//! It follows `include/uapi/linux/netlink.h` (framing, `NLMSG_ALIGN`,
//! `NLA_ALIGN`, `struct nlmsgerr`), `rtnetlink.h` (`struct ifinfomsg`,
//! `struct rtmsg`, `struct tcmsg`) and `if_addr.h` (`struct ifaddrmsg`).
//! All integers are in host byte order, as netlink requires.
//!
//! Parsing never panics: every read is bounds-checked and a malformed message
//! becomes a [`WireError`] that says what was wrong and at which offset.

use crate::consts::*;
use std::fmt;

/// `NLMSG_HDRLEN`: size of `struct nlmsghdr`.
pub const NLMSG_HDRLEN: usize = 16;
/// `NLA_HDRLEN`: size of `struct nlattr`.
pub const NLA_HDRLEN: usize = 4;

/// `NLMSG_ALIGN` / `NLA_ALIGN`: both round up to 4 bytes.
pub const fn align4(len: usize) -> usize {
    (len + 3) & !3
}

/// A malformed message or attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError {
    /// What was wrong.
    pub what: String,
    /// Byte offset in the buffer being parsed.
    pub offset: usize,
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at byte {})", self.what, self.offset)
    }
}

impl std::error::Error for WireError {}

fn werr(what: impl Into<String>, offset: usize) -> WireError {
    WireError {
        what: what.into(),
        offset,
    }
}

fn get<const N: usize>(b: &[u8], at: usize) -> Option<[u8; N]> {
    b.get(at..at.checked_add(N)?)?.try_into().ok()
}
fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    get::<2>(b, at).map(u16::from_ne_bytes)
}
fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    get::<4>(b, at).map(u32::from_ne_bytes)
}
fn i32_at(b: &[u8], at: usize) -> Option<i32> {
    get::<4>(b, at).map(i32::from_ne_bytes)
}

// ---------------------------------------------------------------------------
// Building
// ---------------------------------------------------------------------------

/// Builds one netlink message: `nlmsghdr`, a fixed header, then attributes.
///
/// `nlmsg_len`, `nlmsg_seq` and `nlmsg_pid` are filled in by [`MsgBuilder::finish`].
#[derive(Debug, Clone)]
pub struct MsgBuilder {
    buf: Vec<u8>,
    nests: Vec<usize>,
    /// Set when an attribute outgrew `nla_len` (a u16); see [`MsgBuilder::error`].
    overflow: Option<String>,
}

impl MsgBuilder {
    /// Starts a message of type `ty` (`RTM_*`) with `flags` (`NLM_F_*`).
    pub fn new(ty: u16, flags: u16) -> Self {
        let mut buf = Vec::with_capacity(256);
        buf.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_len, patched in finish
        buf.extend_from_slice(&ty.to_ne_bytes()); // nlmsg_type
        buf.extend_from_slice(&flags.to_ne_bytes()); // nlmsg_flags
        buf.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_seq
        buf.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_pid
        MsgBuilder {
            buf,
            nests: Vec::new(),
            overflow: None,
        }
    }

    /// Appends a fixed header (its `emit` output), padded to 4 bytes.
    pub fn fixed(mut self, header: &[u8]) -> Self {
        self.buf.extend_from_slice(header);
        self.pad();
        self
    }

    fn pad(&mut self) {
        let padded = align4(self.buf.len());
        self.buf.resize(padded, 0);
    }

    /// Appends one attribute: `struct nlattr { nla_len, nla_type }`, payload, padding.
    pub fn attr(&mut self, ty: u16, payload: &[u8]) -> &mut Self {
        let len = self.nla_len(ty, NLA_HDRLEN + payload.len());
        self.buf.extend_from_slice(&len.to_ne_bytes());
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        self.buf.extend_from_slice(payload);
        self.pad();
        self
    }

    /// A u8 attribute.
    pub fn attr_u8(&mut self, ty: u16, v: u8) -> &mut Self {
        self.attr(ty, &[v])
    }
    /// A u32 attribute.
    pub fn attr_u32(&mut self, ty: u16, v: u32) -> &mut Self {
        self.attr(ty, &v.to_ne_bytes())
    }
    /// An s32 attribute.
    pub fn attr_i32(&mut self, ty: u16, v: i32) -> &mut Self {
        self.attr(ty, &v.to_ne_bytes())
    }
    /// A NUL-ended string attribute (`NLA_NUL_STRING` / `NLA_STRING` in the kernel's policy).
    pub fn attr_str(&mut self, ty: u16, s: &str) -> &mut Self {
        let mut v = Vec::with_capacity(s.len() + 1);
        v.extend_from_slice(s.as_bytes());
        v.push(0);
        self.attr(ty, &v)
    }

    /// Opens a nested attribute; close it with [`MsgBuilder::nest_end`].
    ///
    /// rtnetlink's older attributes (`IFLA_LINKINFO`, `TCA_OPTIONS`) predate
    /// `NLA_F_NESTED`, and iproute2 does not set it, so neither do we.
    pub fn nest_start(&mut self, ty: u16) -> &mut Self {
        self.nests.push(self.buf.len());
        self.buf.extend_from_slice(&0u16.to_ne_bytes());
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        self
    }

    /// Closes the innermost nest, writing its length.
    pub fn nest_end(&mut self) -> &mut Self {
        if let Some(start) = self.nests.pop() {
            let ty = u16_at(&self.buf, start + 2).unwrap_or(0);
            let len = self.nla_len(ty, self.buf.len() - start);
            self.buf[start..start + 2].copy_from_slice(&len.to_ne_bytes());
        }
        self
    }

    /// Appends raw bytes (a nested fixed header such as the veth peer's `ifinfomsg`).
    pub fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(bytes);
        self.pad();
        self
    }

    fn nla_len(&mut self, ty: u16, len: usize) -> u16 {
        u16::try_from(len).unwrap_or_else(|_| {
            self.overflow.get_or_insert_with(|| {
                format!(
                    "attribute type {} would be {len} bytes; nla_len is 16 bits (65535 at most)",
                    ty & NLA_TYPE_MASK
                )
            });
            0
        })
    }

    /// Why the message cannot be sent (an attribute too long for `nla_len`), if so.
    pub fn error(&self) -> Option<&str> {
        self.overflow.as_deref()
    }

    /// Closes any open nests and writes `nlmsg_len`, `nlmsg_seq` and `nlmsg_pid`.
    pub fn finish(mut self, seq: u32, pid: u32) -> Vec<u8> {
        while !self.nests.is_empty() {
            self.nest_end();
        }
        let len = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        self.buf[8..12].copy_from_slice(&seq.to_ne_bytes());
        self.buf[12..16].copy_from_slice(&pid.to_ne_bytes());
        self.buf
    }
}

// ---------------------------------------------------------------------------
// Fixed headers
// ---------------------------------------------------------------------------

/// `struct ifinfomsg` (rtnetlink.h), 16 bytes: the header of `RTM_*LINK`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IfInfoMsg {
    /// `ifi_family`: `AF_UNSPEC` for links.
    pub family: u8,
    /// `ifi_type`: `ARPHRD_*` device type.
    pub ty: u16,
    /// `ifi_index`: ifindex, 0 when creating.
    pub index: i32,
    /// `ifi_flags`: `IFF_*`.
    pub flags: u32,
    /// `ifi_change`: which `IFF_*` bits to change.
    pub change: u32,
}

impl IfInfoMsg {
    /// Size on the wire.
    pub const LEN: usize = 16;
    /// Serializes the header.
    pub fn emit(&self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[0] = self.family;
        // b[1] is __ifi_pad
        b[2..4].copy_from_slice(&self.ty.to_ne_bytes());
        b[4..8].copy_from_slice(&self.index.to_ne_bytes());
        b[8..12].copy_from_slice(&self.flags.to_ne_bytes());
        b[12..16].copy_from_slice(&self.change.to_ne_bytes());
        b
    }
    /// Reads the header from the start of `b`.
    pub fn parse(b: &[u8]) -> Result<Self, WireError> {
        let e = || werr("payload shorter than struct ifinfomsg (16 bytes)", b.len());
        Ok(IfInfoMsg {
            family: *b.first().ok_or_else(e)?,
            ty: u16_at(b, 2).ok_or_else(e)?,
            index: i32_at(b, 4).ok_or_else(e)?,
            flags: u32_at(b, 8).ok_or_else(e)?,
            change: u32_at(b, 12).ok_or_else(e)?,
        })
    }
}

/// `struct ifaddrmsg` (if_addr.h), 8 bytes: the header of `RTM_*ADDR`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IfAddrMsg {
    /// `ifa_family`: `AF_INET` or `AF_INET6`.
    pub family: u8,
    /// `ifa_prefixlen`.
    pub prefixlen: u8,
    /// `ifa_flags`: low 8 bits of `IFA_F_*`.
    pub flags: u8,
    /// `ifa_scope`: `RT_SCOPE_*`.
    pub scope: u8,
    /// `ifa_index`: ifindex.
    pub index: u32,
}

impl IfAddrMsg {
    /// Size on the wire.
    pub const LEN: usize = 8;
    /// Serializes the header.
    pub fn emit(&self) -> [u8; 8] {
        let mut b = [0u8; 8];
        b[0] = self.family;
        b[1] = self.prefixlen;
        b[2] = self.flags;
        b[3] = self.scope;
        b[4..8].copy_from_slice(&self.index.to_ne_bytes());
        b
    }
    /// Reads the header from the start of `b`.
    pub fn parse(b: &[u8]) -> Result<Self, WireError> {
        let h = get::<8>(b, 0)
            .ok_or_else(|| werr("payload shorter than struct ifaddrmsg (8 bytes)", b.len()))?;
        Ok(IfAddrMsg {
            family: h[0],
            prefixlen: h[1],
            flags: h[2],
            scope: h[3],
            index: u32::from_ne_bytes([h[4], h[5], h[6], h[7]]),
        })
    }
}

/// `struct rtmsg` (rtnetlink.h), 12 bytes: the header of `RTM_*ROUTE`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RtMsg {
    /// `rtm_family`.
    pub family: u8,
    /// `rtm_dst_len`: destination prefix length.
    pub dst_len: u8,
    /// `rtm_src_len`.
    pub src_len: u8,
    /// `rtm_tos`.
    pub tos: u8,
    /// `rtm_table`: `RT_TABLE_*`.
    pub table: u8,
    /// `rtm_protocol`: `RTPROT_*`.
    pub protocol: u8,
    /// `rtm_scope`: `RT_SCOPE_*`.
    pub scope: u8,
    /// `rtm_type`: `RTN_*`.
    pub ty: u8,
    /// `rtm_flags`: `RTM_F_*`.
    pub flags: u32,
}

impl RtMsg {
    /// Size on the wire.
    pub const LEN: usize = 12;
    /// Serializes the header.
    pub fn emit(&self) -> [u8; 12] {
        let mut b = [0u8; 12];
        b[..8].copy_from_slice(&[
            self.family,
            self.dst_len,
            self.src_len,
            self.tos,
            self.table,
            self.protocol,
            self.scope,
            self.ty,
        ]);
        b[8..12].copy_from_slice(&self.flags.to_ne_bytes());
        b
    }
    /// Reads the header from the start of `b`.
    pub fn parse(b: &[u8]) -> Result<Self, WireError> {
        let h = get::<12>(b, 0)
            .ok_or_else(|| werr("payload shorter than struct rtmsg (12 bytes)", b.len()))?;
        Ok(RtMsg {
            family: h[0],
            dst_len: h[1],
            src_len: h[2],
            tos: h[3],
            table: h[4],
            protocol: h[5],
            scope: h[6],
            ty: h[7],
            flags: u32::from_ne_bytes([h[8], h[9], h[10], h[11]]),
        })
    }
}

/// `struct tcmsg` (rtnetlink.h), 20 bytes: the header of qdisc and filter messages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TcMsg {
    /// `tcm_family`: `AF_UNSPEC`.
    pub family: u8,
    /// `tcm_ifindex`.
    pub ifindex: i32,
    /// `tcm_handle`: the object's own handle.
    pub handle: u32,
    /// `tcm_parent`: where it hangs (for clsact filters: `TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS)`).
    pub parent: u32,
    /// `tcm_info`: for filters, `TC_H_MAKE(prio << 16, htons(protocol))`.
    pub info: u32,
}

impl TcMsg {
    /// Size on the wire.
    pub const LEN: usize = 20;
    /// Serializes the header.
    pub fn emit(&self) -> [u8; 20] {
        let mut b = [0u8; 20];
        b[0] = self.family;
        // b[1] is tcm__pad1, b[2..4] tcm__pad2
        b[4..8].copy_from_slice(&self.ifindex.to_ne_bytes());
        b[8..12].copy_from_slice(&self.handle.to_ne_bytes());
        b[12..16].copy_from_slice(&self.parent.to_ne_bytes());
        b[16..20].copy_from_slice(&self.info.to_ne_bytes());
        b
    }
    /// Reads the header from the start of `b`.
    pub fn parse(b: &[u8]) -> Result<Self, WireError> {
        let e = || werr("payload shorter than struct tcmsg (20 bytes)", b.len());
        Ok(TcMsg {
            family: *b.first().ok_or_else(e)?,
            ifindex: i32_at(b, 4).ok_or_else(e)?,
            handle: u32_at(b, 8).ok_or_else(e)?,
            parent: u32_at(b, 12).ok_or_else(e)?,
            info: u32_at(b, 16).ok_or_else(e)?,
        })
    }
    /// The filter priority: the major half of `tcm_info`.
    pub fn prio(&self) -> u16 {
        (self.info >> 16) as u16
    }
    /// The filter protocol: the minor half of `tcm_info`, converted from network order.
    pub fn protocol(&self) -> u16 {
        u16::from_be(self.info as u16)
    }
}

// ---------------------------------------------------------------------------
// Parsing messages
// ---------------------------------------------------------------------------

/// One received message: a view of `struct nlmsghdr` and its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NlMsg<'a> {
    /// `nlmsg_type`.
    pub ty: u16,
    /// `nlmsg_flags`.
    pub flags: u16,
    /// `nlmsg_seq`.
    pub seq: u32,
    /// `nlmsg_pid`: the port id the message is addressed to (ours, for replies).
    pub pid: u32,
    /// Bytes after the 16-byte header, up to `nlmsg_len`.
    pub payload: &'a [u8],
    /// Offset of the header in the buffer.
    pub offset: usize,
}

/// Iterates the messages packed in one `recv` buffer.
#[derive(Debug, Clone)]
pub struct NlMsgIter<'a> {
    buf: &'a [u8],
    off: usize,
    failed: bool,
}

/// Splits a buffer into netlink messages.
pub fn messages(buf: &[u8]) -> NlMsgIter<'_> {
    NlMsgIter {
        buf,
        off: 0,
        failed: false,
    }
}

impl<'a> Iterator for NlMsgIter<'a> {
    type Item = Result<NlMsg<'a>, WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.off >= self.buf.len() {
            return None;
        }
        let off = self.off;
        let rest = &self.buf[off..];
        let hdr = (|| {
            let len = u32_at(rest, 0)? as usize;
            Some((
                len,
                u16_at(rest, 4)?,
                u16_at(rest, 6)?,
                u32_at(rest, 8)?,
                u32_at(rest, 12)?,
            ))
        })();
        let Some((len, ty, flags, seq, pid)) = hdr else {
            self.failed = true;
            return Some(Err(werr(
                format!("{} trailing bytes, too short for a nlmsghdr", rest.len()),
                off,
            )));
        };
        if len < NLMSG_HDRLEN || len > rest.len() {
            self.failed = true;
            return Some(Err(werr(
                format!(
                    "nlmsg_len {len} is outside 16..={} (the bytes left)",
                    rest.len()
                ),
                off,
            )));
        }
        self.off = off.saturating_add(align4(len));
        Some(Ok(NlMsg {
            ty,
            flags,
            seq,
            pid,
            payload: &rest[NLMSG_HDRLEN..len],
            offset: off,
        }))
    }
}

// ---------------------------------------------------------------------------
// Parsing attributes
// ---------------------------------------------------------------------------

/// One attribute: a view of `struct nlattr` and its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attr<'a> {
    /// `nla_type & NLA_TYPE_MASK`.
    pub ty: u16,
    /// Whether `NLA_F_NESTED` was set.
    pub nested_flag: bool,
    /// The payload (`nla_len - 4` bytes).
    pub payload: &'a [u8],
    /// Offset of the `nlattr` header within the buffer the iterator walks.
    pub offset: usize,
}

impl<'a> Attr<'a> {
    fn exact<const N: usize>(&self) -> Result<[u8; N], WireError> {
        get::<N>(self.payload, 0)
            .filter(|_| self.payload.len() >= N)
            .ok_or_else(|| {
                werr(
                    format!(
                        "attribute type {} has {} bytes, expected {}",
                        self.ty,
                        self.payload.len(),
                        N
                    ),
                    self.offset,
                )
            })
    }
    /// The payload as a u8.
    pub fn u8(&self) -> Result<u8, WireError> {
        self.exact::<1>().map(|b| b[0])
    }
    /// The payload as a host-order u16.
    pub fn u16(&self) -> Result<u16, WireError> {
        self.exact::<2>().map(u16::from_ne_bytes)
    }
    /// The payload as a host-order u32.
    pub fn u32(&self) -> Result<u32, WireError> {
        self.exact::<4>().map(u32::from_ne_bytes)
    }
    /// The payload as a host-order s32.
    pub fn i32(&self) -> Result<i32, WireError> {
        self.exact::<4>().map(i32::from_ne_bytes)
    }
    /// The payload as a host-order u64.
    pub fn u64(&self) -> Result<u64, WireError> {
        self.exact::<8>().map(u64::from_ne_bytes)
    }
    /// The payload as a string, up to the first NUL (lossy on bad UTF-8).
    pub fn string(&self) -> String {
        let end = self
            .payload
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(self.payload.len());
        String::from_utf8_lossy(&self.payload[..end]).into_owned()
    }
    /// The payload as nested attributes.
    pub fn nested(&self) -> AttrIter<'a> {
        attrs(self.payload)
    }
}

/// Iterates attributes packed in a buffer.
#[derive(Debug, Clone)]
pub struct AttrIter<'a> {
    buf: &'a [u8],
    off: usize,
    failed: bool,
}

/// Walks the attributes in `buf` (a message payload after its fixed header,
/// or a nested attribute's payload).
pub fn attrs(buf: &[u8]) -> AttrIter<'_> {
    AttrIter {
        buf,
        off: 0,
        failed: false,
    }
}

impl<'a> Iterator for AttrIter<'a> {
    type Item = Result<Attr<'a>, WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        // Fewer than 4 bytes left is padding the kernel may leave; not an error.
        if self.failed || self.off.saturating_add(NLA_HDRLEN) > self.buf.len() {
            return None;
        }
        let off = self.off;
        let rest = &self.buf[off..];
        let (Some(len), Some(raw_ty)) = (u16_at(rest, 0), u16_at(rest, 2)) else {
            self.failed = true;
            return None;
        };
        let len = len as usize;
        if len < NLA_HDRLEN || len > rest.len() {
            self.failed = true;
            return Some(Err(werr(
                format!(
                    "nla_len {len} of attribute type {} is outside 4..={}",
                    raw_ty & NLA_TYPE_MASK,
                    rest.len()
                ),
                off,
            )));
        }
        self.off = off.saturating_add(align4(len));
        Some(Ok(Attr {
            ty: raw_ty & NLA_TYPE_MASK,
            nested_flag: raw_ty & NLA_F_NESTED != 0,
            payload: &rest[NLA_HDRLEN..len],
            offset: off,
        }))
    }
}

/// Finds the first attribute of type `ty`, failing on malformed attributes before it.
pub fn find_attr<'a>(buf: &'a [u8], ty: u16) -> Result<Option<Attr<'a>>, WireError> {
    for a in attrs(buf) {
        let a = a?;
        if a.ty == ty {
            return Ok(Some(a));
        }
    }
    Ok(None)
}

// ---------------------------------------------------------------------------
// NLMSG_ERROR
// ---------------------------------------------------------------------------

/// A decoded `NLMSG_ERROR`: `struct nlmsgerr` plus its extended-ACK attributes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NlErr {
    /// The errno, positive (the kernel sends it negated); 0 means ACK.
    pub errno: i32,
    /// `nlmsg_type` of the request it answers.
    pub request_type: u16,
    /// `nlmsg_seq` of the request it answers.
    pub request_seq: u32,
    /// `NLMSGERR_ATTR_MSG`: the kernel's explanation.
    pub msg: Option<String>,
    /// `NLMSGERR_ATTR_OFFS`: offset in our request of the attribute at fault.
    pub bad_attr_offset: Option<u32>,
    /// `NLMSGERR_ATTR_MISS_TYPE`: a required attribute that was missing.
    pub missing_type: Option<u32>,
}

/// Decodes the payload of an `NLMSG_ERROR` message with header flags `flags`.
pub fn parse_error(payload: &[u8], flags: u16) -> Result<NlErr, WireError> {
    let error = i32_at(payload, 0)
        .ok_or_else(|| werr("NLMSG_ERROR shorter than its 4-byte error field", 0))?;
    // The echoed request header follows: always its 16 bytes, plus its payload
    // unless the kernel capped it (NETLINK_CAP_ACK, or on success).
    let req_len =
        u32_at(payload, 4).ok_or_else(|| werr("NLMSG_ERROR without the request header", 4))?;
    let req_type = u16_at(payload, 8).unwrap_or(0);
    let req_seq = u32_at(payload, 12).unwrap_or(0);
    let mut out = NlErr {
        errno: error.checked_neg().unwrap_or(i32::MAX),
        request_type: req_type,
        request_seq: req_seq,
        ..NlErr::default()
    };
    if flags & NLM_F_ACK_TLVS == 0 {
        return Ok(out);
    }
    let echoed = if flags & NLM_F_CAPPED != 0 {
        NLMSG_HDRLEN
    } else {
        (req_len as usize).max(NLMSG_HDRLEN)
    };
    let tlv_start = 4usize.saturating_add(align4(echoed));
    let Some(tlvs) = payload.get(tlv_start..) else {
        return Err(werr(
            "NLM_F_ACK_TLVS set but no room for attributes",
            tlv_start,
        ));
    };
    for a in attrs(tlvs) {
        let a = a?;
        match a.ty {
            NLMSGERR_ATTR_MSG => out.msg = Some(a.string()),
            NLMSGERR_ATTR_OFFS => out.bad_attr_offset = a.u32().ok(),
            NLMSGERR_ATTR_MISS_TYPE => out.missing_type = a.u32().ok(),
            _ => {}
        }
    }
    Ok(out)
}

/// Decodes the payload of `NLMSG_DONE`: the dump's final status (an int,
/// negative errno on failure), then, with `NLM_F_ACK_TLVS`, extack
/// attributes right after it (no echoed request header, unlike `NLMSG_ERROR`).
pub fn parse_done(payload: &[u8], flags: u16) -> NlErr {
    let status = i32_at(payload, 0).unwrap_or(0);
    let mut out = NlErr {
        errno: status.checked_neg().unwrap_or(i32::MAX).max(0),
        ..NlErr::default()
    };
    if flags & NLM_F_ACK_TLVS != 0 {
        for a in attrs(payload.get(4..).unwrap_or(&[])).map_while(|a| a.ok()) {
            match a.ty {
                NLMSGERR_ATTR_MSG => out.msg = Some(a.string()),
                NLMSGERR_ATTR_OFFS => out.bad_attr_offset = a.u32().ok(),
                _ => {}
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_pads_and_nests() {
        let mut m = MsgBuilder::new(RTM_NEWLINK, NLM_F_REQUEST).fixed(&IfInfoMsg::default().emit());
        m.attr_str(IFLA_IFNAME, "ab");
        m.nest_start(IFLA_LINKINFO);
        m.attr_str(IFLA_INFO_KIND, "veth");
        m.nest_end();
        let b = m.finish(7, 0);
        assert_eq!(b.len() % 4, 0);
        let msg = messages(&b).next().unwrap().unwrap();
        assert_eq!((msg.ty, msg.seq), (RTM_NEWLINK, 7));
        let body = &msg.payload[IfInfoMsg::LEN..];
        let got: Vec<_> = attrs(body).map(|a| a.unwrap()).collect();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].string(), "ab");
        // "ab\0" is 3 bytes: nla_len 7, padded to 8.
        assert_eq!(got[0].payload.len(), 3);
        let kind = got[1].nested().next().unwrap().unwrap();
        assert_eq!((kind.ty, kind.string().as_str()), (IFLA_INFO_KIND, "veth"));
    }

    #[test]
    fn fixed_headers_round_trip() {
        let t = TcMsg {
            family: 0,
            ifindex: 3,
            handle: 1,
            parent: tc_h_make(TC_H_CLSACT, TC_H_MIN_INGRESS),
            info: tc_h_make(49152 << 16, ETH_P_ALL.to_be() as u32),
        };
        let p = TcMsg::parse(&t.emit()).unwrap();
        assert_eq!(p, t);
        assert_eq!((p.prio(), p.protocol()), (49152, ETH_P_ALL));
        assert_eq!(p.parent, 0xFFFF_FFF2);
        let r = RtMsg {
            family: 2,
            dst_len: 24,
            table: RT_TABLE_MAIN,
            flags: 5,
            ..Default::default()
        };
        assert_eq!(RtMsg::parse(&r.emit()).unwrap(), r);
        let a = IfAddrMsg {
            family: 10,
            prefixlen: 64,
            flags: 2,
            scope: 0,
            index: 9,
        };
        assert_eq!(IfAddrMsg::parse(&a.emit()).unwrap(), a);
        assert!(TcMsg::parse(&[0; 19]).is_err());
    }

    #[test]
    fn error_with_extack_capped() {
        // struct nlmsgerr { error = -EEXIST; msg = request header } + NLMSGERR_ATTR_MSG
        let mut p = Vec::new();
        p.extend_from_slice(&(-17i32).to_ne_bytes());
        let req = MsgBuilder::new(RTM_NEWQDISC, NLM_F_REQUEST).finish(42, 0);
        p.extend_from_slice(&req);
        let mut tl = MsgBuilder::new(0, 0);
        tl.attr_str(NLMSGERR_ATTR_MSG, "Exclusivity flag on, cannot modify");
        tl.attr_u32(NLMSGERR_ATTR_OFFS, 36);
        p.extend_from_slice(&tl.finish(0, 0)[NLMSG_HDRLEN..]);
        let e = parse_error(&p, NLM_F_CAPPED | NLM_F_ACK_TLVS).unwrap();
        assert_eq!(e.errno, 17);
        assert_eq!(e.request_type, RTM_NEWQDISC);
        assert_eq!(e.request_seq, 42);
        assert_eq!(e.msg.as_deref(), Some("Exclusivity flag on, cannot modify"));
        assert_eq!(e.bad_attr_offset, Some(36));
    }

    #[test]
    fn truncated_inputs_are_errors() {
        assert!(messages(&[1, 2, 3]).next().unwrap().is_err());
        let mut b = MsgBuilder::new(1, 0).finish(0, 0);
        b[0] = 200; // nlmsg_len past the end
        assert!(messages(&b).next().unwrap().is_err());
        assert!(attrs(&[2, 0, 1, 0]).next().unwrap().is_err());
        assert!(parse_error(&[0, 0], 0).is_err());
    }

    #[test]
    fn oversized_attribute_is_reported() {
        let mut m = MsgBuilder::new(RTM_NEWTFILTER, 0);
        m.attr_str(TCA_KIND, "bpf");
        assert_eq!(m.error(), None);
        m.nest_start(TCA_OPTIONS);
        m.attr_str(TCA_BPF_NAME, &"n".repeat(70_000));
        m.nest_end();
        assert!(m
            .error()
            .unwrap()
            .contains("attribute type 7 would be 70005 bytes"));
    }
}
