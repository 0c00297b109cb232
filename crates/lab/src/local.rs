//! Single-thread synchronisation for tasks on one waiter loop.
//!
//! [`Notify`] wakes one waiting task (a writer told that output is queued);
//! [`oneshot`] hands one value from one task to another (a database reply
//! to the request that asked for it). Neither is `Send`: both live on the
//! loop's thread, like everything else on it. [`StopSignal`] is the one
//! thread-safe piece: another thread sets it, a task on the loop awaits it.

use std::cell::RefCell;
use std::future::poll_fn;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};

/// Wakes one task waiting in [`Notify::notified`]; a notification sent
/// while nobody waits is kept until the next wait.
#[derive(Debug, Default)]
pub(crate) struct Notify {
    /// The flag and the waiting task.
    state: RefCell<(bool, Option<Waker>)>,
}

impl Notify {
    /// Sets the flag and wakes the waiter, if any.
    pub(crate) fn notify(&self) {
        let waker = {
            let mut s = self.state.borrow_mut();
            s.0 = true;
            s.1.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Waits until the flag is set, then clears it.
    pub(crate) async fn notified(&self) {
        poll_fn(|cx| {
            let mut s = self.state.borrow_mut();
            if std::mem::take(&mut s.0) {
                Poll::Ready(())
            } else {
                s.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }
}

/// The shared slot of a [`oneshot`] pair.
type Slot<T> = Rc<RefCell<(Option<T>, Option<Waker>, bool)>>;

/// Sends one value to a [`Receiver`].
#[derive(Debug)]
pub(crate) struct Sender<T> {
    /// Value, waiting task, sender dropped.
    slot: Slot<T>,
}

/// Receives the value of a [`Sender`]; `None` if the sender was dropped.
#[derive(Debug)]
pub(crate) struct Receiver<T> {
    /// Value, waiting task, sender dropped.
    slot: Slot<T>,
}

/// A single-use channel between two tasks of one loop.
pub(crate) fn oneshot<T>() -> (Sender<T>, Receiver<T>) {
    let slot = Rc::new(RefCell::new((None, None, false)));
    (Sender { slot: slot.clone() }, Receiver { slot })
}

impl<T> Sender<T> {
    /// Delivers `v` and wakes the receiver.
    pub(crate) fn send(self, v: T) {
        let w = {
            let mut s = self.slot.borrow_mut();
            s.0 = Some(v);
            s.1.take()
        };
        if let Some(w) = w {
            w.wake();
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let w = {
            let mut s = self.slot.borrow_mut();
            s.2 = true;
            s.1.take()
        };
        if let Some(w) = w {
            w.wake();
        }
    }
}

impl<T> Receiver<T> {
    /// Waits for the value.
    pub(crate) async fn recv(self) -> Option<T> {
        poll_fn(|cx| {
            let mut s = self.slot.borrow_mut();
            if let Some(v) = s.0.take() {
                Poll::Ready(Some(v))
            } else if s.2 {
                Poll::Ready(None)
            } else {
                s.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }
}

/// A flag set from any thread and awaited by a task on a loop (wakers may
/// cross threads; the loop's remote queue brings the wakeup back).
#[derive(Debug, Clone, Default)]
pub struct StopSignal {
    /// Set, and the waiting task.
    state: Arc<Mutex<(bool, Option<Waker>)>>,
}

impl StopSignal {
    /// A signal that is not set.
    pub fn new() -> StopSignal {
        StopSignal::default()
    }

    /// Sets the signal and wakes the waiter.
    pub fn stop(&self) {
        let w = {
            let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
            s.0 = true;
            s.1.take()
        };
        if let Some(w) = w {
            w.wake();
        }
    }

    /// Whether the signal was set.
    pub fn is_stopped(&self) -> bool {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).0
    }

    /// Waits until the signal is set.
    pub async fn stopped(&self) {
        poll_fn(|cx| {
            let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
            if s.0 {
                Poll::Ready(())
            } else {
                s.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }
}
