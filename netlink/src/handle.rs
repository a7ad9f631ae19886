//! [`Handle`]: one connected `NETLINK_ROUTE` socket and the request/reply
//! loop every operation goes through.
//!
//! It follows `include/uapi/linux/netlink.h` and netlink(7): each request
//! gets a fresh `nlmsg_seq`; every reply must carry that sequence number and
//! our port id; non-dump requests set `NLM_F_ACK` and end at the
//! `NLMSG_ERROR` (errno 0 is the ACK); dumps end at `NLMSG_DONE`. The socket
//! has `NETLINK_EXT_ACK` on, so refusals come with the kernel's own text, and
//! `NETLINK_CAP_ACK` on, so errors do not echo our whole request back.
//!
//! neli provides the socket (`NlSocket`: `socket`, `bind`, `send`, `recv`);
//! every byte of every message is built and parsed in this crate.

use crate::consts::*;
use crate::error::{Error, Result};
use crate::inspect::{self, Direction, Event, InspectFn};
use crate::netns::Netns;
use crate::sys;
use crate::wire::{self, MsgBuilder};
use neli::consts::socket::{Msg, NlFamily};
use neli::socket::NlSocket;
use neli::utils::Groups;
use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

/// A request before it is sent: the message, what to call it in errors, and
/// the `ip`/`tc` command line that would send the same thing.
#[derive(Debug, Clone)]
pub struct Request {
    /// The message, without seq/pid yet.
    pub msg: MsgBuilder,
    /// How errors name it: "RTM_NEWTFILTER bpf on veth1@2 (ifindex 4) ingress".
    pub what: String,
    /// The equivalent iproute2 command, for inspect mode.
    pub command: String,
    /// A dump (`NLM_F_DUMP`): replies end at `NLMSG_DONE`, not at an ACK.
    pub dump: bool,
}

/// A received reply message (its full bytes, header included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// `nlmsg_type`.
    pub ty: u16,
    /// `nlmsg_flags`.
    pub flags: u16,
    /// The payload after `struct nlmsghdr`.
    pub payload: Vec<u8>,
}

/// The largest datagram we accept. The kernel sizes dump batches to about
/// 32 KiB (`NLMSG_GOODSIZE` grown on demand), so 64 KiB is never truncated;
/// we still check `MSG_TRUNC` and say so if it ever is.
const RECV_BUF: usize = 64 * 1024;

/// The kernel answers rtnetlink requests synchronously, in microseconds to
/// milliseconds; a receive that waits this long means something is wrong,
/// and we say so instead of hanging.
pub const REPLY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// A connected rtnetlink socket, bound to the network namespace it was created in.
pub struct Handle {
    sock: NlSocket,
    port_id: u32,
    seq: u32,
    netns: Option<String>,
    pub(crate) inspect: Option<InspectFn>,
    names: HashMap<i32, String>,
    buf: Vec<u8>,
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle")
            .field("fd", &self.sock.as_raw_fd())
            .field("port_id", &self.port_id)
            .field("netns", &self.netns)
            .finish()
    }
}

impl Handle {
    /// Opens a socket in the calling thread's network namespace.
    pub fn new() -> Result<Handle> {
        let sock = NlSocket::connect(NlFamily::Route, None, Groups::empty())
            .map_err(|e| Error::io("socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE)", e))?;
        let fd = sys::borrow_socket(&sock);
        sys::netlink_opt_enable(fd, NETLINK_EXT_ACK)
            .map_err(|e| Error::io("setsockopt(NETLINK_EXT_ACK)", e))?;
        sys::netlink_opt_enable(fd, NETLINK_CAP_ACK)
            .map_err(|e| Error::io("setsockopt(NETLINK_CAP_ACK)", e))?;
        sys::set_recv_timeout(fd, REPLY_TIMEOUT)
            .map_err(|e| Error::io("setsockopt(SO_RCVTIMEO)", e))?;
        let port_id = sock
            .pid()
            .map_err(|e| Error::io("getsockname(netlink socket)", e))?;
        // Start from a time-derived value, as iproute2 does, so that two
        // handles' requests are easy to tell apart in a capture.
        let seq = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as u32)
            .unwrap_or(1);
        Ok(Handle {
            sock,
            port_id,
            seq,
            netns: None,
            inspect: None,
            names: HashMap::new(),
            buf: vec![0; RECV_BUF],
        })
    }

    /// Opens a socket inside `netns`. A socket stays in the namespace it was
    /// created in, so the handle works there from any thread afterwards.
    pub fn in_netns(netns: &Netns) -> Result<Handle> {
        let mut h = netns.run(Handle::new)??;
        h.netns = Some(netns.name().to_string());
        Ok(h)
    }

    /// The namespace name given at creation (`None`: the creator's namespace).
    pub fn netns_name(&self) -> Option<&str> {
        self.netns.as_deref()
    }

    /// Our netlink port id (`nl_pid`), which every reply must carry.
    pub fn port_id(&self) -> u32 {
        self.port_id
    }

    /// Turns inspect mode on (with a callback) or off. The callback sees each
    /// request and each reply; [`inspect::stderr_printer`] prints them as a
    /// tree, a hex dump and the equivalent `ip`/`tc` command.
    pub fn set_inspect(&mut self, f: Option<InspectFn>) {
        self.inspect = f;
    }

    /// Whether inspect mode is on.
    pub fn inspecting(&self) -> bool {
        self.inspect.is_some()
    }

    /// `ip -n NS` prefix for command lines.
    pub(crate) fn ip(&self, tool: &str) -> String {
        match &self.netns {
            Some(n) => format!("{tool} -n {n}"),
            None => tool.to_string(),
        }
    }

    /// Remembers an ifindex's name, for error texts and command lines.
    pub(crate) fn remember(&mut self, ifindex: i32, name: &str) {
        self.names.insert(ifindex, name.to_string());
    }

    pub(crate) fn forget(&mut self, ifindex: i32) {
        self.names.remove(&ifindex);
    }

    /// The device name for `ifindex`, looked up quietly (outside inspect
    /// mode) if not yet known; `None` if there is no such device.
    pub(crate) fn dev_name(&mut self, ifindex: i32) -> Option<String> {
        if let Some(n) = self.names.get(&ifindex) {
            return Some(n.clone());
        }
        let saved = self.inspect.take();
        let found = self.link_get(ifindex).ok().map(|l| l.name);
        self.inspect = saved;
        if let Some(n) = &found {
            self.names.insert(ifindex, n.clone());
        }
        found
    }

    /// "veth1@2 (ifindex 4)" or "ifindex 4" for error texts.
    pub(crate) fn dev_label(&mut self, ifindex: i32) -> String {
        match self.dev_name(ifindex) {
            Some(n) => format!("{n} (ifindex {ifindex})"),
            None => format!("ifindex {ifindex}"),
        }
    }

    /// The `dev X` argument for command lines.
    pub(crate) fn dev_arg(&mut self, ifindex: i32) -> String {
        self.dev_name(ifindex)
            .unwrap_or_else(|| format!("<ifindex {ifindex}>"))
    }

    /// Sends `req` and collects its replies, checking sequence number and
    /// port id on every one. Returns the data messages (not the ACK/DONE).
    pub fn execute(&mut self, req: Request) -> Result<Vec<Reply>> {
        // A dump can be interrupted by a concurrent change (NLM_F_DUMP_INTR);
        // the kernel's advice is to retry, which we do a few times.
        let mut tries = 0;
        loop {
            match self.execute_once(req.clone()) {
                Err(Error::Protocol { detail, .. })
                    if detail.contains("NLM_F_DUMP_INTR") && tries < 3 =>
                {
                    tries += 1;
                }
                other => return other,
            }
        }
    }

    fn execute_once(&mut self, req: Request) -> Result<Vec<Reply>> {
        if let Some(why) = req.msg.error() {
            return Err(Error::Invalid(format!("{}: {why}", req.what)));
        }
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let bytes = req.msg.finish(seq, 0);
        if let Some(f) = self.inspect.as_mut() {
            f(&Event {
                direction: Direction::Request,
                request: &req.what,
                command: &req.command,
                bytes: &bytes,
            });
        }
        self.sock
            .send(&bytes, Msg::empty())
            .map_err(|e| Error::io(format!("{}: send", req.what), e))?;

        let mut out = Vec::new();
        let mut dump_intr = false;
        loop {
            let n = match self.sock.recv(&mut self.buf[..], Msg::TRUNC) {
                Ok((n, _)) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    return Err(Error::io(
                        format!(
                            "{}: no reply from the kernel within {} s",
                            req.what,
                            REPLY_TIMEOUT.as_secs()
                        ),
                        e,
                    ))
                }
                Err(e) => return Err(Error::io(format!("{}: recv", req.what), e)),
            };
            if n > self.buf.len() {
                return Err(Error::Protocol {
                    request: req.what,
                    detail: format!(
                        "reply of {n} bytes is larger than our {}-byte buffer",
                        self.buf.len()
                    ),
                });
            }
            let data = &self.buf[..n];
            if let Some(f) = self.inspect.as_mut() {
                f(&Event {
                    direction: Direction::Reply,
                    request: &req.what,
                    command: &req.command,
                    bytes: data,
                });
            }
            let batch = parse_replies(data, self.port_id, seq, &bytes, &req.what)?;
            out.extend(batch.replies);
            dump_intr |= batch.dump_intr;
            let finished = batch.finished;
            if finished {
                break;
            }
        }
        if dump_intr {
            return Err(Error::Protocol {
                request: req.what,
                detail: "NLM_F_DUMP_INTR: the table changed during the dump".into(),
            });
        }
        Ok(out)
    }

    /// Runs the dump `req` and decodes every `reply_ty` message in it with
    /// `parse`. Other message types are skipped, since a dump may interleave
    /// them; a reply that does not decode is a protocol error naming the
    /// request, because it means our reading of the header is wrong.
    pub(crate) fn dump<T>(
        &mut self,
        req: Request,
        reply_ty: u16,
        parse: impl Fn(&[u8]) -> std::result::Result<T, wire::WireError>,
    ) -> Result<Vec<T>> {
        let what = req.what.clone();
        self.execute(req)?
            .iter()
            .filter(|r| r.ty == reply_ty)
            .map(|r| {
                parse(&r.payload).map_err(|e| Error::Protocol {
                    request: what.clone(),
                    detail: e.to_string(),
                })
            })
            .collect()
    }

    /// Starts a request of type `ty` (`RTM_*`) with extra `flags`
    /// (`NLM_F_CREATE`, `NLM_F_DUMP`...) and a fixed header; `NLM_F_REQUEST`
    /// is added, and `NLM_F_ACK` unless it is a dump. Add attributes to
    /// `.msg`, then pass it to [`Handle::execute`]. `what` names it in
    /// errors; `command` is its `ip`/`tc` equivalent for inspect mode.
    pub fn request(
        &self,
        ty: u16,
        flags: u16,
        fixed: &[u8],
        what: String,
        command: String,
    ) -> Request {
        let dump = flags & NLM_F_DUMP == NLM_F_DUMP && is_get(ty);
        let flags = if dump {
            NLM_F_REQUEST | flags
        } else {
            NLM_F_REQUEST | NLM_F_ACK | flags
        };
        Request {
            msg: MsgBuilder::new(ty, flags).fixed(fixed),
            what,
            command,
            dump,
        }
    }
}

/// What one received datagram contributed to a request's answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplyBatch {
    /// Data messages (not ACK, DONE or NOOP).
    pub replies: Vec<Reply>,
    /// The ACK (`NLMSG_ERROR` with errno 0) or `NLMSG_DONE` was in it.
    pub finished: bool,
    /// A message carried `NLM_F_DUMP_INTR`.
    pub dump_intr: bool,
}

/// Checks and decodes one received datagram, answering the request `request`
/// (its bytes; `what` names it) sent with sequence number `seq` from port
/// `port_id`. Messages of earlier requests are skipped; anything else with a
/// wrong port id or sequence number is a protocol error; an `NLMSG_ERROR`
/// with a nonzero errno becomes [`Error::Kernel`] with the extack text.
///
/// This is the whole reply parser [`Handle`] runs; it never panics, which a
/// property test checks on a million random and mutated datagrams.
pub fn parse_replies(
    data: &[u8],
    port_id: u32,
    seq: u32,
    request: &[u8],
    what: &str,
) -> Result<ReplyBatch> {
    let mut batch = ReplyBatch::default();
    for m in wire::messages(data) {
        let m = m.map_err(|e| Error::Protocol {
            request: what.to_string(),
            detail: e.to_string(),
        })?;
        if m.pid != port_id {
            return Err(Error::Protocol {
                request: what.to_string(),
                detail: format!(
                    "reply addressed to port id {} but ours is {}",
                    m.pid, port_id
                ),
            });
        }
        if m.seq != seq {
            // Leftovers of an earlier request that failed half way
            // (say, a dump we stopped reading) are stale, not wrong.
            if seq.wrapping_sub(m.seq) < 1 << 16 {
                continue;
            }
            return Err(Error::Protocol {
                request: what.to_string(),
                detail: format!("reply has sequence number {} but we sent {seq}", m.seq),
            });
        }
        if m.flags & NLM_F_DUMP_INTR != 0 {
            batch.dump_intr = true;
        }
        match m.ty {
            NLMSG_NOOP => {}
            NLMSG_ERROR => {
                let e = wire::parse_error(m.payload, m.flags).map_err(|e| Error::Protocol {
                    request: what.to_string(),
                    detail: e.to_string(),
                })?;
                if e.errno != 0 {
                    let attribute = e
                        .bad_attr_offset
                        .and_then(|o| inspect::attr_path_at(request, o as usize));
                    return Err(Error::Kernel {
                        request: what.to_string(),
                        errno: e.errno,
                        extack: e.msg,
                        attribute,
                        note: None,
                    });
                }
                batch.finished = true;
            }
            NLMSG_DONE => {
                // NLMSG_DONE carries the dump's final status.
                let e = wire::parse_done(m.payload, m.flags);
                if e.errno != 0 {
                    return Err(Error::Kernel {
                        request: what.to_string(),
                        errno: e.errno,
                        extack: e.msg,
                        attribute: None,
                        note: None,
                    });
                }
                batch.finished = true;
            }
            NLMSG_OVERRUN => {
                return Err(Error::Protocol {
                    request: what.to_string(),
                    detail: "NLMSG_OVERRUN: the kernel dropped data".into(),
                })
            }
            _ => batch.replies.push(Reply {
                ty: m.ty,
                flags: m.flags,
                payload: m.payload.to_vec(),
            }),
        }
    }
    Ok(batch)
}

/// `RTM_GET*` types are `RTM_BASE + 4k + 2` (rtnetlink.h groups NEW/DEL/GET/SET by 4).
pub(crate) fn is_get(ty: u16) -> bool {
    ty >= RTM_NEWLINK && (ty - RTM_NEWLINK) % 4 == 2
}

impl AsFd for Handle {
    fn as_fd(&self) -> BorrowedFd<'_> {
        sys::borrow_socket(&self.sock)
    }
}

/// The fixed header length of a message type, for decoders.
pub(crate) fn fixed_len(ty: u16) -> Option<usize> {
    use crate::wire::*;
    Some(match ty {
        RTM_NEWLINK..=RTM_SETLINK => IfInfoMsg::LEN,
        RTM_NEWADDR..=RTM_GETADDR => IfAddrMsg::LEN,
        RTM_NEWROUTE..=RTM_GETROUTE => RtMsg::LEN,
        RTM_NEWQDISC..=RTM_GETQDISC | RTM_NEWTFILTER..=RTM_GETTFILTER => TcMsg::LEN,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    //! The protocol checks of [`parse_replies`], each on a datagram built to
    //! break one rule. (The property test in tests/fuzz_replies.rs only
    //! proves it never panics; these prove what it says.)
    use super::*;
    use crate::wire::TcMsg;

    const PORT: u32 = 4242;
    const SEQ: u32 = 1000;

    fn request() -> Vec<u8> {
        let mut m = MsgBuilder::new(RTM_NEWTFILTER, NLM_F_REQUEST).fixed(&TcMsg::default().emit());
        m.attr_str(TCA_KIND, "bpf");
        m.finish(SEQ, 0)
    }

    fn msg(ty: u16, flags: u16, seq: u32, pid: u32) -> Vec<u8> {
        MsgBuilder::new(ty, flags)
            .fixed(&TcMsg::default().emit())
            .finish(seq, pid)
    }

    /// `struct nlmsgerr` with `errno` (0 for an ACK) and, if given, extack
    /// attributes: the message and the offset of the attribute at fault.
    fn error(errno: i32, extack: Option<(&str, u32)>) -> Vec<u8> {
        let req = request();
        let flags = if extack.is_some() {
            NLM_F_CAPPED | NLM_F_ACK_TLVS
        } else {
            NLM_F_CAPPED
        };
        let mut m = MsgBuilder::new(NLMSG_ERROR, flags);
        m.raw(&(-errno).to_ne_bytes());
        m.raw(req.get(..wire::NLMSG_HDRLEN).unwrap_or(&req));
        if let Some((text, offs)) = extack {
            m.attr_str(NLMSGERR_ATTR_MSG, text);
            m.attr_u32(NLMSGERR_ATTR_OFFS, offs);
        }
        m.finish(SEQ, PORT)
    }

    fn parse(data: &[u8]) -> Result<ReplyBatch> {
        parse_replies(data, PORT, SEQ, &request(), "RTM_NEWTFILTER test")
    }

    fn protocol_detail(r: Result<ReplyBatch>) -> String {
        match r {
            Err(Error::Protocol { request, detail }) => {
                assert_eq!(request, "RTM_NEWTFILTER test");
                detail
            }
            other => panic!("expected a protocol error, got {other:?}"),
        }
    }

    #[test]
    fn a_reply_to_another_port_is_refused() {
        let d = protocol_detail(parse(&msg(RTM_NEWTFILTER, 0, SEQ, 9)));
        assert_eq!(d, "reply addressed to port id 9 but ours is 4242");
    }

    #[test]
    fn stale_sequence_numbers_are_skipped_and_future_ones_refused() {
        // An earlier request's leftovers, then our ACK: only the ACK counts.
        let mut data = msg(RTM_NEWTFILTER, NLM_F_MULTI, SEQ - 1, PORT);
        data.extend(error(0, None));
        let b = parse(&data).expect("stale reply skipped");
        assert!(b.finished && b.replies.is_empty(), "{b:?}");
        let d = protocol_detail(parse(&msg(RTM_NEWTFILTER, 0, SEQ + 5, PORT)));
        assert_eq!(d, "reply has sequence number 1005 but we sent 1000");
    }

    #[test]
    fn multipart_dumps_end_at_nlmsg_done() {
        let mut first = msg(RTM_NEWTFILTER, NLM_F_MULTI, SEQ, PORT);
        first.extend(msg(RTM_NEWTFILTER, NLM_F_MULTI, SEQ, PORT));
        let b = parse(&first).expect("first datagram");
        assert_eq!((b.replies.len(), b.finished), (2, false));
        let mut last = msg(RTM_NEWTFILTER, NLM_F_MULTI | NLM_F_DUMP_INTR, SEQ, PORT);
        last.extend(
            MsgBuilder::new(NLMSG_DONE, NLM_F_MULTI)
                .fixed(&0i32.to_ne_bytes())
                .finish(SEQ, PORT),
        );
        let b = parse(&last).expect("last datagram");
        assert_eq!((b.replies.len(), b.finished, b.dump_intr), (1, true, true));
        // A dump that fails reports its errno in NLMSG_DONE.
        let done = MsgBuilder::new(NLMSG_DONE, NLM_F_MULTI)
            .fixed(&(-libc::EMSGSIZE).to_ne_bytes())
            .finish(SEQ, PORT);
        let e = parse(&done).expect_err("failed dump");
        assert_eq!(e.errno(), Some(libc::EMSGSIZE), "{e}");
    }

    #[test]
    fn nlmsg_error_carries_errno_extack_and_the_attribute() {
        // Offset 36 is TCA_KIND: the first attribute, after nlmsghdr (16
        // bytes) and tcmsg (20).
        let e = parse(&error(
            libc::EINVAL,
            Some(("Parent Qdisc doesn't exists", 36)),
        ))
        .expect_err("kernel refusal");
        let Error::Kernel {
            request,
            errno,
            extack,
            attribute,
            ..
        } = &e
        else {
            panic!("expected a kernel error, got {e:?}")
        };
        assert_eq!(request, "RTM_NEWTFILTER test");
        assert_eq!(*errno, libc::EINVAL);
        assert_eq!(extack.as_deref(), Some("Parent Qdisc doesn't exists"));
        assert_eq!(attribute.as_deref(), Some("TCA_KIND"));
        // errno 0 is the ACK that ends a request.
        let b = parse(&error(0, None)).expect("ACK");
        assert!(b.finished);
        let d = protocol_detail(parse(&msg(NLMSG_OVERRUN, 0, SEQ, PORT)));
        assert!(d.starts_with("NLMSG_OVERRUN"), "{d}");
    }
}
