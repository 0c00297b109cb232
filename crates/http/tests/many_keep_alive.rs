//! 10,000 concurrent keep-alive connections on one server loop.
//!
//! The clients run in a child process (this binary, re-executed) on a
//! waiter loop of their own: each opens a connection, sends a request,
//! and keeps the connection open until every client has its first answer;
//! then each sends a second request on the same connection. So the server
//! holds all 10,000 open at once, idle between the two requests.
//!
//! This file has its own `main` (`harness = false`).

use std::cell::Cell;
use std::net::SocketAddr;
use std::process::Command;
use std::rc::Rc;
use std::time::{Duration, Instant};

use waiter_http::{Request, Response, Server};
use waiter_rt::net::TcpStream;

const CONNECTIONS: usize = 10_000;
/// Connections opened at once by the client, to stay within the backlog.
const CONNECT_LANES: usize = 256;

fn main() {
    waiter_rt::sys::raise_nofile_limit().unwrap();
    match std::env::var("WAITER_MANY_KEEP_ALIVE_CLIENT") {
        Ok(addr) => client(addr.parse().unwrap()),
        Err(_) => server(),
    }
}

fn server() {
    let start = Instant::now();
    let (max_conns, requests) = waiter_rt::run(async {
        let server = Server::builder()
            .listen("127.0.0.1:0".parse().unwrap(), |req: Request| async move {
                Response::text(req.target().to_owned())
            })
            .unwrap();
        let addr = server.local_addr();
        let mut child = Command::new(std::env::current_exe().unwrap())
            .env("WAITER_MANY_KEEP_ALIVE_CLIENT", addr.to_string())
            .spawn()
            .unwrap();
        let max = Rc::new(Cell::new(0usize));
        let (m, s) = (max.clone(), server.clone());
        let watch = waiter_rt::set_interval(Duration::from_millis(10), move || {
            m.set(m.get().max(s.connections()));
        });
        let status = waiter_rt::spawn_blocking(move || {
            let deadline = Instant::now() + Duration::from_secs(180);
            loop {
                if let Some(s) = child.try_wait().unwrap() {
                    return s;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    panic!("clients did not finish within 180 s");
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
        .await
        .unwrap();
        assert!(status.success(), "clients failed: {status}");
        watch.clear();
        server.shutdown(Duration::from_secs(5)).await;
        (max.get(), server.requests())
    });
    assert_eq!(requests, 2 * CONNECTIONS as u64);
    assert!(
        max_conns >= CONNECTIONS * 99 / 100,
        "only {max_conns} connections were open at once"
    );
    println!(
        "many_keep_alive: {CONNECTIONS} keep-alive connections, {requests} requests in {:?}",
        start.elapsed()
    );
    println!("test result: ok. 1 passed; 0 failed; 0 ignored");
}

async fn ask(s: &TcpStream, path: &str) {
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    // The response ends with its body, the path itself.
    while !got.ends_with(path.as_bytes()) {
        let n = s.read(&mut buf).await.unwrap();
        assert!(n > 0, "server closed early");
        got.extend_from_slice(&buf[..n]);
    }
    assert!(got.starts_with(b"HTTP/1.1 200 OK\r\n"));
}

fn client(addr: SocketAddr) {
    waiter_rt::run(async move {
        let streams: Rc<std::cell::RefCell<Vec<TcpStream>>> = Rc::default();
        let next = Rc::new(Cell::new(0usize));
        let lanes: Vec<_> = (0..CONNECT_LANES)
            .map(|_| {
                let (streams, next) = (streams.clone(), next.clone());
                waiter_rt::spawn_local(async move {
                    while next.get() < CONNECTIONS {
                        let i = next.get();
                        next.set(i + 1);
                        let s = TcpStream::connect_timeout(addr, Duration::from_secs(30))
                            .await
                            .expect("connect");
                        ask(&s, &format!("/first/{i}")).await;
                        streams.borrow_mut().push(s);
                    }
                })
            })
            .collect();
        for l in lanes {
            l.await.unwrap();
        }
        let streams = std::mem::take(&mut *streams.borrow_mut());
        assert_eq!(streams.len(), CONNECTIONS);
        let tasks: Vec<_> = streams
            .into_iter()
            .enumerate()
            .map(|(i, s)| {
                waiter_rt::spawn_local(async move { ask(&s, &format!("/second/{i}")).await })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    });
}
