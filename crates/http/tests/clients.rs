//! Real clients against the server: curl, Python's http.client, Node's fetch.

mod util;

use std::process::Command;

use util::{run, start};
use waiter_http::{Request, Response, Server};

async fn echo(mut req: Request) -> Response {
    let body = req.body_mut().bytes(64 << 20).await.unwrap_or_default();
    Response::json_bytes(format!(
        r#"{{"method":"{}","path":"{}","bodyLength":{}}}"#,
        req.method().as_str(),
        req.target(),
        body.len()
    ))
}

#[test]
fn curl_keep_alive_and_uploads() {
    let srv = start(Server::builder(), || echo);
    let base = format!("http://{}", srv.addr);
    // Two URLs in one curl run reuse one connection.
    let out = run(Command::new("curl").args([
        "-sS",
        "-v",
        &format!("{base}/one"),
        &format!("{base}/two?x=1"),
    ]));
    assert!(out.contains(r#""path":"/one""#), "{out}");
    assert!(out.contains(r#""path":"/two?x=1""#), "{out}");
    let file = std::env::temp_dir().join(format!("waiter-upload-{}", std::process::id()));
    std::fs::write(&file, "z".repeat(300_000)).unwrap();
    let at = format!("@{}", file.display());
    let out = run(Command::new("curl").args([
        "-sS",
        "-X",
        "POST",
        "--data-binary",
        &at,
        &format!("{base}/up"),
    ]));
    std::fs::remove_file(&file).unwrap();
    assert!(out.contains(r#""bodyLength":300000"#), "{out}");
    let out = run(Command::new("curl").args([
        "-sS",
        "-H",
        "Transfer-Encoding: chunked",
        "--data-binary",
        "hello chunked",
        &format!("{base}/chunked"),
    ]));
    assert!(out.contains(r#""bodyLength":13"#), "{out}");
}

#[test]
fn python_http_client() {
    let srv = start(Server::builder(), || echo);
    let script = format!(
        r#"
import http.client
c = http.client.HTTPConnection("127.0.0.1", {port})
for i in range(3):
    c.request("POST", f"/py/{{i}}", body=b"x" * (i * 1000), headers={{"Content-Type": "text/plain"}})
    r = c.getresponse()
    assert r.status == 200, r.status
    print(r.read().decode())
c.close()
"#,
        port = srv.addr.port()
    );
    let out = run(Command::new("python3").arg("-c").arg(script));
    let lines: Vec<_> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines[2].contains(r#""path":"/py/2","bodyLength":2000"#),
        "{out}"
    );
}

#[test]
fn node_fetch() {
    let srv = start(Server::builder(), || echo);
    let script = format!(
        r#"
(async () => {{
  const base = "http://127.0.0.1:{port}";
  const a = await fetch(base + "/node", {{ method: "PUT", body: "abc" }});
  console.log(a.status, await a.text());
  const rs = await Promise.all([1, 2, 3].map(i => fetch(base + "/n" + i).then(r => r.json())));
  console.log(JSON.stringify(rs.map(r => r.path)));
}})().catch(e => {{ console.error(e); process.exit(1); }});
"#,
        port = srv.addr.port()
    );
    let out = run(Command::new("node").arg("-e").arg(script));
    assert!(
        out.contains(r#"200 {"method":"PUT","path":"/node","bodyLength":3}"#),
        "{out}"
    );
    assert!(out.contains(r#"["/n1","/n2","/n3"]"#), "{out}");
}
