//! The chunked transfer coding decoder (RFC 9112 section 7.1).
//!
//! A byte-at-a-time state machine for everything except chunk data, which
//! is handed out as ranges of the input. Being byte-driven makes it
//! indifferent to how input is split across calls.
//!
//! Strictness: a chunk-size needs at least one hex digit and must fit in
//! 64 bits; only spaces/tabs followed by `;` may follow it; every line
//! ends in CRLF; chunk data must be followed by CRLF; extensions are
//! skipped but may not hold control characters and are capped per message;
//! trailer fields are checked like header fields and, together with the
//! head, must fit in [`Limits::max_head_bytes`].

use std::ops::Range;

use super::Decoded;
use crate::error::{ErrorKind, ParseError};
use crate::h1::head::{trim_ows, Headers};
use crate::h1::syntax::{check_field_line, is_field_byte};
use crate::limits::Limits;

/// Where the decoder is within the chunked framing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChunkedState {
    /// Expecting the first hex digit of a chunk-size.
    Start,
    /// Inside the chunk-size digits.
    Size,
    /// Whitespace after the chunk-size; only `;` may follow.
    SizeLws,
    /// Inside chunk extensions, up to CR.
    Extension,
    /// CR of the chunk-size line seen; expecting LF.
    SizeLf,
    /// Inside chunk data.
    Body,
    /// Expecting the CR after chunk data.
    BodyCr,
    /// Expecting the LF after chunk data.
    BodyLf,
    /// At the start of a trailer line or of the final empty line.
    TrailerStart,
    /// Inside a trailer field line.
    Trailer,
    /// CR of a trailer field line seen; expecting LF.
    TrailerLf,
    /// CR of the final empty line seen; expecting LF.
    EndLf,
    /// The body is complete.
    End,
}

/// Chunked decoding state for one message.
#[derive(Debug, Clone)]
pub(super) struct Chunked {
    /// Position in the framing.
    state: ChunkedState,
    /// The chunk-size being read, then the data bytes left in the chunk.
    size: u64,
    /// Extension bytes seen in this message.
    ext_bytes: usize,
    /// Maximum extension bytes.
    max_ext_bytes: usize,
    /// Data bytes announced by chunk-sizes so far.
    received: u64,
    /// Maximum body size.
    max_body: Option<u64>,
    /// Raw trailer section received so far.
    trailer: Vec<u8>,
    /// Maximum trailer section bytes (head budget left after the head).
    trailer_budget: usize,
    /// Offset in `trailer` of the current line.
    line_start: usize,
    /// Trailer field lines so far.
    fields: usize,
    /// Maximum trailer field lines.
    max_fields: usize,
    /// Parsed trailers, once complete.
    trailers: Option<Headers>,
}

impl Chunked {
    pub(super) fn new(limits: &Limits, head_len: usize) -> Chunked {
        Chunked {
            state: ChunkedState::Start,
            size: 0,
            ext_bytes: 0,
            max_ext_bytes: limits.max_chunk_ext_bytes,
            received: 0,
            max_body: limits.max_body,
            trailer: Vec::new(),
            trailer_budget: limits.max_head_bytes.saturating_sub(head_len),
            line_start: 0,
            fields: 0,
            max_fields: limits.max_headers,
            trailers: None,
        }
    }

    pub(super) fn is_done(&self) -> bool {
        self.state == ChunkedState::End
    }

    pub(super) fn take_trailers(&mut self) -> Option<Headers> {
        self.trailers.take()
    }

    pub(super) fn decode(&mut self, buf: &[u8]) -> Result<Decoded, ParseError> {
        let mut i = 0;
        while i < buf.len() {
            match self.state {
                ChunkedState::End => break,
                ChunkedState::Body => {
                    let data = self.take_data(i, buf.len() - i);
                    return Ok(Decoded {
                        consumed: data.end,
                        data,
                        done: false,
                    });
                }
                _ => {
                    self.step(buf[i])?;
                    i += 1;
                }
            }
        }
        Ok(Decoded {
            consumed: i,
            data: i..i,
            done: self.is_done(),
        })
    }

    /// Takes up to `available` data bytes starting at `at`.
    fn take_data(&mut self, at: usize, available: usize) -> Range<usize> {
        let n = self.size.min(available as u64) as usize;
        self.size -= n as u64;
        if self.size == 0 {
            self.state = ChunkedState::BodyCr;
        }
        at..at + n
    }

    /// Advances the framing state by one byte (never called in `Body`/`End`).
    fn step(&mut self, b: u8) -> Result<(), ParseError> {
        use ChunkedState::*;
        self.state = match (self.state, b) {
            (Start, _) => {
                self.size = hex(b).ok_or(ErrorKind::InvalidChunkSize)?;
                Size
            }
            (Size, b'\r') | (Extension, b'\r') => SizeLf,
            (Size | SizeLws, b';') => self.extension_byte()?,
            (Size | SizeLws, b' ' | b'\t') => SizeLws,
            (Size | SizeLws | Extension, b'\n') => return Err(ErrorKind::BareLf.into()),
            (Size, _) => {
                let digit = hex(b).ok_or(ErrorKind::InvalidChunkSize)?;
                let size = self.size.checked_mul(16).and_then(|s| s.checked_add(digit));
                self.size = size.ok_or(ErrorKind::ChunkSizeOverflow)?;
                Size
            }
            (SizeLws, _) => return Err(ErrorKind::InvalidChunkSize.into()),
            (Extension, _) if is_field_byte(b) => self.extension_byte()?,
            (Extension, _) => return Err(ErrorKind::InvalidChunkExtension.into()),
            (SizeLf, b'\n') => self.start_chunk()?,
            (BodyCr, b'\r') => BodyLf,
            (BodyLf, b'\n') => Start,
            (BodyCr | BodyLf, _) => return Err(ErrorKind::InvalidChunk.into()),
            (SizeLf | TrailerLf | EndLf, _) => return self.trailer_line_end(b),
            (TrailerStart | Trailer, _) => self.trailer_byte(b)?,
            (Body | End, _) => unreachable!("data and end are handled by decode"),
        };
        Ok(())
    }

    fn extension_byte(&mut self) -> Result<ChunkedState, ParseError> {
        self.ext_bytes += 1;
        if self.ext_bytes > self.max_ext_bytes {
            return Err(ErrorKind::ChunkExtensionsTooLarge.into());
        }
        Ok(ChunkedState::Extension)
    }

    /// After a complete chunk-size line: data, or the trailer section.
    fn start_chunk(&mut self) -> Result<ChunkedState, ParseError> {
        if self.size == 0 {
            return Ok(ChunkedState::TrailerStart);
        }
        self.received = self.received.saturating_add(self.size);
        if self.max_body.is_some_and(|max| self.received > max) {
            return Err(ErrorKind::BodyTooLarge.into());
        }
        Ok(ChunkedState::Body)
    }

    fn push_trailer(&mut self, b: u8) -> Result<(), ParseError> {
        if self.trailer.len() >= self.trailer_budget {
            return Err(ErrorKind::TrailersTooLarge.into());
        }
        self.trailer.push(b);
        Ok(())
    }

    /// A byte at the start of, or inside, a trailer line.
    fn trailer_byte(&mut self, b: u8) -> Result<ChunkedState, ParseError> {
        self.push_trailer(b)?;
        let at_start = self.state == ChunkedState::TrailerStart;
        match b {
            b'\r' if at_start => Ok(ChunkedState::EndLf),
            b'\r' => Ok(ChunkedState::TrailerLf),
            b'\n' => Err(ErrorKind::BareLf.into()),
            _ => Ok(ChunkedState::Trailer),
        }
    }

    /// The byte after a CR: must be LF. Ends a size line, a trailer line or
    /// the whole body.
    fn trailer_line_end(&mut self, b: u8) -> Result<(), ParseError> {
        if b != b'\n' {
            return Err(ErrorKind::BareCr.into());
        }
        match self.state {
            ChunkedState::TrailerLf => {
                self.push_trailer(b)?;
                let line = &self.trailer[self.line_start..self.trailer.len() - 2];
                check_field_line(line)?;
                self.fields += 1;
                if self.fields > self.max_fields {
                    return Err(ErrorKind::TooManyHeaders.into());
                }
                self.line_start = self.trailer.len();
                self.state = ChunkedState::TrailerStart;
            }
            ChunkedState::EndLf => {
                self.push_trailer(b)?;
                self.trailers = self.parse_trailers()?;
                self.state = ChunkedState::End;
            }
            _ => unreachable!("only called after a CR"),
        }
        Ok(())
    }

    fn parse_trailers(&self) -> Result<Option<Headers>, ParseError> {
        if self.fields == 0 {
            return Ok(None);
        }
        let mut slots = vec![httparse::EMPTY_HEADER; self.fields];
        match httparse::parse_headers(&self.trailer, &mut slots) {
            Ok(httparse::Status::Complete((_, fields))) => {
                let mut headers = Headers::with_capacity(fields.len());
                for f in fields {
                    headers.append_token(f.name.as_bytes(), trim_ows(f.value));
                }
                Ok(Some(headers))
            }
            Ok(httparse::Status::Partial) | Err(_) => Err(ErrorKind::HeaderValue.into()),
        }
    }
}

fn hex(b: u8) -> Option<u64> {
    (b as char).to_digit(16).map(u64::from)
}

#[cfg(test)]
mod tests {
    use super::super::Decoder;
    use super::*;

    /// Decodes `input` in one buffer; returns body bytes and trailers.
    fn decode_all(input: &[u8], limits: &Limits) -> Result<(Vec<u8>, Option<Headers>), ErrorKind> {
        let mut d = Decoder::chunked(limits, 0);
        let mut body = Vec::new();
        let mut pos = 0;
        loop {
            let r = d.decode(&input[pos..]).map_err(|e| e.kind())?;
            body.extend_from_slice(&input[pos..][r.data.clone()]);
            pos += r.consumed;
            if r.done {
                assert_eq!(&input[pos..], b"NEXT", "stops at the end of the body");
                return Ok((body, d.take_trailers()));
            }
            if r.consumed == 0 {
                return Err(ErrorKind::IncompleteBody);
            }
        }
    }

    fn ok(input: &[u8]) -> Vec<u8> {
        decode_all(input, &Limits::default()).unwrap().0
    }

    fn err(input: &[u8]) -> ErrorKind {
        decode_all(input, &Limits::default()).unwrap_err()
    }

    #[test]
    fn basic_and_extensions() {
        assert_eq!(
            ok(b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\nNEXT"),
            b"hello world"
        );
        assert_eq!(ok(b"A\r\n0123456789\r\n0\r\n\r\nNEXT"), b"0123456789");
        assert_eq!(ok(b"0\r\n\r\nNEXT"), b"");
        assert_eq!(ok(b"000003\r\nabc\r\n0\r\n\r\nNEXT"), b"abc");
        assert_eq!(ok(b"3;a=b;c=\"d e\"\r\nabc\r\n0;last\r\n\r\nNEXT"), b"abc");
        assert_eq!(ok(b"3 ;a\r\nabc\r\n0\t; x\r\n\r\nNEXT"), b"abc");
    }

    #[test]
    fn size_errors() {
        assert_eq!(err(b"ffffffffffffffffff\r\n"), ErrorKind::ChunkSizeOverflow);
        assert_eq!(err(b"10000000000000000\r\n"), ErrorKind::ChunkSizeOverflow);
        assert_eq!(err(b"\r\n\r\n"), ErrorKind::InvalidChunkSize);
        assert_eq!(err(b";ext\r\n"), ErrorKind::InvalidChunkSize);
        assert_eq!(err(b"x\r\n"), ErrorKind::InvalidChunkSize);
        assert_eq!(err(b"-1\r\n"), ErrorKind::InvalidChunkSize);
        assert_eq!(err(b"0x5\r\n"), ErrorKind::InvalidChunkSize);
        assert_eq!(err(b"5 \r\nhello\r\n"), ErrorKind::InvalidChunkSize);
        assert_eq!(err(b"5 5\r\n"), ErrorKind::InvalidChunkSize);
        assert_eq!(err(b" 5\r\n"), ErrorKind::InvalidChunkSize);
        assert_eq!(err(b"5\nhello\r\n"), ErrorKind::BareLf);
        assert_eq!(err(b"5\rhello\r\n"), ErrorKind::BareCr);
    }

    #[test]
    fn data_must_end_in_crlf() {
        assert_eq!(err(b"3\r\nabcd\r\n"), ErrorKind::InvalidChunk);
        assert_eq!(err(b"3\r\nabc\n0\r\n\r\n"), ErrorKind::InvalidChunk);
        assert_eq!(err(b"3\r\nabc\rx"), ErrorKind::InvalidChunk);
        assert_eq!(err(b"3\r\nab"), ErrorKind::IncompleteBody);
    }

    #[test]
    fn extension_rules() {
        assert_eq!(err(b"3;a\x00\r\nabc\r\n"), ErrorKind::InvalidChunkExtension);
        assert_eq!(err(b"3;a\x7f\r\nabc\r\n"), ErrorKind::InvalidChunkExtension);
        assert_eq!(err(b"3;a\nabc\r\n"), ErrorKind::BareLf);
        assert_eq!(err(b"3;a\rabc\r\n"), ErrorKind::BareCr);
        let limits = Limits {
            max_chunk_ext_bytes: 8,
            ..Limits::default()
        };
        let fits = b"1;abcd\r\nx\r\n0;ef\r\n\r\nNEXT";
        assert_eq!(decode_all(fits, &limits).unwrap().0, b"x");
        let over = b"1;abcd\r\nx\r\n0;efg\r\n\r\nNEXT";
        assert_eq!(
            decode_all(over, &limits).unwrap_err(),
            ErrorKind::ChunkExtensionsTooLarge
        );
        let long = format!("1;{}\r\nx\r\n0\r\n\r\nNEXT", "a".repeat(17 * 1024));
        assert_eq!(err(long.as_bytes()), ErrorKind::ChunkExtensionsTooLarge);
        assert_eq!(ErrorKind::ChunkExtensionsTooLarge.status().as_u16(), 413);
    }

    #[test]
    fn trailers() {
        let (body, t) = decode_all(
            b"3\r\nabc\r\n0\r\nX-Sum: 12 \r\nX-B:\r\n\r\nNEXT",
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(body, b"abc");
        let t = t.unwrap();
        assert_eq!(t.get("x-sum"), Some(&b"12"[..]));
        assert_eq!(t.get("x-b"), Some(&b""[..]));
        assert_eq!(err(b"0\r\nX: a\n\r\n"), ErrorKind::BareLf);
        assert_eq!(err(b"0\r\nX: a\r\r\n"), ErrorKind::BareCr);
        assert_eq!(err(b"0\r\n\rx"), ErrorKind::BareCr);
        assert_eq!(err(b"0\r\n\n"), ErrorKind::BareLf);
        assert_eq!(err(b"0\r\nX: a\r\n folded\r\n\r\n"), ErrorKind::ObsFold);
        assert_eq!(err(b"0\r\nX : a\r\n\r\n"), ErrorKind::SpaceBeforeColon);
        assert_eq!(err(b"0\r\nX: a\x01\r\n\r\n"), ErrorKind::HeaderValue);
        assert_eq!(err(b"0\r\nnocolon\r\n\r\n"), ErrorKind::HeaderName);
    }

    #[test]
    fn trailer_limits_share_head_budget() {
        let limits = Limits {
            max_head_bytes: 40,
            max_headers: 2,
            ..Limits::default()
        };
        let trailer = b"0\r\nA: 1\r\nB: 2\r\n\r\nNEXT";
        let mut d = Decoder::chunked(&limits, 26);
        assert!(d.decode(trailer).unwrap().done);
        let mut d = Decoder::chunked(&limits, 27);
        assert_eq!(
            d.decode(trailer).unwrap_err().kind(),
            ErrorKind::TrailersTooLarge
        );
        let three = b"0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
        let mut d = Decoder::chunked(&limits, 0);
        assert_eq!(
            d.decode(three).unwrap_err().kind(),
            ErrorKind::TooManyHeaders
        );
        assert_eq!(ErrorKind::TrailersTooLarge.status().as_u16(), 431);
    }

    #[test]
    fn body_limit() {
        let limits = Limits {
            max_body: Some(5),
            ..Limits::default()
        };
        let fits = b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\nNEXT";
        assert_eq!(decode_all(fits, &limits).unwrap().0, b"abcde");
        let over = b"3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\nNEXT";
        assert_eq!(
            decode_all(over, &limits).unwrap_err(),
            ErrorKind::BodyTooLarge
        );
    }

    #[test]
    fn one_range_per_call() {
        let mut d = Decoder::chunked(&Limits::default(), 0);
        let input = b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        let r = d.decode(input).unwrap();
        assert_eq!((r.consumed, r.data, r.done), (6, 3..6, false));
        let r = d.decode(&input[6..]).unwrap();
        assert_eq!((r.consumed, r.data, r.done), (7, 5..7, false));
        let r = d.decode(&input[13..]).unwrap();
        assert_eq!((r.consumed, r.done), (7, true));
        assert!(r.data.is_empty());
        assert_eq!(d.decode_eof(), Ok(()));
    }
}
