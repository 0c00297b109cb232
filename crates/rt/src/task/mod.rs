//! The local executor: tasks that need not be `Send`.
//!
//! A task is one heap block (its [`cell::TaskCell`]: the future, then its
//! output) in a slab slot, plus a small shared [`header::Header`] that its
//! wakers point at (recycled between tasks). Tasks only ever run on the
//! loop's thread, so they may hold `Rc` and `RefCell` state and share it
//! freely.
//!
//! **A woken task is a microtask.** Waking a task on the loop's thread pushes
//! its token onto the loop's microtask queue, in FIFO order with closures
//! queued by [`queue_microtask`](crate::queue_microtask), the way an `await`
//! continuation is a microtask in Node. The queue is drained at every
//! checkpoint (after each callback), so a task woken by a timer runs right
//! after that timer's callback, before the next timer.
//!
//! **Wakers may be woken from any thread** (pool workers, foreign threads).
//! That one path is thread-safe: a waker woken off the loop's thread pushes
//! its token onto the [`Remote`](crate::reactor::Remote) queue and wakes the
//! poller; the loop moves those tokens to the microtask queue after the poll.
//! Everything else is single-threaded and takes no lock.
//!
//! **Budget.** At most [`TASK_BUDGET`] task polls run per checkpoint; the
//! rest wait for the next checkpoint, and the loop does not block in the
//! poll phase while any are queued. A task that wakes itself in a loop cannot
//! starve I/O or timers.
//!
//! **Lifetimes.** Dropping a [`JoinHandle`] cancels its task (the future is
//! dropped, at once or, if the task is running, right after its poll);
//! [`JoinHandle::detach`] lets it run on. A panic in a task is caught, logged
//! with the task's name and spawn location, and returned by the handle. A
//! slot lives until its task has ended *and* no handle can still collect the
//! result; only running tasks count as live work for the loop.
//!
//! **Re-entrancy.** No slab borrow is held while user code runs: polls,
//! drops of futures and outputs, and waker drops all happen outside it,
//! because each of them may spawn, cancel or join other tasks.

mod cell;
mod header;
mod join;

use std::any::Any;
use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe, Location};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use slab::Slab;

use crate::event_loop::{Inner, Micro};
use cell::{AnyTask, Meta, TaskCell};
pub(crate) use header::Header;
pub use join::panic_message;
pub use join::{JoinError, JoinHandle};

/// How many task polls one checkpoint may run before the loop moves on.
/// 128 is large enough that a burst of woken connections runs in one go,
/// small enough that a self-waking task delays the next poll by at most a
/// few hundred microseconds of typical work.
pub const TASK_BUDGET: usize = 128;

/// Token of the future passed to `block_on`, which is not in the slab.
pub(crate) const MAIN_TOKEN: u64 = u64::MAX;

/// Marks a token that names a completion callback, not a task.
pub(crate) const COMPLETION_BIT: u64 = 1 << 63;

/// Where a task is in its life.
enum State {
    /// Not yet ended. Its cell is in the slot, or out being polled.
    Running,
    /// Cancelled while its cell was out being polled: it ends right after.
    CancelRequested,
    /// Completed; the output waits in the cell for the handle.
    Finished,
    /// Cancelled or panicked; the cell is gone.
    Failed(Box<JoinError>),
}

/// One task in the slab.
struct Slot {
    /// Slab key and generation, packed; tells a reused slot from the old one.
    token: u64,
    /// The cell; `None` while it is being polled and once the task failed.
    task: Option<Pin<Box<dyn AnyTask>>>,
    /// What the task's wakers point at.
    header: Arc<Header>,
    /// The task awaiting the handle.
    join_waker: Option<Waker>,
    /// Where the task is in its life.
    state: State,
    /// Whether a handle may still collect the result.
    joined: bool,
}

/// Parts of a freed slot, dropped once the slab is no longer borrowed.
type Leftovers = (Option<Pin<Box<dyn AnyTask>>>, Option<Waker>, State);

/// The loop's task slab.
#[derive(Default)]
pub(crate) struct Tasks {
    /// Live tasks, and ended ones whose handle has not taken the result.
    slab: RefCell<Slab<Slot>>,
    /// Generation for the next task.
    next_gen: Cell<u32>,
    /// Tasks that have not ended.
    live: Cell<usize>,
    /// Headers with no waker left, for the next spawns.
    free_headers: RefCell<Vec<Arc<Header>>>,
}

impl fmt::Debug for Tasks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tasks").field("live", &self.len()).finish()
    }
}

fn pack(key: usize, gen: u32) -> u64 {
    ((gen as u64) << 32) | key as u64
}

fn key_of(token: u64) -> usize {
    (token & 0xffff_ffff) as usize
}

fn slot_mut(slab: &mut Slab<Slot>, token: u64) -> Option<&mut Slot> {
    slab.get_mut(key_of(token)).filter(|s| s.token == token)
}

impl Tasks {
    /// Number of tasks that have not ended.
    pub(crate) fn len(&self) -> usize {
        self.live.get()
    }

    /// Frees a slot; its header goes to the free list when no waker of it
    /// is left. The caller drops the leftovers after releasing the slab.
    fn free(&self, slab: &mut Slab<Slot>, key: usize) -> Leftovers {
        let Slot {
            task,
            mut header,
            join_waker,
            state,
            ..
        } = slab.remove(key);
        if slab.is_empty() {
            // Forget the free list, so the next tasks take slots in address
            // order again (tokens carry a generation, so old ones name
            // nothing).
            slab.clear();
        }
        if Header::is_unique(&mut header) {
            let mut free = self.free_headers.borrow_mut();
            if free.len() < header::FREE_HEADERS {
                free.push(header);
            }
        }
        (task, join_waker, state)
    }

    /// Records the end of a task whose future is already gone (dropped or
    /// completed): frees the slot if no handle wants the result, else keeps
    /// the result and wakes the handle.
    fn settle(&self, token: u64, task: Option<Pin<Box<dyn AnyTask>>>, state: State) {
        self.live.set(self.live.get() - 1);
        let leftovers = {
            let mut slab = self.slab.borrow_mut();
            let Some(slot) = slot_mut(&mut slab, token) else {
                return;
            };
            if slot.joined {
                slot.task = task;
                slot.state = state;
                Ok(slot.join_waker.take())
            } else {
                Err((self.free(&mut slab, key_of(token)), task, state))
            }
        };
        match leftovers {
            Ok(waker) => {
                if let Some(w) = waker {
                    w.wake();
                }
            }
            Err(parts) => drop(parts),
        }
    }

    /// Ends a task by cancellation: drops its future now, or marks it to end
    /// right after its current poll.
    pub(crate) fn cancel(&self, token: u64) {
        let (task, label) = {
            let mut slab = self.slab.borrow_mut();
            let Some(slot) = slot_mut(&mut slab, token) else {
                return;
            };
            if !matches!(slot.state, State::Running) {
                return;
            }
            match slot.task.take() {
                None => {
                    slot.state = State::CancelRequested;
                    return;
                }
                Some(mut task) => {
                    let label = task.as_mut().meta().describe();
                    (task, label)
                }
            }
        };
        drop(task);
        self.settle(
            token,
            None,
            State::Failed(Box::new(JoinError::cancelled(label))),
        );
    }

    /// The handle gives the task up: `cancel` (the handle was dropped) ends
    /// it if it is still running; otherwise (detached) it runs on. Either
    /// way, the slot is freed as soon as the task has ended.
    pub(crate) fn release(&self, token: u64, cancel: bool) {
        let leftovers = {
            let mut slab = self.slab.borrow_mut();
            let Some(slot) = slot_mut(&mut slab, token) else {
                return;
            };
            slot.joined = false;
            match slot.state {
                State::Running | State::CancelRequested => None,
                State::Finished | State::Failed(_) => Some(self.free(&mut slab, key_of(token))),
            }
        };
        match leftovers {
            Some(parts) => drop(parts),
            None if cancel => self.cancel(token),
            None => {}
        }
    }

    /// Whether the task named by `token` has ended.
    pub(crate) fn is_finished(&self, token: u64) -> bool {
        let mut slab = self.slab.borrow_mut();
        match slot_mut(&mut slab, token) {
            Some(slot) => matches!(slot.state, State::Finished | State::Failed(_)),
            None => true,
        }
    }

    /// The handle's poll: once the task has ended, moves its output into
    /// `out` (an `Option<T>`) or returns its failure, and frees the slot.
    pub(crate) fn poll_join(
        &self,
        token: u64,
        out: &mut dyn Any,
        waker: &Waker,
    ) -> Poll<Result<(), JoinError>> {
        let (result, leftovers) = {
            let mut slab = self.slab.borrow_mut();
            let slot = slot_mut(&mut slab, token).expect("a JoinHandle's task slot outlives it");
            match slot.state {
                State::Running | State::CancelRequested => {
                    if slot.join_waker.as_ref().is_some_and(|w| w.will_wake(waker)) {
                        return Poll::Pending;
                    }
                    let old = slot.join_waker.replace(waker.clone());
                    drop(slab);
                    drop(old);
                    return Poll::Pending;
                }
                State::Finished => {
                    if let Some(task) = slot.task.as_mut() {
                        task.as_mut().take_output(out);
                    }
                    (Ok(()), self.free(&mut slab, key_of(token)))
                }
                State::Failed(_) => {
                    let (task, waker, state) = self.free(&mut slab, key_of(token));
                    let State::Failed(err) = state else {
                        unreachable!("matched Failed above")
                    };
                    (Err(*err), (task, waker, State::Finished))
                }
            }
        };
        drop(leftovers);
        Poll::Ready(result)
    }

    /// Ends every task. Called when the loop is dropped: tasks hold handles
    /// that hold the loop, so this breaks the cycle.
    pub(crate) fn clear(&self) {
        let tokens: Vec<u64> = self
            .slab
            .borrow()
            .iter()
            .filter(|(_, s)| matches!(s.state, State::Running))
            .map(|(_, s)| s.token)
            .collect();
        // One at a time: dropping a future may cancel or spawn other tasks.
        for token in tokens {
            self.cancel(token);
        }
        // Tasks spawned by the drops above.
        while self.live.get() > 0 {
            let token = self
                .slab
                .borrow()
                .iter()
                .find(|(_, s)| matches!(s.state, State::Running) && s.task.is_some())
                .map(|(_, s)| s.token);
            match token {
                Some(t) => self.cancel(t),
                None => break,
            }
        }
    }
}

impl Inner {
    /// Spawns a task and queues its first poll.
    pub(crate) fn spawn<F>(
        self: &Rc<Self>,
        name: Option<Cow<'static, str>>,
        location: &'static Location<'static>,
        future: F,
    ) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let meta = Meta {
            name,
            location,
            label: None,
        };
        let task: Pin<Box<dyn AnyTask>> = Box::pin(TaskCell::new(meta, future));
        let free = self.tasks.free_headers.borrow_mut().pop();
        let token = {
            let mut slab = self.tasks.slab.borrow_mut();
            let gen = self.tasks.next_gen.get();
            self.tasks.next_gen.set(gen.wrapping_add(1));
            let entry = slab.vacant_entry();
            let token = pack(entry.key(), gen);
            let header = Header::reuse_or_new(free, token, self.id, &self.remote);
            let slot = entry.insert(Slot {
                token,
                task: Some(task),
                header,
                join_waker: None,
                state: State::Running,
                joined: true,
            });
            // Our own code only: queues the token, touches no slab.
            slot.header.wake_by_ref();
            token
        };
        self.tasks.live.set(self.tasks.live.get() + 1);
        JoinHandle::new(token, self.clone())
    }

    /// Polls one task, if `token` still names a running one. Returns whether
    /// a poll happened.
    pub(crate) fn run_task(&self, token: u64) -> bool {
        let (mut task, header) = {
            let mut slab = self.tasks.slab.borrow_mut();
            let Some(slot) = slot_mut(&mut slab, token) else {
                return false;
            };
            if !matches!(slot.state, State::Running) {
                return false;
            }
            let Some(task) = slot.task.take() else {
                return false;
            };
            // Unscheduled before the poll, so a wake during it queues again.
            slot.header.unschedule();
            (task, slot.header.clone())
        };
        let waker = Waker::from(header);
        let label = task.as_mut().meta().label.take();
        let outer_label = self.diag.label.replace(label);
        self.current_task.set(Some(token));
        let mut cx = Context::from_waker(&waker);
        let res = catch_unwind(AssertUnwindSafe(|| task.as_mut().poll_task(&mut cx)));
        let elapsed = self.time_since_reading();
        self.current_task.set(None);
        self.diag.task_polls.set(self.diag.task_polls.get() + 1);
        if elapsed >= self.diag.stall_threshold.get() {
            let meta = task.as_mut().meta();
            let source = crate::diag::StallSource::Task {
                name: meta.name.clone(),
                location: meta.location,
            };
            self.report_stall(source, elapsed);
        }
        task.as_mut().meta().label = self.diag.label.replace(outer_label);
        drop(waker);
        match res {
            Ok(Poll::Pending) => {
                let cancelled = {
                    let mut slab = self.tasks.slab.borrow_mut();
                    let slot = slot_mut(&mut slab, token).expect("a polled task keeps its slot");
                    if matches!(slot.state, State::CancelRequested) {
                        Some(task)
                    } else {
                        slot.task = Some(task);
                        None
                    }
                };
                let Some(mut task) = cancelled else {
                    return true;
                };
                let label = task.as_mut().meta().describe();
                drop(task);
                let err = JoinError::cancelled(label);
                self.tasks.settle(token, None, State::Failed(Box::new(err)));
            }
            Ok(Poll::Ready(())) => self.tasks.settle(token, Some(task), State::Finished),
            Err(payload) => {
                let label = task.as_mut().meta().describe();
                tracing::error!(
                    task = %label,
                    panic = panic_message(&*payload),
                    "a task panicked; the loop goes on"
                );
                self.diag.panics.set(self.diag.panics.get() + 1);
                drop(task);
                let err = JoinError::panic(payload, label);
                self.tasks.settle(token, None, State::Failed(Box::new(err)));
            }
        }
        // The task ended and its future was dropped, running destructors:
        // the loop's time, not the next poll's (see `Inner::take_reading`).
        self.take_reading();
        true
    }
}

/// Spawns a task on the current loop. The future need not be `Send`.
///
/// The task first runs at the next checkpoint. Panics if no loop is entered
/// on this thread.
#[track_caller]
pub fn spawn_local<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let location = Location::caller();
    Inner::current().spawn(None, location, future)
}

/// Spawns a named task; the name appears in stall reports, panic reports and
/// [`JoinError`]s.
#[track_caller]
pub fn spawn_named<F>(name: impl Into<Cow<'static, str>>, future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let location = Location::caller();
    Inner::current().spawn(Some(name.into()), location, future)
}

/// Yields to the loop: the task runs again after the next poll for I/O, like
/// `await new Promise(r => setImmediate(r))` in Node.
pub fn yield_now() -> YieldNow {
    YieldNow { yielded: false }
}

/// The future returned by [`yield_now`].
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct YieldNow {
    /// Whether the first poll already happened.
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        let inner = Inner::current();
        match inner.current_task.get() {
            Some(token) => inner.deferred.borrow_mut().push(token),
            None => cx.waker().wake_by_ref(),
        }
        Poll::Pending
    }
}

impl Inner {
    /// Queues a task token as a microtask (called for local wakes).
    pub(crate) fn schedule_token(&self, token: u64) {
        if token == MAIN_TOKEN {
            self.main_woken.set(true);
        } else if token & COMPLETION_BIT != 0 {
            self.queue_completion(token);
        } else {
            self.micro.borrow_mut().push_back(Micro::Task(token));
        }
    }

    /// Moves deferred (yielded) tasks back onto the run queue, marking them
    /// unscheduled first so the wake goes through.
    pub(crate) fn requeue_deferred(&self) {
        let deferred = std::mem::take(&mut *self.deferred.borrow_mut());
        for token in deferred {
            if token == MAIN_TOKEN {
                self.main_woken.set(true);
                continue;
            }
            let header = {
                let mut slab = self.tasks.slab.borrow_mut();
                slot_mut(&mut slab, token)
                    .filter(|s| matches!(s.state, State::Running))
                    .map(|s| s.header.clone())
            };
            if let Some(h) = header {
                h.wake();
            }
        }
    }
}
