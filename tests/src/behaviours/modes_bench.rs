//! `modes-bench`: benchmark 6's measurement (`make bench`,
//! `bench::forwarding::run_modes`) run inside a guest kernel, for the
//! techniques the host cannot run (netkit: drivers/net/netkit.c, Linux 6.7+,
//! absent from the host's 6.18 build).
//!
//! One call brings up an isolated lab per case of [`CASES`] (netns_1
//! forwarding with no program, `--mode egress`, `--mode peer`, `--mode
//! netkit`), settles ARP in each, and measures them interleaved (A B C D A B
//! C D ...) with the host benchmark's own generators
//! ([`crate::bench::traffic`]): UDP floods of 64 B and 1400 B (delivered
//! datagrams per second, CPU per delivered datagram, loss), netns_1's `Ip:
//! ForwDatagrams` per delivered datagram, a TCP stream (Mbit/s, CPU per
//! MiB) and a UDP ping-pong (p50, p99), after one unrecorded round that
//! lets TCG translate each path's code. Every run is bounded in count and
//! time, so that the whole measurement stays near a minute under QEMU TCG.
//!
//! Each case ends as one line on stdout, for the host to parse
//! (`bench::modes_guest::parse_labbench`):
//!
//! ```text
//! LABBENCH modes-bench case=peer udp64_pps=a,b,c ... rtt_p99_us=a,b,c [why=TEXT]
//! ```
//!
//! The values are the per-run samples, comma-separated; a metric whose runs
//! failed is left out and its error goes into `why=`, which runs to the end
//! of the line. A case whose lab did not come up has only `why=`. The
//! behaviour is not in the matrix ([`super::ON_REQUEST`]): it runs only when
//! named, in `make bench`'s own guests; its verdict asserts that every lab
//! that came up delivered, never a speed.

use std::net::Ipv4Addr;
use std::time::Duration;

use loader::lab::{mode, UpOptions, NETNS_RUN_DIR};

use crate::bench::stats::{interleave, percentile};
use crate::bench::traffic::{self, Limits, Path2};
use crate::report::Verdict;
use crate::topology::{LabGuard, Side};

/// The cases: a stable key (the `case=` of the LABBENCH line) and the `up
/// --mode` technique; `None` is `up --no-program` (netns_1 forwards), the
/// reference every ratio is taken against.
pub const CASES: [(&str, Option<&str>); 4] = [
    ("forwarding", None),
    ("egress", Some("egress")),
    ("peer", Some("peer")),
    ("netkit", Some("netkit")),
];

/// Interleaved runs of each metric per case, as many as benchmark 6 has on
/// the host: every run is bounded in time (below), so a round of the four
/// cases costs about three seconds under TCG and the whole measurement about
/// a minute. The noise of a shared host reaches an emulated guest doubled
/// (its clock is the host's), so the median needs the runs.
const REPS: usize = 9;

/// Ports of the warm-up round ([`translate_first`]), apart from the measured ones.
const WARM_UP_PORT: u16 = 15_000;

/// One UDP flood: a tenth of the host's packet bound (TCG delivers a few
/// ten thousand datagrams a second), the same 300 ms.
const UDP: Limits = Limits {
    max_packets: 200_000,
    max_time: Duration::from_millis(300),
};
/// One TCP stream: at most 256 MiB or 500 ms.
const TCP_BYTES: u64 = 256 << 20;
const TCP_TIME: Duration = Duration::from_millis(500);
/// One ping-pong run: at most 1,000 round trips (as on the host; about
/// 60 ms under TCG) or 1 s.
const RTT: Limits = Limits {
    max_packets: 1_000,
    max_time: Duration::from_secs(1),
};

/// A case's lab and the path traffic takes through it.
struct Lab {
    guard: LabGuard,
    path: Path2,
}

/// Brings a case's lab up and waits for a first reply through it.
fn lab(key: &str, technique: Option<&str>) -> Result<Lab, String> {
    let options = UpOptions {
        mode: match technique {
            Some(name) => mode::find(name)?,
            None => mode::default_mode(),
        },
        no_program: technique.is_none(),
        ..UpOptions::default()
    };
    let guard = LabGuard::try_up(&format!("mb{key}"), &options)?;
    let run = std::path::Path::new(NETNS_RUN_DIR);
    let names = guard.names();
    let path = Path2 {
        client_ns: run.join(
            names
                .netns(Side::Host)
                .ok_or("an isolated lab has a host side")?,
        ),
        server_ns: run.join(names.netns(Side::Netns2).ok_or("a lab has netns_2")?),
        server_ip: Ipv4Addr::new(10, 0, 2, 11),
    };
    // Proxy ARP answers after up to 0.8 s; give TCG several seconds.
    traffic::warm_up(&path, 9000, 25).map_err(|e| format!("no reply through the lab: {e}"))?;
    Ok(Lab { guard, path })
}

/// One line of text: an error of `up` spans lines (what `up` printed).
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The samples of one metric, as the LABBENCH line carries them.
fn samples(v: &[f64]) -> String {
    v.iter()
        .map(|x| format!("{x:.3}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// What one case measured: `key=samples` pairs, and the errors.
#[derive(Default)]
struct Measured {
    kv: Vec<(String, String)>,
    why: Vec<String>,
}

impl Measured {
    fn put(&mut self, key: &str, r: Result<Vec<f64>, String>) {
        match r {
            Ok(v) if !v.is_empty() => self.kv.push((key.to_string(), samples(&v))),
            Ok(_) => self.why.push(format!("{key}: no run")),
            Err(e) => self.why.push(format!("{key}: {}", one_line(&e))),
        }
    }

    fn line(&self, case: &str) -> String {
        let mut l = format!("LABBENCH modes-bench case={case}");
        for (k, v) in &self.kv {
            l.push_str(&format!(" {k}={v}"));
        }
        if !self.why.is_empty() {
            l.push_str(&format!(" why={}", self.why.join("; ")));
        }
        l
    }
}

/// One round of every generator through every lab that came up, its
/// results thrown away, before anything is counted: TCG translates guest
/// code the first time it runs, so the first flood through each path pays
/// for translating it, which is no property of the path. A generator that
/// fails here fails again in the measurement, which reports it.
fn translate_first(labs: &[Result<Lab, String>]) {
    for l in labs.iter().flatten() {
        let p = &l.path;
        let short = Limits {
            max_packets: UDP.max_packets,
            max_time: Duration::from_millis(100),
        };
        let _ = traffic::udp_flood(p, WARM_UP_PORT, 64, short);
        let _ = traffic::udp_flood(p, WARM_UP_PORT + 1, 1400, short);
        let _ = traffic::tcp_stream(p, WARM_UP_PORT + 2, TCP_BYTES, Duration::from_millis(100));
        let _ = traffic::udp_ping_pong(p, WARM_UP_PORT + 3, short);
    }
}

/// The measurement; prints one LABBENCH line per case of [`CASES`].
pub fn run() -> Result<Verdict, String> {
    let labs: Vec<Result<Lab, String>> = CASES.iter().map(|(k, t)| lab(k, *t)).collect();
    let n = labs.len();
    let path = |m: usize| -> Result<&Path2, String> {
        labs[m].as_ref().map(|l| &l.path).map_err(Clone::clone)
    };
    let forwarded = |m: usize| -> Result<u64, String> {
        let l = labs[m].as_ref().map_err(Clone::clone)?;
        l.guard
            .lab
            .ip_counter(Side::Netns1, "ForwDatagrams")
            .map_err(|e| e.to_string())
    };
    translate_first(&labs);
    let mut out: Vec<Measured> = (0..n).map(|_| Measured::default()).collect();
    let before: Vec<Result<u64, String>> = (0..n).map(forwarded).collect();
    let mut delivered = vec![0u64; n];

    for (payload, base) in [(64usize, 10_000u16), (1400, 11_000)] {
        let runs = interleave(REPS, n, |rep, m| {
            traffic::udp_flood(path(m)?, base + rep as u16, payload, UDP).map_err(|e| e.to_string())
        });
        for (m, r) in runs.iter().enumerate() {
            delivered[m] += r.as_ref().map_or(0, |v| v.iter().map(|f| f.received).sum());
            let metric = |f: fn(&traffic::UdpFlood) -> f64| {
                r.clone().map(|v| v.iter().map(f).collect::<Vec<f64>>())
            };
            out[m].put(
                &format!("udp{payload}_pps"),
                metric(traffic::UdpFlood::delivered_pps),
            );
            out[m].put(
                &format!("udp{payload}_cpu_ns"),
                metric(traffic::UdpFlood::cpu_ns_per_packet),
            );
            out[m].put(
                &format!("udp{payload}_loss_pct"),
                metric(|f| f.loss() * 100.0),
            );
        }
    }
    for m in 0..n {
        let per = before[m].clone().and_then(|b| {
            let a = forwarded(m)?;
            if delivered[m] == 0 {
                return Err("no datagram was delivered".into());
            }
            Ok(vec![a.saturating_sub(b) as f64 / delivered[m] as f64])
        });
        if labs[m].is_ok() {
            out[m].put("fwd_per_pkt", per);
        }
    }

    let tcp = interleave(REPS, n, |rep, m| {
        traffic::tcp_stream(path(m)?, 12_000 + rep as u16, TCP_BYTES, TCP_TIME)
            .map_err(|e| e.to_string())
    });
    for (m, r) in tcp.iter().enumerate() {
        let metric = |f: fn(&traffic::TcpStreamResult) -> f64| {
            r.clone().map(|v| v.iter().map(f).collect::<Vec<f64>>())
        };
        out[m].put("tcp_mbit", metric(traffic::TcpStreamResult::mbit_per_s));
        out[m].put(
            "tcp_cpu_us_mib",
            metric(traffic::TcpStreamResult::cpu_us_per_mib),
        );
    }

    let rtt = interleave(REPS, n, |rep, m| {
        traffic::udp_ping_pong(path(m)?, 14_000 + rep as u16, RTT).map_err(|e| e.to_string())
    });
    for (m, r) in rtt.iter().enumerate() {
        for (key, p) in [("rtt_p50_us", 50.0), ("rtt_p99_us", 99.0)] {
            let v = r.clone().and_then(|runs| {
                runs.iter()
                    .map(|s| percentile(s, p).ok_or_else(|| "no RTT sample".to_string()))
                    .collect()
            });
            out[m].put(key, v);
        }
    }

    // A lab that never came up has its reason only, once.
    let mut lines = Vec::new();
    for (m, (key, _)) in CASES.iter().enumerate() {
        let mut o = std::mem::take(&mut out[m]);
        if let Err(e) = &labs[m] {
            o = Measured {
                kv: Vec::new(),
                why: vec![one_line(e)],
            };
        }
        let line = o.line(key);
        println!("{line}");
        lines.push((key, labs[m].is_ok(), o.why));
    }
    drop(labs);

    // The verdict asserts delivery, never a speed: the reference must
    // measure, and every lab that came up must have delivered in every run.
    let failed: Vec<String> = lines
        .iter()
        .filter(|(key, up, why)| (*up || **key == "forwarding") && !why.is_empty())
        .map(|(key, _, why)| format!("{key}: {}", why.join("; ")))
        .collect();
    if !failed.is_empty() {
        return Ok(Verdict::Fail(failed.join(" | ")));
    }
    let absent: Vec<String> = lines
        .iter()
        .filter(|(_, up, _)| !up)
        .map(|(key, _, why)| format!("{key} did not come up: {}", why.join("; ")))
        .collect();
    Ok(Verdict::pass_with(if absent.is_empty() {
        format!("{n} labs measured, {REPS} interleaved runs per metric")
    } else {
        format!("{n} labs, {}", absent.join("; "))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_case_line_has_samples_and_its_errors_last() {
        let mut m = Measured::default();
        m.put("udp64_pps", Ok(vec![1000.0, 1500.25]));
        m.put("tcp_mbit", Err("TCP accept:\n  timed out".into()));
        m.put("rtt_p50_us", Ok(Vec::new()));
        assert_eq!(
            m.line("peer"),
            "LABBENCH modes-bench case=peer udp64_pps=1000.000,1500.250 \
             why=tcp_mbit: TCP accept: timed out; rtt_p50_us: no run"
        );
    }

    #[test]
    fn the_reference_comes_first_and_keys_are_one_word() {
        assert_eq!(CASES[0], ("forwarding", None));
        for (key, technique) in CASES {
            assert!(key.chars().all(|c| c.is_ascii_lowercase()), "{key}");
            if let Some(t) = technique {
                assert!(mode::find(t).is_ok(), "{t} is a mode of up");
            }
        }
    }
}
