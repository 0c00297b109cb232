//! The server side of one HTTP/1.1 connection, as a pure state machine.
//!
//! [`Conn`] owns no socket, buffer or timer. The server reads bytes into
//! its own buffer and calls [`Conn::poll_read`] with the unconsumed part;
//! each call returns one [`Event`] and how many bytes it consumed. The
//! server writes responses with [`Conn::write_head`],
//! [`Conn::write_body`] and [`Conn::finish_response`], which append wire
//! bytes to an output `Vec` that the server flushes to the socket.
//!
//! What the connection decides:
//!
//! - **Order.** Responses are written strictly in request order: the write
//!   methods always apply to the oldest request that has no complete
//!   response. Up to [`MAX_PIPELINED`] requests may be parsed ahead of
//!   their responses; after that `poll_read` returns [`Event::Paused`].
//!   A server that runs handlers concurrently buffers late responses itself.
//! - **Bodies.** Body [`Event::Data`] and [`Event::End`] events always
//!   belong to the most recent [`Event::Request`]. Every request, even one
//!   without a body, ends with exactly one `End`. If a response finishes
//!   before its request body was read, the rest of the body is read and
//!   dropped, and the connection stays usable.
//! - **Persistence.** HTTP/1.1 is persistent unless either side says
//!   `Connection: close`; HTTP/1.0 only with `Connection: keep-alive`. A
//!   close-delimited response, an error, or the peer's end of stream also
//!   end it. [`Conn::is_closed`] tells when the socket should be closed
//!   (after flushing the output).
//! - **Framing of responses.** Chosen by [`Conn::write_head`] from the
//!   request and the known length: nothing for HEAD, 1xx, 204 and 304;
//!   Content-Length when the length is known; chunked for HTTP/1.1 and
//!   close-delimited for HTTP/1.0 when it is not.
//! - **100-continue.** For `Expect: 100-continue`, the body is not read
//!   (`poll_read` returns [`Event::Paused`]) until the server calls
//!   [`Conn::continue_body`], which sends `100 Continue` unless the response
//!   has started. Unknown expectations are errors with status 417.
//! - **Errors.** A parse error is reported as [`Event::Error`] only after
//!   the responses owed to earlier requests are finished, so the server
//!   answers it with [`Conn::write_error_response`] in the right place.
//!   The connection closes afterwards.
//! - **Upgrades.** After a 101 response to an upgrade request (or a 2xx to
//!   CONNECT) is finished, `poll_read` returns [`Event::Upgrade`] without
//!   consuming anything: the unconsumed bytes belong to the new protocol.
//! - **Timers.** [`Conn::deadline`] says which timeout applies now; the
//!   server arms it and calls [`Conn::on_timeout`] when it fires.
//!
//! Driving it: after reading from the socket, and after finishing a
//! response, call `poll_read` in a loop until it returns `NeedMore` (read
//! the socket again), `Paused` (wait until a response finishes or the body
//! is wanted), `Closed` or `Upgrade`. Check [`Conn::wants_read`] to decide
//! whether to keep the socket registered for reading, and
//! [`Conn::is_closed`] after flushing output. When a read returns 0, call
//! [`Conn::read_eof`] and poll once more.
//!
//! # Example
//!
//! ```
//! use waiter_proto::{Conn, Event, Limits, ResponseHead, StatusCode};
//!
//! let mut conn = Conn::new(Limits::default());
//! let mut input = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n".to_vec();
//! let mut output = Vec::new();
//! let mut targets = Vec::new();
//! loop {
//!     let step = conn.poll_read(&input);
//!     match step.event {
//!         Event::Request(mut req) => targets.push(std::mem::take(&mut req.head.target)),
//!         Event::Data(range) => { let _body_bytes = &input[range]; }
//!         Event::End { .. } => {
//!             // A handler would usually answer later; here it answers at once.
//!             conn.write_head(ResponseHead::new(StatusCode::OK), Some(2), &mut output).unwrap();
//!             conn.write_body(b"ok", &mut output).unwrap();
//!             conn.finish_response(&mut output).unwrap();
//!         }
//!         Event::Error(_) => { conn.write_error_response(b"", &mut output); }
//!         Event::NeedMore | Event::Paused | Event::Closed | Event::Upgrade => break,
//!     }
//!     input.drain(..step.consumed);
//! }
//! assert_eq!(targets, ["/a", "/b"]);
//! assert!(output.starts_with(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"));
//! assert!(conn.wants_read() && !conn.is_closed());
//! ```

use crate::error::{ErrorKind, ParseError};
use crate::h1::body::{Decoder, Encoder};
use crate::h1::head::{Headers, Method, Version};
use crate::h1::parse::{parse_request_with, HostMemo};
use crate::limits::Limits;
use queue::Queue;

mod events;
mod queue;
mod write;

pub use write::OwnLines;

pub use events::{Deadline, Event, Step, HEAD_TIMEOUT, IDLE_TIMEOUT};

/// Requests that may be parsed ahead of their responses. Each holds a
/// parsed head in the server and a slot here; 16 covers the pipelining
/// depth of benchmarking tools while bounding what one connection can make
/// the server hold.
pub const MAX_PIPELINED: usize = 16;

/// What the read side is doing.
#[derive(Debug)]
enum Reading {
    /// Waiting for the first request head.
    Init,
    /// Waiting for a further request head.
    KeepAlive,
    /// Head read; the client waits for `100 Continue` before sending the body.
    Continue(Decoder),
    /// Reading a request body.
    Body(Decoder),
    /// Skipping the rest of a body whose response is already complete,
    /// with how many more bytes may be skipped (see `Limits::max_drain`).
    Drain(Decoder, u64),
    /// An upgrade or CONNECT request was read; waiting for its response.
    AwaitUpgrade,
    /// The connection was handed to another protocol.
    Upgraded,
    /// Nothing more is read.
    Closed,
}

/// What the write side is doing.
#[derive(Debug)]
enum Writing {
    /// Ready for the next response head.
    Init,
    /// Writing a response body.
    Body(Encoder),
    /// Nothing more is written.
    Closed,
}

/// A request awaiting (the end of) its response.
#[derive(Debug, Clone, Copy)]
struct Exchange {
    /// The request method was HEAD.
    head: bool,
    /// The request method was CONNECT.
    connect: bool,
    /// The request asked for a protocol upgrade.
    upgrade: bool,
    /// The request's version.
    version: Version,
    /// Whether the connection may continue after this exchange.
    keep_alive: bool,
    /// The response switched protocols.
    upgraded: bool,
}

/// An error waiting for its turn to be reported.
#[derive(Debug)]
struct PendingError {
    /// The error.
    error: ParseError,
    /// It belongs to the newest queued exchange (a body error), rather than
    /// to a head that never became an exchange.
    in_queue: bool,
    /// A canned response may be sent for it.
    respond: bool,
    /// [`Event::Error`] was returned.
    delivered: bool,
}

/// One server-side HTTP/1.1 connection. See the [module docs](self).
#[derive(Debug)]
pub struct Conn {
    /// Parsing limits.
    limits: Limits,
    /// Read side state.
    reading: Reading,
    /// Write side state.
    writing: Writing,
    /// Requests without a complete response, oldest first.
    queue: Queue<Exchange>,
    /// The connection may be reused after the current exchanges.
    keep_alive: bool,
    /// A response switched protocols while its request body was still being read.
    upgrading: bool,
    /// The peer ended its side of the stream.
    eof: bool,
    /// Part of a request head has been seen.
    partial: bool,
    /// A parse error not yet answered.
    error: Option<PendingError>,
    /// The last valid Host value received.
    host_memo: HostMemo,
    /// The buffers of a finished request's fields, for the next request's
    /// (see [`Conn::recycle_headers`]); empty when there are none.
    spare: Headers,
}

impl Conn {
    /// A new connection using `limits`.
    pub fn new(limits: Limits) -> Conn {
        Conn {
            limits,
            reading: Reading::Init,
            writing: Writing::Init,
            queue: Queue::new(),
            keep_alive: true,
            upgrading: false,
            eof: false,
            partial: false,
            error: None,
            host_memo: HostMemo::default(),
            spare: Headers::new(),
        }
    }

    /// The limits in use.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Takes the fields of a request this connection parsed, once the
    /// server is done with them: their (small) buffers hold the next
    /// request's fields, so a connection that serves many requests moves no
    /// buffer through the thread's pool for each. Fields are cleared; a map
    /// whose buffers are large, or one arriving while a spare is held,
    /// goes to the thread's pool as any dropped map does.
    pub fn recycle_headers(&mut self, headers: Headers) {
        if !self.spare.has_buffers() && headers.is_small_spare() {
            self.spare = headers;
            self.spare.clear();
        }
    }

    /// Gives the spare field buffers (see [`recycle_headers`](Self::recycle_headers))
    /// to the thread's pool, so an idle connection holds none.
    pub fn release_spare(&mut self) {
        drop(std::mem::take(&mut self.spare));
    }

    /// Processes unconsumed input and returns the next event.
    ///
    /// Call it again (after dropping `consumed` bytes) until it returns
    /// `NeedMore`, `Paused`, `Closed` or `Upgrade`. Ranges in `Data` refer
    /// to `input` as passed to this call.
    pub fn poll_read(&mut self, input: &[u8]) -> Step {
        let mut skipped = 0;
        loop {
            let rest = &input[skipped..];
            let mut step = match self.reading {
                _ if self.error_due() => self.deliver_error(),
                Reading::Init | Reading::KeepAlive => self.read_head(rest),
                Reading::Continue(_) | Reading::AwaitUpgrade => Step::new(0, Event::Paused),
                Reading::Body(_) => self.read_body(rest),
                Reading::Drain(..) => match self.drain(rest) {
                    Ok(n) => {
                        skipped += n;
                        continue;
                    }
                    Err(step) => step,
                },
                Reading::Upgraded => Step::new(0, Event::Upgrade),
                Reading::Closed if self.error_pending() => Step::new(0, Event::Paused),
                Reading::Closed => Step::new(0, Event::Closed),
            };
            step.consumed += skipped;
            if let Event::Data(range) = &mut step.event {
                *range = range.start + skipped..range.end + skipped;
            }
            return step;
        }
    }

    /// Records that the peer closed its side of the stream (a read returned 0).
    pub fn read_eof(&mut self) {
        self.eof = true;
    }

    /// Whether the server should read more from the socket.
    pub fn wants_read(&self) -> bool {
        match self.reading {
            Reading::Init | Reading::KeepAlive => {
                self.keep_alive && !self.eof && self.queue.len() < MAX_PIPELINED
            }
            Reading::Body(_) | Reading::Drain(..) => !self.eof,
            _ => false,
        }
    }

    /// Whether the connection is finished: close the socket once the output is flushed.
    pub fn is_closed(&self) -> bool {
        if self.upgrading || matches!(self.reading, Reading::Upgraded) {
            return false;
        }
        match self.writing {
            Writing::Closed => true,
            Writing::Body(_) => false,
            Writing::Init => {
                matches!(self.reading, Reading::Closed)
                    && self.queue.is_empty()
                    && !self.error_pending()
            }
        }
    }

    /// Whether the connection was handed over to another protocol.
    pub fn is_upgraded(&self) -> bool {
        matches!(self.reading, Reading::Upgraded)
    }

    /// Body bytes of the request being read that have not been decoded
    /// yet, when its framing gives the length (Content-Length).
    pub fn body_remaining(&self) -> Option<u64> {
        match &self.reading {
            Reading::Body(d) | Reading::Continue(d) => d.remaining(),
            _ => None,
        }
    }

    /// Whether the body of the request being read ends within `parts`,
    /// the unconsumed input followed by bytes not yet given (such as those
    /// still waiting in the socket): nothing is consumed. False for a
    /// malformed body, and when no body is being read.
    pub fn body_ends_within(&self, parts: &[&[u8]]) -> bool {
        let (Reading::Body(d) | Reading::Continue(d)) = &self.reading else {
            return false;
        };
        if let Some(n) = d.remaining() {
            return parts.iter().map(|p| p.len() as u64).sum::<u64>() >= n;
        }
        // A chunk-size line may straddle two parts: decode them as one.
        let joined = parts.concat();
        let mut d = d.clone();
        let mut rest = &joined[..];
        loop {
            match d.decode(rest) {
                Ok(step) if step.done => return true,
                Ok(step) if step.consumed == 0 => return false,
                Ok(step) => rest = &rest[step.consumed..],
                Err(_) => return false,
            }
        }
    }

    /// Whether the connection is still expected to serve further requests.
    pub fn should_keep_alive(&self) -> bool {
        self.keep_alive
    }

    /// The timeout that currently applies.
    pub fn deadline(&self) -> Deadline {
        let idle = self.queue.is_empty() && matches!(self.writing, Writing::Init);
        match self.reading {
            Reading::Init | Reading::KeepAlive if self.partial => Deadline::Head,
            Reading::Init if idle => Deadline::Head,
            Reading::KeepAlive if idle => Deadline::Idle,
            _ => Deadline::None,
        }
    }

    /// A timeout expired (the armed deadline, or the server's whole-request
    /// limit while a body was still arriving): writes `408 Request Timeout`
    /// if part of a head had arrived, or a body is being read for the only
    /// request owed a response, and no response has begun; then closes.
    /// `date` is as for [`write_error_response`](Self::write_error_response).
    pub fn on_timeout(&mut self, date: &[u8], out: &mut Vec<u8>) {
        let head = self.deadline() == Deadline::Head && self.partial;
        let body = matches!(self.reading, Reading::Body(_) | Reading::Continue(_))
            && self.queue.len() == 1;
        if (head || body) && matches!(self.writing, Writing::Init) {
            write::canned_response(crate::StatusCode::REQUEST_TIMEOUT, date, out);
        }
        self.close();
    }

    /// Called when the server starts reading the body of a request that
    /// expects `100 Continue`: writes it if the response has not started
    /// and no earlier response is owed, then lets `poll_read` read the body.
    /// Returns whether `100 Continue` was written.
    pub fn continue_body(&mut self, out: &mut Vec<u8>) -> bool {
        let Reading::Continue(decoder) = std::mem::replace(&mut self.reading, Reading::Closed)
        else {
            return false;
        };
        let send = self.queue.len() == 1 && matches!(self.writing, Writing::Init);
        if send {
            out.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
        }
        self.reading = Reading::Body(decoder);
        send
    }

    fn read_head(&mut self, input: &[u8]) -> Step {
        if !self.keep_alive {
            self.reading = Reading::Closed;
            return Step::new(0, Event::Closed);
        }
        if self.queue.len() >= MAX_PIPELINED {
            return Step::new(0, Event::Paused);
        }
        match parse_request_with(input, &self.limits, &mut self.host_memo, &mut self.spare) {
            Ok(None) if self.eof => {
                self.close_reading();
                Step::new(0, Event::Closed)
            }
            Ok(None) => {
                self.partial = !input.is_empty();
                Step::new(0, Event::NeedMore)
            }
            Ok(Some(req)) => {
                self.partial = false;
                let f = req.framing;
                self.queue.push_back(Exchange {
                    head: req.head.method == Method::Head,
                    connect: f.connect,
                    upgrade: f.upgrade,
                    version: req.head.version,
                    keep_alive: f.keep_alive,
                    upgraded: false,
                });
                let decoder = Decoder::new(f.body, &self.limits, req.head_len);
                let next = if f.expect_continue && !decoder.is_done() {
                    Reading::Continue(decoder)
                } else {
                    Reading::Body(decoder)
                };
                self.set_reading(next);
                Step::new(req.head_len, Event::Request(req))
            }
            Err(e) => self.fail(e, false, true),
        }
    }

    fn read_body(&mut self, input: &[u8]) -> Step {
        let Reading::Body(decoder) = &mut self.reading else {
            unreachable!("read_body is only called while reading a body")
        };
        match decoder.decode(input) {
            Err(e) => self.fail(e, true, true),
            Ok(d) if !d.data.is_empty() => Step::new(d.consumed, Event::Data(d.data)),
            Ok(d) if d.done => {
                let trailers = decoder.take_trailers();
                self.reading = self.after_body();
                Step::new(d.consumed, Event::End { trailers })
            }
            Ok(_) if self.eof => self.fail(ErrorKind::IncompleteBody.into(), true, true),
            Ok(d) => Step::new(d.consumed, Event::NeedMore),
        }
    }

    /// Skips body bytes: `Ok(n)` to go on after `n` bytes, `Err(step)` to
    /// report `step`.
    fn drain(&mut self, input: &[u8]) -> Result<usize, Step> {
        let Reading::Drain(decoder, budget) = &mut self.reading else {
            unreachable!("drain is only called while draining")
        };
        // Never look at more input than the budget allows.
        let room = input
            .len()
            .min(usize::try_from(*budget).unwrap_or(usize::MAX));
        let r = decoder.decode(&input[..room]);
        if let Ok(d) = &r {
            *budget -= d.consumed as u64;
        }
        match r {
            Err(e) => Err(self.fail(e, false, false)),
            Ok(d) if d.done => {
                self.reading = self.next_head_state();
                Ok(d.consumed)
            }
            Ok(d) if matches!(self.reading, Reading::Drain(_, 0)) => {
                // Longer than is worth skipping: stop reading and close.
                self.close();
                Err(Step::new(d.consumed, Event::Closed))
            }
            Ok(d) if d.consumed > 0 && d.consumed < input.len() => Ok(d.consumed),
            Ok(_) if self.eof => Err(self.fail(ErrorKind::IncompleteBody.into(), false, false)),
            Ok(d) => Err(Step::new(d.consumed, Event::NeedMore)),
        }
    }

    /// Read state after the body of the newest request.
    fn after_body(&self) -> Reading {
        if self.upgrading {
            return Reading::Upgraded;
        }
        match self.queue.back() {
            Some(ex) if ex.upgrade || ex.connect => Reading::AwaitUpgrade,
            Some(ex) if !ex.keep_alive => Reading::Closed,
            _ => self.next_head_state(),
        }
    }

    /// Replaces the read state. The usual old states hold nothing or a
    /// finished plain decoder, so this is a test of the variant rather than
    /// a call of the enum's drop glue.
    #[inline]
    fn set_reading(&mut self, next: Reading) {
        match std::mem::replace(&mut self.reading, next) {
            Reading::Continue(d) | Reading::Body(d) | Reading::Drain(d, _) => d.release(),
            _ => {}
        }
    }

    fn next_head_state(&self) -> Reading {
        if self.keep_alive {
            Reading::KeepAlive
        } else {
            Reading::Closed
        }
    }

    /// Stops reading because of `error`; returns the event to report now.
    fn fail(&mut self, error: ParseError, in_queue: bool, respond: bool) -> Step {
        self.close_reading();
        self.error = Some(PendingError {
            error,
            in_queue,
            respond,
            delivered: false,
        });
        if self.error_due() {
            self.deliver_error()
        } else {
            Step::new(0, Event::Paused)
        }
    }

    /// Whether a pending error is next in line: every response owed to an
    /// earlier request is complete.
    fn error_due(&self) -> bool {
        self.error
            .as_ref()
            .is_some_and(|e| !e.delivered && self.queue.len() <= usize::from(e.in_queue))
    }

    /// Whether an error is waiting to be reported.
    fn error_pending(&self) -> bool {
        self.error.as_ref().is_some_and(|e| !e.delivered)
    }

    fn deliver_error(&mut self) -> Step {
        let pending = self
            .error
            .as_mut()
            .expect("deliver_error needs a pending error");
        pending.delivered = true;
        Step::new(0, Event::Error(pending.error.clone()))
    }

    fn close_reading(&mut self) {
        self.reading = Reading::Closed;
        self.keep_alive = false;
        self.partial = false;
    }

    fn close(&mut self) {
        self.close_reading();
        self.writing = Writing::Closed;
        self.queue.clear();
        self.upgrading = false;
    }
}
