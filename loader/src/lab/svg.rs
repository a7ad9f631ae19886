//! A small SVG writer of our own (SVG 1.1, <https://www.w3.org/TR/SVG11/>):
//! a document of rectangles, lines, polylines and text, with XML escaping,
//! and the bar chart with min–max whiskers that `redirect-lab compare
//! --svg` and `make bench` (target/bench.svg) both draw.

use std::fmt::Write as _;

// One XML escaper for every picture: the path tracer's (`path --svg`).
pub use super::path::svg::escape;

/// Distinct colours for series (one per mode), readable on white.
pub const PALETTE: &[&str] = &[
    "#444444", "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
    "#17becf", "#bcbd22",
];

/// The colour of series `i`.
pub fn colour(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

/// An SVG document being written; [`Svg::finish`] closes it.
pub struct Svg {
    body: String,
    width: f64,
    height: f64,
    title: String,
}

impl Svg {
    pub fn new(title: &str, width: f64, height: f64) -> Svg {
        Svg {
            body: String::new(),
            width,
            height,
            title: title.to_string(),
        }
    }

    pub fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, fill: &str, stroke: &str) {
        let _ = writeln!(
            self.body,
            r#"<rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}" fill="{}" stroke="{}"/>"#,
            escape(fill),
            escape(stroke)
        );
    }

    pub fn line(&mut self, (x1, y1): (f64, f64), (x2, y2): (f64, f64), stroke: &str, width: f64) {
        let _ = writeln!(
            self.body,
            r#"<line x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y2:.1}" stroke="{}" stroke-width="{width}"/>"#,
            escape(stroke)
        );
    }

    /// A polyline; `class` and `id` let a reader (or a test) find it.
    pub fn polyline(&mut self, points: &[(f64, f64)], stroke: &str, id: &str) {
        let pts: Vec<String> = points
            .iter()
            .map(|(x, y)| format!("{x:.1},{y:.1}"))
            .collect();
        let _ = writeln!(
            self.body,
            r#"<polyline class="path" id="{}" points="{}" fill="none" stroke="{}" stroke-width="2.5"/>"#,
            escape(id),
            pts.join(" "),
            escape(stroke)
        );
    }

    /// A dot; `class` lets a reader (or a test) find it.
    pub fn circle(&mut self, (cx, cy): (f64, f64), r: f64, fill: &str, class: &str) {
        let _ = writeln!(
            self.body,
            r#"<circle class="{}" cx="{cx:.1}" cy="{cy:.1}" r="{r:.1}" fill="{}"/>"#,
            escape(class),
            escape(fill)
        );
    }

    /// Text; `anchor` is `start`, `middle` or `end`.
    pub fn text(&mut self, x: f64, y: f64, anchor: &str, fill: &str, text: &str) {
        let _ = writeln!(
            self.body,
            r#"<text x="{x:.1}" y="{y:.1}" text-anchor="{anchor}" fill="{}">{}</text>"#,
            escape(fill),
            escape(text)
        );
    }

    /// Raw markup from another `Svg` (a figure made of parts).
    pub fn group(&mut self, dy: f64, part: &Svg) {
        let _ = writeln!(self.body, r#"<g transform="translate(0,{dy:.1})">"#);
        self.body.push_str(&part.body);
        self.body.push_str("</g>\n");
    }

    pub fn height(&self) -> f64 {
        self.height
    }

    pub fn finish(self) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w:.0}\" height=\"{h:.0}\" \
             viewBox=\"0 0 {w:.0} {h:.0}\" font-family=\"sans-serif\" font-size=\"12\">\n\
             <title>{t}</title>\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n{b}</svg>\n",
            w = self.width,
            h = self.height,
            t = escape(&self.title),
            b = self.body
        )
    }
}

/// One bar: the median, and the range of the samples as a whisker.
#[derive(Clone, Debug, PartialEq)]
pub struct Bar {
    pub label: String,
    /// `None`: not measured; the bar is left out and its reason printed.
    pub value: Option<f64>,
    pub min: f64,
    pub max: f64,
    pub colour: &'static str,
    /// Shown instead of a bar when there is no value.
    pub missing: String,
}

/// A horizontal bar chart with min–max whiskers, `width` wide.
pub fn bar_chart(title: &str, unit: &str, bars: &[Bar], width: f64) -> Svg {
    let row = 22.0;
    let (left, top) = (230.0, 40.0);
    let height = top + row * bars.len() as f64 + 30.0;
    let mut s = Svg::new(title, width, height);
    s.text(10.0, 20.0, "start", "black", title);
    let top_value = bars
        .iter()
        .filter(|b| b.value.is_some())
        .map(|b| b.max)
        .fold(0.0f64, f64::max);
    let span = width - left - 90.0;
    let x_of = |v: f64| {
        left + if top_value > 0.0 {
            v / top_value * span
        } else {
            0.0
        }
    };
    for (i, b) in bars.iter().enumerate() {
        let y = top + row * i as f64;
        s.text(left - 8.0, y + 14.0, "end", "black", &b.label);
        match b.value {
            Some(v) => {
                s.rect(left, y + 3.0, x_of(v) - left, row - 6.0, b.colour, "none");
                let (lo, hi) = (x_of(b.min), x_of(b.max));
                let mid = y + row / 2.0;
                s.line((lo, mid), (hi, mid), "black", 1.0);
                s.line((lo, mid - 5.0), (lo, mid + 5.0), "black", 1.0);
                s.line((hi, mid - 5.0), (hi, mid + 5.0), "black", 1.0);
                s.text(
                    hi + 6.0,
                    y + 14.0,
                    "start",
                    "black",
                    &format!("{v:.0} {unit}"),
                );
            }
            None => s.text(left + 4.0, y + 14.0, "start", "#999999", &b.missing),
        }
    }
    s.line((left, top), (left, height - 30.0), "black", 1.0);
    s.text(
        left,
        height - 10.0,
        "start",
        "#555555",
        &format!("{unit}: bar = median, whisker = min to max"),
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(escape("a<b & \"c\"\u{1}"), "a&lt;b &amp; &quot;c&quot;?");
    }

    #[test]
    fn chart_has_a_bar_and_whisker_per_value() {
        let bars = vec![
            Bar {
                label: "a <x>".into(),
                value: Some(10.0),
                min: 8.0,
                max: 12.0,
                colour: colour(0),
                missing: String::new(),
            },
            Bar {
                label: "b".into(),
                value: None,
                min: 0.0,
                max: 0.0,
                colour: colour(1),
                missing: "not measured".into(),
            },
        ];
        let svg = bar_chart("t", "ns", &bars, 600.0).finish();
        assert!(svg.contains("a &lt;x&gt;") && svg.contains("not measured"));
        assert_eq!(svg.matches("<rect").count(), 2, "background + one bar");
        assert_eq!(svg.matches("<line").count(), 4, "whisker (3) + axis");
    }
}
