//! Byte-level HTTP/1.1 syntax shared by the head and trailer parsers.
//!
//! [`scan_head`] walks a head line by line and enforces the rules
//! httparse is lenient about or reports vaguely: every line ends in CRLF
//! (no bare CR, no bare LF), no obsolete line folding, no whitespace before
//! a colon, the request line is exactly three single-space-separated parts,
//! and the size limits. As it accepts each line it hands the line's parts
//! to a [`HeadSink`], so a request head is checked and split in one pass.
//! [`scan_request_fast`] does the same for the usual request head without
//! first finding each line's end, and leaves every other head to the line
//! scan.
//!
//! Invariant: the scan is a pure left-to-right function of the bytes. A
//! prefix of the input either reports "incomplete" or the same error as the
//! whole input, so feeding a head in pieces gives the same result as
//! feeding it at once. A line is checked, and given to the sink, only once
//! its CRLF has arrived, with one exception: a request line's method and
//! target are checked as their bytes arrive, because their errors are
//! decided by the first byte no request line may have there (so a TLS
//! handshake or other garbage gets its 400 at once, not a 414 or a timeout
//! once the buffer fills). Within the line-length limit a bad byte is
//! reported first; past it, the limit. The checks of one line run in a
//! fixed order, and the fast paths below (word-at-a-time byte classes) only
//! decide whether a line is valid: any line they reject is re-checked by
//! the plain checks, which pick the error.

use crate::error::{ErrorKind, ParseError};
use crate::h1::head::{trim_ows, Version};
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
pub(crate) const fn is_tchar(b: u8) -> bool {
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
pub(crate) const fn is_field_byte(b: u8) -> bool {
    FIELD_BYTE[b as usize]
}

/// [`is_field_byte`] for every byte, built at compile time.
const FIELD_BYTE: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = b == 0x09 || (b >= 0x20 && b != 0x7f);
        b += 1;
    }
    t
};

/// Whether every byte of `b` is in `class` (a table built at compile
/// time), a byte at a time: usable in a `const`.
const fn all_in(b: &[u8], class: &[bool; 256]) -> bool {
    let mut i = 0;
    while i < b.len() {
        if !class[b[i] as usize] {
            return false;
        }
        i += 1;
    }
    true
}

/// Whether `b` is a token (RFC 9110 section 5.6.2): one or more tchars.
pub(crate) const fn is_token(b: &[u8]) -> bool {
    !b.is_empty() && all_in(b, &TCHAR)
}

/// [`are_field_bytes`] for a `const`, a byte at a time.
pub(crate) const fn are_field_bytes_const(b: &[u8]) -> bool {
    all_in(b, &FIELD_BYTE)
}

/// What a scan does with the lines it accepts.
pub(crate) trait HeadSink<'a> {
    /// Which start line the head begins with.
    const START: StartLine;
    /// The start line (without CRLF), once its syntax is checked by the
    /// sink itself: it returns the error for a bad one.
    fn start_line(&mut self, line: &'a [u8]) -> Result<(), ParseError>;
    /// A field line's name (a token) and value (field bytes, trimmed of
    /// optional whitespace), in order: both are slices of the scanned
    /// buffer.
    fn field(&mut self, name: &'a [u8], value: &'a [u8]);
}

/// `HTTP/1.1` and `HTTP/1.0` as little-endian words.
const HTTP_11: u64 = u64::from_le_bytes(*b"HTTP/1.1");
const HTTP_10: u64 = u64::from_le_bytes(*b"HTTP/1.0");

/// The usual request head, checked and split in a single pass over its
/// bytes: a request line with an HTTP/1.1 or HTTP/1.0 version, field lines
/// whose values hold no control byte (not even HTAB), every line ending in
/// CRLF, and within the limits. Each field goes to `field` (name, and value
/// trimmed of spaces) as it is read, and the method, target and version
/// are returned with where the head ends.
///
/// `None` for anything else, including an incomplete head and a head with
/// leading empty lines: the caller then runs [`scan_head_into`], which
/// accepts every head this accepts, with the same split (a test checks
/// both on generated and mutated heads), and picks the error for a bad one.
/// Before `None`, `field` may have been given some fields: the caller
/// drops them.
pub(crate) fn scan_request_fast<'a>(
    buf: &'a [u8],
    limits: &Limits,
    mut field: impl FnMut(&'a [u8], &'a [u8]),
) -> Option<(&'a [u8], &'a [u8], Version, Scan)> {
    // Nothing past the head limit is looked at, so no line can pass it.
    let buf = &buf[..buf.len().min(limits.max_head_bytes)];
    // The commonest method needs no scan.
    let m = if buf.starts_with(b"GET ") {
        3
    } else {
        tchar_run(buf)
    };
    if m == 0 || buf.get(m) != Some(&b' ') {
        return None;
    }
    let target = m + 1;
    let t = target_run(&buf[target..]);
    let sp = target + t;
    if t == 0 || buf.get(sp) != Some(&b' ') {
        return None;
    }
    // Compared as two words (an array pattern compiles to a byte-by-byte
    // decision tree).
    let version: &[u8; 10] = buf.get(sp + 1..sp + 11)?.try_into().ok()?;
    let (word, end) = version.split_at(8);
    if end != b"\r\n" {
        return None;
    }
    let version = match u64::from_le_bytes(word.try_into().ok()?) {
        HTTP_11 => Version::Http11,
        HTTP_10 => Version::Http10,
        _ => return None,
    };
    let mut line = sp + 11;
    let mut fields = 0;
    loop {
        let rest = buf.get(line..)?;
        if rest.starts_with(b"\r\n") {
            let scan = Scan {
                end: line + 2,
                fields,
            };
            return Some((&buf[..m], &buf[target..sp], version, scan));
        }
        let n = tchar_run(rest);
        if n == 0 || rest.get(n) != Some(&b':') {
            return None;
        }
        let value = &rest[n + 1..];
        let len = visible_run(value);
        if value.get(len..len + 2) != Some(b"\r\n") {
            return None;
        }
        fields += 1;
        if fields > limits.max_headers {
            return None;
        }
        field(&rest[..n], trim_sp(&value[..len]));
        line += n + 1 + len + 2;
    }
}

/// A field value of the one-pass scan without its surrounding spaces
/// (`visible_run` has stopped at any HTAB): the usual single leading
/// space is dropped without a search.
fn trim_sp(v: &[u8]) -> &[u8] {
    let v = v.strip_prefix(b" ").unwrap_or(v);
    match (v.first(), v.last()) {
        (Some(b' '), _) | (_, Some(b' ')) => trim_ows(v),
        _ => v,
    }
}

/// The length of the longest prefix of `b` made of tchars.
fn tchar_run(b: &[u8]) -> usize {
    table_run(&TCHAR, b)
}

/// The length of the longest prefix of `b` whose bytes are all in
/// `table`: four lookups a step, then one at a time.
pub(crate) fn table_run(table: &[bool; 256], b: &[u8]) -> usize {
    let is = |c: u8| table[c as usize];
    let mut i = 0;
    while let Some(c) = b.get(i..i + 4) {
        if !(is(c[0]) & is(c[1]) & is(c[2]) & is(c[3])) {
            break;
        }
        i += 4;
    }
    while b.get(i).is_some_and(|&c| is(c)) {
        i += 1;
    }
    i
}

/// The length of the longest prefix of `v` without a control byte or DEL
/// (so field bytes but HTAB), eight at a time. The lowest flagged byte of
/// a word is always a real match.
fn visible_run(v: &[u8]) -> usize {
    let mut i = 0;
    while i + 8 <= v.len() {
        let w = word(v, i);
        let hits = any_below(w, b' ') | zero_byte(w ^ splat(0x7f));
        if hits != 0 {
            return i + (hits.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    i + v[i..]
        .iter()
        .take_while(|&&c| c >= b' ' && c != 0x7f)
        .count()
}

/// Finds the end of the head in `buf`, checking line syntax and limits.
/// `Ok(None)` means more bytes are needed.
pub(crate) fn scan_head(
    buf: &[u8],
    limits: &Limits,
    start: StartLine,
) -> Result<Option<Scan>, ParseError> {
    match start {
        StartLine::Request => scan_head_into(buf, limits, &mut CheckRequest),
        StartLine::Response => scan_head_into(buf, limits, &mut CheckResponse),
    }
}

/// A sink that only checks a request head.
struct CheckRequest;

impl HeadSink<'_> for CheckRequest {
    const START: StartLine = StartLine::Request;
    fn start_line(&mut self, line: &[u8]) -> Result<(), ParseError> {
        check_request_line(line)
    }
    fn field(&mut self, _: &[u8], _: &[u8]) {}
}

/// A sink that only checks a response head (httparse splits it).
struct CheckResponse;

impl HeadSink<'_> for CheckResponse {
    const START: StartLine = StartLine::Response;
    fn start_line(&mut self, line: &[u8]) -> Result<(), ParseError> {
        check_status_line(line)
    }
    fn field(&mut self, _: &[u8], _: &[u8]) {}
}

/// [`scan_head`], giving each accepted line to `sink`.
pub(crate) fn scan_head_into<'a, S: HeadSink<'a>>(
    buf: &'a [u8],
    limits: &Limits,
    sink: &mut S,
) -> Result<Option<Scan>, ParseError> {
    let start = S::START;
    let mut line = 0;
    let mut started = false;
    let mut fields = 0;
    loop {
        let rest = &buf[line..];
        let Some(off) = find_line_end(rest) else {
            if !rest.is_empty() {
                if !started {
                    check_start_prefix(limits, line, rest, start)?;
                }
                check_limits(limits, line, rest.len(), !started, start)?;
            }
            return Ok(None);
        };
        let eol = line + off;
        if !started && off > 0 {
            check_start_prefix(limits, line, &rest[..off], start)?;
        }
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
                sink.start_line(content)?;
                started = true;
            }
        } else if off == 0 {
            return Ok(Some(Scan {
                end: eol + 2,
                fields,
            }));
        } else {
            let (name, value) = split_field_line(content)?;
            sink.field(name, value);
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
    let mut i = 0;
    while i + 8 <= b.len() {
        let w = word(b, i);
        let hits = zero_byte(w ^ splat(b'\r')) | zero_byte(w ^ splat(b'\n'));
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

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// `b` in every byte of a word.
const fn splat(b: u8) -> u64 {
    ONES * b as u64
}

/// The eight bytes of `b` at `i`, little-endian.
fn word(b: &[u8], i: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[i..i + 8]);
    u64::from_le_bytes(w)
}

/// High bit set in each zero byte of `v` (and possibly in bytes above one).
fn zero_byte(v: u64) -> u64 {
    v.wrapping_sub(ONES) & !v & HIGHS
}

/// Nonzero if some byte of `v` is below `n` (`n` at most 128).
fn any_below(v: u64, n: u8) -> u64 {
    v.wrapping_sub(splat(n)) & !v & HIGHS
}

/// Whether every byte of `v` is a field byte ([`is_field_byte`]): eight at
/// a time, a word with a control byte or DEL checked byte by byte (HTAB
/// is a control byte that is allowed).
pub(crate) fn are_field_bytes(v: &[u8]) -> bool {
    let mut i = 0;
    while i + 8 <= v.len() {
        let w = word(v, i);
        if any_below(w, b' ') | zero_byte(w ^ splat(0x7f)) != 0
            && !v[i..i + 8].iter().all(|&b| is_field_byte(b))
        {
            return false;
        }
        i += 8;
    }
    v[i..].iter().all(|&b| is_field_byte(b))
}

/// A byte allowed in a request-target: visible ASCII except `#` (a
/// fragment, which a request never carries).
fn is_target_byte(b: u8) -> bool {
    (b'!'..=b'~').contains(&b) && b != b'#'
}

/// The length of the longest prefix of `t` made of target bytes, eight at
/// a time.
fn target_run(t: &[u8]) -> usize {
    let mut i = 0;
    while i + 8 <= t.len() {
        let w = word(t, i);
        let bad = any_below(w, b'!')
            | (w & HIGHS)
            | zero_byte(w ^ splat(0x7f))
            | zero_byte(w ^ splat(b'#'));
        if bad != 0 {
            break;
        }
        i += 8;
    }
    i + t[i..].iter().take_while(|&&b| is_target_byte(b)).count()
}

/// Splits a request line into method, target and version: the checks of
/// [`check_request_line`] in one pass for the usual line, and that
/// function (which picks the error) for any other.
pub(crate) fn split_request_line(line: &[u8]) -> Result<(&[u8], &[u8], Version), ParseError> {
    let m = line.iter().take_while(|&&b| is_tchar(b)).count();
    if m > 0 && line.get(m) == Some(&b' ') {
        let rest = &line[m + 1..];
        let t = target_run(rest);
        if t > 0 && rest.get(t) == Some(&b' ') {
            if let Ok(v) = parse_version(&rest[t + 1..]) {
                return Ok((&line[..m], &rest[..t], v));
            }
        }
    }
    check_request_line(line)?;
    // Unreachable: a line the fast path refuses fails the full check.
    Err(ErrorKind::RequestLine.into())
}

/// Splits a field line into name and value (trimmed of optional
/// whitespace): a token run up to the colon and a word-at-a-time value
/// check for the usual line, and [`check_field_line`] (which picks the
/// error) for any other.
pub(crate) fn split_field_line(line: &[u8]) -> Result<(&[u8], &[u8]), ParseError> {
    let n = line.iter().take_while(|&&b| is_tchar(b)).count();
    if n > 0 && line.get(n) == Some(&b':') && are_field_bytes(&line[n + 1..]) {
        return Ok((&line[..n], trim_ows(&line[n + 1..])));
    }
    check_field_line(line)?;
    // Unreachable: a line the fast path refuses fails the full check.
    Err(ErrorKind::HeaderName.into())
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

/// The bytes of a start line seen so far (`bytes`, beginning at offset
/// `line` of the head, no CR or LF among them): for a request, the method
/// and target checked as far as they go, within the bytes the limits
/// allow the line (past them, [`check_limits`] reports the limit).
fn check_start_prefix(
    limits: &Limits,
    line: usize,
    bytes: &[u8],
    start: StartLine,
) -> Result<(), ParseError> {
    if start != StartLine::Request {
        return Ok(());
    }
    let room = limits.max_head_bytes.saturating_sub(line + 2);
    request_line_prefix(&bytes[..bytes.len().min(room)]).map(|_| ())
}

/// Scans `method SP request-target SP` of a request line (or of the part
/// of one that has arrived), left to right: the error of the first byte no
/// request line may have there, or where the version begins (`None` if
/// the bytes end before it).
fn request_line_prefix(line: &[u8]) -> Result<Option<usize>, ParseError> {
    let m = tchar_run(line);
    match line.get(m) {
        None => return Ok(None),
        Some(b' ') if m > 0 => {}
        Some(b' ') => return Err(ErrorKind::RequestLine.into()),
        Some(_) => return Err(ErrorKind::Method.into()),
    }
    let rest = &line[m + 1..];
    let t = target_run(rest);
    match rest.get(t) {
        None => Ok(None),
        Some(b' ') if t > 0 => Ok(Some(m + 1 + t + 1)),
        Some(b' ') => Err(ErrorKind::RequestLine.into()),
        Some(_) => Err(ErrorKind::Target.into()),
    }
}

/// `method SP request-target SP HTTP-version`, single spaces only, checked
/// left to right (see [`request_line_prefix`]).
fn check_request_line(line: &[u8]) -> Result<(), ParseError> {
    if line == b"PRI * HTTP/2.0" {
        return Err(ErrorKind::Http2Preface.into());
    }
    let Some(v) = request_line_prefix(line)? else {
        return Err(ErrorKind::RequestLine.into());
    };
    let version = &line[v..];
    if version.is_empty() || version.contains(&b' ') {
        return Err(ErrorKind::RequestLine.into());
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

/// A seeded xorshift generator for tests: `rnd(n)` is below `n`.
#[cfg(test)]
pub(crate) fn test_rng(mut seed: u64) -> impl FnMut(usize) -> usize {
    move |n| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    }
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
    fn a_request_line_is_refused_at_its_first_bad_byte() {
        // A TLS ClientHello, and other bytes no method or target may hold,
        // are refused before any line end arrives.
        assert_eq!(scan(b"\x16\x03\x01\x02\x00"), Err(ErrorKind::Method));
        assert_eq!(scan(b"GE\x01"), Err(ErrorKind::Method));
        assert_eq!(scan(b" GET"), Err(ErrorKind::RequestLine));
        assert_eq!(scan(b"GET /a\x01b"), Err(ErrorKind::Target));
        assert_eq!(scan(b"GET  /"), Err(ErrorKind::RequestLine));
        // Valid so far: more is needed, whatever the version part holds.
        assert_eq!(scan(b"GET"), Ok(None));
        assert_eq!(scan(b"GET /a?b=c"), Ok(None));
        assert_eq!(scan(b"GET / x y"), Ok(None));
        // Within the head limit a bad byte is reported, past it the limit,
        // whether the line is complete or not.
        let limits = Limits::default();
        let long = vec![b'A'; limits.max_head_bytes + 1];
        let mut bad_late = long.clone();
        bad_late.push(0x01);
        let mut bad_early = long.clone();
        bad_early[10] = 0x01;
        for (line, want) in [
            (&long, ErrorKind::UriTooLong),
            (&bad_late, ErrorKind::UriTooLong),
            (&bad_early, ErrorKind::Method),
        ] {
            assert_eq!(scan(line), Err(want));
            let mut whole = line.clone();
            whole.extend_from_slice(b" / HTTP/1.1\r\n\r\n");
            assert_eq!(scan(&whole), Err(want));
        }
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
        // A tab is no separator: the target holds a byte no target may.
        assert_eq!(scan(b"GET /\tHTTP/1.1\r\n\r\n"), Err(ErrorKind::Target));
        assert_eq!(scan(b"GET\t/ HTTP/1.1\r\n\r\n"), Err(ErrorKind::Method));
        assert_eq!(scan(b"GET /\r\n\r\n"), Err(ErrorKind::RequestLine));
        assert_eq!(scan(b"GET / \r\n\r\n"), Err(ErrorKind::RequestLine));
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
    fn the_one_pass_splits_agree_with_the_plain_checks() {
        // Random short lines over an alphabet of the bytes the rules are
        // about: the fast paths must accept exactly what the plain checks
        // accept, report their error otherwise, and split where they would.
        let alphabet: &[u8] = b"aZ09-!#:/ \t\x7f\x80\xff\x00\x1f~HTP.1";
        let mut rnd = test_rng(0x2545_F491_4F6C_DD1D);
        let kind = |r: Result<(), ParseError>| r.map_err(|e| e.kind());
        let mut accepted = [0; 2];
        for _ in 0..200_000 {
            let mut line: Vec<u8> = (0..rnd(28))
                .map(|_| alphabet[rnd(alphabet.len())])
                .collect();
            // Often a plausible shape, so that acceptance is common too.
            if rnd(2) == 0 {
                let v: &[u8] = [&b" HTTP/1.1"[..], b" HTTP/1.0", b" HTTP/2.0"][rnd(3)];
                let mut l = b"GET ".to_vec();
                l.extend(line.iter().filter(|&&b| b != b' '));
                l.extend_from_slice(v);
                line = l;
            }
            let field = split_field_line(&line);
            assert_eq!(
                field.as_ref().map(|_| ()).map_err(|e| e.kind()),
                kind(check_field_line(&line)),
                "{line:?}"
            );
            if let Ok((name, value)) = field {
                let colon = line.iter().position(|&b| b == b':').unwrap();
                assert_eq!(
                    (name, value),
                    (&line[..colon], trim_ows(&line[colon + 1..]))
                );
                accepted[0] += 1;
            }
            let req = split_request_line(&line);
            assert_eq!(
                req.as_ref().map(|_| ()).map_err(|e| e.kind()),
                kind(check_request_line(&line)),
                "{line:?}"
            );
            if let Ok((m, t, _)) = req {
                let mut parts = line.split(|&b| b == b' ');
                assert_eq!((parts.next(), parts.next()), (Some(m), Some(t)));
                accepted[1] += 1;
            }
        }
        assert!(accepted.iter().all(|&n| n > 1000), "{accepted:?}");
    }

    #[test]
    fn field_bytes_word_at_a_time() {
        for len in 0..24 {
            for at in 0..len {
                for bad in [0x00u8, 0x0a, 0x0d, 0x1f, 0x7f] {
                    let mut v = vec![b'a'; len];
                    v[at] = bad;
                    assert!(!are_field_bytes(&v), "{v:?}");
                    v[at] = [b'\t', b' ', 0x80, 0xff, b'~'][usize::from(bad) % 5];
                    assert!(are_field_bytes(&v), "{v:?}");
                }
            }
        }
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
            max_headers: 2,
            ..Limits::default()
        };
        let s = |b: &[u8]| scan_head(b, &limits, StartLine::Request).map_err(|e| e.kind());
        let long_target = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(60));
        assert_eq!(s(long_target.as_bytes()), Err(ErrorKind::UriTooLong));
        // The line cannot end in time once 63 bytes are in without a CR.
        assert_eq!(s(&long_target.as_bytes()[..63]), Err(ErrorKind::UriTooLong));
        assert_eq!(s(&long_target.as_bytes()[..62]), Ok(None));
        // The request line alone may take the whole budget.
        let widest = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(46));
        assert_eq!(widest.len(), 64);
        assert!(s(widest.as_bytes()).unwrap().is_some());
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
