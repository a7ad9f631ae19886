//! Constant expressions in immediates and offsets: numbers, names defined by
//! `.equ`/`-D`, parentheses, C operators with C precedence
//! (`* / %`, `+ -`, `<< >>`, `&`, `^`, `|`; unary `- ~ +`), and the byte-order
//! functions `htons`, `htonl` (host = little-endian bpfel, so
//! `htons(0x0800) == 0x0008`), `ntohs`, `ntohl`, `bswap16/32/64`.
//!
//! Arithmetic is on `i64`, wrapping like two's complement; division by zero and
//! out-of-range shifts are errors.

use super::lexer::{Tok, P};
use super::lines::{Line, PResult};

/// Binding power of a binary operator (higher binds tighter), or `None`.
fn binary_power(p: P) -> Option<u8> {
    Some(match p {
        P::Pipe => 1,
        P::Caret => 2,
        P::Amp => 3,
        P::Shl | P::Shr => 4,
        P::Plus | P::Minus => 5,
        P::Star | P::Slash | P::Percent => 6,
        _ => return None,
    })
}

/// How deep parentheses, unary operators and function calls may nest. The
/// evaluator recurses once per level, so without a bound a hostile line such
/// as `((((...` would overflow the stack instead of getting an error; no real
/// program comes near this.
const MAX_DEPTH: u32 = 64;

/// Names the expression language reserves for functions.
pub fn is_function(name: &str) -> bool {
    matches!(
        name,
        "htons" | "htonl" | "ntohs" | "ntohl" | "bswap16" | "bswap32" | "bswap64"
    )
}

impl<'a> Line<'a, '_> {
    /// Parse and evaluate an expression starting at the current token.
    pub fn expr(&mut self) -> PResult<i64> {
        self.expr_bp(0, 0)
    }

    /// A term of a sum: everything binding tighter than `+` and `-`, so
    /// that [`Line::sym_expr`] can take the sum apart around symbols.
    pub(super) fn expr_term(&mut self) -> PResult<i64> {
        self.expr_bp(5, 0)
    }

    fn expr_bp(&mut self, min: u8, depth: u32) -> PResult<i64> {
        let mut lhs = self.unary(depth)?;
        loop {
            let Tok::Punct(p) = self.tok.tok else {
                return Ok(lhs);
            };
            let Some(bp) = binary_power(p) else {
                return Ok(lhs);
            };
            if bp <= min {
                return Ok(lhs);
            }
            let at = self.tok.start;
            self.bump();
            let rhs = self.expr_bp(bp, depth)?;
            lhs = match p {
                P::Pipe => lhs | rhs,
                P::Caret => lhs ^ rhs,
                P::Amp => lhs & rhs,
                P::Plus => lhs.wrapping_add(rhs),
                P::Minus => lhs.wrapping_sub(rhs),
                P::Star => lhs.wrapping_mul(rhs),
                P::Slash | P::Percent => {
                    if rhs == 0 {
                        return Err(self.err(at, "division by zero in constant expression"));
                    }
                    if p == P::Slash {
                        lhs.wrapping_div(rhs)
                    } else {
                        lhs.wrapping_rem(rhs)
                    }
                }
                P::Shl | P::Shr => {
                    if !(0..64).contains(&rhs) {
                        return Err(self.err(
                            at,
                            format!("shift by {rhs} is out of range; expected 0..63"),
                        ));
                    }
                    if p == P::Shl {
                        lhs << rhs
                    } else {
                        lhs >> rhs
                    }
                }
                _ => return Ok(lhs),
            };
        }
    }

    fn unary(&mut self, depth: u32) -> PResult<i64> {
        if depth >= MAX_DEPTH {
            return Err(self.err(
                self.tok.start,
                format!("constant expression nested more than {MAX_DEPTH} levels deep"),
            ));
        }
        match self.tok.tok {
            Tok::Punct(P::Minus) => {
                self.bump();
                Ok(self.unary(depth + 1)?.wrapping_neg())
            }
            Tok::Punct(P::Plus) => {
                self.bump();
                self.unary(depth + 1)
            }
            Tok::Punct(P::Tilde) => {
                self.bump();
                Ok(!self.unary(depth + 1)?)
            }
            _ => self.primary(depth),
        }
    }

    fn primary(&mut self, depth: u32) -> PResult<i64> {
        let t = self.tok;
        match t.tok {
            Tok::Num => {
                self.bump();
                Ok(t.num as i64)
            }
            Tok::Punct(P::LParen) => {
                self.bump();
                let v = self.expr_bp(0, depth + 1)?;
                self.expect(P::RParen, "`)` to close the parenthesis")?;
                Ok(v)
            }
            Tok::Ident => {
                let name = self.text(t);
                if is_function(name) {
                    self.bump();
                    self.expect(P::LParen, "`(` after the function name")?;
                    let arg_at = self.tok.start;
                    let v = self.expr_bp(0, depth + 1)?;
                    self.expect(P::RParen, "`)` to close the function call")?;
                    return self.apply(name, v, arg_at);
                }
                match self.constant(name) {
                    Some(v) => {
                        self.bump();
                        Ok(v)
                    }
                    None => Err(self.err(
                        t.start,
                        format!(
                            "unknown name `{name}`; expected a number or a constant defined by .equ or -D"
                        ),
                    )),
                }
            }
            _ => Err(self.unexpected("a number, a constant name or `(`")),
        }
    }

    fn apply(&self, f: &str, v: i64, at: usize) -> PResult<i64> {
        let bits = match f {
            "htons" | "ntohs" | "bswap16" => 16,
            "htonl" | "ntohl" | "bswap32" => 32,
            _ => 64,
        };
        if bits < 64 {
            let (lo, hi) = (-(1i64 << (bits - 1)), (1i64 << bits) - 1);
            if v < lo || v > hi {
                return Err(self.err(
                    at,
                    format!("{f}() argument {v:#x} does not fit in {bits} bits"),
                ));
            }
        }
        Ok(match bits {
            16 => (v as u16).swap_bytes() as i64,
            32 => (v as u32).swap_bytes() as i64,
            _ => (v as u64).swap_bytes() as i64,
        })
    }
}
