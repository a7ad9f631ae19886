//! BTF as text, one type per line in the format `bpftool btf dump file F`
//! prints (its "raw" format, `tools/bpf/bpftool/btf.c`), so our reading of
//! a blob can be compared with libbpf's line by line:
//!
//! ```text
//! [1] STRUCT '__sk_buff' size=192 vlen=0
//! [2] PTR '(anon)' type_id=1
//! [5] FUNC 'redirect' type_id=4 linkage=global
//! ```

use super::{Btf, IntEncoding, MemberOffset, Type, TypeData};
use std::fmt::{self, Write};

fn func_linkage(l: u16) -> &'static str {
    match l {
        super::BTF_FUNC_STATIC => "static",
        super::BTF_FUNC_GLOBAL => "global",
        super::BTF_FUNC_EXTERN => "extern",
        _ => "(unknown)",
    }
}

fn var_linkage(l: u32) -> &'static str {
    match l {
        super::BTF_VAR_STATIC => "static",
        super::BTF_VAR_GLOBAL_ALLOCATED => "global",
        super::BTF_VAR_GLOBAL_EXTERN => "extern",
        _ => "(unknown)",
    }
}

/// One encoding bit by its name, `(none)` for none; bpftool prints a
/// combination of bits as `UNKN`.
fn int_encoding(e: IntEncoding) -> &'static str {
    match e {
        e if e.is_empty() => "(none)",
        IntEncoding::SIGNED => "SIGNED",
        IntEncoding::CHAR => "CHAR",
        IntEncoding::BOOL => "BOOL",
        _ => "UNKN",
    }
}

impl Btf {
    fn quoted(&self, off: u32) -> String {
        match self.str_at(off) {
            Some("") | None => "'(anon)'".into(),
            Some(s) => format!("'{s}'"),
        }
    }

    /// One type as `bpftool btf dump` prints it (several lines for types
    /// with members), without a trailing newline.
    pub fn dump_type(&self, id: u32, t: &Type) -> String {
        let mut s = format!("[{id}] {} {}", t.kind(), self.quoted(t.name_off));
        let _ = match &t.data {
            TypeData::Int { size, data } => write!(
                s,
                " size={size} bits_offset={} nr_bits={} encoding={}",
                (data >> 16) & 0xff,
                data & 0xff,
                int_encoding(t.int_encoding().unwrap_or(IntEncoding::empty()))
            ),
            TypeData::Ptr { ty }
            | TypeData::Typedef { ty }
            | TypeData::Volatile { ty }
            | TypeData::Const { ty }
            | TypeData::Restrict { ty }
            | TypeData::TypeTag { ty } => write!(s, " type_id={ty}"),
            TypeData::Array {
                ty,
                index_ty,
                nelems,
            } => write!(
                s,
                " type_id={ty} index_type_id={index_ty} nr_elems={nelems}"
            ),
            TypeData::Struct { size, members } | TypeData::Union { size, members } => {
                let _ = write!(s, " size={size} vlen={}", members.len());
                for m in members {
                    let o = MemberOffset::decode(t.kind_flag, m.offset);
                    let _ = write!(
                        s,
                        "\n\t{} type_id={} bits_offset={}",
                        self.quoted(m.name_off),
                        m.ty,
                        o.bit_offset
                    );
                    if o.bitfield_size != 0 {
                        let _ = write!(s, " bitfield_size={}", o.bitfield_size);
                    }
                }
                Ok(())
            }
            TypeData::Enum { size, values } | TypeData::Enum64 { size, values } => {
                let signed = t.kind_flag;
                let enc = if signed { "SIGNED" } else { "UNSIGNED" };
                let _ = write!(s, " encoding={enc} size={size} vlen={}", values.len());
                let wide = matches!(t.data, TypeData::Enum64 { .. });
                for v in values {
                    let _ = write!(s, "\n\t{} val=", self.quoted(v.name_off));
                    let _ = match (wide, signed) {
                        (false, true) => write!(s, "{}", v.val as u32 as i32),
                        (false, false) => write!(s, "{}", v.val as u32),
                        (true, true) => write!(s, "{}LL", v.val as i64),
                        (true, false) => write!(s, "{}ULL", v.val),
                    };
                }
                Ok(())
            }
            TypeData::Fwd => write!(
                s,
                " fwd_kind={}",
                if t.kind_flag { "union" } else { "struct" }
            ),
            TypeData::Func { proto, linkage } => {
                write!(s, " type_id={proto} linkage={}", func_linkage(*linkage))
            }
            TypeData::FuncProto { ret, params } => {
                let _ = write!(s, " ret_type_id={ret} vlen={}", params.len());
                for p in params {
                    let _ = write!(s, "\n\t{} type_id={}", self.quoted(p.name_off), p.ty);
                }
                Ok(())
            }
            TypeData::Var { ty, linkage } => {
                write!(s, " type_id={ty}, linkage={}", var_linkage(*linkage))
            }
            TypeData::Datasec { size, vars } => {
                let _ = write!(s, " size={size} vlen={}", vars.len());
                for v in vars {
                    let _ = write!(
                        s,
                        "\n\ttype_id={} offset={} size={}",
                        v.ty, v.offset, v.size
                    );
                    if let Some(vt) = self.type_by_id(v.ty) {
                        let _ = write!(s, " ({} {})", vt.kind(), self.quoted(vt.name_off));
                    }
                }
                Ok(())
            }
            TypeData::Float { size } => write!(s, " size={size}"),
            TypeData::DeclTag { ty, component_idx } => {
                write!(s, " type_id={ty} component_idx={component_idx}")
            }
        };
        s
    }
}

impl fmt::Display for Btf {
    /// Every type, one per line (members on the lines after), as
    /// `bpftool btf dump file` prints them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, t) in self.types.iter().enumerate() {
            writeln!(f, "{}", self.dump_type(i as u32 + 1, t))?;
        }
        Ok(())
    }
}
