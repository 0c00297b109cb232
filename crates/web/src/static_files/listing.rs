//! HTML directory listings.
//!
//! Invariant: every name is HTML-escaped in text and percent-encoded in
//! links, and links are relative and start with `./`, so a file name can
//! inject neither markup nor a `javascript:` URL. A symbolic link is
//! listed only if it resolves inside the root (the others answer 403, so
//! listing them would show names that cannot be fetched and tell what
//! lies outside), and is shown as what it points to.

use std::ffi::OsString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use waiter_http::Response;

use crate::codec::{html_escape, percent_encode_path};
use crate::error::WebError;

use super::path::io_error;

/// The listing of `dir` (under `root`, canonical), shown as `shown_path`
/// (the decoded request path).
pub(crate) async fn render(
    dir: &Path,
    root: &Path,
    shown_path: &str,
    dotfiles: bool,
) -> Result<Response, WebError> {
    let (dir, root) = (dir.to_owned(), root.to_owned());
    let entries = waiter_rt::spawn_blocking(move || entries(&dir, &root))
        .await
        .map_err(|e| io_error(io::Error::other(e.to_string())))?
        .map_err(io_error)?;
    // (is a directory, name shown, the name's bytes for the link)
    let mut rows: Vec<(bool, String, Vec<u8>)> = entries
        .into_iter()
        .map(|(is_dir, name)| {
            let shown = name.to_string_lossy().into_owned();
            (is_dir, shown, name.as_bytes().to_vec())
        })
        .filter(|(_, name, _)| dotfiles || !name.starts_with('.'))
        .collect();
    rows.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.2.cmp(&b.2)));
    let title = html_escape(shown_path);
    let mut html = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Index of {title}</title></head>\n\
         <body><h1>Index of {title}</h1>\n<ul>\n"
    );
    if shown_path != "/" {
        html.push_str("<li><a href=\"../\">../</a></li>\n");
    }
    for (is_dir, name, bytes) in rows {
        let slash = if is_dir { "/" } else { "" };
        let href = percent_encode_path(&bytes);
        html.push_str(&format!(
            "<li><a href=\"./{href}{slash}\">{}{slash}</a></li>\n",
            html_escape(&name)
        ));
    }
    html.push_str("</ul></body></html>\n");
    Ok(Response::html(html))
}

/// The entries of `dir` that can be served, with whether each is a
/// directory (for a symbolic link, whether its target is). Runs on the
/// pool.
fn entries(dir: &Path, root: &Path) -> io::Result<Vec<(bool, OsString)>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let t = e.file_type()?;
        if !t.is_symlink() {
            out.push((t.is_dir(), e.file_name()));
            continue;
        }
        // A dangling link, a loop, or one that leaves the root: not shown.
        let target: PathBuf = match std::fs::canonicalize(e.path()) {
            Ok(t) if t.starts_with(root) => t,
            _ => continue,
        };
        if let Ok(meta) = std::fs::metadata(&target) {
            out.push((meta.is_dir(), e.file_name()));
        }
    }
    Ok(out)
}
