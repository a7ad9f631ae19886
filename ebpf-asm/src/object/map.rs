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
//!
//! A map of maps or a `BPF_MAP_TYPE_PROG_ARRAY` may end with
//! `__array(values, T)`, a flexible array of pointers (`typeof(T) *values[]`):
//! T is the inner maps' definition (a STRUCT read like the outer one) or a
//! function type (programs). `.values = { [i] = &sym }` initializes slots:
//! clang writes the pointers as `R_BPF_64_ABS64` relocations in `.rel.maps`,
//! which [`MapDecl::slots`] keeps as (index, symbol) pairs.

/// One `__uint(field, value)` of a map declaration, named as libbpf names
/// it (`type`, `key_size`, `value_size`, `max_entries`, `map_flags`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MapField {
    pub name: String,
    pub value: u32,
}

/// The fields a one-line declaration may set, in the order `.map` writes them.
pub const MAP_FIELDS: [&str; 5] = ["type", "key_size", "value_size", "max_entries", "map_flags"];

/// `LIBBPF_PIN_BY_NAME` (`tools/lib/bpf/libbpf.h`, `enum libbpf_pin_type`):
/// `__uint(pinning, LIBBPF_PIN_BY_NAME)` asks the loader to share the map
/// through a pin named after it. `LIBBPF_PIN_NONE` is 0.
pub const LIBBPF_PIN_BY_NAME: u32 = 1;

/// What the slots of a map of maps or of a program array hold, from its
/// `__array(values, T)` member.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MapValues {
    /// `__array(values, struct { ... })`: maps of this definition (the
    /// template the kernel checks every inner map against).
    Maps(Box<MapDecl>),
    /// `__array(values, int (void *))`: programs, for `bpf_tail_call`.
    Programs,
}

/// One slot of `.values = { [index] = &symbol }`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MapSlot {
    pub index: u32,
    /// A map of `.maps` ([`MapValues::Maps`]) or a program's function
    /// ([`MapValues::Programs`]).
    pub symbol: String,
}

/// A map declared in `.maps`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct MapDecl {
    /// The map's symbol (an `STT_OBJECT` in `.maps`).
    pub name: String,
    /// Offset of its entry in `.maps`.
    pub offset: u64,
    /// The fields, in declaration order (without `values`).
    pub fields: Vec<MapField>,
    /// The `__array(values, T)` member, when there is one (it is last).
    pub values: Option<MapValues>,
    /// The slots `.values = { ... }` fills, in index order.
    pub slots: Vec<MapSlot>,
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
    /// The declared `value_size`; with `__array(values, ...)`, 4 (a map
    /// fd or a program fd), as libbpf sets it.
    pub fn value_size(&self) -> Option<u32> {
        self.field("value_size").or(self.values.as_ref().map(|_| 4))
    }
    pub fn max_entries(&self) -> Option<u32> {
        self.field("max_entries")
    }
    pub fn map_flags(&self) -> Option<u32> {
        self.field("map_flags")
    }
    /// `__uint(pinning, ...)`: [`LIBBPF_PIN_BY_NAME`] or 0.
    pub fn pinning(&self) -> Option<u32> {
        self.field("pinning")
    }
}
