//! Unix signals as loop events.
//!
//! Each [`Signal`] owns a socket pair: signal-hook's async-signal-safe handler
//! writes a byte to one end, and the loop watches the other like any socket.
//! A listener does not keep the loop alive (as in Node), unless
//! [`Signal::ref_`] is called. The first listener for a signal replaces its
//! default action (for SIGINT and SIGTERM: exit) for the rest of the
//! process: signal-hook never restores it, so once the last listener is
//! dropped the signal is ignored, not fatal.

use std::fmt;
use std::future::poll_fn;
use std::io::{self, Read};
use std::os::unix::net::UnixStream;
use std::task::{Context, Poll};

use signal_hook::SigId;

use crate::net::Io;
use crate::reactor::Direction;

/// SIGINT (Ctrl-C).
pub const SIGINT: i32 = libc::SIGINT;
/// SIGTERM (the polite kill).
pub const SIGTERM: i32 = libc::SIGTERM;
/// SIGHUP (reload, by convention).
pub const SIGHUP: i32 = libc::SIGHUP;

/// A stream of deliveries of one signal.
pub struct Signal {
    /// The signal number.
    signo: i32,
    /// The read end of the self-pipe.
    io: Io<mio::net::UnixStream>,
    /// The handler registration, removed on drop.
    id: SigId,
}

impl fmt::Debug for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signal")
            .field("signo", &self.signo)
            .finish()
    }
}

/// Listens for `signo` (such as [`SIGTERM`]).
///
/// Fails with [`io::ErrorKind::InvalidInput`] for the signals that cannot or
/// must not be caught (`SIGKILL`, `SIGSTOP`, `SIGILL`, `SIGFPE`, `SIGSEGV`),
/// and with the OS error for a number that is no signal.
///
/// # Panics
/// If no loop is entered on this thread.
pub fn signal(signo: i32) -> io::Result<Signal> {
    if signal_hook::consts::FORBIDDEN.contains(&signo) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("signal {signo} cannot be listened for"),
        ));
    }
    let (read, write) = UnixStream::pair()?;
    read.set_nonblocking(true)?;
    write.set_nonblocking(true)?;
    // The read end joins the loop first: without a loop this panics before
    // any handler is installed, and a failed registration below drops it.
    let io = Io::new(mio::net::UnixStream::from_std(read));
    io.set_ref(false);
    let id = signal_hook::low_level::pipe::register(signo, write)?;
    Ok(Signal { signo, io, id })
}

impl Signal {
    /// Waits for the next delivery. Deliveries that arrive before the call
    /// are not lost; several may be coalesced into one.
    pub async fn recv(&mut self) {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// The poll form of [`recv`](Self::recv).
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let mut buf = [0u8; 64];
        let mut got = false;
        loop {
            match self
                .io
                .poll_io(cx, Direction::Read, |mut s| s.read(&mut buf))
            {
                Poll::Ready(Ok(n)) if n > 0 => got = true,
                // EOF or an error cannot happen while we own both ends.
                Poll::Ready(_) | Poll::Pending => break,
            }
        }
        if got {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }

    /// Makes this listener keep the loop alive.
    pub fn ref_(&self) {
        self.io.set_ref(true);
    }

    /// Stops this listener from keeping the loop alive (the default).
    pub fn unref(&self) {
        self.io.set_ref(false);
    }
}

impl Drop for Signal {
    fn drop(&mut self) {
        signal_hook::low_level::unregister(self.id);
    }
}

/// The signals that ask a server to stop: SIGINT (Ctrl-C) and SIGTERM
/// (what service managers and `kill` send). See [`stop_signals`].
#[derive(Debug)]
pub struct StopSignals {
    int: Signal,
    term: Signal,
}

/// Listens for SIGINT and SIGTERM, so that a server can drain on either
/// rather than die mid-response:
///
/// ```no_run
/// # async fn f() -> std::io::Result<()> {
/// let mut stop = waiter_rt::signal::stop_signals()?;
/// stop.recv().await; // then shut the server down gracefully
/// # Ok(()) }
/// ```
///
/// # Panics
/// If no loop is entered on this thread.
pub fn stop_signals() -> io::Result<StopSignals> {
    Ok(StopSignals {
        int: signal(SIGINT)?,
        term: signal(SIGTERM)?,
    })
}

impl StopSignals {
    /// Waits for the next SIGINT or SIGTERM and returns which (a second
    /// one during a drain usually means "stop now").
    pub async fn recv(&mut self) -> i32 {
        poll_fn(|cx| {
            if self.int.poll_recv(cx).is_ready() {
                return Poll::Ready(SIGINT);
            }
            self.term.poll_recv(cx).map(|()| SIGTERM)
        })
        .await
    }
}
