//! One connection: a task that couples a [`Conn`] to a socket.
//!
//! The task loops: take the next event from the buffered input; on a
//! request, run the handler and write its response into the output buffer;
//! when more input is needed, flush the output and read. So responses to
//! pipelined requests already in the buffer go out in one write, and
//! reading stops while output waits (a client that does not read its
//! responses stops being read from).
//!
//! The request body is read by the handler through [`ConnShared::poll_body`]
//! while the task awaits the handler: the two never touch the connection at
//! the same time, and no `RefCell` borrow is held across an await.
//!
//! **Invariant: an idle connection holds no buffer.** Before waiting for the
//! next request, the read and write buffers go back to the per-thread pool
//! ([`super::buf`]); the task waits for readability first and takes a buffer
//! only when bytes are there.

use std::cell::{Cell, RefCell};
use std::future::{poll_fn, Future};
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use waiter_proto::{BodyKind, Conn, Event, Method, ParsedRequest, ResponseHead, StatusCode};
use waiter_rt::net::TcpStream;

use super::{buf, Handler, ServerConfig, ServerInner};
use crate::body::{Body, BodyError, RequestBody};
use crate::{Request, Response};

/// What the connection is doing, for the timeout sweep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Waiting for the next request.
    Idle,
    /// Part of a request head has arrived.
    Head,
    /// The handler may be reading the request body.
    Body,
    /// The handler is working.
    Handler,
    /// A write is waiting for the client to read.
    Writing,
}

/// The part of a connection that the socket, buffers and parser share.
struct ConnIo {
    /// The HTTP state machine.
    conn: Conn,
    /// The read buffer, when the connection has one.
    rbuf: Option<Box<[u8]>>,
    /// Start of the unconsumed input in `rbuf`.
    start: usize,
    /// End of the input in `rbuf`.
    end: usize,
    /// Output not yet written to the socket.
    wbuf: Vec<u8>,
    /// The current request's body has ended.
    body_done: bool,
    /// The current request's body was malformed: the connection cannot be
    /// reused after this response.
    body_failed: bool,
    /// The last read filled the buffer: grow it before the next one.
    grow: bool,
}

impl ConnIo {
    fn input(&self) -> &[u8] {
        match &self.rbuf {
            Some(b) => &b[self.start..self.end],
            None => &[],
        }
    }

    /// Feeds the unconsumed input to the parser and consumes what it used.
    /// Returns the event and where the input started (for `Data` ranges).
    fn poll(&mut self) -> (Event, usize) {
        let input = match &self.rbuf {
            Some(b) => &b[self.start..self.end],
            None => &[],
        };
        let base = self.start;
        let step = self.conn.poll_read(input);
        self.start += step.consumed;
        (step.event, base)
    }

    fn release_buffers(&mut self) {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
            if let Some(b) = self.rbuf.take() {
                buf::give(b);
            }
        }
        if self.wbuf.is_empty() {
            buf::give_out(std::mem::take(&mut self.wbuf));
        }
    }
}

/// A connection's state, shared by its task, the request body and the
/// server's timeout sweep.
pub(crate) struct ConnShared {
    /// The socket.
    stream: TcpStream,
    /// The client's address.
    remote: SocketAddr,
    /// The server's settings.
    config: Rc<ServerConfig>,
    /// Parser and buffers.
    io: RefCell<ConnIo>,
    /// What the connection is doing.
    phase: Cell<Phase>,
    /// When the phase began.
    since: Cell<Instant>,
    /// When the first byte of the current request arrived.
    request_start: Cell<Instant>,
    /// Bumped for every request and response, so a body reader that outlives
    /// its request fails instead of reading the next one.
    epoch: Cell<u64>,
    /// Requests served.
    served: Cell<u64>,
    /// Set once the connection is being closed.
    closed: Cell<bool>,
    /// `keep-alive: timeout=N\r\n`, shared by the server's connections.
    keep_alive_line: Rc<[u8]>,
}

impl ConnShared {
    pub(crate) fn new(
        stream: TcpStream,
        remote: SocketAddr,
        config: Rc<ServerConfig>,
        keep_alive_line: Rc<[u8]>,
    ) -> ConnShared {
        let now = waiter_rt::time::now();
        ConnShared {
            stream,
            remote,
            io: RefCell::new(ConnIo {
                conn: Conn::new(config.limits),
                rbuf: None,
                start: 0,
                end: 0,
                wbuf: Vec::new(),
                body_done: false,
                body_failed: false,
                grow: false,
            }),
            config,
            phase: Cell::new(Phase::Idle),
            since: Cell::new(now),
            request_start: Cell::new(now),
            epoch: Cell::new(0),
            served: Cell::new(0),
            closed: Cell::new(false),
            keep_alive_line,
        }
    }

    pub(crate) fn phase(&self) -> Phase {
        self.phase.get()
    }

    fn set_phase(&self, p: Phase) {
        if self.phase.replace(p) != p {
            self.since.set(waiter_rt::time::now());
        }
    }

    /// Shuts the socket down; the task sees end-of-stream and finishes.
    pub(crate) fn close(&self) {
        if !self.closed.replace(true) {
            let _ = self.stream.shutdown(Shutdown::Both);
        }
    }

    /// Closes the connection if its phase has lasted too long.
    pub(crate) fn check_timeouts(&self, now: Instant, c: &ServerConfig) {
        let over = |since: Instant, limit| now.saturating_duration_since(since) > limit;
        let phase = self.phase.get();
        let expired = match phase {
            Phase::Idle if self.served.get() == 0 => over(self.since.get(), c.headers_timeout),
            Phase::Idle => over(self.since.get(), c.keep_alive_timeout),
            Phase::Head => over(self.request_start.get(), c.headers_timeout),
            Phase::Body => over(self.request_start.get(), c.request_timeout),
            Phase::Handler => false,
            Phase::Writing => over(self.since.get(), c.write_timeout),
        };
        if !expired {
            return;
        }
        tracing::debug!(remote = %self.remote, ?phase, "connection timed out");
        if phase == Phase::Head {
            // 408, best effort: the client is slow, not necessarily gone.
            let mut io = self.io.borrow_mut();
            let io = &mut *io;
            io.conn.on_timeout(&mut io.wbuf);
            if let Ok(n) = self.stream.try_write(&io.wbuf) {
                io.wbuf.drain(..n);
            }
        }
        self.close();
    }

    /// Reads the next piece of the current request's body.
    pub(crate) fn poll_body(
        &self,
        cx: &mut Context<'_>,
        epoch: u64,
    ) -> Poll<Result<Option<Bytes>, BodyError>> {
        if epoch != self.epoch.get() {
            return Poll::Ready(Err(BodyError::Gone));
        }
        let mut guard = self.io.borrow_mut();
        let io = &mut *guard;
        loop {
            // Earlier responses and `100 Continue` go out before we wait
            // for the body.
            while !io.wbuf.is_empty() {
                match self.stream.poll_write_buf(cx, &io.wbuf) {
                    Poll::Ready(Ok(n)) => drop(io.wbuf.drain(..n)),
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(BodyError::Io(e))),
                    Poll::Pending => return Poll::Pending,
                }
            }
            if io.body_done {
                return Poll::Ready(Ok(None));
            }
            let (event, base) = io.poll();
            match event {
                Event::Data(r) => {
                    let b = io.rbuf.as_ref().expect("data comes from the buffer");
                    let chunk = Bytes::copy_from_slice(&b[base + r.start..base + r.end]);
                    return Poll::Ready(Ok(Some(chunk)));
                }
                Event::End { .. } => {
                    io.body_done = true;
                    self.set_phase(Phase::Handler);
                    return Poll::Ready(Ok(None));
                }
                Event::Paused => {
                    if !io.conn.continue_body(&mut io.wbuf) {
                        return Poll::Ready(Err(BodyError::Incomplete));
                    }
                }
                Event::NeedMore => match self.poll_fill(io, cx) {
                    Poll::Ready(Ok(0)) => io.conn.read_eof(),
                    Poll::Ready(Ok(_)) => {}
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(BodyError::Io(e))),
                    Poll::Pending => return Poll::Pending,
                },
                Event::Error(e) => {
                    io.body_failed = true;
                    return Poll::Ready(Err(BodyError::Parse(e)));
                }
                Event::Closed | Event::Request(_) | Event::Upgrade => {
                    return Poll::Ready(Err(BodyError::Incomplete))
                }
            }
        }
    }

    /// Reads more input into the buffer (taking one from the pool if
    /// needed). `Ok(0)` is end of stream.
    fn poll_fill(&self, io: &mut ConnIo, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let mut b = io.rbuf.take().unwrap_or_else(buf::take);
        if io.start == io.end {
            io.start = 0;
            io.end = 0;
        }
        let full = io.end == b.len();
        if (io.grow || full) && b.len() < buf::LARGE {
            b = buf::grow(b, io.start, io.end);
            io.end -= io.start;
            io.start = 0;
        } else if full && io.start > 0 {
            b.copy_within(io.start..io.end, 0);
            io.end -= io.start;
            io.start = 0;
        }
        io.grow = false;
        if io.end == b.len() {
            io.rbuf = Some(b);
            // Unreachable with the parser's limits below the buffer size.
            return Poll::Ready(Err(io::Error::other(
                "request head exceeds the read buffer",
            )));
        }
        let room = b.len() - io.end;
        let r = self.stream.poll_read_buf(cx, &mut b[io.end..]);
        if let Poll::Ready(Ok(n)) = r {
            io.end += n;
            // A read that filled all the room suggests more is coming.
            io.grow = n == room;
        }
        io.rbuf = Some(b);
        r
    }

    /// Waits for input and reads it; handles end of stream.
    async fn fill(&self) -> io::Result<()> {
        let idle = {
            let mut io = self.io.borrow_mut();
            let idle = io.start == io.end;
            if idle {
                io.release_buffers();
            }
            idle
        };
        if idle {
            self.set_phase(Phase::Idle);
            self.stream.readable().await;
        } else if self.phase.get() != Phase::Head {
            self.set_phase(Phase::Head);
            self.request_start.set(waiter_rt::time::now());
        }
        let n = poll_fn(|cx| self.poll_fill(&mut self.io.borrow_mut(), cx)).await?;
        if n == 0 {
            self.io.borrow_mut().conn.read_eof();
        } else if idle {
            self.set_phase(Phase::Head);
            self.request_start.set(waiter_rt::time::now());
        }
        Ok(())
    }

    /// Writes all buffered output.
    async fn flush(&self) -> io::Result<()> {
        let out = std::mem::take(&mut self.io.borrow_mut().wbuf);
        if out.is_empty() {
            self.io.borrow_mut().wbuf = out;
            return Ok(());
        }
        // Usually the socket takes it all at once; only a write that has to
        // wait enters the Writing phase (and its timeout).
        let r = match self.stream.try_write(&out) {
            Ok(n) if n == out.len() => Ok(()),
            Ok(n) => self.write_waiting(&out[n..]).await,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.write_waiting(&out).await,
            Err(e) => Err(e),
        };
        let mut out = out;
        out.clear();
        let mut io = self.io.borrow_mut();
        // Keep a small output buffer for the next response; a large one
        // (after a big body) is freed rather than held by an idle connection.
        if io.wbuf.is_empty() && out.capacity() <= buf::OUT {
            io.wbuf = out;
        }
        r
    }

    /// Writes `rest` in the Writing phase, so a client that stops reading
    /// is cut off by the write timeout.
    async fn write_waiting(&self, rest: &[u8]) -> io::Result<()> {
        let prev = self.phase.get();
        self.set_phase(Phase::Writing);
        let r = self.stream.write_all(rest).await;
        self.set_phase(prev);
        r
    }

    /// Closes our side gracefully, then reads and discards what the client
    /// still sends for a while, so it reads our last response instead of a
    /// reset caused by unread input.
    async fn linger(&self) {
        let _ = self.stream.shutdown(Shutdown::Write);
        let drain = async {
            // On the heap: a stack array would sit in every connection's
            // future for its whole life.
            let mut b = vec![0u8; 4096];
            while let Ok(n) = self.stream.read(&mut b).await {
                if n == 0 {
                    break;
                }
            }
        };
        let _ = waiter_rt::timeout(self.config.linger, drain).await;
    }

    fn next_event(&self) -> Event {
        self.io.borrow_mut().poll().0
    }

    fn buffered(&self) -> usize {
        self.io.borrow().wbuf.len()
    }
}

/// Serves one connection until it closes.
pub(crate) async fn serve(shared: &Rc<ConnShared>, handler: &dyn Handler, server: &ServerInner) {
    match drive(shared, handler, server).await {
        Ok(Ending::Linger) => shared.linger().await,
        Ok(Ending::Close) => {}
        Err(e) => tracing::debug!(remote = %shared.remote, error = %e, "connection ended"),
    }
    shared.closed.set(true);
    let mut io = shared.io.borrow_mut();
    io.start = io.end;
    io.release_buffers();
}

/// How a connection ends.
enum Ending {
    /// The server closes: shut down our side, then drain the client's.
    Linger,
    /// The client closed, or the socket failed.
    Close,
}

async fn drive(
    shared: &Rc<ConnShared>,
    handler: &dyn Handler,
    server: &ServerInner,
) -> io::Result<Ending> {
    loop {
        match shared.next_event() {
            Event::Request(req) => {
                server.requests.set(server.requests.get() + 1);
                let served = shared.served.get() + 1;
                shared.served.set(served);
                let max = shared.config.max_requests_per_socket;
                respond(shared, handler, req, max > 0 && served >= max, server).await?;
                if shared.buffered() >= shared.config.write_high_water_mark {
                    shared.flush().await?;
                }
            }
            // The body of a request whose handler did not read it.
            Event::Data(_) | Event::End { .. } => {}
            Event::NeedMore => {
                shared.flush().await?;
                if shared.closed.get() {
                    return Ok(Ending::Close);
                }
                if server.draining.get() && shared.io.borrow().input().is_empty() {
                    return Ok(Ending::Linger);
                }
                shared.fill().await?;
            }
            Event::Error(e) => {
                tracing::debug!(remote = %shared.remote, error = %e, "bad request");
                {
                    let mut io = shared.io.borrow_mut();
                    let io = &mut *io;
                    io.conn.write_error_response(&mut io.wbuf);
                }
                shared.flush().await?;
                return Ok(Ending::Linger);
            }
            Event::Paused | Event::Closed | Event::Upgrade => {
                shared.flush().await?;
                return Ok(Ending::Linger);
            }
        }
        if shared.io.borrow().conn.is_closed() {
            shared.flush().await?;
            return Ok(Ending::Linger);
        }
    }
}

/// Runs the handler for one request and writes its response.
async fn respond(
    shared: &Rc<ConnShared>,
    handler: &dyn Handler,
    req: ParsedRequest,
    last: bool,
    server: &ServerInner,
) -> io::Result<()> {
    let epoch = shared.epoch.get() + 1;
    shared.epoch.set(epoch);
    {
        let mut io = shared.io.borrow_mut();
        io.body_done = false;
        io.body_failed = false;
        // A handler may wait a long time (a database, a timer): don't hold a
        // buffer for it when every byte read so far is consumed.
        if io.start == io.end {
            io.start = 0;
            io.end = 0;
            if let Some(b) = io.rbuf.take() {
                buf::give(b);
            }
        }
    }
    let (length, has_body) = match req.framing.body {
        BodyKind::Empty => (Some(0), false),
        BodyKind::Length(n) => (Some(n), true),
        BodyKind::Chunked | BodyKind::Eof => (None, true),
    };
    let keep_alive = req.framing.keep_alive;
    let is_head = req.head.method == Method::Head;
    let body = if has_body {
        shared.set_phase(Phase::Body);
        RequestBody::new(shared.clone(), epoch, length)
    } else {
        shared.set_phase(Phase::Handler);
        RequestBody::empty()
    };
    let request = Request::new(req.head, body, shared.remote);
    let (response, failed) = match (CatchUnwind(handler.call(request))).await {
        Ok(r) => (r, false),
        Err(msg) => {
            tracing::error!(remote = %shared.remote, panic = %msg, "a handler panicked; answering 500");
            let r = Response::text("Internal Server Error")
                .with_status(StatusCode::INTERNAL_SERVER_ERROR);
            (r, true)
        }
    };
    // Any body reader still held by the handler is now stale.
    shared.epoch.set(epoch + 1);
    shared.set_phase(Phase::Handler);
    // A shutdown may have begun while the handler ran.
    let close = last || failed || server.draining.get() || shared.io.borrow().body_failed;
    write_response(shared, response, close, keep_alive, is_head).await
}

async fn write_response(
    shared: &ConnShared,
    response: Response,
    close: bool,
    keep_alive: bool,
    is_head: bool,
) -> io::Result<()> {
    let Response {
        status,
        mut headers,
        body,
    } = response;
    if close {
        headers.insert("connection", "close");
    }
    // Our own fields go in as pre-built lines: no allocation per response.
    let keep_alive_line: &[u8] = if !close && keep_alive && !headers.contains("keep-alive") {
        &shared.keep_alive_line
    } else {
        b""
    };
    let own_date = !headers.contains("date");
    let len = body.len();
    let mut head = ResponseHead::new(status);
    head.headers = headers;
    {
        let mut io = shared.io.borrow_mut();
        let io = &mut *io;
        if io.wbuf.capacity() == 0 {
            io.wbuf = buf::take_out();
        }
        let written = crate::date::with_date_line(|date| {
            EXTRA.with(|extra| {
                let mut extra = extra.borrow_mut();
                extra.clear();
                if own_date {
                    extra.extend_from_slice(date);
                }
                extra.extend_from_slice(keep_alive_line);
                io.conn.write_head_with(head, len, &extra, &mut io.wbuf)
            })
        });
        if let Err(e) = written {
            tracing::error!(error = %e, "invalid response from handler; answering 500");
            let mut h = ResponseHead::new(StatusCode::INTERNAL_SERVER_ERROR);
            h.headers.insert("connection", "close");
            io.conn
                .write_head(h, Some(0), &mut io.wbuf)
                .and_then(|()| io.conn.finish_response(&mut io.wbuf))
                .map_err(io::Error::other)?;
            return Ok(());
        }
    }
    if !is_head {
        write_body(shared, body).await?;
    }
    let mut io = shared.io.borrow_mut();
    let io = &mut *io;
    io.conn
        .finish_response(&mut io.wbuf)
        .map_err(io::Error::other)
}

thread_local! {
    /// Scratch space for the field lines the server adds to a response.
    static EXTRA: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Bytes read from a file per pool job while streaming it.
const FILE_CHUNK: u64 = 256 * 1024;

async fn write_body(shared: &ConnShared, body: Body) -> io::Result<()> {
    let hwm = shared.config.write_high_water_mark;
    let put = |data: &[u8]| {
        let mut io = shared.io.borrow_mut();
        let io = &mut *io;
        io.conn
            .write_body(data, &mut io.wbuf)
            .map_err(io::Error::other)
    };
    match body {
        Body::Empty => Ok(()),
        Body::Full(b) if b.len() <= hwm => put(&b),
        Body::Full(b) => {
            // Large: frame it and write it from where it is, without a copy.
            let frame = {
                let mut io = shared.io.borrow_mut();
                let frame = io.conn.body_frame(b.len()).map_err(io::Error::other)?;
                io.wbuf.extend_from_slice(frame.prefix());
                frame
            };
            shared.flush().await?;
            if frame.sends_data() {
                shared.stream.write_all(&b).await?;
            }
            shared
                .io
                .borrow_mut()
                .wbuf
                .extend_from_slice(frame.suffix());
            Ok(())
        }
        Body::Stream(mut s) => {
            while let Some(chunk) = poll_fn(|cx| s.as_mut().poll_next(cx)).await {
                put(&chunk?)?;
                if shared.buffered() >= hwm {
                    shared.flush().await?;
                }
            }
            Ok(())
        }
        Body::File { file, offset, len } => {
            let mut pos = offset;
            let end = offset + len;
            while pos < end {
                let n = (end - pos).min(FILE_CHUNK) as usize;
                let chunk = file.read_at(pos, n).await?;
                if chunk.is_empty() {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "file shrank while being sent",
                    ));
                }
                pos += chunk.len() as u64;
                put(&chunk)?;
                if shared.buffered() >= hwm {
                    shared.flush().await?;
                }
            }
            Ok(())
        }
    }
}

/// Polls a handler future, turning a panic into an error message.
struct CatchUnwind(Pin<Box<dyn Future<Output = Response>>>);

impl Future for CatchUnwind {
    type Output = Result<Response, String>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match catch_unwind(AssertUnwindSafe(|| self.0.as_mut().poll(cx))) {
            Ok(Poll::Ready(r)) => Poll::Ready(Ok(r)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(p) => {
                let msg = if let Some(s) = p.downcast_ref::<&str>() {
                    (*s).to_owned()
                } else if let Some(s) = p.downcast_ref::<String>() {
                    s.clone()
                } else {
                    "<non-string panic payload>".to_owned()
                };
                Poll::Ready(Err(msg))
            }
        }
    }
}
