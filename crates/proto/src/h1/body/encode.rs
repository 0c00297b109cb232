//! Body encoding.

use crate::error::{EncodeError, EncodeErrorKind};
use crate::h1::encode::write_fields;
use crate::h1::head::Headers;

/// Fields a sender must not put in a trailer section, lower case: RFC 9110
/// (section 6.5.1) keeps out of trailers whatever a recipient needs before
/// the content: framing and connection management, routing, request
/// modifiers, the content's type, coding and range, authentication,
/// caching, and cookies (state a client applies with the head).
const FORBIDDEN_TRAILERS: &[&str] = &[
    "authorization",
    "cache-control",
    "connection",
    "content-encoding",
    "content-length",
    "content-range",
    "content-type",
    "cookie",
    "expect",
    "host",
    "keep-alive",
    "max-forwards",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "range",
    "set-cookie",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "www-authenticate",
];

/// Whether a field called `name` may be sent in a trailer section (see
/// `FORBIDDEN_TRAILERS` for the ones that may not).
///
/// ```
/// assert!(waiter_proto::allowed_in_trailers("x-checksum"));
/// assert!(!waiter_proto::allowed_in_trailers("Content-Length"));
/// ```
pub fn allowed_in_trailers(name: &str) -> bool {
    !FORBIDDEN_TRAILERS
        .iter()
        .any(|f| f.eq_ignore_ascii_case(name))
}

/// Frames the body of one outgoing message.
///
/// Either copy through [`encode`](Encoder::encode), or, for vectored
/// writes, ask [`frame`](Encoder::frame) for the bytes to put around the
/// data. Finish with [`finish`](Encoder::finish), which writes the chunked
/// terminator and checks that a declared length was met.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoder {
    /// The framing in use.
    kind: Kind,
}

/// Framing of an [`Encoder`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Content-Length: bytes still owed.
    Length(u64),
    /// Chunked transfer coding.
    Chunked,
    /// Close-delimited: the connection closes after the body.
    Eof,
    /// No body allowed (204, 304, 1xx, tunnels): data is an error.
    Empty,
    /// No body sent (response to HEAD): data is accepted and dropped.
    Discard,
    /// The body was finished.
    Done,
}

/// Bytes to write around one piece of body data: `prefix`, then the data
/// (if [`sends_data`](Frame::sends_data)), then `suffix`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame {
    /// Buffer for a chunk-size line: up to 16 hex digits and CRLF.
    prefix: [u8; 18],
    /// Used bytes of `prefix`.
    prefix_len: usize,
    /// Bytes after the data.
    suffix: &'static [u8],
    /// Whether the data itself goes on the wire.
    data: bool,
}

impl Frame {
    fn plain(data: bool) -> Frame {
        Frame {
            prefix: [0; 18],
            prefix_len: 0,
            suffix: b"",
            data,
        }
    }

    fn chunk(len: usize) -> Frame {
        let mut prefix = [0; 18];
        let digits = (usize::BITS - len.leading_zeros()).div_ceil(4).max(1) as usize;
        for (i, slot) in prefix[..digits].iter_mut().enumerate() {
            let nibble = (len >> (4 * (digits - 1 - i))) & 0xf;
            *slot = b"0123456789abcdef"[nibble];
        }
        prefix[digits..digits + 2].copy_from_slice(b"\r\n");
        Frame {
            prefix,
            prefix_len: digits + 2,
            suffix: b"\r\n",
            data: true,
        }
    }

    /// Bytes to write before the data.
    pub fn prefix(&self) -> &[u8] {
        &self.prefix[..self.prefix_len]
    }

    /// Bytes to write after the data.
    pub fn suffix(&self) -> &'static [u8] {
        self.suffix
    }

    /// Whether the data is to be written (false for HEAD responses and empty chunks).
    pub fn sends_data(&self) -> bool {
        self.data
    }
}

impl Encoder {
    /// Exactly `n` bytes.
    pub fn length(n: u64) -> Encoder {
        Encoder {
            kind: Kind::Length(n),
        }
    }

    /// Chunked transfer coding.
    pub fn chunked() -> Encoder {
        Encoder {
            kind: Kind::Chunked,
        }
    }

    /// Close-delimited: the body ends when the connection is closed.
    pub fn eof() -> Encoder {
        Encoder { kind: Kind::Eof }
    }

    /// No body may be written.
    pub fn empty() -> Encoder {
        Encoder { kind: Kind::Empty }
    }

    /// Body bytes are accepted and dropped (the response to a HEAD
    /// request, a 204 or a 304).
    pub fn discard() -> Encoder {
        Encoder {
            kind: Kind::Discard,
        }
    }

    /// The framing for `len` bytes of data. Nothing is recorded on error.
    pub fn frame(&mut self, len: usize) -> Result<Frame, EncodeError> {
        match &mut self.kind {
            Kind::Length(remaining) => {
                if len as u64 > *remaining {
                    return Err(EncodeErrorKind::BodyTooLong.into());
                }
                *remaining -= len as u64;
                Ok(Frame::plain(true))
            }
            // An empty chunk would end the body, so empty data writes nothing.
            Kind::Chunked if len == 0 => Ok(Frame::plain(false)),
            Kind::Chunked => Ok(Frame::chunk(len)),
            Kind::Eof => Ok(Frame::plain(true)),
            Kind::Empty if len == 0 => Ok(Frame::plain(false)),
            Kind::Empty => Err(EncodeErrorKind::BodyNotAllowed.into()),
            Kind::Discard => Ok(Frame::plain(false)),
            Kind::Done => Err(EncodeErrorKind::NoResponse.into()),
        }
    }

    /// Appends `data`, framed, to `out`.
    pub fn encode(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<(), EncodeError> {
        if let Kind::Length(remaining) = &mut self.kind {
            // The usual case, without building a frame.
            *remaining = remaining
                .checked_sub(data.len() as u64)
                .ok_or(EncodeErrorKind::BodyTooLong)?;
            out.extend_from_slice(data);
            return Ok(());
        }
        let frame = self.frame(data.len())?;
        out.extend_from_slice(frame.prefix());
        if frame.sends_data() {
            out.extend_from_slice(data);
        }
        out.extend_from_slice(frame.suffix());
        Ok(())
    }

    /// Ends the body: writes `0\r\n\r\n` for chunked; fails if a declared
    /// length was not reached (the encoder then stays usable).
    pub fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        self.finish_inner(None, out)
    }

    /// Like [`finish`](Encoder::finish), sending `trailers` if the body is
    /// chunked (they are dropped otherwise, as no other framing has room
    /// for them).
    pub fn finish_with_trailers(
        &mut self,
        trailers: &Headers,
        out: &mut Vec<u8>,
    ) -> Result<(), EncodeError> {
        self.finish_inner(Some(trailers), out)
    }

    fn finish_inner(
        &mut self,
        trailers: Option<&Headers>,
        out: &mut Vec<u8>,
    ) -> Result<(), EncodeError> {
        match self.kind {
            Kind::Length(n) if n > 0 => return Err(EncodeErrorKind::BodyTooShort.into()),
            Kind::Done => return Err(EncodeErrorKind::NoResponse.into()),
            Kind::Chunked => {
                let start = out.len();
                out.extend_from_slice(b"0\r\n");
                if let Some(Err(e)) = trailers.map(|t| write_fields(t, out)) {
                    out.truncate(start);
                    return Err(e);
                }
                out.extend_from_slice(b"\r\n");
            }
            _ => {}
        }
        self.kind = Kind::Done;
        Ok(())
    }

    /// Whether the connection must be closed to end this body.
    pub fn is_close_delimited(&self) -> bool {
        self.kind == Kind::Eof
    }

    /// Whether body bytes are dropped rather than sent.
    pub fn is_discard(&self) -> bool {
        self.kind == Kind::Discard
    }

    /// Whether [`finish`](Encoder::finish) succeeded.
    pub fn is_finished(&self) -> bool {
        self.kind == Kind::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_frames() {
        let mut e = Encoder::chunked();
        let mut out = Vec::new();
        e.encode(b"hello", &mut out).unwrap();
        e.encode(b"", &mut out).unwrap();
        e.encode(&[b'x'; 300], &mut out).unwrap();
        e.finish(&mut out).unwrap();
        let mut expected = b"5\r\nhello\r\n12c\r\n".to_vec();
        expected.extend_from_slice(&[b'x'; 300]);
        expected.extend_from_slice(b"\r\n0\r\n\r\n");
        assert_eq!(out, expected);
        assert!(e.is_finished());
        assert_eq!(
            e.encode(b"x", &mut out).unwrap_err().kind(),
            EncodeErrorKind::NoResponse
        );
        assert_eq!(Frame::chunk(0).prefix(), b"0\r\n");
        assert_eq!(
            Frame::chunk(usize::MAX).prefix().len(),
            2 * std::mem::size_of::<usize>() + 2
        );
    }

    #[test]
    fn chunked_trailers() {
        let mut trailers = Headers::new();
        trailers.append("X-Sum", "1");
        let mut out = Vec::new();
        Encoder::chunked()
            .finish_with_trailers(&trailers, &mut out)
            .unwrap();
        assert_eq!(out, b"0\r\nX-Sum: 1\r\n\r\n");
        trailers.append("Bad", "a\r\nb");
        let mut out = Vec::new();
        let err = Encoder::chunked()
            .finish_with_trailers(&trailers, &mut out)
            .unwrap_err();
        assert_eq!((err.kind(), out.len()), (EncodeErrorKind::HeaderValue, 0));
    }

    #[test]
    fn length_is_enforced() {
        let mut e = Encoder::length(4);
        let mut out = Vec::new();
        e.encode(b"ab", &mut out).unwrap();
        assert_eq!(
            e.encode(b"cde", &mut out).unwrap_err().kind(),
            EncodeErrorKind::BodyTooLong
        );
        assert_eq!(
            e.finish(&mut out).unwrap_err().kind(),
            EncodeErrorKind::BodyTooShort
        );
        e.encode(b"cd", &mut out).unwrap();
        e.finish(&mut out).unwrap();
        assert_eq!(out, b"abcd");
    }

    #[test]
    fn empty_discard_eof() {
        let mut out = Vec::new();
        let mut e = Encoder::empty();
        assert_eq!(
            e.encode(b"x", &mut out).unwrap_err().kind(),
            EncodeErrorKind::BodyNotAllowed
        );
        e.encode(b"", &mut out).unwrap();
        let mut d = Encoder::discard();
        d.encode(b"dropped", &mut out).unwrap();
        d.finish(&mut out).unwrap();
        let mut f = Encoder::eof();
        assert!(f.is_close_delimited());
        f.encode(b"raw", &mut out).unwrap();
        f.finish(&mut out).unwrap();
        assert_eq!(out, b"raw");
    }
}
