//! The HTML rendering of a [`LabReport`]: the Markdown tables as HTML plus
//! three SVG line charts of the I/O scenario against concurrency
//! (throughput, p99 latency, peak PSS), one line per model, and, when the
//! run traced one, the timeline of four requests on the event loop: the
//! loop thread's lane and one lane per request, drawn from the trace's
//! spans only.
//!
//! Invariants: the page is self-contained (no script, no external file),
//! and every text from the report is escaped.

mod chart;
mod timeline;
mod zoom;

use std::fmt::Write;

use super::{LabReport, StepResult};
use crate::lab::Scenario;
use chart::chart;
use timeline::timeline_section;

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
