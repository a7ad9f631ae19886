//! Build a program from Rust with typed registers and labels.
//!
//! Registers are typed by width: `R0`..`R10` are the 64-bit views (class
//! BPF_ALU64/BPF_JMP), `W0`..`W10` the 32-bit ones (BPF_ALU/BPF_JMP32), so
//! `b.add(R1, W2)` does not compile. A write to the frame pointer `R10`/`W10`
//! is refused when the instruction is added. Labels are handles bound to a
//! position later; jumps to them are resolved in [`Builder::finish`], in 8-byte
//! slot units (lddw counts twice), like the kernel counts `off`.
//!
//! ```
//! use ebpf_asm::builder::*;
//! use ebpf_asm::JmpCond;
//! let mut b = Builder::new();
//! let pass = b.label("pass");
//! b.load(Size::W, R6, R1, 76)?
//!     .jump(JmpCond::Ne, W6, 0, pass)?
//!     .mov(R1, 3)?
//!     .mov(R2, 0)?
//!     .call("bpf_redirect")?
//!     .exit()?
//!     .bind(pass)?
//!     .mov(R0, 0)?
//!     .exit()?;
//! let prog = b.finish()?;
//! assert_eq!(prog.insns().len(), 8);
//! # Ok::<(), BuildError>(())
//! ```

use crate::encode::encode;
use crate::helpers::helper_id;
pub use crate::insn::Size;
use crate::insn::*;
use crate::object::fixup::{Field, Fixup, FixupError, LabelTable};
use crate::program::{
    default_name, Program, RelocKind, Relocation, DEFAULT_LICENSE, DEFAULT_SECTION,
};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// A 64-bit register view (`rN`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct R(Reg);
/// A 32-bit register view (`wN`): the low half; writes zero the upper half.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct W(Reg);

pub const R0: R = R(Reg::R0);
pub const R1: R = R(Reg::R1);
pub const R2: R = R(Reg::R2);
pub const R3: R = R(Reg::R3);
pub const R4: R = R(Reg::R4);
pub const R5: R = R(Reg::R5);
pub const R6: R = R(Reg::R6);
pub const R7: R = R(Reg::R7);
pub const R8: R = R(Reg::R8);
pub const R9: R = R(Reg::R9);
/// The read-only frame pointer.
pub const R10: R = R(Reg::R10);
pub const W0: W = W(Reg::R0);
pub const W1: W = W(Reg::R1);
pub const W2: W = W(Reg::R2);
pub const W3: W = W(Reg::R3);
pub const W4: W = W(Reg::R4);
pub const W5: W = W(Reg::R5);
pub const W6: W = W(Reg::R6);
pub const W7: W = W(Reg::R7);
pub const W8: W = W(Reg::R8);
pub const W9: W = W(Reg::R9);
pub const W10: W = W(Reg::R10);

/// A register of a known width.
pub trait Register: Copy {
    const WIDTH: Width;
    fn reg(self) -> Reg;
}
impl Register for R {
    const WIDTH: Width = Width::W64;
    fn reg(self) -> Reg {
        self.0
    }
}
impl Register for W {
    const WIDTH: Width = Width::W32;
    fn reg(self) -> Reg {
        self.0
    }
}

/// A second operand for a destination of type `D`: a register of the same
/// width, or a 32-bit immediate.
pub trait Operand<D> {
    fn source(self) -> Source;
}
impl<D: Register> Operand<D> for D {
    fn source(self) -> Source {
        Source::Reg(self.reg())
    }
}
impl<D: Register> Operand<D> for i32 {
    fn source(self) -> Source {
        Source::Imm(self)
    }
}

/// A jump target, created by [`Builder::label`] and bound by [`Builder::bind`].
///
/// It remembers which builder made it: a handle from another builder is then
/// [`BuildError::ForeignLabel`] instead of a jump to whichever label happens
/// to have the same number here. (A clone of a builder shares its labels.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Label {
    builder: u64,
    index: usize,
}

/// Gives every builder its own id for its labels.
static NEXT_BUILDER_ID: AtomicU64 = AtomicU64::new(0);

/// A builder error, returned by the call that caused it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildError {
    /// The instruction at `slot` would write r10, the read-only frame pointer.
    WriteToR10 { slot: usize },
    /// `bind` on a label that is already bound.
    DuplicateLabel { label: String },
    /// A jump to a label never bound (reported by `finish`).
    UnboundLabel { label: String, slot: usize },
    /// The jump at `slot` cannot reach `label`: `offset` does not fit its field.
    OffsetOutOfRange {
        label: String,
        slot: usize,
        offset: i64,
    },
    /// A helper name that is not in the kernel's table ([`crate::helpers`]).
    UnknownHelper(String),
    /// A label handle made by a different builder.
    ForeignLabel,
    /// `bits` is not a width this instruction supports.
    BadWidth { what: &'static str, bits: u8 },
    /// The size is not allowed for this instruction (e.g. atomic u8).
    BadSize { what: &'static str, size: Size },
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::WriteToR10 { slot } => {
                write!(f, "slot {slot}: r10 is the read-only frame pointer")
            }
            BuildError::DuplicateLabel { label } => write!(f, "label `{label}` bound twice"),
            BuildError::UnboundLabel { label, slot } => {
                write!(
                    f,
                    "slot {slot}: jump to label `{label}`, which is never bound"
                )
            }
            BuildError::OffsetOutOfRange {
                label,
                slot,
                offset,
            } => write!(
                f,
                "slot {slot}: label `{label}` is {offset} slots away, out of range for this jump"
            ),
            BuildError::UnknownHelper(n) => write!(f, "unknown helper `{n}`"),
            BuildError::ForeignLabel => write!(f, "label handle from another builder"),
            BuildError::BadWidth { what, bits } => write!(f, "{what} cannot take width {bits}"),
            BuildError::BadSize { what, size } => {
                write!(f, "{what} cannot access {} bytes", size.bytes())
            }
        }
    }
}

impl std::error::Error for BuildError {}

/// Accumulates instructions; see the module documentation.
#[derive(Debug, Clone)]
pub struct Builder {
    id: u64,
    insns: Vec<Insn>,
    /// Labels and jumps to them, in the engine the text assembler uses too.
    labels: LabelTable<usize>,
    relocations: Vec<Relocation>,
    section: String,
    license: String,
    name: Option<String>,
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

type Res<'a> = Result<&'a mut Builder, BuildError>;

impl Builder {
    pub fn new() -> Builder {
        Builder {
            id: NEXT_BUILDER_ID.fetch_add(1, Ordering::Relaxed),
            insns: Vec::new(),
            labels: LabelTable::new(),
            relocations: Vec::new(),
            section: DEFAULT_SECTION.to_string(),
            license: DEFAULT_LICENSE.to_string(),
            name: None,
        }
    }

    /// The ELF section (default `tc`).
    pub fn section(&mut self, s: &str) -> &mut Self {
        self.section = s.to_string();
        self
    }
    /// The license (default `GPL`).
    pub fn license(&mut self, s: &str) -> &mut Self {
        self.license = s.to_string();
        self
    }
    /// The program's symbol name (default from the section).
    pub fn name(&mut self, s: &str) -> &mut Self {
        self.name = Some(s.to_string());
        self
    }

    /// Current position in slots: where the next instruction goes.
    pub fn slot(&self) -> usize {
        self.insns.len()
    }

    /// A new, unbound label; `name` is only used in error messages.
    pub fn label(&mut self, name: &str) -> Label {
        Label {
            builder: self.id,
            index: self.labels.add(name),
        }
    }

    /// `l`'s index in this builder's label table, if this builder made it.
    fn label_index(&self, l: Label) -> Result<usize, BuildError> {
        if l.builder == self.id && self.labels.get(l.index).is_some() {
            Ok(l.index)
        } else {
            Err(BuildError::ForeignLabel)
        }
    }

    /// Bind `l` to the next instruction's slot.
    pub fn bind(&mut self, l: Label) -> Res<'_> {
        let here = self.insns.len();
        let index = self.label_index(l)?;
        match self.labels.bind(index, 0, here) {
            Ok(()) => Ok(self),
            Err(Some(_)) => Err(BuildError::DuplicateLabel {
                label: self
                    .labels
                    .get(index)
                    .map_or(String::new(), |l| l.name.clone()),
            }),
            Err(None) => Err(BuildError::ForeignLabel),
        }
    }

    /// Append any instruction, refusing writes to r10.
    pub fn push(&mut self, ins: Instruction) -> Res<'_> {
        if ins.written_reg() == Some(Reg::R10) {
            return Err(BuildError::WriteToR10 {
                slot: self.insns.len(),
            });
        }
        self.insns.extend_from_slice(encode(&ins).as_slice());
        Ok(self)
    }

    fn push_fix(&mut self, ins: Instruction, label: Label, field: Field) -> Res<'_> {
        let index = self.label_index(label)?;
        let slot = self.insns.len();
        self.push(ins)?;
        self.labels.refer(Fixup {
            section: 0,
            slot,
            label: index,
            field,
            tag: slot,
        });
        Ok(self)
    }

    /// `dst op= src`.
    pub fn alu<D: Register>(&mut self, op: AluOp, dst: D, src: impl Operand<D>) -> Res<'_> {
        self.push(Instruction::Alu {
            width: D::WIDTH,
            op,
            dst: dst.reg(),
            src: src.source(),
        })
    }
    pub fn mov<D: Register>(&mut self, dst: D, src: impl Operand<D>) -> Res<'_> {
        self.alu(AluOp::Mov, dst, src)
    }
    pub fn add<D: Register>(&mut self, dst: D, src: impl Operand<D>) -> Res<'_> {
        self.alu(AluOp::Add, dst, src)
    }
    pub fn sub<D: Register>(&mut self, dst: D, src: impl Operand<D>) -> Res<'_> {
        self.alu(AluOp::Sub, dst, src)
    }
    pub fn and<D: Register>(&mut self, dst: D, src: impl Operand<D>) -> Res<'_> {
        self.alu(AluOp::And, dst, src)
    }
    pub fn or<D: Register>(&mut self, dst: D, src: impl Operand<D>) -> Res<'_> {
        self.alu(AluOp::Or, dst, src)
    }
    pub fn lsh<D: Register>(&mut self, dst: D, src: impl Operand<D>) -> Res<'_> {
        self.alu(AluOp::Lsh, dst, src)
    }
    pub fn rsh<D: Register>(&mut self, dst: D, src: impl Operand<D>) -> Res<'_> {
        self.alu(AluOp::Rsh, dst, src)
    }

    /// `dst = -dst`.
    pub fn neg<D: Register>(&mut self, dst: D) -> Res<'_> {
        self.push(Instruction::Neg {
            width: D::WIDTH,
            dst: dst.reg(),
        })
    }

    /// Sign-extending move `dst = (sBITS)src`; 8/16 (32-bit) or 8/16/32 (64-bit).
    pub fn movsx<D: Register>(&mut self, dst: D, src: D, bits: u8) -> Res<'_> {
        let ok = match D::WIDTH {
            Width::W32 => matches!(bits, 8 | 16),
            Width::W64 => matches!(bits, 8 | 16 | 32),
        };
        if !ok {
            return Err(BuildError::BadWidth {
                what: "movsx",
                bits,
            });
        }
        self.push(Instruction::MovSx {
            width: D::WIDTH,
            dst: dst.reg(),
            src: src.reg(),
            bits,
        })
    }

    /// `dst = be16 dst` etc.; bits 16, 32 or 64.
    pub fn endian(&mut self, order: ByteOrder, dst: R, bits: u8) -> Res<'_> {
        if !matches!(bits, 16 | 32 | 64) {
            return Err(BuildError::BadWidth {
                what: "byte swap",
                bits,
            });
        }
        self.push(Instruction::Endian {
            order,
            dst: dst.reg(),
            bits,
        })
    }

    /// `if dst cond src goto target`; the width comes from `dst` (JMP or JMP32).
    pub fn jump<D: Register>(
        &mut self,
        cond: JmpCond,
        dst: D,
        src: impl Operand<D>,
        target: Label,
    ) -> Res<'_> {
        let ins = Instruction::Jump {
            width: D::WIDTH,
            cond,
            dst: dst.reg(),
            src: src.source(),
            off: 0,
        };
        self.push_fix(ins, target, Field::Off16)
    }

    /// `goto target`.
    pub fn ja(&mut self, target: Label) -> Res<'_> {
        self.push_fix(Instruction::Ja { off: 0 }, target, Field::Off16)
    }
    /// `gotol target` (32-bit offset).
    pub fn gotol(&mut self, target: Label) -> Res<'_> {
        self.push_fix(Instruction::JaLong { imm: 0 }, target, Field::Imm32)
    }
    /// `may_goto target`.
    pub fn may_goto(&mut self, target: Label) -> Res<'_> {
        self.push_fix(Instruction::MayGoto { off: 0 }, target, Field::Off16)
    }

    /// Call a kernel helper by name, e.g. `bpf_redirect`.
    pub fn call(&mut self, helper: &str) -> Res<'_> {
        let id = helper_id(helper).ok_or_else(|| BuildError::UnknownHelper(helper.to_string()))?;
        self.call_helper_id(id as i32)
    }
    pub fn call_helper_id(&mut self, id: i32) -> Res<'_> {
        self.push(Instruction::Call(CallKind::Helper(id)))
    }
    /// bpf-to-bpf call of the function starting at `target`.
    pub fn call_local(&mut self, target: Label) -> Res<'_> {
        self.push_fix(Instruction::Call(CallKind::Local(0)), target, Field::Imm32)
    }
    /// Call a kfunc by BTF id; `off` selects the BTF object (0 = vmlinux).
    pub fn call_kfunc(&mut self, btf_id: i32, off: i16) -> Res<'_> {
        self.push(Instruction::Call(CallKind::Kfunc { btf_id, off }))
    }
    pub fn exit(&mut self) -> Res<'_> {
        self.push(Instruction::Exit)
    }

    /// `dst = imm ll` (lddw, two slots).
    pub fn ld_imm64(&mut self, dst: R, imm: i64) -> Res<'_> {
        self.push(Instruction::LdImm64 {
            dst: dst.reg(),
            pseudo: LdPseudo::Imm64,
            imm,
        })
    }
    /// `dst = <fd of map>`: an lddw the loader patches (relocation `MapFd`).
    pub fn ld_map_fd(&mut self, dst: R, map: &str) -> Res<'_> {
        let slot = self.insns.len();
        self.push(Instruction::LdImm64 {
            dst: dst.reg(),
            pseudo: LdPseudo::Imm64,
            imm: 0,
        })?;
        self.relocations.push(Relocation {
            slot,
            symbol: map.to_string(),
            kind: RelocKind::MapFd,
        });
        Ok(self)
    }
    /// `dst = &map_value + offset` (relocation `MapValue`).
    pub fn ld_map_value(&mut self, dst: R, map: &str, offset: i32) -> Res<'_> {
        let slot = self.insns.len();
        let kind = RelocKind::MapValue { offset };
        self.push(Instruction::LdImm64 {
            dst: dst.reg(),
            pseudo: LdPseudo::Imm64,
            imm: kind.implicit_addend(),
        })?;
        self.relocations.push(Relocation {
            slot,
            symbol: map.to_string(),
            kind,
        });
        Ok(self)
    }

    /// `dst = *(size *)(src + off)`.
    pub fn load(&mut self, size: Size, dst: R, src: R, off: i16) -> Res<'_> {
        self.push(Instruction::Load {
            size,
            dst: dst.reg(),
            src: src.reg(),
            off,
        })
    }
    /// `dst = *(sN *)(src + off)`; size B, H or W.
    pub fn load_sx(&mut self, size: Size, dst: R, src: R, off: i16) -> Res<'_> {
        if size == Size::DW {
            return Err(BuildError::BadSize {
                what: "sign-extending load",
                size,
            });
        }
        self.push(Instruction::LoadSx {
            size,
            dst: dst.reg(),
            src: src.reg(),
            off,
        })
    }
    /// `*(size *)(dst + off) = imm`.
    pub fn store(&mut self, size: Size, dst: R, off: i16, imm: i32) -> Res<'_> {
        self.push(Instruction::Store {
            size,
            dst: dst.reg(),
            off,
            imm,
        })
    }
    /// `*(size *)(dst + off) = src`.
    pub fn store_x(&mut self, size: Size, dst: R, src: R, off: i16) -> Res<'_> {
        self.push(Instruction::StoreX {
            size,
            dst: dst.reg(),
            src: src.reg(),
            off,
        })
    }
    /// An atomic operation on `*(size *)(dst + off)`; size W or DW.
    pub fn atomic(&mut self, size: Size, op: AtomicOp, dst: R, src: R, off: i16) -> Res<'_> {
        if !matches!(size, Size::W | Size::DW) {
            return Err(BuildError::BadSize {
                what: "atomic operation",
                size,
            });
        }
        self.push(Instruction::Atomic {
            size,
            op,
            dst: dst.reg(),
            src: src.reg(),
            off,
        })
    }
    /// Legacy `r0 = *(size *)skb[imm]`.
    pub fn ld_abs(&mut self, size: Size, imm: i32) -> Res<'_> {
        if size == Size::DW {
            return Err(BuildError::BadSize {
                what: "packet load",
                size,
            });
        }
        self.push(Instruction::LdAbs { size, imm })
    }
    /// Legacy `r0 = *(size *)skb[src + imm]`.
    pub fn ld_ind(&mut self, size: Size, src: R, imm: i32) -> Res<'_> {
        if size == Size::DW {
            return Err(BuildError::BadSize {
                what: "packet load",
                size,
            });
        }
        self.push(Instruction::LdInd {
            size,
            src: src.reg(),
            imm,
        })
    }

    /// Resolve labels and produce the program.
    pub fn finish(mut self) -> Result<Program, BuildError> {
        let resolved = self.labels.resolve().map_err(|e| match e {
            FixupError::Unbound { name, tag } | FixupError::OtherSection { name, tag } => {
                BuildError::UnboundLabel {
                    label: name.to_string(),
                    slot: *tag,
                }
            }
            FixupError::OutOfRange { name, rel, tag, .. } => BuildError::OffsetOutOfRange {
                label: name.to_string(),
                slot: *tag,
                offset: rel,
            },
        })?;
        let patches: Vec<(usize, Field, i64)> = resolved
            .iter()
            .map(|(f, rel)| (f.slot, f.field, *rel))
            .collect();
        for (slot, field, rel) in patches {
            field.apply(&mut self.insns[slot], rel);
        }
        let name = self.name.unwrap_or_else(|| default_name(&self.section));
        let mut p = Program::from_insns(self.insns);
        p.relocations = self.relocations;
        p.section = self.section;
        p.license = self.license;
        p.name = name;
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_resolve_in_slots_counting_lddw_twice() {
        let mut b = Builder::new();
        let end = b.label("end");
        b.ja(end).unwrap().ld_imm64(R1, 1).unwrap();
        b.bind(end).unwrap().exit().unwrap();
        let p = b.finish().unwrap();
        assert_eq!(p.insns()[0].off, 2);
        let mut b = Builder::new();
        let top = b.label("top");
        b.bind(top).unwrap().gotol(top).unwrap();
        assert_eq!(b.finish().unwrap().insns()[0].imm, -1);
    }

    #[test]
    fn typed_errors() {
        let mut b = Builder::new();
        assert_eq!(
            b.mov(R10, 0).unwrap_err(),
            BuildError::WriteToR10 { slot: 0 }
        );
        assert!(b.store_x(Size::DW, R10, R1, -8).is_ok());
        let l = b.label("x");
        b.bind(l).unwrap();
        assert_eq!(
            b.bind(l).unwrap_err(),
            BuildError::DuplicateLabel { label: "x".into() }
        );
        let u = b.label("nowhere");
        b.ja(u).unwrap();
        assert!(matches!(
            b.clone().finish().unwrap_err(),
            BuildError::UnboundLabel { .. }
        ));
        assert_eq!(
            b.call("bpf_nope").unwrap_err(),
            BuildError::UnknownHelper("bpf_nope".into())
        );
        let mut b = Builder::new();
        let far = b.label("far");
        b.ja(far).unwrap();
        for _ in 0..40000 {
            b.exit().unwrap();
        }
        b.bind(far).unwrap();
        assert!(matches!(
            b.finish().unwrap_err(),
            BuildError::OffsetOutOfRange { offset: 40000, .. }
        ));
    }

    #[test]
    fn labels_from_another_builder_are_refused() {
        let mut a = Builder::new();
        let a_label = a.label("a_only");
        // `b` has a label with the same index: the handle must still not pass.
        let mut b = Builder::new();
        let _b_label = b.label("b_only");
        assert_eq!(b.ja(a_label).unwrap_err(), BuildError::ForeignLabel);
        assert_eq!(b.bind(a_label).unwrap_err(), BuildError::ForeignLabel);
        // A clone shares its labels.
        let mut c = a.clone();
        c.bind(a_label).unwrap().exit().unwrap();
        assert!(c.finish().is_ok());
    }

    #[test]
    fn helpers_are_called_by_name() {
        let mut b = Builder::new();
        b.call("bpf_redirect").unwrap().exit().unwrap();
        let p = b.finish().unwrap();
        assert_eq!(p.insns()[0], Insn::new(0x85, 0, 0, 0, 23));
    }

    #[test]
    fn relocations_recorded() {
        let mut b = Builder::new();
        b.mov(W1, 2).unwrap().ld_map_fd(R1, "counters").unwrap();
        b.ld_map_value(R2, "rodata", 8).unwrap();
        let p = b.finish().unwrap();
        assert_eq!(p.relocations()[0].slot, 1);
        assert_eq!(p.relocations()[1].slot, 3);
        assert_eq!(p.relocations()[1].kind, RelocKind::MapValue { offset: 8 });
    }
}
