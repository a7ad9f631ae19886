//! The lab's subcommands of `redirect-lab`: `up`, `down`, `listen`, `send`,
//! `status` and `trace`.
//!
//! Each is a thin shell over [`loader::lab`]: parse the flags, check
//! privileges, call the library, print, and map errors to a message and a
//! non-zero exit status. The seed's Makefile targets of the same names are
//! what they replace.

use std::io::{self, Write};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};

use loader::lab::privilege::{self, LAB_CAPS};
use loader::lab::trace::{self, TraceLimits};
use loader::lab::traffic::{print_datagram, ListenEvent};
use loader::lab::up::ProgramSource;
use loader::lab::{Lab, LabError, ListenOptions, UpOptions, LISTEN_ADDR};

/// Flags every lab command takes.
#[derive(Args, Debug, Clone, Default)]
pub struct LabArgs {
    /// Work on an isolated lab: namespaces P_host, P_netns_1, P_netns_2,
    /// leaving the real host namespace alone.
    #[arg(long, value_name = "P")]
    pub prefix: Option<String>,
}

/// The lab's subcommands, flattened into the top-level command.
#[derive(Subcommand, Debug)]
pub enum LabCommand {
    /// Build the lab (rebuilding it if it is up) and attach the mode's redirect program (--mode).
    Up(UpArgs),
    /// Remove the lab: namespaces, devices, routes. Succeeds on an absent or half-built lab.
    Down(LabArgs),
    /// Receive UDP on 10.0.2.11:7777 inside netns_2 and print each payload.
    Listen(ListenArgs),
    /// Send one UDP datagram to 10.0.2.11:7777 from the host side, bound to veth1@1.
    Send(SendArgs),
    /// ICMP echo to 10.0.2.11 from the host side, out of veth1@1: two-way traffic through the lab.
    Ping(PingArgs),
    /// Show devices (ifindex, MAC, rx/tx counters), the TC filter and its program.
    Status(LabArgs),
    /// The lab's maps: `map set ports 0 veth2@1` retargets `--mode devmap` without reloading.
    #[command(subcommand)]
    Map(MapCommand),
    /// Print the kernel's trace_pipe (what the --trace program reports); mounts tracefs if needed.
    Trace(TraceArgs),
}

#[derive(Args, Debug)]
pub struct UpArgs {
    #[command(flatten)]
    pub lab: LabArgs,
    /// The redirect technique: egress (default), ingress, peer, neigh, fib, xdp, devmap, tcx.
    #[arg(long, value_name = "M")]
    pub mode: Option<String>,
    /// Redirect with BPF_F_INGRESS (the same as --mode ingress): the packet is
    /// received on veth2@1 instead of sent out of it.
    #[arg(long)]
    pub ingress: bool,
    /// Reproduce the mode's pitfall (each mode's, from the mode table, in
    /// `--help`).
    #[arg(long, long_help = pitfall_help())]
    pub pitfall: bool,
    /// fib's pitfall by name: forwarding off on veth1@2 (implies --mode fib's --pitfall).
    #[arg(long)]
    pub forwarding_off: bool,
    /// xdp's pitfall by name: no XDP_PASS program on veth2@2.
    #[arg(long)]
    pub no_peer_prog: bool,
    /// XDP modes: attach in generic (SKB) mode instead of native.
    #[arg(long)]
    pub xdp_generic: bool,
    /// Load the variant that reports each step with bpf_trace_printk (see `redirect-lab trace`).
    #[arg(long)]
    pub trace: bool,
    /// Print every layer: the listing with bytes, the BPF_PROG_LOAD request and
    /// verifier verdict, and each netlink message (decoded, hex, ip/tc command).
    #[arg(long)]
    pub explain: bool,
    /// Build the topology without the program: netns_1 forwards with its own stack.
    #[arg(long)]
    pub no_program: bool,
    /// Leave the destination MAC alone (assembles with KEEP_DEST_MAC): veth2@2 then drops the packet.
    #[arg(long)]
    pub keep_dest_mac: bool,
    /// Assemble this file instead of the mode's bpf-src/*.s (default bpf-src/redirect.s).
    #[arg(long, value_name = "FILE")]
    pub source: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum MapCommand {
    /// Put DEV's ifindex (a device in netns_1) at KEY of the running lab's map NAME.
    Set(MapSetArgs),
}

#[derive(Args, Debug)]
pub struct MapSetArgs {
    #[command(flatten)]
    pub lab: LabArgs,
    /// The map (`ports` for --mode devmap).
    pub name: String,
    /// The key.
    pub key: u32,
    /// A device in netns_1, e.g. veth2@1.
    pub dev: String,
}

#[derive(Args, Debug)]
pub struct ListenArgs {
    #[command(flatten)]
    pub lab: LabArgs,
    /// Stop after N datagrams.
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// Stop after S seconds (fractions allowed).
    #[arg(long, value_name = "S")]
    pub timeout: Option<f64>,
    /// Send each datagram back to its sender.
    #[arg(long)]
    pub echo: bool,
}

#[derive(Args, Debug)]
pub struct SendArgs {
    #[command(flatten)]
    pub lab: LabArgs,
    /// The payload (a newline is added, as `echo hello | nc -u` does).
    #[arg(default_value = "hello")]
    pub message: String,
    /// Wait up to S seconds for a reply (from `listen --echo`) and print it.
    #[arg(long, value_name = "S")]
    pub reply: Option<f64>,
}

#[derive(Args, Debug)]
pub struct PingArgs {
    #[command(flatten)]
    pub lab: LabArgs,
    /// Number of echo requests.
    #[arg(long, short = 'c', value_name = "N", default_value_t = 3)]
    pub count: u16,
    /// Seconds to wait for each reply.
    #[arg(long, short = 'W', value_name = "S", default_value_t = 1.0)]
    pub timeout: f64,
}

#[derive(Args, Debug)]
pub struct TraceArgs {
    /// Stop after N lines.
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// Stop after S seconds.
    #[arg(long, value_name = "S")]
    pub timeout: Option<f64>,
    /// Print only the lines of the lab's program ("redirect:").
    #[arg(long)]
    pub only_lab: bool,
}

/// Runs one lab subcommand; errors are printed as `redirect-lab CMD: message`.
pub fn run(cmd: LabCommand) -> ExitCode {
    let (name, result) = match cmd {
        LabCommand::Up(a) => ("up", up(a)),
        LabCommand::Down(a) => ("down", down(a)),
        LabCommand::Listen(a) => ("listen", listen(a)),
        LabCommand::Send(a) => ("send", send(a)),
        LabCommand::Ping(a) => ("ping", ping(a)),
        LabCommand::Status(a) => ("status", status(a)),
        LabCommand::Trace(a) => ("trace", trace_cmd(a)),
        LabCommand::Map(MapCommand::Set(a)) => ("map set", map_set(a)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // The refusal already starts with "redirect-lab CMD needs root".
        Err(LabError::Privilege(m)) => {
            eprintln!("{m}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("redirect-lab {name}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn seconds(flag: &str, s: Option<f64>) -> Result<Option<Duration>, LabError> {
    match s {
        None => Ok(None),
        Some(v) => Duration::try_from_secs_f64(v).map(Some).map_err(|_| {
            LabError::Input(if v.is_finite() && v > 0.0 {
                format!(
                    "{flag} {v}: too large; at most {} seconds fit in a Duration",
                    u64::MAX
                )
            } else {
                format!("{flag} {v}: give a number of seconds >= 0")
            })
        }),
    }
}

fn lab_for(args: &LabArgs, what: &str) -> Result<Lab, LabError> {
    privilege::require(what, &LAB_CAPS).map_err(LabError::Privilege)?;
    Lab::new(args.prefix.as_deref())
}

fn up(a: UpArgs) -> Result<(), LabError> {
    let lab = lab_for(&a.lab, "redirect-lab up")?;
    let mode = match &a.mode {
        Some(name) => loader::lab::mode::find(name).map_err(LabError::Input)?,
        None => loader::lab::mode::default_mode(),
    };
    for (flag, set, wants) in [
        ("--forwarding-off", a.forwarding_off, "fib"),
        ("--no-peer-prog", a.no_peer_prog, "xdp"),
    ] {
        if set && mode.name != wants {
            return Err(LabError::Input(format!(
                "{flag} is the {wants} mode's pitfall; give --mode {wants}"
            )));
        }
    }
    let options = UpOptions {
        mode,
        ingress: a.ingress,
        pitfall: a.pitfall || a.forwarding_off || a.no_peer_prog,
        xdp_generic: a.xdp_generic,
        trace: a.trace,
        explain: a.explain,
        no_program: a.no_program,
        keep_dest_mac: a.keep_dest_mac,
        source: match a.source {
            Some(path) => ProgramSource::File(path.into()),
            None => ProgramSource::Default,
        },
    };
    // Not `Out`: a closed stdout must not stop `up` half way through.
    let mut out = io::stdout().lock();
    let report = lab.up(&options, &mut out)?;
    let _ = writeln!(out, "{report}");
    Ok(())
}

fn map_set(a: MapSetArgs) -> Result<(), LabError> {
    let lab = lab_for(&a.lab, "redirect-lab map set")?;
    let ifindex = lab.map_set(&a.name, a.key, &a.dev)?;
    outln!(
        "{}[{}] = ifindex {ifindex} ({} in {}); the program is unchanged",
        a.name,
        a.key,
        a.dev,
        lab.names.netns_1
    );
    Ok(())
}

fn down(a: LabArgs) -> Result<(), LabError> {
    let lab = lab_for(&a, "redirect-lab down")?;
    let report = lab.down()?;
    outln!("{report}");
    Ok(())
}

fn listen(a: ListenArgs) -> Result<(), LabError> {
    let lab = lab_for(&a.lab, "redirect-lab listen")?;
    let options = ListenOptions {
        count: a.count,
        timeout: seconds("--timeout", a.timeout)?,
        echo: a.echo,
    };
    let mut out = super::Out;
    let netns_2 = lab.names.netns_2.clone();
    let netns_2_label = lab.names.label(loader::lab::Side::Netns2).to_string();
    let echoing = if a.echo {
        ", echoing each datagram back"
    } else {
        ""
    };
    let n = lab.listen(options, |event| {
        let _ = match event {
            // Only now, with the socket bound: a lab that is not up (or a
            // port already taken) fails before anything claims to listen.
            ListenEvent::Listening => writeln!(
                out,
                "listening on UDP {LISTEN_ADDR} in {netns_2_label}{echoing}"
            ),
            ListenEvent::Datagram(d) => print_datagram(&mut out, d),
            ListenEvent::LabGone => {
                writeln!(out, "(the lab is down; waiting for `redirect-lab up`)")
            }
            ListenEvent::LabRebuilt => {
                writeln!(out, "(the lab was rebuilt; listening in the new {netns_2})")
            }
        };
        let _ = out.flush();
    })?;
    if a.count.is_some() || a.timeout.is_some() {
        outln!("received {n} datagram(s)");
    }
    Ok(())
}

fn send(a: SendArgs) -> Result<(), LabError> {
    let lab = lab_for(&a.lab, "redirect-lab send")?;
    let payload = format!("{}\n", a.message);
    let reply = lab.send(payload.as_bytes(), seconds("--reply", a.reply)?)?;
    outln!("sent {} bytes to {LISTEN_ADDR} from veth1@1", payload.len());
    if a.reply.is_some() {
        match reply {
            Some(d) => {
                out!("reply: ");
                let _ = print_datagram(&mut super::Out, &d);
            }
            None => {
                return Err(LabError::Failed(
                    "no reply came back in time (is `redirect-lab listen --echo` running?)".into(),
                ))
            }
        }
    }
    Ok(())
}

fn ping(a: PingArgs) -> Result<(), LabError> {
    let lab = lab_for(&a.lab, "redirect-lab ping")?;
    let timeout = seconds("--timeout", Some(a.timeout))?.unwrap_or_default();
    let replies = lab.ping(a.count, timeout)?;
    let dest = LISTEN_ADDR.ip();
    for (i, r) in replies.iter().enumerate() {
        match r {
            Some(r) => outln!(
                "reply from {dest}: icmp_seq={} time={:.3} ms",
                r.seq,
                r.rtt.as_secs_f64() * 1000.0
            ),
            None => outln!(
                "no reply from {dest}: icmp_seq={} (waited {timeout:?})",
                i + 1
            ),
        }
    }
    let got = replies.iter().filter(|r| r.is_some()).count();
    outln!("{} sent, {got} answered", replies.len());
    if got == 0 && !replies.is_empty() {
        return Err(LabError::Failed(format!("no echo reply from {dest}")));
    }
    Ok(())
}

fn status(a: LabArgs) -> Result<(), LabError> {
    let lab = lab_for(&a, "redirect-lab status")?;
    let st = lab.status()?;
    out!("{st}");
    Ok(())
}

fn trace_cmd(a: TraceArgs) -> Result<(), LabError> {
    privilege::require(
        "redirect-lab trace",
        &[(privilege::CAP_SYS_ADMIN, "CAP_SYS_ADMIN")],
    )
    .map_err(LabError::Privilege)?;
    let limits = TraceLimits {
        count: a.count,
        timeout: seconds("--timeout", a.timeout)?,
        only: a.only_lab.then_some("redirect:"),
        until: None,
    };
    eprintln!("reading trace_pipe (Ctrl-C to stop)");
    trace::follow(limits, &mut super::Out).map_err(LabError::Failed)?;
    Ok(())
}

/// `up --help`'s text for `--pitfall`, read from the mode table, so a new
/// mode's pitfall is listed without an edit here.
fn pitfall_help() -> String {
    let mut h = String::from("Reproduce the mode's pitfall:");
    for m in loader::lab::mode::MODES {
        if let Some(p) = &m.pitfall {
            h.push_str(&format!("\n  {}: {}", m.name, p.what));
        }
    }
    h
}
