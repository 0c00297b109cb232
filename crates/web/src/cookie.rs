//! Cookies: parsing the `Cookie` request field and building `Set-Cookie`.
//!
//! Invariant: a [`SetCookie`] never writes a CR, LF or `;` from a name or
//! value into the field (those characters are percent-encoded), so a cookie
//! built from user input cannot inject attributes or header fields.

use std::fmt;
use std::time::{Duration, SystemTime};

use crate::codec::percent_decode;

/// Parses a `Cookie` field value into `(name, value)` pairs, in order.
/// Values are percent-decoded and stripped of surrounding quotes.
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
            Some((k.to_owned(), percent_decode(v, false)))
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

/// Percent-encodes the bytes a cookie name, value or attribute must not hold.
fn clean(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii_control() || matches!(c, ';' | ',' | ' ' | '"' | '\\' | '%') {
            for b in c.to_string().bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

impl fmt::Display for SetCookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", clean(&self.name), clean(&self.value))?;
        if let Some(p) = &self.path {
            write!(f, "; Path={}", clean(p))?;
        }
        if let Some(d) = &self.domain {
            write!(f, "; Domain={}", clean(d))?;
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
}
