//! Apache prefork: N worker processes share one listening socket; each
//! blocks in `accept` and serves one connection at a time until it closes.
//!
//! The parent binds the listener, marks it inheritable
//! (`waiter_rt::sys::inheritable`) and re-executes
//! `std::env::current_exe()` N times with [`crate::child::ENV_ROLE`] set to
//! `prefork`, [`crate::child::ENV_FD`] naming the descriptor and
//! [`crate::child::ENV_APP`] holding the app's settings as JSON. The binary
//! must call [`crate::maybe_run_child`] (or
//! [`crate::maybe_run_prefork_child`]) first thing in `main`, which turns
//! such a process into a worker and never returns.
//!
//! Invariants:
//! - At most N connections are served at once; the rest wait in the
//!   kernel's backlog.
//! - A worker exits when its stdin (a pipe from the parent) closes, so
//!   workers never outlive the parent, even if it is killed.

use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::process::{Child, Command, Stdio};

use super::RunningServer;
use crate::app::AppConfig;
use crate::child::{ENV_APP, ENV_FD, ENV_ROLE};

/// Starts `processes` workers on 127.0.0.1 (a free port).
pub fn start(cfg: AppConfig, processes: usize) -> io::Result<RunningServer> {
    let listener = super::bind()?;
    let addr = listener.local_addr()?;
    waiter_rt::sys::inheritable(&listener)?;
    let exe = std::env::current_exe()?;
    let json = serde_json::to_string(&cfg).map_err(io::Error::other)?;
    let mut children: Vec<Child> = Vec::with_capacity(processes);
    for _ in 0..processes.max(1) {
        let spawned = Command::new(&exe)
            .env(ENV_ROLE, "prefork")
            .env(ENV_FD, listener.as_raw_fd().to_string())
            .env(ENV_APP, &json)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn();
        match spawned {
            Ok(c) => children.push(c),
            Err(e) => {
                stop_children(&mut children);
                return Err(e);
            }
        }
    }
    let pids = children.iter().map(Child::id).collect();
    Ok(RunningServer::new(addr, pids, move || {
        stop_children(&mut children);
        drop(listener);
    }))
}

fn stop_children(children: &mut Vec<Child>) {
    for c in children.iter_mut() {
        drop(c.stdin.take());
        let _ = c.kill();
    }
    for mut c in children.drain(..) {
        let _ = c.wait();
    }
}

/// The worker process: serves connections accepted on `fd` until stdin
/// closes. Never returns.
pub(crate) fn run_worker(fd: i32, cfg: &AppConfig) -> ! {
    let listener = match waiter_rt::sys::inherit_listener(fd) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("prefork worker: descriptor {fd}: {e}");
            std::process::exit(2);
        }
    };
    exit_when_stdin_closes();
    let mut db = None;
    loop {
        match listener.accept() {
            Ok((s, _)) => {
                let _ = super::serve_connection(&s, cfg, &mut db);
            }
            // Out of descriptors, or a connection reset in the backlog.
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(10)),
        }
    }
}

/// Ends the process once the parent closes our stdin (or dies).
pub(crate) fn exit_when_stdin_closes() {
    let _ = std::thread::Builder::new()
        .name("stdin-watch".into())
        .stack_size(64 * 1024)
        .spawn(|| {
            let mut sink = [0u8; 64];
            let mut stdin = io::stdin();
            while let Ok(n) = stdin.read(&mut sink) {
                if n == 0 {
                    break;
                }
            }
            std::process::exit(0);
        });
}
