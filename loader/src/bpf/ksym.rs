//! Externs: what an object declares `extern ... __ksym` and the running
//! kernel provides, resolved the way libbpf's `bpf_object__resolve_externs`
//! resolves them (tools/lib/bpf/libbpf.c, read, not copied), against
//! `/sys/kernel/btf/vmlinux` and `/proc/kallsyms`:
//!
//! - a **kfunc** call (`call NAME`, `R_BPF_64_32` against an undefined
//!   symbol) becomes `BPF_PSEUDO_KFUNC_CALL` (src_reg 2) with `imm` the
//!   FUNC's id in vmlinux BTF and `off` 0 (vmlinux, not a module's BTF);
//! - a **typed ksym** (`extern const struct rq runqueues __ksym`, an `lddw`
//!   against it) becomes `BPF_PSEUDO_BTF_ID` (src_reg 3) with `imm` the
//!   VAR's id; so does the address of a kfunc (`if (bpf_kfunc)`), with the
//!   FUNC's id;
//! - a **typeless ksym** (`extern const void NAME __ksym`) becomes its
//!   address from `/proc/kallsyms`, a plain 64-bit immediate;
//! - a **`__weak`** extern the kernel lacks becomes 0: a kfunc call with
//!   `imm` 0, which the verifier accepts only where it is dead code (the
//!   program tests the address first), and an address of 0.
//!
//! A name vmlinux BTF lacks is looked for in the BTF of each loaded module
//! (`/sys/kernel/btf/MODULE`, split BTF whose ids follow vmlinux's), as
//! libbpf's `find_ksym_btf_id` does: a module's kfunc (`nf_conntrack`'s
//! `bpf_skb_ct_lookup` where conntrack is a module) is called with `imm`
//! its id there and `off` the index of that module's BTF fd in the
//! program's `fd_array`; a module's typed ksym takes the BTF fd in the
//! second half of its `lddw`.
//!
//! The instruction forms are `include/uapi/linux/bpf.h`'s (`BPF_PSEUDO_*`).

use std::cell::OnceCell;
use std::collections::HashMap;
use std::path::Path;

use ebpf_asm::btf::fixup::KSYMS_SECTION;
use ebpf_asm::btf::vmlinux::{ModuleBtf, Vmlinux};
use ebpf_asm::btf::{Btf, Kind, TypeData};

use crate::error::{Error, Result};
use crate::tracing;

/// Where the kernel lists its symbols' addresses (root sees real ones).
pub const KALLSYMS: &str = "/proc/kallsyms";

/// What an object's BTF says an extern is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExternKind {
    /// A FUNC in `.ksyms`: a kfunc.
    Kfunc,
    /// A VAR in `.ksyms` with a type: resolved by BTF id.
    TypedKsym,
    /// A VAR in `.ksyms` of type void: resolved by address.
    TypelessKsym,
}

/// How an extern resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// Its id in vmlinux BTF (a FUNC or a VAR).
    BtfId(u32),
    /// Its id in the BTF of a module (`/sys/kernel/btf/MODULE`).
    ModuleBtfId { module: String, id: u32 },
    /// Its address (a typeless ksym).
    Addr(u64),
    /// A weak extern the kernel lacks: 0 stands in.
    Missing,
}

/// The kind of each `.ksyms` entry of an object's BTF (before
/// `fixup_externs` rewrites them), by name.
pub fn ksyms_of(btf: &Btf) -> HashMap<String, ExternKind> {
    let mut out = HashMap::new();
    for t in &btf.types {
        let TypeData::Datasec { vars, .. } = &t.data else {
            continue;
        };
        if btf.name(t) != KSYMS_SECTION {
            continue;
        }
        for v in vars {
            let Some(e) = btf.type_by_id(v.ty) else {
                continue;
            };
            let kind = match e.data {
                TypeData::Func { .. } => ExternKind::Kfunc,
                TypeData::Var { ty, .. } => {
                    let void = btf.skip_modifiers(ty) == 0;
                    if void {
                        ExternKind::TypelessKsym
                    } else {
                        ExternKind::TypedKsym
                    }
                }
                _ => continue,
            };
            out.insert(btf.name(e).to_string(), kind);
        }
    }
    out
}

/// The running kernel, read once and only when an object needs it.
#[derive(Default)]
pub struct Kernel {
    btf: OnceCell<std::result::Result<Vmlinux, String>>,
    /// vmlinux and one module's BTF as one, for comparing types (made the
    /// first time a module's extern is checked).
    merged: std::cell::RefCell<HashMap<String, std::rc::Rc<Btf>>>,
    modules: OnceCell<std::result::Result<Vec<(String, ModuleBtf)>, String>>,
    kallsyms: OnceCell<std::result::Result<HashMap<String, u64>, String>>,
}

impl Kernel {
    pub fn new() -> Kernel {
        Kernel::default()
    }

    /// vmlinux BTF, or why there is none.
    pub fn btf(&self) -> Result<&Vmlinux> {
        self.btf
            .get_or_init(|| tracing::vmlinux().map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|e| Error::Input(e.clone()))
    }

    /// The BTF of every loaded module with BTF, by name, in name order.
    fn modules(&self) -> Result<&[(String, ModuleBtf)]> {
        let base = self.btf()?;
        self.modules
            .get_or_init(|| {
                let dir = Path::new(tracing::VMLINUX_BTF)
                    .parent()
                    .unwrap_or(Path::new("/sys/kernel/btf"));
                let rd = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
                let mut names: Vec<String> = rd
                    .filter_map(|e| e.ok()?.file_name().into_string().ok())
                    .filter(|n| n != "vmlinux")
                    .collect();
                names.sort();
                let mut out = Vec::new();
                for n in names {
                    let path = dir.join(&n);
                    let bytes =
                        std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
                    let m = ModuleBtf::parse(&bytes, base)
                        .map_err(|e| format!("{}: {e}", path.display()))?;
                    out.push((n, m));
                }
                Ok(out)
            })
            .as_deref()
            .map_err(|e| Error::Input(e.clone()))
    }

    /// The first module whose BTF has a type of `kind` named `name`.
    fn in_module(&self, kind: Kind, name: &str) -> Result<Option<Resolved>> {
        Ok(self.modules()?.iter().find_map(|(m, b)| {
            b.type_id(kind, name).map(|id| Resolved::ModuleBtfId {
                module: m.clone(),
                id,
            })
        }))
    }

    /// Whether the object's declaration of a resolved extern agrees with
    /// the kernel's, as libbpf's `bpf_core_types_are_compat` decides: a
    /// kfunc's FUNC_PROTO (each parameter and the return type, by kind
    /// through pointers and arrays; structs, unions and enums by kind
    /// alone), or a typed ksym's VAR type. `local` is the object's FUNC or
    /// VAR in `obj`. Typeless and missing externs have nothing to compare.
    pub fn agrees(&self, obj: &Btf, local: u32, r: &Resolved) -> Result<bool> {
        let merged;
        let (kernel, id): (&Btf, u32) = match r {
            Resolved::BtfId(id) => (self.btf()?.btf(), *id),
            Resolved::ModuleBtfId { module, id } => {
                merged = self.merged(module)?;
                (&merged, *id)
            }
            Resolved::Addr(_) | Resolved::Missing => return Ok(true),
        };
        let ty = |b: &Btf, id: u32| match b.type_by_id(id).map(|t| &t.data) {
            Some(TypeData::Func { proto, .. }) => Some(*proto),
            Some(TypeData::Var { ty, .. }) => Some(*ty),
            _ => None,
        };
        let (Some(l), Some(k)) = (ty(obj, local), ty(kernel, id)) else {
            return Ok(false);
        };
        // Modifiers and typedefs skipped on both sides first, as libbpf
        // keeps an extern's type (`const struct rq` is `struct rq`).
        let (l, k) = (obj.skip_modifiers(l), kernel.skip_modifiers(k));
        ebpf_asm::btf::core::types_are_compat(obj, l, kernel, k)
            .map_err(|e| Error::Input(format!("comparing with the kernel's type [{id}]: {e}")))
    }

    /// vmlinux's BTF followed by module `module`'s.
    fn merged(&self, module: &str) -> Result<std::rc::Rc<Btf>> {
        if let Some(b) = self.merged.borrow().get(module) {
            return Ok(b.clone());
        }
        let m = self
            .modules()?
            .iter()
            .find(|(n, _)| n == module)
            .map(|(_, m)| m)
            .ok_or_else(|| Error::Input(format!("no BTF for module {module}")))?;
        let b = std::rc::Rc::new(Btf::merge(self.btf()?.btf(), m.split()));
        self.merged
            .borrow_mut()
            .insert(module.to_string(), b.clone());
        Ok(b)
    }

    fn kallsyms(&self) -> Result<&HashMap<String, u64>> {
        self.kallsyms
            .get_or_init(|| {
                let text = std::fs::read_to_string(KALLSYMS)
                    .map_err(|e| format!("reading {KALLSYMS}: {e}"))?;
                Ok(parse_kallsyms(&text))
            })
            .as_ref()
            .map_err(|e| Error::Input(e.clone()))
    }

    /// Whether syscalls go through the arch's `pt_regs` wrappers
    /// (`__x64_sys_bpf` on x86-64, 4.17+), which decides how a kprobe on
    /// a syscall reads its arguments: libbpf's `LINUX_HAS_SYSCALL_WRAPPER`,
    /// asked of kallsyms here.
    pub fn has_syscall_wrapper(&self) -> Result<bool> {
        let prefix = match std::env::consts::ARCH {
            "x86_64" => "__x64_",
            "x86" => "__ia32_",
            "aarch64" => "__arm64_",
            "s390x" => "__s390x_",
            "riscv64" => "__riscv_",
            "powerpc64" => "",
            _ => "",
        };
        Ok(!prefix.is_empty() && self.kallsyms()?.contains_key(&format!("{prefix}sys_bpf")))
    }

    /// Resolves extern `name` of `kind`; `weak` ones may be missing.
    pub fn resolve(&self, name: &str, kind: ExternKind, weak: bool) -> Result<Resolved> {
        let in_btf = |k: Kind| -> Result<Option<Resolved>> {
            match self.btf()?.type_id(k, name) {
                Some(id) => Ok(Some(Resolved::BtfId(id))),
                None => self.in_module(k, name),
            }
        };
        let found = match kind {
            ExternKind::Kfunc => in_btf(Kind::Func)?,
            ExternKind::TypedKsym => in_btf(Kind::Var)?,
            ExternKind::TypelessKsym => {
                let addr = self.kallsyms()?.get(name).copied();
                if addr == Some(0) {
                    return Err(Error::Input(format!(
                        "{KALLSYMS} shows {name} at address 0: kernel addresses are hidden \
                         (kptr_restrict), so a typeless ksym cannot be resolved; run as root \
                         with kernel.kptr_restrict < 2"
                    )));
                }
                addr.map(Resolved::Addr)
            }
        };
        match found {
            Some(r) => Ok(r),
            None if weak => Ok(Resolved::Missing),
            None => Err(Error::Input(match kind {
                ExternKind::Kfunc => format!(
                    "kfunc {name} is not a FUNC in this kernel's vmlinux BTF ({}) nor in the \
                     BTF of a loaded module ({}): the kernel lacks it (kfuncs come and go \
                     between versions), or the module that defines it is not loaded \
                     (modprobe it); declare it __weak and test bpf_ksym_exists() to run \
                     without it",
                    tracing::VMLINUX_BTF,
                    self.module_names()
                ),
                ExternKind::TypedKsym => format!(
                    "ksym {name} is not a VAR in this kernel's vmlinux BTF ({}), which holds \
                     per-CPU variables only; declare it `extern const void {name} __ksym` to \
                     take its address from {KALLSYMS} instead",
                    tracing::VMLINUX_BTF
                ),
                ExternKind::TypelessKsym => {
                    format!("ksym {name} is not in {KALLSYMS}: this kernel has no such symbol")
                }
            })),
        }
    }
}

impl Kernel {
    /// The loaded modules with BTF, for messages.
    fn module_names(&self) -> String {
        match self.modules() {
            Ok([]) => "none has BTF".into(),
            Ok(m) => m
                .iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            Err(e) => format!("not read: {e}"),
        }
    }
}

/// `ADDR TYPE NAME [MODULE]` lines to NAME -> ADDR (the first of a name:
/// static symbols of the same name repeat, as libbpf also takes the first).
pub fn parse_kallsyms(text: &str) -> HashMap<String, u64> {
    let mut out = HashMap::new();
    for line in text.lines() {
        let mut f = line.split_whitespace();
        let (Some(addr), Some(_ty), Some(name)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        let Ok(addr) = u64::from_str_radix(addr, 16) else {
            continue;
        };
        out.entry(name.to_string()).or_insert(addr);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ebpf_asm::btf::{Type, VarSecinfo, BTF_FUNC_EXTERN, BTF_VAR_GLOBAL_EXTERN};

    #[test]
    fn kallsyms_lines_are_read_and_junk_is_skipped() {
        let m = parse_kallsyms(
            "ffffffff81000000 T _text\nzz T bad\nffffffff81000010 t dup\n\
             ffffffff81000020 t dup\nshort\n0000000000000000 d hidden\n",
        );
        assert_eq!(m["_text"], 0xffff_ffff_8100_0000);
        assert_eq!(m["dup"], 0xffff_ffff_8100_0010, "the first wins");
        assert_eq!(m["hidden"], 0);
        assert!(!m.contains_key("bad"));
    }

    #[test]
    fn ksyms_entries_are_told_apart_by_their_btf() {
        let mut b = Btf::new();
        let int = b.add_type(Type {
            name_off: b.strings.len() as u32,
            kind_flag: false,
            data: TypeData::Int {
                size: 4,
                data: (1 << 24) | 32,
            },
        });
        b.strings.extend_from_slice(b"int\0");
        let proto = b.add_type(Type {
            name_off: 0,
            kind_flag: false,
            data: TypeData::FuncProto {
                ret: int,
                params: vec![],
            },
        });
        let f = b.add_string("bpf_kf");
        let kf = b.add_type(Type {
            name_off: f,
            kind_flag: false,
            data: TypeData::Func {
                proto,
                linkage: BTF_FUNC_EXTERN,
            },
        });
        let var = |b: &mut Btf, name: &str, ty| {
            let n = b.add_string(name);
            b.add_type(Type {
                name_off: n,
                kind_flag: false,
                data: TypeData::Var {
                    ty,
                    linkage: BTF_VAR_GLOBAL_EXTERN,
                },
            })
        };
        let typed = var(&mut b, "runqueues", int);
        let untyped = var(&mut b, "bpf_prog_active", 0);
        let s = b.add_string(KSYMS_SECTION);
        let e = |ty| VarSecinfo {
            ty,
            offset: 0,
            size: 0,
        };
        b.add_type(Type {
            name_off: s,
            kind_flag: false,
            data: TypeData::Datasec {
                size: 0,
                vars: vec![e(kf), e(typed), e(untyped)],
            },
        });
        let k = ksyms_of(&b);
        assert_eq!(k["bpf_kf"], ExternKind::Kfunc);
        assert_eq!(k["runqueues"], ExternKind::TypedKsym);
        assert_eq!(k["bpf_prog_active"], ExternKind::TypelessKsym);
        // After the fixup the kernel's rules hold, and every id is kept.
        let n = b.types.len();
        assert_eq!(b.fixup_externs(), 3);
        assert!(b.types.len() > n, "a VAR stands in for the kfunc in .ksyms");
        let sec = b.types.iter().find(|t| b.name(t) == KSYMS_SECTION).unwrap();
        let TypeData::Datasec { size, vars } = &sec.data else {
            panic!()
        };
        assert_eq!(*size, 12);
        for (i, v) in vars.iter().enumerate() {
            assert_eq!((v.offset, v.size), (4 * i as u32, 4));
            assert!(matches!(
                b.type_by_id(v.ty).unwrap().data,
                TypeData::Var {
                    linkage: ebpf_asm::btf::BTF_VAR_GLOBAL_ALLOCATED,
                    ..
                }
            ));
        }
        assert!(matches!(
            b.type_by_id(kf).unwrap().data,
            TypeData::Func {
                linkage: ebpf_asm::btf::BTF_FUNC_GLOBAL,
                ..
            }
        ));
    }
}
