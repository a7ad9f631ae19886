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

/// Behaviour 6c: the shortest IPv4 frame the kernel's test run accepts,
/// probed length by length from 14 bytes (an Ethernet header) to 34
/// (Ethernet + IPv4 header). Kernels differ: some refuse an IPv4 frame
/// without a whole IPv4 header with EINVAL, others run it, and the
/// program's bounds check then passes it with `TC_ACT_OK`. The note records
/// the length this kernel starts at. It fails if a refusal is not EINVAL, if a
/// longer frame is refused after a shorter one ran, if a short frame does not
/// come back `TC_ACT_OK` unchanged, or if the 34-byte frame is not redirected.
pub fn short_ipv4() -> Result<Verdict, String> {
    let prog = program::load_variant(&Variant::to(1))?;
    let frame = program::udp_frame(DEST_ADDR.octets(), b"");
    const WHOLE: usize = 34;
    let mut first_run = None;
    for len in 14..=WHOLE {
        let data = &frame[..len];
        match run(&prog, data) {
            Err(e) if e.errno() == Some(libc::EINVAL) => {
                if let Some(first) = first_run {
                    return Ok(Verdict::Fail(format!(
                        "{first}-byte IPv4 frame ran but {len} bytes were refused: {e}"
                    )));
                }
            }
            Err(e) => {
                return Ok(Verdict::Fail(format!(
                    "{len}-byte IPv4 frame: unexpected error {e}"
                )))
            }
            Ok(r) if len < WHOLE && (r.retval != TC_ACT_OK as u32 || r.data_out != data) => {
                return Ok(Verdict::Fail(format!(
                    "{len}-byte IPv4 frame returned {}, expected 0 unchanged (bounds check)",
                    r.retval
                )))
            }
            Ok(r) if len == WHOLE && r.retval != TC_ACT_REDIRECT as u32 => {
                return Ok(Verdict::Fail(format!(
                    "34-byte IPv4 frame to 10.0.2.11 returned {}, expected 7",
                    r.retval
                )))
            }
            Ok(_) => {
                first_run.get_or_insert(len);
            }
        }
    }
    match first_run {
        Some(WHOLE) => Ok(Verdict::pass_with(
            "IPv4 frames of 14-33 bytes refused with EINVAL; 34 bytes (a whole IPv4 header) runs",
        )),
        Some(n) => Ok(Verdict::pass_with(format!(
            "IPv4 frames run from {n} bytes (shorter: EINVAL); under 34 the bounds check passes them"
        ))),
        None => Ok(Verdict::Fail(
            "even a 34-byte IPv4 frame was refused with EINVAL".into(),
        )),
    }
}
