//! Requests.

use std::fmt;
use std::net::SocketAddr;

use waiter_proto::{Headers, Method, RequestHead, Version};

use crate::body::RequestBody;

/// An HTTP request as the handler sees it: the head, parsed and validated,
/// and a body read on demand.
pub struct Request {
    /// The parsed head.
    head: RequestHead,
    /// The body.
    body: RequestBody,
    /// The client's address.
    remote: SocketAddr,
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.head.method)
            .field("target", &self.head.target)
            .field("remote", &self.remote)
            .finish()
    }
}

impl Request {
    pub(crate) fn new(head: RequestHead, body: RequestBody, remote: SocketAddr) -> Request {
        Request { head, body, remote }
    }

    /// A request built by hand (for tests and in-process dispatch).
    pub fn from_parts(head: RequestHead, body: RequestBody, remote: SocketAddr) -> Request {
        Request { head, body, remote }
    }

    /// The method.
    pub fn method(&self) -> &Method {
        &self.head.method
    }

    /// The request target exactly as received.
    pub fn target(&self) -> &str {
        &self.head.target
    }

    /// The path of the target, without the query.
    pub fn path(&self) -> &str {
        self.head.path()
    }

    /// The query string, without the `?`.
    pub fn query(&self) -> Option<&str> {
        self.head.query()
    }

    /// The protocol version.
    pub fn version(&self) -> Version {
        self.head.version
    }

    /// Header fields, in received order.
    pub fn headers(&self) -> &Headers {
        &self.head.headers
    }

    /// The first value of a header field, if it is UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.headers.get_str(name)
    }

    /// The client's address.
    pub fn remote_addr(&self) -> SocketAddr {
        self.remote
    }

    /// The parsed head.
    pub fn head(&self) -> &RequestHead {
        &self.head
    }

    /// The body.
    pub fn body_mut(&mut self) -> &mut RequestBody {
        &mut self.body
    }

    /// Splits the request into its head and body.
    pub fn into_parts(self) -> (RequestHead, RequestBody) {
        (self.head, self.body)
    }
}
