//! What the models that run another program ([`super::node`],
//! [`super::apache`]) share: finding the program, a private temporary
//! directory for the files the lab generates, and stopping a process tree
//! so that nothing outlives the model.
//!
//! Processes are signalled with the `kill` command (procps), so the lab
//! needs no `unsafe` call of its own. A process is identified by its id
//! and its start time (`/proc/<pid>/stat`), so a recycled id is never
//! signalled by mistake.

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::app;

/// A directory under the system's temporary directory, removed on drop.
#[derive(Debug)]
pub(crate) struct TempDir {
    /// Its path.
    path: PathBuf,
}

impl TempDir {
    /// Creates `waiter-lab-<what>-<pid>-<n>`, readable and traversable by
    /// every user (an Apache worker running as another user reads its
    /// files).
    pub(crate) fn new(what: &str) -> io::Result<TempDir> {
        use std::os::unix::fs::PermissionsExt;
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let base = std::env::temp_dir();
        loop {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let path = base.join(format!("waiter-lab-{what}-{}-{n}", std::process::id()));
            match std::fs::create_dir(&path) {
                Ok(()) => {
                    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
                    return Ok(TempDir { path });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Its path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `name` in the directory, readable by every user.
    pub(crate) fn write(&self, name: &str, contents: &str) -> io::Result<PathBuf> {
        use std::os::unix::fs::PermissionsExt;
        let p = self.path.join(name);
        std::fs::write(&p, contents)?;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644))?;
        Ok(p)
    }

    /// The last lines of a file in the directory (empty if unreadable).
    pub(crate) fn tail(&self, name: &str, lines: usize) -> String {
        let text = std::fs::read_to_string(self.path.join(name)).unwrap_or_default();
        let all: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        all[all.len().saturating_sub(lines)..].join(" / ")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// The first executable `name` on `PATH`, then in `extra` directories.
pub(crate) fn find_program(name: &str, extra: &[&str]) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(extra.iter().map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// The first line `program args` prints on stdout, if it runs.
pub(crate) fn first_line(program: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    Some(text.lines().next()?.trim().to_owned())
}

/// The effective user id of this process (from `/proc/self/status`).
pub(crate) fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let uids = status.lines().find_map(|l| l.strip_prefix("Uid:"))?;
    uids.split_whitespace().nth(1)?.parse().ok()
}

/// A process, named by its id and its start time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Proc {
    /// Its id.
    pub(crate) pid: u32,
    /// Its start time, clock ticks since boot.
    start: u64,
}

impl Proc {
    /// The process `pid` as it is now, if it exists.
    pub(crate) fn of(pid: u32) -> Option<Proc> {
        let (_, start) = stat(pid)?;
        Some(Proc { pid, start })
    }

    /// Whether it still runs (it exists, is the same process and is not a
    /// zombie).
    pub(crate) fn is_alive(self) -> bool {
        matches!(stat(self.pid), Some((state, start)) if start == self.start && state != 'Z' && state != 'X')
    }
}

/// The state letter and start time of `pid`, from `/proc/<pid>/stat`.
fn stat(pid: u32) -> Option<(char, u64)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some((f.first()?.chars().next()?, f.get(19)?.parse().ok()?))
}

/// `pid` and its descendants, as they are now.
pub(crate) fn tree(pid: u32) -> Vec<Proc> {
    crate::measure::process_tree(pid)
        .into_iter()
        .filter_map(Proc::of)
        .collect()
}

/// Sends `signal` (`TERM`, `KILL`) to those of `procs` still alive.
pub(crate) fn signal(procs: &[Proc], signal: &str) {
    let pids: Vec<String> = procs
        .iter()
        .filter(|p| p.is_alive())
        .map(|p| p.pid.to_string())
        .collect();
    if pids.is_empty() {
        return;
    }
    let _ = Command::new("kill")
        .arg("-s")
        .arg(signal)
        .args(&pids)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Waits up to `timeout` for `child` to exit; whether it did.
pub(crate) fn wait_exit(child: &mut Child, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(_)) | Err(_) => return true,
            Ok(None) if Instant::now() >= deadline => return false,
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// Ends `child` and every process under it: `polite` asks it to stop
/// (closing its stdin, a signal), then after `grace` whatever is left of
/// the tree is killed. Returns once no process of the tree runs.
pub(crate) fn stop_tree(child: &mut Child, grace: Duration, polite: impl FnOnce(&mut Child)) {
    let procs = tree(child.id());
    polite(child);
    if !wait_exit(child, grace) {
        signal(&tree(child.id()), "KILL");
        let _ = child.kill();
        let _ = child.wait();
    }
    // Descendants the parent did not reap before it exited.
    let deadline = Instant::now() + grace;
    while procs.iter().any(|p| p.is_alive()) {
        if Instant::now() >= deadline {
            signal(&procs, "KILL");
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The CPU time `iters` rounds of [`app::burn`] take on this thread (the
/// least of three runs): what the models written in other languages burn
/// per request in the CPU scenarios. CPU time, not wall time, so a busy
/// machine does not inflate it.
pub(crate) fn cpu_time_of(iters: u64) -> Duration {
    if iters == 0 {
        return Duration::ZERO;
    }
    (0..3)
        .map(|_| {
            let (t, cpu) = (Instant::now(), thread_cpu());
            app::burn(iters);
            match (cpu, thread_cpu()) {
                (Some(a), Some(b)) if b > a => b - a,
                _ => t.elapsed(),
            }
        })
        .min()
        .unwrap_or_default()
}

/// The CPU time this thread has run (`/proc/thread-self/schedstat`).
fn thread_cpu() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    Some(Duration::from_nanos(
        s.split_whitespace().next()?.parse().ok()?,
    ))
}
