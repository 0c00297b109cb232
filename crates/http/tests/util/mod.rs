//! Helpers for the server tests: a server on its own loop thread, and raw
//! socket exchanges.
#![allow(dead_code, unreachable_pub)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::thread::JoinHandle;
use std::time::Duration;

use waiter_http::server::Handler;
use waiter_http::ServerBuilder;

#[derive(Default)]
struct Stop {
    flag: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

/// A server running on a loop in its own thread; stopped on drop.
pub struct TestServer {
    pub addr: SocketAddr,
    stop: Arc<Stop>,
    thread: Option<JoinHandle<()>>,
}

/// Starts `make()`'s handler with `builder` on 127.0.0.1.
pub fn start<H, F>(builder: ServerBuilder, make: F) -> TestServer
where
    F: FnOnce() -> H + Send + 'static,
    H: Handler,
{
    let stop = Arc::new(Stop::default());
    let s = stop.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        waiter_rt::run(async move {
            let server = builder
                .listen("127.0.0.1:0".parse().unwrap(), make())
                .unwrap();
            tx.send(server.local_addr()).unwrap();
            std::future::poll_fn(|cx| {
                if s.flag.load(Ordering::Acquire) {
                    return Poll::Ready(());
                }
                *s.waker.lock().unwrap() = Some(cx.waker().clone());
                if s.flag.load(Ordering::Acquire) {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            })
            .await;
            server.shutdown(Duration::from_millis(200)).await;
        })
    });
    let addr = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    TestServer {
        addr,
        stop,
        thread: Some(thread),
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.flag.store(true, Ordering::Release);
        if let Some(w) = self.stop.waker.lock().unwrap().take() {
            w.wake();
        }
        if let Some(t) = self.thread.take() {
            let r = t.join();
            if !std::thread::panicking() {
                r.unwrap();
            }
        }
    }
}

/// Connects with a 5 s read timeout.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s
}

/// Sends `req` and reads until the server closes the connection.
pub fn exchange(addr: SocketAddr, req: &[u8]) -> String {
    let mut s = connect(addr);
    s.write_all(req).unwrap();
    read_to_close(&mut s)
}

/// `GET path` over HTTP/1.1 with `Connection: close`; the whole reply.
pub fn get(addr: SocketAddr, path: &str) -> String {
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    exchange(addr, req.as_bytes())
}

/// The head of a response (up to the empty line), in lower case.
pub fn lower_head(resp: &str) -> String {
    resp.split("\r\n\r\n")
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}

/// Reads until EOF (or a reset, which also ends the response stream).
pub fn read_to_close(s: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("read failed: {e} after {:?}", String::from_utf8_lossy(&out)),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Reads until `n` complete responses with Content-Length bodies arrived.
pub fn read_responses(s: &mut TcpStream, n: usize) -> Vec<String> {
    let mut data = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let parsed = split_responses(&data);
        if parsed.len() >= n {
            return parsed;
        }
        let k = s.read(&mut buf).expect("read");
        assert!(k > 0, "closed after {:?}", String::from_utf8_lossy(&data));
        data.extend_from_slice(&buf[..k]);
    }
}

/// Splits a byte stream into complete responses (Content-Length framing).
pub fn split_responses(data: &[u8]) -> Vec<String> {
    let mut out = vec![];
    let mut rest = data;
    while let Some(end) = rest.windows(4).position(|w| w == b"\r\n\r\n") {
        let head = String::from_utf8_lossy(&rest[..end + 4]).into_owned();
        let len = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse::<usize>().unwrap())
            })
            .unwrap_or(0);
        if rest.len() < end + 4 + len {
            break;
        }
        out.push(String::from_utf8_lossy(&rest[..end + 4 + len]).into_owned());
        rest = &rest[end + 4 + len..];
    }
    out
}

/// The status code of a response.
pub fn status(resp: &str) -> u16 {
    resp.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Whether the head of a response has a `Date` field holding the current
/// time (within a few seconds).
#[allow(dead_code)]
pub fn has_current_date(resp: &str) -> bool {
    let head = resp.split("\r\n\r\n").next().unwrap_or("");
    let Some(value) = head.split("\r\n").find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("date").then(|| value.trim())
    }) else {
        return false;
    };
    let Ok(t) = httpdate::parse_http_date(value) else {
        return false;
    };
    let now = std::time::SystemTime::now();
    let skew = now.duration_since(t).unwrap_or_else(|e| e.duration());
    skew < Duration::from_secs(5)
}

/// The body of a response.
pub fn body(resp: &str) -> &str {
    resp.split_once("\r\n\r\n").map_or("", |(_, b)| b)
}

/// Runs a client command, failing the test if it fails; returns its stdout.
pub fn run(cmd: &mut std::process::Command) -> String {
    let out = cmd.output().expect("client not installed");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}
