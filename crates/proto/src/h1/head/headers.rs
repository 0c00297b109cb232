//! An ordered, case-insensitive multimap of header fields.
//!
//! Invariants: field order is the order of insertion (or of reception);
//! names keep the case they were given, and every lookup compares names
//! ASCII-case-insensitively. Values are raw bytes, because field values may
//! legally hold obs-text (bytes 0x80-0xFF) that is not UTF-8. Nothing here
//! validates on the way in: the parser validates what it receives, a
//! [`StaticField`] is validated when it is built (at compile time in a
//! `const`), and the encoder validates every other field it writes.

use std::cell::RefCell;
use std::thread::LocalKey;

use crate::h1::syntax::{are_field_bytes_const, is_token};

/// Header fields of a message head or trailer section.
///
/// Names and values live back to back in one byte buffer, indexed by a
/// vector of fields, so a head costs two allocations however many fields it
/// has (instead of two per field), and none in the steady state: a dropped
/// map leaves its (small) buffers to the thread's next map. Bytes orphaned
/// by `insert` and `remove` are reclaimed once they outweigh the live ones.
///
/// A [`StaticField`] appended to an empty map is not copied: the map
/// refers to it, so a response whose only field is a constant (its content
/// type, say) needs no buffer at all.
#[derive(Clone, Default)]
pub struct Headers {
    /// The first field, when it was given as a [`StaticField`] to an empty
    /// map; `fields` then holds the others. Any edit other than appending
    /// copies it into the buffers first (`spill`).
    first: Option<&'static StaticField>,
    /// Names and values, back to back.
    bytes: Vec<u8>,
    /// Where each field's name and value are in `bytes`, in order.
    fields: Vec<Field>,
}

/// A header field whose name and value are `'static` and were checked
/// when it was built: a map holding only such fields (and fields the
/// parser received) is written without checking them again.
///
/// ```
/// use waiter_proto::h1::head::StaticField;
/// const TEXT: StaticField = StaticField::new("content-type", "text/plain");
/// let mut headers = waiter_proto::Headers::new();
/// headers.append_static(&TEXT);
/// assert_eq!(headers.get_str("Content-Type"), Some("text/plain"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StaticField {
    name: &'static str,
    value: &'static str,
}

impl StaticField {
    /// The field `name: value`.
    ///
    /// # Panics
    ///
    /// Unless `name` is a token and `value` holds only bytes allowed in a
    /// field value (no CR, LF or other control byte but HTAB); in a
    /// `const`, the panic is a compile error.
    pub const fn new(name: &'static str, value: &'static str) -> StaticField {
        assert!(is_token(name.as_bytes()), "a field name must be a token");
        assert!(
            are_field_bytes_const(value.as_bytes()),
            "a field value must not hold control bytes but HTAB"
        );
        StaticField { name, value }
    }

    /// The name.
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// The value.
    pub const fn value(&self) -> &'static str {
        self.value
    }
}

/// How many dropped maps' buffers a thread keeps. A server that answers
/// many requests in one loop iteration (a thousand timers firing at once,
/// say) drops that many request maps together and builds as many on its
/// next iteration, so the pool is sized for a burst, not for one request
/// (bench/README.md has what a pool of 64 cost at 5,000 connections on a
/// 50 ms timer). The pool never holds more pairs than there were maps live
/// at once, and no pair over `SPARE_BYTES` and `SPARE_FIELDS` is kept.
const SPARES_KEPT: usize = 1024;

/// Buffers larger than these are freed rather than kept.
const SPARE_BYTES: usize = 4096;
const SPARE_FIELDS: usize = 64;

thread_local! {
    /// Empty buffers of dropped maps. A server builds and drops a request
    /// map and a response map per request; reusing their buffers spares the
    /// allocator four calls a request.
    static SPARE: RefCell<Vec<(Vec<u8>, Vec<Field>)>> = const { RefCell::new(Vec::new()) };
}

/// The last spare of `pool`, if the thread has one (none while the thread
/// is being torn down, or from inside the pool).
fn take_spare<T: 'static>(pool: &'static LocalKey<RefCell<Vec<T>>>) -> Option<T> {
    pool.try_with(|p| p.try_borrow_mut().ok().and_then(|mut p| p.pop()))
        .ok()
        .flatten()
}

/// Keeps `spare` in `pool` for a later [`take_spare`], unless the pool is
/// full (then it is dropped).
fn keep_spare<T: 'static>(pool: &'static LocalKey<RefCell<Vec<T>>>, spare: T) {
    let _ = pool.try_with(|p| {
        if let Ok(mut p) = p.try_borrow_mut() {
            if p.len() < SPARES_KEPT {
                p.push(spare);
            }
        }
    });
}

impl Drop for Headers {
    /// Most dropped maps have no buffers (a response's, or one whose
    /// buffers were taken back): that check is inline.
    #[inline]
    fn drop(&mut self) {
        if self.has_buffers() {
            self.keep_buffers();
        }
    }
}

impl Headers {
    /// Leaves this map's buffers to the thread's next map, if they are
    /// small enough to keep.
    #[inline(never)]
    fn keep_buffers(&mut self) {
        if !self.is_small_spare() {
            return;
        }
        let mut bytes = std::mem::take(&mut self.bytes);
        let mut fields = std::mem::take(&mut self.fields);
        bytes.clear();
        fields.clear();
        keep_spare(&SPARE, (bytes, fields));
    }
}

/// One field's place in the byte buffer. Its name is ASCII-checked UTF-8
/// (it was given as `&str`).
#[derive(Debug, Clone, Copy)]
struct Field {
    name: u32,
    name_len: u32,
    value: u32,
    value_len: u32,
    /// Added by [`Headers::append`] or [`Headers::insert`]: the encoder
    /// checks it. False for a field the parser received or a
    /// [`StaticField`].
    unchecked: bool,
}

impl Field {
    fn name<'a>(&self, bytes: &'a [u8]) -> &'a [u8] {
        &bytes[self.name as usize..(self.name + self.name_len) as usize]
    }

    fn value<'a>(&self, bytes: &'a [u8]) -> &'a [u8] {
        &bytes[self.value as usize..(self.value + self.value_len) as usize]
    }

    fn len(&self) -> usize {
        (self.name_len + self.value_len) as usize
    }
}

impl PartialEq for Headers {
    fn eq(&self, other: &Headers) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for Headers {}

impl std::fmt::Debug for Headers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.iter().map(|(n, v)| (n, String::from_utf8_lossy(v))))
            .finish()
    }
}

impl Headers {
    /// An empty map.
    pub fn new() -> Headers {
        Headers::default()
    }

    /// An empty map with room for `n` fields.
    pub fn with_capacity(n: usize) -> Headers {
        Headers::with_capacity_bytes(n, n * 24)
    }

    /// An empty map with room for `n` fields of `bytes` bytes in all.
    pub(crate) fn with_capacity_bytes(n: usize, bytes: usize) -> Headers {
        let mut h = Headers::new();
        if n > 0 {
            h.reserve(n, bytes);
        }
        h
    }

    /// Removes every field, keeping the buffers.
    pub(crate) fn clear(&mut self) {
        self.first = None;
        self.bytes.clear();
        self.fields.clear();
    }

    /// Whether this map holds buffers.
    #[inline]
    pub(crate) fn has_buffers(&self) -> bool {
        self.bytes.capacity() > 0 || self.fields.capacity() > 0
    }

    /// Whether this map's buffers are small enough to keep for another map
    /// (the thread's pool keeps no larger ones).
    pub(crate) fn is_small_spare(&self) -> bool {
        self.bytes.capacity() <= SPARE_BYTES && self.fields.capacity() <= SPARE_FIELDS
    }

    /// Room for `n` more fields of `bytes` bytes, starting from a dropped
    /// map's buffers when this one has none.
    pub(crate) fn reserve(&mut self, n: usize, bytes: usize) {
        if self.fields.capacity() == 0 && self.bytes.capacity() == 0 {
            if let Some((b, f)) = take_spare(&SPARE) {
                self.bytes = b;
                self.fields = f;
            }
        }
        self.fields.reserve(n);
        self.bytes.reserve(bytes);
    }

    /// Number of fields (a name appearing twice counts twice).
    pub fn len(&self) -> usize {
        self.fields.len() + usize::from(self.first.is_some())
    }

    /// Whether there is no field.
    pub fn is_empty(&self) -> bool {
        self.first.is_none() && self.fields.is_empty()
    }

    /// The index of the first field called `name` in `fields` (so not
    /// counting `first`, which the caller has spilled).
    fn position(&self, name: &str) -> Option<usize> {
        debug_assert!(self.first.is_none());
        let name = name.as_bytes();
        self.fields
            .iter()
            .position(|f| f.name(&self.bytes).eq_ignore_ascii_case(name))
    }

    /// Copies a `first` field into the buffers, so every field is in
    /// `fields`.
    fn spill(&mut self) {
        if let Some(f) = self.first.take() {
            let field = self.store(f.name.as_bytes(), f.value.as_bytes(), false);
            self.fields.insert(0, field);
        }
    }

    /// The value of the first field called `name`.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.iter_bytes()
            .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v)
    }

    /// The value of the first field called `name`, if it is UTF-8.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// The values of every field called `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.iter_bytes()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v)
    }

    /// Whether a field called `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// How many fields are called `name`.
    pub fn count(&self, name: &str) -> usize {
        self.get_all(name).count()
    }

    /// Copies a name (UTF-8: given as `&str`, or a checked token) and a
    /// value into the byte buffer.
    fn store(&mut self, name: &[u8], value: &[u8], unchecked: bool) -> Field {
        let field = Field {
            name: offset(self.bytes.len()),
            name_len: offset(name.len()),
            value: offset(self.bytes.len() + name.len()),
            value_len: offset(value.len()),
            unchecked,
        };
        // One growth for both parts, and room for a few more fields.
        let need = name.len() + value.len();
        if self.bytes.capacity() - self.bytes.len() < need {
            if self.bytes.capacity() == 0 {
                self.reserve(4, need.max(64));
            } else {
                self.bytes.reserve(need.max(64));
            }
        }
        self.bytes.extend_from_slice(name);
        self.bytes.extend_from_slice(value);
        field
    }

    /// [`append`](Self::append) for a parser that has checked the field:
    /// the name is a token (ASCII, so UTF-8) and the value valid.
    pub(crate) fn append_token(&mut self, name: &[u8], value: &[u8]) {
        debug_assert!(name.is_ascii());
        let field = self.store(name, value, false);
        self.fields.push(field);
    }

    /// For a parser: adds a field it checked (the name a token, so UTF-8,
    /// and the value valid) by where its name and value are in the head
    /// that [`set_head_bytes`](Self::set_head_bytes) then copies in.
    pub(crate) fn push_received(
        &mut self,
        name: usize,
        name_len: usize,
        value: usize,
        value_len: usize,
    ) {
        // The value follows the name: the value's end is the largest of
        // the four, so it alone needs checking.
        debug_assert!(name + name_len <= value);
        let _ = offset(value + value_len);
        self.fields.push(Field {
            name: name as u32,
            name_len: name_len as u32,
            value: value as u32,
            value_len: value_len as u32,
            unchecked: false,
        });
    }

    /// For a parser: copies in the head whose fields
    /// [`push_received`](Self::push_received) placed, so a head's fields
    /// cost one copy however many there are. The map must hold no bytes yet.
    pub(crate) fn set_head_bytes(&mut self, head: &[u8]) {
        debug_assert!(self.bytes.is_empty() && self.first.is_none());
        self.bytes.extend_from_slice(head);
        debug_assert!(self.fields.iter().all(|f| {
            (f.value + f.value_len) as usize <= head.len() && f.name(&self.bytes).is_ascii()
        }));
    }

    /// Adds a field after the existing ones, keeping fields of the same name.
    pub fn append(&mut self, name: impl AsRef<str>, value: impl AsRef<[u8]>) {
        let field = self.store(name.as_ref().as_bytes(), value.as_ref(), true);
        self.fields.push(field);
    }

    /// [`append`](Self::append) for a field checked when it was built
    /// (a `const`, so `&FIELD` is `'static`). The first field of an empty
    /// map is not even copied.
    pub fn append_static(&mut self, field: &'static StaticField) {
        if self.is_empty() {
            self.first = Some(field);
            return;
        }
        let field = self.store(field.name.as_bytes(), field.value.as_bytes(), false);
        self.fields.push(field);
    }

    /// [`insert`](Self::insert) for a field checked when it was built.
    pub fn insert_static(&mut self, field: &'static StaticField) {
        if self.is_empty() {
            self.first = Some(field);
            return;
        }
        self.set(field.name, field.value.as_bytes(), false);
    }

    /// Sets `name` to a single value: replaces the first field of that name
    /// in place and removes the others, or appends if there was none.
    pub fn insert(&mut self, name: impl AsRef<str>, value: impl AsRef<[u8]>) {
        self.set(name.as_ref(), value.as_ref(), true);
    }

    fn set(&mut self, name: &str, value: &[u8], unchecked: bool) {
        self.spill();
        let Some(i) = self.position(name) else {
            let field = self.store(name.as_bytes(), value, unchecked);
            self.fields.push(field);
            return;
        };
        let field = self.store(name.as_bytes(), value, unchecked);
        self.fields[i] = field;
        let mut index = 0;
        let bytes = &self.bytes;
        self.fields.retain(|f| {
            index += 1;
            index - 1 <= i || !f.name(bytes).eq_ignore_ascii_case(name.as_bytes())
        });
        self.maybe_compact();
    }

    /// Removes every field called `name`; returns how many were removed.
    pub fn remove(&mut self, name: &str) -> usize {
        self.spill();
        let before = self.fields.len();
        let bytes = &self.bytes;
        self.fields
            .retain(|f| !f.name(bytes).eq_ignore_ascii_case(name.as_bytes()));
        if self.fields.len() < before {
            self.maybe_compact();
        }
        before - self.fields.len()
    }

    /// Rewrites the byte buffer once orphaned bytes outweigh live ones, so
    /// repeated `insert`s cannot grow it without bound.
    fn maybe_compact(&mut self) {
        let live: usize = self.fields.iter().map(Field::len).sum();
        let garbage = self.bytes.len() - live;
        if garbage < 1024 || garbage < live {
            return;
        }
        let old = std::mem::take(&mut self.bytes);
        self.bytes.reserve(live);
        for f in &mut self.fields {
            let (name, value) = (f.name(&old), f.value(&old));
            f.name = offset(self.bytes.len());
            self.bytes.extend_from_slice(name);
            f.value = offset(self.bytes.len());
            self.bytes.extend_from_slice(value);
        }
    }

    /// All fields in order, names as bytes (no UTF-8 check: for encoding).
    pub(crate) fn iter_bytes(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.iter_to_encode().map(|(n, v, _)| (n, v))
    }

    /// All fields in order, with whether the encoder must check each
    /// (it was added by [`append`](Self::append) or
    /// [`insert`](Self::insert)).
    pub(crate) fn iter_to_encode(&self) -> impl Iterator<Item = (&[u8], &[u8], bool)> {
        let first = self
            .first
            .map(|f| (f.name.as_bytes(), f.value.as_bytes(), false));
        first.into_iter().chain(
            self.fields
                .iter()
                .map(|f| (f.name(&self.bytes), f.value(&self.bytes), f.unchecked)),
        )
    }

    /// The value of the `i`th field.
    pub(crate) fn value_at(&self, i: usize) -> &[u8] {
        match (self.first, i) {
            (Some(f), 0) => f.value.as_bytes(),
            (Some(_), i) => self.fields[i - 1].value(&self.bytes),
            (None, i) => self.fields[i].value(&self.bytes),
        }
    }

    /// The bytes of every name and value together.
    pub(crate) fn bytes_len(&self) -> usize {
        let first = self.first.map_or(0, |f| f.name.len() + f.value.len());
        self.bytes.len() + first
    }

    /// All fields in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.iter_bytes().map(|(n, v)| {
            // Names are stored only from `&str`, so this never fails.
            (std::str::from_utf8(n).unwrap_or_default(), v)
        })
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

/// A position or length in the byte buffer. Heads are limited far below
/// 4 GiB; a map built by hand that grows past it is a bug worth a panic.
fn offset(n: usize) -> u32 {
    u32::try_from(n).expect("header fields exceed 4 GiB")
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

    #[test]
    fn a_connection_gives_its_last_requests_buffers_to_the_next_one() {
        use crate::{Conn, Event, Limits};
        let pooled = || SPARE.with(|s| s.borrow().len());
        let input =
            b"GET /a HTTP/1.1\r\nHost: a\r\nX-One: 1\r\n\r\nGET /b HTTP/1.1\r\nHost: b\r\n\r\n";
        let mut conn = Conn::new(Limits::default());
        let mut at = 0;
        let mut next = |conn: &mut Conn| loop {
            let step = conn.poll_read(&input[at..]);
            at += step.consumed;
            match step.event {
                Event::Request(req) => return req.head.headers,
                Event::End { .. } => {}
                other => panic!("unexpected {other:?}"),
            }
        };
        let first = next(&mut conn);
        let buffers = (first.bytes.as_ptr(), first.fields.as_ptr());
        let before = pooled();
        conn.recycle_headers(first);
        assert_eq!(
            pooled(),
            before,
            "kept by the connection, not the thread's pool"
        );
        let second = next(&mut conn);
        assert_eq!((second.bytes.as_ptr(), second.fields.as_ptr()), buffers);
        let fields: Vec<_> = second
            .iter()
            .map(|(n, v)| (n.to_owned(), v.to_vec()))
            .collect();
        assert_eq!(fields, [("Host".to_owned(), b"b".to_vec())]);
        // Released, the spare goes to the thread's pool.
        conn.recycle_headers(second);
        conn.release_spare();
        assert_eq!(pooled(), before + 1);
        // A large map is not kept.
        let mut big = Headers::new();
        big.append("x-big", vec![b'a'; SPARE_BYTES + 1]);
        let pooled_then = pooled();
        conn.recycle_headers(big);
        conn.release_spare();
        assert_eq!(pooled(), pooled_then);
    }

    #[test]
    fn a_dropped_map_leaves_its_buffers_to_the_next_one() {
        let mut h = Headers::new();
        h.append("content-type", "text/plain; charset=utf-8");
        let (bytes, fields) = (h.bytes.as_ptr(), h.fields.as_ptr());
        drop(h);
        let mut next = Headers::new();
        next.append("host", "example.com");
        assert_eq!(next.bytes.as_ptr(), bytes, "the byte buffer is reused");
        assert_eq!(next.fields.as_ptr(), fields, "the field vector is reused");
        assert_eq!(next.get_str("host"), Some("example.com"));
        assert_eq!(next.len(), 1);
        // A large map's buffers are freed, not kept.
        let mut big = Headers::new();
        big.append("x-big", vec![b'a'; SPARE_BYTES + 1]);
        drop(big);
        drop(next);
        let spare = SPARE.with(|s| s.borrow().iter().map(|(b, _)| b.capacity()).max());
        assert!(spare.is_some_and(|c| c <= SPARE_BYTES));
    }

    #[test]
    fn a_static_first_field_takes_no_buffer_and_behaves_like_a_copied_one() {
        const TYPE: StaticField = StaticField::new("Content-Type", "text/plain");
        let mut h = Headers::new();
        h.append_static(&TYPE);
        assert_eq!(h.bytes.capacity() + h.fields.capacity(), 0, "not copied");
        assert_eq!((h.len(), h.bytes_len()), (1, 22));
        h.append("x-a", "1");
        h.append_static(&TYPE);
        let mut same = Headers::new();
        same.append("Content-Type", "text/plain");
        same.append("x-a", "1");
        same.append("Content-Type", "text/plain");
        assert_eq!(h, same);
        assert_eq!(h.get_str("CONTENT-TYPE"), Some("text/plain"));
        assert_eq!(h.value_at(0), b"text/plain");
        assert_eq!(h.value_at(1), b"1");
        assert_eq!(h.count("content-type"), 2);
        let names: Vec<_> = h.iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["Content-Type", "x-a", "Content-Type"]);
        // Edits see it in its place.
        h.insert("content-type", "text/html");
        assert_eq!(
            h.iter().collect::<Vec<_>>(),
            [("content-type", &b"text/html"[..]), ("x-a", b"1")]
        );
        let mut g = Headers::new();
        g.insert_static(&TYPE);
        g.append("x-b", "2");
        assert_eq!(g.remove("content-type"), 1);
        assert_eq!(g.iter().collect::<Vec<_>>(), [("x-b", &b"2"[..])]);
        assert!(!g.contains("content-type"));
    }

    #[test]
    fn repeated_inserts_do_not_grow_the_buffer_without_bound() {
        let mut h = Headers::new();
        h.append("keep", "me");
        for i in 0..10_000 {
            h.insert("x-counter", i.to_string());
            h.append("x-gone", "0123456789");
            h.remove("x-gone");
        }
        assert_eq!(h.get_str("x-counter"), Some("9999"));
        assert_eq!(h.get_str("keep"), Some("me"));
        assert_eq!(h.len(), 2);
        assert!(h.bytes.len() < 4096, "{}", h.bytes.len());
        let mut same = Headers::new();
        same.append("keep", "me");
        same.append("x-counter", "9999");
        assert_eq!(h, same);
    }
}
