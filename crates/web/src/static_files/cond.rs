//! Validators and conditional requests: `ETag`, `Last-Modified`,
//! `If-Match`, `If-Unmodified-Since`, `If-None-Match`,
//! `If-Modified-Since`, `If-Range` and single `Range`s.
//!
//! Invariants: the ETag is derived from size and modification time only
//! (no read of the content). Preconditions are evaluated in RFC 9110's
//! order (section 13.2.2): `If-Match` (strong comparison) or else
//! `If-Unmodified-Since` decide 412; then `If-None-Match` (weak
//! comparison, so the weak tag of a compressed response still validates)
//! or else `If-Modified-Since` decide 304. Ranges are honoured only for a
//! single `bytes` range (the unit matched without regard to case, empty
//! list elements skipped); several ranges are answered with the whole
//! file.

use std::fs::Metadata;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::request::Request;

/// The validators of one file.
#[derive(Debug, Clone)]
pub(crate) struct Validators {
    /// The strong entity tag, quoted.
    pub(crate) etag: String,
    /// The modification time, if the platform has it.
    pub(crate) modified: Option<SystemTime>,
}

impl Validators {
    /// The validators of a file with `meta`.
    pub(crate) fn of(meta: &Metadata) -> Validators {
        let modified = meta.modified().ok();
        let nanos = modified
            .and_then(|m| m.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        Validators {
            etag: format!("\"{:x}-{:x}\"", meta.len(), nanos),
            modified,
        }
    }

    /// `Last-Modified`'s value.
    pub(crate) fn last_modified(&self) -> Option<String> {
        self.modified.map(httpdate::fmt_http_date)
    }

    /// Whether `If-Match` or, without it, `If-Unmodified-Since` fails
    /// (answer 412): the client's update or range was for another version.
    pub(crate) fn precondition_failed(&self, req: &Request) -> bool {
        if req.headers().contains("if-match") {
            return !req
                .headers()
                .list("if-match")
                .any(|t| t == b"*" || strong_eq(t, self.etag.as_bytes()));
        }
        match (req.header("if-unmodified-since"), self.modified) {
            (Some(ius), Some(m)) => match httpdate::parse_http_date(ius) {
                Ok(since) => secs(m) > secs(since),
                Err(_) => false,
            },
            _ => false,
        }
    }

    /// Whether the request's preconditions say the client's copy is fresh
    /// (answer 304).
    pub(crate) fn not_modified(&self, req: &Request) -> bool {
        if req.headers().contains("if-none-match") {
            return req
                .headers()
                .list("if-none-match")
                .any(|t| t == b"*" || weak_eq(t, self.etag.as_bytes()));
        }
        match (req.header("if-modified-since"), self.modified) {
            (Some(ims), Some(m)) => match httpdate::parse_http_date(ims) {
                Ok(since) => secs(m) <= secs(since),
                Err(_) => false,
            },
            _ => false,
        }
    }

    /// Whether `If-Range` (if any) still matches, so a `Range` applies.
    pub(crate) fn range_applies(&self, req: &Request) -> bool {
        let Some(v) = req.header("if-range") else {
            return true;
        };
        if v.starts_with('"') {
            return v == self.etag;
        }
        match (httpdate::parse_http_date(v), self.modified) {
            (Ok(t), Some(m)) => secs(m) == secs(t),
            _ => false,
        }
    }
}

/// Seconds since the epoch (HTTP dates have second precision).
fn secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Compares two entity tags strongly: both strong and the same.
fn strong_eq(a: &[u8], b: &[u8]) -> bool {
    !a.starts_with(b"W/") && a == b
}

/// Compares two entity tags, ignoring the weakness flag.
fn weak_eq(a: &[u8], b: &[u8]) -> bool {
    let strip = |t: &[u8]| t.strip_prefix(b"W/").map_or(t.to_vec(), <[u8]>::to_vec);
    strip(a) == strip(b)
}

/// What a `Range` field asks for.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RangeReq {
    /// No usable range: send everything.
    Full,
    /// Bytes `start..=end`.
    Part(u64, u64),
    /// No byte of the range exists (416).
    Unsatisfiable,
}

/// Interprets a `Range` value for a file of `len` bytes.
pub(crate) fn parse_range(value: Option<&str>, len: u64) -> RangeReq {
    let Some(spec) = value.and_then(|v| {
        let v = v.trim();
        let unit = v.get(..6)?;
        unit.eq_ignore_ascii_case("bytes=").then(|| &v[6..])
    }) else {
        return RangeReq::Full;
    };
    // A list: empty elements count for nothing (RFC 9110 section 5.6.1).
    let mut ranges = spec.split(',').map(str::trim).filter(|r| !r.is_empty());
    let (Some(range), None) = (ranges.next(), ranges.next()) else {
        return RangeReq::Full;
    };
    let Some((a, b)) = range.split_once('-') else {
        return RangeReq::Full;
    };
    let (a, b) = (a.trim(), b.trim());
    let num = |s: &str| s.parse::<u64>().ok();
    match (a.is_empty(), b.is_empty()) {
        (true, true) => RangeReq::Full,
        (true, false) => match num(b) {
            Some(0) => RangeReq::Unsatisfiable,
            Some(_) if len == 0 => RangeReq::Unsatisfiable,
            Some(n) => RangeReq::Part(len.saturating_sub(n), len - 1),
            None => RangeReq::Full,
        },
        (false, _) => {
            let Some(start) = num(a) else {
                return RangeReq::Full;
            };
            let end = if b.is_empty() { Some(u64::MAX) } else { num(b) };
            match end {
                None => RangeReq::Full,
                Some(end) if end < start => RangeReq::Full,
                Some(_) if start >= len => RangeReq::Unsatisfiable,
                Some(end) => RangeReq::Part(start, end.min(len - 1)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{parse_range, RangeReq::*};

    #[test]
    fn ranges() {
        assert_eq!(parse_range(Some("bytes=0-4"), 10), Part(0, 4));
        assert_eq!(parse_range(Some("bytes=5-"), 10), Part(5, 9));
        assert_eq!(parse_range(Some("bytes=-3"), 10), Part(7, 9));
        assert_eq!(parse_range(Some("bytes=-30"), 10), Part(0, 9));
        assert_eq!(parse_range(Some("bytes=8-100"), 10), Part(8, 9));
        assert_eq!(parse_range(Some("bytes=10-"), 10), Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=-0"), 10), Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=0-1,3-4"), 10), Full);
        assert_eq!(parse_range(Some("bytes=4-2"), 10), Full);
        assert_eq!(parse_range(Some("items=0-1"), 10), Full);
        assert_eq!(parse_range(Some("BYTES=1-2"), 10), Part(1, 2));
        assert_eq!(parse_range(Some("Bytes=-2"), 10), Part(8, 9));
        assert_eq!(parse_range(Some("bytes=1-2,"), 10), Part(1, 2));
        assert_eq!(parse_range(Some("bytes=, 1-2 ,,"), 10), Part(1, 2));
        assert_eq!(parse_range(Some("bytes=,"), 10), Full);
        assert_eq!(parse_range(Some("bytes"), 10), Full);
        assert_eq!(parse_range(Some("bytés=1-2"), 10), Full);
        assert_eq!(parse_range(None, 10), Full);
    }
}
