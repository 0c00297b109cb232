//! Shared test harness: a demo on port 0 with a fresh data directory, on
//! a loop of the test's own, and a small client for its API.

#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::Value;
use waiter_demo::{DemoHandle, DemoOptions};
use waiter_http::Client;
use waiter_rt::Loop;

/// Tells apart the directories of tests running in one process.
static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A loop and a fresh data directory for one test.
pub struct Harness {
    /// The loop the demo and the client run on.
    pub lp: Rc<Loop>,
    /// The data directory (removed on drop).
    pub dir: PathBuf,
}

impl Harness {
    /// A new loop and an empty, not yet created, data directory.
    pub fn new(name: &str) -> Harness {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "waiter-demo-test-{name}-{}-{n}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        Harness {
            lp: Rc::new(Loop::new().unwrap()),
            dir,
        }
    }

    /// Options for a demo on 127.0.0.1:0 in this harness's directory.
    pub fn options(&self) -> DemoOptions {
        DemoOptions {
            port: 0,
            data_dir: Some(self.dir.clone()),
            ..DemoOptions::default()
        }
    }

    /// Starts the demo (call inside `lp.block_on`) and a client for it.
    pub async fn start(&self) -> (DemoHandle, Api) {
        let demo = waiter_demo::serve(self.options())
            .await
            .expect("demo starts");
        let api = Api::new(&demo);
        (demo, api)
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A response: status, content type, headers of interest and JSON body.
#[derive(Debug)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The `Content-Type` field.
    pub content_type: String,
    /// The `Location` field.
    pub location: Option<String>,
    /// The `WWW-Authenticate` field.
    pub www_authenticate: Option<String>,
    /// The body as JSON (`Null` if empty or not JSON).
    pub json: Value,
}

impl Reply {
    /// Asserts a problem document with `status` and returns its detail.
    pub fn problem(&self, status: u16) -> String {
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(self.content_type, "application/problem+json", "{self:?}");
        assert_eq!(self.json["status"], status, "{self:?}");
        assert_eq!(self.json["type"], "about:blank");
        assert!(self.json["title"].as_str().is_some_and(|t| !t.is_empty()));
        self.json["detail"].as_str().expect("detail").to_owned()
    }
}

/// A client for the demo's API.
pub struct Api {
    /// The HTTP client.
    pub client: Client,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The API token.
    pub token: String,
}

impl Api {
    /// A client for `demo`.
    pub fn new(demo: &DemoHandle) -> Api {
        Api {
            client: Client::new(),
            url: demo.url(),
            token: demo.token().to_owned(),
        }
    }

    /// GET with the token.
    pub async fn get(&self, path: &str) -> Reply {
        let auth = format!("Bearer {}", self.token);
        self.get_with(path, Some(&auth)).await
    }

    /// GET with `authorization` as the `Authorization` field, if any.
    pub async fn get_with(&self, path: &str, authorization: Option<&str>) -> Reply {
        let mut rb = self.client.get(&format!("{}{path}", self.url));
        if let Some(a) = authorization {
            rb = rb.header("authorization", a);
        }
        reply(rb).await
    }

    /// POST `body` with the token and `content_type`.
    pub async fn post(&self, path: &str, content_type: &str, body: Vec<u8>) -> Reply {
        let rb = self
            .client
            .post(&format!("{}{path}", self.url))
            .header("authorization", format!("Bearer {}", self.token))
            .header("content-type", content_type)
            .body(body);
        reply(rb).await
    }
}

/// Sends `rb` and reads the reply.
async fn reply(rb: waiter_http::client::RequestBuilder) -> Reply {
    let rb = rb.timeout(Duration::from_secs(10));
    let mut res = rb.send().await.expect("request sent");
    let text = res.text().await.expect("body read");
    let field = |n: &str| res.header(n).map(str::to_owned);
    Reply {
        status: res.status().as_u16(),
        content_type: field("content-type").unwrap_or_default(),
        location: field("location"),
        www_authenticate: field("www-authenticate"),
        json: serde_json::from_str(&text).unwrap_or(Value::Null),
    }
}
