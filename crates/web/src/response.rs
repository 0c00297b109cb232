//! [`IntoResponse`] and response helpers.
//!
//! Anything a handler or middleware returns goes through [`IntoResponse`]:
//! a [`Response`], a [`WebError`], a `Result` of both, a string, or a
//! `(status, body)` pair. The helpers build the common responses.
//! Invariant: every helper sets a `content-type` matching the body.

use serde::Serialize;
use waiter_http::{Response, StatusCode};

use crate::cookie::SetCookie;
use crate::error::WebError;

/// What handlers and middleware may return.
pub trait IntoResponse {
    /// The response, or the error to render with the app's error hook.
    fn into_outcome(self) -> Result<Response, WebError>;
}

impl IntoResponse for Response {
    fn into_outcome(self) -> Result<Response, WebError> {
        Ok(self)
    }
}

impl IntoResponse for WebError {
    fn into_outcome(self) -> Result<Response, WebError> {
        Err(self)
    }
}

impl<T: IntoResponse, E: Into<WebError>> IntoResponse for Result<T, E> {
    fn into_outcome(self) -> Result<Response, WebError> {
        match self {
            Ok(t) => t.into_outcome(),
            Err(e) => Err(e.into()),
        }
    }
}

impl IntoResponse for &'static str {
    fn into_outcome(self) -> Result<Response, WebError> {
        Ok(Response::text(self))
    }
}

impl IntoResponse for String {
    fn into_outcome(self) -> Result<Response, WebError> {
        Ok(Response::text(self))
    }
}

impl<T: IntoResponse> IntoResponse for (u16, T) {
    fn into_outcome(self) -> Result<Response, WebError> {
        let status = StatusCode::from_u16(self.0).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        self.1.into_outcome().map(|r| r.with_status(status))
    }
}

/// A `200 application/json` response with `value` serialized; a value that
/// cannot be serialized becomes a 500 problem.
pub fn json<T: Serialize + ?Sized>(value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(v) => Response::json_bytes(v),
        Err(e) => {
            tracing::error!(error = %e, "cannot serialize a JSON response");
            WebError::internal().render()
        }
    }
}

/// A `200 text/plain; charset=utf-8` response.
pub fn text(s: impl Into<String>) -> Response {
    Response::text(s.into())
}

/// A `200 text/html; charset=utf-8` response.
pub fn html(s: impl Into<String>) -> Response {
    Response::html(s.into())
}

/// A `302 Found` redirect to `location`.
pub fn redirect(location: &str) -> Response {
    Response::redirect(status_code(302), location)
}

/// An empty response with `code` (invalid codes become 500).
pub fn status(code: u16) -> Response {
    Response::new(status_code(code))
}

/// The status code for `code` (invalid codes become 500).
pub fn status_code(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// Response conveniences.
pub trait ResponseExt {
    /// Appends a `Set-Cookie` field.
    fn with_cookie(self, cookie: &SetCookie) -> Response;
    /// Sets the status from a number (invalid codes become 500).
    fn with_code(self, code: u16) -> Response;
}

impl ResponseExt for Response {
    fn with_cookie(mut self, cookie: &SetCookie) -> Response {
        self.headers.append("set-cookie", cookie.to_string());
        self
    }

    fn with_code(self, code: u16) -> Response {
        self.with_status(status_code(code))
    }
}
