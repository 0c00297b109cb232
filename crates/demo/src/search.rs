//! `GET /search?q=`: full-text search with SQLite's FTS5 (compiled into
//! the bundled SQLite), ranked by BM25.
//!
//! The words of `q` become prefix terms that must all match (`lamp wal`
//! finds "Walnut Lamp"); the porter stemmer makes "lamps" match "lamp".
//! A match in the name weighs most, then tags, then the description. The
//! query runs on the pool like every other.

use std::rc::Rc;

use rusqlite::params;
use serde::Serialize;
use waiter_web::{json, Request, Response, WebError};

use crate::app::Ctx;
use crate::items::{Item, COLUMNS};

/// Results when `limit` is absent.
const DEFAULT_LIMIT: usize = 10;

/// The most results one search returns.
const MAX_LIMIT: usize = 50;

/// The most words of `q` used.
const MAX_TERMS: usize = 8;

/// BM25 weights of the indexed columns: name, description, tags.
const WEIGHTS: (f64, f64, f64) = (10.0, 1.0, 4.0);

/// One match.
#[derive(Debug, Serialize)]
struct Hit {
    /// The item.
    #[serde(flatten)]
    item: Item,
    /// Relevance: higher is better (BM25, negated).
    score: f64,
    /// The description around the match, matched words in `[brackets]`.
    snippet: String,
}

/// The answer of a search.
#[derive(Debug, Serialize)]
struct Results {
    /// `q` as sent.
    query: String,
    /// The FTS5 query it became.
    fts_query: String,
    /// Matches in the catalogue.
    total: i64,
    /// The best matches, best first.
    results: Vec<Hit>,
}

/// The FTS5 query for the user's text: each word a quoted prefix term,
/// all required. `None` if the text has no word.
pub(crate) fn fts_query(q: &str) -> Option<String> {
    let terms: Vec<String> = q
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(MAX_TERMS)
        .map(|w| format!("\"{}\"*", w.to_lowercase()))
        .collect();
    (!terms.is_empty()).then(|| terms.join(" "))
}

/// `GET /search?q=&limit=`.
pub(crate) async fn search(ctx: Rc<Ctx>, req: Request) -> Result<Response, WebError> {
    let q = req.query_param("q").unwrap_or_default();
    if q.trim().is_empty() {
        return Err(WebError::bad_request("the query parameter q is required"));
    }
    let limit = match req.query_param("limit") {
        None => DEFAULT_LIMIT,
        Some(l) => l
            .parse()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                WebError::bad_request(format!("limit must be between 1 and {MAX_LIMIT}"))
            })?,
    };
    let Some(fts) = fts_query(&q) else {
        return Err(WebError::bad_request("q has no word to search for"));
    };
    let f = fts.clone();
    let (total, results) = ctx.db.call(move |c| run(c, &f, limit)).await?;
    Ok(json(&Results {
        query: q,
        fts_query: fts,
        total,
        results,
    }))
}

/// Counts the matches of `fts` and returns the best `limit` of them.
fn run(c: &rusqlite::Connection, fts: &str, limit: usize) -> rusqlite::Result<(i64, Vec<Hit>)> {
    let total = c
        .prepare_cached("SELECT count(*) FROM items_fts WHERE items_fts MATCH ?1")?
        .query_row([fts], |r| r.get(0))?;
    let cols = COLUMNS
        .split(", ")
        .map(|c| format!("i.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT {cols}, bm25(items_fts, ?2, ?3, ?4) AS rank, \
                snippet(items_fts, 1, '[', ']', '…', 12) \
         FROM items_fts JOIN items i ON i.id = items_fts.rowid \
         WHERE items_fts MATCH ?1 ORDER BY rank, i.id LIMIT ?5"
    );
    let (wn, wd, wt) = WEIGHTS;
    let hits = c
        .prepare_cached(&sql)?
        .query_map(params![fts, wn, wd, wt, limit as i64], |r| {
            Ok(Hit {
                item: Item::from_row(r)?,
                score: -r.get::<_, f64>(6)?,
                snippet: r.get(7)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok((total, hits))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_become_quoted_prefix_terms() {
        assert_eq!(
            fts_query("Walnut  lamp!").as_deref(),
            Some("\"walnut\"* \"lamp\"*")
        );
        assert_eq!(
            fts_query("\"x\" OR y*").as_deref(),
            Some("\"x\"* \"or\"* \"y\"*")
        );
        assert_eq!(fts_query(" -- !! "), None);
        let many = "a b c d e f g h i j";
        assert_eq!(fts_query(many).unwrap().matches('*').count(), MAX_TERMS);
    }
}
