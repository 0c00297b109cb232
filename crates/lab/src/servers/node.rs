//! Node.js: the app written in JavaScript (`node_app.js`, embedded in the
//! lab and written out to a temporary directory), served by Node's `http`
//! module on one event loop with the installed `node`.
//!
//! The JavaScript mirrors the event-loop model line for line: the same
//! routes and response bodies, the same database protocol over a few
//! persistent connections (`AppConfig::db_connections`) carrying many
//! queries each, replies matched by id, queries of one loop iteration
//! flushed in one write; `setTimeout` for [`Wait::Timer`]; CPU work burnt
//! on the loop. Node's keep-alive timeout and listen backlog are set to
//! waiter's defaults.
//!
//! CPU work is the same CPU *time* as the Rust models spend on
//! `AppConfig::cpu_iters` (measured here, then calibrated by the script
//! against its own hash loop at start-up), since the same iteration count
//! would measure the language, not the concurrency model. There is no
//! cpu-pool variant: Node has no pool for JavaScript work short of a
//! hand-built `worker_threads` pool, so asking for one is an error.
//!
//! Invariants:
//! - [`start`] returns once Node prints `listening <port>`, i.e. accepts.
//! - Node exits when its stdin (a pipe from the lab) closes, so it never
//!   outlives the process that started it; stopping waits for it to exit
//!   and removes the temporary directory.

use std::io::{self, BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use super::external::{self, TempDir};
use super::RunningServer;
use crate::app::{AppConfig, Wait};

/// The app, in JavaScript.
const APP_JS: &str = include_str!("node_app.js");

/// Why the model cannot run here.
pub const NOT_INSTALLED: &str = "node is not installed: apt-get install nodejs";

/// The installed `node`, or why there is none.
pub fn installed() -> Result<PathBuf, String> {
    external::find_program("node", &[]).ok_or_else(|| NOT_INSTALLED.to_owned())
}

/// `node --version` (e.g. `v20.20.2`), or empty when Node is missing.
pub fn version() -> &'static str {
    static V: OnceLock<String> = OnceLock::new();
    V.get_or_init(|| {
        installed()
            .ok()
            .and_then(|n| external::first_line(&n, &["--version"]))
            .unwrap_or_default()
    })
}

/// Starts Node serving the app on 127.0.0.1 (a free port).
pub fn start(cfg: AppConfig) -> io::Result<RunningServer> {
    let node = installed().map_err(io::Error::other)?;
    if cfg.cpu_on_pool && cfg.cpu_iters > 0 {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "node has no pool for CPU work (the cpu-pool scenario is for waiter's event loop)",
        ));
    }
    let dir = TempDir::new("node")?;
    let script = dir.write("app.js", APP_JS)?;
    let config = serde_json::json!({
        "wait": match cfg.wait {
            Wait::Db => "db",
            Wait::Timer => "timer",
            Wait::None => "none",
        },
        "db_host": cfg.db_addr.map(|a| a.ip().to_string()),
        "db_port": cfg.db_addr.map(|a| a.port()),
        "db_connections": cfg.db_connections.max(1),
        // Whole milliseconds, rounded up: the wait never ends early.
        "delay_ms": cfg.delay.as_micros().div_ceil(1000) as u64,
        "cpu_secs": external::cpu_time_of(cfg.cpu_iters).as_secs_f64(),
        "backlog": super::BACKLOG,
        "keep_alive_ms": waiter_http::ServerConfig::default().keep_alive_timeout.as_millis() as u64,
    });
    let stderr = std::fs::File::create(dir.path().join("stderr.log"))?;
    let mut child = Command::new(&node)
        .arg(&script)
        .arg(config.to_string())
        .env_remove("NODE_OPTIONS")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()?;
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        let _ = BufReader::new(out).read_line(&mut line);
    }
    let port = line
        .trim()
        .strip_prefix("listening ")
        .and_then(|p| p.parse::<u16>().ok());
    let Some(port) = port else {
        external::stop_tree(&mut child, Duration::from_secs(1), |c| {
            drop(c.stdin.take());
        });
        return Err(io::Error::other(format!(
            "node did not start: {}",
            dir.tail("stderr.log", 5)
        )));
    };
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let pid = child.id();
    Ok(RunningServer::external(addr, pid, move || {
        external::stop_tree(&mut child, Duration::from_secs(3), |c| {
            drop(c.stdin.take());
        });
        drop(dir);
    }))
}
