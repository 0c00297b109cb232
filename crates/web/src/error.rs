//! [`WebError`]: an HTTP error that renders as a JSON problem document
//! (RFC 9457, `application/problem+json`).
//!
//! Invariant: the rendered body is always valid JSON with the members
//! `type`, `title`, `status` and `detail`; `detail` is the message given by
//! the code that raised the error, so internal errors (I/O, panics) are
//! reported with a generic detail and their cause only goes to the log.

use std::fmt;

use waiter_http::{BodyError, Headers, Response, StatusCode};

/// An error a handler or middleware returns instead of a response.
#[derive(Debug, Clone)]
pub struct WebError {
    /// The status to answer with.
    pub status: StatusCode,
    /// A short, human-readable summary (defaults to the reason phrase).
    pub title: String,
    /// A human-readable explanation specific to this occurrence.
    pub detail: String,
    /// A URI reference that identifies the problem type.
    pub problem_type: String,
    /// Extra header fields for the response (such as `Allow` on a 405).
    pub headers: Headers,
}

impl WebError {
    /// An error with `status` and a `detail` message.
    pub fn new(status: u16, detail: impl Into<String>) -> WebError {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        WebError {
            status,
            title: status.reason().to_owned(),
            detail: detail.into(),
            problem_type: "about:blank".to_owned(),
            headers: Headers::new(),
        }
    }

    /// 400 Bad Request.
    pub fn bad_request(detail: impl Into<String>) -> WebError {
        WebError::new(400, detail)
    }

    /// 404 Not Found.
    pub fn not_found(detail: impl Into<String>) -> WebError {
        WebError::new(404, detail)
    }

    /// 403 Forbidden.
    pub fn forbidden(detail: impl Into<String>) -> WebError {
        WebError::new(403, detail)
    }

    /// 500 Internal Server Error with a generic detail.
    pub fn internal() -> WebError {
        WebError::new(500, "the server failed to handle the request")
    }

    /// Sets the title.
    pub fn with_title(mut self, title: impl Into<String>) -> WebError {
        self.title = title.into();
        self
    }

    /// Sets the problem type URI.
    pub fn with_type(mut self, uri: impl Into<String>) -> WebError {
        self.problem_type = uri.into();
        self
    }

    /// Adds a header field to the response.
    pub fn with_header(mut self, name: &str, value: impl AsRef<[u8]>) -> WebError {
        self.headers.insert(name, value);
        self
    }

    /// The problem document as JSON text.
    pub fn to_json(&self) -> String {
        serde_json::json!({
            "type": self.problem_type,
            "title": self.title,
            "status": self.status.as_u16(),
            "detail": self.detail,
        })
        .to_string()
    }

    /// The default rendering: the problem document with its status and
    /// extra headers.
    pub fn render(&self) -> Response {
        let mut r =
            Response::bytes("application/problem+json", self.to_json()).with_status(self.status);
        for (name, value) in self.headers.iter() {
            r.headers.insert(name, value);
        }
        r
    }
}

impl fmt::Display for WebError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.title,
            self.detail
        )
    }
}

impl std::error::Error for WebError {}

impl From<BodyError> for WebError {
    fn from(e: BodyError) -> WebError {
        match e {
            BodyError::TooLarge => WebError::new(413, "request body too large"),
            BodyError::Parse(p) => WebError::new(p.status().as_u16(), p.to_string()),
            other => WebError::bad_request(other.to_string()),
        }
    }
}

impl From<std::io::Error> for WebError {
    fn from(e: std::io::Error) -> WebError {
        tracing::error!(error = %e, "I/O error in a handler");
        WebError::internal()
    }
}

impl From<serde_json::Error> for WebError {
    fn from(e: serde_json::Error) -> WebError {
        WebError::bad_request(format!("invalid JSON: {e}"))
    }
}
