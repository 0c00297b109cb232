//! A timeline of the event-loop model serving a few concurrent requests,
//! recorded on the loop thread while it serves them.
//!
//! The classic event-loop request timeline, measured: requests A, B, C and D arrive a couple of
//! milliseconds apart; the one loop thread reads each, queues its database
//! query and moves on; the four queries wait at the same time; the replies
//! come back and the thread formats and writes the four responses. A
//! [`Timeline`] holds, in microseconds from the start of the trace:
//!
//! - the **loop lane**: every task poll and callback the loop ran
//!   ([`SpanKind::Serve`] for a poll that served a traced request,
//!   [`SpanKind::DbWrite`] and [`SpanKind::DbRead`] for the shared database
//!   connection, [`SpanKind::Other`]) and the time it sat idle in
//!   `epoll_wait` in between ([`SpanKind::Idle`]);
//! - one **request lane** per request: its slices on the loop thread
//!   ([`SpanKind::Parse`], [`SpanKind::Query`], [`SpanKind::Format`],
//!   [`SpanKind::Write`]) and its database round trip ([`SpanKind::Wait`],
//!   from the query written to the reply read).
//!
//! How it is recorded. The runtime's stall detector times every task poll
//! and callback; with a zero threshold and a hook (`Loop::on_stall`) it
//! reports each one, with its duration, the moment it returns: those are
//! the loop lane's slices. The app notes, as it runs, when its handler
//! starts and returns, and the database connection notes when a traced
//! query is written and when its reply is read; each note is an `Instant`
//! read on the loop thread at that point of the code. A slice is
//! attributed to the request whose notes fell inside it, and split at
//! them: parse = poll start to handler start, query = handler start to
//! poll end, format = poll start to handler return, write = handler
//! return to poll end. The idle time between two slices is the loop's own
//! counter of time blocked in `epoll_wait` ([`waiter_rt::Metrics`]): its
//! length is measured; its place in the gap (just before the next slice,
//! where the poll returns) is not.
//!
//! The stall detector also logs each report through `tracing` (warn level,
//! target `waiter::stall`); the lab's model children install no
//! subscriber, and a process that traces in-process and has one should
//! filter that target out.
//!
//! [`record`] runs the whole step: it starts the event-loop model in a
//! child process (like every lab step) with [`TraceOptions`] in its
//! [`AppConfig`], fires [`REQUESTS`] requests [`STAGGER`] apart on
//! connections opened beforehand, stops the child, which writes the
//! timeline as JSON to a file of the temporary directory as its loop
//! ends, and reads it back.
//!
//! Invariants:
//! - Off by default: without [`AppConfig::trace`] no hook is installed,
//!   the stall threshold keeps its default, and each recording point of
//!   the app and of the database connection is one check of a `None`.
//! - Bounded: only the first [`TraceOptions::requests`] requests are
//!   traced; loop slices are recorded from the poll that reads the first
//!   traced request to the poll that writes the last traced response, and
//!   never more than [`MAX_SPANS`].
//! - Loop slices do not overlap, and every span lies inside
//!   `0..=wall_us`.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use waiter_proto::{parse_response, Decoder, Limits, Method};
use waiter_rt::diag::{StallReport, StallSource};

use crate::app::AppConfig;
use crate::child::ModelProcess;
use crate::servers::{Model, ModelOptions};

/// Requests of the lab's trace step: A, B, C and D.
pub const REQUESTS: usize = 4;

/// How far apart the trace step sends its requests.
pub const STAGGER: Duration = Duration::from_millis(2);

/// Spans a trace keeps at most, whatever happens.
pub const MAX_SPANS: usize = 10_000;

/// The name of the database connection's writer task.
pub(crate) const DB_WRITER: &str = "lab db writer";
/// The name of the database connection's reader task.
pub(crate) const DB_READER: &str = "lab db reader";

/// What to trace, in [`AppConfig::trace`] (the event-loop model records;
/// the other models ignore it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TraceOptions {
    /// Trace the first this many requests.
    pub requests: usize,
    /// Where the model writes the [`Timeline`] (JSON) when it stops.
    pub out: PathBuf,
}

/// Which lane of the chart a span belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Lane {
    /// What the loop thread was doing.
    Loop,
    /// What one request was doing ([`Span::request`]).
    Request,
}

/// What a span shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SpanKind {
    /// Loop lane: a poll of a traced request's connection (reading and
    /// parsing its head and running its handler, or finishing the handler
    /// and writing its response).
    Serve,
    /// Loop lane: writing queued queries to a database connection.
    DbWrite,
    /// Loop lane: reading database replies and waking their requests.
    DbRead,
    /// Loop lane: any other task poll or callback.
    Other,
    /// Loop lane: blocked in `epoll_wait` with nothing to do.
    Idle,
    /// Request lane: reading the request and parsing its head, up to the
    /// handler's first line.
    Parse,
    /// Request lane: the handler up to its wait (routing, building and
    /// queueing the database query).
    Query,
    /// Request lane: the database round trip, from the instant before the
    /// loop writes the query to the instant after it reads the reply (with
    /// a timer instead of a database: the sleep).
    Wait,
    /// Request lane: the handler after its wait (formatting the JSON).
    Format,
    /// Request lane: writing the response (framing and sending it).
    Write,
}

impl SpanKind {
    /// Whether the span is time on the loop thread (not idle, not a wait).
    pub fn on_cpu(self) -> bool {
        !matches!(self, SpanKind::Idle | SpanKind::Wait)
    }

    /// A short description, for legends.
    pub fn describe(self) -> &'static str {
        match self {
            SpanKind::Serve => "serving a request",
            SpanKind::DbWrite => "writing queries to the database socket",
            SpanKind::DbRead => "reading database replies",
            SpanKind::Other => "other loop work",
            SpanKind::Idle => "idle in epoll_wait",
            SpanKind::Parse => "read + parse the head",
            SpanKind::Query => "handler: build + queue the query",
            SpanKind::Wait => "waiting for the database",
            SpanKind::Format => "handler: format the JSON",
            SpanKind::Write => "write the response",
        }
    }
}

/// One span of a [`Timeline`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Span {
    /// Its lane.
    pub lane: Lane,
    /// What it shows.
    pub kind: SpanKind,
    /// The request it belongs to (`A`, `B`, ...), if any.
    pub request: Option<String>,
    /// Start, microseconds from the start of the trace.
    pub start_us: f64,
    /// End, microseconds from the start of the trace.
    pub end_us: f64,
    /// Loop lane: what ran (a task's name, or a callback's kind).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl Span {
    /// Its length, microseconds.
    pub fn len_us(&self) -> f64 {
        self.end_us - self.start_us
    }
}

/// A trace of the event-loop model serving a few concurrent requests.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Timeline {
    /// The traced requests in the order the loop read them: `A`, `B`, ...
    pub requests: Vec<String>,
    /// How far apart the client sent them, milliseconds.
    pub stagger_ms: f64,
    /// The database delay, milliseconds.
    pub db_delay_ms: f64,
    /// The trace window, microseconds: from the first poll that read a
    /// traced request to the end of the poll that wrote the last response.
    pub wall_us: f64,
    /// Every span, loop lane first, each lane in time order.
    pub spans: Vec<Span>,
}

impl Timeline {
    /// The loop lane, in time order.
    pub fn loop_spans(&self) -> impl Iterator<Item = &Span> {
        self.spans.iter().filter(|s| s.lane == Lane::Loop)
    }

    /// The lane of `request`, in time order.
    pub fn request_spans<'a>(&'a self, request: &'a str) -> impl Iterator<Item = &'a Span> {
        self.spans
            .iter()
            .filter(move |s| s.lane == Lane::Request && s.request.as_deref() == Some(request))
    }

    /// The database wait of `request`.
    pub fn wait_of(&self, request: &str) -> Option<&Span> {
        self.spans.iter().find(|s| {
            s.lane == Lane::Request
                && s.kind == SpanKind::Wait
                && s.request.as_deref() == Some(request)
        })
    }

    /// Time the loop thread spent running code, microseconds.
    pub fn busy_us(&self) -> f64 {
        self.loop_spans()
            .filter(|s| s.kind.on_cpu())
            .map(Span::len_us)
            .sum()
    }

    /// Time the loop thread spent blocked in `epoll_wait`, microseconds.
    pub fn idle_us(&self) -> f64 {
        self.loop_spans()
            .filter(|s| s.kind == SpanKind::Idle)
            .map(Span::len_us)
            .sum()
    }

    /// Time on the loop thread spent on `request`'s own slices, microseconds.
    pub fn cpu_of_us(&self, request: &str) -> f64 {
        self.request_spans(request)
            .filter(|s| s.kind.on_cpu())
            .map(Span::len_us)
            .sum()
    }

    /// How long every request was waiting at once, microseconds (0 when
    /// the waits do not all overlap, or a request has none).
    pub fn waits_overlap_us(&self) -> f64 {
        let waits: Vec<&Span> = self
            .requests
            .iter()
            .filter_map(|r| self.wait_of(r))
            .collect();
        if waits.is_empty() || waits.len() < self.requests.len() {
            return 0.0;
        }
        let start = waits.iter().map(|w| w.start_us).fold(f64::MIN, f64::max);
        let end = waits.iter().map(|w| w.end_us).fold(f64::MAX, f64::min);
        (end - start).max(0.0)
    }

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

/// The label of the `i`-th traced request: `A`, `B`, ... then `R27`, ...
fn label(i: usize) -> String {
    match u8::try_from(i) {
        Ok(k) if k < 26 => char::from(b'A' + k).to_string(),
        _ => format!("R{}", i + 1),
    }
}

/// A point of the app's code, noted while a poll runs.
#[derive(Debug, Clone, Copy)]
enum Note {
    /// The handler of request `.0` started.
    Entry(usize, Instant),
    /// The handler of request `.0` returned its response.
    Return(usize, Instant),
}

impl Note {
    fn request(self) -> usize {
        match self {
            Note::Entry(r, _) | Note::Return(r, _) => r,
        }
    }

    fn at(self) -> Instant {
        match self {
            Note::Entry(_, t) | Note::Return(_, t) => t,
        }
    }
}

/// A traced request.
#[derive(Debug, Default)]
struct Req {
    /// Its wait began (query written, or timer started).
    wait_start: Option<Instant>,
    /// Its wait ended (reply read, or timer resumed).
    wait_end: Option<Instant>,
}

/// Where a traced query is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum QueryState {
    /// Queued on its connection, not yet written.
    Queued,
    /// Being written (taken by the writer).
    Writing,
    /// Written, waiting for the reply.
    Sent,
    /// Answered.
    Done,
}

/// A traced query: matched to its reply by connection and id, in order.
#[derive(Debug)]
struct Query {
    /// The database connection's index.
    conn: usize,
    /// The row asked for.
    id: u64,
    /// The request that asked.
    req: usize,
    /// Where it is.
    state: QueryState,
}

/// A span with its instants, before the timeline is made relative.
#[derive(Debug, Clone)]
struct RawSpan {
    lane: Lane,
    kind: SpanKind,
    req: Option<usize>,
    start: Instant,
    end: Instant,
    /// What ran (loop slices).
    source: Option<String>,
}

/// What the recorder holds.
#[derive(Debug)]
struct State {
    /// Requests to trace.
    limit: usize,
    /// The traced requests, in the order their handlers started.
    reqs: Vec<Req>,
    /// Notes taken since the last slice.
    notes: Vec<Note>,
    /// The earliest instant read by a recording point since the last
    /// slice: the slice began no later.
    first_mark: Option<Instant>,
    /// Traced queries.
    queries: Vec<Query>,
    /// Recorded spans (loop lane and request lanes).
    spans: Vec<RawSpan>,
    /// The loop's idle counter at the last slice.
    last_idle: Duration,
    /// The end of the last recorded slice.
    last_end: Option<Instant>,
    /// Handlers of traced requests that returned.
    returned: usize,
    /// Recording has begun (the first traced request was read).
    recording: bool,
    /// Recording has ended (every traced request was answered, or the
    /// span limit was reached).
    done: bool,
}

/// The trace recorder of one loop: lives on the loop thread.
#[derive(Debug)]
pub(crate) struct Recorder {
    /// Everything recorded; borrowed only inside the recorder's methods.
    state: RefCell<State>,
}

/// A traced request, handed to the code that serves it.
#[derive(Debug, Clone)]
pub(crate) struct Traced {
    /// The recorder.
    rec: Rc<Recorder>,
    /// The request's index.
    req: usize,
}

impl Recorder {
    /// A recorder of the first `requests` requests.
    pub(crate) fn new(requests: usize) -> Rc<Recorder> {
        Rc::new(Recorder {
            state: RefCell::new(State {
                limit: requests,
                reqs: Vec::new(),
                notes: Vec::new(),
                first_mark: None,
                queries: Vec::new(),
                spans: Vec::new(),
                last_idle: Duration::ZERO,
                last_end: None,
                returned: 0,
                recording: false,
                done: requests == 0,
            }),
        })
    }

    /// Makes `lp` report every task poll and callback to this recorder.
    pub(crate) fn install(self: &Rc<Self>, lp: &waiter_rt::Loop) {
        let rec = self.clone();
        lp.set_stall_threshold(Duration::ZERO);
        lp.on_stall(move |r| rec.slice(r));
    }

    /// A request's handler starts: traces it if it is among the first.
    pub(crate) fn enter(self: &Rc<Self>) -> Option<Traced> {
        let at = Instant::now();
        let mut st = self.state.borrow_mut();
        if st.done || st.reqs.len() >= st.limit {
            return None;
        }
        let req = st.reqs.len();
        st.reqs.push(Req::default());
        st.notes.push(Note::Entry(req, at));
        st.mark(at);
        Some(Traced {
            rec: self.clone(),
            req,
        })
    }

    /// The writer of connection `conn` takes its queued queries and is
    /// about to hand them to the kernel: their requests' waits begin now
    /// (an instant read after the write could be late, if the thread were
    /// preempted in between, and make a wait look shorter than it was).
    /// Returns the traced queries of the batch.
    pub(crate) fn take_batch(&self, conn: usize) -> Vec<usize> {
        let at = Instant::now();
        let mut st = self.state.borrow_mut();
        let st = &mut *st;
        let mut batch = Vec::new();
        for (i, q) in st.queries.iter_mut().enumerate() {
            if q.conn == conn && q.state == QueryState::Queued {
                q.state = QueryState::Writing;
                st.reqs[q.req].wait_start = Some(at);
                batch.push(i);
            }
        }
        if !batch.is_empty() {
            st.mark(at);
        }
        batch
    }

    /// The queries of `batch` (from [`take_batch`](Self::take_batch)) are
    /// written: their replies may now be matched.
    pub(crate) fn written(&self, batch: &[usize]) {
        let mut st = self.state.borrow_mut();
        for &i in batch {
            st.queries[i].state = QueryState::Sent;
        }
    }

    /// Connection `conn` read, at `at`, the reply to a query for `id`.
    pub(crate) fn replied(&self, conn: usize, id: u64, at: Instant) {
        let mut st = self.state.borrow_mut();
        let st = &mut *st;
        let q = st
            .queries
            .iter_mut()
            .find(|q| q.conn == conn && q.id == id && q.state == QueryState::Sent);
        if let Some(q) = q {
            q.state = QueryState::Done;
            st.reqs[q.req].wait_end = Some(at);
            st.mark(at);
        }
    }

    /// The loop ran a task poll or a callback that has just returned.
    fn slice(&self, r: &StallReport) {
        let end = Instant::now();
        let mut st = self.state.borrow_mut();
        if st.done {
            return;
        }
        let idle = waiter_rt::metrics().idle_time;
        let idle_gap = idle.saturating_sub(st.last_idle);
        st.last_idle = idle;
        let notes = std::mem::take(&mut st.notes);
        // The hook runs a moment after the poll returned, so `end - duration`
        // is a moment late; an instant read during the poll bounds it.
        let first_mark = st.first_mark.take();
        if !st.recording {
            if !notes.iter().any(|n| matches!(n, Note::Entry(..))) {
                return;
            }
            st.recording = true;
        }
        let start = end.checked_sub(r.duration).unwrap_or(end);
        let start = first_mark.map_or(start, |m| m.min(start));
        if let Some(prev) = st.last_end {
            // The poll that waited returns just before this slice runs.
            let from = start.checked_sub(idle_gap).unwrap_or(start).max(prev);
            if from < start {
                st.push(Lane::Loop, SpanKind::Idle, None, from, start);
            }
        }
        let served = notes.first().map(|n| n.request());
        let kind = match (served, &r.source) {
            (Some(_), _) => SpanKind::Serve,
            (None, StallSource::Task { name: Some(n), .. }) if n == DB_WRITER => SpanKind::DbWrite,
            (None, StallSource::Task { name: Some(n), .. }) if n == DB_READER => SpanKind::DbRead,
            _ => SpanKind::Other,
        };
        st.push(Lane::Loop, kind, served, start, end);
        let source = match &r.source {
            StallSource::Task { name: Some(n), .. } => n.to_string(),
            StallSource::Task {
                name: None,
                location,
            } => format!("task spawned at {}:{}", location.file(), location.line()),
            StallSource::Callback(k) => format!("{k:?} callback"),
        };
        if let Some(last) = st.spans.last_mut() {
            last.source = Some(source);
        }
        // Notes are in the order the code ran; with several requests in
        // one poll (pipelined), each one's spans end where the next begins.
        let mut from = start;
        let mut rest = &notes[..];
        while let Some(first) = rest.first() {
            let req = first.request();
            let k = rest
                .iter()
                .position(|n| n.request() != req)
                .unwrap_or(rest.len());
            let (group, next) = rest.split_at(k);
            let until = next.first().map_or(end, |n| n.at());
            let entry = group.iter().find_map(|n| match *n {
                Note::Entry(_, t) => Some(t),
                Note::Return(..) => None,
            });
            let ret = group.iter().find_map(|n| match *n {
                Note::Return(_, t) => Some(t),
                Note::Entry(..) => None,
            });
            if let Some(e) = entry {
                st.push(Lane::Request, SpanKind::Parse, Some(req), from, e);
                if ret.is_none() {
                    st.push(Lane::Request, SpanKind::Query, Some(req), e, until);
                }
            }
            if let Some(t) = ret {
                let f = entry.unwrap_or(from);
                st.push(Lane::Request, SpanKind::Format, Some(req), f, t);
                st.push(Lane::Request, SpanKind::Write, Some(req), t, until);
                st.returned += 1;
            }
            from = until;
            rest = next;
        }
        st.last_end = Some(end);
        if st.returned >= st.limit || st.spans.len() >= MAX_SPANS {
            st.done = true;
        }
    }

    /// The timeline recorded so far.
    pub(crate) fn finish(&self) -> Timeline {
        let st = self.state.borrow();
        let mut raw = st.spans.clone();
        for (i, r) in st.reqs.iter().enumerate() {
            if let (Some(s), Some(e)) = (r.wait_start, r.wait_end) {
                raw.push(RawSpan {
                    lane: Lane::Request,
                    kind: SpanKind::Wait,
                    req: Some(i),
                    start: s,
                    end: e.max(s),
                    source: None,
                });
            }
        }
        let requests = (0..st.reqs.len()).map(label).collect();
        let Some(origin) = raw.iter().map(|s| s.start).min() else {
            return Timeline {
                requests,
                ..Timeline::default()
            };
        };
        let us = |t: Instant| t.saturating_duration_since(origin).as_nanos() as f64 / 1000.0;
        let wall = raw.iter().map(|s| us(s.end)).fold(0.0, f64::max);
        let lane_of = |s: &RawSpan| match s.lane {
            Lane::Loop => (0, 0),
            Lane::Request => (1, s.req.unwrap_or(usize::MAX)),
        };
        raw.sort_by(|a, b| lane_of(a).cmp(&lane_of(b)).then(a.start.cmp(&b.start)));
        Timeline {
            requests,
            stagger_ms: 0.0,
            db_delay_ms: 0.0,
            wall_us: wall,
            spans: raw
                .iter()
                .map(|s| Span {
                    lane: s.lane,
                    kind: s.kind,
                    request: s.req.map(label),
                    start_us: us(s.start),
                    end_us: us(s.end),
                    source: s.source.clone(),
                })
                .collect(),
        }
    }
}

impl State {
    /// A recording point read `at` during the current poll.
    fn mark(&mut self, at: Instant) {
        self.first_mark = Some(self.first_mark.map_or(at, |m| m.min(at)));
    }

    fn push(
        &mut self,
        lane: Lane,
        kind: SpanKind,
        req: Option<usize>,
        start: Instant,
        end: Instant,
    ) {
        self.spans.push(RawSpan {
            lane,
            kind,
            req,
            start,
            end: end.max(start),
            source: None,
        });
    }
}

impl Traced {
    /// The request's query for `id` is queued on database connection `conn`.
    pub(crate) fn query_queued(&self, conn: usize, id: u64) {
        self.rec.state.borrow_mut().queries.push(Query {
            conn,
            id,
            req: self.req,
            state: QueryState::Queued,
        });
    }

    /// The request starts waiting (a timer; database waits are noted by
    /// the connection).
    pub(crate) fn wait_start(&self) {
        let at = Instant::now();
        let mut st = self.rec.state.borrow_mut();
        st.reqs[self.req].wait_start = Some(at);
        st.mark(at);
    }

    /// The request's wait is over (a timer).
    pub(crate) fn wait_end(&self) {
        let at = Instant::now();
        let mut st = self.rec.state.borrow_mut();
        st.reqs[self.req].wait_end = Some(at);
        st.mark(at);
    }

    /// The request's handler returns its response.
    pub(crate) fn returned(&self) {
        let at = Instant::now();
        let mut st = self.rec.state.borrow_mut();
        st.notes.push(Note::Return(self.req, at));
        st.mark(at);
    }
}

/// Writes `timeline` as JSON to `path`.
pub(crate) fn write(timeline: &Timeline, path: &Path) -> io::Result<()> {
    let json = serde_json::to_string(timeline).map_err(io::Error::other)?;
    std::fs::write(path, json)
}

/// The lab's trace step: the event-loop model, in a child process pinned
/// to `model_cpus` like every step, serving `app`; [`REQUESTS`] requests
/// sent [`STAGGER`] apart on connections opened beforehand. Returns the
/// timeline the model recorded.
pub fn record(app: &AppConfig, model_cpus: Option<&str>) -> io::Result<Timeline> {
    record_with(app, REQUESTS, STAGGER, model_cpus)
}

/// [`record`] with `requests` requests sent `stagger` apart.
pub fn record_with(
    app: &AppConfig,
    requests: usize,
    stagger: Duration,
    model_cpus: Option<&str>,
) -> io::Result<Timeline> {
    static RUNS: AtomicU64 = AtomicU64::new(0);
    let path = std::env::temp_dir().join(format!(
        "waiter-lab-timeline-{}-{}.json",
        std::process::id(),
        RUNS.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_file(&path);
    let mut app = app.clone();
    app.cpu_iters = 0;
    app.trace = Some(TraceOptions {
        requests,
        out: path.clone(),
    });
    let child = ModelProcess::spawn(
        &ModelOptions::new(Model::EventLoop, app.clone()),
        model_cpus,
    )?;
    let fired = fire(child.addr(), requests, stagger);
    child.stop();
    let read = std::fs::read_to_string(&path);
    let _ = std::fs::remove_file(&path);
    let statuses = fired?;
    if let Some(s) = statuses.iter().find(|&&s| s != 200) {
        return Err(io::Error::other(format!(
            "a traced request was answered {s}"
        )));
    }
    let json =
        read.map_err(|e| io::Error::new(e.kind(), format!("the model wrote no trace: {e}")))?;
    let mut t: Timeline = serde_json::from_str(&json).map_err(io::Error::other)?;
    if t.requests.len() != requests {
        return Err(io::Error::other(format!(
            "the trace holds {} requests, not {requests}",
            t.requests.len()
        )));
    }
    t.stagger_ms = stagger.as_secs_f64() * 1000.0;
    t.db_delay_ms = app.delay.as_secs_f64() * 1000.0;
    Ok(t)
}

/// Opens `n` connections to `addr`, lets the server accept them, then
/// sends `GET /item/<k>` on connection `k` (1-based), `stagger` apart, and
/// reads every response. Returns the status codes, in order.
pub fn fire(addr: SocketAddr, n: usize, stagger: Duration) -> io::Result<Vec<u16>> {
    let mut conns = Vec::with_capacity(n);
    for _ in 0..n {
        let s = TcpStream::connect(addr)?;
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        conns.push(s);
    }
    // Connections accepted before the trace starts stay out of it.
    std::thread::sleep(Duration::from_millis(50));
    for (k, s) in conns.iter_mut().enumerate() {
        if k > 0 {
            std::thread::sleep(stagger);
        }
        write!(s, "GET /item/{} HTTP/1.1\r\nHost: lab\r\n\r\n", k + 1)?;
    }
    conns.iter_mut().map(read_status).collect()
}

/// Reads one response from `s` and returns its status.
fn read_status(s: &mut TcpStream) -> io::Result<u16> {
    let limits = Limits::default();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let mut fill = |buf: &mut Vec<u8>| -> io::Result<()> {
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
        Ok(())
    };
    let head = loop {
        if let Some(p) = parse_response(&buf, &limits, &Method::Get).map_err(io::Error::other)? {
            break p;
        }
        fill(&mut buf)?;
    };
    buf.drain(..head.head_len);
    let mut dec = Decoder::new(head.body, &limits, head.head_len);
    loop {
        let d = dec.decode(&buf).map_err(io::Error::other)?;
        buf.drain(..d.consumed);
        if d.done {
            break;
        }
        if d.consumed == 0 {
            fill(&mut buf)?;
        }
    }
    Ok(head.head.status.as_u16())
}
