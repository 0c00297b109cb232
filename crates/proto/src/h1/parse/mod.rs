//! Parsing of request and response heads, and message framing.
//!
//! [`parse_request`] and [`parse_response`] take the bytes received so far
//! and return `Ok(None)` until a whole head is present. They never consume
//! body bytes: the returned `head_len` says where the body starts, and the
//! returned [`BodyKind`] says how to find where it ends (see
//! [`Decoder`](crate::Decoder)).
//!
//! Parsing happens in three passes over the head:
//!
//! 1. a line scan that enforces CRLF line endings, field-line syntax and
//!    size limits (`syntax` module),
//! 2. a split of the head into method, target, version and fields: for
//!    requests a plain split of what the scan accepted (a test checks that
//!    it agrees with httparse on thousands of generated heads), for
//!    responses httparse,
//! 3. semantic checks: target form, Host, Content-Length and
//!    Transfer-Encoding, Expect, Connection (the `framing` module).
//!
//! The result depends only on the bytes, never on how they were split
//! across calls. Choices where the RFCs allow either way:
//!
//! - Content-Length given several times (or as a list) with identical
//!   values is accepted as that value; differing values are 400.
//! - The only transfer coding understood is `chunked`, so any other coding
//!   is 501 when `chunked` is last, and 400 when it is not (the body length
//!   cannot be known, so the connection cannot be kept).
//! - A well-formed version other than 1.0/1.1 (`HTTP/1.2`, `HTTP/2.0`) is 505.
//! - Absolute-form targets must use the `http` or `https` scheme.

use crate::error::{ErrorKind, ParseError};
use crate::h1::head::{trim_ows, Headers, Method, RequestHead, ResponseHead, StatusCode, Version};
use crate::h1::syntax::{find_line_end, parse_version, scan_head, StartLine};
use crate::limits::Limits;

mod framing;

pub(crate) use framing::{content_length, Present};

/// How the end of a message body is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BodyKind {
    /// No body at all.
    Empty,
    /// Exactly this many bytes (Content-Length).
    Length(u64),
    /// The chunked transfer coding.
    Chunked,
    /// Everything until the connection closes (responses only).
    Eof,
}

/// What a request head says about its body and its connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestFraming {
    /// How the body is delimited.
    pub body: BodyKind,
    /// Whether the client allows the connection to be reused after this exchange.
    pub keep_alive: bool,
    /// `Expect: 100-continue` in an HTTP/1.1 request.
    pub expect_continue: bool,
    /// An HTTP/1.1 request with `Connection: upgrade` and an Upgrade field.
    pub upgrade: bool,
    /// A CONNECT request: after a 2xx the connection becomes a tunnel.
    pub connect: bool,
}

/// A parsed request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedRequest {
    /// The head itself.
    pub head: RequestHead,
    /// Framing and connection information derived from the head.
    pub framing: RequestFraming,
    /// Bytes of the head (including leading empty lines); the body starts here.
    pub head_len: usize,
}

/// A parsed response head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedResponse {
    /// The head itself.
    pub head: ResponseHead,
    /// How the body is delimited.
    pub body: BodyKind,
    /// Whether the connection may be reused after this response.
    pub keep_alive: bool,
    /// A 101 response, or a 2xx to CONNECT: the bytes after the head belong
    /// to another protocol.
    pub upgrade: bool,
    /// Bytes of the head; the body starts here.
    pub head_len: usize,
}

/// Parses a request head from the start of `buf`.
///
/// `Ok(None)` means the head is incomplete and more bytes are needed. Errors
/// carry the status to answer with; after any error the connection's
/// framing is unknown and it must be closed.
pub fn parse_request(buf: &[u8], limits: &Limits) -> Result<Option<ParsedRequest>, ParseError> {
    let Some(scan) = scan_head(buf, limits, StartLine::Request)? else {
        return Ok(None);
    };
    let (method, target, version, headers) =
        split_request(&buf[..scan.end], scan.fields).ok_or(ErrorKind::RequestLine)?;
    let method = Method::from_token(method);
    let form = framing::target_form(&method, target)?;
    let head = RequestHead {
        form,
        target: target.to_owned(),
        method,
        version,
        headers,
    };
    let framing = framing::request_framing(&head, limits)?;
    Ok(Some(ParsedRequest {
        head,
        framing,
        head_len: scan.end,
    }))
}

/// Parses a response head from the start of `buf`, for a request made with
/// `request_method` (a response to HEAD never has a body, and a 2xx to
/// CONNECT starts a tunnel).
///
/// Informational (1xx) responses other than 101 are returned like any
/// other; the caller then parses the next head for the final response.
pub fn parse_response(
    buf: &[u8],
    limits: &Limits,
    request_method: &Method,
) -> Result<Option<ParsedResponse>, ParseError> {
    let Some(scan) = scan_head(buf, limits, StartLine::Response)? else {
        return Ok(None);
    };
    let mut stack = [httparse::EMPTY_HEADER; STACK_FIELDS];
    let mut heap = Vec::new();
    let slots = field_slots(&mut stack, &mut heap, scan.fields);
    let mut res = httparse::Response::new(slots);
    match res.parse(&buf[..scan.end]) {
        Ok(httparse::Status::Complete(n)) if n == scan.end => {}
        Ok(_) => return Err(ErrorKind::StatusLine.into()),
        Err(e) => return Err(from_httparse(e)),
    }
    let (Some(minor), Some(code)) = (res.version, res.code) else {
        return Err(ErrorKind::StatusLine.into());
    };
    let status = StatusCode::from_u16(code).ok_or(ErrorKind::StatusLine)?;
    let head = ResponseHead {
        version: version(minor),
        status,
        reason: Some(res.reason.unwrap_or_default().to_owned()),
        headers: collect_headers(res.headers),
    };
    let (body, keep_alive, upgrade) = framing::response_framing(&head, request_method, limits)?;
    Ok(Some(ParsedResponse {
        head,
        body,
        keep_alive,
        upgrade,
        head_len: scan.end,
    }))
}

/// Splits a request head that [`scan_head`] has accepted (so every line
/// ends in CRLF, the request line is three single-space-separated parts of
/// token, visible-ASCII and version syntax, and every field line is a
/// token, a colon and field bytes) into its parts. `None` only if the scan
/// and this split disagree, which would be a bug.
fn split_request(head: &[u8], fields: usize) -> Option<(&str, &str, Version, Headers)> {
    let mut at = 0;
    while head[at..].starts_with(b"\r\n") {
        at += 2;
    }
    let end = at + find_line_end(&head[at..])?;
    let line = &head[at..end];
    let mut parts = line.splitn(3, |&b| b == b' ');
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    let version = parse_version(version).ok()?;
    let method = std::str::from_utf8(method).ok()?;
    let target = std::str::from_utf8(target).ok()?;
    // Names and values are at most the rest of the head.
    let mut headers = Headers::with_capacity_bytes(fields, head.len() - end);
    let mut at = end + 2;
    loop {
        let end = at + find_line_end(&head[at..])?;
        if end == at {
            break;
        }
        let line = &head[at..end];
        let colon = line.iter().position(|&b| b == b':')?;
        headers.append_token(&line[..colon], trim_ows(&line[colon + 1..]));
        at = end + 2;
    }
    Some((method, target, version, headers))
}

/// Heads with at most this many fields are split without allocating.
const STACK_FIELDS: usize = 32;

/// Exactly `n` httparse field slots: on the stack when they fit.
fn field_slots<'a, 'b>(
    stack: &'a mut [httparse::Header<'b>; STACK_FIELDS],
    heap: &'a mut Vec<httparse::Header<'b>>,
    n: usize,
) -> &'a mut [httparse::Header<'b>] {
    if n <= STACK_FIELDS {
        &mut stack[..n]
    } else {
        heap.resize(n, httparse::EMPTY_HEADER);
        heap
    }
}

fn version(minor: u8) -> Version {
    if minor == 0 {
        Version::Http10
    } else {
        Version::Http11
    }
}

fn collect_headers(fields: &[httparse::Header<'_>]) -> Headers {
    let bytes = fields
        .iter()
        .map(|f| f.name.len() + trim_ows(f.value).len())
        .sum();
    let mut headers = Headers::with_capacity_bytes(fields.len(), bytes);
    for f in fields {
        headers.append(f.name, trim_ows(f.value));
    }
    headers
}

/// httparse only sees heads that passed the line scan, so these are the
/// few checks left to it.
fn from_httparse(e: httparse::Error) -> ParseError {
    let kind = match e {
        httparse::Error::HeaderName => ErrorKind::HeaderName,
        httparse::Error::HeaderValue => ErrorKind::HeaderValue,
        httparse::Error::NewLine => ErrorKind::BareLf,
        httparse::Error::Status => ErrorKind::StatusLine,
        httparse::Error::Token => ErrorKind::Method,
        httparse::Error::TooManyHeaders => ErrorKind::TooManyHeaders,
        httparse::Error::Version => ErrorKind::Version,
    };
    kind.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Method, target, version and fields of a request head.
    type Split = (String, String, Version, Vec<(String, Vec<u8>)>);

    /// httparse's split of a head, as the reference for [`split_request`].
    fn httparse_split(head: &[u8]) -> Option<Split> {
        let mut slots = [httparse::EMPTY_HEADER; 128];
        let mut req = httparse::Request::new(&mut slots);
        match req.parse(head) {
            Ok(httparse::Status::Complete(n)) if n == head.len() => {}
            _ => return None,
        }
        let fields = req
            .headers
            .iter()
            .map(|h| (h.name.to_owned(), trim_ows(h.value).to_vec()))
            .collect();
        Some((
            req.method?.to_owned(),
            req.path?.to_owned(),
            version(req.version?),
            fields,
        ))
    }

    #[test]
    fn the_split_agrees_with_httparse_on_every_head_the_scan_accepts() {
        // Random heads built from pieces that stress the grammar: odd
        // target bytes, whitespace around values, empty values, leading
        // empty lines, many fields.
        let methods: [&[u8]; 5] = [b"GET", b"POST", b"M-SEARCH", b"X!#$%&'*+.^_`|~1", b"PUT"];
        let targets: [&[u8]; 8] = [
            b"/",
            b"/a|b{c}\"d<e>^f`g\\h",
            b"/%zz?x=1&y",
            b"*",
            b"http://a.b:80/p?q",
            b"a.b:443",
            b"/;,@:!$'()*+=~",
            b"/\x7e\x21",
        ];
        let names: [&[u8]; 6] = [
            b"Host",
            b"x",
            b"Content-Type",
            b"a-b_c.d",
            b"X!#$%&'*+.^_`|~",
            b"H",
        ];
        let values: [&[u8]; 8] = [
            b"",
            b" v ",
            b"\tx\t",
            b"a b  c",
            b"\x80\xff obs",
            b"1.2.3.4:5",
            b" ",
            b"q=\"\\\" ,;",
        ];
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut rnd = move |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let mut checked = 0;
        for _ in 0..20_000 {
            let mut head = Vec::new();
            for _ in 0..rnd(3) {
                head.extend_from_slice(b"\r\n");
            }
            head.extend_from_slice(methods[rnd(methods.len())]);
            head.push(b' ');
            head.extend_from_slice(targets[rnd(targets.len())]);
            head.extend_from_slice(if rnd(2) == 0 {
                b" HTTP/1.1\r\n"
            } else {
                b" HTTP/1.0\r\n"
            });
            for _ in 0..rnd(12) {
                head.extend_from_slice(names[rnd(names.len())]);
                head.push(b':');
                head.extend_from_slice(values[rnd(values.len())]);
                head.extend_from_slice(b"\r\n");
            }
            head.extend_from_slice(b"\r\n");
            let Ok(Some(scan)) = scan_head(&head, &Limits::default(), StartLine::Request) else {
                continue;
            };
            assert_eq!(scan.end, head.len());
            let ours = split_request(&head, scan.fields).expect("a scanned head splits");
            let theirs = httparse_split(&head)
                .unwrap_or_else(|| panic!("httparse refuses {:?}", String::from_utf8_lossy(&head)));
            assert_eq!(ours.0, theirs.0);
            assert_eq!(ours.1, theirs.1);
            assert_eq!(ours.2, theirs.2);
            let fields: Vec<_> = ours
                .3
                .iter()
                .map(|(n, v)| (n.to_owned(), v.to_vec()))
                .collect();
            assert_eq!(fields, theirs.3, "{:?}", String::from_utf8_lossy(&head));
            checked += 1;
        }
        assert!(checked > 10_000, "{checked}");
    }
}
