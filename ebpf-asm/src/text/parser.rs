//! Statements, directives and labels: the assembler proper.
//!
//! One pass over the lines encodes every instruction at once; jumps and
//! local calls to labels leave a fixup that is resolved after the last line,
//! in 8-byte slot units counted from the next instruction, exactly as the
//! kernel counts `off` (RFC 9669 section 4.3). Numeric jump offsets are
//! encoded as written, like `llvm-mc` does.
//!
//! Accepted forms (kernel syntax first, LLVM's where it differs):
//!
//! ```text
//! r1 = r2            w1 += 5          r1 s/= r2        r1 = -r1
//! r1 = (s8)r2        r1 = be16 r1     r1 = bswap32 r1  r1 = 0x1234 ll
//! r0 = *(u32 *)(r1 +76)   | (r1 + 76)      r1 = *(s16 *)(r2 -2)
//! *(u64 *)(r10 -8) = r1   *(u32 *)(r1 +0) = 7
//! lock *(u64 *)(r1 +8) += r2
//! r2 = atomic64_fetch_add((u64 *)(r1 +8), r2) | atomic_fetch_add((u64 *)(r1 + 8), r2)
//! r2 = atomic64_xchg((u64 *)(r1 +8), r2)      | xchg_64(r1 + 8, r2)
//! r0 = atomic64_cmpxchg((u64 *)(r1 +8), r0, r2) | cmpxchg_64(r1 + 8, r0, r2)
//! if r1 > r2 goto pc+3    | goto +3        if w1 s< 5 goto label
//! goto pc-1   gotol pc+100000   may_goto pc+2
//! call bpf_redirect#23    call bpf_redirect    call 23    call pc+5   callx r1
//! call kfunc#1234         exit
//! r0 = *(u8 *)skb[12]     r0 = *(u16 *)skb[r1 + 4]
//! r1 = map[fd:5] ll       r1 = map_value[idx:0]+16 ll    r1 = my_map ll (relocation)
//! 12: (b7) r0 = 0         (a pasted verifier line)
//! ```

use super::lexer::{LexError, Lexer, Tok, Token, P};
use super::{AsmError, AsmOptions};
use crate::encode::encode;
use crate::helpers::helper_id;
use crate::insn::*;
use crate::program::{
    default_name, Program, RelocKind, Relocation, DEFAULT_LICENSE, DEFAULT_SECTION,
};
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

pub(crate) type PResult<T> = Result<T, AsmError>;

/// Which field a label fixup patches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FixKind {
    /// `off` of a jump (16 bits).
    Off,
    /// `imm` of gotol (32 bits).
    Imm,
    /// `imm` of a call to a label: a local function, or an unknown helper.
    Call,
}

#[derive(Debug, Clone, Copy)]
struct Fixup<'a> {
    slot: usize,
    name: &'a str,
    kind: FixKind,
    line: u32,
    line_start: usize,
    line_end: usize,
    col: usize,
}

/// An open `.ifdef`/`.ifndef` block.
#[derive(Debug, Clone, Copy)]
struct Cond {
    /// Were lines assembled where the block opened?
    outer_active: bool,
    /// Is the current branch taken?
    taken: bool,
    seen_else: bool,
    line: u32,
    line_start: usize,
    line_end: usize,
}

/// Whole-file assembler state.
pub(crate) struct Assembler<'a> {
    file: &'a str,
    src: &'a str,
    /// Constants; the flag marks `-D` ones, which `.equ` cannot override.
    consts: HashMap<String, (i64, bool)>,
    labels: HashMap<&'a str, (usize, u32)>,
    fixups: Vec<Fixup<'a>>,
    insns: Vec<Insn>,
    lines: Vec<(u32, u32, u32)>,
    relocs: Vec<Relocation>,
    section: Option<String>,
    license: Option<String>,
    name: Option<String>,
    conds: Vec<Cond>,
    /// Constant names the text mentioned, to report unused `-D` ones.
    /// A `RefCell` because constants are looked up through `&self`.
    mentioned: RefCell<HashSet<&'a str>>,
    /// The `-D` names, in the order given.
    define_names: Vec<&'a str>,
    /// What llvm-mc encodes but the verifier will refuse (see
    /// [`Program::warnings`]).
    warnings: Vec<AsmError>,
}

/// The line being parsed: a lexer, the current token and the position.
pub(crate) struct Line<'a, 's> {
    pub(crate) asm: &'s mut Assembler<'a>,
    pub(crate) lx: Lexer<'a>,
    pub(crate) tok: Token,
    pub(crate) text: &'a str,
    pub(crate) lineno: u32,
    pub(crate) start: usize,
}

/// A register operand with its width and where it was written.
#[derive(Debug, Clone, Copy)]
struct RegOp {
    reg: Reg,
    width: Width,
    at: usize,
}

/// A memory operand `(rN +off)`.
#[derive(Debug, Clone, Copy)]
struct Mem {
    base: Reg,
    off: i16,
}

/// What `*(TYPE *)` named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Access {
    size: Size,
    signed: bool,
    at: usize,
}

/// A jump target as written.
enum Target<'a> {
    Offset(i64, usize),
    Label(&'a str, usize),
}

fn reg_name(width: Width, r: Reg) -> String {
    format!("{}{}", width.reg_prefix(), r.num())
}

fn width_bits(w: Width) -> u32 {
    match w {
        Width::W32 => 32,
        Width::W64 => 64,
    }
}

impl<'a> Assembler<'a> {
    pub(crate) fn new(src: &'a str, opts: &'a AsmOptions) -> Assembler<'a> {
        let mut consts = HashMap::new();
        for (k, v) in &opts.defines {
            consts.insert(k.clone(), (*v, true));
        }
        Assembler {
            file: &opts.file_name,
            src,
            consts,
            labels: HashMap::new(),
            fixups: Vec::new(),
            insns: Vec::with_capacity(src.len() / 16),
            lines: Vec::with_capacity(src.len() / 16),
            relocs: Vec::new(),
            section: None,
            license: None,
            name: None,
            conds: Vec::new(),
            mentioned: RefCell::new(HashSet::new()),
            define_names: opts.defines.iter().map(|(k, _)| k.as_str()).collect(),
            warnings: Vec::new(),
        }
    }

    /// Notes that the text used the constant `name`.
    fn mention(&self, name: &str) {
        // Only `-D` names are reported, so only they need remembering
        // (and they live as long as the assembler: `&'a str`).
        if let Some(d) = self.define_names.iter().find(|d| **d == name) {
            self.mentioned.borrow_mut().insert(*d);
        }
    }

    fn active(&self) -> bool {
        self.conds
            .last()
            .map_or(true, |c| c.outer_active && c.taken)
    }

    fn error_at(
        &self,
        line: u32,
        line_start: usize,
        line_end: usize,
        col_byte: usize,
        message: String,
    ) -> AsmError {
        let text = self.src.get(line_start..line_end).unwrap_or("");
        let text = text.strip_suffix('\r').unwrap_or(text);
        let col = text
            .get(..col_byte.min(text.len()))
            .map_or(col_byte, |s| s.chars().count());
        AsmError {
            file: self.file.to_string(),
            line,
            column: col as u32 + 1,
            message,
            source_line: text.to_string(),
        }
    }

    pub(crate) fn run(mut self) -> Result<Program, AsmError> {
        let src = self.src;
        let mut start = 0usize;
        for (n, text) in src.split('\n').enumerate() {
            self.line(text, n as u32 + 1, start)?;
            start += text.len() + 1;
        }
        if let Some(c) = self.conds.last() {
            return Err(self.error_at(
                c.line,
                c.line_start,
                c.line_end,
                0,
                "this .ifdef/.ifndef has no matching .endif".to_string(),
            ));
        }
        self.resolve()?;
        let section = self
            .section
            .take()
            .unwrap_or_else(|| DEFAULT_SECTION.to_string());
        let name = self.name.take().unwrap_or_else(|| default_name(&section));
        let mut p = Program::from_insns(std::mem::take(&mut self.insns));
        p.section = section;
        p.name = name;
        p.license = self
            .license
            .take()
            .unwrap_or_else(|| DEFAULT_LICENSE.to_string());
        p.relocations = std::mem::take(&mut self.relocs);
        p.source = src.to_string();
        p.lines = std::mem::take(&mut self.lines);
        p.warnings = std::mem::take(&mut self.warnings);
        p.file_name = self.file.to_string();
        let mentioned = self.mentioned.borrow();
        p.unused_defines = self
            .define_names
            .iter()
            .filter(|d| !mentioned.contains(*d))
            .map(|d| d.to_string())
            .collect();
        Ok(p)
    }

    fn resolve(&mut self) -> PResult<()> {
        for f in &self.fixups {
            let Some(&(target, _)) = self.labels.get(f.name) else {
                let what = if f.kind == FixKind::Call {
                    format!("unknown helper or label `{}`; expected a kernel helper name (like bpf_redirect), a helper id, or a label defined with `{}:`", f.name, f.name)
                } else {
                    format!(
                        "unknown label `{}`; define it with `{}:` on its own line",
                        f.name, f.name
                    )
                };
                return Err(self.error_at(f.line, f.line_start, f.line_end, f.col, what));
            };
            let rel = target as i64 - (f.slot as i64 + 1);
            let insn = &mut self.insns[f.slot];
            let ok = match f.kind {
                FixKind::Off => i16::try_from(rel).map(|v| insn.off = v).is_ok(),
                FixKind::Imm | FixKind::Call => i32::try_from(rel).map(|v| insn.imm = v).is_ok(),
            };
            if !ok {
                return Err(self.error_at(
                    f.line,
                    f.line_start,
                    f.line_end,
                    f.col,
                    format!(
                        "label `{}` is {rel} slots away: out of range for a 16-bit jump offset (-32768..32767); use gotol",
                        f.name
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Process one line.
    fn line(&mut self, text: &'a str, lineno: u32, start: usize) -> PResult<()> {
        // In a skipped block only directives matter (they may end it).
        let trimmed = text.trim_start_matches([' ', '\t']);
        if !self.active() && !trimmed.starts_with('.') {
            return Ok(());
        }
        // A line starting with `;` is a comment, as in verifier logs; a `;`
        // after code separates statements (see `lexer`).
        if trimmed.starts_with(';') {
            return Ok(());
        }
        let mut lx = Lexer::new(text);
        let tok = lx.next_token();
        let mut l = Line {
            asm: self,
            lx,
            tok,
            text,
            lineno,
            start,
        };
        loop {
            l.statement()?;
            if !l.asm.active() {
                return Ok(());
            }
            if l.tok.tok != Tok::Eol {
                return Err(l.unexpected("the end of the statement"));
            }
            if !l.lx.next_statement() {
                return Ok(());
            }
            l.bump();
        }
    }
}

impl<'a> Line<'a, '_> {
    // ---- token helpers ----

    pub(crate) fn bump(&mut self) {
        self.tok = self.lx.next_token();
    }
    pub(crate) fn peek(&self) -> Token {
        self.lx.peek()
    }
    /// Is the next token a `:`? (A cheap peek for the label check every
    /// line makes.)
    fn colon_follows(&self) -> bool {
        let rest = self.lx.line.get(self.tok.end..).unwrap_or(&[]);
        rest.iter().find(|b| !matches!(b, b' ' | b'\t')) == Some(&b':')
    }
    pub(crate) fn text(&self, t: Token) -> &'a str {
        self.text.get(t.start..t.end).unwrap_or("")
    }
    pub(crate) fn constant(&self, name: &str) -> Option<i64> {
        self.asm.mention(name);
        self.asm.consts.get(name).map(|c| c.0)
    }
    pub(crate) fn err(&self, at: usize, msg: impl Into<String>) -> AsmError {
        let (start, end) = self.line_range();
        self.asm.error_at(self.lineno, start, end, at, msg.into())
    }
    fn describe(&self, t: Token) -> String {
        match t.tok {
            Tok::Eol => "end of line".to_string(),
            Tok::Bad => match t.num {
                x if x == LexError::NumberTooLarge as u64 => {
                    format!("number `{}` (too large for 64 bits)", self.text(t))
                }
                x if x == LexError::BadDigit as u64 => {
                    let text = self.text(t);
                    let c_octal = text.len() > 1
                        && text.starts_with('0')
                        && text.as_bytes()[1].is_ascii_digit();
                    if c_octal {
                        format!("malformed number `{text}` (a leading 0 means octal, as in C and llvm-mc)")
                    } else {
                        format!("malformed number `{text}`")
                    }
                }
                x if x == LexError::UnterminatedString as u64 => "unterminated string".to_string(),
                x if x == LexError::UnterminatedComment as u64 => {
                    "`/*` with no `*/` on this line (comments do not span lines)".to_string()
                }
                _ => format!("unexpected character `{}`", self.text(t)),
            },
            _ => format!("`{}`", self.text(t)),
        }
    }
    pub(crate) fn unexpected(&self, expected: &str) -> AsmError {
        self.err(
            self.tok.start,
            format!("expected {expected}, found {}", self.describe(self.tok)),
        )
    }
    pub(crate) fn expect(&mut self, p: P, expected: &str) -> PResult<()> {
        if self.tok.tok == Tok::Punct(p) {
            self.bump();
            Ok(())
        } else {
            Err(self.unexpected(expected))
        }
    }
    fn is(&self, p: P) -> bool {
        self.tok.tok == Tok::Punct(p)
    }
    fn is_ident(&self, s: &str) -> bool {
        self.tok.tok == Tok::Ident && self.text(self.tok) == s
    }
    fn expect_ident(&mut self, s: &str) -> PResult<()> {
        if self.is_ident(s) {
            self.bump();
            Ok(())
        } else {
            Err(self.unexpected(&format!("`{s}`")))
        }
    }
    fn end(&mut self) -> PResult<()> {
        if self.tok.tok == Tok::Eol {
            Ok(())
        } else {
            Err(self.unexpected("end of line after the instruction"))
        }
    }

    // ---- operands ----

    /// If the current token is a register name, parse it (errors for r11+).
    fn try_reg(&mut self) -> PResult<Option<RegOp>> {
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

    fn reg(&mut self, expected: &str) -> PResult<RegOp> {
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
    fn in_place(&self, dst: RegOp, r: RegOp, what: &str, op: &str) -> PResult<()> {
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

    fn same_width(&self, a: RegOp, b: RegOp) -> PResult<()> {
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

    fn base_reg(&mut self) -> PResult<Reg> {
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
    fn not_r10(&mut self, r: RegOp) -> PResult<()> {
        if r.reg == Reg::R10 {
            let w = self.err(
                r.at,
                "r10 is the read-only frame pointer: this write is encoded (as llvm-mc does), but the verifier refuses it",
            );
            self.asm.warnings.push(w);
        }
        Ok(())
    }

    fn imm32(&self, v: i64, at: usize) -> PResult<i32> {
        if (i32::MIN as i64..=u32::MAX as i64).contains(&v) {
            Ok(v as i32)
        } else {
            Err(self.err(
                at,
                format!("immediate {v} out of range for a 32-bit field (-2147483648..4294967295)"),
            ))
        }
    }

    fn off16(&self, v: i64, at: usize) -> PResult<i16> {
        i16::try_from(v).map_err(|_| {
            self.err(
                at,
                format!("offset {v} out of range for a 16-bit field (-32768..32767)"),
            )
        })
    }

    /// `(rN +off)`, `(rN + off)`, `(rN - 8)`, `(rN)`; the `(` is current.
    fn mem(&mut self) -> PResult<Mem> {
        self.expect(P::LParen, "`(` to start a memory operand like `(r1 +8)`")?;
        let base = self.base_reg()?;
        let off = self.mem_off()?;
        self.expect(P::RParen, "`)` to close the memory operand")?;
        Ok(Mem { base, off })
    }

    /// The optional `+off`/`-off` after a base register.
    fn mem_off(&mut self) -> PResult<i16> {
        if self.is(P::Plus) || self.is(P::Minus) {
            let at = self.tok.start;
            let v = self.expr()?;
            self.off16(v, at)
        } else {
            Ok(0)
        }
    }

    /// `(u32 *)` after the `*` of a dereference; the `(` is current.
    fn access(&mut self) -> PResult<Access> {
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

    fn unsigned_access(&self, a: Access) -> PResult<()> {
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
    fn target(&mut self) -> PResult<Target<'a>> {
        let at = self.tok.start;
        let t = if self.is_ident("pc") {
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

    // ---- emission ----

    /// This line's byte range in the source, without a trailing `\r`.
    fn line_range(&self) -> (usize, usize) {
        (
            self.start,
            self.start + self.text.trim_end_matches('\r').len(),
        )
    }

    fn emit(&mut self, ins: Instruction) {
        let (start, end) = self.line_range();
        for slot in encode(&ins).as_slice() {
            self.asm.insns.push(*slot);
            self.asm.lines.push((self.lineno, start as u32, end as u32));
        }
    }

    fn fixup(&mut self, slot: usize, name: &'a str, kind: FixKind, col: usize) {
        let (line_start, line_end) = self.line_range();
        self.asm.fixups.push(Fixup {
            slot,
            name,
            kind,
            line: self.lineno,
            line_start,
            line_end,
            col,
        });
    }

    /// Emit a jump-like instruction whose offset comes from `t`.
    fn emit_branch(&mut self, ins: Instruction, t: Target<'a>, kind: FixKind) -> PResult<()> {
        let slot = self.asm.insns.len();
        let mut ins = ins;
        match t {
            Target::Offset(v, at) => match &mut ins {
                Instruction::Jump { off, .. }
                | Instruction::Ja { off }
                | Instruction::MayGoto { off } => *off = self.off16(v, at)?,
                Instruction::JaLong { imm } | Instruction::Call(CallKind::Local(imm)) => {
                    *imm = i32::try_from(v).map_err(|_| {
                        self.err(at, format!("offset {v} out of range for a 32-bit field"))
                    })?
                }
                _ => {}
            },
            Target::Label(name, at) => self.fixup(slot, name, kind, at),
        }
        self.emit(ins);
        Ok(())
    }

    // ---- statements ----

    fn statement(&mut self) -> PResult<()> {
        let mut opcode_hint: Option<(u8, usize)> = None;
        // A pasted verifier line `12: (b7) r0 = 0` or objdump line `12: b7 00 ...`.
        if self.tok.tok == Tok::Num && self.peek().tok == Tok::Punct(P::Colon) {
            self.bump();
            self.bump();
            if self.is(P::LParen) {
                let t = self.peek();
                let hex = self.text(t);
                if hex.len() == 2 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    let at = t.start;
                    self.bump();
                    self.bump();
                    self.expect(P::RParen, "`)` after the opcode, like `(b7)`")?;
                    opcode_hint = u8::from_str_radix(hex, 16).ok().map(|c| (c, at));
                }
            }
            loop {
                let s = self.text(self.tok);
                let glued = self
                    .text
                    .as_bytes()
                    .get(self.tok.end)
                    .is_some_and(|b| !b.is_ascii_whitespace());
                if s.len() == 2 && !glued && s.bytes().all(|b| b.is_ascii_hexdigit()) {
                    self.bump();
                } else {
                    break;
                }
            }
            if self.tok.tok == Tok::Eol {
                return Ok(());
            }
        }
        // Labels: `name:`, possibly followed by an instruction.
        while self.tok.tok == Tok::Ident && self.colon_follows() {
            let name = self.text(self.tok);
            let at = self.tok.start;
            if !self.asm.active() {
                return Ok(());
            }
            if name.starts_with(['r', 'w']) && self.try_reg().ok().flatten().is_some() {
                return Err(self.err(at, format!("`{name}` is a register and cannot be a label")));
            }
            let slot = self.asm.insns.len();
            if let Some(&(_, first)) = self.asm.labels.get(name) {
                return Err(self.err(
                    at,
                    format!("duplicate label `{name}` (first defined at line {first})"),
                ));
            }
            self.asm.labels.insert(name, (slot, self.lineno));
            self.bump();
            self.bump();
        }
        match self.tok.tok {
            Tok::Eol => return Ok(()),
            Tok::Ident if self.text(self.tok).starts_with('.') => return self.directive(),
            _ => {}
        }
        if !self.asm.active() {
            return Ok(());
        }
        let first_slot = self.asm.insns.len();
        self.instruction(opcode_hint)?;
        if let Some((code, at)) = opcode_hint {
            if let Some(got) = self.asm.insns.get(first_slot) {
                if got.code != code {
                    return Err(self.err(
                        at,
                        format!(
                            "the pasted opcode ({code:02x}) does not match this instruction, which encodes as ({:02x})",
                            got.code
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    fn instruction(&mut self, hint: Option<(u8, usize)>) -> PResult<()> {
        let t = self.tok;
        match t.tok {
            Tok::Punct(P::Star) => return self.store(),
            Tok::Ident => {}
            _ => return Err(self.unexpected("an instruction, a label or a directive")),
        }
        if let Some(dst) = self.try_reg()? {
            return self.reg_statement(dst, hint);
        }
        let word = self.text(t);
        self.bump();
        match word {
            "if" => self.jump(),
            "goto" | "ja" => {
                let target = self.target()?;
                self.emit_branch(Instruction::Ja { off: 0 }, target, FixKind::Off)?;
                self.end()
            }
            "gotol" => {
                let target = self.target()?;
                self.emit_branch(Instruction::JaLong { imm: 0 }, target, FixKind::Imm)?;
                self.end()
            }
            "may_goto" => {
                let target = self.target()?;
                self.emit_branch(Instruction::MayGoto { off: 0 }, target, FixKind::Off)?;
                self.end()
            }
            "call" => self.call(),
            "callx" => {
                let r = self.reg("a register, like `callx r1`")?;
                self.emit(Instruction::CallX { dst: r.reg });
                self.end()
            }
            "exit" => {
                self.emit(Instruction::Exit);
                self.end()
            }
            "lock" => self.lock(),
            "ld_pseudo" => self.ld_pseudo(),
            _ => Err(self.err(
                t.start,
                format!(
                    "unknown mnemonic `{word}`; expected an instruction (like `r0 = 0`, `if r1 > r2 goto pc+1`, `call bpf_redirect`, `exit`), a label or a directive"
                ),
            )),
        }
    }

    fn call(&mut self) -> PResult<()> {
        let at = self.tok.start;
        if self.is_ident("pc") {
            let target = self.target()?;
            self.emit_branch(Instruction::Call(CallKind::Local(0)), target, FixKind::Call)?;
            return self.end();
        }
        if self.tok.tok == Tok::Ident && self.peek().tok == Tok::Punct(P::Hash) {
            let name = self.text(self.tok);
            self.bump();
            self.bump();
            let id_at = self.tok.start;
            let id = self.expr()?;
            let id = self.imm32(id, id_at)?;
            if name == "kfunc" {
                let mut off = 0;
                if self.is(P::LBrack) {
                    self.bump();
                    let oat = self.tok.start;
                    let v = self.expr()?;
                    off = self.off16(v, oat)?;
                    self.expect(P::RBrack, "`]` after the kfunc's BTF object index")?;
                }
                self.emit(Instruction::Call(CallKind::Kfunc { btf_id: id, off }));
                return self.end();
            }
            if let Some(known) = helper_id(name) {
                if known as i64 != id as i64 {
                    return Err(self.err(at, format!("helper `{name}` has id {known}, not {id}")));
                }
            }
            self.emit(Instruction::Call(CallKind::Helper(id)));
            return self.end();
        }
        // `call NAME`: a helper, else a label (a local function). Constants
        // and `htons(...)` fall through to the numeric form below.
        let name = self.text(self.tok);
        if self.tok.tok == Tok::Ident
            && self.constant(name).is_none()
            && !crate::text::expr::is_function(name)
        {
            self.bump();
            match helper_id(name) {
                Some(id) => self.emit(Instruction::Call(CallKind::Helper(id as i32))),
                None => {
                    let slot = self.asm.insns.len();
                    self.fixup(slot, name, FixKind::Call, at);
                    self.emit(Instruction::Call(CallKind::Local(0)));
                }
            }
            return self.end();
        }
        if matches!(
            self.tok.tok,
            Tok::Num | Tok::Ident | Tok::Punct(P::Minus | P::Plus | P::LParen | P::Tilde)
        ) {
            let id = self.expr()?;
            let id = self.imm32(id, at)?;
            self.emit(Instruction::Call(CallKind::Helper(id)));
            return self.end();
        }
        Err(self
            .unexpected("a helper (`bpf_redirect`, `bpf_redirect#23`, `23`), `pc+N` or a label"))
    }

    fn jump(&mut self) -> PResult<()> {
        let dst = self.reg("a register after `if`")?;
        let signed = self.is_ident("s");
        if signed {
            self.bump();
        }
        let op_at = self.tok.start;
        let cond = match (self.tok.tok, signed) {
            (Tok::Punct(P::EqEq), false) => JmpCond::Eq,
            (Tok::Punct(P::Ne), false) => JmpCond::Ne,
            (Tok::Punct(P::Amp), false) => JmpCond::Set,
            (Tok::Punct(P::Gt), false) => JmpCond::Gt,
            (Tok::Punct(P::Ge), false) => JmpCond::Ge,
            (Tok::Punct(P::Lt), false) => JmpCond::Lt,
            (Tok::Punct(P::Le), false) => JmpCond::Le,
            (Tok::Punct(P::Gt), true) => JmpCond::SGt,
            (Tok::Punct(P::Ge), true) => JmpCond::SGe,
            (Tok::Punct(P::Lt), true) => JmpCond::SLt,
            (Tok::Punct(P::Le), true) => JmpCond::SLe,
            _ => {
                return Err(self.err(
                    op_at,
                    format!(
                    "expected a comparison (==, !=, >, >=, <, <=, &, s>, s>=, s<, s<=), found {}",
                    self.describe(self.tok)
                ),
                ))
            }
        };
        self.bump();
        let src = match self.try_reg()? {
            Some(r) => {
                self.same_width(dst, r)?;
                Source::Reg(r.reg)
            }
            None => {
                let at = self.tok.start;
                let v = self.expr()?;
                Source::Imm(self.imm32(v, at)?)
            }
        };
        self.expect_ident("goto")?;
        let target = self.target()?;
        let ins = Instruction::Jump {
            width: dst.width,
            cond,
            dst: dst.reg,
            src,
            off: 0,
        };
        self.emit_branch(ins, target, FixKind::Off)?;
        self.end()
    }

    /// `*(u32 *)(r1 +8) = r2` or `= 7`.
    fn store(&mut self) -> PResult<()> {
        self.bump();
        let a = self.access()?;
        self.unsigned_access(a)?;
        let m = self.mem()?;
        self.expect(P::Assign, "`=` in a store")?;
        match self.try_reg()? {
            Some(src) => {
                if src.width == Width::W32 && a.size == Size::DW {
                    return Err(self.err(
                        src.at,
                        format!(
                            "a 64-bit store needs `r{}`, not `w{}`",
                            src.reg.num(),
                            src.reg.num()
                        ),
                    ));
                }
                self.emit(Instruction::StoreX {
                    size: a.size,
                    dst: m.base,
                    src: src.reg,
                    off: m.off,
                });
            }
            None => {
                let at = self.tok.start;
                let v = self.expr()?;
                let imm = self.imm32(v, at)?;
                self.emit(Instruction::Store {
                    size: a.size,
                    dst: m.base,
                    off: m.off,
                    imm,
                });
            }
        }
        self.end()
    }

    /// LLVM's `ld_pseudo r1, SRC, IMM`: lddw with pseudo source SRC.
    fn ld_pseudo(&mut self) -> PResult<()> {
        let dst = self.reg("the destination register")?;
        self.not_r10(dst)?;
        self.need64(dst, "lddw")?;
        self.expect(P::Comma, "`,` after the register")?;
        let at = self.tok.start;
        let src = self.expr()?;
        let pseudo = u8::try_from(src)
            .ok()
            .and_then(LdPseudo::from_src)
            .ok_or_else(|| {
                self.err(
                    at,
                    format!(
                        "pseudo source {src} unknown; expected 0..6 (BPF_PSEUDO_MAP_FD = 1 ...)"
                    ),
                )
            })?;
        self.expect(P::Comma, "`,` after the pseudo source")?;
        let at = self.tok.start;
        let v = self.expr()?;
        let imm = self.imm32(v, at)?;
        self.emit(Instruction::LdImm64 {
            dst: dst.reg,
            pseudo,
            imm: imm as u32 as i64,
        });
        self.end()
    }

    /// `lock *(u64 *)(r1 +8) += r2`.
    fn lock(&mut self) -> PResult<()> {
        self.expect(P::Star, "`*` after `lock`")?;
        let a = self.access()?;
        let size = self.atomic_size(a)?;
        let m = self.mem()?;
        let op = match self.tok.tok {
            Tok::Punct(P::AddAssign) => AtomicOp::Add,
            Tok::Punct(P::OrAssign) => AtomicOp::Or,
            Tok::Punct(P::AndAssign) => AtomicOp::And,
            Tok::Punct(P::XorAssign) => AtomicOp::Xor,
            _ => return Err(self.unexpected("an atomic operator: +=, |=, &= or ^=")),
        };
        self.bump();
        let src = self.reg("a source register")?;
        self.atomic_reg_width(size, src, None)?;
        self.emit(Instruction::Atomic {
            size,
            op,
            dst: m.base,
            src: src.reg,
            off: m.off,
        });
        self.end()
    }

    fn atomic_size(&self, a: Access) -> PResult<Size> {
        if a.signed || !matches!(a.size, Size::W | Size::DW) {
            return Err(self.err(
                a.at,
                "bad access size for an atomic operation; expected u32 or u64",
            ));
        }
        Ok(a.size)
    }

    /// 64-bit atomics need r registers; 32-bit ones take w (LLVM) or r (kernel).
    fn atomic_reg_width(&self, size: Size, r: RegOp, other: Option<RegOp>) -> PResult<()> {
        if let Some(o) = other {
            self.same_width(o, r)?;
        }
        if size == Size::DW && r.width == Width::W32 {
            return Err(self.err(
                r.at,
                format!(
                    "a 64-bit atomic needs `r{}`, not `w{}`",
                    r.reg.num(),
                    r.reg.num()
                ),
            ));
        }
        Ok(())
    }

    /// Everything that starts with a register.
    fn reg_statement(&mut self, dst: RegOp, hint: Option<(u8, usize)>) -> PResult<()> {
        let signed = self.is_ident("s");
        if signed {
            self.bump();
        }
        let op_at = self.tok.start;
        let op = match (self.tok.tok, signed) {
            (Tok::Punct(P::Assign), false) => None,
            (Tok::Punct(P::AddAssign), false) => Some(AluOp::Add),
            (Tok::Punct(P::SubAssign), false) => Some(AluOp::Sub),
            (Tok::Punct(P::MulAssign), false) => Some(AluOp::Mul),
            (Tok::Punct(P::DivAssign), false) => Some(AluOp::Div),
            (Tok::Punct(P::ModAssign), false) => Some(AluOp::Mod),
            (Tok::Punct(P::OrAssign), false) => Some(AluOp::Or),
            (Tok::Punct(P::AndAssign), false) => Some(AluOp::And),
            (Tok::Punct(P::XorAssign), false) => Some(AluOp::Xor),
            (Tok::Punct(P::ShlAssign), false) => Some(AluOp::Lsh),
            (Tok::Punct(P::ShrAssign), false) => Some(AluOp::Rsh),
            (Tok::Punct(P::DivAssign), true) => Some(AluOp::SDiv),
            (Tok::Punct(P::ModAssign), true) => Some(AluOp::SMod),
            (Tok::Punct(P::ShrAssign), true) => Some(AluOp::Arsh),
            _ => {
                return Err(self.err(
                    op_at,
                    format!(
                        "expected an assignment (=, +=, -=, *=, /=, %=, |=, &=, ^=, <<=, >>=, s>>=, s/=, s%=) after the register, found {}",
                        self.describe(self.tok)
                    ),
                ))
            }
        };
        self.bump();
        self.not_r10(dst)?;
        if let Some(op) = op {
            let src = match self.try_reg()? {
                Some(r) => {
                    self.same_width(dst, r)?;
                    Source::Reg(r.reg)
                }
                None => {
                    let at = self.tok.start;
                    let v = self.expr()?;
                    Source::Imm(self.imm32(v, at)?)
                }
            };
            self.emit(Instruction::Alu {
                width: dst.width,
                op,
                dst: dst.reg,
                src,
            });
            return self.end();
        }
        self.assignment(dst, hint)?;
        self.end()
    }

    /// The right-hand side of `dst = ...`.
    fn assignment(&mut self, dst: RegOp, hint: Option<(u8, usize)>) -> PResult<()> {
        let t = self.tok;
        // dst = src
        if let Some(src) = self.try_reg()? {
            self.same_width(dst, src)?;
            self.emit(Instruction::Alu {
                width: dst.width,
                op: AluOp::Mov,
                dst: dst.reg,
                src: Source::Reg(src.reg),
            });
            return Ok(());
        }
        match t.tok {
            // dst = -dst  (negation) or a negative constant
            Tok::Punct(P::Minus) => {
                let mut probe = self.lx;
                let next = probe.next_token();
                if next.tok == Tok::Ident {
                    let s = self.text(next);
                    if s.len() >= 2
                        && s.starts_with(['r', 'w'])
                        && s[1..].bytes().all(|b| b.is_ascii_digit())
                    {
                        self.bump();
                        let r = self.reg("a register")?;
                        self.in_place(dst, r, "negation works", "-")?;
                        self.emit(Instruction::Neg {
                            width: dst.width,
                            dst: dst.reg,
                        });
                        return Ok(());
                    }
                }
            }
            // dst = *(u32 *)(r1 +8) / *(u8 *)skb[...]
            Tok::Punct(P::Star) => {
                self.bump();
                return self.load(dst);
            }
            // dst = (s8)src, or a parenthesised expression
            Tok::Punct(P::LParen) => {
                let mut probe = self.lx;
                let ty = probe.next_token();
                let close = probe.next_token();
                let bits = match self.text(ty) {
                    "s8" => Some(8u8),
                    "s16" => Some(16),
                    "s32" => Some(32),
                    _ => None,
                };
                if let (Some(bits), Tok::Punct(P::RParen)) = (bits, close.tok) {
                    self.bump();
                    self.bump();
                    self.bump();
                    let src = self.reg("a source register after the cast")?;
                    self.same_width(dst, src)?;
                    if dst.width == Width::W32 && bits == 32 {
                        return Err(self.err(ty.start, "`(s32)` on a 32-bit register is a plain move; movsx takes s8 or s16 here"));
                    }
                    self.emit(Instruction::MovSx {
                        width: dst.width,
                        dst: dst.reg,
                        src: src.reg,
                        bits,
                    });
                    return Ok(());
                }
            }
            Tok::Ident => {
                let word = self.text(t);
                // `bswap16 r1` is the instruction, `bswap16(x)` a constant function.
                let call = self.peek().tok == Tok::Punct(P::LParen);
                if let Some((order, bits)) = endian_word(word).filter(|_| !call) {
                    self.bump();
                    let r = self.reg("the register to swap")?;
                    self.in_place(dst, r, "byte swaps work", &format!("{word} "))?;
                    self.emit(Instruction::Endian {
                        order,
                        dst: dst.reg,
                        bits,
                    });
                    return Ok(());
                }
                if let Some(spec) = atomic_word(word) {
                    self.bump();
                    return self.atomic_call(dst, word, spec);
                }
                if let Some(p) = pseudo_word(word) {
                    if self.peek().tok == Tok::Punct(P::LBrack) {
                        self.bump();
                        return self.pseudo_lddw(dst, p);
                    }
                }
                // dst = map_name ll  /  dst = map_name + 8 ll: a relocation.
                if self.constant(word).is_none() && !crate::text::expr::is_function(word) {
                    return self.reloc_lddw(dst);
                }
            }
            _ => {}
        }
        // dst = constant [ll]
        let at = self.tok.start;
        let v = self.expr()?;
        let force_lddw =
            hint.is_some_and(|(c, _)| c == crate::opcode::BPF_LD | crate::opcode::BPF_DW);
        if self.is_ident("ll") || force_lddw {
            if self.is_ident("ll") {
                self.bump();
            }
            self.need64(dst, "a 64-bit constant (lddw)")?;
            self.emit(Instruction::LdImm64 {
                dst: dst.reg,
                pseudo: LdPseudo::Imm64,
                imm: v,
            });
            return Ok(());
        }
        let imm = match dst.width {
            Width::W32 => self.imm32(v, at)?,
            // llvm-mc takes 0x80000000..=0xffffffff as the 32-bit pattern
            // and the kernel sign-extends it: `r1 = 0xffffffff` sets r1 to
            // -1. Encode it the same way, with a warning.
            Width::W64 if v > i32::MAX as i64 && v <= u32::MAX as i64 => {
                let w = self.err(
                    at,
                    format!(
                        "{v:#x} is sign-extended by a 64-bit move: {} becomes {:#x}; write `{} = {v:#x} ll` for {v:#x} (encoded as llvm-mc does)",
                        reg_name(dst.width, dst.reg),
                        v as u32 as i32 as i64 as u64,
                        reg_name(dst.width, dst.reg)
                    ),
                );
                self.asm.warnings.push(w);
                v as u32 as i32
            }
            Width::W64 => i32::try_from(v).map_err(|_| {
                self.err(
                    at,
                    format!(
                        "immediate {v} does not fit the sign-extended 32-bit field of a 64-bit move; write `{} = {v} ll` for a 64-bit constant (lddw)",
                        reg_name(dst.width, dst.reg)
                    ),
                )
            })?,
        };
        self.emit(Instruction::Alu {
            width: dst.width,
            op: AluOp::Mov,
            dst: dst.reg,
            src: Source::Imm(imm),
        });
        Ok(())
    }

    fn need64(&self, dst: RegOp, what: &str) -> PResult<()> {
        if dst.width == Width::W32 {
            return Err(self.err(
                dst.at,
                format!("{what} needs a 64-bit register: write `r{}`", dst.reg.num()),
            ));
        }
        Ok(())
    }

    /// `dst = NAME ll` (map fd) or `dst = NAME + off ll` (map value).
    fn reloc_lddw(&mut self, dst: RegOp) -> PResult<()> {
        let name_tok = self.tok;
        let name = self.text(name_tok);
        self.bump();
        let kind = if self.is(P::Plus) || self.is(P::Minus) {
            let at = self.tok.start;
            let v = self.expr()?;
            RelocKind::MapValue {
                offset: self.imm32(v, at)?,
            }
        } else {
            RelocKind::MapFd
        };
        if !self.is_ident("ll") {
            return Err(self.err(
                name_tok.start,
                format!(
                    "unknown name `{name}`; expected a number, a constant defined by .equ or -D, or a map name followed by `ll` (`r1 = {name} ll`)"
                ),
            ));
        }
        self.bump();
        self.need64(dst, "a map reference (lddw)")?;
        self.asm.relocs.push(Relocation {
            slot: self.asm.insns.len(),
            symbol: name.to_string(),
            kind,
        });
        self.emit(Instruction::LdImm64 {
            dst: dst.reg,
            pseudo: LdPseudo::Imm64,
            imm: kind.implicit_addend(),
        });
        Ok(())
    }

    /// `map[fd:5]`, `map_value[idx:1]+8`, `btf_id[7]`, `func[3]`, optional `ll`.
    fn pseudo_lddw(&mut self, dst: RegOp, p: PseudoWord) -> PResult<()> {
        self.need64(dst, "a pseudo 64-bit load (lddw)")?;
        self.expect(P::LBrack, "`[`")?;
        let pseudo = match p {
            PseudoWord::Map | PseudoWord::MapValue => {
                let key = self.text(self.tok);
                let fd = match key {
                    "fd" => true,
                    "idx" => false,
                    _ => return Err(self.unexpected("`fd:` or `idx:`")),
                };
                self.bump();
                self.expect(P::Colon, "`:` after fd/idx")?;
                match (p, fd) {
                    (PseudoWord::Map, true) => LdPseudo::MapFd,
                    (PseudoWord::Map, false) => LdPseudo::MapIdx,
                    (_, true) => LdPseudo::MapValue,
                    (_, false) => LdPseudo::MapIdxValue,
                }
            }
            PseudoWord::BtfId => LdPseudo::BtfId,
            PseudoWord::Func => LdPseudo::Func,
        };
        let at = self.tok.start;
        let lo = self.expr()?;
        let lo = self.imm32(lo, at)?;
        self.expect(P::RBrack, "`]`")?;
        let mut hi = 0i32;
        if self.is(P::Plus) || self.is(P::Minus) {
            let at = self.tok.start;
            let v = self.expr()?;
            hi = self.imm32(v, at)?;
        }
        if self.is_ident("ll") {
            self.bump();
        }
        self.emit(Instruction::LdImm64 {
            dst: dst.reg,
            pseudo,
            imm: ((hi as i64) << 32) | (lo as u32 as i64),
        });
        Ok(())
    }

    /// After `dst = *`: a memory load or a legacy packet load.
    fn load(&mut self, dst: RegOp) -> PResult<()> {
        let a = self.access()?;
        if self.is_ident("skb") {
            self.bump();
            return self.packet_load(dst, a);
        }
        let m = self.mem()?;
        if dst.width == Width::W32 && a.size == Size::DW {
            return Err(self.err(
                dst.at,
                format!(
                    "a 64-bit load needs `r{}`, not `w{}`",
                    dst.reg.num(),
                    dst.reg.num()
                ),
            ));
        }
        let ins = if a.signed {
            Instruction::LoadSx {
                size: a.size,
                dst: dst.reg,
                src: m.base,
                off: m.off,
            }
        } else {
            Instruction::Load {
                size: a.size,
                dst: dst.reg,
                src: m.base,
                off: m.off,
            }
        };
        self.emit(ins);
        Ok(())
    }

    /// `r0 = *(u16 *)skb[12]` / `skb[r1 + 4]` / `skb[r1]`.
    fn packet_load(&mut self, dst: RegOp, a: Access) -> PResult<()> {
        self.unsigned_access(a)?;
        if a.size == Size::DW {
            return Err(self.err(
                a.at,
                "bad access size for a packet load; expected u8, u16 or u32",
            ));
        }
        if dst.reg != Reg::R0 {
            return Err(self.err(dst.at, "legacy packet loads always write r0"));
        }
        self.expect(P::LBrack, "`[` after `skb`")?;
        let ins = match self.try_reg()? {
            Some(src) => {
                if src.width == Width::W32 {
                    return Err(
                        self.err(src.at, "the packet offset register must be an r register")
                    );
                }
                let mut imm = 0;
                if self.is(P::Plus) || self.is(P::Minus) {
                    let at = self.tok.start;
                    let v = self.expr()?;
                    imm = self.imm32(v, at)?;
                }
                Instruction::LdInd {
                    size: a.size,
                    src: src.reg,
                    imm,
                }
            }
            None => {
                let at = self.tok.start;
                let v = self.expr()?;
                Instruction::LdAbs {
                    size: a.size,
                    imm: self.imm32(v, at)?,
                }
            }
        };
        self.expect(P::RBrack, "`]` to close the packet offset")?;
        self.emit(ins);
        Ok(())
    }

    /// `dst = atomic64_fetch_add((u64 *)(r1 +8), dst)`, `xchg_64(r1 + 8, dst)`,
    /// `r0 = cmpxchg_64(r1 + 8, r0, src)` and friends.
    fn atomic_call(&mut self, dst: RegOp, word: &str, spec: AtomicWord) -> PResult<()> {
        self.expect(P::LParen, "`(` after the atomic operation")?;
        let (size, base, off) = if let Some(size) = spec.size_from_name {
            let base = self.base_reg()?;
            let off = self.mem_off()?;
            (size, base, off)
        } else {
            let a = self.access()?;
            let size = self.atomic_size(a)?;
            if spec.must_be_64 && size != Size::DW {
                return Err(self.err(
                    a.at,
                    format!("`{word}` works on u64; use the atomic_ form for u32"),
                ));
            }
            if spec.must_be_32 && size != Size::W {
                return Err(self.err(a.at, format!("`{word}` works on u32")));
            }
            let m = self.mem()?;
            (size, m.base, m.off)
        };
        self.expect(P::Comma, "`,` between the operands")?;
        let op = spec.op;
        if op == AtomicOp::CmpXchg {
            let r0 = self.reg("`r0`, the value to compare")?;
            if r0.reg != Reg::R0 || dst.reg != Reg::R0 {
                let at = if r0.reg != Reg::R0 { r0.at } else { dst.at };
                return Err(self.err(
                    at,
                    "cmpxchg compares with r0 and writes r0: write `r0 = ...cmpxchg(..., r0, rN)`",
                ));
            }
            self.same_width(dst, r0)?;
            self.expect(P::Comma, "`,` before the new value")?;
        }
        let src = self.reg("the source register")?;
        self.atomic_reg_width(size, src, Some(dst))?;
        if op != AtomicOp::CmpXchg && src.reg != dst.reg {
            return Err(self.err(
                src.at,
                format!(
                    "`{word}` returns the old value in its source register: write `{0} = {word}(..., {0})`",
                    reg_name(dst.width, dst.reg)
                ),
            ));
        }
        self.expect(P::RParen, "`)` to close the atomic operation")?;
        self.emit(Instruction::Atomic {
            size,
            op,
            dst: base,
            src: src.reg,
            off,
        });
        Ok(())
    }

    // ---- directives ----

    fn directive(&mut self) -> PResult<()> {
        let t = self.tok;
        let word = self.text(t);
        self.bump();
        match word {
            ".ifdef" | ".ifndef" => {
                let name = self.ident("a constant name")?;
                self.asm.mention(name);
                let defined = self.asm.consts.contains_key(name);
                let active = self.asm.active();
                let (line_start, line_end) = self.line_range();
                self.asm.conds.push(Cond {
                    outer_active: active,
                    taken: defined == (word == ".ifdef"),
                    seen_else: false,
                    line: self.lineno,
                    line_start,
                    line_end,
                });
                self.end()
            }
            ".else" => {
                let Some(c) = self.asm.conds.last_mut() else {
                    return Err(self.err(t.start, ".else without .ifdef or .ifndef"));
                };
                if c.seen_else {
                    return Err(self.err(t.start, "second .else in the same .ifdef block"));
                }
                c.seen_else = true;
                c.taken = !c.taken;
                self.end()
            }
            ".endif" => {
                if self.asm.conds.pop().is_none() {
                    return Err(self.err(t.start, ".endif without .ifdef or .ifndef"));
                }
                self.end()
            }
            _ if !self.asm.active() => Ok(()),
            ".equ" | ".set" => {
                let name = self.ident("a constant name")?;
                self.expect(P::Comma, "`,` between the name and the value")?;
                let v = self.expr()?;
                self.end()?;
                self.asm.mention(name);
                match self.asm.consts.get(name) {
                    Some((_, true)) => {} // -D wins over the file
                    _ => {
                        self.asm.consts.insert(name.to_string(), (v, false));
                    }
                }
                Ok(())
            }
            ".section" => {
                let s = self.word_or_string("a section name, like `.section tc`")?;
                if self.asm.section.as_deref().is_some_and(|old| old != s) && !self.asm.insns.is_empty() {
                    return Err(self.err(t.start, "only one section per file: this one program's section is already set"));
                }
                self.asm.section = Some(s);
                Ok(())
            }
            ".license" => {
                let s = self.word_or_string("a license string, like `.license \"GPL\"`")?;
                self.asm.license = Some(s);
                Ok(())
            }
            ".8byte" | ".quad" => {
                // Raw instruction slots, as llvm-objdump prints what it
                // cannot decode and the selftests write unusual encodings:
                // each value is one slot, little-endian (llvm-mc's bytes).
                loop {
                    let v = self.expr()?;
                    let (start, end) = self.line_range();
                    self.asm
                        .insns
                        .push(crate::insn::Insn::from_bytes((v as u64).to_le_bytes()));
                    self.asm.lines.push((self.lineno, start as u32, end as u32));
                    if self.is(P::Comma) {
                        self.bump();
                    } else {
                        return self.end();
                    }
                }
            }
            ".name" => {
                let s = self.ident("a program name, like `.name redirect`")?.to_string();
                self.asm.name = Some(s);
                self.end()
            }
            _ => Err(self.err(
                t.start,
                format!("unknown directive `{word}`; expected .section, .license, .name, .8byte, .equ, .set, .ifdef, .ifndef, .else or .endif"),
            )),
        }
    }

    fn ident(&mut self, expected: &str) -> PResult<&'a str> {
        if self.tok.tok != Tok::Ident {
            return Err(self.unexpected(expected));
        }
        let s = self.text(self.tok);
        self.bump();
        Ok(s)
    }

    /// A quoted string, or the raw text up to whitespace or a comment.
    fn word_or_string(&mut self, expected: &str) -> PResult<String> {
        let t = self.tok;
        let s = match t.tok {
            Tok::Str => {
                let inner = &self.text[t.start + 1..t.end - 1];
                self.bump();
                inner.replace("\\\"", "\"")
            }
            Tok::Eol | Tok::Bad => return Err(self.unexpected(expected)),
            _ => {
                let rest = &self.text[t.start..];
                let len = rest
                    .find(|c: char| c.is_whitespace() || c == ';' || c == ',')
                    .unwrap_or(rest.len());
                self.lx.pos = t.start + len;
                self.bump();
                rest[..len].to_string()
            }
        };
        if s.is_empty() {
            return Err(self.err(
                t.start,
                format!("expected {expected}, found an empty string"),
            ));
        }
        // Ignore gas-style flags after a comma: `.section tc,"ax",@progbits`.
        while self.tok.tok != Tok::Eol && self.is(P::Comma) {
            self.lx.pos = self.text.len();
            self.bump();
        }
        self.end()?;
        Ok(s)
    }
}

fn endian_word(w: &str) -> Option<(ByteOrder, u8)> {
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
enum PseudoWord {
    Map,
    MapValue,
    BtfId,
    Func,
}

fn pseudo_word(w: &str) -> Option<PseudoWord> {
    Some(match w {
        "map" => PseudoWord::Map,
        "map_value" => PseudoWord::MapValue,
        "btf_id" => PseudoWord::BtfId,
        "func" => PseudoWord::Func,
        _ => return None,
    })
}

#[derive(Debug, Clone, Copy)]
struct AtomicWord {
    op: AtomicOp,
    /// LLVM's `xchg_64(r1 + 0, r2)` names the size instead of a cast.
    size_from_name: Option<Size>,
    must_be_64: bool,
    must_be_32: bool,
}

fn atomic_word(w: &str) -> Option<AtomicWord> {
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
