//! `GET /aggregate`: two upstream calls at once, with the built-in
//! upstream and with a configured one.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{Api, Harness};
use waiter_demo::{INVENTORY_DELAY, PRICING_DELAY};
use waiter_http::Server;
use waiter_web::{App, Request, WebError};

#[test]
fn calls_both_upstreams_concurrently() {
    let h = Harness::new("aggregate");
    h.lp.block_on(async {
        let (demo, api) = h.start().await;
        let sum = PRICING_DELAY + INVENTORY_DELAY;
        let sent = Instant::now();
        let r = api.get("/aggregate?id=7").await;
        let wall = sent.elapsed();
        assert_eq!(r.status, 200, "{r:?}");
        assert_eq!(r.json["id"], 7);
        assert_eq!(r.json["pricing"]["service"], "pricing");
        assert_eq!(r.json["pricing"]["id"], 7);
        assert!(r.json["pricing"]["price_cents"].as_i64().unwrap() > 0);
        assert_eq!(r.json["inventory"]["service"], "inventory");
        assert!(r.json["inventory"]["in_stock"].as_i64().is_some());

        let t = &r.json["timing"];
        let ms = |k: &str| t[k].as_f64().unwrap();
        assert!(ms("pricing_ms") >= PRICING_DELAY.as_millis() as f64, "{t}");
        assert!(
            ms("inventory_ms") >= INVENTORY_DELAY.as_millis() as f64,
            "{t}"
        );
        // About the slower call, not the sum of both.
        assert!(
            ms("elapsed_ms") >= ms("pricing_ms").max(ms("inventory_ms")),
            "{t}"
        );
        assert!(ms("elapsed_ms") < sum.as_millis() as f64, "{t}");
        assert!(ms("elapsed_ms") < ms("sum_ms"), "{t}");
        assert_eq!(t["concurrent"], true);
        assert!(wall < sum, "the whole request took {wall:?}");

        assert_eq!(r.json["upstream"], demo.upstream());
        api.get("/aggregate?id=0").await.problem(400);
        demo.shutdown(Duration::from_secs(1)).await;
    });
}

#[test]
fn uses_a_configured_upstream_and_reports_its_failure() {
    let h = Harness::new("upstream");
    h.lp.block_on(async {
        let mut app = App::new();
        app.get("/pricing/{id}", |req: Request| async move {
            let id = req.param("id").unwrap().to_owned();
            Ok::<_, WebError>(waiter_web::json(
                &serde_json::json!({"from": "fake", "id": id}),
            ))
        });
        app.get("/inventory/{id}", |_req: Request| async {
            Ok::<_, WebError>(waiter_web::json(&serde_json::json!({"in_stock": 3})))
        });
        let fake = Server::builder()
            .listen(SocketAddr::from(([127, 0, 0, 1], 0)), app)
            .unwrap();
        let mut opts = h.options();
        opts.upstream = Some(format!("http://{}/", fake.local_addr()));
        let demo = waiter_demo::serve(opts).await.unwrap();
        let api = Api::new(&demo);
        assert_eq!(demo.upstream(), format!("http://{}", fake.local_addr()));
        assert!(!demo.banner().contains("built in"));

        let r = api.get("/aggregate?id=5").await;
        assert_eq!(r.status, 200, "{r:?}");
        assert_eq!(
            r.json["pricing"],
            serde_json::json!({"from": "fake", "id": "5"})
        );
        assert_eq!(r.json["inventory"]["in_stock"], 3);

        // The upstream goes away: 502, with the failing call named.
        fake.shutdown(Duration::from_secs(1)).await;
        let r = api.get("/aggregate?id=5").await;
        assert!(r.problem(502).contains("/pricing/5") || r.problem(502).contains("/inventory/5"));
        demo.shutdown(Duration::from_secs(1)).await;
    });
}

#[test]
fn refuses_an_upstream_that_is_not_http() {
    let h = Harness::new("bad-upstream");
    h.lp.block_on(async {
        let mut opts = h.options();
        opts.upstream = Some("ftp://example.invalid".to_owned());
        let err = waiter_demo::serve(opts).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("http://"), "{err}");
    });
}
