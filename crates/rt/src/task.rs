//! The local executor: tasks that need not be `Send`.
//!
//! A task is a boxed future in a slab slot. Tasks only ever run on the loop's
//! thread, so they may hold `Rc` and `RefCell` state and share it freely.
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
//! with the task's name and spawn location, and returned by the handle.

use std::any::Any;
use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe, Location};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Instant;

use slab::Slab;

use crate::event_loop::{Inner, Micro};
use crate::reactor::Remote;

/// How many task polls one checkpoint may run before the loop moves on.
/// 128 is large enough that a burst of woken connections runs in one go,
/// small enough that a self-waking task delays the next poll by at most a
/// few hundred microseconds of typical work.
pub const TASK_BUDGET: usize = 128;

/// Token of the future passed to `block_on`, which is not in the slab.
pub(crate) const MAIN_TOKEN: u64 = u64::MAX;

/// Marks a token that names a completion callback, not a task.
pub(crate) const COMPLETION_BIT: u64 = 1 << 63;

/// The thread-safe part of a task: what its waker points at.
#[derive(Debug)]
pub(crate) struct Header {
    /// Slab key and generation, packed.
    token: u64,
    /// Which loop owns the task.
    loop_id: u64,
    /// Set while the token sits in a run queue, so repeated wakes queue it once.
    scheduled: AtomicBool,
    /// Where wakes from other threads go.
    remote: Arc<Remote>,
}

impl Header {
    pub(crate) fn new(token: u64, loop_id: u64, remote: Arc<Remote>) -> Arc<Header> {
        Arc::new(Header {
            token,
            loop_id,
            scheduled: AtomicBool::new(false),
            remote,
        })
    }
}

impl Header {
    /// Marks the task as no longer queued, just before it is polled, so a
    /// wake during the poll queues it again.
    pub(crate) fn unschedule(&self) {
        self.scheduled.store(false, Ordering::Release);
    }
}

impl Wake for Header {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref()
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if self.scheduled.swap(true, Ordering::AcqRel) {
            return;
        }
        if !Inner::try_schedule_local(self.loop_id, self.token) {
            self.remote.push(self.token);
        }
    }
}

/// Why a task did not produce its output.
pub struct JoinError {
    /// Cancelled or panicked.
    repr: JoinRepr,
    /// The task's name, or its spawn location.
    task: String,
}

enum JoinRepr {
    Cancelled,
    Panic(Box<dyn Any + Send + 'static>),
}

impl JoinError {
    pub(crate) fn cancelled(task: String) -> JoinError {
        JoinError {
            repr: JoinRepr::Cancelled,
            task,
        }
    }

    pub(crate) fn panic(payload: Box<dyn Any + Send + 'static>, task: String) -> JoinError {
        JoinError {
            repr: JoinRepr::Panic(payload),
            task,
        }
    }

    /// The task was cancelled (its handle aborted it, or the loop was dropped).
    pub fn is_cancelled(&self) -> bool {
        matches!(self.repr, JoinRepr::Cancelled)
    }

    /// The task panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self.repr, JoinRepr::Panic(_))
    }

    /// The panic payload, if the task panicked.
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send + 'static>, JoinError> {
        match self.repr {
            JoinRepr::Panic(p) => Ok(p),
            _ => Err(self),
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            JoinRepr::Cancelled => write!(f, "task {} was cancelled", self.task),
            JoinRepr::Panic(p) => write!(f, "task {} panicked: {}", self.task, panic_message(&**p)),
        }
    }
}

impl std::error::Error for JoinError {}

/// The text of a panic payload.
pub(crate) fn panic_message(p: &(dyn Any + Send)) -> &str {
    if let Some(s) = p.downcast_ref::<&str>() {
        s
    } else if let Some(s) = p.downcast_ref::<String>() {
        s
    } else {
        "<non-string panic payload>"
    }
}

/// Where a finished task's output waits for its handle.
struct JoinState<T> {
    /// The output, once there is one.
    result: Option<Result<T, JoinError>>,
    /// Whether the task has ended (the result may already be taken).
    done: bool,
    /// The task awaiting the handle.
    waker: Option<Waker>,
}

/// The type-erased side of a [`JoinState`], kept in the task's slot.
trait TaskEnd {
    fn fail(&self, err: JoinError);
}

impl<T> TaskEnd for RefCell<JoinState<T>> {
    fn fail(&self, err: JoinError) {
        complete(self, Err(err));
    }
}

fn complete<T>(state: &RefCell<JoinState<T>>, r: Result<T, JoinError>) {
    let waker = {
        let mut s = state.borrow_mut();
        if s.done {
            return;
        }
        s.done = true;
        s.result = Some(r);
        s.waker.take()
    };
    if let Some(w) = waker {
        w.wake();
    }
}

/// One task in the slab.
struct TaskSlot {
    /// The future; `None` while it is being polled.
    future: Option<Pin<Box<dyn Future<Output = ()>>>>,
    /// The waker handed to the future.
    waker: Waker,
    /// What the waker points at.
    header: Arc<Header>,
    /// Where the output or the failure goes.
    end: Rc<dyn TaskEnd>,
    /// The name given at spawn, if any.
    name: Option<Cow<'static, str>>,
    /// Where the task was spawned.
    location: &'static Location<'static>,
    /// Set when the handle cancels the task during its own poll.
    cancelled: bool,
    /// The stall label the task had set when it last yielded; restored
    /// around each of its polls, so it never leaks to other tasks.
    label: Option<Cow<'static, str>>,
}

impl TaskSlot {
    fn label(&self) -> String {
        describe(self.name.as_deref(), self.location)
    }
}

fn describe(name: Option<&str>, location: &Location<'_>) -> String {
    match name {
        Some(n) => format!("'{n}' (spawned at {location})"),
        None => format!("spawned at {location}"),
    }
}

/// The loop's task slab.
#[derive(Default)]
pub(crate) struct Tasks {
    /// Live tasks.
    slab: RefCell<Slab<TaskSlot>>,
    /// Generation for the next task.
    next_gen: std::cell::Cell<u32>,
}

impl fmt::Debug for Tasks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tasks").field("len", &self.len()).finish()
    }
}

fn pack(key: usize, gen: u32) -> u64 {
    ((gen as u64) << 32) | key as u64
}

fn unpack(token: u64) -> (usize, u32) {
    ((token & 0xffff_ffff) as usize, (token >> 32) as u32)
}

impl Tasks {
    /// Number of live tasks.
    pub(crate) fn len(&self) -> usize {
        self.slab.borrow().len()
    }

    /// Drops every task. Called when the loop is dropped: tasks hold handles
    /// that hold the loop, so this breaks the cycle.
    pub(crate) fn clear(&self) {
        loop {
            // One at a time: dropping a future may cancel other tasks.
            let slot = {
                let mut slab = self.slab.borrow_mut();
                let Some(key) = slab.iter().next().map(|(k, _)| k) else {
                    break;
                };
                slab.remove(key)
            };
            let label = slot.label();
            let end = slot.end.clone();
            drop(slot);
            end.fail(JoinError {
                repr: JoinRepr::Cancelled,
                task: label,
            });
        }
    }

    /// Cancels a task: drops its future now, or after its current poll.
    fn cancel(&self, token: u64) {
        let (key, gen) = unpack(token);
        let slot = {
            let mut slab = self.slab.borrow_mut();
            match slab.get_mut(key) {
                Some(s) if s.header.token == pack(key, gen) => {
                    if s.future.is_none() {
                        s.cancelled = true;
                        return;
                    }
                    slab.remove(key)
                }
                _ => return,
            }
        };
        let label = slot.label();
        let end = slot.end.clone();
        drop(slot);
        end.fail(JoinError {
            repr: JoinRepr::Cancelled,
            task: label,
        });
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
    {
        let state = Rc::new(RefCell::new(JoinState {
            result: None,
            done: false,
            waker: None,
        }));
        let wrapped = Completing {
            future,
            state: Some(state.clone()),
        };
        let token = {
            let mut slab = self.tasks.slab.borrow_mut();
            let gen = self.tasks.next_gen.get();
            self.tasks.next_gen.set(gen.wrapping_add(1));
            let entry = slab.vacant_entry();
            let token = pack(entry.key(), gen);
            let header = Header::new(token, self.id, self.remote.clone());
            entry.insert(TaskSlot {
                future: Some(Box::pin(wrapped)),
                waker: Waker::from(header.clone()),
                header,
                end: state.clone(),
                name,
                location,
                cancelled: false,
                label: None,
            });
            token
        };
        self.tasks.slab.borrow()[unpack(token).0]
            .waker
            .wake_by_ref();
        JoinHandle {
            state,
            token,
            inner: self.clone(),
            detached: false,
        }
    }

    /// Polls one task, if `token` still names a live one. Returns whether a
    /// poll happened.
    pub(crate) fn run_task(&self, token: u64) -> bool {
        let (key, gen) = unpack(token);
        let (mut fut, waker, label) = {
            let mut slab = self.tasks.slab.borrow_mut();
            let Some(slot) = slab.get_mut(key) else {
                return false;
            };
            if slot.header.token != pack(key, gen) {
                return false;
            }
            let Some(fut) = slot.future.take() else {
                return false;
            };
            // Unscheduled before the poll, so a wake during it queues again.
            slot.header.unschedule();
            (fut, slot.waker.clone(), slot.label.take())
        };
        let outer_label = self.diag.label.replace(label);
        self.current_task.set(Some(token));
        let start = Instant::now();
        let mut cx = Context::from_waker(&waker);
        let res = catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(&mut cx)));
        let elapsed = start.elapsed();
        self.current_task.set(None);
        self.diag.task_polls.set(self.diag.task_polls.get() + 1);
        if elapsed >= self.diag.stall_threshold.get() {
            let (name, location) = self.task_identity(key);
            self.report_stall(crate::diag::StallSource::Task { name, location }, elapsed);
        }
        let task_label = self.diag.label.replace(outer_label);
        match res {
            Ok(Poll::Pending) => {
                let cancelled = {
                    let mut slab = self.tasks.slab.borrow_mut();
                    let slot = &mut slab[key];
                    if slot.cancelled {
                        Some((slab.remove(key), fut))
                    } else {
                        slot.future = Some(fut);
                        slot.label = task_label;
                        None
                    }
                };
                if let Some((slot, fut)) = cancelled {
                    let label = slot.label();
                    let end = slot.end.clone();
                    drop((slot, fut));
                    end.fail(JoinError {
                        repr: JoinRepr::Cancelled,
                        task: label,
                    });
                }
            }
            Ok(Poll::Ready(())) => {
                let slot = self.tasks.slab.borrow_mut().remove(key);
                drop((slot, fut));
            }
            Err(payload) => {
                let slot = self.tasks.slab.borrow_mut().remove(key);
                let label = slot.label();
                tracing::error!(
                    task = %label,
                    panic = panic_message(&*payload),
                    "a task panicked; the loop goes on"
                );
                self.diag.panics.set(self.diag.panics.get() + 1);
                let end = slot.end.clone();
                drop((slot, fut));
                end.fail(JoinError {
                    repr: JoinRepr::Panic(payload),
                    task: label,
                });
            }
        }
        true
    }

    fn task_identity(&self, key: usize) -> (Option<Cow<'static, str>>, &'static Location<'static>) {
        let slab = self.tasks.slab.borrow();
        let slot = &slab[key];
        (slot.name.clone(), slot.location)
    }
}

pin_project_lite::pin_project! {
    /// A task's future: polls the user's future and stores its output for
    /// the handle. (An `async` block would keep the user's future twice,
    /// once captured and once awaited, doubling every task's size.)
    struct Completing<F: Future> {
        #[pin]
        future: F,
        state: Option<Rc<RefCell<JoinState<F::Output>>>>,
    }
}

impl<F: Future> Future for Completing<F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        let out = std::task::ready!(this.future.poll(cx));
        if let Some(state) = this.state.take() {
            complete(&state, Ok(out));
        }
        Poll::Ready(())
    }
}

/// An owned permission to await a task's output.
///
/// Dropping the handle cancels the task; call [`detach`](Self::detach) to let
/// it run to completion on its own.
#[must_use = "dropping a JoinHandle cancels the task; call .detach() to let it run"]
pub struct JoinHandle<T> {
    /// Shared with the task.
    state: Rc<RefCell<JoinState<T>>>,
    /// The task's token.
    token: u64,
    /// The loop the task lives on.
    inner: Rc<Inner>,
    /// Whether dropping the handle leaves the task alone.
    detached: bool,
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("token", &self.token)
            .field("finished", &self.is_finished())
            .finish()
    }
}

impl<T> JoinHandle<T> {
    /// Lets the task run to completion without a handle.
    pub fn detach(mut self) {
        self.detached = true;
    }

    /// Cancels the task. Awaiting the handle then yields a cancelled
    /// [`JoinError`], unless the task had already finished.
    pub fn abort(&self) {
        self.inner.tasks.cancel(self.token);
    }

    /// Whether the task has ended (completed, panicked, or cancelled).
    pub fn is_finished(&self) -> bool {
        self.state.borrow().done
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut s = self.state.borrow_mut();
        if let Some(r) = s.result.take() {
            return Poll::Ready(r);
        }
        assert!(!s.done, "JoinHandle polled after it returned its output");
        s.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        if !self.detached && !self.state.borrow().done {
            self.inner.tasks.cancel(self.token);
        }
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
            let (key, _) = unpack(token);
            let waker = self
                .tasks
                .slab
                .borrow()
                .get(key)
                .filter(|s| s.header.token == token)
                .map(|s| s.waker.clone());
            if let Some(w) = waker {
                w.wake();
            }
        }
    }
}
