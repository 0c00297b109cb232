//! Accept/reject rules of the request head parser, on raw bytes.

use waiter_proto::limits::MAX_HEAD_BYTES;
use waiter_proto::{
    parse_request, BodyKind, ErrorKind, Limits, Method, ParsedRequest, TargetForm, Version,
};

fn parse_with(input: &[u8], limits: &Limits) -> Result<ParsedRequest, ErrorKind> {
    match parse_request(input, limits) {
        Ok(Some(req)) => Ok(req),
        Ok(None) => panic!("incomplete: {:?}", String::from_utf8_lossy(input)),
        Err(e) => Err(e.kind()),
    }
}

fn parse(input: &[u8]) -> Result<ParsedRequest, ErrorKind> {
    parse_with(input, &Limits::default())
}

/// A GET with `Host: x` and the given extra field lines.
fn with_fields(fields: &str) -> Vec<u8> {
    format!("GET / HTTP/1.1\r\nHost: x\r\n{fields}\r\n").into_bytes()
}

fn reject(input: &[u8], kind: ErrorKind, status: u16) {
    let err = parse(input).expect_err(&String::from_utf8_lossy(input));
    assert_eq!(err, kind, "{:?}", String::from_utf8_lossy(input));
    assert_eq!(
        err.status().as_u16(),
        status,
        "{:?}",
        String::from_utf8_lossy(input)
    );
}

fn body(fields: &str) -> Result<BodyKind, ErrorKind> {
    parse(&with_fields(fields)).map(|r| r.framing.body)
}

#[test]
fn simple_get() {
    let input =
        b"\r\nGET /p?q=1 HTTP/1.1\r\nHost: example.com\r\nX-A:  spaced value \t\r\n\r\nNEXT";
    let req = parse(input).unwrap();
    assert_eq!(req.head_len, input.len() - 4);
    assert_eq!(req.head.method, Method::Get);
    assert_eq!(req.head.target, "/p?q=1");
    assert_eq!(req.head.form, TargetForm::Origin);
    assert_eq!(req.head.version, Version::Http11);
    assert_eq!(req.head.headers.get("x-a"), Some(&b"spaced value"[..]));
    assert_eq!(req.framing.body, BodyKind::Empty);
    assert!(req.framing.keep_alive && !req.framing.expect_continue && !req.framing.upgrade);
}

#[test]
fn incomplete_is_none() {
    let l = Limits::default();
    for input in [
        &b""[..],
        b"GET",
        b"GET / HTTP/1.1\r\nHost: x\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\n\r",
    ] {
        assert_eq!(parse_request(input, &l), Ok(None));
    }
}

#[test]
fn content_length_rules() {
    assert_eq!(body("Content-Length: 5\r\n"), Ok(BodyKind::Length(5)));
    assert_eq!(body("Content-Length: 007\r\n"), Ok(BodyKind::Length(7)));
    assert_eq!(
        body("Content-Length: 5\r\nContent-Length: 5\r\n"),
        Ok(BodyKind::Length(5))
    );
    assert_eq!(body("Content-Length: 5, 5\r\n"), Ok(BodyKind::Length(5)));
    assert_eq!(
        body("Content-Length: 18446744073709551615\r\n"),
        Ok(BodyKind::Length(u64::MAX))
    );
    for bad in [
        "+5",
        "-5",
        "5 5",
        "5a",
        "0x5",
        "",
        "5,",
        ",5",
        "5.0",
        "18446744073709551616",
        "99999999999999999999999",
    ] {
        reject(
            &with_fields(&format!("Content-Length: {bad}\r\n")),
            ErrorKind::InvalidContentLength,
            400,
        );
    }
    reject(
        &with_fields("Content-Length: 5\r\nContent-Length: 6\r\n"),
        ErrorKind::ConflictingContentLength,
        400,
    );
    reject(
        &with_fields("Content-Length: 5, 6\r\n"),
        ErrorKind::ConflictingContentLength,
        400,
    );
}

#[test]
fn transfer_encoding_rules() {
    assert_eq!(
        body("Transfer-Encoding: chunked\r\n"),
        Ok(BodyKind::Chunked)
    );
    assert_eq!(
        body("Transfer-Encoding: CHUNKED\r\n"),
        Ok(BodyKind::Chunked)
    );
    reject(
        &with_fields("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n"),
        ErrorKind::ContentLengthWithTransferEncoding,
        400,
    );
    reject(
        &with_fields("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n"),
        ErrorKind::ContentLengthWithTransferEncoding,
        400,
    );
    for last_not_chunked in [
        "gzip",
        "chunked, gzip",
        "chunked, chunked",
        "",
        "chunked;x=1",
        "identity",
    ] {
        let input = with_fields(&format!("Transfer-Encoding: {last_not_chunked}\r\n"));
        reject(&input, ErrorKind::InvalidTransferEncoding, 400);
    }
    reject(
        &with_fields("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"),
        ErrorKind::InvalidTransferEncoding,
        400,
    );
    reject(
        &with_fields("Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n"),
        ErrorKind::InvalidTransferEncoding,
        400,
    );
    for unknown in ["gzip, chunked", "foo, chunked", "x-custom;q=1, chunked"] {
        let input = with_fields(&format!("Transfer-Encoding: {unknown}\r\n"));
        reject(&input, ErrorKind::UnsupportedTransferCoding, 501);
    }
    reject(
        &with_fields("Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n"),
        ErrorKind::UnsupportedTransferCoding,
        501,
    );
    reject(
        b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
        ErrorKind::TransferEncodingInHttp10,
        400,
    );
}

#[test]
fn line_endings() {
    reject(b"GET / HTTP/1.1\nHost: x\r\n\r\n", ErrorKind::BareLf, 400);
    reject(b"GET / HTTP/1.1\r\nHost: x\n\r\n", ErrorKind::BareLf, 400);
    reject(b"GET / HTTP/1.1\r\nHost: x\r\n\n", ErrorKind::BareLf, 400);
    reject(b"GET / HTTP/1.1\rHost: x\r\n\r\n", ErrorKind::BareCr, 400);
    reject(
        b"GET / HTTP/1.1\r\nHost: x\ry\r\n\r\n",
        ErrorKind::BareCr,
        400,
    );
    reject(
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\r\n",
        ErrorKind::BareCr,
        400,
    );
}

#[test]
fn field_syntax() {
    reject(
        &with_fields("X-A : b\r\n"),
        ErrorKind::SpaceBeforeColon,
        400,
    );
    reject(
        &with_fields("Content-Length\t: 5\r\n"),
        ErrorKind::SpaceBeforeColon,
        400,
    );
    reject(
        &with_fields("X-A: b\r\n  folded\r\n"),
        ErrorKind::ObsFold,
        400,
    );
    reject(
        &with_fields("X-A: b\r\n\tfolded\r\n"),
        ErrorKind::ObsFold,
        400,
    );
    reject(
        b"GET / HTTP/1.1\r\n Host: x\r\n\r\n",
        ErrorKind::ObsFold,
        400,
    );
    reject(&with_fields("X@A: b\r\n"), ErrorKind::HeaderName, 400);
    reject(&with_fields("X\x00A: b\r\n"), ErrorKind::HeaderName, 400);
    reject(&with_fields(": b\r\n"), ErrorKind::HeaderName, 400);
    reject(&with_fields("NoColon\r\n"), ErrorKind::HeaderName, 400);
    reject(&with_fields("X-A: a\x00b\r\n"), ErrorKind::HeaderValue, 400);
    reject(&with_fields("X-A: a\x7fb\r\n"), ErrorKind::HeaderValue, 400);
    reject(&with_fields("X-A: a\x1bb\r\n"), ErrorKind::HeaderValue, 400);
    let req = parse(&with_fields("X-A: caf\u{e9}\r\n")).unwrap();
    assert_eq!(req.head.headers.get_str("x-a"), Some("caf\u{e9}"));
}

#[test]
fn host_rules() {
    reject(b"GET / HTTP/1.1\r\n\r\n", ErrorKind::MissingHost, 400);
    reject(
        b"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n",
        ErrorKind::DuplicateHost,
        400,
    );
    reject(
        b"GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n",
        ErrorKind::DuplicateHost,
        400,
    );
    for bad in [
        "a b", "a/b", "user@a", "a:port", "[::1", "a:99999", ":", ":80", "[]:",
    ] {
        reject(
            format!("GET / HTTP/1.1\r\nHost: {bad}\r\n\r\n").as_bytes(),
            ErrorKind::InvalidHost,
            400,
        );
    }
    assert!(parse(b"GET / HTTP/1.0\r\n\r\n").is_ok());
    assert!(parse(b"GET / HTTP/1.1\r\nHost:\r\n\r\n").is_ok());
    assert!(parse(b"GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n").is_ok());
    // An empty port is the scheme's (RFC 3986 `port = *DIGIT`).
    for good in ["a:", "[::1]:", "a.b-c:"] {
        let input = format!("GET / HTTP/1.1\r\nHost: {good}\r\n\r\n");
        assert!(parse(input.as_bytes()).is_ok(), "{good}");
    }
    // CONNECT still needs a port number.
    reject(
        b"CONNECT a: HTTP/1.1\r\nHost: a:\r\n\r\n",
        ErrorKind::Target,
        400,
    );
}

#[test]
fn versions() {
    assert_eq!(
        parse(b"GET / HTTP/1.0\r\n\r\n").unwrap().head.version,
        Version::Http10
    );
    reject(
        b"GET / HTTP/2.0\r\nHost: x\r\n\r\n",
        ErrorKind::VersionNotSupported,
        505,
    );
    reject(
        b"GET / HTTP/3.0\r\nHost: x\r\n\r\n",
        ErrorKind::VersionNotSupported,
        505,
    );
    reject(b"GET / HTTP/1\r\nHost: x\r\n\r\n", ErrorKind::Version, 400);
    reject(
        b"GET / HTTX/1.1\r\nHost: x\r\n\r\n",
        ErrorKind::Version,
        400,
    );
    reject(
        b"GET / HTTP/1.1.1\r\nHost: x\r\n\r\n",
        ErrorKind::Version,
        400,
    );
    reject(b"GET /\r\nHost: x\r\n\r\n", ErrorKind::RequestLine, 400);
    let preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    reject(preface, ErrorKind::Http2Preface, 505);
}

#[test]
fn target_forms() {
    let req = parse(b"GET http://example.com/a?b HTTP/1.1\r\nHost: example.com\r\n\r\n").unwrap();
    assert_eq!(
        (req.head.form, req.head.path(), req.head.query()),
        (TargetForm::Absolute, "/a", Some("b"))
    );
    let req = parse(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n").unwrap();
    assert_eq!(req.head.form, TargetForm::Authority);
    assert!(req.framing.connect);
    let req = parse(b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert_eq!(req.head.form, TargetForm::Asterisk);
    reject(b"GET * HTTP/1.1\r\nHost: x\r\n\r\n", ErrorKind::Target, 400);
    reject(
        b"GET example.com:443 HTTP/1.1\r\nHost: x\r\n\r\n",
        ErrorKind::Target,
        400,
    );
    reject(
        b"CONNECT / HTTP/1.1\r\nHost: x\r\n\r\n",
        ErrorKind::Target,
        400,
    );
    reject(
        b"CONNECT example.com HTTP/1.1\r\nHost: x\r\n\r\n",
        ErrorKind::Target,
        400,
    );
    reject(
        b"GET index.html HTTP/1.1\r\nHost: x\r\n\r\n",
        ErrorKind::Target,
        400,
    );
    assert!(parse(b"GET /a\"b<c> HTTP/1.1\r\nHost: x\r\n\r\n").is_ok());
    reject(
        b"GET /a\x01 HTTP/1.1\r\nHost: x\r\n\r\n",
        ErrorKind::Target,
        400,
    );
}

#[test]
fn limits() {
    // The request line shares the head's budget, as in Node.
    let target = |n: usize| format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(n));
    let wide = parse(target(9000).as_bytes()).unwrap();
    assert_eq!(wide.head.target.len(), 9001);
    assert!(parse(target(MAX_HEAD_BYTES - 40).as_bytes()).is_ok());
    reject(
        target(MAX_HEAD_BYTES).as_bytes(),
        ErrorKind::UriTooLong,
        414,
    );
    let no_crlf = format!("GET /{}", "a".repeat(MAX_HEAD_BYTES + 10));
    assert_eq!(
        parse_request(no_crlf.as_bytes(), &Limits::default())
            .unwrap_err()
            .kind(),
        ErrorKind::UriTooLong
    );
    let big = with_fields(&format!("Cookie: {}\r\n", "c".repeat(MAX_HEAD_BYTES)));
    reject(&big, ErrorKind::HeadTooLarge, 431);
    let partial = &big[..MAX_HEAD_BYTES + 1];
    assert_eq!(
        parse_request(partial, &Limits::default())
            .unwrap_err()
            .kind(),
        ErrorKind::HeadTooLarge
    );
    let hundred: String = (0..99).map(|i| format!("X-{i}: v\r\n")).collect();
    assert!(parse(&with_fields(&hundred)).is_ok());
    let too_many: String = (0..100).map(|i| format!("X-{i}: v\r\n")).collect();
    reject(&with_fields(&too_many), ErrorKind::TooManyHeaders, 431);
    let limits = Limits {
        max_body: Some(10),
        ..Limits::default()
    };
    let over = with_fields("Content-Length: 11\r\n");
    assert_eq!(
        parse_with(&over, &limits).unwrap_err(),
        ErrorKind::BodyTooLarge
    );
    assert_eq!(ErrorKind::BodyTooLarge.status().as_u16(), 413);
    assert!(parse_with(&with_fields("Content-Length: 10\r\n"), &limits).is_ok());
}

#[test]
fn expectations() {
    assert!(
        parse(&with_fields("Expect: 100-continue\r\n"))
            .unwrap()
            .framing
            .expect_continue
    );
    assert!(
        parse(&with_fields("Expect: 100-Continue\r\n"))
            .unwrap()
            .framing
            .expect_continue
    );
    reject(
        &with_fields("Expect: 200-ok\r\n"),
        ErrorKind::ExpectationFailed,
        417,
    );
    reject(
        &with_fields("Expect: 100-continue, foo\r\n"),
        ErrorKind::ExpectationFailed,
        417,
    );
    let http10 = parse(b"POST / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n").unwrap();
    assert!(!http10.framing.expect_continue);
}

#[test]
fn persistence_and_upgrade() {
    let keep = |input: &[u8]| parse(input).unwrap().framing.keep_alive;
    assert!(keep(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    assert!(!keep(
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    ));
    assert!(!keep(
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, Close\r\n\r\n"
    ));
    assert!(!keep(b"GET / HTTP/1.0\r\n\r\n"));
    assert!(keep(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"));
    let up = |input: &[u8]| parse(input).unwrap().framing.upgrade;
    assert!(up(
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
    ));
    assert!(!up(
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n\r\n"
    ));
    assert!(!up(
        b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n"
    ));
    assert!(!up(
        b"GET / HTTP/1.0\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
    ));
}
