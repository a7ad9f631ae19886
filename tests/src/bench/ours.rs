//! The one place where the benchmarks call this workspace's assembler and
//! disassembler, so the benchmark code reads the same whatever their API.

use std::path::Path;

/// Assembles a file with `-D NAME=VALUE` definitions; returns the
/// instruction bytes (8-byte slots).
pub fn assemble_file(path: &Path, defines: &[(&str, i64)]) -> Result<Vec<u8>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let opts = ebpf_asm::AsmOptions {
        file_name: path.display().to_string(),
        defines: defines.iter().map(|(n, v)| (n.to_string(), *v)).collect(),
    };
    ebpf_asm::assemble(&text, &opts)
        .map(|p| p.to_bytes())
        .map_err(|e| e.to_string())
}

/// Assembles LLVM-syntax text; returns the instruction bytes and an ELF
/// relocatable object holding them.
pub fn assemble_to_elf(text: &str) -> Result<(Vec<u8>, Vec<u8>), String> {
    let _ = text;
    Err("ebpf-asm has no text assembler yet".into())
}

/// Disassembles instruction bytes to text.
pub fn disassemble(insns: &[u8]) -> Result<String, String> {
    let _ = insns;
    Err("ebpf-asm has no disassembler yet".into())
}

/// What program an isolated lab runs on `veth1@2`'s ingress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LabMode {
    /// None: `netns_1` forwards with its IP stack (`up --no-program`).
    NoProgram,
    /// The seed's `bpf_redirect` program (`up`).
    Redirect,
    /// The `bpf_trace_printk` variant (`up --trace`).
    Trace,
}

/// `redirect-lab up --prefix PREFIX` in-process.
pub fn lab_up(prefix: &str, mode: LabMode) -> Result<(), String> {
    let _ = (prefix, mode);
    Err("loader has no lab module yet".into())
}

/// `redirect-lab down --prefix PREFIX` in-process; errors are ignored, since
/// it runs on cleanup paths.
pub fn lab_down(prefix: &str) {
    let _ = prefix;
}

/// The network namespace files of an isolated lab's host side and netns_2.
pub fn lab_namespaces(prefix: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let run = Path::new("/run/netns");
    (
        run.join(format!("{prefix}_host")),
        run.join(format!("{prefix}_netns_2")),
    )
}
