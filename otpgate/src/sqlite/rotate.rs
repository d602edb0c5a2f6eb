//! The key rotation's transaction in the SQLite file: the store's write transaction (its
//! lock file, then `BEGIN IMMEDIATE`) is taken before the key check is read, so no other
//! process writes a record, an audit row or the key check until the commit (readers go on,
//! under WAL).

use std::string::String;
use std::vec::Vec;

use rusqlite::{OptionalExtension, params};

use super::{SqliteStore, record_error, store_error, to_sql_int};
use crate::rotate::{Keys, Rewrite, Rewritten, Rotated, SealedRow, rewrite};
use crate::sqlitetx::WriteTx;
use crate::{AuditRecord, GateError, Store};

impl SqliteStore {
    /// Rotates from `keys.old` to `keys.new` in one write transaction (see
    /// [`rotate_key`](crate::rotate_key)).
    pub(crate) fn rotate(&self, keys: Keys<'_>, now: u64) -> Result<Rotated, GateError> {
        let tx = self.begin_write()?;
        rewrite(SqliteRotation { store: self, tx }, keys, now)
    }
}

/// The rotation's transaction, holding the write lock.
struct SqliteRotation<'a> {
    store: &'a SqliteStore,
    tx: WriteTx<'a>,
}

impl Rewrite for SqliteRotation<'_> {
    fn key_check(&mut self) -> Result<Option<Vec<u8>>, GateError> {
        self.tx
            .query_row(
                "SELECT value FROM meta WHERE name = 'key_check'",
                [],
                |row| row.get(0),
            )
            .optional()
            .map_err(store_error)
    }

    fn trail(&mut self) -> Result<(i64, Vec<AuditRecord>), GateError> {
        // The store's own reads, on the transaction's connection.
        Ok((
            self.store.audit_chain_start()?,
            self.store.audit_log(None, usize::MAX)?,
        ))
    }

    fn records(&mut self) -> Result<Vec<SealedRow>, GateError> {
        let mut statement = self
            .tx
            .prepare("SELECT user, version, record FROM users ORDER BY user")
            .map_err(store_error)?;
        let rows = statement
            .query_map([], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?, row.get(2)?))
            })
            .map_err(store_error)?;
        rows.map(|row| {
            let (user, version, sealed) = row.map_err(record_error)?;
            let version = u64::try_from(version).map_err(|_| GateError::RecordUnreadable)?;
            Ok(SealedRow {
                user,
                version,
                sealed,
            })
        })
        .collect()
    }

    fn commit(self, rewritten: &Rewritten) -> Result<(), GateError> {
        let tx = self.tx;
        for row in &rewritten.records {
            tx.execute(
                "UPDATE users SET version = ?1, record = ?2 WHERE user = ?3",
                params![to_sql_int(row.version)?, row.sealed, row.user],
            )
            .map_err(store_error)?;
        }
        for (id, mac) in &rewritten.macs {
            tx.execute("UPDATE audit SET mac = ?1 WHERE id = ?2", params![mac, id])
                .map_err(store_error)?;
        }
        let entry = &rewritten.entry;
        tx.execute(
            "INSERT INTO audit (time, user, event, action, outcome, drift, mac)
             VALUES (?1, ?2, ?3, NULL, ?4, NULL, ?5)",
            params![
                to_sql_int(entry.time)?,
                entry.user,
                entry.event,
                entry.outcome,
                rewritten.entry_mac,
            ],
        )
        .map_err(store_error)?;
        tx.execute(
            "UPDATE meta SET value = ?1 WHERE name = 'key_check'",
            [&rewritten.key_check],
        )
        .map_err(store_error)?;
        tx.commit()
    }
}
