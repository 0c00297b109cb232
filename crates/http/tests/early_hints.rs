//! Interim responses from a handler (`103 Early Hints`): written before
//! the final response while the handler still works, in pipelined order,
//! and never to HTTP/1.0 clients. On the wire and with curl.

mod util;

use std::io::{Read, Write};
use std::process::Command;

use util::{connect, exchange, get, read_to_close, start};
use waiter_http::{Headers, Request, Response, Server, StatusCode};

const LINK: &str = "</style.css>; rel=preload; as=style";

fn hints() -> Headers {
    let mut h = Headers::new();
    h.append("link", LINK);
    h
}

async fn app(mut req: Request) -> Response {
    match req.path() {
        "/hints" => {
            if let Err(e) = req.early_hints(hints()).await {
                return Response::text(format!("hints failed: {e}"));
            }
            // The final response needs the body, which the client sends
            // only once it has the hints.
            let body = req.body_mut().bytes(1 << 20).await.unwrap_or_default();
            Response::text(format!("final {}", String::from_utf8_lossy(&body)))
        }
        "/statuses" => {
            let mut out = String::new();
            for code in [100, 101, 200, 404, 102] {
                let status = StatusCode::from_u16(code).unwrap();
                let r = req.send_interim(status, Headers::new()).await;
                out.push_str(&format!("{code}:{:?} ", r.map_err(|e| e.kind())));
            }
            Response::text(out)
        }
        _ => Response::text("plain"),
    }
}

#[test]
fn hints_arrive_while_the_handler_still_works() {
    let srv = start(Server::builder(), || app);
    let mut s = connect(srv.addr);
    s.write_all(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /hints HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nConnection: close\r\n\r\n")
        .unwrap();
    // The response to the first request, then the hints: read them all
    // before the body is sent (the handler waits for it).
    let want = format!("\r\n\r\nplainHTTP/1.1 103 Early Hints\r\nlink: {LINK}\r\n\r\n");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).ends_with(&want) {
        let n = s
            .read(&mut buf)
            .expect("the hints came before the body was sent");
        assert!(n > 0, "closed after {:?}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
        assert!(got.len() < 4096, "{:?}", String::from_utf8_lossy(&got));
    }
    s.write_all(b"body").unwrap();
    let rest = read_to_close(&mut s);
    assert!(rest.starts_with("HTTP/1.1 200 OK\r\n"), "{rest}");
    assert!(rest.ends_with("\r\n\r\nfinal body"), "{rest}");
}

#[test]
fn an_http_1_0_client_gets_no_hints() {
    let srv = start(Server::builder(), || app);
    let r = exchange(
        srv.addr,
        b"POST /hints HTTP/1.0\r\nContent-Length: 2\r\n\r\nok",
    );
    assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{r}");
    assert!(r.ends_with("final ok"), "{r}");
}

#[test]
fn only_interim_statuses_other_than_100_and_101_are_sent() {
    let srv = start(Server::builder(), || app);
    let r = get(srv.addr, "/statuses");
    assert!(
        r.starts_with("HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 200 OK\r\n"),
        "{r}"
    );
    assert!(
        r.ends_with(
            "100:Err(InvalidInput) 101:Err(InvalidInput) 200:Err(InvalidInput) \
             404:Err(InvalidInput) 102:Ok(()) "
        ),
        "{r}"
    );
}

#[test]
fn curl_shows_the_hints_before_the_response() {
    let srv = start(Server::builder(), || app);
    let url = format!("http://{}/hints", srv.addr);
    let out = Command::new("curl")
        .args(["-sS", "-i", "--data-binary", "x", &url])
        .output()
        .expect("curl not installed");
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with(&format!(
            "HTTP/1.1 103 Early Hints\r\nlink: {LINK}\r\n\r\nHTTP/1.1 200 OK\r\n"
        )),
        "{text}"
    );
    assert!(text.ends_with("final x"), "{text}");
}
