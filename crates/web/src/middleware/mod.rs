//! Built-in middleware: request logging ([`Logger`]), CORS ([`Cors`]),
//! request ids ([`RequestId`]) and gzip compression ([`Compression`]).
//!
//! Each is a value implementing [`Middleware`](crate::Middleware), added
//! with [`App::use_`](crate::App::use_). Order matters as for any
//! middleware: put [`RequestId`] before [`Logger`] so the log line can show
//! the id, and [`Compression`] last among those that change the body.

mod compress;
mod cors;
mod logger;
mod request_id;

pub use compress::Compression;
pub use cors::Cors;
pub use logger::Logger;
pub use request_id::{RequestId, RequestIdValue};

use waiter_http::Headers;

/// Adds `token` to the `Vary` field unless it is already listed; the
/// values of every `Vary` field line are kept, merged into one.
pub(crate) fn add_vary(headers: &mut Headers, token: &str) {
    if headers.contains_token("vary", token) || headers.contains_token("vary", "*") {
        return;
    }
    let mut merged: Vec<String> = headers
        .list("vary")
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect();
    merged.push(token.to_owned());
    headers.insert("vary", merged.join(", "));
}
