//! Graceful shutdown and `close_idle_connections`.

mod util;

use std::cell::RefCell;
use std::io::Write;
use std::rc::Rc;
use std::time::{Duration, Instant};

use util::{body, connect, read_responses, read_to_close};
use waiter_http::{Request, Response, Server};

#[test]
fn shutdown_finishes_in_flight_requests_and_closes_idle_ones() {
    // The client threads talk to a server on this thread's loop.
    let lp = waiter_rt::Loop::new().unwrap();
    lp.block_on(async {
        let server = Server::builder()
            .listen("127.0.0.1:0".parse().unwrap(), |req: Request| async move {
                if req.path() == "/slow" {
                    waiter_rt::sleep(Duration::from_millis(300)).await;
                }
                Response::text("done")
            })
            .unwrap();
        let addr = server.local_addr();
        // An idle keep-alive connection, and one with a request in flight.
        let idle = std::thread::spawn(move || {
            let mut s = connect(addr);
            s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
            read_responses(&mut s, 1);
            let t = Instant::now();
            let rest = read_to_close(&mut s);
            (rest, t.elapsed())
        });
        let busy = std::thread::spawn(move || {
            let mut s = connect(addr);
            s.write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap();
            read_to_close(&mut s)
        });
        while server.requests() < 2 {
            waiter_rt::sleep(Duration::from_millis(5)).await;
        }
        let t = Instant::now();
        server.shutdown(Duration::from_secs(5)).await;
        let took = t.elapsed();
        assert_eq!(server.connections(), 0);
        assert!(took < Duration::from_secs(2), "shutdown took {took:?}");
        let busy = waiter_rt::spawn_blocking(move || busy.join().unwrap())
            .await
            .unwrap();
        assert_eq!(body(&busy), "done");
        assert!(busy.contains("connection: close"), "{busy}");
        let (rest, _) = waiter_rt::spawn_blocking(move || idle.join().unwrap())
            .await
            .unwrap();
        assert_eq!(rest, "");
        // Nothing accepts any more.
        assert!(std::net::TcpStream::connect(addr).is_err());
    });
}

#[test]
fn shutdown_grace_period_cuts_off_stuck_handlers() {
    let lp = waiter_rt::Loop::new().unwrap();
    let finished = Rc::new(RefCell::new(false));
    let f = finished.clone();
    lp.block_on(async move {
        let server = Server::builder()
            .listen("127.0.0.1:0".parse().unwrap(), |_req: Request| async move {
                waiter_rt::sleep(Duration::from_secs(60)).await;
                Response::text("never")
            })
            .unwrap();
        let addr = server.local_addr();
        let client = std::thread::spawn(move || {
            let mut s = connect(addr);
            s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
            read_to_close(&mut s)
        });
        while server.requests() < 1 {
            waiter_rt::sleep(Duration::from_millis(5)).await;
        }
        let t = Instant::now();
        server.shutdown(Duration::from_millis(200)).await;
        let took = t.elapsed();
        assert!(took < Duration::from_secs(3), "{took:?}");
        let _ = waiter_rt::spawn_blocking(move || client.join().unwrap()).await;
        *f.borrow_mut() = true;
    });
    assert!(*finished.borrow());
}

#[test]
fn close_idle_connections_leaves_busy_ones() {
    let lp = waiter_rt::Loop::new().unwrap();
    lp.block_on(async {
        let server = Server::builder()
            .listen("127.0.0.1:0".parse().unwrap(), |req: Request| async move {
                if req.path() == "/slow" {
                    waiter_rt::sleep(Duration::from_millis(200)).await;
                }
                Response::text("ok")
            })
            .unwrap();
        let addr = server.local_addr();
        let idle = std::thread::spawn(move || {
            let mut s = connect(addr);
            s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
            read_responses(&mut s, 1);
            read_to_close(&mut s)
        });
        let busy = std::thread::spawn(move || {
            let mut s = connect(addr);
            s.write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap();
            read_responses(&mut s, 1).remove(0)
        });
        while server.requests() < 2 {
            waiter_rt::sleep(Duration::from_millis(5)).await;
        }
        waiter_rt::sleep(Duration::from_millis(20)).await;
        server.close_idle_connections();
        let idle_rest = waiter_rt::spawn_blocking(move || idle.join().unwrap())
            .await
            .unwrap();
        assert_eq!(idle_rest, "");
        let busy = waiter_rt::spawn_blocking(move || busy.join().unwrap())
            .await
            .unwrap();
        assert_eq!(body(&busy), "ok");
        server.shutdown(Duration::from_secs(1)).await;
    });
}
