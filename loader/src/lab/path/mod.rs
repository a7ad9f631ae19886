//! `redirect-lab path`: follow one packet of the lab through the kernel,
//! with tracing programs we assemble ourselves (the seed's pwru trace,
//! without kprobes).
//!
//! The base layer is `tp_btf` on the networking tracepoints (`fib.s` for
//! `fib_table_lookup`, `xdp.s` for `xdp_redirect*`); the function
//! layer (`--functions`) is fentry on kernel functions taking an skb. Both
//! assemble `bpf-src/path/skb.s` once per hook, with every offset, argument
//! position and enum value taken from the running kernel's BTF
//! (`/sys/kernel/btf/vmlinux`, through `ebpf_asm::btf::vmlinux`): these
//! differ between the kernels of the matrix, so no table of ours holds them.
//!
//! The neighbour layer (`neigh.s` on the `neigh_*` tracepoints) shows
//! where a namespace's own stack resolves the next hop with ARP: it carries
//! a neighbour entry, not a packet, so its events are placed by the entry's
//! device and tied to the lab by the entry's IPv4 key.
//!
//! Every program writes the same 64-byte event ([`event`]) into one
//! `BPF_MAP_TYPE_RINGBUF` they all share, with `bpf_ringbuf_output`; a record
//! the buffer has no room for counts in the `lost` array, since the ring
//! buffer keeps no loss counter of its own. [`Tracer::drain`] consumes what is
//! there and [`Tracer::poll`] waits for it with epoll on the map fd
//! ([`crate::RingBuf`]); both return events in timestamp order (records of
//! different CPUs may reach the buffer slightly out of it). [`annotate`] tells each step in the seed's
//! words. Dropping the [`Tracer`] closes every link, program and map.

pub mod event;
pub mod svg;

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::MetadataExt;
use std::time::Duration;

use ebpf_asm::btf::vmlinux::Vmlinux;

use crate::bpf::tracing::{self, Hook};
use crate::lab::plan::{self, Side, DEVICES, LISTEN_PORT};
use crate::lab::{Lab, LabError};
use crate::{Link, Map, MapSpec, MapType, Program, RingBuf};
pub use event::{nud_state_name, pkt_type_name, Event, EVENT_SIZE};

/// The template for hooks carrying an skb, assembled once per hook.
pub const SKB_TEMPLATE: &str = include_str!("../../../../bpf-src/path/skb.s");
const TEMPLATE_FILE: &str = "bpf-src/path/skb.s";
/// The template for `fib_table_lookup`, which carries a flow, not an skb.
pub const FIB_TEMPLATE: &str = include_str!("../../../../bpf-src/path/fib.s");
const FIB_FILE: &str = "bpf-src/path/fib.s";

/// The base layer: raw tracepoints that carry an skb, in the order a packet
/// meets them. Each must exist as `btf_trace_NAME`; a missing one is
/// skipped with the reason.
pub const BASE_TRACEPOINTS: &[&str] = &[
    "net_dev_queue",
    "net_dev_start_xmit",
    "netif_rx",
    "netif_receive_skb",
    "skb_copy_datagram_iovec",
    "consume_skb",
    "kfree_skb",
];

/// The template for `xdp_redirect`/`xdp_redirect_err`, which carry the
/// device the XDP program ran on, not a packet.
pub const XDP_TEMPLATE: &str = include_str!("../../../../bpf-src/path/xdp.s");
const XDP_FILE: &str = "bpf-src/path/xdp.s";

/// The template for the `neigh_*` tracepoints, which carry a neighbour
/// entry, not a packet.
pub const NEIGH_TEMPLATE: &str = include_str!("../../../../bpf-src/path/neigh.s");
const NEIGH_FILE: &str = "bpf-src/path/neigh.s";

/// The neighbour part of the base layer (include/trace/events/neigh.h,
/// 5.0+): where netns_1's own stack (`--no-program`, `--mode neigh`)
/// resolves the next hop with ARP before the packet can leave. Each must
/// exist as `btf_trace_NAME`; a missing one is skipped with the reason.
pub const NEIGH_TRACEPOINTS: &[&str] = &[
    "neigh_create",
    "neigh_event_send_done",
    "neigh_event_send_dead",
    "neigh_update",
    "neigh_update_done",
    "neigh_timer_handler",
];

/// The XDP part of the base layer: `up --mode xdp` redirects in XDP, before
/// any skb exists, so only these tracepoints see that step.
pub const XDP_TRACEPOINTS: &[&str] = &["xdp_redirect", "xdp_redirect_err"];

/// The curated function layer (`--functions`): the seed's pwru trace, by
/// the names that exist on every kernel of the matrix, plus the renamed
/// ones, which are probed in BTF and skipped where absent.
pub const CURATED_FUNCTIONS: &[&str] = &[
    "tcf_classify",
    "skb_do_redirect",
    "__bpf_redirect",
    "__dev_queue_xmit",
    "dev_queue_xmit",
    "dev_hard_start_xmit",
    "veth_xmit",
    "__dev_forward_skb",
    "__dev_forward_skb2",
    "__netif_rx",
    "netif_rx",
    "netif_rx_internal",
    "enqueue_to_backlog",
    "__netif_receive_skb",
    "__netif_receive_skb_one_core",
    "__netif_receive_skb_core",
    "ip_rcv",
    "ip_rcv_finish",
    "ip_forward",
    "ip_output",
    "udp_rcv",
    "udp_queue_rcv_skb",
];

/// Every function the vmlinux BTF scan finds taking a `struct sk_buff *`
/// (`--all`), the [`CURATED_FUNCTIONS`] that exist first: they are the
/// seed's path, so a time budget (see [`Tracer::attach_within`]) or a
/// refusal part-way still covers them.
pub fn all_functions(btf: &Vmlinux) -> Vec<String> {
    let scanned: Vec<String> = btf.skb_functions().into_iter().map(|f| f.name).collect();
    let mut out: Vec<String> = CURATED_FUNCTIONS
        .iter()
        .filter(|c| scanned.iter().any(|s| s == *c))
        .map(|c| c.to_string())
        .collect();
    let rest: Vec<String> = scanned.into_iter().filter(|s| !out.contains(s)).collect();
    out.extend(rest);
    out
}

/// The ring buffer's data size: a power of two and a multiple of the page
/// size, as `BPF_MAP_TYPE_RINGBUF` requires. Each event takes 72 bytes there
/// (the 8-byte record header, then 64), so it holds about 7,000 between two
/// drains.
pub const RINGBUF_BYTES: u32 = 512 * 1024;

/// One attached hook.
#[derive(Debug)]
pub struct Attached {
    /// `tp_btf/NAME` or `fentry/NAME`.
    pub section: String,
    /// The bare name (tracepoint or function).
    pub name: String,
    pub function: bool,
    _link: Link,
    _prog: Program,
}

/// What the tracer attached and what it skipped, and why.
#[derive(Debug)]
pub struct Tracer {
    pub hooks: Vec<Attached>,
    /// (hook, why) for every hook not attached.
    pub skipped: Vec<(String, String)>,
    /// The first refusal of the function layer, said once.
    pub function_layer_refused: Option<String>,
    events: RingBuf,
    lost: Map,
    /// `enum skb_drop_reason` values by number (empty before 5.17).
    reasons: HashMap<u32, String>,
}

/// The `-D` constants every instance of the template shares.
fn member_defines(btf: &Vmlinux) -> Result<Vec<(String, i64)>, LabError> {
    let off = |path: &str| -> Result<i64, LabError> {
        btf.member(path)
            .map(|f| i64::from(f.byte_offset()))
            .map_err(|e| LabError::Failed(e.to_string()))
    };
    let pkt = btf
        .member("sk_buff.pkt_type")
        .map_err(|e| LabError::Failed(e.to_string()))?;
    // pkt_type is a 3-bit bitfield: read its byte, shift, mask (the bit
    // numbering of a little-endian machine, where BTF's bit 0 is the LSB).
    let width = if pkt.bitfield_size == 0 {
        8
    } else {
        pkt.bitfield_size
    };
    Ok(vec![
        ("SKB_PROTOCOL".into(), off("sk_buff.protocol")?),
        ("SKB_NETWORK_HEADER".into(), off("sk_buff.network_header")?),
        ("SKB_HEAD".into(), off("sk_buff.head")?),
        ("SKB_DEV".into(), off("sk_buff.dev")?),
        ("SKB_LEN".into(), off("sk_buff.len")?),
        ("SKB_MARK".into(), off("sk_buff.mark")?),
        ("DEV_IFINDEX".into(), off("net_device.ifindex")?),
        ("DEV_NET".into(), off("net_device.nd_net.net")?),
        ("NET_INUM".into(), off("net.ns.inum")?),
        ("PKT_TYPE_OFF".into(), i64::from(pkt.bit_offset / 8)),
        ("PKT_TYPE_SHIFT".into(), i64::from(pkt.bit_offset % 8)),
        ("PKT_TYPE_MASK".into(), (1i64 << width) - 1),
        // The destination as the program loads it: the four address bytes,
        // and the two port bytes, as little-endian integers.
        (
            "SADDR".into(),
            i64::from(u32::from_le_bytes(plan::HOST_ADDR.octets())),
        ),
        (
            "DADDR".into(),
            i64::from(u32::from_le_bytes(plan::DEST_ADDR.octets())),
        ),
        (
            "DPORT".into(),
            i64::from(u16::from_le_bytes(LISTEN_PORT.to_be_bytes())),
        ),
    ])
}

/// The `-D` constants of `bpf-src/path/xdp.s` for tracepoint `name`, or
/// why the hook is skipped. The device is the first `struct net_device *`
/// argument and err the first `int` one, wherever this kernel puts them.
fn xdp_defines(btf: &Vmlinux, name: &str) -> Result<(u32, Vec<(String, i64)>), String> {
    let tp = btf.tracepoint(name).map_err(|e| e.to_string())?;
    let pos = |want: &dyn Fn(&str) -> bool, what: &str| {
        tp.args
            .iter()
            .position(|a| want(&a.c_type))
            .map(|i| 8 * i as i64)
            .ok_or_else(|| format!("{name} has no {what} argument"))
    };
    let dev = pos(
        &|t| t.contains("struct net_device *"),
        "struct net_device *",
    )?;
    let err = pos(&|t| t == "int", "int (err)")?;
    let off = |path: &str| -> Result<i64, String> {
        btf.member(path)
            .map(|f| i64::from(f.byte_offset()))
            .map_err(|e| e.to_string())
    };
    Ok((
        tp.btf_id,
        vec![
            ("DEV_ARG_OFF".into(), dev),
            ("ERR_ARG_OFF".into(), err),
            ("DEV_IFINDEX".into(), off("net_device.ifindex")?),
            ("DEV_NET".into(), off("net_device.nd_net.net")?),
            ("NET_INUM".into(), off("net.ns.inum")?),
        ],
    ))
}

/// The `-D` constants of `bpf-src/path/neigh.s` for tracepoint `name`, or
/// why the hook is skipped. The entry is the first `struct neighbour *`
/// argument, wherever this kernel puts it (fourth for neigh_create, first
/// for the others).
fn neigh_defines(btf: &Vmlinux, name: &str) -> Result<(u32, Vec<(String, i64)>), String> {
    let tp = btf.tracepoint(name).map_err(|e| e.to_string())?;
    let n = tp
        .args
        .iter()
        .position(|a| a.c_type.contains("struct neighbour *"))
        .map(|i| 8 * i as i64)
        .ok_or_else(|| format!("{name} has no struct neighbour * argument"))?;
    let off = |path: &str| -> Result<i64, String> {
        btf.member(path)
            .map(|f| i64::from(f.byte_offset()))
            .map_err(|e| e.to_string())
    };
    let subnet = |a: Ipv4Addr| i64::from(u32::from_le_bytes(a.octets()));
    let mut create = Vec::new();
    if name == "neigh_create" {
        // It fires right after neigh_alloc(), before ___neigh_create copies
        // the key and sets the device: the template reads the arguments.
        let pos = |want: &dyn Fn(&str) -> bool, what: &str| {
            tp.args
                .iter()
                .position(|a| want(&a.c_type))
                .map(|i| 8 * i as i64)
                .ok_or_else(|| format!("{name} has no {what} argument"))
        };
        create = vec![
            (
                "DEV_ARG_OFF".to_string(),
                pos(
                    &|t| t.contains("struct net_device *"),
                    "struct net_device *",
                )?,
            ),
            (
                "TBL_ARG_OFF".to_string(),
                pos(
                    &|t| t.contains("struct neigh_table *"),
                    "struct neigh_table *",
                )?,
            ),
            (
                "PKEY_ARG_OFF".to_string(),
                pos(&|t| t.contains("void *"), "const void * (the key)")?,
            ),
        ];
    }
    Ok((
        tp.btf_id,
        [
            ("N_ARG_OFF".into(), n),
            ("N_TBL".into(), off("neighbour.tbl")?),
            ("N_DEV".into(), off("neighbour.dev")?),
            ("N_NUD_STATE".into(), off("neighbour.nud_state")?),
            ("N_PRIMARY_KEY".into(), off("neighbour.primary_key")?),
            ("TBL_FAMILY".into(), off("neigh_table.family")?),
            ("DEV_IFINDEX".into(), off("net_device.ifindex")?),
            ("DEV_NET".into(), off("net_device.nd_net.net")?),
            ("NET_INUM".into(), off("net.ns.inum")?),
            ("SUBNET_1".into(), subnet(plan::SUBNET_1)),
            ("SUBNET_2".into(), subnet(plan::SUBNET_2)),
        ]
        .into_iter()
        .chain(create)
        .collect(),
    ))
}

/// The `-D` constants of `bpf-src/path/fib.s`, or why the hook is skipped.
fn fib_defines(btf: &Vmlinux) -> Result<Vec<(String, i64)>, String> {
    let tp = btf
        .tracepoint("fib_table_lookup")
        .map_err(|e| e.to_string())?;
    let pos = |want: &str| {
        tp.args
            .iter()
            .position(|a| a.c_type.contains(want))
            .map(|i| 8 * i as i64)
            .ok_or_else(|| format!("fib_table_lookup has no {want} argument"))
    };
    let flp = pos("struct flowi4 *")?;
    let nhc = pos("struct fib_nh_common *")?;
    let err = 8 * (tp.args.len() as i64 - 1);
    let off = |path: &str| -> Result<i64, String> {
        btf.member(path)
            .map(|f| i64::from(f.byte_offset()))
            .map_err(|e| e.to_string())
    };
    Ok(vec![
        ("FLP_ARG_OFF".into(), flp),
        ("NHC_ARG_OFF".into(), nhc),
        ("ERR_ARG_OFF".into(), err),
        ("FL_IIF".into(), off("flowi4.__fl_common.flowic_iif")?),
        ("FL_MARK".into(), off("flowi4.__fl_common.flowic_mark")?),
        ("FL_PROTO".into(), off("flowi4.__fl_common.flowic_proto")?),
        ("FL_SADDR".into(), off("flowi4.saddr")?),
        ("FL_DADDR".into(), off("flowi4.daddr")?),
        ("FL_DPORT".into(), off("flowi4.uli.ports.dport")?),
        ("FL_SPORT".into(), off("flowi4.uli.ports.sport")?),
        ("NHC_DEV".into(), off("fib_nh_common.nhc_dev")?),
        ("DEV_NET".into(), off("net_device.nd_net.net")?),
        ("NET_INUM".into(), off("net.ns.inum")?),
        (
            "SADDR".into(),
            i64::from(u32::from_le_bytes(plan::HOST_ADDR.octets())),
        ),
        (
            "DADDR".into(),
            i64::from(u32::from_le_bytes(plan::DEST_ADDR.octets())),
        ),
    ])
}

impl Tracer {
    /// Loads and attaches the base layer, and with `functions` the given
    /// fentry functions. A refused function layer is reported in
    /// `function_layer_refused`, not as an error.
    pub fn attach(btf: &Vmlinux, functions: &[String]) -> Result<Tracer, LabError> {
        Tracer::attach_within(btf, functions, None)
    }

    /// [`Tracer::attach`], trying fentry functions only until `budget` has
    /// passed since the start; the rest are skipped, said so. (On 5.10 each
    /// fentry attach waits for an RCU-tasks grace period, so the 1,500 skb
    /// functions of `--all` take minutes on a slow machine.)
    pub fn attach_within(
        btf: &Vmlinux,
        functions: &[String],
        budget: Option<Duration>,
    ) -> Result<Tracer, LabError> {
        let start = std::time::Instant::now();
        // Each hook holds two descriptors (its program and its link): `--all`
        // on a kernel with ~1,700 skb functions passes the usual soft limit
        // of 1,024 and would fail with EMFILE halfway.
        let wanted = 2 * (functions.len() + BASE_TRACEPOINTS.len() + 32) as u64 + 256;
        if let Err(e) = crate::lab::sys::raise_nofile(wanted) {
            eprintln!("path: could not raise the open-file limit to {wanted} ({e}); attaching may stop with EMFILE");
        }
        let fail = |what: &str, e: crate::Error| LabError::Failed(format!("{what}: {e}"));
        let events = RingBuf::create("path_events", RINGBUF_BYTES)
            .map_err(|e| fail("creating the events ring buffer", e))?;
        let lost = Map::create(&MapSpec {
            map_type: MapType::Array,
            key_size: 4,
            value_size: 8,
            max_entries: 1,
            flags: 0,
            name: "path_lost",
        })
        .map_err(|e| fail("creating the loss counter", e))?;
        let reasons = btf
            .enum_values("skb_drop_reason")
            .map(|v| {
                v.into_iter()
                    .map(|(n, x)| {
                        let short = n.strip_prefix("SKB_DROP_REASON_").unwrap_or(&n).to_string();
                        (x as u32, short)
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut t = Tracer {
            hooks: Vec::new(),
            skipped: Vec::new(),
            function_layer_refused: None,
            events,
            lost,
            reasons,
        };
        let common = member_defines(btf)?;
        for tp in BASE_TRACEPOINTS {
            let shape = match btf.tracepoint(tp) {
                Ok(shape) => shape,
                Err(e) => {
                    t.skipped.push((format!("tp_btf/{tp}"), e.to_string()));
                    continue;
                }
            };
            let Some(skb_arg) = shape
                .args
                .iter()
                .position(|a| a.c_type.contains("struct sk_buff *"))
            else {
                t.skipped.push((
                    format!("tp_btf/{tp}"),
                    "no struct sk_buff * argument".into(),
                ));
                continue;
            };
            let reason = shape
                .args
                .iter()
                .position(|a| a.c_type == "enum skb_drop_reason");
            let hook = Hook::RawTp {
                name: tp.to_string(),
                btf_id: shape.btf_id,
            };
            t.add(&hook, &common, skb_arg, reason)
                .map_err(|e| fail(&hook.section(), e))?;
        }
        match fib_defines(btf) {
            Ok(d) => {
                let hook = Hook::RawTp {
                    name: "fib_table_lookup".into(),
                    btf_id: btf
                        .tracepoint("fib_table_lookup")
                        .map(|tp| tp.btf_id)
                        .unwrap_or(0),
                };
                t.add_template(&hook, FIB_TEMPLATE, FIB_FILE, d)
                    .map_err(|e| fail(&hook.section(), e))?;
            }
            Err(why) => t.skipped.push(("tp_btf/fib_table_lookup".into(), why)),
        }
        for tp in NEIGH_TRACEPOINTS {
            match neigh_defines(btf, tp) {
                Ok((btf_id, d)) => {
                    let hook = Hook::RawTp {
                        name: tp.to_string(),
                        btf_id,
                    };
                    // The neighbour layer adds to the packet's story but is
                    // not it: a kernel refusing one hook skips it, said why.
                    if let Err(e) = t.add_template(&hook, NEIGH_TEMPLATE, NEIGH_FILE, d) {
                        t.skipped.push((hook.section(), e.to_string()));
                    }
                }
                Err(why) => t.skipped.push((format!("tp_btf/{tp}"), why)),
            }
        }
        for tp in XDP_TRACEPOINTS {
            match xdp_defines(btf, tp) {
                Ok((btf_id, d)) => {
                    let hook = Hook::RawTp {
                        name: tp.to_string(),
                        btf_id,
                    };
                    t.add_template(&hook, XDP_TEMPLATE, XDP_FILE, d)
                        .map_err(|e| fail(&hook.section(), e))?;
                }
                Err(why) => t.skipped.push((format!("tp_btf/{tp}"), why)),
            }
        }
        for f in functions {
            if let Some(b) = budget.filter(|b| start.elapsed() >= *b) {
                t.skipped.push((
                    format!("fentry/{f}"),
                    format!(
                        "not tried: the time budget of {} s ran out",
                        b.as_secs_f64()
                    ),
                ));
                continue;
            }
            if t.function_layer_refused.is_some() {
                t.skipped.push((
                    format!("fentry/{f}"),
                    "the function layer was refused".into(),
                ));
                continue;
            }
            let (btf_id, args) = match btf.function(f) {
                Ok(x) => x,
                Err(e) => {
                    t.skipped.push((format!("fentry/{f}"), e.to_string()));
                    continue;
                }
            };
            let Some(skb_arg) = args
                .iter()
                .position(|a| a.c_type.contains("struct sk_buff *"))
            else {
                t.skipped
                    .push((format!("fentry/{f}"), "takes no struct sk_buff *".into()));
                continue;
            };
            let hook = Hook::Fentry {
                name: f.clone(),
                btf_id,
            };
            match t.add(&hook, &common, skb_arg, None) {
                Ok(()) => {}
                Err(crate::Error::Sys(s)) if s.errno == libc::EPERM => {
                    t.function_layer_refused = Some(format!(
                        "fentry is refused on this kernel ({s}); going on with the tp_btf base \
                         layer"
                    ));
                }
                Err(e) => t.skipped.push((hook.section(), e.to_string())),
            }
        }
        Ok(t)
    }

    fn add(
        &mut self,
        hook: &Hook,
        common: &[(String, i64)],
        skb_arg: usize,
        reason: Option<usize>,
    ) -> Result<(), crate::Error> {
        let mut defines = common.to_vec();
        defines.push(("SKB_ARG_OFF".into(), 8 * skb_arg as i64));
        if let Some(r) = reason {
            defines.push(("REASON_ARG_OFF".into(), 8 * r as i64));
        }
        self.add_template(hook, SKB_TEMPLATE, TEMPLATE_FILE, defines)
    }

    /// Assembles `source` with `defines` plus HOOK, loads it for `hook`
    /// and attaches it.
    fn add_template(
        &mut self,
        hook: &Hook,
        source: &str,
        file: &str,
        mut defines: Vec<(String, i64)>,
    ) -> Result<(), crate::Error> {
        defines.push(("HOOK".into(), self.hooks.len() as i64));
        let prog = ebpf_asm::assemble(
            source,
            &ebpf_asm::AsmOptions {
                file_name: file.into(),
                defines,
            },
        )
        .map_err(|e| crate::Error::Input(e.to_string()))?;
        let mut bytes = prog.to_bytes();
        for r in prog.relocations() {
            let (fd, off) = match (r.symbol.as_str(), &r.kind) {
                ("events", ebpf_asm::RelocKind::MapFd) => {
                    (self.events.map().as_fd().as_raw_fd(), None)
                }
                ("lost", ebpf_asm::RelocKind::MapValue { offset }) => {
                    (self.lost.as_fd().as_raw_fd(), Some(*offset))
                }
                (s, _) => {
                    return Err(crate::Error::Input(format!(
                        "{file}: unexpected map reference {s:?}"
                    )))
                }
            };
            crate::asm::patch_map_ref(&mut bytes, r.slot, fd, off)?;
        }
        let map = crate::asm::source_map(&prog, file);
        let (name, function) = match hook {
            Hook::RawTp { name, .. } => (name.clone(), false),
            Hook::Fentry { name, .. } => (name.clone(), true),
        };
        let p = tracing::load(&bytes, hook, "path_skb", "GPL", Some(&map))?;
        let link = tracing::attach(p.as_fd())?;
        self.hooks.push(Attached {
            section: hook.section(),
            name,
            function,
            _link: link,
            _prog: p,
        });
        Ok(())
    }

    /// Every event submitted so far, consumed from the ring buffer, in
    /// timestamp order.
    pub fn drain(&mut self) -> Result<Vec<Event>, LabError> {
        let mut out = Vec::new();
        self.events
            .consume(|r| out.extend(Event::decode(r)))
            .map_err(ring_fail)?;
        out.sort_by_key(|e| e.ts_ns);
        Ok(out)
    }

    /// Like [`Tracer::drain`], but when nothing is there yet, waits up to
    /// `timeout` for an event (epoll on the ring buffer's fd) instead of
    /// returning at once. An empty result means the timeout passed.
    pub fn poll(&mut self, timeout: Duration) -> Result<Vec<Event>, LabError> {
        let mut out = Vec::new();
        self.events
            .poll(timeout, |r| out.extend(Event::decode(r)))
            .map_err(ring_fail)?;
        // The first record woke us; the others of the same packet follow
        // within microseconds, so take those too before sorting.
        self.events
            .consume(|r| out.extend(Event::decode(r)))
            .map_err(ring_fail)?;
        out.sort_by_key(|e| e.ts_ns);
        Ok(out)
    }

    /// Events the programs could not write (the ring buffer was full).
    pub fn lost(&self) -> Result<u64, LabError> {
        let v = self
            .lost
            .lookup(&0u32.to_ne_bytes())
            .map_err(|e| LabError::Failed(format!("reading the loss counter: {e}")))?
            .unwrap_or_default();
        Ok(v.get(..8)
            .map(|b| u64::from_ne_bytes(b.try_into().unwrap_or([0; 8])))
            .unwrap_or(0))
    }

    /// The hook's name for an event.
    pub fn hook_name(&self, e: &Event) -> &str {
        self.hooks
            .get(e.hook as usize)
            .map(|h| h.name.as_str())
            .unwrap_or("?")
    }

    /// Whether the event came from the function layer.
    pub fn is_function(&self, e: &Event) -> bool {
        self.hooks.get(e.hook as usize).is_some_and(|h| h.function)
    }

    /// Whether the event came from a `neigh_*` tracepoint (a neighbour
    /// entry, not a packet: its `daddr` is the entry's key, its `reason`
    /// the NUD state).
    pub fn is_neigh(&self, e: &Event) -> bool {
        self.hook_name(e).starts_with("neigh_")
    }

    /// The event's step in plain words: [`annotate`], or
    /// [`annotate_neigh`] for the neighbour layer.
    pub fn note(&self, places: &Places, e: &Event) -> String {
        let (hook, side, dev) = (self.hook_name(e), places.side(e), places.device(e));
        if self.is_neigh(e) {
            annotate_neigh(hook, side, dev, e.daddr, e.reason as u8)
        } else {
            annotate(hook, side, dev, e.pkt_type, self.reason_name(e))
        }
    }

    /// The drop reason's kernel name (without `SKB_DROP_REASON_`).
    pub fn reason_name(&self, e: &Event) -> Option<&str> {
        if self.hook_name(e) != "kfree_skb" || self.reasons.is_empty() {
            return None;
        }
        self.reasons.get(&e.reason).map(String::as_str)
    }
}

fn ring_fail(e: crate::Error) -> LabError {
    LabError::Failed(format!("reading the events ring buffer: {e}"))
}

/// Where the lab's devices are: (netns inode, ifindex) -> (side, name), and
/// netns inode -> side.
#[derive(Debug, Clone, Default)]
pub struct Places {
    pub netns: HashMap<u32, Side>,
    pub devices: HashMap<(u32, u32), &'static str>,
}

impl Places {
    /// Reads the lab's namespaces and device indexes.
    pub fn of(lab: &Lab) -> Result<Places, LabError> {
        let mut p = Places::default();
        for side in Side::ALL {
            let path = match lab.names.netns(side) {
                Some(ns) => netlink::netns::path_of(ns),
                None => "/proc/self/ns/net".into(),
            };
            let ino = std::fs::metadata(&path)
                .map_err(|e| LabError::NotUp(format!("{}: {e}", path.display())))?
                .ino() as u32;
            p.netns.insert(ino, side);
            for (s, dev) in DEVICES {
                if s == side {
                    let mut h = lab.handle_in(side)?;
                    if let Ok(i) = h.link_index(dev) {
                        p.devices.insert((ino, i as u32), dev);
                    }
                }
            }
        }
        Ok(p)
    }

    pub fn side(&self, e: &Event) -> Option<Side> {
        self.netns.get(&e.netns).copied()
    }

    pub fn device(&self, e: &Event) -> Option<&'static str> {
        self.devices.get(&(e.netns, e.ifindex)).copied()
    }

    /// The events of this lab. The kernel side filters by the lab's
    /// destination, which other labs on the machine (other prefixes)
    /// share, so only events in our namespaces are kept; and an event with
    /// no device (netns 0: UDP reuses `skb->dev` as `dev_scratch` once the
    /// skb is queued to a socket) when the same skb was seen in ours.
    pub fn keep(&self, events: Vec<Event>) -> Vec<Event> {
        self.keep_seen(events, &mut std::collections::HashSet::new())
    }

    /// [`Places::keep`] across several drains: `seen` remembers the lab's
    /// skbs of earlier ones (a socket's read comes long after its receive).
    pub fn keep_seen(
        &self,
        events: Vec<Event>,
        seen: &mut std::collections::HashSet<u64>,
    ) -> Vec<Event> {
        seen.extend(
            events
                .iter()
                .filter(|e| self.side(e).is_some())
                .map(|e| e.skb),
        );
        events
            .into_iter()
            .filter(|e| self.side(e).is_some() || (e.netns == 0 && seen.contains(&e.skb)))
            .collect()
    }
}

/// The step in plain words, in the seed's narrative.
pub fn annotate(
    hook: &str,
    side: Option<Side>,
    dev: Option<&str>,
    pkt_type: u8,
    reason: Option<&str>,
) -> String {
    let dev = dev.unwrap_or("a device outside the lab");
    let ns = ns_label(side);
    match hook {
        "net_dev_queue" if dev == plan::VETH1_1 => format!("sent by {ns}: queued on {dev}"),
        "net_dev_queue" if dev == plan::VETH2_1 => {
            format!("queued on {dev} in {ns} for transmit to netns_2")
        }
        "net_dev_queue" => format!("queued on {dev} in {ns}"),
        "net_dev_start_xmit" => format!("handed to {dev}'s driver (veth_xmit)"),
        "netif_rx" | "netif_receive_skb" if pkt_type == event::PACKET_OTHERHOST => format!(
            "received on {dev} in {ns} with pkt_type OTHERHOST: the destination MAC is not \
             {dev}'s, so {ns}'s IP stack will drop it"
        ),
        "netif_rx" => format!("enqueued for receive on {dev} in {ns}"),
        "netif_receive_skb" if dev == plan::VETH1_2 => format!(
            "received on {dev} in {ns}; TC ingress runs next (with the program, it hands the \
             packet to bpf_redirect)"
        ),
        "netif_receive_skb" => format!("received on {dev} in {ns}"),
        "skb_copy_datagram_iovec" => format!("delivered to the UDP socket in {ns}"),
        // The flow carries no packet: a datagram's input route and proxy
        // ARP's check that it can answer for 10.0.2.11 look the same.
        "fib_table_lookup" if side.is_some() && dev == "a device outside the lab" => format!(
            "{ns}'s IP stack looked up the route to 10.0.2.11 (an output lookup: no lab device \
             came in, as for bpf_redirect_neigh or bpf_fib_lookup)"
        ),
        "fib_table_lookup" => {
            format!("{ns}'s IP stack looked up the route to 10.0.2.11 (input from {dev})")
        }
        "xdp_redirect" => format!(
            "XDP on {dev} in {ns} redirected the frame (bpf_redirect), before any skb exists"
        ),
        "xdp_redirect_err" => format!("XDP on {dev} in {ns} failed to redirect the frame"),
        // Queued to a UDP socket, skb->dev becomes dev_scratch: no device.
        "consume_skb" if side.is_none() => {
            "freed after the socket read it (consume_skb, not a drop)".to_string()
        }
        "consume_skb" => format!("freed after use in {ns} (consume_skb, not a drop)"),
        "kfree_skb" => match reason {
            Some(r) => format!("dropped: {r}"),
            None => format!("dropped in {ns} (this kernel reports no reason)"),
        },
        f => format!("{f} in {ns}"),
    }
}

fn ns_label(side: Option<Side>) -> &'static str {
    match side {
        Some(Side::Host) => "the host",
        Some(Side::Netns1) => "netns_1",
        Some(Side::Netns2) => "netns_2",
        None => "a namespace outside the lab",
    }
}

/// A neighbour-layer step in plain words: `key` is the IPv4 address the
/// entry resolves, `state` its NUD state when the tracepoint fired.
pub fn annotate_neigh(
    hook: &str,
    side: Option<Side>,
    dev: Option<&str>,
    key: Ipv4Addr,
    state: u8,
) -> String {
    let dev = dev.unwrap_or("a device outside the lab");
    let ns = ns_label(side);
    let name = nud_state_name(state);
    // NUD_VALID (include/net/neighbour.h): the states with a usable address.
    let valid = state
        & (event::NUD_PERMANENT
            | event::NUD_NOARP
            | event::NUD_REACHABLE
            | event::NUD_PROBE
            | event::NUD_STALE
            | event::NUD_DELAY)
        != 0;
    match hook {
        "neigh_create" => format!(
            "{ns}'s neighbour layer creates an entry for {key} on {dev}: ARP will resolve it"
        ),
        "neigh_event_send_done" if state & event::NUD_INCOMPLETE != 0 => format!(
            "{ns}'s neighbour layer resolves {key} (ARP) on {dev}: the packet waits in the \
             entry's queue"
        ),
        "neigh_event_send_done" => {
            format!("{ns}'s neighbour layer checks {key} on {dev} ({name})")
        }
        "neigh_event_send_dead" => {
            format!("{ns}'s neighbour entry for {key} on {dev} is dead: the packet is dropped")
        }
        // __neigh_update sends the packets queued on an INCOMPLETE entry
        // before neigh_update_done fires: they leave between the two.
        "neigh_update" if state & event::NUD_INCOMPLETE != 0 => format!(
            "{ns}'s neighbour layer learns {key}'s address on {dev} (was INCOMPLETE): the \
             packets waiting for it go out"
        ),
        "neigh_update" => format!("{ns}'s neighbour layer updates {key} on {dev} (was {name})"),
        "neigh_update_done" if valid => {
            format!("{ns}'s neighbour layer resolved {key} on {dev} (ARP): now {name}")
        }
        "neigh_update_done" => format!("{ns}'s neighbour entry for {key} on {dev} is {name}"),
        "neigh_timer_handler" => {
            format!("{ns}'s neighbour timer for {key} on {dev}: {name}")
        }
        h => format!("{h}: {ns}'s neighbour entry for {key} on {dev} ({name})"),
    }
}

/// The dotted-quad form of the lab's destination, for messages.
pub fn destination() -> (Ipv4Addr, u16) {
    (plan::DEST_ADDR, LISTEN_PORT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_assembles_with_every_constant() {
        let mut d: Vec<(String, i64)> = [
            "SKB_PROTOCOL",
            "SKB_NETWORK_HEADER",
            "SKB_HEAD",
            "SKB_DEV",
            "SKB_LEN",
            "SKB_MARK",
            "DEV_IFINDEX",
            "DEV_NET",
            "NET_INUM",
            "PKT_TYPE_OFF",
            "PKT_TYPE_SHIFT",
            "PKT_TYPE_MASK",
            "SADDR",
            "DADDR",
            "DPORT",
            "HOOK",
            "SKB_ARG_OFF",
        ]
        .iter()
        .map(|n| (n.to_string(), 8))
        .collect();
        let opts = |d: Vec<(String, i64)>| ebpf_asm::AsmOptions {
            file_name: TEMPLATE_FILE.into(),
            defines: d,
        };
        let plain = ebpf_asm::assemble(SKB_TEMPLATE, &opts(d.clone())).unwrap();
        d.push(("REASON_ARG_OFF".into(), 16));
        let with_reason = ebpf_asm::assemble(SKB_TEMPLATE, &opts(d)).unwrap();
        assert_eq!(with_reason.insns().len(), plain.insns().len() + 2);
        let syms: Vec<&str> = plain
            .relocations()
            .iter()
            .map(|r| r.symbol.as_str())
            .collect();
        assert_eq!(syms, ["events", "lost"]);
        // The event goes out through the ring buffer: one call of
        // bpf_ringbuf_output (helper 130, include/uapi/linux/bpf.h), no map
        // update (helper 2).
        const BPF_CALL: u8 = 0x85;
        let calls = |p: &ebpf_asm::Program| -> Vec<i32> {
            p.insns()
                .iter()
                .filter(|i| i.code == BPF_CALL)
                .map(|i| i.imm)
                .collect()
        };
        let helpers = calls(&plain);
        assert_eq!(helpers.iter().filter(|&&h| h == 130).count(), 1);
        assert!(!helpers.contains(&2), "{helpers:?}");
        let fib_defines: Vec<(String, i64)> = [
            "HOOK",
            "FLP_ARG_OFF",
            "NHC_ARG_OFF",
            "ERR_ARG_OFF",
            "FL_IIF",
            "FL_MARK",
            "FL_PROTO",
            "FL_SADDR",
            "FL_DADDR",
            "FL_DPORT",
            "FL_SPORT",
            "NHC_DEV",
            "DEV_NET",
            "NET_INUM",
            "SADDR",
            "DADDR",
        ]
        .iter()
        .map(|n| (n.to_string(), 8))
        .collect();
        let fib = ebpf_asm::assemble(
            FIB_TEMPLATE,
            &ebpf_asm::AsmOptions {
                file_name: FIB_FILE.into(),
                defines: fib_defines,
            },
        )
        .unwrap();
        let helpers = calls(&fib);
        assert_eq!(helpers.iter().filter(|&&h| h == 130).count(), 1);
        assert!(!helpers.contains(&2), "{helpers:?}");
        let xdp_defines: Vec<(String, i64)> = [
            "HOOK",
            "DEV_ARG_OFF",
            "ERR_ARG_OFF",
            "DEV_IFINDEX",
            "DEV_NET",
            "NET_INUM",
        ]
        .iter()
        .map(|n| (n.to_string(), 8))
        .collect();
        let xdp = ebpf_asm::assemble(
            XDP_TEMPLATE,
            &ebpf_asm::AsmOptions {
                file_name: XDP_FILE.into(),
                defines: xdp_defines,
            },
        )
        .unwrap();
        assert_eq!(calls(&xdp).iter().filter(|&&h| h == 130).count(), 1);
        let neigh_defines: Vec<(String, i64)> = [
            "HOOK",
            "N_ARG_OFF",
            "N_TBL",
            "N_DEV",
            "N_NUD_STATE",
            "N_PRIMARY_KEY",
            "TBL_FAMILY",
            "DEV_IFINDEX",
            "DEV_NET",
            "NET_INUM",
            "SUBNET_1",
            "SUBNET_2",
        ]
        .iter()
        .map(|n| (n.to_string(), 8))
        .collect();
        let neigh_opts = |defines| ebpf_asm::AsmOptions {
            file_name: NEIGH_FILE.into(),
            defines,
        };
        let neigh = ebpf_asm::assemble(NEIGH_TEMPLATE, &neigh_opts(neigh_defines.clone())).unwrap();
        let mut create = neigh_defines;
        for d in ["DEV_ARG_OFF", "TBL_ARG_OFF", "PKEY_ARG_OFF"] {
            create.push((d.to_string(), 8));
        }
        ebpf_asm::assemble(NEIGH_TEMPLATE, &neigh_opts(create)).unwrap();
        // One ring buffer write, and the key read by copy (helper 113,
        // bpf_probe_read_kernel): it lies past what BTF types.
        let helpers = calls(&neigh);
        assert_eq!(helpers.iter().filter(|&&h| h == 130).count(), 1);
        assert!(helpers.contains(&113), "{helpers:?}");
    }

    #[test]
    fn neighbour_steps_name_the_address_and_state() {
        let key = Ipv4Addr::new(10, 0, 2, 11);
        let s = annotate_neigh(
            "neigh_event_send_done",
            Some(Side::Netns1),
            Some("veth2@1"),
            key,
            event::NUD_INCOMPLETE,
        );
        assert!(
            s.starts_with("netns_1's neighbour layer resolves 10.0.2.11 (ARP) on veth2@1"),
            "{s}"
        );
        let s = annotate_neigh(
            "neigh_update_done",
            Some(Side::Netns1),
            Some("veth2@1"),
            key,
            event::NUD_REACHABLE,
        );
        assert!(
            s.contains("resolved 10.0.2.11 on veth2@1 (ARP): now REACHABLE"),
            "{s}"
        );
        let s = annotate_neigh(
            "neigh_update",
            Some(Side::Netns1),
            Some("veth2@1"),
            key,
            event::NUD_INCOMPLETE,
        );
        assert!(s.contains("learns 10.0.2.11's address on veth2@1"), "{s}");
        let s = annotate_neigh("neigh_update", Some(Side::Netns2), None, key, 0);
        assert!(s.contains("netns_2") && s.contains("was NONE"), "{s}");
    }

    #[test]
    fn annotations_tell_the_seed_story() {
        let s = annotate(
            "net_dev_queue",
            Some(Side::Netns1),
            Some("veth2@1"),
            0,
            None,
        );
        assert_eq!(s, "queued on veth2@1 in netns_1 for transmit to netns_2");
        let s = annotate(
            "kfree_skb",
            Some(Side::Netns1),
            Some("veth2@1"),
            3,
            Some("OTHERHOST"),
        );
        assert_eq!(s, "dropped: OTHERHOST");
        let s = annotate("consume_skb", None, None, 0, None);
        assert_eq!(
            s,
            "freed after the socket read it (consume_skb, not a drop)"
        );
        let s = annotate("skb_copy_datagram_iovec", Some(Side::Netns2), None, 0, None);
        assert_eq!(s, "delivered to the UDP socket in netns_2");
        assert!(annotate(
            "netif_receive_skb",
            Some(Side::Netns1),
            Some("veth2@1"),
            3,
            None
        )
        .contains("pkt_type OTHERHOST"));
    }
}
