//! `GET /aggregate`: the API-gateway pattern. One request fans out to two
//! upstream services at once with waiter's HTTP client, and the answers
//! are combined into one document.
//!
//! Both calls are spawned as tasks before either is awaited, so the loop
//! has both requests on the wire together and the route takes about as
//! long as the slower one, not as long as both. The response shows the
//! three times so the difference is visible.
//!
//! Without `--upstream`, the demo runs the two services itself: a second
//! [`Server`] on the same loop, on `127.0.0.1` and a free port, whose
//! routes answer after a timer (the stand-in for their own work). A
//! configured upstream must answer `GET /pricing/{id}` and
//! `GET /inventory/{id}` with JSON.

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use waiter_http::{Client, Server, ServerHandle};
use waiter_web::{App, Request, Response, WebError};

use crate::app::Ctx;

/// How long the built-in pricing service takes to answer.
pub const PRICING_DELAY: Duration = Duration::from_millis(45);

/// How long the built-in inventory service takes to answer.
pub const INVENTORY_DELAY: Duration = Duration::from_millis(35);

/// How long `/aggregate` waits for an upstream answer.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(5);

/// Starts the built-in pricing and inventory services on a free port.
pub(crate) fn start_upstream() -> std::io::Result<ServerHandle> {
    let mut app = App::new();
    app.get("/pricing/{id}", |req: Request| async move {
        let id = path_id(&req)?;
        waiter_rt::sleep(PRICING_DELAY).await;
        let list = 1000 + (id * 7919) % 90_000;
        let discount = (id % 4) * 5;
        Ok::<_, WebError>(waiter_web::json(&json!({
            "service": "pricing",
            "id": id,
            "currency": "EUR",
            "list_price_cents": list,
            "discount_percent": discount,
            "price_cents": list - list * discount / 100,
        })))
    });
    app.get("/inventory/{id}", |req: Request| async move {
        let id = path_id(&req)?;
        waiter_rt::sleep(INVENTORY_DELAY).await;
        let stock = (id * 37) % 120;
        Ok::<_, WebError>(waiter_web::json(&json!({
            "service": "inventory",
            "id": id,
            "in_stock": stock,
            "warehouses": [
                {"name": "north", "units": stock / 3},
                {"name": "south", "units": stock - stock / 3},
            ],
            "restock_days": if stock == 0 { 14 } else { 0 },
        })))
    });
    let addr: SocketAddr = ([127, 0, 0, 1], 0).into();
    Server::builder().listen(addr, app)
}

/// The `{id}` of an upstream path.
fn path_id(req: &Request) -> Result<i64, WebError> {
    req.param("id")
        .and_then(|s| s.parse().ok())
        .filter(|n: &i64| *n > 0)
        .ok_or_else(|| WebError::bad_request("id must be a positive integer"))
}

/// One upstream answer and how long it took.
type Fetched = Result<(Value, Duration), String>;

/// GETs `url` and parses its JSON body; any failure is described.
async fn fetch_json(client: Client, url: String) -> Fetched {
    let start = Instant::now();
    let mut res = client
        .get(&url)
        .timeout(UPSTREAM_TIMEOUT)
        .send()
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    let text = res.text().await.map_err(|e| format!("GET {url}: {e}"))?;
    let status = res.status().as_u16();
    if !(200..300).contains(&status) {
        return Err(format!("GET {url}: status {status}"));
    }
    let v = serde_json::from_str(&text).map_err(|e| format!("GET {url}: invalid JSON: {e}"))?;
    Ok((v, start.elapsed()))
}

/// Milliseconds, with microsecond precision.
fn ms(d: Duration) -> f64 {
    (d.as_micros() as f64) / 1000.0
}

/// `GET /aggregate?id=`: pricing and inventory for an item, fetched
/// concurrently; 502 if either upstream fails.
pub(crate) async fn aggregate(ctx: Rc<Ctx>, req: Request) -> Result<Response, WebError> {
    let id: i64 = match req.query_param("id") {
        None => 1,
        Some(s) => s
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| WebError::bad_request("id must be a positive integer"))?,
    };
    let base = ctx.upstream.trim_end_matches('/');
    let start = Instant::now();
    // Both requests start before either is awaited.
    let pricing = waiter_rt::spawn_local(fetch_json(
        ctx.client.clone(),
        format!("{base}/pricing/{id}"),
    ));
    let inventory = waiter_rt::spawn_local(fetch_json(
        ctx.client.clone(),
        format!("{base}/inventory/{id}"),
    ));
    let pricing = pricing.await.map_err(|e| e.to_string()).and_then(|r| r);
    let inventory = inventory.await.map_err(|e| e.to_string()).and_then(|r| r);
    let elapsed = start.elapsed();
    let ((p, p_time), (i, i_time)) = match (pricing, inventory) {
        (Ok(p), Ok(i)) => (p, i),
        (Err(e), _) | (_, Err(e)) => {
            tracing::warn!(error = %e, "upstream call failed");
            return Err(WebError::new(
                502,
                format!("an upstream service failed: {e}"),
            ));
        }
    };
    Ok(waiter_web::json(&json!({
        "id": id,
        "pricing": p,
        "inventory": i,
        "timing": {
            "pricing_ms": ms(p_time),
            "inventory_ms": ms(i_time),
            "sum_ms": ms(p_time + i_time),
            "elapsed_ms": ms(elapsed),
            "concurrent": elapsed < p_time + i_time,
        },
        "upstream": base,
    })))
}
