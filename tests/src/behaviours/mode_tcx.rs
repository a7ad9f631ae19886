//! `up --mode tcx`: the order of a TCX chain (Linux 6.6, kernel/bpf/mprog.c
//! and net/core/dev.c's tcx_run). Each program's verdict decides whether the
//! next one runs: `TCX_NEXT` (-1) hands on, anything else ends the chain.
//! The lab's redirect program returns `TC_ACT_REDIRECT` (= `TCX_REDIRECT`,
//! 7), so a program appended after it (`BPF_F_AFTER`) never runs, a
//! `TCX_NEXT` program put before it (`BPF_F_BEFORE`) lets it run, and a
//! `TCX_DROP` one before it stops the packet. The TCX chain runs before the
//! clsact qdisc's cls_bpf filters on the same hook (sch_handle_ingress runs
//! tcx first and only falls through to the qdisc's filters on TCX_NEXT), so a
//! cls_bpf filter that drops everything does not stop the redirect.

use std::os::fd::AsFd;

use loader::link::{BPF_F_AFTER, BPF_F_BEFORE};
// `enum tcx_action_base` (bpf.h) defines TCX_DROP as TC_ACT_SHOT (2).
use loader::retval::{TCX_NEXT, TC_ACT_SHOT as TCX_DROP, TC_ACT_SHOT};
use loader::{AttachType, Link, LoadOptions, ProgType, Program};

use crate::report::Verdict;
use crate::topology::{LabGuard, Side, WAIT};

/// A SCHED_CLS program that only returns `ret`.
fn returns(ret: i32) -> Result<Program, String> {
    let p = ebpf_asm::text::assemble(
        &format!("\tr0 = {ret}\n\texit\n"),
        &ebpf_asm::text::AsmOptions::default(),
    )
    .map_err(|e| format!("assembling: {e}"))?;
    Program::load_with(
        &p.to_bytes(),
        &LoadOptions::new(ProgType::SchedCls, "tcx_ret"),
    )
    .map_err(|e| format!("loading r0 = {ret}: {e}"))
}

fn delivered(g: &LabGuard) -> Result<bool, String> {
    let listener = g.lab.udp_listener().map_err(|e| e.to_string())?;
    listener
        .set_read_timeout(Some(WAIT))
        .map_err(|e| e.to_string())?;
    let sender = g.lab.host_udp_socket().map_err(|e| e.to_string())?;
    let mut buf = [0u8; 64];
    for _ in 0..5 {
        sender
            .send_to(b"tcx order", loader::lab::LISTEN_ADDR)
            .map_err(|e| format!("send: {e}"))?;
        if listener.recv(&mut buf).is_ok() {
            return Ok(true);
        }
    }
    Ok(false)
}

fn attach(g: &LabGuard, prog: &Program, flags: u32) -> Result<Link, String> {
    let idx = g
        .lab
        .handle_in(Side::Netns1)
        .and_then(|mut h| {
            h.link_index(loader::lab::plan::VETH1_2)
                .map_err(|e| loader::lab::LabError::Failed(e.to_string()))
        })
        .map_err(|e| e.to_string())?;
    let fd = prog.as_fd();
    g.lab
        .run_in(Side::Netns1, || {
            Link::attach_ifindex(fd, idx as u32, AttachType::TcxIngress, flags)
        })
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("BPF_LINK_CREATE BPF_TCX_INGRESS flags {flags:#x}: {e}"))
}

pub fn order() -> Result<Verdict, String> {
    let options = loader::lab::UpOptions {
        mode: loader::lab::mode::find("tcx")?,
        ..Default::default()
    };
    let g = LabGuard::try_up("mtcxo", &options)?;
    let notes = g
        .report
        .as_ref()
        .map(|r| r.notes.join("; "))
        .unwrap_or_default();
    if notes.contains("no TCX") {
        return Ok(Verdict::NotApplicable(notes));
    }
    if !delivered(&g)? {
        return Ok(Verdict::Fail(
            "the tcx redirect alone delivered nothing".into(),
        ));
    }
    let drop_prog = returns(TCX_DROP)?;
    let next_prog = returns(TCX_NEXT)?;
    // After the redirect: never reached.
    let after = attach(&g, &drop_prog, BPF_F_AFTER)?;
    if !delivered(&g)? {
        return Ok(Verdict::Fail(
            "a TCX_DROP program attached BPF_F_AFTER the redirect stopped the packet".into(),
        ));
    }
    drop(after);
    // Before it, TCX_NEXT: the redirect still runs.
    let next = attach(&g, &next_prog, BPF_F_BEFORE)?;
    if !delivered(&g)? {
        return Ok(Verdict::Fail(
            "a TCX_NEXT program attached BPF_F_BEFORE stopped the packet".into(),
        ));
    }
    // Before it, TCX_DROP: the chain ends there.
    let before = attach(&g, &drop_prog, BPF_F_BEFORE)?;
    if delivered(&g)? {
        return Ok(Verdict::Fail(
            "a TCX_DROP program at the head (BPF_F_BEFORE) did not stop the packet".into(),
        ));
    }
    drop(before);
    drop(next);
    // A cls_bpf filter that drops everything, on the same ingress hook.
    let shot = returns(TC_ACT_SHOT)?;
    g.lab.attach(&shot).map_err(|e| e.to_string())?;
    if !delivered(&g)? {
        return Ok(Verdict::Fail(
            "a dropping cls_bpf filter stopped the packet: tcx did not run first".into(),
        ));
    }
    Ok(Verdict::pass())
}
