//! Traffic control: the `clsact` qdisc and `cls_bpf` filters on its ingress
//! and egress hooks, the way `tc qdisc add dev X clsact` and `tc filter add
//! dev X ingress bpf da fd N` build them.
//!
//! It follows `include/uapi/linux/rtnetlink.h` (`RTM_*QDISC`,
//! `RTM_*TFILTER`, `struct tcmsg`, `TCA_KIND`, `TCA_OPTIONS`),
//! `pkt_sched.h` (`TC_H_*` handles) and `pkt_cls.h` (`TCA_BPF_*`).
//!
//! The handles, in short: clsact takes the ingress qdisc's slot, so its
//! parent is `TC_H_CLSACT` and its handle `TC_H_MAKE(TC_H_CLSACT, 0)`
//! (`ffff:`). A filter hangs under `TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS)`
//! (`ffff:fff2`) or `..._EGRESS` (`ffff:fff3`); its priority and protocol
//! share `tcm_info`: `TC_H_MAKE(prio << 16, htons(ETH_P_ALL))`.

use crate::consts::*;
use crate::error::{Error, Result};
use crate::handle::{Handle, Reply};
use crate::wire::{self, TcMsg, WireError};
use std::fmt;
use std::os::fd::{AsRawFd, BorrowedFd};

/// Which clsact hook a filter runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TcHook {
    /// Packets received by the device (`TC_H_MIN_INGRESS`).
    Ingress,
    /// Packets the device transmits (`TC_H_MIN_EGRESS`).
    Egress,
}

impl TcHook {
    /// `tcm_parent` for filters on this hook.
    pub fn parent(self) -> u32 {
        match self {
            TcHook::Ingress => tc_h_make(TC_H_CLSACT, TC_H_MIN_INGRESS),
            TcHook::Egress => tc_h_make(TC_H_CLSACT, TC_H_MIN_EGRESS),
        }
    }
}

impl fmt::Display for TcHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TcHook::Ingress => "ingress",
            TcHook::Egress => "egress",
        })
    }
}

/// What to attach: a program fd on a hook, with a name and options.
#[derive(Debug, Clone, Copy)]
pub struct BpfFilterSpec<'a> {
    /// Ingress or egress.
    pub hook: TcHook,
    /// Priority (the `pref` in `tc`); 0 lets the kernel choose (it picks 49152 first).
    pub prio: u16,
    /// Filter handle; 0 lets the kernel choose (cls_bpf picks 1 first).
    pub handle: u32,
    /// A loaded `BPF_PROG_TYPE_SCHED_CLS` program (`TCA_BPF_FD`).
    pub prog: BorrowedFd<'a>,
    /// `TCA_BPF_NAME`, shown by `tc filter show` (at most [`CLS_BPF_NAME_LEN`] bytes).
    pub name: &'a str,
    /// `TCA_BPF_FLAG_ACT_DIRECT`: the program's return value is the action
    /// (`TC_ACT_OK`, `TC_ACT_SHOT`, `TC_ACT_REDIRECT`), as `tc ... da` does.
    pub direct_action: bool,
}

impl<'a> BpfFilterSpec<'a> {
    /// A direct-action filter with kernel-chosen prio and handle.
    pub fn new(hook: TcHook, prog: BorrowedFd<'a>, name: &'a str) -> Self {
        BpfFilterSpec {
            hook,
            prio: 0,
            handle: 0,
            prog,
            name,
            direct_action: true,
        }
    }
}

/// Where a filter sits, as the kernel reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FilterId {
    /// Priority (`tcm_info >> 16`).
    pub prio: u16,
    /// Handle (`tcm_handle`).
    pub handle: u32,
}

/// A `cls_bpf` filter as a dump reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BpfFilter {
    /// `tcm_ifindex`.
    pub ifindex: i32,
    /// `tcm_parent`.
    pub parent: u32,
    /// Priority.
    pub prio: u16,
    /// Protocol (host order, e.g. `ETH_P_ALL` = 3).
    pub protocol: u16,
    /// `tcm_handle`.
    pub handle: u32,
    /// `TCA_CHAIN`.
    pub chain: Option<u32>,
    /// `TCA_BPF_NAME`.
    pub name: Option<String>,
    /// `TCA_BPF_ID`: the program id (as `bpftool prog show id N`).
    pub id: Option<u32>,
    /// `TCA_BPF_TAG`: the program's 8-byte tag.
    pub tag: Option<[u8; 8]>,
    /// `TCA_BPF_FLAGS` (`TCA_BPF_FLAG_ACT_DIRECT`).
    pub flags: u32,
    /// `TCA_BPF_FLAGS_GEN` (`TCA_CLS_FLAGS_*`, e.g. `not_in_hw`).
    pub flags_gen: u32,
}

impl BpfFilter {
    /// `TCA_BPF_FLAG_ACT_DIRECT` is set.
    pub fn direct_action(&self) -> bool {
        self.flags & TCA_BPF_FLAG_ACT_DIRECT != 0
    }

    /// The tag as 16 hex digits, as `bpftool` prints it.
    pub fn tag_hex(&self) -> Option<String> {
        self.tag
            .map(|t| t.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// Decodes an `RTM_NEWTFILTER` payload; `Ok(None)` for entries that are
    /// not `bpf` filters, and for the chain-head entries (no `TCA_OPTIONS`)
    /// the kernel emits once per priority.
    pub fn parse(payload: &[u8]) -> std::result::Result<Option<BpfFilter>, WireError> {
        let h = TcMsg::parse(payload)?;
        let mut f = BpfFilter {
            ifindex: h.ifindex,
            parent: h.parent,
            prio: h.prio(),
            protocol: h.protocol(),
            handle: h.handle,
            ..Default::default()
        };
        let mut kind = None;
        let mut options = None;
        for a in wire::attrs(payload.get(TcMsg::LEN..).unwrap_or(&[])) {
            let a = a?;
            match a.ty {
                TCA_KIND => kind = Some(a.string()),
                TCA_CHAIN => f.chain = a.u32().ok(),
                TCA_OPTIONS => options = Some(a),
                _ => {}
            }
        }
        let (Some("bpf"), Some(opts)) = (kind.as_deref(), options) else {
            return Ok(None);
        };
        for a in opts.nested() {
            let a = a?;
            match a.ty {
                TCA_BPF_NAME => f.name = Some(a.string()),
                TCA_BPF_ID => f.id = a.u32().ok(),
                TCA_BPF_TAG => f.tag = a.payload.try_into().ok(),
                TCA_BPF_FLAGS => f.flags = a.u32().unwrap_or(0),
                TCA_BPF_FLAGS_GEN => f.flags_gen = a.u32().unwrap_or(0),
                _ => {}
            }
        }
        Ok(Some(f))
    }
}

/// A qdisc as `RTM_GETQDISC` reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Qdisc {
    /// `tcm_ifindex`.
    pub ifindex: i32,
    /// `tcm_handle` (`ffff0000` for clsact, shown by tc as `ffff:`).
    pub handle: u32,
    /// `tcm_parent` (`TC_H_CLSACT` for clsact).
    pub parent: u32,
    /// `TCA_KIND`: "clsact", "noqueue", "pfifo_fast"...
    pub kind: String,
}

impl Qdisc {
    /// Decodes an `RTM_NEWQDISC` payload.
    pub fn parse(payload: &[u8]) -> std::result::Result<Qdisc, WireError> {
        let h = TcMsg::parse(payload)?;
        let kind = wire::find_attr(payload.get(TcMsg::LEN..).unwrap_or(&[]), TCA_KIND)?
            .map(|a| a.string())
            .unwrap_or_default();
        Ok(Qdisc {
            ifindex: h.ifindex,
            handle: h.handle,
            parent: h.parent,
            kind,
        })
    }
}

impl Handle {
    /// Dumps the qdiscs of one device (of every device if `ifindex` is 0).
    /// `tc qdisc show [dev X]`
    pub fn qdiscs(&mut self, ifindex: i32) -> Result<Vec<Qdisc>> {
        let (what, cmd) = if ifindex == 0 {
            (
                "RTM_GETQDISC dump".to_string(),
                format!("{} qdisc show", self.ip("tc")),
            )
        } else {
            let label = self.dev_label(ifindex);
            let dev = self.dev_arg(ifindex);
            (
                format!("RTM_GETQDISC dump on {label}"),
                format!("{} qdisc show dev {dev}", self.ip("tc")),
            )
        };
        // The kernel dumps every device's qdiscs whatever tcm_ifindex says
        // (without strict checking); we keep the ones asked for.
        let h = TcMsg {
            ifindex,
            ..Default::default()
        };
        let req = self.request(RTM_GETQDISC, NLM_F_DUMP, &h.emit(), what, cmd);
        let mut qdiscs = self.dump(req, RTM_NEWQDISC, Qdisc::parse)?;
        qdiscs.retain(|q| ifindex == 0 || q.ifindex == ifindex);
        Ok(qdiscs)
    }

    fn clsact(&mut self, ty: u16, flags: u16, ifindex: i32, verb: &str) -> Result<()> {
        let label = self.dev_label(ifindex);
        let dev = self.dev_arg(ifindex);
        let h = TcMsg {
            ifindex,
            handle: tc_h_make(TC_H_CLSACT, 0),
            parent: TC_H_CLSACT,
            ..Default::default()
        };
        let name = if ty == RTM_DELQDISC {
            "RTM_DELQDISC"
        } else {
            "RTM_NEWQDISC"
        };
        let mut req = self.request(
            ty,
            flags,
            &h.emit(),
            format!("{name} clsact on {label}"),
            format!("{} qdisc {verb} dev {dev} clsact", self.ip("tc")),
        );
        req.msg.attr_str(TCA_KIND, "clsact");
        self.execute(req).map(drop)
    }

    /// Adds a clsact qdisc, failing with EEXIST ("Exclusivity flag on, cannot
    /// modify") if there is one (`NLM_F_EXCL`). `tc qdisc add dev X clsact`
    pub fn qdisc_add_clsact(&mut self, ifindex: i32) -> Result<()> {
        self.clsact(RTM_NEWQDISC, NLM_F_CREATE | NLM_F_EXCL, ifindex, "add")
    }

    /// Adds a clsact qdisc or keeps the existing one (`NLM_F_REPLACE`).
    /// `tc qdisc replace dev X clsact`
    pub fn qdisc_replace_clsact(&mut self, ifindex: i32) -> Result<()> {
        self.clsact(
            RTM_NEWQDISC,
            NLM_F_CREATE | NLM_F_REPLACE,
            ifindex,
            "replace",
        )
    }

    /// Deletes the clsact qdisc and every filter on it. `tc qdisc del dev X clsact`
    pub fn qdisc_del_clsact(&mut self, ifindex: i32) -> Result<()> {
        self.clsact(RTM_DELQDISC, 0, ifindex, "del")
    }

    /// Adds a cls_bpf filter (`NLM_F_EXCL`: fails if prio/handle are taken)
    /// and returns the prio and handle the kernel used, learned from the
    /// `NLM_F_ECHO` copy of the new filter.
    ///
    /// `tc filter add dev X ingress [prio P handle H] bpf object-pinned PIN direct-action`
    pub fn filter_add_bpf(&mut self, ifindex: i32, spec: &BpfFilterSpec<'_>) -> Result<FilterId> {
        self.filter_new(ifindex, spec, false)
    }

    /// Replaces the program of the filter at `spec.prio`/`spec.handle` (or
    /// creates it), keeping one filter (`NLM_F_CREATE | NLM_F_REPLACE`).
    /// Give both prio and handle, or the kernel adds a new filter instead.
    ///
    /// `tc filter replace dev X ingress prio P handle H bpf object-pinned PIN direct-action`
    pub fn filter_replace_bpf(
        &mut self,
        ifindex: i32,
        spec: &BpfFilterSpec<'_>,
    ) -> Result<FilterId> {
        self.filter_new(ifindex, spec, true)
    }

    fn filter_new(
        &mut self,
        ifindex: i32,
        spec: &BpfFilterSpec<'_>,
        replace: bool,
    ) -> Result<FilterId> {
        let label = self.dev_label(ifindex);
        let dev = self.dev_arg(ifindex);
        let h = TcMsg {
            ifindex,
            handle: spec.handle,
            parent: spec.hook.parent(),
            // htons(ETH_P_ALL): the protocol half is in network byte order.
            info: tc_h_make((spec.prio as u32) << 16, ETH_P_ALL.to_be() as u32),
            ..Default::default()
        };
        let flags = NLM_F_ECHO | NLM_F_CREATE | if replace { NLM_F_REPLACE } else { NLM_F_EXCL };
        let verb = if replace { "replace" } else { "add" };
        let mut cmd = format!("{} filter {verb} dev {dev} {}", self.ip("tc"), spec.hook);
        if spec.prio != 0 {
            cmd.push_str(&format!(" prio {}", spec.prio));
        }
        if spec.handle != 0 {
            cmd.push_str(&format!(" handle 0x{:x}", spec.handle));
        }
        // tc cannot take an fd: it loads an object file or opens a pin, and
        // names the filter after the file. The line shows where those go.
        cmd.push_str(&format!(
            " protocol all bpf object-pinned <bpffs pin of prog fd {}>",
            spec.prog.as_raw_fd()
        ));
        if spec.direct_action {
            cmd.push_str(" direct-action");
        }
        cmd.push_str(&format!("  # TCA_BPF_NAME \"{}\"", spec.name));
        let mut req = self.request(
            RTM_NEWTFILTER,
            flags,
            &h.emit(),
            format!("RTM_NEWTFILTER bpf on {label} {}", spec.hook),
            cmd,
        );
        let m = &mut req.msg;
        m.attr_str(TCA_KIND, "bpf");
        m.nest_start(TCA_OPTIONS);
        m.attr_u32(TCA_BPF_FD, spec.prog.as_raw_fd() as u32);
        m.attr_str(TCA_BPF_NAME, spec.name);
        if spec.direct_action {
            m.attr_u32(TCA_BPF_FLAGS, TCA_BPF_FLAG_ACT_DIRECT);
        }
        m.nest_end();
        let what = req.what.clone();
        let replies = self.execute(req).map_err(|e| match e {
            // cls_bpf validates TCA_OPTIONS without an extack, so the kernel
            // says only EINVAL; the likely cause we can check ourselves.
            Error::Kernel {
                request,
                errno: libc::EINVAL,
                extack: None,
                attribute,
                note: None,
            } if spec.name.len() > CLS_BPF_NAME_LEN => Error::Kernel {
                request,
                errno: libc::EINVAL,
                extack: None,
                attribute,
                note: Some(format!(
                    "TCA_BPF_NAME is {} bytes and cls_bpf accepts at most {CLS_BPF_NAME_LEN} \
                     (CLS_BPF_NAME_LEN, net/sched/cls_bpf.c): use a shorter name",
                    spec.name.len()
                )),
            },
            e => e,
        })?;
        echoed_id(&replies).ok_or_else(|| Error::Protocol {
            request: what,
            detail: "no RTM_NEWTFILTER echo (NLM_F_ECHO) before the ACK".into(),
        })
    }

    /// Deletes the filter at `prio`/`handle` (handle 0: every filter at that prio).
    /// `tc filter del dev X ingress prio P handle H protocol all bpf`
    pub fn filter_del(&mut self, ifindex: i32, hook: TcHook, id: FilterId) -> Result<()> {
        let label = self.dev_label(ifindex);
        let dev = self.dev_arg(ifindex);
        let h = TcMsg {
            ifindex,
            handle: id.handle,
            parent: hook.parent(),
            info: tc_h_make((id.prio as u32) << 16, ETH_P_ALL.to_be() as u32),
            ..Default::default()
        };
        let mut req = self.request(
            RTM_DELTFILTER,
            0,
            &h.emit(),
            format!(
                "RTM_DELTFILTER bpf prio {} handle 0x{:x} on {label} {hook}",
                id.prio, id.handle
            ),
            format!(
                "{} filter del dev {dev} {hook} prio {} handle 0x{:x} protocol all bpf",
                self.ip("tc"),
                id.prio,
                id.handle
            ),
        );
        req.msg.attr_str(TCA_KIND, "bpf");
        self.execute(req).map(drop)
    }

    /// Dumps the cls_bpf filters on one hook. `tc filter show dev X ingress`
    pub fn filter_dump(&mut self, ifindex: i32, hook: TcHook) -> Result<Vec<BpfFilter>> {
        let label = self.dev_label(ifindex);
        let dev = self.dev_arg(ifindex);
        let h = TcMsg {
            ifindex,
            parent: hook.parent(),
            ..Default::default()
        };
        let what = format!("RTM_GETTFILTER dump on {label} {hook}");
        let req = self.request(
            RTM_GETTFILTER,
            NLM_F_DUMP,
            &h.emit(),
            what,
            format!("{} filter show dev {dev} {hook}", self.ip("tc")),
        );
        let filters = self.dump(req, RTM_NEWTFILTER, BpfFilter::parse)?;
        // Other classifiers and the per-prio chain heads decode to None.
        Ok(filters.into_iter().flatten().collect())
    }
}

fn echoed_id(replies: &[Reply]) -> Option<FilterId> {
    replies
        .iter()
        .filter(|r| r.ty == RTM_NEWTFILTER)
        .find_map(|r| TcMsg::parse(&r.payload).ok())
        .map(|t| FilterId {
            prio: t.prio(),
            handle: t.handle,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clsact_hook_parents() {
        assert_eq!(TcHook::Ingress.parent(), 0xFFFF_FFF2);
        assert_eq!(TcHook::Egress.parent(), 0xFFFF_FFF3);
        assert_eq!(tc_h_make(TC_H_CLSACT, 0), 0xFFFF_0000);
    }

    #[test]
    fn parse_dump_entries() {
        let h = TcMsg {
            ifindex: 2,
            handle: 1,
            parent: TcHook::Ingress.parent(),
            info: tc_h_make(7 << 16, ETH_P_ALL.to_be() as u32),
            ..Default::default()
        };
        let mut m = wire::MsgBuilder::new(RTM_NEWTFILTER, 0).fixed(&h.emit());
        m.attr_str(TCA_KIND, "bpf");
        m.attr_u32(TCA_CHAIN, 0);
        m.nest_start(TCA_OPTIONS);
        m.attr_str(TCA_BPF_NAME, "redirect");
        m.attr_u32(TCA_BPF_FLAGS, TCA_BPF_FLAG_ACT_DIRECT);
        m.attr(TCA_BPF_TAG, &[1, 2, 3, 4, 5, 6, 7, 8]);
        m.attr_u32(TCA_BPF_ID, 99);
        m.nest_end();
        let b = m.finish(1, 1);
        let f = BpfFilter::parse(&b[16..]).unwrap().unwrap();
        assert_eq!(f.name.as_deref(), Some("redirect"));
        assert_eq!(
            (f.prio, f.handle, f.id, f.protocol),
            (7, 1, Some(99), ETH_P_ALL)
        );
        assert!(f.direct_action());
        assert_eq!(f.tag_hex().as_deref(), Some("0102030405060708"));
        // The chain-head entry: kind only.
        let mut m = wire::MsgBuilder::new(RTM_NEWTFILTER, 0).fixed(&h.emit());
        m.attr_str(TCA_KIND, "bpf");
        let b = m.finish(1, 1);
        assert_eq!(BpfFilter::parse(&b[16..]).unwrap(), None);
    }
}
