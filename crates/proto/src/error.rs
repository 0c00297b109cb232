//! Error types.
//!
//! [`ParseError`] is returned for anything wrong in received bytes. It is
//! deliberately opaque: callers match on [`ParseError::kind`] and answer
//! with [`ParseError::status`]. [`EncodeError`] is returned when a message
//! about to be written would be invalid on the wire (for example a header
//! value holding a line break, which would allow response splitting).
//!
//! `Display` of both types prints a single lowercase sentence fragment,
//! with no cause chain, so it can be embedded in log lines.

use std::fmt;

use crate::h1::head::StatusCode;

/// What was wrong with received bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The request line is not `method SP request-target SP HTTP-version`.
    RequestLine,
    /// The method is empty or holds a byte that is not a token character.
    Method,
    /// The request-target holds an invalid byte or has a form the method does not allow.
    Target,
    /// The HTTP-version is not of the form `HTTP/DIGIT.DIGIT`.
    Version,
    /// The status line of a response is malformed.
    StatusLine,
    /// A carriage return that is not followed by a line feed.
    BareCr,
    /// A line feed that is not preceded by a carriage return.
    BareLf,
    /// A field line that starts with whitespace (obsolete line folding).
    ObsFold,
    /// Whitespace between a field name and the colon.
    SpaceBeforeColon,
    /// A field name that is empty or holds a byte that is not a token character.
    HeaderName,
    /// A field value that holds a control character, DEL or NUL.
    HeaderValue,
    /// An HTTP/1.1 request without a Host field.
    MissingHost,
    /// A request with more than one Host field.
    DuplicateHost,
    /// A Host field whose value is not `uri-host [ ":" port ]`.
    InvalidHost,
    /// A Content-Length value that is not a plain decimal number.
    InvalidContentLength,
    /// Content-Length values that disagree with each other.
    ConflictingContentLength,
    /// A message carrying both Content-Length and Transfer-Encoding.
    ContentLengthWithTransferEncoding,
    /// A Transfer-Encoding list whose final coding is not `chunked`, or that is malformed.
    InvalidTransferEncoding,
    /// Transfer-Encoding in an HTTP/1.0 message.
    TransferEncodingInHttp10,
    /// A transfer coding other than `chunked`.
    UnsupportedTransferCoding,
    /// A chunk-size line that does not start with a hexadecimal digit or has junk after it.
    InvalidChunkSize,
    /// A chunk-size that does not fit in 64 bits.
    ChunkSizeOverflow,
    /// Chunk data not followed by CRLF.
    InvalidChunk,
    /// A chunk extension holding a control character.
    InvalidChunkExtension,
    /// Chunk extensions above [`Limits::max_chunk_ext_bytes`](crate::Limits::max_chunk_ext_bytes).
    ChunkExtensionsTooLarge,
    /// The connection ended before the body was complete.
    IncompleteBody,
    /// A body larger than [`Limits::max_body`](crate::Limits::max_body).
    BodyTooLarge,
    /// A request line longer than the limit.
    UriTooLong,
    /// A head longer than [`Limits::max_head_bytes`](crate::Limits::max_head_bytes).
    HeadTooLarge,
    /// More fields than [`Limits::max_headers`](crate::Limits::max_headers).
    TooManyHeaders,
    /// Trailer fields that, with the head, exceed the head size limit.
    TrailersTooLarge,
    /// A well-formed HTTP version other than 1.0 and 1.1.
    VersionNotSupported,
    /// An Expect field with an expectation other than `100-continue`.
    ExpectationFailed,
    /// The HTTP/2 connection preface (`PRI * HTTP/2.0`): the peer speaks HTTP/2.
    Http2Preface,
}

impl ErrorKind {
    /// The status a server should answer with.
    pub fn status(self) -> StatusCode {
        use ErrorKind::*;
        let code = match self {
            ChunkExtensionsTooLarge | BodyTooLarge => 413,
            UriTooLong => 414,
            ExpectationFailed => 417,
            HeadTooLarge | TooManyHeaders | TrailersTooLarge => 431,
            UnsupportedTransferCoding => 501,
            VersionNotSupported | Http2Preface => 505,
            _ => 400,
        };
        StatusCode::from_u16(code).expect("static status codes are valid")
    }

    fn description(self) -> &'static str {
        use ErrorKind::*;
        match self {
            RequestLine => "malformed request line",
            Method => "invalid method",
            Target => "invalid request target",
            Version => "malformed HTTP version",
            StatusLine => "malformed status line",
            BareCr => "carriage return without line feed",
            BareLf => "line feed without carriage return",
            ObsFold => "obsolete line folding",
            SpaceBeforeColon => "whitespace before colon in field line",
            HeaderName => "invalid field name",
            HeaderValue => "invalid field value",
            MissingHost => "missing host field",
            DuplicateHost => "more than one host field",
            InvalidHost => "invalid host field",
            InvalidContentLength => "invalid content-length",
            ConflictingContentLength => "conflicting content-length values",
            ContentLengthWithTransferEncoding => "both content-length and transfer-encoding",
            InvalidTransferEncoding => "invalid transfer-encoding",
            TransferEncodingInHttp10 => "transfer-encoding in an HTTP/1.0 message",
            UnsupportedTransferCoding => "unsupported transfer coding",
            InvalidChunkSize => "invalid chunk size",
            ChunkSizeOverflow => "chunk size overflow",
            InvalidChunk => "chunk data not followed by CRLF",
            InvalidChunkExtension => "invalid chunk extension",
            ChunkExtensionsTooLarge => "chunk extensions too large",
            IncompleteBody => "connection closed before the body was complete",
            BodyTooLarge => "body too large",
            UriTooLong => "request line too long",
            HeadTooLarge => "message head too large",
            TooManyHeaders => "too many header fields",
            TrailersTooLarge => "trailer section too large",
            VersionNotSupported => "HTTP version not supported",
            ExpectationFailed => "unsupported expectation",
            Http2Preface => "HTTP/2 connection preface",
        }
    }
}

/// An error in received bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// Which rule was broken.
    kind: ErrorKind,
}

impl ParseError {
    /// What was wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The status a server should answer with (400, 413, 414, 417, 431, 501 or 505).
    pub fn status(&self) -> StatusCode {
        self.kind.status()
    }
}

impl From<ErrorKind> for ParseError {
    fn from(kind: ErrorKind) -> Self {
        ParseError { kind }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind.description())
    }
}

impl std::error::Error for ParseError {}

/// What was wrong with a message about to be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EncodeErrorKind {
    /// A field name that is not a token.
    HeaderName,
    /// A field value holding CR, LF, NUL or another control character.
    HeaderValue,
    /// A reason phrase holding a control character.
    Reason,
    /// A status code outside 100..=999, or one not allowed at this point.
    Status,
    /// A method that is not a token.
    Method,
    /// A request-target holding whitespace or a control character.
    Target,
    /// More body bytes than the declared Content-Length.
    BodyTooLong,
    /// Fewer body bytes than the declared Content-Length.
    BodyTooShort,
    /// Body bytes for a response that cannot have a body (204, 304, 1xx).
    BodyNotAllowed,
    /// A framing header (Transfer-Encoding, or an unparsable or contradicting
    /// Content-Length) set by the caller where the codec decides framing.
    FramingHeader,
    /// No request is waiting for a response.
    NoRequest,
    /// A response head was already written for this request.
    ResponseStarted,
    /// No response is in progress.
    NoResponse,
    /// The connection is closed for writing.
    Closed,
}

/// An error in a message about to be written. Nothing was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodeError {
    /// Which rule would have been broken.
    kind: EncodeErrorKind,
}

impl EncodeError {
    /// What was wrong.
    pub fn kind(&self) -> EncodeErrorKind {
        self.kind
    }
}

impl From<EncodeErrorKind> for EncodeError {
    fn from(kind: EncodeErrorKind) -> Self {
        EncodeError { kind }
    }
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use EncodeErrorKind::*;
        f.write_str(match self.kind {
            HeaderName => "invalid field name",
            HeaderValue => "invalid field value",
            Reason => "invalid reason phrase",
            Status => "invalid status code",
            Method => "invalid method",
            Target => "invalid request target",
            BodyTooLong => "body longer than content-length",
            BodyTooShort => "body shorter than content-length",
            BodyNotAllowed => "body not allowed for this response",
            FramingHeader => "framing header conflicts with the codec",
            NoRequest => "no request awaits a response",
            ResponseStarted => "response already started",
            NoResponse => "no response in progress",
            Closed => "connection closed for writing",
        })
    }
}

impl std::error::Error for EncodeError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        assert_eq!(ErrorKind::BareLf.status().as_u16(), 400);
        assert_eq!(ErrorKind::BodyTooLarge.status().as_u16(), 413);
        assert_eq!(ErrorKind::ChunkExtensionsTooLarge.status().as_u16(), 413);
        assert_eq!(ErrorKind::UriTooLong.status().as_u16(), 414);
        assert_eq!(ErrorKind::ExpectationFailed.status().as_u16(), 417);
        assert_eq!(ErrorKind::TooManyHeaders.status().as_u16(), 431);
        assert_eq!(ErrorKind::UnsupportedTransferCoding.status().as_u16(), 501);
        assert_eq!(ErrorKind::VersionNotSupported.status().as_u16(), 505);
    }

    #[test]
    fn display_is_one_level() {
        let e = ParseError::from(ErrorKind::ObsFold);
        assert_eq!(e.to_string(), "obsolete line folding");
        assert!(std::error::Error::source(&e).is_none());
        let e = EncodeError::from(EncodeErrorKind::HeaderValue);
        assert_eq!(e.to_string(), "invalid field value");
    }
}
