//! Benchmark 6 in guest kernels: the techniques this host's kernel lacks
//! (netkit, drivers/net/netkit.c, is not in the host's 6.18 build), measured
//! where they exist, in the Debian 6.12 and 7.2 kernels of the matrix
//! ([`GUESTS`]), under QEMU TCG.
//!
//! Each guest boots on its own, outside the matrix (the way benchmark 7's
//! long guests do, [`super::path`]), and runs the `modes-bench` entry of the
//! suite (`crate::behaviours::modes_bench`, named after `--` on the kernel
//! command line): netns_1 forwarding, `--mode egress`, `--mode peer` and
//! `--mode netkit` labs, measured interleaved inside that one boot with
//! benchmark 6's generators. The guest prints a `LABBENCH modes-bench` line
//! per case (kept in `target/kernels/SERIES/console-modes-bench.log`); the
//! rows here are each against forwarding measured in the same boot.
//!
//! The guests are emulated: every instruction, the kernel's included, runs
//! through TCG's translator on one virtual CPU, so a ratio here says how the
//! code paths compare under emulation, not what they cost on this host.
//! Every row says "(QEMU TCG)", and each guest's first row says so in words.

use std::collections::HashMap;
use std::time::Duration;

use super::path::boot_guest;
use super::stats::Better;
use super::table::{Figure, Row};
use super::Config;
use crate::behaviours::modes_bench::CASES;

const BENCH: &str = "6. redirect modes";

/// The guest kernels: the two series of the matrix that have netkit
/// (6.7+). They boot one after the other, so that neither guest's figures
/// carry the other's emulation load (a guest's clock is the host's).
pub const GUESTS: [&str; 2] = ["6.12", "7.2"];

/// Limit on one guest, boot to power-off. The measurement itself is bounded
/// to about a minute and a half under TCG (four lab bring-ups, 160 runs of
/// at most 1 s each); this leaves room for a slow, shared machine.
const GUEST_TIMEOUT: Duration = Duration::from_secs(600);

/// One case of a guest's `LABBENCH modes-bench` line.
#[derive(Clone, Debug, PartialEq)]
pub struct GuestCase {
    /// The case's key (`forwarding`, `egress`, `peer`, `netkit`).
    pub case: String,
    /// Each metric's samples, one per run.
    pub metrics: HashMap<String, Vec<f64>>,
    /// Why metrics are absent (or the lab did not come up), if any.
    pub why: Option<String>,
}

/// Parses one console line: `LABBENCH modes-bench case=KEY k=v,v,v ...
/// [why=TEXT]`. `None` for any other line, or one without a case. A value
/// that is not a list of finite numbers is left out, never guessed at.
pub fn parse_labbench(line: &str) -> Option<GuestCase> {
    let rest = line
        .trim_end_matches(['\r', '\n'])
        .split_once("LABBENCH modes-bench ")?
        .1;
    let (head, why) = match rest.split_once(" why=") {
        Some((h, w)) => (h, Some(w.trim().to_string())),
        None => (rest, None),
    };
    let mut tokens = head.split_whitespace();
    let case = tokens.next()?.strip_prefix("case=")?;
    if case.is_empty() || !case.chars().all(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    let metrics = tokens
        .filter_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            let samples: Option<Vec<f64>> = v
                .split(',')
                .map(|x| x.parse::<f64>().ok().filter(|x| x.is_finite()))
                .collect();
            Some((k.to_string(), samples?))
        })
        .collect();
    Some(GuestCase {
        case: case.to_string(),
        metrics,
        why,
    })
}

/// How the host's benchmark 6 names each guest case.
fn label(case: &str) -> &str {
    match case {
        "forwarding" => "(a) netns_1 forwarding",
        "egress" => "(egress) bpf_redirect",
        "peer" => "(peer) bpf_redirect_peer",
        "netkit" => "(netkit) netkit pair, peer redirect + BPF_NETKIT_PEER",
        other => other,
    }
}

/// The metrics of the LABBENCH line, in the order of benchmark 6's rows:
/// key, case text, unit, and which way is better (`None`: a count shown
/// alone, with no ratio).
const METRICS: [(&str, &str, &str, Option<Better>); 11] = [
    (
        "udp64_pps",
        "UDP 64 B delivered to netns_2",
        "pkt/s",
        Some(Better::Higher),
    ),
    (
        "udp64_cpu_ns",
        "UDP 64 B, CPU per delivered packet",
        "ns",
        Some(Better::Lower),
    ),
    ("udp64_loss_pct", "UDP 64 B loss", "%", Some(Better::Lower)),
    (
        "udp1400_pps",
        "UDP 1400 B delivered to netns_2",
        "pkt/s",
        Some(Better::Higher),
    ),
    (
        "udp1400_cpu_ns",
        "UDP 1400 B, CPU per delivered packet",
        "ns",
        Some(Better::Lower),
    ),
    (
        "udp1400_loss_pct",
        "UDP 1400 B loss",
        "%",
        Some(Better::Lower),
    ),
    (
        "fwd_per_pkt",
        "netns_1 Ip ForwDatagrams per UDP datagram delivered",
        "ratio",
        None,
    ),
    (
        "tcp_mbit",
        "TCP host -> netns_2 (own sender)",
        "Mbit/s",
        Some(Better::Higher),
    ),
    (
        "tcp_cpu_us_mib",
        "TCP (own sender), CPU per MiB delivered",
        "us",
        Some(Better::Lower),
    ),
    (
        "rtt_p50_us",
        "UDP ping-pong RTT p50",
        "us",
        Some(Better::Lower),
    ),
    (
        "rtt_p99_us",
        "UDP ping-pong RTT p99",
        "us",
        Some(Better::Lower),
    ),
];

/// The rows of one guest: a first row saying what was run and that it is
/// emulated, then per metric a row per case of [`CASES`], each against
/// forwarding from the same boot. A case the console lacks, or a metric a
/// case lacks, is a missing row with the guest's reason.
pub fn guest_rows(series: &str, release: &str, wall_s: f64, console: &str) -> Vec<Row> {
    let got: Vec<GuestCase> = console.lines().filter_map(parse_labbench).collect();
    let guest = format!("guest {series} (QEMU TCG)");
    let mut rows = vec![Row::new(
        BENCH,
        format!(
            "{guest}: Linux {release}, 1 vCPU, one boot, {} labs measured interleaved \
             (modes-bench); emulated, so each ratio compares code paths under TCG, not \
             their cost on this host; guest ran (s)",
            CASES.len()
        ),
        "s",
        Figure::Exact(wall_s),
    )
    .alone()];
    let find = |key: &str| got.iter().find(|c| c.case == key);
    for (metric, text, unit, better) in METRICS {
        let mut reference: Option<Row> = None;
        for (i, (key, _)) in CASES.iter().enumerate() {
            let case = format!("{text}, {guest}, {}", label(key));
            let row = match find(key) {
                None => Row::missing(
                    BENCH,
                    case,
                    unit,
                    "no LABBENCH modes-bench line for it on the guest's console",
                ),
                Some(c) => match c.metrics.get(metric) {
                    Some(v) if better.is_none() && v.len() == 1 => {
                        Row::new(BENCH, case, unit, Figure::Exact(v[0]))
                    }
                    Some(v) if !v.is_empty() => Row::from_samples(BENCH, case, unit, v),
                    _ => Row::missing(
                        BENCH,
                        case,
                        unit,
                        c.why
                            .clone()
                            .unwrap_or_else(|| format!("{metric} not reported")),
                    ),
                },
            };
            let row = match (better, i, &reference) {
                (None, _, _) => row.alone(),
                (Some(_), 0, _) => {
                    reference = Some(row.clone());
                    row
                }
                (Some(b), _, Some(r)) => row.versus("(a) same guest", r, b),
                (Some(_), _, None) => row.alone(),
            };
            rows.push(row);
        }
    }
    // The host's benchmark 6 also has iperf3's stream; the guest cannot.
    rows.push(
        Row::missing(
            BENCH,
            format!("TCP host -> netns_2 (iperf3), {guest}"),
            "Mbit/s",
            "iperf3 is not in the guest (its initramfs holds only the static lab-init and \
         behaviour-suite); the own-sender TCP rows stand for it",
        )
        .alone(),
    );
    rows
}

/// The guests' rows: each guest of [`GUESTS`] boots on its own (one after
/// the other) and runs `modes-bench`. Never in a smoke run: a guest takes
/// minutes.
pub fn run(cfg: &Config) -> Vec<Row> {
    if cfg.smoke {
        return Vec::new();
    }
    let suite_limit = (GUEST_TIMEOUT.as_secs() - 60).to_string();
    let args = ["modes-bench", "--timeout", suite_limit.as_str()];
    let mut rows = Vec::new();
    for series in GUESTS {
        match boot_guest(cfg, series, "modes-bench", &args, GUEST_TIMEOUT) {
            Ok((console, release, wall)) if console.contains("LABBENCH modes-bench ") => {
                rows.extend(guest_rows(series, &release, wall, &console));
            }
            Ok((console, _, _)) => {
                let why = console
                    .lines()
                    .find(|l| l.contains("LABTEST modes-bench") || l.contains("LABINIT suite"))
                    .map(|l| l.trim().to_string())
                    .unwrap_or_else(|| "no modes-bench result on the console".into());
                rows.push(Row::missing(
                    BENCH,
                    format!("guest {series} (QEMU TCG): modes-bench"),
                    "s",
                    why,
                ));
            }
            Err(e) => rows.push(Row::missing(
                BENCH,
                format!("guest {series} (QEMU TCG): modes-bench"),
                "s",
                e,
            )),
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_guests_labbench_lines() {
        let c = parse_labbench(
            "[  40.1] LABBENCH modes-bench case=peer udp64_pps=1000.000,1200.500 \
             fwd_per_pkt=0.000 rtt_p50_us=x,1\r",
        )
        .unwrap();
        assert_eq!(c.case, "peer");
        assert_eq!(c.metrics["udp64_pps"], vec![1000.0, 1200.5]);
        assert_eq!(c.metrics["fwd_per_pkt"], vec![0.0]);
        assert!(
            !c.metrics.contains_key("rtt_p50_us"),
            "not numbers: left out"
        );
        assert_eq!(c.why, None);
        let missing = parse_labbench(
            "LABBENCH modes-bench case=netkit why=up: mode netkit needs a netkit device: EOPNOTSUPP",
        )
        .unwrap();
        assert!(missing.metrics.is_empty());
        assert_eq!(
            missing.why.as_deref(),
            Some("up: mode netkit needs a netkit device: EOPNOTSUPP")
        );
        assert!(parse_labbench("LABBENCH modes-bench udp64_pps=1").is_none());
        assert!(parse_labbench("LABBENCH modes-bench case=").is_none());
        assert!(parse_labbench("LABBENCH path-attach-all functions=3").is_none());
        assert!(parse_labbench("LABTEST modes-bench pass").is_none());
        assert!(parse_labbench("LABBENCH modes-bench case=a b=1,inf").is_some());
    }

    #[test]
    fn a_guests_lines_become_rows_against_forwarding_in_the_same_boot() {
        let console = "LABINIT suite\n\
            LABBENCH modes-bench case=forwarding udp64_pps=100,100,100 udp64_cpu_ns=4000 \
            fwd_per_pkt=1.000\n\
            LABBENCH modes-bench case=egress udp64_pps=150 udp64_cpu_ns=2000 fwd_per_pkt=0\n\
            LABBENCH modes-bench case=peer udp64_pps=200 why=udp64_cpu_ns: no run\n\
            LABTEST modes-bench pass\n";
        let rows = guest_rows("6.12", "6.12.9-amd64", 200.0, console);
        assert_eq!(rows.len(), 1 + METRICS.len() * CASES.len() + 1);
        assert_eq!(rows[0].value(), Some(200.0));
        assert!(rows[0].case.contains("emulated"), "{}", rows[0].case);
        let row = |metric: &str, case: &str| {
            rows.iter()
                .find(|r| r.case.starts_with(metric) && r.case.contains(label(case)))
                .unwrap_or_else(|| panic!("no row {metric} {case}"))
        };
        let fwd = row("UDP 64 B delivered", "forwarding");
        assert!(fwd.case.contains("guest 6.12 (QEMU TCG)"), "{}", fwd.case);
        assert_eq!(fwd.value(), Some(100.0));
        assert!(fwd.versus.is_none() && !fwd.alone, "the reference");
        assert_eq!(row("UDP 64 B delivered", "peer").ratio(), Some(2.0));
        assert_eq!(row("UDP 64 B, CPU", "egress").ratio(), Some(2.0));
        assert!(matches!(
            &row("UDP 64 B, CPU", "peer").figure,
            Figure::Missing(w) if w == "udp64_cpu_ns: no run"
        ));
        assert!(matches!(
            &row("UDP 64 B delivered", "netkit").figure,
            Figure::Missing(w) if w.contains("no LABBENCH")
        ));
        let f = row("netns_1 Ip ForwDatagrams", "forwarding");
        assert!(matches!(f.figure, Figure::Exact(v) if v == 1.0) && f.alone);
    }
}
