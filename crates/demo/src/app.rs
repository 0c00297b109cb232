//! The route table, the shared state handlers see, bearer-token auth and
//! problem documents with extra members.
//!
//! `/health` and `/metrics` are public; every other route sits in a router
//! whose middleware checks the `Authorization: Bearer` token against the
//! `tokens` table (a query on the pool, like every query) before the
//! handler runs. Request ids and access logging wrap everything.

use std::future::Future;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Instant;

use rusqlite::OptionalExtension;
use serde_json::{Map, Value};
use waiter_http::Client;
use waiter_rt::diag::DelayMonitor;
use waiter_web::middleware::{Logger, RequestId};
use waiter_web::{App, IntoResponse, Next, Request, Response, Router, WebError};

use crate::db::Db;
use crate::{gateway, items, ops, search};

/// What every handler shares. Lives on the loop thread; no lock.
#[derive(Debug)]
pub(crate) struct Ctx {
    /// The database, queried on the pool.
    pub(crate) db: Db,
    /// The HTTP client for upstream calls (keep-alive pool per origin).
    pub(crate) client: Client,
    /// The base URL of the pricing and inventory service.
    pub(crate) upstream: String,
    /// When the server started.
    pub(crate) started: Instant,
    /// The event-loop delay histogram.
    pub(crate) delay: DelayMonitor,
    /// The loop whose counters `/metrics` shows, if known.
    /// The data directory.
    pub(crate) data_dir: PathBuf,
}

/// The user a valid token belongs to, attached to the request by auth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct User(pub(crate) String);

/// The app: middleware, public routes and the authenticated router.
pub(crate) fn build(ctx: &Rc<Ctx>) -> App {
    let mut app = App::new();
    app.use_(RequestId::new()).use_(Logger::new());
    app.get("/health", bind(ctx, ops::health));
    app.get("/metrics", bind(ctx, ops::metrics));

    let mut api = Router::new();
    let c = ctx.clone();
    api.use_(move |req: Request, next: Next| auth(c.clone(), req, next));
    api.get("/items", bind(ctx, items::list));
    api.post("/items", bind(ctx, items::create));
    api.get("/items/{id}", bind(ctx, items::get));
    api.get("/search", bind(ctx, search::search));
    api.get("/aggregate", bind(ctx, gateway::aggregate));
    api.get("/file", bind(ctx, ops::file));
    app.mount("/", api);
    app
}

/// A handler that calls `f` with the shared state and the request.
fn bind<F, Fut>(ctx: &Rc<Ctx>, f: F) -> impl Fn(Request) -> Fut + 'static
where
    F: Fn(Rc<Ctx>, Request) -> Fut + 'static,
    Fut: Future + 'static,
    Fut::Output: IntoResponse,
{
    let ctx = ctx.clone();
    move |req| f(ctx.clone(), req)
}

/// Lets the request through if its bearer token is in the `tokens` table.
async fn auth(ctx: Rc<Ctx>, mut req: Request, next: Next) -> Result<Response, WebError> {
    let Some(token) = bearer(&req) else {
        let e = unauthorized("send the API token as 'Authorization: Bearer <token>'");
        return Err(e.with_header("www-authenticate", "Bearer realm=\"waiter-demo\""));
    };
    let user = ctx
        .db
        .call(move |c| {
            c.query_row("SELECT user FROM tokens WHERE token = ?1", [token], |r| {
                r.get::<_, String>(0)
            })
            .optional()
        })
        .await?;
    let Some(user) = user else {
        let e = unauthorized("the token is not valid");
        let challenge = "Bearer realm=\"waiter-demo\", error=\"invalid_token\"";
        return Err(e.with_header("www-authenticate", challenge));
    };
    req.insert_extension(User(user));
    Ok(next.run(req).await)
}

/// The token of an `Authorization: Bearer` field, if well formed.
fn bearer(req: &Request) -> Option<String> {
    let v = req.header("authorization")?.trim();
    let (scheme, token) = v.split_once(' ')?;
    let token = token.trim();
    let sane = !token.is_empty() && token.len() <= 256 && !token.contains(' ');
    (scheme.eq_ignore_ascii_case("bearer") && sane).then(|| token.to_owned())
}

/// A 401 problem.
fn unauthorized(detail: &str) -> WebError {
    WebError::new(401, detail)
}

/// `error`'s problem document with extra members (RFC 9457 extensions),
/// with its status and headers.
pub(crate) fn problem_with(error: &WebError, extra: Map<String, Value>) -> Response {
    let mut doc: Map<String, Value> =
        serde_json::from_str(&error.to_json()).expect("a problem document is a JSON object");
    doc.extend(extra);
    let mut r = Response::bytes("application/problem+json", Value::Object(doc).to_string())
        .with_status(error.status);
    for (name, value) in error.headers.iter() {
        r.headers.insert(name, value);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_with_keeps_the_standard_members() {
        let mut extra = Map::new();
        extra.insert("errors".into(), serde_json::json!([{"field": "name"}]));
        let e = WebError::new(422, "1 field is invalid").with_header("x-a", "b");
        let r = problem_with(&e, extra);
        assert_eq!(r.status.as_u16(), 422);
        assert_eq!(r.headers.get_str("x-a"), Some("b"));
        assert_eq!(
            r.headers.get_str("content-type"),
            Some("application/problem+json")
        );
    }
}
