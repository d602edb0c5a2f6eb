//! [`LinkStore`] in the SQLite file: invitations and approvals in their own tables
//! (migration 2); every write, a decision on an approval as an invitation's insert, is one
//! write transaction of the store's (its write lock, then `BEGIN IMMEDIATE`).

use std::string::String;
use std::vec::Vec;

use rusqlite::{OptionalExtension, Row, params};

use super::{SqliteStore, record_error, store_error, to_sql_int};
use crate::link::{ApprovalKey, ApprovalRow, ApprovalState, InviteRow, LinkStore, TokenHash};
use crate::{AuditEntry, GateError, Swap};

const INVITE_COLUMNS: &str = "token_hash, user, issuer, secret_digest, created, expires, used";
const APPROVAL_COLUMNS: &str =
    "id, token_hash, user, action, requester, created, expires, state, decided";

fn hash(bytes: Vec<u8>) -> Result<[u8; 32], GateError> {
    <[u8; 32]>::try_from(bytes).map_err(|_| GateError::RecordUnreadable)
}

fn time(value: i64) -> Result<u64, GateError> {
    u64::try_from(value).map_err(|_| GateError::RecordUnreadable)
}

type InviteColumns = (Vec<u8>, String, String, Vec<u8>, i64, i64, Option<i64>);

fn invite(row: &Row<'_>) -> rusqlite::Result<InviteColumns> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
    ))
}

type ApprovalColumns = (
    String,
    Vec<u8>,
    String,
    String,
    Option<String>,
    i64,
    i64,
    String,
    Option<i64>,
);

fn approval(row: &Row<'_>) -> rusqlite::Result<ApprovalColumns> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
        row.get(7)?,
        row.get(8)?,
    ))
}

impl LinkStore for SqliteStore {
    fn insert_invite(&self, invite: &InviteRow) -> Result<(), GateError> {
        self.write_one(
            &format!(
                "INSERT INTO invites ({INVITE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL)"
            ),
            params![
                invite.token_hash.as_slice(),
                invite.user,
                invite.issuer,
                invite.secret_digest.as_slice(),
                to_sql_int(invite.created)?,
                to_sql_int(invite.expires)?,
            ],
        )
        .map(|_| ())
    }

    fn find_invite(&self, token_hash: &TokenHash) -> Result<Option<InviteRow>, GateError> {
        let row = self
            .conn
            .query_row(
                &format!("SELECT {INVITE_COLUMNS} FROM invites WHERE token_hash = ?1"),
                [token_hash.as_slice()],
                invite,
            )
            .optional()
            .map_err(record_error)?;
        let Some((token_hash, user, issuer, digest, created, expires, used)) = row else {
            return Ok(None);
        };
        Ok(Some(InviteRow {
            token_hash: hash(token_hash)?,
            user,
            issuer,
            secret_digest: hash(digest)?,
            created: time(created)?,
            expires: time(expires)?,
            used: used.map(time).transpose()?,
        }))
    }

    fn use_invite(&self, token_hash: &TokenHash, now: u64) -> Result<bool, GateError> {
        self.write_one(
            "UPDATE invites SET used = ?2 WHERE token_hash = ?1 AND used IS NULL",
            params![token_hash.as_slice(), to_sql_int(now)?],
        )
        .map(|rows| rows == 1)
    }

    fn insert_approval(&self, approval: &ApprovalRow) -> Result<(), GateError> {
        self.write_one(
            &format!(
                "INSERT INTO approvals ({APPROVAL_COLUMNS})
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, NULL)"
            ),
            params![
                approval.id,
                approval.token_hash.as_slice(),
                approval.user,
                approval.action,
                approval.requester,
                to_sql_int(approval.created)?,
                to_sql_int(approval.expires)?,
                approval.state.label(),
            ],
        )
        .map(|_| ())
    }

    fn find_approval(&self, key: ApprovalKey<'_>) -> Result<Option<ApprovalRow>, GateError> {
        let row = match key {
            ApprovalKey::Id(id) => self.conn.query_row(
                &format!("SELECT {APPROVAL_COLUMNS} FROM approvals WHERE id = ?1"),
                [id],
                approval,
            ),
            ApprovalKey::Token(token_hash) => self.conn.query_row(
                &format!("SELECT {APPROVAL_COLUMNS} FROM approvals WHERE token_hash = ?1"),
                [token_hash.as_slice()],
                approval,
            ),
        }
        .optional()
        .map_err(record_error)?;
        let Some((id, token_hash, user, action, requester, created, expires, state, decided)) = row
        else {
            return Ok(None);
        };
        Ok(Some(ApprovalRow {
            id,
            token_hash: hash(token_hash)?,
            user,
            action,
            requester,
            created: time(created)?,
            expires: time(expires)?,
            state: ApprovalState::from_label(&state).ok_or(GateError::RecordUnreadable)?,
            decided: decided.map(time).transpose()?,
        }))
    }

    fn decide_approval(
        &self,
        id: &str,
        state: ApprovalState,
        now: u64,
        audit: &AuditEntry,
    ) -> Result<Swap, GateError> {
        let now = to_sql_int(now)?;
        let tx = self.begin_write()?;
        let decided = tx
            .execute(
                "UPDATE approvals SET state = ?2, decided = ?3
                 WHERE id = ?1 AND state = 'pending' AND expires > ?3",
                params![id, state.label(), now],
            )
            .map_err(store_error)?;
        if decided != 1 {
            return Ok(Swap::Conflict);
        }
        self.append_audit(&tx, audit, to_sql_int(audit.time)?)?;
        tx.commit()?;
        Ok(Swap::Written)
    }
}
