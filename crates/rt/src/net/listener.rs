use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::poll_fn;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

use super::{Io, TcpStream};
use crate::reactor::Direction;
use crate::time::{sleep, Sleep};

/// How long `accept` pauses when the process or system is out of file
/// descriptors (or socket memory). Pending connections wait in the kernel's
/// backlog meanwhile, as with nginx's accept delay, instead of being reset;
/// 50 ms retries often enough to notice freed descriptors quickly and rarely
/// enough to cost nothing.
pub const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// The listen backlog used unless set otherwise. Node and nginx use 511;
/// the kernel caps it at `net.core.somaxconn`.
pub const DEFAULT_BACKLOG: i32 = 1024;

/// Options for binding a [`TcpListener`].
#[derive(Clone, Copy, Debug)]
pub struct ListenOptions {
    /// The listen backlog.
    pub backlog: i32,
    /// `SO_REUSEADDR` (on by default, so a restarted server can rebind while
    /// old connections sit in `TIME_WAIT`).
    pub reuse_address: bool,
    /// `SO_REUSEPORT`: several listeners (one loop per core) share the port.
    pub reuse_port: bool,
}

impl Default for ListenOptions {
    fn default() -> Self {
        ListenOptions {
            backlog: DEFAULT_BACKLOG,
            reuse_address: true,
            reuse_port: false,
        }
    }
}

impl ListenOptions {
    /// Binds and listens on `addr`.
    pub fn bind(&self, addr: SocketAddr) -> io::Result<TcpListener> {
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        socket.set_reuse_address(self.reuse_address)?;
        if self.reuse_port {
            socket.set_reuse_port(true)?;
        }
        socket.set_nonblocking(true)?;
        socket.bind(&addr.into())?;
        socket.listen(self.backlog)?;
        TcpListener::from_std(socket.into())
    }
}

/// A listening TCP socket on the loop.
pub struct TcpListener {
    /// The registered socket.
    io: Io<mio::net::TcpListener>,
    /// The pause after running out of descriptors, while it lasts.
    backoff: RefCell<Option<Sleep>>,
    /// Whether the current out-of-descriptors episode was logged.
    exhausted: Cell<bool>,
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpListener")
            .field("addr", &self.local_addr().ok())
            .finish()
    }
}

/// Errors after which `accept` pauses: no descriptors or socket memory.
fn is_exhaustion(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

/// Errors that concern one connection that died in the backlog.
fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
    ) || e.raw_os_error() == Some(libc::EPROTO)
}

impl TcpListener {
    /// Binds with [`ListenOptions::default`].
    pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
        ListenOptions::default().bind(addr)
    }

    /// Adopts a listening std socket (made non-blocking here).
    pub fn from_std(l: std::net::TcpListener) -> io::Result<TcpListener> {
        l.set_nonblocking(true)?;
        Ok(TcpListener {
            io: Io::new(mio::net::TcpListener::from_std(l)),
            backoff: RefCell::new(None),
            exhausted: Cell::new(false),
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().local_addr()
    }

    /// Accepts a connection.
    ///
    /// Never fails for lack of descriptors: on `EMFILE`, `ENFILE`, `ENOBUFS`
    /// or `ENOMEM` it logs once, pauses for [`ACCEPT_BACKOFF`] and retries,
    /// leaving waiting clients in the backlog. Connections that died before
    /// they were accepted are skipped.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// The poll form of [`accept`](Self::accept).
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        loop {
            if let Some(s) = self.backoff.borrow_mut().as_mut() {
                ready!(Pin::new(s).poll(cx));
            }
            self.backoff.borrow_mut().take();
            let r = ready!(self.io.poll_io(cx, Direction::Read, |l| l.accept()));
            match r {
                Ok((s, addr)) => {
                    if self.exhausted.replace(false) {
                        tracing::warn!("accept: descriptors available again, accepting");
                    }
                    return Poll::Ready(Ok((TcpStream::from_mio(s), addr)));
                }
                Err(e) if is_exhaustion(&e) => {
                    if !self.exhausted.replace(true) {
                        tracing::error!(
                            error = %e,
                            "accept: out of file descriptors; pausing accepts ({ACCEPT_BACKOFF:?} between retries)"
                        );
                    }
                    *self.backoff.borrow_mut() = Some(sleep(ACCEPT_BACKOFF));
                }
                Err(e) if is_transient(&e) => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    /// Stops the listener from keeping the loop alive.
    pub fn unref(&self) {
        self.io.set_ref(false);
    }

    /// Makes the listener keep the loop alive again (the default).
    pub fn ref_(&self) {
        self.io.set_ref(true);
    }

    /// Whether the listener keeps the loop alive.
    pub fn has_ref(&self) -> bool {
        self.io.has_ref()
    }
}

impl std::os::fd::AsRawFd for TcpListener {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.io.get().as_raw_fd()
    }
}

impl std::os::fd::AsFd for TcpListener {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.io.get().as_fd()
    }
}
