//! Thread per connection: an acceptor thread starts one OS thread for each
//! connection, which parses with `waiter_proto`, blocks on its own database
//! connection and serves the connection until it closes.
//!
//! Invariants:
//! - A connection owns its thread and its database connection for its
//!   whole life, idle or not: memory grows with connections, not requests.
//! - Threads are spawned with a 256 KiB stack (touched pages are what
//!   count in RSS); if a thread cannot be spawned the connection is closed.

use std::io;
use std::net::TcpListener;
use std::sync::Arc;

use super::blocking::{serve_registered, wake_acceptor, Registry, Shared};
use super::RunningServer;
use crate::app::AppConfig;

/// Stack size of connection threads.
pub const STACK_SIZE: usize = 256 * 1024;

/// Starts the model on 127.0.0.1 (a free port).
pub fn start(cfg: AppConfig) -> io::Result<RunningServer> {
    let listener = super::bind()?;
    let addr = listener.local_addr()?;
    let shared: Shared = Arc::new((Registry::default(), cfg));
    let s = shared.clone();
    let acceptor = std::thread::Builder::new()
        .name("threaded-accept".into())
        .spawn(move || accept_loop(&listener, &s))?;
    Ok(RunningServer::new(addr, Vec::new(), move || {
        shared.0.shutdown_all();
        wake_acceptor(addr);
        let _ = acceptor.join();
    }))
}

fn accept_loop(listener: &TcpListener, shared: &Shared) {
    for stream in listener.incoming() {
        if shared.0.is_stopping() {
            return;
        }
        let Ok(stream) = stream else {
            // Out of descriptors, or a connection reset in the backlog.
            std::thread::sleep(std::time::Duration::from_millis(10));
            continue;
        };
        let sh = shared.clone();
        let spawned = std::thread::Builder::new()
            .name("threaded-conn".into())
            .stack_size(STACK_SIZE)
            .spawn(move || {
                let mut db = None;
                serve_registered(&sh.0, stream, &sh.1, &mut db);
            });
        if let Err(e) = spawned {
            eprintln!("threaded: cannot start a thread: {e}");
        }
    }
}
