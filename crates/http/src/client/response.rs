//! Responses and their bodies.
//!
//! A [`ClientResponse`] owns the connection until its body ends. Body bytes
//! are decoded by [`waiter_proto::Decoder`] straight out of the connection's
//! buffer, without copying.
//!
//! Invariants:
//!
//! - The connection goes back to the pool exactly when the body has been
//!   decoded to its end, the response allows keep-alive, and no byte
//!   beyond the body was received. That happens as soon as the end is
//!   seen, even before the caller asks for it, and at once for responses
//!   without a body (HEAD, 204, 304, `Content-Length: 0`).
//! - A response dropped before the end of its body drops its connection,
//!   which closes it: a half-read connection is never reused.
//! - After a read error the body yields [`ClientErrorKind::BodyGone`].

use std::fmt;
use std::future::poll_fn;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{ready, Context, Poll};

use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use waiter_proto::{Decoder, Headers, ResponseHead, StatusCode, Version};

use super::conn::ClientConn;
use super::error::{ClientError, ClientErrorKind};
use super::pool::Pool;

/// Where a body is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// More body may come.
    Reading,
    /// The body ended.
    Done,
    /// A read failed.
    Failed,
}

/// The response to a request: status, header fields and a streamed body.
pub struct ClientResponse {
    /// The head as received.
    head: ResponseHead,
    /// The URL that answered (after redirects).
    url: String,
    /// The connection, until the body ends.
    conn: Option<ClientConn>,
    /// Frames the body.
    decoder: Decoder,
    /// Whether the connection may be reused after the body.
    keep_alive: bool,
    /// Where idle connections go.
    pool: Rc<Pool>,
    /// Where the body is.
    state: State,
    /// The trailer fields that ended a chunked body, once it has ended.
    trailers: Option<Headers>,
}

impl fmt::Debug for ClientResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientResponse")
            .field("url", &self.url)
            .field("status", &self.head.status)
            .field("version", &self.head.version)
            .field("headers", &self.head.headers)
            .field("state", &self.state)
            .finish()
    }
}

impl ClientResponse {
    pub(crate) fn new(
        head: ResponseHead,
        url: String,
        conn: ClientConn,
        decoder: Decoder,
        keep_alive: bool,
        pool: Rc<Pool>,
    ) -> ClientResponse {
        let mut r = ClientResponse {
            head,
            url,
            conn: Some(conn),
            decoder,
            keep_alive,
            pool,
            state: State::Reading,
            trailers: None,
        };
        if r.decoder.is_done() {
            r.finish();
        }
        r
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.head.status
    }

    /// The protocol version of the response.
    pub fn version(&self) -> Version {
        self.head.version
    }

    /// Header fields, in received order.
    pub fn headers(&self) -> &Headers {
        &self.head.headers
    }

    /// The first value of a header field, if it is UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.headers.get_str(name)
    }

    /// The reason phrase as received.
    pub fn reason(&self) -> &str {
        self.head.reason()
    }

    /// The URL that gave this response (the last one, after redirects).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Whether the whole body has been received.
    pub fn is_body_done(&self) -> bool {
        self.state == State::Done
    }

    /// The next piece of the body, or `None` at its end.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, ClientError> {
        poll_fn(|cx| self.poll_chunk(cx)).await
    }

    /// The whole body.
    pub async fn bytes(&mut self) -> Result<Bytes, ClientError> {
        let Some(first) = self.chunk().await? else {
            return Ok(Bytes::new());
        };
        let Some(second) = self.chunk().await? else {
            return Ok(first);
        };
        let mut all = BytesMut::from(&first[..]);
        all.extend_from_slice(&second);
        while let Some(c) = self.chunk().await? {
            all.extend_from_slice(&c);
        }
        Ok(all.freeze())
    }

    /// The whole body as text (invalid UTF-8 replaced with U+FFFD).
    pub async fn text(&mut self) -> Result<String, ClientError> {
        let b = self.bytes().await?;
        Ok(String::from_utf8_lossy(&b).into_owned())
    }

    /// The body, read and dropped, if it has at most `limit` bytes left;
    /// otherwise the connection is closed. Returns whether the connection
    /// could be kept.
    pub(crate) async fn discard(mut self, limit: usize) -> bool {
        let mut seen = 0;
        while let Ok(Some(c)) = self.chunk().await {
            seen += c.len();
            if seen > limit {
                return false;
            }
        }
        self.state == State::Done
    }

    /// The poll form of [`chunk`](Self::chunk).
    pub fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<Bytes>, ClientError>> {
        loop {
            match self.state {
                State::Done => return Poll::Ready(Ok(None)),
                State::Failed => {
                    return Poll::Ready(Err(ClientError::new(
                        ClientErrorKind::BodyGone,
                        "the response body failed earlier",
                    )))
                }
                State::Reading => {}
            }
            let conn = self
                .conn
                .as_mut()
                .expect("a body being read has its connection");
            let d = match self.decoder.decode(&conn.buf) {
                Ok(d) => d,
                Err(e) => return Poll::Ready(Err(self.fail(ClientError::parse(e)))),
            };
            let data = conn.buf.split_to(d.consumed).freeze().slice(d.data);
            if d.done {
                self.finish();
                return Poll::Ready(Ok((!data.is_empty()).then_some(data)));
            }
            if !data.is_empty() {
                return Poll::Ready(Ok(Some(data)));
            }
            if d.consumed > 0 {
                continue;
            }
            match ready!(conn.poll_fill(cx)) {
                Ok(0) => match self.decoder.decode_eof() {
                    Ok(()) => self.finish(),
                    Err(e) => return Poll::Ready(Err(self.fail(ClientError::parse(e)))),
                },
                Ok(_) => {}
                Err(e) => {
                    let e = ClientError::io("error reading the response body", e);
                    return Poll::Ready(Err(self.fail(e)));
                }
            }
        }
    }

    /// The trailer fields that ended a chunked body, once the body has
    /// been read to its end (`None` before that, and for a body without
    /// them), kept apart from the header section.
    pub fn trailers(&self) -> Option<&Headers> {
        self.trailers.as_ref()
    }

    /// The body ended: the connection goes back to the pool if it can.
    fn finish(&mut self) {
        self.state = State::Done;
        self.trailers = self.decoder.take_trailers();
        if let Some(mut conn) = self.conn.take() {
            if self.keep_alive && conn.buf.is_empty() {
                conn.mark_reusable();
                self.pool.checkin(conn);
            }
        }
    }

    fn fail(&mut self, e: ClientError) -> ClientError {
        self.state = State::Failed;
        self.conn = None;
        e
    }
}

impl Stream for ClientResponse {
    type Item = Result<Bytes, ClientError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.poll_chunk(cx).map(Result::transpose)
    }
}
