//! The server's settings, with Node's defaults.

use std::fmt;
use std::time::Duration;

use waiter_proto::Limits;

/// Every limit and timeout the server enforces. Defaults follow Node.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Parsing limits (head size, header count, body size).
    pub limits: Limits,
    /// Time to receive a complete request head (Node: 60 s).
    pub headers_timeout: Duration,
    /// Time to receive a complete request, head and body (Node: 300 s).
    pub request_timeout: Duration,
    /// Idle time allowed between requests. 65 s outlasts the 60 s idle
    /// timeout of common load balancers, so they never reuse a connection
    /// the server is closing (the 502s Node users saw with 5 s).
    pub keep_alive_timeout: Duration,
    /// Time a write may stay blocked on a client that does not read.
    pub write_timeout: Duration,
    /// Requests served on one connection before it is closed (0: no limit).
    pub max_requests_per_socket: u64,
    /// Connections served at once; further clients wait in the backlog.
    pub max_connections: usize,
    /// Output buffered before the connection waits for the socket, and
    /// the point above which reading stops.
    pub write_high_water_mark: usize,
    /// How long a closing connection keeps reading after an error
    /// response, so the client sees the response rather than a reset.
    pub linger: Duration,
    /// The listen backlog.
    pub backlog: i32,
    /// Send file bodies ([`Body::File`](crate::Body::File)) with
    /// `sendfile(2)`, from the page cache straight to the socket, in calls
    /// of at most 256 KiB on the loop thread. That assumes the files are
    /// cached (as nginx's `sendfile on` does): a cold read from a slow disk
    /// would hold the loop for the duration of that read. Off: files are
    /// read on the worker pool and written from a buffer.
    pub sendfile: bool,
    /// When an idle keep-alive connection gives up its task and buffers and
    /// is parked as its socket and a few fields (about 200 bytes). Up to
    /// this many idle connections keep their task (about 1 KiB each) until
    /// the timeout sweep finds them idle for a second, so busy keep-alive
    /// connections do not pay for parking and restarting between requests;
    /// a connection that goes idle while this many already wait so parks at
    /// once. This bounds what idle connections cost beyond their parked
    /// records, however many there are. 0 parks every idle connection at
    /// once.
    pub park_above: usize,
    /// Serve a client that ends its side of the connection (a half-close)
    /// after sending a request, and send it the response. Off (as in
    /// hyper's `http1_half_close` and Node's `httpAllowHalfOpen`): the end
    /// of the stream while a handler runs means the client is gone, and
    /// the handler is dropped, so a long poll whose client left does not
    /// hold its connection and task.
    pub half_close: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            limits: Limits::default(),
            headers_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(300),
            keep_alive_timeout: Duration::from_secs(65),
            write_timeout: Duration::from_secs(60),
            max_requests_per_socket: 0,
            max_connections: 16_384,
            write_high_water_mark: 64 * 1024,
            linger: Duration::from_secs(2),
            backlog: 1024,
            sendfile: true,
            park_above: 2048,
            half_close: false,
        }
    }
}

impl fmt::Display for ServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let l = &self.limits;
        let rows: [(&str, String); 17] = [
            ("headers_timeout", format!("{:?}", self.headers_timeout)),
            ("request_timeout", format!("{:?}", self.request_timeout)),
            (
                "keep_alive_timeout",
                format!("{:?}", self.keep_alive_timeout),
            ),
            ("write_timeout", format!("{:?}", self.write_timeout)),
            (
                "max_requests_per_socket",
                self.max_requests_per_socket.to_string(),
            ),
            ("max_connections", self.max_connections.to_string()),
            (
                "write_high_water_mark",
                format!("{} bytes", self.write_high_water_mark),
            ),
            ("linger", format!("{:?}", self.linger)),
            ("backlog", self.backlog.to_string()),
            ("sendfile", self.sendfile.to_string()),
            ("park_above", format!("{} connections", self.park_above)),
            ("half_close", self.half_close.to_string()),
            ("max_head_bytes", format!("{} bytes", l.max_head_bytes)),
            ("max_headers", l.max_headers.to_string()),
            (
                "max_chunk_ext_bytes",
                format!("{} bytes", l.max_chunk_ext_bytes),
            ),
            (
                "max_body",
                l.max_body
                    .map_or("unlimited".to_owned(), |b| format!("{b} bytes")),
            ),
            ("max_drain", format!("{} bytes", l.max_drain)),
        ];
        for (i, (k, v)) in rows.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{k:<24}{v}")?;
        }
        Ok(())
    }
}
