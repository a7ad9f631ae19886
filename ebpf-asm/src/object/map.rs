//! Map declarations: the BTF-defined maps of a `.maps` section, the way
//! libbpf reads them (`tools/lib/bpf/libbpf.c`, `parse_btf_map_def`).
//!
//! In C a map is `struct { __uint(type, T); __uint(max_entries, N); ... }
//! NAME SEC(".maps");`. Each `__uint(field, V)` is a pointer
//! `int (*field)[V]`, so the `.maps` entry is 8 zero bytes per field and the
//! values live only in BTF. A [`MapDecl`] keeps the fields in the order
//! written, so the BTF writer (`crate::btf`) can emit the struct clang would
//! emit for the same declaration, and the `.maps` entry is
//! [`MapDecl::entry_size`] zero bytes at [`MapDecl::offset`].

/// One `__uint(field, value)` of a map declaration, named as libbpf names
/// it (`type`, `key_size`, `value_size`, `max_entries`, `map_flags`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MapField {
    pub name: String,
    pub value: u32,
}

/// The fields a one-line declaration may set, in the order `.map` writes them.
pub const MAP_FIELDS: [&str; 5] = ["type", "key_size", "value_size", "max_entries", "map_flags"];

/// A map declared in `.maps`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MapDecl {
    /// The map's symbol (an `STT_OBJECT` in `.maps`).
    pub name: String,
    /// Offset of its entry in `.maps`.
    pub offset: u64,
    /// The fields, in declaration order.
    pub fields: Vec<MapField>,
}

impl MapDecl {
    /// The `.maps` entry size: one 8-byte pointer per field, as clang lays
    /// out `__uint` members.
    pub fn entry_size(&self) -> u64 {
        8 * self.fields.len() as u64
    }

    /// The value of field `name`, if declared.
    pub fn field(&self, name: &str) -> Option<u32> {
        self.fields.iter().find(|f| f.name == name).map(|f| f.value)
    }

    /// `BPF_MAP_TYPE_*` number (`include/uapi/linux/bpf.h`, `enum bpf_map_type`).
    pub fn map_type(&self) -> Option<u32> {
        self.field("type")
    }
    pub fn key_size(&self) -> Option<u32> {
        self.field("key_size")
    }
    pub fn value_size(&self) -> Option<u32> {
        self.field("value_size")
    }
    pub fn max_entries(&self) -> Option<u32> {
        self.field("max_entries")
    }
    pub fn map_flags(&self) -> Option<u32> {
        self.field("map_flags")
    }
}
