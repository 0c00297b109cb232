//! The loop: phase order, cached time, the alive rule, run modes.
//!
//! One iteration runs these phases, in this order (see `docs/event-loop.md`
//! for the full rules):
//!
//! 1. **update time**: `now` is read and cached (and read again right after
//!    the poll phase's wait);
//! 2. **timers**: callbacks of every timer due at `now`, earliest first, ties
//!    in insertion order; timers they create wait for the next iteration;
//! 3. **pending**: I/O callbacks deferred from the previous iteration;
//! 4. **poll**: register new sources, wait for I/O (the timeout rule is in
//!    [`Inner::poll_timeout`]), wake the tasks whose I/O is ready and the
//!    tasks woken from other threads (pool completions), then run them;
//! 5. **check**: immediates queued before the phase began;
//! 6. **close**: close callbacks.
//!
//! After *every* callback and every task poll comes a checkpoint: the
//! next-tick queue, then the microtask queue (which holds woken tasks),
//! repeated until both are empty or the task budget is spent.
//!
//! **Invariant: no `RefCell` borrow is held while user code runs.** Every
//! queue is popped one item at a time with a short borrow, and the item runs
//! after the borrow is released, so callbacks may freely schedule more work.
//!
//! **Invariant: the loop never calls the OS** except through the reactor's
//! poll and the clock.

use std::cell::{Cell, OnceCell, RefCell};
use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::task::Waker;
use std::time::{Duration, Instant};

mod api;
mod clock;

pub use api::{run, EnterGuard, Loop, LoopBuilder};
pub(crate) use clock::Clock;
pub use clock::ManualClock;

use crate::diag::{CallbackKind, Diag, Phase, StallSource};
use crate::pool::Pool;
use crate::reactor::{Reactor, Remote};
use crate::sys;
use crate::task::{self, Header, Tasks, COMPLETION_BIT};
use crate::timers::{TimerId, TimerQueue};

/// A queued callback.
pub(crate) type Callback = Box<dyn FnOnce()>;

/// An entry of the microtask queue.
pub(crate) enum Micro {
    /// A closure from `queue_microtask`.
    Callback(Callback),
    /// A woken task, by token.
    Task(u64),
}

/// What a timer does when it fires.
pub(crate) enum TimerAction {
    /// `set_timeout`: run once. `None` only transiently.
    Once(Option<Callback>),
    /// `set_interval`: run, then re-arm after the interval. The callback is
    /// `None` while it runs.
    Repeat(Option<Box<dyn FnMut()>>, Duration),
    /// A `Sleep` future: wake it.
    Wake(Option<Waker>),
}

/// A timer's payload in the timer queue.
pub(crate) struct TimerEntry {
    /// What to do when due.
    pub(crate) action: TimerAction,
    /// Whether the timer keeps the loop alive.
    pub(crate) refed: bool,
}

/// How [`Loop::run`] runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunMode {
    /// Run until the loop is no longer alive, or [`Loop::stop`] is called.
    Default,
    /// Run one iteration, blocking in the poll phase if there is nothing to do.
    Once,
    /// Run one iteration without blocking.
    NoWait,
}

static NEXT_LOOP_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// The loop entered on this thread, if any.
    static CURRENT: RefCell<Option<Rc<Inner>>> = const { RefCell::new(None) };
}

/// The loop's state, shared by every handle created on it.
pub(crate) struct Inner {
    /// Unique id; a waker compares it with the current loop's.
    pub(crate) id: u64,
    /// The time source.
    clock: Clock,
    /// The time cached at the start of the iteration.
    pub(crate) now: Cell<Instant>,
    /// The latest reading of the system clock, in nanoseconds since
    /// `epoch`: where the next thing the loop runs starts its time (see
    /// [`Inner::take_reading`]). Times between readings (of a callback, a
    /// phase, a poll wait) are differences of these, integer subtractions;
    /// an `Instant` is made from it only where one is needed
    /// ([`Inner::last_reading`]), once or twice an iteration where the loop
    /// takes several readings a wakeup.
    last_ns: Cell<u64>,
    /// When the loop was made, as an `Instant` and as a reading of the same
    /// clock in nanoseconds ([`sys::monotonic_ns`], taken just after the
    /// `Instant`, so an `Instant` made from a later reading is never ahead
    /// of `Instant::now()` at that moment; it trails it by the tens of
    /// nanoseconds between the two).
    epoch: (Instant, u64),
    /// Scheduled timers.
    pub(crate) timers: RefCell<TimerQueue<TimerEntry>>,
    /// Live timers that keep the loop alive.
    pub(crate) refed_timers: Cell<usize>,
    /// Reused buffer of due timer ids.
    due: RefCell<Vec<TimerId>>,
    /// `next_tick` callbacks.
    pub(crate) next_ticks: RefCell<VecDeque<Callback>>,
    /// Microtasks and woken tasks.
    pub(crate) micro: RefCell<VecDeque<Micro>>,
    /// Tasks that yielded; they run again after the next poll.
    pub(crate) deferred: RefCell<Vec<u64>>,
    /// Callbacks for the pending phase.
    pub(crate) pending: RefCell<VecDeque<Callback>>,
    /// Immediates by id; ids grow, so the map's order is FIFO order.
    pub(crate) immediates: RefCell<BTreeMap<u64, Callback>>,
    /// Id of the next immediate.
    pub(crate) next_immediate: Cell<u64>,
    /// Callbacks for the close phase.
    pub(crate) closing: RefCell<VecDeque<Callback>>,
    /// Completion callbacks of callback-form requests (pool `submit`), by
    /// slab key, with their generation.
    completions: RefCell<slab::Slab<(u32, Callback)>>,
    /// Generation for the next completion.
    next_completion_gen: Cell<u32>,
    /// Completion tokens woken on this thread, run in the next poll phase.
    ready_completions: RefCell<Vec<u64>>,
    /// Spawned tasks.
    pub(crate) tasks: Tasks,
    /// The OS poller.
    pub(crate) reactor: Reactor,
    /// Cross-thread wakeups.
    pub(crate) remote: Arc<Remote>,
    /// Reused buffer for tokens drained from `remote`.
    remote_buf: RefCell<Vec<u64>>,
    /// The worker pool, started on first use.
    pub(crate) pool: OnceCell<Pool>,
    /// Worker count for the pool (None: environment or default).
    pub(crate) pool_size: Option<usize>,
    /// I/O handles that keep the loop alive.
    pub(crate) handle_refs: Cell<usize>,
    /// Requests in flight (pool jobs) that keep the loop alive.
    pub(crate) active_reqs: Cell<usize>,
    /// Set by `stop()`.
    stop: Cell<bool>,
    /// Set while `run` is on the stack, to refuse re-entry.
    running: Cell<bool>,
    /// Set when the `block_on` future has been woken.
    pub(crate) main_woken: Cell<bool>,
    /// The task being polled, for `yield_now`.
    pub(crate) current_task: Cell<Option<u64>>,
    /// Counters, histograms and the stall detector.
    pub(crate) diag: Diag,
}

impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Loop")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl Inner {
    /// The loop entered on this thread.
    ///
    /// # Panics
    /// If no loop is entered: waiter's functions must be called from inside
    /// `Loop::block_on`, `Loop::run`, `Loop::run_main` or `Loop::enter`.
    #[track_caller]
    pub(crate) fn current() -> Rc<Inner> {
        Self::try_current().expect("no waiter loop is entered on this thread")
    }

    /// Runs `f` on the loop entered on this thread without cloning the
    /// handle (for hot paths such as reading the cached time).
    ///
    /// # Panics
    /// If no loop is entered.
    #[track_caller]
    pub(crate) fn with_current<R>(f: impl FnOnce(&Inner) -> R) -> R {
        CURRENT.with(|c| {
            f(c.borrow()
                .as_deref()
                .expect("no waiter loop is entered on this thread"))
        })
    }

    /// The loop entered on this thread, if any.
    pub(crate) fn try_current() -> Option<Rc<Inner>> {
        CURRENT.try_with(|c| c.borrow().clone()).ok().flatten()
    }

    /// Queues `token` on the current loop if it is loop `loop_id`.
    pub(crate) fn try_schedule_local(loop_id: u64, token: u64) -> bool {
        CURRENT
            .try_with(|c| match &*c.borrow() {
                Some(inner) if inner.id == loop_id => {
                    inner.schedule_token(token);
                    true
                }
                _ => false,
            })
            .unwrap_or(false)
    }

    /// The cached loop time.
    pub(crate) fn now(&self) -> Instant {
        self.now.get()
    }

    /// A fresh reading of the loop's clock.
    pub(crate) fn read_clock(&self) -> Instant {
        self.clock.now()
    }

    /// Reads the system clock and keeps the reading.
    ///
    /// **Invariant: a reading is taken whenever the loop starts running
    /// code (`run`, `block_on` and `run_main`), after each poll wait, and
    /// after each callback and task poll**, and only the loop's own
    /// bookkeeping runs between a reading and the next thing it runs.
    /// So the time from the last reading to a new one taken when a callback
    /// returns is how long that callback ran (plus well under a microsecond
    /// of bookkeeping), and one reading per callback times them all; the
    /// iteration's phases and its start time come from the same readings.
    pub(crate) fn take_reading(&self) {
        // u64 nanoseconds last 584 years.
        self.last_ns
            .set(sys::monotonic_ns().saturating_sub(self.epoch.1));
    }

    /// The latest reading as an `Instant`.
    pub(crate) fn last_reading(&self) -> Instant {
        self.epoch.0 + Duration::from_nanos(self.last_ns.get())
    }

    /// How long the code that just returned ran: from the last reading to
    /// a new one.
    pub(crate) fn time_since_reading(&self) -> Duration {
        let start = self.last_ns.get();
        self.take_reading();
        Duration::from_nanos(self.last_ns.get() - start)
    }

    /// The alive rule: referenced handles or timers, requests in flight, or
    /// queued callbacks of any kind.
    pub(crate) fn is_alive(&self) -> bool {
        self.handle_refs.get() > 0
            || self.refed_timers.get() > 0
            || self.active_reqs.get() > 0
            || self.has_queued_work()
    }

    fn has_queued_work(&self) -> bool {
        !self.pending.borrow().is_empty()
            || !self.immediates.borrow().is_empty()
            || !self.closing.borrow().is_empty()
            || !self.micro.borrow().is_empty()
            || !self.next_ticks.borrow().is_empty()
            || !self.deferred.borrow().is_empty()
            || !self.ready_completions.borrow().is_empty()
    }

    /// Registers a completion callback and returns the waker that queues it
    /// for the next poll phase, from any thread. Like an I/O callback in
    /// libuv, it runs as a callback of its own, followed by a checkpoint.
    pub(crate) fn completion(&self, cb: Callback) -> Waker {
        let gen = self.next_completion_gen.get();
        self.next_completion_gen.set(gen.wrapping_add(1));
        let key = self.completions.borrow_mut().insert((gen, cb));
        let token = COMPLETION_BIT | ((gen as u64) << 32) | key as u64;
        Waker::from(Header::new(token, self.id, self.remote.clone()))
    }

    pub(crate) fn queue_completion(&self, token: u64) {
        self.ready_completions.borrow_mut().push(token);
    }

    fn run_completions(&self) {
        let ready = std::mem::take(&mut *self.ready_completions.borrow_mut());
        for token in ready {
            let key = (token & 0xffff_ffff) as usize;
            let gen = ((token & !COMPLETION_BIT) >> 32) as u32;
            let cb = {
                let mut c = self.completions.borrow_mut();
                match c.get(key) {
                    Some((g, _)) if *g == gen => Some(c.remove(key).1),
                    _ => None,
                }
            };
            if let Some(cb) = cb {
                self.run_callback(CallbackKind::Io, cb);
            }
        }
    }

    /// How long the poll phase may block: zero when anything is queued, the
    /// loop is stopping, or nothing could end the wait (the loop is not alive
    /// and there is no `block_on` future that a foreign thread might wake);
    /// else until the nearest timer; else forever.
    pub(crate) fn poll_timeout(&self, mode: RunMode, has_main: bool) -> Option<Duration> {
        if mode == RunMode::NoWait
            || self.stop.get()
            || self.main_woken.get()
            || self.has_queued_work()
            || (!has_main && !self.is_alive())
        {
            return Some(Duration::ZERO);
        }
        let next = self.timers.borrow_mut().next_deadline()?;
        // From the last reading, not the iteration's cached time: timers
        // and pending callbacks may have run since it was taken, and the
        // wait must not grow by their running time (Node restarts its
        // timer from a fresh reading too).
        let now = self.clock.at(self.last_reading());
        Some(next.saturating_duration_since(now))
    }

    /// Runs a callback, then a checkpoint. Panics are caught and logged.
    pub(crate) fn run_callback(&self, kind: CallbackKind, cb: Callback) {
        self.run_guarded(kind, cb);
        self.checkpoint();
    }

    fn run_guarded(&self, kind: CallbackKind, cb: impl FnOnce()) {
        if let Err(p) = catch_unwind(AssertUnwindSafe(cb)) {
            self.diag.panics.set(self.diag.panics.get() + 1);
            tracing::error!(
                callback = ?kind,
                panic = task::panic_message(&*p),
                "a callback panicked; the loop goes on"
            );
        }
        self.diag.callbacks.set(self.diag.callbacks.get() + 1);
        let elapsed = self.time_since_reading();
        if elapsed >= self.diag.stall_threshold.get() {
            self.report_stall(StallSource::Callback(kind), elapsed);
        }
    }

    /// Drains next-ticks, then microtasks (and woken tasks), until both are
    /// empty or [`task::TASK_BUDGET`] task polls have run.
    pub(crate) fn checkpoint(&self) {
        let mut polls = 0;
        loop {
            loop {
                let Some(cb) = self.next_ticks.borrow_mut().pop_front() else {
                    break;
                };
                self.run_guarded(CallbackKind::NextTick, cb);
            }
            loop {
                let Some(m) = self.micro.borrow_mut().pop_front() else {
                    break;
                };
                match m {
                    Micro::Callback(cb) => self.run_guarded(CallbackKind::Microtask, cb),
                    Micro::Task(t) => {
                        if polls >= task::TASK_BUDGET {
                            self.micro.borrow_mut().push_front(Micro::Task(t));
                            return;
                        }
                        if self.run_task(t) {
                            polls += 1;
                        }
                    }
                }
            }
            if self.next_ticks.borrow().is_empty() {
                return;
            }
        }
    }

    /// Fires due timers; returns whether any was due.
    fn run_timers(&self) -> bool {
        let now = self.now();
        let mut due = std::mem::take(&mut *self.due.borrow_mut());
        {
            let mut timers = self.timers.borrow_mut();
            while let Some(id) = timers.pop_due(now) {
                due.push(id);
            }
        }
        let any = !due.is_empty();
        for id in due.drain(..) {
            self.fire_timer(id);
        }
        *self.due.borrow_mut() = due;
        any
    }

    fn fire_timer(&self, id: TimerId) {
        let action = {
            let mut timers = self.timers.borrow_mut();
            let Some(entry) = timers.get_mut(id) else {
                return;
            };
            match &mut entry.action {
                TimerAction::Repeat(cb, _) => TimerAction::Repeat(cb.take(), Duration::ZERO),
                _ => {
                    let entry = timers.remove(id).expect("timer vanished");
                    if entry.refed {
                        self.refed_timers.set(self.refed_timers.get() - 1);
                    }
                    entry.action
                }
            }
        };
        match action {
            TimerAction::Once(Some(cb)) => self.run_callback(CallbackKind::Timer, cb),
            TimerAction::Wake(Some(w)) => {
                w.wake();
                self.checkpoint();
            }
            TimerAction::Repeat(Some(mut cb), _) => {
                // Re-armed from when this run starts, as Node's
                // `getLibuvNow()` before the callback.
                let start = self.clock.at(self.last_reading());
                self.run_guarded(CallbackKind::Timer, &mut cb);
                self.checkpoint();
                let mut timers = self.timers.borrow_mut();
                if let Some(TimerEntry {
                    action: TimerAction::Repeat(slot, every),
                    ..
                }) = timers.get_mut(id)
                {
                    *slot = Some(cb);
                    let every = *every;
                    timers.reschedule(id, start, every);
                }
            }
            _ => {}
        }
    }

    /// Runs the pending callbacks queued before the phase began; returns
    /// whether there were any.
    fn run_pending(&self) -> bool {
        let n = self.pending.borrow().len();
        for _ in 0..n {
            let Some(cb) = self.pending.borrow_mut().pop_front() else {
                break;
            };
            self.run_callback(CallbackKind::Pending, cb);
        }
        n > 0
    }

    /// Waits for I/O, then runs what it woke.
    fn run_poll(&self, timeout: Option<Duration>) {
        let start = self.last_ns.get();
        let n = match self.reactor.poll(timeout) {
            Ok(n) => n,
            Err(e) => {
                tracing::error!(error = %e, "epoll_wait failed");
                0
            }
        };
        self.take_reading();
        self.diag.record_poll(self.last_ns.get() - start, n);
        // The wait may have been long: timers set by what the poll woke must
        // count from now, not from the start of the iteration (libuv updates
        // its time after `epoll_wait` too).
        self.now.set(self.clock.at(self.last_reading()));
        let mut buf = std::mem::take(&mut *self.remote_buf.borrow_mut());
        self.remote.drain(&mut buf);
        for t in buf.drain(..) {
            self.schedule_token(t);
        }
        *self.remote_buf.borrow_mut() = buf;
        self.run_completions();
        self.requeue_deferred();
        self.checkpoint();
    }

    /// Runs the immediates queued before the phase began; returns whether
    /// there were any.
    fn run_check(&self) -> bool {
        if self.immediates.borrow().is_empty() {
            return false;
        }
        let end = self.next_immediate.get();
        let mut any = false;
        loop {
            let cb = {
                let mut imm = self.immediates.borrow_mut();
                match imm.first_entry() {
                    Some(e) if *e.key() < end => e.remove(),
                    _ => break,
                }
            };
            self.run_callback(CallbackKind::Immediate, cb);
            any = true;
        }
        any
    }

    /// Runs the close callbacks queued before the phase began; returns
    /// whether there were any.
    fn run_closing(&self) -> bool {
        let n = self.closing.borrow().len();
        for _ in 0..n {
            let Some(cb) = self.closing.borrow_mut().pop_front() else {
                break;
            };
            self.run_callback(CallbackKind::Close, cb);
        }
        n > 0
    }

    /// Runs iterations. `main` is the `block_on` hook: it is called after
    /// each phase while the main future is woken, and returns `true` once the
    /// main future is done, which ends the run.
    fn run(&self, mode: RunMode, mut main: Option<&mut dyn FnMut() -> bool>) {
        assert!(!self.running.replace(true), "the loop is already running");
        let _reset = ResetOnDrop(&self.running);
        // Whatever ran since the last run is no part of this one.
        self.take_reading();
        loop {
            if main.is_none() && (!self.is_alive() || self.stop.get()) {
                break;
            }
            if self.iterate(mode, &mut main) {
                break;
            }
            if mode != RunMode::Default {
                break;
            }
        }
        self.stop.set(false);
    }

    /// One iteration; returns `true` if the main future finished.
    ///
    /// Phase times and the loop time come from the readings of
    /// [`Inner::take_reading`], with none of their own: the iteration starts
    /// at the last reading (the previous iteration's last callback or poll
    /// wait, or the start of `run`), the loop time after the poll phase's
    /// wait is the reading taken when it ends, and a phase ends at the
    /// reading taken when its last callback returned. A phase that ran
    /// nothing takes no time; the loop's bookkeeping around it counts
    /// towards the next phase that runs something.
    fn iterate(&self, mode: RunMode, main: &mut Option<&mut dyn FnMut() -> bool>) -> bool {
        let has_main = main.is_some();
        // Polls the main future if it was woken: (it finished, it was polled).
        let mut hook = |inner: &Inner| match main {
            Some(m) if inner.main_woken.get() => (m(), true),
            _ => (false, false),
        };
        self.now.set(self.clock.at(self.last_reading()));
        let mut mark = self.last_ns.get();
        let mut lap = |inner: &Inner, phase: Phase| {
            let end = inner.last_ns.get();
            inner.diag.add_phase(phase, end - mark);
            mark = end;
        };
        if self.run_timers() {
            lap(self, Phase::Timers);
        }
        let (done, polled) = hook(self);
        if done {
            return true;
        }
        if self.run_pending() || polled {
            lap(self, Phase::Pending);
        }
        // The main future, when polled here, counts towards the poll phase.
        if hook(self).0 {
            return true;
        }
        let timeout = self.poll_timeout(mode, has_main);
        self.run_poll(timeout);
        lap(self, Phase::Poll);
        let (done, polled) = hook(self);
        if done {
            return true;
        }
        if self.run_check() || polled {
            lap(self, Phase::Check);
        }
        let (done, polled) = hook(self);
        if done {
            return true;
        }
        if self.run_closing() || polled {
            lap(self, Phase::Close);
        }
        self.diag.iterations.set(self.diag.iterations.get() + 1);
        let (done, polled) = hook(self);
        if polled {
            // The main future's last poll of the iteration counts as closing it.
            lap(self, Phase::Close);
        }
        done
    }

    /// Drops everything the loop holds. Tasks and callbacks hold handles that
    /// hold the loop, so this is what frees them (and closes their fds).
    fn shutdown(&self) {
        for _ in 0..4 {
            self.tasks.clear();
            drop(std::mem::take(&mut *self.timers.borrow_mut()));
            drop(std::mem::take(&mut *self.next_ticks.borrow_mut()));
            drop(std::mem::take(&mut *self.micro.borrow_mut()));
            drop(std::mem::take(&mut *self.pending.borrow_mut()));
            drop(std::mem::take(&mut *self.immediates.borrow_mut()));
            drop(std::mem::take(&mut *self.closing.borrow_mut()));
            drop(std::mem::take(&mut *self.completions.borrow_mut()));
            self.ready_completions.borrow_mut().clear();
            if self.tasks.len() == 0 && !self.has_queued_work() {
                break;
            }
        }
        self.refed_timers.set(0);
        if let Some(pool) = self.pool.get() {
            pool.shutdown();
        }
    }
}

struct ResetOnDrop<'a>(&'a Cell<bool>);

impl Drop for ResetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.set(false);
    }
}
