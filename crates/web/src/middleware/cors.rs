//! Cross-origin resource sharing.
//!
//! A request without `Origin` passes through untouched. A preflight
//! (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) is
//! answered here, without running the rest of the chain: 204 with the
//! allowed origin, methods, headers and max-age, or 403 if the origin or
//! method is not allowed. Any other request from an allowed origin runs
//! the chain and gets `Access-Control-Allow-Origin` (and the other
//! response headers) added; from another origin it runs unchanged, and the
//! browser blocks the response. Invariant: with credentials allowed the
//! origin is echoed, never `*`, and `Vary: Origin` is always set when the
//! answer depends on the origin (a list of origins, or credentials), on
//! every response including those to requests without `Origin` or from an
//! origin not allowed, so a shared cache never serves one origin's answer
//! to another. With credentials and any origin, the opaque origin `null`
//! (sandboxed frames, `file:` pages, some redirects) is not echoed: it
//! would let any such page read responses made with the user's cookies.
//! List it explicitly to allow it.

use waiter_http::{Method, Response};

use crate::chain::{BoxFuture, Middleware, Next};
use crate::error::WebError;
use crate::request::Request;

use super::add_vary;

/// CORS settings; [`Cors::new`] allows any origin with the usual methods.
#[derive(Debug, Clone)]
pub struct Cors {
    /// Allowed origins; `None` means any.
    origins: Option<Vec<String>>,
    /// Allowed methods.
    methods: Vec<String>,
    /// Allowed request headers; `None` echoes what the preflight asks for.
    headers: Option<Vec<String>>,
    /// Response headers exposed to scripts.
    expose: Vec<String>,
    /// Whether credentials (cookies) are allowed.
    credentials: bool,
    /// How long a preflight may be cached, in seconds.
    max_age: Option<u64>,
}

impl Default for Cors {
    fn default() -> Self {
        Cors::new()
    }
}

impl Cors {
    /// Any origin; GET, HEAD, POST, PUT, PATCH, DELETE; any request header.
    pub fn new() -> Cors {
        let methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"];
        Cors {
            origins: None,
            methods: methods.iter().map(|s| s.to_string()).collect(),
            headers: None,
            expose: Vec::new(),
            credentials: false,
            max_age: Some(600),
        }
    }

    /// Allows only these origins (`https://example.com`, exact match).
    pub fn origins<S: Into<String>>(mut self, o: impl IntoIterator<Item = S>) -> Self {
        self.origins = Some(o.into_iter().map(Into::into).collect());
        self
    }

    /// Allows these methods.
    pub fn methods<S: Into<String>>(mut self, m: impl IntoIterator<Item = S>) -> Self {
        self.methods = m.into_iter().map(Into::into).collect();
        self
    }

    /// Allows these request headers.
    pub fn headers<S: Into<String>>(mut self, h: impl IntoIterator<Item = S>) -> Self {
        self.headers = Some(h.into_iter().map(Into::into).collect());
        self
    }

    /// Exposes these response headers.
    pub fn expose<S: Into<String>>(mut self, h: impl IntoIterator<Item = S>) -> Self {
        self.expose = h.into_iter().map(Into::into).collect();
        self
    }

    /// Allows credentials.
    pub fn credentials(mut self, on: bool) -> Self {
        self.credentials = on;
        self
    }

    /// Sets the preflight max-age (`None` to omit it).
    pub fn max_age(mut self, secs: Option<u64>) -> Self {
        self.max_age = secs;
        self
    }

    /// Whether `origin` may read responses.
    fn allows(&self, origin: &str) -> bool {
        match &self.origins {
            None => !(self.credentials && origin == "null"),
            Some(list) => list.iter().any(|o| o == origin),
        }
    }

    /// Whether the answer depends on the request's origin.
    fn varies(&self) -> bool {
        self.origins.is_some() || self.credentials
    }

    /// The `Access-Control-Allow-Origin` value for `origin`.
    fn allow_origin(&self, origin: &str) -> String {
        if self.origins.is_none() && !self.credentials {
            "*".to_owned()
        } else {
            origin.to_owned()
        }
    }

    /// Adds the headers every CORS response carries.
    fn decorate(&self, res: &mut Response, origin: &str) {
        res.headers
            .insert("access-control-allow-origin", self.allow_origin(origin));
        if self.credentials {
            res.headers
                .insert("access-control-allow-credentials", "true");
        }
        if self.varies() {
            add_vary(&mut res.headers, "origin");
        }
    }

    /// The answer to a preflight.
    fn preflight(&self, req: &Request, origin: &str, method: &str) -> Result<Response, WebError> {
        if !self.allows(origin) {
            return Err(WebError::forbidden(format!(
                "origin {origin} is not allowed"
            )));
        }
        if !self.methods.iter().any(|m| m.eq_ignore_ascii_case(method)) {
            return Err(WebError::forbidden(format!(
                "method {method} is not allowed"
            )));
        }
        let mut res = crate::response::status(204);
        self.decorate(&mut res, origin);
        res.headers
            .insert("access-control-allow-methods", self.methods.join(", "));
        let asked = req.header("access-control-request-headers").unwrap_or("");
        let allowed = match &self.headers {
            Some(h) => h.join(", "),
            None => asked.to_owned(),
        };
        if !allowed.is_empty() {
            res.headers.insert("access-control-allow-headers", allowed);
        }
        if self.headers.is_none() {
            add_vary(&mut res.headers, "access-control-request-headers");
        }
        if let Some(s) = self.max_age {
            res.headers.insert("access-control-max-age", s.to_string());
        }
        Ok(res)
    }
}

impl Middleware for Cors {
    fn call(&self, req: Request, next: Next) -> BoxFuture {
        let varies = self.varies();
        // Unchanged but for `Vary: Origin` when the answer depends on it.
        let pass = move |req: Request, next: Next| -> BoxFuture {
            Box::pin(async move {
                let mut res = next.run(req).await;
                if varies {
                    add_vary(&mut res.headers, "origin");
                }
                Ok(res)
            })
        };
        let Some(origin) = req.header("origin").map(str::to_owned) else {
            return pass(req, next);
        };
        if *req.method() == Method::Options {
            if let Some(m) = req.header("access-control-request-method") {
                let r = self.preflight(&req, &origin, m);
                return Box::pin(async move { r });
            }
        }
        if !self.allows(&origin) {
            return pass(req, next);
        }
        // Build the headers now, so the future does not borrow `self`.
        let mut extra = Response::new(waiter_http::StatusCode::OK);
        self.decorate(&mut extra, &origin);
        if !self.expose.is_empty() {
            extra
                .headers
                .insert("access-control-expose-headers", self.expose.join(", "));
        }
        Box::pin(async move {
            let mut res = next.run(req).await;
            for (name, value) in extra.headers.iter() {
                if name.eq_ignore_ascii_case("vary") {
                    add_vary(&mut res.headers, "origin");
                } else {
                    res.headers.insert(name, value);
                }
            }
            Ok(res)
        })
    }
}
