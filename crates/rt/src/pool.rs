//! The worker pool: blocking work off the loop thread (libuv's threadpool).
//!
//! Files, DNS, SQLite and CPU-heavy work run here. The pool starts on first
//! use with [`DEFAULT_THREADS`] workers, or `WAITER_THREADPOOL_SIZE`, capped at
//! [`MAX_THREADS`]. Jobs run FIFO; "slow" jobs (DNS lookups) may occupy at most
//! half the workers (`(n + 1) / 2`, as in libuv), so slow lookups cannot
//! starve file I/O.
//!
//! **Completions never touch loop state from a worker.** A worker stores the
//! result in the job's own slot and wakes the waiting task's waker; off the
//! loop thread that waker goes through the loop's remote queue and
//! `mio::Waker`, and the task runs on the loop after the poll phase.
//!
//! **Lock order.** A worker holds at most one lock at a time: the queue lock
//! while it takes a job, then (after releasing it) the job slot's lock while
//! it stores the result. It wakes the waker after releasing both. The loop
//! thread takes the queue lock only to submit, and a slot lock only to read
//! or cancel its own job.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use crate::event_loop::Inner;
use crate::task::JoinError;

/// Workers started when nothing else is configured.
pub const DEFAULT_THREADS: usize = 4;

/// The most workers a pool may have.
pub const MAX_THREADS: usize = 1024;

/// Environment variable that sets the worker count.
pub const THREADPOOL_SIZE_ENV: &str = "WAITER_THREADPOOL_SIZE";

/// A job's class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Class {
    /// Any worker may run it.
    Fast,
    /// At most half the workers run these at once.
    Slow,
}

type Job = Box<dyn FnOnce() + Send>;

/// The queues, under one lock.
struct State {
    /// Fast jobs with their submission sequence.
    fast: VecDeque<(u64, Job)>,
    /// Slow jobs with their submission sequence.
    slow: VecDeque<(u64, Job)>,
    /// Next submission sequence, for FIFO order across both queues.
    seq: u64,
    /// Workers running a slow job.
    slow_running: usize,
    /// Workers waiting on the condvar.
    idle: usize,
    /// Set when the loop is dropped.
    shutdown: bool,
}

struct Shared {
    /// The queues.
    state: Mutex<State>,
    /// Signals workers that a job (or shutdown) is there.
    cv: Condvar,
    /// Most slow jobs running at once.
    slow_max: usize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Jobs run outside every lock, so a poisoned lock only means a panic
    // between two lines of this file; the data is still consistent.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The pool owned by one loop.
pub(crate) struct Pool {
    /// Shared with the workers.
    shared: Arc<Shared>,
    /// Workers started.
    threads: usize,
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("threads", &self.threads)
            .finish()
    }
}

/// The worker count: the explicit setting, else the environment, else the
/// default; always between 1 and [`MAX_THREADS`].
pub(crate) fn configured_threads(explicit: Option<usize>) -> usize {
    let env = || std::env::var(THREADPOOL_SIZE_ENV).ok()?.trim().parse().ok();
    explicit
        .or_else(env)
        .unwrap_or(DEFAULT_THREADS)
        .clamp(1, MAX_THREADS)
}

impl Pool {
    pub(crate) fn start(n: usize) -> Pool {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                fast: VecDeque::new(),
                slow: VecDeque::new(),
                seq: 0,
                slow_running: 0,
                idle: 0,
                shutdown: false,
            }),
            cv: Condvar::new(),
            slow_max: n.div_ceil(2),
        });
        let mut threads = 0;
        for i in 0..n {
            let s = shared.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("waiter-pool-{i}"))
                .spawn(move || worker(&s));
            match spawned {
                Ok(_) => threads += 1,
                Err(e) if threads > 0 => {
                    tracing::error!(error = %e, threads, "cannot start more pool workers");
                    break;
                }
                Err(e) => panic!("cannot start any pool worker: {e}"),
            }
        }
        Pool { shared, threads }
    }

    pub(crate) fn submit(&self, class: Class, job: Job) {
        let mut st = lock(&self.shared.state);
        let seq = st.seq;
        st.seq += 1;
        match class {
            Class::Fast => st.fast.push_back((seq, job)),
            Class::Slow => st.slow.push_back((seq, job)),
        }
        let wake = st.idle > 0;
        drop(st);
        if wake {
            self.shared.cv.notify_one();
        }
    }

    pub(crate) fn queue_depth(&self) -> usize {
        let st = lock(&self.shared.state);
        st.fast.len() + st.slow.len()
    }

    pub(crate) fn threads(&self) -> usize {
        self.threads
    }

    /// Drops queued jobs (their tasks see a cancellation) and lets workers
    /// exit after their current job. Does not wait for them.
    pub(crate) fn shutdown(&self) {
        let (fast, slow) = {
            let mut st = lock(&self.shared.state);
            st.shutdown = true;
            (std::mem::take(&mut st.fast), std::mem::take(&mut st.slow))
        };
        self.shared.cv.notify_all();
        drop((fast, slow));
    }
}

fn next_job(st: &mut State, slow_max: usize) -> Option<(Job, Class)> {
    let slow_ok = st.slow_running < slow_max;
    let take_slow = match (st.fast.front(), st.slow.front()) {
        (_, None) => false,
        (None, Some(_)) => slow_ok,
        (Some((f, _)), Some((s, _))) => slow_ok && s < f,
    };
    if take_slow {
        st.slow_running += 1;
        st.slow.pop_front().map(|(_, j)| (j, Class::Slow))
    } else {
        st.fast.pop_front().map(|(_, j)| (j, Class::Fast))
    }
}

fn worker(shared: &Shared) {
    let mut st = lock(&shared.state);
    loop {
        if st.shutdown {
            return;
        }
        let Some((job, class)) = next_job(&mut st, shared.slow_max) else {
            st.idle += 1;
            st = shared.cv.wait(st).unwrap_or_else(|e| e.into_inner());
            st.idle -= 1;
            continue;
        };
        drop(st);
        job();
        st = lock(&shared.state);
        if class == Class::Slow {
            st.slow_running -= 1;
        }
    }
}

/// A job's result slot, shared by the worker and the future.
struct Slot<T> {
    state: Mutex<SlotState<T>>,
}

struct SlotState<T> {
    /// The job's return value, or its panic.
    result: Option<std::thread::Result<T>>,
    /// The task awaiting the result.
    waker: Option<Waker>,
    /// Set when the job was cancelled before it started.
    cancelled: bool,
    /// Set when a worker has started the job.
    started: bool,
}

impl<T> Slot<T> {
    /// Cancels the job if no worker has started it.
    fn cancel(&self) -> bool {
        let waker = {
            let mut s = lock(&self.state);
            if s.started || s.cancelled {
                return false;
            }
            s.cancelled = true;
            s.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
        true
    }
}

/// The future of a pool job; resolves to the job's result.
///
/// Dropping it before a worker starts the job cancels the job.
#[must_use = "futures do nothing unless awaited"]
pub struct BlockingTask<T> {
    /// Shared with the worker.
    slot: Arc<Slot<T>>,
    /// The loop whose active-request count this holds.
    inner: Rc<Inner>,
    /// Whether the result was delivered (and the request count released).
    done: bool,
}

impl<T> fmt::Debug for BlockingTask<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockingTask")
            .field("done", &self.done)
            .finish()
    }
}

impl<T> BlockingTask<T> {
    /// Cancels the job if no worker has started it; the future then resolves
    /// to a cancelled [`JoinError`]. Returns whether it was cancelled.
    pub fn cancel(&self) -> bool {
        self.slot.cancel()
    }

    fn release(&mut self) {
        if !self.done {
            self.done = true;
            self.inner.active_reqs.set(self.inner.active_reqs.get() - 1);
        }
    }
}

impl<T> Future for BlockingTask<T> {
    type Output = Result<T, JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        assert!(!self.done, "BlockingTask polled after completion");
        let out = {
            let mut s = lock(&self.slot.state);
            match s.result.take() {
                Some(Ok(v)) => Ok(v),
                Some(Err(p)) => Err(JoinError::panic(p, "pool job".into())),
                None if s.cancelled => Err(JoinError::cancelled("pool job".into())),
                None => {
                    if !s.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                        s.waker = Some(cx.waker().clone());
                    }
                    return Poll::Pending;
                }
            }
        };
        self.release();
        Poll::Ready(out)
    }
}

impl<T> Drop for BlockingTask<T> {
    fn drop(&mut self) {
        if !self.done {
            self.slot.cancel();
            self.release();
        }
    }
}

impl Inner {
    fn pool(&self) -> &Pool {
        self.pool
            .get_or_init(|| Pool::start(configured_threads(self.pool_size)))
    }
}

pub(crate) fn submit_class<T, F>(class: Class, f: F) -> BlockingTask<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let inner = Inner::current();
    let slot = Arc::new(Slot {
        state: Mutex::new(SlotState {
            result: None,
            waker: None,
            cancelled: false,
            started: false,
        }),
    });
    let s = slot.clone();
    let job = Box::new(move || {
        {
            let mut st = lock(&s.state);
            if st.cancelled {
                return;
            }
            st.started = true;
        }
        let r = catch_unwind(AssertUnwindSafe(f));
        let waker = {
            let mut st = lock(&s.state);
            st.result = Some(r);
            st.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    });
    inner.active_reqs.set(inner.active_reqs.get() + 1);
    inner.pool().submit(class, job);
    BlockingTask {
        slot,
        inner,
        done: false,
    }
}

/// Runs `f` on the worker pool; the future resolves to its result, or to a
/// [`JoinError`] if it panicked or was cancelled.
///
/// While the job is in flight it keeps the loop alive (an active request).
pub fn spawn_blocking<T, F>(f: F) -> BlockingTask<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    submit_class(Class::Fast, f)
}

/// A pool job submitted with a completion callback; see [`submit`].
pub struct WorkRequest {
    /// Cancels the job.
    cancel: Box<dyn Fn() -> bool>,
}

impl fmt::Debug for WorkRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkRequest").finish_non_exhaustive()
    }
}

impl WorkRequest {
    /// Cancels the job if no worker has started it; `done` is then called
    /// with a cancelled [`JoinError`] (libuv's `UV_ECANCELED`). Returns
    /// whether it was cancelled.
    pub fn cancel(&self) -> bool {
        (self.cancel)()
    }
}

/// Runs `work` on the pool, then `done` with its result on the loop thread
/// (libuv's `uv_queue_work`). `done` runs in the poll phase as a callback of
/// its own, like any I/O callback, followed by a checkpoint.
pub fn submit<T, W, D>(work: W, done: D) -> WorkRequest
where
    W: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
    D: FnOnce(Result<T, JoinError>) + 'static,
{
    let mut task = spawn_blocking(work);
    let slot = task.slot.clone();
    let inner = task.inner.clone();
    let waker = inner.completion(Box::new(move || {
        // The completion is only queued once the result (or the
        // cancellation) is in the slot, so this poll is ready.
        let mut cx = Context::from_waker(Waker::noop());
        match Pin::new(&mut task).poll(&mut cx) {
            Poll::Ready(r) => done(r),
            Poll::Pending => unreachable!("pool completion queued before its result"),
        }
    }));
    let finished = {
        let mut st = lock(&slot.state);
        let finished = st.result.is_some() || st.cancelled;
        if !finished {
            st.waker = Some(waker.clone());
        }
        finished
    };
    if finished {
        waker.wake();
    }
    WorkRequest {
        cancel: Box::new(move || slot.cancel()),
    }
}
