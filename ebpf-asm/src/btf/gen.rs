//! The BTF our assembler writes for hand-written `.s` objects, so that they
//! carry what clang's objects carry:
//!
//! - a FUNC and a FUNC_PROTO per function, `int NAME(CTX *ctx)`, the context
//!   typed as the kernel expects for the program type (`struct __sk_buff *`
//!   for `tc`, `struct xdp_md *` for `xdp`, else `unsigned long long *`;
//!   see [`ctx_for_section`]), so the verifier's log has no
//!   "arg#0 reference type('UNKNOWN ')" line. Only a program is BTF-global;
//!   subprograms are static, checked in their caller's context;
//! - `func_info` (`struct bpf_func_info`, bpf.h) per function and
//!   `line_info` (`struct bpf_line_info`) per instruction, pointing at the
//!   `.s` file's own lines: the file name, the line's text and
//!   `line << 10 | col`. `bpftool prog dump xlated linum` and the verifier
//!   log then quote the assembly;
//! - for each map declaration, the BTF clang writes for
//!   `struct { __uint(type, T); __uint(key_size, K); ... } NAME SEC(".maps")`:
//!   `__uint(name, val)` is `int (*name)[val]`, so each field is a PTR to an
//!   ARRAY of `int` with `val` elements, in an anonymous STRUCT, in a VAR in
//!   a DATASEC `.maps`. libbpf reads map definitions only this way;
//! - a DATASEC per data section (`.rodata`...) with a VAR per named object.
//!
//! The input is plain data ([`Input`]), filled from the object model.

use super::ext::{BtfExt, FuncInfo, InfoSec, LineInfo, BTF_EXT_HEADER_LEN_CORE};
use super::{
    Btf, IntEncoding, Member, Param, Type, TypeData, VarSecinfo, BTF_FUNC_GLOBAL, BTF_FUNC_STATIC,
    BTF_VAR_GLOBAL_ALLOCATED, BTF_VAR_STATIC,
};
use crate::hash::FastMap;
use crate::insn::{CallKind, Insn, Instruction};
use crate::program::Program;
use std::borrow::Cow;
use std::collections::BTreeMap;

/// What the BTF of one object is made from.
#[derive(Debug, Clone, Default)]
pub struct Input<'a> {
    /// The source file's name, as line_info records it (`redirect.s`).
    pub file_name: String,
    pub functions: Vec<Function<'a>>,
    pub maps: Vec<MapDecl>,
    pub data_sections: Vec<DataSection>,
}

/// A function symbol in a program section.
#[derive(Debug, Clone)]
pub struct Function<'a> {
    pub name: String,
    /// The ELF section holding it (`tc`, `xdp`, `tp_btf/net_dev_queue`).
    pub section: String,
    /// Byte offset of its first instruction within the section.
    pub offset: u32,
    /// The symbol is global (`.globl`). Only a global function at offset 0
    /// of a program section gets BTF-global linkage (see [`generate`]).
    pub global: bool,
    /// One entry per instruction (not per slot: an lddw's second slot has
    /// none), in order.
    pub lines: Vec<InsnLine<'a>>,
}

/// The source of one instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InsnLine<'a> {
    /// Byte offset within the section.
    pub insn_off: u32,
    /// 1-based line and column.
    pub line: u32,
    pub col: u32,
    /// The line's text, as the verifier log will quote it: borrowed from
    /// the source text when made from one (a copy per instruction was a
    /// million allocations for a million-line file).
    pub text: Cow<'a, str>,
}

/// A map declaration, the fields of libbpf's BTF map definition. A field
/// that is 0 is left out, as a C declaration would leave it out (except
/// `type`, always written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapDecl {
    pub name: String,
    /// `BPF_MAP_TYPE_*` (bpf.h).
    pub map_type: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    pub map_flags: u32,
    /// Byte offset of the definition in `.maps`.
    pub offset: u32,
}

impl MapDecl {
    /// The definition's fields as libbpf names them, in clang's order.
    pub fn fields(&self) -> Vec<(&'static str, u32)> {
        let mut v = vec![("type", self.map_type)];
        for (n, x) in [
            ("key_size", self.key_size),
            ("value_size", self.value_size),
            ("max_entries", self.max_entries),
            ("map_flags", self.map_flags),
        ] {
            if x != 0 {
                v.push((n, x));
            }
        }
        v
    }

    /// Bytes the definition takes in `.maps`: one pointer per field.
    pub fn size(&self) -> u32 {
        self.fields().len() as u32 * 8
    }
}

/// A data section (`.rodata`, `.data`, `.bss`) and its named objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataSection {
    pub name: String,
    pub size: u32,
    pub vars: Vec<DataVar>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataVar {
    pub name: String,
    pub offset: u32,
    pub size: u32,
    pub global: bool,
}

/// The context struct a program type's first argument points to, by the
/// ELF section name libbpf uses for it (`tools/lib/bpf/libbpf.c`,
/// `section_defs`), with the struct's size from `include/uapi/linux/bpf.h`.
/// `None`: the context is typed `unsigned long long *` (tracing programs,
/// whose context is their arguments as u64s, and sections we do not know).
pub fn ctx_for_section(section: &str) -> Option<(&'static str, u32)> {
    let first = section.split('/').next().unwrap_or("");
    match first {
        // struct __sk_buff: 192 bytes (bpf.h).
        "tc" | "tcx" | "classifier" | "action" | "socket" | "cgroup_skb" | "sk_skb" | "lwt_in"
        | "lwt_out" | "lwt_xmit" | "lwt_seg6local" | "netkit" => Some(("__sk_buff", 192)),
        // struct xdp_md: 24 bytes (bpf.h).
        "xdp" | "xdp.frags" => Some(("xdp_md", 24)),
        _ => None,
    }
}

/// A string section builder that keeps one copy of each string, in O(1).
///
/// A million-line file adds a million line texts, so this is the hot loop
/// of the BTF writer, and its time is memory: the table is megabytes and
/// each new text lands at a random place in it. A `FastMap<String, u32>`
/// cost an allocation per new string (and a free when it dropped), 32
/// bytes a bucket and a read of the key's own heap copy per candidate.
/// Here a slot is 8 bytes, a hash and an offset into `bytes` itself, in a
/// table up to 7/8 full: 442,000 distinct lines fit in 4 MB. Most probes
/// end at a hash that differs without reading a string, and growing
/// re-places slots by their stored hash without reading one again.
struct Strings {
    bytes: Vec<u8>,
    /// Open addressing with linear probing, a power of two long; a slot
    /// with `off == 0` is empty (offset 0 is the empty string, which is
    /// never looked up).
    slots: Vec<Slot>,
    used: usize,
    /// The strings holding a NUL byte. The table finds a string by its
    /// bytes at an offset followed by a NUL, which tells a NUL-free string
    /// from every other but not `a\0b` from `a`: these few (an assembly
    /// line has no reason to hold one) are kept apart, in a plain map.
    with_nul: FastMap<String, u32>,
}

#[derive(Clone, Copy, Default)]
struct Slot {
    hash: u32,
    off: u32,
}

impl Strings {
    fn new() -> Strings {
        Strings {
            bytes: vec![0],
            slots: vec![Slot::default(); 1024],
            used: 0,
            with_nul: FastMap::default(),
        }
    }

    fn hash(s: &str) -> u32 {
        let mut h = crate::hash::FxHasher::default();
        std::hash::Hasher::write(&mut h, s.as_bytes());
        std::hash::Hasher::finish(&h) as u32
    }

    fn add(&mut self, s: &str) -> u32 {
        self.add_hashed(s, Self::hash(s))
    }

    /// [`Strings::add`] for each of `texts`, in order, into `out`.
    ///
    /// For a million line texts, the time of `add` is the load of each
    /// text's first slot: a random place in the table, so a cache miss,
    /// one after another. Here the first slots of a batch are loaded
    /// together before any is looked at: the loads do not depend on each
    /// other, so their misses overlap, and the lookups that follow find
    /// the slots in the cache. A plain load does what a prefetch
    /// instruction would, without `unsafe`.
    fn add_all(&mut self, texts: &[&str], out: &mut Vec<u32>) {
        for batch in texts.chunks(BATCH) {
            let mut hashes = [0u32; BATCH];
            let mask = self.slots.len() - 1;
            let mut touched = 0;
            for (h, t) in hashes.iter_mut().zip(batch) {
                *h = Self::hash(t);
                touched ^= self.slots[*h as usize & mask].off;
            }
            std::hint::black_box(touched);
            for (t, &h) in batch.iter().zip(&hashes) {
                out.push(self.add_hashed(t, h));
            }
        }
    }

    fn add_hashed(&mut self, s: &str, hash: u32) -> u32 {
        if s.is_empty() {
            return 0;
        }
        if s.as_bytes().contains(&0) {
            return self.add_with_nul(s);
        }
        let mask = self.slots.len() - 1;
        let mut i = hash as usize & mask;
        loop {
            let slot = self.slots[i];
            if slot.off == 0 {
                break;
            }
            if slot.hash == hash {
                // `s` has no NUL and neither has the stored string: equal
                // bytes and then a NUL mean the same length.
                let at = slot.off as usize;
                let stored = self.bytes.get(at..at + s.len() + 1);
                if stored.is_some_and(|b| &b[..s.len()] == s.as_bytes() && b[s.len()] == 0) {
                    return slot.off;
                }
            }
            i = (i + 1) & mask;
        }
        let off = self.push(s);
        self.slots[i] = Slot { hash, off };
        self.used += 1;
        if self.used * 8 > self.slots.len() * 7 {
            self.grow();
        }
        off
    }

    fn add_with_nul(&mut self, s: &str) -> u32 {
        if let Some(&o) = self.with_nul.get(s) {
            return o;
        }
        let o = self.push(s);
        self.with_nul.insert(s.to_string(), o);
        o
    }

    /// Appends `s` and its NUL, returning its offset.
    fn push(&mut self, s: &str) -> u32 {
        let off = self.bytes.len() as u32;
        self.bytes.extend_from_slice(s.as_bytes());
        self.bytes.push(0);
        off
    }

    /// Doubles the table, placing each slot by its stored hash.
    fn grow(&mut self) {
        let bigger = vec![Slot::default(); self.slots.len() * 2];
        let old = std::mem::replace(&mut self.slots, bigger);
        let mask = self.slots.len() - 1;
        for slot in old.into_iter().filter(|s| s.off != 0) {
            let mut i = slot.hash as usize & mask;
            while self.slots[i].off != 0 {
                i = (i + 1) & mask;
            }
            self.slots[i] = slot;
        }
    }
}

/// How many strings [`Strings::add_all`] looks up together.
const BATCH: usize = 16;

/// Types shared between functions and maps, added once on first use.
struct Gen {
    btf: Btf,
    s: Strings,
    int: Option<u32>,
    array_index: Option<u32>,
    char_const: Option<u32>,
    ctx: FastMap<&'static str, u32>,
    int_arrays: FastMap<u32, u32>,
}

impl Gen {
    fn add(&mut self, name: &str, kind_flag: bool, data: TypeData) -> u32 {
        let name_off = self.s.add(name);
        self.btf.add_type(Type {
            name_off,
            kind_flag,
            data,
        })
    }

    fn int(&mut self) -> u32 {
        if let Some(i) = self.int {
            return i;
        }
        let data = (IntEncoding::SIGNED.bits() as u32) << 24 | 32;
        let i = self.add("int", false, TypeData::Int { size: 4, data });
        self.int = Some(i);
        i
    }

    /// clang's `__ARRAY_SIZE_TYPE__`, the index type of every array.
    fn array_index(&mut self) -> u32 {
        if let Some(i) = self.array_index {
            return i;
        }
        let i = self.add(
            "__ARRAY_SIZE_TYPE__",
            false,
            TypeData::Int { size: 4, data: 32 },
        );
        self.array_index = Some(i);
        i
    }

    fn const_char(&mut self) -> u32 {
        if let Some(i) = self.char_const {
            return i;
        }
        let data = (IntEncoding::SIGNED.bits() as u32) << 24 | 8;
        let c = self.add("char", false, TypeData::Int { size: 1, data });
        let i = self.add("", false, TypeData::Const { ty: c });
        self.char_const = Some(i);
        i
    }

    /// `int (*)[n]`: a PTR to an ARRAY of n ints.
    fn int_array_ptr(&mut self, n: u32) -> u32 {
        if let Some(&p) = self.int_arrays.get(&n) {
            return p;
        }
        let int = self.int();
        let index_ty = self.array_index();
        let arr = self.add(
            "",
            false,
            TypeData::Array {
                ty: int,
                index_ty,
                nelems: n,
            },
        );
        let p = self.add("", false, TypeData::Ptr { ty: arr });
        self.int_arrays.insert(n, p);
        p
    }

    fn ctx_ptr(&mut self, section: &str) -> u32 {
        let Some((name, size)) = ctx_for_section(section) else {
            // `unsigned long long *ctx`, as libbpf's BPF_PROG() declares a
            // tracing program's context (its arguments as u64s). With
            // `void *` the verifier logs "arg#0 reference type('UNKNOWN ')
            // size cannot be determined" for every load.
            if let Some(&p) = self.ctx.get("u64") {
                return p;
            }
            let u64_ty = self.add(
                "unsigned long long",
                false,
                TypeData::Int { size: 8, data: 64 },
            );
            let p = self.add("", false, TypeData::Ptr { ty: u64_ty });
            self.ctx.insert("u64", p);
            return p;
        };
        if let Some(&p) = self.ctx.get(name) {
            return p;
        }
        // The struct is named with its uapi size and no members: the
        // verifier matches the context by name, and the members are the
        // kernel's business (it rewrites every context access).
        let s = self.add(
            name,
            false,
            TypeData::Struct {
                size,
                members: Vec::new(),
            },
        );
        let p = self.add("", false, TypeData::Ptr { ty: s });
        self.ctx.insert(name, p);
        p
    }
}

/// The generated `.BTF` and `.BTF.ext`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    pub btf: Btf,
    pub ext: BtfExt,
}

impl Output {
    /// The `.BTF` section's bytes.
    pub fn btf_bytes(&self) -> Vec<u8> {
        self.btf.encode()
    }
    /// The `.BTF.ext` section's bytes.
    pub fn ext_bytes(&self) -> Vec<u8> {
        self.ext.encode()
    }
}

/// Generate the BTF for an object.
pub fn generate(input: &Input) -> Output {
    let mut g = Gen {
        btf: Btf::new(),
        s: Strings::new(),
        int: None,
        array_index: None,
        char_const: None,
        ctx: FastMap::default(),
        int_arrays: FastMap::default(),
    };

    // Functions, grouped per section in offset order (func_info and
    // line_info must be sorted by insn_off within a section).
    let mut per_section: BTreeMap<&str, Vec<(&Function, u32)>> = BTreeMap::new();
    for f in &input.functions {
        let ctx = g.ctx_ptr(&f.section);
        let ret = g.int();
        let ctx_name = g.s.add("ctx");
        let proto = g.add(
            "",
            false,
            TypeData::FuncProto {
                ret,
                params: vec![Param {
                    name_off: ctx_name,
                    ty: ctx,
                }],
            },
        );
        // Only a program (a global function at the start of its section)
        // is BTF-global. The verifier checks a BTF-global subprogram on its
        // own, against argument types a `.s` file does not declare; a static
        // one it checks in its caller's context, as the author of
        // hand-written assembly expects.
        let linkage = if f.global && f.offset == 0 && f.section != ".text" {
            BTF_FUNC_GLOBAL
        } else {
            BTF_FUNC_STATIC
        };
        let func = g.add(
            &c_identifier(&f.name),
            false,
            TypeData::Func { proto, linkage },
        );
        per_section.entry(&f.section).or_default().push((f, func));
    }

    // Maps: VAR NAME of an anonymous struct of `int (*field)[value]`.
    let mut map_vars = Vec::new();
    for m in &input.maps {
        let mut members = Vec::new();
        for (i, (field, val)) in m.fields().into_iter().enumerate() {
            let ty = g.int_array_ptr(val);
            members.push(Member {
                name_off: g.s.add(field),
                ty,
                offset: i as u32 * 64,
            });
        }
        let st = g.add(
            "",
            false,
            TypeData::Struct {
                size: m.size(),
                members,
            },
        );
        let var = g.add(
            &m.name,
            false,
            TypeData::Var {
                ty: st,
                linkage: BTF_VAR_GLOBAL_ALLOCATED,
            },
        );
        map_vars.push(VarSecinfo {
            ty: var,
            offset: m.offset,
            size: m.size(),
        });
    }
    if !map_vars.is_empty() {
        map_vars.sort_by_key(|v| v.offset);
        let size = input
            .maps
            .iter()
            .map(|m| m.offset + m.size())
            .max()
            .unwrap_or(0);
        g.add(
            ".maps",
            false,
            TypeData::Datasec {
                size,
                vars: map_vars,
            },
        );
    }

    // Data sections: each named object a `const char[size]` VAR. The
    // kernel refuses a DATASEC without VARs, so a section with none (only
    // local labels) gets no DATASEC.
    for d in &input.data_sections {
        let mut vars = Vec::new();
        let mut sorted: Vec<&DataVar> = d.vars.iter().collect();
        sorted.sort_by_key(|v| v.offset);
        for v in sorted {
            // Assembler-local labels (`.L.str`) are no C names, and the
            // kernel refuses a VAR whose name is not an identifier; clang
            // writes no VAR for them either.
            if v.size == 0 || c_identifier(&v.name) != v.name {
                continue;
            }
            let elem = g.const_char();
            let index_ty = g.array_index();
            let arr = g.add(
                "",
                false,
                TypeData::Array {
                    ty: elem,
                    index_ty,
                    nelems: v.size,
                },
            );
            let linkage = if v.global {
                BTF_VAR_GLOBAL_ALLOCATED
            } else {
                BTF_VAR_STATIC
            };
            let var = g.add(&v.name, false, TypeData::Var { ty: arr, linkage });
            vars.push(VarSecinfo {
                ty: var,
                offset: v.offset,
                size: v.size,
            });
        }
        if !vars.is_empty() {
            g.add(&d.name, false, TypeData::Datasec { size: d.size, vars });
        }
    }

    let file = g.s.add(&input.file_name);
    let mut func_info = Vec::new();
    let mut line_info = Vec::new();
    for (section, mut funcs) in per_section {
        funcs.sort_by_key(|(f, _)| f.offset);
        let sec_name_off = g.s.add(section);
        func_info.push(InfoSec {
            sec_name_off,
            records: funcs
                .iter()
                .map(|(f, id)| FuncInfo {
                    insn_off: f.offset,
                    type_id: *id,
                })
                .collect(),
        });
        let n = funcs.iter().map(|(f, _)| f.lines.len()).sum();
        let mut lines = Vec::with_capacity(n);
        let mut offs = Vec::with_capacity(BATCH);
        for (f, _) in &funcs {
            for chunk in f.lines.chunks(BATCH) {
                let mut texts = [""; BATCH];
                for (t, l) in texts.iter_mut().zip(chunk) {
                    *t = l.text.trim();
                }
                offs.clear();
                g.s.add_all(&texts[..chunk.len()], &mut offs);
                lines.extend(chunk.iter().zip(&offs).map(|(l, &line_off)| LineInfo {
                    insn_off: l.insn_off,
                    file_name_off: file,
                    line_off,
                    line_col: LineInfo::line_col(l.line, l.col),
                }));
            }
        }
        lines.sort_by_key(|l| l.insn_off);
        lines.dedup_by_key(|l| l.insn_off);
        if !lines.is_empty() {
            line_info.push(InfoSec {
                sec_name_off,
                records: lines,
            });
        }
    }
    g.btf.strings = g.s.bytes;
    Output {
        btf: g.btf,
        ext: BtfExt {
            flags: 0,
            hdr_len: BTF_EXT_HEADER_LEN_CORE,
            func_info: Some(func_info),
            line_info: Some(line_info),
            core_relo: None,
        },
    }
}

impl Input<'_> {
    /// The input for a one-section [`Program`]: its function at offset 0,
    /// plus one static function per bpf-to-bpf call target in the section
    /// (the kernel wants a func_info for every subprogram it finds), named
    /// by the label on the line before the target when there is one; a
    /// line per instruction from its source map (none when it was built from
    /// Rust, not text). A one-section program declares no maps.
    pub fn from_program<'a>(prog: &'a Program, file_name: &str) -> Input<'a> {
        // One decoding walk (as `prog.instructions()`), keeping only where
        // each instruction starts and where local calls go: not a vector of
        // every decoded instruction, 24 MB for a million. A program that
        // does not decode gets no lines and no subprograms, as before.
        let all = prog.insns();
        let slots = all.len();
        let mut insn_slots = Vec::with_capacity(slots);
        let mut starts = vec![0usize];
        let mut at = 0;
        while at < slots {
            let Ok((insn, used)) = crate::encode::decode(&all[at..]) else {
                insn_slots.clear();
                starts.truncate(1);
                break;
            };
            if let Instruction::Call(CallKind::Local(imm)) = insn {
                let target = at as i64 + 1 + imm as i64;
                if target > 0 && (target as usize) < slots {
                    starts.push(target as usize);
                }
            }
            insn_slots.push(at);
            at += used;
        }
        starts.sort_unstable();
        starts.dedup();
        // Split the text into lines once, and only when a label is wanted.
        let text_lines: Vec<&str> = if starts.len() > 1 {
            prog.source_text().lines().collect()
        } else {
            Vec::new()
        };
        let mut functions: Vec<Function> = starts
            .iter()
            .enumerate()
            .map(|(i, &start)| Function {
                name: if start == 0 {
                    prog.name().to_string()
                } else {
                    subprogram_name(prog, &text_lines, start)
                },
                section: prog.section().to_string(),
                offset: (start * Insn::SIZE) as u32,
                global: start == 0,
                // Sized to the instructions it holds: a million lines of
                // 40 bytes, grown by doubling, were copied and faulted in
                // twice.
                lines: Vec::with_capacity({
                    let end = starts.get(i + 1).copied().unwrap_or(slots);
                    insn_slots.partition_point(|&s| s < end)
                        - insn_slots.partition_point(|&s| s < start)
                }),
            })
            .collect();
        for slot in insn_slots {
            // What `prog.source_of(slot)` says, without copying the text.
            let Some(&(line, start, end)) = prog.lines.get(slot) else {
                continue;
            };
            let Some(text) = prog.source.get(start as usize..end as usize) else {
                continue;
            };
            // The function holding this slot: the last start at or before it.
            let f = starts.partition_point(|&s| s <= slot).saturating_sub(1);
            functions[f].lines.push(InsnLine {
                insn_off: (slot * Insn::SIZE) as u32,
                line,
                col: first_column(text),
                text: Cow::Borrowed(text),
            });
        }
        Input {
            file_name: file_name.to_string(),
            functions,
            maps: Vec::new(),
            data_sections: Vec::new(),
        }
    }
}

impl<'a> Input<'a> {
    /// The input for a whole [`crate::object::Object`] assembled from
    /// text: a function per `STT_FUNC` symbol of each program section (or
    /// one named by [`crate::object::Object::programs`] for a section with
    /// none) and per call target found in the code (pc-relative calls, and
    /// `R_BPF_64_32` relocations into the section), named by the symbol at
    /// that offset when there is one; a line per instruction from
    /// `slot_lines` (per section, per slot: line and byte range in
    /// `source`); the maps of `.map`; and a DATASEC per `.rodata`/`.data`/
    /// `.bss` section with a VAR per sized symbol.
    pub fn from_object(
        obj: &crate::object::Object,
        slot_lines: &[Vec<(u32, u32, u32)>],
        source: &'a str,
        file_name: &str,
    ) -> Input<'a> {
        use crate::object::{Binding, SectionKind, SymbolType};
        let mut functions = Vec::new();
        let progs = obj.programs();
        for (si, sec) in obj.sections.iter().enumerate() {
            if sec.kind != SectionKind::Program || sec.size == 0 {
                continue;
            }
            let slots: Vec<Insn> = sec
                .data
                .chunks_exact(Insn::SIZE)
                .map(|c| {
                    let mut b = [0u8; 8];
                    b.copy_from_slice(c);
                    Insn::from_bytes(b)
                })
                .collect();
            // Where instructions start (an lddw's second slot is none).
            let mut starts_insn = vec![true; slots.len()];
            let mut i = 0;
            while i < slots.len() {
                if slots[i].code == crate::opcode::BPF_LD | crate::opcode::BPF_DW {
                    if let Some(s) = starts_insn.get_mut(i + 1) {
                        *s = false;
                    }
                    i += 2;
                } else {
                    i += 1;
                }
            }
            let mut starts: BTreeMap<u64, (String, bool)> = BTreeMap::new();
            for y in &obj.symbols {
                if y.section == Some(si) && y.kind == SymbolType::Func {
                    starts.insert(y.value, (y.name.clone(), y.binding != Binding::Local));
                }
            }
            for p in progs.iter().filter(|p| p.section_index == si) {
                starts
                    .entry(p.offset)
                    .or_insert_with(|| (p.name.clone(), true));
            }
            let mut targets = Vec::new();
            for (slot, insn) in slots.iter().enumerate() {
                if starts_insn[slot]
                    && insn.code == crate::opcode::BPF_JMP | crate::opcode::BPF_CALL
                    && insn.src == crate::opcode::BPF_PSEUDO_CALL
                    && !sec
                        .relocations
                        .iter()
                        .any(|r| r.offset == (slot * Insn::SIZE) as u64)
                {
                    targets.push(((slot as i64 + 1 + insn.imm as i64) * Insn::SIZE as i64) as u64);
                }
            }
            for s2 in &obj.sections {
                for r in &s2.relocations {
                    let Some(y) = obj.symbols.get(r.symbol) else {
                        continue;
                    };
                    if r.kind != crate::object::RelocType::Call32 || y.section != Some(si) {
                        continue;
                    }
                    let at = s2.data.get(r.offset as usize + 4..r.offset as usize + 8);
                    let imm = at.map_or(-1, |b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]));
                    let off = if y.kind == SymbolType::Section {
                        (imm as i64 + 1) * Insn::SIZE as i64
                    } else {
                        y.value as i64
                    };
                    targets.push(off as u64);
                }
            }
            for t in targets {
                if t >= sec.size || starts.contains_key(&t) {
                    continue;
                }
                let label = obj
                    .symbols
                    .iter()
                    .find(|y| {
                        y.section == Some(si) && y.value == t && y.kind != SymbolType::Section
                    })
                    .map(|y| y.name.clone());
                let name = label
                    .unwrap_or_else(|| format!("{}_subprog_{}", c_identifier(&sec.name), t / 8));
                starts.insert(t, (name, false));
            }
            if starts.is_empty() {
                continue;
            }
            let offsets: Vec<u64> = starts.keys().copied().collect();
            let mut funcs: Vec<Function> = starts
                .into_iter()
                .map(|(off, (name, global))| Function {
                    name,
                    section: sec.name.clone(),
                    offset: off as u32,
                    global,
                    lines: Vec::new(),
                })
                .collect();
            let lines = slot_lines.get(si).map(Vec::as_slice).unwrap_or(&[]);
            for (slot, &(line, start, end)) in lines.iter().enumerate() {
                if !starts_insn.get(slot).copied().unwrap_or(false) {
                    continue;
                }
                let off = (slot * Insn::SIZE) as u64;
                let f = offsets.partition_point(|&o| o <= off);
                if f == 0 {
                    continue;
                }
                let text = source.get(start as usize..end as usize).unwrap_or("");
                funcs[f - 1].lines.push(InsnLine {
                    insn_off: off as u32,
                    line,
                    col: first_column(text),
                    text: Cow::Borrowed(text),
                });
            }
            functions.extend(funcs);
        }
        let maps = obj
            .maps
            .iter()
            .map(|m| MapDecl {
                name: m.name.clone(),
                map_type: m.map_type().unwrap_or(0),
                key_size: m.key_size().unwrap_or(0),
                value_size: m.value_size().unwrap_or(0),
                max_entries: m.max_entries().unwrap_or(0),
                map_flags: m.map_flags().unwrap_or(0),
                offset: m.offset as u32,
            })
            .collect();
        let data_sections = obj
            .sections
            .iter()
            .enumerate()
            .filter(|(_, s)| s.kind.is_global_data())
            .map(|(si, s)| DataSection {
                name: s.name.clone(),
                size: s.size as u32,
                vars: obj
                    .symbols
                    .iter()
                    .filter(|y| {
                        y.section == Some(si) && y.kind != SymbolType::Section && y.size > 0
                    })
                    .map(|y| DataVar {
                        name: y.name.clone(),
                        offset: y.value as u32,
                        size: y.size as u32,
                        global: y.binding != Binding::Local,
                    })
                    .collect(),
            })
            .collect();
        Input {
            file_name: file_name.to_string(),
            functions,
            maps,
            data_sections,
        }
    }
}

/// A subprogram's name: the label (`name:`) on the nearest non-blank line
/// above its first instruction, else `PROG_subprog_SLOT`.
fn subprogram_name(prog: &Program, lines: &[&str], slot: usize) -> String {
    let fallback = || format!("{}_subprog_{slot}", prog.name());
    let Some(src) = prog.source_of(slot) else {
        return fallback();
    };
    let mut n = src.line as usize;
    while n >= 2 {
        n -= 1;
        let l = lines.get(n - 1).map(|l| l.trim()).unwrap_or("");
        if l.is_empty() || l.starts_with(';') || l.starts_with('#') || l.starts_with("//") {
            continue;
        }
        return match l.strip_suffix(':') {
            Some(label) if !label.is_empty() => label.to_string(),
            _ => fallback(),
        };
    }
    fallback()
}

/// A C identifier the kernel accepts as a FUNC or STRUCT name
/// (`btf_name_valid_identifier`): `[A-Za-z_][A-Za-z0-9_]*`. Other
/// characters become `_` (`.Lsub` is `_Lsub`).
pub fn c_identifier(name: &str) -> String {
    let mut s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() || s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, '_');
    }
    s
}

/// The 1-based column of the first non-blank character of `line`.
pub fn first_column(line: &str) -> u32 {
    line.chars().take_while(|c| c.is_whitespace()).count() as u32 + 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::btf::Kind;

    fn input() -> Input<'static> {
        Input {
            file_name: "x.s".into(),
            functions: vec![Function {
                name: "prog".into(),
                section: "tc".into(),
                offset: 0,
                global: true,
                lines: vec![
                    InsnLine {
                        insn_off: 0,
                        line: 3,
                        col: 5,
                        text: "    r0 = 0".into(),
                    },
                    InsnLine {
                        insn_off: 8,
                        line: 4,
                        col: 5,
                        text: "    exit".into(),
                    },
                ],
            }],
            maps: vec![MapDecl {
                name: "counters".into(),
                map_type: 2,
                key_size: 4,
                value_size: 8,
                max_entries: 4,
                map_flags: 0,
                offset: 0,
            }],
            data_sections: vec![DataSection {
                name: ".rodata".into(),
                size: 6,
                vars: vec![
                    DataVar {
                        name: "msg".into(),
                        offset: 0,
                        size: 6,
                        global: false,
                    },
                    DataVar {
                        name: ".L.str".into(),
                        offset: 0,
                        size: 6,
                        global: false,
                    },
                ],
            }],
        }
    }

    #[test]
    fn functions_maps_and_lines() {
        let out = generate(&input());
        let btf = Btf::parse(&out.btf_bytes()).expect("our BTF parses");
        let ext = BtfExt::parse(&out.ext_bytes()).expect("our .BTF.ext parses");
        let f = btf.find(Kind::Func, "prog");
        assert_eq!(f.len(), 1);
        let fi = &ext.func_info.as_ref().unwrap()[0];
        assert_eq!(btf.str_at(fi.sec_name_off), Some("tc"));
        assert_eq!(fi.records[0].type_id, f[0]);
        let li = &ext.line_info.as_ref().unwrap()[0].records;
        assert_eq!(li.len(), 2);
        assert_eq!(btf.str_at(li[1].line_off), Some("exit"));
        assert_eq!(btf.str_at(li[1].file_name_off), Some("x.s"));
        assert_eq!((li[1].line(), li[1].col()), (4, 5));
        assert_eq!(btf.find(Kind::Struct, "__sk_buff").len(), 1);
        let ds = btf.find(Kind::Datasec, ".maps");
        let TypeData::Datasec { size, vars } = &btf.type_by_id(ds[0]).unwrap().data else {
            panic!()
        };
        assert_eq!((*size, vars.len(), vars[0].size), (32, 1, 32));
        assert_eq!(btf.find(Kind::Var, "msg").len(), 1);
        assert!(btf.find(Kind::Var, ".L.str").is_empty());
        assert_eq!(btf.find(Kind::Datasec, ".rodata").len(), 1);
    }

    /// The interner gives the offsets a plain map of first appearances
    /// gives, for strings that are prefixes of each other, hold NULs, and
    /// are many enough to grow the table many times, added one by one and
    /// in batches.
    #[test]
    fn strings_are_interned_as_a_plain_map_would() {
        let mut pool: Vec<String> = ["a", "a\0", "a\0b", "ab", "b", "", "\0", "exit"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        pool.extend((0..30_000).map(|i| format!("r{} = {}", i % 7, i / 3)));
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let order: Vec<&str> = (0..100_000)
            .map(|_| pool[next() as usize % pool.len()].as_str())
            .collect();
        let mut reference = FastMap::default();
        let mut ref_bytes = vec![0u8];
        let mut expect = Vec::new();
        for s in &order {
            expect.push(if s.is_empty() {
                0
            } else {
                *reference.entry(s.to_string()).or_insert_with(|| {
                    let o = ref_bytes.len() as u32;
                    ref_bytes.extend_from_slice(s.as_bytes());
                    ref_bytes.push(0);
                    o
                })
            });
        }
        let mut one = Strings::new();
        let got: Vec<u32> = order.iter().map(|s| one.add(s)).collect();
        assert_eq!(got, expect);
        assert_eq!(one.bytes, ref_bytes);
        let mut batched = Strings::new();
        let mut got = vec![batched.add(order[0])];
        batched.add_all(&order[1..], &mut got);
        assert_eq!(got, expect);
        assert_eq!(batched.bytes, ref_bytes);
    }

    #[test]
    fn subprograms_get_their_own_func_info() {
        let src = ".section tc\n.name main_prog\n    r6 = r1\n    call pc+2\n    r0 = 0\n    exit\n\nsub_fn:\n    r0 = 1\n    exit\n";
        let opts = crate::AsmOptions {
            file_name: "sub.s".into(),
            ..Default::default()
        };
        let prog = crate::assemble(src, &opts).expect("assembles");
        let input = Input::from_program(&prog, "sub.s");
        let names: Vec<(&str, u32, bool)> = input
            .functions
            .iter()
            .map(|f| (f.name.as_str(), f.offset, f.global))
            .collect();
        assert_eq!(names, [("main_prog", 0, true), ("sub_fn", 32, false)]);
        assert_eq!(input.functions[1].lines[0].line, 9);
        let out = generate(&input);
        let fi = &out.ext.func_info.as_ref().unwrap()[0].records;
        assert_eq!(fi.iter().map(|r| r.insn_off).collect::<Vec<_>>(), [0, 32]);
        let li = &out.ext.line_info.as_ref().unwrap()[0].records;
        assert_eq!(li.len(), 6);
        assert_eq!(out.btf.find(Kind::Func, "sub_fn").len(), 1);
        assert_eq!(c_identifier(".Lsub"), "_Lsub");
        assert_eq!(c_identifier("1x"), "_1x");
    }
}
