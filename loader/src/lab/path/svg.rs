//! `path --svg`: the lab's topology (the seed's diagram) with the traced
//! path drawn on it, written as SVG by hand (no library: the format is a
//! few elements of XML, <https://www.w3.org/TR/SVG11/>).
//!
//! Three namespace boxes side by side, the four veth devices on their
//! edges, the veth pairs as links; the packet's path is a polyline through
//! the devices in the order the events met them, each step numbered, and a
//! drop is a red cross with its reason. Below, the steps as text.

use std::fmt::Write as _;

use crate::lab::plan::{Side, VETH1_1, VETH1_2, VETH2_1, VETH2_2};

/// One step to draw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub side: Option<Side>,
    pub device: Option<&'static str>,
    pub hook: String,
    pub note: String,
    pub dropped: bool,
}

/// Escapes text for XML character data and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 allows only tab, newline and CR below U+0020.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

/// Where a device sits: its centre.
fn device_xy(dev: &str) -> Option<(i32, i32)> {
    match dev {
        d if d == VETH1_1 => Some((200, 110)),
        d if d == VETH1_2 => Some((280, 110)),
        d if d == VETH2_1 => Some((520, 110)),
        d if d == VETH2_2 => Some((600, 110)),
        _ => None,
    }
}

/// A namespace box's centre, for steps with no known device.
fn side_xy(side: Option<Side>) -> (i32, i32) {
    match side {
        Some(Side::Host) => (110, 170),
        Some(Side::Netns1) => (400, 170),
        Some(Side::Netns2) => (690, 170),
        None => (690, 200),
    }
}

/// The whole picture.
pub fn draw(title: &str, steps: &[Step]) -> String {
    let lines = steps.len() as i32;
    let height = 260 + 18 * lines;
    let mut s = String::new();
    let _ = writeln!(s, r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="800" height="{height}" viewBox="0 0 800 {height}" font-family="monospace" font-size="12">"#
    );
    let _ = writeln!(s, "<title>{}</title>", escape(title));
    let _ = writeln!(
        s,
        r#"<text x="20" y="24" font-size="14">{}</text>"#,
        escape(title)
    );
    for (x, w, name) in [
        (20, 180, "host"),
        (280, 240, "netns_1"),
        (600, 180, "netns_2"),
    ] {
        let _ = writeln!(
            s,
            r##"<rect x="{x}" y="50" width="{w}" height="150" fill="#f4f6fb" stroke="#556"/><text x="{}" y="68">{name}</text>"##,
            x + 8
        );
    }
    for (a, b) in [(VETH1_1, VETH1_2), (VETH2_1, VETH2_2)] {
        let (ax, ay) = device_xy(a).unwrap_or((0, 0));
        let (bx, by) = device_xy(b).unwrap_or((0, 0));
        let _ = writeln!(
            s,
            r##"<line x1="{ax}" y1="{ay}" x2="{bx}" y2="{by}" stroke="#889" stroke-width="6"/>"##
        );
    }
    for dev in [VETH1_1, VETH1_2, VETH2_1, VETH2_2] {
        let (x, y) = device_xy(dev).unwrap_or((0, 0));
        let _ = writeln!(
            s,
            r##"<rect x="{}" y="{}" width="60" height="22" fill="#fff" stroke="#334"/><text x="{}" y="{}" text-anchor="middle">{}</text>"##,
            x - 30,
            y - 11,
            x,
            y + 4,
            escape(dev)
        );
    }
    // The path: through each step's device (or namespace), consecutive
    // duplicates merged.
    let mut points: Vec<(i32, i32)> = Vec::new();
    for st in steps {
        let p = st
            .device
            .and_then(device_xy)
            .map(|(x, y)| (x, y + 30))
            .unwrap_or_else(|| side_xy(st.side));
        if points.last() != Some(&p) {
            points.push(p);
        }
    }
    if points.len() > 1 {
        let pts: Vec<String> = points.iter().map(|(x, y)| format!("{x},{y}")).collect();
        let _ = writeln!(
            s,
            r##"<polyline points="{}" fill="none" stroke="#1a7f37" stroke-width="3"/>"##,
            pts.join(" ")
        );
    }
    for (i, (x, y)) in points.iter().enumerate() {
        let _ = writeln!(
            s,
            r##"<circle cx="{x}" cy="{y}" r="9" fill="#1a7f37"/><text x="{x}" y="{}" fill="#fff" text-anchor="middle" font-size="10">{}</text>"##,
            y + 4,
            i + 1
        );
    }
    if let Some(d) = steps.iter().find(|st| st.dropped) {
        let (x, y) = d
            .device
            .and_then(device_xy)
            .map(|(x, y)| (x, y + 30))
            .unwrap_or_else(|| side_xy(d.side));
        let _ = writeln!(
            s,
            r##"<path d="M{} {} L{} {} M{} {} L{} {}" stroke="#c00" stroke-width="4"/><text x="{x}" y="{}" fill="#c00" text-anchor="middle">{}</text>"##,
            x - 12,
            y - 12,
            x + 12,
            y + 12,
            x - 12,
            y + 12,
            x + 12,
            y - 12,
            y + 30,
            escape(&d.note)
        );
    }
    for (i, st) in steps.iter().enumerate() {
        let _ = writeln!(
            s,
            r#"<text x="20" y="{}">{:>2}. {} {}: {}</text>"#,
            250 + 18 * i as i32,
            i + 1,
            escape(&st.hook),
            escape(st.device.unwrap_or("-")),
            escape(&st.note)
        );
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_control_characters() {
        assert_eq!(escape("a<b>&\"'\u{1}"), "a&lt;b&gt;&amp;&quot;&apos;?");
    }

    #[test]
    fn draws_the_topology_the_path_and_the_drop() {
        let steps = vec![
            Step {
                side: Some(Side::Netns1),
                device: Some(VETH1_2),
                hook: "netif_receive_skb".into(),
                note: "received on veth1@2".into(),
                dropped: false,
            },
            Step {
                side: Some(Side::Netns1),
                device: Some(VETH2_1),
                hook: "kfree_skb".into(),
                note: "dropped: OTHERHOST <&>".into(),
                dropped: true,
            },
        ];
        let svg = draw("ingress", &steps);
        assert!(svg.starts_with("<?xml"));
        assert!(svg.trim_end().ends_with("</svg>"));
        for want in [
            "veth1@1",
            "veth1@2",
            "veth2@1",
            "veth2@2",
            "netns_1",
            "<polyline",
        ] {
            assert!(svg.contains(want), "{want}");
        }
        assert!(svg.contains("dropped: OTHERHOST &lt;&amp;&gt;"));
        assert!(!svg.contains("<&>"));
        // Every element opened is closed or self-closed: tags balance.
        let opens = svg.matches("<svg").count() + svg.matches("<title>").count();
        let closes = svg.matches("</svg>").count() + svg.matches("</title>").count();
        assert_eq!(opens, closes);
        assert_eq!(svg.matches("<text").count(), svg.matches("</text>").count());
    }
}
