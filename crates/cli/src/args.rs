//! The command line, as `clap` parses it.
//!
//! Invariant: every subcommand listed here is implemented; `main`
//! dispatches on [`Command`] and nothing else.

use std::net::IpAddr;
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
}

/// Options of `waiter serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// The directory to serve.
    #[arg(default_value = ".")]
    pub(crate) dir: PathBuf,
    /// The address to listen on.
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
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub(crate) host: IpAddr,
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
