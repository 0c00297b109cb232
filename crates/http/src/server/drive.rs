//! The driver: the task of a busy connection.
//!
//! It loops: take the next event from the buffered input; on a request,
//! run the handler and write its response into the output buffer; when more
//! input is needed, flush the output and read. So responses to pipelined
//! requests already in the buffer go out in one write, and reading stops
//! while output waits (a client that does not read its responses stops
//! being read from; this is the high-water mark's backpressure).
//!
//! When the connection goes idle between requests, the driver parks it
//! (see `park.rs` for the conditions and the readiness invariant) and
//! finishes; the next request starts a new driver.

use std::future::{poll_fn, Future};
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::task::{Context, Poll};

use waiter_proto::{BodyKind, Event, Method, ParsedRequest, StatusCode, Version};

use super::buf;
use super::conn::{ConnShared, Phase};
use super::write::{write_response, write_rest, Rest};
use super::{Handler, ServerInner};
use crate::body::RequestBody;
use crate::{Request, Response};

/// How many references to a connection exist while only its driver and
/// the registry hold it (a handler may keep more in a request body).
const OWNERS: usize = 2;

/// Serves connection `key` until it closes (`None`) or parks: then the
/// park waker of the returned generation is registered, and the caller
/// turns the connection into its parked record.
pub(crate) async fn serve<H: Handler>(
    shared: &Rc<ConnShared>,
    handler: &H,
    server: &ServerInner,
    key: usize,
) -> Option<u32> {
    match drive(shared, handler, server, key).await {
        Ok(Ending::Park(gen)) => return Some(gen),
        Ok(Ending::Linger) => shared.linger().await,
        Ok(Ending::Close) => {}
        Err(e) => tracing::debug!(remote = %shared.remote, error = %e, "connection ended"),
    }
    shared.closed.set(true);
    let mut io = shared.io.borrow_mut();
    io.start = io.end;
    io.release_buffers();
    None
}

/// How a driver ends.
enum Ending {
    /// The server closes: shut down our side, then drain the client's.
    Linger,
    /// The client closed, or the socket failed.
    Close,
    /// Idle: park with the waker of this generation.
    Park(u32),
}

/// What waiting on an idle connection came to.
enum Idle {
    /// Bytes (or the end of the stream) were read.
    Read,
    /// The park waker of this generation is registered.
    Park(u32),
}

/// Waits for the next request on a connection with no unconsumed input,
/// parking it if nothing else holds it and either
/// [`park_above`](crate::ServerConfig::park_above) idle connections already
/// wait with their task or the sweep has asked for it.
async fn wait_idle(shared: &Rc<ConnShared>, server: &ServerInner, key: usize) -> io::Result<Idle> {
    // This connection's place among those idle with their task, once it
    // has one; given back when the wait ends, however it ends.
    let mut slot = None;
    loop {
        shared.io.borrow_mut().release_buffers();
        shared.set_phase(Phase::Idle);
        let parked = poll_fn(|cx| {
            if slot.is_none() && !shared.park_requested() {
                slot = IdleSlot::take(server);
            }
            let park = (slot.is_none() || shared.park_requested())
                && !server.draining.get()
                && Rc::strong_count(shared) == OWNERS
                && shared.parkable();
            if !park {
                shared.set_idle_waker(cx.waker());
                return shared.stream.poll_read_ready(cx).map(|()| None);
            }
            // One step: either readiness is there (the driver reads on), or
            // the park waker is stored for the next edge.
            let (waker, gen) = server.park_waker(key);
            match shared
                .stream
                .poll_read_ready(&mut Context::from_waker(&waker))
            {
                Poll::Ready(()) => Poll::Ready(None),
                Poll::Pending => Poll::Ready(Some(gen)),
            }
        })
        .await;
        shared.end_idle();
        if let Some(gen) = parked {
            return Ok(Idle::Park(gen));
        }
        // Read what is there without waiting: a `WouldBlock` (a stray
        // wakeup) goes back to the idle wait, which may park.
        let read =
            poll_fn(|cx| Poll::Ready(shared.poll_fill(&mut shared.io.borrow_mut(), cx))).await;
        match read {
            Poll::Ready(Ok(n)) => {
                shared.after_idle_read(n);
                return Ok(Idle::Read);
            }
            Poll::Ready(Err(e)) => return Err(e),
            Poll::Pending => {}
        }
    }
}

/// One of the at most `park_above` places of idle connections that keep
/// their task; the place is given back when this is dropped.
struct IdleSlot<'a>(&'a std::cell::Cell<usize>);

impl<'a> IdleSlot<'a> {
    fn take(server: &'a ServerInner) -> Option<IdleSlot<'a>> {
        let n = server.idle_tasks.get();
        (n < server.config.park_above).then(|| {
            server.idle_tasks.set(n + 1);
            IdleSlot(&server.idle_tasks)
        })
    }
}

impl Drop for IdleSlot<'_> {
    fn drop(&mut self) {
        self.0.set(self.0.get() - 1);
    }
}

async fn drive<H: Handler>(
    shared: &Rc<ConnShared>,
    handler: &H,
    server: &ServerInner,
    key: usize,
) -> io::Result<Ending> {
    loop {
        match shared.next_event() {
            Event::Request(req) => {
                server.requests.set(server.requests.get() + 1);
                let served = shared.served.get() + 1;
                shared.served.set(served);
                let max = shared.config.max_requests_per_socket;
                let last = max > 0 && served >= max;
                // The handler's future is polled where it was made, in this
                // task's state: not moved into another future first. Its
                // response is written as soon as it is ready, from where
                // the poll returned it; the finished future (and whatever
                // it still holds) is dropped after.
                let written = {
                    let no_body = matches!(req.framing.body, BodyKind::Empty);
                    let (request, started) = start_request(shared, req);
                    // Without half-close, the end of the stream (or a
                    // reset) while the handler runs means the client left:
                    // watched only when no request body is left to read (the
                    // handler reads that itself) and until a pipelined
                    // request's bytes are seen.
                    let mut watch = !shared.config.half_close && no_body;
                    let mut call = std::pin::pin!(handler.call(request));
                    poll_fn(|cx| {
                        if let Poll::Ready(outcome) = catch_unwind_poll(call.as_mut(), cx) {
                            let w = finish_request(shared, server, outcome, started, last);
                            return Poll::Ready(Some(w));
                        }
                        if watch {
                            let mut byte = [0u8; 1];
                            match shared.stream.poll_peek(cx, &mut byte) {
                                Poll::Ready(Ok(0) | Err(_)) => return Poll::Ready(None),
                                Poll::Ready(Ok(_)) => watch = false,
                                Poll::Pending => {}
                            }
                        }
                        Poll::Pending
                    })
                    .await
                };
                let Some(written) = written else {
                    tracing::debug!(remote = %shared.remote, "the client left; dropping its handler");
                    return Ok(Ending::Close);
                };
                if let Some(rest) = written? {
                    // Large, streamed and file bodies wait for the socket.
                    // Their state (about 800 bytes) is boxed, so the future
                    // of every connection stays small for the common, small
                    // body.
                    Box::pin(write_rest(shared, rest)).await?;
                }
                if shared.buffered() >= shared.config.write_high_water_mark {
                    shared.flush().await?;
                }
            }
            // The body of a request whose handler did not read it.
            Event::Data(_) | Event::End { .. } => {}
            Event::NeedMore => {
                if !shared.flush_now()? {
                    shared.flush_waiting().await?;
                }
                if shared.closed.get() {
                    return Ok(Ending::Close);
                }
                let idle = shared.io.borrow().input().is_empty();
                if server.draining.get() && idle {
                    return Ok(Ending::Linger);
                }
                if !idle {
                    shared.fill().await?;
                } else if let Idle::Park(gen) = wait_idle(shared, server, key).await? {
                    return Ok(Ending::Park(gen));
                }
            }
            Event::Error(e) => {
                tracing::debug!(remote = %shared.remote, error = %e, "bad request");
                {
                    let mut io = shared.io.borrow_mut();
                    let io = &mut *io;
                    io.conn
                        .write_error_response(&shared.lines.date.line(), &mut io.wbuf);
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

/// What the end of a request needs from its start.
#[derive(Clone, Copy)]
struct Started {
    /// The request's epoch.
    epoch: u64,
    /// The request was HEAD.
    is_head: bool,
    /// The request was HTTP/1.1 (its response can carry trailers).
    http11: bool,
}

/// Prepares the connection for a request and returns the handler's
/// argument.
fn start_request(shared: &Rc<ConnShared>, req: ParsedRequest) -> (Request, Started) {
    let epoch = shared.epoch.get() + 1;
    shared.epoch.set(epoch);
    {
        let mut io = shared.io.borrow_mut();
        io.body_done = false;
        io.body_failed = false;
        io.body_arrived = false;
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
    let is_head = req.head.method == Method::Head;
    let http11 = req.head.version == Version::Http11;
    let body = if has_body {
        shared.set_phase(Phase::Body);
        RequestBody::new(shared.clone(), epoch, length)
    } else {
        shared.set_phase(Phase::Handler);
        RequestBody::empty()
    };
    let request = Request::new(req.head, body, shared.remote, (shared.clone(), epoch));
    (
        request,
        Started {
            epoch,
            is_head,
            http11,
        },
    )
}

/// Writes the response a handler returned (or a 500 for one that
/// panicked); returns its body if it is one that [`write_rest`] must
/// send.
fn finish_request(
    shared: &ConnShared,
    server: &ServerInner,
    outcome: Result<Response, String>,
    started: Started,
    last: bool,
) -> io::Result<Option<Rest>> {
    let (response, failed) = match outcome {
        Ok(r) => (r, false),
        Err(msg) => {
            tracing::error!(remote = %shared.remote, panic = %msg, "a handler panicked; answering 500");
            let r = Response::text("Internal Server Error")
                .with_status(StatusCode::INTERNAL_SERVER_ERROR);
            (r, true)
        }
    };
    // Any body reader still held by the handler is now stale.
    shared.epoch.set(started.epoch + 1);
    shared.set_phase(Phase::Handler);
    // A shutdown may have begun while the handler ran.
    let close = last || failed || server.draining.get() || shared.io.borrow().body_failed;
    write_response(shared, response, close, started.is_head, started.http11)
}

/// Polls a handler's future, turning a panic into an error message.
fn catch_unwind_poll<F: Future>(
    f: std::pin::Pin<&mut F>,
    cx: &mut Context<'_>,
) -> Poll<Result<F::Output, String>> {
    match catch_unwind(AssertUnwindSafe(|| f.poll(cx))) {
        Ok(Poll::Ready(r)) => Poll::Ready(Ok(r)),
        Ok(Poll::Pending) => Poll::Pending,
        Err(p) => Poll::Ready(Err(waiter_rt::panic_message(&*p).to_owned())),
    }
}
