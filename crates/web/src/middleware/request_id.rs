//! Request ids: reuse the client's `x-request-id` when it is sane, or
//! generate one; expose it to handlers and echo it in the response.
//!
//! Invariant: the id that reaches handlers, logs and the response is at
//! most 128 visible ASCII characters, so a client cannot inject anything
//! into logs or headers through it.

use std::cell::Cell;
use std::hash::{BuildHasher, RandomState};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::chain::{BoxFuture, Middleware, Next};
use crate::request::Request;

/// The request id, attached to the request as an extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestIdValue(pub String);

/// Propagates or generates a request id (header `x-request-id` by default).
#[derive(Debug, Clone)]
pub struct RequestId {
    /// The header field carrying the id.
    header: String,
    /// Seeds id generation.
    seed: RandomState,
    /// Counts generated ids, so two ids never collide within a process.
    counter: Cell<u64>,
}

impl Default for RequestId {
    fn default() -> Self {
        RequestId::new()
    }
}

impl RequestId {
    /// Uses `x-request-id`.
    pub fn new() -> RequestId {
        RequestId::with_header("x-request-id")
    }

    /// Uses another header field.
    pub fn with_header(name: &str) -> RequestId {
        RequestId {
            header: name.to_owned(),
            seed: RandomState::new(),
            counter: Cell::new(0),
        }
    }

    /// A fresh 32-hex-digit id.
    fn generate(&self) -> String {
        let n = self.counter.get().wrapping_add(1);
        self.counter.set(n);
        let t = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let a = self.seed.hash_one((n, t));
        let b = self.seed.hash_one((t, n, a));
        format!("{a:016x}{b:016x}")
    }
}

/// Whether a client-supplied id is safe to reuse.
fn acceptable(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_graphic())
}

impl Middleware for RequestId {
    fn call(&self, mut req: Request, next: Next) -> BoxFuture {
        let id = match req.header(&self.header) {
            Some(v) if acceptable(v) => v.to_owned(),
            _ => {
                let id = self.generate();
                req.set_header(&self.header, id.as_str());
                id
            }
        };
        req.insert_extension(RequestIdValue(id.clone()));
        let header = self.header.clone();
        Box::pin(async move {
            let mut res = next.run(req).await;
            res.headers.insert(header, id);
            Ok(res)
        })
    }
}
