//! Parsing of request and response heads, and message framing.
//!
//! [`parse_request`] and [`parse_response`] take the bytes received so far
//! and return `Ok(None)` until a whole head is present. They never consume
//! body bytes: the returned `head_len` says where the body starts, and the
//! returned [`BodyKind`] says how to find where it ends (see
//! [`Decoder`](crate::Decoder)).
//!
//! A request head is parsed in two passes:
//!
//! 1. a line scan that enforces CRLF line endings, request-line and
//!    field-line syntax and size limits (`syntax` module), and splits each
//!    line as it accepts it: method, target and version, then the fields,
//!    noting on the way which of the fields framing depends on are there
//!    (a test checks the split against httparse on thousands of generated
//!    heads),
//! 2. semantic checks: target form, Host, Content-Length and
//!    Transfer-Encoding, Expect, Connection (the `framing` module), which
//!    look only at the fields the scan found.
//!
//! A response head is scanned the same way and then split by httparse.
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
use crate::h1::head::{
    spare_string, trim_ows, Headers, Method, RequestHead, ResponseHead, StatusCode, Version,
};
use crate::h1::syntax::{scan_head, scan_head_into, split_request_line, HeadSink, StartLine};
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
    let mut split = RequestSplit::new(buf);
    let Some(scan) = scan_head_into(buf, limits, &mut split)? else {
        return Ok(None);
    };
    split.headers.set_head_bytes(&buf[..scan.end]);
    let method = Method::from_token_bytes(split.method);
    let target = to_str(split.target)?;
    let form = framing::target_form(&method, target)?;
    let head = RequestHead {
        form,
        target: spare_string(target),
        method,
        version: split.version,
        headers: split.headers,
    };
    let framing = framing::request_framing(&head, &split.present, limits)?;
    Ok(Some(ParsedRequest {
        head,
        framing,
        head_len: scan.end,
    }))
}

/// A request head split by the line scan as it checks each line. Fields
/// are noted by where they are in the buffer; the head is copied into the
/// map once, at the end.
struct RequestSplit<'a> {
    /// Where the buffer being scanned starts in memory, for offsets.
    base: usize,
    method: &'a [u8],
    target: &'a [u8],
    version: Version,
    headers: Headers,
    /// Which framing fields the head has.
    present: Present,
}

impl RequestSplit<'_> {
    fn new(buf: &[u8]) -> Self {
        RequestSplit {
            base: buf.as_ptr() as usize,
            method: b"",
            target: b"",
            version: Version::Http11,
            headers: Headers::with_capacity_bytes(8, 256),
            present: Present::default(),
        }
    }
}

impl<'a> HeadSink<'a> for RequestSplit<'a> {
    const START: StartLine = StartLine::Request;

    fn start_line(&mut self, line: &'a [u8]) -> Result<(), ParseError> {
        (self.method, self.target, self.version) = split_request_line(line)?;
        Ok(())
    }

    fn field(&mut self, name: &'a [u8], value: &'a [u8]) {
        self.present.note(self.headers.len(), name);
        // Both are slices of the scanned buffer (the sink's contract).
        let at = |part: &[u8]| part.as_ptr() as usize - self.base;
        self.headers
            .push_received(at(name), name.len(), at(value), value.len());
    }
}

/// A method or target the scan accepted (so ASCII) as `&str`.
fn to_str(b: &[u8]) -> Result<&str, ParseError> {
    std::str::from_utf8(b).map_err(|_| ErrorKind::RequestLine.into())
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
        headers.append_token(f.name.as_bytes(), trim_ows(f.value));
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

    /// httparse's split of a head, as the reference for [`RequestSplit`].
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
        let mut rnd = crate::h1::syntax::test_rng(0x9E37_79B9_7F4A_7C15);
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
            let mut ours = RequestSplit::new(&head);
            let Ok(Some(scan)) = scan_head_into(&head, &Limits::default(), &mut ours) else {
                continue;
            };
            ours.headers.set_head_bytes(&head[..scan.end]);
            assert_eq!(scan.end, head.len());
            assert_eq!(scan.fields, ours.headers.len());
            let theirs = httparse_split(&head)
                .unwrap_or_else(|| panic!("httparse refuses {:?}", String::from_utf8_lossy(&head)));
            assert_eq!(ours.method, theirs.0.as_bytes());
            assert_eq!(ours.target, theirs.1.as_bytes());
            assert_eq!(ours.version, theirs.2);
            let fields: Vec<_> = ours
                .headers
                .iter()
                .map(|(n, v)| (n.to_owned(), v.to_vec()))
                .collect();
            assert_eq!(fields, theirs.3, "{:?}", String::from_utf8_lossy(&head));
            checked += 1;
        }
        assert!(checked > 10_000, "{checked}");
    }
}
