//! Queued callbacks: immediates, next-tick, microtasks, pending and close.
//!
//! Their order, as in Node:
//! - [`next_tick`] callbacks run at the next checkpoint, before microtasks;
//! - [`queue_microtask`] callbacks (and woken tasks) run after them, FIFO;
//! - checkpoints come after every callback and task poll, so both queues run
//!   before the loop moves to the next timer, immediate or I/O callback;
//! - [`set_immediate`] callbacks run in the check phase, right after the poll
//!   phase; those queued during the check phase wait for the next iteration;
//! - [`queue_pending`] callbacks run in the pending phase of the next
//!   iteration, [`queue_close`] callbacks in the close phase of this one.

use std::fmt;
use std::rc::Rc;

use crate::event_loop::{Inner, Micro};

/// Runs `f` at the next checkpoint, before any microtask.
pub fn next_tick(f: impl FnOnce() + 'static) {
    Inner::current()
        .next_ticks
        .borrow_mut()
        .push_back(Box::new(f));
}

/// Runs `f` at the next checkpoint, after the next-tick queue, in FIFO order
/// with woken tasks.
pub fn queue_microtask(f: impl FnOnce() + 'static) {
    Inner::current()
        .micro
        .borrow_mut()
        .push_back(Micro::Callback(Box::new(f)));
}

/// Runs `f` in the pending phase of the next iteration (libuv's deferred I/O
/// callbacks).
pub fn queue_pending(f: impl FnOnce() + 'static) {
    Inner::current().pending.borrow_mut().push_back(Box::new(f));
}

/// Runs `f` in the close phase.
pub fn queue_close(f: impl FnOnce() + 'static) {
    Inner::current().closing.borrow_mut().push_back(Box::new(f));
}

/// A handle to a queued immediate.
pub struct Immediate {
    /// Key in the loop's immediate map.
    id: u64,
    /// The loop it is queued on.
    inner: Rc<Inner>,
}

impl fmt::Debug for Immediate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Immediate").field("id", &self.id).finish()
    }
}

impl Immediate {
    /// Cancels the immediate if it has not run.
    pub fn clear(&self) {
        let cb = self.inner.immediates.borrow_mut().remove(&self.id);
        drop(cb);
    }
}

/// Runs `f` in the check phase of this iteration (or the next, if called
/// from the check phase).
pub fn set_immediate(f: impl FnOnce() + 'static) -> Immediate {
    let inner = Inner::current();
    let id = inner.next_immediate.get();
    inner.next_immediate.set(id + 1);
    inner.immediates.borrow_mut().insert(id, Box::new(f));
    Immediate { id, inner }
}

/// Cancels an immediate; the same as [`Immediate::clear`].
pub fn clear_immediate(i: &Immediate) {
    i.clear();
}
