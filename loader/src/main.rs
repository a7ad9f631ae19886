//! `redirect-lab`: the command line of the eBPF packet-redirect lab.
//!
//! This file only parses the command line (clap derive) and dispatches; each
//! command group lives in its own module under `cli/`.

mod cli;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Every layer of an eBPF packet redirect, by hand and with no BPF library:
/// assemble, inspect, load and test-run the program, and build the lab that
/// attaches it.
// No bare `about` here: it would take the crate's description from
// Cargo.toml, which describes the library, instead of this comment.
#[derive(Parser)]
#[command(name = "redirect-lab", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Assemble a .s file into an ELF object, raw bytes or hex.
    Asm(cli::asm::AsmArgs),
    /// List the instructions of an ELF object, raw bytes or hex text.
    Disasm(cli::asm::DisasmArgs),
    /// Run a program (.s or .o) on a packet with BPF_PROG_TEST_RUN.
    Run(cli::run::RunArgs),
    /// Load a whole object (.o or .s): BTF, maps, every program; pin them on bpffs.
    Load(cli::load::LoadArgs),
    /// Inspect programs loaded in the kernel.
    Prog(cli::prog::ProgArgs),
    /// Every redirect mode side by side with netns_1 forwarding: CPU per packet, pps, RTT, needs.
    Compare(cli::compare::CompareArgs),
    /// Follow one datagram of the lab through the kernel (tp_btf, and fentry with --functions).
    Path(cli::path::PathArgs),
    /// The lab: up, down, listen, send, status, trace.
    #[command(flatten)]
    Lab(cli::lab::LabCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Asm(a) => cli::asm::asm(a),
        Command::Disasm(a) => cli::asm::disasm(a),
        Command::Run(a) => cli::run::run(a),
        Command::Load(a) => cli::load::load(a),
        Command::Prog(a) => cli::prog::prog(a),
        Command::Compare(a) => Ok(cli::compare::compare(a)),
        Command::Lab(c) => Ok(cli::lab::run(c)),
        Command::Path(a) => Ok(cli::path::run(a)),
    };
    match result {
        Ok(code) => code,
        Err(e) => cli::report(&e),
    }
}
