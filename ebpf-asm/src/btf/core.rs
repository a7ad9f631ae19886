//! CO-RE ("compile once, run everywhere") relocations: resolving clang's
//! `struct bpf_core_relo` records against the running kernel's BTF, and
//! patching the instructions they name.
//!
//! The record and `enum bpf_core_relo_kind` are uapi
//! (`include/uapi/linux/bpf.h`); the resolution rules are libbpf's
//! (`tools/lib/bpf/relo_core.c`, which the kernel also builds for
//! `BPF_PROG_LOAD` with `core_relos`). Functions carry libbpf's names in
//! their doc comments (`bpf_core_parse_spec`, `bpf_core_spec_match`, ...) so
//! a reader can compare the two; the code is written from the semantics.
//!
//! One relocation is resolved in four steps:
//!
//! 1. **Parse the local spec** ([`Spec`]). The access string, `"0:1:2"`, is
//!    a list of indices: the first indexes the root pointer as an array
//!    (`p->x` is `p[0].x`), each next one a member of a struct/union or an
//!    element of an array. Bit offsets accumulate along the way. Anonymous
//!    members are walked through but only named members and array indices
//!    are "turning points" that must be found again in the target. Type
//!    relocations have the access string `"0"`; enumerator relocations a
//!    single index, the enumerator's position in the local enum.
//! 2. **Find candidates**: target types of a compatible kind (the same, or
//!    ENUM with ENUM64) whose *essential name* equals the local root's: the
//!    name up to a `___flavor` suffix (`s___v2` is a candidate for `s`).
//! 3. **Match** each candidate: named members by exact name, searching
//!    through the target's anonymous struct/union members; array indices
//!    within bounds (a zero-length last member is a flexible array); each
//!    matched member's type compatible with the local one
//!    ([`fields_are_compat`]). Type relocations use
//!    [`types_are_compat`], or the stricter [`types_match`] for
//!    `TYPE_MATCHES`; enumerators match by essential name.
//! 4. **Compute** the value for the local and each matching target spec.
//!    All matching candidates must agree (same bit offset, same value), else
//!    the relocation is ambiguous and refused, naming the candidates.
//!
//! When no candidate matches, existence checks and type relocations resolve
//! to 0; every other kind "poisons" its instruction: [`patch`] turns it into
//! a call to helper `0xbad2310`, which the verifier refuses only if the
//! instruction is reachable, so `if (bpf_core_field_exists(..))` guards work.
//!
//! Bitfield offsets and shifts are computed for little-endian targets only,
//! as the rest of this crate's BTF reader assumes.

use super::{Btf, Kind, MemberOffset, Type, TypeData};
use crate::btf::ext::CoreRelo;
use crate::btf::vmlinux::Vmlinux;
use std::fmt;

/// `BPF_CORE_SPEC_MAX_LEN` (libbpf's `relo_core.h`): the deepest access
/// string (and nesting walked to match one) accepted.
const BPF_CORE_SPEC_MAX_LEN: usize = 64;
/// Recursion budget for type comparisons, as libbpf's (32 levels).
const MAX_DEPTH: u32 = 32;
/// The helper id poisoned instructions call: libbpf's `0xbad2310` ("bad
/// relo"); the verifier reports it as `invalid func unknown#195896080`.
pub const POISON_HELPER_ID: i32 = 0xbad2310;

/// `enum bpf_core_relo_kind` (include/uapi/linux/bpf.h).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u32)]
pub enum CoreReloKind {
    FieldByteOffset = 0,
    FieldByteSize = 1,
    FieldExists = 2,
    FieldSigned = 3,
    FieldLshiftU64 = 4,
    FieldRshiftU64 = 5,
    TypeIdLocal = 6,
    TypeIdTarget = 7,
    TypeExists = 8,
    TypeSize = 9,
    EnumvalExists = 10,
    EnumvalValue = 11,
    TypeMatches = 12,
}

impl CoreReloKind {
    pub fn from_raw(kind: u32) -> Option<CoreReloKind> {
        use CoreReloKind::*;
        Some(match kind {
            0 => FieldByteOffset,
            1 => FieldByteSize,
            2 => FieldExists,
            3 => FieldSigned,
            4 => FieldLshiftU64,
            5 => FieldRshiftU64,
            6 => TypeIdLocal,
            7 => TypeIdTarget,
            8 => TypeExists,
            9 => TypeSize,
            10 => EnumvalExists,
            11 => EnumvalValue,
            12 => TypeMatches,
            _ => return None,
        })
    }

    /// The kernel's enumerator name.
    pub fn name(self) -> &'static str {
        use CoreReloKind::*;
        match self {
            FieldByteOffset => "BPF_CORE_FIELD_BYTE_OFFSET",
            FieldByteSize => "BPF_CORE_FIELD_BYTE_SIZE",
            FieldExists => "BPF_CORE_FIELD_EXISTS",
            FieldSigned => "BPF_CORE_FIELD_SIGNED",
            FieldLshiftU64 => "BPF_CORE_FIELD_LSHIFT_U64",
            FieldRshiftU64 => "BPF_CORE_FIELD_RSHIFT_U64",
            TypeIdLocal => "BPF_CORE_TYPE_ID_LOCAL",
            TypeIdTarget => "BPF_CORE_TYPE_ID_TARGET",
            TypeExists => "BPF_CORE_TYPE_EXISTS",
            TypeSize => "BPF_CORE_TYPE_SIZE",
            EnumvalExists => "BPF_CORE_ENUMVAL_EXISTS",
            EnumvalValue => "BPF_CORE_ENUMVAL_VALUE",
            TypeMatches => "BPF_CORE_TYPE_MATCHES",
        }
    }

    fn is_field(self) -> bool {
        (self as u32) <= CoreReloKind::FieldRshiftU64 as u32
    }

    fn is_type(self) -> bool {
        use CoreReloKind::*;
        matches!(
            self,
            TypeIdLocal | TypeIdTarget | TypeExists | TypeSize | TypeMatches
        )
    }

    fn is_enumval(self) -> bool {
        matches!(
            self,
            CoreReloKind::EnumvalExists | CoreReloKind::EnumvalValue
        )
    }
}

impl fmt::Display for CoreReloKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a relocation resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreResult {
    pub kind: CoreReloKind,
    /// The value computed from the object's own BTF: what the compiler put
    /// in the instruction.
    pub local: u64,
    /// The value for the target; `None` when no candidate matched and the
    /// instruction must be poisoned. Existence checks and type relocations
    /// never poison: they get `Some(0)`.
    pub target: Option<u64>,
    /// For `FIELD_BYTE_OFFSET`: the target field's byte size when it differs
    /// from the local one, so a load/store must change width.
    pub new_size: Option<u32>,
    /// Readable account of the match, for logs and errors.
    pub spec: String,
    /// For `FIELD_BYTE_OFFSET`: the local field's byte size (0 for a
    /// bitfield), which a memory instruction's width must equal before it is
    /// resized.
    pub local_size: Option<u32>,
    /// Whether [`patch`] checks the instruction against `local`. Off, as in
    /// libbpf, for type ids (linking renumbers them) and for bitfield
    /// offsets and sizes (the compiler may pick another load unit).
    pub validate: bool,
    /// libbpf's `fail_memsz_adjust`: the width would have to change, but
    /// the field is neither a pointer nor an unsigned integer on both sides,
    /// so a resized load would read a wrong value. Memory instructions are
    /// then poisoned; ALU ones still take the offset.
    pub fail_memsz_adjust: bool,
}

/// Why a relocation cannot be resolved or applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreError(pub String);

impl fmt::Display for CoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CO-RE: {}", self.0)
    }
}

impl std::error::Error for CoreError {}

fn fail<T>(msg: impl Into<String>) -> Result<T, CoreError> {
    Err(CoreError(msg.into()))
}

/// `struct bpf_core_accessor`: a turning point of an access: a named member
/// (`name` set, `idx` its position in `type_id`'s members) or an array
/// index (`idx` the element, `type_id` the element type).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Accessor {
    type_id: u32,
    idx: u32,
    name: Option<String>,
}

/// `struct bpf_core_spec`: an access resolved in one BTF.
#[derive(Debug, Clone)]
struct Spec<'a> {
    btf: &'a Btf,
    root_type_id: u32,
    kind: CoreReloKind,
    /// The high-level accessors.
    spec: Vec<Accessor>,
    /// Every index walked, anonymous members included (the access string
    /// this spec corresponds to).
    raw_spec: Vec<u32>,
    /// From the start of the root object, in bits.
    bit_offset: u64,
}

impl<'a> Spec<'a> {
    fn new(btf: &'a Btf, root: u32, kind: CoreReloKind) -> Spec<'a> {
        Spec {
            btf,
            root_type_id: root,
            kind,
            spec: Vec::new(),
            raw_spec: Vec::new(),
            bit_offset: 0,
        }
    }

    fn raw_str(&self) -> String {
        self.raw_spec
            .iter()
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(":")
    }

    /// C-like view: `struct s.a.b[3] (0:1:0:3) @ offset 12`, or the
    /// enumerator, or just the type.
    fn describe(&self) -> String {
        let mut s = match self.btf.type_by_id(self.root_type_id) {
            Some(t) => {
                let n = self.btf.name(t);
                let n = if n.is_empty() { "<anon>" } else { n };
                format!("{} {n}", t.kind().name().to_lowercase())
            }
            None => format!("<no type> [{}]", self.root_type_id),
        };
        if self.kind.is_enumval() {
            if let Some(a) = self.spec.first() {
                let v = enum_value(self.btf, a.type_id, a.idx)
                    .map_or("?".to_string(), |v| v.to_string());
                s += &format!("::{} = {v}", a.name.as_deref().unwrap_or("?"));
            }
        } else if self.kind.is_field() {
            for (i, a) in self.spec.iter().enumerate() {
                match &a.name {
                    Some(n) => s += &format!(".{n}"),
                    None if i > 0 || a.idx > 0 => s += &format!("[{}]", a.idx),
                    None => {}
                }
            }
            s += &format!(" ({})", self.raw_str());
            if self.bit_offset % 8 != 0 {
                s += &format!(" @ bit offset {}", self.bit_offset);
            } else {
                s += &format!(" @ offset {}", self.bit_offset / 8);
            }
        }
        s + &format!(" [{}]", self.root_type_id)
    }
}

/// `"struct s [3]"`: kind, name and id, for messages.
fn type_label(btf: &Btf, id: u32) -> String {
    match btf.type_by_id(id) {
        Some(t) => {
            let n = btf.name(t);
            let n = if n.is_empty() { "<anon>" } else { n };
            format!("{} {n} [{id}]", t.kind().name().to_lowercase())
        }
        None if id == 0 => "void [0]".to_string(),
        None => format!("<no type> [{id}]"),
    }
}

/// `bpf_core_essential_name_len`: a name without its `___flavor` suffix.
/// The suffix starts at the last `___` that has a non-underscore on either
/// side, so `a___b___c` is `a___b` and `__x___` has none.
pub fn essential_name(name: &str) -> &str {
    let b = name.as_bytes();
    if b.len() >= 5 {
        for i in (0..=b.len() - 5).rev() {
            if b[i] != b'_' && &b[i + 1..i + 4] == b"___" && b[i + 4] != b'_' {
                return &name[..i + 1];
            }
        }
    }
    name
}

/// `skip_mods_and_typedefs`: the id beneath typedefs and modifiers, and its
/// type (`None` for void or an id out of range).
fn skip_mods(btf: &Btf, id: u32) -> (u32, Option<&Type>) {
    let id = btf.skip_modifiers(id);
    (id, btf.type_by_id(id))
}

fn is_composite(t: &Type) -> bool {
    matches!(t.kind(), Kind::Struct | Kind::Union)
}

fn is_any_enum(t: &Type) -> bool {
    matches!(t.kind(), Kind::Enum | Kind::Enum64)
}

/// `btf_kind_core_compat`: the same kind, or ENUM and ENUM64. Void (no
/// entry) is compatible only with void.
fn kind_core_compat(a: Option<&Type>, b: Option<&Type>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => a.kind() == b.kind() || (is_any_enum(a) && is_any_enum(b)),
        _ => false,
    }
}

fn members(t: &Type) -> &[super::Member] {
    match &t.data {
        TypeData::Struct { members, .. } | TypeData::Union { members, .. } => members,
        _ => &[],
    }
}

fn member_offset(t: &Type, idx: usize) -> MemberOffset {
    MemberOffset::decode(t.kind_flag, members(t).get(idx).map_or(0, |m| m.offset))
}

/// An INT's `BTF_INT_OFFSET` (bits 16-23 of its data), for the deprecated
/// bitfield-like integers the compatibility rules refuse.
fn int_offset(t: &Type) -> u32 {
    match t.data {
        TypeData::Int { data, .. } => (data >> 16) & 0xff,
        _ => 0,
    }
}

/// `btf__resolve_size`: a type's size in bytes, through typedefs,
/// modifiers and arrays (pointers are 8 bytes: BPF is 64-bit).
fn resolve_size(btf: &Btf, id: u32) -> Result<u64, CoreError> {
    let mut id = id;
    let mut mult: u64 = 1;
    for _ in 0..MAX_DEPTH * 2 {
        let Some(t) = btf.type_by_id(id) else {
            return fail(format!("cannot size {}", type_label(btf, id)));
        };
        let size = match &t.data {
            TypeData::Int { size, .. }
            | TypeData::Struct { size, .. }
            | TypeData::Union { size, .. }
            | TypeData::Enum { size, .. }
            | TypeData::Enum64 { size, .. }
            | TypeData::Float { size }
            | TypeData::Datasec { size, .. } => *size as u64,
            TypeData::Ptr { .. } => 8,
            TypeData::Array { ty, nelems, .. } => {
                mult = mult.saturating_mul(*nelems as u64);
                id = *ty;
                continue;
            }
            TypeData::Typedef { ty }
            | TypeData::Volatile { ty }
            | TypeData::Const { ty }
            | TypeData::Restrict { ty }
            | TypeData::TypeTag { ty }
            | TypeData::Var { ty, .. }
            | TypeData::DeclTag { ty, .. } => {
                id = *ty;
                continue;
            }
            _ => return fail(format!("cannot size {}", type_label(btf, id))),
        };
        return match size.checked_mul(mult) {
            Some(s) if s <= u32::MAX as u64 => Ok(s),
            _ => fail(format!("size of {} overflows", type_label(btf, id))),
        };
    }
    fail(format!("type chain too deep sizing [{id}]"))
}

/// The value of enumerator `idx` of `id` (skipping typedefs), as libbpf
/// reads it: an ENUM's 32-bit value sign-extended (`btf_enum.val` is
/// `__s32`), an ENUM64's as is.
fn enum_value(btf: &Btf, id: u32, idx: u32) -> Option<u64> {
    let (_, t) = skip_mods(btf, id);
    match &t?.data {
        TypeData::Enum { values, .. } => values
            .get(idx as usize)
            .map(|v| v.val as u32 as i32 as i64 as u64),
        TypeData::Enum64 { values, .. } => values.get(idx as usize).map(|v| v.val),
        _ => None,
    }
}

/// `base` plus `idx` elements of `size` bytes, in bits. Every size is below
/// 2^32 and indices are u32, so only hostile input overflows: an error.
fn elem_bits(idx: u32, size: u64, base: u64) -> Result<u64, CoreError> {
    (idx as u64)
        .checked_mul(size)
        .and_then(|b| b.checked_mul(8))
        .and_then(|b| b.checked_add(base))
        .filter(|&b| b < 1 << 48)
        .ok_or_else(|| CoreError(format!("element {idx} of {size} bytes: offset overflows")))
}

/// `is_flex_arr`: an array of 0 elements that is the last member of the
/// struct named by the previous accessor.
fn is_flex_arr(btf: &Btf, prev: Option<&Accessor>, nelems: u32) -> bool {
    let Some(prev) = prev else { return false };
    if prev.name.is_none() || nelems > 0 {
        return false;
    }
    btf.type_by_id(prev.type_id)
        .is_some_and(|t| prev.idx as usize + 1 == members(t).len())
}

/// `bpf_core_parse_spec`: the access string, checked against the local BTF.
fn parse_spec<'a>(
    btf: &'a Btf,
    relo: &CoreRelo,
    kind: CoreReloKind,
) -> Result<Spec<'a>, CoreError> {
    let Some(access) = btf.str_at(relo.access_str_off) else {
        return fail(format!(
            "access string offset {} is outside the BTF strings",
            relo.access_str_off
        ));
    };
    if relo.type_id == 0 || btf.type_by_id(relo.type_id).is_none() {
        return fail(format!(
            "relocation root type [{}] is not in the object's BTF ({} types)",
            relo.type_id,
            btf.types.len()
        ));
    }
    let mut spec = Spec::new(btf, relo.type_id, kind);
    if kind.is_type() {
        if access != "0" {
            return fail(format!(
                "{kind} wants the access string \"0\", not {access:?}"
            ));
        }
        return Ok(spec);
    }
    if access.is_empty() {
        return fail("empty access string");
    }
    for part in access.split(':') {
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return fail(format!("bad access string {access:?}"));
        }
        let Ok(i) = part.parse::<u32>() else {
            return fail(format!("index {part} in {access:?} is too large"));
        };
        if spec.raw_spec.len() == BPF_CORE_SPEC_MAX_LEN {
            return fail(format!(
                "access string {access:?} is deeper than {BPF_CORE_SPEC_MAX_LEN}"
            ));
        }
        spec.raw_spec.push(i);
    }
    let (mut id, t) = skip_mods(btf, relo.type_id);
    let Some(t) = t else {
        return fail(format!(
            "relocation root {} is void",
            type_label(btf, relo.type_id)
        ));
    };
    let first = spec.raw_spec[0];
    if kind.is_enumval() {
        let values = match &t.data {
            TypeData::Enum { values, .. } | TypeData::Enum64 { values, .. } => values,
            _ => {
                return fail(format!(
                    "{kind} on {}, which is not an enum",
                    type_label(btf, relo.type_id)
                ))
            }
        };
        if spec.raw_spec.len() != 1 {
            return fail(format!("{kind} wants one enumerator index, not {access:?}"));
        }
        let Some(v) = values.get(first as usize) else {
            return fail(format!(
                "enumerator {first} of {} does not exist ({} values)",
                type_label(btf, relo.type_id),
                values.len()
            ));
        };
        spec.spec.push(Accessor {
            type_id: id,
            idx: first,
            name: Some(btf.str_at(v.name_off).unwrap_or("").to_string()),
        });
        return Ok(spec);
    }
    spec.spec.push(Accessor {
        type_id: id,
        idx: first,
        name: None,
    });
    spec.bit_offset = elem_bits(first, resolve_size(btf, id)?, 0)?;
    for pos in 1..spec.raw_spec.len() {
        let idx = spec.raw_spec[pos];
        let (cur, t) = skip_mods(btf, id);
        let Some(t) = t else {
            return fail(format!("access {access:?} step {pos} reaches void"));
        };
        id = cur;
        if is_composite(t) {
            let Some(m) = members(t).get(idx as usize) else {
                return fail(format!(
                    "access {access:?}: {} has no member {idx}",
                    type_label(btf, id)
                ));
            };
            spec.bit_offset += member_offset(t, idx as usize).bit_offset as u64; // < 2^24 each, 64 at most
            if m.name_off != 0 {
                let name = btf.str_at(m.name_off).unwrap_or("");
                if name.is_empty() {
                    return fail(format!(
                        "member {idx} of {} has a bad name",
                        type_label(btf, id)
                    ));
                }
                spec.spec.push(Accessor {
                    type_id: id,
                    idx,
                    name: Some(name.to_string()),
                });
            }
            id = m.ty;
        } else if let TypeData::Array { ty, nelems, .. } = t.data {
            let (elem, _) = skip_mods(btf, ty);
            if !is_flex_arr(btf, spec.spec.last(), nelems) && idx >= nelems {
                return fail(format!(
                    "access {access:?}: index {idx} beyond the {nelems} elements of {}",
                    type_label(btf, id)
                ));
            }
            spec.spec.push(Accessor {
                type_id: elem,
                idx,
                name: None,
            });
            spec.bit_offset = elem_bits(idx, resolve_size(btf, elem)?, spec.bit_offset)?;
            id = elem;
        } else {
            return fail(format!(
                "access {access:?} step {pos} indexes into {}, neither struct, union nor array",
                type_label(btf, id)
            ));
        }
    }
    Ok(spec)
}

/// `bpf_core_fields_are_compat`: may a local member's type be read as the
/// target's? Any two structs/unions; pointers; floats; enums (and FWDs)
/// with the same essential name or one anonymous; integers of any size
/// and sign (but not the old bitfield-like ones with a bit offset);
/// arrays whose element types are compatible.
fn fields_are_compat(lb: &Btf, lid: u32, tb: &Btf, tid: u32) -> bool {
    let (mut lid, mut tid) = (lid, tid);
    for _ in 0..MAX_DEPTH {
        let (_, lt) = skip_mods(lb, lid);
        let (_, tt) = skip_mods(tb, tid);
        let (Some(lt), Some(tt)) = (lt, tt) else {
            return false;
        };
        if is_composite(lt) && is_composite(tt) {
            return true;
        }
        if !kind_core_compat(Some(lt), Some(tt)) {
            return false;
        }
        match (&lt.data, &tt.data) {
            (TypeData::Ptr { .. }, _) | (TypeData::Float { .. }, _) => return true,
            (TypeData::Fwd | TypeData::Enum { .. } | TypeData::Enum64 { .. }, _) => {
                let ln = essential_name(lb.name(lt));
                let tn = essential_name(tb.name(tt));
                return ln.is_empty() || tn.is_empty() || ln == tn;
            }
            (TypeData::Int { .. }, _) => return int_offset(lt) == 0 && int_offset(tt) == 0,
            (TypeData::Array { ty: le, .. }, TypeData::Array { ty: te, .. }) => {
                lid = *le;
                tid = *te;
            }
            _ => return false,
        }
    }
    false
}

/// `bpf_core_types_are_compat` (TYPE_EXISTS, TYPE_SIZE, TYPE_ID_TARGET):
/// kinds must agree through pointers, arrays and function prototypes;
/// structs, unions, enums and FWDs agree by kind alone (their names were
/// matched when choosing candidates); integers as in [`fields_are_compat`].
pub fn types_are_compat(lb: &Btf, lid: u32, tb: &Btf, tid: u32) -> Result<bool, CoreError> {
    types_are_compat_depth(lb, lid, tb, tid, MAX_DEPTH)
}

fn types_are_compat_depth(
    lb: &Btf,
    lid: u32,
    tb: &Btf,
    tid: u32,
    level: u32,
) -> Result<bool, CoreError> {
    if !kind_core_compat(lb.type_by_id(lid), tb.type_by_id(tid)) {
        return Ok(false);
    }
    let (mut lid, mut tid) = (lid, tid);
    for _ in 0..MAX_DEPTH {
        let (l, lt) = skip_mods(lb, lid);
        let (t, tt) = skip_mods(tb, tid);
        if (lt.is_none() && l != 0) || (tt.is_none() && t != 0) {
            return fail(format!("type id out of range comparing [{l}] with [{t}]"));
        }
        if !kind_core_compat(lt, tt) {
            return Ok(false);
        }
        let (Some(lt), Some(tt)) = (lt, tt) else {
            return Ok(true); // void and void
        };
        match (&lt.data, &tt.data) {
            (
                TypeData::Struct { .. }
                | TypeData::Union { .. }
                | TypeData::Enum { .. }
                | TypeData::Enum64 { .. }
                | TypeData::Fwd,
                _,
            ) => return Ok(true),
            (TypeData::Int { .. }, _) => return Ok(int_offset(lt) == 0 && int_offset(tt) == 0),
            (TypeData::Ptr { ty: a }, TypeData::Ptr { ty: b })
            | (TypeData::Array { ty: a, .. }, TypeData::Array { ty: b, .. }) => {
                lid = *a;
                tid = *b;
            }
            (
                TypeData::FuncProto {
                    ret: lr,
                    params: lp,
                },
                TypeData::FuncProto {
                    ret: tr,
                    params: tp,
                },
            ) => {
                if lp.len() != tp.len() {
                    return Ok(false);
                }
                if level == 0 {
                    return fail("function prototypes nest too deeply");
                }
                for (a, b) in lp.iter().zip(tp) {
                    let a = lb.skip_modifiers(a.ty);
                    let b = tb.skip_modifiers(b.ty);
                    if !types_are_compat_depth(lb, a, tb, b, level - 1)? {
                        return Ok(false);
                    }
                }
                lid = lb.skip_modifiers(*lr);
                tid = tb.skip_modifiers(*tr);
            }
            _ => return Ok(false),
        }
    }
    fail("type chain too deep")
}

/// `bpf_core_names_match`: essential names equal; an anonymous target only
/// matches an anonymous local.
fn names_match(lb: &Btf, loff: u32, tb: &Btf, toff: u32) -> bool {
    let l = lb.str_at(loff).unwrap_or("");
    let t = tb.str_at(toff).unwrap_or("");
    if t.is_empty() {
        return l.is_empty();
    }
    essential_name(l) == essential_name(t)
}

/// `bpf_core_types_match` (TYPE_MATCHES), libbpf's stricter relation.
/// Modifiers and typedefs are skipped; names (without flavor) must match at
/// every level; kinds must be equal except that ENUM matches ENUM64 and,
/// behind a pointer, a struct/union matches a FWD of the same flavor.
/// Integers match by size and signedness; arrays by element count and
/// element; pointers by pointee; function prototypes by arity, each
/// parameter and the return type; enums when sizes are equal and every
/// local enumerator's name exists in the target; structs/unions when every
/// local member has a same-named target member whose type matches.
pub fn types_match(lb: &Btf, lid: u32, tb: &Btf, tid: u32) -> Result<bool, CoreError> {
    types_match_depth(lb, lid, tb, tid, false, MAX_DEPTH)
}

fn types_match_depth(
    lb: &Btf,
    lid: u32,
    tb: &Btf,
    tid: u32,
    behind_ptr: bool,
    level: u32,
) -> Result<bool, CoreError> {
    if level == 0 {
        return fail("types nest too deeply to match");
    }
    let (mut lid, mut tid, mut behind_ptr) = (lid, tid, behind_ptr);
    for _ in 0..MAX_DEPTH {
        let (l, lt) = skip_mods(lb, lid);
        let (t, tt) = skip_mods(tb, tid);
        if (lt.is_none() && l != 0) || (tt.is_none() && t != 0) {
            return fail(format!("type id out of range matching [{l}] with [{t}]"));
        }
        let (lname, tname) = (lt.map_or(0, |x| x.name_off), tt.map_or(0, |x| x.name_off));
        if !names_match(lb, lname, tb, tname) {
            return Ok(false);
        }
        let Some(lt) = lt else {
            return Ok(tt.is_none()); // void matches void only
        };
        let Some(tt) = tt else { return Ok(false) };
        let (lk, tk) = (lt.kind(), tt.kind());
        match lk {
            Kind::Fwd => {
                // A FWD's kind_flag says union (set) or struct.
                return Ok(if tk == Kind::Fwd {
                    lt.kind_flag == tt.kind_flag
                } else if behind_ptr {
                    (tk == Kind::Struct && !lt.kind_flag) || (tk == Kind::Union && lt.kind_flag)
                } else {
                    false
                });
            }
            Kind::Enum | Kind::Enum64 => {
                if !is_any_enum(tt) {
                    return Ok(false);
                }
                return Ok(enums_match(lb, lt, tb, tt));
            }
            Kind::Struct | Kind::Union => {
                if behind_ptr {
                    return Ok(lk == tk || (tk == Kind::Fwd && (lk == Kind::Union) == tt.kind_flag));
                }
                if lk != tk {
                    return Ok(false);
                }
                return composites_match(lb, lt, tb, tt, behind_ptr, level);
            }
            Kind::Int => {
                let (TypeData::Int { size: ls, .. }, TypeData::Int { size: ts, .. }) =
                    (&lt.data, &tt.data)
                else {
                    return Ok(false);
                };
                let signed = |t: &Type| {
                    t.int_encoding()
                        .is_some_and(|e| e.contains(super::IntEncoding::SIGNED))
                };
                return Ok(ls == ts && signed(lt) == signed(tt));
            }
            Kind::Ptr => {
                let (TypeData::Ptr { ty: a }, TypeData::Ptr { ty: b }) = (&lt.data, &tt.data)
                else {
                    return Ok(false);
                };
                behind_ptr = true;
                lid = *a;
                tid = *b;
            }
            Kind::Array => {
                let (
                    TypeData::Array {
                        ty: a, nelems: an, ..
                    },
                    TypeData::Array {
                        ty: b, nelems: bn, ..
                    },
                ) = (&lt.data, &tt.data)
                else {
                    return Ok(false);
                };
                if an != bn {
                    return Ok(false);
                }
                lid = *a;
                tid = *b;
            }
            Kind::FuncProto => {
                let (
                    TypeData::FuncProto {
                        ret: lr,
                        params: lp,
                    },
                    TypeData::FuncProto {
                        ret: tr,
                        params: tp,
                    },
                ) = (&lt.data, &tt.data)
                else {
                    return Ok(false);
                };
                if lp.len() != tp.len() {
                    return Ok(false);
                }
                for (a, b) in lp.iter().zip(tp) {
                    if !types_match_depth(lb, a.ty, tb, b.ty, behind_ptr, level - 1)? {
                        return Ok(false);
                    }
                }
                lid = *lr;
                tid = *tr;
            }
            _ => return Ok(false),
        }
    }
    fail("type chain too deep to match")
}

/// `bpf_core_enums_match`: same size, and each local enumerator's name
/// (values may differ) found in the target.
fn enums_match(lb: &Btf, lt: &Type, tb: &Btf, tt: &Type) -> bool {
    let (
        TypeData::Enum {
            size: ls,
            values: lv,
        }
        | TypeData::Enum64 {
            size: ls,
            values: lv,
        },
        TypeData::Enum {
            size: ts,
            values: tv,
        }
        | TypeData::Enum64 {
            size: ts,
            values: tv,
        },
    ) = (&lt.data, &tt.data)
    else {
        return false;
    };
    ls == ts
        && lv.len() <= tv.len()
        && lv.iter().all(|l| {
            tv.iter()
                .any(|t| names_match(lb, l.name_off, tb, t.name_off))
        })
}

/// `bpf_core_composites_match`: every local member has a same-named target
/// member whose type matches.
fn composites_match(
    lb: &Btf,
    lt: &Type,
    tb: &Btf,
    tt: &Type,
    behind_ptr: bool,
    level: u32,
) -> Result<bool, CoreError> {
    let (lm, tm) = (members(lt), members(tt));
    if lm.len() > tm.len() {
        return Ok(false);
    }
    for l in lm {
        let mut matched = false;
        for t in tm {
            if !names_match(lb, l.name_off, tb, t.name_off) {
                continue;
            }
            if types_match_depth(lb, l.ty, tb, t.ty, behind_ptr, level - 1)? {
                matched = true;
                break;
            }
        }
        if !matched {
            return Ok(false);
        }
    }
    Ok(true)
}

/// `bpf_core_match_member`: find the local accessor's member by name in the
/// target type `tid`, descending into anonymous members. On success the
/// target spec has the walked indices, the bit offset and the accessor
/// pushed, and the member's type is returned.
fn match_member(
    local: &Spec<'_>,
    acc: &Accessor,
    tb: &Btf,
    tid: u32,
    spec: &mut Spec<'_>,
    depth: u32,
) -> Result<Option<u32>, CoreError> {
    if depth > MAX_DEPTH {
        return fail("anonymous members nest too deeply");
    }
    let (tid, tt) = skip_mods(tb, tid);
    let Some(tt) = tt else {
        return fail(format!("target type [{tid}] is out of range"));
    };
    if !is_composite(tt) {
        return Ok(None);
    }
    let lt = local
        .btf
        .type_by_id(acc.type_id)
        .ok_or_else(|| CoreError(format!("local type [{}] vanished", acc.type_id)))?;
    let Some(lm) = members(lt).get(acc.idx as usize) else {
        return fail(format!("local member {} vanished", acc.idx));
    };
    let lname = acc.name.as_deref().unwrap_or("");
    for (i, m) in members(tt).iter().enumerate() {
        if spec.raw_spec.len() == BPF_CORE_SPEC_MAX_LEN {
            return fail(format!("target access deeper than {BPF_CORE_SPEC_MAX_LEN}"));
        }
        let off = member_offset(tt, i).bit_offset as u64;
        spec.bit_offset += off;
        spec.raw_spec.push(i as u32);
        let tname = tb.str_at(m.name_off).unwrap_or("");
        if tname.is_empty() {
            if let Some(found) = match_member(local, acc, tb, m.ty, spec, depth + 1)? {
                return Ok(Some(found));
            }
        } else if tname == lname {
            if !fields_are_compat(local.btf, lm.ty, tb, m.ty) {
                return Ok(None);
            }
            spec.spec.push(Accessor {
                type_id: tid,
                idx: i as u32,
                name: Some(tname.to_string()),
            });
            return Ok(Some(m.ty));
        }
        spec.bit_offset -= off;
        spec.raw_spec.pop();
    }
    Ok(None)
}

/// `bpf_core_spec_match`: the local spec found again in candidate `cand`
/// of the target, or `None` when it does not match.
fn spec_match<'t>(local: &Spec<'_>, tb: &'t Btf, cand: u32) -> Result<Option<Spec<'t>>, CoreError> {
    let mut spec = Spec::new(tb, cand, local.kind);
    if local.kind.is_type() {
        let ok = if local.kind == CoreReloKind::TypeMatches {
            types_match(local.btf, local.root_type_id, tb, cand)?
        } else {
            types_are_compat(local.btf, local.root_type_id, tb, cand)?
        };
        return Ok(ok.then_some(spec));
    }
    let Some(first) = local.spec.first() else {
        return fail("local spec is empty");
    };
    if local.kind.is_enumval() {
        let (tid, tt) = skip_mods(tb, cand);
        let values = match tt.map(|t| &t.data) {
            Some(TypeData::Enum { values, .. } | TypeData::Enum64 { values, .. }) => values,
            _ => return Ok(None),
        };
        let want = essential_name(first.name.as_deref().unwrap_or(""));
        for (i, v) in values.iter().enumerate() {
            let n = tb.str_at(v.name_off).unwrap_or("");
            if essential_name(n) == want {
                spec.spec.push(Accessor {
                    type_id: tid,
                    idx: i as u32,
                    name: Some(n.to_string()),
                });
                spec.raw_spec.push(i as u32);
                return Ok(Some(spec));
            }
        }
        return Ok(None);
    }
    let mut tid = cand;
    for (i, acc) in local.spec.iter().enumerate() {
        let (cur, tt) = skip_mods(tb, tid);
        let Some(tt) = tt else {
            return fail(format!("target type [{cur}] is out of range"));
        };
        tid = cur;
        if acc.name.is_some() {
            match match_member(local, acc, tb, tid, &mut spec, 0)? {
                Some(next) => tid = next,
                None => return Ok(None),
            }
        } else {
            if i > 0 {
                // The element type of the target's array at this point.
                let TypeData::Array { ty, nelems, .. } = tt.data else {
                    return Ok(None);
                };
                if !is_flex_arr(tb, spec.spec.last(), nelems) && acc.idx >= nelems {
                    return Ok(None);
                }
                let (elem, et) = skip_mods(tb, ty);
                if et.is_none() {
                    return fail(format!("target array element [{elem}] is out of range"));
                }
                tid = elem;
            }
            if spec.raw_spec.len() == BPF_CORE_SPEC_MAX_LEN {
                return fail(format!("target access deeper than {BPF_CORE_SPEC_MAX_LEN}"));
            }
            spec.spec.push(Accessor {
                type_id: tid,
                idx: acc.idx,
                name: None,
            });
            spec.raw_spec.push(acc.idx);
            spec.bit_offset = elem_bits(acc.idx, resolve_size(tb, tid)?, spec.bit_offset)?;
        }
    }
    Ok(Some(spec))
}

/// One side's computed value (libbpf's half of `bpf_core_relo_res`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Value {
    val: u64,
    /// For FIELD_BYTE_OFFSET of a non-bitfield: the field's byte size and
    /// its type (modifiers skipped).
    size: u32,
    type_id: u32,
    /// Whether the compiler's value can be checked (see CoreResult::validate).
    validate: bool,
}

/// `bpf_core_calc_field_relo`.
fn calc_field(spec: &Spec<'_>) -> Result<Value, CoreError> {
    let kind = spec.kind;
    let mut v = Value {
        val: 0,
        size: 0,
        type_id: 0,
        validate: true,
    };
    if kind == CoreReloKind::FieldExists {
        v.val = 1;
        return Ok(v);
    }
    let btf = spec.btf;
    let Some(acc) = spec.spec.last() else {
        return fail("empty spec");
    };
    if acc.name.is_none() {
        // The access ends on an array element (or the root itself).
        let sz = resolve_size(btf, acc.type_id)?;
        match kind {
            CoreReloKind::FieldByteOffset => {
                v.val = spec.bit_offset / 8;
                v.size = sz as u32;
                v.type_id = acc.type_id;
            }
            CoreReloKind::FieldByteSize => v.val = sz,
            _ => {
                return fail(format!(
                    "{kind} cannot apply to an array element access ({})",
                    spec.describe()
                ))
            }
        }
        return Ok(v);
    }
    let t = btf
        .type_by_id(acc.type_id)
        .ok_or_else(|| CoreError(format!("type [{}] vanished", acc.type_id)))?;
    let m = members(t)
        .get(acc.idx as usize)
        .ok_or_else(|| CoreError(format!("member {} vanished", acc.idx)))?;
    let (field_id, mt) = skip_mods(btf, m.ty);
    let bit_off = spec.bit_offset;
    let mut bit_sz = member_offset(t, acc.idx as usize).bitfield_size as u64;
    let bitfield = bit_sz > 0;
    let (byte_off, byte_sz);
    if bitfield {
        // The smallest naturally aligned load, starting from the member
        // type's size, that covers the whole bitfield.
        let mut sz = match mt.map(|t| &t.data) {
            Some(
                TypeData::Int { size, .. }
                | TypeData::Enum { size, .. }
                | TypeData::Enum64 { size, .. },
            ) if *size > 0 => *size as u64,
            _ => {
                return fail(format!(
                    "bitfield {} is not an integer or enum",
                    spec.describe()
                ))
            }
        };
        let mut off = bit_off / 8 / sz * sz;
        while bit_off + bit_sz - off * 8 > sz * 8 {
            if sz >= 8 {
                return fail(format!(
                    "bitfield {} cannot be read with one 64-bit load",
                    spec.describe()
                ));
            }
            sz *= 2;
            off = bit_off / 8 / sz * sz;
        }
        byte_off = off;
        byte_sz = sz;
    } else {
        byte_sz = resolve_size(btf, field_id)?;
        byte_off = bit_off / 8;
        bit_sz = byte_sz * 8;
    }
    v.validate = !bitfield;
    match kind {
        CoreReloKind::FieldByteOffset => {
            v.val = byte_off;
            if !bitfield {
                v.size = byte_sz as u32;
                v.type_id = field_id;
            }
        }
        CoreReloKind::FieldByteSize => v.val = byte_sz,
        CoreReloKind::FieldSigned => {
            v.val = mt.is_some_and(|t| match t.data {
                TypeData::Enum { .. } | TypeData::Enum64 { .. } => t.kind_flag,
                TypeData::Int { .. } => t
                    .int_encoding()
                    .is_some_and(|e| e.contains(super::IntEncoding::SIGNED)),
                _ => false,
            }) as u64;
            v.validate = true;
        }
        CoreReloKind::FieldLshiftU64 => {
            // Little-endian: shift the field's top bit to bit 63.
            v.val = 64u64.wrapping_sub(bit_off + bit_sz - byte_off * 8);
        }
        CoreReloKind::FieldRshiftU64 => {
            v.val = 64u64.wrapping_sub(bit_sz);
            v.validate = true;
        }
        _ => return fail(format!("{kind} is not a field relocation")),
    }
    Ok(v)
}

/// `bpf_core_calc_type_relo` / `bpf_core_calc_enumval_relo`.
fn calc_other(spec: &Spec<'_>) -> Result<Value, CoreError> {
    let mut v = Value {
        val: 0,
        size: 0,
        type_id: 0,
        validate: true,
    };
    v.val = match spec.kind {
        CoreReloKind::TypeIdTarget | CoreReloKind::TypeIdLocal => {
            v.validate = false;
            spec.root_type_id as u64
        }
        CoreReloKind::TypeExists | CoreReloKind::TypeMatches => 1,
        CoreReloKind::TypeSize => resolve_size(spec.btf, spec.root_type_id)?,
        CoreReloKind::EnumvalExists => 1,
        CoreReloKind::EnumvalValue => {
            let a = spec
                .spec
                .first()
                .ok_or_else(|| CoreError("empty enumerator spec".into()))?;
            enum_value(spec.btf, a.type_id, a.idx)
                .ok_or_else(|| CoreError(format!("enumerator {} vanished", a.idx)))?
        }
        k => return fail(format!("{k} is not a type or enumerator relocation")),
    };
    Ok(v)
}

fn calc(spec: &Spec<'_>) -> Result<Value, CoreError> {
    if spec.kind.is_field() {
        calc_field(spec)
    } else {
        calc_other(spec)
    }
}

/// Whether a load of a differently sized field may simply change width:
/// pointers (a 32-bit kernel pointer read zero-extended) or unsigned
/// integers on both sides (libbpf's rule in `bpf_core_calc_relo`).
fn resize_is_safe(lb: &Btf, lid: u32, tb: &Btf, tid: u32) -> bool {
    match (lb.type_by_id(lid), tb.type_by_id(tid)) {
        (Some(l), Some(t)) => match (&l.data, &t.data) {
            (TypeData::Ptr { .. }, TypeData::Ptr { .. }) => true,
            (TypeData::Int { .. }, TypeData::Int { .. }) => {
                let signed_only = |t: &Type| t.int_encoding() == Some(super::IntEncoding::SIGNED);
                !signed_only(l) && !signed_only(t)
            }
            _ => false,
        },
        _ => false,
    }
}

/// Resolve one relocation of the object's BTF `local` against the kernel's
/// `target` (`bpf_core_calc_relo_insn`).
pub fn resolve(local: &Btf, target: &Vmlinux, relo: &CoreRelo) -> Result<CoreResult, CoreError> {
    resolve_in(local, target.btf(), relo)
}

/// [`resolve`] against any BTF (a test's, or another object's).
pub fn resolve_in(local: &Btf, target: &Btf, relo: &CoreRelo) -> Result<CoreResult, CoreError> {
    let Some(kind) = CoreReloKind::from_raw(relo.kind) else {
        return fail(format!("unknown relocation kind {}", relo.kind));
    };
    let lspec = parse_spec(local, relo, kind)?;
    let lval = calc(&lspec)?;
    let ldesc = format!("<{}> {}", kind.name(), lspec.describe());
    if kind == CoreReloKind::TypeIdLocal {
        return Ok(CoreResult {
            kind,
            local: lval.val,
            target: Some(lval.val),
            new_size: None,
            spec: format!("{ldesc}: local type id {}", lval.val),
            local_size: None,
            validate: false,
            fail_memsz_adjust: false,
        });
    }
    let root = local
        .type_by_id(relo.type_id)
        .ok_or_else(|| CoreError(format!("root type [{}] vanished", relo.type_id)))?;
    let lname = local.name(root);
    if lname.is_empty() {
        return fail(format!("{ldesc}: anonymous types have no candidates"));
    }
    let want = essential_name(lname);
    // (id, spec, value) of each matching candidate.
    let mut matched: Vec<(u32, Spec<'_>, Value)> = Vec::new();
    for (i, t) in target.types.iter().enumerate() {
        let id = i as u32 + 1;
        if !kind_core_compat(Some(root), Some(t)) {
            continue;
        }
        let n = target.name(t);
        if n.is_empty() || essential_name(n) != want {
            continue;
        }
        let Some(tspec) = spec_match(&lspec, target, id).map_err(|e| {
            CoreError(format!(
                "{ldesc}: candidate {}: {}",
                type_label(target, id),
                e.0
            ))
        })?
        else {
            continue;
        };
        let tval = calc(&tspec).map_err(|e| CoreError(format!("{ldesc}: {}", e.0)))?;
        if let Some((pid, pspec, pval)) = matched.first() {
            if kind.is_field() && pspec.bit_offset != tspec.bit_offset {
                return fail(format!(
                    "{ldesc}: ambiguous: candidates {} and {} put the field at bit offsets {} and {}",
                    type_label(target, *pid),
                    type_label(target, id),
                    pspec.bit_offset,
                    tspec.bit_offset
                ));
            }
            if pval.val != tval.val {
                return fail(format!(
                    "{ldesc}: ambiguous: candidates {} and {} give {} and {}",
                    type_label(target, *pid),
                    type_label(target, id),
                    pval.val,
                    tval.val
                ));
            }
        }
        matched.push((id, tspec, tval));
    }
    let Some((_, tspec, tval)) = matched.first() else {
        let target_val = match kind {
            CoreReloKind::FieldExists | CoreReloKind::EnumvalExists => Some(0),
            k if k.is_type() => Some(0),
            _ => None,
        };
        let what = if target_val.is_some() {
            "resolves to 0"
        } else {
            "the instruction is poisoned"
        };
        return Ok(CoreResult {
            kind,
            local: lval.val,
            target: target_val,
            new_size: None,
            spec: format!("{ldesc} -> no candidate named {want:?} matches in the target: {what}"),
            local_size: (kind == CoreReloKind::FieldByteOffset).then_some(lval.size),
            validate: lval.validate,
            fail_memsz_adjust: false,
        });
    };
    let others: Vec<String> = matched[1..]
        .iter()
        .map(|(id, _, _)| format!("[{id}]"))
        .collect();
    let mut desc = format!("{ldesc} -> {} in target: {}", tspec.describe(), tval.val);
    if !others.is_empty() {
        desc += &format!(" (agreeing candidates {})", others.join(", "));
    }
    let (mut new_size, mut fail_memsz) = (None, false);
    if kind == CoreReloKind::FieldByteOffset && lval.size != tval.size {
        new_size = Some(tval.size);
        fail_memsz = !resize_is_safe(local, lval.type_id, target, tval.type_id);
        desc += &format!(", field size {} -> {}", lval.size, tval.size);
    }
    Ok(CoreResult {
        kind,
        local: lval.val,
        target: Some(tval.val),
        new_size,
        spec: desc,
        local_size: (kind == CoreReloKind::FieldByteOffset).then_some(lval.size),
        validate: lval.validate,
        fail_memsz_adjust: fail_memsz,
    })
}

// Instruction encoding (include/uapi/linux/bpf_common.h, bpf.h).
const BPF_LD: u8 = 0x00;
const BPF_LDX: u8 = 0x01;
const BPF_ST: u8 = 0x02;
const BPF_STX: u8 = 0x03;
const BPF_ALU: u8 = 0x04;
const BPF_JMP: u8 = 0x05;
const BPF_ALU64: u8 = 0x07;
const BPF_X: u8 = 0x08;
const BPF_CALL: u8 = 0x80;
const BPF_W: u8 = 0x00;
const BPF_H: u8 = 0x08;
const BPF_B: u8 = 0x10;
const BPF_DW: u8 = 0x18;
/// `BPF_LD | BPF_IMM | BPF_DW`: the 16-byte 64-bit immediate load.
const BPF_LD_IMM64: u8 = 0x18;

fn poison_one(insn: &mut [u8]) {
    insn[0] = BPF_JMP | BPF_CALL;
    insn[1] = 0;
    insn[2..4].copy_from_slice(&0i16.to_le_bytes());
    insn[4..8].copy_from_slice(&POISON_HELPER_ID.to_le_bytes());
}

/// Poison `insn` (both halves of an lddw) and say so.
fn poison(insn: &mut [u8], why: &str) -> Option<String> {
    if insn[0] == BPF_LD_IMM64 && insn.len() >= 16 {
        poison_one(&mut insn[8..16]);
    }
    poison_one(insn);
    Some(format!(
        "{why}: instruction poisoned (call to helper {POISON_HELPER_ID:#x}; refused by the verifier only if reachable)"
    ))
}

fn size_bytes(code: u8) -> u32 {
    match code & 0x18 {
        BPF_W => 4,
        BPF_H => 2,
        BPF_B => 1,
        _ => 8,
    }
}

/// Patch the instruction `insn` starts with (`bpf_core_patch_insn`):
/// ALU/ALU64 with an immediate: imm; LDX/ST/STX: off, and the width when
/// the field's size changed; lddw (16 bytes): the 64-bit immediate. The
/// instruction must hold `res.local` first (unless `res.validate` is off)
/// or the object and its relocation disagree. A relocation without a
/// target turns the instruction into a call to the invalid helper
/// [`POISON_HELPER_ID`], reported as `Ok(Some(warning))`.
pub fn patch(insn: &mut [u8], res: &CoreResult) -> Result<Option<String>, CoreError> {
    if insn.len() < 8 {
        return fail(format!("instruction needs 8 bytes, {} given", insn.len()));
    }
    let Some(new) = res.target else {
        return Ok(poison(insn, &format!("{}: no target", res.kind)));
    };
    let code = insn[0];
    let off = i16::from_le_bytes([insn[2], insn[3]]);
    let imm = i32::from_le_bytes([insn[4], insn[5], insn[6], insn[7]]);
    match code & 0x07 {
        BPF_ALU | BPF_ALU64 => {
            if code & BPF_X != 0 {
                return fail(format!(
                    "{}: ALU instruction {code:#04x} takes a register, not an immediate",
                    res.kind
                ));
            }
            if res.validate && imm as i64 as u64 != res.local {
                return fail(format!(
                    "{}: instruction immediate is {imm}, the relocation expects {} (-> {new})",
                    res.kind, res.local
                ));
            }
            insn[4..8].copy_from_slice(&(new as u32).to_le_bytes());
        }
        BPF_LDX | BPF_ST | BPF_STX => {
            if res.validate && off as i64 as u64 != res.local {
                return fail(format!(
                    "{}: instruction offset is {off}, the relocation expects {} (-> {new})",
                    res.kind, res.local
                ));
            }
            if new > i16::MAX as u64 {
                return fail(format!(
                    "{}: offset {new} does not fit a memory instruction's 16 bits",
                    res.kind
                ));
            }
            if res.fail_memsz_adjust {
                return Ok(poison(
                    insn,
                    &format!(
                        "{}: the field changes size and is neither a pointer nor unsigned ({})",
                        res.kind, res.spec
                    ),
                ));
            }
            insn[2..4].copy_from_slice(&(new as i16).to_le_bytes());
            if let Some(new_sz) = res.new_size {
                let have = size_bytes(code);
                if let Some(want) = res.local_size {
                    if have != want {
                        return fail(format!(
                            "{}: instruction accesses {have} bytes, the local field has {want}",
                            res.kind
                        ));
                    }
                }
                let bits = match new_sz {
                    1 => BPF_B,
                    2 => BPF_H,
                    4 => BPF_W,
                    8 => BPF_DW,
                    n => {
                        return fail(format!(
                            "{}: the target field's size {n} is no load width",
                            res.kind
                        ))
                    }
                };
                insn[0] = (code & !0x18) | bits;
            }
        }
        BPF_LD => {
            if code != BPF_LD_IMM64 || insn.len() < 16 {
                return fail(format!(
                    "{}: LD instruction {code:#04x} is not a 16-byte lddw",
                    res.kind
                ));
            }
            if insn[1] >> 4 != 0
                || off != 0
                || insn[8] != 0
                || insn[9] != 0
                || insn[10..12] != [0, 0]
            {
                return fail(format!(
                    "{}: lddw has an unexpected form (src register, offset or second half set)",
                    res.kind
                ));
            }
            let hi = u32::from_le_bytes([insn[12], insn[13], insn[14], insn[15]]);
            let have = ((hi as u64) << 32) | imm as u32 as u64;
            if res.validate && have != res.local {
                return fail(format!(
                    "{}: lddw immediate is {have}, the relocation expects {} (-> {new})",
                    res.kind, res.local
                ));
            }
            insn[4..8].copy_from_slice(&(new as u32).to_le_bytes());
            insn[12..16].copy_from_slice(&((new >> 32) as u32).to_le_bytes());
        }
        _ => {
            return fail(format!(
                "{}: cannot relocate instruction with opcode {code:#04x}",
                res.kind
            ))
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::btf::{EnumValue, IntEncoding, Member};

    /// Builds BTF by hand: members are (name, type, bit offset, bitfield size).
    struct B(Btf);

    impl B {
        fn new() -> B {
            B(Btf::new())
        }
        fn ty(&mut self, name: &str, kind_flag: bool, data: TypeData) -> u32 {
            let name_off = self.0.add_string(name);
            self.0.add_type(Type {
                name_off,
                kind_flag,
                data,
            })
        }
        fn int(&mut self, name: &str, size: u32, signed: bool) -> u32 {
            let enc = if signed {
                IntEncoding::SIGNED.bits()
            } else {
                0
            } as u32;
            self.ty(
                name,
                false,
                TypeData::Int {
                    size,
                    data: (enc << 24) | (size * 8),
                },
            )
        }
        fn ptr(&mut self, to: u32) -> u32 {
            self.ty("", false, TypeData::Ptr { ty: to })
        }
        fn array(&mut self, elem: u32, index: u32, n: u32) -> u32 {
            self.ty(
                "",
                false,
                TypeData::Array {
                    ty: elem,
                    index_ty: index,
                    nelems: n,
                },
            )
        }
        fn composite(
            &mut self,
            union: bool,
            name: &str,
            size: u32,
            ms: &[(&str, u32, u32, u32)],
        ) -> u32 {
            let kind_flag = ms.iter().any(|m| m.3 > 0);
            let members = ms
                .iter()
                .map(|&(n, ty, bit, bsz)| Member {
                    name_off: self.0.add_string(n),
                    ty,
                    offset: if kind_flag { (bsz << 24) | bit } else { bit },
                })
                .collect();
            let data = if union {
                TypeData::Union { size, members }
            } else {
                TypeData::Struct { size, members }
            };
            self.ty(name, kind_flag, data)
        }
        fn strukt(&mut self, name: &str, size: u32, ms: &[(&str, u32, u32, u32)]) -> u32 {
            self.composite(false, name, size, ms)
        }
        fn enm(&mut self, name: &str, size: u32, e64: bool, vs: &[(&str, u64)]) -> u32 {
            let values = vs
                .iter()
                .map(|&(n, val)| EnumValue {
                    name_off: self.0.add_string(n),
                    val,
                })
                .collect();
            let data = if e64 {
                TypeData::Enum64 { size, values }
            } else {
                TypeData::Enum { size, values }
            };
            self.ty(name, false, data)
        }
    }

    /// The object's view:
    /// ```c
    /// enum e { E_A = 1, E_B = 2 };
    /// enum e64 { F_A = 1 } /* 8 bytes */;
    /// struct s {
    ///     int a;                 // 0
    ///     int b;                 // 4
    ///     unsigned int f:3, g:5; // 64, 67
    ///     char arr[4];           // 12
    ///     enum e kind;           // 16
    ///     struct { int c; };     // 20
    ///     unsigned int w;        // 24
    ///     int sw;                // 28
    ///     int *p;                // 32
    ///     int gone;              // 40
    /// };                         // 48
    /// struct s___v2 { int b; };
    /// ```
    struct Local {
        btf: Btf,
        s: u32,
        s_v2: u32,
        e: u32,
        e64: u32,
        int: u32,
    }

    fn local() -> Local {
        let mut b = B::new();
        let int = b.int("int", 4, true);
        let uint = b.int("unsigned int", 4, false);
        let ch = b.int("char", 1, true);
        let arr = b.array(ch, int, 4);
        let e = b.enm("e", 4, false, &[("E_A", 1), ("E_B", 2)]);
        let e64 = b.enm("e64", 8, true, &[("F_A", 1)]);
        let anon = b.strukt("", 4, &[("c", int, 0, 0)]);
        let pint = b.ptr(int);
        let s = b.strukt(
            "s",
            48,
            &[
                ("a", int, 0, 0),
                ("b", int, 32, 0),
                ("f", uint, 64, 3),
                ("g", uint, 67, 5),
                ("arr", arr, 96, 0),
                ("kind", e, 128, 0),
                ("", anon, 160, 0),
                ("w", uint, 192, 0),
                ("sw", int, 224, 0),
                ("p", pint, 256, 0),
                ("gone", int, 320, 0),
            ],
        );
        let s_v2 = b.strukt("s___v2", 4, &[("b", int, 0, 0)]);
        Local {
            btf: b.0,
            s,
            s_v2,
            e,
            e64,
            int,
        }
    }

    /// The kernel's view: another layout.
    /// ```c
    /// enum e { E_B = 20, E_C = 30, E_A = 10 };
    /// enum e64 { F_B = 2, F_A = 0x100000000 };
    /// struct s {
    ///     long pad;                       // 0
    ///     union { int a; long zz; };      // 8
    ///     short extra;                    // 16
    ///     int b;                          // 20
    ///     unsigned int x:9, f:3, g:7;     // bits 192, 201, 204
    ///     char arr[8];                    // 28
    ///     enum e kind;                    // 36
    ///     int c;                          // 40
    ///     unsigned short w;               // 44
    ///     short sw;                       // 46
    ///     long *p;                        // 48
    /// };                                  // 56
    /// ```
    fn target() -> Btf {
        let mut b = B::new();
        let int = b.int("int", 4, true);
        let long = b.int("long", 8, true);
        let short = b.int("short", 2, true);
        let ushort = b.int("unsigned short", 2, false);
        let uint = b.int("unsigned int", 4, false);
        let ch = b.int("char", 1, true);
        let arr = b.array(ch, int, 8);
        let e = b.enm("e", 4, false, &[("E_B", 20), ("E_C", 30), ("E_A", 10)]);
        b.enm("e64", 8, true, &[("F_B", 2), ("F_A", 0x1_0000_0000)]);
        let un = b.composite(true, "", 8, &[("a", int, 0, 0), ("zz", long, 0, 0)]);
        let plong = b.ptr(long);
        b.strukt(
            "s",
            56,
            &[
                ("pad", long, 0, 0),
                ("", un, 64, 0),
                ("extra", short, 128, 0),
                ("b", int, 160, 0),
                ("x", uint, 192, 9),
                ("f", uint, 201, 3),
                ("g", uint, 204, 7),
                ("arr", arr, 224, 0),
                ("kind", e, 288, 0),
                ("c", int, 320, 0),
                ("w", ushort, 352, 0),
                ("sw", short, 368, 0),
                ("p", plong, 384, 0),
            ],
        );
        b.0
    }

    fn relo(btf: &mut Btf, ty: u32, access: &str, kind: CoreReloKind) -> CoreRelo {
        relo_raw(btf, ty, access, kind as u32)
    }

    fn relo_raw(btf: &mut Btf, ty: u32, access: &str, kind: u32) -> CoreRelo {
        CoreRelo {
            insn_off: 0,
            type_id: ty,
            access_str_off: btf.add_string(access),
            kind,
        }
    }

    /// (local, target) for one relocation on the fixtures.
    fn run(ty: fn(&Local) -> u32, access: &str, kind: CoreReloKind) -> CoreResult {
        let mut l = local();
        let id = ty(&l);
        let r = relo(&mut l.btf, id, access, kind);
        let t = Vmlinux::new(target());
        resolve(&l.btf, &t, &r).unwrap_or_else(|e| panic!("{access} {kind}: {e}"))
    }

    fn vals(r: &CoreResult) -> (u64, Option<u64>) {
        (r.local, r.target)
    }

    use CoreReloKind::*;

    #[test]
    fn core_kinds_round_trip_names() {
        for k in 0..13 {
            let kind = CoreReloKind::from_raw(k).expect("kind");
            assert_eq!(kind as u32, k);
            assert!(kind.name().starts_with("BPF_CORE_"));
        }
        assert_eq!(CoreReloKind::from_raw(13), None);
        assert_eq!(TypeMatches.name(), "BPF_CORE_TYPE_MATCHES");
        assert_eq!(FieldLshiftU64.name(), "BPF_CORE_FIELD_LSHIFT_U64");
    }

    #[test]
    fn core_essential_names() {
        assert_eq!(essential_name("s___v2"), "s");
        assert_eq!(essential_name("a___b___c"), "a___b");
        assert_eq!(essential_name("task_struct"), "task_struct");
        assert_eq!(essential_name("__x___"), "__x___");
        assert_eq!(essential_name("x____y"), "x____y");
        assert_eq!(essential_name("ab___"), "ab___");
        assert_eq!(essential_name(""), "");
    }

    #[test]
    fn core_field_offsets_follow_the_target_layout() {
        let s = |l: &Local| l.s;
        let r = run(s, "0:1", FieldByteOffset);
        assert_eq!(vals(&r), (4, Some(20)));
        assert_eq!(r.new_size, None);
        assert!(r.spec.contains("s.b"), "{}", r.spec);
        // `a` sits in the target's anonymous union: raw spec 0:1:0.
        let r = run(s, "0:0", FieldByteOffset);
        assert_eq!(vals(&r), (0, Some(8)));
        assert!(r.spec.contains("(0:1:0)"), "{}", r.spec);
        // The local anonymous struct's `c` (0:6:0) is a plain member there.
        let r = run(s, "0:6:0", FieldByteOffset);
        assert_eq!(vals(&r), (20, Some(40)));
        // Arrays: element 2 of arr, and the root indexed as an array (p[1].b).
        assert_eq!(vals(&run(s, "0:4:2", FieldByteOffset)), (14, Some(30)));
        assert_eq!(vals(&run(s, "1:1", FieldByteOffset)), (52, Some(76)));
        assert_eq!(vals(&run(s, "0:4:2", FieldByteSize)), (1, Some(1)));
        assert_eq!(vals(&run(s, "0:4", FieldByteSize)), (4, Some(8)));
        assert_eq!(vals(&run(s, "0:5", FieldByteOffset)), (16, Some(36)));
        assert_eq!(vals(&run(s, "0:1", FieldByteSize)), (4, Some(4)));
        // A pointer member, pointee type differing: still compatible.
        assert_eq!(vals(&run(s, "0:9", FieldByteOffset)), (32, Some(48)));
    }

    #[test]
    fn core_field_size_changes() {
        let s = |l: &Local| l.s;
        // unsigned int -> unsigned short: the load narrows.
        let r = run(s, "0:7", FieldByteOffset);
        assert_eq!(vals(&r), (24, Some(44)));
        assert_eq!((r.local_size, r.new_size), (Some(4), Some(2)));
        assert!(!r.fail_memsz_adjust);
        // int -> short: a narrower signed load would be wrong.
        let r = run(s, "0:8", FieldByteOffset);
        assert_eq!(r.new_size, Some(2));
        assert!(r.fail_memsz_adjust);
        assert_eq!(vals(&run(s, "0:7", FieldByteSize)), (4, Some(2)));
    }

    #[test]
    fn core_bitfields() {
        let s = |l: &Local| l.s;
        // g: local bits 67..72 of a u32 unit at byte 8; target bits 204..211,
        // in the u32 at byte 24 (204 / 32 * 4 = 24).
        let r = run(s, "0:3", FieldByteOffset);
        assert_eq!(vals(&r), (8, Some(24)));
        assert!(
            !r.validate,
            "bitfield offsets are not checked against the insn"
        );
        assert_eq!(r.new_size, None);
        assert_eq!(vals(&run(s, "0:3", FieldByteSize)), (4, Some(4)));
        // LSHIFT = 64 - (bit_off + bit_sz - byte_off * 8).
        assert_eq!(
            vals(&run(s, "0:3", FieldLshiftU64)),
            (64 - (67 + 5 - 64), Some(64 - (204 + 7 - 192)))
        );
        assert_eq!(vals(&run(s, "0:3", FieldRshiftU64)), (59, Some(57)));
        assert_eq!(vals(&run(s, "0:2", FieldLshiftU64)), (61, Some(64 - 12)));
        assert_eq!(vals(&run(s, "0:2", FieldRshiftU64)), (61, Some(61)));
        assert_eq!(vals(&run(s, "0:2", FieldSigned)), (0, Some(0)));
    }

    #[test]
    fn core_bitfield_straddling_grows_the_load() {
        // unsigned char x:6 at bit 4 straddles two bytes: a 2-byte load at 0.
        let mut b = B::new();
        let u8_ = b.int("unsigned char", 1, false);
        let s = b.strukt("bf", 2, &[("x", u8_, 4, 6)]);
        let mut btf = b.0;
        let r = relo(&mut btf, s, "0:0", FieldByteSize);
        let res = resolve_in(&btf, &btf.clone(), &r).unwrap();
        assert_eq!(vals(&res), (2, Some(2)));
        // A 64-bit bitfield that cannot be read with one load is an error.
        let mut b = B::new();
        let u64_ = b.int("unsigned long", 8, false);
        let s = b.strukt("bf", 16, &[("x", u64_, 60, 10)]);
        let mut btf = b.0;
        let r = relo(&mut btf, s, "0:0", FieldByteOffset);
        let e = resolve_in(&btf, &btf.clone(), &r).unwrap_err();
        assert!(e.0.contains("64-bit"), "{e}");
    }

    #[test]
    fn core_field_exists_and_signed() {
        let s = |l: &Local| l.s;
        assert_eq!(vals(&run(s, "0:1", FieldExists)), (1, Some(1)));
        // `gone` is not in the target: existence 0, other kinds poison.
        let r = run(s, "0:10", FieldExists);
        assert_eq!(vals(&r), (1, Some(0)));
        let r = run(s, "0:10", FieldByteOffset);
        assert_eq!(vals(&r), (40, None));
        assert!(r.spec.contains("poison"), "{}", r.spec);
        // Array index beyond the target's 8 elements: no match.
        let mut l = local();
        let rel = relo(&mut l.btf, l.s, "0:4:3", FieldExists);
        let t = Vmlinux::new(target());
        assert_eq!(resolve(&l.btf, &t, &rel).unwrap().target, Some(1));
        assert_eq!(vals(&run(s, "0:0", FieldSigned)), (1, Some(1)));
        assert_eq!(vals(&run(s, "0:7", FieldSigned)), (0, Some(0)));
        assert_eq!(vals(&run(s, "0:5", FieldSigned)), (0, Some(0)));
    }

    #[test]
    fn core_incompatible_field_types_do_not_match() {
        // Local `int b` vs target `int *b`: no candidate, poisoned.
        let mut b = B::new();
        let int = b.int("int", 4, true);
        let p = b.ptr(int);
        b.strukt("s", 8, &[("b", p, 0, 0)]);
        let t = Vmlinux::new(b.0);
        let mut l = local();
        let r = relo(&mut l.btf, l.s, "0:1", FieldByteOffset);
        assert_eq!(resolve(&l.btf, &t, &r).unwrap().target, None);
        let r = relo(&mut l.btf, l.s, "0:1", FieldExists);
        assert_eq!(resolve(&l.btf, &t, &r).unwrap().target, Some(0));
        // enum e vs an int: incompatible too (libbpf's rule).
        let mut b = B::new();
        let int = b.int("int", 4, true);
        b.strukt("s", 8, &[("kind", int, 0, 0)]);
        let t = Vmlinux::new(b.0);
        let r = relo(&mut l.btf, l.s, "0:5", FieldByteOffset);
        assert_eq!(resolve(&l.btf, &t, &r).unwrap().target, None);
    }

    #[test]
    fn core_flavors_and_candidates() {
        // Local s___v2 finds the target's s.
        let r = run(|l| l.s_v2, "0:0", FieldByteOffset);
        assert_eq!(vals(&r), (0, Some(20)));
        // Two target candidates agreeing: fine, and both named.
        let mut tb = target();
        let mut b = B(std::mem::take(&mut tb));
        let int = 1;
        b.strukt("s___other", 24, &[("zz", int, 0, 0), ("b", int, 160, 0)]);
        let t = Vmlinux::new(b.0.clone());
        let mut l = local();
        let rel = relo(&mut l.btf, l.s, "0:1", FieldByteOffset);
        let r = resolve(&l.btf, &t, &rel).unwrap();
        assert_eq!(r.target, Some(20));
        assert!(r.spec.contains("agreeing"), "{}", r.spec);
        // A third disagreeing one: ambiguous, an error naming both.
        b.strukt("s___bad", 24, &[("b", int, 0, 0)]);
        let t = Vmlinux::new(b.0);
        let e = resolve(&l.btf, &t, &rel).unwrap_err();
        assert!(e.0.contains("ambiguous") && e.0.contains("s___bad"), "{e}");
        // A candidate where the field is missing is just skipped.
        let rel = relo(&mut l.btf, l.s, "0:6:0", FieldByteOffset);
        assert_eq!(resolve(&l.btf, &t, &rel).unwrap().target, Some(40));
    }

    #[test]
    fn core_type_relocations() {
        let s = |l: &Local| l.s;
        let t = target();
        let tid = t.find(Kind::Struct, "s")[0];
        assert_eq!(vals(&run(s, "0", TypeExists)), (1, Some(1)));
        assert_eq!(vals(&run(s, "0", TypeSize)), (48, Some(56)));
        let r = run(s, "0", TypeIdTarget);
        assert_eq!(r.target, Some(tid as u64));
        assert!(!r.validate);
        let l = local();
        let r = run(s, "0", TypeIdLocal);
        assert_eq!(vals(&r), (l.s as u64, Some(l.s as u64)));
        assert_eq!(vals(&run(|l| l.e, "0", TypeSize)), (4, Some(4)));
        assert_eq!(vals(&run(|l| l.int, "0", TypeSize)), (4, Some(4)));
        // A type the target lacks.
        let mut l = local();
        let mut b = B(std::mem::take(&mut l.btf));
        let nope = b.strukt("not_in_kernel", 4, &[]);
        l.btf = b.0;
        for (k, want) in [
            (TypeExists, 0),
            (TypeSize, 0),
            (TypeIdTarget, 0),
            (TypeMatches, 0),
        ] {
            let r = relo(&mut l.btf, nope, "0", k);
            let res = resolve(&l.btf, &Vmlinux::new(target()), &r).unwrap();
            assert_eq!(res.target, Some(want), "{k}");
        }
        // Type relocations want "0".
        let r = relo(&mut l.btf, l.s, "0:1", TypeExists);
        assert!(resolve(&l.btf, &Vmlinux::new(target()), &r).is_err());
    }

    #[test]
    fn core_type_matches_is_stricter() {
        // The local s has `gone`, which the target lacks: exists, but no match.
        assert_eq!(vals(&run(|l| l.s, "0", TypeExists)), (1, Some(1)));
        assert_eq!(vals(&run(|l| l.s, "0", TypeMatches)), (1, Some(0)));
        // enum e: same size, every local name in the target: matches.
        assert_eq!(vals(&run(|l| l.e, "0", TypeMatches)), (1, Some(1)));
        // An int of another size or sign does not match.
        assert_eq!(vals(&run(|l| l.int, "0", TypeMatches)), (1, Some(1)));
        let mut b = B::new();
        b.int("int", 8, true);
        b.int("int", 4, false);
        let t = Vmlinux::new(b.0);
        let mut l = local();
        let r = relo(&mut l.btf, l.int, "0", TypeMatches);
        assert_eq!(resolve(&l.btf, &t, &r).unwrap().target, Some(0));
        let r = relo(&mut l.btf, l.int, "0", TypeExists);
        assert_eq!(resolve(&l.btf, &t, &r).unwrap().target, Some(1));
        // A struct whose members all match by name and type, in another
        // order and with more target members, matches; a pointer to a FWD
        // matches a pointer to the struct.
        let mut b = B::new();
        let int = b.int("int", 4, true);
        let fwd = b.ty("node", false, TypeData::Fwd);
        let pf = b.ptr(fwd);
        b.strukt("m", 16, &[("x", int, 0, 0), ("next", pf, 64, 0)]);
        let mut local = b.0;
        let mut b = B::new();
        let int = b.int("int", 4, true);
        let node = b.strukt("node", 4, &[("v", int, 0, 0)]);
        let pn = b.ptr(node);
        b.strukt(
            "m",
            24,
            &[("next", pn, 0, 0), ("y", int, 64, 0), ("x", int, 96, 0)],
        );
        let tb = b.0;
        let m = local.find(Kind::Struct, "m")[0];
        let r = relo(&mut local, m, "0", TypeMatches);
        assert_eq!(resolve_in(&local, &tb, &r).unwrap().target, Some(1));
        // ... but not when x's sign differs.
        let mut b = B(tb);
        let uint = b.int("unsigned int", 4, false);
        let mut tb = b.0;
        let m_ids = tb.find(Kind::Struct, "m");
        for id in m_ids {
            if let TypeData::Struct { members, .. } = &mut tb.types[id as usize - 1].data {
                members[2].ty = uint;
            }
        }
        assert_eq!(resolve_in(&local, &tb, &r).unwrap().target, Some(0));
    }

    #[test]
    fn core_enum_values() {
        let e = |l: &Local| l.e;
        assert_eq!(vals(&run(e, "0", EnumvalValue)), (1, Some(10)));
        assert_eq!(vals(&run(e, "1", EnumvalValue)), (2, Some(20)));
        assert_eq!(vals(&run(e, "1", EnumvalExists)), (1, Some(1)));
        let r = run(|l| l.e64, "0", EnumvalValue);
        assert_eq!(vals(&r), (1, Some(0x1_0000_0000)));
        // An enumerator the target lacks.
        let mut l = local();
        let mut b = B(std::mem::take(&mut l.btf));
        let e2 = b.enm("e", 4, false, &[("E_GONE", 5)]);
        l.btf = b.0;
        let t = Vmlinux::new(target());
        let r = relo(&mut l.btf, e2, "0", EnumvalExists);
        assert_eq!(vals(&resolve(&l.btf, &t, &r).unwrap()), (1, Some(0)));
        let r = relo(&mut l.btf, e2, "0", EnumvalValue);
        assert_eq!(vals(&resolve(&l.btf, &t, &r).unwrap()), (5, None));
        // A negative ENUM value is sign-extended, as libbpf reads btf_enum.val.
        let r = relo(&mut l.btf, e2, "1", EnumvalValue);
        assert!(resolve(&l.btf, &t, &r).is_err(), "index beyond the enum");
        let mut b = B::new();
        b.enm("e", 4, false, &[("E_A", 0xffff_ffff)]);
        let t = Vmlinux::new(b.0);
        let r = relo(&mut l.btf, l.e, "0", EnumvalValue);
        assert_eq!(resolve(&l.btf, &t, &r).unwrap().target, Some(u64::MAX));
        // "0:1" is not an enumerator access.
        let r = relo(&mut l.btf, l.e, "0:1", EnumvalValue);
        assert!(resolve(&l.btf, &t, &r).is_err());
    }

    #[test]
    fn core_bad_input_is_an_error_not_a_panic() {
        let mut l = local();
        let t = Vmlinux::new(target());
        let bad: &[(u32, &str, u32)] = &[
            (l.s, "", 0),
            (l.s, ":", 0),
            (l.s, "0:", 0),
            (l.s, "-1", 0),
            (l.s, "0:x", 0),
            (l.s, "0:99", 0),
            (l.s, "0:4:9", 0),
            (l.s, "0:1:0", 0),
            (l.s, "99999999999", 0),
            (l.s, "0", 13),
            (0, "0", 0),
            (9999, "0", 8),
            (l.e, "0:0", 0),
            (l.int, "0:0", 0),
            (l.s, "0:4:1", 4),
            (l.s, "0", 10),
        ];
        for &(ty, access, kind) in bad {
            let r = relo_raw(&mut l.btf, ty, access, kind);
            assert!(
                resolve(&l.btf, &t, &r).is_err(),
                "{ty} {access:?} {kind} should be refused"
            );
        }
        let r = CoreRelo {
            insn_off: 0,
            type_id: l.s,
            access_str_off: 1 << 30,
            kind: 0,
        };
        assert!(resolve(&l.btf, &t, &r).is_err());
        // Offsets that overflow: a huge struct indexed far.
        let mut b = B::new();
        let int = b.int("int", 4, true);
        let huge = b.strukt("huge", u32::MAX, &[("x", int, 0, 0)]);
        let mut hb = b.0;
        let r = relo(&mut hb, huge, "4294967295:0", FieldByteOffset);
        let e = resolve_in(&hb, &hb.clone(), &r).unwrap_err();
        assert!(e.0.contains("overflows"), "{e}");
        // A 65-deep access string.
        let deep = vec!["0"; 65].join(":");
        let r = relo(&mut l.btf, l.s, &deep, FieldByteOffset);
        assert!(resolve(&l.btf, &t, &r).is_err());
    }

    #[test]
    fn core_random_relocations_never_panic() {
        let mut rng = fastrand::Rng::with_seed(0xc0de);
        let l = local();
        let targets = [target(), l.btf.clone(), Btf::new()];
        for _ in 0..20_000 {
            let mut btf = l.btf.clone();
            // Sometimes corrupt a type reference, to reach dangling ids.
            if rng.bool() {
                let i = rng.usize(..btf.types.len());
                if let TypeData::Struct { members, .. } = &mut btf.types[i].data {
                    if let Some(m) = members.first_mut() {
                        m.ty = rng.u32(..40);
                    }
                } else if let TypeData::Array { ty, nelems, .. } = &mut btf.types[i].data {
                    *ty = rng.u32(..40);
                    *nelems = rng.u32(..);
                }
            }
            let n = rng.usize(1..6);
            let access: Vec<String> = (0..n).map(|_| rng.u32(..14).to_string()).collect();
            let r = relo_raw(&mut btf, rng.u32(..16), &access.join(":"), rng.u32(..14));
            let t = &targets[rng.usize(..targets.len())];
            if let Ok(res) = resolve_in(&btf, t, &r) {
                let mut insn = [0u8; 16];
                insn[0] = [0x07, 0x61, 0x18, 0x62, 0x63, 0x85][rng.usize(..6)];
                let _ = patch(&mut insn, &res);
            }
        }
    }

    fn result(kind: CoreReloKind, local: u64, target: Option<u64>) -> CoreResult {
        CoreResult {
            kind,
            local,
            target,
            new_size: None,
            spec: String::new(),
            local_size: None,
            validate: true,
            fail_memsz_adjust: false,
        }
    }

    fn insn(code: u8, regs: u8, off: i16, imm: i32) -> [u8; 8] {
        let mut b = [0u8; 8];
        b[0] = code;
        b[1] = regs;
        b[2..4].copy_from_slice(&off.to_le_bytes());
        b[4..8].copy_from_slice(&imm.to_le_bytes());
        b
    }

    #[test]
    fn core_patch_instructions() {
        // r0 = 4 (ALU64 MOV K) -> 20.
        let mut i = insn(0xb7, 0, 0, 4);
        assert_eq!(
            patch(&mut i, &result(FieldByteOffset, 4, Some(20))),
            Ok(None)
        );
        assert_eq!(i, insn(0xb7, 0, 0, 20));
        // The instruction disagreeing with the relocation is an error.
        let mut i = insn(0xb7, 0, 0, 5);
        assert!(patch(&mut i, &result(FieldByteOffset, 4, Some(20))).is_err());
        // ... unless validation is off.
        let mut r = result(TypeIdTarget, 4, Some(77));
        r.validate = false;
        assert_eq!(patch(&mut i, &r), Ok(None));
        assert_eq!(i, insn(0xb7, 0, 0, 77));
        // ALU with a register source cannot be relocated.
        let mut i = insn(0x0f, 0x21, 0, 4);
        assert!(patch(&mut i, &result(FieldByteOffset, 4, Some(20))).is_err());
        // r1 = *(u32 *)(r1 + 4) -> (u16 *)(r1 + 44).
        let mut i = insn(0x61, 0x11, 4, 0);
        let mut r = result(FieldByteOffset, 4, Some(44));
        (r.local_size, r.new_size) = (Some(4), Some(2));
        assert_eq!(patch(&mut i, &r), Ok(None));
        assert_eq!(i, insn(0x69, 0x11, 44, 0));
        // A load of the wrong width for the local field: error.
        let mut i = insn(0x79, 0x11, 4, 0);
        assert!(patch(&mut i, &r).is_err());
        // STX and ST take the offset too.
        let mut i = insn(0x63, 0x21, 4, 0);
        assert_eq!(
            patch(&mut i, &result(FieldByteOffset, 4, Some(8))),
            Ok(None)
        );
        assert_eq!(i, insn(0x63, 0x21, 8, 0));
        let mut i = insn(0x62, 0x01, 4, 9);
        assert_eq!(
            patch(&mut i, &result(FieldByteOffset, 4, Some(8))),
            Ok(None)
        );
        assert_eq!(i, insn(0x62, 0x01, 8, 9));
        // An offset beyond 16 bits.
        let mut i = insn(0x61, 0x11, 4, 0);
        assert!(patch(&mut i, &result(FieldByteOffset, 4, Some(40_000))).is_err());
        // An unsafe resize poisons the load.
        let mut r = result(FieldByteOffset, 4, Some(44));
        (r.local_size, r.new_size, r.fail_memsz_adjust) = (Some(4), Some(2), true);
        let w = patch(&mut i, &r).unwrap().expect("warning");
        assert!(w.contains("poison"), "{w}");
        assert_eq!(i, insn(0x85, 0, 0, 0xbad2310));
        // lddw: the 64-bit immediate.
        let mut l = [0u8; 16];
        l[..8].copy_from_slice(&insn(0x18, 0x02, 0, 7));
        assert_eq!(
            patch(&mut l, &result(EnumvalValue, 7, Some(0x1_0000_0002))),
            Ok(None)
        );
        assert_eq!(&l[..8], &insn(0x18, 0x02, 0, 2));
        assert_eq!(&l[8..], &insn(0, 0, 0, 1));
        // An lddw of a map (src_reg 1) is no CO-RE target.
        l[1] = 0x12;
        assert!(patch(&mut l, &result(EnumvalValue, 2, Some(3))).is_err());
        // lddw cut short.
        let mut s = insn(0x18, 0x02, 0, 7);
        assert!(patch(&mut s, &result(EnumvalValue, 7, Some(3))).is_err());
        // No target: poison both halves of an lddw.
        let mut l = [0u8; 16];
        l[..8].copy_from_slice(&insn(0x18, 0x02, 0, 7));
        let w = patch(&mut l, &result(EnumvalValue, 7, None)).unwrap();
        assert!(w.is_some());
        assert_eq!(&l[..8], &insn(0x85, 0, 0, 0xbad2310));
        assert_eq!(&l[8..], &insn(0x85, 0, 0, 0xbad2310));
        // Jumps are not relocatable; short input is an error.
        let mut j = insn(0x05, 0, 4, 0);
        assert!(patch(&mut j, &result(FieldByteOffset, 4, Some(8))).is_err());
        assert!(patch(&mut [0u8; 4], &result(FieldByteOffset, 4, Some(8))).is_err());
    }

    #[test]
    fn core_resolve_then_patch() {
        let mut l = local();
        let t = Vmlinux::new(target());
        let r = relo(&mut l.btf, l.s, "0:7", FieldByteOffset);
        let res = resolve(&l.btf, &t, &r).unwrap();
        let mut i = insn(0x61, 0x21, 24, 0); // r1 = *(u32 *)(r2 + 24)
        assert_eq!(patch(&mut i, &res), Ok(None));
        assert_eq!(i, insn(0x69, 0x21, 44, 0));
        let r = relo(&mut l.btf, l.s, "0:10", FieldByteOffset);
        let res = resolve(&l.btf, &t, &r).unwrap();
        let mut i = insn(0x61, 0x21, 40, 0);
        assert!(patch(&mut i, &res).unwrap().is_some());
        assert_eq!(i[0], 0x85);
    }
}
