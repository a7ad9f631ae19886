//! Questions a loader asks an [`Object`] before it makes kernel objects,
//! answered without a kernel: its `.BTF` and `.BTF.ext`, the maps `.maps`
//! declares in BTF (read as libbpf's `parse_btf_map_def` reads them,
//! `tools/lib/bpf/libbpf.c`), the function that holds an instruction, and
//! the data symbol a `--set NAME=VALUE` names.

use super::{
    ElfError, MapDecl, MapField, MapSlot, MapValues, Object, RelocType, Section, SectionKind,
    SymbolType,
};
use crate::btf::ext::BtfExt;
use crate::btf::{gen, Btf, TypeData};
use crate::program::Program;

/// How deep a chain of typedefs and modifiers may go before a map field's
/// type is called malformed (a loop in hostile BTF must not hang us).
const MAX_TYPE_DEPTH: usize = 32;

fn err(section: &str, offset: Option<u64>, message: impl Into<String>) -> ElfError {
    ElfError {
        section: Some(section.to_string()),
        offset,
        message: message.into(),
    }
}

/// A function of a program section: where it starts and how long it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionRange {
    /// The symbol's name (empty when the section has no function symbol
    /// and is taken whole).
    pub name: String,
    /// Byte offset in the section.
    pub offset: u64,
    /// Size in bytes.
    pub size: u64,
}

/// A named object in a data section (`.rodata`, `.data`, `.bss`): what
/// `--set NAME=VALUE` writes before the section becomes a map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataSymbol {
    /// Index into [`Object::sections`].
    pub section: usize,
    /// Byte offset in the section.
    pub offset: u64,
    /// Size in bytes (the symbol's, else its BTF VAR's).
    pub size: u64,
}

impl Object {
    /// The object for an assembled [`Program`] with the BTF
    /// [`gen::generate`] writes for it (`.BTF`, `.BTF.ext`: the FUNC, the
    /// line info naming `file_name`), as [`crate::elf::write_object`] writes
    /// it to a file.
    pub fn from_program_with_btf(prog: &Program, file_name: &str) -> Object {
        let mut obj = Object::from_program(prog);
        let btf = gen::generate(&gen::Input::from_program(prog, file_name));
        for (name, data) in [(".BTF", btf.btf_bytes()), (".BTF.ext", btf.ext_bytes())] {
            let mut s = Section::new(name, SectionKind::Other);
            s.push_vec(data);
            s.align = 4;
            obj.add_section(s);
        }
        obj
    }

    /// The `.BTF` section, parsed; `None` when there is none.
    pub fn btf(&self) -> Option<Result<Btf, ElfError>> {
        let s = self.section(".BTF")?;
        Some(Btf::parse(&s.data).map_err(|e| err(".BTF", Some(e.offset as u64), e.message)))
    }

    /// The `.BTF.ext` section, parsed; `None` when there is none.
    pub fn btf_ext(&self) -> Option<Result<BtfExt, ElfError>> {
        let s = self.section(".BTF.ext")?;
        Some(BtfExt::parse(&s.data).map_err(|e| err(".BTF.ext", Some(e.offset as u64), e.message)))
    }

    /// The maps `.maps` declares: [`Object::maps`] when the object came from
    /// text, else read from `btf`'s DATASEC `.maps`, as libbpf reads them.
    /// Each VAR is a STRUCT whose members are `__uint(field, N)` (a PTR to
    /// an ARRAY of N elements: the value is N) or `__type(key|value, T)` (a
    /// PTR to T: `key_size`/`value_size` is T's size). Any other member
    /// shape (`__array`, a plain int) is an error naming the map and member.
    pub fn declared_maps(&self, btf: Option<&Btf>) -> Result<Vec<MapDecl>, ElfError> {
        if !self.maps.is_empty() {
            return Ok(self.maps.clone());
        }
        let Some(maps_idx) = self.section_index(".maps") else {
            return Ok(Vec::new());
        };
        let Some(btf) = btf else {
            return Err(err(
                ".maps",
                None,
                "the object declares maps in .maps but has no .BTF to read them from \
                 (compile with clang -g)",
            ));
        };
        let datasec = btf.types.iter().find_map(|t| match &t.data {
            TypeData::Datasec { vars, .. } if btf.name(t) == ".maps" => Some(vars),
            _ => None,
        });
        let Some(vars) = datasec else {
            return Err(err(".maps", None, ".BTF has no DATASEC .maps"));
        };
        let mut out = Vec::new();
        for v in vars {
            let var = btf
                .type_by_id(v.ty)
                .ok_or_else(|| err(".BTF", None, format!("DATASEC .maps names type {}", v.ty)))?;
            let TypeData::Var { ty, .. } = var.data else {
                return Err(err(
                    ".BTF",
                    None,
                    format!("DATASEC .maps lists type {}, which is no VAR", v.ty),
                ));
            };
            let name = btf.name(var).to_string();
            // The offset is the symbol's (DATASEC offsets are 0 in clang's
            // BTF until a loader fixes them up).
            let offset = self
                .symbols
                .iter()
                .find(|y| y.name == name && y.section == Some(maps_idx))
                .map(|y| y.value)
                .unwrap_or(u64::from(v.offset));
            let def = map_fields(btf, ty, false).map_err(|m| {
                err(
                    ".maps",
                    Some(offset),
                    format!("map {name}: {m} (the BTF of its definition)"),
                )
            })?;
            let slots_at = offset + def.values_offset;
            out.push((
                MapDecl {
                    name,
                    offset,
                    fields: def.fields,
                    values: def.values,
                    slots: Vec::new(),
                },
                slots_at,
            ));
        }
        out.sort_by_key(|(m, _)| m.offset);
        self.read_map_slots(maps_idx, &mut out)?;
        Ok(out.into_iter().map(|(m, _)| m).collect())
    }

    /// The slots `.values = { [i] = &sym }` initializes, from the
    /// `R_BPF_64_ABS64` relocations of `.maps` (libbpf's
    /// `bpf_object__collect_map_relos`): a relocation at byte
    /// `values + 8 * i` of a map's entry names slot i's map or program.
    /// `decls` holds each declaration with the offset of its `values`.
    fn read_map_slots(
        &self,
        maps_idx: usize,
        decls: &mut [(MapDecl, u64)],
    ) -> Result<(), ElfError> {
        let relocations = &self.sections[maps_idx].relocations;
        for r in relocations {
            let at = |m: String| err(".maps", Some(r.offset), m);
            let sym = self
                .symbols
                .get(r.symbol)
                .ok_or_else(|| at(format!("relocation names symbol {}", r.symbol)))?;
            // The declaration that holds the relocated pointer: the last one
            // starting at or before it.
            let Some((d, slots_at)) = decls.iter_mut().rev().find(|(d, _)| d.offset <= r.offset)
            else {
                return Err(at(format!(
                    "a relocation against {} before any map",
                    sym.name
                )));
            };
            if r.kind != RelocType::Abs64 {
                return Err(at(format!(
                    "map {}: a {} relocation against {}; only R_BPF_64_ABS64 pointers in \
                     .values = {{ ... }} are read",
                    d.name,
                    r.kind.name(),
                    sym.name
                )));
            }
            let Some(values) = &d.values else {
                return Err(at(format!(
                    "map {}: a pointer to {} in a definition without __array(values, ...)",
                    d.name, sym.name
                )));
            };
            let rel = r.offset.checked_sub(*slots_at).filter(|o| o % 8 == 0);
            let Some(index) = rel.map(|o| o / 8).and_then(|i| u32::try_from(i).ok()) else {
                return Err(at(format!(
                    "map {}: a pointer to {} outside the slots of values",
                    d.name, sym.name
                )));
            };
            let in_maps = sym.section == Some(maps_idx);
            match values {
                MapValues::Maps(_) if !in_maps => {
                    return Err(at(format!(
                        "map {}: slot {index} points to {}, which is not a map of .maps",
                        d.name, sym.name
                    )))
                }
                MapValues::Programs if sym.kind != SymbolType::Func => {
                    return Err(at(format!(
                        "map {}: slot {index} points to {}, which is not a program",
                        d.name, sym.name
                    )))
                }
                _ => {}
            }
            if d.max_entries().is_some_and(|n| index >= n) {
                return Err(at(format!(
                    "map {}: slot {index} is beyond max_entries {}",
                    d.name,
                    d.max_entries().unwrap_or(0)
                )));
            }
            d.slots.push(MapSlot {
                index,
                symbol: sym.name.clone(),
            });
        }
        for (d, _) in decls.iter_mut() {
            d.slots.sort_by_key(|s| s.index);
        }
        Ok(())
    }

    /// The functions of program section `section`, in offset order, each
    /// sized by its symbol or up to the next one; a section without
    /// function symbols is one function, the whole section.
    pub fn functions(&self, section: usize) -> Vec<FunctionRange> {
        let Some(s) = self.sections.get(section) else {
            return Vec::new();
        };
        let mut funcs: Vec<_> = self
            .symbols
            .iter()
            .filter(|y| y.section == Some(section) && y.kind == SymbolType::Func)
            .collect();
        funcs.sort_by_key(|y| y.value);
        funcs.dedup_by_key(|y| y.value);
        if funcs.is_empty() {
            return vec![FunctionRange {
                name: String::new(),
                offset: 0,
                size: s.size,
            }];
        }
        let starts: Vec<u64> = funcs.iter().map(|y| y.value).collect();
        funcs
            .iter()
            .enumerate()
            .map(|(i, y)| {
                let next = starts.get(i + 1).copied().unwrap_or(s.size);
                let size = if y.size > 0 {
                    y.size
                } else {
                    next.saturating_sub(y.value)
                };
                FunctionRange {
                    name: y.name.clone(),
                    offset: y.value,
                    size,
                }
            })
            .collect()
    }

    /// The function of section `section` that holds byte `offset`.
    pub fn function_at(&self, section: usize, offset: u64) -> Option<FunctionRange> {
        self.functions(section)
            .into_iter()
            .find(|f| f.offset <= offset && offset < f.offset.saturating_add(f.size))
    }

    /// The data object `name` (an `STT_OBJECT` in `.rodata`, `.data` or
    /// `.bss`), sized by its symbol or, when that is 0, by its VAR in
    /// `btf`'s DATASEC of that section.
    pub fn data_symbol(&self, name: &str, btf: Option<&Btf>) -> Option<DataSymbol> {
        let y = self.symbols.iter().find(|y| {
            y.name == name
                && y.kind != SymbolType::Section
                && y.section
                    .and_then(|s| self.sections.get(s))
                    .is_some_and(|s| s.kind.is_global_data())
        })?;
        let section = y.section?;
        let mut size = y.size;
        if size == 0 {
            size = btf
                .and_then(|b| btf_var_size(b, &self.sections[section].name, name))
                .unwrap_or(0);
        }
        Some(DataSymbol {
            section,
            offset: y.value,
            size,
        })
    }

    /// The names of the data objects [`Object::data_symbol`] finds, for
    /// messages.
    pub fn data_symbol_names(&self) -> Vec<String> {
        self.symbols
            .iter()
            .filter(|y| {
                y.kind == SymbolType::Object
                    && y.section
                        .and_then(|s| self.sections.get(s))
                        .is_some_and(|s| s.kind.is_global_data())
            })
            .map(|y| y.name.clone())
            .collect()
    }
}

impl crate::text::Assembly {
    /// Program `name` of this object (or its only program) as a
    /// [`Program`], for listings: the function's slots, section, license
    /// and name, the source line of each slot, and a relocation per `lddw`
    /// of an undefined symbol. References to the object's own maps and data
    /// are not in it: load the [`Object`], not this.
    pub fn program_view(&self, name: Option<&str>) -> Option<Program> {
        let progs = self.object.programs();
        let p = match name {
            Some(n) => progs.into_iter().find(|p| p.name == n)?,
            None if progs.len() == 1 => progs.into_iter().next()?,
            None => return None,
        };
        let s = self.object.sections.get(p.section_index)?;
        let code = s
            .data
            .get(p.offset as usize..p.offset.checked_add(p.size)? as usize)?;
        let mut prog = Program::from_bytes(code).ok()?;
        let first = (p.offset / 8) as usize;
        let n = (p.size / 8) as usize;
        if let Some(lines) = self.slot_lines.get(p.section_index) {
            prog.lines = lines.iter().skip(first).take(n).copied().collect();
        }
        for r in &s.relocations {
            let Some(y) = self.object.symbols.get(r.symbol) else {
                continue;
            };
            let inside = r.offset >= p.offset && r.offset < p.offset + p.size;
            if inside && r.kind == super::RelocType::Ld64 && !y.is_defined() {
                prog.relocations.push(crate::program::Relocation {
                    slot: ((r.offset - p.offset) / 8) as usize,
                    symbol: y.name.clone(),
                    kind: crate::program::RelocKind::MapFd,
                });
            }
        }
        prog.section = p.section.clone();
        prog.license = self.object.license().unwrap_or("").to_string();
        prog.name = p.name.clone();
        prog.source = self.source.clone();
        prog.file_name = self.file_name.clone();
        prog.unused_defines = self.unused_defines.clone();
        prog.warnings = self.warnings.clone();
        Some(prog)
    }
}

/// The size of VAR `var` in DATASEC `section`.
fn btf_var_size(btf: &Btf, section: &str, var: &str) -> Option<u64> {
    btf.types.iter().find_map(|t| match &t.data {
        TypeData::Datasec { vars, .. } if btf.name(t) == section => vars.iter().find_map(|v| {
            let vt = btf.type_by_id(v.ty)?;
            (btf.name(vt) == var).then_some(u64::from(v.size))
        }),
        _ => None,
    })
}

/// A BTF-defined map's definition, read from its STRUCT.
struct MapDef {
    fields: Vec<MapField>,
    values: Option<MapValues>,
    /// Byte offset of the `values` member in the definition.
    values_offset: u64,
}

/// The fields of a BTF-defined map whose VAR has type `ty`, read as
/// libbpf's `parse_btf_map_def` reads them. `inner` is true for the inner
/// definition of a map of maps, which may not nest again or be pinned.
fn map_fields(btf: &Btf, ty: u32, inner: bool) -> Result<MapDef, String> {
    let id = btf.skip_modifiers(ty);
    let t = btf
        .type_by_id(id)
        .ok_or_else(|| format!("type {id} does not exist"))?;
    let TypeData::Struct { members, .. } = &t.data else {
        return Err(format!("its type is a {}, not a STRUCT", t.kind()));
    };
    let mut def = MapDef {
        fields: Vec::new(),
        values: None,
        values_offset: 0,
    };
    for (i, m) in members.iter().enumerate() {
        let mname = btf.str_at(m.name_off).unwrap_or("").to_string();
        let mt = btf
            .type_by_id(btf.skip_modifiers(m.ty))
            .ok_or_else(|| format!("member {mname} has type {}, which does not exist", m.ty))?;
        if mname == "values" {
            def.values = Some(values_member(btf, &mname, &mt.data, inner)?);
            if i + 1 != members.len() {
                return Err("member values (__array) must be the last member".into());
            }
            def.values_offset =
                u64::from(crate::btf::MemberOffset::decode(t.kind_flag, m.offset).bit_offset) / 8;
            continue;
        }
        let TypeData::Ptr { ty: pointee } = mt.data else {
            return Err(format!(
                "member {mname} is a {}, not a pointer (__uint, __type)",
                mt.kind()
            ));
        };
        let value = match mname.as_str() {
            // __type(key, T) / __type(value, T): a pointer to T.
            "key" | "value" => type_size(btf, pointee, 0).ok_or_else(|| {
                format!("member {mname} points to type {pointee}, which has no size")
            })?,
            // __uint(name, N): a pointer to an array of N ints.
            _ => {
                let at = btf.type_by_id(btf.skip_modifiers(pointee));
                match at.map(|a| &a.data) {
                    Some(TypeData::Array { nelems, .. }) => u64::from(*nelems),
                    _ => {
                        return Err(format!(
                            "member {mname} is not __uint-shaped (a pointer to an array)"
                        ))
                    }
                }
            }
        };
        let value = u32::try_from(value)
            .map_err(|_| format!("member {mname}'s value {value} is larger than 32 bits"))?;
        if inner && mname == "pinning" {
            return Err("an inner map definition cannot be pinned".into());
        }
        let name = match mname.as_str() {
            "key" => "key_size".to_string(),
            "value" => "value_size".to_string(),
            _ => mname,
        };
        def.fields.push(MapField { name, value });
    }
    if def.values.is_some() {
        if let Some(v) = def.fields.iter().find(|f| f.name == "value_size") {
            if v.value != 4 {
                return Err(format!(
                    "value_size {} conflicts with __array(values, ...), whose slots are 4 \
                     bytes (an fd)",
                    v.value
                ));
            }
        }
    }
    Ok(def)
}

/// `__array(values, T)`: `typeof(T) *values[]`, an ARRAY of 0 PTRs to a
/// STRUCT (an inner map definition) or to a FUNC_PROTO (programs).
fn values_member(
    btf: &Btf,
    mname: &str,
    data: &TypeData,
    inner: bool,
) -> Result<MapValues, String> {
    if inner {
        return Err(
            "an inner map definition cannot have __array(values, ...) itself \
                    (maps of maps nest one level)"
                .into(),
        );
    }
    let shape =
        || format!("member {mname} is not __array-shaped (a zero-length array of pointers)");
    let TypeData::Array {
        ty: elem, nelems, ..
    } = data
    else {
        return Err(shape());
    };
    if *nelems != 0 {
        return Err(shape());
    }
    let Some(TypeData::Ptr { ty: pointee }) =
        btf.type_by_id(btf.skip_modifiers(*elem)).map(|t| &t.data)
    else {
        return Err(shape());
    };
    let target = btf.skip_modifiers(*pointee);
    match btf.type_by_id(target).map(|t| &t.data) {
        Some(TypeData::Struct { .. }) => {
            let d = map_fields(btf, target, true).map_err(|m| format!("its inner map: {m}"))?;
            Ok(MapValues::Maps(Box::new(MapDecl {
                fields: d.fields,
                ..Default::default()
            })))
        }
        Some(TypeData::FuncProto { .. }) => Ok(MapValues::Programs),
        _ => Err(format!(
            "member {mname} points to neither a map definition (STRUCT) nor a function type"
        )),
    }
}

/// The byte size of BTF type `id` (`btf__resolve_size`), following
/// typedefs and modifiers; `None` for types without one (void, FUNC).
pub fn type_size(btf: &Btf, id: u32, depth: usize) -> Option<u64> {
    if depth > MAX_TYPE_DEPTH {
        return None;
    }
    let t = btf.type_by_id(id)?;
    match &t.data {
        TypeData::Int { size, .. }
        | TypeData::Struct { size, .. }
        | TypeData::Union { size, .. }
        | TypeData::Enum { size, .. }
        | TypeData::Enum64 { size, .. }
        | TypeData::Float { size }
        | TypeData::Datasec { size, .. } => Some(u64::from(*size)),
        TypeData::Ptr { .. } => Some(8),
        TypeData::Array { ty, nelems, .. } => {
            type_size(btf, *ty, depth + 1)?.checked_mul(u64::from(*nelems))
        }
        TypeData::Typedef { ty }
        | TypeData::Volatile { ty }
        | TypeData::Const { ty }
        | TypeData::Restrict { ty }
        | TypeData::TypeTag { ty }
        | TypeData::Var { ty, .. } => type_size(btf, *ty, depth + 1),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::btf::gen::{Input, MapDecl as GenMap};

    #[test]
    fn maps_read_back_from_generated_btf() {
        let out = gen::generate(&Input {
            file_name: "m.s".into(),
            functions: Vec::new(),
            maps: vec![
                GenMap {
                    name: "events".into(),
                    map_type: 27,
                    key_size: 0,
                    value_size: 0,
                    max_entries: 4096,
                    map_flags: 0,
                    offset: 0,
                },
                GenMap {
                    name: "ports".into(),
                    map_type: 14,
                    key_size: 4,
                    value_size: 4,
                    max_entries: 8,
                    map_flags: 0,
                    offset: 16,
                },
            ],
            data_sections: Vec::new(),
        });
        let mut obj = Object::new();
        let maps = obj.add_section(Section::new(".maps", SectionKind::Maps));
        obj.sections[maps].reserve(48);
        let decls = obj.declared_maps(Some(&out.btf)).expect("reads");
        assert_eq!(decls.len(), 2);
        assert_eq!(decls[0].name, "events");
        assert_eq!(decls[0].map_type(), Some(27));
        assert_eq!(decls[0].max_entries(), Some(4096));
        assert_eq!(decls[1].key_size(), Some(4));
        assert_eq!(decls[1].offset, 16);
        assert!(obj.declared_maps(None).is_err());
    }

    #[test]
    fn functions_split_a_section() {
        let p = crate::assemble(".section xdp\n.name a\nr0 = 2\nexit\n", &Default::default())
            .expect("assembles");
        let obj = Object::from_program_with_btf(&p, "a.s");
        let xdp = obj.section_index("xdp").expect("xdp");
        assert_eq!(obj.functions(xdp)[0].size, 16);
        assert_eq!(obj.function_at(xdp, 8).map(|f| f.name), Some("a".into()));
        assert!(obj.function_at(xdp, 16).is_none());
        assert!(obj.btf().expect(".BTF").is_ok());
        assert!(obj.btf_ext().expect(".BTF.ext").is_ok());
        assert!(obj.data_symbol("nothing", None).is_none());
    }
}
