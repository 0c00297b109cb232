//! The HTTP/1.1 client.
//!
//! A [`Client`] sends requests from the loop it runs on and keeps
//! connections alive per origin (host and port) for reuse, like Node's
//! `http.Agent`. Many requests can be in flight at once, each on its own
//! connection: spawn them with [`waiter_rt::spawn_local`] or join their
//! futures. Nothing here is `Send`; a client belongs to one loop.
//!
//! ```no_run
//! use waiter_http::Client;
//!
//! waiter_rt::run(async {
//!     let client = Client::new();
//!     let mut res = client.get("http://127.0.0.1:8080/").send().await.unwrap();
//!     println!("{} {}", res.status().as_u16(), res.text().await.unwrap());
//! });
//! ```
//!
//! Layout: `url` parses URLs, `conn` connects and carries one exchange,
//! `pool` keeps idle connections, `request` builds and sends requests
//! (retries and redirects), `response` reads bodies, `error` says what
//! failed. Only `http` is spoken; `https` URLs fail with
//! [`ClientErrorKind::Unsupported`].

mod conn;
mod error;
mod pool;
mod request;
mod response;
mod url;

use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use waiter_proto::{Limits, Method};

pub use error::{ClientError, ClientErrorKind};
pub use request::RequestBuilder;
pub use response::ClientResponse;

use pool::Pool;

/// Every setting of a [`Client`].
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Time to resolve the host and establish the TCP connection (10 s).
    pub connect_timeout: Duration,
    /// How long the response head may take once the request is written,
    /// and how long writing the request may make no progress (30 s): a
    /// slow upload that keeps moving is not cut off. A request's own
    /// `timeout` replaces it.
    pub response_timeout: Duration,
    /// How long an unused connection stays in the pool (4 s: shorter than
    /// the keep-alive timeout of most servers, so the client closes first).
    pub idle_timeout: Duration,
    /// Idle connections kept per origin (64).
    pub max_idle_per_origin: usize,
    /// Connections open at once per origin, idle or busy; further requests
    /// wait for one (unlimited by default, as in Node).
    pub max_connections_per_origin: usize,
    /// Redirects followed per request (0: none; the 3xx is returned).
    pub redirects: usize,
    /// The `User-Agent` field sent unless a request sets its own.
    pub user_agent: String,
    /// Limits on response heads and bodies.
    pub limits: Limits,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            connect_timeout: Duration::from_secs(10),
            response_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(4),
            max_idle_per_origin: 64,
            max_connections_per_origin: usize::MAX,
            redirects: 0,
            user_agent: concat!("waiter/", env!("CARGO_PKG_VERSION")).to_owned(),
            limits: Limits::default(),
        }
    }
}

/// The client's shared state.
#[derive(Debug)]
struct ClientInner {
    /// The settings.
    config: ClientConfig,
    /// Idle connections and per-origin counts.
    pool: Rc<Pool>,
}

/// An HTTP/1.1 client with a keep-alive connection pool. Cloning it is
/// cheap and the clones share the pool.
#[derive(Clone)]
pub struct Client {
    /// Settings and pool.
    inner: Rc<ClientInner>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.inner.config)
            .field("pool", &self.inner.pool)
            .finish()
    }
}

impl Default for Client {
    fn default() -> Self {
        Client::new()
    }
}

impl Client {
    /// A client with the default settings.
    pub fn new() -> Client {
        Client::builder().build()
    }

    /// A builder to change the settings.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// Starts a GET request.
    pub fn get(&self, url: &str) -> RequestBuilder {
        self.request(Method::Get, url)
    }

    /// Starts a POST request.
    pub fn post(&self, url: &str) -> RequestBuilder {
        self.request(Method::Post, url)
    }

    /// Starts a PUT request.
    pub fn put(&self, url: &str) -> RequestBuilder {
        self.request(Method::Put, url)
    }

    /// Starts a DELETE request.
    pub fn delete(&self, url: &str) -> RequestBuilder {
        self.request(Method::Delete, url)
    }

    /// Starts a HEAD request.
    pub fn head(&self, url: &str) -> RequestBuilder {
        self.request(Method::Head, url)
    }

    /// Starts a request with any method.
    pub fn request(&self, method: Method, url: &str) -> RequestBuilder {
        RequestBuilder::new(self.clone(), method, url)
    }

    /// The settings in force.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// Connections kept idle in the pool, across origins.
    pub fn idle_connections(&self) -> usize {
        self.inner.pool.idle_count()
    }

    /// Connections open, idle or carrying a request, across origins.
    pub fn open_connections(&self) -> usize {
        self.inner.pool.open_count()
    }

    /// Closes every idle connection now.
    pub fn close_idle_connections(&self) {
        self.inner.pool.close_idle();
    }
}

/// Configures a [`Client`].
#[derive(Debug, Clone, Default)]
pub struct ClientBuilder {
    /// The settings so far.
    config: ClientConfig,
}

impl ClientBuilder {
    setter!(/// See [`ClientConfig::connect_timeout`].
        connect_timeout: Duration);
    setter!(/// See [`ClientConfig::response_timeout`].
        response_timeout: Duration);
    setter!(/// See [`ClientConfig::idle_timeout`].
        idle_timeout: Duration);
    setter!(/// See [`ClientConfig::max_idle_per_origin`].
        max_idle_per_origin: usize);
    setter!(/// See [`ClientConfig::max_connections_per_origin`] (at least 1).
        max_connections_per_origin: usize);
    setter!(/// See [`ClientConfig::redirects`].
        redirects: usize);
    setter!(/// See [`ClientConfig::limits`].
        limits: Limits);

    /// See [`ClientConfig::user_agent`].
    pub fn user_agent(mut self, ua: impl Into<String>) -> Self {
        self.config.user_agent = ua.into();
        self
    }

    /// Replaces every setting.
    pub fn config(mut self, config: ClientConfig) -> Self {
        self.config = config;
        self
    }

    /// The client.
    pub fn build(self) -> Client {
        let c = &self.config;
        let pool = Pool::new(
            c.idle_timeout,
            c.max_idle_per_origin,
            c.max_connections_per_origin,
        );
        Client {
            inner: Rc::new(ClientInner {
                config: self.config,
                pool: Rc::new(pool),
            }),
        }
    }
}
