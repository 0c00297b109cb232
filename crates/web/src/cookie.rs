//! Cookies: parsing the `Cookie` request field and building `Set-Cookie`.
//!
//! Invariant: a [`SetCookie`] writes a name as a token and a value and
//! attributes as cookie-octets (RFC 6265 section 4.1.1); every other byte,
//! and `%` itself, is percent-encoded (so `=` in a name, a space, a quote,
//! non-ASCII text), so a cookie built from user input cannot inject
//! attributes or header fields, and [`parse_cookies`] gives the name and
//! value back as they were set.

use std::fmt;
use std::time::{Duration, SystemTime};

use crate::codec::percent_decode;

/// Parses a `Cookie` field value into `(name, value)` pairs, in order.
/// Names and values are percent-decoded, values stripped of surrounding
/// quotes.
pub fn parse_cookies(header: &str) -> Vec<(String, String)> {
    header
        .split(';')
        .filter_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            let k = k.trim();
            if k.is_empty() {
                return None;
            }
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v);
            Some((percent_decode(k, false), percent_decode(v, false)))
        })
        .collect()
}

/// `SameSite` attribute values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameSite {
    /// `SameSite=Strict`.
    Strict,
    /// `SameSite=Lax`.
    Lax,
    /// `SameSite=None` (browsers require `Secure` with it).
    None,
}

/// A `Set-Cookie` field under construction.
#[derive(Debug, Clone)]
pub struct SetCookie {
    /// The cookie name.
    name: String,
    /// The cookie value.
    value: String,
    /// `Path`.
    path: Option<String>,
    /// `Domain`.
    domain: Option<String>,
    /// `Max-Age`.
    max_age: Option<Duration>,
    /// `Expires`.
    expires: Option<SystemTime>,
    /// `HttpOnly`.
    http_only: bool,
    /// `Secure`.
    secure: bool,
    /// `SameSite`.
    same_site: Option<SameSite>,
}

impl SetCookie {
    /// A session cookie `name=value` with no attributes.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> SetCookie {
        SetCookie {
            name: name.into(),
            value: value.into(),
            path: None,
            domain: None,
            max_age: None,
            expires: None,
            http_only: false,
            secure: false,
            same_site: None,
        }
    }

    /// A cookie that deletes `name` (empty value, `Max-Age=0`).
    pub fn removal(name: impl Into<String>) -> SetCookie {
        SetCookie::new(name, "").max_age(Duration::ZERO)
    }

    /// Sets `Path`.
    pub fn path(mut self, p: impl Into<String>) -> Self {
        self.path = Some(p.into());
        self
    }

    /// Sets `Domain`.
    pub fn domain(mut self, d: impl Into<String>) -> Self {
        self.domain = Some(d.into());
        self
    }

    /// Sets `Max-Age`.
    pub fn max_age(mut self, d: Duration) -> Self {
        self.max_age = Some(d);
        self
    }

    /// Sets `Expires`.
    pub fn expires(mut self, t: SystemTime) -> Self {
        self.expires = Some(t);
        self
    }

    /// Sets `HttpOnly`.
    pub fn http_only(mut self, on: bool) -> Self {
        self.http_only = on;
        self
    }

    /// Sets `Secure`.
    pub fn secure(mut self, on: bool) -> Self {
        self.secure = on;
        self
    }

    /// Sets `SameSite`.
    pub fn same_site(mut self, s: SameSite) -> Self {
        self.same_site = Some(s);
        self
    }
}

/// A tchar (RFC 9110 section 5.6.2): what a cookie name is made of.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$&'*+-.^_`|~".contains(&b)
}

/// A cookie-octet (RFC 6265 section 4.1.1): visible ASCII but `"`, `,`,
/// `;` and `\`.
fn is_cookie_octet(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x2B | 0x2D..=0x3A | 0x3C..=0x5B | 0x5D..=0x7E)
}

/// `s` with every byte outside `allowed`, and `%`, percent-encoded.
fn clean(s: &str, allowed: fn(u8) -> bool) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if allowed(b) && b != b'%' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl fmt::Display for SetCookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (name, value) = (
            clean(&self.name, is_token_byte),
            clean(&self.value, is_cookie_octet),
        );
        write!(f, "{name}={value}")?;
        if let Some(p) = &self.path {
            write!(f, "; Path={}", clean(p, is_cookie_octet))?;
        }
        if let Some(d) = &self.domain {
            write!(f, "; Domain={}", clean(d, is_cookie_octet))?;
        }
        if let Some(a) = self.max_age {
            write!(f, "; Max-Age={}", a.as_secs())?;
        }
        if let Some(t) = self.expires {
            write!(f, "; Expires={}", httpdate::fmt_http_date(t))?;
        }
        if self.http_only {
            f.write_str("; HttpOnly")?;
        }
        if self.secure {
            f.write_str("; Secure")?;
        }
        match self.same_site {
            Some(SameSite::Strict) => f.write_str("; SameSite=Strict"),
            Some(SameSite::Lax) => f.write_str("; SameSite=Lax"),
            Some(SameSite::None) => f.write_str("; SameSite=None"),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats() {
        let c = parse_cookies("a=1; b=\"two%20x\"; ;bad; c=");
        assert_eq!(
            c,
            [
                ("a".into(), "1".into()),
                ("b".into(), "two x".into()),
                ("c".into(), String::new())
            ]
        );
        let s = SetCookie::new("sid", "a;b\r\nX: y")
            .path("/")
            .max_age(Duration::from_secs(60))
            .http_only(true)
            .secure(true)
            .same_site(SameSite::Lax);
        assert_eq!(
            s.to_string(),
            "sid=a%3Bb%0D%0AX:%20y; Path=/; Max-Age=60; HttpOnly; Secure; SameSite=Lax"
        );
    }

    #[test]
    fn names_are_tokens_values_cookie_octets_and_both_round_trip() {
        for (name, value, wire) in [
            ("a=b", "café", "a%3Db=caf%C3%A9"),
            ("x y", "1,2\"3\\", "x%20y=1%2C2%223%5C"),
            ("pct", "100%", "pct=100%25"),
            (
                "ok",
                "a.b-c_d~e!#$&'()*+/:<=>?@[]^`{|}",
                "ok=a.b-c_d~e!#$&'()*+/:<=>?@[]^`{|}",
            ),
        ] {
            let set = SetCookie::new(name, value).to_string();
            assert_eq!(set, wire);
            assert_eq!(parse_cookies(&set), [(name.to_owned(), value.to_owned())]);
        }
    }
}
