//! Behaviour 6 of issue 6: `BPF_PROG_TEST_RUN` on the lab's program, no
//! device needed, and what each kernel does with frames that are too short.

use loader::lab::plan::{DEST_ADDR, DEST_MAC};
use loader::retval::{TC_ACT_OK, TC_ACT_REDIRECT};

use crate::program::{self, Variant};
use crate::report::Verdict;

fn run(prog: &loader::Program, data: &[u8]) -> Result<loader::TestRunResult, loader::Error> {
    prog.test_run(&loader::TestRun {
        data_in: data,
        ..Default::default()
    })
}

/// Behaviour 6a: An IPv4 frame to 10.0.2.11 returns `TC_ACT_REDIRECT` (7) with the
/// destination MAC rewritten and every other byte unchanged; another
/// destination returns `TC_ACT_OK` untouched.
pub fn redirect_verdict() -> Result<Verdict, String> {
    let prog = program::load_variant(&Variant::to(1))?;
    let frame = program::udp_frame(DEST_ADDR.octets(), b"test run");
    let r = run(&prog, &frame).map_err(|e| format!("BPF_PROG_TEST_RUN: {e}"))?;
    if r.retval != TC_ACT_REDIRECT as u32 {
        return Ok(Verdict::Fail(format!(
            "retval {} for 10.0.2.11, expected 7",
            r.retval
        )));
    }
    let mut expected = frame.clone();
    expected[..6].copy_from_slice(&DEST_MAC);
    if r.data_out != expected {
        return Ok(Verdict::Fail(
            "data_out is not the frame with h_dest = 02:00:00:00:00:00".into(),
        ));
    }
    let other = program::udp_frame([10, 0, 2, 12], b"test run");
    let r = run(&prog, &other).map_err(|e| format!("BPF_PROG_TEST_RUN: {e}"))?;
    if r.retval != TC_ACT_OK as u32 || r.data_out != other {
        return Ok(Verdict::Fail(format!(
            "10.0.2.12: retval {}, expected 0 with the frame unchanged",
            r.retval
        )));
    }
    Ok(Verdict::pass())
}

/// Behaviour 6b: Fewer than 14 bytes (an Ethernet header) are refused with EINVAL; a
/// 14-byte non-IP frame runs and passes.
pub fn min_size() -> Result<Verdict, String> {
    let prog = program::load_variant(&Variant::to(1))?;
    let arp = program::arp_frame();
    match run(&prog, &arp[..13]) {
        Ok(r) => {
            return Ok(Verdict::Fail(format!(
                "13 bytes ran (retval {}), expected EINVAL",
                r.retval
            )))
        }
        Err(e) if e.errno() == Some(libc::EINVAL) => {}
        Err(e) => return Ok(Verdict::Fail(format!("13 bytes: expected EINVAL, got {e}"))),
    }
    match run(&prog, &arp[..14]) {
        Ok(r) if r.retval == TC_ACT_OK as u32 => Ok(Verdict::pass()),
        Ok(r) => Ok(Verdict::Fail(format!(
            "14-byte ARP frame returned {}, expected 0",
            r.retval
        ))),
        Err(e) => Ok(Verdict::Fail(format!("14-byte ARP frame refused: {e}"))),
    }
}

/// Behaviour 6c: An IPv4 frame shorter than 34 bytes (Ethernet + IPv4 header). Kernels
/// differ: newer ones refuse it with EINVAL, others run it and the program's
/// bounds check passes it with `TC_ACT_OK`. Either is correct; the cell
/// records which. Anything else fails.
pub fn short_ipv4() -> Result<Verdict, String> {
    let prog = program::load_variant(&Variant::to(1))?;
    let frame = program::udp_frame(DEST_ADDR.octets(), b"");
    let short = &frame[..20];
    match run(&prog, short) {
        Err(e) if e.errno() == Some(libc::EINVAL) => {
            Ok(Verdict::pass_with("20-byte IPv4 frame refused: EINVAL"))
        }
        Err(e) => Ok(Verdict::Fail(format!(
            "20-byte IPv4 frame: unexpected error {e}"
        ))),
        Ok(r) if r.retval == TC_ACT_OK as u32 && r.data_out == short => Ok(Verdict::pass_with(
            "20-byte IPv4 frame runs: TC_ACT_OK, unchanged",
        )),
        Ok(r) => Ok(Verdict::Fail(format!(
            "20-byte IPv4 frame returned {}, expected 0 unchanged",
            r.retval
        ))),
    }
}
