//! The server connection state machine: order, persistence, framing of
//! responses, 100-continue, upgrades, errors and deadlines.

use waiter_proto::h1::conn::MAX_PIPELINED;
use waiter_proto::h1::head::StaticField;
use waiter_proto::{
    Conn, Deadline, EncodeErrorKind, ErrorKind, Event, Headers, Limits, OwnLines, ResponseHead,
    StatusCode,
};

/// A test peer: unconsumed input plus everything written.
struct Peer {
    conn: Conn,
    input: Vec<u8>,
    out: Vec<u8>,
}

/// Events reduced to comparable values; body data is the bytes themselves.
#[derive(Debug, PartialEq, Eq)]
enum Ev {
    Req(String),
    Data(Vec<u8>),
    End(Option<Headers>),
    NeedMore,
    Paused,
    Upgrade,
    Error(ErrorKind),
    Closed,
}

impl Peer {
    fn new(input: &[u8]) -> Peer {
        Peer {
            conn: Conn::new(Limits::default()),
            input: input.to_vec(),
            out: Vec::new(),
        }
    }

    fn poll(&mut self) -> Ev {
        let step = self.conn.poll_read(&self.input);
        let ev = match step.event {
            Event::Request(r) => Ev::Req(format!("{} {}", r.head.method, r.head.target)),
            Event::Data(range) => Ev::Data(self.input[range].to_vec()),
            Event::End { trailers } => Ev::End(trailers),
            Event::NeedMore => Ev::NeedMore,
            Event::Paused => Ev::Paused,
            Event::Upgrade => Ev::Upgrade,
            Event::Error(e) => Ev::Error(e.kind()),
            Event::Closed => Ev::Closed,
        };
        self.input.drain(..step.consumed);
        ev
    }

    /// Polls until `NeedMore`, `Paused`, `Closed`, `Upgrade` or an error.
    fn poll_all(&mut self) -> Vec<Ev> {
        let mut events = Vec::new();
        loop {
            let ev = self.poll();
            let stop = matches!(
                ev,
                Ev::NeedMore | Ev::Paused | Ev::Closed | Ev::Upgrade | Ev::Error(_)
            );
            events.push(ev);
            if stop {
                return events;
            }
        }
    }

    fn respond(&mut self, status: StatusCode, body: &[u8]) {
        self.respond_with(ResponseHead::new(status), Some(body.len() as u64), body);
    }

    fn respond_with(&mut self, head: ResponseHead, len: Option<u64>, body: &[u8]) {
        self.conn.write_head(head, len, &mut self.out).unwrap();
        self.conn.write_body(body, &mut self.out).unwrap();
        self.conn.finish_response(&mut self.out).unwrap();
    }

    fn take_out(&mut self) -> String {
        String::from_utf8(std::mem::take(&mut self.out)).unwrap()
    }
}

fn req(s: &str) -> Ev {
    Ev::Req(s.to_owned())
}

const GET: &str = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";

#[test]
fn pipelined_requests_come_out_in_order() {
    let mut p = Peer::new(
        b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\nPOST /2 HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nbodyGET /3 HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    let events = p.poll_all();
    assert_eq!(
        events,
        [
            req("GET /1"),
            Ev::End(None),
            req("POST /2"),
            Ev::Data(b"body".to_vec()),
            Ev::End(None),
            req("GET /3"),
            Ev::End(None),
            Ev::NeedMore
        ]
    );
    for body in [&b"one"[..], b"two", b"three"] {
        p.respond(StatusCode::OK, body);
    }
    let out = p.take_out();
    let one = out.find("one").unwrap();
    let two = out.find("two").unwrap();
    assert!(one < two && two < out.find("three").unwrap());
    assert_eq!(p.conn.deadline(), Deadline::Idle);
    assert!(!p.conn.is_closed() && p.conn.wants_read());
}

#[test]
fn error_after_two_valid_requests_waits_for_their_responses() {
    let mut p = Peer::new(
        format!("{GET}{GET}GET / HTTP/1.1\r\nHost: x\r\nContent-Length: x\r\n\r\n").as_bytes(),
    );
    let events = p.poll_all();
    assert_eq!(
        events,
        [
            req("GET /"),
            Ev::End(None),
            req("GET /"),
            Ev::End(None),
            Ev::Paused
        ]
    );
    assert!(!p.conn.wants_read());
    p.respond(StatusCode::OK, b"first");
    assert_eq!(p.poll(), Ev::Paused);
    p.respond(StatusCode::OK, b"second");
    assert!(!p.conn.is_closed());
    assert_eq!(p.poll(), Ev::Error(ErrorKind::InvalidContentLength));
    assert!(p.conn.write_error_response(b"", &mut p.out));
    assert!(p.conn.is_closed());
    let out = p.take_out();
    let first = out.find("first").unwrap();
    let second = out.find("second").unwrap();
    let bad = out
        .find("HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n")
        .unwrap();
    assert!(first < second && second < bad);
    assert_eq!(p.poll(), Ev::Closed);
}

#[test]
fn error_statuses_in_canned_responses() {
    let cases: [(&[u8], &str); 4] = [
        (
            b"GET / HTTP/2.0\r\nHost: x\r\n\r\n",
            "HTTP/1.1 505 HTTP Version Not Supported\r\n",
        ),
        (
            b"GET / HTTP/1.1\r\nHost: x\r\nExpect: x\r\n\r\n",
            "HTTP/1.1 417 Expectation Failed\r\n",
        ),
        (
            b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            "HTTP/1.1 501 Not Implemented\r\n",
        ),
        (b"GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 400 Bad Request\r\n"),
    ];
    let date = "date: Mon, 07 Dec 2026 20:00:00 GMT\r\n";
    for (input, status_line) in cases {
        let mut p = Peer::new(input);
        assert!(matches!(p.poll(), Ev::Error(_)));
        assert!(p.conn.write_error_response(date.as_bytes(), &mut p.out));
        let want = format!("{status_line}{date}connection: close\r\ncontent-length: 0\r\n\r\n");
        assert_eq!(p.take_out(), want);
        assert!(p.conn.is_closed());
    }
    // Without a clock, no Date.
    let mut p = Peer::new(b"GET / HTTP/1.1\r\n\r\n");
    assert!(matches!(p.poll(), Ev::Error(_)));
    assert!(p.conn.write_error_response(b"", &mut p.out));
    assert_eq!(
        p.take_out(),
        "HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"
    );
    // An HTTP/2 client with prior knowledge gets 505 too: it fails on
    // that as it would on a close, and a person reading the bytes sees why.
    let mut p = Peer::new(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    assert_eq!(p.poll(), Ev::Error(ErrorKind::Http2Preface));
    assert!(p.conn.write_error_response(b"", &mut p.out));
    assert!(p
        .take_out()
        .starts_with("HTTP/1.1 505 HTTP Version Not Supported\r\n"));
    assert!(p.conn.is_closed());
}

#[test]
fn body_error_after_response_started_sends_nothing() {
    let mut p =
        Peer::new(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n");
    assert_eq!(
        p.poll_all(),
        [req("POST /"), Ev::Data(b"abc".to_vec()), Ev::NeedMore]
    );
    p.conn
        .write_head(ResponseHead::new(StatusCode::OK), None, &mut p.out)
        .unwrap();
    p.input.extend_from_slice(b"zz\r\n");
    assert_eq!(p.poll(), Ev::Error(ErrorKind::InvalidChunkSize));
    let before = p.out.len();
    assert!(!p.conn.write_error_response(b"", &mut p.out));
    assert_eq!(p.out.len(), before);
    assert!(p.conn.is_closed());
}

#[test]
fn expect_continue_is_sent_when_the_body_is_wanted() {
    let mut p = Peer::new(
        b"PUT /f HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok",
    );
    assert_eq!(p.poll_all(), [req("PUT /f"), Ev::Paused]);
    assert!(!p.conn.wants_read());
    assert!(p.conn.continue_body(&mut p.out));
    assert_eq!(p.take_out(), "HTTP/1.1 100 Continue\r\n\r\n");
    assert_eq!(
        p.poll_all(),
        [Ev::Data(b"ok".to_vec()), Ev::End(None), Ev::NeedMore]
    );
    p.respond(StatusCode::OK, b"");
    assert!(p.conn.should_keep_alive());
}

#[test]
fn answering_before_continue_closes_the_connection() {
    let mut p = Peer::new(
        b"PUT /f HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n",
    );
    assert_eq!(p.poll_all(), [req("PUT /f"), Ev::Paused]);
    p.respond(StatusCode::CONTENT_TOO_LARGE, b"");
    let out = p.take_out();
    assert!(
        out.starts_with("HTTP/1.1 413 Content Too Large\r\n"),
        "{out}"
    );
    assert!(out.contains("connection: close\r\n"));
    assert!(!out.contains("100 Continue"));
    assert!(p.conn.is_closed());
    assert!(!p.conn.continue_body(&mut p.out));
}

#[test]
fn an_unread_body_longer_than_max_drain_is_not_read_and_the_connection_closes() {
    let max = Limits::default().max_drain;
    // Known from Content-Length: closed when the response ends.
    let head = format!(
        "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        max + 1
    );
    let mut p = Peer::new(head.as_bytes());
    assert_eq!(p.poll(), req("POST /a"));
    p.respond(StatusCode::OK, b"");
    // The head, written while the body was unread, announces the close.
    let out = p.take_out();
    assert!(out.contains("\r\nconnection: close\r\n"), "{out}");
    assert!(p.conn.is_closed());
    assert_eq!(p.poll(), Ev::Closed);

    // Exactly max_drain is still skipped, and the next request served.
    let head = format!("POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: {max}\r\n\r\n");
    let mut p = Peer::new(head.as_bytes());
    assert_eq!(p.poll(), req("POST /a"));
    p.respond(StatusCode::OK, b"");
    assert!(!p.take_out().contains("connection: close"));
    assert!(!p.conn.is_closed());
    p.input.extend(std::iter::repeat_n(b'x', max as usize));
    p.input.extend_from_slice(GET.as_bytes());
    assert_eq!(p.poll_all(), [req("GET /"), Ev::End(None), Ev::NeedMore]);

    // Chunked: skipped until max_drain bytes, then closed, having looked
    // at no more than that.
    let mut p = Peer::new(b"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
    assert_eq!(p.poll(), req("POST /a"));
    p.respond(StatusCode::OK, b"");
    let chunk = format!("400\r\n{}\r\n", "y".repeat(0x400));
    for _ in 0..(max as usize / chunk.len() + 2) {
        p.input.extend_from_slice(chunk.as_bytes());
    }
    let before = p.input.len();
    assert_eq!(p.poll_all().last(), Some(&Ev::Closed));
    assert_eq!(before - p.input.len(), max as usize);
    assert!(p.conn.is_closed());

    // A short chunked body is skipped as before.
    let mut p = Peer::new(b"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
    assert_eq!(p.poll(), req("POST /a"));
    p.respond(StatusCode::OK, b"");
    p.input
        .extend_from_slice(format!("3\r\nabc\r\n0\r\n\r\n{GET}").as_bytes());
    assert_eq!(p.poll_all(), [req("GET /"), Ev::End(None), Ev::NeedMore]);
}

#[test]
fn unread_body_is_drained_and_the_next_request_served() {
    let mut p = Peer::new(b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234");
    assert_eq!(p.poll(), req("POST /a"));
    p.respond(StatusCode::OK, b"done");
    assert!(p.take_out().contains("content-length: 4\r\n"));
    assert_eq!(p.poll(), Ev::NeedMore);
    assert!(p.input.is_empty());
    p.input.extend_from_slice(format!("56789{GET}").as_bytes());
    assert_eq!(p.poll_all(), [req("GET /"), Ev::End(None), Ev::NeedMore]);
}

#[test]
fn head_204_304_and_unknown_lengths() {
    let mut p = Peer::new(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n");
    p.poll_all();
    p.respond(StatusCode::OK, b"ignored");
    assert_eq!(p.take_out(), "HTTP/1.1 200 OK\r\ncontent-length: 7\r\n\r\n");

    // A HEAD response may state the GET's length with an empty body.
    let mut p = Peer::new(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n");
    p.poll_all();
    let mut head = ResponseHead::new(StatusCode::OK);
    head.headers.append("Content-Length", "10");
    p.respond_with(head, Some(0), b"");
    assert_eq!(
        p.take_out(),
        "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"
    );

    // A 204's body and Content-Length are dropped (as Node and hyper do).
    let mut p = Peer::new(GET.as_bytes());
    p.poll_all();
    let mut head = ResponseHead::new(StatusCode::NO_CONTENT);
    head.headers.append("Content-Length", "0");
    p.conn.write_head(head, None, &mut p.out).unwrap();
    assert!(p.conn.drops_response_body());
    p.conn.write_body(b"x", &mut p.out).unwrap();
    p.conn.finish_response(&mut p.out).unwrap();
    assert_eq!(p.take_out(), "HTTP/1.1 204 No Content\r\n\r\n");
    let mut p = Peer::new(GET.as_bytes());
    p.poll_all();
    p.conn
        .write_full_response_with(
            ResponseHead::new(StatusCode::NO_CONTENT),
            b"x",
            OwnLines::default(),
            &mut p.out,
        )
        .unwrap();
    assert_eq!(p.take_out(), "HTTP/1.1 204 No Content\r\n\r\n");

    // A 304 gets no Content-Length of ours (RFC 9110 section 8.6: it would
    // have to be the representation's), keeps the caller's, drops a body.
    let mut p = Peer::new(GET.as_bytes());
    p.poll_all();
    p.respond_with(ResponseHead::new(StatusCode::NOT_MODIFIED), Some(0), b"");
    assert_eq!(p.take_out(), "HTTP/1.1 304 Not Modified\r\n\r\n");
    let mut p = Peer::new(GET.as_bytes());
    p.poll_all();
    let mut head = ResponseHead::new(StatusCode::NOT_MODIFIED);
    head.headers.append("Content-Length", "10");
    p.respond_with(head, Some(3), b"abc");
    assert_eq!(
        p.take_out(),
        "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n"
    );

    let mut p = Peer::new(GET.as_bytes());
    p.poll_all();
    p.respond_with(ResponseHead::new(StatusCode::NOT_MODIFIED), None, b"");
    assert_eq!(p.take_out(), "HTTP/1.1 304 Not Modified\r\n\r\n");

    let mut p = Peer::new(GET.as_bytes());
    p.poll_all();
    p.respond_with(ResponseHead::new(StatusCode::OK), None, b"hello");
    assert_eq!(
        p.take_out(),
        "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    );
    assert!(!p.conn.is_closed());
}

#[test]
fn http10_persistence() {
    let mut p = Peer::new(b"GET / HTTP/1.0\r\n\r\nGET /never HTTP/1.0\r\n\r\n");
    assert_eq!(p.poll_all(), [req("GET /"), Ev::End(None), Ev::Closed]);
    p.respond_with(ResponseHead::new(StatusCode::OK), None, b"raw");
    assert_eq!(
        p.take_out(),
        "HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nraw"
    );
    assert!(p.conn.is_closed());

    let mut p = Peer::new(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    p.poll_all();
    p.respond(StatusCode::OK, b"ka");
    assert_eq!(
        p.take_out(),
        // The framing field comes after the head's own fields.
        "HTTP/1.1 200 OK\r\nconnection: keep-alive\r\ncontent-length: 2\r\n\r\nka"
    );
    assert!(!p.conn.is_closed());

    let mut p = Peer::new(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    p.poll_all();
    p.respond_with(ResponseHead::new(StatusCode::OK), None, b"raw");
    assert!(p.take_out().contains("connection: close\r\n"));
    assert!(p.conn.is_closed());
}

#[test]
fn own_lines_go_where_the_response_has_none() {
    let own = OwnLines {
        date: b"date: Mon, 23 Nov 2026 10:00:00 GMT\r\n",
        keep_alive: b"keep-alive: timeout=65\r\n",
    };
    let write = |input: &str, head: ResponseHead| {
        let mut p = Peer::new(input.as_bytes());
        p.poll_all();
        p.conn
            .write_head_with(head, Some(0), own, &mut p.out)
            .unwrap();
        p.conn.finish_response(&mut p.out).unwrap();
        p.take_out()
    };
    assert_eq!(
        write(GET, ResponseHead::new(StatusCode::OK)),
        "HTTP/1.1 200 OK\r\ncontent-length: 0\r\ndate: Mon, 23 Nov 2026 10:00:00 GMT\r\nkeep-alive: timeout=65\r\n\r\n"
    );
    // The response's own Date and Keep-Alive win.
    let mut head = ResponseHead::new(StatusCode::OK);
    head.headers.append("Date", "x");
    head.headers.append("Keep-Alive", "timeout=5");
    assert_eq!(
        write(GET, head),
        "HTTP/1.1 200 OK\r\nDate: x\r\nKeep-Alive: timeout=5\r\ncontent-length: 0\r\n\r\n"
    );
    // No Keep-Alive on a response after which the connection closes.
    let close = "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let out = write(close, ResponseHead::new(StatusCode::OK));
    assert!(
        out.contains("connection: close\r\n") && !out.contains("keep-alive"),
        "{out}"
    );
    // A Connection field that contradicts the connection's fate is replaced.
    let mut head = ResponseHead::new(StatusCode::OK);
    head.headers.append("Connection", "keep-alive");
    head.headers.append("X-After", "1");
    assert_eq!(
        write(close, head),
        "HTTP/1.1 200 OK\r\nconnection: close\r\nX-After: 1\r\ncontent-length: 0\r\ndate: Mon, 23 Nov 2026 10:00:00 GMT\r\n\r\n"
    );
    let mut head = ResponseHead::new(StatusCode::OK);
    head.headers.append("connection", "upgrade");
    let ka10 = "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
    assert!(write(ka10, head).starts_with("HTTP/1.1 200 OK\r\nconnection: keep-alive\r\n"));
    // A 204 whose Content-Length is stripped still says what the
    // connection does.
    let mut head = ResponseHead::new(StatusCode::NO_CONTENT);
    head.headers.append("Content-Length", "0");
    assert_eq!(
        write(close, head),
        "HTTP/1.1 204 No Content\r\nconnection: close\r\ndate: Mon, 23 Nov 2026 10:00:00 GMT\r\n\r\n"
    );
    let mut head = ResponseHead::new(StatusCode::NO_CONTENT);
    head.headers.append("Content-Length", "0");
    assert!(write(ka10, head).contains("connection: keep-alive\r\n"));
    // An invalid field writes nothing at all.
    let mut p = Peer::new(GET.as_bytes());
    p.poll_all();
    let mut head = ResponseHead::new(StatusCode::OK);
    head.headers.append("X-Ok", "1");
    head.headers.append("X-Bad", "a\r\nb");
    let err = p
        .conn
        .write_head_with(head, Some(0), own, &mut p.out)
        .unwrap_err();
    assert_eq!(err.kind(), EncodeErrorKind::HeaderValue);
    assert!(p.out.is_empty());
}

#[test]
fn connection_close_from_either_side() {
    let mut p = Peer::new(
        format!("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n{GET}").as_bytes(),
    );
    assert_eq!(p.poll_all(), [req("GET /"), Ev::End(None), Ev::Closed]);
    p.respond(StatusCode::OK, b"");
    assert!(p.take_out().contains("connection: close\r\n"));
    assert!(p.conn.is_closed());

    let mut p = Peer::new(GET.as_bytes());
    p.poll_all();
    let mut head = ResponseHead::new(StatusCode::OK);
    head.headers.append("Connection", "close");
    p.respond_with(head, Some(0), b"");
    assert_eq!(
        p.take_out(),
        "HTTP/1.1 200 OK\r\nConnection: close\r\ncontent-length: 0\r\n\r\n"
    );
    assert!(p.conn.is_closed());
    assert_eq!(p.poll(), Ev::Closed);
}

#[test]
fn upgrade_hands_over_remaining_bytes() {
    let mut p = Peer::new(
        b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n\x81\x05hello",
    );
    assert_eq!(p.poll_all(), [req("GET /ws"), Ev::End(None), Ev::Paused]);
    let mut head = ResponseHead::new(StatusCode::SWITCHING_PROTOCOLS);
    head.headers.append("Connection", "Upgrade");
    head.headers.append("Upgrade", "websocket");
    p.respond_with(head, None, b"");
    assert_eq!(
        p.take_out(),
        "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
    );
    assert_eq!(p.poll(), Ev::Upgrade);
    assert_eq!(p.input, b"\x81\x05hello");
    assert!(p.conn.is_upgraded() && !p.conn.is_closed());
}

#[test]
fn declined_upgrade_and_connect() {
    let mut p = Peer::new(
        format!(
            "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n{GET}"
        )
        .as_bytes(),
    );
    assert_eq!(p.poll_all(), [req("GET /ws"), Ev::End(None), Ev::Paused]);
    p.respond(StatusCode::OK, b"plain");
    assert_eq!(p.poll_all(), [req("GET /"), Ev::End(None), Ev::NeedMore]);

    let mut p = Peer::new(b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n\x16\x03");
    assert_eq!(
        p.poll_all(),
        [req("CONNECT a:443"), Ev::End(None), Ev::Paused]
    );
    p.respond_with(ResponseHead::new(StatusCode::OK), Some(0), b"");
    assert_eq!(p.take_out(), "HTTP/1.1 200 OK\r\n\r\n");
    assert_eq!(p.poll(), Ev::Upgrade);
    assert_eq!(p.input, b"\x16\x03");

    let mut p = Peer::new(GET.as_bytes());
    p.poll_all();
    let err = p.conn.write_head(
        ResponseHead::new(StatusCode::SWITCHING_PROTOCOLS),
        None,
        &mut p.out,
    );
    assert_eq!(err.unwrap_err().kind(), EncodeErrorKind::Status);
}

#[test]
fn interim_responses() {
    let mut p = Peer::new(GET.as_bytes());
    p.poll_all();
    let hints = ResponseHead::new(StatusCode::from_u16(103).unwrap());
    p.conn.write_head(hints, None, &mut p.out).unwrap();
    p.respond(StatusCode::OK, b"");
    assert_eq!(
        p.take_out(),
        "HTTP/1.1 103 Early Hints\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"
    );
    let err = p
        .conn
        .write_head(ResponseHead::new(StatusCode::CONTINUE), None, &mut p.out);
    assert_eq!(err.unwrap_err().kind(), EncodeErrorKind::NoRequest);
}

#[test]
fn write_api_misuse() {
    let mut p = Peer::new(GET.as_bytes());
    let err = p
        .conn
        .write_head(ResponseHead::new(StatusCode::OK), None, &mut p.out)
        .unwrap_err();
    assert_eq!(err.kind(), EncodeErrorKind::NoRequest);
    p.poll_all();
    assert_eq!(
        p.conn.write_body(b"x", &mut p.out).unwrap_err().kind(),
        EncodeErrorKind::NoResponse
    );
    for bad in ["chunked, gzip", "chunked, chunked", "", "g(zip), chunked"] {
        let mut te = ResponseHead::new(StatusCode::OK);
        te.headers.append("Transfer-Encoding", bad);
        assert_eq!(
            p.conn.write_head(te, None, &mut p.out).unwrap_err().kind(),
            EncodeErrorKind::FramingHeader,
            "{bad:?}"
        );
    }
    assert!(p.out.is_empty());
    let mut cl = ResponseHead::new(StatusCode::OK);
    cl.headers.append("Content-Length", "3");
    assert_eq!(
        p.conn
            .write_head(cl.clone(), Some(4), &mut p.out)
            .unwrap_err()
            .kind(),
        EncodeErrorKind::FramingHeader
    );
    p.conn.write_head(cl, None, &mut p.out).unwrap();
    let again = p
        .conn
        .write_head(ResponseHead::new(StatusCode::OK), None, &mut p.out);
    assert_eq!(again.unwrap_err().kind(), EncodeErrorKind::ResponseStarted);
    p.conn.write_body(b"ab", &mut p.out).unwrap();
    assert_eq!(
        p.conn.finish_response(&mut p.out).unwrap_err().kind(),
        EncodeErrorKind::BodyTooShort
    );
    assert_eq!(
        p.conn.write_body(b"cd", &mut p.out).unwrap_err().kind(),
        EncodeErrorKind::BodyTooLong
    );
    p.conn.write_body(b"c", &mut p.out).unwrap();
    p.conn.finish_response(&mut p.out).unwrap();
    assert_eq!(
        p.take_out(),
        "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"
    );
    let mut bad = ResponseHead::new(StatusCode::OK);
    bad.headers.append("X", "a\r\nInjected: 1");
    p.input.extend_from_slice(GET.as_bytes());
    p.poll_all();
    assert_eq!(
        p.conn.write_head(bad, None, &mut p.out).unwrap_err().kind(),
        EncodeErrorKind::HeaderValue
    );
    assert!(p.out.is_empty());
}

#[test]
fn pipelining_depth_is_bounded() {
    let mut p = Peer::new(GET.repeat(MAX_PIPELINED + 1).as_bytes());
    let events = p.poll_all();
    assert_eq!(events.len(), 2 * MAX_PIPELINED + 1);
    assert_eq!(events.last(), Some(&Ev::Paused));
    assert!(!p.conn.wants_read());
    p.respond(StatusCode::OK, b"");
    assert_eq!(p.poll_all(), [req("GET /"), Ev::End(None), Ev::Paused]);
    p.respond(StatusCode::OK, b"");
    assert_eq!(p.poll(), Ev::NeedMore);
    assert!(p.conn.wants_read());
}

#[test]
fn end_of_stream() {
    let mut p = Peer::new(GET.as_bytes());
    p.poll_all();
    p.conn.read_eof();
    assert_eq!(p.poll(), Ev::Closed);
    assert!(!p.conn.is_closed());
    p.respond(StatusCode::OK, b"");
    assert!(p.conn.is_closed());

    let mut p = Peer::new(format!("{GET}{GET}").as_bytes());
    assert_eq!(p.poll_all().len(), 5);
    p.conn.read_eof();
    assert_eq!(p.poll(), Ev::Closed);
    p.respond(StatusCode::OK, b"1");
    assert!(!p.take_out().contains("connection: close"));
    p.respond(StatusCode::OK, b"2");
    assert!(p.take_out().contains("connection: close"));
    assert!(p.conn.is_closed());

    let mut p = Peer::new(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nab");
    assert_eq!(
        p.poll_all(),
        [req("POST /"), Ev::Data(b"ab".to_vec()), Ev::NeedMore]
    );
    p.conn.read_eof();
    assert_eq!(p.poll(), Ev::Error(ErrorKind::IncompleteBody));
}

#[test]
fn deadlines() {
    let mut p = Peer::new(b"");
    assert_eq!(p.conn.deadline(), Deadline::Head);
    p.input.extend_from_slice(b"GET / HT");
    assert_eq!(p.poll(), Ev::NeedMore);
    assert_eq!(p.conn.deadline(), Deadline::Head);
    p.input.extend_from_slice(b"TP/1.1\r\nHost: x\r\n\r\n");
    p.poll_all();
    assert_eq!(p.conn.deadline(), Deadline::None);
    p.respond(StatusCode::OK, b"");
    assert_eq!(p.conn.deadline(), Deadline::Idle);
    p.input.extend_from_slice(b"GET");
    assert_eq!(p.poll(), Ev::NeedMore);
    assert_eq!(p.conn.deadline(), Deadline::Head);
    p.take_out();
    p.conn.on_timeout(b"", &mut p.out);
    assert!(p.take_out().starts_with("HTTP/1.1 408 Request Timeout\r\n"));
    assert!(p.conn.is_closed());

    let mut idle = Peer::new(b"");
    idle.conn.on_timeout(b"", &mut idle.out);
    assert!(idle.out.is_empty() && idle.conn.is_closed());
}

#[test]
fn trailers_and_vectored_frames() {
    let mut p = Peer::new(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nX-T: 1\r\n\r\n");
    let events = p.poll_all();
    let Ev::End(Some(trailers)) = &events[2] else {
        panic!("{events:?}")
    };
    assert_eq!(trailers.get("x-t"), Some(&b"1"[..]));
    p.conn
        .write_head(ResponseHead::new(StatusCode::OK), None, &mut p.out)
        .unwrap();
    let frame = p.conn.body_frame(3).unwrap();
    let mut vectored = p.take_out().into_bytes();
    vectored.extend_from_slice(frame.prefix());
    vectored.extend_from_slice(b"abc");
    vectored.extend_from_slice(frame.suffix());
    let mut t = Headers::new();
    t.append("X-Done", "yes");
    p.conn
        .finish_response_with_trailers(&t, &mut vectored)
        .unwrap();
    let expected =
        "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-Done: yes\r\n\r\n";
    assert_eq!(String::from_utf8(vectored).unwrap(), expected);
}

#[test]
fn a_whole_response_in_one_call_is_the_three_calls() {
    let own = OwnLines {
        date: b"date: Mon, 23 Nov 2026 10:00:00 GMT\r\n",
        keep_alive: b"keep-alive: timeout=65\r\n",
    };
    let requests = [
        GET,
        "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        "GET / HTTP/1.0\r\n\r\n",
        "CONNECT x:443 HTTP/1.1\r\nHost: x:443\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
    ];
    let statuses = [
        StatusCode::OK,
        StatusCode::CREATED,
        StatusCode::NOT_FOUND,
        StatusCode::INTERNAL_SERVER_ERROR,
        StatusCode::from_u16(418).unwrap(),
        StatusCode::NO_CONTENT,
        StatusCode::NOT_MODIFIED,
        StatusCode::SWITCHING_PROTOCOLS,
        StatusCode::from_u16(103).unwrap(),
    ];
    const TEXT: StaticField = StaticField::new("content-type", "text/plain");
    const CLOSE: StaticField = StaticField::new("connection", "close");
    // Each builds the fields of one case: none, a constant, added ones,
    // the fields the connection itself decides, and invalid ones.
    let field_sets: [fn(&mut Headers); 11] = [
        |_| {},
        |h| h.append_static(&TEXT),
        |h| {
            h.append_static(&TEXT);
            h.append("x-id", "7");
        },
        |h| h.append("content-type", "application/json"),
        |h| h.append_static(&CLOSE),
        |h| h.append("Connection", "keep-alive"),
        |h| h.append("content-length", "5"),
        |h| h.append("content-length", "0"),
        |h| h.append("Date", "Tue, 24 Nov 2026 10:00:00 GMT"),
        |h| h.append("keep-alive", "timeout=5"),
        |h| h.append("x-bad", "a\r\nb"),
    ];
    let mut compared = 0;
    for input in requests {
        for status in statuses {
            for (f, fields) in field_sets.iter().enumerate() {
                for body in [&b""[..], b"hello"] {
                    // Two requests, so what the first response leaves (the
                    // connection's persistence) shows in the second.
                    let twice = format!("{input}{input}");
                    let (mut one, mut three) =
                        (Peer::new(twice.as_bytes()), Peer::new(twice.as_bytes()));
                    one.poll_all();
                    three.poll_all();
                    let head = || {
                        let mut h = ResponseHead::new(status);
                        fields(&mut h.headers);
                        h
                    };
                    let a = one
                        .conn
                        .write_full_response_with(head(), body, own, &mut one.out);
                    let b = three
                        .conn
                        .write_head_with(head(), Some(body.len() as u64), own, &mut three.out)
                        .and_then(|()| three.conn.write_body(body, &mut three.out))
                        .and_then(|()| three.conn.finish_response(&mut three.out));
                    let case = format!("{input:?} {status:?} fields #{f} {body:?}");
                    assert_eq!(a.is_ok(), b.is_ok(), "{case}: {a:?} {b:?}");
                    if a.is_err() {
                        // All or nothing: no bytes, and the connection as
                        // if no response had been tried, so an error
                        // response can still be sent.
                        let mut fresh = Peer::new(twice.as_bytes());
                        fresh.poll_all();
                        assert_eq!(one.take_out(), "", "{case}");
                        assert_eq!(one.poll_all(), fresh.poll_all(), "{case}");
                        let error = ResponseHead::new(StatusCode::INTERNAL_SERVER_ERROR);
                        let r = one
                            .conn
                            .write_full_response_with(error, b"", own, &mut one.out);
                        assert!(r.is_ok(), "{case}: {r:?}");
                        assert!(one.take_out().starts_with("HTTP/1.1 500 "), "{case}");
                        compared += 1;
                        continue;
                    }
                    assert_eq!(one.take_out(), three.take_out(), "{case}");
                    assert_eq!(one.poll_all(), three.poll_all(), "{case}");
                    assert_eq!(one.conn.is_closed(), three.conn.is_closed(), "{case}");
                    // And the next response, if there is room for one.
                    let a = one
                        .conn
                        .write_full_response_with(head(), body, own, &mut one.out);
                    let b = three
                        .conn
                        .write_head_with(head(), Some(body.len() as u64), own, &mut three.out)
                        .and_then(|()| three.conn.write_body(body, &mut three.out))
                        .and_then(|()| three.conn.finish_response(&mut three.out));
                    assert_eq!(a.is_ok(), b.is_ok(), "{case}, second: {a:?} {b:?}");
                    if a.is_ok() {
                        assert_eq!(one.take_out(), three.take_out(), "{case}, second");
                    } else {
                        assert_eq!(one.take_out(), "", "{case}, second");
                    }
                    assert_eq!(
                        one.conn.is_closed(),
                        three.conn.is_closed(),
                        "{case}, second"
                    );
                    compared += 1;
                }
            }
        }
    }
    assert_eq!(compared, 9 * 9 * 11 * 2);
}

/// The response to `request` with these fields and body, written through
/// the general path and the one-call path: both must agree.
fn with_fields(request: &str, status: StatusCode, fields: &[(&str, &str)], body: &[u8]) -> String {
    let head = || {
        let mut h = ResponseHead::new(status);
        for (n, v) in fields {
            h.headers.append(*n, *v);
        }
        h
    };
    let mut p = Peer::new(request.as_bytes());
    p.poll_all();
    p.respond_with(head(), Some(body.len() as u64), body);
    let general = p.take_out();
    let mut q = Peer::new(request.as_bytes());
    q.poll_all();
    q.conn
        .write_full_response_with(head(), body, OwnLines::default(), &mut q.out)
        .unwrap();
    assert_eq!(
        q.take_out(),
        general,
        "one call and the general path differ"
    );
    general
}

#[test]
fn a_transfer_encoding_set_by_the_caller_frames_the_body_chunked() {
    let get = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_eq!(
        with_fields(
            get,
            StatusCode::OK,
            &[("Transfer-Encoding", "chunked")],
            b"hello"
        ),
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    );
    // A coding the caller applied itself: chunked is added after it, and
    // a Content-Length (which must not go with Transfer-Encoding) removed.
    assert_eq!(
        with_fields(
            get,
            StatusCode::OK,
            &[("Content-Length", "2"), ("Transfer-Encoding", "gzip")],
            b"gz"
        ),
        "HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\n\r\n2\r\ngz\r\n0\r\n\r\n"
    );
    // HEAD: kept as stated, what a GET would carry, with no length of ours.
    assert_eq!(
        with_fields(
            "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n",
            StatusCode::OK,
            &[("Transfer-Encoding", "chunked")],
            b"hello"
        ),
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    // 204: never sent.
    assert_eq!(
        with_fields(
            get,
            StatusCode::NO_CONTENT,
            &[("Transfer-Encoding", "chunked")],
            b""
        ),
        "HTTP/1.1 204 No Content\r\n\r\n"
    );
    // HTTP/1.0: not sent; the body has its length.
    assert_eq!(
        with_fields(
            "GET / HTTP/1.0\r\n\r\n",
            StatusCode::OK,
            &[("Transfer-Encoding", "chunked")],
            b"hello"
        ),
        "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 5\r\n\r\nhello"
    );
    // ...but a coding applied by the caller cannot go without the field.
    let mut p = Peer::new(b"GET / HTTP/1.0\r\n\r\n");
    p.poll_all();
    let mut head = ResponseHead::new(StatusCode::OK);
    head.headers.append("Transfer-Encoding", "gzip, chunked");
    let err = p.conn.write_head(head, Some(2), &mut p.out).unwrap_err();
    assert_eq!(err.kind(), EncodeErrorKind::FramingHeader);
    assert!(p.out.is_empty());
}

#[test]
fn the_end_of_a_body_is_found_in_bytes_not_yet_given() {
    let mut p = Peer::new(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n");
    assert_eq!(p.poll(), req("POST /"));
    assert!(!p.conn.body_ends_within(&[b"hel"]));
    assert!(p.conn.body_ends_within(&[b"hel", b"lo"]));
    let mut p = Peer::new(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
    assert_eq!(p.poll(), req("POST /"));
    // A size line split between the buffer and the socket.
    assert!(p
        .conn
        .body_ends_within(&[b"5\r\nhello\r\n1", b"\r\nx\r\n0\r\n\r\n"]));
    assert!(!p
        .conn
        .body_ends_within(&[b"5\r\nhello\r\n1", b"\r\nx\r\n0\r\n"]));
    assert!(!p.conn.body_ends_within(&[b"zz\r\n"]), "malformed");
    // Nothing was consumed: the body still decodes from the start.
    p.input.extend_from_slice(b"5\r\nhello\r\n0\r\n\r\n");
    assert_eq!(p.poll(), Ev::Data(b"hello".to_vec()));
    let mut idle = Peer::new(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    idle.poll_all();
    assert!(!idle.conn.body_ends_within(&[b"anything"]));
}
