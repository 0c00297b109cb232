//! The command line, as `clap` parses it.
//!
//! Invariant: every subcommand listed here is implemented; `main`
//! dispatches on [`Command`] and nothing else.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// waiter: a one-thread, event-loop runtime and HTTP server.
#[derive(Debug, Parser)]
#[command(name = "waiter", version, about)]
pub(crate) struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Serve the files of a directory over HTTP (directory listing on).
    Serve(ServeArgs),
    /// Run a small JSON API (SQLite on the worker pool, auth, search, an
    /// API-gateway route, loop metrics); needs no setup.
    Demo(DemoArgs),
    /// Run one I/O-bound app on several server models (event loop, thread
    /// per connection, thread pool, prefork, Node.js, Apache) under the same load; print a
    /// table and write JSON and an HTML report.
    Lab(LabArgs),
    /// Load-test an HTTP URL (like wrk or autocannon).
    Bench(BenchArgs),
}

/// Options of `waiter lab`.
#[derive(Debug, Args)]
pub(crate) struct LabArgs {
    /// The full sweep (10 to 5,000 connections, 10 s steps) instead of the
    /// quick one (about a minute; 1.5 minutes with Node and Apache).
    #[arg(long)]
    pub(crate) full: bool,
    /// The quick sweep (the default; kept for scripts that say so).
    #[arg(long, conflicts_with = "full")]
    pub(crate) quick: bool,
    /// Models to run: event-loop, threaded, pool, prefork, node, apache
    /// (comma-separated; default: every one installed here).
    #[arg(long)]
    pub(crate) models: Option<String>,
    /// Scenarios: io, cpu, cpu-pool, idle (comma-separated).
    #[arg(long)]
    pub(crate) scenarios: Option<String>,
    /// Connection counts for the I/O sweep (comma-separated).
    #[arg(long)]
    pub(crate) concurrency: Option<String>,
    /// Wait on a timer instead of a network round trip to the database.
    #[arg(long)]
    pub(crate) timer: bool,
    /// Threads of the pool model.
    #[arg(long)]
    pub(crate) pool: Option<usize>,
    /// Processes of the prefork model.
    #[arg(long)]
    pub(crate) prefork: Option<usize>,
    /// Seconds per step.
    #[arg(long)]
    pub(crate) step: Option<f64>,
    /// Write every figure as JSON here.
    #[arg(long)]
    pub(crate) json: Option<PathBuf>,
    /// Write the HTML report here (default: under the data directory).
    #[arg(long)]
    pub(crate) html: Option<PathBuf>,
}

/// Options of `waiter bench`.
#[derive(Debug, Args)]
pub(crate) struct BenchArgs {
    /// The URL (http://host[:port]/path).
    pub(crate) url: String,
    /// Concurrent connections.
    #[arg(short, long, default_value_t = 64)]
    pub(crate) connections: usize,
    /// How long to run (e.g. 10s, 500ms, 1m).
    #[arg(short, long, default_value = "10s", value_parser = parse_duration)]
    pub(crate) duration: std::time::Duration,
    /// Stop after this many requests.
    #[arg(short = 'n', long)]
    pub(crate) requests: Option<u64>,
    /// Requests in flight per connection.
    #[arg(long, default_value_t = 1)]
    pub(crate) pipeline: usize,
    /// Open loop: this many requests per second in all, latency counted
    /// from each request's scheduled time.
    #[arg(long)]
    pub(crate) rate: Option<f64>,
    /// The request method.
    #[arg(short, long, default_value = "GET")]
    pub(crate) method: String,
    /// A header field, `Name: value` (repeatable).
    #[arg(short = 'H', long)]
    pub(crate) header: Vec<String>,
    /// The request body.
    #[arg(short, long)]
    pub(crate) body: Option<String>,
    /// Load threads, each with its own event loop.
    #[arg(short, long, default_value_t = 1)]
    pub(crate) threads: usize,
    /// A response slower than this counts as a timeout (e.g. 5s).
    #[arg(long, value_parser = parse_duration)]
    pub(crate) timeout: Option<std::time::Duration>,
    /// Write the full report as JSON here.
    #[arg(long)]
    pub(crate) json: Option<PathBuf>,
}

/// Parses `10s`, `500ms`, `2m` or a plain number of seconds.
fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let (num, unit) = match s.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let n: f64 = num.parse().map_err(|_| format!("not a duration: {s:?}"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        _ => return Err(format!("unknown unit in {s:?} (ms, s, m)")),
    };
    if !secs.is_finite() || secs < 0.0 {
        return Err(format!("not a duration: {s:?}"));
    }
    Ok(std::time::Duration::from_secs_f64(secs))
}

/// Options of `waiter serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// The directory to serve.
    #[arg(default_value = ".")]
    pub(crate) dir: PathBuf,
    /// The address to listen on: an IP address or a host name.
    #[arg(long, default_value = "127.0.0.1")]
    pub(crate) host: String,
    /// The port to listen on (0 picks a free one).
    #[arg(long, short, default_value_t = 8080)]
    pub(crate) port: u16,
    /// List directories without index.html (on by default; `--list=false`
    /// turns it off).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub(crate) list: bool,
    /// Print every limit and timeout in force, then exit.
    #[arg(long)]
    pub(crate) print_config: bool,
}

/// Options of `waiter demo`.
#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// The address to listen on: an IP address or a host name.
    #[arg(long, default_value = "127.0.0.1")]
    pub(crate) host: String,
    /// The port to listen on (0 picks a free one).
    #[arg(long, short, default_value_t = waiter_demo::DEFAULT_PORT)]
    pub(crate) port: u16,
    /// Where the database lives (default: $XDG_DATA_HOME/waiter/demo or
    /// ~/.local/share/waiter/demo); created on first start.
    #[arg(long)]
    pub(crate) data: Option<PathBuf>,
    /// Base URL of the pricing and inventory services /aggregate calls
    /// (default: built-in ones on the same loop).
    #[arg(long)]
    pub(crate) upstream: Option<String>,
}
