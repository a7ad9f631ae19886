//! Benchmark 7: the path tracer (`redirect-lab path`, `loader::lab::path`).
//!
//! - Attach time: the tp_btf base layer alone, and with fentry on every
//!   function the vmlinux BTF scan finds taking a `struct sk_buff *`
//!   (`--all`; where the kernel refuses fentry, as this host does with
//!   EPERM, the layer stops at the first refusal and the row says so).
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

fn attach_ms(
    btf: &ebpf_asm::btf::vmlinux::Vmlinux,
    all: &[String],
) -> Result<(f64, String), String> {
    let t = Instant::now();
    let tracer = Tracer::attach(btf, all).map_err(|e| e.to_string())?;
    let ms = t.elapsed().as_secs_f64() * 1000.0;
    let fentry = tracer.hooks.iter().filter(|h| h.function).count();
    let note = match &tracer.function_layer_refused {
        Some(_) => format!("{fentry} fentry, refused (EPERM)"),
        None => format!("{fentry} fentry, {} skipped", tracer.skipped.len()),
    };
    drop(tracer);
    Ok((ms, note))
}

pub fn run(cfg: &Config) -> Vec<Row> {
    let btf = match loader::tracing::vmlinux() {
        Ok(b) => b,
        Err(e) => return vec![Row::missing(BENCH, "attach", "ms", e.to_string())],
    };
    let mut all: Vec<String> = btf.skb_functions().into_iter().map(|f| f.name).collect();
    if cfg.smoke {
        all.truncate(20);
    }
    let reps = cfg.reps.max(1);
    let mut notes = vec![String::new(); 2];
    let runs = interleave(reps, 2, |_, case| {
        let fns: &[String] = if case == 0 { &[] } else { &all };
        let (ms, note) = attach_ms(&btf, fns)?;
        notes[case] = note;
        Ok::<f64, String>(ms)
    });
    let mut it = runs.into_iter();
    let mut row = |name: String| match it.next() {
        Some(Ok(v)) => Row::from_samples(BENCH, name, "ms", &v),
        Some(Err(e)) => Row::missing(BENCH, name, "ms", e),
        None => Row::missing(BENCH, name, "ms", "not run"),
    };
    let base = row("attach: tp_btf base layer (7 programs)".into());
    let with_all = row(format!(
        "attach: base + fentry on {} skb functions ({})",
        all.len(),
        notes[1]
    ));
    let mut rows = vec![with_all.versus("base layer", &base, Better::Lower), base];
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
