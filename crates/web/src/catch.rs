//! Error-handling middleware: what runs when a step of the chain fails.
//!
//! An error ([`WebError`]) raised by a handler or a middleware, or a
//! panic in one, goes through the error middleware of the route's routers
//! (innermost mounted router first, each router's in registration order),
//! then the app's, as Express passes `next(err)` to the error handlers
//! registered after the failing step. Each one sees the error and the
//! request ([`ErrorRequest`]) and either answers it with a response or
//! passes it on, as it is or as another error, by returning `Err`. An
//! error no one answers is rendered by the app's renderer
//! ([`App::on_error`](crate::App::on_error), by default the problem
//! document).
//!
//! Invariants: the chain runs once per error, at the [`Next::run`]
//! boundary the error first crosses (or where it leaves the app), so the
//! middleware around the failing step sees the response it produced. A
//! panic inside an error middleware is itself an error (500) passed to the
//! next one. The request an error middleware sees is a copy made only for
//! routes that have error middleware: as the handler received it, or as
//! it arrived for an error raised before the handler ran.
//!
//! [`Next::run`]: crate::Next::run

use std::any::{Any, TypeId};
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::rc::Rc;

use waiter_http::{Headers, Method, RequestHead, Response};

use crate::chain::{BoxFuture, CatchPanic, ErrorHook};
use crate::error::WebError;
use crate::request::Request;

/// The error middleware that one stage runs, in order.
pub(crate) type ErrorStack = Rc<Vec<Rc<dyn ErrorMiddleware>>>;

/// Handles an error raised by the rest of the chain.
///
/// Implemented by every
/// `Fn(WebError, ErrorRequest) -> impl Future<Output = impl IntoResponse>`:
/// an `Ok` (or a plain response) answers the error, an `Err` passes an
/// error on to the next error middleware.
///
/// ```
/// use waiter_web::{App, ErrorRequest, WebError};
///
/// let mut app = App::new();
/// app.use_error(|err: WebError, req: ErrorRequest| async move {
///     if err.status.as_u16() == 404 && req.header("accept").is_some_and(|a| a.contains("text/html")) {
///         return Ok(waiter_web::html("<h1>Not here</h1>").with_status(err.status));
///     }
///     Err(err) // to the next error middleware, or the renderer
/// });
/// ```
pub trait ErrorMiddleware: 'static {
    /// Answers `err`, raised while handling `req`, or passes it on.
    fn call(&self, err: WebError, req: ErrorRequest) -> BoxFuture;
}

impl<F, Fut> ErrorMiddleware for F
where
    F: Fn(WebError, ErrorRequest) -> Fut + 'static,
    Fut: Future + 'static,
    Fut::Output: crate::IntoResponse,
{
    fn call(&self, err: WebError, req: ErrorRequest) -> BoxFuture {
        let fut = self(err, req);
        Box::pin(async move { crate::IntoResponse::into_outcome(fut.await) })
    }
}

/// The request an error was raised for, as error middleware sees it: its
/// head, its route's parameters and the extensions middleware attached.
/// Cheap to clone.
#[derive(Clone)]
pub struct ErrorRequest(Rc<Snapshot>);

struct Snapshot {
    head: RequestHead,
    remote: SocketAddr,
    params: Vec<(String, String)>,
    base_len: usize,
    extensions: HashMap<TypeId, Rc<dyn Any>>,
}

impl fmt::Debug for ErrorRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ErrorRequest")
            .field("method", self.method())
            .field("target", &self.target())
            .field("params", &self.0.params)
            .finish_non_exhaustive()
    }
}

impl ErrorRequest {
    /// A copy of what `req` holds apart from its body.
    pub(crate) fn of(req: &Request) -> ErrorRequest {
        ErrorRequest(Rc::new(Snapshot {
            head: req.head().clone(),
            remote: req.remote_addr(),
            params: req.params().to_vec(),
            base_len: req.base_path().len(),
            extensions: req.extensions().clone(),
        }))
    }

    /// The method.
    pub fn method(&self) -> &Method {
        &self.0.head.method
    }

    /// The request target, exactly as received.
    pub fn target(&self) -> &str {
        self.0.head.target.as_str()
    }

    /// The path of the target, without the query (as
    /// [`Request::path`](waiter_http::Request::path)).
    pub fn path(&self) -> &str {
        self.0.head.path()
    }

    /// The query string, without the `?`.
    pub fn query(&self) -> Option<&str> {
        self.0.head.query()
    }

    /// For a route mounted under a prefix, the part of the path that
    /// matched the prefix (see [`Request::base_path`]).
    pub fn base_path(&self) -> &str {
        &self.path()[..self.0.base_len.min(self.path().len())]
    }

    /// The header fields.
    pub fn headers(&self) -> &Headers {
        &self.0.head.headers
    }

    /// The first value of a header field, if it is UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.0.head.headers.get_str(name)
    }

    /// A path parameter of the matched route, percent-decoded.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.0
            .params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The peer's address.
    pub fn remote_addr(&self) -> SocketAddr {
        self.0.remote
    }

    /// A value a middleware attached (such as the request id).
    pub fn extension<T: 'static>(&self) -> Option<&T> {
        self.0.extensions.get(&TypeId::of::<T>())?.downcast_ref()
    }
}

/// What a request's chain needs to handle its errors: the error
/// middleware of its route's routers and of the app, the renderer, and
/// the latest copy of the request (a slot made only when there is error
/// middleware to show it to, so a request costs no allocation for it
/// otherwise). Cloned at each [`Next::run`](crate::Next::run).
#[derive(Clone)]
pub(crate) struct Catch {
    pub(crate) local: ErrorStack,
    pub(crate) global: ErrorStack,
    pub(crate) render: Rc<ErrorHook>,
    request: Option<Rc<RefCell<Option<ErrorRequest>>>>,
}

impl Catch {
    pub(crate) fn new(local: ErrorStack, global: ErrorStack, render: Rc<ErrorHook>) -> Catch {
        let wanted = !local.is_empty() || !global.is_empty();
        Catch {
            local,
            global,
            render,
            request: wanted.then(|| Rc::new(RefCell::new(None))),
        }
    }

    /// Keeps a copy of `req` for the error middleware, if there is any.
    pub(crate) fn note(&self, req: &Request) {
        if let Some(slot) = &self.request {
            *slot.borrow_mut() = Some(ErrorRequest::of(req));
        }
    }

    /// Runs `err` through the error middleware, then the renderer. Returns
    /// the response and whether a panic happened on the way (the
    /// connection then closes).
    pub(crate) async fn handle(self, mut err: WebError) -> (Response, bool) {
        let mut panicked = false;
        let req = self.request.as_ref().and_then(|s| s.borrow().clone());
        if let Some(req) = req {
            for m in self.local.iter().chain(self.global.iter()) {
                match (CatchPanic {
                    inner: m.call(err, req.clone()),
                })
                .await
                {
                    Ok(Ok(r)) => return (r, panicked),
                    Ok(Err(e)) => err = e,
                    Err(msg) => {
                        tracing::error!(panic = %msg, "an error middleware panicked; passing on a 500");
                        panicked = true;
                        err = WebError::internal();
                    }
                }
            }
        }
        ((self.render)(err), panicked)
    }
}
