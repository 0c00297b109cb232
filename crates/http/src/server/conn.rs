//! A busy connection's state: the socket, the parser and the buffers,
//! shared by its driver task (`drive.rs`), the handler's request body and
//! the server's timeout sweep.
//!
//! The request body is read by the handler through [`ConnShared::poll_body`]
//! while the driver awaits the handler: the two never touch the connection
//! at the same time, and no `RefCell` borrow is held across an await.
//!
//! **Invariant: an idle connection holds no buffer.** Before waiting for the
//! next request, the read and write buffers go back to the per-thread pool
//! ([`super::buf`]); the driver waits for readability first and takes a
//! buffer only when bytes are there. An idle connection usually holds no
//! `ConnShared` either: it is parked (`park.rs`) and rebuilt from the
//! [`Parked`] record, with a fresh parser, when its next request arrives.

use std::cell::{Cell, RefCell};
use std::future::{poll_fn, Future};
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use bytes::Bytes;
use waiter_proto::{Conn, Deadline, Event, Headers};
use waiter_rt::net::TcpStream;

use super::park::Parked;
use super::{buf, ServerConfig};
use crate::body::BodyError;
use crate::date::Lines;

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
pub(super) struct ConnIo {
    /// The HTTP state machine.
    pub(super) conn: Conn,
    /// The read buffer, when the connection has one.
    pub(super) rbuf: Option<Box<[u8]>>,
    /// Start of the unconsumed input in `rbuf`.
    pub(super) start: usize,
    /// End of the input in `rbuf`.
    pub(super) end: usize,
    /// Output not yet written to the socket.
    pub(super) wbuf: Vec<u8>,
    /// The current request's body has ended.
    pub(super) body_done: bool,
    /// The current request's body was malformed: the connection cannot be
    /// reused after this response.
    pub(super) body_failed: bool,
    /// The current request's body is known to have arrived whole (see
    /// `ConnShared::body_arrived`).
    pub(super) body_arrived: bool,
    /// The trailer fields of the current request's chunked body, from its
    /// end (which sets them, `None` for a body without) until the handler
    /// takes them or the connection goes idle.
    pub(super) trailers: Option<Headers>,
    /// The last read filled the buffer: grow it before the next one.
    grow: bool,
}

/// The most bytes of the socket's receive queue the timeout sweep looks
/// at for the end of a chunked body that has not been read.
const PEEK_LIMIT: usize = 1 << 20;

impl ConnIo {
    pub(super) fn input(&self) -> &[u8] {
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

    /// Gives the connection an output buffer from the pool if it has none.
    pub(super) fn take_out_buf(&mut self) {
        if self.wbuf.capacity() == 0 {
            self.wbuf = buf::take_out();
        }
    }

    pub(super) fn release_buffers(&mut self) {
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
        // Untaken trailers of a finished request (never seen by a later
        // one: each body's end replaces them).
        self.trailers = None;
        self.conn.release_spare();
    }
}

/// A connection's state, shared by its task, the request body and the
/// server's timeout sweep.
pub(crate) struct ConnShared {
    /// The socket.
    pub(super) stream: TcpStream,
    /// The client's address.
    pub(super) remote: SocketAddr,
    /// The server's settings.
    pub(super) config: Rc<ServerConfig>,
    /// Parser and buffers.
    pub(super) io: RefCell<ConnIo>,
    /// What the connection is doing.
    phase: Cell<Phase>,
    /// When the phase began, if it is one timed from its start (idle or
    /// writing; the others are timed from `request_start`, or not at all).
    since: Cell<Instant>,
    /// When the first byte of the current request arrived.
    request_start: Cell<Instant>,
    /// Bumped for every request and response, so a body reader that outlives
    /// its request fails instead of reading the next one.
    pub(super) epoch: Cell<u64>,
    /// Requests served.
    pub(super) served: Cell<u64>,
    /// Set once the connection is being closed.
    pub(super) closed: Cell<bool>,
    /// Set if parking failed: the connection keeps its task.
    no_park: Cell<bool>,
    /// Set by the sweep on a connection idle for a while: park when next
    /// polled idle.
    park_now: Cell<bool>,
    /// The driver's waker while it waits idle, for the sweep to wake it.
    idle_waker: RefCell<Option<Waker>>,
    /// The server's `date` and `keep-alive` lines.
    pub(super) lines: Rc<Lines>,
}

impl ConnShared {
    pub(crate) fn new(
        stream: TcpStream,
        remote: SocketAddr,
        config: Rc<ServerConfig>,
        lines: Rc<Lines>,
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
                body_arrived: false,
                trailers: None,
                grow: false,
            }),
            config,
            phase: Cell::new(Phase::Idle),
            since: Cell::new(now),
            request_start: Cell::new(now),
            epoch: Cell::new(0),
            served: Cell::new(0),
            closed: Cell::new(false),
            no_park: Cell::new(false),
            park_now: Cell::new(false),
            idle_waker: RefCell::new(None),
            lines,
        }
    }

    /// A connection rebuilt from its parked record, idle since `idle_since`,
    /// with a fresh parser: between requests, a parser that served some is
    /// in the same state as a new one (only its own idea of which timeout
    /// applies differs, and the server keeps its own, from `served`).
    pub(crate) fn from_parked(
        p: Parked,
        idle_since: Instant,
        config: Rc<ServerConfig>,
        lines: Rc<Lines>,
    ) -> ConnShared {
        let c = ConnShared::new(p.stream, p.remote, config, lines);
        c.since.set(idle_since);
        c.request_start.set(idle_since);
        c.served.set(p.served);
        c
    }

    /// The parked record of this connection, whose driver has finished in
    /// the idle phase (see [`ConnShared::parkable`]).
    pub(crate) fn into_parked(self, idle_since_ms: u64, gen: u32) -> Parked {
        Parked {
            stream: self.stream,
            remote: self.remote,
            idle_since_ms,
            served: self.served.get(),
            gen,
        }
    }

    /// Keeps this connection's task for its whole life.
    pub(crate) fn never_park(&self) {
        self.no_park.set(true);
    }

    /// Whether the sweep asked this idle connection to park.
    pub(super) fn park_requested(&self) -> bool {
        self.park_now.get()
    }

    /// Remembers the idle driver's waker, for [`Self::request_park`].
    pub(super) fn set_idle_waker(&self, w: &Waker) {
        let mut slot = self.idle_waker.borrow_mut();
        if !slot.as_ref().is_some_and(|old| old.will_wake(w)) {
            *slot = Some(w.clone());
        }
    }

    /// Leaves the idle wait: forgets the waker and any park request.
    pub(super) fn end_idle(&self) {
        self.park_now.set(false);
        drop(self.idle_waker.borrow_mut().take());
    }

    /// Asks the idle driver to park (the sweep's call for a connection idle
    /// for a while).
    pub(crate) fn request_park(&self) {
        if self.phase.get() == Phase::Idle && !self.park_now.replace(true) {
            let w = self.idle_waker.borrow_mut().take();
            if let Some(w) = w {
                w.wake();
            }
        }
    }

    /// When the idle phase began.
    pub(crate) fn idle_since(&self) -> Instant {
        self.since.get()
    }

    /// Whether the connection is between requests with nothing buffered
    /// and nothing owed, so the parked record says all there is to know.
    pub(super) fn parkable(&self) -> bool {
        let io = self.io.borrow();
        io.start == io.end
            && io.wbuf.is_empty()
            && !self.closed.get()
            && !self.no_park.get()
            && io.conn.wants_read()
            && matches!(io.conn.deadline(), Deadline::Idle | Deadline::Head)
    }

    pub(crate) fn phase(&self) -> Phase {
        self.phase.get()
    }

    pub(super) fn set_phase(&self, p: Phase) {
        if self.phase.replace(p) != p && matches!(p, Phase::Idle | Phase::Writing) {
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
            // Once the whole body is here the request has arrived, as for
            // Node's `requestTimeout`: a handler that reads it late is not
            // cut off.
            Phase::Body => {
                // The clock first: looking at the socket costs a syscall.
                over(self.request_start.get(), c.request_timeout) && !self.body_arrived()
            }
            Phase::Handler => false,
            Phase::Writing => over(self.since.get(), c.write_timeout),
        };
        if !expired {
            return;
        }
        tracing::debug!(remote = %self.remote, ?phase, "connection timed out");
        if matches!(phase, Phase::Head | Phase::Body) {
            // 408, best effort: the client is slow, not necessarily gone.
            let mut io = self.io.borrow_mut();
            let io = &mut *io;
            io.conn.on_timeout(&self.lines.date.line(), &mut io.wbuf);
            if let Ok(n) = self.stream.try_write(&io.wbuf) {
                io.wbuf.drain(..n);
            }
        }
        self.close();
    }

    /// Whether the rest of the current request's body has arrived: it is
    /// in the read buffer, or in the socket's receive queue, not yet read
    /// because the handler has not asked for it. A chunked body's end is
    /// looked for in at most [`PEEK_LIMIT`] bytes of the queue. Once true,
    /// it stays true for the request.
    fn body_arrived(&self) -> bool {
        let mut io = self.io.borrow_mut();
        if io.body_arrived {
            return true;
        }
        let waiting = self.stream.bytes_readable().unwrap_or(0);
        let arrived = match io.conn.body_remaining() {
            Some(n) => (io.end - io.start + waiting) as u64 >= n,
            None => {
                let mut peeked = vec![0; waiting.min(PEEK_LIMIT)];
                let n = match peeked.len() {
                    0 => 0,
                    _ => self.stream.try_peek(&mut peeked).unwrap_or(0),
                };
                io.conn.body_ends_within(&[io.input(), &peeked[..n]])
            }
        };
        io.body_arrived = arrived;
        arrived
    }

    /// Reads the next piece of the current request's body; at its end,
    /// keeps the trailer fields of a chunked body for
    /// [`take_trailers`](Self::take_trailers).
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
                Event::End { trailers } => {
                    io.trailers = trailers;
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

    /// The trailer fields of request `epoch`'s body, once: `None` if it
    /// had none or its response is written.
    pub(crate) fn take_trailers(&self, epoch: u64) -> Option<Headers> {
        if epoch != self.epoch.get() {
            return None;
        }
        self.io.borrow_mut().trailers.take()
    }

    /// Reads more input into the buffer (taking one from the pool if
    /// needed). `Ok(0)` is end of stream.
    pub(super) fn poll_fill(
        &self,
        io: &mut ConnIo,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<usize>> {
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

    /// Reads more of a request that has begun (input is buffered), waiting
    /// for it; handles end of stream. An idle connection waits in the
    /// driver instead, where it may park.
    pub(super) async fn fill(&self) -> io::Result<()> {
        if self.phase.get() != Phase::Head {
            self.set_phase(Phase::Head);
            self.request_start.set(waiter_rt::time::now());
        }
        let n = poll_fn(|cx| self.poll_fill(&mut self.io.borrow_mut(), cx)).await?;
        if n == 0 {
            self.io.borrow_mut().conn.read_eof();
        }
        Ok(())
    }

    /// Records what a read on an idle connection brought: the start of a
    /// request, or the end of the stream.
    pub(super) fn after_idle_read(&self, n: usize) {
        if n == 0 {
            self.io.borrow_mut().conn.read_eof();
        } else {
            self.set_phase(Phase::Head);
            self.request_start.set(waiter_rt::time::now());
        }
    }

    /// Writes an interim response for the request of `epoch` and flushes
    /// it (see [`Request::send_interim`](crate::Request::send_interim)).
    pub(crate) async fn send_interim(
        &self,
        epoch: u64,
        head: waiter_proto::ResponseHead,
    ) -> io::Result<()> {
        if self.epoch.get() != epoch || self.closed.get() {
            return Err(io::Error::other("the request's response is already sent"));
        }
        {
            let mut io = self.io.borrow_mut();
            let io = &mut *io;
            io.take_out_buf();
            io.conn
                .write_head(head, None, &mut io.wbuf)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        }
        self.flush().await
    }

    /// Writes all buffered output.
    pub(super) async fn flush(&self) -> io::Result<()> {
        if self.flush_now()? {
            return Ok(());
        }
        self.flush_waiting().await
    }

    /// Writes all buffered output if the socket takes it at once, as it
    /// usually does, and returns whether it did; what is left is for
    /// [`flush_waiting`](Self::flush_waiting). A plain call, so the common
    /// case costs no future.
    pub(super) fn flush_now(&self) -> io::Result<bool> {
        let mut io = self.io.borrow_mut();
        if io.wbuf.is_empty() {
            return Ok(true);
        }
        match self.stream.try_write(&io.wbuf) {
            Ok(n) if n == io.wbuf.len() => {
                // Keep a small output buffer for the next response; a large
                // one (after a big body) is freed rather than held by an
                // idle connection.
                if io.wbuf.capacity() <= buf::OUT {
                    io.wbuf.clear();
                } else {
                    io.wbuf = Vec::new();
                }
                Ok(true)
            }
            Ok(n) => {
                io.wbuf.drain(..n);
                Ok(false)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Writes the output [`flush_now`](Self::flush_now) left (never
    /// none), waiting for the socket, in the Writing phase. That rare
    /// wait's state is boxed, so every connection's future stays small.
    pub(super) async fn flush_waiting(&self) -> io::Result<()> {
        let out = std::mem::take(&mut self.io.borrow_mut().wbuf);
        let r = Box::pin(self.write_waiting(&out)).await;
        let mut out = out;
        out.clear();
        let mut io = self.io.borrow_mut();
        if io.wbuf.is_empty() && out.capacity() <= buf::OUT {
            io.wbuf = out;
        }
        r
    }

    /// Writes `rest` in the Writing phase, so a client that stops reading
    /// is cut off by the write timeout.
    pub(super) async fn write_waiting(&self, mut rest: &[u8]) -> io::Result<()> {
        let write = async {
            while !rest.is_empty() {
                let n = self.stream.write(rest).await?;
                if n == 0 {
                    return Err(io::ErrorKind::WriteZero.into());
                }
                rest = &rest[n..];
                // The write timeout is a stall timeout: each write that
                // moved bytes restarts its clock (nginx's `send_timeout`).
                self.since.set(waiter_rt::time::now());
            }
            Ok(())
        };
        self.set_phase_while(Phase::Writing, write).await
    }

    /// Awaits `f` in phase `p`, then returns to the phase before.
    pub(super) async fn set_phase_while<T>(&self, p: Phase, f: impl Future<Output = T>) -> T {
        let prev = self.phase.get();
        self.set_phase(p);
        let r = f.await;
        self.set_phase(prev);
        r
    }

    /// Closes our side gracefully, then reads and discards what the client
    /// still sends for a while, so it reads our last response instead of a
    /// reset caused by unread input.
    pub(super) async fn linger(&self) {
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

    pub(super) fn next_event(&self) -> Event {
        let mut io = self.io.borrow_mut();
        let io = &mut *io;
        let input = match &io.rbuf {
            Some(b) => &b[io.start..io.end],
            None => &[],
        };
        let step = io.conn.poll_read(input);
        io.start += step.consumed;
        step.event
    }

    /// Takes back the fields of a request on this connection that the
    /// handler is done with (see [`Conn::recycle_headers`]); they are left
    /// to the thread's pool while the connection is busy elsewhere.
    pub(crate) fn recycle_headers(&self, headers: &mut Headers) {
        if let Ok(mut io) = self.io.try_borrow_mut() {
            io.conn.recycle_headers(std::mem::take(headers));
        }
    }

    pub(super) fn buffered(&self) -> usize {
        self.io.borrow().wbuf.len()
    }
}
