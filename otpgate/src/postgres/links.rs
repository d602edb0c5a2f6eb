//! [`LinkStore`] in the PostgreSQL database: invitations and approvals in their own tables
//! (migration 2). A decision is one conditional `UPDATE ... WHERE state = 'pending'`:
//! under `READ COMMITTED` a second writer waits for the first one's row lock, then finds
//! the state moved on and updates nothing.

use std::string::String;
use std::vec::Vec;

use postgres::Row;

use super::{PostgresStore, store_error, to_sql_int};
use crate::link::{ApprovalKey, ApprovalRow, ApprovalState, InviteRow, LinkStore, TokenHash};
use crate::{AuditEntry, GateError, Swap};

const INVITE_COLUMNS: &str = "token_hash, \"user\", issuer, secret_digest, created, expires, used";
const APPROVAL_COLUMNS: &str =
    "id, token_hash, \"user\", action, requester, created, expires, state, decided";

fn unreadable(_: postgres::Error) -> GateError {
    GateError::RecordUnreadable
}

fn hash(row: &Row, column: usize) -> Result<[u8; 32], GateError> {
    let bytes: Vec<u8> = row.try_get(column).map_err(unreadable)?;
    <[u8; 32]>::try_from(bytes).map_err(|_| GateError::RecordUnreadable)
}

fn time(row: &Row, column: usize) -> Result<u64, GateError> {
    let value: i64 = row.try_get(column).map_err(unreadable)?;
    u64::try_from(value).map_err(|_| GateError::RecordUnreadable)
}

fn optional_time(row: &Row, column: usize) -> Result<Option<u64>, GateError> {
    let value: Option<i64> = row.try_get(column).map_err(unreadable)?;
    value
        .map(|v| u64::try_from(v).map_err(|_| GateError::RecordUnreadable))
        .transpose()
}

impl LinkStore for PostgresStore {
    fn insert_invite(&self, invite: &InviteRow) -> Result<(), GateError> {
        self.client()?
            .execute(
                &format!(
                    "INSERT INTO invites ({INVITE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, NULL)"
                ),
                &[
                    &invite.token_hash.as_slice(),
                    &invite.user,
                    &invite.issuer,
                    &invite.secret_digest.as_slice(),
                    &to_sql_int(invite.created)?,
                    &to_sql_int(invite.expires)?,
                ],
            )
            .map(|_| ())
            .map_err(store_error)
    }

    fn find_invite(&self, token_hash: &TokenHash) -> Result<Option<InviteRow>, GateError> {
        let row = self
            .client()?
            .query_opt(
                &format!("SELECT {INVITE_COLUMNS} FROM invites WHERE token_hash = $1"),
                &[&token_hash.as_slice()],
            )
            .map_err(store_error)?;
        let Some(row) = row else {
            return Ok(None);
        };
        Ok(Some(InviteRow {
            token_hash: hash(&row, 0)?,
            user: row.try_get(1).map_err(unreadable)?,
            issuer: row.try_get(2).map_err(unreadable)?,
            secret_digest: hash(&row, 3)?,
            created: time(&row, 4)?,
            expires: time(&row, 5)?,
            used: optional_time(&row, 6)?,
        }))
    }

    fn use_invite(&self, token_hash: &TokenHash, now: u64) -> Result<bool, GateError> {
        self.client()?
            .execute(
                "UPDATE invites SET used = $2 WHERE token_hash = $1 AND used IS NULL",
                &[&token_hash.as_slice(), &to_sql_int(now)?],
            )
            .map(|rows| rows == 1)
            .map_err(store_error)
    }

    fn insert_approval(&self, approval: &ApprovalRow) -> Result<(), GateError> {
        self.client()?
            .execute(
                &format!(
                    "INSERT INTO approvals ({APPROVAL_COLUMNS})
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL)"
                ),
                &[
                    &approval.id,
                    &approval.token_hash.as_slice(),
                    &approval.user,
                    &approval.action,
                    &approval.requester,
                    &to_sql_int(approval.created)?,
                    &to_sql_int(approval.expires)?,
                    &approval.state.label(),
                ],
            )
            .map(|_| ())
            .map_err(store_error)
    }

    fn find_approval(&self, key: ApprovalKey<'_>) -> Result<Option<ApprovalRow>, GateError> {
        let mut client = self.client()?;
        let row = match key {
            ApprovalKey::Id(id) => client.query_opt(
                &format!("SELECT {APPROVAL_COLUMNS} FROM approvals WHERE id = $1"),
                &[&id],
            ),
            ApprovalKey::Token(token_hash) => client.query_opt(
                &format!("SELECT {APPROVAL_COLUMNS} FROM approvals WHERE token_hash = $1"),
                &[&token_hash.as_slice()],
            ),
        }
        .map_err(store_error)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let state: String = row.try_get(7).map_err(unreadable)?;
        Ok(Some(ApprovalRow {
            id: row.try_get(0).map_err(unreadable)?,
            token_hash: hash(&row, 1)?,
            user: row.try_get(2).map_err(unreadable)?,
            action: row.try_get(3).map_err(unreadable)?,
            requester: row.try_get(4).map_err(unreadable)?,
            created: time(&row, 5)?,
            expires: time(&row, 6)?,
            state: ApprovalState::from_label(&state).ok_or(GateError::RecordUnreadable)?,
            decided: optional_time(&row, 8)?,
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
        let mut client = self.client()?;
        let mut tx = client.transaction().map_err(store_error)?;
        let decided = tx
            .execute(
                "UPDATE approvals SET state = $2, decided = $3
                 WHERE id = $1 AND state = 'pending' AND expires > $3",
                &[&id, &state.label(), &now],
            )
            .map_err(store_error)?;
        if decided != 1 {
            return Ok(Swap::Conflict);
        }
        tx.execute(
            "INSERT INTO audit (time, \"user\", event, action, outcome, drift, actor)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &to_sql_int(audit.time)?,
                &audit.user,
                &audit.event,
                &audit.action,
                &audit.outcome,
                &audit.drift,
                &audit.actor,
            ],
        )
        .map_err(store_error)?;
        tx.commit().map_err(store_error)?;
        Ok(Swap::Written)
    }
}
