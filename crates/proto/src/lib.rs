//! Sans-I/O HTTP/1.1 codecs.
//!
//! This crate turns bytes into HTTP/1.1 messages and messages into bytes,
//! without performing any I/O, owning any timer or depending on a runtime.
//! The caller reads from and writes to sockets; the types here only look at
//! the bytes they are handed and say what they mean.
//!
//! The parser is deliberately strict: every ambiguity that could let two
//! HTTP implementations disagree about where a message ends (request
//! smuggling) is rejected with a [`ParseError`] whose
//! [`status`](ParseError::status) is the response a server should send.
//!
//! Layout:
//!
//! - [`h1::head`]: methods, versions, status codes, header maps, message heads.
//! - [`h1::parse`]: request and response head parsing plus framing rules.
//! - [`h1::body`]: body decoders (length, chunked, close-delimited) and encoders.
//! - [`h1::encode`]: serialisation of message heads.
//! - [`h1::conn`]: the per-connection server state machine.
//! - [`limits`]: size limits and their defaults.
//! - [`error`]: the error types.
#![forbid(unsafe_code)]

pub mod error;
pub mod h1;
pub mod limits;

pub use error::{EncodeError, EncodeErrorKind, ErrorKind, ParseError};
pub use h1::body::{allowed_in_trailers, Decoded, Decoder, Encoder, Frame};
pub use h1::conn::{Conn, Deadline, Event, OwnLines, Step};
pub use h1::head::{
    Headers, Method, RequestHead, ResponseHead, StaticField, StatusCode, Target, TargetForm,
    Version,
};
pub use h1::parse::{
    parse_request, parse_response, BodyKind, ParsedRequest, ParsedResponse, RequestFraming,
};
pub use limits::Limits;
