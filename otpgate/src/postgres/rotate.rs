//! The key rotation's transaction on PostgreSQL, for the migration role only.
//!
//! # Who may rotate
//!
//! The role that owns the gate's tables (the migration role, or a superuser): a rotation
//! rewrites every audit row's MAC and the key check, which the runners' role may not
//! update (it only reads and appends), and must not be able to. A role that does not own
//! them is refused before it takes any lock ([`GateError::RoleNotAllowed`]).
//!
//! # The locks, in this order, held to the commit
//!
//! 1. The audit chain's advisory lock ([`AUDIT_CHAIN_LOCK`]), which every decision takes
//!    before it locks a row: waits for the decision appending to commit, then keeps every
//!    decision from writing until the rotation's commit, so no record changes while the
//!    rotation reads them all (reads go on). Two rotations take turns here. No table is
//!    locked: a decision at the predicted head holds `users`' `ROW EXCLUSIVE` lock while
//!    it waits for this one, so a rotation waiting for a stronger table lock would wait
//!    for it in a cycle.
//! 2. The key check's row (`FOR UPDATE`).
//!
//! A decision that waited behind them runs against the rotated database: its conditional
//! `UPDATE` finds the version moved on (a conflict, then a record it cannot open: exit 2),
//! and an append finds the key check changed (a new user's record under the old key is
//! rolled back: [`GateError::WrongServerKey`]). Killed at any point, the server rolls the
//! transaction back when the connection drops, or has committed it.

use std::vec::Vec;

use futures_util::future::try_join4;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Row, Transaction};

use super::session::Deadline;
use super::{
    AUDIT_CHAIN_LOCK, AUDIT_COLUMNS, AuditRow, CHAIN_START, PostgresStore, Session, Statements,
    audit_record, column_error, to_sql_int,
};
use crate::rotate::{Keys, Rewrite, Rewritten, Rotated, SealedRow, rewrite};
use crate::{AuditRecord, GateError};

/// Whether the role owns (or may act as the owner of) each of the tables a rotation writes.
const OWNS_TABLES: &str = "SELECT bool_and(pg_has_role(relowner, 'USAGE')) FROM pg_class
     WHERE oid IN (to_regclass('users'), to_regclass('audit'), to_regclass('meta'))";

/// Why a role that does not own the tables may not rotate.
const NOT_THE_OWNER: &str = "rotate the server key: a rotation rewrites the audit trail's \
     MACs and the key check, which only the role that owns the gate's tables may do; run \
     rotate-key as the migration role (the runners' role only reads and appends)";

impl PostgresStore {
    /// Rotates from `keys.old` to `keys.new` in one transaction (see the
    /// [module](self)).
    pub(crate) fn rotate(&self, keys: Keys<'_>, now: u64) -> Result<Rotated, GateError> {
        let mut guard = self.session()?;
        let Session {
            client,
            deadline,
            statements,
            ..
        } = &mut *guard;
        let tx = deadline.call(client.transaction())?;
        let owner: Option<bool> = deadline
            .call(tx.query_one(OWNS_TABLES, &[]))?
            .try_get(0)
            .map_err(column_error)?;
        if owner != Some(true) {
            return Err(GateError::RoleNotAllowed(NOT_THE_OWNER));
        }
        deadline.call(tx.execute(&statements.chain_lock, &[&AUDIT_CHAIN_LOCK]))?;
        rewrite(
            PostgresRotation {
                tx,
                deadline,
                statements,
            },
            keys,
            now,
        )
    }
}

/// The rotation's transaction, holding the locks.
struct PostgresRotation<'a> {
    tx: Transaction<'a>,
    deadline: &'a Deadline,
    statements: &'a Statements,
}

impl Rewrite for PostgresRotation<'_> {
    fn key_check(&mut self) -> Result<Option<Vec<u8>>, GateError> {
        let row = self.deadline.call(self.tx.query_opt(
            "SELECT value FROM meta WHERE name = 'key_check' FOR UPDATE",
            &[],
        ))?;
        row.map(|row| row.try_get(0).map_err(column_error))
            .transpose()
    }

    fn trail(&mut self) -> Result<(i64, Vec<AuditRecord>), GateError> {
        let everyone: Option<&str> = None;
        let (start, rows) = self.deadline.call(futures_util::future::try_join(
            self.tx.query_one(CHAIN_START, &[]),
            self.tx
                .query(&self.statements.audit_log, &[&everyone, &i64::MAX]),
        ))?;
        let start: i64 = start.try_get(0).map_err(column_error)?;
        // The statement reads the latest rows first.
        let mut trail = rows
            .iter()
            .map(audit_record)
            .collect::<Result<Vec<_>, GateError>>()?;
        trail.reverse();
        Ok((start, trail))
    }

    fn records(&mut self) -> Result<Vec<SealedRow>, GateError> {
        let rows = self.deadline.call(self.tx.query(
            "SELECT \"user\", version, record FROM users ORDER BY \"user\"",
            &[],
        ))?;
        rows.iter().map(sealed_row).collect()
    }

    fn commit(self, rewritten: &Rewritten) -> Result<(), GateError> {
        let users: Vec<&str> = rewritten.records.iter().map(|r| r.user.as_str()).collect();
        let versions = rewritten
            .records
            .iter()
            .map(|r| to_sql_int(r.version))
            .collect::<Result<Vec<i64>, GateError>>()?;
        let sealed: Vec<&[u8]> = rewritten
            .records
            .iter()
            .map(|r| r.sealed.as_slice())
            .collect();
        let ids: Vec<i64> = rewritten.macs.iter().map(|(id, _)| *id).collect();
        let macs: Vec<&[u8]> = rewritten
            .macs
            .iter()
            .map(|(_, mac)| mac.as_slice())
            .collect();
        let entry = AuditRow {
            time: to_sql_int(rewritten.entry.time)?,
            entry: &rewritten.entry,
            mac: rewritten.entry_mac.clone(),
        };
        let entry_params: Vec<&(dyn ToSql + Sync)> = AUDIT_COLUMNS
            .iter()
            .map(|column| (column.2)(&entry))
            .collect();
        let tx = self.tx;
        self.deadline.call(async {
            // Each statement rewrites all its rows at once (arrays, not one statement per
            // row); sent together, answered in order.
            try_join4(
                tx.execute(
                    "UPDATE users SET version = new.version, record = new.record
                     FROM unnest($1::TEXT[], $2::BIGINT[], $3::BYTEA[])
                         AS new (\"user\", version, record)
                     WHERE users.\"user\" = new.\"user\"",
                    &[&users, &versions, &sealed],
                ),
                tx.execute(
                    "UPDATE audit SET mac = new.mac
                     FROM unnest($1::BIGINT[], $2::BYTEA[]) AS new (id, mac)
                     WHERE audit.id = new.id",
                    &[&ids, &macs],
                ),
                tx.execute(&self.statements.insert_audit, &entry_params),
                tx.execute(
                    "UPDATE meta SET value = $1 WHERE name = 'key_check'",
                    &[&rewritten.key_check],
                ),
            )
            .await?;
            tx.commit().await
        })
    }
}

/// A user's row as the rotation reads it.
fn sealed_row(row: &Row) -> Result<SealedRow, GateError> {
    let unreadable = |_| GateError::RecordUnreadable;
    let version: i64 = row.try_get(1).map_err(unreadable)?;
    Ok(SealedRow {
        user: row.try_get(0).map_err(unreadable)?,
        version: u64::try_from(version).map_err(|_| GateError::RecordUnreadable)?,
        sealed: row.try_get(2).map_err(unreadable)?,
    })
}
