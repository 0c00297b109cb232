//! What a model costs: memory, threads, processes and CPU, read from
//! `/proc` for a process and all its descendants.
//!
//! - Memory: `VmRSS`/`VmHWM` from `/proc/<pid>/status`, and `Pss` from
//!   `/proc/<pid>/smaps_rollup`. RSS counts pages shared between processes
//!   (the binary, the libraries) once per process, which overstates a
//!   prefork server; PSS splits each shared page among its sharers and is
//!   the fair sum.
//! - Threads: `Threads` from `/proc/<pid>/status`, summed.
//! - CPU: `utime + stime` from `/proc/<pid>/stat`, in clock ticks.
//!
//! Invariants:
//! - A process that exits between listing and reading is skipped, never an
//!   error: every figure is a best-effort snapshot of a live tree.
//! - On a system without `/proc` every figure is zero.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// A snapshot of a process tree.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct TreeSample {
    /// Processes in the tree.
    pub processes: u64,
    /// Threads in all of them.
    pub threads: u64,
    /// Sum of current resident sets, bytes.
    pub rss_bytes: u64,
    /// Sum of peak resident sets (`VmHWM`), bytes.
    pub hwm_bytes: u64,
    /// Sum of proportional set sizes, bytes (0 if unavailable).
    pub pss_bytes: u64,
    /// CPU time used so far by all of them, seconds.
    pub cpu_secs: f64,
}

/// `pid` and every process descending from it.
pub fn process_tree(pid: u32) -> Vec<u32> {
    let mut parent_of = HashMap::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Some(p) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            if let Some(st) = read_stat(p) {
                parent_of.insert(p, st.ppid);
            }
        }
    }
    let mut tree = vec![pid];
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        tree.extend(
            parent_of
                .iter()
                .filter(|(_, pp)| **pp == parent)
                .map(|(p, _)| *p),
        );
        i += 1;
    }
    tree
}

/// Fields of `/proc/<pid>/stat` the lab uses.
struct Stat {
    /// Parent process id.
    ppid: u32,
    /// User plus system time, clock ticks.
    ticks: u64,
}

fn read_stat(pid: u32) -> Option<Stat> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(Stat {
        ppid: f.get(1)?.parse().ok()?,
        ticks: f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?,
    })
}

/// A numeric field of a `/proc` key-value file (0 if absent).
fn field(text: &str, key: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .unwrap_or(0)
}

/// A `kB` field of a `/proc` key-value file, in bytes.
fn kb_field(text: &str, key: &str) -> u64 {
    field(text, key) * 1024
}

/// Clock ticks per second (`getconf CLK_TCK`, else 100).
fn clock_ticks() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// Samples `pid` and its descendants; `pss` also reads `smaps_rollup`
/// (slower).
pub fn sample_tree(pid: u32, pss: bool) -> TreeSample {
    let mut t = TreeSample::default();
    for p in process_tree(pid) {
        let Ok(status) = std::fs::read_to_string(format!("/proc/{p}/status")) else {
            continue;
        };
        t.processes += 1;
        t.rss_bytes += kb_field(&status, "VmRSS");
        t.hwm_bytes += kb_field(&status, "VmHWM");
        t.threads += field(&status, "Threads");
        if pss {
            if let Ok(s) = std::fs::read_to_string(format!("/proc/{p}/smaps_rollup")) {
                t.pss_bytes += kb_field(&s, "Pss");
            }
        }
        let ticks = read_stat(p).map_or(0, |s| s.ticks) as f64 / clock_ticks();
        t.cpu_secs += ticks.max(scheduled_secs(p));
    }
    t
}

/// CPU time of `pid`'s live threads from `schedstat` (nanoseconds, so
/// precise where `stat`'s clock ticks round a lightly used process to 0;
/// `stat` still counts threads that have exited).
fn scheduled_secs(pid: u32) -> f64 {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0.0;
    };
    let ns: u64 = dir
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    ns as f64 / 1e9
}

/// The largest figures seen while sampling.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Peaks {
    /// Most processes at once.
    pub processes: u64,
    /// Most threads at once.
    pub threads: u64,
    /// Largest sum of resident sets, bytes.
    pub rss_bytes: u64,
    /// Largest sum of proportional set sizes, bytes.
    pub pss_bytes: u64,
}

impl Peaks {
    fn update(&mut self, s: &TreeSample) {
        self.processes = self.processes.max(s.processes);
        self.threads = self.threads.max(s.threads);
        self.rss_bytes = self.rss_bytes.max(s.rss_bytes);
        self.pss_bytes = self.pss_bytes.max(s.pss_bytes);
    }
}

/// Samples a process tree on a background thread until stopped.
#[derive(Debug)]
pub struct Sampler {
    /// Tells the thread to stop.
    stop: Arc<AtomicBool>,
    /// The sampling thread; returns the peaks and every sample.
    thread: Option<JoinHandle<Sampled>>,
}

/// What a [`Sampler`] saw.
#[derive(Debug, Clone, Default)]
pub struct Sampled {
    /// The largest figures.
    pub peaks: Peaks,
    /// Every sample, with when it was taken.
    pub samples: Vec<(Instant, TreeSample)>,
}

impl Sampled {
    /// The last sample taken before `t`.
    pub fn last_before(&self, t: Instant) -> Option<TreeSample> {
        self.samples
            .iter()
            .rev()
            .find(|(at, _)| *at < t)
            .map(|(_, s)| *s)
    }
}

impl Sampler {
    /// Samples `pid`'s tree every `every`.
    pub fn start(pid: u32, every: Duration) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::Builder::new()
            .name("lab-sampler".into())
            .spawn(move || {
                let mut out = Sampled::default();
                loop {
                    let done = s.load(Ordering::Relaxed);
                    let sample = sample_tree(pid, true);
                    out.peaks.update(&sample);
                    out.samples.push((Instant::now(), sample));
                    if done {
                        return out;
                    }
                    std::thread::sleep(every);
                }
            })
            .ok();
        Sampler { stop, thread }
    }

    /// Stops sampling and returns what it saw.
    pub fn finish(mut self) -> Sampled {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default()
    }
}

/// The machine, for reports.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    /// Logical CPUs.
    pub cores: usize,
    /// `model name` from `/proc/cpuinfo`.
    pub cpu_model: String,
    /// Total memory, bytes (`MemTotal`).
    pub memory_bytes: u64,
    /// `uname -sr`-like kernel string (`/proc/sys/kernel/osrelease`).
    pub kernel: String,
}

impl Machine {
    /// Reads the machine's description.
    pub fn detect() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name")?.split(':').nth(1))
            .unwrap_or("unknown")
            .trim()
            .to_owned();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        Machine {
            // Every CPU of the machine, whatever this process is pinned to.
            cores: cpuinfo
                .lines()
                .filter(|l| l.starts_with("processor"))
                .count()
                .max(1),
            cpu_model,
            memory_bytes: kb_field(&meminfo, "MemTotal"),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .unwrap_or_default()
                .trim()
                .to_owned(),
        }
    }
}
