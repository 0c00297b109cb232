//! The benchmark app: `GET /` answers `Hello, World!`; `GET /sleep` waits
//! 50 ms on a timer (a typical database call, replaced by a timer) and then
//! answers a small JSON body. One loop, one thread, 127.0.0.1.
//!
//! `cargo run --release --example hello -- --port 8080`

use std::time::Duration;

use waiter_http::{Method, Response, Server, StatusCode};

fn port() -> u16 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == "--port")
        .and_then(|i| args.get(i + 1))
        .map(|p| p.parse().expect("--port takes a number"))
        .unwrap_or(8080)
}

fn main() -> std::io::Result<()> {
    let _ = waiter_rt::sys::raise_nofile_limit();
    let addr = ([127, 0, 0, 1], port()).into();
    waiter_rt::run(async move {
        let mut stop = waiter_rt::signal::stop_signals()?;
        let server = Server::builder().listen(addr, |req: waiter_http::Request| async move {
            match (req.method(), req.path()) {
                (&Method::Get, "/") => Response::text("Hello, World!"),
                (&Method::Get, "/sleep") => {
                    waiter_rt::sleep(Duration::from_millis(50)).await;
                    Response::json_bytes(r#"{"id":42,"name":"waiter","items":[1,2,3],"ok":true}"#)
                }
                _ => Response::text("Not Found").with_status(StatusCode::NOT_FOUND),
            }
        })?;
        println!("listening on http://{}", server.local_addr());
        // Ctrl-C or SIGTERM: finish the requests in flight, then exit.
        stop.recv().await;
        server.shutdown(Duration::from_secs(5)).await;
        Ok(())
    })
}
