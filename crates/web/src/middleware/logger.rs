//! Request logging: one `tracing` event per request, at INFO, reading
//! `METHOD path status duration`, with a `request_id` field when
//! [`RequestId`](super::RequestId) ran first. The event is emitted after the response is
//! produced, so the status is the one sent (errors included).

use std::time::Instant;

use crate::chain::{BoxFuture, Middleware, Next};
use crate::request::Request;

use super::RequestIdValue;

/// Logs every request with `tracing` (target `waiter_web::access`).
#[derive(Debug, Default, Clone, Copy)]
pub struct Logger;

impl Logger {
    /// The logger.
    pub fn new() -> Logger {
        Logger
    }
}

impl Middleware for Logger {
    fn call(&self, req: Request, next: Next) -> BoxFuture {
        let method = req.method().clone();
        let path = req.path().to_owned();
        let id = req
            .extension::<RequestIdValue>()
            .map(|v| v.0.clone())
            .unwrap_or_default();
        let start = Instant::now();
        Box::pin(async move {
            let res = next.run(req).await;
            let micros = start.elapsed().as_micros() as u64;
            let (status, ms) = (res.status.as_u16(), micros as f64 / 1000.0);
            if id.is_empty() {
                tracing::info!(target: "waiter_web::access", "{method} {path} {status} {ms:.3}ms");
            } else {
                tracing::info!(
                    target: "waiter_web::access",
                    request_id = %id,
                    "{method} {path} {status} {ms:.3}ms"
                );
            }
            Ok(res)
        })
    }
}
