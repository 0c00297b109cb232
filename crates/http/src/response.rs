//! Responses.

use std::fmt;

use bytes::Bytes;
use waiter_proto::{Headers, StaticField, StatusCode};

use crate::body::Body;

const TEXT: StaticField = StaticField::new("content-type", "text/plain; charset=utf-8");
const HTML: StaticField = StaticField::new("content-type", "text/html; charset=utf-8");
const JSON: StaticField = StaticField::new("content-type", "application/json");

/// An HTTP response: status, header fields and a body.
///
/// Framing fields (`Content-Length`, `Transfer-Encoding`, `Connection`) and
/// `Date` are added by the server. A `Content-Length` set here must match
/// the body. A `Transfer-Encoding` set here (codings the handler applied
/// to the body itself, or just `chunked`) sends the body chunked, with
/// `chunked` added last where missing; see
/// [`Conn::write_head`](waiter_proto::Conn::write_head) for where it is
/// left out. Trailer fields follow the body when
/// [`with_trailers`](Self::with_trailers) gives them.
pub struct Response {
    /// The status code.
    pub status: StatusCode,
    /// Header fields, in order.
    pub headers: Headers,
    /// The body.
    pub body: Body,
    /// The trailer maker and the finish hook, boxed so that a response
    /// without them (most) carries one word for them.
    extras: Option<Box<Extras>>,
}

/// Makes a response's trailer fields.
pub(crate) type TrailerFn = Box<dyn FnOnce() -> Headers>;

/// What a response may carry besides its status, fields and body.
#[derive(Default)]
pub(crate) struct Extras {
    /// Makes the trailer fields once the body is written.
    pub(crate) trailers: Option<TrailerFn>,
    /// Told how the response ended.
    pub(crate) finish: OnFinish,
}

/// The hooks of [`Response::on_finish`]: run once, with `true` when the
/// server has written the whole response, and with `false` when it is
/// dropped first (the connection failed or closed, or the response was
/// never sent).
#[derive(Default)]
pub(crate) struct OnFinish(Option<Box<dyn FnOnce(bool)>>);

impl OnFinish {
    /// Runs the hooks with `complete`; a panic in one is logged. (Most
    /// responses have none: that check is all they cost, inline.)
    #[inline]
    pub(crate) fn done(mut self, complete: bool) {
        if let Some(f) = self.0.take() {
            run_hooks(f, complete);
        }
    }
}

fn run_hooks(f: Box<dyn FnOnce(bool)>, complete: bool) {
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(complete)));
    if let Err(p) = r {
        tracing::error!(panic = %waiter_rt::panic_message(&*p), "a response's finish hook panicked");
    }
}

impl Drop for OnFinish {
    #[inline]
    fn drop(&mut self) {
        if let Some(f) = self.0.take() {
            run_hooks(f, false);
        }
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body", &self.body)
            .field(
                "trailers",
                &self.extras.as_ref().is_some_and(|e| e.trailers.is_some()),
            )
            .field(
                "on_finish",
                &self.extras.as_ref().is_some_and(|e| e.finish.0.is_some()),
            )
            .finish()
    }
}

impl Response {
    /// An empty response with `status`.
    #[inline]
    pub fn new(status: StatusCode) -> Response {
        Response {
            status,
            headers: Headers::new(),
            body: Body::Empty,
            extras: None,
        }
    }

    /// A `text/plain; charset=utf-8` response with status 200.
    #[inline]
    pub fn text(s: impl Into<Bytes>) -> Response {
        Response::typed(&TEXT, s.into())
    }

    /// A `text/html; charset=utf-8` response with status 200.
    pub fn html(s: impl Into<Bytes>) -> Response {
        Response::typed(&HTML, s.into())
    }

    /// An `application/json` response with status 200 from serialized JSON.
    #[inline]
    pub fn json_bytes(s: impl Into<Bytes>) -> Response {
        Response::typed(&JSON, s.into())
    }

    /// A 200 response with a content type checked at compile time.
    #[inline]
    fn typed(content_type: &'static StaticField, body: Bytes) -> Response {
        let mut r = Response::new(StatusCode::OK);
        r.headers.append_static(content_type);
        r.body = Body::Full(body);
        r
    }

    /// A 200 response with the given content type and body.
    pub fn bytes(content_type: &str, body: impl Into<Bytes>) -> Response {
        let mut r = Response::new(StatusCode::OK);
        r.headers.append("content-type", content_type);
        r.body = Body::Full(body.into());
        r
    }

    /// A response whose body is produced by `body`.
    pub fn with_body(mut self, body: Body) -> Response {
        self.body = body;
        self
    }

    /// Sends trailer fields after the body, as Node's `res.addTrailers()`:
    /// `trailers` runs once the whole body is written, so it can report
    /// what the body came to (a checksum, a count, a final status). Given
    /// twice, both makers run, and the second's fields follow the first's.
    ///
    /// Only a chunked body has room for trailers, so an HTTP/1.1 response
    /// with trailers is sent chunked even when its length is known. To an
    /// HTTP/1.0 client, for HEAD, and for a status without a body (1xx,
    /// 204, 304) there are none, and `trailers` does not run. Fields that
    /// RFC 9110 (section 6.5.1) does not allow after the body, because a
    /// recipient needs them before it (framing, routing, content type and
    /// coding, authentication, caching, cookies: see
    /// [`allowed_in_trailers`](waiter_proto::allowed_in_trailers)), are
    /// dropped with an error in the log, as are all of
    /// them if one is invalid or `trailers` panics; the body is not
    /// affected. Naming the fields in a `Trailer` header field tells the
    /// client what to expect.
    ///
    /// ```
    /// use std::{cell::Cell, rc::Rc};
    /// use waiter_http::{Headers, Response};
    /// let count = Rc::new(Cell::new(0u64));
    /// let seen = count.clone();
    /// let r = Response::text("...")
    ///     .with_header("trailer", "x-items")
    ///     .with_trailers(move || {
    ///         let mut t = Headers::new();
    ///         t.append("x-items", seen.get().to_string());
    ///         t
    ///     });
    /// # drop((r, count));
    /// ```
    pub fn with_trailers(mut self, trailers: impl FnOnce() -> Headers + 'static) -> Response {
        let extras = self.extras.get_or_insert_with(Box::default);
        let make: TrailerFn = match extras.trailers.take() {
            Some(first) => Box::new(move || {
                let mut all = first();
                for (name, value) in trailers().iter() {
                    all.append(name, value);
                }
                all
            }),
            None => Box::new(trailers),
        };
        extras.trailers = Some(make);
        self
    }

    /// Runs `f` once the response is over, as Node's `'finish'` and
    /// `'close'` events: with `true` once the server has written all of
    /// it, head, body and trailers, to the connection (its last bytes may
    /// still be in the server's output buffer, and nothing says the client
    /// has read them), or with `false` if it ends otherwise: the
    /// connection fails or the client leaves first, or the response is
    /// dropped without being sent. For a streamed or file body that is when
    /// its last byte has been written, so an access log that times the
    /// request here times the whole transfer. Given twice, both run, in
    /// order. A panic in `f` is logged.
    pub fn on_finish(mut self, f: impl FnOnce(bool) + 'static) -> Response {
        let extras = self.extras.get_or_insert_with(Box::default);
        let hook: Box<dyn FnOnce(bool)> = match extras.finish.0.take() {
            Some(first) => Box::new(move |complete| {
                first(complete);
                f(complete);
            }),
            None => Box::new(f),
        };
        extras.finish = OnFinish(Some(hook));
        self
    }

    /// Splits the response into its status, header fields, body, trailer
    /// maker and finish hooks.
    pub(crate) fn into_parts(self) -> (StatusCode, Headers, Body, Option<TrailerFn>, OnFinish) {
        let (trailers, finish) = match self.extras {
            Some(e) => {
                let e = *e;
                (e.trailers, e.finish)
            }
            None => (None, OnFinish::default()),
        };
        (self.status, self.headers, self.body, trailers, finish)
    }

    /// Sets the status.
    pub fn with_status(mut self, status: StatusCode) -> Response {
        self.status = status;
        self
    }

    /// Sets a header field, replacing fields of the same name.
    pub fn with_header(mut self, name: &str, value: impl AsRef<[u8]>) -> Response {
        self.headers.insert(name, value);
        self
    }

    /// A redirect (`302 Found` unless `status` says otherwise) to
    /// `location`. Bytes a URL may not hold (non-ASCII text, spaces,
    /// control bytes, a `%` not followed by two hex digits) are
    /// percent-encoded, as Express's `res.location` does; what is already
    /// encoded, and the URL's delimiters, are left as they are.
    pub fn redirect(status: StatusCode, location: &str) -> Response {
        Response::new(status).with_header("location", encode_url(location))
    }
}

/// `url` with every byte outside RFC 3986's unreserved and reserved
/// characters percent-encoded, and `%` too unless it starts an escape.
fn encode_url(url: &str) -> String {
    let b = url.as_bytes();
    let mut out = String::with_capacity(b.len());
    for (i, &c) in b.iter().enumerate() {
        let escape = c == b'%'
            && b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
            && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
        if escape || c.is_ascii_alphanumeric() || b"-._~:/?#[]@!$&'()*+,;=".contains(&c) {
            out.push(char::from(c));
        } else {
            out.push_str(&format!("%{c:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::encode_url;

    #[test]
    fn locations_are_encoded_once() {
        for (raw, want) in [
            ("/café", "/caf%C3%A9"),
            ("/a b?q=1&r=x y#top", "/a%20b?q=1&r=x%20y#top"),
            ("/already%20done", "/already%20done"),
            ("/100%", "/100%25"),
            ("/%zz", "/%25zz"),
            (
                "https://h.example:8080/p/../q;x=1",
                "https://h.example:8080/p/../q;x=1",
            ),
            ("/x\r\nSet-Cookie: a=b", "/x%0D%0ASet-Cookie:%20a=b"),
        ] {
            assert_eq!(encode_url(raw), want, "{raw}");
        }
    }
}
