//! A byte-level lexer for one line of assembly text.
//!
//! No regular expressions and no allocation: a token is a kind plus a byte
//! range into the line (and, for numbers, the value).
//!
//! Comments are LLVM's: `//` or a `#` at the start of the line or after
//! whitespace (a `#` glued to a name is the kernel's `call bpf_redirect#23`)
//! run to the end of the line; `/* ... */` is skipped within a line (an
//! unclosed one is an error, never a silent drop). `;` is LLVM's statement
//! separator: the lexer ends the statement there ([`Tok::Eol`]) and
//! [`Lexer::next_statement`] steps over it. A line whose first non-blank
//! character is `;` (as in verifier logs and `bpftool ... linum` output) is
//! a comment line; the assembler skips it before lexing.

/// Punctuation and operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum P {
    LParen,
    RParen,
    LBrack,
    RBrack,
    Star,
    Plus,
    Minus,
    Slash,
    Percent,
    Amp,
    Pipe,
    Caret,
    Tilde,
    Comma,
    Colon,
    Hash,
    Lt,
    Gt,
    Le,
    Ge,
    EqEq,
    Ne,
    Assign,
    Shl,
    Shr,
    AddAssign,
    SubAssign,
    MulAssign,
    DivAssign,
    ModAssign,
    AndAssign,
    OrAssign,
    XorAssign,
    ShlAssign,
    ShrAssign,
    Bang,
}

/// The kind of a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tok {
    Ident,
    /// A number; its value is in [`Token::num`].
    Num,
    /// A double-quoted string; the range includes the quotes.
    Str,
    Punct(P),
    /// End of line (or start of a comment).
    Eol,
    /// A byte that starts no token, or a malformed number/string; `num` holds
    /// a [`LexError`] code.
    Bad,
}

/// Why a token is [`Tok::Bad`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LexError {
    UnexpectedChar = 1,
    NumberTooLarge = 2,
    BadDigit = 3,
    UnterminatedString = 4,
    UnterminatedComment = 5,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    pub tok: Tok,
    /// Byte range in the line.
    pub start: usize,
    pub end: usize,
    /// Value of a number (unsigned, as written), or the [`LexError`] of `Bad`.
    pub num: u64,
}

/// Lexer state: the line and a cursor.
#[derive(Debug, Clone, Copy)]
pub struct Lexer<'a> {
    pub line: &'a [u8],
    pub pos: usize,
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b == b'.' || b == b'$'
}
fn is_ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'$'
}

impl<'a> Lexer<'a> {
    pub fn new(line: &'a str) -> Lexer<'a> {
        Lexer {
            line: line.as_bytes(),
            pos: 0,
        }
    }

    fn at(&self, i: usize) -> u8 {
        self.line.get(i).copied().unwrap_or(0)
    }

    /// The next token.
    pub fn next_token(&mut self) -> Token {
        let line = self.line;
        let mut i = self.pos;
        loop {
            while i < line.len() && (line[i] == b' ' || line[i] == b'\t' || line[i] == b'\r') {
                i += 1;
            }
            if !(self.at(i) == b'/' && self.at(i + 1) == b'*') {
                break;
            }
            match line[i + 2..].windows(2).position(|w| w == b"*/") {
                Some(k) => i += 2 + k + 2,
                None => {
                    self.pos = line.len();
                    return Token {
                        tok: Tok::Bad,
                        start: i,
                        end: line.len(),
                        num: LexError::UnterminatedComment as u64,
                    };
                }
            }
        }
        let start = i;
        let tok = |kind: Tok, end: usize, num: u64| Token {
            tok: kind,
            start,
            end,
            num,
        };
        if i >= line.len() {
            self.pos = i;
            return tok(Tok::Eol, i, 0);
        }
        let b = line[i];
        // `#` opens a comment at the start of a line or after whitespace.
        let hash_comment = b == b'#' && (i == 0 || matches!(line[i - 1], b' ' | b'\t'));
        if b == b';' {
            // End of this statement; the position stays on the `;` so every
            // later call also sees the end, until `next_statement`.
            self.pos = i;
            return tok(Tok::Eol, i, 0);
        }
        if (b == b'/' && self.at(i + 1) == b'/') || hash_comment {
            self.pos = line.len();
            return tok(Tok::Eol, i, 0);
        }
        if is_ident_start(b) {
            let mut j = i + 1;
            while j < line.len() && is_ident_char(line[j]) {
                j += 1;
            }
            self.pos = j;
            return tok(Tok::Ident, j, 0);
        }
        if b.is_ascii_digit() {
            let (t, j, v) = lex_number(line, i);
            self.pos = j;
            return tok(t, j, v);
        }
        if b == b'"' {
            let mut j = i + 1;
            while j < line.len() && line[j] != b'"' {
                if line[j] == b'\\' {
                    j += 1;
                }
                j += 1;
            }
            if j >= line.len() {
                self.pos = line.len();
                return tok(Tok::Bad, line.len(), LexError::UnterminatedString as u64);
            }
            self.pos = j + 1;
            return tok(Tok::Str, j + 1, 0);
        }
        let c1 = self.at(i + 1);
        // An operator followed by `=` is its compound assignment (`+=`, `<=`...).
        let eq = c1 == b'=';
        let (p, len) = match b {
            b'(' => (P::LParen, 1),
            b')' => (P::RParen, 1),
            b'[' => (P::LBrack, 1),
            b']' => (P::RBrack, 1),
            b',' => (P::Comma, 1),
            b':' => (P::Colon, 1),
            b'#' => (P::Hash, 1),
            b'~' => (P::Tilde, 1),
            b'+' if eq => (P::AddAssign, 2),
            b'+' => (P::Plus, 1),
            b'-' if eq => (P::SubAssign, 2),
            b'-' => (P::Minus, 1),
            b'*' if eq => (P::MulAssign, 2),
            b'*' => (P::Star, 1),
            b'/' if eq => (P::DivAssign, 2),
            b'/' => (P::Slash, 1),
            b'%' if eq => (P::ModAssign, 2),
            b'%' => (P::Percent, 1),
            b'&' if eq => (P::AndAssign, 2),
            b'&' => (P::Amp, 1),
            b'|' if eq => (P::OrAssign, 2),
            b'|' => (P::Pipe, 1),
            b'^' if eq => (P::XorAssign, 2),
            b'^' => (P::Caret, 1),
            b'=' if eq => (P::EqEq, 2),
            b'=' => (P::Assign, 1),
            b'!' if eq => (P::Ne, 2),
            b'!' => (P::Bang, 1),
            b'<' if c1 == b'<' && self.at(i + 2) == b'=' => (P::ShlAssign, 3),
            b'<' if c1 == b'<' => (P::Shl, 2),
            b'<' if eq => (P::Le, 2),
            b'<' => (P::Lt, 1),
            b'>' if c1 == b'>' && self.at(i + 2) == b'=' => (P::ShrAssign, 3),
            b'>' if c1 == b'>' => (P::Shr, 2),
            b'>' if eq => (P::Ge, 2),
            b'>' => (P::Gt, 1),
            _ => {
                // Skip a whole UTF-8 sequence so ranges stay on char boundaries.
                let mut j = i + 1;
                while j < line.len() && (line[j] & 0xc0) == 0x80 {
                    j += 1;
                }
                self.pos = j;
                return tok(Tok::Bad, j, LexError::UnexpectedChar as u64);
            }
        };
        self.pos = i + len;
        tok(Tok::Punct(p), i + len, 0)
    }

    /// After a statement ended at `;`, steps over it and returns true; at
    /// the real end of the line returns false.
    pub fn next_statement(&mut self) -> bool {
        let mut i = self.pos;
        while matches!(self.at(i), b' ' | b'\t' | b'\r') {
            i += 1;
        }
        if self.at(i) == b';' {
            self.pos = i + 1;
            true
        } else {
            false
        }
    }

    /// The next token without consuming it.
    pub fn peek(&self) -> Token {
        let mut c = *self;
        c.next_token()
    }
}

/// Lex a number at `i`: decimal, `0x` hex, `0b` binary, `0o` octal, or a
/// leading `0` for octal as in C, which is how llvm-mc reads `017` (15): the
/// same text must give the same bytes in both assemblers. A C suffix (`U`,
/// `L`, `LL`, `UL`, `ULL`) is skipped, as llvm-mc skips it
/// (`0xffffffff00000000LL` in the selftests).
fn lex_number(line: &[u8], i: usize) -> (Tok, usize, u64) {
    let (radix, mut j) = match (line[i], line.get(i + 1).map(|b| b.to_ascii_lowercase())) {
        (b'0', Some(b'x')) => (16u64, i + 2),
        (b'0', Some(b'b')) => (2, i + 2),
        (b'0', Some(b'o')) => (8, i + 2),
        (b'0', Some(b'0'..=b'9')) => (8, i + 1),
        _ => (10, i),
    };
    let digits_start = j;
    let mut v: u64 = 0;
    let mut overflow = false;
    let mut bad = false;
    while j < line.len() && (line[j].is_ascii_alphanumeric() || line[j] == b'_') {
        let d = match line[j] {
            c @ b'0'..=b'9' => (c - b'0') as u64,
            c @ b'a'..=b'f' => (c - b'a' + 10) as u64,
            c @ b'A'..=b'F' => (c - b'A' + 10) as u64,
            b'_' => {
                j += 1;
                continue;
            }
            _ => 99,
        };
        if d >= radix && digits_start < j {
            // C's integer suffixes, which llvm-mc skips (`U`, `L`, `LL`,
            // `UL`, `ULL`, either case): only as
            // the whole rest of the word.
            let mut end = j;
            while end < line.len() && (line[end].is_ascii_alphanumeric() || line[end] == b'_') {
                end += 1;
            }
            let suffix = line[j..end].to_ascii_uppercase();
            if matches!(&suffix[..], b"U" | b"L" | b"LL" | b"UL" | b"ULL") {
                j = end;
                break;
            }
        }
        if d >= radix {
            bad = true;
        } else {
            match v.checked_mul(radix).and_then(|x| x.checked_add(d)) {
                Some(n) => v = n,
                None => overflow = true,
            }
        }
        j += 1;
    }
    if bad || j == digits_start {
        (Tok::Bad, j, LexError::BadDigit as u64)
    } else if overflow {
        (Tok::Bad, j, LexError::NumberTooLarge as u64)
    } else {
        (Tok::Num, j, v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(s: &str) -> Vec<Tok> {
        let mut l = Lexer::new(s);
        let mut v = Vec::new();
        loop {
            let t = l.next_token();
            v.push(t.tok);
            if t.tok == Tok::Eol {
                return v;
            }
        }
    }

    #[test]
    fn tokens() {
        use P::*;
        assert_eq!(
            kinds("r0 = *(u32 *)(r1 +76) # c"),
            vec![
                Tok::Ident,
                Tok::Punct(Assign),
                Tok::Punct(Star),
                Tok::Punct(LParen),
                Tok::Ident,
                Tok::Punct(Star),
                Tok::Punct(RParen),
                Tok::Punct(LParen),
                Tok::Ident,
                Tok::Punct(Plus),
                Tok::Num,
                Tok::Punct(RParen),
                Tok::Eol
            ]
        );
        assert_eq!(
            kinds("call bpf_redirect#23 # c"),
            vec![Tok::Ident, Tok::Ident, Tok::Punct(Hash), Tok::Num, Tok::Eol]
        );
        assert_eq!(
            kinds("w1 s>>= 3"),
            vec![
                Tok::Ident,
                Tok::Ident,
                Tok::Punct(ShrAssign),
                Tok::Num,
                Tok::Eol
            ]
        );
        let mut l = Lexer::new("0xffffffffffffffff 0x1_0000000000000000 12z");
        assert_eq!(l.next_token().num, u64::MAX);
        assert_eq!(l.next_token().tok, Tok::Bad);
        assert_eq!(l.next_token().tok, Tok::Bad);
    }
}
