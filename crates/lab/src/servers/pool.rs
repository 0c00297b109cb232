//! A fixed pool of worker threads (the Tomcat / Apache worker model): an
//! acceptor thread hands accepted connections through a channel, and each
//! worker serves one connection at a time until it closes.
//!
//! Invariants:
//! - At most `workers` connections are served at once; the others wait in
//!   the channel, accepted but unanswered, until a worker frees up. With
//!   keep-alive clients a worker frees up only when its client leaves.
//! - Each worker keeps one blocking database connection for its life.

use std::io;
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};

use super::blocking::{serve_registered, wake_acceptor, Registry, Shared};
use super::RunningServer;
use crate::app::AppConfig;

/// Starts the model with `workers` threads on 127.0.0.1 (a free port).
pub fn start(cfg: AppConfig, workers: usize) -> io::Result<RunningServer> {
    let listener = super::bind()?;
    let addr = listener.local_addr()?;
    let shared: Shared = Arc::new((Registry::default(), cfg));
    let (tx, rx) = channel::<TcpStream>();
    let rx = Arc::new(Mutex::new(rx));
    let mut threads = Vec::with_capacity(workers + 1);
    for i in 0..workers.max(1) {
        let (sh, rx) = (shared.clone(), rx.clone());
        threads.push(
            std::thread::Builder::new()
                .name(format!("pool-worker-{i}"))
                .stack_size(super::threaded::STACK_SIZE)
                .spawn(move || worker(&sh, &rx))?,
        );
    }
    let sh = shared.clone();
    threads.push(
        std::thread::Builder::new()
            .name("pool-accept".into())
            .spawn(move || accept_loop(&listener, &sh, &tx))?,
    );
    Ok(RunningServer::new(addr, Vec::new(), move || {
        shared.0.shutdown_all();
        wake_acceptor(addr);
        for t in threads {
            let _ = t.join();
        }
    }))
}

fn accept_loop(listener: &TcpListener, shared: &Shared, tx: &Sender<TcpStream>) {
    for stream in listener.incoming() {
        if shared.0.is_stopping() {
            return;
        }
        match stream {
            Ok(s) => {
                if tx.send(s).is_err() {
                    return;
                }
            }
            // Out of descriptors, or a connection reset in the backlog.
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(10)),
        }
    }
}

fn worker(shared: &Shared, rx: &Mutex<Receiver<TcpStream>>) {
    let mut db = None;
    loop {
        let next = rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
        let Ok(stream) = next else { return };
        if shared.0.is_stopping() {
            return;
        }
        serve_registered(&shared.0, stream, &shared.1, &mut db);
    }
}
