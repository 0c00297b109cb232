//! URLs the client can fetch: `http://host[:port][/path][?query][#fragment]`.
//!
//! Only what a request needs is kept: the host (lowercased; IPv6 literals
//! keep their brackets), the port, and the request target (path and query;
//! never empty; the fragment is dropped). Bytes that may not appear in a
//! request target (spaces, controls, non-ASCII) are percent-encoded, so a
//! parsed target is always valid on the wire. `https` is recognised and
//! refused as unsupported; credentials (`user@host`) are refused too.

use std::fmt;
use std::net::Ipv6Addr;

use super::error::{ClientError, ClientErrorKind};

/// The key of a connection pool: host and port (the scheme is always `http`).
pub(crate) type Origin = (String, u16);

/// A parsed `http` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Url {
    /// Lowercased host; `[..]` around IPv6 literals.
    host: String,
    /// The port (80 unless given).
    port: u16,
    /// Path and query, starting with `/`.
    target: String,
}

fn invalid(url: &str, why: &str) -> ClientError {
    ClientError::new(
        ClientErrorKind::InvalidUrl,
        format!("invalid URL {url:?}: {why}"),
    )
}

impl Url {
    /// Parses an absolute `http` URL.
    pub(crate) fn parse(s: &str) -> Result<Url, ClientError> {
        let (scheme, rest) = s
            .split_once("://")
            .ok_or_else(|| invalid(s, "expected http://host/path"))?;
        if scheme.eq_ignore_ascii_case("https") {
            return Err(ClientError::new(
                ClientErrorKind::Unsupported,
                format!("cannot fetch {s:?}: https is not supported"),
            ));
        }
        if !scheme.eq_ignore_ascii_case("http") {
            let kind = if is_scheme(scheme) {
                ClientErrorKind::Unsupported
            } else {
                ClientErrorKind::InvalidUrl
            };
            return Err(ClientError::new(
                kind,
                format!("cannot fetch {s:?}: only http URLs are supported"),
            ));
        }
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        let (host, port) = split_authority(s, authority)?;
        Ok(Url {
            host,
            port,
            target: encode_target(tail),
        })
    }

    /// Resolves `location` (a redirect's `Location`) against this URL.
    pub(crate) fn join(&self, location: &str) -> Result<Url, ClientError> {
        let location = location.trim();
        if let Some(i) = location.find(':') {
            if is_scheme(&location[..i]) && !location[..i].contains('/') {
                return Url::parse(location);
            }
        }
        if location.starts_with("//") {
            return Url::parse(&format!("http:{location}"));
        }
        let location = location.split('#').next().unwrap_or_default();
        let target = if location.is_empty() {
            self.target.clone()
        } else if location.starts_with('/') {
            location.to_owned()
        } else if location.starts_with('?') {
            format!("{}{location}", self.path())
        } else {
            let path = self.path();
            let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
            format!("{dir}{location}")
        };
        let (path, query) = match target.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (target.as_str(), None),
        };
        let mut target = remove_dot_segments(path);
        if let Some(q) = query {
            target.push('?');
            target.push_str(q);
        }
        Ok(Url {
            host: self.host.clone(),
            port: self.port,
            target: encode_target(&target),
        })
    }

    /// The host, as given to name resolution.
    pub(crate) fn host(&self) -> &str {
        &self.host
    }

    /// The port.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// The request target: path and query.
    pub(crate) fn target(&self) -> &str {
        &self.target
    }

    /// The path, without the query.
    fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("/")
    }

    /// The `Host` field value: the host, and the port unless it is 80.
    pub(crate) fn authority(&self) -> String {
        if self.port == 80 {
            self.host.clone()
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The pool key.
    pub(crate) fn origin(&self) -> Origin {
        (self.host.clone(), self.port)
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}{}", self.authority(), self.target)
    }
}

/// `ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )` (RFC 3986 section 3.1).
fn is_scheme(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
}

/// Splits `host[:port]` and checks both.
fn split_authority(url: &str, authority: &str) -> Result<(String, u16), ClientError> {
    if authority.contains('@') {
        return Err(ClientError::new(
            ClientErrorKind::Unsupported,
            format!("cannot fetch {url:?}: credentials in URLs are not supported"),
        ));
    }
    let (host, port) = if let Some(inner) = authority.strip_prefix('[') {
        let (ip, after) = inner
            .split_once(']')
            .ok_or_else(|| invalid(url, "unclosed '['"))?;
        if ip.parse::<Ipv6Addr>().is_err() {
            return Err(invalid(url, "bad IPv6 address"));
        }
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or_else(|| invalid(url, "bad port"))?,
            ),
        };
        (format!("[{}]", ip.to_ascii_lowercase()), port)
    } else {
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        };
        let ok = |b: u8| b.is_ascii_alphanumeric() || b"-._".contains(&b);
        if host.is_empty() || !host.bytes().all(ok) {
            return Err(invalid(url, "bad host"));
        }
        (host.to_ascii_lowercase(), port)
    };
    let port = match port {
        None | Some("") => 80,
        Some(p) if p.bytes().all(|b| b.is_ascii_digit()) => {
            p.parse().map_err(|_| invalid(url, "port out of range"))?
        }
        Some(_) => return Err(invalid(url, "bad port")),
    };
    Ok((host, port))
}

/// The target for what follows the authority: the fragment dropped, `/`
/// added in front if missing, and bytes outside `!`..=`~` percent-encoded.
fn encode_target(tail: &str) -> String {
    let tail = tail.split('#').next().unwrap_or_default();
    let mut out = String::with_capacity(tail.len() + 1);
    if !tail.starts_with('/') {
        out.push('/');
    }
    for b in tail.bytes() {
        if (b'!'..=b'~').contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// RFC 3986 section 5.2.4, on an absolute path.
fn remove_dot_segments(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    for (i, seg) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        match *seg {
            "." if last => out.push(""),
            "." => {}
            ".." => {
                out.pop();
                if last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    format!("/{}", out.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(s: &str) -> (String, u16, String) {
        let u = Url::parse(s).unwrap();
        (u.host, u.port, u.target)
    }

    #[test]
    fn parses() {
        let p = |h: &str, port, t: &str| (h.to_owned(), port, t.to_owned());
        assert_eq!(parts("http://a.example"), p("a.example", 80, "/"));
        assert_eq!(parts("HTTP://A:8080?x=1"), p("a", 8080, "/?x=1"));
        assert_eq!(parts("http://[::1]:9/p#f"), p("[::1]", 9, "/p"));
        assert_eq!(parts("http://h/a b/é"), p("h", 80, "/a%20b/%C3%A9"));
        assert_eq!(Url::parse("http://h:81/x").unwrap().authority(), "h:81");
        assert_eq!(
            Url::parse("http://h:80/x").unwrap().to_string(),
            "http://h/x"
        );
    }

    #[test]
    fn refuses() {
        let kind = |s: &str| Url::parse(s).unwrap_err().kind();
        assert_eq!(kind("https://h/"), ClientErrorKind::Unsupported);
        assert_eq!(kind("ftp://h/"), ClientErrorKind::Unsupported);
        assert_eq!(kind("http://u:p@h/"), ClientErrorKind::Unsupported);
        for bad in [
            "h/x",
            "http://",
            "http://h:x/",
            "http://h:70000/",
            "http://[zz]/",
        ] {
            assert_eq!(kind(bad), ClientErrorKind::InvalidUrl, "{bad}");
        }
    }

    #[test]
    fn joins() {
        let base = Url::parse("http://h:81/a/b/c?q").unwrap();
        let j = |l: &str| base.join(l).unwrap().to_string();
        assert_eq!(j("/x"), "http://h:81/x");
        assert_eq!(j("d"), "http://h:81/a/b/d");
        assert_eq!(j("../d?z"), "http://h:81/a/d?z");
        assert_eq!(j("?z"), "http://h:81/a/b/c?z");
        assert_eq!(j("//o/p"), "http://o/p");
        assert_eq!(j("http://o:2/p"), "http://o:2/p");
        assert_eq!(j("./"), "http://h:81/a/b/");
        assert_eq!(
            base.join("https://o/").unwrap_err().kind(),
            ClientErrorKind::Unsupported
        );
    }
}
