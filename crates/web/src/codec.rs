//! Small text codecs: percent-decoding, `application/x-www-form-urlencoded`
//! pairs and HTML escaping.
//!
//! Invariant: decoding never panics and never produces invalid UTF-8; a
//! malformed escape (`%zz`, a truncated `%4`) is kept literally, and bytes
//! that do not form UTF-8 after decoding are replaced with U+FFFD.

/// The value of one hex digit.
fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes `%XX` escapes into raw bytes; with `plus_as_space`, `+` becomes
/// a space (as in query strings and forms).
pub(crate) fn percent_decode_bytes(s: &str, plus_as_space: bool) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' if plus_as_space => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    out
}

/// Decodes `%XX` escapes (and `+` with `plus_as_space`) into a string.
pub fn percent_decode(s: &str, plus_as_space: bool) -> String {
    match String::from_utf8(percent_decode_bytes(s, plus_as_space)) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

/// Splits a query string or form body into decoded `(name, value)` pairs,
/// in order; empty pieces are skipped.
pub fn parse_pairs(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k, true), percent_decode(v, true))
        })
        .collect()
}

/// Escapes `&`, `<`, `>`, `"` and `'` for HTML text and attribute values.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes everything but unreserved characters and `/`, for
/// building URLs (links in a directory listing, redirects). Takes bytes,
/// so a file name that is not UTF-8 still gets a link that names it.
pub(crate) fn percent_encode_path(s: impl AsRef<[u8]>) -> String {
    let s = s.as_ref();
    let mut out = String::with_capacity(s.len());
    for &b in s {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes() {
        assert_eq!(percent_decode("a%20b+c", true), "a b c");
        assert_eq!(percent_decode("a+b", false), "a+b");
        assert_eq!(percent_decode("%zz%4", false), "%zz%4");
        assert_eq!(percent_decode("%E2%9C%93", false), "\u{2713}");
        assert_eq!(percent_decode("%ff", false), "\u{fffd}");
        assert_eq!(
            parse_pairs("q=rust+lang&x&&y=%26"),
            [
                ("q".into(), "rust lang".into()),
                ("x".into(), String::new()),
                ("y".into(), "&".into())
            ]
        );
    }

    #[test]
    fn escapes() {
        assert_eq!(
            html_escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(percent_encode_path("/a b/é"), "/a%20b/%C3%A9");
    }
}
