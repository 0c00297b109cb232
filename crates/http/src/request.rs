//! Requests.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;

use waiter_proto::{Headers, Method, RequestHead, ResponseHead, StatusCode, Version};

use crate::body::RequestBody;
use crate::server::conn::ConnShared;

/// An HTTP request as the handler sees it: the head, parsed and validated,
/// and a body read on demand.
pub struct Request {
    /// The parsed head.
    head: RequestHead,
    /// The body.
    body: RequestBody,
    /// The client's address.
    remote: SocketAddr,
    /// The connection and the request's epoch, for interim responses;
    /// `None` for a request built by hand.
    conn: Option<(Rc<ConnShared>, u64)>,
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
    pub(crate) fn new(
        head: RequestHead,
        body: RequestBody,
        remote: SocketAddr,
        conn: (Rc<ConnShared>, u64),
    ) -> Request {
        Request {
            head,
            body,
            remote,
            conn: Some(conn),
        }
    }

    /// A request built by hand (for tests and in-process dispatch). It
    /// cannot send interim responses.
    pub fn from_parts(head: RequestHead, body: RequestBody, remote: SocketAddr) -> Request {
        Request {
            head,
            body,
            remote,
            conn: None,
        }
    }

    /// Sends `103 Early Hints` with `headers` (typically `Link` fields
    /// naming what the page will need) ahead of the response, as Node's
    /// `res.writeEarlyHints()`: see [`send_interim`](Self::send_interim).
    pub async fn early_hints(&self, headers: Headers) -> io::Result<()> {
        let status = StatusCode::from_u16(103).expect("103 is a status code");
        self.send_interim(status, headers).await
    }

    /// Sends an interim (1xx) response ahead of the response, and waits
    /// until it is written to the socket, so the client has it while the
    /// handler goes on working. Any number may be sent. An HTTP/1.0 client
    /// cannot take one: nothing is sent, and this returns `Ok`.
    ///
    /// Fails with `InvalidInput` for a status that is not 1xx, or is 100
    /// (sent by the server when the body is first read) or 101 (an
    /// upgrade is a final response); with an invalid field, or once the
    /// request's response is written; and if the socket fails.
    pub async fn send_interim(&self, status: StatusCode, headers: Headers) -> io::Result<()> {
        let code = status.as_u16();
        if !status.is_informational() || code == 100 || code == 101 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{code} is not an interim status a handler may send"),
            ));
        }
        let Some((conn, epoch)) = &self.conn else {
            return Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "a request built by hand has no connection",
            ));
        };
        let mut head = ResponseHead::new(status);
        head.headers = headers;
        conn.send_interim(*epoch, head).await
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
    pub fn into_parts(mut self) -> (RequestHead, RequestBody) {
        let head = std::mem::replace(&mut self.head, RequestHead::new(Method::Get, ""));
        let body = std::mem::replace(&mut self.body, RequestBody::empty());
        (head, body)
    }
}

impl Drop for Request {
    /// The fields' buffers go back to the connection for its next request.
    fn drop(&mut self) {
        if let Some((conn, _)) = &self.conn {
            conn.recycle_headers(&mut self.head.headers);
        }
    }
}
