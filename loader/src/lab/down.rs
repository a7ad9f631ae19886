//! `down`: removes the lab, whatever state it is in, and returns only when
//! its devices are gone.
//!
//! The seed's `ip netns del` returns before the kernel has destroyed the
//! namespace's veth devices (namespace cleanup runs asynchronously in
//! `cleanup_net`), so an immediate `up` fails with "File exists" on
//! `veth1@1`. Here every veth is deleted with `RTM_DELLINK` first, which
//! returns only once the device and its peer are unregistered
//! (include/uapi/linux/rtnetlink.h; `netlink::Netns::delete` does this per
//! namespace), then the `/run/netns/NAME` bind mounts go.

use crate::error::io_text;
use std::fmt;
use std::time::{Duration, Instant};

use netlink::netns::{self, NETNS_RUN_DIR};
use netlink::{Handle, Netns};

use super::plan::{Side, VETH1_1};
use super::privilege::{self, LAB_CAPS};
use super::{Lab, LabError};

/// How long `down` waits for the kernel to finish removing devices.
const GONE_TIMEOUT: Duration = Duration::from_secs(10);

/// What `down` removed (empty when the lab was not there).
#[derive(Clone, Debug, Default)]
pub struct DownReport {
    pub removed: Vec<String>,
}

impl fmt::Display for DownReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.removed.is_empty() {
            return write!(f, "lab down: nothing to remove");
        }
        write!(f, "lab down: removed {}", self.removed.join(", "))
    }
}

impl Lab {
    /// Removes every namespace, device and route of the lab. Succeeds on an
    /// absent or half-built lab; fails only when something is still there.
    pub fn down(&self) -> Result<DownReport, LabError> {
        privilege::require("redirect-lab down", &LAB_CAPS).map_err(LabError::Privilege)?;
        let mut report = DownReport::default();

        // Plain mode: the host end lives in the real host namespace, which
        // is never deleted. Deleting veth1@1 takes veth1@2 along.
        if self.names.host.is_none() {
            let mut h =
                Handle::new().map_err(|e| LabError::Failed(format!("netlink socket: {e}")))?;
            if let Some(idx) = lab_veth(&mut h, VETH1_1)? {
                h.link_del(idx).map_err(|e| {
                    LabError::Failed(format!("`ip link del {VETH1_1}` failed: {e}"))
                })?;
                report.removed.push(format!("{VETH1_1} (and its peer)"));
            }
        }

        // `up --mode tcx` pins its link and `--mode devmap` its map; a pin
        // would outlive the lab (a detached link, an orphan map), so every
        // pin of this lab goes first.
        let prefix = super::plan::pin_prefix(&self.names);
        if let Ok(dir) = std::fs::read_dir(super::plan::PIN_DIR) {
            for entry in dir.flatten() {
                if entry.file_name().to_string_lossy().starts_with(&prefix) {
                    let pin = entry.path();
                    crate::pin::unpin(&pin).map_err(|e| {
                        LabError::Failed(format!("removing the pin {}: {e}", pin.display()))
                    })?;
                    report.removed.push(format!("pin {}", pin.display()));
                }
            }
        }

        // netns_1 first: its veths take their peers in the other two along.
        for side in [Side::Netns1, Side::Netns2, Side::Host] {
            let Some(name) = self.names.netns(side) else {
                continue;
            };
            let path = netns::path_of(name);
            if !path.exists() {
                continue;
            }
            if netns::is_mounted(&path) {
                Netns::delete(name)
                    .map_err(|e| LabError::Failed(format!("`ip netns del {name}` failed: {e}")))?;
            } else {
                // A half-built lab: the mount point exists but nothing was
                // mounted on it.
                std::fs::remove_file(&path).map_err(|e| {
                    LabError::Failed(format!(
                        "removing {}: {os}",
                        path.display(),
                        os = io_text(&e)
                    ))
                })?;
            }
            report.removed.push(format!("netns {name}"));
        }

        self.wait_gone()?;
        Ok(report)
    }

    /// Waits until nothing of the lab remains visible: no `/run/netns`
    /// entry and, in plain mode, no `veth1@1` in the host namespace.
    fn wait_gone(&self) -> Result<(), LabError> {
        let start = Instant::now();
        loop {
            let mut left: Vec<String> = self
                .names
                .namespaces()
                .into_iter()
                .filter(|ns| netns::path_of(ns).exists())
                .map(|ns| format!("{NETNS_RUN_DIR}/{ns}"))
                .collect();
            if self.names.host.is_none() {
                let mut h =
                    Handle::new().map_err(|e| LabError::Failed(format!("netlink socket: {e}")))?;
                if h.link_index(VETH1_1).is_ok() {
                    left.push(format!("device {VETH1_1}"));
                }
            }
            if left.is_empty() {
                return Ok(());
            }
            if start.elapsed() > GONE_TIMEOUT {
                return Err(LabError::Failed(format!(
                    "after {}s these are still there: {}",
                    GONE_TIMEOUT.as_secs(),
                    left.join(", ")
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The ifindex of `name` if it exists and is a veth (the lab never deletes
/// a device of another kind that happens to share the name).
fn lab_veth(h: &mut Handle, name: &str) -> Result<Option<i32>, LabError> {
    let idx = match h.link_index(name) {
        Ok(idx) => idx,
        Err(netlink::Error::NotFound(_)) => return Ok(None),
        Err(e) if e.errno() == Some(libc::ENODEV) => return Ok(None),
        Err(e) => return Err(LabError::Failed(format!("looking up {name}: {e}"))),
    };
    let link = h
        .link_get(idx)
        .map_err(|e| LabError::Failed(format!("reading link {name}: {e}")))?;
    if link.kind.as_deref() == Some("veth") {
        Ok(Some(idx))
    } else {
        Err(LabError::Failed(format!(
            "the host has a device named {name} that is not a veth ({}); \
             the lab will not delete it. Rename or remove it, or use --prefix.",
            link.kind.as_deref().unwrap_or("no kind")
        )))
    }
}
