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
//! See `lexer` for tokens and comments, `expr` for constant expressions and
//! `parser` for statements, directives and label resolution.

pub mod expr;
pub mod lexer;
pub mod parser;

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

/// Assemble a whole source file into a [`Program`].
pub fn assemble(source: &str, opts: &AsmOptions) -> Result<Program, AsmError> {
    parser::Assembler::new(source, opts).run()
}

#[cfg(test)]
mod tests;
