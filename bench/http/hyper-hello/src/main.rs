//! bench/http.sh peer: hyper 1.x, HTTP/1.1 only, on tokio's `current_thread`
//! runtime (one thread), with `pipeline_flush(true)`. Same routes as
//! waiter's `hello` example: `GET /` -> `Hello, World!` (text/plain),
//! `GET /sleep` -> 50 ms timer, then a small JSON body.
//!
//! `hyper-hello --port 8080` (127.0.0.1 only)

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

const JSON: &str = r#"{"id":42,"name":"waiter","items":[1,2,3],"ok":true}"#;

fn reply(status: StatusCode, ctype: &'static str, body: &'static str) -> Response<Full<Bytes>> {
    let mut res = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *res.status_mut() = status;
    res.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(ctype));
    res
}

async fn handle(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(match (req.method(), req.uri().path()) {
        (&Method::GET, "/") => reply(StatusCode::OK, "text/plain; charset=utf-8", "Hello, World!"),
        (&Method::GET, "/sleep") => {
            tokio::time::sleep(Duration::from_millis(50)).await;
            reply(StatusCode::OK, "application/json", JSON)
        }
        _ => reply(StatusCode::NOT_FOUND, "text/plain; charset=utf-8", "Not Found"),
    })
}

fn port() -> u16 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == "--port")
        .and_then(|i| args.get(i + 1))
        .map(|p| p.parse().expect("--port takes a number"))
        .unwrap_or(8080)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", port())).await?;
    println!("listening on http://{}", listener.local_addr()?);
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(s) => s,
            // EMFILE and friends: back off briefly rather than spin or die.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let _ = http1::Builder::new()
                .pipeline_flush(true)
                .serve_connection(TokioIo::new(stream), service_fn(handle))
                .await;
        });
    }
}
