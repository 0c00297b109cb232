//! An Express-style layer on [`waiter_http`]: routing with path
//! parameters, middleware around handlers, extractors, errors as JSON
//! problem documents, built-in middleware and static files.
//!
//! ```no_run
//! use waiter_web::{App, Request, WebError};
//!
//! let mut app = App::new();
//! app.use_(|req: Request, next: waiter_web::Next| async move {
//!     let res = next.run(req).await; // the rest of the chain
//!     res.with_header("x-powered-by", "waiter")
//! });
//! app.get("/users/{id}", |req: Request| async move {
//!     let id: u32 = req.param("id").unwrap().parse().map_err(|_| WebError::bad_request("bad id"))?;
//!     Ok::<_, WebError>(waiter_web::json(&serde_json::json!({ "id": id })))
//! });
//! waiter_rt::run(async {
//!     let server = waiter_http::Server::builder()
//!         .listen("127.0.0.1:8080".parse().unwrap(), app)
//!         .unwrap();
//!     server.closed().await;
//! });
//! ```
//!
//! # Ordering rules
//!
//! - Middleware added with [`App::use_`] runs in registration order, for
//!   every request, whether it was registered before or after the routes:
//!   it wraps the matched route. Requests that match no route (404), or
//!   match a path but not its method (405, or the automatic `OPTIONS`
//!   answer), run through the same middleware, around the error.
//! - The middleware of a router mounted with [`App::mount`] runs after the
//!   app's, and only for that router's routes.
//! - A middleware that returns without calling [`Next::run`] stops the
//!   chain: later middleware and the handler do not run.
//! - A handler or middleware may fail with a [`WebError`] (or panic);
//!   where the error leaves the failing step it goes through the error
//!   middleware ([`App::use_error`]: the route's routers' first, then the
//!   app's, each able to answer it or pass it on) and, if none answers,
//!   the renderer ([`App::on_error`], by default an
//!   `application/problem+json` document). The middleware around the
//!   failing step sees an ordinary response.
#![forbid(unsafe_code)]

mod app;
pub mod catch;
mod chain;
mod codec;
mod cookie;
mod error;
mod form;
pub mod middleware;
mod request;
mod response;
pub mod static_files;

pub use app::{App, Mount, Router};
pub use catch::{ErrorMiddleware, ErrorRequest};
pub use chain::{BoxFuture, ErrorHook, Handler, Middleware, Next};
pub use codec::{html_escape, parse_pairs, percent_decode};
pub use cookie::{parse_cookies, SameSite, SetCookie};
pub use error::WebError;
pub use request::{Request, DEFAULT_BODY_LIMIT};
pub use response::{html, json, redirect, status, status_code, text, IntoResponse, ResponseExt};
pub use waiter_http::{Body, Method, Response, StatusCode};
