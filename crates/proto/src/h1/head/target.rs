//! Request targets, kept inline when short.
//!
//! Invariant: the bytes of a [`Target`] are always UTF-8 (it is built only
//! from `&str`, `String` and ASCII bytes), so reading it back never fails.

use std::fmt;
use std::ops::Deref;

/// Targets up to this many bytes are kept inside the value itself.
const INLINE: usize = 22;

/// A request-target as received (or to be sent): `/path?query`, an
/// absolute URL, `host:port` or `*`.
///
/// Most targets are short, and a short one is kept inside the value, so
/// parsing a request allocates nothing for it and dropping one frees
/// nothing; a longer one is boxed. It reads as a `&str` (it dereferences
/// to one) and compares equal to strings.
///
/// ```
/// use waiter_proto::h1::head::Target;
/// let t = Target::from("/a?b=1");
/// assert_eq!(t, "/a?b=1");
/// assert_eq!(t.split_once('?'), Some(("/a", "b=1")));
/// ```
#[derive(Clone)]
pub struct Target(Repr);

#[derive(Clone)]
enum Repr {
    /// `len` bytes at the start of `bytes`.
    Inline { len: u8, bytes: [u8; INLINE] },
    /// A longer target.
    Boxed(Box<str>),
}

impl Target {
    /// The target as a string slice.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            // Built from a `&str` (the invariant above): never the default.
            Repr::Inline { len, bytes } => {
                std::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or_default()
            }
            Repr::Boxed(s) => s,
        }
    }
}

impl Target {
    /// A target from `b` if it is ASCII (so UTF-8): a parser's received
    /// target, checked without a UTF-8 decoder.
    pub(crate) fn from_ascii(b: &[u8]) -> Option<Target> {
        if !b.is_ascii() {
            return None;
        }
        if b.len() <= INLINE {
            let mut bytes = [0; INLINE];
            bytes[..b.len()].copy_from_slice(b);
            return Some(Target(Repr::Inline {
                len: b.len() as u8,
                bytes,
            }));
        }
        std::str::from_utf8(b).ok().map(Target::from)
    }
}

impl From<&str> for Target {
    fn from(s: &str) -> Target {
        if s.len() <= INLINE {
            let mut bytes = [0; INLINE];
            bytes[..s.len()].copy_from_slice(s.as_bytes());
            Target(Repr::Inline {
                len: s.len() as u8,
                bytes,
            })
        } else {
            Target(Repr::Boxed(s.into()))
        }
    }
}

impl From<String> for Target {
    fn from(s: String) -> Target {
        if s.len() <= INLINE {
            Target::from(s.as_str())
        } else {
            Target(Repr::Boxed(s.into_boxed_str()))
        }
    }
}

impl From<Target> for String {
    fn from(t: Target) -> String {
        match t.0 {
            Repr::Boxed(s) => s.into(),
            Repr::Inline { .. } => t.as_str().to_owned(),
        }
    }
}

impl Default for Target {
    fn default() -> Target {
        Target::from("")
    }
}

impl Deref for Target {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Target {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl PartialEq for Target {
    fn eq(&self, other: &Target) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Target {}

impl std::hash::Hash for Target {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl PartialEq<str> for Target {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Target {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Target {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_targets_are_inline_and_every_length_round_trips() {
        for n in 0..64 {
            let s: String = "/abcdefghij".chars().cycle().take(n).collect();
            let t = Target::from(s.as_str());
            assert_eq!(matches!(t.0, Repr::Inline { .. }), n <= INLINE, "{n}");
            assert_eq!(t, s);
            assert_eq!(Target::from(s.clone()), t);
            assert_eq!(String::from(t.clone()), s);
            assert_eq!(t.to_string(), s);
        }
        assert_eq!(std::mem::size_of::<Target>(), std::mem::size_of::<String>());
        let multibyte = Target::from("/caf\u{e9}?q=\u{1f600}");
        assert_eq!(multibyte.as_str(), "/caf\u{e9}?q=\u{1f600}");
    }
}
