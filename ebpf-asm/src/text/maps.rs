//! `.map`: a BTF-defined map in one line, for hand-written `.s` files.
//!
//! ```text
//! .map events, BPF_MAP_TYPE_RINGBUF, max_entries=262144
//! .map counters, array, key=4, value=8, max_entries=16
//! .map ports, BPF_MAP_TYPE_DEVMAP, key=4, value=4, max_entries=64, flags=0
//! ```
//!
//! The type is a `BPF_MAP_TYPE_*` name from `include/uapi/linux/bpf.h`
//! (`enum bpf_map_type`), the same name lower-case without the prefix
//! (`ringbuf`), or a number. Then `key=` (`key_size=`), `value=`
//! (`value_size=`), `max_entries=` and `flags=` (`map_flags=`), in any order.
//!
//! It writes what clang writes for
//! `struct { __uint(type, T); __uint(key_size, K); __uint(value_size, V);
//! __uint(max_entries, N); __uint(map_flags, F); } NAME SEC(".maps");`
//! (fields left out are not written): an 8-byte zero pointer per field in
//! `.maps` (`"aw"`, aligned to 8) under a global `STT_OBJECT` symbol
//! `NAME`, and the declaration in [`crate::object::Object::maps`], from
//! which the BTF writer makes the anonymous STRUCT, the VAR and the
//! `.maps` DATASEC libbpf reads (`parse_btf_map_def`).

use super::lexer::{Tok, P};
use super::lines::{Line, PResult};
use crate::object::{Binding, MapDecl, MapField, SymbolType};
use object::elf::{SHF_ALLOC, SHF_WRITE, SHT_PROGBITS};

/// `enum bpf_map_type`, `include/uapi/linux/bpf.h`, in the header's order
/// (each name's value is its index).
pub const MAP_TYPES: [&str; 34] = [
    "BPF_MAP_TYPE_UNSPEC",
    "BPF_MAP_TYPE_HASH",
    "BPF_MAP_TYPE_ARRAY",
    "BPF_MAP_TYPE_PROG_ARRAY",
    "BPF_MAP_TYPE_PERF_EVENT_ARRAY",
    "BPF_MAP_TYPE_PERCPU_HASH",
    "BPF_MAP_TYPE_PERCPU_ARRAY",
    "BPF_MAP_TYPE_STACK_TRACE",
    "BPF_MAP_TYPE_CGROUP_ARRAY",
    "BPF_MAP_TYPE_LRU_HASH",
    "BPF_MAP_TYPE_LRU_PERCPU_HASH",
    "BPF_MAP_TYPE_LPM_TRIE",
    "BPF_MAP_TYPE_ARRAY_OF_MAPS",
    "BPF_MAP_TYPE_HASH_OF_MAPS",
    "BPF_MAP_TYPE_DEVMAP",
    "BPF_MAP_TYPE_SOCKMAP",
    "BPF_MAP_TYPE_CPUMAP",
    "BPF_MAP_TYPE_XSKMAP",
    "BPF_MAP_TYPE_SOCKHASH",
    "BPF_MAP_TYPE_CGROUP_STORAGE",
    "BPF_MAP_TYPE_REUSEPORT_SOCKARRAY",
    "BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE",
    "BPF_MAP_TYPE_QUEUE",
    "BPF_MAP_TYPE_STACK",
    "BPF_MAP_TYPE_SK_STORAGE",
    "BPF_MAP_TYPE_DEVMAP_HASH",
    "BPF_MAP_TYPE_STRUCT_OPS",
    "BPF_MAP_TYPE_RINGBUF",
    "BPF_MAP_TYPE_INODE_STORAGE",
    "BPF_MAP_TYPE_TASK_STORAGE",
    "BPF_MAP_TYPE_BLOOM_FILTER",
    "BPF_MAP_TYPE_USER_RINGBUF",
    "BPF_MAP_TYPE_CGRP_STORAGE",
    "BPF_MAP_TYPE_ARENA",
];

/// The number of a map type written as `BPF_MAP_TYPE_X` or `x`.
pub fn map_type_number(name: &str) -> Option<u32> {
    let full = if name.starts_with("BPF_MAP_TYPE_") {
        name.to_string()
    } else {
        format!("BPF_MAP_TYPE_{}", name.to_ascii_uppercase())
    };
    MAP_TYPES.iter().position(|t| *t == full).map(|i| i as u32)
}

impl Line<'_, '_> {
    /// `.map NAME, TYPE, key=K, value=V, max_entries=N, flags=F`.
    pub(super) fn map_directive(&mut self, at: usize) -> PResult<()> {
        let name_at = self.tok.start;
        let name = self.ident("a map name, like `.map events, ringbuf, max_entries=4096`")?;
        self.expect(P::Comma, "`,` and the map type after the name")?;
        let type_at = self.tok.start;
        let map_type = if self.tok.tok == Tok::Ident {
            let t = self.text(self.tok);
            match self.constant(t) {
                Some(v) => v,
                None => match map_type_number(t) {
                    Some(v) => {
                        self.bump();
                        v as i64
                    }
                    None => {
                        return Err(self.err(
                            type_at,
                            format!("unknown map type `{t}`; expected a BPF_MAP_TYPE_* name (like BPF_MAP_TYPE_HASH or hash) or a number"),
                        ))
                    }
                },
            }
        } else {
            self.expr()?
        };
        let map_type = self.u32_field(map_type, type_at)?;
        let mut given: Vec<(&'static str, u32, usize)> = Vec::new();
        while self.is(P::Comma) {
            self.bump();
            let kat = self.tok.start;
            let key = self.ident("a field: key=, value=, max_entries= or flags=")?;
            let field = match key {
                "key" | "key_size" => "key_size",
                "value" | "value_size" => "value_size",
                "max_entries" | "entries" => "max_entries",
                "flags" | "map_flags" => "map_flags",
                _ => {
                    return Err(self.err(
                        kat,
                        format!(
                        "unknown map field `{key}`; expected key=, value=, max_entries= or flags="
                    ),
                    ))
                }
            };
            if given.iter().any(|g| g.0 == field) {
                return Err(self.err(kat, format!("`{key}` given twice")));
            }
            self.expect(P::Assign, "`=` after the field name")?;
            let vat = self.tok.start;
            let v = self.expr()?;
            given.push((field, self.u32_field(v, vat)?, kat));
        }
        self.end()?;
        if self
            .asm
            .build
            .syms
            .get(name)
            .is_some_and(|s| s.def.is_some())
        {
            return Err(self.err(name_at, format!("`{name}` is already defined")));
        }
        // Fields in clang's order for the equivalent C declaration.
        let mut fields = vec![MapField {
            name: "type".to_string(),
            value: map_type,
        }];
        for f in ["key_size", "value_size", "max_entries", "map_flags"] {
            if let Some(g) = given.iter().find(|g| g.0 == f) {
                fields.push(MapField {
                    name: f.to_string(),
                    value: g.1,
                });
            }
        }
        let prev = self.asm.build.cur;
        let b = &mut self.asm.build;
        let c = b.section_named(".maps");
        let s = &mut b.secs[c];
        if !s.flags_given {
            if s.sec.size > 0 {
                return Err(self.err(at, "`.maps` already holds data written without flags"));
            }
            // clang: `.section .maps,"aw",@progbits`.
            s.sec.sh_type = SHT_PROGBITS.0;
            s.sec.sh_flags = SHF_ALLOC.0 | SHF_WRITE.0;
            s.sec.kind = crate::object::SectionKind::Maps;
            s.flags_given = true;
        }
        b.cur = Some(c);
        b.secs[c].sec.align_to(8);
        let offset = b.secs[c].sec.size;
        let decl = MapDecl {
            name: name.to_string(),
            offset,
            fields,
            ..Default::default()
        };
        let size = decl.entry_size();
        let _ = b.define(name, self.lineno);
        let s = b.sym(name);
        s.binding = Some(Binding::Global);
        s.kind = Some(SymbolType::Object);
        s.size = Some(size);
        b.maps.push(decl);
        self.push_bytes(&vec![0u8; size as usize]);
        self.asm.build.cur = prev;
        Ok(())
    }

    fn u32_field(&self, v: i64, at: usize) -> PResult<u32> {
        u32::try_from(v)
            .map_err(|_| self.err(at, format!("{v} does not fit a map field (0..4294967295)")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_type_names_follow_bpf_h() {
        assert_eq!(map_type_number("BPF_MAP_TYPE_HASH"), Some(1));
        assert_eq!(map_type_number("array"), Some(2));
        assert_eq!(map_type_number("devmap"), Some(14));
        assert_eq!(map_type_number("ringbuf"), Some(27));
        assert_eq!(map_type_number("BPF_MAP_TYPE_ARENA"), Some(33));
        assert_eq!(map_type_number("nope"), None);
    }
}
