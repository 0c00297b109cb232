//! The client's error type.
//!
//! [`ClientError`] is opaque: callers match on [`ClientError::kind`]. Its
//! `Display` is one lowercase sentence fragment with the cause appended, so
//! it reads well in a log line; the cause is also available through
//! [`std::error::Error::source`].

use std::borrow::Cow;
use std::error::Error;
use std::fmt;
use std::io;

use waiter_proto::ParseError;

/// What kind of failure a [`ClientError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ClientErrorKind {
    /// The URL is malformed.
    InvalidUrl,
    /// The request cannot be written: an invalid header name or value, or
    /// a streamed body that disagrees with its declared length.
    InvalidRequest,
    /// Something this client does not do: `https`, credentials in URLs,
    /// `CONNECT`, protocol upgrades.
    Unsupported,
    /// Name resolution or the TCP connection failed.
    Connect,
    /// Connecting, or waiting for the response head, took too long.
    Timeout,
    /// The socket failed, or the server closed the connection before
    /// its response head was complete.
    Io,
    /// The response breaks HTTP/1.1's rules (the kind says which), or it
    /// ended before its body was complete.
    Parse(waiter_proto::ErrorKind),
    /// More redirects than [`ClientBuilder::redirects`](super::ClientBuilder::redirects) allows.
    TooManyRedirects,
    /// The stream given to `body_stream` failed.
    RequestBody,
    /// The response body is unreadable because an earlier read of it failed.
    BodyGone,
}

/// Why a request failed.
pub struct ClientError {
    /// The category.
    kind: ClientErrorKind,
    /// What was being done.
    context: Cow<'static, str>,
    /// The underlying error, if any.
    source: Option<Box<dyn Error + Send + Sync>>,
}

impl ClientError {
    /// An error without an underlying cause.
    pub(crate) fn new(kind: ClientErrorKind, context: impl Into<Cow<'static, str>>) -> Self {
        ClientError {
            kind,
            context: context.into(),
            source: None,
        }
    }

    /// An error caused by `source`.
    pub(crate) fn with_source(
        kind: ClientErrorKind,
        context: impl Into<Cow<'static, str>>,
        source: impl Into<Box<dyn Error + Send + Sync>>,
    ) -> Self {
        ClientError {
            kind,
            context: context.into(),
            source: Some(source.into()),
        }
    }

    /// A socket error while doing `context`.
    pub(crate) fn io(context: &'static str, e: io::Error) -> Self {
        Self::with_source(ClientErrorKind::Io, context, e)
    }

    /// A protocol violation in the response.
    pub(crate) fn parse(e: ParseError) -> Self {
        Self::with_source(
            ClientErrorKind::Parse(e.kind()),
            "invalid response from the server",
            e,
        )
    }

    /// The category of the failure.
    pub fn kind(&self) -> ClientErrorKind {
        self.kind
    }

    /// Whether a timeout expired.
    pub fn is_timeout(&self) -> bool {
        self.kind == ClientErrorKind::Timeout
    }

    /// The parser's error, for [`ClientErrorKind::Parse`].
    pub fn parse_error(&self) -> Option<&ParseError> {
        self.source.as_ref()?.downcast_ref()
    }

    /// The socket's error, if the failure came from one.
    pub fn io_error(&self) -> Option<&io::Error> {
        self.source.as_ref()?.downcast_ref()
    }
}

impl fmt::Debug for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientError")
            .field("kind", &self.kind)
            .field("context", &self.context)
            .field("source", &self.source)
            .finish()
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.context)?;
        if let Some(s) = &self.source {
            write!(f, ": {s}")?;
        }
        Ok(())
    }
}

impl Error for ClientError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn Error + 'static))
    }
}
