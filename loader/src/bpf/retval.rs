//! What a program's return value means: the `TC_ACT_*` verdicts of TC
//! programs (`include/uapi/linux/pkt_cls.h`), the `TCX_*` verdicts of TCX
//! links (`include/uapi/linux/bpf.h`, `enum tcx_action_base`) and the
//! `XDP_*` actions (`enum xdp_action`, `include/uapi/linux/bpf.h`); and the
//! `bpf_redirect` flag that decides what a `TC_ACT_REDIRECT` does.

use crate::types::ProgType;

/// `TC_ACT_UNSPEC`: use the default action.
pub const TC_ACT_UNSPEC: i32 = -1;
/// `TC_ACT_OK`: let the packet continue.
pub const TC_ACT_OK: i32 = 0;
/// `TC_ACT_RECLASSIFY`.
pub const TC_ACT_RECLASSIFY: i32 = 1;
/// `TC_ACT_SHOT`: drop the packet (also what a failed `bpf_redirect` returns).
pub const TC_ACT_SHOT: i32 = 2;
/// `TC_ACT_PIPE`.
pub const TC_ACT_PIPE: i32 = 3;
/// `TC_ACT_STOLEN`.
pub const TC_ACT_STOLEN: i32 = 4;
/// `TC_ACT_QUEUED`.
pub const TC_ACT_QUEUED: i32 = 5;
/// `TC_ACT_REPEAT`.
pub const TC_ACT_REPEAT: i32 = 6;
/// `TC_ACT_REDIRECT`: what `bpf_redirect` returns; TC then redirects.
pub const TC_ACT_REDIRECT: i32 = 7;
/// `TC_ACT_TRAP`.
pub const TC_ACT_TRAP: i32 = 8;

/// `BPF_F_INGRESS` (include/uapi/linux/bpf.h), the `flags` argument of
/// `bpf_redirect`: after `TC_ACT_REDIRECT` the target device *receives* the
/// packet instead of transmitting it.
pub const BPF_F_INGRESS: u64 = 1;

/// `TCX_NEXT`: run the next program in the TCX chain.
pub const TCX_NEXT: i32 = -1;

/// `XDP_ABORTED`.
pub const XDP_ABORTED: u32 = 0;
/// `XDP_DROP`.
pub const XDP_DROP: u32 = 1;
/// `XDP_PASS`.
pub const XDP_PASS: u32 = 2;
/// `XDP_TX`.
pub const XDP_TX: u32 = 3;
/// `XDP_REDIRECT`.
pub const XDP_REDIRECT: u32 = 4;

/// The name of a TC verdict.
pub fn tc_act_name(v: u32) -> Option<&'static str> {
    Some(match v as i32 {
        TC_ACT_UNSPEC => "TC_ACT_UNSPEC",
        TC_ACT_OK => "TC_ACT_OK",
        TC_ACT_RECLASSIFY => "TC_ACT_RECLASSIFY",
        TC_ACT_SHOT => "TC_ACT_SHOT",
        TC_ACT_PIPE => "TC_ACT_PIPE",
        TC_ACT_STOLEN => "TC_ACT_STOLEN",
        TC_ACT_QUEUED => "TC_ACT_QUEUED",
        TC_ACT_REPEAT => "TC_ACT_REPEAT",
        TC_ACT_REDIRECT => "TC_ACT_REDIRECT",
        TC_ACT_TRAP => "TC_ACT_TRAP",
        _ => return None,
    })
}

/// The name of an XDP action.
pub fn xdp_action_name(v: u32) -> Option<&'static str> {
    Some(match v {
        XDP_ABORTED => "XDP_ABORTED",
        XDP_DROP => "XDP_DROP",
        XDP_PASS => "XDP_PASS",
        XDP_TX => "XDP_TX",
        XDP_REDIRECT => "XDP_REDIRECT",
        _ => return None,
    })
}

/// The name of `v` as a return value of a `prog_type` program, if it has one.
pub fn name(prog_type: Option<ProgType>, v: u32) -> Option<&'static str> {
    match prog_type? {
        ProgType::Xdp => xdp_action_name(v),
        ProgType::SchedCls | ProgType::SchedAct => tc_act_name(v),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(name(Some(ProgType::SchedCls), 7), Some("TC_ACT_REDIRECT"));
        assert_eq!(
            name(Some(ProgType::SchedCls), u32::MAX),
            Some("TC_ACT_UNSPEC")
        );
        assert_eq!(name(Some(ProgType::Xdp), 2), Some("XDP_PASS"));
        assert_eq!(name(Some(ProgType::Kprobe), 0), None);
        assert_eq!(name(None, 0), None);
        assert_eq!(tc_act_name(99), None);
    }
}
