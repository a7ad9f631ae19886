//! Operands: registers (`r0`..`r10`, `w0`..`w10`), memory operands
//! `(rN +off)`, access types `(u32 *)`, immediates and offsets with their
//! ranges, jump targets (`pc+3`, `+3`, a label, a numeric label `1b`/`1f`),
//! and the word tables of byte swaps, pseudo loads and atomics.

use super::lexer::{Tok, P};
use super::lines::{Line, PResult};
use crate::insn::*;

/// A register operand with its width and where it was written.
#[derive(Debug, Clone, Copy)]
pub(super) struct RegOp {
    pub(super) reg: Reg,
    pub(super) width: Width,
    pub(super) at: usize,
}

/// A memory operand `(rN +off)`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Mem {
    pub(super) base: Reg,
    pub(super) off: i16,
}

/// What `*(TYPE *)` named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Access {
    pub(super) size: Size,
    pub(super) signed: bool,
    pub(super) at: usize,
}

/// A jump target as written.
pub(super) enum Target<'a> {
    Offset(i64, usize),
    Label(&'a str, usize),
    /// `1b` / `1f`: numeric local label N, backward or forward.
    Numeric(u64, bool, usize),
}

pub(super) fn reg_name(width: Width, r: Reg) -> String {
    format!("{}{}", width.reg_prefix(), r.num())
}

pub(super) fn width_bits(w: Width) -> u32 {
    match w {
        Width::W32 => 32,
        Width::W64 => 64,
    }
}

impl<'a> Line<'a, '_> {
    // ---- operands ----

    /// If the current token is a register name, parse it (errors for r11+).
    pub(super) fn try_reg(&mut self) -> PResult<Option<RegOp>> {
        if self.tok.tok != Tok::Ident {
            return Ok(None);
        }
        let s = self.text(self.tok).as_bytes();
        let width = match s.first() {
            Some(b'r') => Width::W64,
            Some(b'w') => Width::W32,
            _ => return Ok(None),
        };
        if s.len() < 2 || !s[1..].iter().all(u8::is_ascii_digit) {
            return Ok(None);
        }
        let at = self.tok.start;
        let n: u32 = if s.len() > 4 {
            u32::MAX
        } else {
            s[1..].iter().fold(0, |a, d| a * 10 + (d - b'0') as u32)
        };
        let Some(reg) = u8::try_from(n).ok().and_then(Reg::new) else {
            return Err(self.err(
                at,
                format!(
                    "register `{}` out of range; eBPF has {}0..{}10",
                    self.text(self.tok),
                    width.reg_prefix(),
                    width.reg_prefix()
                ),
            ));
        };
        self.bump();
        Ok(Some(RegOp { reg, width, at }))
    }

    pub(super) fn reg(&mut self, expected: &str) -> PResult<RegOp> {
        match self.try_reg()? {
            Some(r) => Ok(r),
            None => Err(self.unexpected(expected)),
        }
    }

    /// Negation and byte swaps have one register field: the encoding cannot
    /// name a source apart from the destination, so `r1 = -r2` is refused
    /// rather than silently meaning `r1 = -r1`. `what` starts the message
    /// ("negation works"); `op` comes before the register in the suggested
    /// form (`-`, `be16 `).
    pub(super) fn in_place(&self, dst: RegOp, r: RegOp, what: &str, op: &str) -> PResult<()> {
        self.same_width(dst, r)?;
        if r.reg == dst.reg {
            return Ok(());
        }
        Err(self.err(
            r.at,
            format!(
                "{what} in place: write `{0} = {op}{0}`",
                reg_name(dst.width, dst.reg)
            ),
        ))
    }

    pub(super) fn same_width(&self, a: RegOp, b: RegOp) -> PResult<()> {
        if a.width == b.width {
            return Ok(());
        }
        Err(self.err(
            b.at,
            format!(
                "mixed register widths: `{}` is {}-bit but `{}` is {}-bit; use r registers or w registers throughout the instruction",
                reg_name(a.width, a.reg),
                width_bits(a.width),
                reg_name(b.width, b.reg),
                width_bits(b.width)
            ),
        ))
    }

    pub(super) fn base_reg(&mut self) -> PResult<Reg> {
        let r = self.reg("a base register like `r1`")?;
        if r.width == Width::W32 {
            return Err(self.err(
                r.at,
                format!(
                    "a memory address needs a 64-bit register: write `r{}`, not `w{}`",
                    r.reg.num(),
                    r.reg.num()
                ),
            ));
        }
        Ok(r.reg)
    }

    /// A write to r10: llvm-mc encodes it, and so do we, so that the
    /// verifier's refusal ("frame pointer is read only") can be shown; a
    /// warning says so.
    pub(super) fn not_r10(&mut self, r: RegOp) -> PResult<()> {
        if r.reg == Reg::R10 {
            let w = self.err(
                r.at,
                "r10 is the read-only frame pointer: this write is encoded (as llvm-mc does), but the verifier refuses it",
            );
            self.asm.warnings.push(w);
        }
        Ok(())
    }

    pub(super) fn imm32(&self, v: i64, at: usize) -> PResult<i32> {
        if (i32::MIN as i64..=u32::MAX as i64).contains(&v) {
            Ok(v as i32)
        } else {
            Err(self.err(
                at,
                format!("immediate {v} out of range for a 32-bit field (-2147483648..4294967295)"),
            ))
        }
    }

    pub(super) fn off16(&self, v: i64, at: usize) -> PResult<i16> {
        i16::try_from(v).map_err(|_| {
            self.err(
                at,
                format!("offset {v} out of range for a 16-bit field (-32768..32767)"),
            )
        })
    }

    /// `(rN +off)`, `(rN + off)`, `(rN - 8)`, `(rN)`; the `(` is current.
    pub(super) fn mem(&mut self) -> PResult<Mem> {
        self.expect(P::LParen, "`(` to start a memory operand like `(r1 +8)`")?;
        let base = self.base_reg()?;
        let off = self.mem_off()?;
        self.expect(P::RParen, "`)` to close the memory operand")?;
        Ok(Mem { base, off })
    }

    /// The optional `+off`/`-off` after a base register.
    pub(super) fn mem_off(&mut self) -> PResult<i16> {
        if self.is(P::Plus) || self.is(P::Minus) {
            let at = self.tok.start;
            let v = self.expr()?;
            self.off16(v, at)
        } else {
            Ok(0)
        }
    }

    /// `(u32 *)` after the `*` of a dereference; the `(` is current.
    pub(super) fn access(&mut self) -> PResult<Access> {
        self.expect(P::LParen, "`(` and an access type like `(u32 *)`")?;
        let at = self.tok.start;
        let (size, signed) = match (self.tok.tok, self.text(self.tok)) {
            (Tok::Ident, "u8") => (Size::B, false),
            (Tok::Ident, "u16") => (Size::H, false),
            (Tok::Ident, "u32") => (Size::W, false),
            (Tok::Ident, "u64") => (Size::DW, false),
            (Tok::Ident, "s8") => (Size::B, true),
            (Tok::Ident, "s16") => (Size::H, true),
            (Tok::Ident, "s32") => (Size::W, true),
            _ => {
                return Err(self.err(
                    at,
                    format!(
                        "bad access size {}; expected u8, u16, u32 or u64 (s8, s16, s32 for sign-extending loads)",
                        self.describe(self.tok)
                    ),
                ))
            }
        };
        self.bump();
        self.expect(P::Star, "`*` in the access type, like `(u32 *)`")?;
        self.expect(P::RParen, "`)` to close the access type")?;
        Ok(Access { size, signed, at })
    }

    pub(super) fn unsigned_access(&self, a: Access) -> PResult<()> {
        if a.signed {
            return Err(self.err(
                a.at,
                "bad access size: signed types (s8, s16, s32) exist only for loads into a register",
            ));
        }
        Ok(())
    }

    /// A jump target: `pc+3`, `+3`, `-1`, `3`, or a label. An LLVM
    /// `<.text+0x30>` annotation after it is ignored.
    /// The current token as a numeric local label reference, `1b` (the
    /// last `1:` before) or `1f` (the next `1:` after): `(1, true)`.
    pub(super) fn numeric_ref(&self) -> Option<(u64, bool)> {
        if !matches!(self.tok.tok, Tok::Bad | Tok::Num) {
            return None;
        }
        let s = self.text(self.tok);
        let back = match s.as_bytes().last()? {
            b'b' | b'B' => true,
            b'f' | b'F' => false,
            _ => return None,
        };
        // The last byte is ASCII, so this splits on a character boundary.
        let digits = &s[..s.len() - 1];
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok().map(|n| (n, back))
    }

    pub(super) fn target(&mut self) -> PResult<Target<'a>> {
        let at = self.tok.start;
        let t = if let Some((n, back)) = self.numeric_ref() {
            self.bump();
            Target::Numeric(n, back, at)
        } else if self.is_ident("pc") {
            self.bump();
            if !(self.is(P::Plus) || self.is(P::Minus)) {
                return Err(self.unexpected("`+` or `-` after `pc`, like `pc+3`"));
            }
            Target::Offset(self.expr()?, at)
        } else if self.tok.tok == Tok::Ident && self.constant(self.text(self.tok)).is_none() {
            let name = self.text(self.tok);
            self.bump();
            Target::Label(name, at)
        } else if matches!(
            self.tok.tok,
            Tok::Num | Tok::Ident | Tok::Punct(P::Plus | P::Minus | P::LParen)
        ) {
            Target::Offset(self.expr()?, at)
        } else {
            return Err(self.unexpected("a jump target: a label, `pc+N` or `+N`"));
        };
        if self.is(P::Lt) {
            while !matches!(self.tok.tok, Tok::Eol | Tok::Punct(P::Gt)) {
                self.bump();
            }
            self.expect(P::Gt, "`>` to close the annotation")?;
        }
        Ok(t)
    }
}

pub(super) fn endian_word(w: &str) -> Option<(ByteOrder, u8)> {
    let (order, bits) = if let Some(b) = w.strip_prefix("bswap") {
        (ByteOrder::Swap, b)
    } else if let Some(b) = w.strip_prefix("be") {
        (ByteOrder::ToBe, b)
    } else if let Some(b) = w.strip_prefix("le") {
        (ByteOrder::ToLe, b)
    } else {
        return None;
    };
    match bits {
        "16" => Some((order, 16)),
        "32" => Some((order, 32)),
        "64" => Some((order, 64)),
        _ => None,
    }
}

#[derive(Debug, Clone, Copy)]
pub(super) enum PseudoWord {
    Map,
    MapValue,
    BtfId,
    Func,
}

pub(super) fn pseudo_word(w: &str) -> Option<PseudoWord> {
    Some(match w {
        "map" => PseudoWord::Map,
        "map_value" => PseudoWord::MapValue,
        "btf_id" => PseudoWord::BtfId,
        "func" => PseudoWord::Func,
        _ => return None,
    })
}

#[derive(Debug, Clone, Copy)]
pub(super) struct AtomicWord {
    pub(super) op: AtomicOp,
    /// LLVM's `xchg_64(r1 + 0, r2)` names the size instead of a cast.
    pub(super) size_from_name: Option<Size>,
    pub(super) must_be_64: bool,
    pub(super) must_be_32: bool,
}

pub(super) fn atomic_word(w: &str) -> Option<AtomicWord> {
    let plain = |op, must_be_64| AtomicWord {
        op,
        size_from_name: None,
        must_be_64,
        must_be_32: false,
    };
    let named = |op, size| AtomicWord {
        op,
        size_from_name: Some(size),
        must_be_64: false,
        must_be_32: false,
    };
    Some(match w {
        "xchg_64" => named(AtomicOp::Xchg, Size::DW),
        "xchg32_32" => named(AtomicOp::Xchg, Size::W),
        "cmpxchg_64" => named(AtomicOp::CmpXchg, Size::DW),
        "cmpxchg32_32" => named(AtomicOp::CmpXchg, Size::W),
        _ => {
            let (is64, rest) = if let Some(r) = w.strip_prefix("atomic64_") {
                (true, r)
            } else if let Some(r) = w.strip_prefix("atomic_") {
                (false, r)
            } else {
                return None;
            };
            let op = match rest {
                "fetch_add" => AtomicOp::FetchAdd,
                "fetch_or" => AtomicOp::FetchOr,
                "fetch_and" => AtomicOp::FetchAnd,
                "fetch_xor" => AtomicOp::FetchXor,
                "xchg" => AtomicOp::Xchg,
                "cmpxchg" => AtomicOp::CmpXchg,
                _ => return None,
            };
            // The kernel prints `atomic_` for u32 and `atomic64_` for u64;
            // LLVM prints `atomic_fetch_*` for both.
            let mut a = plain(op, is64);
            if !is64 && matches!(op, AtomicOp::Xchg | AtomicOp::CmpXchg) {
                a.must_be_32 = true;
            }
            a
        }
    })
}
