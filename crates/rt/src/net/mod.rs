//! Non-blocking TCP on the loop.
//!
//! [`TcpListener`] and [`TcpStream`] wrap mio's sockets in an `Io`
//! registration. Every operation tries the syscall first and waits for
//! readiness only after `WouldBlock` (see the reactor's docs on edge
//! triggering). Both keep the loop alive while open, unless unref'd.
//! This module parses no protocol.

mod listener;
mod stream;

pub use listener::{ListenOptions, TcpListener, ACCEPT_BACKOFF, DEFAULT_BACKLOG};
pub use stream::TcpStream;

use std::cell::Cell;
use std::fmt;
use std::io;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::task::{ready, Context, Poll};

use crate::event_loop::Inner;
use crate::reactor::Direction;

/// An fd registered with the loop's reactor.
pub(crate) struct Io<T: AsRawFd> {
    /// The reactor's key for this source.
    key: usize,
    /// The loop.
    inner: Rc<Inner>,
    /// Whether this handle keeps the loop alive.
    refed: Cell<bool>,
    /// The socket; dropped (closed) after the reactor forgets the key.
    io: T,
}

impl<T: AsRawFd> fmt::Debug for Io<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Io")
            .field("fd", &self.io.as_raw_fd())
            .field("refed", &self.refed.get())
            .finish()
    }
}

impl<T: AsRawFd> Io<T> {
    /// Registers `io` with the current loop.
    pub(crate) fn new(io: T) -> Io<T> {
        let inner = Inner::current();
        let key = inner.reactor.add(io.as_raw_fd());
        inner.handle_refs.set(inner.handle_refs.get() + 1);
        Io {
            key,
            inner,
            refed: Cell::new(true),
            io,
        }
    }

    pub(crate) fn get(&self) -> &T {
        &self.io
    }

    /// Waits until `dir` is believed ready.
    pub(crate) fn poll_ready(&self, cx: &mut Context<'_>, dir: Direction) -> Poll<()> {
        self.inner.reactor.poll_ready(self.key, dir, cx)
    }

    /// Records `WouldBlock` in `dir`.
    pub(crate) fn clear(&self, dir: Direction) {
        self.inner.reactor.clear_readiness(self.key, dir);
    }

    /// Records a short read or write in `dir` (see the reactor's docs).
    pub(crate) fn clear_ready_only(&self, dir: Direction) {
        self.inner.reactor.clear_ready_only(self.key, dir);
    }

    /// Runs `f` until it does not return `WouldBlock`, waiting for readiness
    /// in between.
    pub(crate) fn poll_io<R>(
        &self,
        cx: &mut Context<'_>,
        dir: Direction,
        mut f: impl FnMut(&T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        loop {
            ready!(self.poll_ready(cx, dir));
            match f(&self.io) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.clear(dir),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                r => return Poll::Ready(r),
            }
        }
    }

    /// Runs `f` once if `dir` is believed ready; `WouldBlock` otherwise.
    pub(crate) fn try_io<R>(
        &self,
        dir: Direction,
        f: impl FnOnce(&T) -> io::Result<R>,
    ) -> io::Result<R> {
        if !self.inner.reactor.is_ready(self.key, dir) {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let r = f(&self.io);
        if let Err(e) = &r {
            if e.kind() == io::ErrorKind::WouldBlock {
                self.clear(dir);
            }
        }
        r
    }

    pub(crate) fn set_ref(&self, on: bool) {
        if self.refed.replace(on) != on {
            let n = self.inner.handle_refs.get();
            self.inner.handle_refs.set(if on { n + 1 } else { n - 1 });
        }
    }

    pub(crate) fn has_ref(&self) -> bool {
        self.refed.get()
    }
}

impl<T: AsRawFd> Drop for Io<T> {
    fn drop(&mut self) {
        self.set_ref(false);
        self.inner.reactor.remove(self.key);
        // `self.io` is dropped after this, which closes the fd.
    }
}
