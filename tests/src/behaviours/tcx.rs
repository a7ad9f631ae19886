//! Behaviour 9 of issue 6: TCX, TC programs attached through a `bpf_link`
//! (`BPF_LINK_CREATE` with `BPF_TCX_INGRESS`, Linux 6.6). Its presence is
//! probed, never guessed from the version: on a kernel without it the
//! attach is refused and the lab falls back to clsact + cls_bpf.

use std::os::fd::AsFd;

use loader::{AttachType, Link};

use crate::program::{self, Variant};
use crate::report::Verdict;
use crate::topology::{Side, Topology, WAIT};

pub fn attach_detach() -> Result<Verdict, String> {
    let t = Topology::build("tcx")?;
    let prog = program::load_variant(&Variant::to(t.veth2_1))?;
    let prog_id = prog.info().map_err(|e| format!("program info: {e}"))?.id;
    // The link is created in netns_1: ifindexes are per namespace, so the
    // attach must run on a thread inside it.
    let veth1_2 = t.veth1_2 as u32;
    let fd = prog.as_fd();
    let attempt = t.run(Side::Netns1, || {
        Link::attach_ifindex(fd, veth1_2, AttachType::TcxIngress, 0)
    })?;
    let link = match attempt {
        Err(e) if e.errno() == Some(libc::EINVAL) => {
            // No TCX: the fallback the lab uses must work instead.
            t.attach(&prog)
                .map_err(|f| format!("no TCX ({e}), and the clsact fallback failed too: {f}"))?;
            let listener = t.listener()?;
            if t.send_until_received(&listener, b"tcx", 20, WAIT, WAIT)?
                .1
                .is_none()
            {
                return Ok(Verdict::Fail(
                    "no TCX, and traffic did not cross with the clsact fallback".into(),
                ));
            }
            return Ok(Verdict::NotApplicable(
                "BPF_LINK_CREATE BPF_TCX_INGRESS refused with EINVAL: no TCX (Linux 6.6+); clsact + cls_bpf fallback works".into(),
            ));
        }
        Err(e) => return Ok(Verdict::Fail(format!("TCX attach failed: {e}"))),
        Ok(l) => l,
    };
    let info = link.info().map_err(|e| format!("link info: {e}"))?;
    if info.prog_id != prog_id || info.ifindex != Some(veth1_2) {
        return Ok(Verdict::Fail(format!(
            "link info: prog {} ifindex {:?}, expected prog {prog_id} ifindex {veth1_2}",
            info.prog_id, info.ifindex
        )));
    }
    let listener = t.listener()?;
    let f0 = t.ip_counter(Side::Netns1, "ForwDatagrams")?;
    if t.send_until_received(&listener, b"tcx", 20, WAIT, WAIT)?
        .1
        .is_none()
    {
        return Ok(Verdict::Fail(
            "with the TCX link, nothing reached netns_2".into(),
        ));
    }
    if t.ip_counter(Side::Netns1, "ForwDatagrams")? != f0 {
        return Ok(Verdict::Fail(
            "with the TCX link, netns_1 forwarded the datagram: the program did not redirect"
                .into(),
        ));
    }
    // Detach: dropping the only fd of an unpinned link releases it.
    let link_id = info.id;
    drop(link);
    // The kernel frees the link when its last reference goes; allow it a
    // moment in case that is deferred to a work queue.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    while Link::from_id(link_id).is_ok() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    if Link::from_id(link_id).is_ok() {
        return Ok(Verdict::Fail(format!(
            "link {link_id} still exists after its last fd closed"
        )));
    }
    if t.send_until_received(&listener, b"tcx", 20, WAIT, WAIT)?
        .1
        .is_none()
    {
        return Ok(Verdict::Fail(
            "after detach, traffic no longer crosses".into(),
        ));
    }
    if t.ip_counter(Side::Netns1, "ForwDatagrams")? == f0 {
        return Ok(Verdict::Fail(
            "after detach the packet still skipped netns_1's stack".into(),
        ));
    }
    Ok(Verdict::pass())
}
