//! The "database" the app queries: a line protocol over TCP with a fixed delay.
//!
//! A client sends `Q <id>\n`; after [`DbOptions::delay`] the service answers
//! `R <id> <json>\n`, where `<json>` is [`crate::app::db_row`]`(id)`, about
//! 40 bytes. Queries may be pipelined on one connection; each reply is
//! written when its own timer fires, so replies to queries sent together
//! come back together and a client multiplexing many requests over one
//! connection matches them by id.
//!
//! Invariants:
//! - The service runs on its own thread with its own waiter loop, so it
//!   never competes with the server under test for a loop.
//! - An in-flight query costs one timer entry and one small closure; no
//!   thread, buffer or task is held per query, so tens of thousands of
//!   queries may wait at once.
//! - A malformed line closes the connection; nothing else does, except the
//!   client or [`DbService::stop`].

use std::cell::RefCell;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use waiter_rt::net::{TcpListener, TcpStream};

use crate::local::{Notify, StopSignal};

/// The default query delay: a typical ~50 ms database call.
pub const DEFAULT_DELAY: Duration = Duration::from_millis(50);

/// Settings of the database service.
#[derive(Debug, Clone, Copy)]
pub struct DbOptions {
    /// How long each query takes before its reply is written.
    pub delay: Duration,
}

impl Default for DbOptions {
    fn default() -> Self {
        DbOptions {
            delay: DEFAULT_DELAY,
        }
    }
}

/// Counters shared with the service's thread.
#[derive(Debug, Default)]
struct Counters {
    /// Queries received.
    queries: AtomicU64,
    /// Replies written into connection buffers.
    replies: AtomicU64,
    /// Most queries waiting for their timers at once.
    peak_in_flight: AtomicU64,
}

/// A running database service; [`stop`](DbService::stop) or drop ends it.
#[derive(Debug)]
pub struct DbService {
    /// Where it listens.
    addr: SocketAddr,
    /// Tells the service's loop to end.
    stop: StopSignal,
    /// The service's thread.
    thread: Option<JoinHandle<()>>,
    /// Its counters.
    counters: Arc<Counters>,
}

impl DbService {
    /// Starts the service on 127.0.0.1 (a free port) on a new thread.
    pub fn start(opts: DbOptions) -> io::Result<DbService> {
        let std_listener = crate::servers::bind()?;
        let addr = std_listener.local_addr()?;
        let stop = StopSignal::new();
        let counters = Arc::new(Counters::default());
        let (s, c) = (stop.clone(), counters.clone());
        let thread = std::thread::Builder::new()
            .name("lab-db".into())
            .spawn(move || run(std_listener, opts, s, c))?;
        Ok(DbService {
            addr,
            stop,
            thread: Some(thread),
            counters,
        })
    }

    /// The service's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Queries received so far.
    pub fn queries(&self) -> u64 {
        self.counters.queries.load(Ordering::Relaxed)
    }

    /// Replies sent so far.
    pub fn replies(&self) -> u64 {
        self.counters.replies.load(Ordering::Relaxed)
    }

    /// The most queries that were waiting at once.
    pub fn peak_in_flight(&self) -> u64 {
        self.counters.peak_in_flight.load(Ordering::Relaxed)
    }

    /// Stops the service and waits for its thread.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for DbService {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The service thread: one loop until the stop signal.
fn run(listener: std::net::TcpListener, opts: DbOptions, stop: StopSignal, c: Arc<Counters>) {
    let _ = waiter_rt::sys::raise_nofile_limit();
    let lp = match waiter_rt::Loop::new() {
        Ok(lp) => lp,
        Err(e) => {
            eprintln!("lab db: cannot create a loop: {e}");
            return;
        }
    };
    lp.block_on(async move {
        let listener = match TcpListener::from_std(listener) {
            Ok(l) => l,
            Err(e) => return eprintln!("lab db: {e}"),
        };
        let in_flight = Rc::new(std::cell::Cell::new(0u64));
        let acceptor = waiter_rt::spawn_local(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                let conn = Rc::new(DbConn::new(
                    stream,
                    opts.delay,
                    c.clone(),
                    in_flight.clone(),
                ));
                waiter_rt::spawn_local(conn.serve()).detach();
            }
        });
        stop.stopped().await;
        acceptor.abort();
    });
}

/// One client connection.
struct DbConn {
    /// The socket, read by one task and written by another.
    stream: TcpStream,
    /// Replies waiting to be written.
    out: RefCell<Vec<u8>>,
    /// Wakes the writer when `out` gains bytes.
    notify: Notify,
    /// The query delay.
    delay: Duration,
    /// Service-wide counters.
    counters: Arc<Counters>,
    /// Queries waiting for their timers, service-wide.
    in_flight: Rc<std::cell::Cell<u64>>,
}

impl DbConn {
    fn new(
        stream: TcpStream,
        delay: Duration,
        counters: Arc<Counters>,
        in_flight: Rc<std::cell::Cell<u64>>,
    ) -> DbConn {
        DbConn {
            stream,
            out: RefCell::new(Vec::new()),
            notify: Notify::default(),
            delay,
            counters,
            in_flight,
        }
    }

    /// Reads queries until EOF, a malformed line or an error; a second task
    /// writes the replies meanwhile.
    async fn serve(self: Rc<Self>) {
        let writer = waiter_rt::spawn_local(self.clone().write_loop());
        let mut buf = Vec::with_capacity(4096);
        let mut chunk = [0u8; 4096];
        'read: loop {
            let n = match self.stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            buf.extend_from_slice(&chunk[..n]);
            let mut start = 0;
            while let Some(nl) = buf[start..].iter().position(|&b| b == b'\n') {
                let Some(id) = parse_query(&buf[start..start + nl]) else {
                    break 'read;
                };
                self.query(id);
                start += nl + 1;
            }
            buf.drain(..start);
        }
        drop(writer);
    }

    /// Arms the timer that answers query `id`.
    fn query(self: &Rc<Self>, id: u64) {
        self.counters.queries.fetch_add(1, Ordering::Relaxed);
        let n = self.in_flight.get() + 1;
        self.in_flight.set(n);
        self.counters.peak_in_flight.fetch_max(n, Ordering::Relaxed);
        let conn = self.clone();
        // Callback timers count from the loop's cached time, which is read
        // before the poll phase that delivered this query; add the time
        // since, so no reply comes early.
        let stale = std::time::Instant::now().saturating_duration_since(waiter_rt::time::now());
        waiter_rt::set_timeout(self.delay + stale, move || {
            conn.in_flight.set(conn.in_flight.get() - 1);
            conn.counters.replies.fetch_add(1, Ordering::Relaxed);
            write_reply(&mut conn.out.borrow_mut(), id);
            conn.notify.notify();
        });
    }

    /// Flushes replies as they are queued.
    async fn write_loop(self: Rc<Self>) {
        let mut pending = Vec::new();
        loop {
            self.notify.notified().await;
            std::mem::swap(&mut pending, &mut *self.out.borrow_mut());
            if self.stream.write_all(&pending).await.is_err() {
                return;
            }
            pending.clear();
        }
    }
}

/// Parses `Q <id>` (without the newline).
pub fn parse_query(line: &[u8]) -> Option<u64> {
    let rest = line.strip_prefix(b"Q ")?;
    std::str::from_utf8(rest).ok()?.trim_end().parse().ok()
}

/// Appends `R <id> <json>\n` to `out`.
pub fn write_reply(out: &mut Vec<u8>, id: u64) {
    use std::io::Write;
    let _ = write!(out, "R {id} ");
    crate::app::write_db_row(out, id);
    out.push(b'\n');
}

/// Parses a reply line (without the newline) into its id and JSON row.
pub fn parse_reply(line: &[u8]) -> Option<(u64, &[u8])> {
    let rest = line.strip_prefix(b"R ")?;
    let sp = rest.iter().position(|&b| b == b' ')?;
    let id = std::str::from_utf8(&rest[..sp]).ok()?.parse().ok()?;
    Some((id, &rest[sp + 1..]))
}
