//! Behaviour 5 of issue 6: non-IPv4 traffic passes the program with
//! `TC_ACT_OK`, so proxy ARP in netns_1 still answers through it.

use loader::lab::plan::DEST_ADDR;
use loader::retval::TC_ACT_OK;

use crate::program::{self, Variant};
use crate::report::Verdict;
use crate::topology::{Side, Topology, WAIT};

pub fn arp_passes() -> Result<Verdict, String> {
    let t = Topology::build("arp")?;
    let prog = program::load_variant(&Variant::to(t.veth2_1))?;
    let arp = program::arp_frame();
    let r = prog
        .test_run(&loader::TestRun {
            data_in: &arp,
            ..Default::default()
        })
        .map_err(|e| format!("BPF_PROG_TEST_RUN on an ARP frame: {e}"))?;
    if r.retval != TC_ACT_OK as u32 || r.data_out != arp {
        return Ok(Verdict::Fail(format!(
            "ARP frame: retval {}, expected 0 with the frame unchanged",
            r.retval
        )));
    }
    t.attach(&prog)?;
    let listener = t.listener()?;
    let (_, got) = t.send_until_received(&listener, b"arp", 20, WAIT, WAIT)?;
    if got.is_none() {
        return Ok(Verdict::Fail(
            "no datagram crossed, so ARP through the program is unproven".into(),
        ));
    }
    let mut h1 = t.handle(Side::Netns1)?;
    let mac = h1
        .link_get(t.veth1_2)
        .map_err(|e| format!("RTM_GETLINK veth1@2: {e}"))?
        .mac_string()
        .ok_or("veth1@2 has no MAC")?;
    let table = t.arp_table(Side::Host)?;
    let dest = DEST_ADDR.to_string();
    match table.iter().find(|(ip, _, _)| *ip == dest) {
        Some((_, m, _)) if *m == mac => Ok(Verdict::pass()),
        Some((_, m, _)) => Ok(Verdict::Fail(format!(
            "10.0.2.11 resolved to {m}, not veth1@2's {mac}"
        ))),
        None => Ok(Verdict::Fail(
            "the host side has no ARP entry for 10.0.2.11".into(),
        )),
    }
}
