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
//! 1. a syntax pass (`syntax` module) that enforces CRLF line endings,
//!    request-line and field-line syntax and size limits, and splits the
//!    head: method, target and version, then the fields, noting on the way
//!    which of the fields framing depends on are there. The usual head is
//!    checked and split in one pass over its bytes (`scan_request_fast`);
//!    any other (incomplete, unusual or invalid) goes to a line scan that
//!    accepts the same heads with the same split and picks the error for
//!    the others. Tests check the line scan's split against httparse on
//!    thousands of generated heads, and the one-pass scan against the line
//!    scan on generated and damaged ones,
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
    trim_ows, Headers, Method, RequestHead, ResponseHead, StatusCode, Target, Version,
};
use crate::h1::syntax::{
    scan_head, scan_head_into, scan_request_fast, split_request_line, HeadSink, StartLine,
};
use crate::limits::Limits;

mod framing;

pub(crate) use framing::{content_length, HostMemo, Present};

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
    parse_request_with(buf, limits, &mut HostMemo::default(), &mut Headers::new())
}

/// [`parse_request`] for a connection, which remembers its last valid Host
/// value in `memo` and keeps an empty map's buffers in `spare` for the
/// fields (taken when a head is found; a map from the thread's pool when
/// `spare` has none).
pub(crate) fn parse_request_with(
    buf: &[u8],
    limits: &Limits,
    memo: &mut HostMemo,
    spare: &mut Headers,
) -> Result<Option<ParsedRequest>, ParseError> {
    if buf.is_empty() {
        // Between requests: no map to build.
        return Ok(None);
    }
    let mut split = RequestSplit::new(buf, std::mem::take(spare));
    let fast = scan_request_fast(buf, limits, |name, value| split.field(name, value));
    let scan = if let Some((method, target, version, scan)) = fast {
        (split.method, split.target, split.version) = (method, target, version);
        scan
    } else {
        // An unusual, incomplete or invalid head: the line scan decides,
        // into the same map's buffers.
        split.reset();
        let Some(scan) = scan_head_into(buf, limits, &mut split)? else {
            // Incomplete: the buffers wait for the rest.
            *spare = std::mem::take(&mut split.headers);
            spare.clear();
            return Ok(None);
        };
        scan
    };
    split.headers.set_head_bytes(&buf[..scan.end]);
    let method = Method::from_token_bytes(split.method);
    let form = framing::target_form(&method, split.target)?;
    let target = Target::from_ascii(split.target).ok_or(ErrorKind::RequestLine)?;
    let head = RequestHead {
        form,
        target,
        method,
        version: split.version,
        headers: split.headers,
    };
    let framing = framing::request_framing(&head, &split.present, limits, memo)?;
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
    /// A split of `buf` into `headers`, an empty map (whose buffers are
    /// kept if it has some).
    fn new(buf: &[u8], mut headers: Headers) -> Self {
        if !headers.has_buffers() {
            headers.reserve(8, 256);
        }
        RequestSplit {
            base: buf.as_ptr() as usize,
            method: b"",
            target: b"",
            version: Version::Http11,
            headers,
            present: Present::default(),
        }
    }

    /// Back to the state of `new`, keeping the map's buffers.
    fn reset(&mut self) {
        self.method = b"";
        self.target = b"";
        self.version = Version::Http11;
        self.headers.clear();
        self.present = Present::default();
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
            let mut ours = RequestSplit::new(&head, Headers::new());
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

    #[test]
    fn the_one_pass_scan_accepts_only_heads_the_line_scan_accepts_and_splits_them_alike() {
        let names: [&[u8]; 4] = [b"Host", b"x", b"Content-Length", b"X!#$%&'*+.^_`|~"];
        let values: [&[u8]; 6] = [b"", b" v ", b"a b  c", b"\x80\xff obs", b"1.2.3.4:5", b"  "];
        let targets: [&[u8]; 4] = [b"/", b"/a|b{c}?x", b"*", b"http://a.b:80/p"];
        let specials = b"\r\n\t :\x7f\x00\x80#/H";
        let tight = Limits {
            max_head_bytes: 64,
            max_headers: 3,
            ..Limits::default()
        };
        let mut rnd = crate::h1::syntax::test_rng(0x2545_F491_4F6C_DD1D);
        let (mut accepted, mut mutated_accepted) = (0, 0);
        for round in 0..30_000 {
            let mut head = Vec::new();
            head.extend_from_slice([&b"GET"[..], b"POST", b"M-SEARCH"][rnd(3)]);
            head.push(b' ');
            head.extend_from_slice(targets[rnd(targets.len())]);
            head.extend_from_slice([&b" HTTP/1.1\r\n"[..], b" HTTP/1.0\r\n"][rnd(2)]);
            for _ in 0..rnd(6) {
                head.extend_from_slice(names[rnd(names.len())]);
                head.push(b':');
                head.extend_from_slice(values[rnd(values.len())]);
                head.extend_from_slice(b"\r\n");
            }
            head.extend_from_slice(b"\r\n");
            // Two rounds in three, damage the head: replace, insert or
            // remove a byte, or cut it short.
            let mutated = round % 3 != 0;
            if mutated {
                let at = rnd(head.len());
                let byte = specials[rnd(specials.len())];
                match rnd(4) {
                    0 => head[at] = byte,
                    1 => head.insert(at, byte),
                    2 => {
                        head.remove(at);
                    }
                    _ => head.truncate(at),
                }
            }
            for limits in [Limits::default(), tight] {
                let mut fast_fields = Vec::new();
                let fast = scan_request_fast(&head, &limits, |n, v| {
                    fast_fields.push((n.to_vec(), v.to_vec()));
                });
                let Some((method, target, version, scan)) = fast else {
                    continue;
                };
                let shown = String::from_utf8_lossy(&head);
                let mut slow = RequestSplit::new(&head, Headers::new());
                let Ok(Some(slow_scan)) = scan_head_into(&head, &limits, &mut slow) else {
                    panic!("the line scan refuses {shown:?}, which the one-pass scan accepts");
                };
                assert_eq!(scan, slow_scan, "{shown:?}");
                assert_eq!(
                    (method, target, version),
                    (slow.method, slow.target, slow.version)
                );
                slow.headers.set_head_bytes(&head[..scan.end]);
                let slow_fields: Vec<_> = slow
                    .headers
                    .iter()
                    .map(|(n, v)| (n.as_bytes().to_vec(), v.to_vec()))
                    .collect();
                assert_eq!(fast_fields, slow_fields, "{shown:?}");
                accepted += 1;
                mutated_accepted += usize::from(mutated);
            }
        }
        // Both kinds of input reached the comparison.
        assert!(accepted > 12_000, "{accepted}");
        assert!(mutated_accepted > 2_000, "{mutated_accepted}");
    }
}
