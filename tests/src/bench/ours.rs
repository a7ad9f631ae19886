//! The one place where the benchmarks call this workspace's own code: the
//! assembler, disassembler and ELF writer (`ebpf-asm`) and the lab
//! (`loader::lab`), so the benchmarks read the same whatever those APIs.

use loader::lab::{Lab, LabNames, ProgramSource, Side, UpOptions, NETNS_RUN_DIR};
use std::path::{Path, PathBuf};

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
    let prog =
        ebpf_asm::assemble(text, &ebpf_asm::AsmOptions::default()).map_err(|e| e.to_string())?;
    let elf = ebpf_asm::elf::write_object(&prog).map_err(|e| format!("ELF writer: {e}"))?;
    Ok((prog.to_bytes(), elf))
}

/// Assembles a whole LLVM-syntax file (many sections, data, symbols,
/// relocations) into an ELF relocatable object, through the object model.
pub fn assemble_object_to_elf(text: &str) -> Result<Vec<u8>, String> {
    let obj = ebpf_asm::text::assemble_object(text, &ebpf_asm::AsmOptions::default())
        .map_err(|e| e.to_string())?;
    obj.to_elf().map_err(|e| format!("ELF writer: {e}"))
}

/// Disassembles instruction bytes to text the way `llvm-objdump -d` prints
/// it: LLVM syntax, slot numbers and bytes, jump targets named.
pub fn disassemble(insns: &[u8]) -> Result<String, String> {
    let opts = ebpf_asm::disasm::DisasmOptions {
        syntax: ebpf_asm::disasm::Syntax::Llvm,
        slot_numbers: false,
        bytes: true,
        labels: true,
    };
    ebpf_asm::disasm::disassemble(insns, &opts).map_err(|e| e.to_string())
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
    /// A technique of `up --mode NAME` (loader::lab::mode::MODES).
    Technique(&'static str),
}

/// `redirect-lab up --prefix PREFIX` in-process.
pub fn lab_up(prefix: &str, mode: LabMode) -> Result<(), String> {
    let lab = Lab::new(Some(prefix)).map_err(|e| e.to_string())?;
    let technique = match mode {
        LabMode::Technique(name) => loader::lab::mode::find(name)?,
        _ => loader::lab::mode::default_mode(),
    };
    let options = UpOptions {
        mode: technique,
        trace: mode == LabMode::Trace,
        no_program: mode == LabMode::NoProgram,
        source: ProgramSource::File(super::workspace_root().join(technique.source)),
        ..UpOptions::default()
    };
    lab.up(&options, &mut std::io::sink())
        .map(|_| ())
        .map_err(|e| format!("redirect-lab up --prefix {prefix}: {e}"))
}

/// `redirect-lab down --prefix PREFIX` in-process; errors are ignored, since
/// it runs on cleanup paths.
pub fn lab_down(prefix: &str) {
    if let Ok(lab) = Lab::new(Some(prefix)) {
        let _ = lab.down();
    }
}

/// netns_1's `Ip: ForwDatagrams` counter (/proc/net/snmp): how many
/// datagrams its IP stack has forwarded.
pub fn lab_forwarded(prefix: &str) -> Result<u64, String> {
    let lab = Lab::new(Some(prefix)).map_err(|e| e.to_string())?;
    lab.ip_counter(Side::Netns1, "ForwDatagrams")
        .map_err(|e| e.to_string())
}

/// The network namespace files of an isolated lab's host side and netns_2.
pub fn lab_namespaces(prefix: &str) -> Result<(PathBuf, PathBuf), String> {
    let names = LabNames::with_prefix(prefix)?;
    let run = Path::new(NETNS_RUN_DIR);
    let host = names
        .netns(Side::Host)
        .ok_or("an isolated lab has a host namespace")?;
    let netns_2 = names.netns(Side::Netns2).ok_or("a lab has netns_2")?;
    Ok((run.join(host), run.join(netns_2)))
}
