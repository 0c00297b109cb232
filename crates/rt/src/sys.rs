//! The OS boundary: the only module allowed `unsafe`.
//!
//! Process limits and counters that neither std nor mio nor socket2 expose.
//! Every `unsafe` block calls one libc function through `syscall!` and says
//! why it is sound.
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

/// The number of file descriptors this process has open.
pub fn open_fds() -> io::Result<usize> {
    // The read_dir handle itself holds one descriptor while counting.
    Ok(std::fs::read_dir("/proc/self/fd")?
        .count()
        .saturating_sub(1))
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

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
}
