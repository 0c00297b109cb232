//! The data model of a trace: the [`Timeline`] a model child writes as
//! JSON and the lab reads back, its [`Span`]s, their [`Lane`] and
//! [`SpanKind`], and the figures derived from the spans.
//!
//! Invariant: the serde form (kebab-case kinds and lanes, `source` left
//! out when absent) is the file format between the model child and the
//! lab; both ends use these types.

use serde::{Deserialize, Serialize};

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
}
