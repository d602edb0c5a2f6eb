//! [`LinkStore`] in the PostgreSQL database: invitations and approvals in their own tables.
//! A decision is one conditional `UPDATE ... WHERE state = 'pending'`, made as a record's
//! is (`decide.rs`): a second writer waits for the first one's commit behind the audit
//! chain's lock, then finds the state moved on and updates nothing. Every call runs under the connection's deadline, as the store's
//! own do, and a decision's audit row extends the authenticated trail like any other.

use std::string::String;
use std::vec::Vec;

use tokio_postgres::Row;

use super::decide::{Write, decide};
use super::{PostgresStore, Session, to_sql_int};
use crate::link::{ApprovalKey, ApprovalRow, ApprovalState, InviteRow, LinkStore, TokenHash};
use crate::{AuditEntry, GateError, Swap};

const INVITE_COLUMNS: &str = "token_hash, \"user\", issuer, secret_digest, created, expires, used";
const APPROVAL_COLUMNS: &str =
    "id, token_hash, \"user\", action, requester, created, expires, state, decided";

fn unreadable(_: tokio_postgres::Error) -> GateError {
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
        let (created, expires) = (to_sql_int(invite.created)?, to_sql_int(invite.expires)?);
        let s = self.session()?;
        s.deadline.call(s.client.execute(
            &format!(
                "INSERT INTO invites ({INVITE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, NULL)"
            ),
            &[
                &invite.token_hash.as_slice(),
                &invite.user,
                &invite.issuer,
                &invite.secret_digest.as_slice(),
                &created,
                &expires,
            ],
        ))?;
        Ok(())
    }

    fn find_invite(&self, token_hash: &TokenHash) -> Result<Option<InviteRow>, GateError> {
        let s = self.session()?;
        let row = s.deadline.call(s.client.query_opt(
            &format!("SELECT {INVITE_COLUMNS} FROM invites WHERE token_hash = $1"),
            &[&token_hash.as_slice()],
        ))?;
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
        let now = to_sql_int(now)?;
        let s = self.session()?;
        let rows = s.deadline.call(s.client.execute(
            "UPDATE invites SET used = $2 WHERE token_hash = $1 AND used IS NULL",
            &[&token_hash.as_slice(), &now],
        ))?;
        Ok(rows == 1)
    }

    fn insert_approval(&self, approval: &ApprovalRow) -> Result<(), GateError> {
        let (created, expires) = (to_sql_int(approval.created)?, to_sql_int(approval.expires)?);
        let s = self.session()?;
        s.deadline.call(s.client.execute(
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
                &created,
                &expires,
                &approval.state.label(),
            ],
        ))?;
        Ok(())
    }

    fn find_approval(&self, key: ApprovalKey<'_>) -> Result<Option<ApprovalRow>, GateError> {
        let s = self.session()?;
        let row = match key {
            ApprovalKey::Id(id) => s.deadline.call(s.client.query_opt(
                &format!("SELECT {APPROVAL_COLUMNS} FROM approvals WHERE id = $1"),
                &[&id],
            ))?,
            ApprovalKey::Token(token_hash) => s.deadline.call(s.client.query_opt(
                &format!("SELECT {APPROVAL_COLUMNS} FROM approvals WHERE token_hash = $1"),
                &[&token_hash.as_slice()],
            ))?,
        };
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
        let time = to_sql_int(audit.time)?;
        let mut guard = self.session()?;
        let Session {
            client,
            deadline,
            statements,
            opened_with,
            chain,
        } = &mut *guard;
        let state = state.label();
        let writes = [Write {
            statement: &statements.decide_approval,
            params: vec![&id, &state, &now],
            audit,
            time,
        }];
        let written = deadline.call(decide(
            client,
            statements,
            opened_with.as_deref(),
            chain,
            &writes,
        ))??;
        Ok(if written == [true] {
            Swap::Written
        } else {
            Swap::Conflict
        })
    }
}
