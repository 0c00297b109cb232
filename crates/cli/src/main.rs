//! The `waiter` command.
//!
//! `main` parses the command line ([`args`]) and dispatches; each
//! subcommand's work lives in the library crates. `waiter serve` is a
//! static file server: `waiter_web`'s [`serve_dir`] with request logging,
//! on one event loop, draining on Ctrl-C or SIGTERM. `waiter demo` runs
//! [`waiter_demo`]'s API server.

mod args;
mod lab;

use std::io::IsTerminal;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tracing_subscriber::EnvFilter;
use waiter_http::{Server, ServerConfig};
use waiter_rt::signal::stop_signals;
use waiter_web::middleware::Logger;
use waiter_web::static_files::{serve_dir, ServeDirOptions};
use waiter_web::App;

use args::{Cli, Command, DemoArgs, ServeArgs};

/// How long a shutdown lets in-flight requests finish.
const GRACE: Duration = Duration::from_secs(10);

fn main() -> ExitCode {
    // The lab re-executes this binary as its server models and prefork
    // workers; those children must not parse the command line.
    waiter_lab::maybe_run_child();
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(a) => serve(a),
        Command::Demo(a) => demo(a),
        Command::Lab(a) => lab::lab(a),
        Command::Bench(a) => lab::bench(a),
    }
}

/// Logs to stderr, filtered by `RUST_LOG` (default `info`).
fn init_logging() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

/// The address `--host` names: an IP address (an IPv6 one with or without
/// brackets), or a host name resolved once at startup, before the loop
/// runs. Of a name's addresses the first IPv4 one is taken, as Go's
/// `net.Listen` does, else the first.
fn resolve_host(host: &str) -> Result<IpAddr, String> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if let Ok(ip) = bare.parse() {
        return Ok(ip);
    }
    let addrs: Vec<IpAddr> = (bare, 0)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve --host {host:?}: {e}"))?
        .map(|a| a.ip())
        .collect();
    addrs
        .iter()
        .find(|ip| ip.is_ipv4())
        .or(addrs.first())
        .copied()
        .ok_or_else(|| format!("--host {host:?} has no address"))
}

/// `waiter demo`.
fn demo(a: DemoArgs) -> ExitCode {
    let host = match resolve_host(&a.host) {
        Ok(ip) => ip,
        Err(e) => {
            eprintln!("waiter: {e}");
            return ExitCode::from(2);
        }
    };
    init_logging();
    waiter_demo::run(waiter_demo::DemoOptions {
        port: a.port,
        host,
        data_dir: a.data,
        upstream: a.upstream,
    })
}

/// `waiter serve`.
fn serve(a: ServeArgs) -> ExitCode {
    let config = ServerConfig::default();
    if a.print_config {
        println!("{config}");
        return ExitCode::SUCCESS;
    }
    init_logging();
    let ip = match resolve_host(&a.host) {
        Ok(ip) => ip,
        Err(e) => {
            eprintln!("waiter: {e}");
            return ExitCode::from(2);
        }
    };
    if !a.dir.is_dir() {
        eprintln!("waiter: {} is not a directory", a.dir.display());
        return ExitCode::from(2);
    }
    let opts = ServeDirOptions {
        listing: a.list,
        ..ServeDirOptions::default()
    };
    let mut app = App::new();
    app.use_(Logger::new())
        .fallback(serve_dir(a.dir.clone(), opts));
    let addr = SocketAddr::new(ip, a.port);
    waiter_rt::run(async move { run_server(addr, config, app, &a).await })
}

/// Listens, prints the URL, and waits for a signal to drain and stop.
async fn run_server(addr: SocketAddr, config: ServerConfig, app: App, a: &ServeArgs) -> ExitCode {
    let mut stop = match stop_signals() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("waiter: cannot listen for signals: {e}");
            return ExitCode::FAILURE;
        }
    };
    let server = match Server::builder().config(config).listen(addr, app) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("waiter: cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let listing = if a.list { "on" } else { "off" };
    println!(
        "Serving {} at http://{} (directory listing {listing}; Ctrl-C to stop)",
        a.dir.display(),
        server.local_addr()
    );
    stop.recv().await;
    tracing::info!("shutting down; letting requests in flight finish (Ctrl-C again to stop now)");
    // A second signal during the drain stops at once, as most servers do.
    let mut again = std::pin::pin!(stop.recv());
    let mut drain = std::pin::pin!(server.shutdown(GRACE));
    let drained = std::future::poll_fn(|cx| {
        use std::future::Future;
        match drain.as_mut().poll(cx) {
            std::task::Poll::Ready(()) => std::task::Poll::Ready(true),
            std::task::Poll::Pending => again.as_mut().poll(cx).map(|_| false),
        }
    })
    .await;
    if drained {
        ExitCode::SUCCESS
    } else {
        tracing::warn!("second signal; stopping without waiting for the connections left");
        ExitCode::from(130)
    }
}
