//! A Transfer-Encoding set by the handler: the body goes out chunked
//! (`chunked` added after codings the handler applied itself), and the
//! field is left out for HTTP/1.0 clients. On the wire and with curl and
//! Python's http.client.

mod util;

use std::io::Write;
use std::process::Command;

use util::{exchange, get, lower_head, run, start};
use waiter_http::{Body, Request, Response, Server};

const TEXT: &str = "a body the handler framed itself, twice: a body the handler framed itself";

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

async fn app(req: Request) -> Response {
    match req.path() {
        "/chunked" => Response::text(TEXT).with_header("transfer-encoding", "chunked"),
        "/stream" => {
            let (tx, body) = Body::channel(4);
            waiter_rt::spawn_local(async move {
                for part in TEXT.as_bytes().chunks(20) {
                    if tx.send(part.to_vec()).await.is_err() {
                        return;
                    }
                }
            })
            .detach();
            Response::new(waiter_http::StatusCode::OK)
                .with_header("transfer-encoding", "chunked")
                .with_body(body)
        }
        "/gzip" => Response::bytes("text/plain", gzip(TEXT.as_bytes()))
            .with_header("transfer-encoding", "gzip"),
        _ => Response::text("plain"),
    }
}

#[test]
fn a_handler_set_chunked_frames_the_body_chunked() {
    let srv = start(Server::builder(), || app);
    for path in ["/chunked", "/stream"] {
        let r = get(srv.addr, path);
        let (head, body) = r.split_once("\r\n\r\n").unwrap();
        let lower = head.to_ascii_lowercase();
        assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{r}");
        assert_eq!(lower.matches("transfer-encoding").count(), 1, "{r}");
        assert!(lower.contains("transfer-encoding: chunked\r\n"), "{r}");
        assert!(!lower.contains("content-length"), "{r}");
        assert!(body.ends_with("\r\n0\r\n\r\n"), "{r}");
        // Python decodes the chunks back to the text.
        let script = format!(
            "import http.client\n\
             c = http.client.HTTPConnection('127.0.0.1', {port})\n\
             c.request('GET', '{path}')\n\
             r = c.getresponse()\n\
             assert r.chunked, r.headers\n\
             print(r.read().decode(), end='')\n",
            port = srv.addr.port()
        );
        assert_eq!(run(Command::new("python3").args(["-c", &script])), TEXT);
    }
}

#[test]
fn a_coding_applied_by_the_handler_gets_chunked_after_it() {
    let srv = start(Server::builder(), || app);
    let r = get(srv.addr, "/gzip");
    let head = lower_head(&r);
    assert!(head.contains("transfer-encoding: gzip, chunked\r\n"), "{r}");
    assert!(!head.contains("content-length"), "{head}");
    // curl undoes both codings when asked to take transfer codings.
    let url = format!("http://{}/gzip", srv.addr);
    let out = run(Command::new("curl").args(["-sS", "--tr-encoding", &url]));
    assert_eq!(out, TEXT);
}

#[test]
fn an_http_1_0_client_gets_no_transfer_encoding() {
    let srv = start(Server::builder(), || app);
    // A streamed body is delimited by the close instead.
    for path in ["/chunked", "/stream"] {
        let r = exchange(srv.addr, format!("GET {path} HTTP/1.0\r\n\r\n").as_bytes());
        let (head, body) = r.split_once("\r\n\r\n").unwrap();
        assert!(
            !head.to_ascii_lowercase().contains("transfer-encoding"),
            "{r}"
        );
        assert_eq!(body, TEXT, "{r}");
    }
    // A coding other than chunked cannot be sent without the field: 500.
    let r = exchange(srv.addr, b"GET /gzip HTTP/1.0\r\n\r\n");
    assert!(r.starts_with("HTTP/1.1 500 "), "{r}");
    assert!(util::has_current_date(&r), "{r}");
}
