//! Statements: labels, instructions in both syntaxes, and how they are
//! emitted into the current section (jumps to labels through the shared
//! fixup engine, references to symbols as pending relocations).
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
//! if r1 > r2 goto pc+3    | goto +3        if w1 s< 5 goto label   goto 1b
//! goto pc-1   gotol pc+100000   may_goto pc+2
//! call bpf_redirect#23    call bpf_redirect    call 23    call pc+5   callx r1
//! call kfunc#1234         call NAME (a function here or elsewhere)   exit
//! r0 = *(u8 *)skb[12]     r0 = *(u16 *)skb[r1 + 4]
//! r1 = map[fd:5] ll       r1 = map_value[idx:0]+16 ll    r1 = SYMBOL ll (relocation)
//! r1 = addr_space_cast(r2, 0, 1)
//! 12: (b7) r0 = 0         (a pasted verifier line)     1:  (a numeric label)
//! ```
//!
//! `N:` is a numeric local label unless a pasted opcode `(b7)` or raw
//! bytes `b7 00 ...` follow it, as in verifier logs and objdump listings;
//! those lines define no label.

use super::lexer::{Tok, P};
use super::lines::{Line, PResult};
use super::operands::*;
use super::sections::{numeric_name, Loc, PendingRef, RefKind, SymExpr};
use crate::encode::encode;
use crate::helpers::helper_id;
use crate::insn::*;
use crate::object::fixup::Field;
use crate::object::SectionKind;
use crate::program::DEFAULT_SECTION;

impl<'a> Line<'a, '_> {
    // ---- emission ----

    /// This line's byte range in the source, without a trailing `\r`.
    pub(super) fn line_range(&self) -> (usize, usize) {
        (
            self.start,
            self.start + self.text.trim_end_matches('\r').len(),
        )
    }

    /// Where this statement is, for errors reported after the last line.
    pub(super) fn loc(&self, col: usize) -> Loc {
        let (start, end) = self.line_range();
        Loc {
            line: self.lineno,
            start,
            end,
            col,
        }
    }

    /// The current section, ready for an instruction: made (as the
    /// kernel syntax's default `tc`) if none was named, turned into a
    /// program section if the text gave it no flags, refused if it holds
    /// data.
    pub(super) fn code_section(&mut self, at: usize) -> PResult<usize> {
        let b = &mut self.asm.build;
        let c = match b.cur {
            Some(c) => c,
            None => {
                let c = b.section_named(DEFAULT_SECTION);
                b.implicit = Some(c);
                b.cur = Some(c);
                c
            }
        };
        let s = &mut b.secs[c];
        if s.sec.is_nobits() {
            let name = s.sec.name.clone();
            return Err(self.err(
                at,
                format!("an instruction in `{name}`, a @nobits section, which has no bytes in the file to hold it; use `@progbits`"),
            ));
        }
        if s.sec.kind != SectionKind::Program {
            let data_like = !matches!(s.sec.kind, SectionKind::Other);
            if s.flags_given || data_like || s.sec.size > 0 {
                let name = s.sec.name.clone();
                return Err(self.err(
                    at,
                    format!("an instruction in section `{name}`, which is not executable; name a program section (`.section xdp,\"ax\",@progbits`) or `.text` first"),
                ));
            }
            let (ty, flags) = SectionKind::Program.default_elf();
            s.sec.kind = SectionKind::Program;
            s.sec.sh_type = ty;
            s.sec.sh_flags = flags;
            s.sec.align = s.sec.align.max(8);
        }
        if s.sec.size % 8 != 0 {
            let (name, size) = (s.sec.name.clone(), s.sec.size);
            return Err(self.err(
                at,
                format!("an instruction at offset {size} of `{name}`, which is not a multiple of 8 (data before it?)"),
            ));
        }
        Ok(c)
    }

    /// The slot the next instruction of the current section takes.
    pub(super) fn next_slot(&self) -> usize {
        (self.asm.build.here().1 / 8) as usize
    }

    /// Appends bytes to the current section, attributed to this line.
    pub(super) fn push_bytes(&mut self, bytes: &[u8]) {
        let (start, end) = self.line_range();
        self.asm
            .build
            .push(bytes, (self.lineno, start as u32, end as u32));
    }

    pub(super) fn emit(&mut self, ins: Instruction) {
        for slot in encode(&ins).as_slice() {
            self.push_bytes(&slot.to_bytes());
        }
    }

    /// The hidden name of numeric label `n` looked up backward or forward.
    pub(super) fn numeric_label(&self, n: u64, back: bool, at: usize) -> PResult<String> {
        let count = self.asm.build.numeric.get(&n).copied().unwrap_or(0);
        if back {
            if count == 0 {
                return Err(self.err(at, format!("`{n}b`: no `{n}:` before this line")));
            }
            Ok(numeric_name(n, count - 1))
        } else {
            Ok(numeric_name(n, count))
        }
    }

    /// Emit a jump-like instruction whose offset comes from `t`.
    pub(super) fn emit_branch(
        &mut self,
        ins: Instruction,
        t: Target<'a>,
        field: Field,
    ) -> PResult<()> {
        let at = match t {
            Target::Offset(_, at) | Target::Label(_, at) | Target::Numeric(_, _, at) => at,
        };
        self.code_section(at)?;
        let slot = self.next_slot();
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
            Target::Label(name, at) => {
                let loc = self.loc(at);
                self.asm.build.jump_fixup(slot, name, field, loc);
            }
            Target::Numeric(n, back, at) => {
                let name = self.numeric_label(n, back, at)?;
                let loc = self.loc(at);
                self.asm.build.jump_fixup(slot, &name, field, loc);
            }
        }
        self.emit(ins);
        Ok(())
    }

    /// Records a reference from the instruction or data about to be
    /// written at the current place to `expr`.
    pub(super) fn reference(&mut self, kind: RefKind, expr: SymExpr, at: usize) {
        let (section, offset) = self.asm.build.here();
        if let Some((name, _)) = &expr.add {
            self.asm.build.sym(name).needed = true;
        }
        let loc = self.loc(at);
        self.asm.build.refs.push(PendingRef {
            section,
            offset,
            kind,
            expr,
            loc,
        });
    }

    // ---- statements ----

    pub(super) fn statement(&mut self) -> PResult<()> {
        let mut opcode_hint: Option<(u8, usize)> = None;
        // A pasted verifier line `12: (b7) r0 = 0` or objdump line `12: b7 00 ...`.
        if self.tok.tok == Tok::Num && self.peek().tok == Tok::Punct(P::Colon) {
            let number = self.tok.num;
            let mut hex_bytes = false;
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
                    hex_bytes = true;
                    self.bump();
                } else {
                    break;
                }
            }
            if opcode_hint.is_none() && !hex_bytes {
                // `1:` not followed by a pasted opcode or bytes: a numeric
                // local label, as in LLVM (`goto 1b`, `goto 1f`).
                if self.asm.active() {
                    let name = {
                        let c = self.asm.build.numeric.entry(number).or_insert(0);
                        *c += 1;
                        numeric_name(number, *c - 1)
                    };
                    let _ = self.asm.build.define(&name, self.lineno);
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
            if let Err(first) = self.asm.build.define(name, self.lineno) {
                return Err(self.err(
                    at,
                    format!("duplicate label `{name}` (first defined at line {first})"),
                ));
            }
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
        self.code_section(self.tok.start)?;
        let (sec, first) = self.asm.build.here();
        self.instruction(opcode_hint)?;
        if let Some((code, at)) = opcode_hint {
            let got = self
                .asm
                .build
                .secs
                .get(sec)
                .and_then(|s| s.sec.data.get(first as usize).copied());
            if let Some(got) = got {
                if got != code {
                    return Err(self.err(
                        at,
                        format!(
                            "the pasted opcode ({code:02x}) does not match this instruction, which encodes as ({got:02x})"
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    pub(super) fn instruction(&mut self, hint: Option<(u8, usize)>) -> PResult<()> {
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
                self.emit_branch(Instruction::Ja { off: 0 }, target, Field::Off16)?;
                self.end()
            }
            "gotol" => {
                let target = self.target()?;
                self.emit_branch(Instruction::JaLong { imm: 0 }, target, Field::Imm32)?;
                self.end()
            }
            "may_goto" => {
                let target = self.target()?;
                self.emit_branch(Instruction::MayGoto { off: 0 }, target, Field::Off16)?;
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

    pub(super) fn call(&mut self) -> PResult<()> {
        let at = self.tok.start;
        if self.is_ident("pc") {
            let target = self.target()?;
            self.emit_branch(Instruction::Call(CallKind::Local(0)), target, Field::Imm32)?;
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
                    self.code_section(at)?;
                    self.reference(
                        RefKind::Call,
                        SymExpr {
                            add: Some((name.to_string(), at)),
                            ..SymExpr::default()
                        },
                        at,
                    );
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

    pub(super) fn jump(&mut self) -> PResult<()> {
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
        self.emit_branch(ins, target, Field::Off16)?;
        self.end()
    }

    /// `*(u32 *)(r1 +8) = r2` or `= 7`.
    pub(super) fn store(&mut self) -> PResult<()> {
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
    pub(super) fn ld_pseudo(&mut self) -> PResult<()> {
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
    pub(super) fn lock(&mut self) -> PResult<()> {
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

    pub(super) fn atomic_size(&self, a: Access) -> PResult<Size> {
        if a.signed || !matches!(a.size, Size::W | Size::DW) {
            return Err(self.err(
                a.at,
                "bad access size for an atomic operation; expected u32 or u64",
            ));
        }
        Ok(a.size)
    }

    /// 64-bit atomics need r registers; 32-bit ones take w (LLVM) or r (kernel).
    pub(super) fn atomic_reg_width(
        &self,
        size: Size,
        r: RegOp,
        other: Option<RegOp>,
    ) -> PResult<()> {
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
    pub(super) fn reg_statement(&mut self, dst: RegOp, hint: Option<(u8, usize)>) -> PResult<()> {
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
    pub(super) fn assignment(&mut self, dst: RegOp, hint: Option<(u8, usize)>) -> PResult<()> {
        let t = self.tok;
        // dst = src
        if let Some(src) = self.try_reg()? {
            // `r1 = w1` is how clang-19 prints the zero-extending 32-bit
            // move (MOV_32_64) that it encodes as `w1 = w1`; llvm-mc-19
            // refuses its own printer's text, we take it for what it is.
            let width = if dst.width == Width::W64 && src.width == Width::W32 {
                Width::W32
            } else {
                self.same_width(dst, src)?;
                dst.width
            };
            self.emit(Instruction::Alu {
                width,
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
                if word == "addr_space_cast" && self.peek().tok == Tok::Punct(P::LParen) {
                    self.bump();
                    return self.addr_space_cast(dst);
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

    pub(super) fn need64(&self, dst: RegOp, what: &str) -> PResult<()> {
        if dst.width == Width::W32 {
            return Err(self.err(
                dst.at,
                format!("{what} needs a 64-bit register: write `r{}`", dst.reg.num()),
            ));
        }
        Ok(())
    }

    /// `dst = NAME ll` (map fd) or `dst = NAME + off ll` (map value).
    pub(super) fn reloc_lddw(&mut self, dst: RegOp) -> PResult<()> {
        let name_tok = self.tok;
        let name = self.text(name_tok);
        self.bump();
        let explicit = self.is(P::Plus) || self.is(P::Minus);
        let addend = if explicit {
            let at = self.tok.start;
            let v = self.expr()?;
            self.imm32(v, at)?
        } else {
            0
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
        self.code_section(name_tok.start)?;
        if explicit {
            let here = self.asm.build.here();
            self.asm.build.value_refs.push(here);
        }
        self.reference(
            RefKind::Ld64,
            SymExpr {
                add: Some((name.to_string(), name_tok.start)),
                sub: None,
                constant: addend as i64,
            },
            name_tok.start,
        );
        self.emit(Instruction::LdImm64 {
            dst: dst.reg,
            pseudo: LdPseudo::Imm64,
            imm: addend as u32 as i64,
        });
        Ok(())
    }

    /// `rD = addr_space_cast(rS, DST_AS, SRC_AS)` (arena pointers): a
    /// 64-bit register move with `off = BPF_ADDR_SPACE_CAST` and
    /// `imm = DST_AS << 16 | SRC_AS`, as llvm-mc-19 encodes it.
    fn addr_space_cast(&mut self, dst: RegOp) -> PResult<()> {
        self.need64(dst, "addr_space_cast")?;
        self.expect(P::LParen, "`(` after addr_space_cast")?;
        let src = self.reg("the source register")?;
        if src.width != Width::W64 {
            return Err(self.err(
                src.at,
                format!("addr_space_cast needs `r{}`", src.reg.num()),
            ));
        }
        self.expect(P::Comma, "`,` and the destination address space")?;
        let dat = self.tok.start;
        let dst_as = self.expr()?;
        self.expect(P::Comma, "`,` and the source address space")?;
        let sat = self.tok.start;
        let src_as = self.expr()?;
        self.expect(P::RParen, "`)` to close addr_space_cast")?;
        let space = |v: i64, at: usize| {
            u16::try_from(v)
                .map_err(|_| self.err(at, format!("address space {v} out of range (0..65535)")))
        };
        let (d, s) = (space(dst_as, dat)?, space(src_as, sat)?);
        let slot = Insn::new(
            crate::opcode::BPF_ALU64 | crate::opcode::BPF_MOV | crate::opcode::BPF_X,
            dst.reg.num(),
            src.reg.num(),
            crate::disasm::BPF_ADDR_SPACE_CAST,
            ((d as u32) << 16 | s as u32) as i32,
        );
        self.push_bytes(&slot.to_bytes());
        Ok(())
    }

    /// `map[fd:5]`, `map_value[idx:1]+8`, `btf_id[7]`, `func[3]`, optional `ll`.
    pub(super) fn pseudo_lddw(&mut self, dst: RegOp, p: PseudoWord) -> PResult<()> {
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
    pub(super) fn load(&mut self, dst: RegOp) -> PResult<()> {
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
    pub(super) fn packet_load(&mut self, dst: RegOp, a: Access) -> PResult<()> {
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
    pub(super) fn atomic_call(&mut self, dst: RegOp, word: &str, spec: AtomicWord) -> PResult<()> {
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
}
