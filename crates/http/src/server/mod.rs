//! The HTTP/1.1 server.
//!
//! One task per connection drives a [`waiter_proto::Conn`] over a
//! [`waiter_rt::net::TcpStream`]; `server/conn.rs` describes a connection's life.
//! Requests on one connection are answered in order, one at a time;
//! pipelined requests are parsed from the buffer as soon as the previous
//! response is written into the output buffer, so their responses are
//! coalesced into one write.
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
//! | receiving a request body | `request_timeout` from the head's first byte | close |
//! | handler running | none | |
//! | blocked writing | `write_timeout` since the write began | close |

pub(crate) mod buf;
pub(crate) mod conn;

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::{poll_fn, Future};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::Duration;

use slab::Slab;
use waiter_proto::Limits;
use waiter_rt::net::{ListenOptions, TcpListener};

use crate::{Request, Response};
use conn::{ConnShared, Phase};

/// How often the timeout sweep runs.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(1);

/// Every limit and timeout the server enforces. Defaults follow Node.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Parsing limits (head size, header count, body size).
    pub limits: Limits,
    /// Time to receive a complete request head (Node: 60 s).
    pub headers_timeout: Duration,
    /// Time to receive a complete request, head and body (Node: 300 s).
    pub request_timeout: Duration,
    /// Idle time allowed between requests. 65 s outlasts the 60 s idle
    /// timeout of common load balancers, so they never reuse a connection
    /// the server is closing (the 502s Node users saw with 5 s).
    pub keep_alive_timeout: Duration,
    /// Time a write may stay blocked on a client that does not read.
    pub write_timeout: Duration,
    /// Requests served on one connection before it is closed (0: no limit).
    pub max_requests_per_socket: u64,
    /// Connections served at once; further clients wait in the backlog.
    pub max_connections: usize,
    /// Output buffered before the connection waits for the socket, and
    /// the point above which reading stops.
    pub write_high_water_mark: usize,
    /// How long a closing connection keeps reading after an error
    /// response, so the client sees the response rather than a reset.
    pub linger: Duration,
    /// The listen backlog.
    pub backlog: i32,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            limits: Limits::default(),
            headers_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(300),
            keep_alive_timeout: Duration::from_secs(65),
            write_timeout: Duration::from_secs(60),
            max_requests_per_socket: 0,
            max_connections: 16_384,
            write_high_water_mark: 64 * 1024,
            linger: Duration::from_secs(2),
            backlog: 1024,
        }
    }
}

impl fmt::Display for ServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let l = &self.limits;
        let rows: [(&str, String); 14] = [
            ("headers_timeout", format!("{:?}", self.headers_timeout)),
            ("request_timeout", format!("{:?}", self.request_timeout)),
            (
                "keep_alive_timeout",
                format!("{:?}", self.keep_alive_timeout),
            ),
            ("write_timeout", format!("{:?}", self.write_timeout)),
            (
                "max_requests_per_socket",
                self.max_requests_per_socket.to_string(),
            ),
            ("max_connections", self.max_connections.to_string()),
            (
                "write_high_water_mark",
                format!("{} bytes", self.write_high_water_mark),
            ),
            ("linger", format!("{:?}", self.linger)),
            ("backlog", self.backlog.to_string()),
            ("max_head_bytes", format!("{} bytes", l.max_head_bytes)),
            ("max_request_line", format!("{} bytes", l.max_request_line)),
            ("max_headers", l.max_headers.to_string()),
            (
                "max_chunk_ext_bytes",
                format!("{} bytes", l.max_chunk_ext_bytes),
            ),
            (
                "max_body",
                l.max_body
                    .map_or("unlimited".to_owned(), |b| format!("{b} bytes")),
            ),
        ];
        for (i, (k, v)) in rows.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{k:<24}{v}")?;
        }
        Ok(())
    }
}

/// Turns requests into responses.
pub trait Handler: 'static {
    /// Handles one request.
    fn call(&self, req: Request) -> Pin<Box<dyn Future<Output = Response>>>;
}

impl<F, Fut> Handler for F
where
    F: Fn(Request) -> Fut + 'static,
    Fut: Future<Output = Response> + 'static,
{
    fn call(&self, req: Request) -> Pin<Box<dyn Future<Output = Response>>> {
        Box::pin(self(req))
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

macro_rules! setter {
    ($(#[$m:meta])* $name:ident: $t:ty) => {
        $(#[$m])*
        pub fn $name(mut self, v: $t) -> Self {
            self.config.$name = v;
            self
        }
    };
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
            draining: Cell::new(false),
            accept_waker: RefCell::new(None),
            closed_wakers: RefCell::new(Vec::new()),
            accept_task: RefCell::new(None),
            sweep: RefCell::new(None),
            requests: Cell::new(0),
            keep_alive_line: keep_alive_line.into_bytes().into(),
        });
        tracing::debug!(%local_addr, "HTTP server listening with:\n{}", inner.config);
        let handler: Rc<dyn Handler> = Rc::new(handler);
        let i = inner.clone();
        let task = waiter_rt::spawn_named("http accept", accept_loop(i, listener, handler));
        *inner.accept_task.borrow_mut() = Some(task);
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

/// One open connection.
struct ConnEntry {
    /// Its shared state.
    shared: Rc<ConnShared>,
    /// Its task, to cancel it when a shutdown's grace period is over.
    task: Option<waiter_rt::JoinHandle<()>>,
}

/// State shared by the accept loop, the connections and the handle.
pub(crate) struct ServerInner {
    /// The settings.
    pub(crate) config: Rc<ServerConfig>,
    /// The bound address.
    local_addr: SocketAddr,
    /// Open connections, with their tasks.
    conns: RefCell<Slab<ConnEntry>>,
    /// Set by `shutdown`: connections close after their current response.
    pub(crate) draining: Cell<bool>,
    /// The accept loop, waiting for a free connection slot.
    accept_waker: RefCell<Option<Waker>>,
    /// Tasks waiting for the server to close.
    closed_wakers: RefCell<Vec<Waker>>,
    /// The accept loop's task.
    accept_task: RefCell<Option<waiter_rt::JoinHandle<()>>>,
    /// The timeout sweep.
    sweep: RefCell<Option<waiter_rt::Timer>>,
    /// Requests served.
    pub(crate) requests: Cell<u64>,
    /// The `keep-alive` field line every keep-alive response carries.
    keep_alive_line: Rc<[u8]>,
}

impl ServerInner {
    fn sweep(&self) {
        let now = waiter_rt::time::now();
        for c in self.all() {
            c.check_timeouts(now, &self.config);
        }
    }

    fn all(&self) -> Vec<Rc<ConnShared>> {
        self.conns
            .borrow()
            .iter()
            .map(|(_, c)| c.shared.clone())
            .collect()
    }

    fn remove(&self, key: usize) {
        let entry = self.conns.borrow_mut().try_remove(key);
        if let Some(mut e) = entry {
            // The task is finishing (it called us) or was aborted: detach so
            // dropping the handle cancels nothing.
            if let Some(t) = e.task.take() {
                t.detach();
            }
        }
        if let Some(w) = self.accept_waker.borrow_mut().take() {
            w.wake();
        }
        if self.is_closed() {
            for w in self.closed_wakers.borrow_mut().drain(..) {
                w.wake();
            }
        }
    }

    fn is_closed(&self) -> bool {
        self.accept_task.borrow().is_none() && self.conns.borrow().is_empty()
    }
}

async fn accept_loop(server: Rc<ServerInner>, listener: TcpListener, handler: Rc<dyn Handler>) {
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
            server.keep_alive_line.clone(),
        ));
        let key = server.conns.borrow_mut().insert(ConnEntry {
            shared: shared.clone(),
            task: None,
        });
        let (s, h) = (server.clone(), handler.clone());
        let task = waiter_rt::spawn_named("http connection", async move {
            conn::serve(&shared, &*h, &s).await;
            s.remove(key);
        });
        if let Some(e) = server.conns.borrow_mut().get_mut(key) {
            e.task = Some(task);
        }
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
        for c in self.inner.all() {
            if c.phase() == Phase::Idle {
                c.close();
            }
        }
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
        self.close_idle_connections();
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
                    .and_then(|e| e.task.take());
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
