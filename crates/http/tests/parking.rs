//! Connections idle between requests are parked without a task and
//! restarted by their next bytes: requests after idle gaps, heads split
//! across a gap, request counts and timeouts carried across parks, a
//! handler that keeps its request, and the connection count.

mod util;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::rc::Rc;
use std::time::{Duration, Instant};

use util::{body, connect, read_responses, read_to_close, start, status};
use waiter_http::{BodyError, Request, Response, Server};

async fn echo(req: Request) -> Response {
    Response::text(req.target().to_owned())
}

/// Sends `GET target` on `s` and reads its one response.
fn get(s: &mut TcpStream, target: &str) -> String {
    s.write_all(format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .unwrap();
    read_responses(s, 1).remove(0)
}

#[test]
fn requests_after_idle_gaps_and_split_heads_are_served() {
    let srv = start(Server::builder().park_above(0), || echo);
    let mut s = connect(srv.addr);
    for i in 0..300 {
        let r = get(&mut s, &format!("/{i}"));
        assert_eq!(body(&r), format!("/{i}"));
        if i % 100 == 0 {
            // Long enough for the connection to park.
            std::thread::sleep(Duration::from_millis(30));
        }
    }
    // A head split across an idle gap: the first bytes restart the
    // connection, which then waits for the rest as a request in progress.
    s.write_all(b"GET /split HTTP/1.1\r\nHo").unwrap();
    std::thread::sleep(Duration::from_millis(100));
    s.write_all(b"st: x\r\n\r\n").unwrap();
    let r = read_responses(&mut s, 1);
    assert_eq!(body(&r[0]), "/split");
    // Two requests arriving together after a gap are both answered.
    std::thread::sleep(Duration::from_millis(50));
    s.write_all(b"GET /p1 HTTP/1.1\r\nHost: x\r\n\r\nGET /p2 HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let r = read_responses(&mut s, 2);
    assert_eq!((body(&r[0]), body(&r[1])), ("/p1", "/p2"));
}

#[test]
fn max_requests_per_socket_counts_across_idle_gaps() {
    let srv = start(
        Server::builder().park_above(0).max_requests_per_socket(3),
        || echo,
    );
    let mut s = connect(srv.addr);
    for i in 1..=2 {
        let r = get(&mut s, &format!("/{i}"));
        assert!(!r.contains("connection: close"), "{r}");
        std::thread::sleep(Duration::from_millis(100));
    }
    s.write_all(b"GET /3 HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let rest = read_to_close(&mut s);
    assert!(rest.contains("connection: close"), "{rest}");
    assert_eq!(body(&rest), "/3");
}

#[test]
fn idle_timeouts_depend_on_whether_a_request_was_served() {
    // Before the first request the head timeout applies, after it the
    // keep-alive timeout; both while the connection is parked.
    let builder = Server::builder()
        .park_above(0)
        .headers_timeout(Duration::from_millis(1000))
        .keep_alive_timeout(Duration::from_millis(3000));
    let srv = start(builder, || echo);
    let addr = srv.addr;
    let silent = std::thread::spawn(move || {
        let mut s = connect(addr);
        let t = Instant::now();
        assert_eq!(read_to_close(&mut s), "");
        t.elapsed()
    });
    let mut s = connect(addr);
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    for i in 0..2 {
        get(&mut s, &format!("/{i}"));
        std::thread::sleep(Duration::from_millis(200));
    }
    let t = Instant::now() - Duration::from_millis(200);
    assert_eq!(
        read_to_close(&mut s),
        "",
        "nothing is sent on an idle close"
    );
    let served = t.elapsed();
    let silent = silent.join().unwrap();
    assert!(
        silent >= Duration::from_millis(900) && silent < Duration::from_millis(2500),
        "never served: {silent:?}"
    );
    assert!(
        served >= Duration::from_millis(2900) && served < Duration::from_millis(5000),
        "served twice: {served:?}"
    );
}

#[test]
fn a_handler_that_keeps_its_request_does_not_break_the_connection() {
    let srv = start(Server::builder().park_above(0), || {
        |mut req: Request| async move {
            if req.path() == "/keep" {
                // The request (and its body) outlives the response.
                waiter_rt::spawn_local(async move {
                    waiter_rt::sleep(Duration::from_millis(300)).await;
                    let stale = req.body_mut().chunk().await;
                    assert!(matches!(stale, Err(BodyError::Gone)), "{stale:?}");
                })
                .detach();
                return Response::text("kept");
            }
            let n = req.body_mut().bytes(1 << 20).await.map_or(0, |b| b.len());
            Response::text(format!("{n}"))
        }
    });
    let mut s = connect(srv.addr);
    s.write_all(b"POST /keep HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        .unwrap();
    assert_eq!(body(&read_responses(&mut s, 1)[0]), "kept");
    std::thread::sleep(Duration::from_millis(100));
    s.write_all(b"POST /n HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
        .unwrap();
    assert_eq!(body(&read_responses(&mut s, 1)[0]), "3");
    // After the kept request is dropped, the connection parks and serves on.
    std::thread::sleep(Duration::from_millis(400));
    s.write_all(b"POST /n HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab")
        .unwrap();
    assert_eq!(body(&read_responses(&mut s, 1)[0]), "2");
}

#[test]
fn parked_connections_are_counted_and_close_when_the_client_does() {
    let lp = waiter_rt::Loop::new().unwrap();
    lp.block_on(async {
        let server = Server::builder()
            .park_above(0)
            .listen("127.0.0.1:0".parse().unwrap(), echo)
            .unwrap();
        let addr = server.local_addr();
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let clients = std::thread::spawn(move || {
            let mut held: Vec<_> = (0..20)
                .map(|i| {
                    let mut s = connect(addr);
                    get(&mut s, &format!("/{i}"));
                    s
                })
                .collect();
            rx.recv().unwrap();
            // Half end their side (the server closes too), half just close.
            for (i, s) in held.iter_mut().enumerate() {
                if i % 2 == 0 {
                    s.shutdown(Shutdown::Write).unwrap();
                    let mut rest = Vec::new();
                    s.read_to_end(&mut rest).unwrap();
                    assert!(rest.is_empty());
                }
            }
        });
        let server = Rc::new(server);
        while server.requests() < 20 {
            waiter_rt::sleep(Duration::from_millis(5)).await;
        }
        waiter_rt::sleep(Duration::from_millis(50)).await;
        assert_eq!(server.connections(), 20);
        assert_eq!(server.parked_connections(), 20);
        tx.send(()).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while server.connections() > 0 {
            assert!(Instant::now() < deadline, "{} left", server.connections());
            waiter_rt::sleep(Duration::from_millis(10)).await;
        }
        waiter_rt::spawn_blocking(move || clients.join().unwrap())
            .await
            .unwrap();
        // Still serving.
        let r = waiter_rt::spawn_blocking(move || {
            util::exchange(
                addr,
                b"GET /z HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            )
        })
        .await
        .unwrap();
        assert_eq!(status(&r), 200);
        server.shutdown(Duration::from_secs(1)).await;
    });
}

#[test]
fn a_small_server_parks_an_idle_connection_only_after_the_sweep_sees_it_idle() {
    let lp = waiter_rt::Loop::new().unwrap();
    lp.block_on(async {
        // Few connections (under the default `park_above`): a connection
        // keeps its task between quick requests, and parks once it has been
        // idle through a sweep.
        let server = Server::builder()
            .listen("127.0.0.1:0".parse().unwrap(), echo)
            .unwrap();
        let addr = server.local_addr();
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let client = std::thread::spawn(move || {
            let mut s = connect(addr);
            for i in 0..3 {
                get(&mut s, &format!("/{i}"));
            }
            rx.recv().unwrap();
            let r = get(&mut s, "/again");
            assert_eq!(body(&r), "/again");
        });
        while server.requests() < 3 {
            waiter_rt::sleep(Duration::from_millis(5)).await;
        }
        waiter_rt::sleep(Duration::from_millis(300)).await;
        assert_eq!(server.connections(), 1);
        assert_eq!(server.parked_connections(), 0, "parked too early");
        let deadline = Instant::now() + Duration::from_secs(4);
        while server.parked_connections() == 0 {
            assert!(Instant::now() < deadline, "never parked");
            waiter_rt::sleep(Duration::from_millis(50)).await;
        }
        // A parked connection still serves its next request.
        tx.send(()).unwrap();
        waiter_rt::spawn_blocking(move || client.join().unwrap())
            .await
            .unwrap();
        assert_eq!(server.requests(), 4);
    });
}

#[test]
fn past_park_above_idle_connections_park_at_once_and_the_rest_after_a_sweep() {
    let lp = waiter_rt::Loop::new().unwrap();
    lp.block_on(async {
        let server = Server::builder()
            .park_above(2)
            .listen("127.0.0.1:0".parse().unwrap(), echo)
            .unwrap();
        let addr = server.local_addr();
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let client = std::thread::spawn(move || {
            let mut conns: Vec<_> = (0..5).map(|_| connect(addr)).collect();
            for (i, s) in conns.iter_mut().enumerate() {
                get(s, &format!("/{i}"));
            }
            rx.recv().unwrap();
            // Parked or not, every connection serves its next request.
            for (i, s) in conns.iter_mut().enumerate() {
                let r = get(s, &format!("/again{i}"));
                assert_eq!(body(&r), format!("/again{i}"));
            }
        });
        while server.requests() < 5 {
            waiter_rt::sleep(Duration::from_millis(5)).await;
        }
        // Well before a sweep: two keep their task, three parked at once.
        waiter_rt::sleep(Duration::from_millis(100)).await;
        assert_eq!(server.connections(), 5);
        assert_eq!(server.parked_connections(), 3);
        // The two are parked once a sweep has seen them idle.
        let deadline = Instant::now() + Duration::from_secs(4);
        while server.parked_connections() < 5 {
            assert!(Instant::now() < deadline, "the idle tasks never parked");
            waiter_rt::sleep(Duration::from_millis(50)).await;
        }
        tx.send(()).unwrap();
        waiter_rt::spawn_blocking(move || client.join().unwrap())
            .await
            .unwrap();
        assert_eq!(server.requests(), 10);
        server.shutdown(Duration::from_secs(1)).await;
    });
}
