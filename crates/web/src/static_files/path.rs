//! Turning a request path into a file under the root, safely.
//!
//! Invariants: a path is rejected before touching the file system if any
//! segment, raw or decoded, is `.` or `..`, if a segment hides a separator
//! or NUL behind an escape (`%2f`, `%5c`, `%00`) or holds a backslash, or
//! (unless allowed) names a dotfile. What survives is joined onto the
//! canonical root, canonicalized on the worker pool, and served only if
//! the result is still inside the canonical root, so a symlink that points
//! outside is refused too.

use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::codec::percent_decode_bytes;
use crate::error::WebError;

/// The decoded segments of a safe relative path.
#[derive(Debug)]
pub(crate) struct SafePath {
    /// Non-empty segments, decoded.
    pub(crate) segments: Vec<Vec<u8>>,
    /// Whether the path ended with `/`.
    pub(crate) trailing_slash: bool,
}

/// Validates and decodes a raw relative path (`/a/b%20c.txt`).
pub(crate) fn sanitize(raw: &str, dotfiles: bool) -> Result<SafePath, WebError> {
    let forbidden = || WebError::forbidden("path not allowed");
    let mut segments = Vec::new();
    for seg in raw.split('/') {
        if seg.is_empty() {
            continue;
        }
        let lower = seg.to_ascii_lowercase();
        if ["%2f", "%5c", "%00"].iter().any(|e| lower.contains(e)) || seg.contains('\\') {
            return Err(forbidden());
        }
        let decoded = percent_decode_bytes(seg, false);
        if decoded.contains(&0) || decoded.contains(&b'/') || decoded.contains(&b'\\') {
            return Err(forbidden());
        }
        if decoded == b"." || decoded == b".." {
            return Err(forbidden());
        }
        if !dotfiles && decoded.first() == Some(&b'.') {
            return Err(WebError::not_found("no such file"));
        }
        segments.push(decoded);
    }
    Ok(SafePath {
        segments,
        trailing_slash: raw.ends_with('/'),
    })
}

/// `root` joined with the segments.
pub(crate) fn join(root: &Path, p: &SafePath) -> PathBuf {
    let mut out = root.to_path_buf();
    for s in &p.segments {
        out.push(OsStr::from_bytes(s));
    }
    out
}

/// Canonicalizes `candidate` on the pool and checks it stays under `root`
/// (itself canonical): 404 if it does not exist, 403 if it escapes.
pub(crate) async fn confine(root: &Path, candidate: PathBuf) -> Result<PathBuf, WebError> {
    match waiter_rt::fs::canonicalize(&candidate).await {
        Ok(c) if c.starts_with(root) => Ok(c),
        Ok(c) => {
            tracing::warn!(path = %c.display(), "refusing a path outside the served root");
            Err(WebError::forbidden("path not allowed"))
        }
        Err(e) => Err(io_error(e)),
    }
}

/// 404 for a path that names no file (missing, a name too long, a symlink
/// loop: the client's doing, as Node's `send` answers), 403 for
/// permissions, 500 otherwise (the server's own failure, logged).
pub(crate) fn io_error(e: io::Error) -> WebError {
    if waiter_rt::fs::is_no_such_file(&e) {
        return WebError::not_found("no such file");
    }
    match e.kind() {
        io::ErrorKind::PermissionDenied => WebError::forbidden("permission denied"),
        _ => WebError::from(e),
    }
}

#[cfg(test)]
mod tests {
    use super::sanitize;

    #[test]
    fn rejects_traversal() {
        for bad in [
            "/../etc/passwd",
            "/a/../../b",
            "/%2e%2e/x",
            "/%2E%2e/x",
            "/..%2fx",
            "/a%5c..%5cb",
            "/a%00.txt",
            "/a\\..\\b",
            "/./a",
            "/%2e/a",
        ] {
            assert!(sanitize(bad, true).is_err(), "{bad}");
        }
        assert!(sanitize("/.env", false).is_err());
        let ok = sanitize("/a//b%20c/", false).unwrap();
        assert_eq!(ok.segments, [b"a".to_vec(), b"b c".to_vec()]);
        assert!(ok.trailing_slash);
        assert!(sanitize("/a..b/c...", false).is_ok());
    }
}
