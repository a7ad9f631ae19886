//! `redirect-lab compare`: every technique of [`super::mode::MODES`] side by
//! side with plain netns_1 forwarding (`up --no-program`), in one run.
//!
//! One isolated lab per mode (`--prefix`, as `make bench` does), each
//! removed when its [`LabUp`] is dropped, on success and on error alike.
//! The floods are interleaved mode by mode, repetition by repetition, so a
//! burst of other work on the machine hits every mode alike, and the ratios
//! are against forwarding measured in the same run.
//!
//! What each mode needs is read from the mode table and probed: the kernel
//! version against [`super::mode::Mode::since`], and `up` itself.
//!
//! The path columns come from the path tracer ([`trace`]), in a phase of
//! their own between bring-up and the floods: the tracer is attached once
//! for all labs, follows one datagram through each, and is detached
//! (dropped) before the first flood, so no tracing program runs while CPU,
//! pps and round trips are measured.
//!
//! SIGINT/SIGTERM ([`signal`]) stop the run at its next step; the labs'
//! guards remove them on the way out.

pub mod measure;
pub mod picture;
pub mod signal;
pub mod trace;

use super::mode::{ExtraRef, Mode, MODES};
use super::{Lab, LabError, UpOptions};
pub use measure::Limits;
use std::time::Duration;
pub use trace::{Skip, Step};

/// How the path was measured, for the table, the JSON and the figure.
pub const PATH_NOTE: &str = "one UDP datagram veth1@1 -> 10.0.2.11:7777 after a warm-up one, \
                             traced before the floods with the tracer detached for them";

/// The name forwarding goes by in the table and the JSON.
pub const FORWARDING: &str = "forwarding";

/// An isolated lab that is removed when dropped.
pub struct LabUp {
    pub lab: Lab,
}

impl LabUp {
    /// `up --prefix PREFIX [--mode M | --no-program]`; a lab half built by a
    /// failing `up` is removed before the error is returned.
    pub fn up(prefix: &str, mode: Option<&'static Mode>) -> Result<(LabUp, Vec<String>), LabError> {
        let guard = LabUp {
            lab: Lab::new(Some(prefix))?,
        };
        let options = UpOptions {
            mode: mode.unwrap_or(super::mode::default_mode()),
            no_program: mode.is_none(),
            ..UpOptions::default()
        };
        let report = guard.lab.up(&options, &mut std::io::sink())?;
        Ok((guard, report.notes))
    }
}

impl Drop for LabUp {
    fn drop(&mut self) {
        let _ = self.lab.down();
    }
}

/// What a mode needs, from the mode table and this kernel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Needs {
    /// The program writes the Ethernet destination itself (`h_dest`).
    pub mac_rewrite: bool,
    /// The packet's way is looked up in netns_1's routing table (forwarding,
    /// `bpf_fib_lookup`, `bpf_redirect_neigh`).
    pub route: bool,
    /// An XDP program on veth2@2 (see [`super::mode::Extra::XdpPassOnPeer`]).
    pub xdp_on_peer: bool,
    /// The first Linux with the technique.
    pub since: &'static str,
    /// Whether the running kernel is at least [`Needs::since`].
    pub kernel_ok: Option<bool>,
}

impl Needs {
    /// For a mode, or for forwarding (`None`).
    pub fn of(mode: Option<&Mode>, release: &str) -> Needs {
        match mode {
            None => Needs {
                mac_rewrite: false,
                route: true,
                xdp_on_peer: false,
                since: "any",
                kernel_ok: Some(true),
            },
            Some(m) => Needs {
                mac_rewrite: m.embedded.contains("h_dest"),
                route: matches!(m.helper, "bpf_fib_lookup" | "bpf_redirect_neigh"),
                xdp_on_peer: m.extras.contains(&ExtraRef::XdpPassOnPeer),
                since: m.since,
                kernel_ok: at_least(release, m.since),
            },
        }
    }
}

/// `major.minor` from a kernel release (`6.18.0-1-amd64` -> (6, 18)).
pub fn version(release: &str) -> Option<(u32, u32)> {
    let mut it = release.split(|c: char| !c.is_ascii_digit());
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

/// Whether `release` is at least `since` (`None`: unreadable).
pub fn at_least(release: &str, since: &str) -> Option<bool> {
    Some(version(release)? >= version(since)?)
}

/// The running kernel's release (`/proc/sys/kernel/osrelease`).
pub fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// How much to measure.
#[derive(Clone, Copy, Debug)]
pub struct Sizes {
    /// Floods per mode, interleaved across modes.
    pub reps: usize,
    /// One flood of 64-byte datagrams.
    pub flood: Limits,
    /// One round of ping-pong (per repetition).
    pub rtt: Limits,
    /// Trace each lab's path (the tracer needs vmlinux BTF).
    pub path: bool,
}

impl Default for Sizes {
    fn default() -> Sizes {
        Sizes {
            reps: 3,
            flood: Limits {
                packets: 500_000,
                time: Duration::from_millis(300),
            },
            rtt: Limits {
                packets: 300,
                time: Duration::from_millis(300),
            },
            path: true,
        }
    }
}

/// The UDP payload of the flood: 64 bytes.
pub const PAYLOAD: usize = 64;

/// One row of the comparison.
#[derive(Clone, Debug)]
pub struct Entry {
    /// `forwarding` or the mode's name.
    pub name: &'static str,
    pub mode: Option<&'static Mode>,
    pub needs: Needs,
    /// Why the lab did not come up or a measurement failed.
    pub error: Option<String>,
    /// What `up` noted (a fallback, a self-check).
    pub notes: Vec<String>,
    /// CPU ns per delivered packet, one per flood.
    pub cpu_ns: Vec<f64>,
    /// Delivered packets per second, one per flood.
    pub pps: Vec<f64>,
    /// Sent and delivered over all floods.
    pub sent: u64,
    pub delivered: u64,
    /// Every round trip, in microseconds.
    pub rtt_us: Vec<f64>,
    /// The traced datagram's events, in order (`None`: not traced, see
    /// `path_error`).
    pub path: Option<Vec<Step>>,
    /// Whether the traced datagram reached the socket.
    pub path_delivered: bool,
    /// Why there is no path.
    pub path_error: Option<String>,
}

impl Entry {
    pub fn cpu_median(&self) -> Option<f64> {
        measure::percentile(&self.cpu_ns, 50.0)
    }
    pub fn cpu_min_max(&self) -> Option<(f64, f64)> {
        Some((
            measure::percentile(&self.cpu_ns, 0.0)?,
            measure::percentile(&self.cpu_ns, 100.0)?,
        ))
    }
    pub fn pps_median(&self) -> Option<f64> {
        measure::percentile(&self.pps, 50.0)
    }
    pub fn rtt_p50(&self) -> Option<f64> {
        measure::percentile(&self.rtt_us, 50.0)
    }
    pub fn rtt_p99(&self) -> Option<f64> {
        measure::percentile(&self.rtt_us, 99.0)
    }
    /// Events of the path in the tracepoint (`false`) or function layer.
    pub fn path_len(&self, function: bool) -> Option<usize> {
        self.path.as_deref().map(|p| trace::count(p, function))
    }
    /// The stages of `reference`'s (forwarding's) path this one lacks.
    pub fn skipped(&self, reference: &Entry) -> Option<Vec<Skip>> {
        Some(trace::skipped(
            reference.path.as_deref()?,
            self.path.as_deref()?,
        ))
    }
    /// The stages this path has and forwarding's does not.
    pub fn added(&self, reference: &Entry) -> Option<Vec<String>> {
        Some(trace::added(
            reference.path.as_deref()?,
            self.path.as_deref()?,
        ))
    }
}

/// Ratios of an entry against forwarding's, from the same run.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Ratios {
    pub cpu_ns_per_packet: Option<f64>,
    pub pps: Option<f64>,
    pub rtt_p50: Option<f64>,
    pub rtt_p99: Option<f64>,
}

impl Ratios {
    pub fn of(e: &Entry, reference: &Entry) -> Ratios {
        let r = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) if b > 0.0 => Some(a / b),
            _ => None,
        };
        Ratios {
            cpu_ns_per_packet: r(e.cpu_median(), reference.cpu_median()),
            pps: r(e.pps_median(), reference.pps_median()),
            rtt_p50: r(e.rtt_p50(), reference.rtt_p50()),
            rtt_p99: r(e.rtt_p99(), reference.rtt_p99()),
        }
    }
}

/// The whole comparison: forwarding first, then the modes in the order asked.
#[derive(Clone, Debug)]
pub struct Comparison {
    pub kernel: String,
    pub entries: Vec<Entry>,
    /// fentry programs attached for the path (0 where the layer is refused).
    pub functions_attached: usize,
    /// Why the function layer is missing (the tracer's words, said once).
    pub function_layer: Option<String>,
}

/// The error a run stopped by SIGINT/SIGTERM returns.
pub fn interrupted_error() -> LabError {
    LabError::Failed("interrupted: every lab compare brought up was removed".into())
}

fn check_signal() -> Result<(), LabError> {
    if signal::interrupted() {
        Err(interrupted_error())
    } else {
        Ok(())
    }
}

/// Parses `--modes a,b,...` (all modes when `None`).
pub fn parse_modes(list: Option<&str>) -> Result<Vec<&'static Mode>, LabError> {
    let Some(list) = list else {
        return Ok(MODES.iter().collect());
    };
    let mut v: Vec<&'static Mode> = Vec::new();
    for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if name == FORWARDING {
            continue; // always there, as the reference
        }
        let m = super::mode::find(name).map_err(LabError::Input)?;
        if !v.contains(&m) {
            v.push(m);
        }
    }
    Ok(v)
}

/// Brings up the labs, measures, tears them down (also on error), and
/// returns the rows. `prefix_base` names the labs `BASE-0`, `BASE-1`, ...
pub fn run(
    modes: &[&'static Mode],
    sizes: Sizes,
    prefix_base: &str,
    progress: &mut dyn FnMut(&str),
) -> Result<Comparison, LabError> {
    let release = kernel_release();
    let all: Vec<Option<&'static Mode>> = std::iter::once(None)
        .chain(modes.iter().map(|m| Some(*m)))
        .collect();
    let mut labs: Vec<Option<LabUp>> = Vec::new();
    let mut entries: Vec<Entry> = Vec::new();
    for (i, mode) in all.iter().enumerate() {
        let name = mode.map_or(FORWARDING, |m| m.name);
        check_signal()?;
        progress(&format!("up {name}"));
        let mut entry = Entry {
            name,
            mode: *mode,
            needs: Needs::of(*mode, &release),
            error: None,
            notes: Vec::new(),
            cpu_ns: Vec::new(),
            pps: Vec::new(),
            sent: 0,
            delivered: 0,
            rtt_us: Vec::new(),
            path: None,
            path_delivered: false,
            path_error: None,
        };
        match LabUp::up(&format!("{prefix_base}-{i}"), *mode) {
            Ok((lab, notes)) => {
                entry.notes = notes;
                labs.push(Some(lab));
            }
            Err(e) if mode.is_none() => {
                return Err(LabError::Failed(format!(
                    "the reference (up --no-program) did not come up: {e}"
                )))
            }
            Err(e) => {
                entry.error = Some(format!("up: {e}"));
                labs.push(None);
            }
        }
        entries.push(entry);
    }
    let (functions_attached, function_layer) = if sizes.path {
        trace_paths(&labs, &mut entries, progress)?
    } else {
        for e in &mut entries {
            e.path_error = Some("not traced (path tracing was turned off)".into());
        }
        (0, None)
    };
    for rep in 0..sizes.reps {
        for (lab, entry) in labs.iter().zip(entries.iter_mut()) {
            let Some(lab) = lab else { continue };
            check_signal()?;
            progress(&format!("run {}/{} {}", rep + 1, sizes.reps, entry.name));
            match measure::udp_flood(&lab.lab, PAYLOAD, sizes.flood) {
                Ok(f) => {
                    entry.sent += f.sent;
                    entry.delivered += f.received;
                    entry.pps.push(f.pps());
                    if let Some(c) = f.cpu_ns_per_packet() {
                        entry.cpu_ns.push(c);
                    }
                }
                Err(e) => entry.error = Some(format!("flood: {e}")),
            }
            match measure::udp_rtt(&lab.lab, sizes.rtt, Duration::from_millis(100)) {
                Ok(v) => entry.rtt_us.extend(v),
                Err(e) => entry.error = Some(format!("ping-pong: {e}")),
            }
        }
    }
    drop(labs);
    check_signal()?;
    Ok(Comparison {
        kernel: release,
        entries,
        functions_attached,
        function_layer,
    })
}

/// The path phase: attach the tracer once (tp_btf, and fentry where the
/// kernel loads it), follow one datagram through each lab, detach. Returns
/// the fentry programs attached and why the function layer is missing.
fn trace_paths(
    labs: &[Option<LabUp>],
    entries: &mut [Entry],
    progress: &mut dyn FnMut(&str),
) -> Result<(usize, Option<String>), LabError> {
    check_signal()?;
    progress("trace: attaching the path tracer");
    let tracer = crate::tracing::vmlinux()
        .map_err(|e| LabError::Failed(format!("vmlinux BTF: {e}")))
        .and_then(|btf| super::path::Tracer::attach(&btf, &trace::functions()));
    let mut tracer = match tracer {
        Ok(t) => t,
        Err(e) => {
            for entry in entries.iter_mut() {
                entry.path_error = Some(format!("the path tracer did not attach: {e}"));
            }
            return Ok((0, None));
        }
    };
    let fentries = tracer.hooks.iter().filter(|h| h.function).count();
    let refused = tracer.function_layer_refused.clone();
    for (lab, entry) in labs.iter().zip(entries.iter_mut()) {
        check_signal()?;
        let Some(lab) = lab else {
            entry.path_error = Some("not traced: the lab did not come up".into());
            continue;
        };
        progress(&format!("trace {}", entry.name));
        match trace::trace(&lab.lab, &mut tracer) {
            Ok(t) => {
                entry.path = Some(t.steps);
                entry.path_delivered = t.delivered;
            }
            Err(e) => entry.path_error = Some(format!("trace: {e}")),
        }
    }
    if let Ok(n) = tracer.lost() {
        if n > 0 {
            for entry in entries.iter_mut() {
                entry.notes.push(format!(
                    "the path tracer lost {n} events (ring buffer full)"
                ));
            }
        }
    }
    // Detach before the floods: no tracing program runs while they are measured.
    drop(tracer);
    Ok((fentries, refused))
}

impl Comparison {
    /// Forwarding's row.
    pub fn reference(&self) -> &Entry {
        &self.entries[0]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare() {
        assert_eq!(version("6.18.0-1-amd64"), Some((6, 18)));
        assert_eq!(at_least("6.18.0", "6.6"), Some(true));
        assert_eq!(at_least("5.4.0", "5.10"), Some(false));
        assert_eq!(at_least("junk", "5.10"), None);
    }

    #[test]
    fn needs_follow_the_mode_table() {
        let n = |name| Needs::of(Some(super::super::mode::find(name).unwrap()), "6.1.0");
        assert!(n("egress").mac_rewrite && !n("egress").route && !n("egress").xdp_on_peer);
        assert!(!n("peer").mac_rewrite && !n("neigh").mac_rewrite);
        assert!(n("fib").mac_rewrite && n("fib").route && n("neigh").route);
        assert!(n("xdp").xdp_on_peer && n("devmap").xdp_on_peer && n("xdp").mac_rewrite);
        assert_eq!(n("tcx").kernel_ok, Some(false));
        assert_eq!(n("peer").kernel_ok, Some(true));
        assert!(Needs::of(None, "6.1.0").route);
    }

    #[test]
    fn modes_parse() {
        let v = parse_modes(Some("peer,egress,forwarding,peer")).unwrap();
        assert_eq!(
            v.iter().map(|m| m.name).collect::<Vec<_>>(),
            ["peer", "egress"]
        );
        assert_eq!(parse_modes(None).unwrap().len(), MODES.len());
        assert!(parse_modes(Some("nope")).is_err());
    }
}
