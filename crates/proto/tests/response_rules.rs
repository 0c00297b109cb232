//! Framing rules of the response head parser (for an HTTP client).

use waiter_proto::{parse_response, BodyKind, ErrorKind, Limits, Method, ParsedResponse, Version};

fn parse(input: &str, method: Method) -> Result<ParsedResponse, ErrorKind> {
    match parse_response(input.as_bytes(), &Limits::default(), &method) {
        Ok(Some(res)) => Ok(res),
        Ok(None) => panic!("incomplete: {input:?}"),
        Err(e) => Err(e.kind()),
    }
}

fn framing(input: &str, method: Method) -> (BodyKind, bool, bool) {
    let res = parse(input, method).unwrap();
    (res.body, res.keep_alive, res.upgrade)
}

#[test]
fn head_fields() {
    let res = parse(
        "HTTP/1.1 404 Not Here\r\nContent-Length: 3\r\n\r\nabc",
        Method::Get,
    )
    .unwrap();
    assert_eq!(res.head.status.as_u16(), 404);
    assert_eq!(res.head.reason(), "Not Here");
    assert_eq!(res.head.version, Version::Http11);
    assert_eq!(res.head_len, 44);
    assert_eq!(
        parse_response(b"HTTP/1.1 200 OK\r\n", &Limits::default(), &Method::Get),
        Ok(None)
    );
}

#[test]
fn bodies() {
    let cl = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n";
    assert_eq!(framing(cl, Method::Get), (BodyKind::Length(3), true, false));
    assert_eq!(framing(cl, Method::Head), (BodyKind::Empty, true, false));
    let chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    assert_eq!(
        framing(chunked, Method::Get),
        (BodyKind::Chunked, true, false)
    );
    let eof = "HTTP/1.1 200 OK\r\n\r\n";
    assert_eq!(framing(eof, Method::Get), (BodyKind::Eof, false, false));
    for status in [
        "204 No Content",
        "304 Not Modified",
        "100 Continue",
        "103 Early Hints",
    ] {
        let input = format!("HTTP/1.1 {status}\r\nContent-Length: 3\r\n\r\n");
        assert_eq!(framing(&input, Method::Get).0, BodyKind::Empty, "{status}");
    }
    let http10 = "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n";
    assert_eq!(
        framing(http10, Method::Get),
        (BodyKind::Length(1), false, false)
    );
    let http10_ka = "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n";
    assert_eq!(
        framing(http10_ka, Method::Get),
        (BodyKind::Length(1), true, false)
    );
}

#[test]
fn upgrades_and_tunnels() {
    let switching =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
    assert_eq!(
        framing(switching, Method::Get),
        (BodyKind::Empty, false, true)
    );
    let tunnel = "HTTP/1.1 200 Connection Established\r\n\r\n";
    assert_eq!(
        framing(tunnel, Method::Connect),
        (BodyKind::Empty, false, true)
    );
    let refused = "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n";
    assert_eq!(
        framing(refused, Method::Connect),
        (BodyKind::Length(0), true, false)
    );
}

#[test]
fn rejections() {
    let both = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n";
    assert_eq!(
        parse(both, Method::Get).unwrap_err(),
        ErrorKind::ContentLengthWithTransferEncoding
    );
    let differing = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n";
    assert_eq!(
        parse(differing, Method::Get).unwrap_err(),
        ErrorKind::ConflictingContentLength
    );
    let gzip = "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n";
    assert_eq!(
        parse(gzip, Method::Get).unwrap_err(),
        ErrorKind::UnsupportedTransferCoding
    );
    let bad_status = "HTTP/1.1 20 OK\r\n\r\n";
    assert_eq!(
        parse(bad_status, Method::Get).unwrap_err(),
        ErrorKind::StatusLine
    );
    let h2 = "HTTP/2.0 200 OK\r\n\r\n";
    assert_eq!(
        parse(h2, Method::Get).unwrap_err(),
        ErrorKind::VersionNotSupported
    );
    let bare_lf = "HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n";
    assert_eq!(parse(bare_lf, Method::Get).unwrap_err(), ErrorKind::BareLf);
    let fold = "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n";
    assert_eq!(parse(fold, Method::Get).unwrap_err(), ErrorKind::ObsFold);
}
