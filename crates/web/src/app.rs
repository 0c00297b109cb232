//! [`App`]: the route table, the middleware list and the error hook.
//!
//! Routes are matched with `matchit` on the raw request path: static
//! segments win over `{param}` segments, which win over `{*catch_all}`.
//! Per path, a route answers one method or all of them; `HEAD` falls back
//! to the `GET` route (the server drops the body), `OPTIONS` answers 204
//! with `Allow` unless routed, and any other method gets 405 with `Allow`.
//! Paths that match nothing go to the fallback handler, or 404.
//!
//! Mounting is flattening: `mount("/api", router)` copies the router's
//! routes under the prefix, each keeping the router's middleware (which
//! therefore runs only for those routes, after the app's). A mounted
//! handler answers the prefix itself, the prefix with a slash and
//! everything below it. Every mounted route, a router's as a handler's,
//! sees the path below its mount point in [`Request::rel_path`] (`/`
//! for the mount point itself in a router, as Express's `req.path`) and
//! the part above in [`Request::base_path`]. A mounted router's error
//! middleware, and its renderer if it set one, handle its routes' errors
//! before the app's error middleware (see [`catch`](crate::catch)); its
//! fallback is not carried over: the app's applies.
//!
//! Invariants: a conflicting pattern or a second route for the same method
//! and path is a programming error and panics at registration; the table
//! does not change once the app serves.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use waiter_http::{Method, Response};

use crate::catch::{Catch, ErrorMiddleware, ErrorRequest, ErrorStack};
use crate::chain::{BoxFuture, ErrorHook, Fail, Handler, Middleware, Next, Options, Stack};
use crate::codec::percent_decode;
use crate::error::WebError;
use crate::request::Request;

/// The name of the catch-all parameter of mounted handlers.
const REST: &str = "__waiter_rest";

/// Which part of the path a mounted handler sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rel {
    /// Not mounted: the whole path.
    Whole,
    /// A mounted router's route: the path below this many segments (those
    /// of the prefixes it is mounted under), or `/` for the prefix itself.
    Below(usize),
    /// The mount point itself: an empty relative path.
    Exact,
    /// The mount point with a slash: `/`.
    Slash,
    /// Below the mount point: `/` and the catch-all.
    Rest,
}

/// One route: a method (or any), a handler and its router's middleware.
#[derive(Clone)]
struct Route {
    /// The method answered, or `None` for any.
    method: Option<Method>,
    /// The handler.
    handler: Rc<dyn Handler>,
    /// The middleware of the router the route was declared in.
    middleware: Stack,
    /// The error middleware of the routers it was mounted from, innermost
    /// first.
    errors: ErrorStack,
    /// What `rel_path` the handler sees.
    rel: Rel,
    /// `METHOD pattern`, named in stall reports while the route's handler
    /// runs. Made once per route and kept for the life of the process.
    label: &'static str,
}

/// An application or a router to mount into one.
pub struct App {
    /// Pattern to index into `paths`.
    router: matchit::Router<usize>,
    /// Every pattern and its routes, in registration order.
    paths: Vec<(String, Vec<Route>)>,
    /// Pattern to index into `paths`.
    index: HashMap<String, usize>,
    /// Middleware, in registration order.
    middleware: Stack,
    /// Error middleware, in registration order.
    errors: ErrorStack,
    /// Renders errors no error middleware answered (by default the
    /// problem document).
    on_error: Rc<ErrorHook>,
    /// Whether `on_error` was set (a mounted router's own renderer is
    /// carried over; the default is the app's to apply).
    own_renderer: bool,
    /// Answers paths no route matches.
    fallback: Option<Rc<dyn Handler>>,
}

/// Another name for [`App`], for sub-routers meant to be mounted.
pub type Router = App;

impl fmt::Debug for App {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let patterns: Vec<_> = self.paths.iter().map(|(p, _)| p.as_str()).collect();
        f.debug_struct("App")
            .field("patterns", &patterns)
            .field("middleware", &self.middleware.len())
            .field("fallback", &self.fallback.is_some())
            .finish()
    }
}

impl Default for App {
    fn default() -> Self {
        App::new()
    }
}

impl App {
    /// An app with no route: everything is 404.
    pub fn new() -> App {
        App {
            router: matchit::Router::new(),
            paths: Vec::new(),
            index: HashMap::new(),
            middleware: Rc::new(Vec::new()),
            errors: Rc::new(Vec::new()),
            on_error: Rc::new(problem),
            own_renderer: false,
            fallback: None,
        }
    }

    /// Routes `method` requests for `path` (a `matchit` pattern such as
    /// `/users/{id}` or `/files/{*path}`) to `handler`.
    pub fn route(&mut self, method: Method, path: &str, handler: impl Handler) -> &mut Self {
        self.add(
            path,
            Some(method),
            Rc::new(handler),
            Rc::new(Vec::new()),
            Rc::new(Vec::new()),
            Rel::Whole,
        )
    }

    /// Routes `GET` (and so `HEAD`).
    pub fn get(&mut self, path: &str, handler: impl Handler) -> &mut Self {
        self.route(Method::Get, path, handler)
    }

    /// Routes `POST`.
    pub fn post(&mut self, path: &str, handler: impl Handler) -> &mut Self {
        self.route(Method::Post, path, handler)
    }

    /// Routes `PUT`.
    pub fn put(&mut self, path: &str, handler: impl Handler) -> &mut Self {
        self.route(Method::Put, path, handler)
    }

    /// Routes `DELETE`.
    pub fn delete(&mut self, path: &str, handler: impl Handler) -> &mut Self {
        self.route(Method::Delete, path, handler)
    }

    /// Routes `PATCH`.
    pub fn patch(&mut self, path: &str, handler: impl Handler) -> &mut Self {
        self.route(Method::Patch, path, handler)
    }

    /// Routes every method not routed otherwise for `path`.
    pub fn all(&mut self, path: &str, handler: impl Handler) -> &mut Self {
        self.add(
            path,
            None,
            Rc::new(handler),
            Rc::new(Vec::new()),
            Rc::new(Vec::new()),
            Rel::Whole,
        )
    }

    /// Adds a middleware after the ones already added. It runs for every
    /// request, including those answered 404 or 405.
    pub fn use_(&mut self, middleware: impl Middleware) -> &mut Self {
        Rc::make_mut(&mut self.middleware).push(Rc::new(middleware));
        self
    }

    /// Adds an error-handling middleware after the ones already added: it
    /// sees every error raised while handling a request (404 and 405
    /// included) with the request, and answers it or passes it on (see
    /// [`catch`](crate::catch)).
    pub fn use_error(&mut self, middleware: impl ErrorMiddleware) -> &mut Self {
        Rc::make_mut(&mut self.errors).push(Rc::new(middleware));
        self
    }

    /// Replaces the rendering of the errors no error middleware answered
    /// (by default the problem document, [`WebError::render`]).
    pub fn on_error(&mut self, hook: impl Fn(WebError) -> Response + 'static) -> &mut Self {
        self.on_error = Rc::new(hook);
        self.own_renderer = true;
        self
    }

    /// Answers requests whose path matches no route (instead of 404).
    pub fn fallback(&mut self, handler: impl Handler) -> &mut Self {
        self.fallback = Some(Rc::new(handler));
        self
    }

    /// Mounts a router or a handler under `prefix` (see the module doc).
    pub fn mount(&mut self, prefix: &str, what: impl Into<Mount>) -> &mut Self {
        let prefix = prefix.trim_end_matches('/');
        match what.into() {
            Mount::Router(sub) => self.mount_router(prefix, *sub),
            Mount::Handler(h) => {
                let none: Stack = Rc::new(Vec::new());
                let no: ErrorStack = Rc::new(Vec::new());
                if !prefix.is_empty() {
                    self.add(
                        prefix,
                        None,
                        h.clone(),
                        none.clone(),
                        no.clone(),
                        Rel::Exact,
                    );
                }
                self.add(
                    &format!("{prefix}/"),
                    None,
                    h.clone(),
                    none.clone(),
                    no.clone(),
                    Rel::Slash,
                );
                self.add(
                    &format!("{prefix}/{{*{REST}}}"),
                    None,
                    h,
                    none,
                    no,
                    Rel::Rest,
                )
            }
        }
    }

    /// Mounts the routes of `sub` under `prefix`.
    fn mount_router(&mut self, prefix: &str, sub: App) -> &mut Self {
        // The router's error middleware, then its renderer if it has its
        // own: after those of routers mounted into it.
        let mut sub_errors = (*sub.errors).clone();
        if sub.own_renderer {
            sub_errors.push(Rc::new(Render(sub.on_error)));
        }
        for (pattern, routes) in sub.paths {
            let full = match pattern.as_str() {
                "/" if !prefix.is_empty() => prefix.to_owned(),
                p => format!("{prefix}{p}"),
            };
            let segments = prefix.matches('/').count();
            for r in routes {
                let mut stack = (*sub.middleware).clone();
                stack.extend(r.middleware.iter().cloned());
                let mut errors = (*r.errors).clone();
                errors.extend(sub_errors.iter().cloned());
                let rel = match r.rel {
                    Rel::Whole if segments > 0 => Rel::Below(segments),
                    Rel::Below(n) => Rel::Below(n + segments),
                    other => other,
                };
                self.add(
                    &full,
                    r.method,
                    r.handler,
                    Rc::new(stack),
                    Rc::new(errors),
                    rel,
                );
            }
        }
        self
    }

    /// Adds one route, panicking on conflicts.
    fn add(
        &mut self,
        pattern: &str,
        method: Option<Method>,
        handler: Rc<dyn Handler>,
        middleware: Stack,
        errors: ErrorStack,
        rel: Rel,
    ) -> &mut Self {
        let i = match self.index.get(pattern) {
            Some(&i) => i,
            None => {
                let i = self.paths.len();
                if let Err(e) = self.router.insert(pattern, i) {
                    panic!("cannot route {pattern:?}: {e}");
                }
                self.paths.push((pattern.to_owned(), Vec::new()));
                self.index.insert(pattern.to_owned(), i);
                i
            }
        };
        let routes = &mut self.paths[i].1;
        if routes.iter().any(|r| r.method == method) {
            let m = method.as_ref().map_or("any method", |m| m.as_str());
            panic!("{pattern:?} is already routed for {m}");
        }
        let m = method.as_ref().map_or("*", |m| m.as_str());
        let label: &'static str = Box::leak(format!("{m} {pattern}").into_boxed_str());
        routes.push(Route {
            method,
            handler,
            middleware,
            errors,
            rel,
            label,
        });
        self
    }

    /// This app as the server's handler (an `App` is one already).
    pub fn into_handler(self) -> impl waiter_http::server::Handler {
        self
    }

    /// Finds what answers `req`, filling in its parameters.
    fn resolve(&self, req: &mut Request) -> Resolved {
        let unrouted = |endpoint: Rc<dyn Handler>| Resolved {
            endpoint,
            middleware: Rc::new(Vec::new()),
            errors: Rc::new(Vec::new()),
            label: None,
        };
        // Routing is not strict about a trailing slash, as Express's is
        // not by default: `/users/7/` finds `/users/7` when nothing more
        // specific matches it.
        let path = req.path();
        let found = self
            .router
            .at(path)
            .or_else(|e| match path.strip_suffix('/') {
                Some(p) if !p.is_empty() => self.router.at(p),
                _ => Err(e),
            });
        let Ok(m) = found else {
            let h = self.fallback.clone().unwrap_or_else(|| {
                Rc::new(Fail(WebError::not_found(format!(
                    "no route for {}",
                    req.path()
                ))))
            });
            return unrouted(h);
        };
        let routes = &self.paths[*m.value].1;
        let Some(route) = pick(routes, req.method()) else {
            let allow = allow(routes);
            if *req.method() == Method::Options {
                return unrouted(Rc::new(Options(allow)));
            }
            let detail = format!("{} is not allowed here; allowed: {allow}", req.method());
            let e = WebError::new(405, detail).with_header("allow", allow);
            return unrouted(Rc::new(Fail(e)));
        };
        let mut params = Vec::new();
        let mut rest = None;
        for (k, v) in m.params.iter() {
            if k == REST {
                rest = Some(format!("/{v}"));
            } else {
                params.push((k.to_owned(), percent_decode(v, false)));
            }
        }
        let path = req.path();
        let rel = match route.rel {
            Rel::Whole => None,
            Rel::Exact => Some((path.len(), String::new())),
            Rel::Slash => Some((path.len() - 1, "/".to_owned())),
            Rel::Rest => rest.map(|r| (path.len() - r.len(), r)),
            Rel::Below(n) => Some(below(path, n)),
        };
        let out = Resolved {
            endpoint: route.handler.clone(),
            middleware: route.middleware.clone(),
            errors: route.errors.clone(),
            label: Some(route.label),
        };
        req.set_route(params, rel);
        out
    }
}

/// What answers a request.
struct Resolved {
    endpoint: Rc<dyn Handler>,
    /// The middleware of the route's routers.
    middleware: Stack,
    /// The error middleware of the route's routers.
    errors: ErrorStack,
    /// The route's label, if a route matched.
    label: Option<&'static str>,
}

/// A renderer set on a mounted router, as the last of its error
/// middleware: it answers every error.
struct Render(Rc<ErrorHook>);

impl ErrorMiddleware for Render {
    fn call(&self, err: WebError, _req: ErrorRequest) -> BoxFuture {
        let r = (self.0)(err);
        Box::pin(async move { Ok(r) })
    }
}

/// The default renderer: the problem document.
fn problem(e: WebError) -> Response {
    e.render()
}

/// Splits `path` after its first `n` segments: where the rest starts and
/// the rest, which is `/` when nothing is left.
fn below(path: &str, n: usize) -> (usize, String) {
    match path.match_indices('/').nth(n) {
        Some((i, _)) => (i, path[i..].to_owned()),
        None => (path.len(), "/".to_owned()),
    }
}

/// The route for `method`: exact, then `GET` for `HEAD`, then any-method.
fn pick<'a>(routes: &'a [Route], method: &Method) -> Option<&'a Route> {
    let find = |m: &Method| routes.iter().find(|r| r.method.as_ref() == Some(m));
    find(method)
        .or_else(|| {
            (*method == Method::Head)
                .then(|| find(&Method::Get))
                .flatten()
        })
        .or_else(|| routes.iter().find(|r| r.method.is_none()))
}

/// The `Allow` value for a path's routes.
fn allow(routes: &[Route]) -> String {
    let order = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
    let mut names: Vec<String> = Vec::new();
    for r in routes {
        match &r.method {
            None => names.extend(order.iter().map(|s| s.to_string())),
            Some(Method::Get) => names.extend(["GET".to_owned(), "HEAD".to_owned()]),
            Some(m) => names.push(m.as_str().to_owned()),
        }
    }
    names.push("OPTIONS".to_owned());
    let rank = |n: &String| order.iter().position(|o| o == n).unwrap_or(order.len());
    names.sort_by(|a, b| rank(a).cmp(&rank(b)).then_with(|| a.cmp(b)));
    names.dedup();
    names.join(", ")
}

/// What [`App::mount`] accepts: a router, or any handler.
pub enum Mount {
    /// A router whose routes are copied under the prefix.
    Router(Box<App>),
    /// A handler for the prefix and everything below it.
    Handler(Rc<dyn Handler>),
}

impl fmt::Debug for Mount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mount::Router(a) => f.debug_tuple("Mount::Router").field(a).finish(),
            Mount::Handler(_) => f.write_str("Mount::Handler"),
        }
    }
}

impl From<App> for Mount {
    fn from(a: App) -> Mount {
        Mount::Router(Box::new(a))
    }
}

impl<H: Handler> From<H> for Mount {
    fn from(h: H) -> Mount {
        Mount::Handler(Rc::new(h))
    }
}

impl waiter_http::server::Handler for App {
    type Future = Pin<Box<dyn Future<Output = Response>>>;

    fn call(&self, req: waiter_http::Request) -> Pin<Box<dyn Future<Output = Response>>> {
        let mut req = Request::from(req);
        let route = self.resolve(&mut req);
        let catch = Catch::new(route.errors, self.errors.clone(), self.on_error.clone());
        // The request as it arrived, for an error raised before the
        // handler runs.
        catch.note(&req);
        let next = Next {
            global: self.middleware.clone(),
            local: route.middleware,
            pos: 0,
            endpoint: route.endpoint,
            catch,
        };
        match route.label {
            Some(label) => Box::pin(Labelled {
                label,
                future: next.run(req),
            }),
            None => Box::pin(next.run(req)),
        }
    }
}

pin_project_lite::pin_project! {
    /// Names the matched route in stall reports while the request's
    /// middleware and handler are polled.
    struct Labelled<F> {
        label: &'static str,
        #[pin]
        future: F,
    }
}

impl<F: Future> Future for Labelled<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<F::Output> {
        let this = self.project();
        let _label = waiter_rt::diag::set_stall_label(*this.label);
        this.future.poll(cx)
    }
}
