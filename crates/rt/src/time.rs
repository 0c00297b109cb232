//! Timers: `set_timeout`, `set_interval`, `sleep`, `timeout`.
//!
//! The callback forms follow Node: the delay is measured from the loop's
//! cached time, clamped to at least 1 ms (so `set_timeout(0)` from the main
//! script races `set_immediate`, as in Node), and a timer keeps the loop alive
//! until it fires or is cleared, unless [`Timer::unref`] is called.
//!
//! The future forms ([`sleep`], [`timeout`]) measure from the clock's current
//! reading, so a sleep of `d` never ends less than `d` after it was created,
//! even if the current iteration has been running for a while. A `Sleep`
//! claims a timer only when first polled and releases it when dropped.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::event_loop::{Inner, TimerAction, TimerEntry};
use crate::timers::TimerId;

/// Where a deadline that overflows `Instant` is put instead.
const FAR: Duration = Duration::from_secs(100 * 365 * 86_400);

/// The shortest callback-timer delay, as in Node.
pub const MIN_TIMER_DELAY: Duration = Duration::from_millis(1);

/// A handle to a callback timer. Dropping it does not clear the timer.
#[derive(Clone)]
pub struct Timer {
    /// The timer in the loop's timer queue.
    id: TimerId,
    /// The loop it lives on.
    inner: Rc<Inner>,
}

impl fmt::Debug for Timer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timer")
            .field("id", &self.id)
            .field("active", &self.is_active())
            .finish()
    }
}

impl Timer {
    /// Cancels the timer. Clearing a fired or cleared timer does nothing.
    pub fn clear(&self) {
        let entry = self.inner.timers.borrow_mut().remove(self.id);
        if let Some(e) = entry {
            if e.refed {
                dec(&self.inner);
            }
        }
    }

    /// Whether the timer is still scheduled (or its interval still runs).
    pub fn is_active(&self) -> bool {
        self.inner.timers.borrow().contains(self.id)
    }

    /// Stops the timer from keeping the loop alive.
    pub fn unref(&self) {
        self.set_ref(false);
    }

    /// Makes the timer keep the loop alive again (the default).
    pub fn ref_(&self) {
        self.set_ref(true);
    }

    /// Whether the timer keeps the loop alive.
    pub fn has_ref(&self) -> bool {
        let mut t = self.inner.timers.borrow_mut();
        t.get_mut(self.id).is_some_and(|e| e.refed)
    }

    fn set_ref(&self, on: bool) {
        let mut t = self.inner.timers.borrow_mut();
        if let Some(e) = t.get_mut(self.id) {
            if e.refed != on {
                e.refed = on;
                let n = self.inner.refed_timers.get();
                self.inner.refed_timers.set(if on { n + 1 } else { n - 1 });
            }
        }
    }
}

fn dec(inner: &Inner) {
    inner.refed_timers.set(inner.refed_timers.get() - 1);
}

fn insert(inner: &Rc<Inner>, start: Instant, after: Duration, action: TimerAction) -> TimerId {
    insert_at(inner, crate::timers::due(start, after), after, action)
}

/// [`insert`] for a caller that holds the deadline (`start + after`).
fn insert_at(
    inner: &Rc<Inner>,
    deadline: Instant,
    after: Duration,
    action: TimerAction,
) -> TimerId {
    inner.refed_timers.set(inner.refed_timers.get() + 1);
    inner.timers.borrow_mut().insert_at(
        deadline,
        after,
        TimerEntry {
            action,
            refed: true,
        },
    )
}

/// Runs `f` once, `delay` after the loop's current time.
pub fn set_timeout(delay: Duration, f: impl FnOnce() + 'static) -> Timer {
    let inner = Inner::current();
    let start = inner.now();
    let id = insert(
        &inner,
        start,
        delay.max(MIN_TIMER_DELAY),
        TimerAction::Once(Some(Box::new(f))),
    );
    Timer { id, inner }
}

/// Runs `f` every `every`, first after `every`. Each run re-arms the timer
/// from the time the run started, as Node does.
pub fn set_interval(every: Duration, f: impl FnMut() + 'static) -> Timer {
    let inner = Inner::current();
    let every = every.max(MIN_TIMER_DELAY);
    let start = inner.now();
    let id = insert(
        &inner,
        start,
        every,
        TimerAction::Repeat(Some(Box::new(f)), every),
    );
    Timer { id, inner }
}

/// The current loop's cached time (read once per iteration): cheap enough to
/// call per request, and what callback timers are measured from.
pub fn now() -> Instant {
    Inner::with_current(|inner| inner.now())
}

/// Cancels a timer; the same as [`Timer::clear`].
pub fn clear_timeout(t: &Timer) {
    t.clear();
}

/// A future that completes at a deadline.
pub struct Sleep {
    /// When it completes.
    deadline: Instant,
    /// The sleep's length from its start (`deadline - after`): the key of
    /// the timer list it joins, so sleeps of one length share a list.
    after: Duration,
    /// The timer, once polled.
    id: Option<TimerId>,
    /// Whether the deadline has passed.
    fired: bool,
    /// The loop whose timer queue holds it.
    inner: Rc<Inner>,
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline)
            .field("fired", &self.fired)
            .finish()
    }
}

/// Completes after `d`.
pub fn sleep(d: Duration) -> Sleep {
    let inner = Inner::current();
    let start = inner.read_clock();
    Sleep {
        deadline: start.checked_add(d).unwrap_or(start + FAR),
        after: d,
        id: None,
        fired: false,
        inner,
    }
}

/// Completes at `deadline`.
pub fn sleep_until(deadline: Instant) -> Sleep {
    let inner = Inner::current();
    Sleep {
        deadline,
        after: deadline.saturating_duration_since(inner.now()),
        id: None,
        fired: false,
        inner,
    }
}

impl Sleep {
    /// When the sleep completes.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Whether the deadline has passed.
    pub fn is_elapsed(&self) -> bool {
        self.fired
    }

    /// Moves the deadline (earlier or later), as if newly created.
    pub fn reset(&mut self, deadline: Instant) {
        self.cancel();
        self.after = deadline.saturating_duration_since(self.inner.now());
        self.deadline = deadline;
        self.fired = false;
    }

    fn cancel(&mut self) {
        if let Some(id) = self.id.take() {
            let e = self.inner.timers.borrow_mut().remove(id);
            if e.is_some() {
                dec(&self.inner);
            }
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.fired {
            return Poll::Ready(());
        }
        let this = &mut *self;
        match this.id {
            None => {
                if this.deadline <= this.inner.now() {
                    this.fired = true;
                    return Poll::Ready(());
                }
                let action = TimerAction::Wake(Some(cx.waker().clone()));
                this.id = Some(insert_at(&this.inner, this.deadline, this.after, action));
                Poll::Pending
            }
            Some(id) => {
                let mut timers = this.inner.timers.borrow_mut();
                match timers.get_mut(id) {
                    None => {
                        drop(timers);
                        this.id = None;
                        this.fired = true;
                        Poll::Ready(())
                    }
                    Some(TimerEntry {
                        action: TimerAction::Wake(w),
                        ..
                    }) => {
                        if !w.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                            let old = w.replace(cx.waker().clone());
                            drop(timers);
                            drop(old);
                        }
                        Poll::Pending
                    }
                    Some(_) => unreachable!("a Sleep's timer is always a Wake timer"),
                }
            }
        }
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.cancel();
    }
}

/// The error of [`timeout`]: the deadline passed first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Elapsed;

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl std::error::Error for Elapsed {}

impl From<Elapsed> for std::io::Error {
    fn from(_: Elapsed) -> Self {
        std::io::Error::new(std::io::ErrorKind::TimedOut, Elapsed)
    }
}

/// Runs `f`, giving up after `d`. The future is dropped on timeout.
///
/// The clock starts at the first poll, so a `Timeout` may be built before
/// any loop is entered.
pub fn timeout<F: Future>(d: Duration, f: F) -> Timeout<F> {
    Timeout {
        future: f,
        limit: d,
        sleep: None,
    }
}

pin_project_lite::pin_project! {
    /// The future returned by [`timeout`].
    #[must_use = "futures do nothing unless awaited"]
    pub struct Timeout<F> {
        #[pin]
        future: F,
        limit: Duration,
        sleep: Option<Sleep>,
    }
}

impl<F> fmt::Debug for Timeout<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timeout")
            .field("limit", &self.limit)
            .finish()
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(v) = this.future.poll(cx) {
            return Poll::Ready(Ok(v));
        }
        let limit = *this.limit;
        let s = this.sleep.get_or_insert_with(|| sleep(limit));
        match Pin::new(s).poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed)),
            Poll::Pending => Poll::Pending,
        }
    }
}
