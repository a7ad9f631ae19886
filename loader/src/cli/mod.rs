//! Command implementations for `redirect-lab`, one module per command group.
//! They share the error reporting here: a plain root message for missing
//! privileges, the full error (with any verifier log) otherwise; and the
//! command output, which stops quietly when the reader goes away.

/// `print!` to [`Out`]: never panics on a closed pipe (see [`Out`]).
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!($crate::cli::Out, $($arg)*);
    }};
}

/// `println!` to [`Out`]: never panics on a closed pipe (see [`Out`]).
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!($crate::cli::Out, $($arg)*);
    }};
}

pub mod asm;
pub mod compare;
pub mod lab;
pub mod load;
pub mod path;
pub mod prog;
pub mod run;

use std::io::{self, Write};
use std::process::ExitCode;

/// The commands' stdout. `print!` panics when stdout is a pipe whose reader
/// has exited (`redirect-lab disasm x.o | head -1`: the write fails with
/// EPIPE, since Rust ignores SIGPIPE). Here EPIPE means "nobody wants more
/// output", so the process exits quietly with status 0, like a C tool that
/// dies of SIGPIPE but without the signal. Nothing a command holds needs
/// more cleanup than the kernel does at exit (its fds close); `up`, which
/// must not stop half way, writes to a plain stdout and ignores errors.
/// Any other write error is reported with its errno, and the exit status is 1.
pub struct Out;

impl Write for Out {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        io::stdout().lock().write(buf).or_else(|e| stdout_failed(e))
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stdout().lock().flush().or_else(|e| stdout_failed(e))
    }
}

/// Ends the process after a failed write to stdout (see [`Out`]).
fn stdout_failed(e: io::Error) -> ! {
    if e.kind() == io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    let _ = writeln!(
        io::stderr(),
        "redirect-lab: writing to stdout: {}",
        loader::error::io_text(&e)
    );
    std::process::exit(1);
}

/// An error the CLI prints: a library error or a plain message.
#[derive(Debug)]
pub enum CliError {
    /// From the loader library.
    Lib(loader::Error),
    /// A message for the user.
    Msg(String),
}

impl From<loader::Error> for CliError {
    fn from(e: loader::Error) -> CliError {
        CliError::Lib(e)
    }
}

impl From<String> for CliError {
    fn from(s: String) -> CliError {
        CliError::Msg(s)
    }
}

/// Shorthand for command results.
pub type CliResult = Result<ExitCode, CliError>;

/// Prints an error to stderr and returns the failing exit code.
pub fn report(e: &CliError) -> ExitCode {
    match e {
        CliError::Lib(e) if e.is_permission() && loader::sys::geteuid() != 0 => {
            let what = match e {
                loader::Error::Sys(s) => format!(" ({} refused: EPERM)", s.command),
                _ => String::new(),
            };
            eprintln!(
                "redirect-lab: needs root (CAP_BPF and CAP_NET_ADMIN); run it with sudo{what}"
            );
        }
        CliError::Lib(e) => eprintln!("redirect-lab: {e}"),
        CliError::Msg(m) => eprintln!("redirect-lab: {m}"),
    }
    ExitCode::FAILURE
}

/// Reads a whole file with a message naming it and the errno by name
/// (`loader::Error::io`), not Rust's "(os error 2)".
pub fn read_file(path: &std::path::Path) -> Result<Vec<u8>, CliError> {
    std::fs::read(path)
        .map_err(|e| loader::Error::io(format!("cannot read {}", path.display()), e).into())
}

/// Writes a whole file with a message naming it and the errno by name.
pub fn write_file(path: &std::path::Path, data: &[u8]) -> Result<(), CliError> {
    std::fs::write(path, data)
        .map_err(|e| loader::Error::io(format!("cannot write {}", path.display()), e).into())
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    loader::prog::hex(bytes)
}

/// Parses hex text, ignoring whitespace, `:` and `0x` prefixes.
pub fn parse_hex(text: &str) -> Result<Vec<u8>, String> {
    let mut digits = String::new();
    for tok in text.split(|c: char| c.is_whitespace() || c == ':' || c == ',') {
        let t = tok.strip_prefix("0x").unwrap_or(tok);
        digits.push_str(t);
    }
    if digits.len() % 2 != 0 {
        return Err(format!("odd number of hex digits ({})", digits.len()));
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| {
            let pair = digits
                .get(i..i + 2)
                .ok_or_else(|| "non-ASCII in hex text".to_string())?;
            u8::from_str_radix(pair, 16).map_err(|_| format!("{pair:?} is not a hex byte"))
        })
        .collect()
}

/// A `--json` string value with the escapes JSON needs.
pub fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_text() {
        assert_eq!(parse_hex("0a 0b\n0c:0d").unwrap(), vec![10, 11, 12, 13]);
        assert_eq!(parse_hex("").unwrap(), Vec::<u8>::new());
        assert!(parse_hex("abc").is_err());
        assert!(parse_hex("zz").is_err());
        assert!(parse_hex("é1").is_err());
    }

    #[test]
    fn json_escapes() {
        assert_eq!(json_str("a\"b\\\n\u{1}"), "\"a\\\"b\\\\\\n\\u0001\"");
    }
}
