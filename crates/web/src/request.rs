//! The request a web handler sees: the HTTP request plus what routing
//! found (path parameters, the path below a mount point) and typed
//! extensions that middleware can attach.
//!
//! [`Request`] dereferences to [`waiter_http::Request`], so `method()`,
//! `path()`, `query()`, `target()`, `headers()`, `header()` and
//! `body_mut()` are the HTTP layer's.
//!
//! Invariants: path parameters are percent-decoded once, when the route
//! matches; `rel_path` is the raw (still encoded) rest of the path below a
//! mount point. Body extractors enforce their limit while reading, so an
//! oversized body is never buffered whole.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::rc::Rc;

use bytes::Bytes;
use serde::de::DeserializeOwned;
use waiter_http::RequestBody;

use crate::codec::{parse_pairs, percent_decode};
use crate::cookie::parse_cookies;
use crate::error::WebError;

/// The default limit for body extractors: 1 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// A request, as handlers and middleware see it.
pub struct Request {
    /// The HTTP request.
    inner: waiter_http::Request,
    /// Decoded path parameters, in pattern order.
    params: Vec<(String, String)>,
    /// For a mounted route: where the path below the mount point starts
    /// in the path, and that part of it.
    rel_path: Option<(usize, String)>,
    /// Values attached by middleware, one per type (shared, so that error
    /// middleware can see them after the request is gone).
    extensions: HashMap<TypeId, Rc<dyn Any>>,
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("inner", &self.inner)
            .field("params", &self.params)
            .field("rel_path", &self.rel_path)
            .finish_non_exhaustive()
    }
}

impl Deref for Request {
    type Target = waiter_http::Request;

    fn deref(&self) -> &waiter_http::Request {
        &self.inner
    }
}

impl DerefMut for Request {
    fn deref_mut(&mut self) -> &mut waiter_http::Request {
        &mut self.inner
    }
}

impl From<waiter_http::Request> for Request {
    fn from(inner: waiter_http::Request) -> Request {
        Request {
            inner,
            params: Vec::new(),
            rel_path: None,
            extensions: HashMap::new(),
        }
    }
}

impl Request {
    /// The HTTP request.
    pub fn into_inner(self) -> waiter_http::Request {
        self.inner
    }

    /// A path parameter, percent-decoded (`{id}` in `/users/{id}`).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every path parameter, in pattern order.
    pub fn params(&self) -> &[(String, String)] {
        &self.params
    }

    pub(crate) fn set_route(
        &mut self,
        params: Vec<(String, String)>,
        rel: Option<(usize, String)>,
    ) {
        self.params = params;
        self.rel_path = rel;
    }

    /// For a route mounted under a prefix, the raw path below the prefix,
    /// as Express's `req.path`: `/a/b.txt` for `/static/a/b.txt` under
    /// `/static`. The prefix itself is empty for a mounted handler and `/`
    /// for a mounted router's routes. Otherwise the whole path.
    pub fn rel_path(&self) -> &str {
        match &self.rel_path {
            Some((_, rel)) => rel,
            None => self.inner.path(),
        }
    }

    /// For a route mounted under a prefix, the part of the raw path that
    /// matched the prefix, as Express's `req.baseUrl` (`/static` for
    /// `/static/a/b.txt`); otherwise empty. The whole path is always
    /// [`path`](waiter_http::Request::path).
    pub fn base_path(&self) -> &str {
        match &self.rel_path {
            Some((at, _)) => &self.inner.path()[..*at],
            None => "",
        }
    }

    /// Decoded query pairs, in order (`+` is a space).
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        self.inner.query().map(parse_pairs).unwrap_or_default()
    }

    /// The first decoded query parameter called `name`.
    pub fn query_param(&self, name: &str) -> Option<String> {
        let q = self.inner.query()?;
        q.split('&').find_map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k, true) == name).then(|| percent_decode(v, true))
        })
    }

    /// Every cookie of the `Cookie` fields, in order.
    pub fn cookies(&self) -> Vec<(String, String)> {
        self.inner
            .headers()
            .get_all("cookie")
            .filter_map(|v| std::str::from_utf8(v).ok())
            .flat_map(parse_cookies)
            .collect()
    }

    /// The value of the cookie called `name`.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    /// Sets a request header field (for middleware that passes information
    /// down the chain, such as a request id).
    pub fn set_header(&mut self, name: &str, value: impl AsRef<[u8]>) {
        let mut head = self.inner.head().clone();
        head.headers.insert(name, value);
        let body = std::mem::replace(self.inner.body_mut(), RequestBody::empty());
        let remote = self.inner.remote_addr();
        self.inner = waiter_http::Request::from_parts(head, body, remote);
    }

    /// Attaches a value, replacing one of the same type.
    pub fn insert_extension<T: 'static>(&mut self, value: T) {
        self.extensions.insert(TypeId::of::<T>(), Rc::new(value));
    }

    pub(crate) fn extensions(&self) -> &HashMap<TypeId, Rc<dyn Any>> {
        &self.extensions
    }

    /// The attached value of type `T`.
    pub fn extension<T: 'static>(&self) -> Option<&T> {
        self.extensions.get(&TypeId::of::<T>())?.downcast_ref()
    }

    /// The whole body, failing with 413 past `limit` bytes.
    pub async fn bytes(&mut self, limit: usize) -> Result<Bytes, WebError> {
        Ok(self.inner.body_mut().bytes(limit).await?)
    }

    /// The whole body as UTF-8 text (400 if it is not UTF-8).
    pub async fn text(&mut self, limit: usize) -> Result<String, WebError> {
        let b = self.bytes(limit).await?;
        String::from_utf8(b.to_vec()).map_err(|_| WebError::bad_request("body is not UTF-8"))
    }

    /// The media type of the body, lowercased, without parameters.
    pub fn content_type(&self) -> Option<String> {
        let ct = self.inner.header("content-type")?;
        let essence = ct.split(';').next().unwrap_or("").trim();
        Some(essence.to_ascii_lowercase())
    }

    /// The body parsed as JSON: 415 unless the content type is JSON
    /// (`application/json` or `*/*+json`), 413 past `limit` bytes (see
    /// [`DEFAULT_BODY_LIMIT`]), 400 with serde's message if it does not
    /// parse as `T`.
    pub async fn json<T: DeserializeOwned>(&mut self, limit: usize) -> Result<T, WebError> {
        let ct = self.content_type().unwrap_or_default();
        if ct != "application/json" && !ct.ends_with("+json") {
            let detail = "expected a body with content-type application/json";
            return Err(WebError::new(415, detail));
        }
        let body = self.bytes(limit).await?;
        serde_json::from_slice(&body)
            .map_err(|e| WebError::bad_request(format!("invalid JSON: {e}")))
    }

    /// The body parsed as `application/x-www-form-urlencoded` into `T`:
    /// 415 for another content type, 413 past `limit`, 400 if it does not
    /// fit `T`.
    pub async fn form<T: DeserializeOwned>(&mut self, limit: usize) -> Result<T, WebError> {
        if self.content_type().as_deref() != Some("application/x-www-form-urlencoded") {
            let detail = "expected a body with content-type application/x-www-form-urlencoded";
            return Err(WebError::new(415, detail));
        }
        let body = self.bytes(limit).await?;
        let body = String::from_utf8_lossy(&body);
        crate::form::from_pairs(parse_pairs(&body))
            .map_err(|e| WebError::bad_request(format!("invalid form: {e}")))
    }

    /// The query string parsed into `T` (400 if it does not fit). A
    /// repeated key fills a `Vec` field (`?tag=a&tag=b`); for any other
    /// field it is an error.
    pub fn query_as<T: DeserializeOwned>(&self) -> Result<T, WebError> {
        crate::form::from_pairs(self.query_pairs())
            .map_err(|e| WebError::bad_request(format!("invalid query: {e}")))
    }
}
