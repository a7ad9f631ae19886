//! Directives: conditional assembly and constants (`.ifdef`, `.equ`), the
//! kernel-syntax ones (`.license`, `.name`), and LLVM's file syntax:
//! sections (`.text`, `.section NAME,"flags",@progbits`), symbols
//! (`.globl`, `.weak`, `.local`, `.type`, `.size`), alignment (`.p2align`,
//! `.balign`), data (`.byte .short .long .quad .8byte .ascii .asciz .string
//! .zero .space .uleb128 .sleb128`, with symbols and label differences), the
//! bookkeeping llvm-mc turns into DWARF or `.llvm_addrsig` (`.file`, `.loc`,
//! `.cfi_*`, `.addrsig`, `.addrsig_sym`: accepted, not written), and `.map`
//! (see `maps`).

use super::lexer::{Tok, P};
use super::lines::{Cond, Line, PResult};
use super::sections::{default_section, RefKind, SymExpr};
use crate::object::{Binding, SectionKind, SymbolType, Visibility};
use object::elf::{
    SHF_ALLOC, SHF_EXECINSTR, SHF_MERGE, SHF_STRINGS, SHF_WRITE, SHT_NOBITS, SHT_PROGBITS,
};

impl<'a> Line<'a, '_> {
    // ---- directives ----

    pub(super) fn directive(&mut self) -> PResult<()> {
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
            ".text" => {
                self.end()?;
                self.switch_section(".text", None, t.start)
            }
            ".section" => self.section_directive(t.start),
            // gas's shorthands for `.section .data` and `.section .bss`.
            ".data" | ".bss" => {
                self.end()?;
                self.switch_section(word, None, t.start)
            }
            ".license" => {
                let s = self.word_or_string("a license string, like `.license \"GPL\"`")?;
                self.end()?;
                self.asm.license = Some(s);
                Ok(())
            }
            ".globl" | ".global" | ".weak" | ".local" => {
                let binding = match word {
                    ".weak" => Binding::Weak,
                    ".local" => Binding::Local,
                    _ => Binding::Global,
                };
                loop {
                    let name = self.ident("a symbol name")?;
                    self.asm.build.sym(name).binding = Some(binding);
                    if !self.is(P::Comma) {
                        return self.end();
                    }
                    self.bump();
                }
            }
            ".hidden" | ".internal" | ".protected" => {
                let v = match word {
                    ".hidden" => Visibility::Hidden,
                    ".internal" => Visibility::Internal,
                    _ => Visibility::Protected,
                };
                loop {
                    let name = self.ident("a symbol name")?;
                    self.asm.build.sym(name).visibility = Some(v);
                    if !self.is(P::Comma) {
                        return self.end();
                    }
                    self.bump();
                }
            }
            ".type" => {
                let name = self.ident("a symbol name, like `.type prog,@function`")?;
                self.expect(P::Comma, "`,` after the symbol name")?;
                let at = self.tok.start;
                let raw = self.rest_raw();
                let kind = match raw.trim_start_matches(['@', '%']).trim_matches('"') {
                    "function" | "STT_FUNC" => SymbolType::Func,
                    "object" | "STT_OBJECT" => SymbolType::Object,
                    "notype" | "STT_NOTYPE" => SymbolType::NoType,
                    other => {
                        return Err(self.err(
                            at,
                            format!("symbol type `{other}` unknown; expected @function, @object or @notype"),
                        ))
                    }
                };
                self.asm.build.sym(name).kind = Some(kind);
                Ok(())
            }
            ".size" => {
                let at = self.tok.start;
                let name = self.ident("a symbol name, like `.size prog, .Lend-prog`")?;
                self.expect(P::Comma, "`,` after the symbol name")?;
                let e = self.sym_expr()?;
                self.end()?;
                let loc = self.loc(at);
                self.asm.build.sizes.push((name.to_string(), e, loc));
                Ok(())
            }
            ".p2align" | ".balign" => {
                let at = self.tok.start;
                let v = self.expr()?;
                let align = if word == ".p2align" {
                    if !(0..=16).contains(&v) {
                        return Err(self.err(at, format!("`.p2align {v}`: expected 0..16")));
                    }
                    1u64 << v
                } else {
                    if v <= 0 || (v & (v - 1)) != 0 {
                        return Err(self.err(at, format!("`.balign {v}`: expected a power of two")));
                    }
                    v as u64
                };
                let mut fill = None;
                let mut max = None;
                if self.is(P::Comma) {
                    self.bump();
                    if !self.is(P::Comma) {
                        let fat = self.tok.start;
                        let f = self.expr()?;
                        fill = Some(self.data_value(f, 1, fat)?[0]);
                    }
                    if self.is(P::Comma) {
                        self.bump();
                        max = Some(self.expr()? as u64);
                    }
                }
                self.end()?;
                self.align(align, fill, max, t.start)
            }
            ".byte" => self.data(1),
            ".short" | ".2byte" | ".hword" => self.data(2),
            ".long" | ".4byte" | ".int" => self.data(4),
            // In a program section each value is one raw instruction slot,
            // as llvm-objdump prints what it cannot decode.
            ".quad" | ".8byte" => self.data(8),
            ".ascii" | ".asciz" | ".string" => {
                self.data_section(t.start)?;
                loop {
                    let st = self.tok;
                    if st.tok != Tok::Str {
                        return Err(self.unexpected("a string in double quotes"));
                    }
                    let mut bytes = unescape(&self.text[st.start + 1..st.end - 1])
                        .map_err(|(off, m)| self.err(st.start + 1 + off, m))?;
                    if word != ".ascii" {
                        bytes.push(0);
                    }
                    self.bump();
                    self.put(&bytes, st.start)?;
                    if !self.is(P::Comma) {
                        return self.end();
                    }
                    self.bump();
                }
            }
            ".zero" | ".space" | ".skip" => {
                let at = self.tok.start;
                let n = self.expr()?;
                if !(0..=1 << 30).contains(&n) {
                    return Err(self.err(at, format!("`{word} {n}`: expected a size 0..2^30")));
                }
                let mut fill = 0u8;
                if self.is(P::Comma) {
                    self.bump();
                    let fat = self.tok.start;
                    let f = self.expr()?;
                    fill = self.data_value(f, 1, fat)?[0];
                }
                self.end()?;
                self.data_section(t.start)?;
                self.put(&vec![fill; n as usize], at)
            }
            ".uleb128" | ".sleb128" => {
                self.data_section(t.start)?;
                loop {
                    let at = self.tok.start;
                    let e = self.sym_expr()?;
                    let Some(v) = self.asm.build.constant_value(&e) else {
                        return Err(self.err(at, format!("`{word}` needs a constant, or `A-B` with both labels defined earlier in one section")));
                    };
                    let bytes = if word == ".uleb128" { uleb128(v as u64) } else { sleb128(v) };
                    self.put(&bytes, at)?;
                    if !self.is(P::Comma) {
                        return self.end();
                    }
                    self.bump();
                }
            }
            // DWARF and toolchain bookkeeping: accepted, with what they mean
            // left out of the object (see the README): `.file`/`.loc` feed
            // llvm-mc's .debug_line, `.cfi_*` its .debug_frame, `.addrsig`
            // its .llvm_addrsig; `.ident` a .comment.
            ".file" | ".loc" | ".addrsig" | ".ident" => {
                self.rest_raw();
                Ok(())
            }
            ".addrsig_sym" => {
                let name = self.ident("a symbol name")?;
                self.asm.build.sym(name);
                self.end()
            }
            _ if word.starts_with(".cfi_") => {
                self.rest_raw();
                Ok(())
            }
            ".map" => self.map_directive(t.start),
            ".name" => {
                let s = self.ident("a program name, like `.name redirect`")?.to_string();
                self.asm.name = Some(s);
                self.end()
            }
            _ => Err(self.err(
                t.start,
                format!("unknown directive `{word}`; expected one of .text .data .bss .section .globl .weak .local .hidden .internal .protected .type .size .p2align .balign .byte .short .long .quad .8byte .ascii .asciz .string .zero .space .uleb128 .sleb128 .file .loc .cfi_* .addrsig .addrsig_sym .map .license .name .equ .set .ifdef .ifndef .else .endif"),
            )),
        }
    }

    pub(super) fn ident(&mut self, expected: &str) -> PResult<&'a str> {
        if self.tok.tok != Tok::Ident {
            return Err(self.unexpected(expected));
        }
        let s = self.text(self.tok);
        self.bump();
        Ok(s)
    }

    /// A quoted string, or the raw text up to whitespace or a comment.
    pub(super) fn word_or_string(&mut self, expected: &str) -> PResult<String> {
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
        Ok(s)
    }

    /// The raw text of the rest of the statement (up to `;` or a comment),
    /// consumed.
    pub(super) fn rest_raw(&mut self) -> &'a str {
        let start = self.tok.start;
        let mut end = start;
        while self.tok.tok != Tok::Eol {
            end = self.tok.end;
            self.bump();
        }
        self.text.get(start..end).unwrap_or("")
    }

    /// `.section NAME[,"FLAGS"[,@TYPE[,ENTSIZE]]]`.
    fn section_directive(&mut self, at: usize) -> PResult<()> {
        let name = self.word_or_string("a section name, like `.section tc`")?;
        let mut spec = None;
        if self.is(P::Comma) {
            self.bump();
            let fat = self.tok.start;
            let raw = self.rest_raw();
            spec = Some(self.section_spec(&name, raw, fat)?);
        } else {
            self.end()?;
        }
        self.switch_section(&name, spec, at)
    }

    /// The type, flags and entry size of `"FLAGS",@TYPE,ENTSIZE`.
    fn section_spec(&self, name: &str, raw: &str, at: usize) -> PResult<(u32, u64, u64)> {
        let mut parts = raw.split(',').map(str::trim);
        let flags_text = parts.next().unwrap_or("").trim_matches('"');
        let mut flags = 0u64;
        for (i, c) in flags_text.chars().enumerate() {
            flags |= match c {
                'a' => SHF_ALLOC.0,
                'w' => SHF_WRITE.0,
                'x' => SHF_EXECINSTR.0,
                'M' => SHF_MERGE.0,
                'S' => SHF_STRINGS.0,
                _ => {
                    return Err(self.err(
                        at + 1 + i,
                        format!("section flag `{c}` is not supported; expected a, w, x, M or S"),
                    ))
                }
            };
        }
        let ty = match parts.next().map(|p| p.trim_start_matches(['@', '%'])) {
            None => default_section(name).sh_type,
            Some("progbits") => SHT_PROGBITS.0,
            Some("nobits") => SHT_NOBITS.0,
            Some(other) => {
                return Err(self.err(
                    at,
                    format!(
                        "section type `{other}` is not supported; expected @progbits or @nobits"
                    ),
                ))
            }
        };
        let entsize = match parts.next() {
            None => 0,
            Some(e) => e.parse::<u64>().map_err(|_| {
                self.err(at, format!("section entry size `{e}`: expected a number"))
            })?,
        };
        if let Some(extra) = parts.next() {
            return Err(self.err(
                at,
                format!("unexpected `{extra}` after the section's entry size"),
            ));
        }
        Ok((ty, flags, entsize))
    }

    /// Makes `name` the current section, with `spec` (type, flags, entry
    /// size) if the text gave them. The first `.section` after
    /// instructions written with no section names those instructions' section
    /// (a kernel-syntax file may put `.section` anywhere).
    pub(super) fn switch_section(
        &mut self,
        name: &str,
        spec: Option<(u32, u64, u64)>,
        at: usize,
    ) -> PResult<()> {
        let b = &mut self.asm.build;
        let exists = b.secs.iter().any(|s| s.sec.name == name);
        let i = match b.implicit.take() {
            Some(i) if !exists && b.secs.len() == 1 => {
                b.secs[i].sec.name = name.to_string();
                i
            }
            _ => b.section_named(name),
        };
        b.cur = Some(i);
        if let Some((ty, flags, entsize)) = spec {
            let s = &mut b.secs[i];
            let fresh = s.sec.size == 0 && !s.flags_given;
            if fresh {
                s.sec.sh_type = ty;
                s.sec.sh_flags = flags;
                s.sec.entsize = entsize;
                s.sec.kind = SectionKind::classify(name, ty, flags);
                s.flags_given = true;
            } else if s.sec.sh_type != ty || s.sec.sh_flags != flags {
                return Err(self.err(
                    at,
                    format!("section `{name}` was opened with other flags or type before"),
                ));
            }
        }
        Ok(())
    }

    /// A section for data: the current one, or (before any `.section`) the
    /// kernel syntax's default program section, where `.8byte` writes raw
    /// instruction slots.
    fn data_section(&mut self, at: usize) -> PResult<()> {
        if self.asm.build.cur.is_none() {
            self.code_section(at)?;
        }
        Ok(())
    }

    /// Appends `bytes` to the current section (refusing non-zero bytes in
    /// a `@nobits` section, which has no file bytes to hold them).
    fn put(&mut self, bytes: &[u8], at: usize) -> PResult<()> {
        let (c, _) = self.asm.build.here();
        if self.asm.build.secs[c].sec.is_nobits() && bytes.iter().any(|&b| b != 0) {
            let name = self.asm.build.secs[c].sec.name.clone();
            return Err(self.err(
                at,
                format!(
                    "non-zero data in `{name}`, a @nobits section (.bss) that holds only zeros"
                ),
            ));
        }
        self.push_bytes(bytes);
        Ok(())
    }

    /// The little-endian bytes of constant `v` in an `n`-byte field, which
    /// it must fit signed or unsigned (as llvm-mc checks).
    fn data_value(&self, v: i64, n: usize, at: usize) -> PResult<Vec<u8>> {
        if n < 8 {
            let bits = 8 * n as u32;
            let min = -(1i64 << (bits - 1));
            let max = (1i64 << bits) - 1;
            if v < min || v > max {
                return Err(self.err(at, format!("{v} does not fit {n} byte(s) ({min}..{max})")));
            }
        }
        Ok(v.to_le_bytes()[..n].to_vec())
    }

    /// `.byte/.short/.long/.quad` values: constants, symbols (a
    /// relocation), or label differences.
    fn data(&mut self, n: u8) -> PResult<()> {
        let at0 = self.tok.start;
        self.data_section(at0)?;
        loop {
            let at = self.tok.start;
            let e = self.sym_expr()?;
            match self.asm.build.constant_value(&e) {
                Some(v) if e.add.is_none() => {
                    let bytes = self.data_value(v, n as usize, at)?;
                    self.put(&bytes, at)?;
                }
                _ => {
                    let (c, _) = self.asm.build.here();
                    if self.asm.build.secs[c].sec.is_nobits() {
                        return Err(self.err(
                            at,
                            "a symbol in a @nobits section (.bss), which holds only zeros",
                        ));
                    }
                    self.reference(RefKind::Data(n), e, at);
                    self.push_bytes(&vec![0u8; n as usize]);
                }
            }
            if !self.is(P::Comma) {
                return self.end();
            }
            self.bump();
        }
    }

    /// `.p2align`/`.balign`: pads the current section (code with llvm-mc's
    /// 8-byte nop, data with `fill`) and raises its alignment.
    fn align(&mut self, align: u64, fill: Option<u8>, max: Option<u64>, at: usize) -> PResult<()> {
        self.data_section(at)?;
        let (c, size) = self.asm.build.here();
        let pad = (align - size % align) % align;
        if max.is_some_and(|m| pad > m) {
            return Ok(());
        }
        let s = &self.asm.build.secs[c].sec;
        let code = s.kind == SectionKind::Program && fill.is_none();
        if code && pad % 8 != 0 {
            return Err(self.err(
                at,
                format!("{pad} bytes of padding in code: BPF code pads in 8-byte nops only"),
            ));
        }
        let mut bytes = Vec::with_capacity(pad as usize);
        if code {
            for _ in 0..pad / 8 {
                bytes.extend_from_slice(&BPF_NOP.to_le_bytes());
            }
        } else {
            bytes.resize(pad as usize, fill.unwrap_or(0));
        }
        self.put(&bytes, at)?;
        let s = &mut self.asm.build.secs[c].sec;
        s.align = s.align.max(align);
        Ok(())
    }

    /// A symbolic expression: `SYM`, `SYM + 8`, `.Lend - .Lstart`, `. - f`,
    /// `1b`, or a constant expression.
    pub(super) fn sym_expr(&mut self) -> PResult<SymExpr> {
        let mut e = SymExpr::default();
        let mut sign = 1i64;
        loop {
            let at = self.tok.start;
            match self.symbol_term()? {
                Some(name) => {
                    let slot = if sign > 0 { &mut e.add } else { &mut e.sub };
                    if slot.is_some() {
                        return Err(self.err(
                            at,
                            "at most one symbol added and one subtracted (`A - B + c`)",
                        ));
                    }
                    *slot = Some((name, at));
                    self.bump();
                }
                None => {
                    let v = self.expr_term()?;
                    e.constant = e.constant.wrapping_add(sign.wrapping_mul(v));
                }
            }
            sign = match self.tok.tok {
                Tok::Punct(P::Plus) => 1,
                Tok::Punct(P::Minus) => -1,
                _ => return Ok(e),
            };
            self.bump();
        }
    }

    /// The current token as a symbol name (not consumed): a name that is no
    /// constant or function, `.` (here) or a numeric label `1b`/`1f`.
    fn symbol_term(&mut self) -> PResult<Option<String>> {
        if let Some((n, back)) = self.numeric_ref() {
            let at = self.tok.start;
            return self.numeric_label(n, back, at).map(Some);
        }
        if self.tok.tok != Tok::Ident {
            return Ok(None);
        }
        let name = self.text(self.tok);
        if name == "." {
            let line = self.lineno;
            return Ok(Some(self.asm.build.dot(line)));
        }
        if self.constant(name).is_some() || crate::text::expr::is_function(name) {
            return Ok(None);
        }
        Ok(Some(name.to_string()))
    }
}

/// llvm-mc's padding for code (`BPFAsmBackend::writeNopData`): the 64-bit
/// word 0x15000000, `if r0 == r0 goto +0`.
const BPF_NOP: u64 = 0x1500_0000;

fn uleb128(mut v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return out;
        }
        out.push(b | 0x80);
    }
}

fn sleb128(mut v: i64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        let done = (v == 0 && b & 0x40 == 0) || (v == -1 && b & 0x40 != 0);
        if done {
            out.push(b);
            return out;
        }
        out.push(b | 0x80);
    }
}

/// The bytes of a string literal's inside, with the escapes llvm-mc reads:
/// `\n \t \r \b \f \v \a \\ \" \'`, octal `\0`..`\377` (one to three
/// digits) and `\xHH`. An error gives the byte offset of the bad escape.
pub(super) fn unescape(s: &str) -> Result<Vec<u8>, (usize, String)> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        let start = i;
        i += 1;
        let Some(&c) = b.get(i) else {
            return Err((start, "a `\\` at the end of the string".to_string()));
        };
        i += 1;
        out.push(match c {
            b'n' => b'\n',
            b't' => b'\t',
            b'r' => b'\r',
            b'b' => 8,
            b'f' => 12,
            b'v' => 11,
            b'a' => 7,
            b'\\' | b'"' | b'\'' => c,
            b'0'..=b'7' => {
                let mut v = (c - b'0') as u32;
                let mut k = 0;
                while k < 2 && i < b.len() && (b'0'..=b'7').contains(&b[i]) {
                    v = v * 8 + (b[i] - b'0') as u32;
                    i += 1;
                    k += 1;
                }
                if v > 255 {
                    return Err((start, format!("octal escape \\{v:o} is above \\377")));
                }
                v as u8
            }
            b'x' | b'X' => {
                let mut v = 0u32;
                let digits_at = i;
                while i < b.len() && b[i].is_ascii_hexdigit() {
                    v = (v * 16 + (b[i] as char).to_digit(16).unwrap_or(0)) & 0xff;
                    i += 1;
                }
                if i == digits_at {
                    return Err((start, "`\\x` with no hex digits".to_string()));
                }
                v as u8
            }
            _ => return Err((start, format!("unknown escape `\\{}`", c as char))),
        });
    }
    Ok(out)
}
