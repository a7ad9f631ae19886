//! The one label and fixup engine, shared by the text assembler
//! ([`crate::text`]) and the builder ([`crate::builder`]).
//!
//! A label names a slot in a section once it is bound; a fixup is a jump or
//! local call whose `off` or `imm` field must hold the distance to a label.
//! Distances are in 8-byte slots counted from the slot after the jump, as
//! the kernel counts them (RFC 9669 section 4.3; an lddw takes two slots).
//! A jump cannot leave its section: across sections a call needs an ELF
//! relocation (`R_BPF_64_32`), which the text assembler writes itself.
//!
//! Each fixup carries a tag of the caller's choosing (a source position, a
//! builder slot) that comes back in the error, so each caller can say where
//! the bad reference was in its own terms.

use crate::insn::Insn;

/// Which instruction field a fixup patches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// The 16-bit `off` of a jump or `may_goto`.
    Off16,
    /// The 32-bit `imm` of `gotol` or of a local call.
    Imm32,
}

impl Field {
    /// Writes `rel` into `insn`, or returns `false` if it does not fit.
    pub fn apply(self, insn: &mut Insn, rel: i64) -> bool {
        match self {
            Field::Off16 => i16::try_from(rel).map(|v| insn.off = v).is_ok(),
            Field::Imm32 => i32::try_from(rel).map(|v| insn.imm = v).is_ok(),
        }
    }

    /// True when `rel` fits the field.
    pub fn fits(self, rel: i64) -> bool {
        match self {
            Field::Off16 => i16::try_from(rel).is_ok(),
            Field::Imm32 => i32::try_from(rel).is_ok(),
        }
    }
}

/// A label: its name (for messages) and, once bound, its section and slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelDef {
    pub name: String,
    /// `(section, slot)` once bound.
    pub at: Option<(usize, usize)>,
}

/// A reference from the instruction at `slot` of `section` to `label`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fixup<T> {
    pub section: usize,
    pub slot: usize,
    pub label: usize,
    pub field: Field,
    pub tag: T,
}

/// Why a fixup cannot be resolved; `tag` is the fixup's own tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FixupError<'t, T> {
    /// The label was never bound.
    Unbound { name: &'t str, tag: &'t T },
    /// The label is bound in another section than the jump.
    OtherSection { name: &'t str, tag: &'t T },
    /// The distance `rel` (slots) does not fit the field.
    OutOfRange {
        name: &'t str,
        rel: i64,
        field: Field,
        tag: &'t T,
    },
}

/// Labels and the fixups that refer to them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelTable<T> {
    labels: Vec<LabelDef>,
    fixups: Vec<Fixup<T>>,
}

impl<T> Default for LabelTable<T> {
    fn default() -> Self {
        LabelTable {
            labels: Vec::new(),
            fixups: Vec::new(),
        }
    }
}

impl<T> LabelTable<T> {
    pub fn new() -> Self {
        Self::default()
    }

    /// A new unbound label; returns its number.
    pub fn add(&mut self, name: &str) -> usize {
        self.labels.push(LabelDef {
            name: name.to_string(),
            at: None,
        });
        self.labels.len() - 1
    }

    /// Label number `label`, if it exists.
    pub fn get(&self, label: usize) -> Option<&LabelDef> {
        self.labels.get(label)
    }

    /// Binds `label` to `slot` of `section`. If it is already bound, returns
    /// the earlier place as the error.
    pub fn bind(
        &mut self,
        label: usize,
        section: usize,
        slot: usize,
    ) -> Result<(), Option<(usize, usize)>> {
        let l = self.labels.get_mut(label).ok_or(None)?;
        if let Some(old) = l.at {
            return Err(Some(old));
        }
        l.at = Some((section, slot));
        Ok(())
    }

    /// Records a reference; it is resolved by [`LabelTable::resolve`].
    pub fn refer(&mut self, fixup: Fixup<T>) {
        self.fixups.push(fixup);
    }

    /// The fixups recorded so far.
    pub fn fixups(&self) -> &[Fixup<T>] {
        &self.fixups
    }

    /// The distance of every fixup to its label, checked against its field,
    /// in the order the fixups were recorded; the first failure is the error.
    pub fn resolve(&self) -> Result<Vec<(&Fixup<T>, i64)>, FixupError<'_, T>> {
        let mut out = Vec::with_capacity(self.fixups.len());
        for f in &self.fixups {
            let Some(l) = self.labels.get(f.label) else {
                return Err(FixupError::Unbound {
                    name: "?",
                    tag: &f.tag,
                });
            };
            let name = l.name.as_str();
            let Some((section, slot)) = l.at else {
                return Err(FixupError::Unbound { name, tag: &f.tag });
            };
            if section != f.section {
                return Err(FixupError::OtherSection { name, tag: &f.tag });
            }
            let rel = slot as i64 - (f.slot as i64 + 1);
            if !f.field.fits(rel) {
                return Err(FixupError::OutOfRange {
                    name,
                    rel,
                    field: f.field,
                    tag: &f.tag,
                });
            }
            out.push((f, rel));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_in_slots_and_errors() {
        let mut t: LabelTable<u32> = LabelTable::new();
        let a = t.add("a");
        let b = t.add("b");
        t.bind(a, 0, 5).unwrap();
        assert_eq!(t.bind(a, 0, 6), Err(Some((0, 5))));
        t.refer(Fixup {
            section: 0,
            slot: 1,
            label: a,
            field: Field::Off16,
            tag: 7,
        });
        let r = t.resolve().unwrap();
        assert_eq!(r[0].1, 3);
        t.refer(Fixup {
            section: 0,
            slot: 2,
            label: b,
            field: Field::Off16,
            tag: 8,
        });
        assert!(matches!(
            t.resolve(),
            Err(FixupError::Unbound { name: "b", tag: 8 })
        ));
        t.bind(b, 1, 0).unwrap();
        assert!(matches!(
            t.resolve(),
            Err(FixupError::OtherSection { name: "b", .. })
        ));
        let mut far: LabelTable<()> = LabelTable::new();
        let c = far.add("c");
        far.bind(c, 0, 40000).unwrap();
        far.refer(Fixup {
            section: 0,
            slot: 0,
            label: c,
            field: Field::Off16,
            tag: (),
        });
        assert!(matches!(
            far.resolve(),
            Err(FixupError::OutOfRange { rel: 39999, .. })
        ));
        let mut i = Insn::from_bytes([0; 8]);
        assert!(Field::Imm32.apply(&mut i, 39999));
        assert_eq!(i.imm, 39999);
    }
}
