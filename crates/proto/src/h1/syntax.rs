//! Byte-level HTTP/1.1 syntax shared by the head and trailer parsers.
//!
//! [`scan_head`] walks a head line by line before httparse sees it and
//! enforces the rules httparse is lenient about or reports vaguely: every
//! line ends in CRLF (no bare CR, no bare LF), no obsolete line folding, no
//! whitespace before a colon, the request line is exactly three
//! single-space-separated parts, and the size limits.
//!
//! Invariant: the scan is a pure left-to-right function of the bytes. A
//! prefix of the input either reports "incomplete" or the same error as the
//! whole input, so feeding a head in pieces gives the same result as
//! feeding it at once.

use crate::error::{ErrorKind, ParseError};
use crate::h1::head::Version;
use crate::limits::Limits;

/// Which start line a head begins with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StartLine {
    /// `method SP request-target SP HTTP-version`.
    Request,
    /// `HTTP-version SP status-code SP [ reason-phrase ]`.
    Response,
}

/// Where a complete, syntactically valid head ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Scan {
    /// Length of the head including leading empty lines and the final CRLF.
    pub(crate) end: usize,
    /// Number of field lines.
    pub(crate) fields: usize,
}

/// tchar (RFC 9110 section 5.6.2).
pub(crate) fn is_tchar(b: u8) -> bool {
    TCHAR[b as usize]
}

/// [`is_tchar`] for every byte, built at compile time.
const TCHAR: [bool; 256] = alnum_and(b"!#$%&'*+-.^_`|~");

/// A table of the ASCII letters and digits and the bytes of `extra`, built
/// at compile time, for byte-class checks by lookup.
pub(crate) const fn alnum_and(extra: &[u8]) -> [bool; 256] {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = (b as u8).is_ascii_alphanumeric();
        b += 1;
    }
    let mut i = 0;
    while i < extra.len() {
        t[extra[i] as usize] = true;
        i += 1;
    }
    t
}

/// A byte allowed in a field value: HTAB, SP, VCHAR, obs-text.
pub(crate) fn is_field_byte(b: u8) -> bool {
    b == b'\t' || (b >= b' ' && b != 0x7f)
}

/// Finds the end of the head in `buf`, checking line syntax and limits.
/// `Ok(None)` means more bytes are needed.
pub(crate) fn scan_head(
    buf: &[u8],
    limits: &Limits,
    start: StartLine,
) -> Result<Option<Scan>, ParseError> {
    let mut line = 0;
    let mut started = false;
    let mut fields = 0;
    loop {
        let rest = &buf[line..];
        let Some(off) = find_line_end(rest) else {
            if !rest.is_empty() {
                check_limits(limits, line, rest.len(), !started, start)?;
            }
            return Ok(None);
        };
        let eol = line + off;
        check_limits(limits, line, off, !started && off > 0, start)?;
        if buf[eol] == b'\n' {
            return Err(ErrorKind::BareLf.into());
        }
        match buf.get(eol + 1) {
            None => return Ok(None),
            Some(b'\n') => {}
            Some(_) => return Err(ErrorKind::BareCr.into()),
        }
        let content = &buf[line..eol];
        if !started {
            // Empty lines before the start line are skipped (RFC 9112 section 2.2).
            if off > 0 {
                check_start_line(content, start)?;
                started = true;
            }
        } else if off == 0 {
            return Ok(Some(Scan {
                end: eol + 2,
                fields,
            }));
        } else {
            check_field_line(content)?;
            fields += 1;
            if fields > limits.max_headers {
                return Err(ErrorKind::TooManyHeaders.into());
            }
        }
        line = eol + 2;
    }
}

/// The index of the first CR or LF in `b`: eight bytes at a time (the
/// classic "has a zero byte" bit trick on `word ^ 0x0d0d..` and
/// `word ^ 0x0a0a..`), then byte by byte for the tail. The lowest flagged
/// byte of a word is always a real match (a false flag can only follow one).
pub(crate) fn find_line_end(b: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
    let mut i = 0;
    while i + 8 <= b.len() {
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[i..i + 8]);
        let w = u64::from_le_bytes(w);
        let hits =
            zero_byte(w ^ (ONES * u64::from(b'\r'))) | zero_byte(w ^ (ONES * u64::from(b'\n')));
        if hits != 0 {
            return Some(i + (hits.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    b[i..]
        .iter()
        .position(|&c| c == b'\r' || c == b'\n')
        .map(|p| i + p)
}

/// Checks a line of `len` bytes starting at `line` against the limits.
/// The head cannot end before `line + len + 2`, so this only fails when
/// every continuation of the bytes seen so far would fail too.
fn check_limits(
    limits: &Limits,
    line: usize,
    len: usize,
    in_start_line: bool,
    start: StartLine,
) -> Result<(), ParseError> {
    let start_line_kind = match start {
        StartLine::Request => ErrorKind::UriTooLong,
        StartLine::Response => ErrorKind::HeadTooLarge,
    };
    if in_start_line && len > limits.max_request_line {
        return Err(start_line_kind.into());
    }
    if line + len + 2 > limits.max_head_bytes {
        let kind = if in_start_line {
            start_line_kind
        } else {
            ErrorKind::HeadTooLarge
        };
        return Err(kind.into());
    }
    Ok(())
}

fn check_start_line(line: &[u8], start: StartLine) -> Result<(), ParseError> {
    match start {
        StartLine::Request => check_request_line(line),
        StartLine::Response => check_status_line(line),
    }
}

/// `method SP request-target SP HTTP-version`, single spaces only.
fn check_request_line(line: &[u8]) -> Result<(), ParseError> {
    if line == b"PRI * HTTP/2.0" {
        return Err(ErrorKind::Http2Preface.into());
    }
    let mut parts = line.splitn(4, |&b| b == b' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ErrorKind::RequestLine.into());
    };
    if method.is_empty() || target.is_empty() || version.is_empty() {
        return Err(ErrorKind::RequestLine.into());
    }
    if !method.iter().all(|&b| is_tchar(b)) {
        return Err(ErrorKind::Method.into());
    }
    // Visible ASCII only; '#' starts a fragment, which a request never carries.
    if !target
        .iter()
        .all(|&b| (b'!'..=b'~').contains(&b) && b != b'#')
    {
        return Err(ErrorKind::Target.into());
    }
    parse_version(version).map(|_| ())
}

/// `HTTP-version SP 3DIGIT [ SP reason-phrase ]`. The space before an empty
/// reason is optional, as many servers omit it.
fn check_status_line(line: &[u8]) -> Result<(), ParseError> {
    let Some(sp) = line.iter().position(|&b| b == b' ') else {
        return Err(ErrorKind::StatusLine.into());
    };
    parse_version(&line[..sp])?;
    let rest = &line[sp + 1..];
    let code_ok = rest.len() >= 3 && rest[..3].iter().all(u8::is_ascii_digit) && rest[0] != b'0';
    let sep_ok = rest.len() == 3 || rest.get(3) == Some(&b' ');
    let reason_ok = rest.iter().skip(4).all(|&b| is_field_byte(b));
    if code_ok && sep_ok && reason_ok {
        Ok(())
    } else {
        Err(ErrorKind::StatusLine.into())
    }
}

/// HTTP/1.0 and HTTP/1.1 are supported; any other well-formed
/// `HTTP/DIGIT.DIGIT` is 505, anything else 400.
pub(crate) fn parse_version(v: &[u8]) -> Result<Version, ParseError> {
    match v {
        b"HTTP/1.1" => Ok(Version::Http11),
        b"HTTP/1.0" => Ok(Version::Http10),
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            Err(ErrorKind::VersionNotSupported.into())
        }
        _ => Err(ErrorKind::Version.into()),
    }
}

/// `field-name ":" OWS field-value OWS`, with no leading whitespace
/// (obs-fold) and none before the colon.
pub(crate) fn check_field_line(line: &[u8]) -> Result<(), ParseError> {
    if matches!(line.first(), Some(b' ' | b'\t')) {
        return Err(ErrorKind::ObsFold.into());
    }
    let Some(colon) = line.iter().position(|&b| b == b':') else {
        return Err(ErrorKind::HeaderName.into());
    };
    let name = &line[..colon];
    if matches!(name.last(), Some(b' ' | b'\t')) {
        return Err(ErrorKind::SpaceBeforeColon.into());
    }
    if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
        return Err(ErrorKind::HeaderName.into());
    }
    if !line[colon + 1..].iter().all(|&b| is_field_byte(b)) {
        return Err(ErrorKind::HeaderValue.into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(buf: &[u8]) -> Result<Option<Scan>, ErrorKind> {
        scan_head(buf, &Limits::default(), StartLine::Request).map_err(|e| e.kind())
    }

    #[test]
    fn line_ends_are_found_at_every_offset() {
        for len in 0..40 {
            for at in 0..=len {
                for end in [b'\r', b'\n'] {
                    let mut b: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
                    let want = (at < len).then_some(at);
                    if at < len {
                        b[at] = end;
                        // Bytes that differ from CR and LF by one bit, and
                        // 0x8d/0x8a, after the match must not matter.
                        for (k, x) in b.iter_mut().enumerate().skip(at + 1) {
                            *x = [0x0c, 0x0b, 0x8d, 0x8a, 0x0e][k % 5];
                        }
                    }
                    assert_eq!(find_line_end(&b), want, "len {len} at {at}");
                }
            }
        }
        assert_eq!(
            find_line_end(&[0x8d, 0x8a, 0x0c, 0x2d, 0x2a, 0x0b, 0x0e, 0x00, 0x01]),
            None
        );
    }

    #[test]
    fn finds_end_and_counts_fields() {
        let r = scan(b"\r\nGET / HTTP/1.1\r\nA: b\r\nC: d\r\n\r\nrest").unwrap();
        assert_eq!(r, Some(Scan { end: 32, fields: 2 }));
        assert_eq!(scan(b"GET / HTTP/1.1\r\nA: b\r\n\r"), Ok(None));
        assert_eq!(scan(b""), Ok(None));
        assert_eq!(scan(b"\r"), Ok(None));
    }

    #[test]
    fn line_terminators() {
        assert_eq!(
            scan(b"GET / HTTP/1.1\nHost: a\r\n\r\n"),
            Err(ErrorKind::BareLf)
        );
        assert_eq!(
            scan(b"GET / HTTP/1.1\r\nHost: a\n\r\n"),
            Err(ErrorKind::BareLf)
        );
        assert_eq!(
            scan(b"GET / HTTP/1.1\r\nHost: a\r\n\n"),
            Err(ErrorKind::BareLf)
        );
        assert_eq!(scan(b"\nGET / HTTP/1.1\r\n\r\n"), Err(ErrorKind::BareLf));
        assert_eq!(
            scan(b"GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n"),
            Err(ErrorKind::BareCr)
        );
        assert_eq!(scan(b"GET /\r HTTP/1.1\r\n\r\n"), Err(ErrorKind::BareCr));
        assert_eq!(
            scan(b"GET / HTTP/1.1\r\nHost: a\r\n\rx"),
            Err(ErrorKind::BareCr)
        );
    }

    #[test]
    fn start_line_shapes() {
        assert_eq!(
            scan(b"GET  / HTTP/1.1\r\n\r\n"),
            Err(ErrorKind::RequestLine)
        );
        assert_eq!(
            scan(b" GET / HTTP/1.1\r\n\r\n"),
            Err(ErrorKind::RequestLine)
        );
        assert_eq!(
            scan(b"GET / HTTP/1.1 \r\n\r\n"),
            Err(ErrorKind::RequestLine)
        );
        assert_eq!(
            scan(b"GET /a b HTTP/1.1\r\n\r\n"),
            Err(ErrorKind::RequestLine)
        );
        assert_eq!(
            scan(b"GET /\tHTTP/1.1\r\n\r\n"),
            Err(ErrorKind::RequestLine)
        );
        assert_eq!(scan(b"G(T / HTTP/1.1\r\n\r\n"), Err(ErrorKind::Method));
        assert_eq!(scan(b"GET /\x7f HTTP/1.1\r\n\r\n"), Err(ErrorKind::Target));
        assert_eq!(
            scan(b"GET /\xc3\xa9 HTTP/1.1\r\n\r\n"),
            Err(ErrorKind::Target)
        );
        assert_eq!(scan(b"GET /#frag HTTP/1.1\r\n\r\n"), Err(ErrorKind::Target));
        assert_eq!(
            scan(b"GET / HTTP/2.0\r\n\r\n"),
            Err(ErrorKind::VersionNotSupported)
        );
        assert_eq!(
            scan(b"GET / HTTP/3.0\r\n\r\n"),
            Err(ErrorKind::VersionNotSupported)
        );
        assert_eq!(
            scan(b"GET / HTTP/1.2\r\n\r\n"),
            Err(ErrorKind::VersionNotSupported)
        );
        assert_eq!(scan(b"GET / HTTP/2\r\n\r\n"), Err(ErrorKind::Version));
        assert_eq!(scan(b"GET / http/1.1\r\n\r\n"), Err(ErrorKind::Version));
        assert_eq!(scan(b"GET / HTTP/1.10\r\n\r\n"), Err(ErrorKind::Version));
        assert_eq!(
            scan(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
            Err(ErrorKind::Http2Preface)
        );
    }

    #[test]
    fn field_lines() {
        let f = |l: &[u8]| check_field_line(l).map_err(|e| e.kind());
        assert_eq!(f(b"Host: a"), Ok(()));
        assert_eq!(f(b"X:"), Ok(()));
        assert_eq!(f(b"X: \xff obs-text\t"), Ok(()));
        assert_eq!(f(b" folded"), Err(ErrorKind::ObsFold));
        assert_eq!(f(b"\tfolded"), Err(ErrorKind::ObsFold));
        assert_eq!(f(b"Host : a"), Err(ErrorKind::SpaceBeforeColon));
        assert_eq!(f(b"Host\t: a"), Err(ErrorKind::SpaceBeforeColon));
        assert_eq!(f(b": a"), Err(ErrorKind::HeaderName));
        assert_eq!(f(b"No colon"), Err(ErrorKind::HeaderName));
        assert_eq!(f(b"Ho\x00st: a"), Err(ErrorKind::HeaderName));
        assert_eq!(f(b"X: a\x00b"), Err(ErrorKind::HeaderValue));
        assert_eq!(f(b"X: a\x7fb"), Err(ErrorKind::HeaderValue));
        assert_eq!(f(b"X: a\x01b"), Err(ErrorKind::HeaderValue));
    }

    #[test]
    fn status_lines() {
        let f = |l: &[u8]| check_status_line(l).map_err(|e| e.kind());
        assert_eq!(f(b"HTTP/1.1 200 OK"), Ok(()));
        assert_eq!(f(b"HTTP/1.1 200"), Ok(()));
        assert_eq!(f(b"HTTP/1.0 404 "), Ok(()));
        assert_eq!(f(b"HTTP/1.1 20 OK"), Err(ErrorKind::StatusLine));
        assert_eq!(f(b"HTTP/1.1 2000 OK"), Err(ErrorKind::StatusLine));
        assert_eq!(f(b"HTTP/1.1 099 OK"), Err(ErrorKind::StatusLine));
        assert_eq!(f(b"HTTP/1.1"), Err(ErrorKind::StatusLine));
        assert_eq!(f(b"HTTP/2.0 200 OK"), Err(ErrorKind::VersionNotSupported));
    }

    #[test]
    fn limits_pick_414_or_431() {
        let limits = Limits {
            max_head_bytes: 64,
            max_request_line: 32,
            max_headers: 2,
            ..Limits::default()
        };
        let s = |b: &[u8]| scan_head(b, &limits, StartLine::Request).map_err(|e| e.kind());
        let long_target = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(40));
        assert_eq!(s(long_target.as_bytes()), Err(ErrorKind::UriTooLong));
        assert_eq!(s(&long_target.as_bytes()[..33]), Err(ErrorKind::UriTooLong));
        assert_eq!(s(&long_target.as_bytes()[..32]), Ok(None));
        let big = format!("GET / HTTP/1.1\r\nA: {}\r\n\r\n", "b".repeat(60));
        assert_eq!(s(big.as_bytes()), Err(ErrorKind::HeadTooLarge));
        assert_eq!(s(&big.as_bytes()[..65]), Err(ErrorKind::HeadTooLarge));
        let exact = format!("GET / HTTP/1.1\r\nA: {}\r\n\r\n", "b".repeat(41));
        assert_eq!(exact.len(), 64);
        assert!(s(exact.as_bytes()).unwrap().is_some());
        let many = b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
        assert_eq!(s(many), Err(ErrorKind::TooManyHeaders));
    }
}
