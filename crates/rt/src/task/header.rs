//! The thread-safe part of a task: what its waker points at.
//!
//! A waker may be cloned onto any thread (a pool worker, a foreign thread),
//! so it holds an `Arc<Header>` and nothing of the task's `!Send` state: the
//! header names the task by token and knows where to send a wake.
//!
//! Headers are recycled: when a task's slot is freed and no waker of it is
//! left anywhere (the `Arc` is unique), its header goes on a bounded free
//! list and the next spawn reuses it, so a server that spawns a task per
//! connection allocates one block per task (its future) in the steady state.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::Wake;

use crate::event_loop::Inner;
use crate::reactor::Remote;

/// How many unused headers a loop keeps for reuse.
pub(super) const FREE_HEADERS: usize = 1024;

/// What a task's waker points at.
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

    /// Reuses `free` for a new task if it is unique, else allocates.
    pub(super) fn reuse_or_new(
        free: Option<Arc<Header>>,
        token: u64,
        loop_id: u64,
        remote: &Arc<Remote>,
    ) -> Arc<Header> {
        if let Some(mut h) = free {
            if let Some(m) = Arc::get_mut(&mut h) {
                m.token = token;
                *m.scheduled.get_mut() = false;
                return h;
            }
        }
        Header::new(token, loop_id, remote.clone())
    }

    /// Whether no waker of this header exists anywhere but `self`.
    pub(super) fn is_unique(this: &mut Arc<Header>) -> bool {
        Arc::get_mut(this).is_some()
    }

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
