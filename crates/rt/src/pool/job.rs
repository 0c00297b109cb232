//! Jobs: the result slot a worker fills, and the two ways to wait for it
//! ([`BlockingTask`], a future; [`WorkRequest`], a completion callback).
//!
//! A job's slot is the only state a worker and the loop share for it; see
//! the lock order in the parent module. A job that has not started when its
//! future or request is dropped is cancelled and never runs; one that has
//! started runs to the end and its result is dropped.

use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use super::{configured_threads, lock, Class, Pool};
use crate::event_loop::Inner;
use crate::task::JoinError;

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

/// Cancels its job when dropped unrun, such as when the pool drops its queue
/// at shutdown, so the job's future resolves instead of waiting forever.
/// Running the job takes the slot out first.
struct CancelUnrun<T>(Option<Arc<Slot<T>>>);

impl<T> Drop for CancelUnrun<T> {
    fn drop(&mut self) {
        if let Some(slot) = self.0.take() {
            slot.cancel();
        }
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
    let mut unrun = CancelUnrun(Some(slot.clone()));
    let job = Box::new(move || {
        let s = unrun.0.take().expect("a job runs once");
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
