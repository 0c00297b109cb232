//! The text renderings of a [`Timeline`]: the one-sentence summary, the
//! Markdown section and the drawing in columns of characters.

use std::fmt::Write as _;

use super::{Span, SpanKind, Timeline};

impl Timeline {
    /// The figures in one sentence, e.g. "4 requests, 56.3 ms of wall
    /// time; the loop thread was busy 0.42 ms of it ...".
    pub fn summary(&self) -> String {
        let n = self.requests.len();
        let mut s = format!(
            "{n} requests, {:.1} ms of wall time; the loop thread was busy {:.2} ms of it ({:.1} %) and idle in epoll_wait for {:.1} ms.",
            self.wall_us / 1000.0,
            self.busy_us() / 1000.0,
            self.busy_us() / self.wall_us.max(1e-9) * 100.0,
            self.idle_us() / 1000.0,
        );
        let waits: Vec<f64> = self
            .requests
            .iter()
            .filter_map(|r| self.wait_of(r))
            .map(|w| w.len_us() / 1000.0)
            .collect();
        if !waits.is_empty() {
            let lo = waits.iter().copied().fold(f64::MAX, f64::min);
            let hi = waits.iter().copied().fold(f64::MIN, f64::max);
            if format!("{lo:.1}") == format!("{hi:.1}") {
                let _ = write!(s, " Each request waited {lo:.1} ms for the database");
            } else {
                let _ = write!(
                    s,
                    " Each request waited {lo:.1}–{hi:.1} ms for the database"
                );
            }
            let overlap = self.waits_overlap_us();
            if overlap > 0.0 && n > 1 {
                let _ = write!(
                    s,
                    ", and all {n} waits overlapped for {:.1} ms: while one request waited, the thread served the others.",
                    overlap / 1000.0
                );
            } else {
                s.push('.');
            }
        }
        s
    }

    /// The timeline as a Markdown section: the summary, a table per
    /// request and a text drawing of the timeline.
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "\n## Timeline: {} concurrent requests on the event loop (a real trace)\n",
            self.requests.len()
        );
        let _ = writeln!(out, "{}\n", self.summary());
        out.push_str("| request | read at ms | on the loop µs | db wait ms | answered at ms |\n");
        out.push_str("| --- | ---: | ---: | ---: | ---: |\n");
        for r in &self.requests {
            let first = self
                .request_spans(r)
                .map(|s| s.start_us)
                .fold(f64::MAX, f64::min);
            let last = self.request_spans(r).map(|s| s.end_us).fold(0.0, f64::max);
            let wait = self.wait_of(r).map_or(0.0, Span::len_us);
            let _ = writeln!(
                out,
                "| {r} | {:.2} | {:.0} | {:.2} | {:.2} |",
                if first == f64::MAX {
                    0.0
                } else {
                    first / 1000.0
                },
                self.cpu_of_us(r),
                wait / 1000.0,
                last / 1000.0,
            );
        }
        let _ = writeln!(out, "\n```text\n{}```", self.to_text(64));
        out
    }

    /// A drawing in `cols` columns: the loop lane (a request's letter where
    /// the thread served it, `*` for database I/O, `+` other work, `.`
    /// idle), then one lane per request (`#` on the thread, `=` waiting).
    pub fn to_text(&self, cols: usize) -> String {
        let cols = cols.max(8);
        let wall = self.wall_us.max(1e-9);
        let col = |t: f64| ((t / wall * cols as f64) as usize).min(cols - 1);
        let mut lanes: Vec<(String, Vec<char>)> = Vec::new();
        let mut lp = vec![' '; cols];
        for s in self.loop_spans() {
            let ch = match (s.kind, &s.request) {
                (SpanKind::Idle, _) => '.',
                (SpanKind::Serve, Some(r)) => r.chars().next().unwrap_or('?'),
                (SpanKind::DbWrite | SpanKind::DbRead, _) => '*',
                _ => '+',
            };
            // In a column shared by several slices, a request's letter wins
            // over database I/O, which wins over other work, then idle.
            let rank = |c: char| match c {
                ' ' => 0,
                '.' => 1,
                '+' => 2,
                '*' => 3,
                _ => 4,
            };
            for c in lp.iter_mut().take(col(s.end_us) + 1).skip(col(s.start_us)) {
                if rank(ch) > rank(*c) {
                    *c = ch;
                }
            }
        }
        lanes.push(("loop".into(), lp));
        for r in &self.requests {
            let mut lane = vec![' '; cols];
            for s in self.request_spans(r) {
                let ch = if s.kind == SpanKind::Wait { '=' } else { '#' };
                for c in lane
                    .iter_mut()
                    .take(col(s.end_us) + 1)
                    .skip(col(s.start_us))
                {
                    if *c != '#' {
                        *c = ch;
                    }
                }
            }
            lanes.push((r.clone(), lane));
        }
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<6} 0 ms{:>w$}",
            "",
            format!("{:.1} ms", wall / 1000.0),
            w = cols - 4
        );
        for (name, lane) in lanes {
            let _ = writeln!(out, "{name:<6}|{}|", lane.into_iter().collect::<String>());
        }
        out
    }
}
