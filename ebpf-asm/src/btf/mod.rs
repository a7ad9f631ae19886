//! BTF, the BPF Type Format: a reader and an exactly inverse writer.
//!
//! The layout follows `include/uapi/linux/btf.h` (and the kernel's
//! `Documentation/bpf/btf.rst`): a [`Header`] (magic `0xeB9F`), then the type
//! section (one `struct btf_type` per type, each followed by its kind's
//! trailing records), then the string section (NUL-terminated names; offset 0
//! is the empty name). Type ids count from 1 in the order the types appear;
//! id 0 is `void`.
//!
//! [`Btf::parse`] never panics, on any bytes: every length and offset is
//! checked and a bad one is an error naming the byte offset. [`Btf::encode`]
//! writes back exactly the bytes that were parsed, so a reader and writer can
//! be tested against clang's objects byte for byte.
//!
//! - [`core`](self::core): CO-RE relocations resolved against kernel BTF and patched in (libbpf's `relo_core.c`);
//! - [`dump`]: BTF as `bpftool btf dump` prints it (Display);
//! - [`ext`]: `.BTF.ext` (func_info, line_info, CO-RE relocations), the ELF
//!   section libbpf and clang share (`tools/lib/bpf/libbpf_internal.h`);
//! - [`fixup`]: DATASEC sizes and offsets from the ELF, as libbpf does before loading;
//! - [`gen`]: the BTF our assembler writes for hand-written `.s` objects;
//! - [`vmlinux`]: an index over the kernel's own BTF for the path tracer.
//!
//! Only little-endian BTF is read: BPF objects and `/sys/kernel/btf/vmlinux`
//! on every host this lab runs on are little-endian.

pub mod core;
pub mod dump;
pub mod ext;
pub mod fixup;
pub mod gen;
pub mod vmlinux;

use bitflags::bitflags;
use byteorder::{ByteOrder, LittleEndian, ReadBytesExt, WriteBytesExt};
use std::fmt;
use std::io::Cursor;

/// `BTF_MAGIC` (btf.h), spelled as the header spells it.
#[allow(clippy::mixed_case_hex_literals)]
pub const BTF_MAGIC: u16 = 0xeB9F;
/// `BTF_VERSION` (btf.h).
pub const BTF_VERSION: u8 = 1;
/// `sizeof(struct btf_header)` (btf.h): the header this writer emits.
pub const BTF_HEADER_LEN: u32 = 24;
/// Bits of `btf_type.info` that carry meaning (kernel `BTF_INFO_MASK`):
/// vlen 0-15, kind 24-28, kind_flag 31. Any other bit set is refused.
const BTF_INFO_MASK: u32 = 0x9f00_ffff;
/// Bits of an INT's trailing u32 that carry meaning (kernel `BTF_INT_MASK`).
const BTF_INT_MASK: u32 = 0x0fff_ffff;

/// A BTF kind, `BTF_KIND_*` (btf.h), bits 24-28 of `btf_type.info`.
///
/// Kinds are a closed enumeration, not a flag set, so this is an enum whose
/// [`Kind::name`] is the kernel's name (what `bpftool btf dump` prints).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Kind {
    Int = 1,
    Ptr = 2,
    Array = 3,
    Struct = 4,
    Union = 5,
    Enum = 6,
    Fwd = 7,
    Typedef = 8,
    Volatile = 9,
    Const = 10,
    Restrict = 11,
    Func = 12,
    FuncProto = 13,
    Var = 14,
    Datasec = 15,
    Float = 16,
    DeclTag = 17,
    TypeTag = 18,
    Enum64 = 19,
}

impl Kind {
    /// `BTF_KIND_UNKN` (0) is not a type one can declare, so it has no variant.
    pub fn from_raw(k: u32) -> Option<Kind> {
        use Kind::*;
        Some(match k {
            1 => Int,
            2 => Ptr,
            3 => Array,
            4 => Struct,
            5 => Union,
            6 => Enum,
            7 => Fwd,
            8 => Typedef,
            9 => Volatile,
            10 => Const,
            11 => Restrict,
            12 => Func,
            13 => FuncProto,
            14 => Var,
            15 => Datasec,
            16 => Float,
            17 => DeclTag,
            18 => TypeTag,
            19 => Enum64,
            _ => return None,
        })
    }

    /// The kernel's name without `BTF_KIND_`, as `bpftool btf dump` prints it.
    pub fn name(self) -> &'static str {
        use Kind::*;
        match self {
            Int => "INT",
            Ptr => "PTR",
            Array => "ARRAY",
            Struct => "STRUCT",
            Union => "UNION",
            Enum => "ENUM",
            Fwd => "FWD",
            Typedef => "TYPEDEF",
            Volatile => "VOLATILE",
            Const => "CONST",
            Restrict => "RESTRICT",
            Func => "FUNC",
            FuncProto => "FUNC_PROTO",
            Var => "VAR",
            Datasec => "DATASEC",
            Float => "FLOAT",
            DeclTag => "DECL_TAG",
            TypeTag => "TYPE_TAG",
            Enum64 => "ENUM64",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

bitflags! {
    /// `BTF_INT_ENCODING` bits of an INT (btf.h: `BTF_INT_SIGNED`,
    /// `BTF_INT_CHAR`, `BTF_INT_BOOL`), printed by name.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct IntEncoding: u8 {
        const SIGNED = 1 << 0;
        const CHAR = 1 << 1;
        const BOOL = 1 << 2;
    }
}

/// `enum btf_func_linkage` (btf.h), the vlen of a FUNC.
pub const BTF_FUNC_STATIC: u16 = 0;
pub const BTF_FUNC_GLOBAL: u16 = 1;
pub const BTF_FUNC_EXTERN: u16 = 2;
/// `BTF_VAR_*` (btf.h), the linkage of a VAR.
pub const BTF_VAR_STATIC: u32 = 0;
pub const BTF_VAR_GLOBAL_ALLOCATED: u32 = 1;
pub const BTF_VAR_GLOBAL_EXTERN: u32 = 2;

/// `struct btf_member` (btf.h). With the owning type's kind_flag set,
/// `offset` packs a bitfield: size in bits 24-31, bit offset in bits 0-23
/// (`BTF_MEMBER_BITFIELD_SIZE`, `BTF_MEMBER_BIT_OFFSET`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    pub name_off: u32,
    pub ty: u32,
    pub offset: u32,
}

/// `struct btf_enum` / `struct btf_enum64` (btf.h), widened to 64 bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnumValue {
    pub name_off: u32,
    pub val: u64,
}

/// `struct btf_param` (btf.h).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param {
    pub name_off: u32,
    pub ty: u32,
}

/// `struct btf_var_secinfo` (btf.h).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VarSecinfo {
    pub ty: u32,
    pub offset: u32,
    pub size: u32,
}

/// What follows `struct btf_type` for each kind, with the size/type word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeData {
    /// `data` is the trailing u32: encoding bits 24-27, bit offset 16-23,
    /// bits 0-7 (`BTF_INT_ENCODING`, `BTF_INT_OFFSET`, `BTF_INT_BITS`).
    Int {
        size: u32,
        data: u32,
    },
    Ptr {
        ty: u32,
    },
    /// `struct btf_array`.
    Array {
        ty: u32,
        index_ty: u32,
        nelems: u32,
    },
    Struct {
        size: u32,
        members: Vec<Member>,
    },
    Union {
        size: u32,
        members: Vec<Member>,
    },
    /// kind_flag set means signed values.
    Enum {
        size: u32,
        values: Vec<EnumValue>,
    },
    /// kind_flag set means a union forward declaration.
    Fwd,
    Typedef {
        ty: u32,
    },
    Volatile {
        ty: u32,
    },
    Const {
        ty: u32,
    },
    Restrict {
        ty: u32,
    },
    /// `linkage` is the vlen: [`BTF_FUNC_STATIC`], [`BTF_FUNC_GLOBAL`]...
    Func {
        proto: u32,
        linkage: u16,
    },
    FuncProto {
        ret: u32,
        params: Vec<Param>,
    },
    /// `struct btf_var`.
    Var {
        ty: u32,
        linkage: u32,
    },
    Datasec {
        size: u32,
        vars: Vec<VarSecinfo>,
    },
    Float {
        size: u32,
    },
    /// `struct btf_decl_tag`: -1 tags the type itself, else a member/param.
    DeclTag {
        ty: u32,
        component_idx: i32,
    },
    TypeTag {
        ty: u32,
    },
    Enum64 {
        size: u32,
        values: Vec<EnumValue>,
    },
}

/// One type: `struct btf_type` and its trailing records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Type {
    pub name_off: u32,
    pub kind_flag: bool,
    pub data: TypeData,
}

impl Type {
    pub fn kind(&self) -> Kind {
        match &self.data {
            TypeData::Int { .. } => Kind::Int,
            TypeData::Ptr { .. } => Kind::Ptr,
            TypeData::Array { .. } => Kind::Array,
            TypeData::Struct { .. } => Kind::Struct,
            TypeData::Union { .. } => Kind::Union,
            TypeData::Enum { .. } => Kind::Enum,
            TypeData::Fwd => Kind::Fwd,
            TypeData::Typedef { .. } => Kind::Typedef,
            TypeData::Volatile { .. } => Kind::Volatile,
            TypeData::Const { .. } => Kind::Const,
            TypeData::Restrict { .. } => Kind::Restrict,
            TypeData::Func { .. } => Kind::Func,
            TypeData::FuncProto { .. } => Kind::FuncProto,
            TypeData::Var { .. } => Kind::Var,
            TypeData::Datasec { .. } => Kind::Datasec,
            TypeData::Float { .. } => Kind::Float,
            TypeData::DeclTag { .. } => Kind::DeclTag,
            TypeData::TypeTag { .. } => Kind::TypeTag,
            TypeData::Enum64 { .. } => Kind::Enum64,
        }
    }

    /// For PTR, TYPEDEF, the modifiers, FUNC, VAR and tags: the type referred to.
    pub fn referenced(&self) -> Option<u32> {
        match self.data {
            TypeData::Ptr { ty }
            | TypeData::Typedef { ty }
            | TypeData::Volatile { ty }
            | TypeData::Const { ty }
            | TypeData::Restrict { ty }
            | TypeData::TypeTag { ty }
            | TypeData::Var { ty, .. }
            | TypeData::DeclTag { ty, .. } => Some(ty),
            TypeData::Func { proto, .. } => Some(proto),
            _ => None,
        }
    }

    /// An INT's encoding bits, by name.
    pub fn int_encoding(&self) -> Option<IntEncoding> {
        match self.data {
            TypeData::Int { data, .. } => Some(IntEncoding::from_bits_retain((data >> 24) as u8)),
            _ => None,
        }
    }

    fn vlen(&self) -> usize {
        match &self.data {
            TypeData::Struct { members, .. } | TypeData::Union { members, .. } => members.len(),
            TypeData::Enum { values, .. } | TypeData::Enum64 { values, .. } => values.len(),
            TypeData::FuncProto { params, .. } => params.len(),
            TypeData::Datasec { vars, .. } => vars.len(),
            TypeData::Func { linkage, .. } => *linkage as usize,
            _ => 0,
        }
    }

    fn size_or_type(&self) -> u32 {
        match self.data {
            TypeData::Int { size, .. }
            | TypeData::Struct { size, .. }
            | TypeData::Union { size, .. }
            | TypeData::Enum { size, .. }
            | TypeData::Datasec { size, .. }
            | TypeData::Float { size }
            | TypeData::Enum64 { size, .. } => size,
            TypeData::Array { .. } | TypeData::Fwd => 0,
            TypeData::FuncProto { ret, .. } => ret,
            _ => self.referenced().unwrap_or(0),
        }
    }
}

/// `struct btf_header` (btf.h). Section offsets are relative to the end of
/// the header (`hdr_len`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub magic: u16,
    pub version: u8,
    pub flags: u8,
    pub hdr_len: u32,
    pub type_off: u32,
    pub type_len: u32,
    pub str_off: u32,
    pub str_len: u32,
}

/// A parsed BTF blob: its types (id = index + 1) and its string section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Btf {
    pub flags: u8,
    pub types: Vec<Type>,
    /// The raw string section; offset 0 is the empty name.
    pub strings: Vec<u8>,
}

/// Why bytes are not BTF: what, and at which byte offset of the blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BtfError {
    pub offset: usize,
    pub message: String,
}

impl fmt::Display for BtfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BTF at byte {:#x}: {}", self.offset, self.message)
    }
}

impl std::error::Error for BtfError {}

pub(crate) fn err<T>(offset: usize, message: impl Into<String>) -> Result<T, BtfError> {
    Err(BtfError {
        offset,
        message: message.into(),
    })
}

/// Reads little-endian u32s from a slice, erroring (not panicking) at its end.
pub(crate) struct Reader<'a> {
    cur: Cursor<&'a [u8]>,
    /// Offset of the slice within the whole blob, for error messages.
    base: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8], base: usize) -> Reader<'a> {
        Reader {
            cur: Cursor::new(bytes),
            base,
        }
    }
    pub(crate) fn pos(&self) -> usize {
        self.base + self.cur.position() as usize
    }
    pub(crate) fn remaining(&self) -> usize {
        self.cur.get_ref().len() - (self.cur.position() as usize).min(self.cur.get_ref().len())
    }
    pub(crate) fn u32(&mut self, what: &str) -> Result<u32, BtfError> {
        let at = self.pos();
        self.cur
            .read_u32::<LittleEndian>()
            .or_else(|_| err(at, format!("truncated: {what} needs 4 bytes")))
    }
}

impl Btf {
    /// An empty BTF (no types, the string section holding only the empty name).
    pub fn new() -> Btf {
        Btf {
            flags: 0,
            types: Vec::new(),
            strings: vec![0],
        }
    }

    /// Parse a BTF blob. Refuses, with the byte offset, what the kernel's
    /// `btf_parse_hdr`/`btf_check_all_metas` refuse structurally: a bad
    /// magic or version, sections out of bounds or not laid out as types
    /// then strings without gaps, unknown kinds or info bits, truncated
    /// records, names outside the string section.
    pub fn parse(bytes: &[u8]) -> Result<Btf, BtfError> {
        Btf::parse_with_base(bytes, None)
    }

    /// Parse split BTF, a kernel module's (`/sys/kernel/btf/MODULE`), over
    /// its base (vmlinux): its type ids continue after the base's last, and
    /// its name offsets count from the start of the base's strings
    /// (`Documentation/bpf/btf.rst`, "split BTF"). The result holds the
    /// split part alone, so it re-encodes to the same bytes; look names and
    /// types up in [`Btf::merge`] of the two.
    pub fn parse_split(bytes: &[u8], base: &Btf) -> Result<Btf, BtfError> {
        Btf::parse_with_base(bytes, Some(base))
    }

    /// One flat view of base and split BTF: the base's types then the
    /// split's (ids as the kernel numbers them), the base's strings then the
    /// split's (so split name offsets point at their names).
    pub fn merge(base: &Btf, split: &Btf) -> Btf {
        let mut m = base.clone();
        m.types.extend(split.types.iter().cloned());
        m.strings.extend_from_slice(&split.strings);
        m
    }

    fn parse_with_base(bytes: &[u8], base: Option<&Btf>) -> Result<Btf, BtfError> {
        let h = parse_header(bytes)?;
        let start = h.hdr_len as usize;
        let types_at = start + h.type_off as usize;
        let strs_at = start + h.str_off as usize;
        let types_end = types_at + h.type_len as usize;
        let strs_end = strs_at + h.str_len as usize;
        if h.type_off != 0 || h.str_off != h.type_len {
            return err(
                8,
                format!(
                    "sections must be types then strings without a gap (type_off {}, type_len {}, str_off {})",
                    h.type_off, h.type_len, h.str_off
                ),
            );
        }
        if strs_end != bytes.len() {
            return err(
                20,
                format!(
                    "header covers {} bytes but the blob has {}",
                    strs_end,
                    bytes.len()
                ),
            );
        }
        let strings = bytes[strs_at..strs_end].to_vec();
        // The kernel's btf_parse_str_sec: only a base's strings must start
        // with the empty name; every string section ends with a NUL.
        let first_ok = base.is_some() || strings.first().map_or(true, |&b| b == 0);
        if !first_ok || strings.last().is_some_and(|&b| b != 0) {
            return err(strs_at, "string section must start and end with a NUL byte");
        }
        let first_id = base.map_or(0, |b| b.types.len());
        let mut types = Vec::new();
        let mut r = Reader::new(&bytes[types_at..types_end], types_at);
        while r.remaining() > 0 {
            let t = parse_type(&mut r, first_id + types.len() + 1)?;
            types.push(t);
        }
        let btf = Btf {
            flags: h.flags,
            types,
            strings,
        };
        btf.check_names(types_at, base.map_or(0, |b| b.strings.len()), first_id)?;
        Ok(btf)
    }

    /// Every name offset must fall in the strings: the base's, then ours.
    fn check_names(&self, at: usize, base_str_len: usize, first_id: usize) -> Result<(), BtfError> {
        let total = base_str_len + self.strings.len();
        for (i, t) in self.types.iter().enumerate() {
            let mut offs = vec![t.name_off];
            match &t.data {
                TypeData::Struct { members, .. } | TypeData::Union { members, .. } => {
                    offs.extend(members.iter().map(|m| m.name_off))
                }
                TypeData::Enum { values, .. } | TypeData::Enum64 { values, .. } => {
                    offs.extend(values.iter().map(|v| v.name_off))
                }
                TypeData::FuncProto { params, .. } => {
                    offs.extend(params.iter().map(|p| p.name_off))
                }
                _ => {}
            }
            for o in offs {
                if o != 0 && o as usize >= total {
                    return err(
                        at,
                        format!(
                            "type [{}] names string offset {} beyond the {}-byte string section",
                            first_id + i + 1,
                            o,
                            total
                        ),
                    );
                }
            }
        }
        Ok(())
    }

    /// The bytes of this BTF: header, types, strings. Exactly inverse to
    /// [`Btf::parse`].
    pub fn encode(&self) -> Vec<u8> {
        let mut types = Vec::new();
        for t in &self.types {
            encode_type(t, &mut types);
        }
        let mut out =
            Vec::with_capacity(BTF_HEADER_LEN as usize + types.len() + self.strings.len());
        out.write_u16::<LittleEndian>(BTF_MAGIC).unwrap();
        out.push(BTF_VERSION);
        out.push(self.flags);
        for v in [
            BTF_HEADER_LEN,
            0,
            types.len() as u32,
            types.len() as u32,
            self.strings.len() as u32,
        ] {
            out.write_u32::<LittleEndian>(v).unwrap();
        }
        out.extend_from_slice(&types);
        out.extend_from_slice(&self.strings);
        out
    }

    /// The type with id `id` (1-based; 0 is void and has no entry).
    pub fn type_by_id(&self, id: u32) -> Option<&Type> {
        if id == 0 {
            return None;
        }
        self.types.get(id as usize - 1)
    }

    /// The NUL-terminated string at `off` of the string section, or `None`
    /// when it is out of range or not UTF-8.
    pub fn str_at(&self, off: u32) -> Option<&str> {
        let rest = self.strings.get(off as usize..)?;
        let end = rest.iter().position(|&b| b == 0)?;
        std::str::from_utf8(&rest[..end]).ok()
    }

    /// A type's name ("" for anonymous types or a bad offset).
    pub fn name(&self, t: &Type) -> &str {
        self.str_at(t.name_off).unwrap_or("")
    }

    /// Add `s` to the string section (reusing an existing copy) and return
    /// its offset. The empty string is offset 0.
    pub fn add_string(&mut self, s: &str) -> u32 {
        if s.is_empty() {
            return 0;
        }
        let needle: Vec<u8> = s.bytes().chain(std::iter::once(0)).collect();
        // A suffix of an existing string is as good, but only a whole one is
        // looked for: it keeps offsets stable and predictable for the reader.
        let mut off = 0usize;
        for part in self.strings.split_inclusive(|&b| b == 0) {
            if part == needle.as_slice() {
                return off as u32;
            }
            off += part.len();
        }
        let at = self.strings.len() as u32;
        self.strings.extend_from_slice(&needle);
        at
    }

    /// Append a type and return its id.
    pub fn add_type(&mut self, t: Type) -> u32 {
        self.types.push(t);
        self.types.len() as u32
    }

    /// Follow TYPEDEF, VOLATILE, CONST, RESTRICT and TYPE_TAG to the type
    /// beneath (bounded, so a cycle in hostile input cannot loop forever).
    pub fn skip_modifiers(&self, mut id: u32) -> u32 {
        for _ in 0..64 {
            match self.type_by_id(id).map(|t| &t.data) {
                Some(
                    TypeData::Typedef { ty }
                    | TypeData::Volatile { ty }
                    | TypeData::Const { ty }
                    | TypeData::Restrict { ty }
                    | TypeData::TypeTag { ty },
                ) => id = *ty,
                _ => return id,
            }
        }
        id
    }

    /// The ids of every type named `name` with kind `kind`.
    pub fn find(&self, kind: Kind, name: &str) -> Vec<u32> {
        self.types
            .iter()
            .enumerate()
            .filter(|(_, t)| t.kind() == kind && self.name(t) == name)
            .map(|(i, _)| i as u32 + 1)
            .collect()
    }
}

impl Default for Btf {
    fn default() -> Btf {
        Btf::new()
    }
}

/// The header of a BTF blob, checked against `bytes.len()`.
pub fn parse_header(bytes: &[u8]) -> Result<Header, BtfError> {
    if bytes.len() < BTF_HEADER_LEN as usize {
        return err(
            0,
            format!(
                "{} bytes is shorter than the 24-byte btf_header",
                bytes.len()
            ),
        );
    }
    let magic = LittleEndian::read_u16(&bytes[0..2]);
    if magic != BTF_MAGIC {
        let hint = if magic == BTF_MAGIC.swap_bytes() {
            " (big-endian BTF is not supported)"
        } else {
            ""
        };
        return err(0, format!("magic {magic:#06x} is not 0xeb9f{hint}"));
    }
    let u = |o: usize| LittleEndian::read_u32(&bytes[o..o + 4]);
    let h = Header {
        magic,
        version: bytes[2],
        flags: bytes[3],
        hdr_len: u(4),
        type_off: u(8),
        type_len: u(12),
        str_off: u(16),
        str_len: u(20),
    };
    if h.version != BTF_VERSION {
        return err(2, format!("version {} is not {BTF_VERSION}", h.version));
    }
    if h.hdr_len != BTF_HEADER_LEN {
        return err(4, format!("hdr_len {} is not {BTF_HEADER_LEN}", h.hdr_len));
    }
    let total = h.hdr_len as u64 + h.str_off as u64 + h.str_len as u64;
    let types_end = h.hdr_len as u64 + h.type_off as u64 + h.type_len as u64;
    if total > bytes.len() as u64 || types_end > bytes.len() as u64 {
        return err(
            8,
            format!(
                "sections end beyond the {}-byte blob (types end at {types_end}, strings at {total})",
                bytes.len()
            ),
        );
    }
    if h.type_len % 4 != 0 {
        return err(
            12,
            format!("type_len {} is not a multiple of 4", h.type_len),
        );
    }
    Ok(h)
}

fn parse_type(r: &mut Reader<'_>, id: usize) -> Result<Type, BtfError> {
    let at = r.pos();
    let name_off = r.u32("btf_type.name_off")?;
    let info = r.u32("btf_type.info")?;
    let size_or_type = r.u32("btf_type.size")?;
    if info & !BTF_INFO_MASK != 0 {
        return err(
            at + 4,
            format!("type [{id}]: info {info:#x} sets unused bits"),
        );
    }
    let vlen = (info & 0xffff) as usize;
    let kind_flag = info >> 31 == 1;
    let Some(kind) = Kind::from_raw((info >> 24) & 0x1f) else {
        return err(
            at + 4,
            format!("type [{id}]: unknown kind {}", (info >> 24) & 0x1f),
        );
    };
    // Each record has at least 4 bytes: refuse a vlen the section cannot hold
    // before allocating for it.
    let per = match kind {
        Kind::Struct | Kind::Union | Kind::Datasec | Kind::Enum64 => 12,
        Kind::Enum | Kind::FuncProto => 8,
        _ => 0,
    };
    if per * vlen > r.remaining() {
        return err(
            at,
            format!("type [{id}] {kind}: vlen {vlen} runs past the type section"),
        );
    }
    let no_vlen = |what: &str| -> Result<(), BtfError> {
        if vlen != 0 && kind != Kind::Func {
            return err(at + 4, format!("type [{id}] {what}: vlen {vlen} must be 0"));
        }
        Ok(())
    };
    let data = match kind {
        Kind::Int => {
            no_vlen("INT")?;
            let data = r.u32("INT data")?;
            if data & !BTF_INT_MASK != 0 {
                return err(
                    at + 12,
                    format!("type [{id}] INT: data {data:#x} sets unused bits"),
                );
            }
            TypeData::Int {
                size: size_or_type,
                data,
            }
        }
        Kind::Array => {
            no_vlen("ARRAY")?;
            if size_or_type != 0 {
                return err(
                    at + 8,
                    format!("type [{id}] ARRAY: size {size_or_type} must be 0"),
                );
            }
            TypeData::Array {
                ty: r.u32("btf_array.type")?,
                index_ty: r.u32("btf_array.index_type")?,
                nelems: r.u32("btf_array.nelems")?,
            }
        }
        Kind::Struct | Kind::Union => {
            let mut members = Vec::with_capacity(vlen);
            for _ in 0..vlen {
                members.push(Member {
                    name_off: r.u32("btf_member.name_off")?,
                    ty: r.u32("btf_member.type")?,
                    offset: r.u32("btf_member.offset")?,
                });
            }
            if kind == Kind::Struct {
                TypeData::Struct {
                    size: size_or_type,
                    members,
                }
            } else {
                TypeData::Union {
                    size: size_or_type,
                    members,
                }
            }
        }
        Kind::Enum => {
            let mut values = Vec::with_capacity(vlen);
            for _ in 0..vlen {
                let name_off = r.u32("btf_enum.name_off")?;
                let val = r.u32("btf_enum.val")?;
                values.push(EnumValue {
                    name_off,
                    val: val as u64,
                });
            }
            TypeData::Enum {
                size: size_or_type,
                values,
            }
        }
        Kind::Enum64 => {
            let mut values = Vec::with_capacity(vlen);
            for _ in 0..vlen {
                let name_off = r.u32("btf_enum64.name_off")?;
                let lo = r.u32("btf_enum64.val_lo32")?;
                let hi = r.u32("btf_enum64.val_hi32")?;
                values.push(EnumValue {
                    name_off,
                    val: (hi as u64) << 32 | lo as u64,
                });
            }
            TypeData::Enum64 {
                size: size_or_type,
                values,
            }
        }
        Kind::Fwd => {
            no_vlen("FWD")?;
            if size_or_type != 0 {
                return err(
                    at + 8,
                    format!("type [{id}] FWD: type {size_or_type} must be 0"),
                );
            }
            TypeData::Fwd
        }
        Kind::Ptr => {
            no_vlen("PTR")?;
            TypeData::Ptr { ty: size_or_type }
        }
        Kind::Typedef => {
            no_vlen("TYPEDEF")?;
            TypeData::Typedef { ty: size_or_type }
        }
        Kind::Volatile => {
            no_vlen("VOLATILE")?;
            TypeData::Volatile { ty: size_or_type }
        }
        Kind::Const => {
            no_vlen("CONST")?;
            TypeData::Const { ty: size_or_type }
        }
        Kind::Restrict => {
            no_vlen("RESTRICT")?;
            TypeData::Restrict { ty: size_or_type }
        }
        Kind::TypeTag => {
            no_vlen("TYPE_TAG")?;
            TypeData::TypeTag { ty: size_or_type }
        }
        Kind::Func => TypeData::Func {
            proto: size_or_type,
            linkage: vlen as u16,
        },
        Kind::FuncProto => {
            let mut params = Vec::with_capacity(vlen);
            for _ in 0..vlen {
                params.push(Param {
                    name_off: r.u32("btf_param.name_off")?,
                    ty: r.u32("btf_param.type")?,
                });
            }
            TypeData::FuncProto {
                ret: size_or_type,
                params,
            }
        }
        Kind::Var => {
            no_vlen("VAR")?;
            TypeData::Var {
                ty: size_or_type,
                linkage: r.u32("btf_var.linkage")?,
            }
        }
        Kind::Datasec => {
            let mut vars = Vec::with_capacity(vlen);
            for _ in 0..vlen {
                vars.push(VarSecinfo {
                    ty: r.u32("btf_var_secinfo.type")?,
                    offset: r.u32("btf_var_secinfo.offset")?,
                    size: r.u32("btf_var_secinfo.size")?,
                });
            }
            TypeData::Datasec {
                size: size_or_type,
                vars,
            }
        }
        Kind::Float => {
            no_vlen("FLOAT")?;
            TypeData::Float { size: size_or_type }
        }
        Kind::DeclTag => {
            no_vlen("DECL_TAG")?;
            TypeData::DeclTag {
                ty: size_or_type,
                component_idx: r.u32("btf_decl_tag.component_idx")? as i32,
            }
        }
    };
    Ok(Type {
        name_off,
        kind_flag,
        data,
    })
}

fn encode_type(t: &Type, out: &mut Vec<u8>) {
    let kind = t.kind();
    let info = (t.kind_flag as u32) << 31 | (kind as u32) << 24 | (t.vlen() as u32 & 0xffff);
    let mut w = |v: u32| out.write_u32::<LittleEndian>(v).unwrap();
    w(t.name_off);
    w(info);
    w(t.size_or_type());
    match &t.data {
        TypeData::Int { data, .. } => w(*data),
        TypeData::Array {
            ty,
            index_ty,
            nelems,
        } => {
            w(*ty);
            w(*index_ty);
            w(*nelems);
        }
        TypeData::Struct { members, .. } | TypeData::Union { members, .. } => {
            for m in members {
                w(m.name_off);
                w(m.ty);
                w(m.offset);
            }
        }
        TypeData::Enum { values, .. } => {
            for v in values {
                w(v.name_off);
                w(v.val as u32);
            }
        }
        TypeData::Enum64 { values, .. } => {
            for v in values {
                w(v.name_off);
                w(v.val as u32);
                w((v.val >> 32) as u32);
            }
        }
        TypeData::FuncProto { params, .. } => {
            for p in params {
                w(p.name_off);
                w(p.ty);
            }
        }
        TypeData::Var { linkage, .. } => w(*linkage),
        TypeData::Datasec { vars, .. } => {
            for v in vars {
                w(v.ty);
                w(v.offset);
                w(v.size);
            }
        }
        TypeData::DeclTag { component_idx, .. } => w(*component_idx as u32),
        _ => {}
    }
}

/// A member's place in its struct: byte offset plus, for a bitfield, the
/// bit offset within and the width. Decodes `btf_member.offset` the way
/// btf.h says, depending on the owning type's kind_flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberOffset {
    /// Offset in bits from the start of the struct.
    pub bit_offset: u32,
    /// Bitfield width in bits, 0 for a plain member.
    pub bitfield_size: u32,
}

impl MemberOffset {
    pub fn decode(kind_flag: bool, offset: u32) -> MemberOffset {
        if kind_flag {
            MemberOffset {
                bit_offset: offset & 0x00ff_ffff,
                bitfield_size: offset >> 24,
            }
        } else {
            MemberOffset {
                bit_offset: offset,
                bitfield_size: 0,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Btf {
        let mut b = Btf::new();
        let int = b.add_string("int");
        let s = b.add_string("s");
        let a = b.add_string("a");
        let i = b.add_type(Type {
            name_off: int,
            kind_flag: false,
            data: TypeData::Int {
                size: 4,
                data: (IntEncoding::SIGNED.bits() as u32) << 24 | 32,
            },
        });
        b.add_type(Type {
            name_off: s,
            kind_flag: true,
            data: TypeData::Struct {
                size: 4,
                members: vec![Member {
                    name_off: a,
                    ty: i,
                    offset: 3 << 24 | 5,
                }],
            },
        });
        b
    }

    #[test]
    fn round_trip_and_strings() {
        let b = sample();
        assert_eq!(b.clone().add_string("int"), 1);
        let bytes = b.encode();
        assert_eq!(&bytes[..2], &[0x9f, 0xeb]);
        let p = Btf::parse(&bytes).expect("parses");
        assert_eq!(p, b);
        assert_eq!(p.encode(), bytes);
        assert_eq!(p.name(&p.types[1]), "s");
        assert_eq!(p.types[0].int_encoding(), Some(IntEncoding::SIGNED));
        let TypeData::Struct { members, .. } = &p.types[1].data else {
            panic!("struct")
        };
        let m = MemberOffset::decode(true, members[0].offset);
        assert_eq!((m.bit_offset, m.bitfield_size), (5, 3));
    }

    #[test]
    fn errors_name_offsets() {
        let mut bytes = sample().encode();
        assert!(Btf::parse(&bytes[..10])
            .unwrap_err()
            .message
            .contains("shorter"));
        bytes[0] = 0;
        assert_eq!(Btf::parse(&bytes).unwrap_err().offset, 0);
        let mut bytes = sample().encode();
        bytes[24 + 7] = 0x1f; // kind 0x1f in the first type's info
        let e = Btf::parse(&bytes).unwrap_err();
        assert!(e.message.contains("unknown kind"), "{e}");
        assert_eq!(e.offset, 28);
        let bytes = sample().encode();
        assert!(Btf::parse(&bytes[..bytes.len() - 1]).is_err());
    }
}
