//! The server models, each serving [`crate::app`] on 127.0.0.1.
//!
//! | model | how a request waits |
//! | --- | --- |
//! | [`Model::EventLoop`] | waiter's `Server` on one loop; the database call parks a future |
//! | [`Model::Threaded`] | one OS thread per connection, blocking sockets |
//! | [`Model::Pool`] | a fixed pool of worker threads, one connection each at a time |
//! | [`Model::Prefork`] | a fixed set of processes, one connection each at a time |
//!
//! Invariants:
//! - Every model parses requests and frames responses with
//!   `waiter_proto` and answers with the same body ([`crate::app`]).
//! - [`start`] returns once the model accepts connections; dropping or
//!   [`RunningServer::stop`]ping the result closes the listener and every
//!   connection and ends every thread or process the model started.

mod blocking;
pub mod event_loop;
pub mod pool;
pub mod prefork;
pub mod threaded;

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::app::AppConfig;

pub(crate) use blocking::serve_connection;

/// A server model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Model {
    /// waiter: one thread, one event loop.
    EventLoop,
    /// A thread per connection.
    Threaded,
    /// A fixed pool of worker threads (Tomcat, Apache worker).
    Pool,
    /// A fixed set of worker processes (Apache prefork).
    Prefork,
}

impl Model {
    /// Every model, in report order.
    pub const ALL: [Model; 4] = [
        Model::EventLoop,
        Model::Threaded,
        Model::Pool,
        Model::Prefork,
    ];

    /// The model's name on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Model::EventLoop => "event-loop",
            Model::Threaded => "threaded",
            Model::Pool => "pool",
            Model::Prefork => "prefork",
        }
    }
}

impl fmt::Display for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Model {
    type Err = String;

    fn from_str(s: &str) -> Result<Model, String> {
        Model::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| format!("unknown model {s:?} (event-loop, threaded, pool, prefork)"))
    }
}

/// Everything needed to start a model.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelOptions {
    /// Which model.
    pub model: Model,
    /// The app it serves.
    pub app: AppConfig,
    /// Worker threads of [`Model::Pool`].
    pub pool_workers: usize,
    /// Worker processes of [`Model::Prefork`].
    pub prefork_processes: usize,
}

impl ModelOptions {
    /// `model` with the default sizes (64 workers, 64 processes) and `app`.
    pub fn new(model: Model, app: AppConfig) -> ModelOptions {
        ModelOptions {
            model,
            app,
            pool_workers: 64,
            prefork_processes: 64,
        }
    }

    /// What the model runs on, for reports: e.g. `64 worker threads`.
    pub fn shape(&self) -> String {
        match self.model {
            Model::EventLoop => "1 loop thread (+ waiter's pool for CPU work)".into(),
            Model::Threaded => "1 acceptor + 1 thread per connection".into(),
            Model::Pool => format!("1 acceptor + {} worker threads", self.pool_workers),
            Model::Prefork => format!("{} worker processes", self.prefork_processes),
        }
    }
}

/// A model serving on 127.0.0.1; stops when dropped.
pub struct RunningServer {
    /// Where it listens.
    addr: SocketAddr,
    /// Ends it; taken by the first stop.
    stop: Option<Box<dyn FnOnce() + Send>>,
    /// Child processes it started (prefork), for measurements.
    child_pids: Vec<u32>,
}

impl fmt::Debug for RunningServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunningServer")
            .field("addr", &self.addr)
            .field("child_pids", &self.child_pids)
            .finish()
    }
}

impl RunningServer {
    pub(crate) fn new(
        addr: SocketAddr,
        child_pids: Vec<u32>,
        stop: impl FnOnce() + Send + 'static,
    ) -> RunningServer {
        RunningServer {
            addr,
            stop: Some(Box::new(stop)),
            child_pids,
        }
    }

    /// The address it serves on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The processes it started besides the current one.
    pub fn child_pids(&self) -> &[u32] {
        &self.child_pids
    }

    /// Stops it: closes the listener and the connections, ends its threads
    /// and processes.
    pub fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            s();
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            s();
        }
    }
}

/// The listen backlog of every model: waiter's default, so connections
/// beyond what a model accepts wait in the kernel the same way for all.
pub const BACKLOG: i32 = waiter_rt::net::DEFAULT_BACKLOG;

/// Binds a blocking listener on 127.0.0.1 (a free port) with [`BACKLOG`].
pub(crate) fn bind() -> io::Result<std::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let addr: SocketAddr = ([127, 0, 0, 1], 0).into();
    let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}

/// Starts `opts.model` in this process on 127.0.0.1 (a free port).
pub fn start(opts: &ModelOptions) -> io::Result<RunningServer> {
    let _ = waiter_rt::sys::raise_nofile_limit();
    match opts.model {
        Model::EventLoop => event_loop::start(opts.app.clone()),
        Model::Threaded => threaded::start(opts.app.clone()),
        Model::Pool => pool::start(opts.app.clone(), opts.pool_workers),
        Model::Prefork => prefork::start(opts.app.clone(), opts.prefork_processes),
    }
}
