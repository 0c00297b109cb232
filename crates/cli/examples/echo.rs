//! Answers every request with 200 and `{"method": M, "path": P,
//! "bodyLength": N}`, where `path` is the request target exactly as received
//! and `bodyLength` the number of body bytes read after de-chunking.
//!
//! `cargo run --release --example echo -- --port 8080`

use waiter_http::{Request, Response, StatusCode};

fn port() -> u16 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == "--port")
        .and_then(|i| args.get(i + 1))
        .map(|p| p.parse().expect("--port takes a number"))
        .unwrap_or(8080)
}

async fn echo(mut req: Request) -> Response {
    let mut n = 0usize;
    loop {
        match req.body_mut().chunk().await {
            Ok(Some(c)) => n += c.len(),
            Ok(None) => break,
            Err(e) => {
                return Response::text(e.to_string()).with_status(StatusCode::BAD_REQUEST);
            }
        }
    }
    let body = serde_json::json!({
        "method": req.method().as_str(),
        "path": req.target(),
        "bodyLength": n,
    });
    Response::json_bytes(body.to_string())
}

fn main() -> std::io::Result<()> {
    let _ = waiter_rt::sys::raise_nofile_limit();
    let addr = ([127, 0, 0, 1], port()).into();
    waiter_rt::run(async move {
        let mut stop = waiter_rt::signal::stop_signals()?;
        let server = waiter_http::Server::builder().listen(addr, echo)?;
        println!("listening on http://{}", server.local_addr());
        // Ctrl-C or SIGTERM: finish the requests in flight, then exit.
        stop.recv().await;
        server.shutdown(std::time::Duration::from_secs(5)).await;
        Ok(())
    })
}
