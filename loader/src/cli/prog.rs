//! `redirect-lab prog list`: the programs loaded in the kernel, like
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
    },
}

/// Runs a `prog` subcommand.
pub fn prog(args: ProgArgs) -> CliResult {
    match args.command {
        ProgCommand::List { json } => list(json),
    }
}

fn list(json: bool) -> CliResult {
    let progs = loader::Program::list()?;
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
        println!("[{}]", items.join(","));
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:>6}  {:<16} {:<16} {:<16} {:>8} {:>8}",
        "ID", "TYPE", "NAME", "TAG", "XLATED", "JITED"
    );
    for p in &progs {
        println!(
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
