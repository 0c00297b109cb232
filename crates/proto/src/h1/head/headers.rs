//! An ordered, case-insensitive multimap of header fields.
//!
//! Invariants: field order is the order of insertion (or of reception);
//! names keep the case they were given, and every lookup compares names
//! ASCII-case-insensitively. Values are raw bytes, because field values may
//! legally hold obs-text (bytes 0x80-0xFF) that is not UTF-8. Nothing here
//! validates: the parser validates what it receives and the encoder
//! validates what it writes.

/// Header fields of a message head or trailer section.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers {
    /// `(name, value)` pairs in order.
    entries: Vec<(String, Vec<u8>)>,
}

impl Headers {
    /// An empty map.
    pub fn new() -> Headers {
        Headers::default()
    }

    /// An empty map with room for `n` fields.
    pub fn with_capacity(n: usize) -> Headers {
        Headers {
            entries: Vec::with_capacity(n),
        }
    }

    /// Number of fields (a name appearing twice counts twice).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there is no field.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The value of the first field called `name`.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.entries
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    /// The value of the first field called `name`, if it is UTF-8.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// The values of every field called `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.entries
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    /// Whether a field called `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// How many fields are called `name`.
    pub fn count(&self, name: &str) -> usize {
        self.get_all(name).count()
    }

    /// Adds a field after the existing ones, keeping fields of the same name.
    pub fn append(&mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) {
        self.entries.push((name.into(), value.into()));
    }

    /// Sets `name` to a single value: replaces the first field of that name
    /// in place and removes the others, or appends if there was none.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) {
        let name = name.into();
        let value = value.into();
        match self
            .entries
            .iter()
            .position(|(n, _)| n.eq_ignore_ascii_case(&name))
        {
            Some(i) => {
                let mut index = 0;
                self.entries.retain(|(n, _)| {
                    index += 1;
                    index - 1 <= i || !n.eq_ignore_ascii_case(&name)
                });
                self.entries[i] = (name, value);
            }
            None => self.entries.push((name, value)),
        }
    }

    /// Removes every field called `name`; returns how many were removed.
    pub fn remove(&mut self, name: &str) -> usize {
        let before = self.entries.len();
        self.entries.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        before - self.entries.len()
    }

    /// All fields in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.entries.iter().map(|(n, v)| (n.as_str(), v.as_slice()))
    }

    /// The elements of the comma-separated lists in every field called
    /// `name`, trimmed of optional whitespace, empty elements skipped.
    pub fn list<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.get_all(name)
            .flat_map(|v| v.split(|&b| b == b','))
            .map(trim_ows)
            .filter(|e| !e.is_empty())
    }

    /// Whether the comma-separated lists of `name` contain `token`
    /// (case-insensitive), as for `Connection: keep-alive, Upgrade`.
    pub fn contains_token(&self, name: &str, token: &str) -> bool {
        self.list(name)
            .any(|e| e.eq_ignore_ascii_case(token.as_bytes()))
    }
}

/// `bytes` without leading and trailing spaces and tabs.
pub(crate) fn trim_ows(bytes: &[u8]) -> &[u8] {
    let is_ows = |b: &u8| *b == b' ' || *b == b'\t';
    let start = bytes.iter().position(|b| !is_ows(b)).unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !is_ows(b))
        .map_or(start, |i| i + 1);
    &bytes[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_insensitive_and_ordered() {
        let mut h = Headers::new();
        h.append("Set-Cookie", "a=1");
        h.append("Host", "x");
        h.append("set-cookie", "b=2");
        assert_eq!(h.get("SET-COOKIE"), Some(&b"a=1"[..]));
        assert_eq!(
            h.get_all("set-cookie").collect::<Vec<_>>(),
            [&b"a=1"[..], b"b=2"]
        );
        assert_eq!(h.count("set-cookie"), 2);
        assert_eq!(h.get_str("host"), Some("x"));
        let names: Vec<_> = h.iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["Set-Cookie", "Host", "set-cookie"]);
    }

    #[test]
    fn insert_replaces_all_in_place() {
        let mut h = Headers::new();
        h.append("a", "1");
        h.append("b", "2");
        h.append("A", "3");
        h.insert("A", "4");
        let all: Vec<_> = h.iter().collect();
        assert_eq!(all, [("A", &b"4"[..]), ("b", &b"2"[..])]);
        h.insert("c", "5");
        assert_eq!(h.len(), 3);
        assert_eq!(h.remove("B"), 1);
        assert!(!h.contains("b"));
    }

    #[test]
    fn tokens() {
        let mut h = Headers::new();
        h.append("Connection", " keep-alive ,, Upgrade");
        h.append("connection", "\tclose");
        assert!(h.contains_token("connection", "upgrade"));
        assert!(h.contains_token("connection", "CLOSE"));
        assert!(!h.contains_token("connection", "keep"));
        assert_eq!(h.list("connection").count(), 3);
        assert_eq!(trim_ows(b" \t "), b"");
    }
}
