//! An index over the kernel's own BTF (`/sys/kernel/btf/vmlinux`), for the
//! path tracer: CO-RE done by hand.
//!
//! Field offsets, argument lists and enum values differ from kernel to
//! kernel (`net_device.ifindex` is 256 on 5.10 and 224 on 6.12;
//! `SKB_DROP_REASON_OTHERHOST` is 8, 12 or 13), so a tracer takes every one
//! from the running kernel's BTF instead of a table. This module answers:
//!
//! - [`Vmlinux::skb_functions`]: every FUNC whose FUNC_PROTO takes a
//!   `struct sk_buff *`, and at which argument position (fentry targets);
//! - [`Vmlinux::tracepoint`]: a raw tracepoint's `btf_trace_NAME` typedef
//!   (`typedef void (*btf_trace_NAME)(void *__data, ARGS...)`, see
//!   `include/trace/bpf_probe.h`) and its ARGS, the context of a `tp_btf`
//!   program;
//! - [`Vmlinux::member`]: a member's offset by path (`sk_buff.dev`,
//!   `net_device.nd_net.net`), through anonymous structs and unions, with
//!   bitfields decoded from kind_flag members;
//! - [`Vmlinux::enum_value`]: an enumerator by name.
//!
//! It parses bytes only: reading the file is the caller's business, so
//! `ebpf-asm` stays kernel-free.

use super::{Btf, BtfError, Kind, MemberOffset, Type, TypeData};
use std::collections::HashMap;
use std::fmt;

/// Why a lookup found nothing: the name that is missing and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookupError(pub String);

impl fmt::Display for LookupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "vmlinux BTF: {}", self.0)
    }
}

impl std::error::Error for LookupError {}

/// A kernel function taking a `struct sk_buff *`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkbFunc {
    pub name: String,
    /// The FUNC's type id: fentry's `attach_btf_id`.
    pub btf_id: u32,
    /// 0-based position of the first `struct sk_buff *` argument.
    pub arg: usize,
    /// How many arguments the function takes.
    pub nargs: usize,
}

/// One argument of a function or tracepoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arg {
    /// The parameter's name, "" when BTF has none (tracepoint typedefs).
    pub name: String,
    pub type_id: u32,
    /// The type spelt as C (`struct sk_buff *`, `enum skb_drop_reason`).
    pub c_type: String,
}

/// A raw tracepoint as BTF describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tracepoint {
    pub name: String,
    /// The `btf_trace_NAME` TYPEDEF's id: `attach_btf_id` of a `tp_btf`.
    pub btf_id: u32,
    /// The tracepoint's arguments, without the leading `void *__data`:
    /// argument i is the u64 at `ctx + 8 * i` of a `tp_btf` program.
    pub args: Vec<Arg>,
}

/// Where a member lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// Offset in bits from the start of the outermost struct.
    pub bit_offset: u32,
    /// Bitfield width, 0 for a plain member.
    pub bitfield_size: u32,
    /// The member's type id, and its size in bytes (for a bitfield, the
    /// size of the underlying integer type).
    pub type_id: u32,
    pub size: u32,
}

impl Field {
    /// Byte offset (of the byte holding the first bit, for a bitfield).
    pub fn byte_offset(&self) -> u32 {
        self.bit_offset / 8
    }

    /// How a program reads this member: a load of `size` bytes at
    /// `offset`, then `>> shift` and `& mask` for a bitfield. The load is the
    /// smallest that covers the bits, starting at the byte holding the first
    /// one (little-endian: bit n of a struct is bit n % 8 of byte n / 8).
    /// The verifier accepts such a byte load of a bitfield through a BTF
    /// pointer (`btf_struct_walk` in kernel/bpf/btf.c).
    pub fn access(&self) -> Access {
        if self.bitfield_size == 0 {
            return Access {
                offset: self.byte_offset(),
                size: self.size,
                shift: 0,
                mask: None,
            };
        }
        let shift = self.bit_offset % 8;
        let need = shift + self.bitfield_size;
        let size = [1, 2, 4, 8]
            .into_iter()
            .find(|s| s * 8 >= need)
            .unwrap_or(8);
        let mask = if self.bitfield_size >= 64 {
            u64::MAX
        } else {
            (1u64 << self.bitfield_size) - 1
        };
        Access {
            offset: self.byte_offset(),
            size,
            shift,
            mask: Some(mask),
        }
    }
}

/// A member read as instructions: `rX = *(uSIZE *)(base + offset)`, then
/// for a bitfield `rX >>= shift; rX &= mask`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    pub offset: u32,
    /// Bytes to load: 1, 2, 4 or 8 for scalars and pointers.
    pub size: u32,
    pub shift: u32,
    /// `None` for a plain member.
    pub mask: Option<u64>,
}

/// The index. Build it once per BTF blob; lookups are by name.
pub struct Vmlinux {
    btf: Btf,
    /// Named types by (kind, name), in id order.
    names: HashMap<(Kind, String), Vec<u32>>,
}

impl Vmlinux {
    /// Parse and index kernel BTF bytes (the contents of
    /// `/sys/kernel/btf/vmlinux`).
    pub fn parse(bytes: &[u8]) -> Result<Vmlinux, BtfError> {
        Ok(Vmlinux::new(Btf::parse(bytes)?))
    }

    /// Index vmlinux and a module's split BTF together
    /// (`/sys/kernel/btf/vmlinux` and `/sys/kernel/btf/MODULE`): the
    /// module's functions get the ids the kernel gives them.
    pub fn parse_with_module(vmlinux: &[u8], module: &[u8]) -> Result<Vmlinux, BtfError> {
        let base = Btf::parse(vmlinux)?;
        let split = Btf::parse_split(module, &base)?;
        Ok(Vmlinux::new(Btf::merge(&base, &split)))
    }

    pub fn new(btf: Btf) -> Vmlinux {
        let mut names: HashMap<(Kind, String), Vec<u32>> = HashMap::new();
        for (i, t) in btf.types.iter().enumerate() {
            let n = btf.name(t);
            if !n.is_empty() {
                names
                    .entry((t.kind(), n.to_string()))
                    .or_default()
                    .push(i as u32 + 1);
            }
        }
        Vmlinux { btf, names }
    }

    pub fn btf(&self) -> &Btf {
        &self.btf
    }

    /// The first type of `kind` named `name`.
    pub fn type_id(&self, kind: Kind, name: &str) -> Option<u32> {
        self.names
            .get(&(kind, name.to_string()))
            .and_then(|v| v.first().copied())
    }

    fn is_ptr_to_struct(&self, id: u32, name: &str) -> bool {
        let id = self.btf.skip_modifiers(id);
        let Some(TypeData::Ptr { ty }) = self.btf.type_by_id(id).map(|t| &t.data) else {
            return false;
        };
        let inner = self.btf.skip_modifiers(*ty);
        self.btf
            .type_by_id(inner)
            .is_some_and(|t| t.kind() == Kind::Struct && self.btf.name(t) == name)
    }

    fn proto_params(&self, proto: u32) -> Option<&[super::Param]> {
        match self.btf.type_by_id(proto).map(|t| &t.data) {
            Some(TypeData::FuncProto { params, .. }) => Some(params),
            _ => None,
        }
    }

    /// Every FUNC taking a pointer to `struct sk_buff`, in id order.
    pub fn skb_functions(&self) -> Vec<SkbFunc> {
        self.functions_taking("sk_buff")
    }

    /// Every FUNC taking a pointer to `struct STRUCT_NAME`, in id order.
    pub fn functions_taking(&self, struct_name: &str) -> Vec<SkbFunc> {
        let mut out = Vec::new();
        for (i, t) in self.btf.types.iter().enumerate() {
            let TypeData::Func { proto, .. } = t.data else {
                continue;
            };
            let Some(params) = self.proto_params(proto) else {
                continue;
            };
            if let Some(arg) = params
                .iter()
                .position(|p| self.is_ptr_to_struct(p.ty, struct_name))
            {
                out.push(SkbFunc {
                    name: self.btf.name(t).to_string(),
                    btf_id: i as u32 + 1,
                    arg,
                    nargs: params.len(),
                });
            }
        }
        out
    }

    /// A FUNC by name, with its arguments.
    pub fn function(&self, name: &str) -> Result<(u32, Vec<Arg>), LookupError> {
        let id = self
            .type_id(Kind::Func, name)
            .ok_or_else(|| LookupError(format!("no FUNC named {name}")))?;
        let Some(TypeData::Func { proto, .. }) = self.btf.type_by_id(id).map(|t| &t.data) else {
            return Err(LookupError(format!("{name} is not a FUNC")));
        };
        let params = self
            .proto_params(*proto)
            .ok_or_else(|| LookupError(format!("FUNC {name} has no FUNC_PROTO")))?;
        Ok((id, self.args(params)))
    }

    fn args(&self, params: &[super::Param]) -> Vec<Arg> {
        params
            .iter()
            .map(|p| Arg {
                name: self.btf.str_at(p.name_off).unwrap_or("").to_string(),
                type_id: p.ty,
                c_type: self.c_type(p.ty),
            })
            .collect()
    }

    /// The raw tracepoint NAME (`kfree_skb`, `net_dev_queue`), from its
    /// `btf_trace_NAME` typedef.
    pub fn tracepoint(&self, name: &str) -> Result<Tracepoint, LookupError> {
        let tname = format!("btf_trace_{name}");
        let id = self
            .type_id(Kind::Typedef, &tname)
            .ok_or_else(|| LookupError(format!("no tracepoint {name} (no TYPEDEF {tname})")))?;
        let bad = || LookupError(format!("{tname} is not a pointer to a FUNC_PROTO"));
        let t = self.btf.type_by_id(id).ok_or_else(bad)?;
        let ptr = t.referenced().ok_or_else(bad)?;
        let Some(TypeData::Ptr { ty: proto }) = self.btf.type_by_id(ptr).map(|t| &t.data) else {
            return Err(bad());
        };
        let params = self.proto_params(*proto).ok_or_else(bad)?;
        // The first parameter is the tracepoint's private `void *__data`.
        let args = self.args(params.get(1..).unwrap_or(&[]));
        Ok(Tracepoint {
            name: name.to_string(),
            btf_id: id,
            args,
        })
    }

    /// Every tracepoint with a `btf_trace_*` typedef, by name.
    pub fn tracepoint_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .names
            .keys()
            .filter(|(k, _)| *k == Kind::Typedef)
            .filter_map(|(_, n)| n.strip_prefix("btf_trace_").map(str::to_string))
            .collect();
        v.sort();
        v
    }

    /// A member by path: `STRUCT.member[.member...]`, e.g. `sk_buff.dev`,
    /// `net_device.nd_net.net`, `net.ns.inum`, `sk_buff.pkt_type`. Members
    /// of anonymous structs and unions are found as the C compiler finds
    /// them; a path step may go through a typedef'd struct.
    pub fn member(&self, path: &str) -> Result<Field, LookupError> {
        let mut parts = path.split('.');
        let root = parts.next().unwrap_or("");
        let mut id = self
            .type_id(Kind::Struct, root)
            .or_else(|| self.type_id(Kind::Union, root))
            .ok_or_else(|| LookupError(format!("no struct {root} (looking up {path})")))?;
        let mut bit_offset = 0u32;
        let mut last = None;
        for step in parts {
            let sid = self.btf.skip_modifiers(id);
            let f = self.find_member(sid, step, 0).ok_or_else(|| {
                LookupError(format!(
                    "{} has no member {step} (looking up {path})",
                    self.c_type(sid)
                ))
            })?;
            bit_offset += f.bit_offset;
            id = f.type_id;
            last = Some(f);
        }
        let f = last.ok_or_else(|| LookupError(format!("{path} names no member")))?;
        Ok(Field { bit_offset, ..f })
    }

    fn find_member(&self, sid: u32, name: &str, depth: u32) -> Option<Field> {
        if depth > 32 {
            return None;
        }
        let t = self.btf.type_by_id(sid)?;
        let (TypeData::Struct { members, .. } | TypeData::Union { members, .. }) = &t.data else {
            return None;
        };
        for m in members {
            let off = MemberOffset::decode(t.kind_flag, m.offset);
            let mname = self.btf.str_at(m.name_off).unwrap_or("");
            if mname == name {
                return Some(Field {
                    bit_offset: off.bit_offset,
                    bitfield_size: off.bitfield_size,
                    type_id: m.ty,
                    size: self.size_of(m.ty).unwrap_or(0),
                });
            }
            if mname.is_empty() {
                let inner = self.btf.skip_modifiers(m.ty);
                if let Some(f) = self.find_member(inner, name, depth + 1) {
                    return Some(Field {
                        bit_offset: off.bit_offset + f.bit_offset,
                        ..f
                    });
                }
            }
        }
        None
    }

    /// The size in bytes of a type (pointers are 8 bytes: vmlinux BTF on
    /// the 64-bit hosts this lab runs on).
    pub fn size_of(&self, id: u32) -> Option<u32> {
        self.size_of_depth(id, 0)
    }

    /// Bounded, so hostile BTF (an array of itself) cannot recurse forever.
    fn size_of_depth(&self, id: u32, depth: u32) -> Option<u32> {
        let mut id = id;
        for _ in 0..64 {
            let t = self.btf.type_by_id(id)?;
            match t.data {
                TypeData::Int { size, .. }
                | TypeData::Struct { size, .. }
                | TypeData::Union { size, .. }
                | TypeData::Enum { size, .. }
                | TypeData::Enum64 { size, .. }
                | TypeData::Float { size }
                | TypeData::Datasec { size, .. } => return Some(size),
                TypeData::Ptr { .. } => return Some(8),
                TypeData::Array { ty, nelems, .. } if depth < 16 => {
                    return self
                        .size_of_depth(ty, depth + 1)
                        .and_then(|s| s.checked_mul(nelems))
                }
                TypeData::Array { .. } => return None,
                _ => id = t.referenced()?,
            }
        }
        None
    }

    /// An enumerator's value by name, searched in ENUM and ENUM64 types
    /// (signed when the type's kind_flag says so).
    pub fn enum_value(&self, name: &str) -> Option<i64> {
        self.btf.types.iter().find_map(|t| self.value_in(t, name))
    }

    /// An enumerator of `enum ENUM_NAME`.
    pub fn enum_value_in(&self, enum_name: &str, name: &str) -> Result<i64, LookupError> {
        let id = self
            .type_id(Kind::Enum, enum_name)
            .or_else(|| self.type_id(Kind::Enum64, enum_name))
            .ok_or_else(|| LookupError(format!("no enum {enum_name}")))?;
        let t = self.btf.type_by_id(id).expect("indexed id exists");
        self.value_in(t, name)
            .ok_or_else(|| LookupError(format!("enum {enum_name} has no {name}")))
    }

    /// Every enumerator of `enum ENUM_NAME`, in declaration order.
    pub fn enum_values(&self, enum_name: &str) -> Result<Vec<(String, i64)>, LookupError> {
        let id = self
            .type_id(Kind::Enum, enum_name)
            .or_else(|| self.type_id(Kind::Enum64, enum_name))
            .ok_or_else(|| LookupError(format!("no enum {enum_name}")))?;
        let t = self.btf.type_by_id(id).expect("indexed id exists");
        let (TypeData::Enum { values, .. } | TypeData::Enum64 { values, .. }) = &t.data else {
            return Ok(Vec::new());
        };
        Ok(values
            .iter()
            .map(|v| {
                (
                    self.btf.str_at(v.name_off).unwrap_or("").to_string(),
                    enum_val(t, v.val),
                )
            })
            .collect())
    }

    fn value_in(&self, t: &Type, name: &str) -> Option<i64> {
        let (TypeData::Enum { values, .. } | TypeData::Enum64 { values, .. }) = &t.data else {
            return None;
        };
        values
            .iter()
            .find(|v| self.btf.str_at(v.name_off) == Some(name))
            .map(|v| enum_val(t, v.val))
    }

    /// A type spelt as C, as far as an argument list needs it.
    pub fn c_type(&self, id: u32) -> String {
        self.c_type_depth(id, 0)
    }

    fn c_type_depth(&self, id: u32, depth: u32) -> String {
        if id == 0 {
            return "void".into();
        }
        if depth > 16 {
            return "...".into();
        }
        let Some(t) = self.btf.type_by_id(id) else {
            return format!("<bad type {id}>");
        };
        let name = self.btf.name(t);
        let named = |tag: &str| {
            if name.is_empty() {
                format!("{tag} (anon)")
            } else {
                format!("{tag} {name}")
            }
        };
        match &t.data {
            TypeData::Struct { .. } => named("struct"),
            TypeData::Union { .. } => named("union"),
            TypeData::Enum { .. } | TypeData::Enum64 { .. } => named("enum"),
            TypeData::Fwd => named(if t.kind_flag { "union" } else { "struct" }),
            TypeData::Int { .. } | TypeData::Float { .. } | TypeData::Typedef { .. } => {
                name.to_string()
            }
            TypeData::Ptr { ty } => {
                let inner = self.c_type_depth(*ty, depth + 1);
                if inner.ends_with('*') {
                    format!("{inner}*")
                } else {
                    format!("{inner} *")
                }
            }
            TypeData::Const { ty } => format!("const {}", self.c_type_depth(*ty, depth + 1)),
            TypeData::Volatile { ty } => {
                format!("volatile {}", self.c_type_depth(*ty, depth + 1))
            }
            TypeData::Restrict { ty } | TypeData::TypeTag { ty } => {
                self.c_type_depth(*ty, depth + 1)
            }
            TypeData::Array { ty, nelems, .. } => {
                format!("{}[{nelems}]", self.c_type_depth(*ty, depth + 1))
            }
            TypeData::FuncProto { .. } => "function".into(),
            _ => format!("<{}>", t.kind()),
        }
    }
}

fn enum_val(t: &Type, v: u64) -> i64 {
    match (t.kind(), t.kind_flag) {
        (Kind::Enum, true) => v as u32 as i32 as i64,
        (Kind::Enum, false) => v as u32 as i64,
        _ => v as i64,
    }
}

/// A kernel module's split BTF (`/sys/kernel/btf/MODULE`), searched by
/// name without copying vmlinux's types: its ids continue after vmlinux's
/// last, and its names are in its own strings or, for names the module
/// shares, in vmlinux's (`Documentation/bpf/btf.rst`, "split BTF").
#[derive(Debug, Clone)]
pub struct ModuleBtf {
    split: Btf,
    /// vmlinux's type count: the module's first id is one more.
    base_types: u32,
    /// vmlinux's string section size: split names count from there.
    base_strings: u32,
    names: HashMap<(Kind, String), u32>,
}

impl ModuleBtf {
    /// Parse `bytes`, the split BTF of a module over `base` (vmlinux).
    pub fn parse(bytes: &[u8], base: &Vmlinux) -> Result<ModuleBtf, BtfError> {
        let split = Btf::parse_split(bytes, &base.btf)?;
        let base_types = base.btf.types.len() as u32;
        let base_strings = base.btf.strings.len() as u32;
        let mut names = HashMap::new();
        for (i, t) in split.types.iter().enumerate() {
            let name = if t.name_off >= base_strings {
                split.str_at(t.name_off - base_strings)
            } else {
                base.btf.str_at(t.name_off)
            };
            if let Some(n) = name.filter(|n| !n.is_empty()) {
                names
                    .entry((t.kind(), n.to_string()))
                    .or_insert(base_types + i as u32 + 1);
            }
        }
        Ok(ModuleBtf {
            split,
            base_types,
            base_strings,
            names,
        })
    }

    /// The kernel's id of the first type of `kind` named `name` in this
    /// module.
    pub fn type_id(&self, kind: Kind, name: &str) -> Option<u32> {
        self.names.get(&(kind, name.to_string())).copied()
    }

    /// The module's own types (ids from `first_id()`).
    pub fn split(&self) -> &Btf {
        &self.split
    }

    /// The id of the module's first type.
    pub fn first_id(&self) -> u32 {
        self.base_types + 1
    }

    /// Where the module's string offsets start (vmlinux's string size).
    pub fn string_base(&self) -> u32 {
        self.base_strings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitfield_access() {
        // pkt_type:3 at bit 1024 + 5 (byte 128, bits 5..8).
        let f = Field {
            bit_offset: 128 * 8 + 5,
            bitfield_size: 3,
            type_id: 1,
            size: 1,
        };
        let a = f.access();
        assert_eq!((a.offset, a.size, a.shift, a.mask), (128, 1, 5, Some(7)));
        // Straddling a byte boundary needs a 2-byte load.
        let f = Field {
            bit_offset: 6,
            bitfield_size: 4,
            ..f
        };
        assert_eq!(f.access().size, 2);
        let plain = Field {
            bit_offset: 16 * 8,
            bitfield_size: 0,
            type_id: 1,
            size: 8,
        };
        assert_eq!(plain.access().mask, None);
        assert_eq!((plain.access().offset, plain.access().size), (16, 8));
    }
}
