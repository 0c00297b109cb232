//! The orchestration: scenarios × models × concurrency levels, each step a
//! fresh model process under the same load, measured from the outside.
//!
//! One step: start the database service (once per run, in this process),
//! start the model in a re-executed child pinned to [`LabOptions::model_cpus`],
//! sample its baseline, run [`crate::load::run`] from this process (pinned
//! to [`LabOptions::load_cpus`]) while a sampler records the child's peaks,
//! then stop the child. A fresh child per step makes its peak memory that
//! of the step alone.
//!
//! After the sweep, one more step ([`crate::trace::record`]) starts the
//! event-loop model with tracing on and sends it four staggered requests:
//! the report's timeline.
//!
//! Invariants:
//! - Every model of a run serves the same app with the same settings.
//! - A step that fails (the model does not start) is recorded with its
//!   error and the run goes on.
//! - This process's CPU affinity is restored when the run ends.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::app::{self, AppConfig, Wait};
use crate::child::{has_taskset, ModelProcess};
use crate::db::{DbOptions, DbService};
use crate::load::{self, LoadOptions};
use crate::measure::{self, Machine, Peaks, Sampler, TreeSample};
use crate::report::{LabReport, Settings, StepResult};
use crate::servers::{Model, ModelOptions};

/// What a step measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// The I/O-bound request, swept over concurrency.
    Io,
    /// The request plus CPU work on the serving thread.
    Cpu,
    /// The same CPU work, sent to waiter's pool by the event-loop model.
    CpuPool,
    /// Many idle keep-alive connections (one request each, then idle).
    Idle,
}

impl Scenario {
    /// Every scenario, in report order.
    pub const ALL: [Scenario; 4] = [
        Scenario::Io,
        Scenario::Cpu,
        Scenario::CpuPool,
        Scenario::Idle,
    ];

    /// The heading of its table.
    pub fn title(self) -> &'static str {
        match self {
            Scenario::Io => "I/O-bound request (one database round trip)",
            Scenario::Cpu => "CPU work on the serving thread",
            Scenario::CpuPool => "CPU work on waiter's pool (event loop)",
            Scenario::Idle => "Idle keep-alive connections (memory per connection)",
        }
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct LabOptions {
    /// The models to compare (default: [`Model::available`], every model
    /// whose program is installed).
    pub models: Vec<Model>,
    /// The scenarios to run.
    pub scenarios: Vec<Scenario>,
    /// Concurrency levels of [`Scenario::Io`].
    pub concurrency: Vec<usize>,
    /// Connections of the CPU scenarios.
    pub cpu_concurrency: usize,
    /// Connections of [`Scenario::Idle`].
    pub idle_connections: usize,
    /// Duration of each step.
    pub step: Duration,
    /// What requests wait on: [`Wait::Db`] or [`Wait::Timer`].
    pub wait: Wait,
    /// The database delay (or the timer's).
    pub delay: Duration,
    /// CPU work per request in the CPU scenarios.
    pub cpu_work: Duration,
    /// Worker threads of the pool model.
    pub pool_workers: usize,
    /// Worker processes of the prefork and apache models.
    pub prefork_processes: usize,
    /// Multiplexed database connections of the event-loop and node models.
    pub db_connections: usize,
    /// Load-generator threads.
    pub load_threads: usize,
    /// CPUs for the model processes (`taskset -c` list); `None`: not pinned.
    pub model_cpus: Option<String>,
    /// CPUs for this process (load generator and database); `None`: not pinned.
    pub load_cpus: Option<String>,
    /// Print a live progress line on stderr.
    pub progress: bool,
    /// After the sweep, trace four staggered requests on the event-loop
    /// model ([`crate::trace::record`]; only when the run includes it).
    pub timeline: bool,
}

impl Default for LabOptions {
    /// The full run: concurrency 10, 100, 1,000 and 5,000, 10 s steps.
    fn default() -> Self {
        let two = Machine::detect().cores >= 2;
        LabOptions {
            models: Model::available(),
            scenarios: Scenario::ALL.to_vec(),
            concurrency: vec![10, 100, 1000, 5000],
            cpu_concurrency: 100,
            idle_connections: 5000,
            step: Duration::from_secs(10),
            wait: Wait::Db,
            delay: crate::db::DEFAULT_DELAY,
            cpu_work: Duration::from_millis(2),
            pool_workers: 64,
            prefork_processes: 64,
            db_connections: 8,
            load_threads: 1,
            model_cpus: two.then(|| "0".to_owned()),
            load_cpus: two.then(|| "1".to_owned()),
            progress: true,
            timeline: true,
        }
    }
}

impl LabOptions {
    /// About a minute for the four Rust models (a minute and a half with
    /// Node and Apache): concurrency 10, 100 and 1,000, 2 s steps, 1,000
    /// idle connections.
    pub fn quick() -> LabOptions {
        LabOptions {
            concurrency: vec![10, 100, 1000],
            idle_connections: 1000,
            step: Duration::from_secs(2),
            ..LabOptions::default()
        }
    }

    /// Every step of the run, in order: (scenario, model, connections).
    pub fn plan(&self) -> Vec<(Scenario, Model, usize)> {
        let mut plan = Vec::new();
        for &sc in &self.scenarios {
            let levels = match sc {
                Scenario::Io => self.concurrency.clone(),
                Scenario::Cpu | Scenario::CpuPool => vec![self.cpu_concurrency],
                Scenario::Idle => vec![self.idle_connections],
            };
            for c in levels {
                for &m in &self.models {
                    // Only the event loop has a pool to send CPU work to
                    // (Node has none for JavaScript work).
                    if sc == Scenario::CpuPool && m != Model::EventLoop {
                        continue;
                    }
                    plan.push((sc, m, c));
                }
            }
        }
        plan
    }
}

/// Runs every step of `opts` and returns the report. Blocks for about
/// `steps × step` plus start-up time; needs [`crate::maybe_run_child`] in
/// the binary's `main`.
pub fn run_lab(opts: &LabOptions) -> std::io::Result<LabReport> {
    let _ = waiter_rt::sys::raise_nofile_limit();
    let machine = Machine::detect();
    let pinned = opts.load_cpus.as_deref().filter(|_| has_taskset());
    let restore = pinned.and_then(pin_self);
    let result = run_all(opts, machine);
    if let Some(prev) = restore {
        let _ = set_affinity(&prev);
    }
    result
}

fn run_all(opts: &LabOptions, machine: Machine) -> std::io::Result<LabReport> {
    let db = DbService::start(DbOptions { delay: opts.delay })?;
    let cpu_iters = app::calibrate(opts.cpu_work);
    let base = AppConfig {
        wait: opts.wait,
        db_addr: Some(db.addr()),
        delay: opts.delay,
        cpu_iters: 0,
        cpu_on_pool: false,
        db_connections: opts.db_connections,
        trace: None,
    };
    let mut report = LabReport {
        machine,
        git_commit: git_commit(),
        started_unix: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        settings: settings(opts, cpu_iters),
        steps: Vec::new(),
        timeline: None,
    };
    let plan = opts.plan();
    for (i, &(sc, model, conns)) in plan.iter().enumerate() {
        let mut app = base.clone();
        if matches!(sc, Scenario::Cpu | Scenario::CpuPool) {
            app.cpu_iters = cpu_iters;
            app.cpu_on_pool = sc == Scenario::CpuPool;
        }
        let mut mo = ModelOptions::new(model, app);
        mo.pool_workers = opts.pool_workers;
        mo.prefork_processes = opts.prefork_processes;
        let label = format!("[{}/{}] {:?} {model} c={conns}", i + 1, plan.len(), sc);
        let step = run_step(opts, sc, &mo, conns, &label);
        report.steps.push(step);
        std::thread::sleep(Duration::from_millis(200));
    }
    if opts.timeline && opts.models.contains(&Model::EventLoop) {
        if opts.progress {
            eprint!(
                "\r\x1b[2Ktimeline: {} staggered requests on the event loop",
                crate::trace::REQUESTS
            );
        }
        match crate::trace::record(&base, opts.model_cpus.as_deref()) {
            Ok(t) => report.timeline = Some(t),
            Err(e) => eprintln!("\r\x1b[2Kwaiter lab: the timeline was not recorded: {e}"),
        }
    }
    if opts.progress {
        eprintln!("\r\x1b[2Kdone: {} steps", plan.len());
    }
    Ok(report)
}

fn settings(opts: &LabOptions, cpu_iters: u64) -> Settings {
    let pin = |c: &Option<String>| c.clone().filter(|_| has_taskset()).unwrap_or_default();
    Settings {
        step_secs: opts.step.as_secs_f64(),
        wait: match opts.wait {
            Wait::Db => "db",
            Wait::Timer => "timer",
            Wait::None => "none",
        }
        .into(),
        delay_ms: opts.delay.as_secs_f64() * 1000.0,
        cpu_ms: opts.cpu_work.as_secs_f64() * 1000.0,
        cpu_iters,
        pool_workers: opts.pool_workers,
        prefork_processes: opts.prefork_processes,
        db_connections: opts.db_connections,
        load_threads: opts.load_threads,
        model_cpus: pin(&opts.model_cpus),
        load_cpus: pin(&opts.load_cpus),
    }
}

/// One step: a fresh model process under load.
fn run_step(
    opts: &LabOptions,
    sc: Scenario,
    mo: &ModelOptions,
    conns: usize,
    label: &str,
) -> StepResult {
    let mut st = StepResult {
        scenario: sc,
        model: mo.model,
        shape: mo.shape(),
        connections: conns,
        load: Default::default(),
        baseline_rss_bytes: 0,
        peak_rss_bytes: 0,
        hwm_sum_bytes: 0,
        peak_pss_bytes: 0,
        peak_threads: 0,
        peak_processes: 0,
        cpu_secs: 0.0,
        cpu_us_per_request: 0.0,
        end_pss_bytes: 0,
        bytes_per_connection: 0.0,
        error: None,
    };
    let child = match ModelProcess::spawn(mo, opts.model_cpus.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            st.error = Some(e.to_string());
            return st;
        }
    };
    // Let prefork workers and pool threads finish starting.
    std::thread::sleep(Duration::from_millis(300));
    let before = measure::sample_tree(child.pid(), true);
    let sampler = Sampler::start(child.pid(), Duration::from_millis(250));
    let mut lo = LoadOptions::new(child.addr(), conns);
    lo.duration = opts.step;
    lo.threads = opts.load_threads;
    lo.requests_per_connection = (sc == Scenario::Idle).then_some(1);
    let counter = Arc::new(AtomicU64::new(0));
    lo.progress = Some(counter.clone());
    let shown = opts
        .progress
        .then(|| Progress::start(label, opts.step, counter));
    st.load = load::run(lo);
    let load_end = Instant::now();
    drop(shown);
    let after = measure::sample_tree(child.pid(), false);
    let sampled = sampler.finish();
    child.stop();
    let end = sampled
        .last_before(load_end - Duration::from_millis(100))
        .unwrap_or(after);
    record_costs(&mut st, &before, &after, &sampled.peaks, &end);
    st
}

/// Fills the memory, thread and CPU figures of `st` from the samples
/// taken before, during (`peaks`), near the end of (`end`) and after the load.
fn record_costs(
    st: &mut StepResult,
    before: &TreeSample,
    after: &TreeSample,
    peaks: &Peaks,
    end: &TreeSample,
) {
    st.end_pss_bytes = end.pss_bytes;
    st.baseline_rss_bytes = before.rss_bytes;
    st.peak_rss_bytes = peaks.rss_bytes;
    st.hwm_sum_bytes = after.hwm_bytes;
    st.peak_pss_bytes = peaks.pss_bytes;
    st.peak_threads = peaks.threads;
    st.peak_processes = peaks.processes;
    st.cpu_secs = (after.cpu_secs - before.cpu_secs).max(0.0);
    st.cpu_us_per_request = match st.load.responses {
        0 => 0.0,
        n => st.cpu_secs * 1e6 / n as f64,
    };
    // PSS where the kernel has it, RSS otherwise.
    let pss = before.pss_bytes > 0;
    let base = if pss {
        before.pss_bytes
    } else {
        before.rss_bytes
    };
    let used = match (st.scenario, pss) {
        (Scenario::Idle, true) => end.pss_bytes,
        (Scenario::Idle, false) => end.rss_bytes,
        (_, true) => peaks.pss_bytes,
        (_, false) => peaks.rss_bytes,
    };
    st.bytes_per_connection = used.saturating_sub(base) as f64 / st.connections.max(1) as f64;
}

/// The live progress line on stderr.
struct Progress {
    /// Tells the printer to stop.
    stop: Arc<AtomicBool>,
    /// The printer.
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Progress {
    fn start(label: &str, step: Duration, counter: Arc<AtomicU64>) -> Progress {
        let stop = Arc::new(AtomicBool::new(false));
        let (s, label) = (stop.clone(), label.to_owned());
        let thread = std::thread::spawn(move || {
            let t0 = Instant::now();
            while !s.load(Ordering::Relaxed) {
                let n = counter.load(Ordering::Relaxed);
                let t = t0.elapsed().as_secs_f64();
                eprint!(
                    "\r\x1b[2K{label}  {t:.1}/{:.1}s  {n} responses  {:.0} req/s",
                    step.as_secs_f64(),
                    n as f64 / t.max(1e-3)
                );
                let _ = std::io::stderr().flush();
                std::thread::sleep(Duration::from_millis(200));
            }
        });
        Progress {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The commit checked out in the working directory (what `git rev-parse
/// HEAD` prints), read from the repository's files.
fn git_commit() -> Option<String> {
    let mut dir = std::env::current_dir().ok()?;
    let git = loop {
        let g = dir.join(".git");
        if g.exists() {
            break g;
        }
        dir = dir.parent()?.to_path_buf();
    };
    // A worktree's `.git` is a file naming the real directory.
    let git = match std::fs::read_to_string(&git) {
        Ok(s) => dir.join(s.trim().strip_prefix("gitdir:")?.trim()),
        Err(_) => git,
    };
    let head = std::fs::read_to_string(git.join("HEAD")).ok()?;
    let Some(r) = head.trim().strip_prefix("ref:").map(str::trim) else {
        return Some(head.trim().to_owned());
    };
    let common =
        std::fs::read_to_string(git.join("commondir")).map_or(git.clone(), |c| git.join(c.trim()));
    for base in [&git, &common] {
        if let Ok(h) = std::fs::read_to_string(base.join(r)) {
            return Some(h.trim().to_owned());
        }
        if let Ok(packed) = std::fs::read_to_string(base.join("packed-refs")) {
            let hit = packed
                .lines()
                .find_map(|l| l.strip_suffix(r)?.strip_suffix(' '));
            if let Some(h) = hit {
                return Some(h.to_owned());
            }
        }
    }
    None
}

/// Pins every thread of this process to `cpus`; returns the previous list.
fn pin_self(cpus: &str) -> Option<String> {
    let pid = std::process::id().to_string();
    let out = std::process::Command::new("taskset")
        .args(["-c", "-p", &pid])
        .output()
        .ok()?;
    let prev = String::from_utf8(out.stdout)
        .ok()?
        .rsplit(':')
        .next()?
        .trim()
        .to_owned();
    set_affinity(cpus).then_some(prev)
}

fn set_affinity(cpus: &str) -> bool {
    let pid = std::process::id().to_string();
    std::process::Command::new("taskset")
        .args(["-a", "-c", "-p", cpus, &pid])
        .stdout(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
