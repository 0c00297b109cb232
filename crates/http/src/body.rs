//! Request and response bodies.
//!
//! A request body is pulled: nothing is read from the socket until the
//! handler asks for the next chunk, so a slow consumer holds back a fast
//! client (TCP backpressure), and `100 Continue` goes out only when the
//! handler first reads. A response body is pushed by the connection, which
//! polls a streaming body only after the previous chunk was written (or
//! buffered below the high-water mark); a file body goes from the page
//! cache to the socket without passing through memory. Either way a body of
//! any size is sent and received in bounded memory.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use waiter_proto::{Headers, ParseError};

use crate::server::conn::ConnShared;

/// A response body.
pub enum Body {
    /// No body.
    Empty,
    /// The whole body in memory.
    Full(Bytes),
    /// Chunks produced over time; an error aborts the connection.
    Stream(Pin<Box<dyn Stream<Item = io::Result<Bytes>>>>),
    /// `len` bytes of a file from `offset`: copied by the kernel from the
    /// page cache to the socket with `sendfile(2)`, or read on the worker
    /// pool when [`ServerConfig::sendfile`](crate::ServerConfig::sendfile)
    /// is off or the file does not support it. Opening it (and its `stat`)
    /// belongs on the pool too: use [`waiter_rt::fs::File`].
    File {
        /// The open file.
        file: waiter_rt::fs::File,
        /// Where to start.
        offset: u64,
        /// How many bytes to send.
        len: u64,
    },
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Body::Empty => f.write_str("Body::Empty"),
            Body::Full(b) => write!(f, "Body::Full({} bytes)", b.len()),
            Body::Stream(_) => f.write_str("Body::Stream"),
            Body::File { offset, len, .. } => write!(f, "Body::File({offset}+{len})"),
        }
    }
}

impl Body {
    /// A body streamed from `s`.
    pub fn stream(s: impl Stream<Item = io::Result<Bytes>> + 'static) -> Body {
        Body::Stream(Box::pin(s))
    }

    /// A body fed through a bounded channel: the sender's `send` waits while
    /// `capacity` chunks are queued and not yet written.
    pub fn channel(capacity: usize) -> (BodySender, Body) {
        let chan = Rc::new(RefCell::new(Chan {
            queue: VecDeque::new(),
            capacity: capacity.max(1),
            closed: false,
            receiver_gone: false,
            rx: None,
            tx: None,
        }));
        let rx = ChanStream { chan: chan.clone() };
        (BodySender { chan }, Body::stream(rx))
    }

    /// The length, if known before sending.
    pub fn len(&self) -> Option<u64> {
        match self {
            Body::Empty => Some(0),
            Body::Full(b) => Some(b.len() as u64),
            Body::Stream(_) => None,
            Body::File { len, .. } => Some(*len),
        }
    }

    /// Whether the body is known to be empty.
    pub fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }
}

struct Chan {
    queue: VecDeque<Bytes>,
    capacity: usize,
    closed: bool,
    receiver_gone: bool,
    rx: Option<Waker>,
    tx: Option<Waker>,
}

/// The sending half of [`Body::channel`]. Dropping it ends the body.
pub struct BodySender {
    chan: Rc<RefCell<Chan>>,
}

impl fmt::Debug for BodySender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BodySender").finish_non_exhaustive()
    }
}

impl BodySender {
    /// Queues a chunk, waiting while the channel is full. Fails if the
    /// connection is gone.
    pub async fn send(&self, chunk: impl Into<Bytes>) -> io::Result<()> {
        let mut chunk = Some(chunk.into());
        poll_fn(|cx| {
            let mut c = self.chan.borrow_mut();
            if c.receiver_gone {
                return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
            }
            if c.queue.len() >= c.capacity {
                c.tx = Some(cx.waker().clone());
                return Poll::Pending;
            }
            c.queue
                .push_back(chunk.take().expect("polled after completion"));
            if let Some(w) = c.rx.take() {
                w.wake();
            }
            Poll::Ready(Ok(()))
        })
        .await
    }
}

impl Drop for BodySender {
    fn drop(&mut self) {
        let mut c = self.chan.borrow_mut();
        c.closed = true;
        if let Some(w) = c.rx.take() {
            w.wake();
        }
    }
}

struct ChanStream {
    chan: Rc<RefCell<Chan>>,
}

impl Stream for ChanStream {
    type Item = io::Result<Bytes>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut c = self.chan.borrow_mut();
        if let Some(b) = c.queue.pop_front() {
            if let Some(w) = c.tx.take() {
                w.wake();
            }
            return Poll::Ready(Some(Ok(b)));
        }
        if c.closed {
            return Poll::Ready(None);
        }
        c.rx = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl Drop for ChanStream {
    fn drop(&mut self) {
        let mut c = self.chan.borrow_mut();
        c.receiver_gone = true;
        if let Some(w) = c.tx.take() {
            w.wake();
        }
    }
}

/// Why a request body could not be read.
#[derive(Debug)]
pub enum BodyError {
    /// The body is larger than the limit the handler asked for (413).
    TooLarge,
    /// The body's framing is invalid (the status to answer is in the error).
    Parse(ParseError),
    /// The client closed the connection before the end of the body.
    Incomplete,
    /// The socket failed.
    Io(io::Error),
    /// The body belongs to a request whose response was already sent.
    Gone,
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BodyError::TooLarge => f.write_str("request body too large"),
            BodyError::Parse(e) => write!(f, "invalid request body: {e}"),
            BodyError::Incomplete => f.write_str("connection closed before the end of the body"),
            BodyError::Io(e) => write!(f, "error reading the request body: {e}"),
            BodyError::Gone => f.write_str("request body read after the response was sent"),
        }
    }
}

impl std::error::Error for BodyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BodyError::Parse(e) => Some(e),
            BodyError::Io(e) => Some(e),
            _ => None,
        }
    }
}

/// The body of a request, read from the connection on demand.
pub struct RequestBody {
    /// The connection and the request's epoch, or `None` for no body.
    source: Option<(Rc<ConnShared>, u64)>,
    /// Whether the end was reached.
    done: bool,
    /// The declared length, if any.
    length: Option<u64>,
}

impl fmt::Debug for RequestBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestBody")
            .field("length", &self.length)
            .field("done", &self.done)
            .finish()
    }
}

impl RequestBody {
    pub(crate) fn new(shared: Rc<ConnShared>, epoch: u64, length: Option<u64>) -> RequestBody {
        RequestBody {
            source: Some((shared, epoch)),
            done: false,
            length,
        }
    }

    /// A body with no bytes.
    pub fn empty() -> RequestBody {
        RequestBody {
            source: None,
            done: true,
            length: Some(0),
        }
    }

    /// The declared `Content-Length`, if any (`None` for chunked bodies).
    pub fn length(&self) -> Option<u64> {
        self.length
    }

    /// Takes the trailer fields that ended a chunked body, once the body
    /// has been read to its end, as Node's `req.trailers`: `None` before
    /// that, for a body without them, once taken, and once the response is
    /// written. They are kept apart from the header section, never merged
    /// into it, exactly as received (the parser checks their syntax and
    /// counts them against the head's limits). They wait in the
    /// connection, not here, so a request without them (nearly all) does
    /// not carry room for them.
    pub fn take_trailers(&mut self) -> Option<Headers> {
        let (shared, epoch) = self.source.as_ref()?;
        if !self.done {
            return None;
        }
        shared.take_trailers(*epoch)
    }

    /// The next chunk, or `None` at the end of the body.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, BodyError> {
        poll_fn(|cx| self.poll_chunk(cx)).await
    }

    /// The poll form of [`chunk`](Self::chunk).
    pub fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<Bytes>, BodyError>> {
        if self.done {
            return Poll::Ready(Ok(None));
        }
        let Some((shared, epoch)) = &self.source else {
            return Poll::Ready(Ok(None));
        };
        let r = shared.poll_body(cx, *epoch);
        if let Poll::Ready(Ok(None)) = r {
            self.done = true;
        }
        r
    }

    /// The whole body, failing with [`BodyError::TooLarge`] past `limit`
    /// bytes (checked against `Content-Length` before anything is read).
    pub async fn bytes(&mut self, limit: usize) -> Result<Bytes, BodyError> {
        if self.length.is_some_and(|l| l > limit as u64) {
            return Err(BodyError::TooLarge);
        }
        let mut all = BytesMut::new();
        while let Some(c) = self.chunk().await? {
            if all.len() + c.len() > limit {
                return Err(BodyError::TooLarge);
            }
            if all.is_empty() {
                // Often the whole body is one chunk: keep it without a copy.
                if let Some(next) = self.chunk().await? {
                    if c.len() + next.len() > limit {
                        return Err(BodyError::TooLarge);
                    }
                    all.extend_from_slice(&c);
                    all.extend_from_slice(&next);
                    continue;
                }
                return Ok(c);
            }
            all.extend_from_slice(&c);
        }
        Ok(all.freeze())
    }
}

impl Stream for RequestBody {
    type Item = Result<Bytes, BodyError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.poll_chunk(cx).map(Result::transpose)
    }
}
