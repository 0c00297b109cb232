//! Request logging: one `tracing` event per request, at INFO, reading
//! `METHOD path status duration`, with a `request_id` field when
//! [`RequestId`](super::RequestId) ran first. The event is emitted when
//! the server has written the whole response (see
//! [`Response::on_finish`](waiter_http::Response::on_finish)), so the
//! status is the one sent (errors included) and the duration covers the
//! transfer of a streamed or file body; a response cut short (the client
//! left, the connection failed) is logged with `aborted` after the
//! duration.

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
            let status = res.status.as_u16();
            Ok(res.on_finish(move |complete| {
                let ms = start.elapsed().as_micros() as f64 / 1000.0;
                let end = if complete { "" } else { " aborted" };
                if id.is_empty() {
                    tracing::info!(target: "waiter_web::access", "{method} {path} {status} {ms:.3}ms{end}");
                } else {
                    tracing::info!(
                        target: "waiter_web::access",
                        request_id = %id,
                        "{method} {path} {status} {ms:.3}ms{end}"
                    );
                }
            }))
        })
    }
}
