//! The SQLite store's connection and write transactions: statements prepared once per
//! connection, and a write transaction that holds the write lock ([`writelock`]) and, inside
//! a batch, is a savepoint of the batch's transaction.
//!
//! [`writelock`]: super::writelock

use std::cell::Cell;
use std::ops::Deref;

use rusqlite::{Connection, Params, Row};

use super::GateError;
use super::sqlite::store_error;
use super::writelock::Held;

/// A connection whose `execute` and `query_row` keep their statements prepared (SQLite
/// parsing and planning a statement costs as much CPU as running it): the store's calls
/// read as rusqlite's, and every statement of the store is cached without saying so.
pub(crate) struct Cached(pub(crate) Connection);

impl Deref for Cached {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        &self.0
    }
}

impl Cached {
    /// Statements the cache holds: more than the store has, so none is ever parsed twice.
    pub(crate) const CAPACITY: usize = 64;

    /// [`Connection::execute`], prepared once.
    pub(crate) fn execute<P: Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize> {
        self.0.prepare_cached(sql)?.execute(params)
    }

    /// [`Connection::query_row`], prepared once.
    pub(crate) fn query_row<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: Params,
        F: FnOnce(&Row<'_>) -> rusqlite::Result<T>,
    {
        self.0.prepare_cached(sql)?.query_row(params, f)
    }
}

/// Runs one statement without parameters, parsed once per connection (a write begins and
/// ends with one: a bulk import runs millions).
pub(crate) fn run_cached(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

/// A write transaction (or, inside a batch, a savepoint) with the write lock: rolled back
/// unless committed, then the lock released.
pub(crate) struct WriteTx<'a> {
    pub(crate) conn: &'a Cached,
    pub(crate) nested: bool,
    pub(crate) done: bool,
    pub(crate) _held: Option<Held<'a>>,
}

impl WriteTx<'_> {
    pub(crate) fn commit(mut self) -> Result<(), GateError> {
        self.done = true;
        let end = if self.nested {
            "RELEASE otpgate_write"
        } else {
            "COMMIT"
        };
        let committed = run_cached(self.conn, end);
        if committed.is_err() {
            self.done = false;
        }
        committed.map_err(store_error)
    }
}

impl Deref for WriteTx<'_> {
    type Target = Cached;

    fn deref(&self) -> &Cached {
        self.conn
    }
}

impl Drop for WriteTx<'_> {
    fn drop(&mut self) {
        if !self.done {
            let end = if self.nested {
                "ROLLBACK TO otpgate_write; RELEASE otpgate_write"
            } else {
                "ROLLBACK"
            };
            let _ = self.conn.execute_batch(end);
        }
    }
}

/// Marks a store as inside a batch until dropped.
pub(crate) struct BatchFlag<'a>(&'a Cell<bool>);

impl<'a> BatchFlag<'a> {
    pub(crate) fn set(flag: &'a Cell<bool>) -> Self {
        flag.set(true);
        BatchFlag(flag)
    }
}

impl Drop for BatchFlag<'_> {
    fn drop(&mut self) {
        self.0.set(false);
    }
}
