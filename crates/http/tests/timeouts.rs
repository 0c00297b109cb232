//! Timeouts with scaled-down settings: slowloris heads, idle keep-alive,
//! slow bodies, and clients that stop reading.

mod util;

use std::io::{ErrorKind, Read, Write};
use std::time::{Duration, Instant};

use util::{connect, read_responses, read_to_close, start, status};
use waiter_http::{Body, Request, Response, Server};

fn quick() -> waiter_http::ServerBuilder {
    Server::builder()
        .headers_timeout(Duration::from_millis(1500))
        .keep_alive_timeout(Duration::from_millis(1500))
        .request_timeout(Duration::from_millis(2500))
        .write_timeout(Duration::from_millis(1500))
}

async fn ok(mut req: Request) -> Response {
    let n = req.body_mut().bytes(1 << 20).await.map_or(0, |b| b.len());
    Response::text(format!("{n}"))
}

#[test]
fn a_slowloris_head_gets_408_and_is_closed() {
    let srv = start(quick(), || ok);
    let mut s = connect(srv.addr);
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
    let t = Instant::now();
    // Trickle a header byte now and then; the head never completes.
    let mut got = String::new();
    for _ in 0..20 {
        std::thread::sleep(Duration::from_millis(200));
        if s.write_all(b"X").is_err() {
            break;
        }
        s.set_nonblocking(true).unwrap();
        let mut b = [0u8; 512];
        if let Ok(n) = s.read(&mut b) {
            got.push_str(&String::from_utf8_lossy(&b[..n]));
            break;
        }
        s.set_nonblocking(false).unwrap();
    }
    s.set_nonblocking(false).unwrap();
    got.push_str(&read_to_close(&mut s));
    let e = t.elapsed();
    assert_eq!(status(&got), 408, "{got:?}");
    assert!(util::has_current_date(&got), "{got:?}");
    assert!(
        e >= Duration::from_millis(1400) && e < Duration::from_secs(4),
        "{e:?}"
    );
}

#[test]
fn an_idle_keep_alive_connection_is_closed() {
    let srv = start(quick(), || ok);
    let mut s = connect(srv.addr);
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    read_responses(&mut s, 1);
    let t = Instant::now();
    let rest = read_to_close(&mut s);
    assert_eq!(rest, "", "nothing is sent on an idle close");
    let e = t.elapsed();
    assert!(
        e >= Duration::from_millis(1400) && e < Duration::from_secs(4),
        "{e:?}"
    );
}

#[test]
fn a_connection_that_never_sends_is_closed() {
    let srv = start(quick(), || ok);
    let mut s = connect(srv.addr);
    let t = Instant::now();
    assert_eq!(read_to_close(&mut s), "");
    assert!(t.elapsed() < Duration::from_secs(4));
}

/// Reads its request's body only after longer than the request timeout,
/// and answers with the body's length.
async fn read_late(mut req: Request) -> Response {
    waiter_rt::sleep(Duration::from_millis(3500)).await;
    let n = req.body_mut().bytes(1 << 20).await.map_or(0, |b| b.len());
    Response::text(format!("{n}"))
}

#[test]
fn a_request_that_has_arrived_is_not_cut_off_while_its_handler_runs() {
    // The whole body came with the head; the handler takes longer than
    // the request timeout before it reads it.
    let srv = start(quick(), || read_late);
    let r = util::exchange(
        srv.addr,
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
    );
    assert_eq!(status(&r), 200, "{r:?}");
    assert_eq!(util::body(&r), "5");
}

#[test]
fn a_body_waiting_unread_in_the_socket_has_arrived() {
    // The body comes after the head, so it waits in the socket, not in the
    // server's buffer, while the handler takes longer than the request
    // timeout before it reads it.
    let srv = start(quick(), || read_late);
    let big = "x".repeat(100_000);
    let chunked = format!("5\r\nhello\r\n{:x}\r\n{big}\r\n0\r\n\r\n", big.len());
    let cases = [
        ("Content-Length: 5", "hello".to_owned(), "5".to_owned()),
        (
            "Transfer-Encoding: chunked",
            chunked,
            format!("{}", 5 + big.len()),
        ),
    ];
    let runs: Vec<_> = cases
        .into_iter()
        .map(|(framing, body, want)| {
            let addr = srv.addr;
            std::thread::spawn(move || {
                let mut s = connect(addr);
                s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                let head =
                    format!("POST / HTTP/1.1\r\nHost: x\r\n{framing}\r\nConnection: close\r\n\r\n");
                s.write_all(head.as_bytes()).unwrap();
                std::thread::sleep(Duration::from_millis(300));
                s.write_all(body.as_bytes()).unwrap();
                let r = read_to_close(&mut s);
                assert_eq!(status(&r), 200, "{framing}: {r:?}");
                assert_eq!(util::body(&r), want, "{framing}");
            })
        })
        .collect();
    for r in runs {
        r.join().unwrap();
    }
}

#[test]
fn a_slow_body_hits_the_request_timeout() {
    let srv = start(quick(), || ok);
    let mut s = connect(srv.addr);
    s.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
        .unwrap();
    let t = Instant::now();
    let mut closed = false;
    let mut got = Vec::new();
    for _ in 0..40 {
        std::thread::sleep(Duration::from_millis(100));
        if s.write_all(b"d").is_err() {
            closed = true;
            break;
        }
        s.set_read_timeout(Some(Duration::from_millis(1))).unwrap();
        let mut b = [0u8; 64];
        match s.read(&mut b) {
            Ok(0) => {
                closed = true;
                break;
            }
            Ok(n) => got.extend_from_slice(&b[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => {
                closed = true;
                break;
            }
        }
    }
    assert!(closed, "the slow body was never cut off");
    // The client is told why, as Node's 408.
    let mut b = [0u8; 256];
    while let Ok(n @ 1..) = s.read(&mut b) {
        got.extend_from_slice(&b[..n]);
    }
    let got = String::from_utf8_lossy(&got);
    assert!(got.starts_with("HTTP/1.1 408 "), "{got:?}");
    assert!(util::has_current_date(&got), "{got:?}");
    let e = t.elapsed();
    assert!(
        e >= Duration::from_millis(2000) && e < Duration::from_secs(5),
        "{e:?}"
    );
}

#[test]
fn a_large_body_to_a_steady_slow_reader_is_not_cut_off() {
    // 40 MiB in memory (far more than the socket buffers hold), read at
    // about 16 MiB/s: longer than the write timeout in all, but never a
    // stall of it.
    let srv = start(quick(), || {
        |_req: Request| async move { Response::text(vec![b'x'; 40 << 20]) }
    });
    let mut s = connect(srv.addr);
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let started = Instant::now();
    let mut total = 0usize;
    let mut b = vec![0u8; 64 * 1024];
    loop {
        match s.read(&mut b) {
            Ok(0) => break,
            Ok(n) => total += n,
            Err(e) => panic!("after {total} bytes: {e}"),
        }
        std::thread::sleep(Duration::from_millis(4));
    }
    assert!(total > 40 << 20, "cut off after {total} bytes");
    assert!(
        started.elapsed() > Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_client_that_stops_reading_is_dropped_and_the_server_goes_on() {
    let srv = start(quick(), || {
        |req: Request| async move {
            if req.path() != "/forever" {
                return Response::text("ok");
            }
            let (tx, body) = Body::channel(4);
            waiter_rt::spawn_local(async move {
                let chunk = vec![b'x'; 64 * 1024];
                while tx.send(chunk.clone()).await.is_ok() {}
            })
            .detach();
            Response::new(waiter_http::StatusCode::OK).with_body(body)
        }
    });
    let mut s = connect(srv.addr);
    s.write_all(b"GET /forever HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    // Never read: the server's writes block, then the write timeout fires.
    std::thread::sleep(Duration::from_millis(3500));
    // Meanwhile and afterwards, other clients are served.
    let r = util::exchange(
        srv.addr,
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status(&r), 200);
    // The stuck connection was closed: reading drains what was buffered,
    // then hits the end (or a reset).
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut total = 0usize;
    let mut b = vec![0u8; 1 << 16];
    loop {
        match s.read(&mut b) {
            Ok(0) | Err(_) => break,
            Ok(n) => total += n,
        }
        assert!(total < 1 << 30, "the body never ended");
    }
}
