//! The database: embedded SQLite, reached only from the worker pool.
//!
//! **Invariant: no SQLite call runs on the loop thread.** SQLite's API
//! blocks (disk reads, fsync, lock waits), so every query is a closure sent
//! to the pool with [`waiter_rt::spawn_blocking`], the way libuv hands
//! blocking work to its threadpool; the handler's task parks until the
//! worker stores the result and wakes it, and the loop serves other
//! requests meanwhile. [`Db::call`] is the only way in, and the connection
//! exists only inside its closure.
//!
//! Each pool worker keeps its own [`Connection`] per database file in a
//! `thread_local!`, opened on first use on that worker (WAL journal, so
//! readers on one worker never wait for a writer on another; a busy
//! timeout, so a writer waits for another instead of failing), and reuses
//! it for every later job. Connections close when the worker exits.

use std::cell::RefCell;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::Connection;
use waiter_web::WebError;

/// How long a statement waits for another connection's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The prefix of the pool's worker thread names.
const POOL_THREAD_PREFIX: &str = "waiter-pool-";

thread_local! {
    /// This worker's connections, one per database file.
    static CONNECTIONS: RefCell<Vec<(PathBuf, Connection)>> = const { RefCell::new(Vec::new()) };
}

/// A database file, queried on the worker pool. Cloning is cheap.
#[derive(Clone)]
pub(crate) struct Db {
    /// The SQLite file.
    path: Arc<PathBuf>,
}

impl fmt::Debug for Db {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Db").field("path", &self.path).finish()
    }
}

impl Db {
    /// The database in `path` (created on first use).
    pub(crate) fn new(path: PathBuf) -> Db {
        Db {
            path: Arc::new(path),
        }
    }

    /// The SQLite file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` with this worker's connection, on the pool. A failure of
    /// SQLite, or a panic in `f`, becomes a logged 500.
    pub(crate) async fn call<T, F>(&self, f: F) -> Result<T, WebError>
    where
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let path = self.path.clone();
        match waiter_rt::spawn_blocking(move || with_connection(&path, f)).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                tracing::error!(error = %e, "database error");
                Err(WebError::internal())
            }
            Err(e) => {
                tracing::error!(error = %e, "database job failed");
                Err(WebError::internal())
            }
        }
    }
}

/// Runs `f` with the calling worker's connection to `path`, opening it
/// first if this worker has none.
fn with_connection<T>(
    path: &Path,
    f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    debug_assert!(
        std::thread::current()
            .name()
            .is_some_and(|n| n.starts_with(POOL_THREAD_PREFIX)),
        "SQLite called outside the worker pool"
    );
    CONNECTIONS.with(|cell| {
        let mut conns = cell.borrow_mut();
        let i = match conns.iter().position(|(p, _)| p == path) {
            Some(i) => i,
            None => {
                conns.push((path.to_owned(), open(path)?));
                conns.len() - 1
            }
        };
        f(&mut conns[i].1)
    })
}

/// Opens `path` with the settings every connection uses.
fn open(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(mode, "SQLite refused WAL mode");
    }
    conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")?;
    tracing::debug!(
        thread = std::thread::current().name().unwrap_or("?"),
        "opened a SQLite connection"
    );
    Ok(conn)
}
