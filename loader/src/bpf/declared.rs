//! The maps an object declares in `.maps`, made as libbpf makes them
//! (`tools/lib/bpf/libbpf.c`, `bpf_object__create_maps`, read, not copied):
//!
//! - a map given by the caller (the lab's) stands in for its declaration
//!   when their type and sizes agree (libbpf's `bpf_map__reuse_fd`);
//! - `__uint(pinning, LIBBPF_PIN_BY_NAME)`: the map is shared through the
//!   pin `PIN_ROOT/NAME` (`/sys/fs/bpf/NAME` unless told otherwise). A pin
//!   that exists is reused when its map has the declared type, sizes and
//!   flags (`map_is_reuse_compat`), else the load is refused; a new map is
//!   pinned there once the whole object has loaded, so a refused load
//!   leaves no pin behind;
//! - a map of maps (`ARRAY_OF_MAPS`, `HASH_OF_MAPS`) with
//!   `__array(values, struct { ... })`: an inner map is made from that
//!   definition as the template (`inner_map_fd`, named `NAME.inner`) and
//!   closed after the outer map exists; the slots `.values = { [i] = &m }`
//!   initializes are written with each inner map's fd;
//! - a `PROG_ARRAY` with `__array(values, int (void *))`: its slots get
//!   their programs' fds after the programs load.
//!
//! A reused map's slots are left as they are: someone else owns it.

use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};

use ebpf_asm::object::{MapDecl, MapValues, LIBBPF_PIN_BY_NAME};

use crate::asm::kernel_name;
use crate::error::{Error, Result};
use crate::load::{MapOrigin, ObjectMap, ObjectProgram, TypedMaps};
use crate::map::{Map, MapFlags, MapSpec};
use crate::pin;
use crate::types::MapType;

/// The fields of a `.maps` definition this loader reads.
const KNOWN: [&str; 6] = [
    "type",
    "key_size",
    "value_size",
    "max_entries",
    "map_flags",
    "pinning",
];

/// Where a map declared with `__uint(pinning, LIBBPF_PIN_BY_NAME)` is
/// shared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapPin {
    /// `PIN_ROOT/NAME`.
    pub path: PathBuf,
    /// True when the pin existed and its map was reused: nothing was
    /// created, and its slots were left as they were.
    pub reused: bool,
}

/// Makes (or reuses) the map of declaration `d`. `given` is a map the
/// caller made for it; `pin_root` is where by-name pins live.
pub(crate) fn make(
    d: &MapDecl,
    given: Option<BorrowedFd<'_>>,
    pin_root: &Path,
    typed: &TypedMaps<'_>,
    warnings: &mut Vec<String>,
) -> Result<ObjectMap> {
    if let Some(f) = d.fields.iter().find(|f| !KNOWN.contains(&f.name.as_str())) {
        return Err(Error::Input(format!(
            "field {:?} is not supported by this loader (it reads {KNOWN:?} and \
             __array(values, ...))",
            f.name
        )));
    }
    if let Some(fd) = given {
        return reuse(d, fd, "the map given for it");
    }
    let path = match d.pinning() {
        None | Some(0) => None,
        Some(LIBBPF_PIN_BY_NAME) => Some(pin_root.join(&d.name)),
        Some(v) => {
            return Err(Error::Input(format!(
                "__uint(pinning, {v}) is neither LIBBPF_PIN_NONE (0) nor LIBBPF_PIN_BY_NAME (1)"
            )))
        }
    };
    let Some(path) = path else {
        return create(d, typed, warnings);
    };
    if path.starts_with(pin::BPFFS_ROOT) {
        pin::ensure_bpffs()?;
    }
    match pin::get(&path) {
        Ok(fd) => {
            let mut m = reuse(d, fd.as_fd(), "the pinned map").map_err(|e| {
                Error::Input(format!(
                    "cannot reuse the map pinned at {}: {e}; remove the pin (rm {}) or \
                     declare the map as it is",
                    path.display(),
                    path.display()
                ))
            })?;
            let declared = d.map_flags().unwrap_or(0);
            if m.flags.bits() != declared {
                return Err(Error::Input(format!(
                    "cannot reuse the map pinned at {}: it has flags {}, the object declares \
                     {}; remove the pin (rm {}) or declare the map as it is",
                    path.display(),
                    m.flags,
                    MapFlags::from_bits_retain(declared),
                    path.display()
                )));
            }
            m.pin = Some(MapPin { path, reused: true });
            Ok(m)
        }
        Err(Error::Sys(s)) if s.errno == libc::ENOENT => {
            let mut m = create(d, typed, warnings)?;
            m.pin = Some(MapPin {
                path,
                reused: false,
            });
            Ok(m)
        }
        Err(e) => Err(e),
    }
}

/// The map `fd` in place of declaration `d`, when its type and sizes are
/// the declared ones (`whose` names it in the refusal).
fn reuse(d: &MapDecl, fd: BorrowedFd<'_>, whose: &str) -> Result<ObjectMap> {
    let owned = fd
        .try_clone_to_owned()
        .map_err(|e| Error::io("duplicating a given map fd", e))?;
    let map = Map::from_fd(owned)?;
    let info = map.info()?;
    let declared = (
        d.map_type().unwrap_or(0),
        d.key_size().unwrap_or(0),
        d.value_size().unwrap_or(0),
        d.max_entries().unwrap_or(0),
    );
    let given = (
        info.map_type,
        info.key_size,
        info.value_size,
        info.max_entries,
    );
    if declared != given {
        let shape = |(t, k, v, n): (u32, u32, u32, u32)| {
            let name = MapType::from_raw(t).map_or_else(|| t.to_string(), |m| m.to_string());
            format!("type {name} key {k} value {v} max_entries {n}")
        };
        return Err(Error::Input(format!(
            "the object declares {}, but {whose} (id {}) is {}",
            shape(declared),
            info.id,
            shape(given)
        )));
    }
    let map_type = MapType::from_raw(info.map_type).ok_or_else(|| {
        Error::Input(format!(
            "map type {} is not one this loader knows",
            info.map_type
        ))
    })?;
    Ok(ObjectMap {
        name: d.name.clone(),
        origin: MapOrigin::Declared,
        map_type,
        key_size: info.key_size,
        value_size: info.value_size,
        max_entries: info.max_entries,
        flags: MapFlags::from_bits_retain(info.flags),
        pin: None,
        map,
    })
}

/// The creation spec of declaration `d`, named `name`.
fn spec_of<'a>(d: &MapDecl, name: &'a str) -> Result<MapSpec<'a>> {
    let raw = d
        .map_type()
        .ok_or_else(|| Error::Input("no __uint(type, ...) in its definition".into()))?;
    let map_type = MapType::from_raw(raw).ok_or_else(|| {
        Error::Input(format!(
            "map type {raw} is not one this loader knows (see enum bpf_map_type in bpf.h)"
        ))
    })?;
    Ok(MapSpec {
        map_type,
        key_size: d.key_size().unwrap_or(0),
        value_size: d.value_size().unwrap_or(0),
        max_entries: d.max_entries().unwrap_or(0),
        flags: d.map_flags().unwrap_or(0),
        name,
    })
}

/// Creates the map of declaration `d`, with its inner template first when
/// it is a map of maps.
fn create(d: &MapDecl, typed: &TypedMaps<'_>, warnings: &mut Vec<String>) -> Result<ObjectMap> {
    let name = kernel_name(&d.name);
    let spec = spec_of(d, &name)?;
    let of_maps = matches!(spec.map_type, MapType::ArrayOfMaps | MapType::HashOfMaps);
    let map = match &d.values {
        Some(MapValues::Maps(inner)) if of_maps => {
            let inner_name = kernel_name(&format!("{}.inner", d.name));
            let template = Map::create(&spec_of(inner, &inner_name)?).map_err(|e| {
                crate::load::about(e, "its inner map (the __array(values, ...) definition)")
            })?;
            Map::create_of_maps(&spec, template.as_fd())?
        }
        Some(MapValues::Maps(_)) => {
            return Err(Error::Input(format!(
                "__array(values, struct ...) needs an ARRAY_OF_MAPS or HASH_OF_MAPS, not {}",
                spec.map_type
            )))
        }
        Some(MapValues::Programs) if spec.map_type != MapType::ProgArray => {
            return Err(Error::Input(format!(
                "__array(values, a function type) needs a PROG_ARRAY, not {}",
                spec.map_type
            )))
        }
        None if of_maps => {
            return Err(Error::Input(
                "a map of maps needs its inner map's definition: \
                 __array(values, struct { ... }) as its last member"
                    .into(),
            ))
        }
        _ => typed.create(&spec, typed.declared(&d.name), warnings)?,
    };
    Ok(ObjectMap {
        name: d.name.clone(),
        origin: MapOrigin::Declared,
        map_type: spec.map_type,
        key_size: spec.key_size,
        value_size: spec.value_size,
        max_entries: spec.max_entries,
        flags: MapFlags::from_bits_retain(spec.flags),
        pin: None,
        map,
    })
}

/// Writes `fd` into slot `index` of map `m`, keyed by a 4-byte index as
/// libbpf writes slots (an `int`); `why` is what a refusal most likely
/// means.
fn set_slot(m: &ObjectMap, index: u32, fd: BorrowedFd<'_>, what: &str, why: &str) -> Result<()> {
    if m.key_size != 4 {
        return Err(Error::Input(format!(
            "{what}: .values = {{ ... }} fills slots by a 4-byte index, but the key is {} bytes",
            m.key_size
        )));
    }
    let fd = std::os::fd::AsRawFd::as_raw_fd(&fd) as u32;
    m.map
        .update(&index.to_le_bytes(), &fd.to_le_bytes(), crate::map::BPF_ANY)
        .map_err(|e| crate::load::about(e, &format!("{what}: {why}")))
}

/// The declarations whose slots of kind `values` are ours to fill, with
/// their maps (`maps[i]` is `decls[i]`'s): a reused map is left alone.
fn to_fill<'a>(
    decls: &'a [MapDecl],
    maps: &'a [ObjectMap],
    values: fn(&MapValues) -> bool,
) -> impl Iterator<Item = (&'a MapDecl, &'a ObjectMap)> {
    decls.iter().zip(maps).filter(move |(d, m)| {
        d.values.as_ref().is_some_and(values) && !m.pin.as_ref().is_some_and(|p| p.reused)
    })
}

/// Writes the inner maps' fds into the slots of every map of maps made
/// here.
pub(crate) fn fill_map_slots(decls: &[MapDecl], maps: &[ObjectMap]) -> Result<()> {
    for (d, m) in to_fill(decls, maps, |v| matches!(v, MapValues::Maps(_))) {
        for s in &d.slots {
            let what = format!("map {}, slot {} ({})", d.name, s.index, s.symbol);
            let target = maps
                .iter()
                .find(|t| t.name == s.symbol)
                .ok_or_else(|| Error::Input(format!("{what}: no map named {}", s.symbol)))?;
            let why = "the kernel takes only maps shaped like the inner definition \
                       (type, key and value size, flags)";
            set_slot(m, s.index, target.map.as_fd(), &what, why)?;
        }
    }
    Ok(())
}

/// Writes the programs' fds into the slots of every program array made
/// here. A slot whose program was not loaded (`--program` chose another)
/// stays empty, with a warning.
pub(crate) fn fill_prog_slots(
    decls: &[MapDecl],
    maps: &[ObjectMap],
    programs: &[ObjectProgram],
    warnings: &mut Vec<String>,
) -> Result<()> {
    for (d, m) in to_fill(decls, maps, |v| *v == MapValues::Programs) {
        for s in &d.slots {
            let Some(p) = programs.iter().find(|p| p.name == s.symbol) else {
                warnings.push(format!(
                    "map {}: slot {} stays empty: its program {} was not loaded",
                    d.name, s.index, s.symbol
                ));
                continue;
            };
            let what = format!("map {}, slot {} ({})", d.name, s.index, s.symbol);
            let why = "a program array takes programs of one type (the first stored decides)";
            set_slot(m, s.index, p.program.as_fd(), &what, why)?;
        }
    }
    Ok(())
}

/// Pins every map made here that asked for a pin by name; on a failure
/// the pins and directories made so far are removed again.
pub(crate) fn pin_new(maps: &[ObjectMap]) -> Result<()> {
    let mut pins: Vec<&Path> = Vec::new();
    let mut dirs: Vec<PathBuf> = Vec::new();
    let undo = |pins: &[&Path], dirs: &[PathBuf]| {
        for p in pins {
            let _ = pin::unpin(p);
        }
        for d in dirs.iter().rev() {
            let _ = std::fs::remove_dir(d);
        }
    };
    for m in maps {
        let Some(p) = m.pin.as_ref().filter(|p| !p.reused) else {
            continue;
        };
        let r = make_dirs(p.path.parent(), &mut dirs).and_then(|()| m.map.pin(&p.path));
        if let Err(e) = r {
            undo(&pins, &dirs);
            return Err(crate::load::about(
                e,
                &format!("map {}: pinning it by name", m.name),
            ));
        }
        pins.push(&p.path);
    }
    Ok(())
}

/// Creates `dir` and its missing parents, recording each one made (outermost
/// first) so that a failure can remove them.
fn make_dirs(dir: Option<&Path>, made: &mut Vec<PathBuf>) -> Result<()> {
    let Some(dir) = dir.filter(|d| !d.as_os_str().is_empty()) else {
        return Ok(());
    };
    let missing: Vec<&Path> = dir.ancestors().take_while(|a| !a.exists()).collect();
    for d in missing.into_iter().rev() {
        std::fs::create_dir(d)
            .map_err(|e| Error::io(format!("creating the directory {}", d.display()), e))?;
        made.push(d.to_path_buf());
    }
    Ok(())
}
