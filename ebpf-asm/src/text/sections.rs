//! The object the text becomes: its sections as they fill, its symbols, the
//! jumps waiting for labels (the shared engine, [`crate::object::fixup`])
//! and the references waiting for symbols; then [`Build::finish`] turns it
//! into an [`Object`] with the relocations llvm-mc writes
//! (`llvm/lib/Target/BPF/MCTargetDesc/BPFELFObjectWriter.cpp`, whose rules
//! were checked against `llvm-mc-19 -triple bpf -filetype=obj`):
//!
//! - a reference to a global (or undefined) symbol relocates against that
//!   symbol, with the addend left in the bytes; to a local one (a `.L`
//!   label, a static function, a local label) against the section symbol,
//!   with the symbol's offset added into the bytes;
//! - `rX = SYM ll`: `R_BPF_64_64`, addend in the first `imm`;
//! - `call SYM`: a local label in the same section is a plain pc-relative
//!   call; anything else is `R_BPF_64_32` with `imm = addend / 8 - 1`;
//! - `.quad SYM`: `R_BPF_64_ABS64`; `.long SYM`: `R_BPF_64_NODYLD32` for a
//!   `.L` label in an executable section or a named symbol in a writable
//!   one, else `R_BPF_64_ABS32`. `.long A-B` within one section is a
//!   constant.

use super::AsmError;
use crate::hash::FastMap;
use crate::insn::Insn;
use crate::object::fixup::{Field, Fixup, FixupError, LabelTable};
use crate::object::reloc::{RelocType, Relocation};
use crate::object::{
    Binding, MapDecl, Object, Section, SectionKind, Symbol, SymbolType, Visibility,
};
use object::elf::{SHF_ALLOC, SHF_EXECINSTR, SHF_WRITE};

/// Where a statement was written, for errors reported after the last line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Loc {
    pub line: u32,
    pub start: usize,
    pub end: usize,
    /// Byte column in the line.
    pub col: usize,
}

/// Per 8-byte slot of a program section: (line, start, end) in the text.
pub(crate) type SlotLines = Vec<(u32, u32, u32)>;

/// A section being filled.
#[derive(Debug, Clone)]
pub(crate) struct SecBuf {
    pub sec: Section,
    /// Per 8-byte slot of a program section: (line, start, end) in the text.
    pub lines: Vec<(u32, u32, u32)>,
    /// The text gave the flags (`.section NAME,"ax"`), so instructions may
    /// not turn the section into a program section.
    pub flags_given: bool,
    /// The line that first put bytes in the section, for errors about it.
    pub first: Option<(u32, u32, u32)>,
}

/// What the text said about one symbol name.
#[derive(Debug, Clone, Default)]
pub(crate) struct SymInfo {
    /// (section, byte offset, line) where it was defined.
    pub def: Option<(usize, u64, u32)>,
    pub binding: Option<Binding>,
    /// `.hidden`, `.internal` or `.protected`.
    pub visibility: Option<Visibility>,
    pub kind: Option<SymbolType>,
    pub size: Option<u64>,
    /// A relocation or `.globl` needs it in the symbol table even when
    /// undefined.
    pub needed: bool,
}

/// `SYM`, `SYM + c`, `A - B + c` or `c`, as data directives, `.size` and
/// lddw take them.
#[derive(Debug, Clone, Default)]
pub(crate) struct SymExpr {
    pub add: Option<(String, usize)>,
    pub sub: Option<(String, usize)>,
    pub constant: i64,
}

/// What a pending reference patches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RefKind {
    /// `rX = SYM ll`.
    Ld64,
    /// `call SYM`.
    Call,
    /// `.byte/.short/.long/.quad` of that many bytes.
    Data(u8),
}

#[derive(Debug, Clone)]
pub(crate) struct PendingRef {
    pub section: usize,
    pub offset: u64,
    pub kind: RefKind,
    pub expr: SymExpr,
    pub loc: Loc,
}

/// The whole object as it fills.
#[derive(Debug, Clone, Default)]
pub(crate) struct Build {
    pub secs: Vec<SecBuf>,
    pub cur: Option<usize>,
    /// The section made for instructions written before any `.section`;
    /// the first `.section` names it (the kernel-syntax one-program file).
    pub implicit: Option<usize>,
    pub labels: LabelTable<Loc>,
    pub label_ids: FastMap<String, usize>,
    pub syms: FastMap<String, SymInfo>,
    /// Symbol names in the order first seen (the symbol table's order).
    pub order: Vec<String>,
    pub refs: Vec<PendingRef>,
    pub sizes: Vec<(String, SymExpr, Loc)>,
    /// Numeric local labels: how many times `N:` was defined so far.
    pub numeric: FastMap<u64, u32>,
    /// Counter for the hidden labels that stand for `.`.
    pub dots: u32,
    pub maps: Vec<MapDecl>,
    /// The (section, offset) of each `NAME + off ll` written with an
    /// explicit offset, `+ 0` included: in a single program that form asks
    /// for a map value (`BPF_PSEUDO_MAP_VALUE`), `NAME ll` for the map's fd.
    pub value_refs: Vec<(usize, u64)>,
}

/// Symbol lookups while [`Build::finish`] resolves references: by name and
/// by section, in constant time. [`Object::symbol_index`] scans the table,
/// which made a file with thousands of functions quadratic. The first
/// symbol of a name wins, as in that scan.
struct SymIndex {
    names: FastMap<String, usize>,
    section_syms: FastMap<usize, usize>,
}

impl SymIndex {
    fn of(obj: &Object) -> SymIndex {
        let mut names = FastMap::default();
        let mut section_syms = FastMap::default();
        for (i, y) in obj.symbols.iter().enumerate() {
            if y.kind == SymbolType::Section {
                if let Some(sec) = y.section {
                    section_syms.entry(sec).or_insert(i);
                }
            } else {
                names.entry(y.name.clone()).or_insert(i);
            }
        }
        SymIndex {
            names,
            section_syms,
        }
    }

    fn get(&self, name: &str) -> Option<usize> {
        self.names.get(name).copied()
    }

    fn or_undefined(&mut self, obj: &mut Object, name: &str) -> usize {
        if let Some(i) = self.get(name) {
            return i;
        }
        obj.symbols.push(Symbol::undefined(name));
        let i = obj.symbols.len() - 1;
        self.names.insert(name.to_string(), i);
        i
    }

    fn section_symbol(&mut self, obj: &mut Object, sec: usize) -> usize {
        if let Some(&i) = self.section_syms.get(&sec) {
            return i;
        }
        let i = obj.section_symbol(sec);
        self.section_syms.insert(sec, i);
        i
    }
}

/// A name that is never a symbol-table entry: `.L*` (llvm-mc's temporary
/// prefix), numeric local labels and `.`, which contain `\x02`.
pub(crate) fn is_temp(name: &str) -> bool {
    name.starts_with(".L") || name.contains('\x02')
}

/// The hidden name of the `k`th definition of numeric label `n`.
pub(crate) fn numeric_name(n: u64, k: u32) -> String {
    format!("{n}\x02{k}")
}

/// A label name as the user wrote it (numeric ones shown as `N`).
pub(crate) fn shown(name: &str) -> &str {
    name.split('\x02').next().unwrap_or(name)
}

/// The ELF type and flags llvm-mc gives a section named `name` when the
/// text names no flags (checked with llvm-mc-19): `.text` is code,
/// `.rodata*` is `A`, `.data*` `WA`, `.bss*` `WA` and `NOBITS`, anything else
/// has no flags at all.
pub(crate) fn default_section(name: &str) -> Section {
    let family = |p: &str| name == p || name.strip_prefix(p).is_some_and(|r| r.starts_with('.'));
    let mut s = Section::named(name);
    let alloc = SHF_ALLOC.0;
    let (ty, flags, align) = if name == ".text" {
        (object::elf::SHT_PROGBITS.0, alloc | SHF_EXECINSTR.0, 4)
    } else if family(".rodata") {
        (object::elf::SHT_PROGBITS.0, alloc, 1)
    } else if family(".data") {
        (object::elf::SHT_PROGBITS.0, alloc | SHF_WRITE.0, 1)
    } else if family(".bss") {
        (object::elf::SHT_NOBITS.0, alloc | SHF_WRITE.0, 1)
    } else {
        (object::elf::SHT_PROGBITS.0, 0, 1)
    };
    s.sh_type = ty;
    s.sh_flags = flags;
    s.align = align;
    s.kind = SectionKind::classify(name, ty, flags);
    if name == ".text" {
        s.kind = SectionKind::Program;
    }
    s
}

impl Build {
    /// The symbol record for `name`, made if new (keeping first-seen order).
    pub fn sym(&mut self, name: &str) -> &mut SymInfo {
        if !self.syms.contains_key(name) {
            self.order.push(name.to_string());
        }
        self.syms.entry(name.to_string()).or_default()
    }

    /// The label-table number of `name`, made if new.
    pub fn label_id(&mut self, name: &str) -> usize {
        if let Some(&i) = self.label_ids.get(name) {
            return i;
        }
        let i = self.labels.add(name);
        self.label_ids.insert(name.to_string(), i);
        i
    }

    /// The index of section `name`, made with llvm-mc's defaults if new.
    pub fn section_named(&mut self, name: &str) -> usize {
        if let Some(i) = self.secs.iter().position(|s| s.sec.name == name) {
            return i;
        }
        self.secs.push(SecBuf {
            sec: default_section(name),
            lines: Vec::new(),
            flags_given: false,
            first: None,
        });
        self.secs.len() - 1
    }

    /// The current section's byte size.
    pub fn here(&self) -> (usize, u64) {
        let c = self.cur.unwrap_or(0);
        (c, self.secs.get(c).map_or(0, |s| s.sec.size))
    }

    /// Appends `bytes` to the current section, recording `line` for every
    /// slot of a program section that they complete.
    pub fn push(&mut self, bytes: &[u8], line: (u32, u32, u32)) {
        let Some(c) = self.cur else { return };
        let s = &mut self.secs[c];
        if s.first.is_none() && !bytes.is_empty() {
            s.first = Some(line);
        }
        s.sec.push_bytes(bytes);
        if s.sec.kind == SectionKind::Program {
            while (s.lines.len() as u64) * 8 < s.sec.size {
                s.lines.push(line);
            }
        }
    }

    /// Defines label `name` at the current place; returns the earlier
    /// definition's line if there was one.
    pub fn define(&mut self, name: &str, line: u32) -> Result<(), u32> {
        let (sec, off) = self.here();
        let info = self.sym(name);
        if let Some((_, _, first)) = info.def {
            return Err(first);
        }
        info.def = Some((sec, off, line));
        let id = self.label_id(name);
        let _ = self.labels.bind(id, sec, (off / 8) as usize);
        Ok(())
    }

    /// A jump at `slot` of the current section to `name`.
    pub fn jump_fixup(&mut self, slot: usize, name: &str, field: Field, loc: Loc) {
        let label = self.label_id(name);
        let section = self.cur.unwrap_or(0);
        self.labels.refer(Fixup {
            section,
            slot,
            label,
            field,
            tag: loc,
        });
    }

    /// A hidden label for `.` (the current location).
    pub fn dot(&mut self, line: u32) -> String {
        self.dots += 1;
        let name = format!(".\x02{}", self.dots);
        let _ = self.define(&name, line);
        name
    }

    /// `(section, offset)` of a defined symbol.
    fn def_of(&self, name: &str) -> Option<(usize, u64)> {
        self.syms
            .get(name)
            .and_then(|s| s.def)
            .map(|(s, o, _)| (s, o))
    }

    fn is_global(&self, name: &str) -> bool {
        self.syms
            .get(name)
            .and_then(|s| s.binding)
            .is_some_and(|b| b != Binding::Local)
    }

    /// The value of `A - B + c` when both are defined in one section, or of
    /// `c`; `None` when a symbol is left for a relocation or undefined.
    pub fn constant_value(&self, e: &SymExpr) -> Option<i64> {
        match (&e.add, &e.sub) {
            (None, None) => Some(e.constant),
            (Some((a, _)), Some((b, _))) => {
                let (sa, va) = self.def_of(a)?;
                let (sb, vb) = self.def_of(b)?;
                (sa == sb).then(|| va as i64 - vb as i64 + e.constant)
            }
            _ => None,
        }
    }

    /// Everything resolved into an [`Object`]; `err` turns a place and a
    /// message into the error to report.
    pub fn finish(
        mut self,
        err: &dyn Fn(Loc, String) -> AsmError,
    ) -> Result<(Object, Vec<SlotLines>), AsmError> {
        // Jumps (and local calls) to labels, through the shared engine.
        let resolved = self.labels.resolve().map_err(|e| match e {
            FixupError::Unbound { name, tag } => {
                let n = shown(name);
                let msg = if name.contains('\x02') {
                    format!("no numeric label `{n}:` in that direction for `{n}b`/`{n}f`")
                } else {
                    format!("unknown label `{n}`; define it with `{n}:` on its own line")
                };
                err(*tag, msg)
            }
            FixupError::OtherSection { name, tag } => err(
                *tag,
                format!(
                    "label `{}` is in another section; a jump stays within its section",
                    shown(name)
                ),
            ),
            FixupError::OutOfRange { name, rel, field, tag } => {
                let msg = match field {
                    Field::Off16 => format!("label `{}` is {rel} slots away: out of range for a 16-bit jump offset (-32768..32767); use gotol", shown(name)),
                    Field::Imm32 => format!("label `{}` is {rel} slots away: out of range for a 32-bit offset", shown(name)),
                };
                err(*tag, msg)
            }
        })?;
        let patches: Vec<(usize, usize, Field, i64)> = resolved
            .iter()
            .map(|(f, rel)| (f.section, f.slot, f.field, *rel))
            .collect();
        for (sec, slot, field, rel) in patches {
            self.patch_slot(sec, slot, |i| {
                field.apply(i, rel);
            });
        }
        // Symbols: every non-temporary name defined, or needed undefined.
        let mut obj = Object::new();
        // Each section without its bytes: they stay in `self.secs`, where
        // the references below patch them, and move over at the end (a
        // copy each way was twice the code's size, 17 MB for a million
        // instructions).
        for s in &mut self.secs {
            let data = std::mem::take(&mut s.sec.data);
            obj.sections.push(s.sec.clone());
            s.sec.data = data;
        }
        for name in &self.order {
            let info = &self.syms[name];
            if is_temp(name) {
                continue;
            }
            match info.def {
                Some((sec, value, _)) => obj.symbols.push(Symbol {
                    name: name.clone(),
                    section: Some(sec),
                    value,
                    size: info.size.unwrap_or(0),
                    kind: info.kind.unwrap_or(SymbolType::NoType),
                    binding: info.binding.unwrap_or(Binding::Local),
                    visibility: info.visibility.unwrap_or_default(),
                }),
                // A section's name used as a symbol (`.long .debug_abbrev`)
                // is the section symbol, made when a relocation needs it.
                None if self.secs.iter().any(|s| s.sec.name == *name) => {}
                None if info.needed || info.binding.is_some() => {
                    let mut u = Symbol::undefined(name);
                    if let Some(k) = info.kind {
                        u.kind = k;
                    }
                    if info.binding == Some(Binding::Weak) {
                        u.binding = Binding::Weak;
                    }
                    u.visibility = info.visibility.unwrap_or_default();
                    obj.symbols.push(u);
                }
                None => {}
            }
        }
        let mut index = SymIndex::of(&obj);
        // `.size NAME, expr`.
        for (name, e, loc) in std::mem::take(&mut self.sizes) {
            let v = self.constant_value(&e).ok_or_else(|| {
                err(
                    loc,
                    "`.size` needs a constant or `END-START` within one section".to_string(),
                )
            })?;
            let Some(i) = index.get(&name) else {
                if is_temp(&name) && self.def_of(&name).is_some() {
                    // A `.L` symbol has no table entry to carry a size.
                    continue;
                }
                return Err(err(
                    loc,
                    format!("`.size` of `{name}`, which is not defined"),
                ));
            };
            obj.symbols[i].size = v as u64;
        }
        // References to symbols.
        for r in std::mem::take(&mut self.refs) {
            self.reference(&mut obj, &mut index, r, err)?;
        }
        for (i, s) in obj.sections.iter_mut().enumerate() {
            s.relocations.sort_by_key(|r| r.offset);
            // Patched bytes went into `self.secs`; move them over.
            s.data = std::mem::take(&mut self.secs[i].sec.data);
        }
        obj.maps = std::mem::take(&mut self.maps);
        let lines = self.secs.into_iter().map(|s| s.lines).collect();
        Ok((obj, lines))
    }

    fn patch_slot(&mut self, sec: usize, slot: usize, f: impl FnOnce(&mut Insn)) {
        let Some(s) = self.secs.get_mut(sec) else {
            return;
        };
        let at = slot * 8;
        let Some(b) = s.sec.data.get_mut(at..at + 8) else {
            return;
        };
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(b);
        let mut i = Insn::from_bytes(bytes);
        f(&mut i);
        b.copy_from_slice(&i.to_bytes());
    }

    fn patch_bytes(&mut self, sec: usize, offset: u64, value: &[u8]) {
        if let Some(b) = self.secs.get_mut(sec).and_then(|s| {
            s.sec
                .data
                .get_mut(offset as usize..offset as usize + value.len())
        }) {
            b.copy_from_slice(value);
        }
    }

    /// Resolves one reference: a constant, a pc-relative call, or a
    /// relocation against a symbol or a section symbol.
    fn reference(
        &mut self,
        obj: &mut Object,
        index: &mut SymIndex,
        r: PendingRef,
        err: &dyn Fn(Loc, String) -> AsmError,
    ) -> Result<(), AsmError> {
        let e = &r.expr;
        if let Some(v) = self.constant_value(e) {
            return match r.kind {
                RefKind::Data(n) => {
                    self.patch_bytes(r.section, r.offset, &v.to_le_bytes()[..n as usize]);
                    Ok(())
                }
                _ => Err(err(r.loc, "expected a symbol".to_string())),
            };
        }
        let Some((a, a_at)) = e.add.clone() else {
            return Err(err(
                r.loc,
                "a negated symbol cannot be relocated; write `A - B` with both in one section"
                    .to_string(),
            ));
        };
        if let Some((b, b_at)) = &e.sub {
            let loc = Loc {
                col: *b_at,
                ..r.loc
            };
            return Err(err(
                loc,
                format!(
                    "`{} - {}`: both must be defined in the same section for the difference to be a constant",
                    shown(&a),
                    shown(b)
                ),
            ));
        }
        let def = self.def_of(&a);
        if def.is_none() {
            if let Some(sec) = self.secs.iter().position(|s| s.sec.name == a) {
                // A section's name: its section symbol, at offset 0.
                let symbol = index.section_symbol(obj, sec);
                let flags = self.secs[sec].sec.sh_flags;
                let kind = match r.kind {
                    RefKind::Ld64 => RelocType::Ld64,
                    RefKind::Call => RelocType::Call32,
                    RefKind::Data(8) => RelocType::Abs64,
                    RefKind::Data(4) => data32_type(Some(flags), false),
                    RefKind::Data(n) => {
                        return Err(err(r.loc, format!("a {n}-byte value cannot name a symbol: BPF has relocations for 4 (`.long`) and 8 (`.quad`) bytes only")))
                    }
                };
                let c = e.constant;
                match r.kind {
                    RefKind::Data(n) => {
                        self.patch_bytes(r.section, r.offset, &c.to_le_bytes()[..n as usize])
                    }
                    _ => self.patch_slot(r.section, (r.offset / 8) as usize, |i| i.imm = c as i32),
                }
                obj.sections[r.section].relocations.push(Relocation {
                    offset: r.offset,
                    symbol,
                    kind,
                });
                return Ok(());
            }
        }
        if def.is_none() && is_temp(&a) {
            let loc = Loc { col: a_at, ..r.loc };
            let n = shown(&a);
            return Err(err(loc, format!("`{n}` is never defined")));
        }
        // Same-section local call: a plain pc-relative call.
        if r.kind == RefKind::Call {
            if let Some((sec, off)) = def {
                if sec == r.section && !self.is_global(&a) {
                    let slot = r.offset as i64 / 8;
                    let rel = off as i64 / 8 - (slot + 1);
                    let imm = i32::try_from(rel)
                        .map_err(|_| err(r.loc, format!("`{a}` is out of range of a call")))?;
                    self.patch_slot(r.section, slot as usize, |i| i.imm = imm);
                    return Ok(());
                }
            }
        }
        let (symbol, addend) = match def {
            Some((sec, off)) if !self.is_global(&a) => (index.section_symbol(obj, sec), off as i64),
            _ => (index.or_undefined(obj, &a), 0),
        };
        let addend = addend + e.constant;
        let kind = match r.kind {
            RefKind::Ld64 => {
                let slot = (r.offset / 8) as usize;
                self.patch_slot(r.section, slot, |i| i.imm = addend as i32);
                RelocType::Ld64
            }
            RefKind::Call => {
                let imm = (addend / 8 - 1) as i32;
                self.patch_slot(r.section, (r.offset / 8) as usize, |i| i.imm = imm);
                RelocType::Call32
            }
            RefKind::Data(8) => {
                self.patch_bytes(r.section, r.offset, &addend.to_le_bytes());
                RelocType::Abs64
            }
            RefKind::Data(4) => {
                self.patch_bytes(r.section, r.offset, &(addend as u32).to_le_bytes());
                let flags = def.map(|(s, _)| self.secs[s].sec.sh_flags);
                data32_type(flags, is_temp(&a))
            }
            RefKind::Data(n) => {
                return Err(err(
                    r.loc,
                    format!("a {n}-byte value cannot name a symbol: BPF has relocations for 4 (`.long`) and 8 (`.quad`) bytes only"),
                ))
            }
        };
        obj.sections[r.section].relocations.push(Relocation {
            offset: r.offset,
            symbol,
            kind,
        });
        Ok(())
    }
}

/// The type llvm-mc gives a 4-byte data relocation (`BPFELFObjectWriter`):
/// `R_BPF_64_NODYLD32` for a temporary label in an executable section (the
/// instruction offsets of `.BTF.ext`) or a named symbol in a writable one
/// (the variable offsets of `.BTF`'s DATASEC), else `R_BPF_64_ABS32`.
/// `target_flags` is `None` for an undefined symbol.
pub fn data32_type(target_flags: Option<u64>, temporary: bool) -> RelocType {
    let Some(f) = target_flags else {
        return RelocType::Abs32;
    };
    let alloc = f & SHF_ALLOC.0 != 0;
    let nodyld = if temporary {
        alloc && f & SHF_EXECINSTR.0 != 0
    } else {
        alloc && f & SHF_WRITE.0 != 0
    };
    if nodyld {
        RelocType::NoDyld32
    } else {
        RelocType::Abs32
    }
}
