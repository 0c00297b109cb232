//! HTML directory listings.
//!
//! Invariant: every name is HTML-escaped in text and percent-encoded in
//! links, and links are relative and start with `./`, so a file name can
//! inject neither markup nor a `javascript:` URL.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use waiter_http::Response;

use crate::codec::{html_escape, percent_encode_path};
use crate::error::WebError;

use super::path::io_error;

/// The listing of `dir`, shown as `shown_path` (the decoded request path).
pub(crate) async fn render(
    dir: &Path,
    shown_path: &str,
    dotfiles: bool,
) -> Result<Response, WebError> {
    let entries = waiter_rt::fs::read_dir(dir).await.map_err(io_error)?;
    // (is a directory, name shown, the name's bytes for the link)
    let mut rows: Vec<(bool, String, Vec<u8>)> = entries
        .into_iter()
        .map(|e| {
            let shown = e.name.to_string_lossy().into_owned();
            (e.file_type.is_dir(), shown, e.name.as_bytes().to_vec())
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
