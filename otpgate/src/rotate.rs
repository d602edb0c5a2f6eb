//! Changing the server key (`otpgate rotate-key`): every record re-sealed, the audit chain
//! re-authenticated and the key check replaced under the new key, in one SQLite
//! transaction.
//!
//! One transaction is what makes a crash harmless: killed at any point before the commit,
//! the database is as it was and opens with the old key only; after it, with the new key
//! only. Running the command again finishes the job (or finds it done). Every record's
//! version moves on by one, so a process that read a record under the old key before the
//! rotation cannot write its outcome over the new one: its compare-and-swap conflicts, and
//! its next reading fails to open under its old key (exit 2, never a mixed database). A
//! trail that does not verify under the old key is not re-authenticated: the rotation is
//! refused, so forged rows are never blessed with the new key.

use std::path::Path;
use std::string::String;
use std::vec::Vec;

use rusqlite::{OptionalExtension, Transaction, TransactionBehavior, params};

use crate::audit::{AuditEntry, verify};
use crate::{GateError, ServerKey, SqliteStore, Store, keyfile};

/// What [`rotate_key`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotated {
    /// The records (this many) and the audit trail are now under the new key.
    Done {
        /// Records re-sealed.
        records: usize,
        /// Audit rows re-authenticated.
        audit_rows: usize,
    },
    /// The database was under the new key already (a rotation that was interrupted after
    /// its commit, run again).
    Already,
}

/// Rotates the SQLite database `db` from the key in `key_file` (or beside the database) to
/// the key in `new_key_file`, which is created (mode 0600) when missing and checked like
/// any key file when present. The old key file is left as it is: point `--key-file` at
/// the new one (or move it over the old) afterwards.
pub fn rotate_key(
    db: &Path,
    key_file: Option<&Path>,
    new_key_file: &Path,
    now: u64,
) -> Result<Rotated, GateError> {
    if crate::database_url(db)?.is_some() {
        return Err(GateError::Usage(String::from(
            "rotate-key works on an SQLite database; a PostgreSQL one is not supported yet",
        )));
    }
    let new = match keyfile::read_key(new_key_file)? {
        Some(key) => key,
        None => keyfile::create_key(new_key_file)?,
    };
    let store = SqliteStore::open(db)?;
    if store.key_check()?.is_some_and(|check| new.matches(&check)) {
        return Ok(Rotated::Already);
    }
    let path = crate::key_path(db, key_file)?;
    let old = keyfile::read_key(&path)?.ok_or(GateError::MissingServerKey {
        path: format!("{}", path.display()),
    })?;
    if old.matches(&new.key_check()?) {
        return Err(GateError::Usage(String::from(
            "the new key file holds the key in use: give a new file",
        )));
    }
    // The old key is checked against the database under the write lock (WrongServerKey).
    store.rotate(&old, &new, now)
}

impl SqliteStore {
    /// The rotation itself, in one `BEGIN IMMEDIATE` transaction: see the [module](self).
    fn rotate(&self, old: &ServerKey, new: &ServerKey, now: u64) -> Result<Rotated, GateError> {
        let store_error = crate::sqlite::store_error;
        let tx = Transaction::new_unchecked(self.connection(), TransactionBehavior::Immediate)
            .map_err(store_error)?;
        // Under the write lock: is the check still the old key's?
        let check: Option<Vec<u8>> = tx
            .query_row(
                "SELECT value FROM meta WHERE name = 'key_check'",
                [],
                |row| row.get(0),
            )
            .optional()
            .map_err(store_error)?;
        match check {
            Some(check) if new.matches(&check) => return Ok(Rotated::Already),
            Some(check) if old.matches(&check) => {}
            _ => return Err(GateError::WrongServerKey),
        }
        let chain_start = self.audit_chain_start()?;
        let trail = self.audit_log(None, usize::MAX)?;
        let verified = verify(&old.audit_key(), chain_start, &trail);
        if let Some(broken) = verified.broken {
            return Err(GateError::Usage(format!(
                "the audit trail does not verify under the current key ({broken}); the \
                 rotation would authenticate it under the new key, so it is refused"
            )));
        }
        let users: Vec<(String, i64, Vec<u8>)> = {
            let mut statement = tx
                .prepare("SELECT user, version, record FROM users ORDER BY user")
                .map_err(store_error)?;
            let rows = statement
                .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
                .map_err(store_error)?;
            rows.collect::<Result<_, _>>()
                .map_err(crate::sqlite::record_error)?
        };
        for (user, version, sealed) in &users {
            let current = u64::try_from(*version).map_err(|_| GateError::RecordUnreadable)?;
            let plain = old.open(user, current, sealed)?;
            let next = crate::next_version(Some(current));
            let resealed = new.seal(user, next, &plain)?;
            tx.execute(
                "UPDATE users SET version = ?1, record = ?2 WHERE user = ?3",
                params![crate::sqlite::to_sql_int(next)?, resealed, user],
            )
            .map_err(store_error)?;
        }
        let key = new.audit_key();
        let mut previous: Option<Vec<u8>> = None;
        let mut audit_rows = 0usize;
        for row in trail.iter().filter(|row| row.mac.is_some()) {
            let mac = key.mac(previous.as_deref(), &row.fields()).to_vec();
            tx.execute(
                "UPDATE audit SET mac = ?1 WHERE id = ?2",
                params![mac, row.id],
            )
            .map_err(store_error)?;
            previous = Some(mac);
            audit_rows = audit_rows.saturating_add(1);
        }
        let entry = rotation_entry(now, new);
        tx.execute(
            "INSERT INTO audit (time, user, event, action, outcome, drift, mac)
             VALUES (?1, ?2, ?3, NULL, ?4, NULL, ?5)",
            params![
                crate::sqlite::to_sql_int(entry.time)?,
                entry.user,
                entry.event,
                entry.outcome,
                entry.mac(previous.as_deref()),
            ],
        )
        .map_err(store_error)?;
        tx.execute(
            "UPDATE meta SET value = ?1 WHERE name = 'key_check'",
            [new.key_check()?],
        )
        .map_err(store_error)?;
        tx.commit().map_err(store_error)?;
        Ok(Rotated::Done {
            records: users.len(),
            audit_rows,
        })
    }
}

/// The audit entry a rotation ends with, under the new key.
fn rotation_entry(now: u64, new: &ServerKey) -> AuditEntry {
    AuditEntry {
        time: now,
        user: String::from("(server key)"),
        event: "rotate-key",
        action: None,
        outcome: "accepted",
        drift: None,
        actor: None,
        key: new.audit_key(),
    }
}
