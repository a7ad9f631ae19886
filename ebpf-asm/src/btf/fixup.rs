//! What a loader does to clang's `.BTF` before `BPF_BTF_LOAD`: clang writes
//! each DATASEC with size 0 and its variables at offset 0, leaving both to
//! the ELF (the section's size, each symbol's value), and the kernel refuses
//! a DATASEC of size 0 or overlapping variables (`btf_datasec_check_meta`,
//! `btf_datasec_resolve` in kernel/bpf/btf.c). libbpf fills them in
//! (`btf_fixup_datasec` in tools/lib/bpf/libbpf.c); so does this, from the
//! ELF facts the caller looks up, so `ebpf-asm` stays kernel-free.
//!
//! Externs need a second fixup ([`Btf::fixup_externs`]): clang describes
//! `extern ... __ksym` / `__kconfig` declarations as FUNCs and VARs of
//! linkage `BTF_FUNC_EXTERN` / `BTF_VAR_GLOBAL_EXTERN` in the DATASECs
//! `.ksyms` and `.kconfig`, none of which the kernel accepts
//! (`btf_func_check_meta` refuses a func linkage above `BTF_FUNC_GLOBAL`,
//! `btf_var_check_meta` a var linkage other than static or allocated,
//! `btf_datasec_check_meta` a DATASEC entry that is not a VAR, and
//! `btf_func_check` a FUNC whose prototype has an unnamed argument).

use super::{
    Btf, Kind, Param, Type, TypeData, VarSecinfo, BTF_FUNC_EXTERN, BTF_FUNC_GLOBAL,
    BTF_FUNC_STATIC, BTF_VAR_GLOBAL_ALLOCATED, BTF_VAR_GLOBAL_EXTERN,
};
use std::fmt;

/// A DATASEC or variable the ELF does not describe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixupError(pub String);

impl fmt::Display for FixupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BTF DATASEC fixup: {}", self.0)
    }
}

impl std::error::Error for FixupError {}

impl Btf {
    /// Give every DATASEC of size 0 its ELF section's size, and each of
    /// its variables the offset of the ELF symbol of the same name in that
    /// section; then sort the variables by offset, as the kernel wants.
    /// `section_size(NAME)` and `symbol_offset(SECTION, NAME)` answer from
    /// the ELF. DATASECs that already have a size (ours) are left alone.
    pub fn fixup_datasecs(
        &mut self,
        section_size: &dyn Fn(&str) -> Option<u32>,
        symbol_offset: &dyn Fn(&str, &str) -> Option<u32>,
    ) -> Result<(), FixupError> {
        for i in 0..self.types.len() {
            let (sec_name, size, vars) = match &self.types[i].data {
                TypeData::Datasec { size, vars } => {
                    (self.name(&self.types[i]).to_string(), *size, vars.clone())
                }
                _ => continue,
            };
            if size != 0 {
                continue;
            }
            let new_size = section_size(&sec_name).ok_or_else(|| {
                FixupError(format!(
                    "DATASEC {sec_name} has no ELF section of that name"
                ))
            })?;
            let mut fixed = Vec::with_capacity(vars.len());
            for mut v in vars {
                let var = self
                    .type_by_id(v.ty)
                    .filter(|t| matches!(t.data, TypeData::Var { .. }))
                    .ok_or_else(|| {
                        FixupError(format!(
                            "DATASEC {sec_name} lists type {} which is no VAR",
                            v.ty
                        ))
                    })?;
                let var_name = self.name(var).to_string();
                v.offset = symbol_offset(&sec_name, &var_name).ok_or_else(|| {
                    FixupError(format!(
                        "VAR {var_name} has no symbol in section {sec_name}"
                    ))
                })?;
                fixed.push(v);
            }
            fixed.sort_by_key(|v| v.offset);
            self.types[i].data = TypeData::Datasec {
                size: new_size,
                vars: fixed,
            };
        }
        Ok(())
    }
}

/// The DATASEC clang puts `__ksym` externs in (libbpf's naming).
pub const KSYMS_SECTION: &str = ".ksyms";
/// The DATASEC of `__kconfig` externs.
pub const KCONFIG_SECTION: &str = ".kconfig";

impl Btf {
    /// Make the externs' BTF loadable, keeping every type id (func_info
    /// and CO-RE records point at them):
    ///
    /// - an extern FUNC (a kfunc) becomes `BTF_FUNC_GLOBAL`, and its
    ///   prototype's unnamed arguments are named `argN`;
    /// - an extern VAR becomes `BTF_VAR_GLOBAL_ALLOCATED`; in `.ksyms` its
    ///   type becomes `int`, because a typeless ksym (`extern const void
    ///   x __ksym`) has none and the kernel sizes DATASEC entries by type;
    /// - `.ksyms`, which has no ELF section, gets one 4-byte `int` VAR
    ///   entry per extern (a FUNC entry is replaced by a VAR of the same
    ///   name), at offsets 0, 4, 8...; its size is 4 per entry.
    ///
    /// `.kconfig` keeps its VARs: the loader lays them out and calls
    /// [`Btf::set_datasec_layout`]. Returns the number of externs seen.
    pub fn fixup_externs(&mut self) -> usize {
        let mut seen = 0;
        // Name the arguments of every extern FUNC's prototype.
        for i in 0..self.types.len() {
            let TypeData::Func { proto, linkage } = self.types[i].data else {
                continue;
            };
            if linkage != BTF_FUNC_EXTERN {
                continue;
            }
            seen += 1;
            self.types[i].data = TypeData::Func {
                proto,
                linkage: BTF_FUNC_GLOBAL,
            };
            let Some(TypeData::FuncProto { ret, params }) =
                self.type_by_id(proto).map(|t| t.data.clone())
            else {
                continue;
            };
            let mut named = Vec::with_capacity(params.len());
            for (n, p) in params.iter().enumerate() {
                // The last argument of a variadic prototype is {0, 0}.
                let name_off = if p.name_off == 0 && p.ty != 0 {
                    self.add_string(&format!("arg{n}"))
                } else {
                    p.name_off
                };
                named.push(Param { name_off, ty: p.ty });
            }
            if let Some(t) = self.types.get_mut(proto as usize - 1) {
                t.data = TypeData::FuncProto { ret, params: named };
            }
        }
        let mut int_id = None;
        for i in 0..self.types.len() {
            let TypeData::Datasec { vars, .. } = &self.types[i].data else {
                continue;
            };
            let sec = self.name(&self.types[i]).to_string();
            if sec != KSYMS_SECTION && sec != KCONFIG_SECTION {
                continue;
            }
            let vars = vars.clone();
            let mut fixed = Vec::with_capacity(vars.len());
            for (n, v) in vars.iter().enumerate() {
                let Some(t) = self.type_by_id(v.ty).cloned() else {
                    continue;
                };
                let var_id = match t.data {
                    TypeData::Var { ty, linkage } => {
                        if linkage == BTF_VAR_GLOBAL_EXTERN {
                            seen += 1;
                        }
                        let ty = if sec == KSYMS_SECTION {
                            *int_id.get_or_insert_with(|| self.int_type())
                        } else {
                            ty
                        };
                        self.types[v.ty as usize - 1].data = TypeData::Var {
                            ty,
                            linkage: BTF_VAR_GLOBAL_ALLOCATED,
                        };
                        v.ty
                    }
                    // A kfunc in .ksyms: a VAR of its name stands in.
                    TypeData::Func { .. } => {
                        let ty = *int_id.get_or_insert_with(|| self.int_type());
                        self.add_type(Type {
                            name_off: t.name_off,
                            kind_flag: false,
                            data: TypeData::Var {
                                ty,
                                linkage: BTF_VAR_GLOBAL_ALLOCATED,
                            },
                        })
                    }
                    _ => continue,
                };
                if sec == KSYMS_SECTION {
                    fixed.push(VarSecinfo {
                        ty: var_id,
                        offset: 4 * n as u32,
                        size: 4,
                    });
                } else {
                    fixed.push(VarSecinfo { ty: var_id, ..*v });
                }
            }
            if sec == KSYMS_SECTION {
                let size = (4 * fixed.len() as u32).max(4);
                if fixed.is_empty() {
                    let ty = *int_id.get_or_insert_with(|| self.int_type());
                    let name_off = self.add_string("__ksyms_none");
                    let id = self.add_type(Type {
                        name_off,
                        kind_flag: false,
                        data: TypeData::Var {
                            ty,
                            linkage: BTF_VAR_GLOBAL_ALLOCATED,
                        },
                    });
                    fixed.push(VarSecinfo {
                        ty: id,
                        offset: 0,
                        size: 4,
                    });
                }
                self.types[i].data = TypeData::Datasec { size, vars: fixed };
            } else if let TypeData::Datasec { size, .. } = self.types[i].data {
                self.types[i].data = TypeData::Datasec { size, vars: fixed };
            }
        }
        seen
    }

    /// Make the FUNCs named in `names` `BTF_FUNC_STATIC`, as libbpf does
    /// for `__hidden` (`STV_HIDDEN`) global subprograms: the verifier checks
    /// a global function alone, from its BTF prototype (a pointer argument
    /// may be NULL, so `*p` is refused: "invalid mem access
    /// 'mem_or_null'"), and a static one in the context of each call. A
    /// hidden function is global only to share one copy across the object,
    /// so it is verified as static. Returns how many FUNCs changed.
    pub fn make_funcs_static(&mut self, names: &[&str]) -> usize {
        let mut changed = 0;
        for i in 0..self.types.len() {
            let TypeData::Func { proto, linkage } = self.types[i].data else {
                continue;
            };
            if linkage != BTF_FUNC_GLOBAL || !names.contains(&self.name(&self.types[i])) {
                continue;
            }
            self.types[i].data = TypeData::Func {
                proto,
                linkage: BTF_FUNC_STATIC,
            };
            changed += 1;
        }
        changed
    }

    /// Give DATASEC `name` its size and its VARs their (offset, size), by
    /// VAR name: for `.kconfig`, whose layout the loader decides.
    pub fn set_datasec_layout(
        &mut self,
        name: &str,
        size: u32,
        layout: &dyn Fn(&str) -> Option<(u32, u32)>,
    ) -> bool {
        let Some(i) = self
            .types
            .iter()
            .position(|t| t.kind() == Kind::Datasec && self.name(t) == name)
        else {
            return false;
        };
        let TypeData::Datasec { vars, .. } = self.types[i].data.clone() else {
            return false;
        };
        let mut fixed: Vec<VarSecinfo> = vars
            .iter()
            .filter_map(|v| {
                let n = self.type_by_id(v.ty).map(|t| self.name(t))?;
                let (offset, size) = layout(n)?;
                Some(VarSecinfo {
                    ty: v.ty,
                    offset,
                    size,
                })
            })
            .collect();
        fixed.sort_by_key(|v| v.offset);
        self.types[i].data = TypeData::Datasec { size, vars: fixed };
        true
    }

    /// A 4-byte signed `int`: an existing one, or a new one.
    fn int_type(&mut self) -> u32 {
        let found = self.types.iter().position(|t| {
            matches!(t.data, TypeData::Int { size: 4, data } if data == (1 << 24) | 32)
                && self.name(t) == "int"
        });
        if let Some(i) = found {
            return i as u32 + 1;
        }
        let name_off = self.add_string("int");
        // BTF_INT_SIGNED (1) in bits 24-27, 32 bits.
        self.add_type(Type {
            name_off,
            kind_flag: false,
            data: TypeData::Int {
                size: 4,
                data: (1 << 24) | 32,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn func(btf: &mut Btf, name: &str, linkage: u16) -> u32 {
        let proto = btf.add_type(Type {
            name_off: 0,
            kind_flag: false,
            data: TypeData::FuncProto {
                ret: 0,
                params: vec![],
            },
        });
        let name_off = btf.add_string(name);
        btf.add_type(Type {
            name_off,
            kind_flag: false,
            data: TypeData::Func { proto, linkage },
        })
    }

    fn linkage(btf: &Btf, id: u32) -> u16 {
        match btf.type_by_id(id).unwrap().data {
            TypeData::Func { linkage, .. } => linkage,
            _ => unreachable!("a FUNC"),
        }
    }

    #[test]
    fn only_the_named_global_funcs_become_static() {
        let mut btf = Btf::new();
        let hidden = func(&mut btf, "plus_one", BTF_FUNC_GLOBAL);
        let prog = func(&mut btf, "prog", BTF_FUNC_GLOBAL);
        let ext = func(&mut btf, "bpf_kfunc", BTF_FUNC_EXTERN);
        assert_eq!(
            btf.make_funcs_static(&["plus_one", "bpf_kfunc", "nothing"]),
            1
        );
        assert_eq!(linkage(&btf, hidden), BTF_FUNC_STATIC);
        assert_eq!(linkage(&btf, prog), BTF_FUNC_GLOBAL);
        assert_eq!(
            linkage(&btf, ext),
            BTF_FUNC_EXTERN,
            "externs are not ours to change"
        );
    }
}
