//! Uploads and downloads of any size in bounded memory, for
//! `bench/big-body.sh`.
//!
//! - `PUT /upload/NAME` (or `POST`) streams the request body into
//!   `DIR/NAME` through `waiter_rt::fs` (on the worker pool), at most two
//!   1 MiB batches in memory at once, and answers `{"bytes": N}`. Reading
//!   from the socket waits while a batch is being written, so a client
//!   faster than the disk is held back by TCP.
//! - `GET /files/NAME` serves `DIR/NAME` with the static-file handler
//!   (ranges, validators; `sendfile(2)` unless `--no-sendfile`).
//!
//! `cargo run --release --example files -- --port 8080 --dir /tmp/files [--no-sendfile]`

use std::path::{Path, PathBuf};
use std::rc::Rc;

use waiter_http::{Response, Server, StatusCode};
use waiter_web::static_files::{serve_dir, ServeDirOptions};
use waiter_web::{App, Request};

/// Bytes gathered before each write to the file.
const BATCH: usize = 1024 * 1024;

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    let i = args.iter().position(|a| a == name)?;
    args.get(i + 1).cloned()
}

fn flag(name: &str) -> bool {
    std::env::args().any(|a| a == name)
}

fn error(status: StatusCode, msg: impl std::fmt::Display) -> Response {
    Response::text(format!("{msg}\n")).with_status(status)
}

/// Streams the body of `req` into `path`; returns the bytes written.
async fn upload(mut req: waiter_http::Request, path: &Path) -> Result<u64, Response> {
    let file = waiter_rt::fs::File::create(path)
        .await
        .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, e))?;
    let mut batch = Vec::with_capacity(BATCH);
    let mut written = 0u64;
    // One write in flight while the next batch is read.
    let mut pending: Option<waiter_rt::JoinHandle<std::io::Result<()>>> = None;
    loop {
        let chunk = req
            .body_mut()
            .chunk()
            .await
            .map_err(|e| error(StatusCode::BAD_REQUEST, e))?;
        let done = chunk.is_none();
        if let Some(c) = chunk {
            batch.extend_from_slice(&c);
        }
        if batch.len() >= BATCH || (done && !batch.is_empty()) {
            if let Some(p) = pending.take() {
                p.await
                    .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, e))?
                    .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, e))?;
            }
            written += batch.len() as u64;
            let data = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
            let f = file.clone();
            pending = Some(waiter_rt::spawn_local(
                async move { f.write_all(data).await },
            ));
        }
        if done {
            break;
        }
    }
    if let Some(p) = pending {
        p.await
            .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, e))?
            .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, e))?;
    }
    Ok(written)
}

/// A plain file name: no separators, not `.` or `..`.
fn plain_name(name: &str) -> Option<&str> {
    let ok = !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\']);
    ok.then_some(name)
}

/// `PUT`/`POST /upload/{name}`.
async fn upload_route(req: Request, dir: Rc<PathBuf>) -> Response {
    let Some(name) = req.param("name").and_then(plain_name).map(str::to_owned) else {
        return error(StatusCode::BAD_REQUEST, "a plain file name");
    };
    match upload(req.into_inner(), &dir.join(name)).await {
        Ok(n) => Response::json_bytes(format!("{{\"bytes\":{n}}}\n")),
        Err(r) => r,
    }
}

fn main() -> std::io::Result<()> {
    let _ = waiter_rt::sys::raise_nofile_limit();
    let port: u16 = arg("--port").map_or(8080, |p| p.parse().expect("--port takes a number"));
    let dir = PathBuf::from(arg("--dir").expect("--dir DIR is required"));
    std::fs::create_dir_all(&dir)?;
    let addr = ([127, 0, 0, 1], port).into();
    let builder = Server::builder().sendfile(!flag("--no-sendfile"));
    waiter_rt::run(async move {
        let mut stop = waiter_rt::signal::stop_signals()?;
        let mut app = App::new();
        let dir = Rc::new(dir);
        let d = dir.clone();
        app.put("/upload/{name}", move |req: Request| {
            upload_route(req, d.clone())
        });
        let d = dir.clone();
        app.post("/upload/{name}", move |req: Request| {
            upload_route(req, d.clone())
        });
        app.mount(
            "/files",
            serve_dir(dir.as_ref().clone(), ServeDirOptions::default()),
        );
        let server = builder.listen(addr, app)?;
        println!("listening on http://{}", server.local_addr());
        // Ctrl-C or SIGTERM: finish the transfers in flight, then exit.
        stop.recv().await;
        server.shutdown(std::time::Duration::from_secs(10)).await;
        Ok(())
    })
}
