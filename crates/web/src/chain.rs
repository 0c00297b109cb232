//! Handlers, middleware and the chain that runs them.
//!
//! A request runs through the app's middleware in registration order,
//! then the middleware of the router the route was mounted from, then the
//! route's handler. Each middleware receives a [`Next`]; awaiting
//! [`Next::run`] runs the rest of the chain and yields its response, so code
//! before the call runs on the way in and code after it on the way out.
//! Returning without calling `next` stops the chain.
//!
//! Invariant: an error ([`WebError`]) raised anywhere is turned into a
//! response by the error middleware and the app's renderer (see
//! [`catch`](crate::catch)) at the point where it crosses a [`Next::run`]
//! or leaves the app, so middleware always sees a [`Response`], never an
//! error. A panic in a handler or middleware is caught at the same point
//! and handled as a 500 error, with `Connection: close`: the middleware
//! around it still runs its code on the way out (CORS headers, request
//! ids, logs), as Express passes a throwing handler's error to its error
//! handlers.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use waiter_http::Response;

use crate::catch::Catch;
use crate::error::WebError;
use crate::request::Request;
use crate::response::IntoResponse;

/// The future of a handler or middleware, with the error not yet rendered.
pub type BoxFuture = Pin<Box<dyn Future<Output = Result<Response, WebError>>>>;

/// Renders a [`WebError`] no error middleware answered into a response
/// (see [`App::on_error`](crate::App::on_error)).
pub type ErrorHook = dyn Fn(WebError) -> Response;

/// The list of middleware that one stage of the chain runs.
pub(crate) type Stack = Rc<Vec<Rc<dyn Middleware>>>;

/// Turns a request into a response (or an error).
///
/// Implemented by every `Fn(Request) -> impl Future<Output = impl IntoResponse>`.
pub trait Handler: 'static {
    /// Handles one request.
    fn call(&self, req: Request) -> BoxFuture;
}

impl<F, Fut> Handler for F
where
    F: Fn(Request) -> Fut + 'static,
    Fut: Future + 'static,
    Fut::Output: IntoResponse,
{
    fn call(&self, req: Request) -> BoxFuture {
        let fut = self(req);
        Box::pin(async move { fut.await.into_outcome() })
    }
}

/// Runs around the rest of the chain.
///
/// Implemented by every
/// `Fn(Request, Next) -> impl Future<Output = impl IntoResponse>`.
pub trait Middleware: 'static {
    /// Handles one request, calling `next.run(req)` to go on.
    fn call(&self, req: Request, next: Next) -> BoxFuture;
}

impl<F, Fut> Middleware for F
where
    F: Fn(Request, Next) -> Fut + 'static,
    Fut: Future + 'static,
    Fut::Output: IntoResponse,
{
    fn call(&self, req: Request, next: Next) -> BoxFuture {
        let fut = self(req, next);
        Box::pin(async move { fut.await.into_outcome() })
    }
}

/// The rest of the chain, handed to a middleware.
pub struct Next {
    /// The app's middleware.
    pub(crate) global: Stack,
    /// The middleware of the router the route came from.
    pub(crate) local: Stack,
    /// The index of the next middleware across `global` then `local`.
    pub(crate) pos: usize,
    /// What runs after the last middleware.
    pub(crate) endpoint: Rc<dyn Handler>,
    /// Handles errors.
    pub(crate) catch: Catch,
}

impl fmt::Debug for Next {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let left = self.global.len() + self.local.len() - self.pos;
        f.debug_struct("Next")
            .field("middleware_left", &left)
            .finish_non_exhaustive()
    }
}

impl Next {
    /// Runs the rest of the chain; an error, or a panic, goes through the
    /// error middleware and the renderer.
    pub async fn run(self, req: Request) -> Response {
        let catch = self.catch.clone();
        let (mut r, close) = match (CatchPanic {
            inner: self.call(req),
        })
        .await
        {
            Ok(Ok(r)) => return r,
            Ok(Err(e)) => catch.handle(e).await,
            Err(msg) => {
                tracing::error!(panic = %msg, "a handler panicked; answering 500");
                (catch.handle(WebError::internal()).await.0, true)
            }
        };
        if close {
            r.headers.insert("connection", "close");
        }
        r
    }

    /// Runs the rest of the chain without rendering an error.
    fn call(mut self, req: Request) -> BoxFuture {
        let g = self.global.len();
        let m = if self.pos < g {
            self.global[self.pos].clone()
        } else if self.pos - g < self.local.len() {
            self.local[self.pos - g].clone()
        } else {
            // The request as the handler gets it, for error middleware.
            self.catch.note(&req);
            return self.endpoint.call(req);
        };
        self.pos += 1;
        m.call(req, self)
    }
}

/// A handler that always fails with the same error (404, 405).
pub(crate) struct Fail(pub(crate) WebError);

impl Handler for Fail {
    fn call(&self, _req: Request) -> BoxFuture {
        let e = self.0.clone();
        Box::pin(async move { Err(e) })
    }
}

/// The automatic answer to `OPTIONS`: 204 with `Allow`.
pub(crate) struct Options(pub(crate) String);

impl Handler for Options {
    fn call(&self, _req: Request) -> BoxFuture {
        let r =
            Response::new(crate::response::status_code(204)).with_header("allow", self.0.as_str());
        Box::pin(async move { Ok(r) })
    }
}

pin_project_lite::pin_project! {
    /// Polls `inner`, turning a panic into its message.
    pub(crate) struct CatchPanic<F> {
        #[pin]
        pub(crate) inner: F,
    }
}

impl<F: Future> Future for CatchPanic<F> {
    type Output = Result<F::Output, String>;

    fn poll(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let inner = self.project().inner;
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(p) => p.map(Ok),
            Err(payload) => {
                std::task::Poll::Ready(Err(waiter_rt::panic_message(&*payload).to_owned()))
            }
        }
    }
}
