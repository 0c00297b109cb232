//! The reactor: readiness from the OS, delivered to wakers.
//!
//! Owns the `mio::Poll`, a slab of [`ScheduledIo`] keyed by token, and the
//! cross-thread [`Remote`] queue with its `mio::Waker`. It runs no user code:
//! dispatching an event only records readiness and wakes the stored wakers,
//! which for loop tasks means pushing them onto the loop's run queue.
//!
//! **Invariant: edge-triggered.** mio reports each transition to readiness
//! once. A source's readiness bits are set by events and cleared only by the
//! I/O operation that observed `WouldBlock`, so every reader and writer drains
//! until `WouldBlock` before it waits again (mio's "Draining readiness").
//! Because events are only dispatched in the poll phase, on this thread, a
//! `WouldBlock` always comes after every event already dispatched, and any
//! later data produces a fresh edge: no wakeup is lost.
//!
//! **Registrations are batched.** A new source is registered for both
//! directions once, lazily, just before the next `epoll_wait` (libuv's
//! `watcher_queue`). A source that lives and dies within one iteration, such as
//! a short connection answered at once, never costs an `epoll_ctl` at all.
//! Sources start out optimistically ready, so the first read or write is tried
//! before any wait. Sources are never re-registered, and closing the fd removes
//! it from the epoll set, so there is no `deregister` either. Tokens carry a
//! generation, so an event already fetched for a closed source can never reach
//! a source that reused its slot.

use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use mio::unix::SourceFd;
use mio::{Events, Interest, Token};
use slab::Slab;

/// Token of the cross-thread waker.
const WAKER_TOKEN: Token = Token(usize::MAX);

/// How many events one `epoll_wait` may return. More are picked up on the
/// next iteration; 1024 amortizes the syscall without a large buffer.
const EVENTS_CAPACITY: usize = 1024;

/// A direction of readiness.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    /// Readable, read-closed, or error.
    Read,
    /// Writable, write-closed, or error.
    Write,
}

impl Direction {
    /// The bit an event sets and a `WouldBlock` clears.
    fn bit(self) -> u8 {
        match self {
            Direction::Read => READ,
            Direction::Write => WRITE,
        }
    }

    /// The bit for "closed or failed in this direction". It stays set after
    /// a short read or write: the next call must see the EOF or the error,
    /// and no further edge will announce it.
    fn closed_bit(self) -> u8 {
        match self {
            Direction::Read => READ_CLOSED,
            Direction::Write => WRITE_CLOSED,
        }
    }

    fn mask(self) -> u8 {
        self.bit() | self.closed_bit()
    }
}

const READ: u8 = 1;
const WRITE: u8 = 2;
const READ_CLOSED: u8 = 4;
const WRITE_CLOSED: u8 = 8;

/// Per-source state.
#[derive(Debug)]
struct ScheduledIo {
    /// Generation, also encoded in the token.
    gen: u32,
    /// The fd, needed for the deferred registration.
    fd: RawFd,
    /// Whether the fd has been added to the epoll set.
    registered: bool,
    /// Readiness bits (`READ`, `WRITE`) not yet consumed by a `WouldBlock`.
    readiness: u8,
    /// The task waiting to read.
    reader: Option<Waker>,
    /// The task waiting to write.
    writer: Option<Waker>,
}

/// Wakeups from other threads: a queue of task tokens plus the `mio::Waker`
/// that interrupts `epoll_wait`.
#[derive(Debug)]
pub(crate) struct Remote {
    /// Tokens of tasks woken from other threads since the last drain.
    queue: Mutex<Vec<u64>>,
    /// Set while a wakeup is in flight, so a burst of wakes costs one syscall.
    notified: AtomicBool,
    /// Interrupts the poll.
    waker: mio::Waker,
}

impl Remote {
    /// Queues a task token and wakes the loop if it is not already woken.
    pub(crate) fn push(&self, token: u64) {
        self.queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(token);
        if !self.notified.swap(true, Ordering::AcqRel) {
            // A failed wake can only mean the eventfd counter is saturated,
            // and then the loop is already due to wake.
            let _ = self.waker.wake();
        }
    }

    /// Moves every queued token into `out`.
    pub(crate) fn drain(&self, out: &mut Vec<u64>) {
        if !self.notified.swap(false, Ordering::AcqRel) {
            return;
        }
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        out.append(&mut q);
    }
}

/// See the module docs.
#[derive(Debug)]
pub(crate) struct Reactor {
    /// The OS poller.
    poll: std::cell::RefCell<mio::Poll>,
    /// Reused event buffer.
    events: std::cell::RefCell<Events>,
    /// Live sources.
    sources: std::cell::RefCell<Slab<ScheduledIo>>,
    /// Sources waiting for their deferred registration: `(key, gen)`.
    unregistered: std::cell::RefCell<Vec<(usize, u32)>>,
    /// Next generation for a new source.
    next_gen: std::cell::Cell<u32>,
}

fn token(key: usize, gen: u32) -> Token {
    Token(((gen as usize) << 32) | key)
}

fn untoken(t: Token) -> (usize, u32) {
    (t.0 & 0xffff_ffff, (t.0 >> 32) as u32)
}

impl Reactor {
    /// Creates the poller and the cross-thread waker.
    pub(crate) fn new() -> io::Result<(Reactor, Arc<Remote>)> {
        let poll = mio::Poll::new()?;
        let waker = mio::Waker::new(poll.registry(), WAKER_TOKEN)?;
        let remote = Arc::new(Remote {
            queue: Mutex::new(Vec::new()),
            notified: AtomicBool::new(false),
            waker,
        });
        let reactor = Reactor {
            poll: poll.into(),
            events: Events::with_capacity(EVENTS_CAPACITY).into(),
            sources: Slab::new().into(),
            unregistered: Vec::new().into(),
            next_gen: 0.into(),
        };
        Ok((reactor, remote))
    }

    /// Adds a source; it is registered before the next poll.
    pub(crate) fn add(&self, fd: RawFd) -> usize {
        let gen = self.next_gen.get();
        self.next_gen.set(gen.wrapping_add(1));
        let key = self.sources.borrow_mut().insert(ScheduledIo {
            gen,
            fd,
            registered: false,
            readiness: READ | WRITE,
            reader: None,
            writer: None,
        });
        assert!(key <= u32::MAX as usize, "too many I/O sources");
        self.unregistered.borrow_mut().push((key, gen));
        key
    }

    /// Forgets a source. The caller closes the fd afterwards, which removes it
    /// from the epoll set.
    pub(crate) fn remove(&self, key: usize) {
        let io = self.sources.borrow_mut().remove(key);
        // Wakers are dropped outside the borrow: dropping one may run code.
        drop(io);
    }

    /// Ready if the direction's readiness bit is set; otherwise stores the
    /// waker and returns `Pending`.
    pub(crate) fn poll_ready(&self, key: usize, dir: Direction, cx: &mut Context<'_>) -> Poll<()> {
        let mut sources = self.sources.borrow_mut();
        let io = &mut sources[key];
        if io.readiness & dir.mask() != 0 {
            return Poll::Ready(());
        }
        let slot = match dir {
            Direction::Read => &mut io.reader,
            Direction::Write => &mut io.writer,
        };
        match slot {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => {
                let old = slot.replace(cx.waker().clone());
                drop(sources);
                drop(old);
            }
        }
        Poll::Pending
    }

    /// Whether the direction is believed ready (no `WouldBlock` seen since the
    /// last event).
    pub(crate) fn is_ready(&self, key: usize, dir: Direction) -> bool {
        self.sources.borrow()[key].readiness & dir.mask() != 0
    }

    /// Records that an operation in `dir` saw `WouldBlock`.
    pub(crate) fn clear_readiness(&self, key: usize, dir: Direction) {
        self.sources.borrow_mut()[key].readiness &= !dir.mask();
    }

    /// Records that the buffer in `dir` was drained (a short read) or filled
    /// (a short write), keeping any EOF or error for the next call.
    pub(crate) fn clear_ready_only(&self, key: usize, dir: Direction) {
        self.sources.borrow_mut()[key].readiness &= !dir.bit();
    }

    /// Number of live sources.
    pub(crate) fn len(&self) -> usize {
        self.sources.borrow().len()
    }

    /// Registers deferred sources, waits for events for at most `timeout`,
    /// records readiness and wakes waiters. Returns the number of events.
    pub(crate) fn poll(&self, timeout: Option<Duration>) -> io::Result<usize> {
        self.flush_registrations();
        let mut events = self.events.borrow_mut();
        match self.poll.borrow_mut().poll(&mut events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(0),
            Err(e) => return Err(e),
        }
        let mut n = 0;
        for ev in events.iter() {
            n += 1;
            if ev.token() == WAKER_TOKEN {
                continue;
            }
            let mut bits = 0;
            if ev.is_readable() {
                bits |= READ;
            }
            if ev.is_writable() {
                bits |= WRITE;
            }
            if ev.is_read_closed() || ev.is_error() {
                bits |= READ_CLOSED;
            }
            if ev.is_write_closed() || ev.is_error() {
                bits |= WRITE_CLOSED;
            }
            self.dispatch(ev.token(), bits);
        }
        Ok(n)
    }

    fn dispatch(&self, t: Token, bits: u8) {
        let (key, gen) = untoken(t);
        let (r, w) = {
            let mut sources = self.sources.borrow_mut();
            let Some(io) = sources.get_mut(key).filter(|io| io.gen == gen) else {
                return;
            };
            io.readiness |= bits;
            let r = if bits & READ != 0 {
                io.reader.take()
            } else {
                None
            };
            let w = if bits & WRITE != 0 {
                io.writer.take()
            } else {
                None
            };
            (r, w)
        };
        // Waking a loop task only queues it; it runs after the poll phase.
        if let Some(r) = r {
            r.wake();
        }
        if let Some(w) = w {
            w.wake();
        }
    }

    fn flush_registrations(&self) {
        let mut pending = self.unregistered.borrow_mut();
        if pending.is_empty() {
            return;
        }
        let mut sources = self.sources.borrow_mut();
        let poll = self.poll.borrow();
        for (key, gen) in pending.drain(..) {
            let Some(io) = sources.get_mut(key).filter(|io| io.gen == gen) else {
                continue;
            };
            if io.registered {
                continue;
            }
            io.registered = true;
            let interest = Interest::READABLE | Interest::WRITABLE;
            if let Err(e) =
                poll.registry()
                    .register(&mut SourceFd(&io.fd), token(key, gen), interest)
            {
                // Only resource exhaustion (ENOMEM, ENOSPC from the epoll
                // watch limit) gets here. The source stays optimistic, so its
                // next operation is tried and may still complete.
                tracing::error!(fd = io.fd, error = %e, "cannot add a source to epoll");
            }
        }
    }
}
