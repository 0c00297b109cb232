//! `GET /items`, `GET /items/{id}` and `POST /items`.
//!
//! Each handler parses and checks the request on the loop (cheap), sends
//! one closure to the pool for the query (the wait), and formats the rows
//! on the loop again.

use std::rc::Rc;

use rusqlite::{params, OptionalExtension, Row};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use waiter_web::{json, Request, Response, ResponseExt, WebError};

use crate::app::{problem_with, Ctx};
use crate::validate::{self, NewItem};

/// The largest request body `POST /items` reads: 64 KiB.
pub const BODY_LIMIT: usize = 64 * 1024;

/// Items per page when `limit` is absent.
const DEFAULT_LIMIT: i64 = 20;

/// The largest page.
pub(crate) const MAX_LIMIT: i64 = 100;

/// The columns of an item, in [`Item::from_row`]'s order.
pub(crate) const COLUMNS: &str = "id, name, description, price_cents, tags, created_at";

/// An item as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Item {
    /// The row id.
    pub(crate) id: i64,
    /// The name.
    pub(crate) name: String,
    /// The description.
    pub(crate) description: String,
    /// The price in cents.
    pub(crate) price_cents: i64,
    /// The tags.
    pub(crate) tags: Vec<String>,
    /// When it was created (RFC 3339, UTC).
    pub(crate) created_at: String,
}

impl Item {
    /// The item in `row`, selected with [`COLUMNS`] first.
    pub(crate) fn from_row(row: &Row<'_>) -> rusqlite::Result<Item> {
        let tags: String = row.get(4)?;
        Ok(Item {
            id: row.get(0)?,
            name: row.get(1)?,
            description: row.get(2)?,
            price_cents: row.get(3)?,
            tags: tags
                .split(',')
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect(),
            created_at: row.get(5)?,
        })
    }
}

/// The query of `GET /items`.
#[derive(Debug, Deserialize)]
struct Page {
    /// Items per page (1 to [`MAX_LIMIT`]).
    limit: Option<i64>,
    /// Items to skip.
    offset: Option<i64>,
}

/// A page of items, oldest first.
#[derive(Debug, Serialize)]
struct ItemPage {
    /// The items.
    items: Vec<Item>,
    /// The page size asked for.
    limit: i64,
    /// The items skipped.
    offset: i64,
    /// Items in the catalogue.
    total: i64,
}

/// `GET /items?limit=&offset=`.
pub(crate) async fn list(ctx: Rc<Ctx>, req: Request) -> Result<Response, WebError> {
    let page: Page = req.query_as()?;
    let limit = page.limit.unwrap_or(DEFAULT_LIMIT);
    let offset = page.offset.unwrap_or(0);
    if !(1..=MAX_LIMIT).contains(&limit) {
        let detail = format!("limit must be between 1 and {MAX_LIMIT}");
        return Err(WebError::bad_request(detail));
    }
    if offset < 0 {
        return Err(WebError::bad_request("offset must not be negative"));
    }
    let (items, total) = ctx
        .db
        .call(move |c| {
            let sql = format!("SELECT {COLUMNS} FROM items ORDER BY id LIMIT ?1 OFFSET ?2");
            let mut stmt = c.prepare_cached(&sql)?;
            let items = stmt
                .query_map(params![limit, offset], Item::from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let total = c.query_row("SELECT count(*) FROM items", [], |r| r.get(0))?;
            Ok((items, total))
        })
        .await?;
    Ok(json(&ItemPage {
        items,
        limit,
        offset,
        total,
    }))
}

/// `GET /items/{id}`.
pub(crate) async fn get(ctx: Rc<Ctx>, req: Request) -> Result<Response, WebError> {
    let raw = req.param("id").unwrap_or_default();
    let id: i64 = raw.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
        WebError::bad_request(format!("item id must be a positive integer, got {raw:?}"))
    })?;
    let item = ctx.db.call(move |c| fetch(c, id)).await?;
    match item {
        Some(item) => Ok(json(&item)),
        None => Err(WebError::not_found(format!("there is no item {id}"))),
    }
}

/// The item with `id`, if any.
fn fetch(c: &rusqlite::Connection, id: i64) -> rusqlite::Result<Option<Item>> {
    let sql = format!("SELECT {COLUMNS} FROM items WHERE id = ?1");
    c.prepare_cached(&sql)?
        .query_row([id], Item::from_row)
        .optional()
}

/// `POST /items`: 415 unless JSON, 413 past [`BODY_LIMIT`], 400 if it does
/// not parse, 422 with every field error if it is not a valid item, and
/// otherwise 201 with the item and its `Location`.
pub(crate) async fn create(ctx: Rc<Ctx>, mut req: Request) -> Result<Response, WebError> {
    let body: Value = req.json(BODY_LIMIT).await?;
    let new = match validate::new_item(&body) {
        Ok(new) => new,
        Err(errors) => return Ok(invalid(&errors)),
    };
    let item = ctx.db.call(move |c| insert(c, &new)).await?;
    let location = format!("/items/{}", item.id);
    Ok(json(&item).with_code(201).with_header("location", location))
}

/// Inserts `new` and reads it back (with its id and creation time).
fn insert(c: &rusqlite::Connection, new: &NewItem) -> rusqlite::Result<Item> {
    let sql = format!(
        "INSERT INTO items (name, description, price_cents, tags) \
         VALUES (?1, ?2, ?3, ?4) RETURNING {COLUMNS}"
    );
    let tags = new.tags.join(",");
    c.prepare_cached(&sql)?.query_row(
        params![new.name, new.description, new.price_cents, tags],
        Item::from_row,
    )
}

/// The 422 problem document listing `errors`.
fn invalid(errors: &[validate::FieldError]) -> Response {
    let n = errors.len();
    let detail = if n == 1 {
        format!(
            "the item is not valid: {} {}",
            errors[0].field, errors[0].message
        )
    } else {
        format!("the item is not valid: {n} fields have errors")
    };
    let e = WebError::new(422, detail);
    let mut extra = Map::new();
    extra.insert(
        "errors".to_owned(),
        serde_json::to_value(errors).unwrap_or(Value::Null),
    );
    problem_with(&e, extra)
}
