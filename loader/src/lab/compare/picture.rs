//! `compare --svg FILE`: one figure with the lab's topology, each mode's
//! way through it drawn in its own colour, and a bar chart of CPU per
//! delivered packet with min–max whiskers, written with [`super::super::svg`].
//!
//! The ways are the devices each technique hands the packet to, read from
//! the mode table (hook on veth1@2, the helper, its flags, the target);
//! whether the packet arrived is measured (delivered datagrams), and a way
//! that delivered nothing ends in a cross. The traced events (issue 12's
//! path tracer) are not drawn until compare runs it.

use super::super::mode::Mode;
use super::super::plan::{VETH1_1, VETH1_2, VETH2_1, VETH2_2};
use super::super::svg::{bar_chart, colour, Bar, Svg};
use super::{Comparison, Entry, NO_PATH};
use crate::retval::BPF_F_INGRESS;

/// A stop on a way: a device, netns_1's IP stack, or the socket in netns_2.
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

/// The devices a mode hands the packet to (forwarding: `None`).
pub fn hops(mode: Option<&Mode>) -> Vec<Hop> {
    let Some(m) = mode else {
        return vec![
            Hop::Dev(VETH1_1),
            Hop::Dev(VETH1_2),
            Hop::Stack,
            Hop::Dev(VETH2_1),
            Hop::Dev(VETH2_2),
            Hop::Socket,
        ];
    };
    let mut v = vec![Hop::Dev(VETH1_1), Hop::Dev(VETH1_2)];
    if m.helper == "bpf_redirect_peer" {
        // Into the target's peer's receive path: veth2@1 is never crossed.
        v.extend([Hop::Dev(VETH2_2), Hop::Socket]);
    } else if m.redirect_flags & BPF_F_INGRESS != 0 {
        // Received on the target itself, in netns_1.
        v.push(Hop::Dev(VETH2_1));
    } else {
        v.extend([Hop::Dev(VETH2_1), Hop::Dev(VETH2_2), Hop::Socket]);
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

fn topology(c: &Comparison) -> Svg {
    let n = c.entries.len() as f64;
    let top = 60.0;
    let lane = 10.0;
    let legend_top = top + 70.0 + lane * n;
    let height = legend_top + 18.0 * n + 30.0;
    let mut s = Svg::new("topology", 900.0, height);
    s.text(
        10.0,
        20.0,
        "start",
        "black",
        &format!("each mode's way through the lab, Linux {}", c.kernel),
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
    for (i, e) in c.entries.iter().enumerate() {
        let y = top + 20.0 + lane * i as f64;
        let hs = hops(e.mode);
        let pts: Vec<(f64, f64)> = hs
            .iter()
            .map(|h| {
                (
                    x_of(*h),
                    if *h == Hop::Stack {
                        box_bottom - 18.0
                    } else {
                        y
                    },
                )
            })
            .collect();
        s.polyline(&pts, colour(i), &format!("path-{}", e.name));
        if e.delivered == 0 {
            let (x, y) = pts[pts.len() - 1];
            s.line((x - 6.0, y - 6.0), (x + 6.0, y + 6.0), "#d62728", 2.0);
            s.line((x - 6.0, y + 6.0), (x + 6.0, y - 6.0), "#d62728", 2.0);
        }
        let names: Vec<&str> = hs.iter().map(|h| h.name()).collect();
        let verdict = if e.delivered > 0 {
            format!("{} of {} delivered", e.delivered, e.sent)
        } else {
            format!("none of {} delivered", e.sent)
        };
        s.text(
            20.0,
            legend_top + 18.0 * i as f64,
            "start",
            colour(i),
            &format!("{}: {} ({verdict})", e.name, names.join(" > ")),
        );
    }
    s.text(
        20.0,
        height - 10.0,
        "start",
        "#555555",
        &format!("ways from the mode table; traced events: {NO_PATH}"),
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
    use super::super::super::mode::find;
    use super::*;

    #[test]
    fn ways_follow_the_helper() {
        let names = |m: Option<&Mode>| hops(m).iter().map(|h| h.name()).collect::<Vec<_>>();
        assert_eq!(
            names(Some(find("peer").unwrap())),
            [VETH1_1, VETH1_2, VETH2_2, Hop::Socket.name()]
        );
        assert_eq!(
            names(Some(find("ingress").unwrap())),
            [VETH1_1, VETH1_2, VETH2_1]
        );
        assert_eq!(hops(Some(find("egress").unwrap())).len(), 5);
        assert!(hops(None).contains(&Hop::Stack));
    }
}
