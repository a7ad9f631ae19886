//! `up`: executes the plan of [`super::plan`] step by step, with this
//! workspace's own layers, and attaches the program.
//!
//! Namespaces, links, addresses, routes and TC come from the `netlink` crate
//! (rtnetlink, `include/uapi/linux/rtnetlink.h`, `if_link.h`, `pkt_sched.h`,
//! `pkt_cls.h`); sysctls are written under `/proc/sys` from a thread inside
//! the namespace; the program is assembled by `ebpf-asm` and loaded with
//! `BPF_PROG_LOAD` (`include/uapi/linux/bpf.h`) by [`crate::prog`].
//!
//! `up` starts with [`Lab::down`], like the seed's `-make down`, so running
//! it on a lab that is up rebuilds it cleanly.

use crate::error::io_text;
use std::collections::HashMap;
use std::fmt;
use std::io::Write;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use netlink::{BpfFilterSpec, FilterId, Handle, Netns, TcHook};

use super::plan::{self, LabNames, PlanOptions, Side, Step};
use super::privilege::{self, LAB_CAPS};
use super::{Lab, LabError};
use crate::asm::AsmLoad;
use crate::prog::{Program, BPF_LOG_LEVEL2, BPF_LOG_STATS};
use crate::retval::BPF_F_INGRESS;
use crate::types::ProgType;

/// The repository-relative path of the program `up` assembles.
pub const REDIRECT_S: &str = "bpf-src/redirect.s";

/// The copy of `bpf-src/redirect.s` built into the binary, used when `up`
/// does not run from the repository.
pub const EMBEDDED_REDIRECT_S: &str = include_str!("../../../bpf-src/redirect.s");

/// Where the program's assembly comes from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ProgramSource {
    /// `bpf-src/redirect.s` in the repository containing the current
    /// directory, so an edit is deployed by the next `up`; the embedded copy
    /// when there is no such repository.
    #[default]
    Default,
    /// A file given by the user.
    File(PathBuf),
    /// Text given by a caller (tests), with a name for error messages.
    Text { name: String, text: String },
}

impl ProgramSource {
    /// The text and a description of where it came from.
    pub fn resolve(&self) -> Result<(String, String), LabError> {
        match self {
            ProgramSource::Default => {
                match find_in_repo(&std::env::current_dir().unwrap_or_default()) {
                    Some(path) => read(&path).map(|t| (path.display().to_string(), t)),
                    None => Ok((
                        format!("{REDIRECT_S} (embedded copy)"),
                        EMBEDDED_REDIRECT_S.to_string(),
                    )),
                }
            }
            ProgramSource::File(path) => read(path).map(|t| (path.display().to_string(), t)),
            ProgramSource::Text { name, text } => Ok((name.clone(), text.clone())),
        }
    }
}

fn read(path: &Path) -> Result<String, LabError> {
    std::fs::read_to_string(path).map_err(|e| {
        LabError::Input(format!(
            "cannot read the program {}: {os}",
            path.display(),
            os = io_text(&e)
        ))
    })
}

/// `bpf-src/redirect.s` in `dir` or the nearest ancestor that is this
/// workspace (it has a `Cargo.toml` beside `bpf-src/`).
pub fn find_in_repo(dir: &Path) -> Option<PathBuf> {
    dir.ancestors().map(|d| d.join(REDIRECT_S)).find(|p| {
        p.is_file()
            && p.parent()
                .and_then(Path::parent)
                .is_some_and(|root| root.join("Cargo.toml").is_file())
    })
}

/// What `up` builds beyond the seed's defaults.
#[derive(Clone, Debug, Default)]
pub struct UpOptions {
    /// `REDIRECT_FLAGS = BPF_F_INGRESS`.
    pub ingress: bool,
    /// Assemble with `TRACE` defined: the `bpf_trace_printk` variant.
    pub trace: bool,
    /// Print every layer to the output: listing, `BPF_PROG_LOAD`, verifier,
    /// netlink messages.
    pub explain: bool,
    /// Build the topology only; `netns_1` forwards with its own stack.
    pub no_program: bool,
    /// Assemble with `KEEP_DEST_MAC` defined: no MAC rewrite.
    pub keep_dest_mac: bool,
    /// The assembly to load.
    pub source: ProgramSource,
}

/// What `up` did.
#[derive(Clone, Debug)]
pub struct UpReport {
    pub names: LabNames,
    /// Where the program came from (a path, or the embedded copy).
    pub source: Option<String>,
    /// veth2@1's ifindex, as resolved and assembled into the program.
    pub target_ifindex: Option<i32>,
    /// `REDIRECT_FLAGS` assembled into the program.
    pub redirect_flags: u64,
    /// The kernel's program id and tag.
    pub prog_id: Option<u32>,
    pub prog_tag: Option<String>,
    /// Instruction slots we loaded.
    pub insn_count: Option<usize>,
    /// Instructions after the verifier's rewrites (`xlated_prog_len / 8`):
    /// each `__sk_buff` field load becomes the real `sk_buff` access.
    pub xlated_insns: Option<usize>,
    /// Where the filter sits on veth1@2 ingress.
    pub filter: Option<FilterId>,
}

impl fmt::Display for UpReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = &self.names;
        write!(
            f,
            "lab up: {} | {} | {}",
            n.label(Side::Host),
            n.netns_1,
            n.netns_2
        )?;
        match (&self.source, self.prog_id, self.filter) {
            (Some(src), Some(id), Some(fid)) => write!(
                f,
                "\nprogram: {src}, TARGET_IFINDEX={} ({}), REDIRECT_FLAGS={}{}\n\
                 attached: tc filter {} on {} ingress (prio {}, handle {:#x}), program id {id}, tag {}, \
                 {} insns ({} after the verifier's rewrites)",
                self.target_ifindex.unwrap_or_default(),
                plan::VETH2_1,
                self.redirect_flags,
                if self.redirect_flags == BPF_F_INGRESS {
                    " (BPF_F_INGRESS)"
                } else {
                    ""
                },
                plan::FILTER_NAME,
                plan::VETH1_2,
                fid.prio,
                fid.handle,
                self.prog_tag.as_deref().unwrap_or("?"),
                self.insn_count.unwrap_or_default(),
                self.xlated_insns.unwrap_or_default(),
            ),
            _ => write!(f, "\nno program attached: {} forwards with its own IP stack", n.netns_1),
        }
    }
}

/// The namespaces and netlink sockets of a build in progress.
struct Builder<'a> {
    lab: &'a Lab,
    netns: HashMap<Side, Netns>,
    handles: HashMap<Side, Handle>,
    /// Ifindexes already looked up (or returned by `RTM_NEWLINK`), so each
    /// device costs one `RTM_GETLINK` at most.
    ifindexes: HashMap<(Side, &'static str), i32>,
    /// In explain mode, every netlink message of the current step, rendered.
    inspect: Option<Arc<Mutex<String>>>,
}

impl Builder<'_> {
    fn netns(&self, side: Side) -> Result<&Netns, LabError> {
        self.netns.get(&side).ok_or_else(|| {
            LabError::Failed(format!(
                "internal: namespace {} used before it was created",
                self.lab.names.label(side)
            ))
        })
    }

    fn handle(&mut self, side: Side) -> Result<&mut Handle, LabError> {
        if !self.handles.contains_key(&side) {
            let mut h = match self.lab.names.netns(side) {
                None => Handle::new(),
                Some(_) => Handle::in_netns(self.netns(side)?),
            }
            .map_err(|e| {
                LabError::Failed(format!(
                    "netlink socket in {}: {e}",
                    self.lab.names.label(side)
                ))
            })?;
            if let Some(buf) = &self.inspect {
                h.set_inspect(Some(netlink::inspect::collector(buf.clone())));
            }
            self.handles.insert(side, h);
        }
        self.handles
            .get_mut(&side)
            .ok_or_else(|| LabError::Failed("internal: netlink handle vanished".into()))
    }

    fn ifindex(&mut self, side: Side, dev: &'static str) -> Result<i32, netlink::Error> {
        if let Some(idx) = self.ifindexes.get(&(side, dev)) {
            return Ok(*idx);
        }
        let idx = match self.handle(side) {
            Ok(h) => h.link_index(dev)?,
            Err(e) => return Err(netlink::Error::Invalid(e.to_string())),
        };
        self.ifindexes.insert((side, dev), idx);
        Ok(idx)
    }

    /// Takes what the inspect callbacks collected since the last call.
    fn drain_inspect(&self) -> String {
        match &self.inspect {
            Some(buf) => buf
                .lock()
                .map(|mut s| std::mem::take(&mut *s))
                .unwrap_or_default(),
            None => String::new(),
        }
    }
}

fn nl(step: &str) -> impl Fn(netlink::Error) -> LabError + '_ {
    move |e| LabError::Failed(format!("`{step}` failed: {e}"))
}

impl Lab {
    /// Builds the lab from scratch (tearing down any previous one) and
    /// attaches the program. In explain mode every layer is written to
    /// `out` as it happens; otherwise nothing is (pass `std::io::sink()`).
    pub fn up(&self, options: &UpOptions, out: &mut dyn Write) -> Result<UpReport, LabError> {
        privilege::require("redirect-lab up", &LAB_CAPS).map_err(LabError::Privilege)?;
        // Resolve the source before touching anything, so a bad path leaves
        // a running lab alone.
        let source = if options.no_program {
            None
        } else {
            Some(options.source.resolve()?)
        };
        // Assemble once with a stand-in ifindex, so a syntax error is
        // reported before the running lab is torn down.
        if let Some((origin, text)) = &source {
            assemble(origin, text, &defines(1, options))?;
        }
        let removed = self.down()?;
        if options.explain && !removed.removed.is_empty() {
            let _ = writeln!(
                out,
                "== tearing down the previous lab first (like the seed's `-make down`)\n{removed}"
            );
        }

        let mut b = Builder {
            lab: self,
            netns: HashMap::new(),
            handles: HashMap::new(),
            ifindexes: HashMap::new(),
            inspect: options.explain.then(|| Arc::new(Mutex::new(String::new()))),
        };
        let mut report = UpReport {
            names: self.names.clone(),
            source: source.as_ref().map(|(origin, _)| origin.clone()),
            target_ifindex: None,
            redirect_flags: if options.ingress { BPF_F_INGRESS } else { 0 },
            prog_id: None,
            prog_tag: None,
            insn_count: None,
            xlated_insns: None,
            filter: None,
        };
        let mut program: Option<Program> = None;
        let steps = plan::steps(
            &self.names,
            PlanOptions {
                no_program: options.no_program,
            },
        );
        let result = (|| -> Result<(), LabError> {
            for (i, step) in steps.iter().enumerate() {
                let cmd = step.command(&self.names);
                if options.explain {
                    let _ = writeln!(out, "\n== step {}/{}: {cmd}", i + 1, steps.len());
                    if let Some(why) = step.why_added() {
                        let _ = writeln!(out, "   (not in the seed: {why})");
                    }
                }
                self.run_step(
                    &mut b,
                    step,
                    &cmd,
                    options,
                    source.as_ref(),
                    &mut report,
                    &mut program,
                    out,
                )?;
                if options.explain {
                    let _ = out.write_all(b.drain_inspect().as_bytes());
                }
            }
            Ok(())
        })();
        if let Err(e) = result {
            if options.explain {
                let _ = out.write_all(b.drain_inspect().as_bytes());
            }
            return Err(LabError::Failed(format!(
                "{e}\nThe lab is half built; `redirect-lab down{}` removes what is there.",
                self.names.prefix_arg()
            )));
        }
        Ok(report)
    }

    #[allow(clippy::too_many_arguments)]
    fn run_step(
        &self,
        b: &mut Builder<'_>,
        step: &Step,
        cmd: &str,
        options: &UpOptions,
        source: Option<&(String, String)>,
        report: &mut UpReport,
        program: &mut Option<Program>,
        out: &mut dyn Write,
    ) -> Result<(), LabError> {
        match step {
            Step::AddNetns { side } => {
                let name = self.names.netns(*side).ok_or_else(|| {
                    LabError::Failed("internal: the real host namespace cannot be created".into())
                })?;
                let ns = Netns::create(name).map_err(nl(cmd))?;
                b.netns.insert(*side, ns);
            }
            Step::LoopbackUp { side } => {
                let lo = b.ifindex(*side, "lo").map_err(nl(cmd))?;
                b.handle(*side)?.link_set_up(lo).map_err(nl(cmd))?;
            }
            Step::AddVeth {
                side,
                name,
                peer,
                peer_side,
            } => {
                // The peer is created directly in its namespace
                // (IFLA_NET_NS_FD in VETH_INFO_PEER), as `ip ... netns X` does.
                let peer_ns = Netns::open(b.netns(*peer_side)?.name()).map_err(nl(cmd))?;
                let idx = b
                    .handle(*side)?
                    .link_add_veth(name, peer, Some(&peer_ns))
                    .map_err(nl(cmd))?;
                b.ifindexes.insert((*side, *name), idx);
            }
            Step::AddAddr {
                side,
                dev,
                addr,
                prefix_len,
            } => {
                let idx = b.ifindex(*side, dev).map_err(nl(cmd))?;
                b.handle(*side)?
                    .addr_add_v4(idx, *addr, *prefix_len)
                    .map_err(nl(cmd))?;
            }
            Step::LinkUp { side, dev } => {
                let idx = b.ifindex(*side, dev).map_err(nl(cmd))?;
                b.handle(*side)?.link_set_up(idx).map_err(nl(cmd))?;
            }
            Step::AddRoute {
                side,
                dst,
                prefix_len,
                dev,
            } => {
                let idx = b.ifindex(*side, dev).map_err(nl(cmd))?;
                b.handle(*side)?
                    .route_add_v4(*dst, *prefix_len, idx, None)
                    .map_err(nl(cmd))?;
            }
            Step::Sysctl { side, sysctl } => {
                b.netns(*side)?
                    .sysctl_write(&sysctl.path, sysctl.value)
                    .map_err(nl(cmd))?;
                if options.explain {
                    let _ = writeln!(
                        out,
                        "   wrote {:?} to /proc/sys/{} from a thread inside {}",
                        sysctl.value,
                        sysctl.path,
                        self.names.label(*side)
                    );
                }
            }
            Step::SetMac { side, dev, mac } => {
                let idx = b.ifindex(*side, dev).map_err(nl(cmd))?;
                b.handle(*side)?
                    .link_set_address(idx, *mac)
                    .map_err(nl(cmd))?;
            }
            Step::ResolveIfindex { side, dev } => {
                let idx = b.ifindex(*side, dev).map_err(nl(cmd))?;
                if options.explain {
                    let _ = writeln!(
                        out,
                        "   {dev} has ifindex {idx} in {}",
                        self.names.label(*side)
                    );
                }
                report.target_ifindex = Some(idx);
            }
            Step::LoadProgram => {
                let (origin, text) = source.ok_or_else(|| {
                    LabError::Failed("internal: no program source to load".into())
                })?;
                let ifindex = report.target_ifindex.ok_or_else(|| {
                    LabError::Failed(
                        "internal: the program is loaded before its target is known".into(),
                    )
                })?;
                let (prog, slots) = load_program(origin, text, ifindex, options, out)?;
                let info = prog.info().map_err(|e| {
                    LabError::Failed(format!("BPF_OBJ_GET_INFO_BY_FD on the new program: {e}"))
                })?;
                report.prog_id = Some(info.id);
                report.prog_tag = Some(info.tag_hex());
                report.insn_count = Some(slots);
                report.xlated_insns = Some(info.xlated_len as usize / 8);
                *program = Some(prog);
            }
            Step::AddClsact { side, dev } => {
                let idx = b.ifindex(*side, dev).map_err(nl(cmd))?;
                b.handle(*side)?
                    .qdisc_replace_clsact(idx)
                    .map_err(nl(cmd))?;
            }
            Step::AttachFilter { side, dev } => {
                let prog = program.as_ref().ok_or_else(|| {
                    LabError::Failed("internal: attaching before the program is loaded".into())
                })?;
                let idx = b.ifindex(*side, dev).map_err(nl(cmd))?;
                let id = b
                    .handle(*side)?
                    .filter_replace_bpf(idx, &filter_spec(prog))
                    .map_err(nl(cmd))?;
                report.filter = Some(id);
            }
        }
        Ok(())
    }
}

impl Lab {
    /// Attaches a program the caller loaded where `up` attaches its own: a
    /// clsact qdisc on veth1@2, then the direct-action cls_bpf filter on its
    /// ingress, replacing the one there. For a lab brought up with
    /// [`UpOptions::no_program`] by callers that build their own variants
    /// (the kernel-behaviour suite); the caller keeps the program, and the
    /// filter holds its own reference until `down`.
    pub fn attach(&self, prog: &Program) -> Result<FilterId, LabError> {
        self.require_up()?;
        let qdisc = Step::AddClsact {
            side: Side::Netns1,
            dev: plan::VETH1_2,
        }
        .command(&self.names);
        let filter = Step::AttachFilter {
            side: Side::Netns1,
            dev: plan::VETH1_2,
        }
        .command(&self.names);
        let mut h = self.handle_in(Side::Netns1)?;
        let idx = h.link_index(plan::VETH1_2).map_err(nl(&qdisc))?;
        h.qdisc_replace_clsact(idx).map_err(nl(&qdisc))?;
        h.filter_replace_bpf(idx, &filter_spec(prog))
            .map_err(nl(&filter))
    }
}

/// The lab's filter: fixed priority and handle, so attaching again replaces
/// it instead of adding a second one.
fn filter_spec(prog: &Program) -> BpfFilterSpec<'_> {
    BpfFilterSpec {
        hook: TcHook::Ingress,
        prio: plan::FILTER_PRIO,
        handle: 1,
        prog: prog.as_fd(),
        name: plan::FILTER_NAME,
        direct_action: true,
    }
}

/// The `-D` constants `up` passes to the assembler.
pub fn defines(target_ifindex: i32, options: &UpOptions) -> Vec<(String, i64)> {
    let mut d = vec![
        ("TARGET_IFINDEX".to_string(), i64::from(target_ifindex)),
        (
            "REDIRECT_FLAGS".to_string(),
            if options.ingress {
                BPF_F_INGRESS as i64
            } else {
                0
            },
        ),
        ("DEST_IP".to_string(), i64::from(u32::from(plan::DEST_ADDR))),
        (
            "DEST_MAC".to_string(),
            plan::mac_as_u48(plan::DEST_MAC) as i64,
        ),
    ];
    if options.trace {
        d.push(("TRACE".to_string(), 1));
    }
    if options.keep_dest_mac {
        d.push(("KEEP_DEST_MAC".to_string(), 1));
    }
    d
}

/// Assembles the program text with `-D` constants.
fn assemble(
    origin: &str,
    text: &str,
    defines: &[(String, i64)],
) -> Result<ebpf_asm::Program, LabError> {
    let asm_options = ebpf_asm::text::AsmOptions {
        file_name: origin.to_string(),
        defines: defines.to_vec(),
    };
    ebpf_asm::text::assemble(text, &asm_options)
        .map_err(|e| LabError::Input(format!("assembling the program:\n{e}")))
}

/// Assembles and loads the program; in explain mode prints the listing,
/// the `BPF_PROG_LOAD` request and the verifier's verdict.
fn load_program(
    origin: &str,
    text: &str,
    target_ifindex: i32,
    options: &UpOptions,
    out: &mut dyn Write,
) -> Result<(Program, usize), LabError> {
    let defines = defines(target_ifindex, options);
    let assembled = assemble(origin, text, &defines)?;
    if options.explain {
        let defs: Vec<String> = defines
            .iter()
            .map(|(k, v)| match k.as_str() {
                "DEST_IP" | "DEST_MAC" => format!("-D {k}={v:#x}"),
                _ => format!("-D {k}={v}"),
            })
            .collect();
        let _ = writeln!(out, "   assembled {origin} with {}", defs.join(" "));
        let _ = out.write_all(listing(&assembled).as_bytes());
        let _ = writeln!(
            out,
            "   BPF_PROG_LOAD request (union bpf_attr, include/uapi/linux/bpf.h):\n      \
             prog_type = {} ({})\n      insn_cnt = {}\n      insns = <pointer to the {} bytes above>\n      \
             license = {:?}\n      prog_name = {:?}\n      log_level = {} (BPF_LOG_LEVEL2 | BPF_LOG_STATS)\n      \
             expected_attach_type = 0, prog_ifindex = 0 (not offloaded)",
            ProgType::SchedCls.kernel_name(),
            ProgType::SchedCls.raw(),
            assembled.insns().len(),
            assembled.insns().len() * 8,
            assembled.license(),
            crate::asm::kernel_name(assembled.name()),
            BPF_LOG_LEVEL2 | BPF_LOG_STATS,
        );
    }
    let how = AsmLoad {
        prog_type: ProgType::SchedCls,
        file_name: origin,
        maps: &[],
        verbose: options.explain,
    };
    let prog = Program::load_asm(&assembled, &how)
        .map_err(|e| LabError::Failed(format!("loading the program ({origin}):\n{e}")))?;
    if options.explain {
        let _ = writeln!(out, "   verifier verdict: accepted");
        if let Some(log) = prog.verifier_log() {
            let _ = writeln!(out, "   verifier log (level 2, with stats):");
            for line in log.lines() {
                let _ = writeln!(out, "      {line}");
            }
        }
        if let Some(stats) = prog.verifier_stats() {
            let _ = writeln!(out, "   verifier stats: {stats}");
        }
    }
    Ok((prog, assembled.insns().len()))
}

/// Each instruction as `--explain` shows it: slot, bytes, the kernel's
/// text for it (as the verifier log prints it), and the source line.
pub fn listing(p: &ebpf_asm::Program) -> String {
    let slots = p.insns();
    let decoded = p.instructions().unwrap_or_default();
    let mut s = String::new();
    for (i, insn) in slots.iter().enumerate() {
        let bytes: Vec<String> = insn.to_bytes().iter().map(|b| format!("{b:02x}")).collect();
        // The second slot of an lddw has no instruction of its own.
        let text = decoded
            .iter()
            .find(|(slot, _)| *slot == i)
            .map(|(_, ins)| {
                ebpf_asm::disasm::format_instruction(ins, ebpf_asm::disasm::Syntax::Kernel)
            })
            .unwrap_or_default();
        let src = p
            .source_of(i)
            .map(|l| {
                let words: Vec<&str> = l.text.split_whitespace().collect();
                format!("; line {}: {}", l.line, words.join(" "))
            })
            .unwrap_or_default();
        s.push_str(&format!(
            "   {i:>3}: {}   {text:<28} {src}\n",
            bytes.join(" ")
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_repository_copy_from_any_subdirectory() {
        let root = std::env::temp_dir().join(format!("lab-find-{}", std::process::id()));
        let deep = root.join("a").join("b");
        std::fs::create_dir_all(&deep).expect("mkdir");
        std::fs::create_dir_all(root.join("bpf-src")).expect("mkdir");
        std::fs::write(root.join(REDIRECT_S), "exit\n").expect("write");
        // Without the workspace's Cargo.toml beside it, a stray
        // bpf-src/redirect.s is not ours.
        assert_eq!(find_in_repo(&deep), None);
        std::fs::write(root.join("Cargo.toml"), "[workspace]\n").expect("write");
        assert_eq!(find_in_repo(&deep), Some(root.join(REDIRECT_S)));
        assert_eq!(find_in_repo(&root), Some(root.join(REDIRECT_S)));
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn the_embedded_copy_assembles_with_up_s_constants() {
        let options = UpOptions::default();
        let p = assemble("embedded", EMBEDDED_REDIRECT_S, &defines(7, &options)).expect("assemble");
        assert!(
            p.insns().len() <= 24,
            "no longer than clang's 24 instructions"
        );
        let traced = UpOptions {
            trace: true,
            ingress: true,
            ..Default::default()
        };
        let t = assemble("embedded", EMBEDDED_REDIRECT_S, &defines(7, &traced))
            .expect("assemble --trace");
        assert!(t.insns().len() > p.insns().len());
        assert!(
            listing(&p).contains("r1 = 7"),
            "TARGET_IFINDEX is assembled in:\n{}",
            listing(&p)
        );
    }

    #[test]
    fn defines_carry_the_plan_s_values() {
        let d = defines(
            5,
            &UpOptions {
                ingress: true,
                keep_dest_mac: true,
                ..Default::default()
            },
        );
        let get = |k: &str| d.iter().find(|(n, _)| n == k).map(|(_, v)| *v);
        assert_eq!(get("TARGET_IFINDEX"), Some(5));
        assert_eq!(get("REDIRECT_FLAGS"), Some(BPF_F_INGRESS as i64));
        assert_eq!(get("DEST_IP"), Some(0x0a00_020b));
        assert_eq!(get("DEST_MAC"), Some(0x0200_0000_0000));
        assert_eq!(get("KEEP_DEST_MAC"), Some(1));
        assert_eq!(get("TRACE"), None);
    }
}
