//! The public face of the loop: [`Loop`], [`LoopBuilder`], [`EnterGuard`]
//! and [`run`]. The machinery they drive lives in the parent module.

use std::cell::{Cell, OnceCell, RefCell};
use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::io;
use std::marker::PhantomData;
use std::pin::pin;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use super::{Clock, Inner, ManualClock, RunMode, CURRENT, NEXT_LOOP_ID};
use crate::diag::{CallbackKind, Diag, Metrics, StallSource};
use crate::reactor::Reactor;
use crate::task::{Header, Tasks, MAIN_TOKEN};
use crate::timers::TimerQueue;

/// Configures a [`Loop`].
#[derive(Debug, Default)]
pub struct LoopBuilder {
    /// Replaces the system clock.
    clock: Option<ManualClock>,
    /// Stall threshold; default [`crate::diag::DEFAULT_STALL_THRESHOLD`].
    stall_threshold: Option<Duration>,
    /// Pool worker count; default `WAITER_THREADPOOL_SIZE` or 4.
    pool_size: Option<usize>,
}

impl LoopBuilder {
    /// Drives time from a [`ManualClock`] instead of the system clock.
    pub fn clock(mut self, clock: ManualClock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Reports any callback or task poll that holds the loop this long.
    pub fn stall_threshold(mut self, d: Duration) -> Self {
        self.stall_threshold = Some(d);
        self
    }

    /// Number of worker threads in the pool (capped at
    /// [`crate::pool::MAX_THREADS`]).
    pub fn pool_size(mut self, n: usize) -> Self {
        self.pool_size = Some(n);
        self
    }

    /// Creates the loop (the poller and its waker).
    pub fn build(self) -> io::Result<Loop> {
        let (reactor, remote) = Reactor::new()?;
        let clock = match self.clock {
            Some(m) => Clock::Manual(m),
            None => Clock::System,
        };
        let now = clock.now();
        // The `Instant` first: see `Inner::epoch`.
        let epoch = (Instant::now(), crate::sys::monotonic_ns());
        let diag = Diag::new(self.stall_threshold);
        let inner = Inner {
            id: NEXT_LOOP_ID.fetch_add(1, Ordering::Relaxed),
            clock,
            now: Cell::new(now),
            last_ns: Cell::new(0),
            epoch,
            timers: RefCell::new(TimerQueue::new()),
            refed_timers: Cell::new(0),
            due: RefCell::new(Vec::new()),
            next_ticks: RefCell::new(VecDeque::new()),
            micro: RefCell::new(VecDeque::new()),
            deferred: RefCell::new(Vec::new()),
            pending: RefCell::new(VecDeque::new()),
            immediates: RefCell::new(BTreeMap::new()),
            next_immediate: Cell::new(0),
            closing: RefCell::new(VecDeque::new()),
            completions: RefCell::new(slab::Slab::new()),
            next_completion_gen: Cell::new(0),
            ready_completions: RefCell::new(Vec::new()),
            tasks: Tasks::default(),
            reactor,
            remote,
            remote_buf: RefCell::new(Vec::new()),
            pool: OnceCell::new(),
            pool_size: self.pool_size,
            handle_refs: Cell::new(0),
            active_reqs: Cell::new(0),
            stop: Cell::new(false),
            running: Cell::new(false),
            main_woken: Cell::new(false),
            current_task: Cell::new(None),
            diag,
        };
        Ok(Loop {
            inner: Rc::new(inner),
        })
    }
}

/// A single-threaded event loop. See the [crate docs](crate).
///
/// A `Loop` is `!Send`: it, its tasks and its handles live on one thread.
pub struct Loop {
    /// Shared with every handle and task created on this loop.
    inner: Rc<Inner>,
}

impl fmt::Debug for Loop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

/// Keeps a loop entered on this thread; see [`Loop::enter`].
#[derive(Debug)]
pub struct EnterGuard {
    /// The loop that was entered before, restored on drop.
    prev: Option<Rc<Inner>>,
    /// Entering is per thread.
    _not_send: PhantomData<*const ()>,
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        let prev = self.prev.take();
        let _ = CURRENT.try_with(|c| *c.borrow_mut() = prev);
    }
}

impl Loop {
    /// A loop with the default settings.
    pub fn new() -> io::Result<Loop> {
        LoopBuilder::default().build()
    }

    /// A builder for a loop with custom settings.
    pub fn builder() -> LoopBuilder {
        LoopBuilder::default()
    }

    /// Makes this the current loop of the thread until the guard is dropped,
    /// so free functions such as [`crate::set_timeout`] and
    /// [`crate::spawn_local`] reach it.
    pub fn enter(&self) -> EnterGuard {
        let prev = CURRENT.with(|c| c.replace(Some(self.inner.clone())));
        EnterGuard {
            prev,
            _not_send: PhantomData,
        }
    }

    /// Runs the loop until `future` completes, and returns its output.
    ///
    /// The future is polled on this thread and need not be `Send` or
    /// `'static`. Other tasks keep running while it waits; when it completes,
    /// `block_on` returns and unfinished tasks stay on the loop.
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        let location = std::panic::Location::caller();
        let _enter = self.enter();
        let inner = &*self.inner;
        let mut future = pin!(future);
        let header = Header::new(MAIN_TOKEN, inner.id, inner.remote.clone());
        let waker = Waker::from(header.clone());
        let mut out = None;
        {
            let mut poll_main = || {
                inner.main_woken.set(false);
                header.unschedule();
                inner.current_task.set(Some(MAIN_TOKEN));
                let mut cx = Context::from_waker(&waker);
                let r = future.as_mut().poll(&mut cx);
                let elapsed = inner.time_since_reading();
                inner.current_task.set(None);
                inner.diag.task_polls.set(inner.diag.task_polls.get() + 1);
                if elapsed >= inner.diag.stall_threshold.get() {
                    let source = StallSource::Task {
                        name: Some("block_on".into()),
                        location,
                    };
                    inner.report_stall(source, elapsed);
                }
                inner.checkpoint();
                match r {
                    Poll::Ready(v) => {
                        out = Some(v);
                        true
                    }
                    Poll::Pending => false,
                }
            };
            // Whatever the thread did since the loop last ran is no part
            // of the first poll.
            inner.take_reading();
            if !poll_main() {
                inner.run(RunMode::Default, Some(&mut poll_main));
            }
        }
        out.expect("block_on returned before its future completed")
    }

    /// Runs the loop in `mode`. Returns whether the loop is still alive.
    pub fn run(&self, mode: RunMode) -> bool {
        let _enter = self.enter();
        self.inner.run(mode, None);
        self.inner.is_alive()
    }

    /// Runs `main` as the "main script", then the loop in `mode`, the way
    /// `node script.js` runs a script and then its event loop until no work
    /// is left. Returns whether the loop is still alive.
    pub fn run_main(&self, main: impl FnOnce(), mode: RunMode) -> bool {
        let _enter = self.enter();
        self.inner.take_reading();
        self.inner.run_guarded(CallbackKind::Main, main);
        self.inner.checkpoint();
        self.inner.run(mode, None);
        self.inner.is_alive()
    }

    /// Makes [`run`](Self::run) return after the current iteration.
    pub fn stop(&self) {
        self.inner.stop.set(true);
    }

    /// Whether the loop has referenced handles, requests in flight or queued
    /// callbacks.
    pub fn is_alive(&self) -> bool {
        self.inner.is_alive()
    }

    /// The time cached at the start of the current iteration.
    pub fn now(&self) -> Instant {
        self.inner.now()
    }

    /// A snapshot of the loop's counters.
    pub fn metrics(&self) -> Metrics {
        self.inner.metrics()
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        let _enter = self.enter();
        self.inner.shutdown();
    }
}

/// Runs `future` on a new loop: the usual entry point of a program.
///
/// # Panics
/// If the loop cannot be created (the process is out of file descriptors).
#[track_caller]
pub fn run<F: Future>(future: F) -> F::Output {
    Loop::new()
        .expect("cannot create the event loop")
        .block_on(future)
}
