//! Benchmark 1: the seed's claim. Does `bpf_redirect` on `veth1@2`'s ingress,
//! which skips `netns_1`'s IP stack, deliver traffic faster than that stack
//! forwarding it, and what does the `bpf_printk` trace variant cost?
//!
//! Three isolated labs are brought up side by side (`redirect-lab up
//! --prefix P`: `P_host`, `P_netns_1`, `P_netns_2`; the real host namespace
//! is never used), one per mode:
//! - (a) no program: `netns_1` forwards with its IP stack (the reference);
//! - (b) the seed's program: `bpf_redirect` to `veth2@1`'s egress;
//! - (c) the same with the `bpf_trace_printk` trace variant.
//!
//! Senders run in `P_host`, receivers in `P_netns_2` at 10.0.2.11, with our
//! own generators ([`super::traffic`]); the modes are interleaved run by run.
//! Only the forward direction (host -> netns_2) meets the program; replies
//! (pongs, TCP ACKs) take `netns_1`'s stack in every mode.

use super::ours::{self, LabMode};
use super::stats::{interleave, percentile, Better};
use super::table::{Figure, Row};
use super::traffic::{self, Limits, Path2};
use super::{unique_name, Config};
use std::net::Ipv4Addr;
use std::time::Duration;

const BENCH: &str = "1. forwarding";
const MODES: [(&str, LabMode); 3] = [
    ("(a) netns_1 forwarding", LabMode::NoProgram),
    ("(b) bpf_redirect", LabMode::Redirect),
    ("(c) bpf_redirect + printk", LabMode::Trace),
];
const REFERENCE: &str = "(a)";

/// Benchmark 6: every `up --mode` technique against plain forwarding, in
/// the same run and on the same metrics as benchmark 1.
const MODES_BENCH: &str = "6. redirect modes";
/// netkit comes last: where the kernel has no netkit device (this host's
/// 6.18) its lab does not come up, and every one of its rows says why, in the
/// words of `up`'s probe; no number stands in for it.
const TECHNIQUES: [(&str, LabMode); 9] = [
    ("(a) netns_1 forwarding", LabMode::NoProgram),
    ("(egress) bpf_redirect", LabMode::Technique("egress")),
    ("(peer) bpf_redirect_peer", LabMode::Technique("peer")),
    ("(neigh) bpf_redirect_neigh", LabMode::Technique("neigh")),
    ("(fib) bpf_fib_lookup", LabMode::Technique("fib")),
    ("(xdp) native XDP redirect", LabMode::Technique("xdp")),
    (
        "(devmap) XDP bpf_redirect_map",
        LabMode::Technique("devmap"),
    ),
    ("(tcx) bpf_redirect on TCX", LabMode::Technique("tcx")),
    (
        "(netkit) netkit pair, peer redirect + BPF_NETKIT_PEER",
        LabMode::Technique("netkit"),
    ),
];

/// One isolated lab, removed on drop even if the benchmark fails half-way.
struct LabGuard {
    prefix: String,
}

impl LabGuard {
    fn up(mode: LabMode) -> Result<LabGuard, String> {
        let guard = LabGuard {
            prefix: unique_name("bf"),
        };
        ours::lab_up(&guard.prefix, mode)?;
        Ok(guard)
    }

    fn path(&self) -> Result<Path2, String> {
        let (host, netns_2) = ours::lab_namespaces(&self.prefix)?;
        Ok(Path2 {
            client_ns: host,
            server_ns: netns_2,
            server_ip: Ipv4Addr::new(10, 0, 2, 11),
        })
    }
}

impl Drop for LabGuard {
    fn drop(&mut self) {
        ours::lab_down(&self.prefix);
    }
}

struct Sizes {
    reps: usize,
    udp: Limits,
    tcp_bytes: u64,
    tcp_time: Duration,
    rtt: Limits,
    iperf_reps: usize,
    iperf_secs: u32,
}

fn sizes(cfg: &Config) -> Sizes {
    if cfg.smoke {
        Sizes {
            reps: 1,
            udp: Limits {
                max_packets: 300,
                max_time: Duration::from_millis(50),
            },
            tcp_bytes: 1 << 20,
            tcp_time: Duration::from_millis(50),
            rtt: Limits {
                max_packets: 20,
                max_time: Duration::from_millis(500),
            },
            iperf_reps: 1,
            iperf_secs: 1,
        }
    } else {
        Sizes {
            // Many short runs rather than a few long ones: on a shared
            // 2-core machine the median of 9 resists a burst of other work.
            reps: (cfg.reps * 2 - 1).max(1),
            udp: Limits {
                max_packets: 2_000_000,
                max_time: Duration::from_millis(300),
            },
            tcp_bytes: 8 << 30,
            tcp_time: Duration::from_millis(500),
            rtt: Limits {
                max_packets: 1_000,
                max_time: Duration::from_secs(1),
            },
            iperf_reps: 3,
            iperf_secs: 1,
        }
    }
}

/// Rows for one metric: a row per mode, each against (a).
fn rows_for(
    bench: &str,
    modes: &[(&str, LabMode)],
    case: &str,
    unit: &str,
    better: Better,
    per_mode: Vec<Result<Vec<f64>, String>>,
) -> Vec<Row> {
    let rows: Vec<Row> = per_mode
        .into_iter()
        .zip(modes)
        .map(|(r, (mode, _))| {
            let c = format!("{case}, {mode}");
            match r {
                Ok(v) => Row::from_samples(bench, c, unit, &v),
                Err(e) => Row::missing(bench, c, unit, e),
            }
        })
        .collect();
    let reference = rows[0].clone();
    rows.into_iter()
        .enumerate()
        .map(|(i, r)| {
            if i == 0 {
                r
            } else {
                r.versus(REFERENCE, &reference, better)
            }
        })
        .collect()
}

pub fn run(cfg: &Config) -> Vec<Row> {
    run_set(cfg, BENCH, &MODES)
}

/// Benchmark 6: the redirect techniques of `up --mode`.
pub fn run_modes(cfg: &Config) -> Vec<Row> {
    run_set(cfg, MODES_BENCH, &TECHNIQUES)
}

fn run_set(cfg: &Config, bench: &str, modes: &[(&str, LabMode)]) -> Vec<Row> {
    let s = sizes(cfg);
    let n = modes.len();
    let labs: Vec<Result<(LabGuard, Path2), String>> = modes
        .iter()
        .map(|(_, mode)| {
            let g = LabGuard::up(*mode)?;
            let p = g.path()?;
            traffic::warm_up(&p, 9000, 25).map_err(|e| format!("no reply through the lab: {e}"))?;
            Ok((g, p))
        })
        .collect();
    let path = |m: usize| -> Result<&Path2, String> {
        labs[m].as_ref().map(|(_, p)| p).map_err(Clone::clone)
    };

    let prefix = |m: usize| -> Result<&str, String> {
        labs[m]
            .as_ref()
            .map(|(g, _)| g.prefix.as_str())
            .map_err(Clone::clone)
    };
    let forwarded = |m: usize| -> Result<u64, String> { ours::lab_forwarded(prefix(m)?) };
    let forwarded_before: Vec<Result<u64, String>> = (0..n).map(forwarded).collect();
    let mut delivered = vec![0u64; n];

    let mut rows = Vec::new();
    for (payload, base) in [(64usize, 10_000u16), (1400, 11_000)] {
        let runs = interleave(s.reps, n, |rep, m| {
            traffic::udp_flood(path(m)?, base + rep as u16, payload, s.udp)
                .map_err(|e| e.to_string())
        });
        for (m, r) in runs.iter().enumerate() {
            delivered[m] += r.as_ref().map_or(0, |v| v.iter().map(|f| f.received).sum());
        }
        let metric = |f: fn(&traffic::UdpFlood) -> f64| -> Vec<Result<Vec<f64>, String>> {
            runs.iter()
                .map(|r| r.clone().map(|v| v.iter().map(f).collect()))
                .collect()
        };
        rows.extend(rows_for(
            bench,
            modes,
            &format!("UDP {payload} B delivered to netns_2"),
            "pkt/s",
            Better::Higher,
            metric(traffic::UdpFlood::delivered_pps),
        ));
        rows.extend(rows_for(
            bench,
            modes,
            &format!("UDP {payload} B, CPU per delivered packet"),
            "ns",
            Better::Lower,
            metric(traffic::UdpFlood::cpu_ns_per_packet),
        ));
        rows.extend(rows_for(
            bench,
            modes,
            &format!("UDP {payload} B loss"),
            "%",
            Better::Lower,
            metric(|f| f.loss() * 100.0),
        ));
    }

    // The proof that the redirect skips netns_1's stack: its IP
    // ForwDatagrams counter (/proc/net/snmp) per datagram delivered in the
    // floods above. About 1 with kernel forwarding, about 0 with the redirect.
    for m in 0..n {
        let case = format!(
            "netns_1 Ip ForwDatagrams per UDP datagram delivered, {}",
            modes[m].0
        );
        let value = forwarded_before[m].clone().and_then(|before| {
            let after = forwarded(m)?;
            if delivered[m] == 0 {
                return Err("no datagram was delivered".to_string());
            }
            Ok(after.saturating_sub(before) as f64 / delivered[m] as f64)
        });
        rows.push(match value {
            Ok(v) => Row::new(bench, case, "ratio", Figure::Exact(v)).alone(),
            Err(e) => Row::missing(bench, case, "ratio", e).alone(),
        });
    }

    let tcp = interleave(s.reps, n, |rep, m| {
        traffic::tcp_stream(path(m)?, 12_000 + rep as u16, s.tcp_bytes, s.tcp_time)
            .map_err(|e| e.to_string())
    });
    let tcp_metric = |f: fn(&traffic::TcpStreamResult) -> f64| -> Vec<Result<Vec<f64>, String>> {
        tcp.iter()
            .map(|r| r.clone().map(|v| v.iter().map(f).collect()))
            .collect()
    };
    rows.extend(rows_for(
        bench,
        modes,
        "TCP host -> netns_2 (own sender)",
        "Mbit/s",
        Better::Higher,
        tcp_metric(traffic::TcpStreamResult::mbit_per_s),
    ));
    rows.extend(rows_for(
        bench,
        modes,
        "TCP (own sender), CPU per MiB delivered",
        "us",
        Better::Lower,
        tcp_metric(traffic::TcpStreamResult::cpu_us_per_mib),
    ));

    if traffic::iperf3_path().is_some() {
        let iperf = interleave(s.iperf_reps, n, |rep, m| {
            traffic::iperf3_tcp(path(m)?, 13_000 + rep as u16, s.iperf_secs)
                .map_err(|e| e.to_string())
        });
        rows.extend(rows_for(
            bench,
            modes,
            "TCP host -> netns_2 (iperf3)",
            "Mbit/s",
            Better::Higher,
            iperf,
        ));
    } else {
        for (mode, _) in modes {
            rows.push(Row::missing(
                bench,
                format!("TCP host -> netns_2 (iperf3), {mode}"),
                "Mbit/s",
                "iperf3 not installed (apt install iperf3)",
            ));
        }
    }

    let rtt = interleave(s.reps, n, |rep, m| {
        traffic::udp_ping_pong(path(m)?, 14_000 + rep as u16, s.rtt).map_err(|e| e.to_string())
    });
    let pct = |p: f64| -> Vec<Result<Vec<f64>, String>> {
        rtt.iter()
            .map(|r| {
                r.clone().and_then(|runs| {
                    runs.iter()
                        .map(|samples| {
                            percentile(samples, p).ok_or_else(|| "no RTT sample".to_string())
                        })
                        .collect()
                })
            })
            .collect()
    };
    rows.extend(rows_for(
        bench,
        modes,
        "UDP ping-pong RTT p50",
        "us",
        Better::Lower,
        pct(50.0),
    ));
    rows.extend(rows_for(
        bench,
        modes,
        "UDP ping-pong RTT p99",
        "us",
        Better::Lower,
        pct(99.0),
    ));
    drop(labs);
    rows
}
