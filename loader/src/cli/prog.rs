//! `redirect-lab prog list [--program NAME]`: the programs loaded in the kernel, like
//! `bpftool prog show` (id, type, name, tag, translated and JITed sizes),
//! read with `BPF_PROG_GET_NEXT_ID`, `BPF_PROG_GET_FD_BY_ID` and
//! `BPF_OBJ_GET_INFO_BY_FD`.

use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::{json_str, CliResult};

/// `prog` arguments.
#[derive(Args)]
pub struct ProgArgs {
    #[command(subcommand)]
    command: ProgCommand,
}

#[derive(Subcommand)]
enum ProgCommand {
    /// List loaded programs (id, type, name, tag, xlated and jited sizes).
    List {
        /// Print a JSON array instead of a table.
        #[arg(long)]
        json: bool,
        /// Only programs of this name (the kernel keeps the first 15 bytes,
        /// as `redirect-lab load` names them).
        #[arg(long, value_name = "NAME")]
        program: Option<String>,
    },
    /// List a loaded program's instructions as the kernel rewrote them
    /// (like `bpftool prog dump xlated`).
    Dump {
        /// Program id (from `prog list`).
        id: u32,
        /// Listing syntax.
        #[arg(long, value_enum, default_value = "kernel")]
        syntax: super::asm::SyntaxArg,
        /// Show each slot's bytes.
        #[arg(long)]
        bytes: bool,
    },
}

/// Runs a `prog` subcommand.
pub fn prog(args: ProgArgs) -> CliResult {
    match args.command {
        ProgCommand::List { json, program } => list(json, program.as_deref()),
        ProgCommand::Dump { id, syntax, bytes } => dump(id, syntax, bytes),
    }
}

fn dump(id: u32, syntax: super::asm::SyntaxArg, bytes: bool) -> CliResult {
    let p = loader::Program::from_id(id)?;
    let info = p.info()?;
    let insns = p.xlated_insns()?;
    // Helper calls hold kernel addresses and map loads map ids here: the
    // xlated lister names them as bpftool does (see loader::xlated).
    let syms = loader::xlated::KernelSymbols::load();
    let opts = loader::xlated::XlatedOptions {
        syntax: syntax.into(),
        bytes,
    };
    let listing = loader::xlated::listing(&insns, &syms, opts)
        .map_err(|e| format!("program {id}: cannot decode its translated instructions: {e}"))?;
    outln!(
        "; program {id} \"{}\" ({}), tag {}: {} translated slots",
        info.name,
        info.type_name(),
        info.tag_hex(),
        insns.len() / 8
    );
    out!("{listing}");
    Ok(ExitCode::SUCCESS)
}

fn list(json: bool, program: Option<&str>) -> CliResult {
    let mut progs = loader::Program::list()?;
    if let Some(want) = program {
        let want = loader::asm::kernel_name(want);
        progs.retain(|p| p.name == want);
    }
    if json {
        let items: Vec<String> = progs
            .iter()
            .map(|p| {
                format!(
                    "{{\"id\":{},\"type\":{},\"name\":{},\"tag\":\"{}\",\"bytes_xlated\":{},\"bytes_jited\":{},\"uid\":{},\"gpl_compatible\":{}}}",
                    p.id,
                    json_str(&p.type_name()),
                    json_str(&p.name),
                    p.tag_hex(),
                    p.xlated_len,
                    p.jited_len,
                    p.created_by_uid,
                    p.gpl_compatible
                )
            })
            .collect();
        outln!("[{}]", items.join(","));
        return Ok(ExitCode::SUCCESS);
    }
    if progs.is_empty() {
        // An empty table would look like a failure to read the list.
        match program {
            Some(p) => outln!("no BPF program named {p:?} is loaded"),
            None => outln!("no BPF programs are loaded"),
        }
        return Ok(ExitCode::SUCCESS);
    }
    outln!(
        "{:>6}  {:<16} {:<16} {:<16} {:>8} {:>8}",
        "ID",
        "TYPE",
        "NAME",
        "TAG",
        "XLATED",
        "JITED"
    );
    for p in &progs {
        outln!(
            "{:>6}  {:<16} {:<16} {:<16} {:>7}B {:>7}B",
            p.id,
            p.type_name(),
            p.name,
            p.tag_hex(),
            p.xlated_len,
            p.jited_len
        );
    }
    Ok(ExitCode::SUCCESS)
}
