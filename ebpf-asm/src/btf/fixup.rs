//! What a loader does to clang's `.BTF` before `BPF_BTF_LOAD`: clang writes
//! each DATASEC with size 0 and its variables at offset 0, leaving both to
//! the ELF (the section's size, each symbol's value), and the kernel refuses
//! a DATASEC of size 0 or overlapping variables (`btf_datasec_check_meta`,
//! `btf_datasec_resolve` in kernel/bpf/btf.c). libbpf fills them in
//! (`btf_fixup_datasec` in tools/lib/bpf/libbpf.c); so does this, from the
//! ELF facts the caller looks up, so `ebpf-asm` stays kernel-free.

use super::{Btf, TypeData};
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
