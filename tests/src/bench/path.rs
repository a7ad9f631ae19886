//! Benchmark 7: the path tracer (`redirect-lab path`, `loader::lab::path`).
//!
//! - Attach time on this host: the tp_btf base layer, per program (load +
//!   `BPF_RAW_TRACEPOINT_OPEN`), against a plain `BPF_PROG_LOAD` of `r0 = 0;
//!   exit` measured in the same run; and with fentry on every function the
//!   vmlinux BTF scan finds taking a `struct sk_buff *` (`--all`; where the
//!   kernel refuses fentry, as this host does with EPERM, the layer stops at
//!   the first refusal and the row says so).
//! - Attach time of fentry on every skb function (about 1,500) on the
//!   matrix's guest kernels: this host refuses fentry, so the measurement
//!   runs inside each QEMU guest, as the `path-attach-all` behaviour of
//!   `make kernels` (benchmark 5 runs it just before this one). It prints a
//!   `LABBENCH` line on the guest's console (`target/kernels/SERIES/
//!   console.log`): attach and detach seconds, programs attached, and the
//!   same plain `BPF_PROG_LOAD` reference timed in that guest; the rows here
//!   are per program, against that reference.
//! - Cost per packet: the time one `send()` of a 64-byte datagram through
//!   an isolated egress lab takes, traced (base layer attached) against
//!   untraced, interleaved. veth delivers within the sender's softirq, so
//!   the whole path (and every tracer run on it) is inside that time.

use std::time::{Duration, Instant};

use super::stats::{interleave, Better};
use super::table::Row;
use super::Config;
use crate::topology::LabGuard;
use loader::lab::path::Tracer;
use loader::lab::UpOptions;

const BENCH: &str = "7. path tracer";

/// (milliseconds, programs attached, note).
fn attach_ms(
    btf: &ebpf_asm::btf::vmlinux::Vmlinux,
    all: &[String],
) -> Result<(f64, usize, String), String> {
    let t = Instant::now();
    let tracer = Tracer::attach(btf, all).map_err(|e| e.to_string())?;
    let ms = t.elapsed().as_secs_f64() * 1000.0;
    let fentry = tracer.hooks.iter().filter(|h| h.function).count();
    let note = match &tracer.function_layer_refused {
        Some(_) => format!("{fentry} fentry, refused (EPERM)"),
        None => format!("{fentry} fentry, {} skipped", tracer.skipped.len()),
    };
    let n = tracer.hooks.len();
    drop(tracer);
    Ok((ms, n, note))
}

/// Milliseconds per `BPF_PROG_LOAD` of `r0 = 0; exit` (a socket filter),
/// over `n` loads: the reference for the attach rows.
fn plain_load_ms(n: usize) -> Result<f64, String> {
    // BPF_ALU64 | BPF_MOV | BPF_K r0 = 0, then BPF_JMP | BPF_EXIT
    // (include/uapi/linux/bpf.h, bpf_common.h).
    const R0_0_EXIT: [u8; 16] = [0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0];
    let opts = loader::LoadOptions::new(loader::ProgType::SocketFilter, "ref_r0_exit");
    let t = Instant::now();
    for _ in 0..n {
        loader::Program::load_with(&R0_0_EXIT, &opts).map_err(|e| e.to_string())?;
    }
    Ok(t.elapsed().as_secs_f64() * 1000.0 / n as f64)
}

/// One guest's `LABBENCH path-attach-all` line: key=value pairs.
pub fn parse_labbench(line: &str) -> Option<std::collections::HashMap<String, f64>> {
    let rest = line
        .trim_end_matches('\r')
        .split("LABBENCH path-attach-all ")
        .nth(1)?;
    let kv: std::collections::HashMap<String, f64> = rest
        .split_whitespace()
        .filter_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            Some((k.to_string(), v.parse().ok()?))
        })
        .collect();
    [
        "functions",
        "attached",
        "attach_s",
        "detach_s",
        "ref_load_s",
    ]
    .iter()
    .all(|k| kv.contains_key(*k))
    .then_some(kv)
}

/// The guests' rows, from the console logs `make kernels` left behind.
fn guest_rows(cfg: &Config) -> Vec<Row> {
    let mut rows = Vec::new();
    for series in crate::apt::default_series() {
        let log = cfg
            .root
            .join("target/kernels")
            .join(&series)
            .join("console.log");
        let case = format!("fentry attach per program, guest {series}");
        let text = match std::fs::read_to_string(&log) {
            Ok(t) => t,
            Err(e) => {
                rows.push(Row::missing(
                    BENCH,
                    case,
                    "ms",
                    format!("{}: {e} (run make kernels)", log.display()),
                ));
                continue;
            }
        };
        let age_min = std::fs::metadata(&log)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .map(|d| d.as_secs() / 60)
            .unwrap_or(0);
        let Some(kv) = text.lines().find_map(parse_labbench) else {
            let why = text
                .lines()
                .find(|l| l.contains("LABTEST path-attach-all"))
                .map(|l| l.trim().to_string())
                .unwrap_or_else(|| "no path-attach-all result in it".into());
            rows.push(Row::missing(
                BENCH,
                case,
                "ms",
                format!("{}: {why}", log.display()),
            ));
            continue;
        };
        let attached = kv["attached"];
        let tried = kv.get("tried").copied().unwrap_or(kv["functions"]);
        let per = |s: f64| 1000.0 * s / attached.max(1.0);
        let reference = Row::from_samples(
            BENCH,
            format!("BPF_PROG_LOAD of r0 = 0; exit, guest {series} (same boot)"),
            "ms",
            &[1000.0 * kv["ref_load_s"]],
        );
        let when = if age_min > 0 {
            format!(", console.log of {age_min} min ago")
        } else {
            String::new()
        };
        let attach = Row::from_samples(
            BENCH,
            format!(
                "{case}: {attached:.0} of {:.0} skb functions attached ({tried:.0} tried \
                 within the budget) in {:.1} s{when}",
                kv["functions"], kv["attach_s"]
            ),
            "ms",
            &[per(kv["attach_s"])],
        )
        .versus("plain load", &reference, Better::Lower);
        let detach = Row::from_samples(
            BENCH,
            format!(
                "fentry detach per program, guest {series}: {:.1} s for {attached:.0}",
                kv["detach_s"]
            ),
            "ms",
            &[per(kv["detach_s"])],
        )
        .versus("plain load", &reference, Better::Lower);
        rows.extend([attach, detach, reference]);
    }
    rows
}

pub fn run(cfg: &Config) -> Vec<Row> {
    let btf = match loader::tracing::vmlinux() {
        Ok(b) => b,
        Err(e) => return vec![Row::missing(BENCH, "attach", "ms", e.to_string())],
    };
    let mut all = loader::lab::path::all_functions(&btf);
    if cfg.smoke {
        all.truncate(20);
    }
    let reps = cfg.reps.max(1);
    let mut notes = vec![String::new(); 3];
    let mut base_programs = 1usize;
    // Case 0: the base layer, per program; 1: with --all; 2: the plain load.
    let runs = interleave(reps, 3, |_, case| {
        if case == 2 {
            return plain_load_ms(20);
        }
        let fns: &[String] = if case == 0 { &[] } else { &all };
        let (ms, n, note) = attach_ms(&btf, fns)?;
        notes[case] = note;
        if case == 0 {
            base_programs = n.max(1);
            return Ok::<f64, String>(ms / n.max(1) as f64);
        }
        Ok::<f64, String>(ms)
    });
    let mut it = runs.into_iter();
    let mut row = |name: String| match it.next() {
        Some(Ok(v)) => Row::from_samples(BENCH, name, "ms", &v),
        Some(Err(e)) => Row::missing(BENCH, name, "ms", e),
        None => Row::missing(BENCH, name, "ms", "not run"),
    };
    let per_base = row(format!(
        "attach per tp_btf program, host (base layer: {base_programs} programs, load + attach)"
    ));
    let with_all = row(format!(
        "attach: base + fentry on {} skb functions, host ({})",
        all.len(),
        notes[1]
    ));
    let plain = row("BPF_PROG_LOAD of r0 = 0; exit, host".into());
    let mut rows = vec![
        per_base.versus("plain load", &plain, Better::Lower),
        with_all.alone(),
        plain,
    ];
    if !cfg.smoke {
        rows.extend(guest_rows(cfg));
    }
    rows.extend(per_packet(cfg, &btf));
    rows
}

fn per_packet(cfg: &Config, btf: &ebpf_asm::btf::vmlinux::Vmlinux) -> Vec<Row> {
    const CASE_T: &str = "send() per 64 B datagram through the egress lab, traced (base layer)";
    const CASE_U: &str = "send() per 64 B datagram through the egress lab, untraced";
    let guard = match LabGuard::try_up("bpth", &UpOptions::default()) {
        Ok(g) => g,
        Err(e) => {
            return vec![
                Row::missing(BENCH, CASE_T, "us", e.clone()),
                Row::missing(BENCH, CASE_U, "us", e),
            ]
        }
    };
    // About 10 events per datagram: 350 datagrams fit the 4,096-event map,
    // so every traced send pays for stored events, never for a full map.
    let n = if cfg.smoke { 50 } else { 350 };
    let payload = [0x5au8; 64 - 42];
    let runs = interleave(cfg.reps.max(1), 2, |_, case| -> Result<f64, String> {
        let tracer = if case == 0 {
            Some(Tracer::attach(btf, &[]).map_err(|e| e.to_string())?)
        } else {
            None
        };
        let sock = guard.lab.host_udp_socket().map_err(|e| e.to_string())?;
        let t = Instant::now();
        for _ in 0..n {
            sock.send_to(&payload, loader::lab::LISTEN_ADDR)
                .map_err(|e| format!("send: {e}"))?;
        }
        let us = t.elapsed().as_secs_f64() * 1e6 / n as f64;
        // Empty the ring buffer so the next traced run starts alike.
        if let Some(mut t) = tracer {
            let _ = t.drain();
        }
        std::thread::sleep(Duration::from_millis(20));
        Ok(us)
    });
    let mut it = runs.into_iter();
    let mut row = |name: &str| match it.next() {
        Some(Ok(v)) => Row::from_samples(BENCH, name, "us", &v),
        Some(Err(e)) => Row::missing(BENCH, name, "us", e),
        None => Row::missing(BENCH, name, "us", "not run"),
    };
    let traced = row(CASE_T);
    let untraced = row(CASE_U);
    vec![
        traced.versus("untraced", &untraced, Better::Lower),
        untraced,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_guests_labbench_line() {
        let kv = parse_labbench(
            "[ 12.3] LABBENCH path-attach-all functions=1523 tried=1523 attached=1480 \
             attach_s=6.2500 detach_s=1.0000 ref_load_s=0.000420\r",
        )
        .unwrap();
        assert_eq!(kv["attached"], 1480.0);
        assert_eq!(kv["ref_load_s"], 0.00042);
        assert!(parse_labbench("LABBENCH path-attach-all functions=3").is_none());
        assert!(parse_labbench("LABTEST path-attach-all pass").is_none());
    }
}
