//! Behaviour 8 of issue 6: the TC netlink semantics the lab relies on,
//! checked with our own `netlink` requests on a veth pair in a namespace of
//! its own.

use std::os::fd::AsFd;

use netlink::{BpfFilterSpec, Handle, NetnsGuard, TcHook};

use crate::program::{self, Variant};
use crate::report::Verdict;

/// A namespace holding one veth pair (`tca` and `tcb`, both ends here).
struct VethNs {
    handle: Handle,
    ifindex: i32,
    // Dropped last: deleting the namespace deletes the devices.
    _ns: NetnsGuard,
}

fn veth_ns(tag: &str) -> Result<VethNs, String> {
    let ns = NetnsGuard::unique(&format!("lt-{tag}")).map_err(|e| format!("create netns: {e}"))?;
    let mut handle = Handle::in_netns(&ns).map_err(|e| format!("netlink socket: {e}"))?;
    let ifindex = handle
        .link_add_veth("tca", "tcb", None)
        .map_err(|e| format!("veth pair: {e}"))?;
    Ok(VethNs {
        handle,
        ifindex,
        _ns: ns,
    })
}

fn describe(e: &netlink::Error) -> String {
    let errno = e
        .errno()
        .map(netlink::error::errno_name)
        .unwrap_or("no errno");
    match e.extack() {
        Some(x) => format!("{errno}: \"{x}\""),
        None => format!("{errno}, no extack"),
    }
}

/// Behaviour 8a: A second exclusive clsact add fails with EEXIST and the kernel's
/// extack text "Exclusivity flag on, cannot modify".
pub fn clsact_twice() -> Result<Verdict, String> {
    let mut v = veth_ns("clsact2")?;
    v.handle
        .qdisc_add_clsact(v.ifindex)
        .map_err(|e| format!("first clsact: {e}"))?;
    match v.handle.qdisc_add_clsact(v.ifindex) {
        Ok(()) => Ok(Verdict::Fail(
            "a second exclusive clsact add succeeded".into(),
        )),
        Err(e) if e.errno() == Some(libc::EEXIST) => match e.extack() {
            Some(x) if x.contains("Exclusivity flag on") => Ok(Verdict::pass()),
            other => Ok(Verdict::Fail(format!("EEXIST, but extack was {other:?}"))),
        },
        Err(e) => Ok(Verdict::Fail(format!(
            "expected EEXIST, got {}",
            describe(&e)
        ))),
    }
}

/// Behaviour 8b: A filter on a device without clsact fails (the hook does not exist).
pub fn filter_without_clsact() -> Result<Verdict, String> {
    let mut v = veth_ns("noclsact")?;
    let prog = program::load_variant(&Variant::to(1))?;
    let spec = BpfFilterSpec::new(TcHook::Ingress, prog.as_fd(), "redirect");
    match v.handle.filter_add_bpf(v.ifindex, &spec) {
        Ok(id) => Ok(Verdict::Fail(format!(
            "the kernel accepted a filter without clsact (prio {})",
            id.prio
        ))),
        Err(e) if e.errno().is_some() => Ok(Verdict::pass_with(describe(&e))),
        Err(e) => Ok(Verdict::Fail(format!(
            "failed, but not with a kernel errno: {e}"
        ))),
    }
}

/// Behaviour 8c: Replace at the same prio and handle swaps the program and keeps one
/// filter.
pub fn replace_keeps_one() -> Result<Verdict, String> {
    let mut v = veth_ns("replace")?;
    v.handle
        .qdisc_add_clsact(v.ifindex)
        .map_err(|e| format!("clsact: {e}"))?;
    let a = program::load_variant(&Variant::to(1))?;
    let b = program::load_variant(&Variant::to(2))?;
    let b_id = b.info().map_err(|e| format!("program info: {e}"))?.id;
    let first = v
        .handle
        .filter_add_bpf(
            v.ifindex,
            &BpfFilterSpec::new(TcHook::Ingress, a.as_fd(), "first"),
        )
        .map_err(|e| format!("add: {e}"))?;
    let mut spec = BpfFilterSpec::new(TcHook::Ingress, b.as_fd(), "second");
    spec.prio = first.prio;
    spec.handle = first.handle;
    v.handle
        .filter_replace_bpf(v.ifindex, &spec)
        .map_err(|e| format!("replace: {e}"))?;
    let dump = v
        .handle
        .filter_dump(v.ifindex, TcHook::Ingress)
        .map_err(|e| format!("dump: {e}"))?;
    match dump.as_slice() {
        [f] if f.id == Some(b_id) && f.name.as_deref() == Some("second") => Ok(Verdict::pass()),
        [f] => Ok(Verdict::Fail(format!(
            "one filter, but it runs program {:?} named {:?}, not {b_id} \"second\"",
            f.id, f.name
        ))),
        many => Ok(Verdict::Fail(format!(
            "{} filters after replace, expected 1",
            many.len()
        ))),
    }
}

/// Behaviour 8d: With prio 0 the kernel chooses one (49152 for the first filter) and
/// the `NLM_F_ECHO` copy reports it, matching the dump.
pub fn echo_priority() -> Result<Verdict, String> {
    let mut v = veth_ns("echo")?;
    v.handle
        .qdisc_add_clsact(v.ifindex)
        .map_err(|e| format!("clsact: {e}"))?;
    let prog = program::load_variant(&Variant::to(1))?;
    let id = v
        .handle
        .filter_add_bpf(
            v.ifindex,
            &BpfFilterSpec::new(TcHook::Ingress, prog.as_fd(), "echo"),
        )
        .map_err(|e| format!("add: {e}"))?;
    let dump = v
        .handle
        .filter_dump(v.ifindex, TcHook::Ingress)
        .map_err(|e| format!("dump: {e}"))?;
    if id.prio == 0 {
        return Ok(Verdict::Fail("the echo reported prio 0".into()));
    }
    match dump.as_slice() {
        [f] if f.prio == id.prio && f.handle == id.handle => {
            Ok(Verdict::pass_with(format!("kernel chose prio {}", id.prio)))
        }
        [f] => Ok(Verdict::Fail(format!(
            "echo said prio {} handle {:#x}, dump says prio {} handle {:#x}",
            id.prio, id.handle, f.prio, f.handle
        ))),
        many => Ok(Verdict::Fail(format!("{} filters, expected 1", many.len()))),
    }
}
