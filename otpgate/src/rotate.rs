//! Changing the server key (`otpgate rotate-key`): every record re-sealed, the audit chain
//! re-authenticated and the key check replaced under the new key, in one transaction of
//! the store. The flow is here, once; each store (`sqlite/rotate.rs`,
//! `postgres/rotate.rs`) only locks, reads and writes ([`Rewrite`]).
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

use crate::audit::{AuditEntry, verify};
use crate::{AuditRecord, Database, GateError, ServerKey, Store, keyfile};

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

/// Rotates the database `db` (an SQLite file or, with feature `postgres`, a PostgreSQL
/// URL) from the key in `key_file` (or beside an SQLite database) to the key in
/// `new_key_file`, which is created (mode 0600) when missing and checked like any key file
/// when present. The old key file is left as it is: point `--key-file` at the new one (or
/// move it over the old) afterwards. On PostgreSQL only the role that owns the gate's
/// tables (the migration role) may rotate ([`GateError::RoleNotAllowed`]).
pub fn rotate_key(
    db: &Path,
    key_file: Option<&Path>,
    new_key_file: &Path,
    now: u64,
) -> Result<Rotated, GateError> {
    // Before any file is written: a URL without a key file is told so.
    let path = crate::key_path(db, key_file)?;
    let new = match keyfile::read_key(new_key_file)? {
        Some(key) => key,
        None => keyfile::create_key(new_key_file)?,
    };
    let store = Database::open(db, false)?;
    if store.key_check()?.is_some_and(|check| new.matches(&check)) {
        return Ok(Rotated::Already);
    }
    let old = keyfile::read_key(&path)?.ok_or(GateError::MissingServerKey {
        path: format!("{}", path.display()),
    })?;
    if old.matches(&new.key_check()?) {
        return Err(GateError::Usage(String::from(
            "the new key file holds the key in use: give a new file",
        )));
    }
    let keys = Keys {
        old: &old,
        new: &new,
    };
    // The old key is checked against the database under the store's locks (WrongServerKey).
    match &store {
        Database::Sqlite(store) => store.rotate(keys, now),
        #[cfg(feature = "postgres")]
        Database::Postgres(store) => store.rotate(keys, now),
    }
}

/// The key in use and the one the rotation moves to.
#[derive(Clone, Copy)]
pub(crate) struct Keys<'a> {
    pub(crate) old: &'a ServerKey,
    pub(crate) new: &'a ServerKey,
}

/// A user's row as a rotation reads and writes it.
pub(crate) struct SealedRow {
    pub(crate) user: String,
    pub(crate) version: u64,
    pub(crate) sealed: Vec<u8>,
}

/// What a rotation writes, all of it in the transaction it read in.
pub(crate) struct Rewritten {
    /// Every user's record, sealed under the new key at its next version.
    pub(crate) records: Vec<SealedRow>,
    /// Each authenticated audit row's id and its MAC under the new key.
    pub(crate) macs: Vec<(i64, Vec<u8>)>,
    /// The `rotate-key` entry that ends the trail, under the new key.
    pub(crate) entry: AuditEntry,
    /// Its MAC, chained to the last of `macs`.
    pub(crate) entry_mac: Vec<u8>,
    /// The new key's check.
    pub(crate) key_check: Vec<u8>,
}

/// A store's side of a rotation: one transaction that holds, from before the first read to
/// the commit, the locks that keep every other writer of records, audit rows and the key
/// check out. Dropped without [`commit`](Rewrite::commit), it rolls back.
pub(crate) trait Rewrite {
    /// The stored key check.
    fn key_check(&mut self) -> Result<Option<Vec<u8>>, GateError>;

    /// The id of the last row from before the chain ([`Store::audit_chain_start`]) and the
    /// whole trail, oldest first.
    fn trail(&mut self) -> Result<(i64, Vec<AuditRecord>), GateError>;

    /// Every user's record.
    fn records(&mut self) -> Result<Vec<SealedRow>, GateError>;

    /// Writes `rewritten` (records, MACs, the entry, the key check) and commits.
    fn commit(self, rewritten: &Rewritten) -> Result<(), GateError>;
}

/// The rotation inside the store's transaction `tx`: the key check judged (already done,
/// to do, or neither key's), the trail verified under the old key, every record re-sealed
/// and every MAC recomputed under the new one, and all of it written at once.
pub(crate) fn rewrite(
    mut tx: impl Rewrite,
    keys: Keys<'_>,
    now: u64,
) -> Result<Rotated, GateError> {
    match tx.key_check()? {
        Some(check) if keys.new.matches(&check) => return Ok(Rotated::Already),
        Some(check) if keys.old.matches(&check) => {}
        _ => return Err(GateError::WrongServerKey),
    }
    let (chain_start, trail) = tx.trail()?;
    if let Some(broken) = verify(&keys.old.audit_key(), chain_start, &trail).broken {
        return Err(GateError::Usage(format!(
            "the audit trail does not verify under the current key ({broken}); the \
             rotation would authenticate it under the new key, so it is refused"
        )));
    }
    let records = tx
        .records()?
        .into_iter()
        .map(|row| {
            let plain = keys.old.open(&row.user, row.version, &row.sealed)?;
            let version = crate::next_version(Some(row.version));
            let sealed = keys.new.seal(&row.user, version, &plain)?;
            Ok(SealedRow {
                user: row.user,
                version,
                sealed,
            })
        })
        .collect::<Result<Vec<_>, GateError>>()?;
    let audit_key = keys.new.audit_key();
    let mut macs: Vec<(i64, Vec<u8>)> = Vec::with_capacity(trail.len());
    for row in trail.iter().filter(|row| row.mac.is_some()) {
        let previous = macs.last().map(|(_, mac)| mac.as_slice());
        let mac = audit_key.mac(previous, &row.fields()).to_vec();
        macs.push((row.id, mac));
    }
    let entry = AuditEntry {
        time: now,
        user: String::from("(server key)"),
        event: "rotate-key",
        action: None,
        outcome: "accepted",
        drift: None,
        actor: None,
        key: audit_key,
    };
    let entry_mac = entry.mac(macs.last().map(|(_, mac)| mac.as_slice()));
    let rewritten = Rewritten {
        records,
        macs,
        entry,
        entry_mac,
        key_check: keys.new.key_check()?,
    };
    tx.commit(&rewritten)?;
    Ok(Rotated::Done {
        records: rewritten.records.len(),
        audit_rows: rewritten.macs.len(),
    })
}
