//! Body decoding.

use std::ops::Range;

use super::chunked::Chunked;
use crate::error::{ErrorKind, ParseError};
use crate::h1::head::Headers;
use crate::h1::parse::BodyKind;
use crate::limits::Limits;

/// The outcome of one [`Decoder::decode`] call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// Input bytes used up; the caller drops them before the next call.
    pub consumed: usize,
    /// Body bytes within the input (inside `..consumed`); may be empty.
    pub data: Range<usize>,
    /// The body is complete; bytes after `consumed` belong to the next message.
    pub done: bool,
}

/// Decodes one message body.
///
/// Call [`decode`](Decoder::decode) with the unconsumed input until it
/// reports `done`, or until it consumes nothing and yields no data (then it
/// needs more input). Each call yields at most one contiguous data range.
/// When the peer closes the connection, call
/// [`decode_eof`](Decoder::decode_eof): it completes a close-delimited body
/// and fails any other unfinished one. After an error the decoder must not
/// be used again.
#[derive(Debug, Clone)]
pub struct Decoder {
    /// The framing being decoded.
    kind: Kind,
}

/// Framing state of a [`Decoder`].
#[derive(Debug, Clone)]
enum Kind {
    /// Content-Length: the bytes still to come.
    Length(u64),
    /// Chunked transfer coding.
    Chunked(Box<Chunked>),
    /// Close-delimited body.
    Eof {
        /// Bytes received so far.
        received: u64,
        /// Maximum body size.
        max_body: Option<u64>,
        /// The connection has closed.
        done: bool,
    },
    /// No body.
    Empty,
}

impl Decoder {
    /// A decoder for `body`, which follows a head of `head_len` bytes (the
    /// head and trailers share [`Limits::max_head_bytes`]).
    pub fn new(body: BodyKind, limits: &Limits, head_len: usize) -> Decoder {
        match body {
            BodyKind::Empty => Decoder::empty(),
            BodyKind::Length(n) => Decoder::length(n),
            BodyKind::Chunked => Decoder::chunked(limits, head_len),
            BodyKind::Eof => Decoder::eof(limits.max_body),
        }
    }

    /// Drops the decoder, testing its variant inline: only a chunked
    /// decoder owns memory.
    #[inline]
    pub(crate) fn release(self) {
        if let Kind::Chunked(c) = self.kind {
            drop(c);
        }
    }

    /// A body of exactly `n` bytes.
    pub fn length(n: u64) -> Decoder {
        Decoder {
            kind: Kind::Length(n),
        }
    }

    /// A chunked body after a head of `head_len` bytes.
    pub fn chunked(limits: &Limits, head_len: usize) -> Decoder {
        Decoder {
            kind: Kind::Chunked(Box::new(Chunked::new(limits, head_len))),
        }
    }

    /// A body that ends when the connection closes.
    pub fn eof(max_body: Option<u64>) -> Decoder {
        Decoder {
            kind: Kind::Eof {
                received: 0,
                max_body,
                done: false,
            },
        }
    }

    /// No body.
    pub fn empty() -> Decoder {
        Decoder { kind: Kind::Empty }
    }

    /// Consumes framing and body bytes from `buf`.
    pub fn decode(&mut self, buf: &[u8]) -> Result<Decoded, ParseError> {
        match &mut self.kind {
            Kind::Length(remaining) => {
                let n = (*remaining).min(buf.len() as u64) as usize;
                *remaining -= n as u64;
                Ok(Decoded {
                    consumed: n,
                    data: 0..n,
                    done: *remaining == 0,
                })
            }
            Kind::Chunked(chunked) => chunked.decode(buf),
            Kind::Eof {
                received,
                max_body,
                done,
            } => {
                if *done {
                    return Ok(Decoded {
                        consumed: 0,
                        data: 0..0,
                        done: true,
                    });
                }
                *received = received.saturating_add(buf.len() as u64);
                if max_body.is_some_and(|max| *received > max) {
                    return Err(ErrorKind::BodyTooLarge.into());
                }
                Ok(Decoded {
                    consumed: buf.len(),
                    data: 0..buf.len(),
                    done: false,
                })
            }
            Kind::Empty => Ok(Decoded {
                consumed: 0,
                data: 0..0,
                done: true,
            }),
        }
    }

    /// The peer closed the connection: completes a close-delimited body,
    /// and is an error for any other body that is not complete.
    pub fn decode_eof(&mut self) -> Result<(), ParseError> {
        if let Kind::Eof { done, .. } = &mut self.kind {
            *done = true;
        }
        if self.is_done() {
            Ok(())
        } else {
            Err(ErrorKind::IncompleteBody.into())
        }
    }

    /// Body bytes still to come, when the framing says (Content-Length).
    pub fn remaining(&self) -> Option<u64> {
        match &self.kind {
            Kind::Length(remaining) => Some(*remaining),
            Kind::Empty => Some(0),
            _ => None,
        }
    }

    /// Whether the whole body has been decoded.
    pub fn is_done(&self) -> bool {
        match &self.kind {
            Kind::Length(remaining) => *remaining == 0,
            Kind::Chunked(chunked) => chunked.is_done(),
            Kind::Eof { done, .. } => *done,
            Kind::Empty => true,
        }
    }

    /// The trailer fields of a finished chunked body, if it had any.
    pub fn take_trailers(&mut self) -> Option<Headers> {
        match &mut self.kind {
            Kind::Chunked(chunked) => chunked.take_trailers(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_body() {
        let mut d = Decoder::length(5);
        assert_eq!(
            d.decode(b"abc").unwrap(),
            Decoded {
                consumed: 3,
                data: 0..3,
                done: false
            }
        );
        assert_eq!(
            d.decode(b"deNEXT").unwrap(),
            Decoded {
                consumed: 2,
                data: 0..2,
                done: true
            }
        );
        assert!(d.is_done());
        assert_eq!(d.decode(b"NEXT").unwrap().consumed, 0);
    }

    #[test]
    fn length_body_eof_is_incomplete() {
        let mut d = Decoder::length(5);
        d.decode(b"abc").unwrap();
        assert_eq!(
            d.decode_eof().unwrap_err().kind(),
            ErrorKind::IncompleteBody
        );
        assert!(Decoder::length(0).is_done());
        assert!(Decoder::empty().decode_eof().is_ok());
    }

    #[test]
    fn eof_body() {
        let mut d = Decoder::eof(Some(6));
        assert_eq!(
            d.decode(b"abcd").unwrap(),
            Decoded {
                consumed: 4,
                data: 0..4,
                done: false
            }
        );
        assert!(!d.is_done());
        d.decode_eof().unwrap();
        assert!(d.is_done());
        let mut d = Decoder::eof(Some(6));
        d.decode(b"abcd").unwrap();
        assert_eq!(
            d.decode(b"efg").unwrap_err().kind(),
            ErrorKind::BodyTooLarge
        );
    }

    #[test]
    fn new_follows_kind() {
        let l = Limits::default();
        assert!(Decoder::new(BodyKind::Empty, &l, 0).is_done());
        assert!(Decoder::new(BodyKind::Length(0), &l, 0).is_done());
        assert!(!Decoder::new(BodyKind::Length(1), &l, 0).is_done());
        assert!(!Decoder::new(BodyKind::Chunked, &l, 0).is_done());
        assert!(!Decoder::new(BodyKind::Eof, &l, 0).is_done());
    }
}
