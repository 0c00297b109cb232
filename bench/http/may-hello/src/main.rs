//! bench/http.sh peer: may_minihttp on one may worker thread. Same routes as
//! waiter's `hello` example: `GET /` -> `Hello, World!` (text/plain),
//! `GET /sleep` -> 50 ms coroutine sleep, then a small JSON body.
//!
//! `may-hello --port 8080` (127.0.0.1 only)

use std::io;
use std::time::Duration;

use may_minihttp::{HttpServer, HttpService, Request, Response};

const JSON: &str = r#"{"id":42,"name":"waiter","items":[1,2,3],"ok":true}"#;

#[derive(Clone)]
struct Hello;

impl HttpService for Hello {
    fn call(&mut self, req: Request, rsp: &mut Response) -> io::Result<()> {
        match (req.method(), req.path()) {
            ("GET", "/") => {
                rsp.header("Content-Type: text/plain; charset=utf-8");
                rsp.body("Hello, World!");
            }
            ("GET", "/sleep") => {
                // Blocks this connection's coroutine only.
                may::coroutine::sleep(Duration::from_millis(50));
                rsp.header("Content-Type: application/json");
                rsp.body(JSON);
            }
            _ => {
                rsp.status_code(404, "Not Found");
                rsp.header("Content-Type: text/plain; charset=utf-8");
                rsp.body("Not Found");
            }
        }
        Ok(())
    }
}

fn port() -> u16 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == "--port")
        .and_then(|i| args.get(i + 1))
        .map(|p| p.parse().expect("--port takes a number"))
        .unwrap_or(8080)
}

fn main() {
    // One worker; no self-pinning, so `taskset` decides the CPU.
    may::config().set_workers(1);
    may::config().set_worker_pin(false);
    let server = HttpServer(Hello).start(("127.0.0.1", port())).unwrap();
    println!("listening on http://127.0.0.1:{}", port());
    server.join().unwrap();
}
