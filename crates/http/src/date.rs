//! The `Date` field line, formatted at most once per second per server.
//!
//! A [`DateCache`] keeps the line with a flag saying it is current; reading
//! it checks only the flag. When the line is formatted, an unreferenced
//! timer is set on the loop for the next second boundary of the wall clock,
//! and clears the flag when it fires (Node's `utcDate` works the same way).
//! So the line lags the wall clock by no more than the loop's lateness in
//! firing a timer, far below the field's one-second resolution, and a
//! server with no responses to write arms no timer. The flag is also
//! cleared if the timer is dropped unfired (its loop is gone), so a cache
//! never trusts a line that no timer guards. A cache belongs to one server,
//! and so to the one loop its timer runs on.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Bytes of a `Date` field line: an IMF-fixdate is always 29 characters.
pub(crate) const DATE_LINE_LEN: usize = b"date: \r\n".len() + 29;

/// The line until the first reading of the clock.
const EPOCH: &[u8; DATE_LINE_LEN] = b"date: Thu, 01 Jan 1970 00:00:00 GMT\r\n";

/// The `Date` line of one server.
pub(crate) struct DateCache {
    /// `date: <IMF-fixdate>\r\n` for the second it was made in.
    line: Cell<[u8; DATE_LINE_LEN]>,
    /// Whether `line` is for the current second; cleared by the timer.
    current: Rc<Cell<bool>>,
}

impl DateCache {
    pub(crate) fn new() -> DateCache {
        DateCache {
            line: Cell::new(*EPOCH),
            current: Rc::new(Cell::new(false)),
        }
    }

    /// The `Date` field line (`date: <IMF-fixdate>\r\n`) for the current
    /// second, by value (a copy of a known size is cheaper than a closure
    /// over the caller's state). Must run on the server's loop (it may set
    /// a timer).
    #[inline]
    pub(crate) fn line(&self) -> [u8; DATE_LINE_LEN] {
        if self.current.get() {
            return self.line.get();
        }
        self.refresh()
    }

    /// Formats the line for the wall clock's second and arms the timer
    /// that marks it stale at the next second.
    #[cold]
    fn refresh(&self) -> [u8; DATE_LINE_LEN] {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        let d = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(since_epoch.as_secs()));
        let mut line = Vec::with_capacity(DATE_LINE_LEN);
        line.extend_from_slice(b"date: ");
        line.extend_from_slice(d.as_bytes());
        line.extend_from_slice(b"\r\n");
        // Years past 9999 would not fit: keep the last good line.
        if let Ok(line) = <[u8; DATE_LINE_LEN]>::try_from(line) {
            self.line.set(line);
        }
        self.current.set(true);
        let to_next =
            Duration::from_secs(1) - Duration::from_nanos(u64::from(since_epoch.subsec_nanos()));
        // The flag is cleared when the callback runs or, if its loop is
        // dropped first, when the callback is.
        let stale = Stale(self.current.clone());
        waiter_rt::set_timeout(to_next, move || drop(stale)).unref();
        self.line.get()
    }
}

/// Clears a cache's flag when dropped.
struct Stale(Rc<Cell<bool>>);

impl Drop for Stale {
    fn drop(&mut self) {
        self.0.set(false);
    }
}

/// The field lines a server adds to its responses, shared by its
/// connections.
pub(crate) struct Lines {
    /// `date: <IMF-fixdate>\r\n`.
    pub(crate) date: DateCache,
    /// `keep-alive: timeout=N\r\n`, which every keep-alive response carries.
    pub(crate) keep_alive: Box<[u8]>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: [u8; DATE_LINE_LEN]) -> SystemTime {
        let line = String::from_utf8(line.to_vec()).unwrap();
        assert!(
            line.starts_with("date: ") && line.ends_with(" GMT\r\n"),
            "{line}"
        );
        httpdate::parse_http_date(line[6..line.len() - 2].trim()).unwrap()
    }

    #[test]
    fn the_line_follows_the_wall_clock_second() {
        let cache = DateCache::new();
        waiter_rt::Loop::new().unwrap().block_on(async {
            let first = cache.line();
            let skew = SystemTime::now()
                .duration_since(parse(first))
                .unwrap_or_default();
            assert!(skew < Duration::from_secs(2), "{skew:?}");
            // After a second boundary (as the loop sees it), a new line.
            waiter_rt::sleep(Duration::from_millis(1100)).await;
            assert_ne!(first, cache.line());
        });
    }

    #[test]
    fn a_dropped_loop_leaves_no_line_marked_current() {
        let cache = DateCache::new();
        waiter_rt::Loop::new().unwrap().block_on(async {
            cache.line();
            assert!(cache.current.get());
        });
        // That loop and its timer are gone: the next loop formats anew.
        assert!(!cache.current.get());
        std::thread::sleep(Duration::from_millis(1100));
        waiter_rt::Loop::new().unwrap().block_on(async {
            let skew = SystemTime::now()
                .duration_since(parse(cache.line()))
                .unwrap_or_default();
            assert!(skew < Duration::from_secs(1), "{skew:?}");
        });
    }
}
