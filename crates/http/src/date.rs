//! The `Date` field line, formatted at most once per second per thread.

use std::cell::RefCell;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

thread_local! {
    /// The second the cached line is for, and the line.
    static LINE: RefCell<(u64, Vec<u8>)> = const { RefCell::new((u64::MAX, Vec::new())) };
}

/// Calls `f` with the `Date` field line (`date: <IMF-fixdate>\r\n`) for the
/// current second.
pub(crate) fn with_date_line<R>(f: impl FnOnce(&[u8]) -> R) -> R {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    LINE.with(|c| {
        let mut c = c.borrow_mut();
        if c.0 != secs {
            c.0 = secs;
            c.1.clear();
            c.1.extend_from_slice(b"date: ");
            let d = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(secs));
            c.1.extend_from_slice(d.as_bytes());
            c.1.extend_from_slice(b"\r\n");
        }
        f(&c.1)
    })
}
