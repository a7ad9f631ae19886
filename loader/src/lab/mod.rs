//! The redirect lab as a library: bring the seed's topology up, tear it
//! down, report its state, and pass traffic through it.
//!
//! It follows the seed (`../shared/seed/ebpf-packet-redirection.txt`, the
//! `up`/`down`/`listen` targets of its Makefile) and builds everything with
//! this workspace's own layers: `ebpf-asm` assembles `bpf-src/redirect.s`,
//! [`crate`]'s `bpf(2)` code loads it, and `netlink` creates namespaces,
//! devices, addresses and routes and attaches the program to TC.
//!
//! - [`plan`]: the topology as data, in the seed's order (no kernel calls);
//! - [`up`] / [`down`]: execute and undo the plan;
//! - [`status`]: devices, ifindexes, MACs, counters, the filter and program;
//! - [`traffic`]: `listen` in `netns_2`, `send` from the host side;
//! - [`ping`]: ICMP echo through the lab, for two-way traffic;
//! - [`trace`]: print `trace_pipe` for the `--trace` program;
//! - [`mod@path`]: follow a datagram through the kernel with our own tracing
//!   programs (`redirect-lab path`);
//! - [`procfs`]: counters and routes from `/proc/thread-self/net/`;
//! - [`privilege`]: a plain message when not root.
//!
//! A [`Lab`] is only a set of names: the seed's (`netns_1`, `netns_2`, the
//! real host namespace) or, with a prefix, an isolated copy where even the
//! host side is a namespace of its own (`P_host`, `P_netns_1`, `P_netns_2`).

pub mod down;
pub mod maps;
pub mod mode;
pub mod path;
pub mod ping;
pub mod plan;
pub mod privilege;
pub mod procfs;
pub mod status;
mod sys;
pub mod trace;
pub mod traffic;
pub mod up;

use crate::error::io_text;
use std::fmt;

use netlink::netns;

pub use plan::{LabNames, Side};
pub use status::{DeviceStatus, FilterStatus, LabStatus};
pub use traffic::{Datagram, ListenEvent, ListenOptions, LISTEN_ADDR};
pub use up::{ProgramSource, UpOptions, UpReport};

/// Where iproute2 keeps named network namespaces (bind mounts); defined in
/// `netlink`, which creates them there.
pub use netlink::netns::NETNS_RUN_DIR;

/// What can go wrong with the lab, each with a message a user can act on.
#[derive(Debug)]
pub enum LabError {
    /// Not root, or missing capabilities.
    Privilege(String),
    /// The lab (or a part a command needs) is not up.
    NotUp(String),
    /// Bad input: a prefix, a flag, a source file.
    Input(String),
    /// A step failed; the message names the step and the kernel's answer.
    Failed(String),
}

impl fmt::Display for LabError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LabError::Privilege(m)
            | LabError::NotUp(m)
            | LabError::Input(m)
            | LabError::Failed(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for LabError {}

/// One lab instance, named by its [`LabNames`].
#[derive(Clone, Debug)]
pub struct Lab {
    pub names: LabNames,
}

impl Lab {
    /// The seed's lab (`prefix: None`) or an isolated one.
    pub fn new(prefix: Option<&str>) -> Result<Lab, LabError> {
        Ok(Lab {
            names: LabNames::new(prefix).map_err(LabError::Input)?,
        })
    }

    /// Whether every namespace of the lab exists.
    pub fn is_up(&self) -> bool {
        self.names
            .namespaces()
            .iter()
            .all(|ns| netns::path_of(ns).exists())
    }

    /// `Ok` when the lab's namespaces exist; `NotUp` with what to run otherwise.
    pub fn require_up(&self) -> Result<(), LabError> {
        let missing: Vec<&str> = self
            .names
            .namespaces()
            .into_iter()
            .filter(|ns| !netns::path_of(ns).exists())
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(LabError::NotUp(format!(
                "the lab is not up (no network namespace {}). Run `redirect-lab up{}` first.",
                missing.join(", "),
                self.names.prefix_arg()
            )))
        }
    }

    /// Runs `f` on a thread inside the side's network namespace and returns
    /// its result; `f` may borrow from the caller (a scoped thread). In plain
    /// mode the host side is this process's own namespace, and `f` runs on a
    /// thread that entered nothing.
    pub fn run_in<T: Send>(&self, side: Side, f: impl FnOnce() -> T + Send) -> Result<T, LabError> {
        match self.names.netns(side) {
            None => std::thread::scope(|s| s.spawn(f).join())
                .map_err(|_| LabError::Failed("a lab worker thread panicked".into())),
            Some(ns) => netlink::netns::run_in(ns, f)
                .map_err(|e| LabError::Failed(format!("entering network namespace {ns}: {e}"))),
        }
    }

    /// Reads `/proc/thread-self/net/FILE` as seen from inside a side.
    pub fn read_proc(&self, side: Side, file: &str) -> Result<String, LabError> {
        let path = format!("/proc/thread-self/net/{file}");
        let label = self.names.label(side).to_string();
        self.run_in(side, move || {
            std::fs::read_to_string(&path).map_err(|e| format!("{path}: {os}", os = io_text(&e)))
        })?
        .map_err(|e| LabError::Failed(format!("reading {e} in {label}")))
    }

    /// An `Ip:` counter of `/proc/net/snmp` in a side, e.g. `ForwDatagrams`.
    pub fn ip_counter(&self, side: Side, field: &str) -> Result<u64, LabError> {
        let text = self.read_proc(side, "snmp")?;
        procfs::snmp_value(&text, "Ip", field).ok_or_else(|| {
            LabError::Failed(format!(
                "no Ip {field} counter in /proc/net/snmp of {}",
                self.names.label(side)
            ))
        })
    }

    /// A device's counters from `/proc/net/dev` in a side.
    pub fn dev_counters(&self, side: Side, dev: &str) -> Result<procfs::DevCounters, LabError> {
        let text = self.read_proc(side, "dev")?;
        procfs::parse_net_dev(&text)
            .into_iter()
            .find(|(name, _)| name == dev)
            .map(|(_, c)| c)
            .ok_or_else(|| {
                LabError::NotUp(format!("no device {dev} in {}", self.names.label(side)))
            })
    }
}
