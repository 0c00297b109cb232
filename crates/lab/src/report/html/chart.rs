//! The line charts of the I/O scenario: one SVG per figure, against
//! concurrency on a log scale, one line and one colour per model.
//!
//! Invariant: failed steps are left out of the lines, and every chart has
//! the same size and margins.

use std::fmt::Write;

use super::escape;
use crate::report::StepResult;
use crate::servers::Model;

/// Chart size and margins, in SVG units.
const W: f64 = 560.0;
const H: f64 = 320.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 130.0;
const TOP: f64 = 30.0;
const BOTTOM: f64 = 44.0;

/// One colour per model, in [`Model::ALL`] order.
const COLOURS: [&str; Model::ALL.len()] = [
    "#0a7d3b", "#c0392b", "#2c6fbb", "#8e44ad", "#d4a017", "#17becf",
];

/// A line chart of `y` against connections (log scale), one line per model.
pub(super) fn chart(steps: &[&StepResult], title: &str, y: impl Fn(&StepResult) -> f64) -> String {
    let ok: Vec<&StepResult> = steps
        .iter()
        .copied()
        .filter(|s| s.error.is_none())
        .collect();
    let xs: Vec<f64> = ok
        .iter()
        .map(|s| (s.connections.max(1) as f64).log10())
        .collect();
    let (x0, x1) = bounds(&xs);
    let ymax = ok.iter().map(|s| y(s)).fold(0.0f64, f64::max).max(1e-9) * 1.1;
    let px = |x: f64| LEFT + (x - x0) / (x1 - x0).max(1e-9) * (W - LEFT - RIGHT);
    let py = |v: f64| H - BOTTOM - v / ymax * (H - TOP - BOTTOM);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" font-size=\"11\">\n\
         <text x=\"{LEFT}\" y=\"18\" font-size=\"13\" font-weight=\"bold\">{}</text>\n",
        escape(title)
    );
    axes(&mut svg, &ok, ymax, &px, &py);
    for (i, m) in Model::ALL.iter().enumerate() {
        let mut pts: Vec<(usize, f64)> = ok
            .iter()
            .filter(|s| s.model == *m)
            .map(|s| (s.connections, y(s)))
            .collect();
        if pts.is_empty() {
            continue;
        }
        pts.sort_by_key(|p| p.0);
        let colour = COLOURS[i % COLOURS.len()];
        let line: Vec<String> = pts
            .iter()
            .map(|(c, v)| format!("{:.1},{:.1}", px((*c as f64).log10()), py(*v)))
            .collect();
        let _ = writeln!(
            svg,
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{}\"/>",
            line.join(" ")
        );
        for p in &line {
            let (cx, cy) = p.split_once(',').unwrap_or(("0", "0"));
            let _ = writeln!(
                svg,
                "<circle cx=\"{cx}\" cy=\"{cy}\" r=\"3\" fill=\"{colour}\"/>"
            );
        }
        let ly = TOP + 16.0 * i as f64;
        let lx = W - RIGHT + 12.0;
        let _ = writeln!(
            svg,
            "<rect x=\"{lx}\" y=\"{}\" width=\"12\" height=\"3\" fill=\"{colour}\"/><text x=\"{}\" y=\"{ly}\">{}</text>",
            ly - 4.0,
            lx + 16.0,
            m.name()
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// The axes, with a tick per concurrency level and five on the y axis.
fn axes(
    svg: &mut String,
    steps: &[&StepResult],
    ymax: f64,
    px: &impl Fn(f64) -> f64,
    py: &impl Fn(f64) -> f64,
) {
    let (xl, xr, yb, yt) = (LEFT, W - RIGHT, H - BOTTOM, TOP);
    let _ = writeln!(
        svg,
        "<path d=\"M{xl},{yt} L{xl},{yb} L{xr},{yb}\" fill=\"none\" stroke=\"#444\"/>"
    );
    let mut levels: Vec<usize> = steps.iter().map(|s| s.connections).collect();
    levels.sort_unstable();
    levels.dedup();
    for c in levels {
        let x = px((c.max(1) as f64).log10());
        let _ = writeln!(
            svg,
            "<line x1=\"{x:.1}\" y1=\"{yb}\" x2=\"{x:.1}\" y2=\"{}\" stroke=\"#444\"/><text x=\"{x:.1}\" y=\"{}\" text-anchor=\"middle\">{c}</text>",
            yb + 4.0,
            yb + 16.0
        );
    }
    let _ = writeln!(
        svg,
        "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">connections</text>",
        (xl + xr) / 2.0,
        H - 6.0
    );
    for k in 0..=4 {
        let v = ymax / 1.1 * k as f64 / 4.0;
        let y = py(v);
        let _ = writeln!(
            svg,
            "<line x1=\"{xl}\" y1=\"{y:.1}\" x2=\"{xr}\" y2=\"{y:.1}\" stroke=\"#eee\"/><text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            xl - 4.0,
            y + 4.0,
            short(v)
        );
    }
}

/// The range of `xs`, widened when it is a single point.
fn bounds(xs: &[f64]) -> (f64, f64) {
    let lo = xs.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-9 {
        (lo - 0.5, hi + 0.5)
    } else {
        (lo, hi)
    }
}

/// A compact axis label.
fn short(v: f64) -> String {
    if v >= 10_000.0 {
        format!("{:.0}k", v / 1000.0)
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}
