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

mod model;
mod points;
mod recorder;
mod step;
mod text;

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

// For the doc links above and below.
#[cfg(doc)]
use crate::app::AppConfig;

pub use model::{Lane, Span, SpanKind, Timeline};
pub(crate) use points::Traced;
pub(crate) use recorder::Recorder;
pub(crate) use step::write;
pub use step::{fire, record, record_with};

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
