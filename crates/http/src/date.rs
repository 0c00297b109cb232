//! The `Date` field line, formatted at most once per second per thread.
//!
//! The wall clock is read only when the loop's cached time says the second
//! may have changed: after a reading, the line is good until the next
//! second boundary, which is converted to the loop's monotonic time. Date
//! has one-second resolution, so the few milliseconds the cached time may
//! lag behind are below what the field can show.

use std::cell::RefCell;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Bytes of a `Date` field line: an IMF-fixdate is always 29 characters.
pub(crate) const DATE_LINE_LEN: usize = b"date: \r\n".len() + 29;

/// The line until the first reading of the clock.
const EPOCH: &[u8; DATE_LINE_LEN] = b"date: Thu, 01 Jan 1970 00:00:00 GMT\r\n";

/// The cached line.
struct DateLine {
    /// The second the line is for.
    secs: u64,
    /// `date: <IMF-fixdate>\r\n`.
    line: [u8; DATE_LINE_LEN],
    /// Loop time at which the next second begins; `None` before the first.
    valid_until: Option<Instant>,
}

thread_local! {
    static LINE: RefCell<DateLine> = const {
        RefCell::new(DateLine { secs: u64::MAX, line: *EPOCH, valid_until: None })
    };
}

/// The `Date` field line (`date: <IMF-fixdate>\r\n`) for the current
/// second, by value (a copy of a known size is cheaper than a closure over
/// the caller's state). Must run on a loop's thread (it reads the loop's
/// time).
pub(crate) fn date_line() -> [u8; DATE_LINE_LEN] {
    let now = waiter_rt::time::now();
    LINE.with(|c| {
        let mut c = c.borrow_mut();
        if c.valid_until.is_none_or(|t| now >= t) {
            let since_epoch = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or(Duration::ZERO);
            let secs = since_epoch.as_secs();
            let to_next = Duration::from_secs(1)
                - Duration::from_nanos(u64::from(since_epoch.subsec_nanos()));
            c.valid_until = Some(now + to_next);
            if c.secs != secs {
                c.secs = secs;
                let d = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(secs));
                let mut line = Vec::with_capacity(DATE_LINE_LEN);
                line.extend_from_slice(b"date: ");
                line.extend_from_slice(d.as_bytes());
                line.extend_from_slice(b"\r\n");
                // Years past 9999 would not fit: keep the last good line.
                if let Ok(line) = line.try_into() {
                    c.line = line;
                }
            }
        }
        c.line
    })
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
}
