//! Keep-alive connections per origin, as Node's `http.Agent` keeps them.
//!
//! Invariants:
//!
//! - `OriginState::open` counts every connection to the origin that
//!   exists: being connected, carrying a request, or idle. Each connection
//!   holds a [`Slot`] that decrements it when the connection is dropped, so
//!   the count cannot leak, whatever path closes the connection.
//! - An idle connection sits between two messages: nothing unread, nothing
//!   owed. It is `unref`'d, and its idle timer is an unref'd timer, so the
//!   pool never keeps the loop alive.
//! - Reuse is LIFO: the most recently used connection is the one most
//!   likely to be alive. Before reuse a connection is checked without
//!   blocking; one that has seen EOF, an error, or unexpected bytes is
//!   closed instead.
//! - Requests wait, in no particular order, while the origin has
//!   `max_open` connections and none is idle; every connection that
//!   closes or goes idle wakes them all to look again.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt;
use std::future::poll_fn;
use std::rc::{Rc, Weak};
use std::task::{Poll, Waker};
use std::time::Duration;

use waiter_rt::Timer;

use super::conn::ClientConn;
use super::url::Origin;

/// The idle connections of every origin.
pub(crate) struct Pool {
    /// Per-origin state, created on first use.
    origins: RefCell<HashMap<Origin, Rc<OriginState>>>,
    /// How long a connection may stay idle.
    idle_timeout: Duration,
    /// Idle connections kept per origin; more are closed.
    max_idle: usize,
    /// Connections open at once per origin.
    max_open: usize,
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("origins", &self.origins.borrow().len())
            .field("idle", &self.idle_count())
            .finish()
    }
}

/// One origin's connections.
#[derive(Default)]
pub(crate) struct OriginState {
    /// Idle connections, the most recently used last.
    idle: RefCell<Vec<IdleConn>>,
    /// Connections that exist, idle or not.
    open: Cell<usize>,
    /// Requests waiting for a connection.
    waiters: RefCell<Vec<Waker>>,
    /// Source of idle entry ids, so a timer finds its own entry.
    next_id: Cell<u64>,
}

impl OriginState {
    fn wake_waiters(&self) {
        let waiters = std::mem::take(&mut *self.waiters.borrow_mut());
        for w in waiters {
            w.wake();
        }
    }

    /// Closes the idle connection `id`, if it is still idle.
    fn expire(&self, id: u64) {
        let entry = {
            let mut idle = self.idle.borrow_mut();
            let i = idle.iter().position(|e| e.id == id);
            i.map(|i| idle.remove(i))
        };
        drop(entry);
    }

    /// The most recently used idle connection that still looks alive.
    fn pop_live(&self) -> Option<ClientConn> {
        loop {
            let entry = self.idle.borrow_mut().pop()?;
            let conn = entry.into_conn();
            if conn.looks_alive() {
                conn.stream().ref_();
                return Some(conn);
            }
            tracing::debug!("discarding an idle connection the server closed");
        }
    }
}

/// An idle connection and its timer.
struct IdleConn {
    /// Identifies the entry for its timer.
    id: u64,
    /// The connection; `None` once taken.
    conn: Option<ClientConn>,
    /// Closes the connection when it has been idle too long.
    timer: Timer,
}

impl IdleConn {
    fn into_conn(mut self) -> ClientConn {
        self.conn
            .take()
            .expect("an idle entry holds its connection")
    }
}

impl Drop for IdleConn {
    fn drop(&mut self) {
        self.timer.clear();
    }
}

/// A claim on one of an origin's `max_open` connections; released on drop.
pub(crate) struct Slot {
    /// The origin whose count it holds.
    origin: Rc<OriginState>,
}

impl fmt::Debug for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Slot")
            .field("open", &self.origin.open.get())
            .finish()
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.origin.open.set(self.origin.open.get() - 1);
        self.origin.wake_waiters();
    }
}

/// What [`Pool::checkout`] found.
pub(crate) enum Checkout {
    /// A kept-alive connection.
    Idle(ClientConn),
    /// Room for a new connection.
    Connect(Slot),
}

impl Pool {
    pub(crate) fn new(idle_timeout: Duration, max_idle: usize, max_open: usize) -> Pool {
        Pool {
            origins: RefCell::new(HashMap::new()),
            idle_timeout,
            max_idle,
            max_open: max_open.max(1),
        }
    }

    fn origin(&self, origin: &Origin) -> Rc<OriginState> {
        self.origins
            .borrow_mut()
            .entry(origin.clone())
            .or_default()
            .clone()
    }

    /// An idle connection to `origin`, or room to open one, waiting while
    /// the origin is at its limit. `fresh` skips idle connections (and
    /// closes the oldest one if that is the only way to make room).
    pub(crate) async fn checkout(&self, origin: &Origin, fresh: bool) -> Checkout {
        let state = self.origin(origin);
        poll_fn(|cx| loop {
            if !fresh {
                if let Some(conn) = state.pop_live() {
                    return Poll::Ready(Checkout::Idle(conn));
                }
            }
            if state.open.get() < self.max_open {
                state.open.set(state.open.get() + 1);
                let slot = Slot {
                    origin: state.clone(),
                };
                return Poll::Ready(Checkout::Connect(slot));
            }
            let oldest = {
                let mut idle = state.idle.borrow_mut();
                (!idle.is_empty()).then(|| idle.remove(0))
            };
            match oldest {
                Some(entry) => drop(entry),
                None => {
                    state.waiters.borrow_mut().push(cx.waker().clone());
                    return Poll::Pending;
                }
            }
        })
        .await
    }

    /// Keeps `conn`, which is between messages, for reuse.
    pub(crate) fn checkin(&self, conn: ClientConn) {
        let state = conn.slot().origin.clone();
        if state.idle.borrow().len() >= self.max_idle {
            return;
        }
        conn.stream().unref();
        let id = state.next_id.get();
        state.next_id.set(id + 1);
        let weak: Weak<OriginState> = Rc::downgrade(&state);
        let timer = waiter_rt::set_timeout(self.idle_timeout, move || {
            if let Some(s) = weak.upgrade() {
                s.expire(id);
            }
        });
        timer.unref();
        state.idle.borrow_mut().push(IdleConn {
            id,
            conn: Some(conn),
            timer,
        });
        state.wake_waiters();
    }

    /// Idle connections across all origins.
    pub(crate) fn idle_count(&self) -> usize {
        let origins = self.origins.borrow();
        origins.values().map(|o| o.idle.borrow().len()).sum()
    }

    /// Open connections across all origins, idle or not.
    pub(crate) fn open_count(&self) -> usize {
        let origins = self.origins.borrow();
        origins.values().map(|o| o.open.get()).sum()
    }

    /// Closes every idle connection.
    pub(crate) fn close_idle(&self) {
        let origins: Vec<_> = self.origins.borrow().values().cloned().collect();
        for o in origins {
            let idle = std::mem::take(&mut *o.idle.borrow_mut());
            drop(idle);
        }
    }
}

impl Drop for Pool {
    // An idle connection's slot refers to its origin, which holds the idle
    // list: closing them here breaks that cycle.
    fn drop(&mut self) {
        self.close_idle();
    }
}
