//! Size limits applied while parsing.
//!
//! Every limit bounds memory or work that a peer can make us spend before
//! any application code has had a say. Defaults follow Node.js where Node
//! has an equivalent, so that an application ported from Node behaves the
//! same at the edges.

/// Default for [`Limits::max_head_bytes`]: 16 KiB, Node's
/// `--max-http-header-size`. Large enough for real cookies, small enough
/// that a connection that never finishes its head costs little. As in
/// Node, the request line has no budget of its own: a target may use all
/// of it.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;

/// Default for [`Limits::max_headers`]: 100 field lines. Header lookups are
/// linear, so this also bounds the cost of each lookup.
pub const MAX_HEADERS: usize = 100;

/// Default for [`Limits::max_chunk_ext_bytes`]: 16 KiB per message, as in
/// Node. Chunk extensions are ignored, so without a bound a peer could make
/// us scan unlimited bytes that never reach the application.
pub const MAX_CHUNK_EXT_BYTES: usize = 16 * 1024;

/// Default for [`Limits::max_drain`]: 256 KiB, as Go's server. A body the
/// handler left unread is skipped to reuse the connection only while that
/// costs little; a client that uploads 100 MB to a route answering 413 or
/// 404 is cut off instead of being read to the end.
pub const MAX_DRAIN: u64 = 256 * 1024;

/// Limits applied to one message (head, body and trailers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Maximum bytes of a head, from the first byte (leading empty lines
    /// included) to the end of the empty line. Trailers are counted against
    /// the same budget. Exceeding it is 431, or 414 when the request line
    /// alone exceeds it.
    pub max_head_bytes: usize,
    /// Maximum number of field lines in a head, and separately in a trailer section. 431.
    pub max_headers: usize,
    /// Maximum total bytes of chunk extensions (from `;` to CR) in one body. 413.
    pub max_chunk_ext_bytes: usize,
    /// Maximum body size, if any. 413; a Content-Length above it is
    /// rejected as soon as the head is parsed.
    pub max_body: Option<u64>,
    /// Most bytes of a request body left unread by its handler that are
    /// read and dropped after the response so the connection can serve the
    /// next request. A body known to be longer is not read at all, and one
    /// of unknown length (chunked) that runs past it stops being read: in
    /// both cases the connection closes after the response. A response
    /// head written while a body known to be longer is unread carries
    /// `Connection: close`.
    pub max_drain: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_head_bytes: MAX_HEAD_BYTES,
            max_headers: MAX_HEADERS,
            max_chunk_ext_bytes: MAX_CHUNK_EXT_BYTES,
            max_body: None,
            max_drain: MAX_DRAIN,
        }
    }
}
