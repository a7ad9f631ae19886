//! Maps: `BPF_MAP_CREATE`, element lookup/update/delete, key iteration,
//! `BPF_MAP_FREEZE`, pinning, and map info.
//!
//! Follows the `BPF_MAP_*` sections of `include/uapi/linux/bpf.h`. Keys and
//! values are raw bytes of exactly `key_size` / `value_size`: the kernel
//! copies that many bytes from the user pointers, so a shorter slice would be
//! an out-of-bounds read; the loader checks sizes before every call.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

use crate::error::{too_old_hint, Error, Result, SysError};
use crate::prog::{next_ids, obj_info, obj_name};
use crate::sys::{self, cmd, BpfMapInfo, GetIdAttr, MapCreateAttr, MapElemAttr};
use crate::types::MapType;

/// `BPF_ANY` (include/uapi/linux/bpf.h): create or update an element.
pub const BPF_ANY: u64 = 0;
/// `BPF_NOEXIST`: create only.
pub const BPF_NOEXIST: u64 = 1;
/// `BPF_EXIST`: update only.
pub const BPF_EXIST: u64 = 2;

/// `BPF_F_RDONLY` (include/uapi/linux/bpf.h): read-only for user space.
pub const BPF_F_RDONLY: u32 = 1 << 3;
/// `BPF_F_RDONLY_PROG`: read-only for programs (what `.rodata` uses).
pub const BPF_F_RDONLY_PROG: u32 = 1 << 7;
/// `BPF_F_MMAPABLE`: the array can be mmap()ed (global data maps).
pub const BPF_F_MMAPABLE: u32 = 1 << 10;

bitflags::bitflags! {
    /// The `BPF_F_*` map creation flags (`include/uapi/linux/bpf.h`, the
    /// anonymous enum after `BPF_F_NO_PREALLOC`), so messages print them by
    /// name: see [`MapFlags::names`].
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct MapFlags: u32 {
        const NO_PREALLOC = 1 << 0;
        const NO_COMMON_LRU = 1 << 1;
        const NUMA_NODE = 1 << 2;
        const RDONLY = BPF_F_RDONLY;
        const WRONLY = 1 << 4;
        const STACK_BUILD_ID = 1 << 5;
        const ZERO_SEED = 1 << 6;
        const RDONLY_PROG = BPF_F_RDONLY_PROG;
        const WRONLY_PROG = 1 << 8;
        const CLONE = 1 << 9;
        const MMAPABLE = BPF_F_MMAPABLE;
        const PRESERVE_ELEMS = 1 << 11;
        const INNER_MAP = 1 << 12;
        const LINK = 1 << 13;
        const PATH_FD = 1 << 14;
        const VTYPE_BTF_OBJ_FD = 1 << 15;
        const TOKEN_FD = 1 << 16;
        const SEGV_ON_FAULT = 1 << 17;
        const NO_USER_CONV = 1 << 18;
    }
}

impl MapFlags {
    /// The kernel's names joined by `|` (`BPF_F_RDONLY_PROG|BPF_F_MMAPABLE`),
    /// unknown bits as hex, `0` for none.
    pub fn names(self) -> String {
        if self.is_empty() {
            return "0".into();
        }
        let mut parts: Vec<String> = self
            .iter_names()
            .map(|(n, _)| format!("BPF_F_{n}"))
            .collect();
        let unknown = self.bits() & !MapFlags::all().bits();
        if unknown != 0 {
            parts.push(format!("{unknown:#x}"));
        }
        parts.join("|")
    }
}

impl std::fmt::Display for MapFlags {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.names())
    }
}

/// How to create a map.
#[derive(Debug, Clone)]
pub struct MapSpec<'a> {
    /// The map type.
    pub map_type: MapType,
    /// Key size in bytes (4 for arrays).
    pub key_size: u32,
    /// Value size in bytes.
    pub value_size: u32,
    /// Capacity.
    pub max_entries: u32,
    /// `BPF_F_*` creation flags.
    pub flags: u32,
    /// Name, at most 15 bytes of `[A-Za-z0-9_.]`.
    pub name: &'a str,
}

/// A map. Dropping it closes the fd.
#[derive(Debug)]
pub struct Map {
    fd: OwnedFd,
    key_size: u32,
    value_size: u32,
    map_type: u32,
}

/// What `BPF_OBJ_GET_INFO_BY_FD` says about a map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapInfo {
    /// Kernel-wide map id.
    pub id: u32,
    /// Raw map type (see [`MapType::from_raw`]).
    pub map_type: u32,
    /// Name.
    pub name: String,
    /// Key size in bytes.
    pub key_size: u32,
    /// Value size in bytes.
    pub value_size: u32,
    /// Capacity.
    pub max_entries: u32,
    /// Creation flags.
    pub flags: u32,
}

fn elem_cmd_error(command: u32, e: &std::io::Error) -> Error {
    let name = cmd::name(command);
    let hint = match (command, e.raw_os_error()) {
        (_, Some(libc::ENOENT)) => "no element with that key".to_string(),
        (cmd::BPF_MAP_UPDATE_ELEM, Some(libc::EEXIST)) => {
            "the key exists and BPF_NOEXIST was given".into()
        }
        (cmd::BPF_MAP_UPDATE_ELEM, Some(libc::E2BIG)) => {
            "the map is full (max_entries reached), or the array index is out of range".into()
        }
        (cmd::BPF_MAP_DELETE_ELEM, Some(libc::EINVAL)) => {
            "elements of array maps cannot be deleted".into()
        }
        (cmd::BPF_MAP_UPDATE_ELEM, Some(libc::EPERM))
        | (cmd::BPF_MAP_DELETE_ELEM, Some(libc::EPERM)) => {
            "the map is frozen or read-only for user space (or this process lacks CAP_BPF)".into()
        }
        (cmd::BPF_MAP_FREEZE, Some(libc::EBUSY)) => {
            "the map is mmap()ed writable or already frozen".into()
        }
        _ => return SysError::new(name, e).into(),
    };
    SysError::with_hint(name, e, hint).into()
}

/// The BTF types of a map's key and value (`btf_fd`, `btf_key_type_id`,
/// `btf_value_type_id` of `BPF_MAP_CREATE`), so `bpftool map dump` prints
/// elements as their C types. A type id 0 means "not described".
#[derive(Debug, Clone, Copy)]
pub struct MapBtf<'a> {
    pub btf: BorrowedFd<'a>,
    pub key_type_id: u32,
    pub value_type_id: u32,
}

impl Map {
    /// `BPF_MAP_CREATE`.
    pub fn create(spec: &MapSpec<'_>) -> Result<Map> {
        Map::create_with_btf(spec, None)
    }

    /// `BPF_MAP_CREATE` of a map of maps (`ARRAY_OF_MAPS`, `HASH_OF_MAPS`):
    /// `inner` is the template (`inner_map_fd`) every map stored in it must
    /// match in type, key and value size and flags (`bpf_map_meta_equal`
    /// in `kernel/bpf/map_in_map.c`). The template may be closed afterwards:
    /// the kernel keeps a copy of its shape, not the map.
    pub fn create_of_maps(spec: &MapSpec<'_>, inner: BorrowedFd<'_>) -> Result<Map> {
        Map::create_attr(spec, None, Some(inner))
    }

    /// `BPF_MAP_CREATE` with the key and value described by BTF.
    pub fn create_with_btf(spec: &MapSpec<'_>, btf: Option<&MapBtf<'_>>) -> Result<Map> {
        Map::create_attr(spec, btf, None)
    }

    fn create_attr(
        spec: &MapSpec<'_>,
        btf: Option<&MapBtf<'_>>,
        inner: Option<BorrowedFd<'_>>,
    ) -> Result<Map> {
        crate::prog::prepare_memlock();
        let mut attr = MapCreateAttr {
            map_type: spec.map_type.raw(),
            key_size: spec.key_size,
            value_size: spec.value_size,
            max_entries: spec.max_entries,
            map_flags: spec.flags,
            map_name: obj_name(spec.name, "map")?,
            ..Default::default()
        };
        if let Some(b) = btf {
            attr.btf_fd = b.btf.as_raw_fd() as u32;
            attr.btf_key_type_id = b.key_type_id;
            attr.btf_value_type_id = b.value_type_id;
        }
        if let Some(fd) = inner {
            attr.inner_map_fd = fd.as_raw_fd() as u32;
        }
        let fd = sys::bpf_fd(cmd::BPF_MAP_CREATE, &mut attr).map_err(|e| {
            let hint = too_old_hint(spec.map_type.kernel_name(), spec.map_type.since())
                .unwrap_or_else(|| {
                    format!(
                        "the kernel refused {} key_size={} value_size={} max_entries={} \
                         flags={} (sizes must suit the type: arrays need 4-byte keys, no size \
                         may be 0; ring buffers need key and value 0 and a power-of-two \
                         max_entries of whole pages)",
                        spec.map_type,
                        spec.key_size,
                        spec.value_size,
                        spec.max_entries,
                        MapFlags::from_bits_retain(spec.flags)
                    )
                });
            SysError::with_hint("BPF_MAP_CREATE", &e, hint)
        })?;
        Ok(Map {
            fd,
            key_size: spec.key_size,
            value_size: spec.value_size,
            map_type: spec.map_type.raw(),
        })
    }

    /// Wraps a map fd (from a pin or an id), reading its sizes from the kernel.
    pub fn from_fd(fd: OwnedFd) -> Result<Map> {
        let info = map_info(fd.as_fd())?;
        Ok(Map {
            fd,
            key_size: info.key_size,
            value_size: info.value_size,
            map_type: info.map_type,
        })
    }

    /// Opens a pinned map.
    pub fn from_pin(path: impl AsRef<Path>) -> Result<Map> {
        let fd = crate::pin::get(path.as_ref())?;
        if crate::pin::obj_kind(fd.as_fd()) != Some(crate::pin::ObjKind::Map) {
            return Err(Error::Input(format!(
                "{} is pinned but is not a BPF map",
                path.as_ref().display()
            )));
        }
        Map::from_fd(fd)
    }

    /// Opens a map by id (`BPF_MAP_GET_FD_BY_ID`).
    pub fn from_id(id: u32) -> Result<Map> {
        let mut attr = GetIdAttr {
            start_id: id,
            ..Default::default()
        };
        let fd = sys::bpf_fd(cmd::BPF_MAP_GET_FD_BY_ID, &mut attr).map_err(|e| {
            SysError::with_hint("BPF_MAP_GET_FD_BY_ID", &e, format!("no map with id {id}"))
        })?;
        Map::from_fd(fd)
    }

    /// Ids of every map in the kernel (`BPF_MAP_GET_NEXT_ID`).
    pub fn ids() -> Result<Vec<u32>> {
        next_ids(cmd::BPF_MAP_GET_NEXT_ID)
    }

    /// Key size in bytes.
    pub fn key_size(&self) -> u32 {
        self.key_size
    }

    /// Value size in bytes.
    pub fn value_size(&self) -> u32 {
        self.value_size
    }

    /// Raw map type.
    pub fn map_type(&self) -> u32 {
        self.map_type
    }

    fn check(&self, what: &str, got: usize, want: u32) -> Result<()> {
        if got != want as usize {
            return Err(Error::Input(format!(
                "map {what} is {got} bytes; this map's {what} size is {want}"
            )));
        }
        Ok(())
    }

    fn elem(&self, command: u32, key: u64, value: u64, flags: u64) -> Result<()> {
        let mut attr = MapElemAttr {
            map_fd: self.fd.as_raw_fd() as u32,
            key,
            value_or_next_key: value,
            flags,
            ..Default::default()
        };
        sys::bpf(command, &mut attr).map_err(|e| elem_cmd_error(command, &e))?;
        Ok(())
    }

    /// `BPF_MAP_LOOKUP_ELEM`: the value for `key`, or `None` if absent.
    pub fn lookup(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.check("key", key.len(), self.key_size)?;
        let mut value = vec![0u8; self.value_size as usize];
        match self.elem(
            cmd::BPF_MAP_LOOKUP_ELEM,
            key.as_ptr() as u64,
            value.as_mut_ptr() as u64,
            0,
        ) {
            Ok(()) => Ok(Some(value)),
            Err(e) if e.errno() == Some(libc::ENOENT) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `BPF_MAP_UPDATE_ELEM` with `flags` ([`BPF_ANY`], [`BPF_NOEXIST`],
    /// [`BPF_EXIST`]).
    pub fn update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<()> {
        self.check("key", key.len(), self.key_size)?;
        self.check("value", value.len(), self.value_size)?;
        self.elem(
            cmd::BPF_MAP_UPDATE_ELEM,
            key.as_ptr() as u64,
            value.as_ptr() as u64,
            flags,
        )
    }

    /// `BPF_MAP_DELETE_ELEM`. Returns false when the key was absent.
    pub fn delete(&self, key: &[u8]) -> Result<bool> {
        self.check("key", key.len(), self.key_size)?;
        match self.elem(cmd::BPF_MAP_DELETE_ELEM, key.as_ptr() as u64, 0, 0) {
            Ok(()) => Ok(true),
            Err(e) if e.errno() == Some(libc::ENOENT) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// `BPF_MAP_GET_NEXT_KEY`: the key after `key` (`None` = the first key),
    /// or `None` at the end.
    pub fn next_key(&self, key: Option<&[u8]>) -> Result<Option<Vec<u8>>> {
        if let Some(k) = key {
            self.check("key", k.len(), self.key_size)?;
        }
        let mut next = vec![0u8; self.key_size as usize];
        let kptr = key.map(|k| k.as_ptr() as u64).unwrap_or(0);
        match self.elem(cmd::BPF_MAP_GET_NEXT_KEY, kptr, next.as_mut_ptr() as u64, 0) {
            Ok(()) => Ok(Some(next)),
            Err(e) if e.errno() == Some(libc::ENOENT) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every key, by repeated `BPF_MAP_GET_NEXT_KEY`. Bounded by
    /// `max_entries + 1` steps so a map changing underneath cannot loop us.
    pub fn keys(&self) -> Result<Vec<Vec<u8>>> {
        let limit = map_info(self.fd.as_fd())?.max_entries as usize + 1;
        let mut keys = Vec::new();
        let mut cur: Option<Vec<u8>> = None;
        while keys.len() < limit {
            match self.next_key(cur.as_deref())? {
                Some(k) => {
                    keys.push(k.clone());
                    cur = Some(k);
                }
                None => break,
            }
        }
        Ok(keys)
    }

    /// `BPF_MAP_FREEZE`: no more writes from user space (programs may still
    /// write unless the map is `BPF_F_RDONLY_PROG`).
    pub fn freeze(&self) -> Result<()> {
        self.elem(cmd::BPF_MAP_FREEZE, 0, 0, 0)
    }

    /// `BPF_OBJ_GET_INFO_BY_FD` on this map.
    pub fn info(&self) -> Result<MapInfo> {
        map_info(self.fd.as_fd())
    }

    /// Pins the map at `path` on bpffs.
    pub fn pin(&self, path: impl AsRef<Path>) -> Result<()> {
        crate::pin::pin(self.fd.as_fd(), path.as_ref())
    }
}

impl AsFd for Map {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// `BPF_OBJ_GET_INFO_BY_FD` for a map fd.
pub fn map_info(fd: BorrowedFd<'_>) -> Result<MapInfo> {
    let mut info = BpfMapInfo::default();
    obj_info(fd, &mut info)?;
    let end = info
        .name
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(info.name.len());
    Ok(MapInfo {
        id: info.id,
        map_type: info.type_,
        name: String::from_utf8_lossy(&info.name[..end]).into_owned(),
        key_size: info.key_size,
        value_size: info.value_size,
        max_entries: info.max_entries,
        flags: info.map_flags,
    })
}
