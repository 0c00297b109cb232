//! `waiter demo`: a small JSON API that runs a typical request timeline
//! for real on one event loop.
//!
//! A request is parsed on the loop, its bearer token is checked with a
//! query, the handler queries the database, and the rows are formatted and
//! sent, all on the loop except the queries: SQLite runs on the worker
//! pool (one connection per worker thread, reused), so while one request
//! waits for its query the loop serves the others. `/aggregate` calls two upstream services at once
//! with waiter's HTTP client; `/file` reads files through the pool;
//! `/metrics` shows the loop's counters and its delay histogram.
//!
//! Everything the demo needs is created on first start in its data
//! directory (see [`default_data_dir`]): the SQLite database with its
//! schema, a seeded catalogue and an API token, and a README.
//!
//! ```no_run
//! use waiter_demo::DemoOptions;
//!
//! // What `waiter demo --port 8080` does: serve until Ctrl-C or SIGTERM.
//! let code = waiter_demo::run(DemoOptions::default());
//! # let _ = code;
//! ```

#![forbid(unsafe_code)]

mod app;
mod db;
mod gateway;
mod items;
mod ops;
mod schema;
mod search;
mod validate;

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::rc::Rc;
use std::time::{Duration, Instant};

use waiter_http::{Client, Server, ServerHandle};
use waiter_rt::signal::stop_signals;
use waiter_rt::Loop;

pub use gateway::{INVENTORY_DELAY, PRICING_DELAY};
pub use items::BODY_LIMIT;

/// The port `waiter demo` listens on unless told otherwise.
pub const DEFAULT_PORT: u16 = 8080;

/// How long a shutdown lets in-flight requests finish.
pub const GRACE: Duration = Duration::from_secs(10);

/// The database file's name in the data directory.
const DB_FILE: &str = "demo.sqlite";

/// How the demo is set up.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// The port to listen on (0 picks a free one).
    pub port: u16,
    /// The address to listen on.
    pub host: IpAddr,
    /// Where the database and README live; `None` for
    /// [`default_data_dir`]. Created if missing.
    pub data_dir: Option<PathBuf>,
    /// The base URL of the pricing and inventory services `/aggregate`
    /// calls; `None` starts built-in ones on the same loop.
    pub upstream: Option<String>,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            port: DEFAULT_PORT,
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            data_dir: None,
            upstream: None,
        }
    }
}

/// The data directory used when none is given:
/// `$XDG_DATA_HOME/waiter/demo`, else `$HOME/.local/share/waiter/demo`,
/// else `./waiter-demo-data`.
pub fn default_data_dir() -> PathBuf {
    let non_empty = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    if let Some(x) = non_empty("XDG_DATA_HOME") {
        return PathBuf::from(x).join("waiter").join("demo");
    }
    if let Some(h) = non_empty("HOME") {
        return PathBuf::from(h).join(".local/share/waiter/demo");
    }
    PathBuf::from("waiter-demo-data")
}

/// A running demo: the API server and, unless an upstream was configured,
/// the built-in upstream services.
pub struct DemoHandle {
    /// The API server.
    server: ServerHandle,
    /// The built-in pricing and inventory server, if started.
    upstream_server: Option<ServerHandle>,
    /// The base URL `/aggregate` calls.
    upstream: String,
    /// The API token.
    token: String,
    /// The data directory.
    data_dir: PathBuf,
    /// Items in the catalogue at startup.
    items: i64,
    /// Whether this start created the database and seeded it.
    seeded: bool,
}

impl fmt::Debug for DemoHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DemoHandle")
            .field("addr", &self.local_addr())
            .field("upstream", &self.upstream)
            .field("data_dir", &self.data_dir)
            .finish_non_exhaustive()
    }
}

impl DemoHandle {
    /// The address the API listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// The base URL a client on this machine should use
    /// (`http://127.0.0.1:PORT` when listening on every address).
    pub fn url(&self) -> String {
        let addr = self.local_addr();
        let ip = match addr.ip() {
            IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        format!("http://{}", SocketAddr::new(ip, addr.port()))
    }

    /// The API token (`Authorization: Bearer <token>`).
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The base URL of the upstream services.
    pub fn upstream(&self) -> &str {
        &self.upstream
    }

    /// Requests the API has served.
    pub fn requests(&self) -> u64 {
        self.server.requests()
    }

    /// Stops accepting, lets requests in flight finish for up to `grace`,
    /// then stops the built-in upstream.
    pub async fn shutdown(&self, grace: Duration) {
        self.server.shutdown(grace).await;
        if let Some(u) = &self.upstream_server {
            u.shutdown(grace).await;
        }
    }

    /// What `waiter demo` prints at startup: where it listens, the data
    /// directory, the token and `curl` lines to try.
    pub fn banner(&self) -> String {
        let url = self.url();
        let auth = format!("-H 'Authorization: Bearer {}'", self.token);
        let data = if self.seeded {
            format!("created, {} items seeded", self.items)
        } else {
            format!("{} items", self.items)
        };
        let upstream = match &self.upstream_server {
            Some(_) => format!(
                "{} (built in: pricing answers after {} ms, inventory after {} ms)",
                self.upstream,
                PRICING_DELAY.as_millis(),
                INVENTORY_DELAY.as_millis()
            ),
            None => self.upstream.clone(),
        };
        let body = r#"{"name":"Stoneware Teapot","price_cents":3900,"tags":["kitchen","gift"]}"#;
        format!(
            "waiter demo: a JSON API on one event loop, SQLite on the worker pool\n\
             \n  listening  {url}\
             \n  data       {} ({data})\
             \n  token      {}\
             \n  upstream   {upstream}\n\
             \nTry:\
             \n  curl -s {url}/health\
             \n  curl -s {auth} '{url}/items?limit=3'\
             \n  curl -s {auth} {url}/items/1\
             \n  curl -s {auth} '{url}/search?q=walnut+lamp'\
             \n  curl -s {auth} -H 'Content-Type: application/json' -d '{body}' {url}/items\
             \n  curl -s {auth} '{url}/aggregate?id=7'\
             \n  curl -s {auth} {url}/file\
             \n  curl -s {url}/metrics\n\
             \nCtrl-C to stop.",
            self.data_dir.display(),
            self.token,
        )
    }
}

/// Converts a startup failure of the database into an I/O error.
fn setup_error(e: waiter_web::WebError) -> io::Error {
    io::Error::other(format!("cannot set up the database: {}", e.detail))
}

/// Creates what is missing in the data directory, starts the upstream
/// services (unless configured) and the API server. Must run on a loop.
pub async fn serve(options: DemoOptions) -> io::Result<DemoHandle> {
    let data_dir = options.data_dir.clone().unwrap_or_else(default_data_dir);
    waiter_rt::fs::create_dir_all(&data_dir).await?;
    let db = db::Db::new(data_dir.join(DB_FILE));
    let setup = db.call(schema::setup).await.map_err(setup_error)?;
    let readme = data_dir.join(ops::README_NAME);
    if waiter_rt::fs::metadata(&readme).await.is_err() {
        waiter_rt::fs::write(&readme, ops::README_TEXT).await?;
    }
    let (upstream, upstream_server) = match options.upstream.clone() {
        Some(u) if u.starts_with("http://") => (u.trim_end_matches('/').to_owned(), None),
        Some(u) => {
            let msg = format!("--upstream must be an http:// URL, got {u:?}");
            return Err(io::Error::new(io::ErrorKind::InvalidInput, msg));
        }
        None => {
            let s = gateway::start_upstream()?;
            (format!("http://{}", s.local_addr()), Some(s))
        }
    };
    let ctx = Rc::new(app::Ctx {
        db,
        client: Client::new(),
        upstream: upstream.clone(),
        started: Instant::now(),
        delay: waiter_rt::monitor_event_loop_delay(ops::DELAY_RESOLUTION),
        data_dir: data_dir.clone(),
    });
    let addr = SocketAddr::new(options.host, options.port);
    let server = Server::builder().listen(addr, app::build(&ctx))?;
    Ok(DemoHandle {
        server,
        upstream_server,
        upstream,
        token: setup.token,
        data_dir,
        items: setup.items,
        seeded: setup.seeded,
    })
}

/// Runs the demo on a new loop until Ctrl-C or SIGTERM, then drains
/// requests in flight (up to [`GRACE`]) and returns success; prints the
/// banner on stdout and the reason on stderr if it cannot start.
pub fn run(options: DemoOptions) -> ExitCode {
    let lp = match Loop::new() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("waiter: cannot create the event loop: {e}");
            return ExitCode::FAILURE;
        }
    };
    lp.block_on(serve_until_signal(options))
}

/// Serves until a signal, then drains.
async fn serve_until_signal(options: DemoOptions) -> ExitCode {
    let mut stop = match stop_signals() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("waiter: cannot listen for signals: {e}");
            return ExitCode::FAILURE;
        }
    };
    let addr = SocketAddr::new(options.host, options.port);
    let demo = match serve(options).await {
        Ok(d) => d,
        Err(e) => {
            eprintln!("waiter: cannot start the demo on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("{}", demo.banner());
    stop.recv().await;
    tracing::info!("shutting down; letting requests in flight finish");
    demo.shutdown(GRACE).await;
    ExitCode::SUCCESS
}
