//! The server models, each serving [`crate::app`] on 127.0.0.1.
//!
//! | model | how a request waits |
//! | --- | --- |
//! | [`Model::EventLoop`] | waiter's `Server` on one loop; the database call parks a future |
//! | [`Model::Threaded`] | one OS thread per connection, blocking sockets |
//! | [`Model::Pool`] | a fixed pool of worker threads, one connection each at a time |
//! | [`Model::Prefork`] | a fixed set of processes, one connection each at a time |
//! | [`Model::Node`] | Node.js (`node`), its `http` server on one loop; the database call is a callback (no cpu-pool variant) |
//! | [`Model::Apache`] | Apache prefork with mod_php (`apache2`): N processes, each blocked on its own database connection |
//!
//! The last two run the installed programs, when they are installed
//! ([`Model::installed`], [`Model::available`]): the app is written again
//! in JavaScript and in PHP, with byte for byte the same responses, and
//! the lab generates their files and configuration in a temporary
//! directory, removed when the model stops.
//!
//! Invariants:
//! - Every model answers with the same bytes ([`crate::app`]); those in
//!   Rust parse requests and frame responses with `waiter_proto`, Node and
//!   Apache with their own HTTP code.
//! - [`start`] returns once the model accepts connections; dropping or
//!   [`RunningServer::stop`]ping the result closes the listener and every
//!   connection and ends every thread or process the model started.

pub mod apache;
mod blocking;
pub mod event_loop;
pub(crate) mod external;
pub mod node;
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
    /// Node.js, when `node` is installed.
    Node,
    /// Apache prefork with mod_php, when `apache2` and mod_php are installed.
    Apache,
}

impl Model {
    /// Every model, in report order (whether installed or not).
    pub const ALL: [Model; 6] = [
        Model::EventLoop,
        Model::Threaded,
        Model::Pool,
        Model::Prefork,
        Model::Node,
        Model::Apache,
    ];

    /// The models that can run here: every model of [`Model::ALL`] whose
    /// program is installed.
    pub fn available() -> Vec<Model> {
        Model::ALL
            .into_iter()
            .filter(|m| m.installed().is_ok())
            .collect()
    }

    /// `Ok` if the model can run here, else what to install.
    pub fn installed(self) -> Result<(), String> {
        match self {
            Model::Node => node::installed().map(drop),
            Model::Apache => apache::installed().map(drop),
            _ => Ok(()),
        }
    }

    /// The model's name on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Model::EventLoop => "event-loop",
            Model::Threaded => "threaded",
            Model::Pool => "pool",
            Model::Prefork => "prefork",
            Model::Node => "node",
            Model::Apache => "apache",
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
            .ok_or_else(|| {
                format!("unknown model {s:?} (event-loop, threaded, pool, prefork, node, apache)")
            })
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
    /// Worker processes of [`Model::Prefork`] and [`Model::Apache`].
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
            Model::Node => format!(
                "node {}: 1 loop thread (+ libuv's threads)",
                node::version()
            ),
            Model::Apache => format!(
                "{} prefork: {} worker processes + 1 parent",
                apache::version(),
                self.prefork_processes
            ),
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
    /// The program it runs (node, apache2): the root of its processes.
    root: Option<u32>,
}

impl fmt::Debug for RunningServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunningServer")
            .field("addr", &self.addr)
            .field("child_pids", &self.child_pids)
            .field("root", &self.root)
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
            root: None,
        }
    }

    /// A model that runs another program, whose process `root` is the
    /// root of all the model's processes.
    pub(crate) fn external(
        addr: SocketAddr,
        root: u32,
        stop: impl FnOnce() + Send + 'static,
    ) -> RunningServer {
        RunningServer {
            addr,
            stop: Some(Box::new(stop)),
            child_pids: vec![root],
            root: Some(root),
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

    /// The process of the program the model runs (`node`, the `apache2`
    /// parent), whose tree holds every process of the model; `None` for
    /// the models that run in this process.
    pub fn root_pid(&self) -> Option<u32> {
        self.root
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
        Model::Node => node::start(opts.app.clone()),
        Model::Apache => apache::start(opts.app.clone(), opts.prefork_processes),
    }
}
