//! waiter's model: `waiter_http::Server` on one loop thread. A request
//! waiting on the database is a parked future, not a parked thread.
//!
//! The database is reached through [`MuxDb`]: a few persistent connections
//! (`AppConfig::db_connections`) shared by every request, each carrying
//! many queries at once; replies are matched to their requests by id.
//!
//! With `AppConfig::trace` set, the model records a timeline of its first
//! requests ([`crate::trace`]) and writes it when it stops.
//!
//! Invariants:
//! - Everything runs on the loop thread except CPU work sent to waiter's
//!   pool (`AppConfig::cpu_on_pool`).
//! - Without `AppConfig::trace`, tracing costs one check of a `None` per
//!   recording point (handler, query queued, batch written, reply read).
//! - A database connection that fails fails its waiting queries (503) and
//!   is skipped; when all have failed, one is reopened.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use waiter_http::{Request, Response, Server};
use waiter_rt::net::{TcpListener, TcpStream};

use super::RunningServer;
use crate::app::{self, unavailable, AppConfig, Wait};
use crate::local::{oneshot, Notify, Sender, StopSignal};
use crate::trace::{self, Recorder, Traced};

/// Starts the model on its own thread, on 127.0.0.1 (a free port).
pub fn start(cfg: AppConfig) -> io::Result<RunningServer> {
    let std_listener = super::bind()?;
    let addr = std_listener.local_addr()?;
    let stop = StopSignal::new();
    let s = stop.clone();
    let thread = std::thread::Builder::new()
        .name("event-loop".into())
        .spawn(move || {
            if let Err(e) = serve(std_listener, cfg, &s) {
                eprintln!("event-loop model: {e}");
            }
        })?;
    Ok(RunningServer::new(addr, Vec::new(), move || {
        stop.stop();
        let _ = thread.join();
    }))
}

/// Runs the server on a new loop until `stop` is set.
fn serve(listener: std::net::TcpListener, cfg: AppConfig, stop: &StopSignal) -> io::Result<()> {
    let lp = waiter_rt::Loop::new()?;
    let tracing = cfg.trace.as_ref().map(|t| {
        let rec = Recorder::new(t.requests);
        rec.install(&lp);
        (rec, t.out.clone())
    });
    let rec = tracing.as_ref().map(|(r, _)| r.clone());
    let served = lp.block_on(async move {
        let listener = TcpListener::from_std(listener)?;
        let db = Rc::new(MuxDb::new(cfg.db_addr, cfg.db_connections).with_trace(rec.clone()));
        if cfg.wait == Wait::Db {
            db.connect().await?;
        }
        let cfg = Rc::new(cfg);
        let server = Server::builder()
            .max_connections(1 << 20)
            .serve(listener, move |req: Request| {
                handle(req, cfg.clone(), db.clone(), rec.clone())
            })?;
        stop.stopped().await;
        drop(server);
        Ok(())
    });
    // The loop has ended: a blocking write no longer holds anything up.
    if let Some((rec, out)) = tracing {
        trace::write(&rec.finish(), &out)?;
    }
    served
}

/// The app on the loop; `trace` records the request when it is among the
/// first traced ones.
async fn handle(
    req: Request,
    cfg: Rc<AppConfig>,
    db: Rc<MuxDb>,
    trace: Option<Rc<Recorder>>,
) -> Response {
    let traced = match trace {
        None => None,
        Some(rec) => rec.enter(),
    };
    let response = respond(&req, &cfg, &db, traced.as_ref()).await;
    if let Some(t) = traced {
        t.returned();
    }
    response
}

/// The app's work for one request.
async fn respond(req: &Request, cfg: &AppConfig, db: &MuxDb, traced: Option<&Traced>) -> Response {
    let id = app::item_id(req.target());
    let row = match cfg.wait {
        Wait::Db => match db.query_traced(id, traced).await {
            Some(row) => row,
            None => return Response::new(unavailable()),
        },
        Wait::Timer => {
            if let Some(t) = traced {
                t.wait_start();
            }
            waiter_rt::sleep(cfg.delay).await;
            if let Some(t) = traced {
                t.wait_end();
            }
            app::db_row(id)
        }
        Wait::None => app::db_row(id),
    };
    let iters = cfg.cpu_iters;
    if iters > 0 {
        if cfg.cpu_on_pool {
            let _ = waiter_rt::spawn_blocking(move || app::burn(iters)).await;
        } else {
            app::burn(iters);
        }
    }
    Response::json_bytes(app::render_body(&row))
}

/// A few persistent database connections shared by every request.
#[derive(Debug)]
pub struct MuxDb {
    /// The service.
    addr: Option<SocketAddr>,
    /// The connections; `None` before [`MuxDb::connect`] or after a failure.
    conns: Vec<RefCell<Option<Rc<MuxConn>>>>,
    /// Round-robin cursor.
    next: Cell<usize>,
    /// A reconnection is under way.
    reconnecting: Cell<bool>,
    /// The trace recorder, when tracing.
    trace: Option<Rc<Recorder>>,
}

impl MuxDb {
    /// `n` connections to the service at `addr`, opened by [`MuxDb::connect`].
    pub fn new(addr: Option<SocketAddr>, n: usize) -> MuxDb {
        MuxDb {
            addr,
            conns: (0..n.max(1)).map(|_| RefCell::new(None)).collect(),
            next: Cell::new(0),
            reconnecting: Cell::new(false),
            trace: None,
        }
    }

    /// Notes traced queries' writes and replies in `trace`.
    pub(crate) fn with_trace(mut self, trace: Option<Rc<Recorder>>) -> MuxDb {
        self.trace = trace;
        self
    }

    /// Opens every connection (without an address, none).
    pub async fn connect(&self) -> io::Result<()> {
        let Some(addr) = self.addr else {
            return Ok(());
        };
        for (i, slot) in self.conns.iter().enumerate() {
            let stream = TcpStream::connect_timeout(addr, Duration::from_secs(5)).await?;
            let _ = stream.set_nodelay(true);
            *slot.borrow_mut() = Some(MuxConn::start(stream, i, self.trace.clone()));
        }
        Ok(())
    }

    /// Queries row `id`; `None` if the database cannot be reached.
    pub async fn query(&self, id: u64) -> Option<Vec<u8>> {
        self.query_traced(id, None).await
    }

    /// [`query`](Self::query) for a request that may be traced.
    pub(crate) async fn query_traced(&self, id: u64, traced: Option<&Traced>) -> Option<Vec<u8>> {
        let conn = match self.pick() {
            Some(c) => c,
            None => self.reconnect().await?,
        };
        conn.send(id, traced).recv().await
    }

    /// The next live connection, round robin.
    fn pick(&self) -> Option<Rc<MuxConn>> {
        let n = self.conns.len();
        let start = self.next.get();
        self.next.set((start + 1) % n);
        (0..n).find_map(|k| {
            let slot = self.conns[(start + k) % n].borrow();
            slot.as_ref().filter(|c| c.alive.get()).cloned()
        })
    }

    /// Reopens the first connection when every one has failed; one
    /// attempt at a time (queries arriving meanwhile fail).
    async fn reconnect(&self) -> Option<Rc<MuxConn>> {
        if self.reconnecting.replace(true) {
            return None;
        }
        let r = TcpStream::connect_timeout(self.addr?, Duration::from_secs(5)).await;
        self.reconnecting.set(false);
        let stream = r.ok()?;
        let _ = stream.set_nodelay(true);
        let c = MuxConn::start(stream, 0, self.trace.clone());
        *self.conns[0].borrow_mut() = Some(c.clone());
        Some(c)
    }
}

/// Queries waiting for replies, by id (several may share an id).
type Pending = HashMap<u64, VecDeque<Sender<Vec<u8>>>>;

/// One multiplexed database connection.
#[derive(Debug)]
struct MuxConn {
    /// The socket: one reader task, one writer task.
    stream: TcpStream,
    /// Queries not yet written.
    out: RefCell<Vec<u8>>,
    /// Wakes the writer.
    notify: Notify,
    /// Queries waiting for their replies.
    pending: RefCell<Pending>,
    /// Cleared when the connection fails.
    alive: Cell<bool>,
    /// Its index among the model's connections (for the trace).
    index: usize,
    /// The trace recorder, when tracing.
    trace: Option<Rc<Recorder>>,
}

impl MuxConn {
    fn start(stream: TcpStream, index: usize, trace: Option<Rc<Recorder>>) -> Rc<MuxConn> {
        let c = Rc::new(MuxConn {
            stream,
            out: RefCell::new(Vec::with_capacity(1024)),
            notify: Notify::default(),
            pending: RefCell::new(HashMap::new()),
            alive: Cell::new(true),
            index,
            trace,
        });
        waiter_rt::spawn_named(trace::DB_READER, c.clone().read_loop()).detach();
        c
    }

    /// Queues `Q <id>` and returns where the reply will arrive.
    fn send(&self, id: u64, traced: Option<&Traced>) -> crate::local::Receiver<Vec<u8>> {
        let (tx, rx) = oneshot();
        if !self.alive.get() {
            return rx;
        }
        if let Some(t) = traced {
            t.query_queued(self.index, id);
        }
        self.pending
            .borrow_mut()
            .entry(id)
            .or_default()
            .push_back(tx);
        use std::io::Write;
        let _ = writeln!(self.out.borrow_mut(), "Q {id}");
        self.notify.notify();
        rx
    }

    /// Reads replies and hands them out; runs the writer alongside.
    async fn read_loop(self: Rc<Self>) {
        let writer = waiter_rt::spawn_named(trace::DB_WRITER, self.clone().write_loop());
        let mut buf = Vec::with_capacity(8192);
        let mut chunk = vec![0u8; 16 * 1024];
        'read: while let Ok(n @ 1..) = self.stream.read(&mut chunk).await {
            let read_at = self.trace.as_ref().map(|_| Instant::now());
            buf.extend_from_slice(&chunk[..n]);
            let mut start = 0;
            while let Some(nl) = buf[start..].iter().position(|&b| b == b'\n') {
                let Some((id, row)) = crate::db::parse_reply(&buf[start..start + nl]) else {
                    break 'read;
                };
                if let Some(tx) = self.take_waiter(id) {
                    if let (Some(rec), Some(at)) = (&self.trace, read_at) {
                        rec.replied(self.index, id, at);
                    }
                    tx.send(row.to_vec());
                }
                start += nl + 1;
            }
            buf.drain(..start);
        }
        self.alive.set(false);
        drop(writer);
        // Dropping the senders fails every waiting query.
        let pending = std::mem::take(&mut *self.pending.borrow_mut());
        drop(pending);
    }

    /// The oldest query waiting for `id`.
    fn take_waiter(&self, id: u64) -> Option<Sender<Vec<u8>>> {
        let mut pending = self.pending.borrow_mut();
        let q = pending.get_mut(&id)?;
        let tx = q.pop_front();
        if q.is_empty() {
            pending.remove(&id);
        }
        tx
    }

    /// Flushes queued queries.
    async fn write_loop(self: Rc<Self>) {
        let mut pending = Vec::with_capacity(1024);
        loop {
            self.notify.notified().await;
            std::mem::swap(&mut pending, &mut *self.out.borrow_mut());
            let batch = self.trace.as_ref().map(|rec| rec.take_batch(self.index));
            if self.stream.write_all(&pending).await.is_err() {
                let _ = self.stream.shutdown(std::net::Shutdown::Both);
                return;
            }
            if let (Some(rec), Some(batch)) = (&self.trace, batch) {
                rec.written(&batch);
            }
            pending.clear();
        }
    }
}
