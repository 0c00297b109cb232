//! Semantic checks on a parsed head: target form, Host, body framing,
//! persistence, expectations and upgrades (RFC 9112 sections 3.2, 6, 9.3;
//! RFC 9110 sections 7.2, 8.6, 10.1.1).
//!
//! Body framing is where request smuggling lives, so every rule here
//! rejects rather than guesses: two framings (Content-Length and
//! Transfer-Encoding), two different lengths, a length that is not a plain
//! number, or a coding list that does not end in `chunked` are all errors.

use crate::error::{ErrorKind, ParseError};
use crate::h1::head::{trim_ows, Headers, Method, RequestHead, ResponseHead, TargetForm, Version};
use crate::h1::parse::{BodyKind, RequestFraming};
use crate::h1::syntax::table_run;
use crate::limits::Limits;

/// Classifies `target` and checks that `method` allows its form.
pub(super) fn target_form(method: &Method, t: &[u8]) -> Result<TargetForm, ParseError> {
    let form = if *method == Method::Connect {
        valid_authority(t, true).then_some(TargetForm::Authority)
    } else if t == b"*" {
        (*method == Method::Options).then_some(TargetForm::Asterisk)
    } else if t.starts_with(b"/") {
        Some(TargetForm::Origin)
    } else {
        absolute_authority(t)
            .filter(|a| valid_authority(a, false) && !a.is_empty())
            .map(|_| TargetForm::Absolute)
    };
    form.ok_or_else(|| ErrorKind::Target.into())
}

/// The authority of an `http://` or `https://` target.
fn absolute_authority(t: &[u8]) -> Option<&[u8]> {
    let scheme_end = t.iter().position(|&b| b == b':')?;
    let scheme = &t[..scheme_end];
    if !scheme.eq_ignore_ascii_case(b"http") && !scheme.eq_ignore_ascii_case(b"https") {
        return None;
    }
    let rest = t[scheme_end..].strip_prefix(b"://")?;
    let end = rest
        .iter()
        .position(|&b| b == b'/' || b == b'?')
        .unwrap_or(rest.len());
    Some(&rest[..end])
}

/// `uri-host [ ":" port ]` (RFC 9110 section 7.2), without userinfo.
/// An empty value is valid for Host, and so is an empty port (RFC 3986's
/// `port = *DIGIT`: `a:` names `a` on the scheme's port); `require_port`
/// is for CONNECT, whose target needs a port number.
fn valid_authority(a: &[u8], require_port: bool) -> bool {
    if a.is_empty() {
        return !require_port;
    }
    // The usual authority, a plain reg-name or IPv4 address with an
    // optional port, in one pass; anything else takes the full check.
    let host = table_run(&REG_NAME, a);
    if host > 0 {
        match &a[host..] {
            [] | [b':'] => return !require_port,
            [b':', port @ ..] if valid_port(port) => return true,
            _ => {}
        }
    }
    let (host_ok, port) = if let Some(inner) = a.strip_prefix(b"[") {
        let Some(close) = inner.iter().position(|&b| b == b']') else {
            return false;
        };
        let ip = &inner[..close];
        let ok = !ip.is_empty()
            && ip
                .iter()
                .all(|&b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
        match &inner[close + 1..] {
            [] => (ok, None),
            [b':', port @ ..] => (ok, Some(port)),
            _ => return false,
        }
    } else {
        let (host, port) = match a.iter().rposition(|&b| b == b':') {
            Some(i) => (&a[..i], Some(&a[i + 1..])),
            None => (a, None),
        };
        (!host.is_empty() && valid_reg_name(host), port)
    };
    let port_ok = match port {
        None | Some([]) => !require_port,
        Some(p) => valid_port(p),
    };
    host_ok && port_ok
}

/// One to five digits, at most 65535.
fn valid_port(p: &[u8]) -> bool {
    // Digit strings of one length compare as their numbers do.
    (1..=5).contains(&p.len())
        && p.iter().all(u8::is_ascii_digit)
        && (p.len() < 5 || p <= b"65535".as_slice())
}

/// reg-name / IPv4address: unreserved, sub-delims and pct-encoded bytes.
fn valid_reg_name(host: &[u8]) -> bool {
    let mut i = 0;
    while i < host.len() {
        let b = host[i];
        if b == b'%' {
            let hex = host.get(i + 1..i + 3);
            if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                return false;
            }
            i += 3;
            continue;
        }
        if !REG_NAME[b as usize] {
            return false;
        }
        i += 1;
    }
    true
}

/// unreserved and sub-delims bytes (RFC 3986), built at compile time.
const REG_NAME: [bool; 256] = crate::h1::syntax::alnum_and(b"-._~!$&'()*+,;=");

/// The last valid Host value a connection received, so that the next
/// request's, almost always the same bytes, is known valid after one
/// comparison of a fixed size instead of a check of its syntax.
#[derive(Debug, Default)]
pub(crate) struct HostMemo {
    /// The value's length; 0 when nothing is remembered (an empty Host is
    /// valid, and cheap to check, anyway).
    len: u8,
    /// The value, then zeros.
    bytes: [u8; HOST_MEMO],
}

/// The longest Host value [`HostMemo`] keeps.
const HOST_MEMO: usize = 32;

impl HostMemo {
    /// Whether `host` is a valid Host value (`valid_authority(host, false)`),
    /// remembering it if it is and fits.
    fn valid(&mut self, host: &[u8]) -> bool {
        if host.is_empty() || host.len() > HOST_MEMO {
            return valid_authority(host, false);
        }
        let mut key = [0u8; HOST_MEMO];
        key[..host.len()].copy_from_slice(host);
        if usize::from(self.len) == host.len() && key == self.bytes {
            return true;
        }
        let ok = valid_authority(host, false);
        if ok {
            self.len = host.len() as u8;
            self.bytes = key;
        }
        ok
    }
}

/// Checks Host, framing, limits and expectations of a request head.
pub(super) fn request_framing(
    head: &RequestHead,
    p: &Present,
    limits: &Limits,
    memo: &mut HostMemo,
) -> Result<RequestFraming, ParseError> {
    let headers = &head.headers;
    let host = (p.hosts > 0).then(|| headers.value_at(p.host as usize));
    match (p.hosts, host) {
        (n, _) if n > 1 => return Err(ErrorKind::DuplicateHost.into()),
        (_, None) if head.version == Version::Http11 => return Err(ErrorKind::MissingHost.into()),
        (_, Some(host)) if !memo.valid(host) => return Err(ErrorKind::InvalidHost.into()),
        _ => {}
    }
    let body = body_kind(head.version, headers, p)?.unwrap_or(BodyKind::Empty);
    check_body_limit(body, limits)?;
    let http11 = head.version == Version::Http11;
    Ok(RequestFraming {
        body,
        keep_alive: p.connection_allows_keep_alive(head.version, headers),
        expect_continue: http11 && p.expect && expects_continue(headers)?,
        upgrade: http11 && p.connection && p.upgrade && p.connection_has(headers, "upgrade"),
        connect: head.method == Method::Connect,
    })
}

/// Body kind, persistence and upgrade of a response to `method`
/// (RFC 9112 section 6.3).
pub(super) fn response_framing(
    head: &ResponseHead,
    method: &Method,
    limits: &Limits,
) -> Result<(BodyKind, bool, bool), ParseError> {
    let tunnel = *method == Method::Connect && head.status.is_success();
    let upgrade = tunnel || head.status.as_u16() == 101;
    let body = if *method == Method::Head || head.status.forbids_body() || tunnel {
        BodyKind::Empty
    } else {
        body_kind(head.version, &head.headers, &Present::scan(&head.headers))?
            .unwrap_or(BodyKind::Eof)
    };
    check_body_limit(body, limits)?;
    let keep_alive = keep_alive(head.version, |t| {
        head.headers.contains_token("connection", t)
    }) && body != BodyKind::Eof
        && !upgrade;
    Ok((body, keep_alive, upgrade))
}

fn check_body_limit(body: BodyKind, limits: &Limits) -> Result<(), ParseError> {
    match (body, limits.max_body) {
        (BodyKind::Length(n), Some(max)) if n > max => Err(ErrorKind::BodyTooLarge.into()),
        _ => Ok(()),
    }
}

/// Which of the fields that framing looks at a head has, found in one pass
/// over its fields, so the checks for absent fields (most of them, for most
/// requests) cost nothing; present fields are then checked in full.
/// Encoding a response uses it too, for its own framing fields.
#[derive(Debug, Default)]
pub(crate) struct Present {
    /// How many Host fields, and the first one's position (when there is
    /// one). Counts and positions are `u32`: a head holds far fewer
    /// fields, and a small `Present` is cheap to build for every message.
    hosts: u32,
    host: u32,
    pub(crate) content_length: bool,
    pub(crate) transfer_encoding: bool,
    pub(crate) connection: bool,
    /// How many Connection fields, and the first one's position.
    connections: u32,
    connection_at: u32,
    expect: bool,
    upgrade: bool,
    /// Date and Keep-Alive, which a server adds to a response that lacks them.
    pub(crate) date: bool,
    pub(crate) keep_alive: bool,
}

impl Present {
    pub(crate) fn scan(headers: &Headers) -> Present {
        let mut p = Present::default();
        for (i, (name, _)) in headers.iter_bytes().enumerate() {
            p.note(i, name);
        }
        p
    }

    /// Takes field `i`, called `name`, into account.
    pub(crate) fn note(&mut self, i: usize, name: &[u8]) {
        match name.len() {
            4 if named(name, b"host") => {
                if self.hosts == 0 {
                    self.host = i as u32;
                }
                self.hosts = self.hosts.saturating_add(1);
            }
            4 if named(name, b"date") => self.date = true,
            6 if named(name, b"expect") => self.expect = true,
            7 if named(name, b"upgrade") => self.upgrade = true,
            10 if named(name, b"connection") => {
                self.connection = true;
                if self.connections == 0 {
                    self.connection_at = i as u32;
                }
                self.connections = self.connections.saturating_add(1);
            }
            10 if named(name, b"keep-alive") => self.keep_alive = true,
            14 if named(name, b"content-length") => self.content_length = true,
            17 if named(name, b"transfer-encoding") => self.transfer_encoding = true,
            _ => {}
        }
    }

    /// [`keep_alive`], skipping the Connection lookups when there is none.
    fn connection_allows_keep_alive(&self, version: Version, headers: &Headers) -> bool {
        if self.connection {
            keep_alive(version, |token| self.connection_has(headers, token))
        } else {
            version == Version::Http11
        }
    }

    /// Whether the Connection fields of `headers` (those noted) list
    /// `token`: [`Headers::contains_token`], reading the one field directly
    /// when there is one, instead of comparing every field's name.
    fn connection_has(&self, headers: &Headers, token: &str) -> bool {
        match self.connections {
            1 => headers
                .value_at(self.connection_at as usize)
                .split(|&b| b == b',')
                .any(|e| trim_ows(e).eq_ignore_ascii_case(token.as_bytes())),
            0 => false,
            _ => headers.contains_token("connection", token),
        }
    }
}

/// Whether `name` is `lower` (lowercase letters and `-`) in any case:
/// `name.eq_ignore_ascii_case(lower)` as one pass over a fixed-size array,
/// without a loop. Only letters are folded (`| 0x20` at their positions),
/// so no other byte can pass for one of `lower`'s.
fn named<const N: usize>(name: &[u8], lower: &[u8; N]) -> bool {
    let Ok(name) = <&[u8; N]>::try_from(name) else {
        return false;
    };
    let mut diff = 0;
    for (&b, &l) in name.iter().zip(lower) {
        let fold = if l.is_ascii_lowercase() { 0x20 } else { 0 };
        diff |= (b | fold) ^ l;
    }
    diff == 0
}

/// The framing declared by Transfer-Encoding and Content-Length, or `None`
/// if neither is present (decided here, inline: most requests have no body).
#[inline]
fn body_kind(
    version: Version,
    headers: &Headers,
    p: &Present,
) -> Result<Option<BodyKind>, ParseError> {
    if !p.transfer_encoding && !p.content_length {
        return Ok(None);
    }
    declared_body_kind(version, headers, p)
}

/// [`body_kind`] when Transfer-Encoding or Content-Length is present.
fn declared_body_kind(
    version: Version,
    headers: &Headers,
    p: &Present,
) -> Result<Option<BodyKind>, ParseError> {
    if p.transfer_encoding {
        if version == Version::Http10 {
            return Err(ErrorKind::TransferEncodingInHttp10.into());
        }
        if p.content_length {
            return Err(ErrorKind::ContentLengthWithTransferEncoding.into());
        }
        check_transfer_codings(headers)?;
        return Ok(Some(BodyKind::Chunked));
    }
    Ok(content_length(headers)?.map(BodyKind::Length))
}

/// The coding list must end in exactly one `chunked` (400 otherwise), and
/// contain nothing else (501, since no other coding is decoded here).
fn check_transfer_codings(headers: &Headers) -> Result<(), ParseError> {
    let codings: Vec<&[u8]> = headers.list("transfer-encoding").collect();
    let is_chunked = |c: &&[u8]| c.eq_ignore_ascii_case(b"chunked");
    let Some((last, others)) = codings.split_last() else {
        return Err(ErrorKind::InvalidTransferEncoding.into());
    };
    if !is_chunked(last) || others.iter().any(is_chunked) {
        return Err(ErrorKind::InvalidTransferEncoding.into());
    }
    for coding in others {
        let name = trim_ows(coding.split(|&b| b == b';').next().unwrap_or_default());
        if name.is_empty() || !name.iter().all(|&b| crate::h1::syntax::is_tchar(b)) {
            return Err(ErrorKind::InvalidTransferEncoding.into());
        }
    }
    if others.is_empty() {
        Ok(())
    } else {
        Err(ErrorKind::UnsupportedTransferCoding.into())
    }
}

/// The Content-Length, if present. Every field and every list element must
/// be a plain decimal number (no sign, no inner whitespace), and all must be
/// equal.
pub(crate) fn content_length(headers: &Headers) -> Result<Option<u64>, ParseError> {
    let mut length = None;
    for field in headers.get_all("content-length") {
        for element in field.split(|&b| b == b',') {
            let element = trim_ows(element);
            if element.is_empty() || !element.iter().all(u8::is_ascii_digit) {
                return Err(ErrorKind::InvalidContentLength.into());
            }
            let n = parse_u64(element).ok_or(ErrorKind::InvalidContentLength)?;
            match length {
                Some(prev) if prev != n => return Err(ErrorKind::ConflictingContentLength.into()),
                _ => length = Some(n),
            }
        }
    }
    Ok(length)
}

/// Decimal digits to u64, `None` on overflow.
fn parse_u64(digits: &[u8]) -> Option<u64> {
    digits.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

/// HTTP/1.1 defaults to persistent, HTTP/1.0 to closing; `close` always wins.
pub(crate) fn keep_alive(version: Version, connection_has: impl Fn(&str) -> bool) -> bool {
    !connection_has("close") && (version == Version::Http11 || connection_has("keep-alive"))
}

/// `100-continue` is the only expectation defined; any other is 417.
fn expects_continue(headers: &Headers) -> Result<bool, ParseError> {
    let mut cont = false;
    for e in headers.list("expect") {
        if !e.eq_ignore_ascii_case(b"100-continue") {
            return Err(ErrorKind::ExpectationFailed.into());
        }
        cont = true;
    }
    Ok(cont)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_is_eq_ignore_ascii_case_for_every_byte_in_every_place() {
        fn check<const N: usize>(lower: &[u8; N]) {
            assert!(named(lower, lower));
            assert!(named(&lower.to_ascii_uppercase(), lower));
            assert!(!named(&lower[..N - 1], lower));
            for i in 0..N {
                for b in 0..=255u8 {
                    let mut name = *lower;
                    name[i] = b;
                    assert_eq!(
                        named(&name, lower),
                        name.eq_ignore_ascii_case(lower),
                        "{:?} at {i}",
                        b as char
                    );
                }
            }
        }
        check(b"host");
        check(b"keep-alive");
        check(b"content-length");
        check(b"transfer-encoding");
    }

    #[test]
    fn authorities() {
        for ok in [
            "",
            "a",
            "example.com",
            "a:80",
            "127.0.0.1:8080",
            "[::1]",
            "[::1]:443",
            "x%41y",
            "a:0",
            "a:00080",
            "a:65535",
            "[::1]:65535",
            "a:",
            "[::1]:",
        ] {
            assert!(valid_authority(ok.as_bytes(), false), "{ok}");
        }
        for bad in [
            "a b",
            "a:99999",
            "a:65536",
            "a:123456",
            "[::1]:70000",
            "a:8a",
            "u@h",
            "[::1",
            "[]",
            "[::1]x",
            ":80",
            "a%4",
            "h/p",
        ] {
            assert!(!valid_authority(bad.as_bytes(), false), "{bad}");
        }
        assert!(valid_authority(b"a:443", true));
        assert!(!valid_authority(b"a", true));
        assert!(!valid_authority(b"a:", true));
        assert!(!valid_authority(b"[::1]:", true));
        assert!(!valid_authority(b"", true));
    }

    #[test]
    fn connection_tokens_are_read_as_every_field_would_be() {
        let values: [&[u8]; 7] = [
            b"close",
            b"Keep-Alive",
            b" upgrade , close",
            b",,UPGRADE,",
            b"keep-alive, Upgrade",
            b"",
            b"closed",
        ];
        let names = ["Connection", "connection", "X-Other", "Host"];
        let mut rnd = crate::h1::syntax::test_rng(0x5DEE_CE66_D1CE_4E5B);
        for _ in 0..5_000 {
            let mut h = Headers::new();
            for _ in 0..rnd(5) {
                h.append(names[rnd(names.len())], values[rnd(values.len())]);
            }
            let p = Present::scan(&h);
            for token in ["close", "keep-alive", "upgrade"] {
                assert_eq!(
                    p.connection_has(&h, token),
                    h.contains_token("connection", token),
                    "{token} in {h:?}"
                );
            }
        }
    }

    #[test]
    fn the_host_memo_answers_as_the_full_check_does() {
        let values = [
            "a",
            "b",
            "a b",
            "a:1",
            "a:9",
            "a:99999",
            "127.0.0.1:8080",
            "127.0.0.1:80800",
            "[::1]",
            "[::1",
            "",
            "u@h",
            "x%41y",
            "x%4gy",
        ];
        let long = "h".repeat(HOST_MEMO + 1);
        let long_bad = format!("{} ", "h".repeat(HOST_MEMO));
        let all: Vec<&str> = values.iter().copied().chain([&*long, &*long_bad]).collect();
        // Every value after every other, so each one meets a memo holding
        // a valid value of the same length and a different one.
        for first in &all {
            for second in &all {
                let mut memo = HostMemo::default();
                for v in [first, second, first, second] {
                    assert_eq!(
                        memo.valid(v.as_bytes()),
                        valid_authority(v.as_bytes(), false),
                        "{v:?} after {first:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn table_run_stops_where_the_plain_scan_does() {
        let plain = |a: &[u8]| a.iter().take_while(|&&b| REG_NAME[b as usize]).count();
        let base = b"127.0.0.1:8080-example.com";
        for len in 0..=base.len() {
            for at in 0..len {
                for bad in [b':', b' ', b'/', b'@', 0x80, 0] {
                    let mut a = base[..len].to_vec();
                    a[at] = bad;
                    assert_eq!(table_run(&REG_NAME, &a), plain(&a), "{a:?}");
                }
            }
            assert_eq!(table_run(&REG_NAME, &base[..len]), plain(&base[..len]));
        }
    }

    #[test]
    fn target_forms() {
        let f = |m: Method, t: &str| target_form(&m, t.as_bytes()).map_err(|e| e.kind());
        assert_eq!(f(Method::Get, "/x"), Ok(TargetForm::Origin));
        assert_eq!(f(Method::Get, "http://a/x"), Ok(TargetForm::Absolute));
        assert_eq!(f(Method::Get, "HTTPS://a:1?q"), Ok(TargetForm::Absolute));
        assert_eq!(f(Method::Options, "*"), Ok(TargetForm::Asterisk));
        assert_eq!(f(Method::Connect, "a:443"), Ok(TargetForm::Authority));
        assert_eq!(f(Method::Get, "*"), Err(ErrorKind::Target));
        assert_eq!(f(Method::Get, "a:443"), Err(ErrorKind::Target));
        assert_eq!(f(Method::Get, "ftp://a/x"), Err(ErrorKind::Target));
        assert_eq!(f(Method::Get, "http:///x"), Err(ErrorKind::Target));
        assert_eq!(f(Method::Get, "x"), Err(ErrorKind::Target));
        assert_eq!(f(Method::Connect, "/x"), Err(ErrorKind::Target));
        assert_eq!(f(Method::Connect, "a"), Err(ErrorKind::Target));
        assert_eq!(f(Method::Options, "/"), Ok(TargetForm::Origin));
    }
}
