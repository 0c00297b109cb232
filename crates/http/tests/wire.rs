//! The server on the wire: raw request bytes in, response bytes out.

mod util;

use std::io::Write;
use std::time::Duration;

use util::{body, connect, exchange, read_responses, read_to_close, start, status};
use waiter_http::{Request, Response, Server, StatusCode};

async fn echo(mut req: Request) -> Response {
    let mut n = 0;
    loop {
        match req.body_mut().chunk().await {
            Ok(Some(c)) => n += c.len(),
            Ok(None) => break,
            Err(waiter_http::BodyError::Parse(e)) => return Response::new(e.status()),
            Err(e) => return Response::text(e.to_string()).with_status(StatusCode::BAD_REQUEST),
        }
    }
    if req.path() == "/panic" {
        panic!("handler failed on purpose");
    }
    Response::text(format!("{} {} {}", req.method().as_str(), req.target(), n))
}

fn echo_server() -> util::TestServer {
    start(Server::builder(), || echo)
}

#[test]
fn keep_alive_then_close() {
    let srv = echo_server();
    let mut s = connect(srv.addr);
    s.write_all(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let r = read_responses(&mut s, 1);
    assert_eq!(status(&r[0]), 200);
    assert!(r[0].contains("keep-alive: timeout=65\r\n"), "{}", r[0]);
    assert!(r[0].to_ascii_lowercase().contains("\r\ndate: "));
    assert_eq!(body(&r[0]), "GET /a 0");
    s.write_all(b"GET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let rest = read_to_close(&mut s);
    assert!(rest.contains("connection: close"), "{rest}");
    assert_eq!(body(&rest), "GET /b 0");
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let srv = echo_server();
    let mut s = connect(srv.addr);
    let mut req = Vec::new();
    for i in 0..20 {
        req.extend_from_slice(format!("GET /{i} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
    }
    s.write_all(&req).unwrap();
    let r = read_responses(&mut s, 20);
    for (i, resp) in r.iter().enumerate() {
        assert_eq!(body(resp), format!("GET /{i} 0"));
    }
}

#[test]
fn head_gets_the_length_but_no_body() {
    let srv = echo_server();
    let r = exchange(
        srv.addr,
        b"HEAD /h HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status(&r), 200);
    assert!(r.contains("content-length: 9\r\n"), "{r}");
    assert_eq!(body(&r), "");
}

#[test]
fn http10_closes_unless_keep_alive_is_asked() {
    let srv = echo_server();
    let r = exchange(srv.addr, b"GET /old HTTP/1.0\r\n\r\n");
    assert_eq!(body(&r), "GET /old 0");
    let mut s = connect(srv.addr);
    s.write_all(b"GET /ka HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        .unwrap();
    let r = read_responses(&mut s, 1);
    assert!(r[0].contains("connection: keep-alive"), "{}", r[0]);
    s.write_all(b"GET /ka2 HTTP/1.0\r\n\r\n").unwrap();
    assert_eq!(body(&read_to_close(&mut s)), "GET /ka2 0");
}

#[test]
fn chunked_and_length_bodies_are_read() {
    let srv = echo_server();
    let r = exchange(
        srv.addr,
        b"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
          5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: v\r\n\r\n",
    );
    assert_eq!(body(&r), "POST /c 11");
    let r = exchange(
        srv.addr,
        b"PUT /l HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nConnection: close\r\n\r\nabcd",
    );
    assert_eq!(body(&r), "PUT /l 4");
}

#[test]
fn an_unread_body_is_skipped_and_the_connection_reused() {
    let srv = start(Server::builder(), || {
        |req: Request| async move { Response::text(req.target().to_owned()) }
    });
    let mut s = connect(srv.addr);
    s.write_all(b"POST /1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET /2 HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let r = read_responses(&mut s, 2);
    assert_eq!(body(&r[0]), "/1");
    assert_eq!(body(&r[1]), "/2");
}

#[test]
fn a_large_unread_body_is_not_read_to_its_end() {
    // A 100 MB upload to a handler that answers at once: the server sends
    // the answer and closes, rather than reading 100 MB it would drop.
    let srv = start(Server::builder(), || {
        |_req: Request| async move {
            Response::text("too big").with_status(StatusCode::from_u16(413).unwrap())
        }
    });
    let mut s = connect(srv.addr);
    s.write_all(b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n")
        .unwrap();
    s.write_all(&[b'x'; 64 * 1024]).unwrap();
    let started = std::time::Instant::now();
    let r = read_to_close(&mut s);
    assert_eq!(status(&r), 413, "{r}");
    assert_eq!(body(&r), "too big");
    // The head says the connection closes, rather than inviting reuse.
    assert!(r.contains("\r\nconnection: close\r\n"), "{r}");
    assert!(!r.contains("keep-alive"), "{r}");
    assert!(started.elapsed() < Duration::from_secs(4));
}

#[test]
fn expect_100_continue_is_sent_when_the_handler_reads() {
    let srv = echo_server();
    let mut s = connect(srv.addr);
    s.write_all(
        b"POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n",
    )
    .unwrap();
    let mut buf = [0u8; 64];
    let n = std::io::Read::read(&mut s, &mut buf).unwrap();
    assert_eq!(&buf[..n], b"HTTP/1.1 100 Continue\r\n\r\n");
    s.write_all(b"abc").unwrap();
    let r = read_responses(&mut s, 1);
    assert_eq!(body(&r[0]), "POST /e 3");
}

#[test]
fn unknown_expectation_gets_417() {
    let srv = echo_server();
    let r = exchange(
        srv.addr,
        b"GET / HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\n\r\n",
    );
    assert_eq!(status(&r), 417, "{r}");
}

#[test]
fn smuggling_vectors_get_400_and_close() {
    let srv = echo_server();
    let cases: &[(&[u8], u16)] = &[
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
        (b"GET / HTTP/1.1\nHost: x\n\n", 400),
        (b"GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
        (b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\n", 400),
    ];
    for (req, want) in cases {
        let r = exchange(srv.addr, req);
        assert_eq!(
            status(&r),
            *want,
            "{:?} -> {r}",
            String::from_utf8_lossy(req)
        );
        assert!(r.contains("connection: close"), "{r}");
    }
}

#[test]
fn bytes_no_request_line_may_hold_get_400_before_any_line_end() {
    let srv = echo_server();
    // The start of a TLS ClientHello, sent to the plain port: its client
    // then waits for an answer, so the server must not wait for a line end.
    let mut s = util::connect(srv.addr);
    s.write_all(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
        .unwrap();
    let started = std::time::Instant::now();
    let r = read_to_close(&mut s);
    assert_eq!(status(&r), 400, "{r:?}");
    assert!(r.contains("connection: close"), "{r}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn http2_and_later_versions_get_505() {
    let srv = echo_server();
    for req in [
        &b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"[..],
        b"GET / HTTP/2.0\r\nHost: x\r\n\r\n",
        b"GET / HTTP/3.0\r\nHost: x\r\n\r\n",
    ] {
        let r = exchange(srv.addr, req);
        assert!(
            r.starts_with("HTTP/1.1 505 HTTP Version Not Supported\r\n"),
            "{r:?}"
        );
        assert!(r.contains("connection: close\r\n"), "{r}");
    }
}

#[test]
fn oversized_heads_get_414_and_431() {
    let srv = echo_server();
    let target = |n: usize| {
        format!(
            "GET /{} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n",
            "a".repeat(n)
        )
    };
    // The request line has no budget of its own: it may use most of the
    // 16 KiB head.
    for n in [9_000, 16_000] {
        let head = target(n) + "\r\n";
        let r = exchange(srv.addr, head.as_bytes());
        assert_eq!(status(&r), 200, "target of {n} bytes");
        assert_eq!(body(&r).len(), n + 7, "target of {n} bytes");
    }
    // 414 only when the line alone is past the head limit.
    let long_target = target(20_000) + "\r\n";
    let r = exchange(srv.addr, long_target.as_bytes());
    assert_eq!(status(&r), 414);
    // A canned response carries Date, as every response (RFC 9110 6.6.1).
    assert!(util::has_current_date(&r), "{r}");
    assert!(r.contains("connection: close\r\n"), "{r}");
    // A line that fits and fields that take the head past the limit: 431.
    let big = target(15_000) + &format!("X-Big: {}\r\n\r\n", "b".repeat(2_000));
    assert_eq!(status(&exchange(srv.addr, big.as_bytes())), 431);
    let mut many = String::from("GET / HTTP/1.1\r\nHost: x\r\n");
    for i in 0..200 {
        many.push_str(&format!("X-{i}: v\r\n"));
    }
    many.push_str("\r\n");
    assert_eq!(status(&exchange(srv.addr, many.as_bytes())), 431);
}

#[test]
fn a_bad_request_after_good_pipelined_ones_is_answered_last() {
    let srv = echo_server();
    let r = exchange(
        srv.addr,
        b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\nGET /3 HTTP/1.1\r\nHost : x\r\n\r\n",
    );
    let parts = util::split_responses(r.as_bytes());
    assert_eq!(parts.len(), 3, "{r}");
    assert_eq!(body(&parts[0]), "GET /1 0");
    assert_eq!(body(&parts[1]), "GET /2 0");
    assert_eq!(status(&parts[2]), 400);
    assert!(util::has_current_date(&parts[2]), "{}", parts[2]);
}

#[test]
fn a_panicking_handler_gets_500_and_others_are_served() {
    let srv = echo_server();
    let r = exchange(srv.addr, b"GET /panic HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(status(&r), 500, "{r}");
    assert!(r.contains("connection: close"));
    let r = exchange(
        srv.addr,
        b"GET /fine HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(body(&r), "GET /fine 0");
}

#[test]
fn absolute_form_targets_are_passed_as_received() {
    let srv = echo_server();
    let r = exchange(
        srv.addr,
        b"GET http://example.test/p?q=1 HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(body(&r), "GET http://example.test/p?q=1 0");
}

#[test]
fn max_requests_per_socket_closes_after_the_last() {
    let srv = start(Server::builder().max_requests_per_socket(2), || echo);
    let mut s = connect(srv.addr);
    s.write_all(b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let all = read_to_close(&mut s);
    let parts = util::split_responses(all.as_bytes());
    assert_eq!(parts.len(), 2);
    assert!(parts[1].contains("connection: close"));
}

#[test]
fn handlers_run_concurrently_across_connections() {
    let srv = start(Server::builder(), || {
        |_req: Request| async move {
            waiter_rt::sleep(Duration::from_millis(200)).await;
            Response::new(StatusCode::NO_CONTENT)
        }
    });
    let start = std::time::Instant::now();
    let clients: Vec<_> = (0..50)
        .map(|_| {
            let a = srv.addr;
            std::thread::spawn(move || {
                exchange(a, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            })
        })
        .collect();
    for c in clients {
        assert_eq!(status(&c.join().unwrap()), 204);
    }
    let e = start.elapsed();
    assert!(
        e < Duration::from_millis(1500),
        "50 x 200 ms took {e:?}: not concurrent"
    );
}
