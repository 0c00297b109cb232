//! Building and sending requests: framing, the keep-alive retry, redirects.
//!
//! The client chooses the framing: any `Content-Length` or
//! `Transfer-Encoding` given by the caller is replaced, except that a
//! streamed body with a declared `Content-Length` is sent with that length
//! (and fails if the stream disagrees). `Host` and `User-Agent` are added
//! unless given.
//!
//! **Retry.** If an exchange fails on a reused connection before any byte
//! of the response arrived, the server most likely closed that idle
//! connection as the request reached it. An idempotent request (GET, HEAD,
//! PUT, DELETE, OPTIONS, TRACE) whose body is in memory is then sent once
//! more, on a new connection.
//!
//! **Redirects** are followed only when the client allows it: 303 turns
//! the request into a GET without body (HEAD stays HEAD), and so do 301
//! and 302 for a POST (what browsers do). Otherwise the method and body
//! are kept; when the body was streamed and cannot be sent again, the
//! redirect response itself is returned. Credentials and cookies are not
//! sent to another origin.

use std::fmt;
use std::io;
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use waiter_proto::h1::encode::write_request_head;
use waiter_proto::{allowed_in_trailers, Decoder, Encoder, Headers, Method, RequestHead};

use super::conn::{self, ClientConn, Failure, OutBody};
use super::error::{ClientError, ClientErrorKind};
use super::pool::Checkout;
use super::response::ClientResponse;
use super::url::Url;
use super::Client;

/// Bytes of a redirect's body read to keep its connection; beyond this the
/// connection is closed instead.
const REDIRECT_DRAIN: usize = 64 * 1024;

/// A request being built; [`send`](RequestBuilder::send) sends it.
pub struct RequestBuilder {
    /// The client to send with.
    client: Client,
    /// The request, or why the URL was refused.
    req: Result<Req, ClientError>,
}

/// A request as sent (and re-sent on retry or redirect).
struct Req {
    /// The method.
    method: Method,
    /// Where to.
    url: Url,
    /// Fields set by the caller.
    headers: Headers,
    /// The body.
    body: OutBody,
    /// Trailer fields to end the body with.
    trailers: Option<Headers>,
    /// Replaces the client's response timeout.
    timeout: Option<Duration>,
}

impl fmt::Debug for RequestBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.req {
            Ok(r) => f
                .debug_struct("RequestBuilder")
                .field("method", &r.method)
                .field("url", &r.url.to_string())
                .field("headers", &r.headers)
                .finish(),
            Err(e) => f.debug_tuple("RequestBuilder").field(e).finish(),
        }
    }
}

impl RequestBuilder {
    pub(crate) fn new(client: Client, method: Method, url: &str) -> RequestBuilder {
        let req = Url::parse(url).map(|url| Req {
            method,
            url,
            headers: Headers::new(),
            body: OutBody::Empty,
            trailers: None,
            timeout: None,
        });
        RequestBuilder { client, req }
    }

    fn with(mut self, f: impl FnOnce(&mut Req)) -> Self {
        if let Ok(r) = &mut self.req {
            f(r);
        }
        self
    }

    /// Adds a header field (checked when the request is sent).
    pub fn header(self, name: &str, value: impl AsRef<[u8]>) -> Self {
        self.with(|r| r.headers.append(name, value))
    }

    /// The body, in memory, sent with `Content-Length`.
    pub fn body(self, body: impl Into<Bytes>) -> Self {
        self.with(|r| r.body = OutBody::Full(body.into()))
    }

    /// A body produced over time, sent chunked (or with the
    /// `Content-Length` set on the request, if any). It is not replayed:
    /// no retry, and 307/308 redirects are not followed.
    pub fn body_stream(self, s: impl Stream<Item = io::Result<Bytes>> + 'static) -> Self {
        self.with(|r| r.body = OutBody::Stream(Box::pin(s)))
    }

    /// Trailer fields to send after the body, as Node's
    /// `request.addTrailers()`. The body (even one in memory, or none) is
    /// then sent chunked. A field that may not be a trailer
    /// ([`allowed_in_trailers`](waiter_proto::allowed_in_trailers)), or an
    /// invalid one, makes [`send`](Self::send) fail with
    /// [`InvalidRequest`](ClientErrorKind::InvalidRequest) before anything
    /// is sent. A redirect that drops the body drops them too.
    pub fn trailers(self, trailers: Headers) -> Self {
        self.with(|r| r.trailers = Some(trailers))
    }

    /// Replaces the client's response timeout for this request.
    pub fn timeout(self, d: Duration) -> Self {
        self.with(|r| r.timeout = Some(d))
    }

    /// Sends the request and waits for the head of the response.
    pub async fn send(self) -> Result<ClientResponse, ClientError> {
        let mut req = self.req?;
        if req.method == Method::Connect {
            let e = "CONNECT is not supported";
            return Err(ClientError::new(ClientErrorKind::Unsupported, e));
        }
        let client = self.client;
        // Refuse a head that cannot be written before connecting.
        req.encode_head(&client.inner.config.user_agent)?;
        let max = client.inner.config.redirects;
        let mut hops = 0;
        loop {
            let res = exchange(&client, &mut req).await?;
            let status = res.status().as_u16();
            let Some(location) = res.header("location").filter(|_| max > 0) else {
                return Ok(res);
            };
            if !req.can_follow(status) {
                return Ok(res);
            }
            let next = req.url.join(location)?;
            if hops == max {
                let e = format!("more than {max} redirects, the last to {next}");
                return Err(ClientError::new(ClientErrorKind::TooManyRedirects, e));
            }
            hops += 1;
            res.discard(REDIRECT_DRAIN).await;
            req.redirect(status, next);
        }
    }
}

impl Req {
    /// Whether the request may be sent again after a failure.
    fn may_retry(&self) -> bool {
        let idempotent = matches!(
            self.method,
            Method::Get
                | Method::Head
                | Method::Put
                | Method::Delete
                | Method::Options
                | Method::Trace
        );
        idempotent && self.body.is_replayable()
    }

    /// Whether a redirect with `status` drops the body (and turns the
    /// method into GET, except for HEAD).
    fn drops_body(&self, status: u16) -> bool {
        status == 303 || (matches!(status, 301 | 302) && self.method == Method::Post)
    }

    /// Whether a response with `status` is a redirect this request can
    /// follow: one that drops the body, or keeps a body that can be resent.
    fn can_follow(&self, status: u16) -> bool {
        matches!(status, 301 | 302 | 303 | 307 | 308)
            && (self.drops_body(status) || self.body.is_replayable())
    }

    /// Turns the request into the one a redirect with `status` asks for.
    fn redirect(&mut self, status: u16, next: Url) {
        if self.drops_body(status) {
            if self.method != Method::Head {
                self.method = Method::Get;
            }
            self.body = OutBody::Empty;
            self.trailers = None;
            for name in ["content-type", "content-length", "content-encoding"] {
                self.headers.remove(name);
            }
        }
        if next.origin() != self.url.origin() {
            for name in ["authorization", "proxy-authorization", "cookie", "host"] {
                self.headers.remove(name);
            }
        }
        self.url = next;
    }

    /// The serialized head, the body's encoder, and whether the caller
    /// asked for the connection to close.
    fn encode_head(&self, user_agent: &str) -> Result<(Vec<u8>, Encoder, bool), ClientError> {
        let mut head = RequestHead::new(self.method.clone(), self.url.target());
        let h = &mut head.headers;
        if !self.headers.contains("host") {
            h.append("host", self.url.authority());
        }
        for (name, value) in self.headers.iter() {
            let framing = ["content-length", "transfer-encoding"];
            if !framing.iter().any(|f| name.eq_ignore_ascii_case(f)) {
                h.append(name, value);
            }
        }
        if !h.contains("user-agent") && !user_agent.is_empty() {
            h.append("user-agent", user_agent);
        }
        if let Some(t) = &self.trailers {
            check_trailers(t)?;
        }
        let encoder = match &self.body {
            // Only a chunked body has room for trailers.
            _ if self.trailers.is_some() => {
                h.append("transfer-encoding", "chunked");
                Encoder::chunked()
            }
            OutBody::Full(b) => {
                h.append("content-length", b.len().to_string());
                Encoder::length(b.len() as u64)
            }
            OutBody::Stream(_) => match self.declared_length() {
                Some(n) => {
                    h.append("content-length", n.to_string());
                    Encoder::length(n)
                }
                None => {
                    h.append("transfer-encoding", "chunked");
                    Encoder::chunked()
                }
            },
            OutBody::Empty | OutBody::Spent => {
                if matches!(self.method, Method::Post | Method::Put | Method::Patch) {
                    h.append("content-length", "0");
                }
                Encoder::length(0)
            }
        };
        let close = h.contains_token("connection", "close");
        let mut out = Vec::with_capacity(256);
        write_request_head(&head, &mut out).map_err(|e| {
            ClientError::with_source(ClientErrorKind::InvalidRequest, "invalid request head", e)
        })?;
        Ok((out, encoder, close))
    }

    /// The caller's `Content-Length`, if it is a plain number (ignored when
    /// trailers make the body chunked).
    fn declared_length(&self) -> Option<u64> {
        let v = self.headers.get_str("content-length")?.trim();
        v.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| v.parse().ok())?
    }
}

/// Fails unless every field of `t` may be sent, and sent as a trailer.
fn check_trailers(t: &Headers) -> Result<(), ClientError> {
    if let Some((name, _)) = t.iter().find(|(n, _)| !allowed_in_trailers(n)) {
        let e = format!("{name} may not be sent as a trailer field");
        return Err(ClientError::new(ClientErrorKind::InvalidRequest, e));
    }
    // The encoder's own check, on a scratch buffer.
    Encoder::chunked()
        .finish_with_trailers(t, &mut Vec::new())
        .map_err(|e| {
            ClientError::with_source(ClientErrorKind::InvalidRequest, "invalid trailer field", e)
        })
}

/// Sends `req` on a pooled or new connection, retrying once on a new one
/// if a reused connection turns out to be closed.
async fn exchange(client: &Client, req: &mut Req) -> Result<ClientResponse, ClientError> {
    let inner = &client.inner;
    let mut fresh = false;
    loop {
        let conn = match inner.pool.checkout(&req.url.origin(), fresh).await {
            Checkout::Idle(c) => c,
            Checkout::Connect(slot) => {
                conn::connect(&req.url, slot, inner.config.connect_timeout).await?
            }
        };
        match attempt(client, req, conn).await {
            Ok(res) => return Ok(res),
            Err(f) if f.retryable && !fresh && req.may_retry() => {
                tracing::debug!(url = %req.url, error = %f.error, "reused connection failed; retrying");
                fresh = true;
            }
            Err(f) => return Err(f.error),
        }
    }
}

/// One exchange on `conn`: write the request, read the response head.
async fn attempt(
    client: &Client,
    req: &mut Req,
    mut conn: ClientConn,
) -> Result<ClientResponse, Failure> {
    let config = &client.inner.config;
    let (head, encoder, close) = req.encode_head(&config.user_agent)?;
    let body = req.body.take_for_send();
    let trailers = req.trailers.clone();
    let limit = req.timeout.unwrap_or(config.response_timeout);
    let method = &req.method;
    let (parsed, sent) = match conn
        .exchange(
            (head, body, encoder, trailers),
            method,
            &config.limits,
            limit,
        )
        .await
    {
        Ok(r) => r,
        Err(mut f) if f.error.kind() == ClientErrorKind::Timeout => {
            f.error = ClientError::new(
                ClientErrorKind::Timeout,
                format!("{}: {}", req.url, f.error),
            );
            return Err(f);
        }
        Err(f) => return Err(f),
    };
    if parsed.upgrade {
        let e = "the server switched protocols, which is not supported";
        return Err(ClientError::new(ClientErrorKind::Unsupported, e).into());
    }
    let decoder = Decoder::new(parsed.body, &config.limits, parsed.head_len);
    Ok(ClientResponse::new(
        parsed.head,
        req.url.to_string(),
        conn,
        decoder,
        // A request body not sent whole leaves the connection unusable.
        parsed.keep_alive && !close && sent,
        client.inner.pool.clone(),
    ))
}
