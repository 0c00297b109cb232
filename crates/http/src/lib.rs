//! HTTP/1.1 on waiter's event loop.
//!
//! [`Server`] accepts connections on one loop and runs a handler per
//! request; [`waiter_proto`] does the parsing and framing, strictly. The
//! handler is any `Fn(Request) -> impl Future<Output = Response>`; its future
//! need not be `Send`.
//!
//! ```no_run
//! use waiter_http::{Response, Server};
//!
//! waiter_rt::run(async {
//!     let server = Server::builder()
//!         .listen("127.0.0.1:8080".parse().unwrap(), |_req| async {
//!             Response::text("Hello, World!")
//!         })
//!         .unwrap();
//!     println!("listening on http://{}", server.local_addr());
//!     server.closed().await;
//! });
//! ```
#![forbid(unsafe_code)]

/// A builder method that sets one field of the builder's `config`.
macro_rules! setter {
    ($(#[$m:meta])* $name:ident: $t:ty) => {
        $(#[$m])*
        pub fn $name(mut self, v: $t) -> Self {
            self.config.$name = v;
            self
        }
    };
}

mod body;
pub mod client;
mod date;
mod request;
mod response;
pub mod server;

pub use body::{Body, BodyError, RequestBody};
pub use client::{
    Client, ClientBuilder, ClientConfig, ClientError, ClientErrorKind, ClientResponse,
    RequestBuilder,
};
pub use request::Request;
pub use response::Response;
pub use server::{Server, ServerBuilder, ServerConfig, ServerHandle};
pub use waiter_proto::{Headers, Method, RequestHead, StatusCode, Version};
