//! Static files: [`serve_dir`] answers `GET` and `HEAD` from a directory.
//!
//! Use it as the whole server handler (`Server::builder().listen(addr,
//! serve_dir(..))`), as an app's fallback (`app.fallback(serve_dir(..))`),
//! or mount it: `app.mount("/static",
//! serve_dir("public", ServeDirOptions::default()))`; it serves
//! [`Request::rel_path`], the path below the mount point.
//!
//! What it does: content types by extension; `ETag` (size and mtime) and
//! `Last-Modified`, with `If-None-Match` / `If-Modified-Since` answered
//! 304; a single `Range` answered 206 with `Content-Range` (416 if
//! unsatisfiable, honouring `If-Range`); `index.html` for directories;
//! `/dir` redirected to `/dir/`; an optional HTML listing.
//!
//! Invariants: no path outside the root is ever opened (see the `path` module's
//! rules: `..` and encoded separators are refused before any file-system
//! call, and the canonical path must stay under the canonical root);
//! every file-system call runs on the worker pool through
//! [`waiter_rt::fs`]; a file is sent as [`Body::File`], which the server
//! copies from the page cache to the socket with `sendfile(2)` (ranges
//! included) unless a middleware transforms it (compression turns small
//! files into compressed bytes), so any size streams in bounded memory.

mod cond;
mod listing;
mod mime;
mod path;

use std::cell::OnceCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use waiter_http::{Body, Method, Response};

use crate::chain::{BoxFuture, Handler};
use crate::error::WebError;
use crate::request::Request;
use crate::response::status_code;
use cond::{parse_range, RangeReq, Validators};
pub use mime::content_type;

/// How [`serve_dir`] behaves.
#[derive(Debug, Clone)]
pub struct ServeDirOptions {
    /// Show an HTML listing for directories without `index.html`.
    pub listing: bool,
    /// The file served for a directory, if present.
    pub index: Option<String>,
    /// Serve names starting with `.` (off: they are 404).
    pub dotfiles: bool,
    /// `Cache-Control: public, max-age=N` on files, if set.
    pub max_age: Option<Duration>,
}

impl Default for ServeDirOptions {
    fn default() -> Self {
        ServeDirOptions {
            listing: false,
            index: Some("index.html".to_owned()),
            dotfiles: false,
            max_age: None,
        }
    }
}

/// A handler serving files under a directory.
#[derive(Debug, Clone)]
pub struct ServeDir {
    /// Shared with the requests in flight.
    inner: Rc<Inner>,
}

/// The root and the options.
#[derive(Debug)]
struct Inner {
    /// The root as given.
    root: PathBuf,
    /// The root, canonicalized on first use.
    canonical: OnceCell<PathBuf>,
    /// The options.
    opts: ServeDirOptions,
}

/// A handler serving the files under `root`.
pub fn serve_dir(root: impl Into<PathBuf>, opts: ServeDirOptions) -> ServeDir {
    ServeDir {
        inner: Rc::new(Inner {
            root: root.into(),
            canonical: OnceCell::new(),
            opts,
        }),
    }
}

impl Handler for ServeDir {
    fn call(&self, req: Request) -> BoxFuture {
        let inner = self.inner.clone();
        Box::pin(async move { inner.serve(req).await })
    }
}

/// A `ServeDir` is also a server handler on its own: errors are rendered
/// as problem documents.
impl waiter_http::server::Handler for ServeDir {
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Response>>>;

    fn call(
        &self,
        req: waiter_http::Request,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Response>>> {
        let inner = self.inner.clone();
        Box::pin(async move {
            match inner.serve(Request::from(req)).await {
                Ok(r) => r,
                Err(e) => e.render(),
            }
        })
    }
}

impl Inner {
    /// The canonical root (computed on the pool once).
    async fn root(&self) -> Result<PathBuf, WebError> {
        if let Some(r) = self.canonical.get() {
            return Ok(r.clone());
        }
        let r = waiter_rt::fs::canonicalize(&self.root).await.map_err(|e| {
            tracing::error!(root = %self.root.display(), error = %e, "cannot open the served root");
            WebError::not_found("no such file")
        })?;
        Ok(self.canonical.get_or_init(|| r).clone())
    }

    /// Answers one request.
    async fn serve(&self, req: Request) -> Result<Response, WebError> {
        if !matches!(req.method(), Method::Get | Method::Head) {
            return Err(WebError::new(405, "only GET and HEAD are allowed")
                .with_header("allow", "GET, HEAD"));
        }
        let rel = req.rel_path();
        if rel.is_empty() {
            return Ok(slash_redirect(&req));
        }
        let safe = path::sanitize(rel, self.opts.dotfiles)?;
        let root = self.root().await?;
        let target = path::confine(&root, path::join(&root, &safe)).await?;
        let file = waiter_rt::fs::File::open(&target)
            .await
            .map_err(path::io_error)?;
        let meta = file.metadata().await.map_err(path::io_error)?;
        if !meta.is_dir() {
            if safe.trailing_slash {
                return Err(WebError::not_found("no such file"));
            }
            return Ok(self.send(&req, file, &meta, &target));
        }
        if !safe.trailing_slash {
            return Ok(slash_redirect(&req));
        }
        self.directory(&req, &root, &target).await
    }

    /// Answers a directory: its index file, a listing, or 404.
    async fn directory(
        &self,
        req: &Request,
        root: &Path,
        dir: &Path,
    ) -> Result<Response, WebError> {
        if let Some(index) = &self.opts.index {
            let found = path::confine(root, dir.join(index)).await;
            if let Ok(p) = found {
                if let Ok(file) = waiter_rt::fs::File::open(&p).await {
                    let meta = file.metadata().await.map_err(path::io_error)?;
                    if meta.is_file() {
                        return Ok(self.send(req, file, &meta, &p));
                    }
                }
            }
        }
        if self.opts.listing {
            let shown = crate::codec::percent_decode(req.path(), false);
            return listing::render(dir, root, &shown, self.opts.dotfiles).await;
        }
        Err(WebError::not_found("no such file"))
    }

    /// The response for an open file: 304, 206, 416 or 200.
    fn send(
        &self,
        req: &Request,
        file: waiter_rt::fs::File,
        meta: &std::fs::Metadata,
        p: &Path,
    ) -> Response {
        let v = Validators::of(meta);
        let mut res = Response::new(status_code(200));
        res.headers.insert("etag", v.etag.as_str());
        if let Some(lm) = v.last_modified() {
            res.headers.insert("last-modified", lm);
        }
        if let Some(age) = self.opts.max_age {
            res.headers.insert(
                "cache-control",
                format!("public, max-age={}", age.as_secs()),
            );
        }
        if v.precondition_failed(req) {
            res.headers.remove("cache-control");
            return res.with_status(status_code(412));
        }
        if v.not_modified(req) {
            return res.with_status(status_code(304));
        }
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        res.headers.insert("content-type", content_type(&name));
        res.headers.insert("accept-ranges", "bytes");
        let len = meta.len();
        let range = if v.range_applies(req) {
            parse_range(req.header("range"), len)
        } else {
            RangeReq::Full
        };
        match range {
            RangeReq::Full => res.with_body(Body::File {
                file,
                offset: 0,
                len,
            }),
            RangeReq::Part(start, end) => {
                res.headers
                    .insert("content-range", format!("bytes {start}-{end}/{len}"));
                let body = Body::File {
                    file,
                    offset: start,
                    len: end - start + 1,
                };
                res.with_status(status_code(206)).with_body(body)
            }
            RangeReq::Unsatisfiable => {
                res.headers
                    .insert("content-range", format!("bytes */{len}"));
                res.headers.remove("content-type");
                res.with_status(status_code(416))
            }
        }
    }
}

/// A 301 to the request path with a trailing slash (query kept). Leading
/// slashes (and backslashes, which browsers read as slashes) collapse to
/// one: `//name` as a Location is another host (`http://name/`), the open
/// redirect of CVE-2015-1164.
fn slash_redirect(req: &Request) -> Response {
    let path = req.path().trim_start_matches(['/', '\\']);
    let location = match req.query() {
        Some(q) => format!("/{path}/?{q}"),
        None => format!("/{path}/"),
    };
    Response::redirect(status_code(301), &location)
}
