use std::fmt;
use std::future::poll_fn;
use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::os::fd::AsFd as _;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use super::Io;
use crate::reactor::Direction;

/// A TCP connection on the loop.
///
/// Methods take `&self`, so one task may read while another writes (share
/// the stream with an `Rc`). Two tasks reading at once, or writing at once,
/// would steal each other's wakeups: don't.
pub struct TcpStream {
    /// The registered socket.
    io: Io<mio::net::TcpStream>,
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpStream")
            .field("local", &self.local_addr().ok())
            .field("peer", &self.peer_addr().ok())
            .finish()
    }
}

impl TcpStream {
    pub(crate) fn from_mio(s: mio::net::TcpStream) -> TcpStream {
        TcpStream { io: Io::new(s) }
    }

    /// Adopts a connected std stream (made non-blocking here).
    pub fn from_std(s: std::net::TcpStream) -> io::Result<TcpStream> {
        s.set_nonblocking(true)?;
        Ok(Self::from_mio(mio::net::TcpStream::from_std(s)))
    }

    /// Connects to `addr`.
    pub async fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
        let s = TcpStream::from_mio(mio::net::TcpStream::connect(addr)?);
        poll_fn(|cx| s.poll_connected(cx)).await?;
        Ok(s)
    }

    /// Connects to `addr`, failing with `TimedOut` after `d`.
    pub async fn connect_timeout(addr: SocketAddr, d: Duration) -> io::Result<TcpStream> {
        crate::time::timeout(d, Self::connect(addr)).await?
    }

    fn poll_connected(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // mio: wait for writable, then check SO_ERROR and whether the socket
        // has a peer; writability can be spurious while still connecting.
        self.io.poll_io(cx, Direction::Write, |s| {
            if let Some(e) = s.take_error()? {
                return Err(e);
            }
            match s.peer_addr() {
                Ok(_) => Ok(()),
                Err(e) if e.kind() == io::ErrorKind::NotConnected => {
                    Err(io::ErrorKind::WouldBlock.into())
                }
                Err(e) => Err(e),
            }
        })
    }

    /// Reads into `buf`; `Ok(0)` means the peer closed its side.
    pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| self.poll_read_buf(cx, buf)).await
    }

    /// Writes some of `buf`.
    pub async fn write(&self, buf: &[u8]) -> io::Result<usize> {
        poll_fn(|cx| self.poll_write_buf(cx, buf)).await
    }

    /// Writes all of `buf`.
    pub async fn write_all(&self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            let n = self.write(buf).await?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            buf = &buf[n..];
        }
        Ok(())
    }

    /// Writes from several buffers with one syscall.
    pub async fn write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        poll_fn(|cx| self.poll_write_vectored_buf(cx, bufs)).await
    }

    /// Waits until the socket is believed readable.
    pub async fn readable(&self) {
        poll_fn(|cx| self.io.poll_ready(cx, Direction::Read)).await
    }

    /// Waits until the socket is believed writable.
    pub async fn writable(&self) {
        poll_fn(|cx| self.io.poll_ready(cx, Direction::Write)).await
    }

    /// Reads without waiting: `WouldBlock` if nothing is there.
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.io.try_io(Direction::Read, |mut s| s.read(buf))?;
        self.after_read(n, buf.len());
        Ok(n)
    }

    /// Writes without waiting: `WouldBlock` if the send buffer is full.
    pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        let n = self.io.try_io(Direction::Write, |mut s| s.write(buf))?;
        self.after_write(n, buf.len());
        Ok(n)
    }

    /// Vectored [`try_write`](Self::try_write).
    pub fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let want = vectored_len(bufs);
        let n = self
            .io
            .try_io(Direction::Write, |mut s| s.write_vectored(bufs))?;
        self.after_write(n, want);
        Ok(n)
    }

    /// Looks at incoming bytes without consuming them, waiting for some:
    /// `Ok(0)` is the end of the stream. While bytes wait, readiness stays
    /// set, so a caller that keeps polling must stop once it has seen them.
    pub fn poll_peek(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.io.poll_io(cx, Direction::Read, |s| s.peek(buf))
    }

    /// Looks at incoming bytes without consuming them or waiting:
    /// `WouldBlock` if none are there.
    pub fn try_peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.try_io(Direction::Read, |s| s.peek(buf))
    }

    /// How many bytes have arrived and wait to be read.
    pub fn bytes_readable(&self) -> io::Result<usize> {
        crate::sys::bytes_readable(self.io.get().as_fd())
    }

    /// The poll form of [`read`](Self::read).
    pub fn poll_read_buf(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let r = self.io.poll_io(cx, Direction::Read, |mut s| s.read(buf));
        if let Poll::Ready(Ok(n)) = r {
            self.after_read(n, buf.len());
        }
        r
    }

    /// The poll form of [`write`](Self::write).
    pub fn poll_write_buf(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let r = self.io.poll_io(cx, Direction::Write, |mut s| s.write(buf));
        if let Poll::Ready(Ok(n)) = r {
            self.after_write(n, buf.len());
        }
        r
    }

    /// The poll form of [`write_vectored`](Self::write_vectored).
    pub fn poll_write_vectored_buf(
        &self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let want = vectored_len(bufs);
        let r = self
            .io
            .poll_io(cx, Direction::Write, |mut s| s.write_vectored(bufs));
        if let Poll::Ready(Ok(n)) = r {
            self.after_write(n, want);
        }
        r
    }

    /// Sends up to `len` bytes of `file` from `*offset` with `sendfile(2)`,
    /// waiting for writability; advances `*offset` by the bytes sent.
    /// `Ok(0)` means `*offset` is at the end of the file.
    ///
    /// The copy reads `file` on the calling thread: it blocks on the disk
    /// when the pages are not cached. Keep `len` bounded (the HTTP server
    /// sends at most 256 KiB per call) and see `rt::sys::sendfile` for the
    /// errors that call for a read-and-write fallback.
    pub async fn sendfile(
        &self,
        file: &impl std::os::fd::AsFd,
        offset: &mut u64,
        len: usize,
    ) -> io::Result<usize> {
        poll_fn(|cx| self.poll_sendfile(cx, file, offset, len)).await
    }

    /// [`sendfile`](Self::sendfile) without waiting: `WouldBlock` if the send
    /// buffer is full.
    pub fn try_sendfile(
        &self,
        file: &impl std::os::fd::AsFd,
        offset: &mut u64,
        len: usize,
    ) -> io::Result<usize> {
        // Unlike a short write, a short sendfile may mean the file ended,
        // so readiness is only cleared by `WouldBlock`.
        self.io.try_io(Direction::Write, |s| {
            crate::sys::sendfile(s.as_fd(), file.as_fd(), offset, len)
        })
    }

    /// The poll form of [`sendfile`](Self::sendfile).
    pub fn poll_sendfile(
        &self,
        cx: &mut Context<'_>,
        file: &impl std::os::fd::AsFd,
        offset: &mut u64,
        len: usize,
    ) -> Poll<io::Result<usize>> {
        self.io.poll_io(cx, Direction::Write, |s| {
            crate::sys::sendfile(s.as_fd(), file.as_fd(), offset, len)
        })
    }

    /// Waits for read readiness (the poll form of [`readable`](Self::readable)).
    pub fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<()> {
        self.io.poll_ready(cx, Direction::Read)
    }

    /// Waits for write readiness.
    pub fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<()> {
        self.io.poll_ready(cx, Direction::Write)
    }

    // A short read on a stream socket means its receive queue is empty; any
    // later data raises a fresh edge. Clearing readiness here saves the
    // `WouldBlock` syscall that would otherwise discover it. An EOF or error
    // already reported stays set: no new edge would announce it again.
    fn after_read(&self, n: usize, asked: usize) {
        if n > 0 && n < asked {
            self.io.clear_ready_only(Direction::Read);
        }
    }

    // Likewise, a short write means the send buffer is full (for a
    // vectored write, of the slices the kernel was given: see
    // `vectored_len`).
    fn after_write(&self, n: usize, asked: usize) {
        if n < asked {
            self.io.clear_ready_only(Direction::Write);
        }
    }

    /// Shuts down the read, write, or both halves.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.get().shutdown(how)
    }

    /// Sets `TCP_NODELAY`.
    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        self.io.get().set_nodelay(on)
    }

    /// Reads `TCP_NODELAY`.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.io.get().nodelay()
    }

    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().peer_addr()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().local_addr()
    }

    /// Takes the pending socket error (`SO_ERROR`).
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get().take_error()
    }

    /// Stops the stream from keeping the loop alive.
    pub fn unref(&self) {
        self.io.set_ref(false);
    }

    /// Makes the stream keep the loop alive again (the default).
    pub fn ref_(&self) {
        self.io.set_ref(true);
    }

    /// Whether the stream keeps the loop alive.
    pub fn has_ref(&self) -> bool {
        self.io.has_ref()
    }
}

impl std::os::fd::AsRawFd for TcpStream {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.io.get().as_raw_fd()
    }
}

impl std::os::fd::AsFd for TcpStream {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.io.get().as_fd()
    }
}

macro_rules! futures_io_impls {
    ($t:ty) => {
        impl futures_io::AsyncRead for $t {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                self.poll_read_buf(cx, buf)
            }
        }

        impl futures_io::AsyncWrite for $t {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                self.poll_write_buf(cx, buf)
            }

            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                self.poll_write_vectored_buf(cx, bufs)
            }

            fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }

            fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(self.shutdown(Shutdown::Write))
            }
        }
    };
}

futures_io_impls!(TcpStream);
futures_io_impls!(&TcpStream);

#[cfg(feature = "tokio-io")]
macro_rules! tokio_io_impls {
    ($t:ty) => {
        impl tokio::io::AsyncRead for $t {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut tokio::io::ReadBuf<'_>,
            ) -> Poll<io::Result<()>> {
                let n = std::task::ready!(self.poll_read_buf(cx, buf.initialize_unfilled()))?;
                buf.advance(n);
                Poll::Ready(Ok(()))
            }
        }

        impl tokio::io::AsyncWrite for $t {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                self.poll_write_buf(cx, buf)
            }

            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                self.poll_write_vectored_buf(cx, bufs)
            }

            fn is_write_vectored(&self) -> bool {
                true
            }

            fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }

            fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(self.shutdown(Shutdown::Write))
            }
        }
    };
}

#[cfg(feature = "tokio-io")]
tokio_io_impls!(TcpStream);
#[cfg(feature = "tokio-io")]
tokio_io_impls!(&TcpStream);

/// The most slices one `writev` takes (Linux's `UIO_MAXIOV`); std passes
/// no more than this many, so a write of more is short without the send
/// buffer being full.
const IOV_MAX: usize = 1024;

/// The bytes one vectored write can take at most: those of the first
/// [`IOV_MAX`] slices.
fn vectored_len(bufs: &[IoSlice<'_>]) -> usize {
    bufs.iter().take(IOV_MAX).map(|b| b.len()).sum()
}
