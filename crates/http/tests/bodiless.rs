//! Responses that carry no body whatever the handler gives (HEAD, 204,
//! 304), and a handler's response the framing cannot send (a body after a
//! 2xx to CONNECT): on the wire, with the responses owed to earlier
//! pipelined requests.

mod util;

use util::{body, exchange, split_responses, start, status};
use waiter_http::{Request, Response, Server, StatusCode};

async fn app(req: Request) -> Response {
    match req.path() {
        "/204" => Response::text("dropped").with_status(StatusCode::NO_CONTENT),
        "/304" => Response::text("dropped").with_status(StatusCode::NOT_MODIFIED),
        "/304-length" => {
            Response::new(StatusCode::NOT_MODIFIED).with_header("content-length", "10")
        }
        "/head-length" => Response::new(StatusCode::OK).with_header("content-length", "10"),
        _ => Response::text(format!("{} {}", req.method().as_str(), req.target())),
    }
}

fn server() -> util::TestServer {
    start(Server::builder(), || app)
}

#[test]
fn a_204_drops_the_body_and_keeps_the_connection() {
    let srv = server();
    let r = exchange(
        srv.addr,
        b"GET /204 HTTP/1.1\r\nHost: x\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let parts = split_responses(r.as_bytes());
    assert_eq!(parts.len(), 2, "{r}");
    assert_eq!(status(&parts[0]), 204, "{r}");
    assert!(
        !parts[0].to_ascii_lowercase().contains("content-length"),
        "{r}"
    );
    assert_eq!(body(&parts[0]), "");
    assert_eq!(body(&parts[1]), "GET /next", "{r}");
}

#[test]
fn a_304_has_no_length_of_ours_and_no_body() {
    let srv = server();
    let r = exchange(
        srv.addr,
        b"GET /304 HTTP/1.1\r\nHost: x\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let parts = split_responses(r.as_bytes());
    assert_eq!(parts.len(), 2, "{r}");
    assert_eq!(status(&parts[0]), 304, "{r}");
    assert!(
        !parts[0].to_ascii_lowercase().contains("content-length"),
        "{r}"
    );
    assert_eq!(body(&parts[1]), "GET /next", "{r}");
}

#[test]
fn a_stated_length_on_304_and_head_is_kept_without_a_body() {
    let srv = server();
    // Read whole: the stated lengths describe bodies that are not sent.
    let r = exchange(
        srv.addr,
        b"GET /304-length HTTP/1.1\r\nHost: x\r\n\r\nHEAD /head-length HTTP/1.1\r\nHost: x\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let heads: Vec<&str> = r.split("\r\n\r\n").collect();
    assert!(heads[0].starts_with("HTTP/1.1 304 "), "{r}");
    assert!(heads[0].contains("content-length: 10"), "{r}");
    assert!(heads[1].starts_with("HTTP/1.1 200 "), "{r}");
    assert!(heads[1].contains("content-length: 10"), "{r}");
    assert!(heads[2].starts_with("HTTP/1.1 200 "), "{r}");
    assert_eq!(heads[3], "GET /next", "{r}");
}

#[test]
fn a_body_to_a_connect_tunnel_gets_500_after_the_earlier_responses() {
    let srv = server();
    let r = exchange(
        srv.addr,
        b"GET /first HTTP/1.1\r\nHost: x\r\n\r\nCONNECT x:443 HTTP/1.1\r\nHost: x:443\r\n\r\n",
    );
    let parts = split_responses(r.as_bytes());
    assert_eq!(parts.len(), 2, "{r}");
    assert_eq!(body(&parts[0]), "GET /first", "{r}");
    assert_eq!(status(&parts[1]), 500, "{r}");
    assert!(parts[1].contains("connection: close"), "{r}");
}
