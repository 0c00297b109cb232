//! The timeline section: the SVG of the loop lane and one lane per
//! request, drawn from the trace's spans only, with its time axis, legend
//! and the two zoomed strips under it, and the palette they share.
//!
//! Invariant: every span is drawn inside the plot; slices on the thread
//! are drawn at least `TL_MIN_PX` wide, waits and idle time as measured.

use std::fmt::Write;

use super::escape;
use super::zoom::zoom;
use crate::trace::{Span, SpanKind, Timeline};

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
pub(super) const DB_IO: &str = "#343a40";
/// Other loop work.
pub(super) const OTHER: &str = "#adb5bd";
/// Idle in `epoll_wait`.
pub(super) const IDLE: &str = "#e9ecef";

/// `hex` (`#rrggbb`) mixed with white: `f` = 0 keeps it, 1 is white.
pub(super) fn tint(hex: &str, f: f64) -> String {
    let c = |i: usize| u8::from_str_radix(hex.get(i..i + 2).unwrap_or("00"), 16).unwrap_or(0);
    let mix = |v: u8| (f64::from(v) + (255.0 - f64::from(v)) * f).round() as u8;
    format!("#{:02x}{:02x}{:02x}", mix(c(1)), mix(c(3)), mix(c(5)))
}

/// The section with the timeline: a title, the SVG and the sentence.
pub(super) fn timeline_section(t: &Timeline) -> String {
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
pub(super) fn tick_step(ms: f64) -> f64 {
    [
        0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0,
        100.0, 200.0, 500.0,
    ]
    .into_iter()
    .find(|s| ms / s <= 12.0)
    .unwrap_or(1000.0)
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
