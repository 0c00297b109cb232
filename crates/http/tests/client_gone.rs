//! A client that leaves while its handler runs: the handler is dropped (a
//! long poll does not hold its connection), unless half-close is on, in
//! which case a client that only ended its side still gets its response.

mod util;

use std::io::{Read, Write};
use std::net::Shutdown;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use util::{connect, read_to_close, start, status};
use waiter_http::{Request, Response, Server};

/// Counts handlers whose future was dropped before it finished.
struct Guard(Arc<AtomicUsize>);

impl Drop for Guard {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn long_poll(builder: waiter_http::ServerBuilder, dropped: Arc<AtomicUsize>) -> util::TestServer {
    start(builder, move || {
        let dropped = dropped.clone();
        move |_req: Request| {
            let guard = Guard(dropped.clone());
            async move {
                waiter_rt::sleep(Duration::from_millis(800)).await;
                std::mem::forget(guard);
                Response::text("late")
            }
        }
    })
}

fn wait_for(n: usize, counter: &AtomicUsize, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if counter.load(Ordering::SeqCst) >= n {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

#[test]
fn a_client_that_leaves_has_its_handler_dropped() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let srv = long_poll(Server::builder(), dropped.clone());
    for _ in 0..3 {
        let mut s = connect(srv.addr);
        s.write_all(b"GET /poll HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        std::thread::sleep(Duration::from_millis(50));
        drop(s);
    }
    assert!(
        wait_for(3, &dropped, Duration::from_millis(600)),
        "{} of 3 handlers dropped before they would have finished",
        dropped.load(Ordering::SeqCst)
    );
    // A client that stays gets its answer.
    let r = util::exchange(
        srv.addr,
        b"GET /poll HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(util::body(&r), "late");
    assert_eq!(dropped.load(Ordering::SeqCst), 3);
}

#[test]
fn with_half_close_a_client_that_ended_its_side_is_answered() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let srv = long_poll(Server::builder().half_close(true), dropped.clone());
    let mut s = connect(srv.addr);
    s.write_all(b"GET /poll HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    let r = read_to_close(&mut s);
    assert_eq!(status(&r), 200, "{r}");
    assert_eq!(util::body(&r), "late");
    assert_eq!(dropped.load(Ordering::SeqCst), 0);
}

#[test]
fn a_pipelined_request_is_not_taken_for_a_departure() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let srv = long_poll(Server::builder(), dropped.clone());
    let mut s = connect(srv.addr);
    s.write_all(b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    std::thread::sleep(Duration::from_millis(100));
    s.write_all(b"GET /2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut all = String::new();
    s.read_to_string(&mut all).unwrap();
    assert_eq!(all.matches("late").count(), 2, "{all}");
    assert_eq!(dropped.load(Ordering::SeqCst), 0);
}
