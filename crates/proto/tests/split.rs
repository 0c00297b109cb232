//! Feeding input in pieces gives the same result as feeding it at once.
//!
//! Every input is fed the way a socket delivers it: the first `k` bytes and
//! then the rest (for every `k`), and one byte at a time. Heads, chunked
//! bodies and whole connections are covered, valid and invalid alike.

use waiter_proto::{
    parse_request, Conn, Decoder, ErrorKind, Event, Headers, Limits, ParseError, ParsedRequest,
    ResponseHead, StatusCode,
};

/// Every way of splitting `len` bytes that the tests try: one piece, two
/// pieces at each boundary, and single bytes.
fn splits(len: usize) -> Vec<Vec<usize>> {
    let mut plans = vec![vec![len]];
    for k in 0..=len {
        plans.push(vec![k, len - k]);
    }
    plans.push(vec![1; len]);
    plans
}

fn pieces<'a>(input: &'a [u8], plan: &[usize]) -> Vec<&'a [u8]> {
    let mut at = 0;
    plan.iter()
        .map(|&n| {
            at += n;
            &input[at - n..at]
        })
        .collect()
}

const HEADS: &[&[u8]] = &[
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    b"\r\n\r\nPOST /up?x=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
    b"GET http://a/b HTTP/1.1\r\nHost: a\r\nConnection: close\r\nX:  v \r\n\r\nGET / HTTP/1.1\r\n\r\n",
    b"GET / HTTP/1.0\r\n\r\n",
    b"GET / HTTP/1.1\nHost: x\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\ry\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\r\n",
    b"GET / HTTP/1.1\r\nHost : x\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",
    b"GET / HTTP/2.0\r\nHost: x\r\n\r\n",
    b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
    b"GET / HTTP/1.1\r\n\r\n",
    b"GET  / HTTP/1.1\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nExpect: nothing\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\n",
    b"\n",
    b"\r",
];

fn small_limits() -> Limits {
    Limits {
        max_head_bytes: 48,
        max_headers: 2,
        ..Limits::default()
    }
}

/// Limit cases built for [`small_limits`].
fn limit_heads() -> Vec<Vec<u8>> {
    vec![
        format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(34)).into_bytes(),
        format!("GET /{}", "a".repeat(42)).into_bytes(),
        b"GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\n\r\n".to_vec(),
        b"GET / HTTP/1.1\r\nHost: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n\r\n".to_vec(),
        b"GET / HTTP/1.1\r\nHost: xxxxxxxxxxxxxxxxxxxxxx\r\n\r\n".to_vec(),
        b"\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n".to_vec(),
        // The request line may use the whole budget.
        format!("GET /{} HTTP/1.0\r\n\r\n", "a".repeat(30)).into_bytes(),
        // A line that fits, and then a field that does not.
        format!("GET /{} HTTP/1.0\r\nA: b\r\n\r\n", "a".repeat(26)).into_bytes(),
    ]
}

type HeadResult = Result<Option<ParsedRequest>, ParseError>;

/// Feeds pieces into a growing buffer until the parser gives an answer.
fn feed_head(pieces: &[&[u8]], limits: &Limits) -> HeadResult {
    let mut buf = Vec::new();
    for piece in pieces {
        buf.extend_from_slice(piece);
        if let Some(answer) = parse_request(&buf, limits).transpose() {
            return answer.map(Some);
        }
    }
    Ok(None)
}

#[test]
fn heads_split_anywhere() {
    let default = Limits::default();
    let mut cases: Vec<(Vec<u8>, Limits)> = HEADS.iter().map(|h| (h.to_vec(), default)).collect();
    cases.extend(limit_heads().into_iter().map(|h| (h, small_limits())));
    for (input, limits) in &cases {
        let whole = parse_request(input, limits);
        for plan in splits(input.len()) {
            let got = feed_head(&pieces(input, &plan), limits);
            assert_eq!(
                got,
                whole,
                "{:?} split {:?}",
                String::from_utf8_lossy(input),
                &plan[..plan.len().min(3)]
            );
        }
    }
    let kinds: Vec<_> = limit_heads()
        .iter()
        .map(|h| parse_request(h, &small_limits()).map(|r| r.is_some()))
        .collect();
    assert_eq!(kinds[0].clone().unwrap_err().kind(), ErrorKind::UriTooLong);
    assert_eq!(kinds[1].clone().unwrap_err().kind(), ErrorKind::UriTooLong);
    assert_eq!(
        kinds[2].clone().unwrap_err().kind(),
        ErrorKind::TooManyHeaders
    );
    assert_eq!(
        kinds[3].clone().unwrap_err().kind(),
        ErrorKind::HeadTooLarge
    );
    assert_eq!(kinds[4], Ok(true));
    assert_eq!(
        kinds[5].clone().unwrap_err().kind(),
        ErrorKind::HeadTooLarge
    );
    assert_eq!(kinds[6], Ok(true));
    assert_eq!(
        kinds[7].clone().unwrap_err().kind(),
        ErrorKind::HeadTooLarge
    );
}

const CHUNKED: &[&[u8]] = &[
    b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\nNEXT",
    b"3\r\nabc\r\n0\r\nX-Trailer: yes\r\nX-Other: 2\r\n\r\nNEXT",
    b"1 ; a=\"b\"\r\nx\r\n0\r\n\r\n",
    b"ffffffffffffffffff\r\n",
    b"\r\n",
    b"3\r\nabcX\r\n",
    b"3\nabc\r\n0\r\n\r\n",
    b"3;\x01\r\nabc\r\n",
    b"0\r\nX: a\r\n folded\r\n\r\n",
    b"0\r\nX: a\n\r\n",
    b"3\r\nab",
    b"1;aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\nx\r\n0\r\n\r\n",
    b"0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n",
];

/// Body, trailers, bytes consumed and the outcome of decoding `pieces`.
type BodyResult = (Vec<u8>, Option<Headers>, usize, Result<bool, ErrorKind>);

fn feed_chunked(pieces: &[&[u8]]) -> BodyResult {
    let limits = Limits {
        max_chunk_ext_bytes: 32,
        max_headers: 2,
        ..Limits::default()
    };
    let mut decoder = Decoder::chunked(&limits, 0);
    let (mut buf, mut body, mut total) = (Vec::new(), Vec::new(), 0);
    for piece in pieces {
        buf.extend_from_slice(piece);
        loop {
            match decoder.decode(&buf) {
                Err(e) => return (body, None, 0, Err(e.kind())),
                Ok(d) => {
                    body.extend_from_slice(&buf[d.data]);
                    buf.drain(..d.consumed);
                    total += d.consumed;
                    if d.done {
                        return (body, decoder.take_trailers(), total, Ok(true));
                    }
                    if d.consumed == 0 || buf.is_empty() {
                        break;
                    }
                }
            }
        }
    }
    (body, None, total, Ok(false))
}

#[test]
fn chunked_split_anywhere() {
    for input in CHUNKED {
        let whole = feed_chunked(&[input]);
        for plan in splits(input.len()) {
            assert_eq!(
                feed_chunked(&pieces(input, &plan)),
                whole,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }
    let outcome = |i: usize| feed_chunked(&[CHUNKED[i]]);
    assert_eq!(outcome(0).0, b"hello world");
    assert_eq!(outcome(1).1.unwrap().get("x-trailer"), Some(&b"yes"[..]));
    assert_eq!(outcome(3).3, Err(ErrorKind::ChunkSizeOverflow));
    assert_eq!(outcome(4).3, Err(ErrorKind::InvalidChunkSize));
    assert_eq!(outcome(10).3, Ok(false));
    assert_eq!(outcome(11).3, Err(ErrorKind::ChunkExtensionsTooLarge));
    assert_eq!(outcome(12).3, Err(ErrorKind::TooManyHeaders));
}

/// Drives a [`Conn`] like a server whose handlers answer each request as
/// soon as its body is complete, echoing the body. Returns a transcript of
/// events and the bytes written.
fn drive_conn(pieces: &[&[u8]]) -> (Vec<String>, Vec<u8>) {
    let mut conn = Conn::new(Limits::default());
    let (mut input, mut out, mut log, mut body) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut pieces = pieces.iter();
    loop {
        let step = conn.poll_read(&input);
        match step.event {
            Event::Request(req) => {
                log.push(format!("{} {}", req.head.method, req.head.target));
                if req.framing.expect_continue {
                    conn.continue_body(&mut out);
                }
            }
            Event::Data(range) => body.extend_from_slice(&input[range]),
            Event::End { trailers } => {
                log.push(format!(
                    "end {:?} trailers={}",
                    String::from_utf8_lossy(&body),
                    trailers.map_or(0, |t| t.len())
                ));
                conn.write_head(
                    ResponseHead::new(StatusCode::OK),
                    Some(body.len() as u64),
                    &mut out,
                )
                .unwrap();
                conn.write_body(&body, &mut out).unwrap();
                conn.finish_response(&mut out).unwrap();
                body.clear();
            }
            Event::Error(e) => {
                log.push(format!("error {:?}", e.kind()));
                conn.write_error_response(b"", &mut out);
            }
            Event::NeedMore => match pieces.next() {
                Some(piece) => input.extend_from_slice(piece),
                None if !conn.wants_read() => break,
                None => conn.read_eof(),
            },
            other => {
                log.push(format!("{other:?}"));
                break;
            }
        }
        input.drain(..step.consumed);
    }
    log.push(format!("closed={}", conn.is_closed()));
    (log, out)
}

const CONNS: &[&[u8]] = &[
    b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    b"POST /chunk HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;e\r\nabc\r\n2\r\nde\r\n0\r\nT: 1\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\nGET /3 HTTP/1.1\nHost: x\r\n\r\n",
    b"POST /c HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi",
    b"POST /bad HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n",
    b"POST /short HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc",
    b"GET / HTTP/1.0\r\n\r\n",
    b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /partial HTTP/1.1\r\nHo",
];

#[test]
fn conn_split_anywhere() {
    for input in CONNS {
        let whole = drive_conn(&[input]);
        for plan in splits(input.len()) {
            let got = drive_conn(&pieces(input, &plan));
            assert_eq!(
                got,
                whole,
                "{:?} split {:?}",
                String::from_utf8_lossy(input),
                &plan[..plan.len().min(3)]
            );
        }
    }
    let (log, out) = drive_conn(&[CONNS[2]]);
    assert_eq!(
        log,
        [
            "GET /1",
            "end \"\" trailers=0",
            "GET /2",
            "end \"\" trailers=0",
            "error BareLf",
            "Closed",
            "closed=true"
        ]
    );
    assert!(String::from_utf8(out)
        .unwrap()
        .ends_with("HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"));
    let (log, _) = drive_conn(&[CONNS[1]]);
    assert_eq!(log[1], "end \"abcde\" trailers=1");
    let (log, out) = drive_conn(&[CONNS[3]]);
    assert_eq!(log[1], "end \"hi\" trailers=0");
    assert!(out.starts_with(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"));
    let (log, _) = drive_conn(&[CONNS[5]]);
    assert_eq!(log[1..], ["error IncompleteBody", "Closed", "closed=true"]);
}
