//! The OS boundary: the only module allowed `unsafe`.
//!
//! Process limits and counters that neither std nor mio nor socket2 expose.
//! Every `unsafe` block calls one libc function through [`syscall!`] and says
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
