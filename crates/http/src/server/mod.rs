//! The HTTP/1.1 server.
//!
//! A task per busy connection drives a [`waiter_proto::Conn`] over a
//! [`waiter_rt::net::TcpStream`] (`drive.rs`; `conn.rs` holds the state it
//! shares with request bodies and the sweep, `write.rs` writes responses).
//! Requests on one connection are answered in order, one at a time;
//! pipelined requests are parsed from the buffer as soon as the previous
//! response is written into the output buffer, so their responses are
//! coalesced into one write. A connection idle between requests has no task:
//! it is *parked* in the registry as its socket and a few fields, and a
//! readiness wakeup starts a task again (`park.rs`).
//!
//! **Timeouts** are enforced by one sweep per server, an unreferenced
//! interval that runs every [`SWEEP_INTERVAL`] and looks at each
//! connection's phase and the time it entered it (second granularity, no
//! timer per connection, as Node's `connectionsCheckingInterval`):
//!
//! | phase | limit | on expiry |
//! | --- | --- | --- |
//! | idle, before the first request | `headers_timeout` | close |
//! | idle between requests | `keep_alive_timeout` | close |
//! | receiving a request head | `headers_timeout` from its first byte | 408, close |
//! | receiving a request body | `request_timeout` from the head's first byte, until the whole body has arrived (read, or waiting in the socket) | 408 (if no response has begun), close |
//! | handler running | none (a departed client is noticed unless `half_close`) | |
//! | blocked writing | `write_timeout` since the last write that moved bytes | close |
//!
//! The idle rows apply alike to parked connections, from their record.

pub(crate) mod buf;
mod config;
pub(crate) mod conn;
mod drive;
mod park;
mod write;

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::{poll_fn, Future};
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use slab::Slab;
use waiter_proto::Limits;
use waiter_rt::net::{ListenOptions, TcpListener};

use crate::date::{DateCache, Lines};
use crate::{Request, Response};
pub use config::ServerConfig;
use conn::ConnShared;
use park::{Entry, ReadyQueue};

/// How often the timeout sweep runs.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(1);

/// Turns requests into responses.
///
/// The server is generic over its handler, so a handler's future lives
/// inside the connection's task rather than in a box of its own for every
/// request. A handler that chooses among futures of different types (a
/// router) returns a boxed future itself, and so may one whose future is
/// large: every busy connection's task has room for it.
pub trait Handler: 'static {
    /// The future of one response.
    type Future: Future<Output = Response> + 'static;

    /// Handles one request.
    fn call(&self, req: Request) -> Self::Future;
}

impl<F, Fut> Handler for F
where
    F: Fn(Request) -> Fut + 'static,
    Fut: Future<Output = Response> + 'static,
{
    type Future = Fut;

    fn call(&self, req: Request) -> Fut {
        self(req)
    }
}

/// The server's entry point.
#[derive(Debug, Default)]
pub struct Server;

impl Server {
    /// A builder with Node's defaults.
    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }
}

/// Configures and starts a server.
#[derive(Debug, Default, Clone)]
pub struct ServerBuilder {
    /// The settings.
    config: ServerConfig,
}

impl ServerBuilder {
    setter!(/// See [`ServerConfig::limits`].
        limits: Limits);
    setter!(/// See [`ServerConfig::headers_timeout`].
        headers_timeout: Duration);
    setter!(/// See [`ServerConfig::request_timeout`].
        request_timeout: Duration);
    setter!(/// See [`ServerConfig::keep_alive_timeout`].
        keep_alive_timeout: Duration);
    setter!(/// See [`ServerConfig::write_timeout`].
        write_timeout: Duration);
    setter!(/// See [`ServerConfig::max_requests_per_socket`].
        max_requests_per_socket: u64);
    setter!(/// See [`ServerConfig::max_connections`].
        max_connections: usize);
    setter!(/// See [`ServerConfig::linger`].
        linger: Duration);
    setter!(/// See [`ServerConfig::sendfile`].
        sendfile: bool);
    setter!(/// See [`ServerConfig::park_above`].
        park_above: usize);
    setter!(/// See [`ServerConfig::half_close`].
        half_close: bool);

    /// Replaces every setting.
    pub fn config(mut self, config: ServerConfig) -> Self {
        self.config = config;
        self
    }

    /// The settings so far.
    pub fn get_config(&self) -> &ServerConfig {
        &self.config
    }

    /// Binds `addr` and serves `handler` on the current loop.
    pub fn listen(self, addr: SocketAddr, handler: impl Handler) -> io::Result<ServerHandle> {
        let opts = ListenOptions {
            backlog: self.config.backlog,
            ..Default::default()
        };
        self.serve(opts.bind(addr)?, handler)
    }

    /// Serves `handler` on an already bound listener.
    pub fn serve(self, listener: TcpListener, handler: impl Handler) -> io::Result<ServerHandle> {
        let local_addr = listener.local_addr()?;
        let keep_alive_line = format!(
            "keep-alive: timeout={}\r\n",
            self.config.keep_alive_timeout.as_secs()
        );
        let inner = Rc::new(ServerInner {
            config: Rc::new(self.config),
            local_addr,
            conns: RefCell::new(Slab::new()),
            ready: Arc::new(ReadyQueue::default()),
            next_gen: Cell::new(0),
            idle_tasks: Cell::new(0),
            released: Cell::new(0),
            started: waiter_rt::time::now(),
            draining: Cell::new(false),
            accept_waker: RefCell::new(None),
            closed_wakers: RefCell::new(Vec::new()),
            accept_task: RefCell::new(None),
            resume_task: RefCell::new(None),
            sweep: RefCell::new(None),
            requests: Cell::new(0),
            lines: Rc::new(Lines {
                date: DateCache::new(),
                keep_alive: keep_alive_line.into_bytes().into(),
            }),
        });
        tracing::debug!(%local_addr, "HTTP server listening with:\n{}", inner.config);
        let handler = Rc::new(handler);
        let (i, h) = (inner.clone(), handler.clone());
        let task = waiter_rt::spawn_named("http accept", accept_loop(i, listener, h));
        *inner.accept_task.borrow_mut() = Some(task);
        let resume =
            waiter_rt::spawn_named("http resume", park::resume_loop(inner.clone(), handler));
        *inner.resume_task.borrow_mut() = Some(resume);
        let weak = Rc::downgrade(&inner);
        let sweep = waiter_rt::set_interval(SWEEP_INTERVAL, move || {
            if let Some(i) = weak.upgrade() {
                i.sweep();
            }
        });
        sweep.unref();
        *inner.sweep.borrow_mut() = Some(sweep);
        Ok(ServerHandle { inner })
    }
}

/// State shared by the accept loop, the connections and the handle.
pub(crate) struct ServerInner {
    /// The settings.
    pub(crate) config: Rc<ServerConfig>,
    /// The bound address.
    local_addr: SocketAddr,
    /// Open connections: running, or parked (see `park.rs`).
    conns: RefCell<Slab<Entry>>,
    /// Parked connections whose sockets became readable.
    ready: Arc<ReadyQueue>,
    /// Generation of the next park, so a stale wakeup finds no match.
    next_gen: Cell<u32>,
    /// Idle connections waiting with their task (at most `park_above`).
    pub(crate) idle_tasks: Cell<usize>,
    /// Connections parked or closed since freed memory was last handed
    /// back to the OS (see `ServerInner::sweep`).
    pub(crate) released: Cell<usize>,
    /// When the server started: parked connections count time from here.
    started: Instant,
    /// Set by `shutdown`: connections close after their current response.
    pub(crate) draining: Cell<bool>,
    /// The accept loop, waiting for a free connection slot.
    accept_waker: RefCell<Option<Waker>>,
    /// Tasks waiting for the server to close.
    closed_wakers: RefCell<Vec<Waker>>,
    /// The accept loop's task.
    accept_task: RefCell<Option<waiter_rt::JoinHandle<()>>>,
    /// The task that restarts parked connections.
    resume_task: RefCell<Option<waiter_rt::JoinHandle<()>>>,
    /// The timeout sweep.
    sweep: RefCell<Option<waiter_rt::Timer>>,
    /// Requests served.
    pub(crate) requests: Cell<u64>,
    /// The `date` and `keep-alive` field lines of its responses.
    lines: Rc<Lines>,
}

impl ServerInner {
    fn is_closed(&self) -> bool {
        self.accept_task.borrow().is_none() && self.conns.borrow().is_empty()
    }
}

async fn accept_loop<H: Handler>(server: Rc<ServerInner>, listener: TcpListener, handler: Rc<H>) {
    loop {
        poll_fn(|cx| {
            if server.conns.borrow().len() < server.config.max_connections {
                Poll::Ready(())
            } else {
                *server.accept_waker.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            }
        })
        .await;
        let (stream, remote) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::error!(error = %e, "accept failed; the server stops accepting");
                return;
            }
        };
        let _ = stream.set_nodelay(true);
        let shared = Rc::new(ConnShared::new(
            stream,
            remote,
            server.config.clone(),
            server.lines.clone(),
        ));
        let key = server.conns.borrow_mut().insert(Entry::Moving);
        server.start(key, shared, &handler);
    }
}

/// A running server.
#[derive(Clone)]
pub struct ServerHandle {
    inner: Rc<ServerInner>,
}

impl fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerHandle")
            .field("addr", &self.inner.local_addr)
            .field("connections", &self.connections())
            .finish()
    }
}

impl ServerHandle {
    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr
    }

    /// Open connections.
    pub fn connections(&self) -> usize {
        self.inner.conns.borrow().len()
    }

    /// Open connections that are idle and parked: no task, no buffer, only
    /// their socket and a few fields (see [`ServerConfig::park_above`]).
    pub fn parked_connections(&self) -> usize {
        self.inner
            .conns
            .borrow()
            .iter()
            .filter(|(_, e)| matches!(e, park::Entry::Parked(_)))
            .count()
    }

    /// Requests served so far.
    pub fn requests(&self) -> u64 {
        self.inner.requests.get()
    }

    /// The settings in force.
    pub fn config(&self) -> &ServerConfig {
        &self.inner.config
    }

    /// Closes every connection that is idle between requests (Node's
    /// `server.closeIdleConnections()`).
    pub fn close_idle_connections(&self) {
        self.inner.close_idle();
    }

    /// Stops accepting, lets in-flight requests finish (their connections
    /// close after the response), closes idle connections, and after
    /// `grace` cancels whatever is left. Returns when every connection is
    /// closed.
    pub async fn shutdown(&self, grace: Duration) {
        self.inner.draining.set(true);
        if let Some(t) = self.inner.accept_task.borrow_mut().take() {
            t.abort();
        }
        if let Some(s) = self.inner.sweep.borrow_mut().take() {
            s.clear();
        }
        // Nothing parks while draining, and the parked are closed now.
        self.close_idle_connections();
        if let Some(t) = self.inner.resume_task.borrow_mut().take() {
            t.abort();
        }
        if waiter_rt::timeout(grace, self.closed()).await.is_err() {
            let keys: Vec<usize> = self.inner.conns.borrow().iter().map(|(k, _)| k).collect();
            tracing::warn!(
                left = keys.len(),
                "shutdown grace period over; closing connections"
            );
            for key in keys {
                let task = self
                    .inner
                    .conns
                    .borrow_mut()
                    .get_mut(key)
                    .and_then(Entry::take_task);
                if let Some(t) = task {
                    t.abort();
                }
                self.inner.remove(key);
            }
            self.closed().await;
        }
    }

    /// Waits until the server has stopped accepting and every connection
    /// is closed (that is, forever, unless `shutdown` is called).
    pub async fn closed(&self) {
        poll_fn(|cx| {
            if self.inner.is_closed() {
                Poll::Ready(())
            } else {
                self.inner
                    .closed_wakers
                    .borrow_mut()
                    .push(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }
}
