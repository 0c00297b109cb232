//! The OS boundary: the only module allowed `unsafe`.
//!
//! Process limits and counters that neither std nor mio nor socket2 expose,
//! `sendfile(2)`, the count of bytes a socket holds unread, and handing
//! freed memory back to the OS.
//! Every `unsafe` block calls one libc function (through `syscall!` where
//! it reports errors as `-1`) and says why it is sound.
#![allow(unsafe_code)]

use std::io;

/// Calls a libc function and turns a `-1` into `io::Error::last_os_error()`.
macro_rules! syscall {
    ($fn:ident ( $($arg:expr),* $(,)? )) => {{
        // SAFETY: see the call site.
        let res = unsafe { libc::$fn($($arg),*) };
        if res == -1 {
            Err(io::Error::last_os_error())
        } else {
            Ok(res)
        }
    }};
}

/// The soft and hard limits on open file descriptors (`RLIMIT_NOFILE`).
pub fn nofile_limit() -> io::Result<(u64, u64)> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // `lim` is a valid, writable rlimit for the duration of the call.
    syscall!(getrlimit(libc::RLIMIT_NOFILE, &mut lim))?;
    // rlim_t is u64 on 64-bit Linux.
    Ok((lim.rlim_cur, lim.rlim_max))
}

/// Sets the soft limit on open file descriptors (at most the hard limit).
pub fn set_nofile_limit(soft: u64) -> io::Result<()> {
    let (_, hard) = nofile_limit()?;
    let lim = libc::rlimit {
        rlim_cur: soft.min(hard) as libc::rlim_t,
        rlim_max: hard as libc::rlim_t,
    };
    // `lim` is a valid rlimit read by the call.
    syscall!(setrlimit(libc::RLIMIT_NOFILE, &lim))?;
    Ok(())
}

/// Raises the soft limit on open file descriptors to the hard limit, as
/// servers usually do at startup. Returns the new soft limit.
pub fn raise_nofile_limit() -> io::Result<u64> {
    let (_, hard) = nofile_limit()?;
    set_nofile_limit(hard)?;
    Ok(hard)
}

/// Gives the allocator's free memory back to the operating system (glibc's
/// `malloc_trim(0)`). Memory a burst allocated and then freed stays in the
/// process's resident set until later allocations reuse it; after this
/// its pages are released. It walks the allocator's free lists, so it is
/// for after a burst, not for every free. Returns whether anything was
/// released; where the allocator has no such call it does nothing and
/// returns false.
pub fn release_free_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: malloc_trim takes no pointer and may be called from any
        // thread at any time.
        unsafe { libc::malloc_trim(0) != 0 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

/// The number of file descriptors this process has open.
pub fn open_fds() -> io::Result<usize> {
    // The read_dir handle itself holds one descriptor while counting.
    Ok(std::fs::read_dir("/proc/self/fd")?
        .count()
        .saturating_sub(1))
}

/// The monotonic clock `Instant` reads (`CLOCK_MONOTONIC`), in
/// nanoseconds from an unspecified start: one vDSO call and an integer
/// multiply, where turning an `Instant` into a count costs a subtraction
/// of two timespecs.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the
    // call; CLOCK_MONOTONIC is always supported on Linux, so it cannot fail.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Peak resident set size of this process, in bytes (`ru_maxrss`).
pub fn peak_rss() -> io::Result<u64> {
    rusage(libc::RUSAGE_SELF).map(|r| r.ru_maxrss as u64 * 1024)
}

/// User plus system CPU time of this process.
pub fn cpu_time() -> io::Result<std::time::Duration> {
    let r = rusage(libc::RUSAGE_SELF)?;
    let tv = |t: libc::timeval| std::time::Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    Ok(tv(r.ru_utime) + tv(r.ru_stime))
}

fn rusage(who: libc::c_int) -> io::Result<libc::rusage> {
    // SAFETY: rusage is plain old data; all-zero is a valid value.
    let mut r: libc::rusage = unsafe { std::mem::zeroed() };
    // `r` is a valid, writable rusage for the duration of the call.
    syscall!(getrusage(who, &mut r))?;
    Ok(r)
}

/// Lets `fd` survive `exec` (clears `FD_CLOEXEC`), so a re-executed child
/// process can inherit it, as a listening socket shared by worker processes.
pub fn inheritable(fd: &impl std::os::fd::AsFd) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let raw = fd.as_fd().as_raw_fd();
    // `raw` is a valid descriptor borrowed for the duration of both calls.
    let flags = syscall!(fcntl(raw, libc::F_GETFD))?;
    // Same descriptor; only the close-on-exec bit changes.
    syscall!(fcntl(raw, libc::F_SETFD, flags & !libc::FD_CLOEXEC))?;
    Ok(())
}

/// Takes ownership of a listening socket inherited from the parent process
/// (see [`inheritable`]). Fails unless `fd` is an open TCP listening socket,
/// so a wrong number cannot adopt some other descriptor.
pub fn inherit_listener(fd: std::os::fd::RawFd) -> io::Result<std::net::TcpListener> {
    use std::os::fd::FromRawFd;
    let mut listening: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // `listening` and `len` are valid and writable; the kernel checks `fd`.
    syscall!(getsockopt(
        fd,
        libc::SOL_SOCKET,
        libc::SO_ACCEPTCONN,
        (&mut listening as *mut libc::c_int).cast(),
        &mut len
    ))?;
    if listening == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a listening socket",
        ));
    }
    // SAFETY: `fd` is an open listening socket (checked above) that the
    // parent handed to this process; nothing else in the process owns it.
    Ok(unsafe { std::net::TcpListener::from_raw_fd(fd) })
}

/// Copies up to `count` bytes from `file`, starting at `*offset`, to the
/// socket `out` with `sendfile(2)`, without passing through user space.
/// Advances `*offset` by the bytes sent and returns their number; `Ok(0)`
/// means `*offset` is at or past the end of the file.
///
/// With a non-blocking `out`, a full send buffer is `WouldBlock`. Reading
/// `file` is a disk read when its pages are not cached: callers on the loop
/// thread bound `count` (see `waiter_http`'s file bodies). `EINVAL` or
/// `ENOSYS` mean this pair of descriptors cannot use `sendfile`; fall back
/// to reading and writing.
pub fn sendfile(
    out: std::os::fd::BorrowedFd<'_>,
    file: std::os::fd::BorrowedFd<'_>,
    offset: &mut u64,
    count: usize,
) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    let mut off = libc::off_t::try_from(*offset)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "file offset too large"))?;
    // The kernel caps one call at 0x7ffff000 bytes anyway.
    let count = count.min(0x7fff_f000);
    // Both descriptors are borrowed, so open, for the duration of the call;
    // `off` is a valid, writable off_t the kernel updates.
    let n = syscall!(sendfile(out.as_raw_fd(), file.as_raw_fd(), &mut off, count))?;
    *offset = off as u64;
    // `n` is non-negative here (a -1 became an error).
    Ok(n as usize)
}

/// Bytes waiting in a socket's receive queue, not yet read (`FIONREAD`).
pub fn bytes_readable(fd: std::os::fd::BorrowedFd<'_>) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    let mut n: libc::c_int = 0;
    // The descriptor is borrowed, so open, for the duration of the call;
    // `n` is a valid, writable int the kernel fills in.
    syscall!(ioctl(fd.as_raw_fd(), libc::FIONREAD, &mut n))?;
    Ok(usize::try_from(n).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn unread_bytes_are_counted() {
        use std::io::{Read, Write};
        use std::os::fd::AsFd;
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (mut s, _) = l.accept().unwrap();
        assert_eq!(bytes_readable(s.as_fd()).unwrap(), 0);
        c.write_all(b"hello").unwrap();
        let mut n = 0;
        for _ in 0..200 {
            n = bytes_readable(s.as_fd()).unwrap();
            if n == 5 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(n, 5);
        let mut two = [0u8; 2];
        s.read_exact(&mut two).unwrap();
        assert_eq!(bytes_readable(s.as_fd()).unwrap(), 3);
    }

    #[test]
    fn a_duplicated_listener_is_adopted_and_other_sockets_are_refused() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        inheritable(&l).unwrap();
        // `dup` stands in for the descriptor a child inherits.
        let fd = syscall!(dup(l.as_raw_fd())).unwrap();
        let adopted = inherit_listener(fd).unwrap();
        assert_eq!(adopted.local_addr().unwrap(), l.local_addr().unwrap());

        let s = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let err = inherit_listener(s.as_raw_fd()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn sendfile_copies_a_range_and_advances_the_offset() {
        use std::io::{Read, Write};
        use std::os::fd::AsFd;
        let path = std::env::temp_dir().join(format!("waiter-sendfile-{}", std::process::id()));
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::File::create(&path)
            .unwrap()
            .write_all(&data)
            .unwrap();
        let file = std::fs::File::open(&path).unwrap();
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let tx = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (mut rx, _) = l.accept().unwrap();
        let mut off = 1000u64;
        let mut sent = 0;
        while sent < 50_000 {
            let n = sendfile(tx.as_fd(), file.as_fd(), &mut off, 50_000 - sent).unwrap();
            assert!(n > 0);
            sent += n;
        }
        assert_eq!(off, 51_000);
        drop(tx);
        let mut got = Vec::new();
        rx.read_to_end(&mut got).unwrap();
        assert_eq!(got, &data[1000..51_000]);
        // At the end of the file there is nothing more to send.
        let (tx2, _rx2) = (
            std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap(),
            l.accept().unwrap(),
        );
        let mut end = data.len() as u64;
        assert_eq!(
            sendfile(tx2.as_fd(), file.as_fd(), &mut end, 10).unwrap(),
            0
        );
        // A socket is not a file to send from (ESPIPE: it has no offsets).
        let mut zero = 0;
        assert!(sendfile(tx2.as_fd(), tx2.as_fd(), &mut zero, 10).is_err());
        std::fs::remove_file(&path).unwrap();
    }
}
