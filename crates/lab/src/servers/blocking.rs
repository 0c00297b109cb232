//! One HTTP/1.1 connection served with blocking std sockets and
//! `waiter_proto::Conn`, shared by the thread, pool and prefork models.
//!
//! Invariants:
//! - Requests are answered in order, each as soon as its body has ended;
//!   responses to pipelined requests parsed from one read are written
//!   together.
//! - The connection ends when `Conn` says it is closed, on EOF, or on any
//!   socket error; [`Registry::shutdown_all`] makes a blocked read return.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use waiter_proto::{Conn, Event, Limits, ResponseHead, Target};

use crate::app::{self, unavailable, AppConfig, BlockingDb};

/// Serves HTTP on `stream` until the connection ends.
pub(crate) fn serve_connection(
    stream: &TcpStream,
    cfg: &AppConfig,
    db: &mut Option<BlockingDb>,
) -> io::Result<()> {
    let _ = stream.set_nodelay(true);
    let mut conn = Conn::new(Limits::default());
    let mut input = Vec::with_capacity(4096);
    let mut out = Vec::with_capacity(4096);
    let mut chunk = vec![0u8; 8192];
    let mut eof = false;
    loop {
        process(&mut conn, &mut input, &mut out, cfg, db);
        if !out.is_empty() {
            let mut s = stream;
            s.write_all(&out)?;
            out.clear();
        }
        if conn.is_closed() || eof || !conn.wants_read() {
            return Ok(());
        }
        let mut s = stream;
        match s.read(&mut chunk)? {
            0 => {
                eof = true;
                conn.read_eof();
            }
            n => input.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Runs `conn` over the buffered input, answering each complete request.
fn process(
    conn: &mut Conn,
    input: &mut Vec<u8>,
    out: &mut Vec<u8>,
    cfg: &AppConfig,
    db: &mut Option<BlockingDb>,
) {
    let mut target = Target::default();
    loop {
        let step = conn.poll_read(input);
        let stop = match step.event {
            Event::Request(mut req) => {
                target = std::mem::take(&mut req.head.target);
                false
            }
            Event::Data(_) => false,
            Event::End { .. } => {
                respond(conn, &target, out, cfg, db);
                false
            }
            Event::Error(_) => {
                let date = httpdate::fmt_http_date(std::time::SystemTime::now());
                conn.write_error_response(format!("date: {date}\r\n").as_bytes(), out);
                true
            }
            Event::NeedMore | Event::Paused | Event::Closed | Event::Upgrade => true,
        };
        input.drain(..step.consumed);
        if stop {
            return;
        }
    }
}

/// Runs the app and writes its response (503 if the database failed).
fn respond(
    conn: &mut Conn,
    target: &str,
    out: &mut Vec<u8>,
    cfg: &AppConfig,
    db: &mut Option<BlockingDb>,
) {
    let (head, body) = match app::handle_blocking(cfg, db, target) {
        Ok(body) => (app::response_head(), body),
        Err(_) => (ResponseHead::new(unavailable()), Vec::new()),
    };
    let r = conn
        .write_head(head, Some(body.len() as u64), out)
        .and_then(|()| conn.write_body(&body, out))
        .and_then(|()| conn.finish_response(out));
    debug_assert!(r.is_ok(), "response framing failed: {r:?}");
}

/// The open connections of a thread model, so stopping it can unblock
/// every worker stuck in a read.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    /// Set when the model stops.
    stopping: AtomicBool,
    /// Next key.
    next: AtomicU64,
    /// Clones of the open sockets.
    conns: Mutex<HashMap<u64, TcpStream>>,
}

impl Registry {
    /// Records `s`; returns its key, or `None` if the model is stopping.
    pub(crate) fn add(&self, s: &TcpStream) -> Option<u64> {
        let clone = s.try_clone().ok()?;
        let mut conns = self.conns.lock().unwrap_or_else(|e| e.into_inner());
        if self.is_stopping() {
            return None;
        }
        let key = self.next.fetch_add(1, Ordering::Relaxed);
        conns.insert(key, clone);
        Some(key)
    }

    /// Forgets a closed connection.
    pub(crate) fn remove(&self, key: u64) {
        self.conns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&key);
    }

    /// Whether the model is stopping.
    pub(crate) fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    /// Marks the model stopping and shuts every open socket down.
    pub(crate) fn shutdown_all(&self) {
        let conns = {
            let mut c = self.conns.lock().unwrap_or_else(|e| e.into_inner());
            self.stopping.store(true, Ordering::Release);
            std::mem::take(&mut *c)
        };
        for s in conns.values() {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

/// Serves one connection, registered in `reg` while it is open.
pub(crate) fn serve_registered(
    reg: &Registry,
    stream: TcpStream,
    cfg: &AppConfig,
    db: &mut Option<BlockingDb>,
) {
    let Some(key) = reg.add(&stream) else {
        return;
    };
    let _ = serve_connection(&stream, cfg, db);
    reg.remove(key);
}

/// Unblocks a thread stuck in `accept` on `addr` by connecting to it.
pub(crate) fn wake_acceptor(addr: std::net::SocketAddr) {
    let _ = TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(1));
}

/// Shared by a model's threads.
pub(crate) type Shared = Arc<(Registry, AppConfig)>;
