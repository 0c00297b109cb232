//! The HTML rendering of a [`LabReport`]: the Markdown tables as HTML plus
//! three SVG line charts of the I/O scenario against concurrency
//! (throughput, p99 latency, peak PSS), one line per model, and, when the
//! run traced one, the timeline of four requests on the event loop: the
//! loop thread's lane and one lane per request, drawn from the trace's
//! spans only.
//!
//! Invariants: the page is self-contained (no script, no external file),
//! and every text from the report is escaped.

use std::fmt::Write;

use super::{LabReport, StepResult};
use crate::lab::Scenario;
use crate::servers::Model;
use crate::trace::{Span, SpanKind, Timeline};

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

/// The page.
pub(super) fn render(r: &LabReport) -> String {
    let mut out = String::from(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>waiter lab</title>\n<style>\
         body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}\
         table{border-collapse:collapse;font-size:13px;margin-bottom:1.5em}\
         td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}\
         td:first-child,th:first-child{text-align:left}\
         svg{margin:0 1em 1em 0;border:1px solid #eee}\
         </style></head><body>\n<h1>waiter lab</h1>\n\
         <p>The same I/O-bound app on each server model, under the same load. \
         Charts first; every figure is in the tables below.</p>\n",
    );
    let io: Vec<&StepResult> = r.steps_of(Scenario::Io).collect();
    if !io.is_empty() {
        out.push_str("<h2>I/O-bound request against concurrency</h2>\n<div>\n");
        out.push_str(&chart(&io, "throughput (req/s)", |s| s.load.throughput));
        out.push_str(&chart(&io, "p99 latency (ms)", |s| {
            s.load.latency.p99_us as f64 / 1000.0
        }));
        out.push_str(&chart(&io, "peak memory, PSS (MiB)", |s| {
            s.peak_pss_bytes as f64 / (1024.0 * 1024.0)
        }));
        out.push_str("</div>\n");
    }
    if let Some(t) = &r.timeline {
        out.push_str(&timeline_section(t));
    }
    markdown_to_html(&r.to_markdown(), &mut out);
    out.push_str("</body></html>\n");
    out
}

/// A line chart of `y` against connections (log scale), one line per model.
fn chart(steps: &[&StepResult], title: &str, y: impl Fn(&StepResult) -> f64) -> String {
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

/// The report's Markdown (headings, bullets, tables, paragraphs) as HTML.
fn markdown_to_html(md: &str, out: &mut String) {
    let mut in_list = false;
    let mut in_table = false;
    let mut in_code = false;
    for line in md.lines() {
        if line.starts_with("```") {
            out.push_str(if in_code { "</pre>\n" } else { "<pre>" });
            in_code = !in_code;
            continue;
        }
        if in_code {
            let _ = writeln!(out, "{}", escape(line));
            continue;
        }
        if in_list && !line.starts_with("- ") {
            out.push_str("</ul>\n");
            in_list = false;
        }
        if in_table && !line.starts_with('|') {
            out.push_str("</table>\n");
            in_table = false;
        }
        if let Some(h) = line.strip_prefix("## ") {
            let _ = writeln!(out, "<h2>{}</h2>", escape(h));
        } else if line.starts_with("# ") {
            // The page has its own title, above the charts.
        } else if let Some(item) = line.strip_prefix("- ") {
            if !in_list {
                out.push_str("<ul>\n");
                in_list = true;
            }
            let _ = writeln!(out, "<li>{}</li>", escape(item).replace('`', ""));
        } else if line.starts_with("| ---") {
            continue;
        } else if line.starts_with('|') {
            let cell = if in_table { "td" } else { "th" };
            if !in_table {
                out.push_str("<table>\n");
                in_table = true;
            }
            out.push_str("<tr>");
            for c in line.trim_matches('|').split('|') {
                let _ = write!(out, "<{cell}>{}</{cell}>", escape(c.trim()));
            }
            out.push_str("</tr>\n");
        } else if !line.trim().is_empty() {
            let _ = writeln!(out, "<p>{}</p>", escape(line).replace('*', ""));
        }
    }
    if in_list {
        out.push_str("</ul>\n");
    }
    if in_table {
        out.push_str("</table>\n");
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The timeline's size, in SVG units: width, left column for lane names,
/// right margin.
const TL_W: f64 = 1120.0;
const TL_LEFT: f64 = 112.0;
const TL_RIGHT: f64 = 24.0;
/// The loop lane: top and height; request lanes: top of the first, height
/// and pitch.
const TL_LOOP_Y: f64 = 66.0;
const TL_LOOP_H: f64 = 34.0;
const TL_REQ_Y: f64 = 128.0;
const TL_REQ_H: f64 = 22.0;
const TL_REQ_PITCH: f64 = 32.0;
/// Slices on the thread last tens of microseconds: drawn at least this wide.
const TL_MIN_PX: f64 = 3.0;
/// Height of the zoomed strips under the timeline.
const TL_ZOOM_H: f64 = 92.0;

/// One colour per traced request (A, B, C, D, then again).
const REQ_COLOURS: [&str; 4] = ["#e8590c", "#1098ad", "#d6336c", "#7048e8"];
/// Database socket I/O on the loop lane.
const DB_IO: &str = "#343a40";
/// Other loop work.
const OTHER: &str = "#adb5bd";
/// Idle in `epoll_wait`.
const IDLE: &str = "#e9ecef";

/// `hex` (`#rrggbb`) mixed with white: `f` = 0 keeps it, 1 is white.
fn tint(hex: &str, f: f64) -> String {
    let c = |i: usize| u8::from_str_radix(hex.get(i..i + 2).unwrap_or("00"), 16).unwrap_or(0);
    let mix = |v: u8| (f64::from(v) + (255.0 - f64::from(v)) * f).round() as u8;
    format!("#{:02x}{:02x}{:02x}", mix(c(1)), mix(c(3)), mix(c(5)))
}

/// The section with the timeline: a title, the SVG and the sentence.
fn timeline_section(t: &Timeline) -> String {
    format!(
        "<h2>One thread, {n} waiting requests: a real trace of the event loop</h2>\n\
         <p>{n} requests sent {:.0} ms apart to the event-loop model, each waiting {:.0} ms on the database; \
         every slice is timed on the loop thread as the code runs. Under the lanes, request {first}'s two visits to the \
         thread are zoomed to microseconds; the white gaps there are the loop's own work between polls, the recorder's included.</p>\n{}\
         <p class=\"timeline-note\"><b>{}</b></p>\n",
        t.stagger_ms,
        t.db_delay_ms,
        timeline_svg(t),
        escape(&t.summary()),
        n = t.requests.len(),
        first = escape(t.requests.first().map_or("A", String::as_str)),
    )
}

/// The SVG timeline: the loop lane (slices coloured by request, database
/// I/O, idle gaps), one lane per request (slices on the thread, hatched
/// wait), a time axis in ms and a legend.
fn timeline_svg(t: &Timeline) -> String {
    let n = t.requests.len();
    let colour = |r: &str| {
        let i = t.requests.iter().position(|q| q == r).unwrap_or(0);
        REQ_COLOURS[i % REQ_COLOURS.len()]
    };
    let wall = t.wall_us.max(1.0);
    let (x0, x1) = (TL_LEFT, TL_W - TL_RIGHT);
    let px = |us: f64| x0 + us.clamp(0.0, wall) / wall * (x1 - x0);
    // A span as (x, width), at least `min` wide and inside the plot.
    let bar = |s: &Span, min: f64| {
        let (a, b) = (px(s.start_us), px(s.end_us));
        let w = (b - a).max(min);
        (a.min(x1 - w), w)
    };
    let lanes_end = TL_REQ_Y + TL_REQ_PITCH * n as f64;
    let axis_y = lanes_end + 4.0;
    let legend_y = axis_y + 46.0;
    let h = legend_y + 34.0 + TL_ZOOM_H;
    let mut svg = format!(
        "<svg id=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{TL_W}\" height=\"{h}\" viewBox=\"0 0 {TL_W} {h}\" font-size=\"11\">\n\
         <text x=\"12\" y=\"22\" font-size=\"14\" font-weight=\"bold\">The loop thread and each request, over time</text>\n\
         <text x=\"12\" y=\"40\" fill=\"#555\">Coloured slices are time on the one loop thread (slices of a few microseconds are drawn {TL_MIN_PX} px wide); hatched bars are time spent waiting, on no thread at all.</text>\n"
    );
    svg.push_str("<defs>\n");
    for (i, c) in REQ_COLOURS.iter().enumerate() {
        let _ = writeln!(
            svg,
            "<pattern id=\"tl-wait-{i}\" width=\"7\" height=\"7\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\">\
             <rect width=\"7\" height=\"7\" fill=\"{}\"/><rect width=\"2.5\" height=\"7\" fill=\"{}\"/></pattern>",
            tint(c, 0.85),
            tint(c, 0.45)
        );
    }
    svg.push_str("</defs>\n");

    // Grid and axis.
    let step = tick_step(wall / 1000.0);
    let mut k = 0.0;
    while k * step * 1000.0 <= wall + 1e-6 {
        let x = px(k * step * 1000.0);
        let _ = writeln!(
            svg,
            "<line x1=\"{x:.1}\" y1=\"{}\" x2=\"{x:.1}\" y2=\"{axis_y}\" stroke=\"#eee\"/>\
             <line x1=\"{x:.1}\" y1=\"{axis_y}\" x2=\"{x:.1}\" y2=\"{}\" stroke=\"#444\"/>\
             <text x=\"{x:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            TL_LOOP_Y - 12.0,
            axis_y + 4.0,
            axis_y + 16.0,
            ms_label(k * step, step)
        );
        k += 1.0;
    }
    let _ = writeln!(
        svg,
        "<line x1=\"{x0}\" y1=\"{axis_y}\" x2=\"{x1}\" y2=\"{axis_y}\" stroke=\"#444\"/>\
         <text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">ms since the loop thread read request {}</text>",
        (x0 + x1) / 2.0,
        axis_y + 32.0,
        escape(t.requests.first().map_or("A", String::as_str))
    );

    // The loop lane.
    let (ly, lh) = (TL_LOOP_Y, TL_LOOP_H);
    let _ = writeln!(
        svg,
        "<text x=\"12\" y=\"{:.1}\" font-weight=\"bold\">loop thread</text>\
         <text x=\"12\" y=\"{:.1}\" fill=\"#555\">(the only one)</text>\
         <rect x=\"{x0}\" y=\"{ly}\" width=\"{:.1}\" height=\"{lh}\" fill=\"#fff\" stroke=\"#bbb\"/>",
        ly + 14.0,
        ly + 27.0,
        x1 - x0
    );
    let idle_longest = t
        .loop_spans()
        .filter(|s| s.kind == SpanKind::Idle)
        .max_by(|a, b| a.len_us().total_cmp(&b.len_us()));
    for s in t.loop_spans().filter(|s| s.kind == SpanKind::Idle) {
        let (x, w) = bar(s, 0.0);
        let _ = writeln!(
            svg,
            "<rect x=\"{x:.2}\" y=\"{:.1}\" width=\"{w:.2}\" height=\"{:.1}\" fill=\"{IDLE}\"/>",
            ly + 1.0,
            lh - 2.0
        );
    }
    if let Some(s) = idle_longest {
        let (x, w) = bar(s, 0.0);
        if w > 240.0 {
            let _ = writeln!(
                svg,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#555\">idle in epoll_wait, nothing to do: {:.1} ms</text>",
                x + w / 2.0,
                ly + lh / 2.0 + 4.0,
                s.len_us() / 1000.0
            );
        }
    }
    let mut last_letter = f64::MIN;
    for s in t.loop_spans().filter(|s| s.kind != SpanKind::Idle) {
        let fill = match (s.kind, &s.request) {
            (SpanKind::Serve, Some(r)) => colour(r),
            (SpanKind::DbWrite | SpanKind::DbRead, _) => DB_IO,
            _ => OTHER,
        };
        let (x, w) = bar(s, TL_MIN_PX);
        let _ = writeln!(
            svg,
            "<rect x=\"{x:.2}\" y=\"{ly}\" width=\"{w:.2}\" height=\"{lh}\" fill=\"{fill}\"><title>{} {} ({}): {:.1} µs at {:.3} ms</title></rect>",
            escape(s.request.as_deref().unwrap_or("")),
            s.kind.describe(),
            escape(s.source.as_deref().unwrap_or("")),
            s.len_us(),
            s.start_us / 1000.0
        );
        if let (SpanKind::Serve, Some(r)) = (s.kind, &s.request) {
            // Letters of slices closer than a letter apart move right.
            let lx = (x + w / 2.0).max(last_letter + 9.0);
            last_letter = lx;
            let _ = writeln!(
                svg,
                "<text x=\"{lx:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-weight=\"bold\" fill=\"{fill}\">{}</text>",
                ly - 3.0,
                escape(r)
            );
        }
    }

    // One lane per request.
    for (i, r) in t.requests.iter().enumerate() {
        let c = colour(r);
        let y = TL_REQ_Y + TL_REQ_PITCH * i as f64;
        let _ = writeln!(
            svg,
            "<text x=\"12\" y=\"{:.1}\" font-weight=\"bold\" fill=\"{c}\">request {}</text>\
             <line x1=\"{x0}\" y1=\"{:.1}\" x2=\"{x1}\" y2=\"{:.1}\" stroke=\"#ddd\"/>",
            y + TL_REQ_H / 2.0 + 4.0,
            escape(r),
            y + TL_REQ_H / 2.0,
            y + TL_REQ_H / 2.0
        );
        if let Some(wt) = t.wait_of(r) {
            let (x, w) = bar(wt, 0.0);
            let _ = writeln!(
                svg,
                "<rect x=\"{x:.2}\" y=\"{:.1}\" width=\"{w:.2}\" height=\"{:.1}\" fill=\"url(#tl-wait-{})\" stroke=\"{}\"><title>{}: waited {:.2} ms for the database</title></rect>",
                y + 2.0,
                TL_REQ_H - 4.0,
                i % REQ_COLOURS.len(),
                tint(c, 0.3),
                escape(r),
                wt.len_us() / 1000.0
            );
            if w > 260.0 {
                let _ = writeln!(
                    svg,
                    "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#222\" paint-order=\"stroke\" stroke=\"#fff\" stroke-width=\"3\">waiting for the database: {:.1} ms</text>",
                    x + w / 2.0,
                    y + TL_REQ_H / 2.0 + 4.0,
                    wt.len_us() / 1000.0
                );
            }
        }
        for s in t.request_spans(r).filter(|s| s.kind.on_cpu()) {
            let (x, w) = bar(s, TL_MIN_PX);
            let _ = writeln!(
                svg,
                "<rect x=\"{x:.2}\" y=\"{y}\" width=\"{w:.2}\" height=\"{TL_REQ_H}\" fill=\"{c}\"><title>{}: {}, {:.1} µs at {:.3} ms</title></rect>",
                escape(r),
                s.kind.describe(),
                s.len_us(),
                s.start_us / 1000.0
            );
        }
        let end = t.request_spans(r).map(|s| s.end_us).fold(0.0, f64::max);
        let on_cpu = t.cpu_of_us(r);
        let label = format!("{:.0} µs on the thread", on_cpu);
        let xe = px(end) + TL_MIN_PX + 4.0;
        let (xt, anchor) = if xe + 110.0 < TL_W {
            (xe, "start")
        } else {
            (px(end) - 6.0, "end")
        };
        // Before the wait starts, if the end of the lane is full.
        let _ = writeln!(
            svg,
            "<text x=\"{xt:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\" fill=\"#555\" font-size=\"10\" paint-order=\"stroke\" stroke=\"#fff\" stroke-width=\"3\">{label}</text>",
            y + TL_REQ_H / 2.0 + 4.0,
        );
    }

    // The legend.
    let mut lx = x0;
    for (i, _) in t.requests.iter().enumerate().take(REQ_COLOURS.len()) {
        let _ = write!(
            svg,
            "<rect x=\"{lx:.1}\" y=\"{:.1}\" width=\"12\" height=\"12\" fill=\"{}\"/>",
            legend_y - 10.0,
            REQ_COLOURS[i]
        );
        lx += 14.0;
    }
    let mut item = |svg: &mut String, fill: Option<&str>, text: &str| {
        if let Some(fill) = fill {
            let _ = write!(
                svg,
                "<rect x=\"{lx:.1}\" y=\"{:.1}\" width=\"14\" height=\"12\" fill=\"{fill}\" stroke=\"#999\" stroke-width=\"0.5\"/>",
                legend_y - 10.0,
            );
            lx += 18.0;
        }
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{legend_y:.1}\">{}</text>",
            lx + 2.0,
            escape(text)
        );
        lx += 22.0 + 6.6 * text.chars().count() as f64;
    };
    item(&mut svg, None, "requests on the loop thread");
    item(
        &mut svg,
        Some("url(#tl-wait-0)"),
        "waiting for the database",
    );
    item(&mut svg, Some(DB_IO), "database socket I/O");
    item(&mut svg, Some(IDLE), "idle in epoll_wait");
    if t.loop_spans().any(|s| s.kind == SpanKind::Other) {
        item(&mut svg, Some(OTHER), "other loop work");
    }
    svg.push('\n');

    // Request A's two visits to the thread, zoomed to microseconds.
    if let Some(first) = t.requests.first() {
        let zy = legend_y + 34.0;
        let half = (TL_W - 24.0 - 24.0) / 2.0;
        zoom(&mut svg, t, first, true, 12.0, zy, half, colour(first));
        zoom(
            &mut svg,
            t,
            first,
            false,
            12.0 + half + 24.0,
            zy,
            half,
            colour(first),
        );
    }
    svg.push_str("\n</svg>\n");
    svg
}

/// A tick spacing (ms) giving at most about a dozen ticks over `ms`.
fn tick_step(ms: f64) -> f64 {
    [
        0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0,
        100.0, 200.0, 500.0,
    ]
    .into_iter()
    .find(|s| ms / s <= 12.0)
    .unwrap_or(1000.0)
}

/// A strip zoomed on one visit of `r` to the loop thread: the arrival
/// (`arrival`: read + parse, queue the query, the write of the query to the
/// database) or the answer (the read of the reply, format, write), with
/// every loop slice in that window, each labelled with its length.
#[allow(clippy::too_many_arguments)]
fn zoom(svg: &mut String, t: &Timeline, r: &str, arrival: bool, x: f64, y: f64, w: f64, c: &str) {
    let mine: Vec<&Span> = t.request_spans(r).filter(|s| s.kind.on_cpu()).collect();
    let wait = t.wait_of(r);
    let around = |at: f64| {
        t.loop_spans()
            .find(|l| l.kind != SpanKind::Idle && l.start_us <= at && at <= l.end_us)
    };
    let (kinds, edge) = if arrival {
        (
            [SpanKind::Parse, SpanKind::Query],
            wait.and_then(|w| around(w.start_us)),
        )
    } else {
        (
            [SpanKind::Format, SpanKind::Write],
            wait.and_then(|w| around(w.end_us)),
        )
    };
    let own: Vec<&Span> = mine
        .iter()
        .copied()
        .filter(|s| kinds.contains(&s.kind))
        .collect();
    let Some(lo) = own
        .iter()
        .chain(edge.iter())
        .map(|s| s.start_us)
        .reduce(f64::min)
    else {
        return;
    };
    let hi = own
        .iter()
        .chain(edge.iter())
        .map(|s| s.end_us)
        .fold(lo, f64::max);
    let span = (hi - lo).max(1.0);
    let (from, to) = (lo - span * 0.03, hi + span * 0.03);
    let px = |us: f64| x + (us.clamp(from, to) - from) / (to - from) * w;
    let title = if arrival {
        format!(
            "zoom: request {r} arrives ({:.3}–{:.3} ms)",
            lo / 1000.0,
            hi / 1000.0
        )
    } else {
        format!(
            "zoom: request {r} is answered ({:.3}–{:.3} ms)",
            lo / 1000.0,
            hi / 1000.0
        )
    };
    let _ = writeln!(
        svg,
        "<text x=\"{x:.1}\" y=\"{:.1}\" font-weight=\"bold\">{}</text>",
        y,
        escape(&title)
    );
    let (sy, sh) = (y + 10.0, 22.0);
    let _ = writeln!(
        svg,
        "<rect x=\"{x:.1}\" y=\"{sy:.1}\" width=\"{w:.1}\" height=\"{sh}\" fill=\"#fff\" stroke=\"#ccc\"/>"
    );
    // Loop slices in the window that are not this request's (database
    // I/O, other requests, other work), then this request's own spans.
    let mut pieces: Vec<(&Span, String, String)> = Vec::new();
    for l in t.loop_spans() {
        if l.end_us < from || l.start_us > to {
            continue;
        }
        if l.kind == SpanKind::Serve && l.request.as_deref() == Some(r) {
            continue;
        }
        let (fill, name) = match l.kind {
            SpanKind::DbWrite => (DB_IO.to_owned(), "write the query".to_owned()),
            SpanKind::DbRead => (DB_IO.to_owned(), "read the reply".to_owned()),
            SpanKind::Serve => (
                OTHER.to_owned(),
                format!("serve {}", l.request.as_deref().unwrap_or("")),
            ),
            SpanKind::Idle => (IDLE.to_owned(), "idle".to_owned()),
            _ => (
                OTHER.to_owned(),
                l.source.clone().unwrap_or_else(|| "other".to_owned()),
            ),
        };
        pieces.push((l, fill, name));
    }
    for (i, s) in own.iter().enumerate() {
        let fill = if i % 2 == 0 {
            c.to_owned()
        } else {
            tint(c, 0.45)
        };
        let name = match s.kind {
            SpanKind::Parse => "read + parse",
            SpanKind::Query => "queue the query",
            SpanKind::Format => "format JSON",
            _ => "write the response",
        };
        pieces.push((s, fill, name.to_owned()));
    }
    pieces.sort_by(|a, b| a.0.start_us.total_cmp(&b.0.start_us));
    let mut row_end = [f64::MIN; 2];
    for (s, fill, name) in &pieces {
        let (a, b) = (px(s.start_us), px(s.end_us));
        let bw = (b - a).max(1.0);
        if s.kind == SpanKind::Idle {
            // Part of a longer wait: drawn, not labelled.
            let _ = writeln!(
                svg,
                "<rect x=\"{a:.2}\" y=\"{sy:.1}\" width=\"{bw:.2}\" height=\"{sh}\" fill=\"{fill}\"/>"
            );
            continue;
        }
        let _ = writeln!(
            svg,
            "<rect x=\"{a:.2}\" y=\"{sy:.1}\" width=\"{bw:.2}\" height=\"{sh}\" fill=\"{fill}\" stroke=\"#fff\" stroke-width=\"0.5\"><title>{}: {:.1} µs</title></rect>",
            escape(name),
            s.len_us()
        );
        // Labels below, on the first of two rows with room.
        let text = format!("{} {:.0} µs", name, s.len_us());
        let tw = 6.0 * text.chars().count() as f64;
        let cx = (a + bw / 2.0).clamp(x + tw / 2.0, x + w - tw / 2.0);
        if let Some(row) = (0..2).find(|&k| cx - tw / 2.0 > row_end[k] + 6.0) {
            row_end[row] = cx + tw / 2.0;
            let ty = sy + sh + 14.0 + 14.0 * row as f64;
            let _ = writeln!(
                svg,
                "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{cx:.1}\" y2=\"{:.1}\" stroke=\"#999\"/>\
                 <text x=\"{cx:.1}\" y=\"{ty:.1}\" text-anchor=\"middle\" font-size=\"10\">{}</text>",
                a + bw / 2.0,
                sy + sh,
                ty - 10.0,
                escape(&text)
            );
        }
    }
    // A microsecond axis.
    let ay = sy + sh + 36.0;
    let step = tick_step((to - from) / 1000.0) * 1000.0;
    let _ = writeln!(
        svg,
        "<line x1=\"{x:.1}\" y1=\"{ay:.1}\" x2=\"{:.1}\" y2=\"{ay:.1}\" stroke=\"#444\"/>",
        x + w
    );
    let mut k = 0.0;
    while lo + k * step <= to {
        let tx = px(lo + k * step);
        let _ = writeln!(
            svg,
            "<line x1=\"{tx:.1}\" y1=\"{ay:.1}\" x2=\"{tx:.1}\" y2=\"{:.1}\" stroke=\"#444\"/><text x=\"{tx:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"10\">{}</text>",
            ay + 4.0,
            ay + 15.0,
            if k == 0.0 {
                "0 µs".to_owned()
            } else {
                format!("{:.0}", k * step)
            }
        );
        k += 1.0;
    }
}

/// `ms` formatted with as many decimals as a tick spacing of `step` ms needs.
fn ms_label(ms: f64, step: f64) -> String {
    let decimals = if step >= 1.0 {
        0
    } else if step >= 0.1 {
        1
    } else if step >= 0.01 {
        2
    } else {
        3
    };
    format!("{ms:.decimals$}")
}
