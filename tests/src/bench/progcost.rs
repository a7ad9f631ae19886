//! Benchmark 2: what one run of the program costs in the kernel, ours
//! (`bpf-src/redirect.s` through our assembler) against clang -O2's build
//! of the C reference `bpf-src/redirect.bpf.c`.
//!
//! Both are loaded as `BPF_PROG_TYPE_SCHED_CLS` and run with
//! `BPF_PROG_TEST_RUN` (include/uapi/linux/bpf.h) with `repeat` 1,000,000 on
//! the same packet: an IPv4 frame to 10.0.2.11, which takes the whole path
//! (bounds check, two compares, MAC rewrite, `bpf_redirect`). The kernel
//! times the loop itself and reports the mean per run, so process and
//! syscall overhead are outside the figure. Before timing, both must return
//! `TC_ACT_REDIRECT` (7) with the same output packet.
//!
//! Beside the time: instructions as loaded, and `BPF_OBJ_GET_INFO_BY_FD`'s
//! xlated (after the verifier's rewrites) and jited (x86 code) sizes.

use super::stats::{interleave, Better};
use super::table::{Figure, Row};
use super::traffic::find_tool;
use super::{elf, ours, Config};
use loader::{ProgType, Program, TestRun};
use std::process::Command;

const BENCH: &str = "2. program cost";

/// What bpf_redirect returns (loader::retval writes the header's value once).
const TC_ACT_REDIRECT: u32 = loader::retval::TC_ACT_REDIRECT as u32;

/// A 64-byte Ethernet + IPv4 + UDP frame from 10.0.1.10 to 10.0.2.11.
pub fn test_packet() -> Vec<u8> {
    let mut p = vec![0u8; 64];
    p[0..6].copy_from_slice(&[0x02, 0x11, 0x22, 0x33, 0x44, 0x55]); // h_dest: veth1@2
    p[6..12].copy_from_slice(&[0x02, 0x66, 0x77, 0x88, 0x99, 0xaa]); // h_source
    p[12..14].copy_from_slice(&[0x08, 0x00]); // ETH_P_IP
    p[14] = 0x45; // version 4, IHL 5
    p[16..18].copy_from_slice(&50u16.to_be_bytes()); // total length
    p[22] = 64; // TTL
    p[23] = 17; // UDP
    p[26..30].copy_from_slice(&[10, 0, 1, 10]);
    p[30..34].copy_from_slice(&[10, 0, 2, 11]);
    p[34..36].copy_from_slice(&40000u16.to_be_bytes());
    p[36..38].copy_from_slice(&7777u16.to_be_bytes());
    p[38..40].copy_from_slice(&30u16.to_be_bytes());
    p
}

/// clang -O2's build of bpf-src/redirect.bpf.c: the bytes of its `tc`
/// section. The non-trace build calls helpers by id and uses no map, so it
/// has no relocations; if it ever has, this says so instead of loading
/// unpatched code.
fn clang_build(cfg: &Config) -> Result<Vec<u8>, String> {
    let clang = find_tool("clang").ok_or("clang not installed (apt install clang)")?;
    let multiarch = Command::new("gcc")
        .arg("-print-multiarch")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "x86_64-linux-gnu".to_string());
    let obj = cfg.workdir.join("redirect.bpf.o");
    let out = Command::new(clang)
        .args(["-O2", "-target", "bpf"])
        .arg(format!("-I/usr/include/{multiarch}"))
        .arg("-c")
        .arg(cfg.root.join("bpf-src/redirect.bpf.c"))
        .arg("-o")
        .arg(&obj)
        .output()
        .map_err(|e| format!("clang: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "clang failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let bytes = std::fs::read(&obj).map_err(|e| format!("{}: {e}", obj.display()))?;
    if elf::section(&bytes, ".reltc").is_some() {
        return Err(
            "clang's object has relocations in tc (.reltc); this benchmark loads raw code".into(),
        );
    }
    elf::section(&bytes, "tc")
        .map(<[u8]>::to_vec)
        .ok_or_else(|| "clang's object has no tc section".into())
}

fn load(insns: &[u8], name: &str) -> Result<Program, String> {
    Program::load(ProgType::SchedCls, insns, "GPL", name)
        .map_err(|e| format!("loading {name}: {e}"))
}

pub fn run(cfg: &Config) -> Vec<Row> {
    let repeat: u32 = if cfg.smoke { 1_000 } else { 1_000_000 };
    let reps = if cfg.smoke { 1 } else { cfg.reps.max(11) };
    let names = ["our redirect.s", "clang -O2 redirect.bpf.c"];
    let case = |who: &str, what: &str| format!("{what}, {who}");
    let src = cfg.root.join("bpf-src/redirect.s");

    // Each side on its own: a missing clang leaves our figures measured
    // and says why clang's are missing.
    let insns: [Result<Vec<u8>, String>; 2] = [
        ours::assemble_file(&src, &[])
            .map_err(|e| format!("our assembler on {}: {e}", src.display())),
        clang_build(cfg),
    ];
    let progs: Vec<Result<Program, String>> = insns
        .iter()
        .zip(["redirect_ours", "redirect_clang"])
        .map(|(i, name)| i.clone().and_then(|b| load(&b, name)))
        .collect();
    let packet = test_packet();
    let run_once = |prog: &Program, repeat: u32| {
        prog.test_run(&TestRun {
            data_in: &packet,
            repeat,
            ..Default::default()
        })
        .map_err(|e| format!("BPF_PROG_TEST_RUN: {e}"))
    };
    // Each must redirect, and both must leave the same packet, or the
    // comparison means nothing.
    let mut verdicts: Vec<Result<Vec<u8>, String>> = progs
        .iter()
        .map(|p| {
            let r = run_once(p.as_ref().map_err(Clone::clone)?, 1)?;
            if r.retval != TC_ACT_REDIRECT {
                return Err(format!(
                    "returned {} on an IPv4 frame to 10.0.2.11, not TC_ACT_REDIRECT ({TC_ACT_REDIRECT})",
                    r.retval
                ));
            }
            Ok(r.data_out)
        })
        .collect();
    if let (Ok(a), Ok(b)) = (&verdicts[0], &verdicts[1]) {
        if a != b {
            let why = "the two programs leave different packets".to_string();
            verdicts = vec![Err(why.clone()), Err(why)];
        }
    }
    let times = interleave(reps, 2, |_, i| {
        verdicts[i].as_ref().map_err(Clone::clone)?;
        let prog = progs[i].as_ref().map_err(Clone::clone)?;
        run_once(prog, repeat).map(|r| f64::from(r.duration_ns))
    });
    let time_rows: Vec<Row> = times
        .into_iter()
        .zip(names)
        .map(|(t, who)| {
            let c = case(who, &format!("ns per run (repeat {repeat})"));
            match t {
                Ok(v) => Row::from_samples(BENCH, c, "ns", &v),
                Err(e) => Row::missing(BENCH, c, "ns", e),
            }
        })
        .collect();
    let sizes = |i: usize| -> [(&'static str, &'static str, Result<f64, String>); 3] {
        let info = progs[i]
            .as_ref()
            .map_err(Clone::clone)
            .and_then(|p| p.info().map_err(|e| format!("prog info: {e}")));
        [
            (
                "instructions loaded",
                "insns",
                insns[i].clone().map(|b| (b.len() / 8) as f64),
            ),
            (
                "xlated size",
                "bytes",
                info.clone().map(|x| f64::from(x.xlated_len)),
            ),
            ("jited size", "bytes", info.map(|x| f64::from(x.jited_len))),
        ]
    };
    let exact = |who: &str, what: &str, unit: &str, v: Result<f64, String>| match v {
        Ok(v) => Row::new(BENCH, case(who, what), unit, Figure::Exact(v)),
        Err(e) => Row::missing(BENCH, case(who, what), unit, e),
    };
    let mut rows = vec![
        time_rows[0]
            .clone()
            .versus("clang -O2", &time_rows[1], Better::Lower),
        time_rows[1].clone(),
    ];
    for ((what, unit, ours_v), (_, _, clang_v)) in sizes(0).into_iter().zip(sizes(1)) {
        let c = exact(names[1], what, unit, clang_v);
        rows.push(exact(names[0], what, unit, ours_v).versus("clang -O2", &c, Better::Lower));
        rows.push(c);
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_packet_is_ipv4_to_the_lab_listener() {
        let p = test_packet();
        assert_eq!(p.len(), 64);
        assert_eq!(&p[12..14], &[0x08, 0x00]);
        assert_eq!(&p[30..34], &[10, 0, 2, 11]);
    }
}
