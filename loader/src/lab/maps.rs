//! The maps a mode's program uses (`--mode devmap`'s `ports`): created and
//! pinned by `up`, read by `status`, retargeted by `redirect-lab map set`.
//!
//! A `BPF_MAP_TYPE_DEVMAP` value is an ifindex (`struct bpf_devmap_val`'s
//! first field, include/uapi/linux/bpf.h), resolved by `BPF_MAP_UPDATE_ELEM`
//! in the *caller's* network namespace (`dev_get_by_index(current's net)` in
//! kernel/bpf/devmap.c), so updates run on a thread inside netns_1.

use super::mode::{self, LabMap};
use super::plan::{self, Side};
use super::{Lab, LabError};
use crate::map::{Map, MapSpec};

/// Creates a mode's map (not pinned).
pub fn create(map: &LabMap) -> Result<Map, LabError> {
    Map::create(&MapSpec {
        map_type: map.map_type,
        key_size: map.key_size,
        value_size: map.value_size,
        max_entries: map.max_entries,
        flags: 0,
        name: map.name,
    })
    .map_err(|e| LabError::Failed(format!("creating map {}: {e}", map.name)))
}

/// Creates a mode's maps for a load that nobody attaches (`up`'s probe).
pub fn scratch(m: &mode::Mode) -> Result<Vec<(&'static str, Map)>, LabError> {
    m.maps.iter().map(|d| Ok((d.name, create(d)?))).collect()
}

/// One entry of a lab map, as `status` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapEntry {
    pub map: &'static str,
    pub key: u32,
    pub ifindex: u32,
    /// The netns_1 device with that ifindex, if any.
    pub dev: Option<String>,
}

impl Lab {
    /// Puts `dev`'s ifindex (a device in netns_1) at `key` of the running
    /// lab's pinned map `name`. The program is not touched: the next packet
    /// goes to the new target.
    pub fn map_set(&self, name: &str, key: u32, dev: &str) -> Result<u32, LabError> {
        self.require_up()?;
        let decl = mode::MODES
            .iter()
            .flat_map(|m| m.maps.iter())
            .find(|d| d.name == name)
            .ok_or_else(|| {
                LabError::Input(format!(
                    "no lab map {name:?}; the modes' maps are: {}",
                    mode::MODES
                        .iter()
                        .flat_map(|m| m
                            .maps
                            .iter()
                            .map(move |d| format!("{} ({})", d.name, m.name)))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?;
        if key >= decl.max_entries {
            return Err(LabError::Input(format!(
                "key {key} is out of range: map {name} has {} entries (0..{})",
                decl.max_entries,
                decl.max_entries - 1
            )));
        }
        let path = plan::map_pin_path(&self.names, name);
        let map = Map::from_pin(&path).map_err(|e| {
            LabError::NotUp(format!(
                "map {name} is not pinned at {} ({e}): is the lab up with a mode that uses it? \
                 `redirect-lab up{} --mode devmap`",
                path.display(),
                self.names.prefix_arg()
            ))
        })?;
        let ifindex = self.handle_in(Side::Netns1)?.link_index(dev).map_err(|e| {
            LabError::Input(format!("no device {dev:?} in {}: {e}", self.names.netns_1))
        })?;
        let value = (ifindex as u32).to_ne_bytes();
        self.run_in(Side::Netns1, || map.update(&key.to_ne_bytes(), &value, 0))?
            .map_err(|e| LabError::Failed(format!("updating {name}[{key}] = {dev}: {e}")))?;
        Ok(ifindex as u32)
    }

    /// The entries of the lab's pinned maps.
    pub fn map_entries(&self) -> Vec<MapEntry> {
        let links = self
            .handle_in(Side::Netns1)
            .and_then(|mut h| h.links().map_err(|e| LabError::Failed(e.to_string())))
            .unwrap_or_default();
        let mut out = Vec::new();
        for d in mode::MODES.iter().flat_map(|m| m.maps.iter()) {
            let Ok(map) = Map::from_pin(plan::map_pin_path(&self.names, d.name)) else {
                continue;
            };
            for key in 0..d.max_entries {
                if let Ok(Some(v)) = map.lookup(&key.to_ne_bytes()) {
                    let ifindex = u32::from_ne_bytes([v[0], v[1], v[2], v[3]]);
                    out.push(MapEntry {
                        map: d.name,
                        key,
                        ifindex,
                        dev: links
                            .iter()
                            .find(|l| l.ifindex as u32 == ifindex)
                            .map(|l| l.name.clone()),
                    });
                }
            }
        }
        out
    }
}
