//! Re-executing the current binary as a model server or a prefork worker.
//!
//! The lab measures each model in a process of its own, so the model's
//! memory and CPU are not mixed with the load generator's, and the prefork
//! model needs worker processes. Both re-execute
//! `std::env::current_exe()` with [`ENV_ROLE`] set; the binary's `main`
//! must call [`maybe_run_child`] before anything else:
//!
//! ```no_run
//! // First statement of `main`: returns unless this process is a lab child.
//! waiter_lab::maybe_run_child();
//! // ... the binary's own work ...
//! ```
//!
//! Roles:
//! - `model`: [`ENV_MODEL`] holds [`ModelOptions`] as JSON. The child
//!   starts the model, prints `listening <addr>` on stdout (followed by
//!   `root <pid>` when the model runs another program, node or apache2,
//!   whose process tree is then the one to measure; or `failed <why>`
//!   instead) and serves until its stdin closes.
//! - `prefork`: a prefork worker; see [`crate::servers::prefork`].
//!
//! Invariant: a child exits when its stdin closes, so children never
//! outlive the process that started them.

use std::io::{self, BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, Command, Stdio};

use crate::app::AppConfig;
use crate::servers::{self, external, ModelOptions};

/// Names the role of a re-executed child: `model` or `prefork`.
pub const ENV_ROLE: &str = "WAITER_LAB_ROLE";
/// The inherited listening descriptor of a prefork worker.
pub const ENV_FD: &str = "WAITER_LAB_FD";
/// The app's settings (JSON) of a prefork worker.
pub const ENV_APP: &str = "WAITER_LAB_APP";
/// The model's settings (JSON) of a model child.
pub const ENV_MODEL: &str = "WAITER_LAB_MODEL";

/// If this process was started by the lab as a child (a model server or a
/// prefork worker), runs that role and exits; otherwise returns at once.
/// Call it first thing in `main` of any binary that runs the lab.
pub fn maybe_run_child() {
    match std::env::var(ENV_ROLE).as_deref() {
        Ok("prefork") => run_prefork(),
        Ok("model") => run_model(),
        _ => {}
    }
}

/// Like [`maybe_run_child`], for binaries that start the prefork model
/// in-process ([`servers::start`]) but never run models as children.
pub fn maybe_run_prefork_child() {
    if std::env::var(ENV_ROLE).as_deref() == Ok("prefork") {
        run_prefork();
    }
}

fn fail(what: &str) -> ! {
    eprintln!("waiter-lab child: {what}");
    std::process::exit(2)
}

fn run_prefork() -> ! {
    let fd = std::env::var(ENV_FD)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fail("missing or bad WAITER_LAB_FD"));
    let cfg: AppConfig = std::env::var(ENV_APP)
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_else(|| fail("missing or bad WAITER_LAB_APP"));
    servers::prefork::run_worker(fd, &cfg)
}

fn run_model() -> ! {
    let opts: ModelOptions = std::env::var(ENV_MODEL)
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_else(|| fail("missing or bad WAITER_LAB_MODEL"));
    let server = match servers::start(&opts) {
        Ok(s) => s,
        Err(e) => {
            println!("failed {e}");
            fail(&format!("start: {e}"))
        }
    };
    match server.root_pid() {
        Some(root) => println!("listening {} root {root}", server.addr()),
        None => println!("listening {}", server.addr()),
    }
    let mut sink = Vec::new();
    let _ = io::stdin().read_to_end(&mut sink);
    server.stop();
    std::process::exit(0)
}

/// A model running in a child process; stopped when dropped.
#[derive(Debug)]
pub struct ModelProcess {
    /// The child.
    child: Child,
    /// Its stdin; closing it stops the child.
    stdin: Option<ChildStdin>,
    /// Where the model listens.
    addr: SocketAddr,
    /// The program the child started (node, apache2), if any.
    root: Option<u32>,
}

impl ModelProcess {
    /// Starts `opts` in a re-executed child, pinned to `cpus` (a `taskset
    /// -c` list) when given and `taskset` is installed. Returns once the
    /// model accepts connections. A model whose program is not installed
    /// fails at once with what to install.
    pub fn spawn(opts: &ModelOptions, cpus: Option<&str>) -> io::Result<ModelProcess> {
        opts.model.installed().map_err(io::Error::other)?;
        let exe = std::env::current_exe()?;
        let mut cmd = match cpus.filter(|_| has_taskset()) {
            Some(c) => {
                let mut cmd = Command::new("taskset");
                cmd.arg("-c").arg(c).arg(&exe);
                cmd
            }
            None => Command::new(&exe),
        };
        let json = serde_json::to_string(opts).map_err(io::Error::other)?;
        let mut child = cmd
            .env(ENV_ROLE, "model")
            .env(ENV_MODEL, json)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let stdin = child.stdin.take();
        let mut line = String::new();
        if let Some(out) = child.stdout.take() {
            BufReader::new(out).read_line(&mut line)?;
        }
        let mut words = line
            .trim()
            .strip_prefix("listening ")
            .unwrap_or_default()
            .split(' ');
        let addr = words.next().and_then(|a| a.parse().ok());
        let root = match (words.next(), words.next()) {
            (Some("root"), Some(pid)) => pid.parse().ok(),
            _ => None,
        };
        match addr {
            Some(addr) => Ok(ModelProcess {
                child,
                stdin,
                addr,
                root,
            }),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                Err(io::Error::other(
                    match line.trim().strip_prefix("failed ") {
                        Some(why) => why.to_owned(),
                        None => format!("model child did not start (said {line:?})"),
                    },
                ))
            }
        }
    }

    /// Where the model listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The root of the model's processes, to measure: the child, or the
    /// program it started for the models that run one (node, apache2).
    pub fn pid(&self) -> u32 {
        self.root.unwrap_or_else(|| self.child.id())
    }

    /// The re-executed child's process id.
    pub fn child_pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the child and waits for it (killing it after 5 s).
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        drop(self.stdin.take());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) | Err(_) => return,
                Ok(None) if std::time::Instant::now() >= deadline => break,
                Ok(None) => std::thread::sleep(std::time::Duration::from_millis(20)),
            }
        }
        // The child did not stop its model in time: end the program it
        // started too, so nothing outlives the step.
        let program = self.root.map(external::tree).unwrap_or_default();
        let _ = self.child.kill();
        let _ = self.child.wait();
        external::signal(&program, "KILL");
    }
}

impl Drop for ModelProcess {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Whether `taskset` can be run.
pub fn has_taskset() -> bool {
    Command::new("taskset")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
