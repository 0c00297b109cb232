//! The `Date` field line, formatted at most once per second per thread.
//!
//! The line is kept with a flag saying it is current; reading it checks
//! only the flag. When the line is formatted, an unreferenced timer is set
//! for the next second boundary of the wall clock, and clears the flag
//! when it fires (Node's `utcDate` works the same way). So the line lags
//! the wall clock by no more than the loop's lateness in firing a timer,
//! far below the field's one-second resolution, and a loop with no
//! responses to write arms no timer.

use std::cell::Cell;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Bytes of a `Date` field line: an IMF-fixdate is always 29 characters.
pub(crate) const DATE_LINE_LEN: usize = b"date: \r\n".len() + 29;

/// The line until the first reading of the clock.
const EPOCH: &[u8; DATE_LINE_LEN] = b"date: Thu, 01 Jan 1970 00:00:00 GMT\r\n";

thread_local! {
    /// `date: <IMF-fixdate>\r\n` for the second it was made in.
    static LINE: Cell<[u8; DATE_LINE_LEN]> = const { Cell::new(*EPOCH) };
    /// Whether `LINE` is for the current second; cleared by the timer.
    static CURRENT: Cell<bool> = const { Cell::new(false) };
}

/// The `Date` field line (`date: <IMF-fixdate>\r\n`) for the current
/// second, by value (a copy of a known size is cheaper than a closure over
/// the caller's state). Must run on a loop's thread (it may set a timer).
#[inline]
pub(crate) fn date_line() -> [u8; DATE_LINE_LEN] {
    if CURRENT.get() {
        return LINE.get();
    }
    refresh()
}

/// Formats the line for the wall clock's second and arms the timer that
/// marks it stale at the next second.
#[cold]
fn refresh() -> [u8; DATE_LINE_LEN] {
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
        LINE.set(line);
    }
    CURRENT.set(true);
    let to_next =
        Duration::from_secs(1) - Duration::from_nanos(u64::from(since_epoch.subsec_nanos()));
    // The flag is cleared when the callback runs or, if its loop is dropped
    // first, when the callback is: a later loop on this thread never sees
    // a line its own timer does not guard.
    let stale = Stale;
    waiter_rt::set_timeout(to_next, move || drop(stale)).unref();
    LINE.get()
}

/// Clears [`CURRENT`] when dropped.
struct Stale;

impl Drop for Stale {
    fn drop(&mut self) {
        CURRENT.set(false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_follows_the_wall_clock_second() {
        waiter_rt::Loop::new().unwrap().block_on(async {
            let read = || String::from_utf8(date_line().to_vec()).unwrap();
            let first = read();
            assert!(
                first.starts_with("date: ") && first.ends_with(" GMT\r\n"),
                "{first}"
            );
            let parsed = httpdate::parse_http_date(first[6..first.len() - 2].trim()).unwrap();
            let wall = SystemTime::now();
            let skew = wall.duration_since(parsed).unwrap_or_default();
            assert!(skew < Duration::from_secs(2), "{skew:?}");
            // After a second boundary (as the loop sees it), a new line.
            waiter_rt::sleep(Duration::from_millis(1100)).await;
            let second = read();
            assert_ne!(first, second);
        });
    }

    #[test]
    fn a_dropped_loop_leaves_no_line_marked_current() {
        waiter_rt::Loop::new().unwrap().block_on(async {
            date_line();
            assert!(CURRENT.get());
        });
        // That loop and its timer are gone: the next loop formats anew.
        assert!(!CURRENT.get());
        std::thread::sleep(Duration::from_millis(1100));
        waiter_rt::Loop::new().unwrap().block_on(async {
            let line = String::from_utf8(date_line().to_vec()).unwrap();
            let parsed = httpdate::parse_http_date(line[6..line.len() - 2].trim()).unwrap();
            let skew = SystemTime::now().duration_since(parsed).unwrap_or_default();
            assert!(skew < Duration::from_secs(1), "{skew:?}");
        });
    }
}
