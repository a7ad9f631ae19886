//! The text assembler: eBPF assembly in the kernel's syntax (as printed by
//! `kernel/bpf/disasm.c` in verifier logs and `bpftool prog dump xlated`) and
//! in LLVM's (as `llvm-objdump -d` prints and `llvm-mc` accepts).
//!
//! ```
//! use ebpf_asm::{assemble, AsmOptions};
//! let p = assemble("r0 = *(u32 *)(r1 +76)\nif r0 > 3 goto out\ncall bpf_redirect#23\nout:\nexit\n",
//!                  &AsmOptions::default())?;
//! assert_eq!(p.insns().len(), 4);
//! assert_eq!(p.insns()[1].off, 1);
//! # Ok::<(), ebpf_asm::AsmError>(())
//! ```
//!
//! The same text can also become a whole [`crate::object::Object`]
//! ([`assemble_object`]): any number of sections, symbols and the
//! relocations llvm-mc writes, so LLVM's own `.s` files (`clang -S`)
//! assemble to the same section bytes as `llvm-mc -filetype=obj`.
//!
//! Code map: [`lexer`] (tokens, comments, `;`), [`expr`] (constant
//! expressions), `lines` (the file loop, conditionals, results),
//! `operands`, `statements` (instructions, labels), `directives`,
//! `maps` (`.map`), `sections` (the object as it fills, and how references
//! become relocations).

mod directives;
pub mod expr;
pub mod lexer;
mod lines;
pub mod maps;
mod operands;
mod sections;
mod statements;

pub use lines::Assembly;
pub use sections::data32_type;

use crate::program::Program;
use std::fmt;

/// Options for [`assemble`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AsmOptions {
    /// Shown in error messages (`file.s:3:7: ...`).
    pub file_name: String,
    /// `-D NAME=VALUE` constants; they override a `.equ` of the same name.
    pub defines: Vec<(String, i64)>,
}

/// An assembly error: where, what, and the offending line with a caret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsmError {
    pub file: String,
    /// 1-based line number.
    pub line: u32,
    /// 1-based column (in characters).
    pub column: u32,
    pub message: String,
    /// The offending line, without its newline.
    pub source_line: String,
}

impl fmt::Display for AsmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = if self.file.is_empty() {
            "<input>"
        } else {
            &self.file
        };
        writeln!(
            f,
            "{file}:{}:{}: error: {}",
            self.line, self.column, self.message
        )?;
        writeln!(f, "{}", self.source_line)?;
        // Keep tabs so the caret lines up under the same column.
        let pad: String = self
            .source_line
            .chars()
            .take(self.column.saturating_sub(1) as usize)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        write!(f, "{pad}^")
    }
}

impl AsmError {
    /// The same report as a warning (`file:3:7: warning: ...`), for
    /// [`crate::Program::warnings`].
    pub fn as_warning(&self) -> String {
        self.to_string().replacen(": error: ", ": warning: ", 1)
    }
}

impl std::error::Error for AsmError {}

/// Assemble a one-program source file into a [`Program`] (the kernel
/// syntax's file: one program section, maps referenced by name). A file
/// with more (several program sections, data, calls to functions
/// elsewhere) is refused with a pointer to [`assemble_object`].
pub fn assemble(source: &str, opts: &AsmOptions) -> Result<Program, AsmError> {
    lines::Assembler::new(source, opts).run()
}

/// Assemble a source file into an object: every section, symbol and
/// relocation, as llvm-mc would write them for the same text.
pub fn assemble_object(source: &str, opts: &AsmOptions) -> Result<crate::object::Object, AsmError> {
    assemble_full(source, opts).map(|a| a.object)
}

/// [`assemble_object`] with the warnings and unused `-D` names.
pub fn assemble_full(source: &str, opts: &AsmOptions) -> Result<Assembly, AsmError> {
    lines::Assembler::new(source, opts).run_object()
}

#[cfg(test)]
mod tests;
