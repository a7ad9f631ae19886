//! compare's path columns: one UDP datagram from veth1@1 to the socket in
//! netns_2, followed through each lab with the path tracer of
//! [`crate::lab::path`] (tp_btf everywhere, fentry where the kernel loads
//! it), and the stages a mode skips compared with forwarding.
//!
//! The tracer is attached once for every lab: its programs filter on the
//! lab's destination (10.0.2.11:7777), which all labs share, and
//! [`Places::keep`] keeps the events of one lab by its own netns inodes and
//! ifindexes. The labs are traced one after the other, each with one
//! warm-up datagram first (ARP, the neighbour entry and the route cache
//! settle on it) whose events are thrown away, then the traced one.
//!
//! What a mode skips is derived from the measured events: every event of
//! forwarding's path is named by the stage it belongs to ([`STAGES`], a
//! table of stage names and the hooks and places that identify them; an
//! event no stage names is its own stage, `hook on place`), and a stage
//! of forwarding's path that has no event in the mode's path is skipped.

use std::collections::HashSet;
use std::time::Duration;

use super::super::path::{Event, Places, Tracer, CURATED_FUNCTIONS};
use super::super::plan::{Side, VETH2_1, VETH2_2};
use super::super::{Lab, LabError, LISTEN_ADDR};

/// The function layer compare asks for: the path tracer's curated set,
/// plus the neighbour output functions (where they exist in BTF; a missing
/// one is skipped by the tracer with the reason).
pub const EXTRA_FUNCTIONS: &[&str] = &[
    "ip_finish_output2",
    "neigh_resolve_output",
    "bpf_out_neigh_v4",
];

/// Every fentry function compare asks the tracer for.
pub fn functions() -> Vec<String> {
    CURATED_FUNCTIONS
        .iter()
        .chain(EXTRA_FUNCTIONS)
        .map(|s| s.to_string())
        .collect()
}

/// The traced datagram's payload.
pub const PAYLOAD: &[u8] = b"redirect-lab compare path";

/// How long to wait for the datagram at the socket.
const WAIT: Duration = Duration::from_secs(2);

/// One event of a path, placed in the lab.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// The tracepoint or function name.
    pub hook: String,
    /// From the function layer (fentry), else the tracepoint layer.
    pub function: bool,
    pub side: Option<Side>,
    pub device: Option<&'static str>,
    pub pkt_type: u8,
}

/// The namespace names compare prints (the same for every prefix).
pub fn side_name(side: Option<Side>) -> &'static str {
    match side {
        Some(Side::Host) => "host",
        Some(Side::Netns1) => "netns_1",
        Some(Side::Netns2) => "netns_2",
        // Device-less events of a lab skb (Places::keep): a socket's.
        None => "-",
    }
}

impl Step {
    fn of(tracer: &Tracer, places: &Places, e: &Event) -> Step {
        Step {
            hook: tracer.hook_name(e).to_string(),
            function: tracer.is_function(e),
            side: places.side(e),
            device: places.device(e),
            pkt_type: e.pkt_type,
        }
    }

    /// `tp_btf` or `fentry`.
    pub fn layer(&self) -> &'static str {
        if self.function {
            "fentry"
        } else {
            "tp_btf"
        }
    }

    /// The device, else the namespace.
    pub fn place(&self) -> &'static str {
        self.device.unwrap_or(side_name(self.side))
    }

    /// `hook@place`, as the table prints it.
    pub fn label(&self) -> String {
        format!("{}@{}", self.hook, self.place())
    }
}

/// The events of one layer in a path.
pub fn count(steps: &[Step], function: bool) -> usize {
    steps.iter().filter(|s| s.function == function).count()
}

/// A traced path: the steps, and whether the datagram reached the socket.
#[derive(Clone, Debug, Default)]
pub struct Traced {
    pub steps: Vec<Step>,
    pub delivered: bool,
}

/// Follows one datagram through `lab` with an attached `tracer`: a warm-up
/// datagram (its events dropped), then the traced one, received by a
/// socket in netns_2; the lab's events of that datagram, in timestamp order.
pub fn trace(lab: &Lab, tracer: &mut Tracer) -> Result<Traced, LabError> {
    let places = Places::of(lab)?;
    let rx = lab.udp_listener()?;
    let tx = lab.host_udp_socket()?;
    rx.set_read_timeout(Some(WAIT))
        .map_err(|e| LabError::Failed(format!("SO_RCVTIMEO: {e}")))?;
    let mut buf = [0u8; 256];
    let mut send_one = || -> Result<bool, LabError> {
        tx.send_to(PAYLOAD, LISTEN_ADDR).map_err(|e| {
            LabError::Failed(format!(
                "sending from the host side: {}",
                crate::error::io_text(&e)
            ))
        })?;
        Ok(rx.recv(&mut buf).is_ok_and(|n| &buf[..n] == PAYLOAD))
    };
    let _warm = send_one()?;
    // Whatever the warm-up left (also a late event of it) is not the path.
    std::thread::sleep(Duration::from_millis(20));
    tracer.drain()?;
    let delivered = send_one()?;
    // The socket read the datagram, so its events are in the ring buffer;
    // a record of another CPU may trail by microseconds.
    std::thread::sleep(Duration::from_millis(20));
    let events = places.keep(tracer.drain()?);
    Ok(Traced {
        steps: events
            .iter()
            .map(|e| Step::of(tracer, &places, e))
            .collect(),
        delivered,
    })
}

/// A stage of forwarding's path, and the events that identify it.
#[derive(Clone, Copy, Debug)]
pub struct Stage {
    pub name: &'static str,
    /// Tracepoints or functions.
    pub hooks: &'static [&'static str],
    pub side: Side,
    /// The device the event must be on, if any.
    pub device: Option<&'static str>,
}

/// The stages that a redirect may skip, by the hooks that identify them.
pub const STAGES: &[Stage] = &[
    Stage {
        name: "route lookup",
        hooks: &["fib_table_lookup"],
        side: Side::Netns1,
        device: None,
    },
    Stage {
        name: "IP receive",
        hooks: &["ip_rcv", "ip_rcv_finish"],
        side: Side::Netns1,
        device: None,
    },
    Stage {
        name: "ip_forward",
        hooks: &["ip_forward"],
        side: Side::Netns1,
        device: None,
    },
    Stage {
        name: "IP output",
        hooks: &["ip_output"],
        side: Side::Netns1,
        device: None,
    },
    Stage {
        name: "neighbour output",
        hooks: &[
            "ip_finish_output2",
            "neigh_resolve_output",
            "bpf_out_neigh_v4",
        ],
        side: Side::Netns1,
        device: None,
    },
    Stage {
        name: "veth transmit",
        hooks: &[
            "net_dev_queue",
            "net_dev_start_xmit",
            "__dev_queue_xmit",
            "dev_queue_xmit",
            "dev_hard_start_xmit",
            "veth_xmit",
            "__dev_forward_skb",
            "__dev_forward_skb2",
        ],
        side: Side::Netns1,
        device: Some(VETH2_1),
    },
    Stage {
        name: "backlog",
        hooks: &["netif_rx", "__netif_rx"],
        side: Side::Netns2,
        device: Some(VETH2_2),
    },
    Stage {
        name: "receive on veth2@2",
        hooks: &[
            "netif_receive_skb",
            "__netif_receive_skb",
            "__netif_receive_skb_core",
        ],
        side: Side::Netns2,
        device: Some(VETH2_2),
    },
];

/// The stage a step belongs to: a [`STAGES`] name, or `hook on place`.
pub fn stage_of(s: &Step) -> String {
    STAGES
        .iter()
        .find(|st| {
            st.hooks.contains(&s.hook.as_str())
                && s.side == Some(st.side)
                && (st.device.is_none() || s.device == st.device)
        })
        .map_or_else(
            || format!("{} on {}", s.hook, s.place()),
            |st| st.name.to_string(),
        )
}

/// A stage of forwarding's path missing from a mode's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skip {
    pub stage: String,
    /// The events of forwarding's path that name it (`layer hook@place`).
    pub events: Vec<String>,
}

impl Skip {
    pub fn text(&self) -> String {
        format!("{} ({})", self.stage, self.events.join(", "))
    }
}

/// The stages of `reference` (forwarding's steps) with no event in
/// `steps`, in the order forwarding meets them.
pub fn skipped(reference: &[Step], steps: &[Step]) -> Vec<Skip> {
    let present: HashSet<String> = steps.iter().map(stage_of).collect();
    let mut out: Vec<Skip> = Vec::new();
    for s in reference {
        let stage = stage_of(s);
        if present.contains(&stage) {
            continue;
        }
        let ev = format!("{} {}", s.layer(), s.label());
        match out.iter_mut().find(|k| k.stage == stage) {
            Some(k) if !k.events.contains(&ev) => k.events.push(ev),
            Some(_) => {}
            None => out.push(Skip {
                stage,
                events: vec![ev],
            }),
        }
    }
    out
}

/// The stages of `steps` that forwarding's path does not have (the
/// redirect's own: `skb_do_redirect`, `xdp_redirect`, ...).
pub fn added(reference: &[Step], steps: &[Step]) -> Vec<String> {
    let there: HashSet<String> = reference.iter().map(stage_of).collect();
    let mut out: Vec<String> = Vec::new();
    for s in steps {
        let stage = stage_of(s);
        if !there.contains(&stage) && !out.contains(&stage) {
            out.push(stage);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(hook: &str, function: bool, side: Side, device: Option<&'static str>) -> Step {
        Step {
            hook: hook.into(),
            function,
            side: Some(side),
            device,
            pkt_type: 0,
        }
    }

    #[test]
    fn skipped_stages_come_from_the_events() {
        let fwd = vec![
            step("netif_receive_skb", false, Side::Netns1, Some("veth1@2")),
            step("fib_table_lookup", false, Side::Netns1, Some("veth1@2")),
            step("ip_forward", true, Side::Netns1, Some("veth1@2")),
            step("net_dev_queue", false, Side::Netns1, Some(VETH2_1)),
            step("net_dev_start_xmit", false, Side::Netns1, Some(VETH2_1)),
            step("netif_rx", false, Side::Netns2, Some(VETH2_2)),
        ];
        let egress = vec![
            step("netif_receive_skb", false, Side::Netns1, Some("veth1@2")),
            step("skb_do_redirect", true, Side::Netns1, Some("veth1@2")),
            step("net_dev_queue", false, Side::Netns1, Some(VETH2_1)),
            step("netif_rx", false, Side::Netns2, Some(VETH2_2)),
        ];
        let k = skipped(&fwd, &egress);
        let names: Vec<&str> = k.iter().map(|s| s.stage.as_str()).collect();
        assert_eq!(names, ["route lookup", "ip_forward"]);
        assert_eq!(
            k[0].text(),
            "route lookup (tp_btf fib_table_lookup@veth1@2)"
        );
        assert_eq!(added(&fwd, &egress), ["skb_do_redirect on veth1@2"]);
        // An empty path skips every stage forwarding has, by name.
        let all = skipped(&fwd, &[]);
        assert_eq!(all.len(), 5, "{all:?}");
        assert_eq!(all[0].stage, "netif_receive_skb on veth1@2");
        assert_eq!(all[3].events.len(), 2);
        assert!(skipped(&fwd, &fwd).is_empty());
        assert_eq!((count(&fwd, false), count(&fwd, true)), (5, 1));
    }
}
