//! CO-RE ("compile once, run everywhere") relocations: a `.BTF.ext`
//! `struct bpf_core_relo` (include/uapi/linux/bpf.h) says that an
//! instruction's offset or constant was computed from the object's own
//! types, and names the type and the access path (`"0:1:2"`: an index on
//! the root pointer, then member or array indices). Resolving it against
//! the kernel's BTF gives the value for the running kernel. The semantics
//! are libbpf's (`tools/lib/bpf/relo_core.c`, read, not copied): candidates
//! are the target types of the same kind whose name matches once a
//! `___flavor` suffix is dropped; members match by name, through the
//! target's anonymous structs and unions; all candidates must agree.
//!
//! Kinds done here ([`CoreReloKind`]): `FIELD_BYTE_OFFSET`,
//! `FIELD_BYTE_SIZE`, `FIELD_EXISTS`, `FIELD_SIGNED`, `TYPE_ID_LOCAL`,
//! `TYPE_EXISTS`, `TYPE_SIZE`, `ENUMVAL_EXISTS`, `ENUMVAL_VALUE`. The
//! bitfield shifts, `TYPE_ID_TARGET` and `TYPE_MATCHES` are refused by
//! name, and so is a field no candidate has (libbpf would poison the
//! instruction instead). Kernel-free: the target is whatever BTF is given.

use super::ext::CoreRelo;
use super::{Btf, MemberOffset, TypeData};
use std::fmt;

/// `enum bpf_core_relo_kind` (bpf.h).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    pub fn from_raw(k: u32) -> Option<CoreReloKind> {
        use CoreReloKind::*;
        Some(match k {
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

    /// The kernel's name (`BPF_CORE_FIELD_BYTE_OFFSET`...).
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
}

/// Why a relocation could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreError(pub String);

impl fmt::Display for CoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CO-RE: {}", self.0)
    }
}

impl std::error::Error for CoreError {}

fn fail<T>(m: impl Into<String>) -> Result<T, CoreError> {
    Err(CoreError(m.into()))
}

/// A resolved relocation: the value the object holds (from its own
/// types) and the one for the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreResult {
    pub kind: CoreReloKind,
    pub local: u64,
    pub target: u64,
    /// `struct sk_buff::len (0:0)`, for messages.
    pub spec: String,
}

/// A name without its `___flavor` suffix (`task_struct___old`).
pub fn essential_name(name: &str) -> &str {
    name.find("___").map_or(name, |i| &name[..i])
}

/// The size of type `id` in bytes (bounded against cycles).
pub fn type_size(btf: &Btf, id: u32) -> Option<u64> {
    let mut id = id;
    for _ in 0..64 {
        match &btf.type_by_id(id)?.data {
            TypeData::Int { size, .. }
            | TypeData::Struct { size, .. }
            | TypeData::Union { size, .. }
            | TypeData::Enum { size, .. }
            | TypeData::Enum64 { size, .. }
            | TypeData::Float { size }
            | TypeData::Datasec { size, .. } => return Some(u64::from(*size)),
            TypeData::Ptr { .. } => return Some(8),
            TypeData::Array { ty, nelems, .. } => {
                return type_size(btf, *ty)?.checked_mul(u64::from(*nelems))
            }
            TypeData::Typedef { ty }
            | TypeData::Volatile { ty }
            | TypeData::Const { ty }
            | TypeData::Restrict { ty }
            | TypeData::TypeTag { ty }
            | TypeData::Var { ty, .. } => id = *ty,
            _ => return None,
        }
    }
    None
}

/// One step of an access path, as the target must match it.
#[derive(Debug, Clone)]
enum Step {
    Member(String),
    Index(u64),
}

/// Where an access path lands: byte offset, the field's type, its
/// bitfield width (0 for none).
struct Field {
    bit_offset: u64,
    ty: u32,
    bitfield: u32,
}

/// Members of a struct or union, with the parent's kind_flag.
fn members(btf: &Btf, id: u32) -> Option<(bool, &[super::Member])> {
    let t = btf.type_by_id(id)?;
    match &t.data {
        TypeData::Struct { members, .. } | TypeData::Union { members, .. } => {
            Some((t.kind_flag, members.as_slice()))
        }
        _ => None,
    }
}

/// Finds member `name` in struct/union `id`, through anonymous members:
/// (bit offset from `id`'s start, member type, bitfield width).
fn find_member(btf: &Btf, id: u32, name: &str, depth: u32) -> Option<(u64, u32, u32)> {
    if depth > 32 {
        return None;
    }
    let (kf, ms) = members(btf, id)?;
    for m in ms {
        let off = MemberOffset::decode(kf, m.offset);
        let mname = btf.str_at(m.name_off).unwrap_or("");
        if mname == name {
            return Some((u64::from(off.bit_offset), m.ty, off.bitfield_size));
        }
        if mname.is_empty() {
            let inner = btf.skip_modifiers(m.ty);
            if let Some((o, ty, bf)) = find_member(btf, inner, name, depth + 1) {
                return Some((u64::from(off.bit_offset) + o, ty, bf));
            }
        }
    }
    None
}

/// Walks `steps` from root `root` of `btf`, the first index counting
/// whole roots.
fn walk(btf: &Btf, root: u32, first: u64, steps: &[Step]) -> Option<Field> {
    let mut ty = btf.skip_modifiers(root);
    let mut bits = first.checked_mul(type_size(btf, ty)?)?.checked_mul(8)?;
    let mut bitfield = 0;
    for s in steps {
        match s {
            Step::Member(name) => {
                let (o, mty, bf) = find_member(btf, ty, name, 0)?;
                bits = bits.checked_add(o)?;
                ty = btf.skip_modifiers(mty);
                bitfield = bf;
            }
            Step::Index(i) => {
                let TypeData::Array { ty: elem, .. } = btf.type_by_id(ty)?.data else {
                    return None;
                };
                let elem = btf.skip_modifiers(elem);
                bits = bits.checked_add(i.checked_mul(type_size(btf, elem)?)?.checked_mul(8)?)?;
                ty = elem;
                bitfield = 0;
            }
        }
    }
    Some(Field {
        bit_offset: bits,
        ty,
        bitfield,
    })
}

/// Kinds of types that may stand for each other in a field.
fn class(btf: &Btf, id: u32) -> u8 {
    match btf.type_by_id(btf.skip_modifiers(id)).map(|t| &t.data) {
        None => 0,
        Some(TypeData::Int { .. } | TypeData::Enum { .. } | TypeData::Enum64 { .. }) => 1,
        Some(TypeData::Ptr { .. }) => 2,
        Some(TypeData::Struct { .. } | TypeData::Union { .. } | TypeData::Fwd) => 3,
        Some(TypeData::Array { .. }) => 4,
        Some(TypeData::Float { .. }) => 5,
        Some(_) => 6,
    }
}

fn is_signed(btf: &Btf, id: u32) -> bool {
    match btf.type_by_id(btf.skip_modifiers(id)) {
        Some(t) => match t.data {
            TypeData::Int { data, .. } => data & (1 << 24) != 0,
            TypeData::Enum { .. } | TypeData::Enum64 { .. } => t.kind_flag,
            _ => false,
        },
        None => false,
    }
}

/// Resolves one relocation of object BTF `local` against `target` (the
/// kernel's).
pub fn resolve(local: &Btf, target: &Btf, relo: &CoreRelo) -> Result<CoreResult, CoreError> {
    use CoreReloKind::*;
    let kind = CoreReloKind::from_raw(relo.kind)
        .ok_or_else(|| CoreError(format!("unknown relocation kind {}", relo.kind)))?;
    let root_t = local.type_by_id(relo.type_id).ok_or_else(|| {
        CoreError(format!(
            "type id {} is not in the object's BTF",
            relo.type_id
        ))
    })?;
    let root_name = local.name(root_t).to_string();
    let access = local
        .str_at(relo.access_str_off)
        .ok_or_else(|| CoreError("access string outside the BTF strings".into()))?
        .to_string();
    let spec = format!("{} {root_name} ({access})", root_t.kind().name());
    let done = |local_v: u64, target_v: u64| {
        Ok(CoreResult {
            kind,
            local: local_v,
            target: target_v,
            spec: spec.clone(),
        })
    };
    if matches!(
        kind,
        FieldLshiftU64 | FieldRshiftU64 | TypeIdTarget | TypeMatches
    ) {
        return fail(format!(
            "{} ({spec}) is not supported by this loader yet",
            kind.name()
        ));
    }
    let root = local.skip_modifiers(relo.type_id);
    let root_kind = local.type_by_id(root).map(|t| t.kind());
    let essential = essential_name(local.type_by_id(root).map_or("", |t| local.name(t)));
    let candidates: Vec<u32> = target
        .types
        .iter()
        .enumerate()
        .filter(|(_, t)| Some(t.kind()) == root_kind && essential_name(target.name(t)) == essential)
        .map(|(i, _)| i as u32 + 1)
        .filter(|_| !essential.is_empty())
        .collect();
    let idx: Vec<u64> = access
        .split(':')
        .map(|p| p.parse::<u64>())
        .collect::<Result<_, _>>()
        .map_err(|_| CoreError(format!("bad access string {access:?}")))?;
    let Some((&first, rest)) = idx.split_first() else {
        return fail(format!("empty access string ({spec})"));
    };
    match kind {
        TypeIdLocal => return done(u64::from(relo.type_id), u64::from(relo.type_id)),
        TypeExists => return done(1, u64::from(!candidates.is_empty())),
        TypeSize => {
            let l = type_size(local, root).unwrap_or(0);
            let sizes: Vec<u64> = candidates
                .iter()
                .filter_map(|&c| type_size(target, c))
                .collect();
            return match sizes.as_slice() {
                [] => fail(format!("{}: no {spec} in the kernel's BTF", kind.name())),
                [s, rest @ ..] if rest.iter().all(|r| r == s) => done(l, *s),
                _ => fail(format!(
                    "{}: kernel types for {spec} disagree: {sizes:?}",
                    kind.name()
                )),
            };
        }
        EnumvalExists | EnumvalValue => {
            let vals = |b: &Btf, id: u32| match b.type_by_id(id).map(|t| &t.data) {
                Some(TypeData::Enum { values, .. } | TypeData::Enum64 { values, .. }) => {
                    Some(values.clone())
                }
                _ => None,
            };
            let lv = vals(local, root).ok_or_else(|| CoreError(format!("{spec} is no enum")))?;
            let e = lv
                .get(first as usize)
                .ok_or_else(|| CoreError(format!("{spec}: no enumerator {first}")))?;
            let ename = essential_name(local.str_at(e.name_off).unwrap_or("")).to_string();
            let found: Vec<u64> = candidates
                .iter()
                .filter_map(|&c| vals(target, c))
                .filter_map(|vs| {
                    vs.iter()
                        .find(|v| essential_name(target.str_at(v.name_off).unwrap_or("")) == ename)
                        .map(|v| v.val)
                })
                .collect();
            return match (kind, found.as_slice()) {
                (EnumvalExists, f) => done(1, u64::from(!f.is_empty())),
                (_, [v, rest @ ..]) if rest.iter().all(|r| r == v) => done(e.val, *v),
                (_, []) => fail(format!(
                    "{}: no enumerator {ename} of {spec} in the kernel",
                    kind.name()
                )),
                _ => fail(format!(
                    "{}: the kernel's {spec} disagree on {ename}",
                    kind.name()
                )),
            };
        }
        _ => {}
    }
    // Field kinds: the local path, as names the target must have.
    let mut steps = Vec::new();
    let mut ty = root;
    for &i in rest {
        match local.type_by_id(ty).map(|t| &t.data) {
            Some(TypeData::Struct { members, .. } | TypeData::Union { members, .. }) => {
                let m = members
                    .get(i as usize)
                    .ok_or_else(|| CoreError(format!("{spec}: no member {i}")))?;
                let n = local.str_at(m.name_off).unwrap_or("");
                if !n.is_empty() {
                    steps.push(Step::Member(n.to_string()));
                }
                ty = local.skip_modifiers(m.ty);
            }
            Some(TypeData::Array { ty: elem, .. }) => {
                steps.push(Step::Index(i));
                ty = local.skip_modifiers(*elem);
            }
            _ => {
                return fail(format!(
                    "{spec}: index {i} into a type that is no struct, union or array"
                ))
            }
        }
    }
    // The local value must come out of the local walk (anonymous local
    // members are walked by index, so walk it by index here).
    let lf = walk_local(local, root, first, rest)
        .ok_or_else(|| CoreError(format!("{spec}: the object's own path does not resolve")))?;
    let mut results = Vec::new();
    for &c in &candidates {
        if let Some(f) = walk(target, c, first, &steps) {
            if class(local, lf.ty) == class(target, f.ty) {
                results.push(f);
            }
        }
    }
    let value = |b: &Btf, f: &Field| -> Result<u64, CoreError> {
        match kind {
            FieldByteOffset | FieldByteSize if f.bitfield != 0 => fail(format!(
                "{} of bitfield {spec}: not supported by this loader yet",
                kind.name()
            )),
            FieldByteOffset => Ok(f.bit_offset / 8),
            FieldByteSize => {
                type_size(b, f.ty).ok_or_else(|| CoreError(format!("{spec}: field without a size")))
            }
            FieldSigned => Ok(u64::from(is_signed(b, f.ty))),
            _ => Ok(1),
        }
    };
    let l = value(local, &lf)?;
    if results.is_empty() {
        if kind == FieldExists {
            return done(l, 0);
        }
        return fail(format!(
            "{}: {spec} has no match in the kernel's BTF ({} candidate type(s) named {essential})",
            kind.name(),
            candidates.len()
        ));
    }
    let vals: Vec<u64> = results
        .iter()
        .map(|f| value(target, f))
        .collect::<Result<_, _>>()?;
    if vals.iter().any(|v| *v != vals[0]) {
        return fail(format!(
            "{}: the kernel's types for {spec} disagree: {vals:?}",
            kind.name()
        ));
    }
    done(l, vals[0])
}

/// The local walk, by member index (anonymous members included).
fn walk_local(btf: &Btf, root: u32, first: u64, rest: &[u64]) -> Option<Field> {
    let mut ty = btf.skip_modifiers(root);
    let mut bits = first.checked_mul(type_size(btf, ty)?)?.checked_mul(8)?;
    let mut bitfield = 0;
    for &i in rest {
        if let Some((kf, ms)) = members(btf, ty) {
            let m = ms.get(usize::try_from(i).ok()?)?;
            let off = MemberOffset::decode(kf, m.offset);
            bits = bits.checked_add(u64::from(off.bit_offset))?;
            bitfield = off.bitfield_size;
            ty = btf.skip_modifiers(m.ty);
        } else if let Some(TypeData::Array { ty: elem, .. }) = btf.type_by_id(ty).map(|t| &t.data) {
            let elem = btf.skip_modifiers(*elem);
            bits = bits.checked_add(i.checked_mul(type_size(btf, elem)?)?.checked_mul(8)?)?;
            ty = elem;
            bitfield = 0;
        } else {
            return None;
        }
    }
    Some(Field {
        bit_offset: bits,
        ty,
        bitfield,
    })
}

/// Writes `res.target` into the instruction at the start of `insn` (16
/// bytes for an `lddw`): the `off` of a load or store, the `imm` of an ALU
/// instruction with a constant, the 64-bit immediate of an `lddw`. The
/// instruction must hold `res.local` now: otherwise the object and its
/// relocation disagree.
pub fn patch(insn: &mut [u8], res: &CoreResult) -> Result<(), CoreError> {
    if insn.len() < 8 {
        return fail("instruction past the end of the program");
    }
    let code = insn[0];
    let class = code & 0x07;
    let imm = |b: &[u8]| i32::from_le_bytes([b[4], b[5], b[6], b[7]]);
    let mismatch = |now: i64| {
        fail(format!(
            "{} ({}): the instruction holds {now}, the object's types say {}",
            res.kind.name(),
            res.spec,
            res.local
        ))
    };
    match class {
        // BPF_LDX, BPF_ST, BPF_STX: the offset.
        0x01..=0x03 => {
            let now = i16::from_le_bytes([insn[2], insn[3]]);
            if i64::from(now) != res.local as i64 {
                return mismatch(i64::from(now));
            }
            let new = i16::try_from(res.target).map_err(|_| {
                CoreError(format!("{}: offset {} does not fit", res.spec, res.target))
            })?;
            insn[2..4].copy_from_slice(&new.to_le_bytes());
        }
        // BPF_ALU, BPF_ALU64 with BPF_K: the constant.
        0x04 | 0x07 if code & 0x08 == 0 => {
            let now = imm(insn);
            if i64::from(now) != res.local as i64 {
                return mismatch(i64::from(now));
            }
            let new = i32::try_from(res.target).map_err(|_| {
                CoreError(format!("{}: {} does not fit an imm", res.spec, res.target))
            })?;
            insn[4..8].copy_from_slice(&new.to_le_bytes());
        }
        // BPF_LD | BPF_IMM | BPF_DW: both halves.
        0x00 if code == 0x18 && insn.len() >= 16 => {
            let now = u64::from(imm(insn) as u32) | (u64::from(imm(&insn[8..]) as u32) << 32);
            if now != res.local {
                return mismatch(now as i64);
            }
            insn[4..8].copy_from_slice(&(res.target as u32).to_le_bytes());
            insn[12..16].copy_from_slice(&((res.target >> 32) as u32).to_le_bytes());
        }
        _ => {
            return fail(format!(
                "{} ({}) on opcode {code:#04x}, which takes no offset or constant",
                res.kind.name(),
                res.spec
            ))
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::btf::{Member, Type};

    fn int(b: &mut Btf) -> u32 {
        let n = b.add_string("int");
        b.add_type(Type {
            name_off: n,
            kind_flag: false,
            data: TypeData::Int {
                size: 4,
                data: (1 << 24) | 32,
            },
        })
    }

    fn st(b: &mut Btf, name: &str, size: u32, ms: &[(&str, u32, u32)]) -> u32 {
        let n = b.add_string(name);
        let members = ms
            .iter()
            .map(|(m, ty, bits)| Member {
                name_off: b.add_string(m),
                ty: *ty,
                offset: *bits,
            })
            .collect();
        b.add_type(Type {
            name_off: n,
            kind_flag: false,
            data: TypeData::Struct { size, members },
        })
    }

    /// Local `struct s { int a; int b; }`; the kernel's `s` has `b` at
    /// byte 12 inside an anonymous struct, and a `___v2` flavor matches.
    #[test]
    fn field_offsets_follow_the_target_layout() {
        let mut local = Btf::new();
        let li = int(&mut local);
        let ls = st(&mut local, "s___v2", 8, &[("a", li, 0), ("b", li, 32)]);
        let access = local.add_string("0:1");
        let mut target = Btf::new();
        let ti = int(&mut target);
        let anon = st(&mut target, "", 8, &[("x", ti, 0), ("b", ti, 32)]);
        st(
            &mut target,
            "s",
            16,
            &[("a", ti, 0), ("pad", ti, 32), ("", anon, 64)],
        );
        let relo = |kind| CoreRelo {
            insn_off: 0,
            type_id: ls,
            access_str_off: access,
            kind,
        };
        let r = resolve(&local, &target, &relo(0)).unwrap();
        assert_eq!((r.local, r.target), (4, 12));
        let r = resolve(&local, &target, &relo(1)).unwrap();
        assert_eq!((r.local, r.target), (4, 4));
        let r = resolve(&local, &target, &relo(2)).unwrap();
        assert_eq!(r.target, 1);
        let r = resolve(&local, &target, &relo(3)).unwrap();
        assert_eq!(r.target, 1, "int is signed");
        let r = resolve(&local, &target, &relo(9)).unwrap();
        assert_eq!((r.local, r.target), (8, 16));
        // A member the kernel lacks: exists says 0, offset is refused.
        let gone = local.add_string("0:0");
        let mut t2 = Btf::new();
        let i2 = int(&mut t2);
        st(&mut t2, "s", 4, &[("b", i2, 0)]);
        let r2 = |kind| CoreRelo {
            insn_off: 0,
            type_id: ls,
            access_str_off: gone,
            kind,
        };
        assert_eq!(resolve(&local, &t2, &r2(2)).unwrap().target, 0);
        let e = resolve(&local, &t2, &r2(0)).unwrap_err().to_string();
        assert!(e.contains("no match"), "{e}");
        // Unsupported kinds and junk are errors, never panics.
        assert!(resolve(&local, &target, &relo(4)).is_err());
        assert!(resolve(&local, &target, &relo(99)).is_err());
        let bad = CoreRelo {
            insn_off: 0,
            type_id: 999,
            access_str_off: 0,
            kind: 0,
        };
        assert!(resolve(&local, &target, &bad).is_err());
    }

    #[test]
    fn patching_checks_the_old_value_and_writes_the_new() {
        let res = CoreResult {
            kind: CoreReloKind::FieldByteOffset,
            local: 4,
            target: 12,
            spec: "s".into(),
        };
        // r0 = *(u32 *)(r1 + 4)
        let mut ldx = [0x61, 0x10, 4, 0, 0, 0, 0, 0];
        patch(&mut ldx, &res).unwrap();
        assert_eq!(ldx[2], 12);
        // It now holds 12, not 4: a second patch is refused.
        assert!(patch(&mut ldx, &res).is_err());
        // r1 += 4 (ALU64 K)
        let mut add = [0x07, 0x01, 0, 0, 4, 0, 0, 0];
        patch(&mut add, &res).unwrap();
        assert_eq!(add[4], 12);
        // r1 += r2 (ALU64 X) takes no constant.
        let mut addx = [0x0f, 0x21, 0, 0, 4, 0, 0, 0];
        assert!(patch(&mut addx, &res).is_err());
        assert!(patch(&mut [0u8; 3], &res).is_err());
    }
}
