//! What [`Conn`](super::Conn) reports to the server.

use std::ops::Range;
use std::time::Duration;

use crate::error::ParseError;
use crate::h1::head::Headers;
use crate::h1::parse::ParsedRequest;
#[cfg(doc)]
use crate::Conn;

/// Suggested [`Deadline::Idle`] timeout: Node's `keepAliveTimeout`.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(5);

/// Suggested [`Deadline::Head`] timeout: Node's `headersTimeout`.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(60);

/// The result of one [`Conn::poll_read`] call.
#[derive(Debug)]
pub struct Step {
    /// Bytes of the input used up; drop them before the next call.
    pub consumed: usize,
    /// What happened.
    pub event: Event,
}

/// Something the server has to act on.
#[derive(Debug)]
pub enum Event {
    /// A request head. Its body follows as `Data` events and one `End`.
    Request(ParsedRequest),
    /// Body bytes of the current request, as a range of the input.
    Data(Range<usize>),
    /// The current request's body is complete.
    End {
        /// Trailer fields of a chunked body, if any.
        trailers: Option<Headers>,
    },
    /// More input is needed.
    NeedMore,
    /// Nothing can be read until the server writes responses or calls
    /// [`Conn::continue_body`]; stop reading the socket meanwhile.
    Paused,
    /// The connection now speaks another protocol; all unconsumed input belongs to it.
    Upgrade,
    /// The input is invalid; answer with [`Conn::write_error_response`], then close.
    Error(ParseError),
    /// Nothing more will be read. Finish owed responses, then close when
    /// [`Conn::is_closed`] says so.
    Closed,
}

/// Which timeout currently applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deadline {
    /// No timeout: a handler is working or a body is streaming.
    None,
    /// Idle between requests (see [`IDLE_TIMEOUT`]); expiry closes silently.
    Idle,
    /// Waiting for a complete request head (see [`HEAD_TIMEOUT`]); expiry
    /// answers 408 if part of a head arrived.
    Head,
}

impl Step {
    pub(super) fn new(consumed: usize, event: Event) -> Step {
        Step { consumed, event }
    }
}
