//! The zoomed strips under the timeline: one visit of a request to the
//! loop thread, to the microsecond, with every loop slice in that window
//! labelled with its length, and a microsecond axis.
//!
//! Invariant: the strip's window is the request's own slices on that
//! visit plus the loop slice in which its wait begins or ends; times are
//! clamped to the window, and a label that finds no room on either of its
//! two rows is left out.

use std::fmt::Write;

use super::escape;
use super::timeline::{tick_step, tint, DB_IO, IDLE, OTHER};
use crate::trace::{Span, SpanKind, Timeline};

/// A strip zoomed on one visit of `r` to the loop thread: the arrival
/// (`arrival`: read + parse, queue the query, the write of the query to the
/// database) or the answer (the read of the reply, format, write), with
/// every loop slice in that window, each labelled with its length.
#[allow(clippy::too_many_arguments)]
pub(super) fn zoom(
    svg: &mut String,
    t: &Timeline,
    r: &str,
    arrival: bool,
    x: f64,
    y: f64,
    w: f64,
    c: &str,
) {
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
