//! `up`: executes the plan of [`super::plan`] step by step, with this
//! workspace's own layers, and attaches the program.
//!
//! Namespaces, links, addresses, routes and TC come from the `netlink` crate
//! (rtnetlink, `include/uapi/linux/rtnetlink.h`, `if_link.h`, `pkt_sched.h`,
//! `pkt_cls.h`); sysctls are written under `/proc/sys` from a thread inside
//! the namespace; the program is assembled by `ebpf-asm` and loaded with
//! `BPF_PROG_LOAD` (`include/uapi/linux/bpf.h`) by [`crate::prog`]; TCX
//! and netkit attachments are `BPF_LINK_CREATE` links ([`crate::link`]),
//! pinned on bpffs.
//!
//! `up` starts with [`Lab::down`], like the seed's `-make down`, so running
//! it on a lab that is up rebuilds it cleanly.

use crate::error::io_text;
use std::collections::HashMap;
use std::fmt;
use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use netlink::{BpfFilterSpec, FilterId, Handle, Netns, TcHook};

use super::mode::{self, Extra, Hook, Mode};
use super::plan::{self, LabNames, PlanOptions, Side, Step};
use super::privilege::{self, LAB_CAPS};
use super::{Lab, LabError};
use crate::asm::AsmLoad;
use crate::link::Link;
use crate::prog::{Program, BPF_LOG_LEVEL2, BPF_LOG_STATS};
use crate::retval::BPF_F_INGRESS;
use crate::types::AttachType;
use crate::types::ProgType;

/// The repository-relative path of the default mode's program.
pub const REDIRECT_S: &str = "bpf-src/redirect.s";

/// The copy of `bpf-src/redirect.s` built into the binary, used when `up`
/// does not run from the repository.
pub const EMBEDDED_REDIRECT_S: &str = include_str!("../../../bpf-src/redirect.s");

/// Where the program's assembly comes from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ProgramSource {
    /// The mode's `bpf-src/<file>.s` in the repository containing the current
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
    /// The text of the default mode's program and where it came from.
    pub fn resolve(&self) -> Result<(String, String), LabError> {
        self.resolve_for(mode::default_mode().source, mode::default_mode().embedded)
    }

    /// The text for a program `rel` (repository-relative) with its embedded
    /// copy, and a description of where it came from.
    pub fn resolve_for(&self, rel: &str, embedded: &str) -> Result<(String, String), LabError> {
        match self {
            ProgramSource::Default => {
                match find_file_in_repo(&std::env::current_dir().unwrap_or_default(), rel) {
                    Some(path) => read(&path).map(|t| (path.display().to_string(), t)),
                    None => Ok((format!("{rel} (embedded copy)"), embedded.to_string())),
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
    find_file_in_repo(dir, REDIRECT_S)
}

/// `rel` (`bpf-src/NAME.s`) in `dir` or its nearest ancestor that is this
/// workspace.
pub fn find_file_in_repo(dir: &Path, rel: &str) -> Option<PathBuf> {
    dir.ancestors().map(|d| d.join(rel)).find(|p| {
        p.is_file()
            && p.parent()
                .and_then(Path::parent)
                .is_some_and(|root| root.join("Cargo.toml").is_file())
    })
}

/// What `up` builds beyond the seed's defaults.
#[derive(Clone, Debug)]
pub struct UpOptions {
    /// The technique (`--mode`); see [`super::mode::MODES`].
    pub mode: &'static Mode,
    /// `--ingress`: shorthand for the `ingress` mode (`BPF_F_INGRESS`).
    pub ingress: bool,
    /// Reproduce the mode's pitfall (`--pitfall`).
    pub pitfall: bool,
    /// XDP modes: generic (`XDP_FLAGS_SKB_MODE`) instead of native.
    pub xdp_generic: bool,
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

impl Default for UpOptions {
    fn default() -> UpOptions {
        UpOptions {
            mode: mode::default_mode(),
            ingress: false,
            pitfall: false,
            xdp_generic: false,
            trace: false,
            explain: false,
            no_program: false,
            keep_dest_mac: false,
            source: ProgramSource::Default,
        }
    }
}

impl UpOptions {
    /// The mode in effect: `--ingress` means the `ingress` mode.
    pub fn effective_mode(&self) -> &'static Mode {
        if self.ingress && self.mode == mode::default_mode() {
            mode::find("ingress").unwrap_or(self.mode)
        } else {
            self.mode
        }
    }

    /// Refuses combinations that mean nothing, before anything is touched.
    pub fn check(&self) -> Result<(), LabError> {
        let m = self.effective_mode();
        if self.ingress && m.name != "ingress" {
            return Err(LabError::Input(format!(
                "--ingress is the `ingress` mode; it cannot be combined with --mode {}",
                m.name
            )));
        }
        if self.pitfall && m.pitfall.is_none() {
            let with: Vec<&str> = mode::MODES
                .iter()
                .filter(|m| m.pitfall.is_some())
                .map(|m| m.name)
                .collect();
            return Err(LabError::Input(format!(
                "mode {} has no pitfall to show; --pitfall works with {}",
                m.name,
                with.join(", ")
            )));
        }
        // --trace and --keep-dest-mac select conditional blocks of the
        // program; a program without them would silently ignore the flag.
        for (set, flag, block) in [
            (self.trace, "--trace", ".ifdef TRACE"),
            (
                self.keep_dest_mac,
                "--keep-dest-mac",
                ".ifndef KEEP_DEST_MAC",
            ),
        ] {
            if set && self.source == ProgramSource::Default && !m.embedded.contains(block) {
                return Err(LabError::Input(format!(
                    "{flag} selects a variant of the program that {} does not have (no `{block}` \
                     in it); modes with it: {}",
                    m.source,
                    mode::MODES
                        .iter()
                        .filter(|x| x.embedded.contains(block))
                        .map(|x| x.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
        if self.xdp_generic && m.hook != Hook::Xdp {
            return Err(LabError::Input(format!(
                "--xdp-generic needs an XDP mode; {} runs at {}",
                m.name,
                m.hook.describe()
            )));
        }
        Ok(())
    }
}

/// What `up` did.
#[derive(Clone, Debug)]
pub struct UpReport {
    pub names: LabNames,
    /// The mode's name.
    pub mode: &'static str,
    /// Where the program came from (a path, or the embedded copy).
    pub source: Option<String>,
    /// The redirect target's ifindex, as resolved and assembled into the program.
    pub target_ifindex: Option<i32>,
    /// The redirect target's name (veth2@1, or the pitfall's device).
    pub target: &'static str,
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
    /// Where the filter sits on veth1@2 ingress (TC hooks, and the TCX
    /// fallback).
    pub filter: Option<FilterId>,
    /// How the program is attached, in one line.
    pub attached: Option<String>,
    /// What `up` noticed on the way: a fallback, a pitfall's effect, a
    /// self-check's result.
    pub notes: Vec<String>,
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
        match (&self.source, self.prog_id, &self.attached) {
            (Some(src), Some(id), Some(how)) => write!(
                f,
                "\nmode {}: program {src}, TARGET_IFINDEX={} ({}), REDIRECT_FLAGS={}{}\n\
                 attached: {how}, program id {id}, tag {}, \
                 {} insns ({} after the verifier's rewrites)",
                self.mode,
                self.target_ifindex.unwrap_or_default(),
                self.target,
                self.redirect_flags,
                if self.redirect_flags == BPF_F_INGRESS {
                    " (BPF_F_INGRESS)"
                } else {
                    ""
                },
                self.prog_tag.as_deref().unwrap_or("?"),
                self.insn_count.unwrap_or_default(),
                self.xlated_insns.unwrap_or_default(),
            )?,
            _ => write!(
                f,
                "\nno program attached: {} forwards with its own IP stack",
                n.netns_1
            )?,
        }
        for note in &self.notes {
            write!(f, "\n{note}")?;
        }
        Ok(())
    }
}

/// The namespaces and netlink sockets of a build in progress, and what the
/// steps so far produced.
struct Builder<'a> {
    lab: &'a Lab,
    options: &'a UpOptions,
    /// The mode's program text and where it came from.
    source: Option<(String, String)>,
    report: UpReport,
    program: Option<Program>,
    /// The mode's maps, created by `Step::CreateMap`, by name.
    maps: Vec<(&'static str, crate::map::Map)>,
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

    fn program(&self) -> Result<&Program, LabError> {
        self.program.as_ref().ok_or_else(|| {
            LabError::Failed("internal: attaching before the program is loaded".into())
        })
    }

    /// clsact on `dev`, then the lab's cls_bpf filter on its ingress.
    fn attach_tc(&mut self, side: Side, dev: &'static str, cmd: &str) -> Result<(), LabError> {
        let idx = self.ifindex(side, dev).map_err(nl(cmd))?;
        let fd = self.program()?.as_fd().try_clone_to_owned().map_err(|e| {
            LabError::Failed(format!("duplicating the program fd: {}", io_text(&e)))
        })?;
        let h = self.handle(side)?;
        h.qdisc_replace_clsact(idx).map_err(nl(cmd))?;
        let id = h
            .filter_replace_bpf(idx, &filter_spec_fd(fd.as_fd()))
            .map_err(nl(cmd))?;
        self.report.filter = Some(id);
        self.report.attached = Some(format!(
            "tc filter {} on {dev} ingress (prio {}, handle {:#x})",
            plan::FILTER_NAME,
            id.prio,
            id.handle
        ));
        Ok(())
    }

    /// Runs one step of the plan.
    fn run_step(&mut self, step: &Step, cmd: &str, out: &mut dyn Write) -> Result<(), LabError> {
        let names = &self.lab.names;
        let explain = self.options.explain;
        match step {
            Step::AddNetns { side } => {
                let name = names.netns(*side).ok_or_else(|| {
                    LabError::Failed("internal: the real host namespace cannot be created".into())
                })?;
                let ns = Netns::create(name).map_err(nl(cmd))?;
                self.netns.insert(*side, ns);
            }
            Step::LoopbackUp { side } => {
                let lo = self.ifindex(*side, "lo").map_err(nl(cmd))?;
                self.handle(*side)?.link_set_up(lo).map_err(nl(cmd))?;
            }
            Step::AddVeth {
                side,
                name,
                peer,
                peer_side,
            } => {
                // The peer is created directly in its namespace
                // (IFLA_NET_NS_FD in VETH_INFO_PEER), as `ip ... netns X` does.
                let peer_ns = Netns::open(self.netns(*peer_side)?.name()).map_err(nl(cmd))?;
                let idx = self
                    .handle(*side)?
                    .link_add_veth(name, peer, Some(&peer_ns))
                    .map_err(nl(cmd))?;
                self.ifindexes.insert((*side, *name), idx);
            }
            Step::AddNetkit {
                side,
                name,
                peer,
                peer_side,
                peer_mac,
            } => {
                let peer_ns = Netns::open(self.netns(*peer_side)?.name()).map_err(nl(cmd))?;
                let idx = self
                    .handle(*side)?
                    .link_add_netkit(
                        name,
                        peer,
                        Some(&peer_ns),
                        netlink::consts::NETKIT_L2,
                        *peer_mac,
                    )
                    .map_err(nl(cmd))?;
                self.ifindexes.insert((*side, *name), idx);
            }
            Step::AddAddr {
                side,
                dev,
                addr,
                prefix_len,
            } => {
                let idx = self.ifindex(*side, dev).map_err(nl(cmd))?;
                self.handle(*side)?
                    .addr_add_v4(idx, *addr, *prefix_len)
                    .map_err(nl(cmd))?;
            }
            Step::LinkUp { side, dev } => {
                let idx = self.ifindex(*side, dev).map_err(nl(cmd))?;
                self.handle(*side)?.link_set_up(idx).map_err(nl(cmd))?;
            }
            Step::AddRoute {
                side,
                dst,
                prefix_len,
                dev,
            } => {
                let idx = self.ifindex(*side, dev).map_err(nl(cmd))?;
                self.handle(*side)?
                    .route_add_v4(*dst, *prefix_len, idx, None)
                    .map_err(nl(cmd))?;
            }
            Step::Sysctl { side, sysctl } | Step::Extra(Extra::Sysctl { side, sysctl }) => {
                self.netns(*side)?
                    .sysctl_write(&sysctl.path, sysctl.value)
                    .map_err(nl(cmd))?;
                if explain {
                    let _ = writeln!(
                        out,
                        "   wrote {:?} to /proc/sys/{} from a thread inside {}",
                        sysctl.value,
                        sysctl.path,
                        names.label(*side)
                    );
                }
            }
            Step::SetMac { side, dev, mac } => {
                let idx = self.ifindex(*side, dev).map_err(nl(cmd))?;
                self.handle(*side)?
                    .link_set_address(idx, *mac)
                    .map_err(nl(cmd))?;
            }
            Step::ResolveIfindex { side, dev } => {
                let idx = self.ifindex(*side, dev).map_err(nl(cmd))?;
                if explain {
                    let _ = writeln!(out, "   {dev} has ifindex {idx} in {}", names.label(*side));
                }
                self.report.target_ifindex = Some(idx);
                self.report.target = dev;
            }
            Step::LoadProgram { .. } => {
                let (origin, text) = self.source.as_ref().ok_or_else(|| {
                    LabError::Failed("internal: no program source to load".into())
                })?;
                let ifindex = self.report.target_ifindex.ok_or_else(|| {
                    LabError::Failed(
                        "internal: the program is loaded before its target is known".into(),
                    )
                })?;
                let maps: Vec<(&str, BorrowedFd<'_>)> =
                    self.maps.iter().map(|(n, m)| (*n, m.as_fd())).collect();
                let prog_type = self.options.effective_mode().hook.prog_type();
                let (prog, slots) =
                    load_program(origin, text, ifindex, self.options, prog_type, &maps, out)?;
                let info = prog.info().map_err(|e| {
                    LabError::Failed(format!("BPF_OBJ_GET_INFO_BY_FD on the new program: {e}"))
                })?;
                self.report.prog_id = Some(info.id);
                self.report.prog_tag = Some(info.tag_hex());
                self.report.insn_count = Some(slots);
                self.report.xlated_insns = Some(info.xlated_len as usize / 8);
                self.program = Some(prog);
            }
            Step::AddClsact { side, dev } => {
                let idx = self.ifindex(*side, dev).map_err(nl(cmd))?;
                self.handle(*side)?
                    .qdisc_replace_clsact(idx)
                    .map_err(nl(cmd))?;
            }
            Step::AttachFilter { side, dev } => self.attach_tc(*side, dev, cmd)?,
            Step::AttachTcx { side, dev } => self.attach_tcx(*side, dev, cmd, out)?,
            Step::AttachXdp { side, dev, generic } => {
                let idx = self.ifindex(*side, dev).map_err(nl(cmd))?;
                let flags = xdp_flags(*generic);
                let fd = self.program()?.as_fd().try_clone_to_owned().map_err(|e| {
                    LabError::Failed(format!("duplicating the program fd: {}", io_text(&e)))
                })?;
                self.handle(*side)?
                    .xdp_attach(idx, fd.as_fd(), flags, None)
                    .map_err(nl(cmd))?;
                self.report.attached = Some(format!(
                    "xdp on {dev} ({})",
                    if *generic {
                        "generic, XDP_FLAGS_SKB_MODE"
                    } else {
                        "native, XDP_FLAGS_DRV_MODE"
                    }
                ));
            }
            Step::Extra(Extra::TxChecksumOff { side, dev }) => {
                let dev: &str = dev;
                self.lab
                    .run_in(*side, || netlink::ethtool_set_tx_csum(dev, false))?
                    .map_err(|e| LabError::Failed(format!("`{cmd}` failed: {e}")))?;
            }
            Step::Extra(Extra::XdpPassOnPeer) => {
                let (origin, text) = ProgramSource::Default
                    .resolve_for(mode::XDP_PASS_S, mode::EMBEDDED_XDP_PASS_S)?;
                let p = assemble(&origin, &text, &[])?;
                let prog = p
                    .load(&AsmLoad {
                        prog_type: ProgType::Xdp,
                        file_name: &origin,
                        maps: &[],
                        verbose: false,
                    })
                    .map_err(|e| LabError::Failed(format!("loading {origin}:\n{e}")))?;
                let idx = self.ifindex(Side::Netns2, plan::VETH2_2).map_err(nl(cmd))?;
                self.handle(Side::Netns2)?
                    .xdp_attach(idx, prog.as_fd(), xdp_flags(false), None)
                    .map_err(nl(cmd))?;
                self.report.notes.push(format!(
                    "{} runs {origin} (XDP_PASS), native",
                    plan::VETH2_2
                ));
            }
            Step::CreateMap { map } => {
                if explain {
                    let _ = writeln!(
                        out,
                        "   BPF_MAP_CREATE request (union bpf_attr, include/uapi/linux/bpf.h):\n      \
                         map_type = {} ({})\n      key_size = {}\n      value_size = {}\n      \
                         max_entries = {}\n      map_name = {:?}",
                        map.map_type.kernel_name(),
                        map.map_type.raw(),
                        map.key_size,
                        map.value_size,
                        map.max_entries,
                        map.name
                    );
                }
                let m = super::maps::create(map)?;
                let path = plan::map_pin_path(names, map.name);
                crate::pin::ensure_bpffs()
                    .and_then(|()| {
                        let _ = crate::pin::unpin(&path);
                        m.pin(&path)
                    })
                    .map_err(|e| LabError::Failed(format!("`{cmd}`: {e}")))?;
                self.report.notes.push(format!(
                    "map {} ({}) pinned at {}; retarget with `redirect-lab map set{} {} KEY DEV`",
                    map.name,
                    map.map_type.kernel_name(),
                    path.display(),
                    names.prefix_arg(),
                    map.name
                ));
                self.maps.push((map.name, m));
            }
            Step::FillMap { map, key, dev } => {
                let idx = self.ifindex(Side::Netns1, dev).map_err(nl(cmd))?;
                let m = self
                    .maps
                    .iter()
                    .find(|(n, _)| *n == map.name)
                    .map(|(_, m)| m)
                    .ok_or_else(|| {
                        LabError::Failed("internal: map filled before created".into())
                    })?;
                let (k, v) = (key.to_ne_bytes(), (idx as u32).to_ne_bytes());
                self.netns(Side::Netns1)?
                    .run(|| m.update(&k, &v, 0))
                    .map_err(nl(cmd))?
                    .map_err(|e| LabError::Failed(format!("`{cmd}`: {e}")))?;
                if explain {
                    let _ = writeln!(out, "   {}[{key}] = {idx} ({dev})", map.name);
                }
            }
            Step::Extra(Extra::Link(p)) => self.attach_link(p, cmd, out)?,
            Step::Extra(Extra::SameNetnsPair { name, peer }) => {
                let h = self.handle(Side::Netns1)?;
                let a = h.link_add_veth(name, peer, None).map_err(nl(cmd))?;
                let b = h.link_index(peer).map_err(nl(cmd))?;
                h.link_set_up(a).map_err(nl(cmd))?;
                h.link_set_up(b).map_err(nl(cmd))?;
                self.ifindexes.insert((Side::Netns1, *name), a);
            }
        }
        Ok(())
    }

    /// A mode's second program ([`mode::LinkProgram`]): assembled with its
    /// target's ifindex, loaded, attached with `BPF_LINK_CREATE` from a
    /// thread in netns_1 (ifindexes are per namespace), and pinned so it
    /// outlives this process; `down` removes the pin with the lab's others.
    fn attach_link(
        &mut self,
        p: &'static mode::LinkProgram,
        cmd: &str,
        out: &mut dyn Write,
    ) -> Result<(), LabError> {
        let explain = self.options.explain;
        let (origin, text) = ProgramSource::Default.resolve_for(p.source, p.embedded)?;
        let target = self.ifindex(Side::Netns1, p.target).map_err(nl(cmd))?;
        let dev = self.ifindex(Side::Netns1, p.dev).map_err(nl(cmd))?;
        if explain {
            let _ = writeln!(
                out,
                "   {} has ifindex {target} in {} (the program's TARGET_IFINDEX)",
                p.target,
                self.lab.names.label(Side::Netns1)
            );
        }
        let (prog, _) = load_program(&origin, &text, target, self.options, p.prog_type, &[], out)?;
        if explain {
            let _ = writeln!(
                out,
                "   BPF_LINK_CREATE request (union bpf_attr, include/uapi/linux/bpf.h), from a thread \
                 in {}:\n      prog_fd = <{origin}>\n      target_ifindex = {dev} ({})\n      \
                 attach_type = {} ({})\n      flags = 0\n   the program runs at {}",
                self.lab.names.label(Side::Netns1),
                p.dev,
                p.attach.kernel_name(),
                p.attach.raw(),
                p.runs
            );
        }
        let link = self
            .netns(Side::Netns1)?
            .run(|| Link::attach_ifindex(prog.as_fd(), dev as u32, p.attach, 0))
            .map_err(nl(cmd))?
            .map_err(|e| LabError::Failed(format!("`{cmd}` failed: {e}")))?;
        let path = plan::link_pin_path(&self.lab.names, p.attach);
        crate::pin::ensure_bpffs()
            .and_then(|()| {
                let _ = crate::pin::unpin(&path);
                link.pin(&path)
            })
            .map_err(|e| LabError::Failed(format!("`{cmd}`: pinning the link: {e}")))?;
        let info = link
            .info()
            .map_err(|e| LabError::Failed(format!("link info: {e}")))?;
        let pinfo = prog
            .info()
            .map_err(|e| LabError::Failed(format!("BPF_OBJ_GET_INFO_BY_FD: {e}")))?;
        self.report.notes.push(format!(
            "second program: {origin} (program id {}, tag {}) on {} link {} through {} ({}), \
             runs at {}, pinned at {}",
            pinfo.id,
            pinfo.tag_hex(),
            link_type_name(info.link_type),
            info.id,
            p.dev,
            p.attach.kernel_name(),
            p.runs,
            path.display()
        ));
        Ok(())
    }

    /// `BPF_LINK_CREATE` with `BPF_TCX_INGRESS` from a thread inside the
    /// device's namespace (ifindexes are per namespace), then a pin so the
    /// link outlives this process. Where the kernel refuses (no TCX before
    /// 6.6), a note says so and the program goes on clsact + cls_bpf.
    fn attach_tcx(
        &mut self,
        side: Side,
        dev: &'static str,
        cmd: &str,
        out: &mut dyn Write,
    ) -> Result<(), LabError> {
        let idx = self.ifindex(side, dev).map_err(nl(cmd))?;
        if self.options.explain {
            let _ = writeln!(
                out,
                "   BPF_LINK_CREATE request (union bpf_attr, include/uapi/linux/bpf.h), from a thread \
                 in {}:\n      prog_fd = <the program>\n      target_ifindex = {idx} ({dev})\n      \
                 attach_type = {} ({})\n      flags = 0 (append to the chain; BPF_F_BEFORE/AFTER order it)",
                self.lab.names.label(side),
                AttachType::TcxIngress.kernel_name(),
                AttachType::TcxIngress.raw()
            );
        }
        let fd = self.program()?.as_fd();
        let attempt = self
            .netns(side)?
            .run(|| Link::attach_ifindex(fd, idx as u32, AttachType::TcxIngress, 0))
            .map_err(nl(cmd))?;
        match attempt {
            Ok(link) => {
                let path = plan::tcx_pin_path(&self.lab.names);
                crate::pin::ensure_bpffs()
                    .and_then(|()| {
                        let _ = crate::pin::unpin(&path);
                        link.pin(&path)
                    })
                    .map_err(|e| LabError::Failed(format!("`{cmd}`: pinning the TCX link: {e}")))?;
                let info = link
                    .info()
                    .map_err(|e| LabError::Failed(format!("TCX link info: {e}")))?;
                self.report.attached = Some(format!(
                    "tcx link {} on {dev} ingress (BPF_TCX_INGRESS), pinned at {}",
                    info.id,
                    path.display()
                ));
                Ok(())
            }
            Err(e) => {
                let note = format!(
                    "no TCX on this kernel: BPF_LINK_CREATE BPF_TCX_INGRESS was refused ({e}); \
                     falling back to clsact + cls_bpf through rtnetlink (TCX needs Linux 6.6+)"
                );
                if self.options.explain {
                    let _ = writeln!(out, "   {note}");
                }
                self.report.notes.push(note);
                self.attach_tc(side, dev, cmd)
            }
        }
    }
}

/// `BPF_LINK_TYPE_NETKIT` as bpftool says it (`netkit`), or the number.
fn link_type_name(raw: u32) -> String {
    crate::types::LinkType::from_raw(raw)
        .map(|t| t.short_name().to_string())
        .unwrap_or_else(|| format!("type {raw}"))
}

fn nl(step: &str) -> impl Fn(netlink::Error) -> LabError + '_ {
    move |e| LabError::Failed(format!("`{step}` failed: {e}"))
}

fn xdp_flags(generic: bool) -> u32 {
    if generic {
        netlink::consts::XDP_FLAGS_SKB_MODE
    } else {
        netlink::consts::XDP_FLAGS_DRV_MODE
    }
}

impl Lab {
    /// Builds the lab from scratch (tearing down any previous one) and
    /// attaches the mode's program. In explain mode every layer is written to
    /// `out` as it happens; otherwise nothing is (pass `std::io::sink()`).
    ///
    /// Everything that can be refused without touching the lab is checked
    /// first: the options, the source, the assembly, and a `BPF_PROG_LOAD`
    /// of the program (the probe for the mode's helper), so an unknown mode
    /// or a technique this kernel lacks leaves a running lab alone.
    pub fn up(&self, options: &UpOptions, out: &mut dyn Write) -> Result<UpReport, LabError> {
        privilege::require("redirect-lab up", &LAB_CAPS).map_err(LabError::Privilege)?;
        options.check()?;
        let m = options.effective_mode();
        let source = if options.no_program {
            None
        } else {
            Some(options.source.resolve_for(m.source, m.embedded)?)
        };
        if let Some((origin, text)) = &source {
            probe(m, origin, text, options)?;
        }
        if m.extras.contains(&super::mode::ExtraRef::NetkitPair) {
            probe_netkit(m)?;
        }
        let removed = self.down()?;
        if options.explain {
            if !removed.removed.is_empty() {
                let _ = writeln!(
                    out,
                    "== tearing down the previous lab first (like the seed's `-make down`)\n{removed}"
                );
            }
            let _ = writeln!(out, "== mode {m}");
            if options.pitfall {
                if let Some(p) = &m.pitfall {
                    let _ = writeln!(out, "== pitfall: {}", p.what);
                }
            }
        }

        let mut b = Builder {
            lab: self,
            options,
            source,
            report: UpReport {
                names: self.names.clone(),
                mode: m.name,
                source: None,
                target_ifindex: None,
                target: plan::VETH2_1,
                redirect_flags: m.redirect_flags,
                prog_id: None,
                prog_tag: None,
                insn_count: None,
                xlated_insns: None,
                filter: None,
                attached: None,
                notes: Vec::new(),
            },
            program: None,
            maps: Vec::new(),
            netns: HashMap::new(),
            handles: HashMap::new(),
            ifindexes: HashMap::new(),
            inspect: options.explain.then(|| Arc::new(Mutex::new(String::new()))),
        };
        b.report.source = b.source.as_ref().map(|(origin, _)| origin.clone());
        let steps = plan::steps(
            &self.names,
            PlanOptions {
                no_program: options.no_program,
                mode: m,
                pitfall: options.pitfall,
                xdp_generic: options.xdp_generic,
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
                b.run_step(step, &cmd, out)?;
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
        if let (Some(codes), Some(prog)) = (m.test_codes, &b.program) {
            let note = self.self_check(prog, m.helper, codes);
            if options.explain {
                let _ = writeln!(out, "\n== {note}");
            }
            b.report.notes.push(note);
        }
        if options.pitfall {
            if let Some(p) = &m.pitfall {
                b.report.notes.push(format!("pitfall: {}", p.what));
            }
        }
        Ok(b.report)
    }

    /// Runs one packet from the host side to 10.0.2.11 through the program
    /// with `BPF_PROG_TEST_RUN`, from inside netns_1 with `__sk_buff.ifindex`
    /// = veth1@2, and names the helper's return code the program left in
    /// `skb->cb[0]`.
    fn self_check(&self, prog: &Program, helper: &str, codes: &[(u32, &str)]) -> String {
        match self.test_run_cb0(prog) {
            Ok(code) => {
                let name = codes
                    .iter()
                    .find(|(c, _)| *c == code)
                    .map(|(_, n)| *n)
                    .unwrap_or("an unknown code");
                format!(
                    "self-check (BPF_PROG_TEST_RUN, 10.0.1.10 -> 10.0.2.11 on {}): \
                     {helper} returned {name} ({code})",
                    plan::VETH1_2
                )
            }
            Err(e) => format!("self-check (BPF_PROG_TEST_RUN) not possible here: {e}"),
        }
    }
}

impl Lab {
    /// Runs one packet from the host side (10.0.1.10) to 10.0.2.11 through
    /// `prog` with `BPF_PROG_TEST_RUN`, from inside netns_1 with
    /// `__sk_buff.ifindex` = veth1@2, and returns the `skb->cb[0]` the program
    /// left (fib.s stores its helper's return code there).
    pub fn test_run_cb0(&self, prog: &Program) -> Result<u32, LabError> {
        let mut h = self.handle_in(Side::Netns1)?;
        let idx = h
            .link_index(plan::VETH1_2)
            .map_err(|e| LabError::Failed(e.to_string()))?;
        let dst_mac = h
            .link_get(idx)
            .map_err(|e| LabError::Failed(e.to_string()))?
            .mac
            .unwrap_or_default();
        let frame = test_frame(&dst_mac);
        let mut ctx = vec![0u8; SK_BUFF_CTX_LEN];
        ctx[SK_BUFF_IFINDEX..SK_BUFF_IFINDEX + 4].copy_from_slice(&idx.to_ne_bytes());
        let r = self
            .run_in(Side::Netns1, || {
                prog.test_run(&crate::prog::TestRun {
                    data_in: &frame,
                    ctx_in: &ctx,
                    ctx_out_size: SK_BUFF_CTX_LEN,
                    ..Default::default()
                })
            })?
            .map_err(|e| LabError::Failed(e.to_string()))?;
        r.ctx_out
            .get(SK_BUFF_CB0..SK_BUFF_CB0 + 4)
            .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
            .ok_or_else(|| LabError::Failed("the kernel returned no __sk_buff".into()))
    }

    /// Which `BPF_FIB_LOOKUP_*` flags this kernel's `bpf_fib_lookup`
    /// accepts, probed rather than assumed from the version: `bpf-src/fib.s`
    /// assembled with `-D FLAGS=<flag>`, loaded, and run on one test packet
    /// in the running lab ([`Lab::test_run_cb0`]). The helper refuses a flag
    /// it does not know with `-EINVAL` before any lookup
    /// (`BPF_CALL_4(bpf_skb_fib_lookup)`, net/core/filter.c); any other
    /// answer is a `BPF_FIB_LKUP_RET_*` code, i.e. the flag was accepted.
    pub fn probe_fib_flags(&self) -> Result<Vec<FibFlagProbe>, LabError> {
        let m = mode::find("fib").map_err(LabError::Input)?;
        let (origin, text) = ProgramSource::Default.resolve_for(m.source, m.embedded)?;
        let target = self
            .handle_in(Side::Netns1)?
            .link_index(plan::VETH2_1)
            .map_err(|e| LabError::Failed(e.to_string()))?;
        let mut out = Vec::new();
        for f in mode::FIB_LOOKUP_FLAGS {
            let mut d = defines(target, &UpOptions::default());
            d.push(("FLAGS".to_string(), i64::from(f.value)));
            let p = assemble(&origin, &text, &d)?;
            let prog = p
                .load(&AsmLoad {
                    prog_type: ProgType::SchedCls,
                    file_name: &origin,
                    maps: &[],
                    verbose: false,
                })
                .map_err(|e| {
                    LabError::Failed(format!("loading {origin} with FLAGS={}: {e}", f.value))
                })?;
            out.push(FibFlagProbe {
                flag: f,
                code: self.test_run_cb0(&prog)? as i32,
            });
        }
        Ok(out)
    }
}

/// What [`Lab::probe_fib_flags`] found for one flag.
#[derive(Clone, Copy, Debug)]
pub struct FibFlagProbe {
    pub flag: &'static mode::FibFlag,
    /// `bpf_fib_lookup`'s return value: a `BPF_FIB_LKUP_RET_*` code, or
    /// `-EINVAL` for a flag the kernel does not know.
    pub code: i32,
}

impl FibFlagProbe {
    pub fn accepted(&self) -> bool {
        self.code != -libc::EINVAL
    }
}

/// `sizeof(struct __sk_buff)` up to `hwtstamp` (include/uapi/linux/bpf.h):
/// the context a test run takes and gives back.
const SK_BUFF_CTX_LEN: usize = 192;
/// `offsetof(struct __sk_buff, ifindex)`.
const SK_BUFF_IFINDEX: usize = 40;
/// `offsetof(struct __sk_buff, cb)`.
const SK_BUFF_CB0: usize = 48;

/// An Ethernet + IPv4 + UDP frame from the host side (10.0.1.10) to the
/// listener (10.0.2.11:7777), addressed to `dst_mac`.
fn test_frame(dst_mac: &[u8]) -> Vec<u8> {
    let payload = b"self-check";
    let mut f = Vec::with_capacity(14 + 28 + payload.len());
    let mut mac = [0u8; 6];
    mac.copy_from_slice(dst_mac.get(..6).unwrap_or(&[0; 6]));
    f.extend_from_slice(&mac);
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x10]);
    f.extend_from_slice(&0x0800u16.to_be_bytes());
    let total = (20 + 8 + payload.len()) as u16;
    let mut ip = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0];
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    ip.extend_from_slice(&plan::HOST_ADDR.octets());
    ip.extend_from_slice(&plan::DEST_ADDR.octets());
    let sum = ip
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
        .sum::<u32>();
    let sum = (sum & 0xffff) + (sum >> 16);
    let sum = !((sum & 0xffff) + (sum >> 16)) as u16;
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(&40000u16.to_be_bytes());
    f.extend_from_slice(&plan::LISTEN_PORT.to_be_bytes());
    f.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(payload);
    f
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
        h.filter_replace_bpf(idx, &filter_spec_fd(prog.as_fd()))
            .map_err(nl(&filter))
    }
}

/// The lab's filter: fixed priority and handle, so attaching again replaces
/// it instead of adding a second one.
fn filter_spec_fd(prog: BorrowedFd<'_>) -> BpfFilterSpec<'_> {
    BpfFilterSpec {
        hook: TcHook::Ingress,
        prio: plan::FILTER_PRIO,
        handle: 1,
        prog,
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
            options.effective_mode().redirect_flags as i64,
        ),
        ("DEST_IP".to_string(), i64::from(u32::from(plan::DEST_ADDR))),
        ("HOST_IP".to_string(), i64::from(u32::from(plan::HOST_ADDR))),
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

/// Assembles the program text with `-D` constants: one program, or an
/// object (a `.map` declaration, `.rodata` strings), loaded alike
/// ([`crate::file::Assembled::load`]).
fn assemble(
    origin: &str,
    text: &str,
    defines: &[(String, i64)],
) -> Result<crate::file::Assembled, LabError> {
    crate::file::assemble_text(origin, text, defines)
        .map_err(|e| LabError::Input(format!("assembling the program:\n{e}")))
}

/// Assembles and loads the mode's program once with a stand-in ifindex (the
/// kernel does not check it at load time) before anything is torn down: a
/// syntax error, a verifier rejection, or a helper this kernel lacks is
/// reported while a running lab is still intact.
fn probe(m: &Mode, origin: &str, text: &str, options: &UpOptions) -> Result<(), LabError> {
    for e in m.extras {
        if let mode::ExtraRef::Link(p) = e {
            probe_link_program(m, p, options)?;
        }
    }
    let assembled = assemble(origin, text, &defines(1, options))?;
    let scratch = super::maps::scratch(m)?;
    let fds: Vec<(&str, BorrowedFd<'_>)> = scratch.iter().map(|(n, m)| (*n, m.as_fd())).collect();
    let how = AsmLoad {
        prog_type: m.hook.prog_type(),
        file_name: origin,
        maps: &fds,
        verbose: false,
    };
    match assembled.load(&how) {
        Ok(_) => Ok(()),
        Err(crate::Error::Verifier(v)) if v.unknown_helper.is_some() => {
            Err(LabError::Failed(format!(
                "mode {} needs {} (Linux {}+), which this kernel does not have; the running \
                 lab was left alone.\nloading {origin}:\n{}",
                m.name,
                m.helper,
                m.since,
                crate::Error::Verifier(v)
            )))
        }
        Err(e) => Err(LabError::Failed(format!(
            "loading the program ({origin}) was refused, so the running lab was left alone:\n{e}"
        ))),
    }
}

/// The same load probe for a mode's second program.
fn probe_link_program(
    m: &Mode,
    p: &mode::LinkProgram,
    options: &UpOptions,
) -> Result<(), LabError> {
    let (origin, text) = ProgramSource::Default.resolve_for(p.source, p.embedded)?;
    let assembled = assemble(&origin, &text, &defines(1, options))?;
    let how = AsmLoad {
        prog_type: p.prog_type,
        file_name: &origin,
        maps: &[],
        verbose: false,
    };
    assembled.load(&how).map(drop).map_err(|e| {
        LabError::Failed(format!(
            "mode {}: loading its second program ({origin}) was refused, so the running lab \
             was left alone:\n{e}",
            m.name
        ))
    })
}

/// Creates a netkit pair in a scratch namespace, deleted at once: the
/// kernel has no other way to say whether it has `CONFIG_NETKIT` (a `bool`
/// in drivers/net/Kconfig: built in or absent, never a module to load).
/// Refused, the running lab is untouched and the error carries the kernel's
/// errno and extack text.
fn probe_netkit(m: &Mode) -> Result<(), LabError> {
    let refused = |e: String| {
        LabError::Failed(format!(
            "mode {} needs a netkit device (Linux {}+, CONFIG_NETKIT), which this kernel \
             refused; the running lab was left alone.\n{e}",
            m.name, m.since
        ))
    };
    let scratch = netlink::netns::NetnsGuard::unique("nkprobe")
        .map_err(|e| LabError::Failed(format!("probing for netkit: a scratch netns: {e}")))?;
    let mut h = netlink::handle::Handle::in_netns(&scratch)
        .map_err(|e| LabError::Failed(format!("probing for netkit: {e}")))?;
    h.link_add_netkit(
        "nkprobe0",
        "nkprobe1",
        None,
        netlink::consts::NETKIT_L2,
        None,
    )
    .map(drop)
    .map_err(|e| refused(e.to_string()))
}

/// Assembles and loads the program; in explain mode prints the listing,
/// the `BPF_PROG_LOAD` request and the verifier's verdict.
fn load_program(
    origin: &str,
    text: &str,
    target_ifindex: i32,
    options: &UpOptions,
    prog_type: ProgType,
    maps: &[(&str, BorrowedFd<'_>)],
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
            prog_type.kernel_name(),
            prog_type.raw(),
            assembled.insns().len(),
            assembled.insns().len() * 8,
            assembled.license(),
            crate::asm::kernel_name(assembled.name()),
            BPF_LOG_LEVEL2 | BPF_LOG_STATS,
        );
    }
    let how = AsmLoad {
        prog_type,
        file_name: origin,
        maps,
        verbose: options.explain,
    };
    let prog = assembled
        .load(&how)
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
