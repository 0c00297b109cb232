//! Diagnostics: loop counters, per-phase times, the event-loop delay
//! histogram, and the stall detector.
//!
//! Counters are plain `Cell`s updated in place: nothing here allocates on the
//! hot path. The stall detector times every callback and task poll (two
//! clock reads each); when one holds the loop for at least the threshold
//! (default [`DEFAULT_STALL_THRESHOLD`]), it reports which one and for how
//! long, through `tracing` and through an optional hook
//! ([`Loop::on_stall`](crate::Loop::on_stall)).
//!
//! The delay histogram works like Node's `monitorEventLoopDelay`: an
//! unreferenced interval timer records, at each firing, how much later than
//! its resolution it ran. A loop that is busy for 30 ms makes that timer
//! 30 ms late, so the histogram shows what a request arriving at a random
//! moment would wait before the loop could look at it.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::panic::Location;
use std::rc::Rc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::event_loop::Inner;

/// A callback or task poll that runs at least this long is reported.
pub const DEFAULT_STALL_THRESHOLD: Duration = Duration::from_millis(100);

/// The loop's phases, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Due timers.
    Timers = 0,
    /// Deferred I/O callbacks.
    Pending = 1,
    /// Waiting for I/O, and running what it woke.
    Poll = 2,
    /// Immediates.
    Check = 3,
    /// Close callbacks.
    Close = 4,
}

const PHASES: usize = 5;

/// Which kind of callback ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallbackKind {
    /// The function passed to `run_main`.
    Main,
    /// A timer or interval.
    Timer,
    /// A pending-phase callback.
    Pending,
    /// An I/O completion (such as a pool job's `done`).
    Io,
    /// An immediate.
    Immediate,
    /// A close callback.
    Close,
    /// A `next_tick` callback.
    NextTick,
    /// A `queue_microtask` callback.
    Microtask,
}

/// What held the loop.
#[derive(Clone, Debug)]
pub enum StallSource {
    /// A task poll.
    Task {
        /// The name given at spawn.
        name: Option<Cow<'static, str>>,
        /// Where the task was spawned.
        location: &'static Location<'static>,
    },
    /// A callback.
    Callback(CallbackKind),
}

/// One stall: something held the loop for `duration`.
#[derive(Clone, Debug)]
pub struct StallReport {
    /// What ran.
    pub source: StallSource,
    /// How long it ran without yielding.
    pub duration: Duration,
    /// The label set with [`set_stall_label`] while it ran, such as a route.
    pub label: Option<Cow<'static, str>>,
}

impl fmt::Display for StallReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            StallSource::Task {
                name: Some(n),
                location,
            } => write!(f, "task '{n}' (spawned at {location})")?,
            StallSource::Task {
                name: None,
                location,
            } => write!(f, "task spawned at {location}")?,
            StallSource::Callback(k) => write!(f, "{k:?} callback")?,
        }
        if let Some(l) = &self.label {
            write!(f, " [{l}]")?;
        }
        write!(f, " held the loop for {:?}", self.duration)
    }
}

/// Summary of the event-loop delay histogram, in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct DelaySummary {
    /// Number of samples.
    pub count: u64,
    /// Smallest delay.
    pub min: u64,
    /// Mean delay.
    pub mean: f64,
    /// Median delay.
    pub p50: u64,
    /// 99th percentile.
    pub p99: u64,
    /// Largest delay.
    pub max: u64,
}

/// Time spent in each phase since the loop started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PhaseTimes {
    /// Running due timers.
    pub timers: Duration,
    /// Running pending callbacks.
    pub pending: Duration,
    /// Polling, including idle time, and running woken tasks.
    pub poll: Duration,
    /// Running immediates.
    pub check: Duration,
    /// Running close callbacks.
    pub close: Duration,
}

/// A snapshot of the loop's counters ([`Loop::metrics`](crate::Loop::metrics)).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Metrics {
    /// Completed loop iterations.
    pub iterations: u64,
    /// Poll phases run.
    pub polls: u64,
    /// Events returned by all polls.
    pub events: u64,
    /// Events returned by the latest poll.
    pub last_poll_events: usize,
    /// Time blocked in `epoll_wait`.
    pub idle_time: Duration,
    /// Time per phase.
    pub phase_times: PhaseTimes,
    /// Callbacks run.
    pub callbacks: u64,
    /// Task polls run.
    pub task_polls: u64,
    /// Live tasks.
    pub tasks: usize,
    /// Tasks and microtasks queued to run.
    pub queued: usize,
    /// Live timers.
    pub timers: usize,
    /// Live I/O sources.
    pub io_sources: usize,
    /// Referenced handles keeping the loop alive.
    pub refs: usize,
    /// Requests in flight (pool jobs).
    pub active_requests: usize,
    /// Jobs waiting for a pool worker.
    pub pool_queue_depth: usize,
    /// Pool worker threads started.
    pub pool_threads: usize,
    /// Panics caught in callbacks and tasks.
    pub panics: u64,
    /// Stalls reported.
    pub stalls: u64,
    /// The event-loop delay, if a monitor is enabled.
    pub delay: Option<DelaySummary>,
}

/// A callback that receives stall reports.
type StallHook = Rc<dyn Fn(&StallReport)>;

/// Counters kept by the loop.
pub(crate) struct Diag {
    /// Completed iterations.
    pub(crate) iterations: Cell<u64>,
    /// Poll phases run.
    polls: Cell<u64>,
    /// Events from all polls.
    events: Cell<u64>,
    /// Events from the latest poll.
    last_events: Cell<usize>,
    /// Time blocked in the poller, in nanoseconds.
    idle: Cell<u64>,
    /// Time per phase in nanoseconds, indexed by `Phase`.
    phases: [Cell<u64>; PHASES],
    /// Callbacks run.
    pub(crate) callbacks: Cell<u64>,
    /// Task polls run.
    pub(crate) task_polls: Cell<u64>,
    /// Panics caught.
    pub(crate) panics: Cell<u64>,
    /// Stalls reported.
    stalls: Cell<u64>,
    /// Report anything that runs this long.
    pub(crate) stall_threshold: Cell<Duration>,
    /// Called with each stall report.
    stall_hook: RefCell<Option<StallHook>>,
    /// A label for what the loop is doing now (such as an HTTP route).
    pub(crate) label: RefCell<Option<Cow<'static, str>>>,
    /// The label whose guard dropped last, and when: a callback or poll
    /// that sets a label, blocks, and drops the guard before it returns is
    /// reported after the guard is gone.
    dropped_label: RefCell<Option<(Cow<'static, str>, Instant)>>,
    /// The event-loop delay histogram, when a monitor is on.
    pub(crate) delay: RefCell<Option<Rc<RefCell<Histogram<u64>>>>>,
}

impl Diag {
    pub(crate) fn new(threshold: Option<Duration>) -> Diag {
        Diag {
            iterations: Cell::new(0),
            polls: Cell::new(0),
            events: Cell::new(0),
            last_events: Cell::new(0),
            idle: Cell::new(0),
            phases: Default::default(),
            callbacks: Cell::new(0),
            task_polls: Cell::new(0),
            panics: Cell::new(0),
            stalls: Cell::new(0),
            stall_threshold: Cell::new(threshold.unwrap_or(DEFAULT_STALL_THRESHOLD)),
            stall_hook: RefCell::new(None),
            label: RefCell::new(None),
            dropped_label: RefCell::new(None),
            delay: RefCell::new(None),
        }
    }

    /// Adds `ns` nanoseconds to `phase`.
    pub(crate) fn add_phase(&self, phase: Phase, ns: u64) {
        let c = &self.phases[phase as usize];
        c.set(c.get() + ns);
    }

    /// The label of a run that took `duration` and just ended: the label in
    /// effect now, else one whose guard dropped during the run.
    fn stall_label(&self, duration: Duration) -> Option<Cow<'static, str>> {
        if let Some(l) = self.label.borrow().as_ref() {
            return Some(l.clone());
        }
        let started = Instant::now().checked_sub(duration)?;
        match self.dropped_label.borrow().as_ref() {
            Some((l, at)) if *at >= started => Some(l.clone()),
            _ => None,
        }
    }

    /// Counts a poll that waited `waited_ns` nanoseconds for `events`.
    pub(crate) fn record_poll(&self, waited_ns: u64, events: usize) {
        self.polls.set(self.polls.get() + 1);
        self.events.set(self.events.get() + events as u64);
        self.last_events.set(events);
        self.idle.set(self.idle.get() + waited_ns);
    }
}

impl Inner {
    /// Reports a callback or task poll that ran for `duration` and has just
    /// returned.
    pub(crate) fn report_stall(&self, source: StallSource, duration: Duration) {
        self.diag.stalls.set(self.diag.stalls.get() + 1);
        let report = StallReport {
            source,
            duration,
            label: self.diag.stall_label(duration),
        };
        tracing::warn!(target: "waiter::stall", "{report}");
        let hook = self.diag.stall_hook.borrow().clone();
        if let Some(h) = hook {
            h(&report);
        }
        // The report and its hook are the loop's own time, not the next
        // callback's (see `Inner::take_reading`).
        self.take_reading();
    }

    pub(crate) fn metrics(&self) -> Metrics {
        let d = &self.diag;
        let p = |ph: Phase| Duration::from_nanos(d.phases[ph as usize].get());
        let pool = self.pool.get();
        Metrics {
            iterations: d.iterations.get(),
            polls: d.polls.get(),
            events: d.events.get(),
            last_poll_events: d.last_events.get(),
            idle_time: Duration::from_nanos(d.idle.get()),
            phase_times: PhaseTimes {
                timers: p(Phase::Timers),
                pending: p(Phase::Pending),
                poll: p(Phase::Poll),
                check: p(Phase::Check),
                close: p(Phase::Close),
            },
            callbacks: d.callbacks.get(),
            task_polls: d.task_polls.get(),
            tasks: self.tasks.len(),
            queued: self.micro.borrow().len() + self.deferred.borrow().len(),
            timers: self.timers.borrow().len(),
            io_sources: self.reactor.len(),
            refs: self.handle_refs.get() + self.refed_timers.get(),
            active_requests: self.active_reqs.get(),
            pool_queue_depth: pool.map_or(0, |p| p.queue_depth()),
            pool_threads: pool.map_or(0, |p| p.threads()),
            panics: d.panics.get(),
            stalls: d.stalls.get(),
            delay: d.delay.borrow().as_ref().map(|h| summarize(&h.borrow())),
        }
    }
}

fn summarize(h: &Histogram<u64>) -> DelaySummary {
    if h.is_empty() {
        return DelaySummary::default();
    }
    DelaySummary {
        count: h.len(),
        min: h.min(),
        mean: h.mean(),
        p50: h.value_at_quantile(0.5),
        p99: h.value_at_quantile(0.99),
        max: h.max(),
    }
}

/// A snapshot of the current loop's counters, for code running on the loop
/// (such as a `/metrics` route) that has no `Loop` at hand.
///
/// # Panics
/// If no loop is entered on this thread.
pub fn metrics() -> Metrics {
    Inner::current().metrics()
}

impl crate::Loop {
    /// Calls `hook` with every stall report (in addition to the log line).
    pub fn on_stall(&self, hook: impl Fn(&StallReport) + 'static) {
        let _e = self.enter();
        *Inner::current().diag.stall_hook.borrow_mut() = Some(Rc::new(hook));
    }

    /// Changes the stall threshold.
    pub fn set_stall_threshold(&self, d: Duration) {
        let _e = self.enter();
        Inner::current().diag.stall_threshold.set(d);
    }
}

/// Labels what the loop is doing until the guard drops, so a stall report
/// names it (the HTTP server labels each request with its route).
///
/// A stall is reported when the callback or task poll returns; if the guard
/// dropped during that callback or poll, the report still carries the
/// label. The label belongs to the loop, not to a task: while a task that
/// holds a guard is suspended, other work runs under its label.
pub fn set_stall_label(label: impl Into<Cow<'static, str>>) -> StallLabelGuard {
    let inner = Inner::current();
    let prev = inner.diag.label.replace(Some(label.into()));
    StallLabelGuard { inner, prev }
}

/// Restores the previous stall label on drop.
pub struct StallLabelGuard {
    /// The loop whose label this is.
    inner: Rc<Inner>,
    /// The label to restore.
    prev: Option<Cow<'static, str>>,
}

impl fmt::Debug for StallLabelGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StallLabelGuard").finish_non_exhaustive()
    }
}

impl Drop for StallLabelGuard {
    fn drop(&mut self) {
        let d = &self.inner.diag;
        let ours = d.label.replace(self.prev.take());
        if let Some(l) = ours {
            *d.dropped_label.borrow_mut() = Some((l, Instant::now()));
        }
    }
}

/// Records event-loop delay, like Node's `monitorEventLoopDelay`; see the
/// module docs. Dropping the monitor stops it.
///
/// [`Metrics::delay`] shows the monitor started last, until it is dropped.
pub struct DelayMonitor {
    /// The samples, in nanoseconds.
    hist: Rc<RefCell<Histogram<u64>>>,
    /// The sampling interval timer.
    timer: crate::time::Timer,
    /// The loop it samples, whose metrics show it.
    inner: Rc<Inner>,
}

impl fmt::Debug for DelayMonitor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DelayMonitor")
            .field("summary", &self.summary())
            .finish()
    }
}

impl DelayMonitor {
    /// The delay so far.
    pub fn summary(&self) -> DelaySummary {
        summarize(&self.hist.borrow())
    }

    /// Forgets the samples so far.
    pub fn reset(&self) {
        self.hist.borrow_mut().reset();
    }
}

impl Drop for DelayMonitor {
    fn drop(&mut self) {
        self.timer.clear();
        // Its own loop (not whichever is entered, if any), and only if the
        // metrics still show this monitor, not a newer one.
        let mut shown = self.inner.diag.delay.borrow_mut();
        if shown.as_ref().is_some_and(|h| Rc::ptr_eq(h, &self.hist)) {
            *shown = None;
        }
    }
}

/// Starts sampling event-loop delay every `resolution` (Node's default is
/// 10 ms). The samples also appear in [`Metrics::delay`].
pub fn monitor_event_loop_delay(resolution: Duration) -> DelayMonitor {
    let inner = Inner::current();
    // 1 ns to 1 hour at 3 significant digits: about 20 KiB.
    let hist = Histogram::new_with_bounds(1, 3_600_000_000_000, 3).expect("valid histogram bounds");
    let hist = Rc::new(RefCell::new(hist));
    *inner.diag.delay.borrow_mut() = Some(hist.clone());
    let h = hist.clone();
    let mut last = Instant::now();
    let timer = crate::time::set_interval(resolution, move || {
        let t = Instant::now();
        let late = (t - last).saturating_sub(resolution);
        last = t;
        let _ = h.borrow_mut().record(late.as_nanos().max(1) as u64);
    });
    timer.unref();
    DelayMonitor { hist, timer, inner }
}
