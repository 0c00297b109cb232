//! Writing responses: the head and framing into the output buffer, and the
//! body from memory, a stream, or a file.
//!
//! A body goes out with backpressure: a streamed body is polled for its
//! next chunk only when the output is below the high-water mark, and a large
//! one is written from where it is, without a copy. A file body goes from
//! the page cache to the socket with `sendfile(2)` (see
//! [`ServerConfig::sendfile`](super::ServerConfig::sendfile) for the
//! page-cache assumption), in calls of at most [`FILE_CHUNK`] bytes, until
//! the socket's buffer is full, then waits for writability, in the write
//! timeout's phase; a file or socket that cannot use `sendfile` falls back
//! to reading chunks on the worker pool.

use std::future::poll_fn;
use std::io;
use std::task::Poll;

use std::panic::{catch_unwind, AssertUnwindSafe};

use waiter_proto::{
    allowed_in_trailers, Frame, Headers, OwnLines, ResponseHead, StaticField, StatusCode, Version,
};

use super::conn::{ConnShared, Phase};
use crate::body::Body;
use crate::response::{OnFinish, TrailerFn};
use crate::Response;

const CONNECTION_CLOSE: StaticField = StaticField::new("connection", "close");

/// What is left of a response once its head is in the output buffer: a
/// body that waits for the socket, and trailers to end it with.
pub(super) struct Rest {
    body: Body,
    trailers: Option<TrailerFn>,
    finish: OnFinish,
}

/// Writes a response into the output buffer: its head, and its body when
/// that is empty or small (or the request was HEAD), in which case the
/// response is finished and `None` returned. A large, streamed or file
/// body, or one with trailers, is returned instead: [`write_rest`] sends
/// it and finishes the response. (The common, small response so costs no
/// future of its own.) `http11` says the request was HTTP/1.1, whose
/// responses can be chunked to carry trailers.
pub(super) fn write_response(
    shared: &ConnShared,
    response: Response,
    close: bool,
    is_head: bool,
    http11: bool,
) -> io::Result<Option<Rest>> {
    let (status, mut headers, body, trailers, finish) = response.into_parts();
    // No room for trailers without a chunked body, nor without a body at
    // all.
    let trailers = trailers.filter(|_| {
        let code = status.as_u16();
        http11 && !is_head && code >= 200 && code != 204 && code != 304
    });
    if close {
        headers.insert_static(&CONNECTION_CLOSE);
    }
    // Chunked, so that the trailers fit.
    let len = if trailers.is_some() { None } else { body.len() };
    let head = ResponseHead {
        version: Version::Http11,
        status,
        reason: None,
        headers,
    };
    let hwm = shared.config.write_high_water_mark;
    let mut guard = shared.io.borrow_mut();
    let io = &mut *guard;
    io.take_out_buf();
    // Our own fields go in as pre-built lines: no allocation per response.
    // A small body goes out with its head, in one call.
    let date = shared.lines.date.line();
    let own = OwnLines {
        date: &date,
        keep_alive: &shared.lines.keep_alive,
    };
    let small = match &body {
        _ if trailers.is_some() => None,
        Body::Empty => Some(&b""[..]),
        Body::Full(b) if b.len() <= hwm => Some(&b[..]),
        _ => None,
    };
    let whole = match small {
        Some(b) => io
            .conn
            .write_full_response_with(head, b, own, &mut io.wbuf)
            .map(|()| true),
        None => io
            .conn
            .write_head_with(head, len, own, &mut io.wbuf)
            .map(|()| false),
    };
    let sent = match whole {
        Ok(true) => true,
        // HEAD, 204, 304: the body is not sent, so not produced either.
        Ok(false) if is_head || io.conn.drops_response_body() => {
            io.conn
                .finish_response(&mut io.wbuf)
                .map_err(io::Error::other)?;
            true
        }
        Ok(false) => {
            return Ok(Some(Rest {
                body,
                trailers,
                finish,
            }))
        }
        Err(e) => {
            tracing::error!(error = %e, "invalid response from handler; answering 500");
            let mut h = ResponseHead::new(StatusCode::INTERNAL_SERVER_ERROR);
            h.headers.insert_static(&CONNECTION_CLOSE);
            io.conn
                .write_head_with(h, Some(0), own, &mut io.wbuf)
                .and_then(|()| io.conn.finish_response(&mut io.wbuf))
                .map_err(io::Error::other)?;
            false
        }
    };
    // The hooks run user code: not while the connection's state is borrowed.
    drop(guard);
    finish.done(sent);
    Ok(None)
}

/// Sends the body [`write_response`] returned (waiting for the socket as
/// needed) and finishes the response, with its trailers.
pub(super) async fn write_rest(shared: &ConnShared, rest: Rest) -> io::Result<()> {
    // On an error, dropping `finish` tells the hooks the response did not
    // complete.
    let Rest {
        body,
        trailers,
        finish,
    } = rest;
    write_body(shared, body).await?;
    let trailers = trailers.and_then(make_trailers);
    end_response(shared, trailers)?;
    finish.done(true);
    Ok(())
}

/// Ends the response in the output buffer, with `trailers` if they are
/// valid.
fn end_response(shared: &ConnShared, trailers: Option<Headers>) -> io::Result<()> {
    let mut io = shared.io.borrow_mut();
    let io = &mut *io;
    if let Some(t) = trailers {
        match io.conn.finish_response_with_trailers(&t, &mut io.wbuf) {
            Ok(()) => return Ok(()),
            // Nothing of them was written: end the body without them.
            Err(e) => tracing::error!(error = %e, "invalid trailer fields from handler; sent none"),
        }
    }
    io.conn
        .finish_response(&mut io.wbuf)
        .map_err(io::Error::other)
}

/// Runs a handler's trailer maker and keeps the fields a response may end
/// with; `None` if it panicked or left none.
fn make_trailers(f: TrailerFn) -> Option<Headers> {
    let made = match catch_unwind(AssertUnwindSafe(f)) {
        Ok(h) => h,
        Err(p) => {
            tracing::error!(panic = %waiter_rt::panic_message(&*p), "a trailer maker panicked; sent no trailers");
            return None;
        }
    };
    let mut kept = Headers::with_capacity(made.len());
    for (name, value) in made.iter() {
        if allowed_in_trailers(name) {
            kept.append(name, value);
        } else {
            tracing::error!(field = name, "a field not allowed in trailers; dropped");
        }
    }
    (!kept.is_empty()).then_some(kept)
}

/// The most bytes of a file sent by one `sendfile` call, or read by one
/// pool job when `sendfile` is off or unsupported. It bounds how long a
/// `sendfile` from a cold page cache can hold the loop.
pub(super) const FILE_CHUNK: u64 = 256 * 1024;

/// Bytes a file body may send without the socket blocking before the
/// driver yields to the loop's other work.
const YIELD_AFTER: u64 = 1024 * 1024;

/// Frames `data` as (part of) the body into the output buffer.
fn put_body(shared: &ConnShared, data: &[u8]) -> io::Result<()> {
    let mut io = shared.io.borrow_mut();
    let io = &mut *io;
    io.conn
        .write_body(data, &mut io.wbuf)
        .map_err(io::Error::other)
}

async fn write_body(shared: &ConnShared, body: Body) -> io::Result<()> {
    let hwm = shared.config.write_high_water_mark;
    let put = |data: &[u8]| put_body(shared, data);
    match body {
        Body::Empty => Ok(()),
        Body::Full(b) if b.len() <= hwm => put(&b),
        Body::Full(b) => {
            // Large: frame it and write it from where it is, without a copy.
            let frame = start_frame(shared, b.len())?;
            shared.flush().await?;
            if frame.sends_data() {
                shared.write_waiting(&b).await?;
            }
            end_frame(shared, &frame);
            Ok(())
        }
        Body::Stream(mut s) => loop {
            let next = match poll_fn(|cx| Poll::Ready(s.as_mut().poll_next(cx))).await {
                Poll::Ready(next) => next,
                Poll::Pending => {
                    // The producer has nothing more for now: what is
                    // buffered (the head, an event, a progress line) goes
                    // out before waiting for it, as Node's `res.write` does.
                    shared.flush().await?;
                    poll_fn(|cx| s.as_mut().poll_next(cx)).await
                }
            };
            let Some(chunk) = next else {
                return Ok(());
            };
            put(&chunk?)?;
            if shared.buffered() >= hwm {
                shared.flush().await?;
            }
        },
        Body::File { file, offset, len } => {
            // Framed once for the whole length; the data then goes out raw.
            let frame = start_frame(shared, usize::try_from(len).map_err(io::Error::other)?)?;
            if frame.sends_data() {
                send_file(shared, &file, offset, len).await?;
            }
            end_frame(shared, &frame);
            Ok(())
        }
    }
}

/// Frames `len` body bytes that the caller sends itself, raw: puts the
/// frame's prefix into the output buffer and returns the frame.
fn start_frame(shared: &ConnShared, len: usize) -> io::Result<Frame> {
    let mut io = shared.io.borrow_mut();
    let frame = io.conn.body_frame(len).map_err(io::Error::other)?;
    io.wbuf.extend_from_slice(frame.prefix());
    Ok(frame)
}

/// Puts the suffix of a frame from [`start_frame`] into the output buffer.
fn end_frame(shared: &ConnShared, frame: &Frame) {
    shared
        .io
        .borrow_mut()
        .wbuf
        .extend_from_slice(frame.suffix());
}

/// Sends `len` bytes of `file` from `offset` as they are (the framing is
/// the caller's): with `sendfile` when enabled and supported, else read on
/// the pool.
async fn send_file(
    shared: &ConnShared,
    file: &waiter_rt::fs::File,
    offset: u64,
    len: u64,
) -> io::Result<()> {
    let end = offset + len;
    let mut pos = offset;
    if shared.config.sendfile {
        // The head and any earlier responses go first.
        shared.flush().await?;
        let mut unblocked = 0;
        while pos < end {
            let n = (end - pos).min(FILE_CHUNK) as usize;
            match shared.stream.try_sendfile(file, &mut pos, n) {
                Ok(0) => return Err(shrank()),
                Ok(k) => {
                    unblocked += k as u64;
                    if unblocked >= YIELD_AFTER {
                        unblocked = 0;
                        waiter_rt::yield_now().await;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    unblocked = 0;
                    shared
                        .set_phase_while(Phase::Writing, shared.stream.writable())
                        .await;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // EINVAL, ENOSYS, EOPNOTSUPP: this file cannot be sent
                // that way; nothing was sent by the failed call.
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::InvalidInput | io::ErrorKind::Unsupported
                    ) =>
                {
                    tracing::debug!(error = %e, "sendfile unsupported; reading the file instead");
                    break;
                }
                Err(e) => return Err(e),
            }
        }
    }
    let hwm = shared.config.write_high_water_mark;
    while pos < end {
        let n = (end - pos).min(FILE_CHUNK) as usize;
        let chunk = file.read_at(pos, n).await?;
        if chunk.is_empty() {
            return Err(shrank());
        }
        pos += chunk.len() as u64;
        shared.io.borrow_mut().wbuf.extend_from_slice(&chunk);
        if shared.buffered() >= hwm {
            shared.flush().await?;
        }
    }
    Ok(())
}

fn shrank() -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, "file shrank while being sent")
}
