//! Benchmark 7: the path tracer (`redirect-lab path`, `loader::lab::path`).
//!
//! - Attach time on this host: the tp_btf base layer, per program (load +
//!   `BPF_RAW_TRACEPOINT_OPEN`), against a plain `BPF_PROG_LOAD` of `r0 = 0;
//!   exit` measured in the same run; and with fentry on every function the
//!   vmlinux BTF scan finds taking a `struct sk_buff *` (`--all`; where the
//!   kernel refuses fentry, as this host does with EPERM, the layer stops at
//!   the first refusal and the row says so).
//! - Attach time of fentry on every skb function (about 1,500) on guest
//!   kernels: this host refuses fentry, so the measurement runs inside QEMU
//!   guests ([`LONG_GUESTS`]: 6.12 and 7.2), one per kernel, booted here
//!   outside the matrix with a limit of their own, running the
//!   `path-attach-all` behaviour alone with no time budget
//!   (`behaviour-suite path-attach-all --attach-budget none`, passed after
//!   `--` on the kernel command line). The matrix runs the same behaviour
//!   with a 2 s budget, to stay fast. The guest prints a `LABBENCH` line
//!   (kept in `target/kernels/SERIES/console-attach-all.log`): functions,
//!   tried, attached, refusals by errno, attach and detach seconds, and a
//!   plain `BPF_PROG_LOAD` reference timed in that guest; the rows here are
//!   per program, against that reference.
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

/// The guest kernels benchmark 7 boots for the unbudgeted attach: the two
/// newest series. Each such guest attaches and detaches ~1,700 trampolines
/// under TCG, three to five minutes on this 2-core machine (the matrix's
/// 2 s figures: 40-80 ms per attach, 30-140 ms per detach); 5.10 and 6.1 would
/// double the benchmark's wall time, and the matrix's budgeted rows
/// already cover them.
pub const LONG_GUESTS: [&str; 2] = ["6.12", "7.2"];

/// Limit on one long guest, boot to power-off: generous, since the run is
/// minutes long; the suite's per-behaviour limit is set just below it.
const LONG_GUEST_TIMEOUT: Duration = Duration::from_secs(1200);

/// Where `make kernels` (and `make bench`) build the static `lab-init` and
/// `behaviour-suite` the guests run.
fn static_bins(cfg: &Config) -> std::path::PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| cfg.root.join("target"));
    target.join("static/x86_64-unknown-linux-gnu/release")
}

/// One long guest's console, kernel release and seconds from QEMU's start
/// to power-off; or why it gave none.
pub(super) type GuestRun = Result<(String, String, f64), String>;

/// Boots one guest of `series` outside the matrix, with `args` for the
/// suite on its command line (after `--`) and `timeout` from start to
/// power-off; its initramfs and console are kept under
/// `target/kernels/SERIES/` as `initramfs-TAG.cpio` and `console-TAG.log`.
/// Returns the console, the kernel release and how long it ran (or why not).
pub(super) fn boot_guest(
    cfg: &Config,
    series: &str,
    tag: &str,
    args: &[&str],
    timeout: Duration,
) -> GuestRun {
    let cache = cfg.root.join("target/kernels");
    let k = crate::kernels::prepare(series, &cache).map_err(|e| format!("kernel: {e}"))?;
    let bins = static_bins(cfg);
    let image = crate::vm::build_initramfs(
        &bins.join("lab-init"),
        &bins.join("behaviour-suite"),
        &k.modules,
    )
    .map_err(|e| format!("initramfs: {e} (make bench builds the static binaries)"))?;
    // Its own file: the matrix may be packing initramfs.cpio meanwhile.
    let initrd = cache.join(series).join(format!("initramfs-{tag}.cpio"));
    std::fs::write(&initrd, image).map_err(|e| format!("{}: {e}", initrd.display()))?;
    let boot = crate::vm::boot_with_args(&k.vmlinuz, &initrd, timeout, args)
        .map_err(|e| format!("qemu: {e}"))?;
    let log = cache.join(series).join(format!("console-{tag}.log"));
    let _ = std::fs::write(&log, &boot.output);
    if boot.timed_out {
        return Err(format!(
            "guest killed after {} s; console in {}",
            timeout.as_secs(),
            log.display()
        ));
    }
    Ok((boot.output, k.release, boot.elapsed.as_secs_f64()))
}

/// Boots one guest of `series` that runs path-attach-all alone with no
/// budget; returns its console and how long it ran (or why not).
fn long_guest(cfg: &Config, series: &str) -> GuestRun {
    let suite_limit = (LONG_GUEST_TIMEOUT.as_secs() - 60).to_string();
    boot_guest(
        cfg,
        series,
        "attach-all",
        &[
            "path-attach-all",
            "--attach-budget",
            "none",
            "--timeout",
            &suite_limit,
        ],
        LONG_GUEST_TIMEOUT,
    )
}

/// The long guests' rows: each guest boots on its own (all at once), outside
/// the matrix, and tries fentry on every skb function its BTF lists.
fn long_guest_rows(cfg: &Config) -> Vec<Row> {
    let runs: Vec<(&str, GuestRun)> = std::thread::scope(|s| {
        let handles: Vec<_> = LONG_GUESTS
            .iter()
            .map(|series| (*series, s.spawn(move || long_guest(cfg, series))))
            .collect();
        handles
            .into_iter()
            .map(|(series, h)| {
                let r = h
                    .join()
                    .unwrap_or_else(|_| Err("the guest's thread panicked".into()));
                (series, r)
            })
            .collect()
    });
    let mut rows = Vec::new();
    for (series, run) in runs {
        let case = format!("fentry attach per program, guest {series}, no budget");
        let (console, release, wall) = match run {
            Ok(r) => r,
            Err(e) => {
                rows.push(Row::missing(BENCH, case, "ms", e));
                continue;
            }
        };
        let Some(kv) = console.lines().find_map(parse_labbench) else {
            let why = console
                .lines()
                .find(|l| l.contains("LABTEST path-attach-all") || l.contains("LABINIT suite"))
                .map(|l| l.trim().to_string())
                .unwrap_or_else(|| "no path-attach-all result on the console".into());
            rows.push(Row::missing(BENCH, case, "ms", why));
            continue;
        };
        rows.extend(labbench_rows(&kv, series, &release, wall));
    }
    rows
}

/// Rows from one guest's `LABBENCH` line: attach and detach per program
/// against the plain load, and the reference itself.
fn labbench_rows(
    kv: &std::collections::HashMap<String, f64>,
    series: &str,
    release: &str,
    wall_s: f64,
) -> Vec<Row> {
    let attached = kv["attached"];
    let tried = kv.get("tried").copied().unwrap_or(kv["functions"]);
    let mut refused: Vec<String> = kv
        .iter()
        .filter_map(|(k, v)| Some(format!("{} {v:.0}", k.strip_prefix("refused_")?)))
        .collect();
    refused.sort();
    let refused = if refused.is_empty() {
        "none".to_string()
    } else {
        refused.join(", ")
    };
    let budget = match kv.get("budget_s") {
        Some(b) if *b >= 0.0 => format!("{b} s budget"),
        Some(_) => "no budget".into(),
        None => "budget not reported".into(),
    };
    let per = |s: f64| 1000.0 * s / attached.max(1.0);
    let reference = Row::from_samples(
        BENCH,
        format!("BPF_PROG_LOAD of r0 = 0; exit, guest {series} (same boot)"),
        "ms",
        &[1000.0 * kv["ref_load_s"]],
    );
    let attach = Row::from_samples(
        BENCH,
        format!(
            "fentry attach per program, guest {series} ({release}), {budget}: {attached:.0} \
             attached of {tried:.0} tried of {:.0} skb functions (refused: {refused}), \
             {:.1} s in all; guest ran {wall_s:.0} s",
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
    vec![attach, detach, reference]
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
    rows.extend(per_packet(cfg, &btf));
    // The long guests take minutes, so never in the smoke test; and they
    // come last, so their QEMU processes load none of the host's figures.
    if !cfg.smoke {
        rows.extend(long_guest_rows(cfg));
    }
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

    #[test]
    fn a_guests_line_becomes_attach_detach_and_reference_rows() {
        let kv = parse_labbench(
            "LABBENCH path-attach-all functions=1790 tried=1790 attached=1700 \
             attach_s=170.0 detach_s=85.0 ref_load_s=0.001 budget_s=-1 refused_EBUSY=80 \
             refused_ENOENT=10",
        )
        .unwrap();
        let rows = labbench_rows(&kv, "7.2", "7.2.0-test", 300.0);
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].value(), Some(100.0));
        assert_eq!(rows[1].value(), Some(50.0));
        assert_eq!(rows[2].value(), Some(1.0));
        assert!(rows[0].case.contains("no budget"), "{}", rows[0].case);
        assert!(
            rows[0].case.contains("refused: EBUSY 80, ENOENT 10"),
            "{}",
            rows[0].case
        );
    }
}
