//! gzip compression of response bodies (with `flate2`).
//!
//! A response is compressed when all hold: the client accepts gzip
//! (`Accept-Encoding` lists `gzip` or `*` with a non-zero q-value), the
//! request is not `HEAD`, the status allows a body and is not 206, the
//! response has no `Content-Encoding` yet, its content type is
//! compressible (text, JSON, JavaScript, XML, SVG, ...), and its body is in
//! memory (or a file no larger than [`Compression::max_file`]) and at least
//! [`Compression::threshold`] bytes. Bodies above
//! [`Compression::offload_above`] are compressed on the worker pool so the
//! loop stays free. Every response with a compressible type gets
//! `Vary: Accept-Encoding`, compressed or not. A strong `ETag` becomes weak
//! (`W/`), since the bytes differ from the identity encoding's.

use bytes::Bytes;
use flate2::write::GzEncoder;
use std::io::Write;
use waiter_http::{Body, Response};

use crate::chain::{BoxFuture, Middleware, Next};
use crate::request::Request;

use super::add_vary;

/// gzip compression middleware.
#[derive(Debug, Clone, Copy)]
pub struct Compression {
    /// Bodies smaller than this are sent as they are.
    threshold: usize,
    /// Bodies larger than this are compressed on the worker pool.
    offload_above: usize,
    /// File bodies larger than this are sent as they are.
    max_file: u64,
    /// The gzip level (0-9).
    level: u32,
}

impl Default for Compression {
    fn default() -> Self {
        Compression::new()
    }
}

impl Compression {
    /// Threshold 1 KiB, pool above 64 KiB, files up to 8 MiB, level 6.
    pub fn new() -> Compression {
        Compression {
            threshold: 1024,
            offload_above: 64 * 1024,
            max_file: 8 * 1024 * 1024,
            level: 6,
        }
    }

    /// Sets the minimum body size to compress.
    pub fn threshold(mut self, bytes: usize) -> Self {
        self.threshold = bytes;
        self
    }

    /// Sets the size above which compression runs on the worker pool.
    pub fn offload_above(mut self, bytes: usize) -> Self {
        self.offload_above = bytes;
        self
    }

    /// Sets the largest file body to compress.
    pub fn max_file(mut self, bytes: u64) -> Self {
        self.max_file = bytes;
        self
    }

    /// Sets the gzip level (clamped to 0-9).
    pub fn level(mut self, level: u32) -> Self {
        self.level = level.min(9);
        self
    }
}

/// Whether `Accept-Encoding` allows gzip (RFC 9110 section 12.5.3): a
/// `gzip` (or `x-gzip`) entry decides by its weight, and only without one
/// does `*` (which stands for the codings not listed); `q` is matched
/// without regard to case, and an entry whose weight does not parse counts
/// as weight 0.
pub(crate) fn accepts_gzip(req: &Request) -> bool {
    let (mut gzip, mut star) = (None::<f32>, None::<f32>);
    for item in req.headers().list("accept-encoding") {
        let item = String::from_utf8_lossy(item);
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or("").trim();
        let q = parts
            .find_map(|p| {
                let (k, v) = p.split_once('=')?;
                k.trim()
                    .eq_ignore_ascii_case("q")
                    .then(|| v.trim().to_owned())
            })
            .map_or(1.0, |q| q.parse::<f32>().unwrap_or(0.0));
        if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
            gzip = Some(gzip.map_or(q, |g| g.max(q)));
        } else if coding == "*" {
            star = Some(star.map_or(q, |s| s.max(q)));
        }
    }
    gzip.or(star).is_some_and(|q| q > 0.0)
}

/// Whether a content type is worth compressing.
pub(crate) fn compressible(content_type: &str) -> bool {
    let ct = content_type.split(';').next().unwrap_or("").trim();
    let ct = ct.to_ascii_lowercase();
    ct.starts_with("text/")
        || ct.ends_with("+json")
        || ct.ends_with("+xml")
        || matches!(
            ct.as_str(),
            "application/json"
                | "application/javascript"
                | "application/xml"
                | "application/wasm"
                | "image/svg+xml"
                | "application/x-ndjson"
        )
}

/// gzips `data`.
fn gzip(data: &[u8], level: u32) -> std::io::Result<Vec<u8>> {
    let mut enc = GzEncoder::new(
        Vec::with_capacity(data.len() / 3),
        flate2::Compression::new(level),
    );
    enc.write_all(data)?;
    enc.finish()
}

impl Compression {
    /// The body's bytes, if it should be compressed.
    async fn take_bytes(&self, body: &Body) -> Option<Bytes> {
        match body {
            Body::Full(b) if b.len() >= self.threshold => Some(b.clone()),
            Body::File { file, offset, len }
                if *len >= self.threshold as u64 && *len <= self.max_file =>
            {
                let data = file.read_at(*offset, *len as usize).await.ok()?;
                (data.len() as u64 == *len).then(|| Bytes::from(data))
            }
            _ => None,
        }
    }

    /// Compresses `res` in place if it qualifies.
    async fn apply(self, res: &mut Response) {
        let Some(data) = self.take_bytes(&res.body).await else {
            return;
        };
        let level = self.level;
        let packed = if data.len() > self.offload_above {
            let job = waiter_rt::spawn_blocking(move || gzip(&data, level));
            match job.await {
                Ok(Ok(v)) => v,
                _ => return,
            }
        } else {
            match gzip(&data, level) {
                Ok(v) if v.len() < data.len() => v,
                _ => return,
            }
        };
        res.body = Body::Full(Bytes::from(packed));
        res.headers.insert("content-encoding", "gzip");
        res.headers.remove("content-length");
        res.headers.remove("accept-ranges");
        if let Some(tag) = res.headers.get_str("etag") {
            if !tag.starts_with("W/") {
                let weak = format!("W/{tag}");
                res.headers.insert("etag", weak);
            }
        }
    }
}

impl Middleware for Compression {
    fn call(&self, req: Request, next: Next) -> BoxFuture {
        let wants = accepts_gzip(&req) && *req.method() != waiter_http::Method::Head;
        let this = *self;
        Box::pin(async move {
            let mut res = next.run(req).await;
            let ct = res.headers.get_str("content-type").unwrap_or("");
            if !compressible(ct) {
                return Ok(res);
            }
            add_vary(&mut res.headers, "accept-encoding");
            let eligible = wants
                && !res.status.forbids_body()
                && res.status.as_u16() != 206
                && !res.headers.contains("content-encoding");
            if eligible {
                this.apply(&mut res).await;
            }
            Ok(res)
        })
    }
}
