//! One client connection: connecting, writing a request, reading the head
//! of its response.
//!
//! A [`ClientConn`] owns its socket, its read buffer and its pool
//! [`Slot`]. It carries one exchange at a time (no pipelining): it is either
//! idle in the pool with an empty buffer, or owned by exactly one request
//! and then by that request's response until the body ends.
//!
//! An exchange that fails on a reused connection before any byte of the
//! response arrived is marked retryable: the server most likely closed the
//! idle connection while the request was on its way (the keep-alive race),
//! so the request was not processed.
//!
//! The response is read while the request is written (RFC 9112 section
//! 9.5): a final response that arrives before the body is sent is taken.
//! If it refuses the body (a status of 300 or more, or the server closing
//! the connection) the rest of the body is not sent; otherwise the body is
//! sent to its end, and a write that fails after the head arrived still
//! gives the response. Either way a connection whose request body was not
//! sent whole is not reused.

use std::future::{poll_fn, Future};
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use waiter_proto::{parse_response, Encoder, Headers, Limits, Method, ParsedResponse};
use waiter_rt::net::TcpStream;

use super::error::{ClientError, ClientErrorKind};
use super::pool::Slot;
use super::url::Url;

/// Bytes read from the socket at most per read.
const READ_CHUNK: usize = 16 * 1024;

thread_local! {
    /// Where [`ClientConn::poll_fill`] reads, zeroed once per thread.
    static SCRATCH: std::cell::RefCell<Box<[u8]>> =
        std::cell::RefCell::new(vec![0; READ_CHUNK].into_boxed_slice());
}

/// A request body as it is written.
pub(crate) enum OutBody {
    /// No body.
    Empty,
    /// The whole body in memory (replayable for retries and redirects).
    Full(Bytes),
    /// Chunks produced over time (sent once).
    Stream(Pin<Box<dyn Stream<Item = io::Result<Bytes>>>>),
    /// A stream that was already sent.
    Spent,
}

impl OutBody {
    /// Whether the body can be sent again.
    pub(crate) fn is_replayable(&self) -> bool {
        matches!(self, OutBody::Empty | OutBody::Full(_))
    }

    /// The body for one attempt: a copy if replayable, else taken.
    pub(crate) fn take_for_send(&mut self) -> OutBody {
        match self {
            OutBody::Empty => OutBody::Empty,
            OutBody::Full(b) => OutBody::Full(b.clone()),
            other => std::mem::replace(other, OutBody::Spent),
        }
    }
}

/// A failed exchange.
#[derive(Debug)]
pub(crate) struct Failure {
    /// What went wrong.
    pub(crate) error: ClientError,
    /// The connection was reused and no response byte arrived, so the
    /// server probably never saw the request.
    pub(crate) retryable: bool,
}

impl From<ClientError> for Failure {
    fn from(error: ClientError) -> Self {
        Failure {
            error,
            retryable: false,
        }
    }
}

/// A connection to one origin.
#[derive(Debug)]
pub(crate) struct ClientConn {
    /// The socket.
    stream: TcpStream,
    /// Received bytes not yet consumed.
    pub(crate) buf: BytesMut,
    /// The pool's count of this origin's connections.
    slot: Slot,
    /// Whether an earlier exchange completed on this connection.
    reused: bool,
}

/// Resolves `url`'s host and connects to the first address that answers,
/// all within `limit`.
pub(crate) async fn connect(
    url: &Url,
    slot: Slot,
    limit: Duration,
) -> Result<ClientConn, ClientError> {
    let attempt = async {
        let connect_err = |e| {
            let what = format!("cannot connect to {}:{}", url.host(), url.port());
            ClientError::with_source(ClientErrorKind::Connect, what, e)
        };
        let addrs = waiter_rt::dns::lookup(url.host(), url.port())
            .await
            .map_err(connect_err)?;
        let mut last = io::Error::new(io::ErrorKind::NotFound, "no address for the host");
        for addr in addrs {
            match TcpStream::connect(addr).await {
                Ok(s) => return Ok(s),
                Err(e) => last = e,
            }
        }
        Err(connect_err(last))
    };
    let stream = match waiter_rt::timeout(limit, attempt).await {
        Ok(r) => r?,
        Err(_) => {
            let what = format!(
                "connecting to {} timed out after {limit:?}",
                url.authority()
            );
            return Err(ClientError::new(ClientErrorKind::Timeout, what));
        }
    };
    let _ = stream.set_nodelay(true);
    Ok(ClientConn {
        stream,
        buf: BytesMut::new(),
        slot,
        reused: false,
    })
}

impl ClientConn {
    pub(crate) fn stream(&self) -> &TcpStream {
        &self.stream
    }

    pub(crate) fn slot(&self) -> &Slot {
        &self.slot
    }

    /// Marks the end of an exchange that leaves the connection reusable.
    pub(crate) fn mark_reusable(&mut self) {
        self.reused = true;
    }

    /// Whether an idle connection still looks usable: nothing to read
    /// (an EOF, an error, or stray bytes all mean it is not).
    pub(crate) fn looks_alive(&self) -> bool {
        if !self.buf.is_empty() {
            return false;
        }
        let mut probe = [0u8; 1];
        matches!(self.stream.try_read(&mut probe), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
    }

    /// Reads more bytes into the buffer; `Ok(0)` is end of stream.
    pub(crate) fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        fill(&self.stream, &mut self.buf, cx)
    }

    /// Writes the request (`head`, then `body` framed by `encoder`, then
    /// the trailer fields if any) and
    /// reads the head of its response at the same time (see the module
    /// docs); returns the head and whether the whole request was sent.
    ///
    /// `limit` bounds how long writing may make no progress and how long
    /// the head may take once the request is written (Go's
    /// `ResponseHeaderTimeout`): a slow upload that keeps moving is not cut
    /// off, and a server that stops reading or never answers is.
    pub(crate) async fn exchange(
        &mut self,
        request: (Vec<u8>, OutBody, Encoder, Option<Headers>),
        method: &Method,
        limits: &Limits,
        limit: Duration,
    ) -> Result<(ParsedResponse, bool), Failure> {
        let (head, body, encoder, trailers) = request;
        let reused = self.reused;
        let stream = &self.stream;
        let progress = std::cell::Cell::new(0u64);
        let mut write = std::pin::pin!(write_request(
            stream, &progress, reused, head, body, encoder, trailers
        ));
        let mut read = std::pin::pin!(read_head(stream, &mut self.buf, reused, method, limits));
        let mut timer = std::pin::pin!(waiter_rt::sleep(limit));
        // The write progress the timer was last restarted for; `None` once
        // the request is written and the timer restarted a last time.
        let mut seen = Some(0);
        let mut wrote: Option<Result<(), Failure>> = None;
        let mut parsed: Option<ParsedResponse> = None;
        poll_fn(|cx| {
            if parsed.is_none() {
                if let Poll::Ready(r) = read.as_mut().poll(cx) {
                    match r {
                        Ok(p) => parsed = Some(p),
                        // No response: a failed write says more, if any.
                        Err(e) => {
                            return Poll::Ready(Err(match wrote.take() {
                                Some(Err(w)) => w,
                                _ => e,
                            }))
                        }
                    }
                }
            }
            if wrote.is_none() {
                if parsed.as_ref().is_some_and(refuses_body) {
                    return Poll::Ready(Ok((parsed.take().expect("checked"), false)));
                }
                if let Poll::Ready(r) = write.as_mut().poll(cx) {
                    wrote = Some(r);
                }
            }
            match (&wrote, parsed.take()) {
                (Some(r), Some(p)) => return Poll::Ready(Ok((p, r.is_ok()))),
                (_, p) => parsed = p,
            }
            let restart = match seen {
                Some(_) if wrote.is_some() => {
                    seen = None;
                    true
                }
                Some(n) if n != progress.get() => {
                    seen = Some(progress.get());
                    true
                }
                _ => false,
            };
            if restart {
                timer
                    .as_mut()
                    .get_mut()
                    .reset(waiter_rt::time::now() + limit);
            }
            match timer.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    let what = if wrote.is_some() {
                        format!("no response within {limit:?} of the request being sent")
                    } else {
                        format!("sending the request made no progress for {limit:?}")
                    };
                    Poll::Ready(Err(ClientError::new(ClientErrorKind::Timeout, what).into()))
                }
                Poll::Pending => Poll::Pending,
            }
        })
        .await
    }
}

/// Whether an early response says the server does not want the rest of
/// the request body.
fn refuses_body(p: &ParsedResponse) -> bool {
    !p.keep_alive || p.head.status.as_u16() >= 300
}

/// Writes `head`, then `body` framed by `encoder` and ended with
/// `trailers`, counting each write that moved bytes in `progress`.
async fn write_request(
    stream: &TcpStream,
    progress: &std::cell::Cell<u64>,
    reused: bool,
    head: Vec<u8>,
    body: OutBody,
    mut encoder: Encoder,
    trailers: Option<Headers>,
) -> Result<(), Failure> {
    let failed = |e: io::Error| Failure {
        retryable: reused,
        error: ClientError::io("error writing the request", e),
    };
    let mut pending = head;
    match body {
        OutBody::Empty | OutBody::Spent => {}
        // With its head, in one vectored write, when no trailers follow.
        OutBody::Full(b) if trailers.is_none() => {
            write_two(stream, progress, &pending, &b)
                .await
                .map_err(failed)?;
            return Ok(());
        }
        // Chunked, as one chunk, so that the trailers fit.
        OutBody::Full(b) => {
            if !b.is_empty() {
                let frame = encoder.frame(b.len()).map_err(invalid_body)?;
                pending.extend_from_slice(frame.prefix());
                write_two(stream, progress, &pending, &b)
                    .await
                    .map_err(failed)?;
                pending.clear();
                pending.extend_from_slice(frame.suffix());
            }
        }
        OutBody::Stream(mut s) => {
            while let Some(chunk) = poll_fn(|cx| s.as_mut().poll_next(cx)).await {
                let chunk = chunk.map_err(|e| {
                    ClientError::with_source(
                        ClientErrorKind::RequestBody,
                        "the request body stream failed",
                        e,
                    )
                })?;
                let frame = encoder.frame(chunk.len()).map_err(invalid_body)?;
                pending.extend_from_slice(frame.prefix());
                let data = if frame.sends_data() { &chunk[..] } else { &[] };
                write_two(stream, progress, &pending, data)
                    .await
                    .map_err(failed)?;
                pending.clear();
                pending.extend_from_slice(frame.suffix());
            }
        }
    }
    match &trailers {
        Some(t) => encoder.finish_with_trailers(t, &mut pending),
        None => encoder.finish(&mut pending),
    }
    .map_err(invalid_body)?;
    write_two(stream, progress, &pending, &[])
        .await
        .map_err(failed)
}

/// Reads until a final response head (skipping 1xx other than 101) and
/// consumes it from `buf`.
async fn read_head(
    stream: &TcpStream,
    buf: &mut BytesMut,
    reused: bool,
    method: &Method,
    limits: &Limits,
) -> Result<ParsedResponse, Failure> {
    let mut received = false;
    loop {
        match parse_response(buf, limits, method) {
            Ok(Some(p)) => {
                let _ = buf.split_to(p.head_len);
                let status = p.head.status;
                if status.is_informational() && status.as_u16() != 101 {
                    continue;
                }
                return Ok(p);
            }
            Ok(None) => {}
            Err(e) => return Err(ClientError::parse(e).into()),
        }
        let r = poll_fn(|cx| fill(stream, buf, cx)).await;
        let retryable = reused && !received;
        let error = match r {
            Ok(0) => ClientError::io(
                "the server closed the connection before the response head",
                io::ErrorKind::UnexpectedEof.into(),
            ),
            Ok(_) => {
                received = true;
                continue;
            }
            Err(e) => ClientError::io("error reading the response head", e),
        };
        return Err(Failure { error, retryable });
    }
}

/// Reads more bytes from `stream` into `buf`; `Ok(0)` is end of stream.
///
/// The read lands in a per-thread scratch buffer that was zeroed once, and
/// only the bytes read are copied on: handing the socket the buffer's spare
/// capacity would mean zeroing 16 KiB before every read, which costs more
/// than the read itself for a small response.
fn fill(stream: &TcpStream, buf: &mut BytesMut, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
    SCRATCH.with(|scratch| {
        let mut scratch = scratch.borrow_mut();
        let r = stream.poll_read_buf(cx, &mut scratch[..]);
        if let Poll::Ready(Ok(n)) = r {
            buf.extend_from_slice(&scratch[..n]);
        }
        r
    })
}

fn invalid_body(e: waiter_proto::EncodeError) -> ClientError {
    ClientError::with_source(
        ClientErrorKind::InvalidRequest,
        "the request body does not match its framing",
        e,
    )
}

/// Writes all of `a` then all of `b`, with vectored writes, counting each
/// write in `progress`.
async fn write_two(
    stream: &TcpStream,
    progress: &std::cell::Cell<u64>,
    mut a: &[u8],
    mut b: &[u8],
) -> io::Result<()> {
    while !a.is_empty() || !b.is_empty() {
        let n = if a.is_empty() {
            stream.write(b).await?
        } else {
            stream
                .write_vectored(&[IoSlice::new(a), IoSlice::new(b)])
                .await?
        };
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        progress.set(progress.get() + 1);
        if n >= a.len() {
            b = &b[n - a.len()..];
            a = &[];
        } else {
            a = &a[n..];
        }
    }
    Ok(())
}
