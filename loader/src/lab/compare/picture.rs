//! `compare --svg FILE`: one figure with the lab's topology, each mode's
//! path through it drawn in its own colour, and a bar chart of CPU per
//! delivered packet with min–max whiskers, written with [`super::super::svg`].
//!
//! A path is drawn from the events the path tracer measured for the mode
//! ([`super::trace`]): one dot per event at the device it was seen on
//! (netns_1's IP stack for the route lookup and the IP functions, the
//! socket for the read), joined in order; a traced datagram that did not
//! reach the socket ends in a cross. A mode that was not traced has no
//! line, and its legend says why.

use super::super::plan::{Side, VETH1_1, VETH1_2, VETH2_1, VETH2_2};
use super::super::svg::{bar_chart, colour, Bar, Svg};
use super::{Comparison, Entry, Step};

/// A place on the figure: a device, netns_1's IP stack, or the socket in
/// netns_2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hop {
    Dev(&'static str),
    Stack,
    Socket,
}

impl Hop {
    pub fn name(self) -> &'static str {
        match self {
            Hop::Dev(d) => d,
            Hop::Stack => "netns_1 IP stack",
            Hop::Socket => "socket 10.0.2.11:7777",
        }
    }
}

/// netns_1's IP layer: events drawn at its stack, not at a device.
const STACK_HOOKS: &[&str] = &[
    "fib_table_lookup",
    "ip_rcv",
    "ip_rcv_finish",
    "ip_forward",
    "ip_output",
    "ip_finish_output2",
    "neigh_resolve_output",
];

/// Where an event is drawn.
pub fn hop_of(s: &Step) -> Hop {
    match (s.side, s.device) {
        (Some(Side::Netns1), _) if STACK_HOOKS.contains(&s.hook.as_str()) => Hop::Stack,
        _ if s.hook == "skb_copy_datagram_iovec" => Hop::Socket,
        (_, Some(d)) => Hop::Dev(d),
        (Some(Side::Host), None) => Hop::Dev(VETH1_1),
        (Some(Side::Netns1), None) => Hop::Stack,
        // netns_2 without a device, or none at all (a socket's skb).
        _ => Hop::Socket,
    }
}

/// The places of a path, in order, with consecutive repeats merged and
/// how many events each stands for.
pub fn hops(steps: &[Step]) -> Vec<(Hop, usize)> {
    let mut v: Vec<(Hop, usize)> = Vec::new();
    for s in steps {
        let h = hop_of(s);
        match v.last_mut() {
            Some((last, n)) if *last == h => *n += 1,
            _ => v.push((h, 1)),
        }
    }
    v
}

fn x_of(h: Hop) -> f64 {
    match h {
        Hop::Dev(d) if d == VETH1_1 => 200.0,
        Hop::Dev(d) if d == VETH1_2 => 280.0,
        Hop::Dev(d) if d == VETH2_1 => 520.0,
        Hop::Dev(d) if d == VETH2_2 => 600.0,
        Hop::Stack => 400.0,
        _ => 800.0,
    }
}

/// The legend's lines for an entry.
fn legend(e: &Entry, reference: &Entry, fentry: bool) -> (String, String) {
    let Some(path) = &e.path else {
        return (
            format!(
                "{}: no path: {}",
                e.name,
                e.path_error.as_deref().unwrap_or("?")
            ),
            String::new(),
        );
    };
    let n = |f: bool| e.path_len(f).unwrap_or(0);
    let layers = if fentry {
        format!("tp_btf {}, fentry {}", n(false), n(true))
    } else {
        format!("tp_btf {}, fentry n/a", n(false))
    };
    let places: Vec<&str> = hops(path).iter().map(|(h, _)| h.name()).collect();
    let verdict = if e.path_delivered {
        "delivered"
    } else {
        "not delivered"
    };
    let first = format!(
        "{}: {} events ({layers}), {verdict}: {}",
        e.name,
        path.len(),
        places.join(" > ")
    );
    let second = match e.skipped(reference) {
        Some(k) if !k.is_empty() => format!(
            "skips {}",
            k.iter()
                .map(|s| s.stage.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        _ if std::ptr::eq(e, reference) => "the reference".to_string(),
        _ => "skips no stage of forwarding's path".to_string(),
    };
    (first, second)
}

fn topology(c: &Comparison) -> Svg {
    let n = c.entries.len() as f64;
    let top = 60.0;
    let lane = 10.0;
    let legend_top = top + 70.0 + lane * n;
    let row = 32.0;
    let height = legend_top + row * n + 30.0;
    let mut s = Svg::new("topology", 900.0, height);
    s.text(
        10.0,
        20.0,
        "start",
        "black",
        &format!(
            "each mode's path through the lab, traced on Linux {}",
            c.kernel
        ),
    );
    let box_bottom = top + 50.0 + lane * n;
    for (x, w, name) in [
        (20.0, 200.0, "host side"),
        (260.0, 280.0, "netns_1"),
        (580.0, 300.0, "netns_2"),
    ] {
        s.rect(
            x,
            top - 25.0,
            w,
            box_bottom - top + 25.0,
            "#f4f4f4",
            "#888888",
        );
        s.text(x + 6.0, top - 10.0, "start", "#555555", name);
    }
    for d in [VETH1_1, VETH1_2, VETH2_1, VETH2_2] {
        let x = x_of(Hop::Dev(d));
        s.rect(x - 30.0, top - 5.0, 60.0, 14.0, "white", "black");
        s.text(x, top + 6.0, "middle", "black", d);
    }
    s.text(
        x_of(Hop::Stack),
        box_bottom - 4.0,
        "middle",
        "#555555",
        Hop::Stack.name(),
    );
    s.text(
        x_of(Hop::Socket),
        top + 6.0,
        "middle",
        "black",
        Hop::Socket.name(),
    );
    let fentry = c.functions_attached > 0;
    let reference = c.reference();
    for (i, e) in c.entries.iter().enumerate() {
        let y = top + 20.0 + lane * i as f64;
        if let Some(path) = &e.path {
            // One point per event: the events at one place side by side.
            let mut pts: Vec<(f64, f64)> = Vec::new();
            for (h, k) in hops(path) {
                let yy = if h == Hop::Stack {
                    box_bottom - 18.0
                } else {
                    y
                };
                for j in 0..k {
                    let dx = (j as f64 - (k as f64 - 1.0) / 2.0) * 5.0;
                    pts.push((x_of(h) + dx, yy));
                }
            }
            if !pts.is_empty() {
                s.polyline(&pts, colour(i), &format!("path-{}", e.name));
                for p in &pts {
                    s.circle(*p, 2.0, colour(i), &format!("event event-{}", e.name));
                }
            }
            // The read itself may leave no event (see the README): a
            // delivered datagram's line is carried on to the socket, thin.
            let ends_at_socket = hops(path).last().is_some_and(|(h, _)| *h == Hop::Socket);
            if e.path_delivered && !ends_at_socket {
                if let Some(&(x, y)) = pts.last() {
                    s.line((x, y), (x_of(Hop::Socket) - 70.0, y), colour(i), 1.0);
                }
            }
            if !e.path_delivered {
                let (x, y) = pts.last().copied().unwrap_or((x_of(Hop::Dev(VETH1_1)), y));
                s.line((x - 6.0, y - 6.0), (x + 6.0, y + 6.0), "#d62728", 2.0);
                s.line((x - 6.0, y + 6.0), (x + 6.0, y - 6.0), "#d62728", 2.0);
            }
        }
        let (first, second) = legend(e, reference, fentry);
        let ly = legend_top + row * i as f64;
        s.text(20.0, ly, "start", colour(i), &first);
        s.text(40.0, ly + 14.0, "start", "#555555", &second);
    }
    let layer = match &c.function_layer {
        Some(why) => format!("function layer: {why}"),
        None if fentry => format!("function layer: {} fentry programs", c.functions_attached),
        None => "function layer: none attached".to_string(),
    };
    s.text(
        20.0,
        height - 10.0,
        "start",
        "#555555",
        &format!("{}; {layer}", super::PATH_NOTE),
    );
    s
}

/// The bars of CPU per delivered packet, one per entry.
pub fn cpu_bars(entries: &[Entry]) -> Vec<Bar> {
    entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let (min, max) = e.cpu_min_max().unwrap_or((0.0, 0.0));
            Bar {
                label: e.name.to_string(),
                value: e.cpu_median(),
                min,
                max,
                colour: colour(i),
                missing: match &e.error {
                    Some(err) => format!("not measured: {err}"),
                    None => "nothing delivered".into(),
                },
            }
        })
        .collect()
}

/// The whole figure.
pub fn figure(c: &Comparison) -> String {
    let topo = topology(c);
    let chart = bar_chart(
        &format!("CPU per delivered {} B UDP datagram", super::PAYLOAD),
        "ns",
        &cpu_bars(&c.entries),
        900.0,
    );
    let mut s = Svg::new(
        "redirect-lab compare",
        900.0,
        topo.height() + chart.height() + 20.0,
    );
    s.group(0.0, &topo);
    s.group(topo.height() + 20.0, &chart);
    s.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(hook: &str, side: Option<Side>, device: Option<&'static str>) -> Step {
        Step {
            hook: hook.into(),
            function: false,
            side,
            device,
            pkt_type: 0,
        }
    }

    #[test]
    fn events_are_placed_where_they_happened() {
        let path = [
            step("net_dev_queue", Some(Side::Host), Some(VETH1_1)),
            step("fib_table_lookup", Some(Side::Host), None),
            step("netif_rx", Some(Side::Netns1), Some(VETH1_2)),
            step("netif_receive_skb", Some(Side::Netns1), Some(VETH1_2)),
            step("fib_table_lookup", Some(Side::Netns1), Some(VETH1_2)),
            step("net_dev_queue", Some(Side::Netns1), Some(VETH2_1)),
            step("skb_copy_datagram_iovec", Some(Side::Netns2), Some(VETH2_2)),
            step("consume_skb", None, None),
        ];
        let h = hops(&path);
        assert_eq!(
            h,
            [
                (Hop::Dev(VETH1_1), 2),
                (Hop::Dev(VETH1_2), 2),
                (Hop::Stack, 1),
                (Hop::Dev(VETH2_1), 1),
                (Hop::Socket, 2)
            ]
        );
        assert_eq!(h.iter().map(|(_, n)| n).sum::<usize>(), path.len());
    }
}
