//! The recorder on the loop thread: its state, the stall hook that turns
//! each task poll and callback into loop slices and request slices, and
//! the [`Timeline`] made of them when the loop ends.
//!
//! Invariants: the state is borrowed only inside the recorder's methods
//! (here and in the recording points); loop slices do not overlap, and
//! recording stops after the last traced response or [`MAX_SPANS`] spans.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use waiter_rt::diag::{StallReport, StallSource};

use super::points::Query;
use super::{Lane, Span, SpanKind, Timeline, DB_READER, DB_WRITER, MAX_SPANS};

/// The label of the `i`-th traced request: `A`, `B`, ... then `R27`, ...
fn label(i: usize) -> String {
    match u8::try_from(i) {
        Ok(k) if k < 26 => char::from(b'A' + k).to_string(),
        _ => format!("R{}", i + 1),
    }
}

/// A point of the app's code, noted while a poll runs.
#[derive(Debug, Clone, Copy)]
pub(super) enum Note {
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
pub(super) struct Req {
    /// Its wait began (query written, or timer started).
    pub(super) wait_start: Option<Instant>,
    /// Its wait ended (reply read, or timer resumed).
    pub(super) wait_end: Option<Instant>,
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
pub(super) struct State {
    /// Requests to trace.
    pub(super) limit: usize,
    /// The traced requests, in the order their handlers started.
    pub(super) reqs: Vec<Req>,
    /// Notes taken since the last slice.
    pub(super) notes: Vec<Note>,
    /// The earliest instant read by a recording point since the last
    /// slice: the slice began no later.
    first_mark: Option<Instant>,
    /// Traced queries.
    pub(super) queries: Vec<Query>,
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
    pub(super) done: bool,
}

/// The trace recorder of one loop: lives on the loop thread.
#[derive(Debug)]
pub(crate) struct Recorder {
    /// Everything recorded; borrowed only inside the recorder's methods.
    pub(super) state: RefCell<State>,
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
}

impl Recorder {
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
    pub(super) fn mark(&mut self, at: Instant) {
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
