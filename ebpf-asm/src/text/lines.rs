//! Lines: the whole-file state ([`Assembler`]), the loop over lines and
//! `;`-separated statements, conditional assembly, the token helpers every
//! statement uses, and the two results: an [`Object`] (any number of
//! sections, symbols and relocations) or, for the one-program files of the
//! kernel syntax, a [`Program`].
//!
//! A line whose first non-blank character is `;` is a comment (verifier
//! logs and `bpftool ... linum` print such lines); a `;` after code
//! separates statements, as in LLVM.

use super::lexer::{LexError, Lexer, Tok, Token, P};
use super::sections::{is_temp, Build, Loc, RefKind};
use super::{AsmError, AsmOptions};
use crate::hash::FastMap;
use crate::object::{Object, SectionKind};
use crate::program::{
    default_name, Program, RelocKind, Relocation, DEFAULT_LICENSE, DEFAULT_SECTION,
};
use std::cell::RefCell;
use std::collections::HashSet;

pub(crate) type PResult<T> = Result<T, AsmError>;

/// An open `.ifdef`/`.ifndef` block.
#[derive(Debug, Clone, Copy)]
pub(super) struct Cond {
    /// Were lines assembled where the block opened?
    pub(super) outer_active: bool,
    /// Is the current branch taken?
    pub(super) taken: bool,
    pub(super) seen_else: bool,
    pub(super) line: u32,
    pub(super) line_start: usize,
    pub(super) line_end: usize,
}

/// Whole-file assembler state.
pub(crate) struct Assembler<'a> {
    pub(super) file: &'a str,
    pub(super) src: &'a str,
    /// Constants; the flag marks `-D` ones, which `.equ` cannot override.
    pub(super) consts: FastMap<String, (i64, bool)>,
    /// The object being filled: sections, symbols, pending references.
    pub(super) build: Build,
    /// `.license`, `.name` (the kernel-syntax directives).
    pub(super) license: Option<String>,
    pub(super) name: Option<String>,
    pub(super) conds: Vec<Cond>,
    /// Constant names the text mentioned, to report unused `-D` ones.
    /// A `RefCell` because constants are looked up through `&self`.
    pub(super) mentioned: RefCell<HashSet<&'a str>>,
    /// The `-D` names, in the order given.
    pub(super) define_names: Vec<&'a str>,
    /// What llvm-mc encodes but the verifier will refuse (see
    /// [`Program::warnings`]).
    pub(super) warnings: Vec<AsmError>,
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

/// An assembled object with what the assembler has to say about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assembly {
    pub object: Object,
    /// See [`Program::warnings`].
    pub warnings: Vec<AsmError>,
    /// See [`Program::unused_defines`].
    pub unused_defines: Vec<String>,
    /// Per section, per 8-byte slot of a program section: the line number
    /// and byte range in [`Assembly::source`] that produced it.
    pub slot_lines: Vec<Vec<(u32, u32, u32)>>,
    pub source: String,
    pub file_name: String,
}

impl Assembly {
    /// The object with the BTF clang would give it, for hand-written text
    /// that has none of its own (a file with a `.BTF` section, such as
    /// clang's `.s`, is returned as it is): `.BTF` with a FUNC per function,
    /// the `.map` definitions and a DATASEC per data section, and `.BTF.ext`
    /// with func_info and line_info pointing at the text's own lines
    /// ([`crate::btf::gen::Input::from_object`]).
    pub fn object_with_btf(&self) -> Object {
        let mut obj = self.object.clone();
        if obj.section(".BTF").is_some() {
            return obj;
        }
        let file = match self.file_name.as_str() {
            "" => "input.s",
            f => f,
        };
        let input = crate::btf::gen::Input::from_object(&obj, &self.slot_lines, &self.source, file);
        let out = crate::btf::gen::generate(&input);
        for (name, data) in [(".BTF", out.btf_bytes()), (".BTF.ext", out.ext_bytes())] {
            let mut s = crate::object::Section::new(name, SectionKind::Other);
            s.push_bytes(&data);
            s.align = 4;
            obj.add_section(s);
        }
        obj
    }
}

impl<'a> Assembler<'a> {
    pub(crate) fn new(src: &'a str, opts: &'a AsmOptions) -> Assembler<'a> {
        let mut consts = FastMap::default();
        for (k, v) in &opts.defines {
            consts.insert(k.clone(), (*v, true));
        }
        Assembler {
            file: &opts.file_name,
            src,
            consts,
            build: Build::default(),
            license: None,
            name: None,
            conds: Vec::new(),
            mentioned: RefCell::new(HashSet::new()),
            define_names: opts.defines.iter().map(|(k, _)| k.as_str()).collect(),
            warnings: Vec::new(),
        }
    }

    /// Notes that the text used the constant `name`.
    pub(super) fn mention(&self, name: &str) {
        // Only `-D` names are reported, so only they need remembering
        // (and they live as long as the assembler: `&'a str`).
        if let Some(d) = self.define_names.iter().find(|d| **d == name) {
            self.mentioned.borrow_mut().insert(*d);
        }
    }

    pub(super) fn active(&self) -> bool {
        self.conds
            .last()
            .map_or(true, |c| c.outer_active && c.taken)
    }

    pub(super) fn error_at(
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

    pub(super) fn error_loc(&self, loc: Loc, message: String) -> AsmError {
        self.error_at(loc.line, loc.start, loc.end, loc.col, message)
    }

    /// Every line, then the checks that need the whole file.
    fn lines(&mut self) -> PResult<()> {
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
        Ok(())
    }

    fn unused(&self) -> Vec<String> {
        let mentioned = self.mentioned.borrow();
        self.define_names
            .iter()
            .filter(|d| !mentioned.contains(*d))
            .map(|d| d.to_string())
            .collect()
    }

    /// The text as an object: every section, symbol and relocation, as
    /// llvm-mc would write them (see [`super::sections`]), plus `license`
    /// from `.license` and a global function from `.name`.
    pub(crate) fn run_object(mut self) -> Result<Assembly, AsmError> {
        self.lines()?;
        let build = std::mem::take(&mut self.build);
        let (mut object, slot_lines) = build.finish(&|l, m| self.error_loc(l, m))?;
        if let Some(lic) = &self.license {
            add_license(&mut object, lic);
        }
        if let Some(name) = &self.name {
            if object.symbol_index(name).is_none() {
                if let Some(i) = object
                    .sections
                    .iter()
                    .position(|s| s.kind == SectionKind::Program && s.size > 0)
                {
                    let size = object.sections[i].size;
                    object.symbols.push(crate::object::Symbol {
                        name: name.clone(),
                        section: Some(i),
                        value: 0,
                        size,
                        kind: crate::object::SymbolType::Func,
                        binding: crate::object::Binding::Global,
                        visibility: crate::object::Visibility::Default,
                    });
                }
            }
        }
        Ok(Assembly {
            object,
            warnings: std::mem::take(&mut self.warnings),
            unused_defines: self.unused(),
            slot_lines,
            source: self.src.to_string(),
            file_name: self.file.to_string(),
        })
    }

    /// The text as one [`Program`]: the kernel syntax's one-program file.
    /// A file that needs more (two program sections, data, relocations
    /// other than map references) is refused with a pointer to
    /// [`super::assemble_object`] instead of losing any of it.
    pub(crate) fn run(mut self) -> Result<Program, AsmError> {
        self.lines()?;
        let mut build = std::mem::take(&mut self.build);
        // Calls to names that are not local labels would need relocations
        // a Program cannot carry: refuse them as unknown, as before.
        for r in &build.refs {
            if r.kind != RefKind::Call {
                continue;
            }
            let Some((name, _)) = &r.expr.add else {
                continue;
            };
            let local = build
                .syms
                .get(name)
                .and_then(|s| s.def)
                .is_some_and(|(sec, _, _)| sec == r.section)
                && build.syms.get(name).and_then(|s| s.binding).is_none();
            if !local {
                return Err(self.error_loc(r.loc, format!("unknown helper or label `{name}`; expected a kernel helper name (like bpf_redirect), a helper id, or a label defined with `{name}:` (a call to a function elsewhere needs an object: assemble_object)")));
            }
        }
        // Map references by name: undefined symbols the loader resolves.
        let mut relocs = Vec::new();
        for r in &build.refs {
            if r.kind != RefKind::Ld64 {
                continue;
            }
            let Some((name, _)) = &r.expr.add else {
                continue;
            };
            if build.syms.get(name).is_some_and(|s| s.def.is_some()) {
                return Err(self.error_loc(r.loc, format!("`{name}` is defined in this file: a reference to it needs an object (assemble_object), not a single program")));
            }
            let kind = if build.value_refs.contains(&(r.section, r.offset)) {
                RelocKind::MapValue {
                    offset: r.expr.constant as i32,
                }
            } else {
                RelocKind::MapFd
            };
            relocs.push(Relocation {
                slot: (r.offset / 8) as usize,
                symbol: name.clone(),
                kind,
            });
        }
        build.refs.retain(|r| r.kind == RefKind::Call);
        let firsts: Vec<Option<(u32, u32, u32)>> = build.secs.iter().map(|s| s.first).collect();
        let at = |i: usize, message: String| {
            let (line, start, end) = firsts.get(i).copied().flatten().unwrap_or((1, 0, 0));
            self.error_at(line, start as usize, end as usize, 0, message)
        };
        let (object, mut lines) = build.finish(&|l, m| self.error_loc(l, m))?;
        let programs: Vec<usize> = (0..object.sections.len())
            .filter(|&i| {
                object.sections[i].kind == SectionKind::Program && object.sections[i].size > 0
            })
            .collect();
        for (i, s) in object.sections.iter().enumerate() {
            if !programs.contains(&i) && s.size > 0 {
                return Err(at(i, format!("section `{}` holds data: this file is an object, not one program; assemble it with ebpf_asm::text::assemble_object", s.name)));
            }
        }
        if programs.len() > 1 {
            return Err(at(programs[1], format!("a second program section (`{}`): this file is an object, not one program; assemble it with ebpf_asm::text::assemble_object", object.sections[programs[1]].name)));
        }
        let (section, insns, slot_lines) = match programs.first() {
            Some(&i) => {
                let s = &object.sections[i];
                let insns = s
                    .data
                    .chunks_exact(8)
                    .map(|c| {
                        let mut b = [0u8; 8];
                        b.copy_from_slice(c);
                        crate::insn::Insn::from_bytes(b)
                    })
                    .collect();
                // Taken, not cloned: 12 bytes a slot, 12 MB for a million.
                (s.name.clone(), insns, std::mem::take(&mut lines[i]))
            }
            None => (build_section_name(&object), Vec::new(), Vec::new()),
        };
        let global = object
            .symbols
            .iter()
            .find(|y| {
                programs.first() == y.section.as_ref()
                    && y.binding != crate::object::Binding::Local
                    && !is_temp(&y.name)
            })
            .map(|y| y.name.clone());
        let name = self
            .name
            .take()
            .or(global)
            .unwrap_or_else(|| default_name(&section));
        let mut p = Program::from_insns(insns);
        p.section = section;
        p.name = name;
        p.license = self
            .license
            .take()
            .unwrap_or_else(|| DEFAULT_LICENSE.to_string());
        p.relocations = relocs;
        p.source = self.src.to_string();
        p.lines = slot_lines;
        p.warnings = std::mem::take(&mut self.warnings);
        p.file_name = self.file.to_string();
        p.unused_defines = self.unused();
        Ok(p)
    }

    /// Process one line.
    pub(super) fn line(&mut self, text: &'a str, lineno: u32, start: usize) -> PResult<()> {
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

/// The section name a file with no instructions reports.
fn build_section_name(object: &Object) -> String {
    object
        .sections
        .iter()
        .find(|s| s.kind == SectionKind::Program)
        .map_or(DEFAULT_SECTION.to_string(), |s| s.name.clone())
}

/// `license` holding `lic` and NUL, with the global `_license` object clang
/// writes for `char _license[] SEC("license")`.
fn add_license(object: &mut Object, lic: &str) {
    let mut bytes = lic.as_bytes().to_vec();
    bytes.push(0);
    let i = match object.section_index("license") {
        Some(i) => i,
        None => object.add_section(crate::object::Section::new("license", SectionKind::License)),
    };
    let offset = object.sections[i].size;
    object.sections[i].push_bytes(&bytes);
    if object.symbol_index("_license").is_none() {
        object.symbols.push(crate::object::Symbol {
            name: "_license".to_string(),
            section: Some(i),
            value: offset,
            size: bytes.len() as u64,
            kind: crate::object::SymbolType::Object,
            binding: crate::object::Binding::Global,
            visibility: crate::object::Visibility::Default,
        });
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
    pub(super) fn colon_follows(&self) -> bool {
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
    pub(super) fn describe(&self, t: Token) -> String {
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
    pub(super) fn is(&self, p: P) -> bool {
        self.tok.tok == Tok::Punct(p)
    }
    pub(super) fn is_ident(&self, s: &str) -> bool {
        self.tok.tok == Tok::Ident && self.text(self.tok) == s
    }
    pub(super) fn expect_ident(&mut self, s: &str) -> PResult<()> {
        if self.is_ident(s) {
            self.bump();
            Ok(())
        } else {
            Err(self.unexpected(&format!("`{s}`")))
        }
    }
    pub(super) fn end(&mut self) -> PResult<()> {
        if self.tok.tok == Tok::Eol {
            Ok(())
        } else {
            Err(self.unexpected("end of line after the instruction"))
        }
    }
}
