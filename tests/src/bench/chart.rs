//! `target/bench.svg`: the CPU-per-delivered-packet rows of the forwarding
//! benchmarks (1 and 6) as the bar chart with min–max whiskers that
//! `redirect-lab compare --svg` draws, with the same writer
//! (`loader::lab::svg`).

use super::table::{Figure, Row};
use loader::lab::svg::{bar_chart, colour, Bar};

/// The rows the chart shows: CPU per delivered packet of benchmarks 1 and 6,
/// on this host. The guests' rows (QEMU TCG) are left out: emulated
/// nanoseconds on the same axis would dwarf and mislead.
fn charted(r: &Row) -> bool {
    (r.bench.starts_with("1.") || r.bench.starts_with("6."))
        && r.case.contains("CPU per delivered packet")
        && !r.case.contains("(QEMU TCG)")
}

/// The SVG, or `None` when no row of it was run.
pub fn cpu_chart(rows: &[Row]) -> Option<String> {
    let bars: Vec<Bar> = rows
        .iter()
        .filter(|r| charted(r))
        .enumerate()
        .map(|(i, r)| {
            let (value, min, max, missing) = match &r.figure {
                Figure::Measured(s) => (Some(s.median), s.min, s.max, String::new()),
                Figure::Exact(v) => (Some(*v), *v, *v, String::new()),
                Figure::Missing(why) => (None, 0.0, 0.0, format!("not measured: {why}")),
            };
            Bar {
                label: format!("{} {}", r.bench, r.case),
                value,
                min,
                max,
                colour: colour(i),
                missing,
            }
        })
        .collect();
    if bars.is_empty() {
        return None;
    }
    let chart = bar_chart(
        "make bench: CPU per delivered UDP datagram, forwarding rows",
        "ns",
        &bars,
        1100.0,
    );
    Some(chart.finish())
}

#[cfg(test)]
mod tests {
    use super::super::stats::summarize;
    use super::*;

    #[test]
    fn chart_is_xml_with_a_labelled_bar_per_row() {
        let rows = vec![
            Row::new(
                "1. forwarding",
                "UDP 64 B, CPU per delivered packet, (a) netns_1 forwarding",
                "ns",
                Figure::Measured(summarize(&[900.0, 1000.0, 1200.0]).unwrap()),
            ),
            Row::missing(
                "6. redirect modes",
                "UDP 64 B, CPU per delivered packet, (tcx) bpf_redirect on TCX",
                "ns",
                "the lab did not come up",
            ),
            Row::new(
                "1. forwarding",
                "UDP 64 B delivered",
                "pps",
                Figure::Exact(1.0),
            ),
        ];
        let svg = cpu_chart(&rows).unwrap();
        let doc = roxmltree::Document::parse(&svg).expect("well-formed XML");
        let texts: Vec<&str> = doc.descendants().filter_map(|n| n.text()).collect();
        assert!(texts.iter().any(|t| t.contains("(a) netns_1 forwarding")));
        assert!(texts
            .iter()
            .any(|t| t.contains("not measured: the lab did not come up")));
        assert!(
            !svg.contains("UDP 64 B delivered<"),
            "a pps row is not charted"
        );
        // One bar (plus the white background) and one whisker.
        assert_eq!(
            doc.descendants().filter(|n| n.has_tag_name("rect")).count(),
            2
        );
        assert!(texts.contains(&"1000 ns"));
        assert_eq!(cpu_chart(&rows[2..]), None);
    }
}
