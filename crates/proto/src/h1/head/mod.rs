//! Message heads: methods, versions, request targets, status codes, fields.
//!
//! These are plain data. A [`RequestHead`] produced by the parser always
//! satisfies the rules checked by [`parse_request`](crate::parse_request);
//! one built by hand is validated when it is written.

use std::fmt;

mod headers;
mod status;
mod target;

pub(crate) use headers::trim_ows;
pub use headers::{Headers, StaticField};
pub use status::StatusCode;
pub use target::Target;

/// A request method. Standard methods have their own variant; any other
/// token is kept verbatim (methods are case-sensitive).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Method {
    /// GET.
    Get,
    /// HEAD.
    Head,
    /// POST.
    Post,
    /// PUT.
    Put,
    /// DELETE.
    Delete,
    /// CONNECT.
    Connect,
    /// OPTIONS.
    Options,
    /// TRACE.
    Trace,
    /// PATCH.
    Patch,
    /// Any other token.
    Other(Box<str>),
}

impl Method {
    /// The method named by `token`. The caller checks that it is a token.
    pub fn from_token(token: &str) -> Method {
        Method::from_token_bytes(token.as_bytes())
    }

    /// The method named by `token`: a token the parser checked (so ASCII),
    /// or a `&str`.
    pub(crate) fn from_token_bytes(token: &[u8]) -> Method {
        match token {
            b"GET" => Method::Get,
            b"HEAD" => Method::Head,
            b"POST" => Method::Post,
            b"PUT" => Method::Put,
            b"DELETE" => Method::Delete,
            b"CONNECT" => Method::Connect,
            b"OPTIONS" => Method::Options,
            b"TRACE" => Method::Trace,
            b"PATCH" => Method::Patch,
            other => Method::Other(String::from_utf8_lossy(other).into()),
        }
    }

    /// The method as it appears on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Connect => "CONNECT",
            Method::Options => "OPTIONS",
            Method::Trace => "TRACE",
            Method::Patch => "PATCH",
            Method::Other(s) => s,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The HTTP versions this crate speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Version {
    /// HTTP/1.0.
    Http10,
    /// HTTP/1.1.
    Http11,
}

impl Version {
    /// `"HTTP/1.0"` or `"HTTP/1.1"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The form of a request-target (RFC 9112 section 3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TargetForm {
    /// `/path?query`: the usual form.
    Origin,
    /// `http://host/path?query`: sent to proxies, accepted from anyone.
    Absolute,
    /// `host:port`: only with CONNECT.
    Authority,
    /// `*`: only with OPTIONS.
    Asterisk,
}

/// The head of a request.
///
/// A parsed head allocates nothing in the steady state: a short target is
/// kept inline (see [`Target`]) and the fields reuse a dropped map's
/// buffers (see [`Headers`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// The method.
    pub method: Method,
    /// The request-target exactly as received (or to be sent).
    pub target: Target,
    /// The form of `target`.
    pub form: TargetForm,
    /// The protocol version.
    pub version: Version,
    /// Header fields in received order.
    pub headers: Headers,
}

impl RequestHead {
    /// An HTTP/1.1 request head with no fields. `form` is inferred from
    /// the target's shape (`*`, a leading `/`, a scheme, or else authority).
    pub fn new(method: Method, target: impl Into<Target>) -> RequestHead {
        let target = target.into();
        let form = match target.as_bytes() {
            b"*" => TargetForm::Asterisk,
            [b'/', ..] => TargetForm::Origin,
            t if t.windows(3).any(|w| w == b"://") => TargetForm::Absolute,
            _ => TargetForm::Authority,
        };
        RequestHead {
            method,
            target,
            form,
            version: Version::Http11,
            headers: Headers::new(),
        }
    }

    /// The path of an origin- or absolute-form target (without the query),
    /// `"*"` for asterisk-form, and the whole target for authority-form.
    pub fn path(&self) -> &str {
        let t = self.target.as_str();
        let t = match self.form {
            TargetForm::Origin => t,
            TargetForm::Absolute => {
                let rest = t.split_once("://").map_or(t, |(_, r)| r);
                rest.find(['/', '?']).map_or("/", |i| &rest[i..])
            }
            TargetForm::Authority | TargetForm::Asterisk => return t,
        };
        let path = t.bytes().position(|b| b == b'?').map_or(t, |q| &t[..q]);
        if path.is_empty() {
            "/"
        } else {
            path
        }
    }

    /// The query of the target (after `?`), if any.
    pub fn query(&self) -> Option<&str> {
        match self.form {
            TargetForm::Origin | TargetForm::Absolute => {
                self.target.split_once('?').map(|(_, q)| q)
            }
            _ => None,
        }
    }
}

/// The head of a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    /// The protocol version.
    pub version: Version,
    /// The status code.
    pub status: StatusCode,
    /// The reason phrase; `None` writes the canonical one for `status`.
    pub reason: Option<String>,
    /// Header fields in order.
    pub headers: Headers,
}

impl ResponseHead {
    /// An HTTP/1.1 response head with the canonical reason and no fields.
    pub fn new(status: StatusCode) -> ResponseHead {
        ResponseHead {
            version: Version::Http11,
            status,
            reason: None,
            headers: Headers::new(),
        }
    }

    /// The reason phrase to write or that was received.
    pub fn reason(&self) -> &str {
        self.reason.as_deref().unwrap_or(self.status.reason())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_round_trip() {
        for m in [
            "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
        ] {
            let method = Method::from_token(m);
            assert!(!matches!(method, Method::Other(_)), "{m}");
            assert_eq!(method.as_str(), m);
        }
        assert_eq!(Method::from_token("get"), Method::Other("get".into()));
        assert_eq!(Method::from_token("PROPFIND").to_string(), "PROPFIND");
    }

    #[test]
    fn target_parts() {
        let h = RequestHead::new(Method::Get, "/a/b?x=1");
        assert_eq!(
            (h.form, h.path(), h.query()),
            (TargetForm::Origin, "/a/b", Some("x=1"))
        );
        let h = RequestHead::new(Method::Get, "http://example.com?q");
        assert_eq!(
            (h.form, h.path(), h.query()),
            (TargetForm::Absolute, "/", Some("q"))
        );
        let h = RequestHead::new(Method::Get, "http://example.com/p/q");
        assert_eq!(h.path(), "/p/q");
        let h = RequestHead::new(Method::Connect, "example.com:443");
        assert_eq!(
            (h.form, h.path(), h.query()),
            (TargetForm::Authority, "example.com:443", None)
        );
        assert_eq!(
            RequestHead::new(Method::Options, "*").form,
            TargetForm::Asterisk
        );
    }

    #[test]
    fn response_reason() {
        let mut r = ResponseHead::new(StatusCode::NOT_FOUND);
        assert_eq!(r.reason(), "Not Found");
        r.reason = Some("Nope".into());
        assert_eq!(r.reason(), "Nope");
    }
}
