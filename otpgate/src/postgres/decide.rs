//! A decision's transaction: the rows' conditional writes and their audit rows, chained
//! onto the trail, committed together.
//!
//! # Two ways, one outcome
//!
//! Every audit row's MAC covers the MAC of the row before it, which only the writer
//! holding the chain's advisory lock ([`AUDIT_CHAIN_LOCK`]) may take as final. Every
//! write takes the chain's lock before it locks a row, so two of the gate's transactions
//! never wait for each other in a cycle (the tables' `ROW EXCLUSIVE` locks, which a
//! statement takes first, do not conflict with each other; a stronger table lock from
//! outside, queued between them, can make one, which PostgreSQL breaks after
//! `deadlock_timeout`).
//!
//! - **At the predicted head**, one statement: each write with its audit row
//!   ([`with_audit_row`]), alone and autocommitted, or several in one pipelined
//!   transaction. The connection predicts the head ([`ChainHead`]): the MAC of the last
//!   row it appended itself, when no other writer appended between its last two decisions.
//!   The write's condition calls `otpgate_chain_at` (the schema's sixth migration), which
//!   takes the lock, then reads the head and the key check as committed by then, and
//!   fails the statement ([`is_guard`]) when either is not what was predicted: nothing is
//!   written, and the decision is made again the other way. A wrong prediction costs a
//!   round trip; it can never put a row on the chain out of place.
//! - **Under the lock**, two round trips: `BEGIN`, the lock, the head and the key check,
//!   the writes; then the audit rows of the writes that wrote, and `COMMIT`. This is how a
//!   connection decides while other writers append between its decisions.
//!
//! Either way the answer comes after the commit is flushed, and any error rolls the
//! transaction back and is the answer: nothing was written (or, for a lost answer to
//! the commit, perhaps everything, which errs on the side of refusing).

use std::format;
use std::string::String;
use std::vec::Vec;

use futures_util::future::{join, join_all, join3, join4, try_join};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Statement};

use super::{AUDIT_CHAIN_LOCK, AUDIT_COLUMNS, AuditRow, Statements};
use crate::{AuditEntry, GateError};

/// A conditional write (`UPDATE ... WHERE version = ...`, `INSERT ... ON CONFLICT DO
/// NOTHING`), alone and with its audit row appended in the same statement.
pub(super) struct Conditional {
    write: Statement,
    with_audit: Statement,
}

/// What a write's condition requires in a transaction that took the chain's lock with
/// [`CHAIN_LOCK_STATEMENT`](super::CHAIN_LOCK_STATEMENT): the mark it sets.
const HELD: &str = "current_setting('otpgate.chain', true) = 'held'";

/// The error `otpgate_chain_at` raises when the head or the key check moved on.
const CHAIN_MOVED: &str = "OG001";

impl Conditional {
    /// Prepares `write` (its parameters of `types`; `{chain}` in its condition stands for
    /// the chain's check) both ways, in one round trip.
    pub(super) async fn prepare(
        client: &Client,
        write: &str,
        types: &[Type],
    ) -> Result<Conditional, tokio_postgres::Error> {
        let mut with_audit_types = types.to_vec();
        with_audit_types.extend(AUDIT_COLUMNS.iter().map(|column| column.1.clone()));
        with_audit_types.extend([Type::BYTEA, Type::BYTEA]);
        let (write, with_audit) = try_join(
            client.prepare_typed(&write.replace("{chain}", HELD), types),
            client.prepare_typed(&with_audit_row(write, types.len()), &with_audit_types),
        )
        .await?;
        Ok(Conditional { write, with_audit })
    }
}

/// `write` and, in the same statement, its audit row when it wrote: its `n` parameters,
/// then the audit columns ([`AUDIT_COLUMNS`]), then the MAC the row is chained to and the
/// key check the gate was opened against (NULL: not compared). The write's condition
/// calls `otpgate_chain_at` with both, so it writes only under the chain's lock, at that
/// head and with that key check, and the statement fails otherwise.
fn with_audit_row(write: &str, n: usize) -> String {
    let previous = n.saturating_add(AUDIT_COLUMNS.len()).saturating_add(1);
    let opened = previous.saturating_add(1);
    let write = write.replace(
        "{chain}",
        &format!("otpgate_chain_at(${previous}::BYTEA, ${opened}::BYTEA)"),
    );
    let columns: Vec<&str> = AUDIT_COLUMNS.iter().map(|column| column.0).collect();
    let values: Vec<String> = (n.saturating_add(1)..previous)
        .map(|index| format!("${index}"))
        .collect();
    format!(
        "WITH written AS ({write} RETURNING 1)
         INSERT INTO audit ({}) SELECT {} FROM written",
        columns.join(", "),
        values.join(", ")
    )
}

/// One row a decision writes, with the audit row it adds when it writes.
pub(super) struct Write<'a> {
    /// The statement, both ways.
    pub(super) statement: &'a Conditional,
    /// Its parameters.
    pub(super) params: Vec<&'a (dyn ToSql + Sync)>,
    /// The audit row.
    pub(super) audit: &'a AuditEntry,
    /// The audit row's time, as the column holds it.
    pub(super) time: i64,
}

/// What a connection knows of the audit chain's head: the MAC of the last row it
/// appended, whether it found that row still the head when it last looked, and whether
/// its role may not call `otpgate_chain_at` (`EXECUTE` revoked: then every decision is
/// made under the lock).
#[derive(Default)]
pub(super) struct ChainHead {
    last_appended: Option<Vec<u8>>,
    alone: bool,
    no_check_function: bool,
}

impl ChainHead {
    /// The head to append at without reading it first, when there is one to predict.
    fn predicted(&self) -> Option<&[u8]> {
        self.last_appended
            .as_deref()
            .filter(|_| self.alone && !self.no_check_function)
    }
}

/// Decides `writes` in one transaction (see the [module](self)): whether each wrote. The
/// inner error, [`GateError::WrongServerKey`], is a key check that is no longer
/// `opened_with`: the key was rotated meanwhile, so neither these rows nor the records
/// written before them may be committed under the old key.
pub(super) async fn decide(
    client: &Client,
    statements: &Statements,
    opened_with: Option<&[u8]>,
    chain: &mut ChainHead,
    writes: &[Write<'_>],
) -> Result<Result<Vec<bool>, GateError>, tokio_postgres::Error> {
    if let Some(head) = chain.predicted() {
        match at_head(client, opened_with, head, writes).await {
            Ok(Some((written, last))) => {
                if let Some(last) = last {
                    chain.last_appended = Some(last);
                }
                return Ok(Ok(written));
            }
            Ok(None) => chain.alone = false,
            // Nothing was written: decide under the lock, which needs no function.
            Err(e) if e.code() == Some(&SqlState::INSUFFICIENT_PRIVILEGE) => {
                chain.no_check_function = true;
            }
            Err(e) => {
                chain.alone = false;
                return Err(e);
            }
        }
    }
    under_lock(client, statements, opened_with, chain, writes).await
}

/// The way in one statement, at `head`: whether each write wrote, and the MAC of the
/// last audit row appended; `None` when `head` (or the key check) was not what the
/// database holds, and nothing was written.
async fn at_head(
    client: &Client,
    opened_with: Option<&[u8]>,
    head: &[u8],
    writes: &[Write<'_>],
) -> Result<Option<(Vec<bool>, Option<Vec<u8>>)>, tokio_postgres::Error> {
    // Each row chained to the one before it, as if every write writes: one that does not
    // leaves the next row's guard failing, and the other way decides them all.
    let mut chained_to = Vec::with_capacity(writes.len());
    let mut rows = Vec::with_capacity(writes.len());
    let mut previous = head.to_vec();
    for write in writes {
        let mac = write.audit.mac(Some(&previous));
        chained_to.push(core::mem::replace(&mut previous, mac.clone()));
        rows.push(AuditRow {
            time: write.time,
            entry: write.audit,
            mac,
        });
    }
    let params: Vec<Vec<&(dyn ToSql + Sync)>> = writes
        .iter()
        .zip(&rows)
        .zip(&chained_to)
        .map(|((write, row), chained_to)| {
            let mut params = write.params.clone();
            params.extend(AUDIT_COLUMNS.iter().map(|column| (column.2)(row)));
            params.push(chained_to);
            params.push(&opened_with);
            params
        })
        .collect();
    let each = join_all(
        writes
            .iter()
            .zip(&params)
            .map(|(write, params)| client.execute(&write.statement.with_audit, params)),
    );
    let counts = if writes.len() == 1 {
        // Autocommitted: the statement is its own transaction.
        each.await
    } else {
        let (begin, counts, commit) = join3(
            client.batch_execute("BEGIN"),
            each,
            client.batch_execute("COMMIT"),
        )
        .await;
        begin?;
        if counts.iter().all(Result::is_ok) {
            commit?;
        }
        counts
    };
    let mut written = Vec::with_capacity(counts.len());
    for count in counts {
        match count {
            Ok(count) => written.push(count == 1),
            // The chain's check: the transaction was aborted (and a COMMIT rolled it back).
            Err(e) if is_guard(&e) => return Ok(None),
            Err(e) => return Err(e),
        }
    }
    let last = rows
        .into_iter()
        .zip(&written)
        .filter(|(_, written)| **written)
        .map(|(row, _)| row.mac)
        .next_back();
    Ok(Some((written, last)))
}

/// Whether `e` is `otpgate_chain_at` refusing a write ([`with_audit_row`]).
fn is_guard(e: &tokio_postgres::Error) -> bool {
    e.code().map(SqlState::code) == Some(CHAIN_MOVED)
}

/// The way in two round trips, reading the head under the lock.
async fn under_lock(
    client: &Client,
    statements: &Statements,
    opened_with: Option<&[u8]>,
    chain: &mut ChainHead,
    writes: &[Write<'_>],
) -> Result<Result<Vec<bool>, GateError>, tokio_postgres::Error> {
    let (begin, lock, head, counts) = join4(
        client.batch_execute("BEGIN"),
        client.execute(&statements.chain_lock, &[&AUDIT_CHAIN_LOCK]),
        client.query_one(&statements.chain_head, &[]),
        join_all(
            writes
                .iter()
                .map(|write| client.execute(&write.statement.write, &write.params)),
        ),
    )
    .await;
    let first_trip = begin.and_then(|()| {
        lock?;
        let head = head?;
        let previous: Option<Vec<u8>> = head.try_get(0)?;
        let check: Option<Vec<u8>> = head.try_get(1)?;
        let counts = counts.into_iter().collect::<Result<Vec<u64>, _>>()?;
        Ok((previous, check, counts))
    });
    let (mut previous, check, counts) = match first_trip {
        Ok(answers) => answers,
        Err(e) => return roll_back(client, Err(e)).await,
    };
    chain.alone = previous == chain.last_appended;
    let written: Vec<bool> = counts.iter().map(|&count| count == 1).collect();
    if !written.contains(&true) {
        return roll_back(client, Ok(Ok(written))).await;
    }
    if opened_with.is_some_and(|opened| check.as_deref() != Some(opened)) {
        return roll_back(client, Ok(Err(GateError::WrongServerKey))).await;
    }
    let mut rows = Vec::with_capacity(writes.len());
    for (write, _) in writes.iter().zip(&written).filter(|(_, written)| **written) {
        let mac = write.audit.mac(previous.as_deref());
        previous = Some(mac.clone());
        rows.push(AuditRow {
            time: write.time,
            entry: write.audit,
            mac,
        });
    }
    let params: Vec<Vec<&(dyn ToSql + Sync)>> = rows
        .iter()
        .map(|row| AUDIT_COLUMNS.iter().map(|column| (column.2)(row)).collect())
        .collect();
    let (inserted, commit) = join(
        join_all(
            params
                .iter()
                .map(|params| client.execute(&statements.insert_audit, params)),
        ),
        client.batch_execute("COMMIT"),
    )
    .await;
    for row in inserted {
        row?;
    }
    commit?;
    chain.last_appended = previous;
    Ok(Ok(written))
}

/// Rolls back the transaction begun, then gives `answer`; the rollback's own failure (a
/// lost connection) matters only when the answer was not already an error.
async fn roll_back<T>(
    client: &Client,
    answer: Result<T, tokio_postgres::Error>,
) -> Result<T, tokio_postgres::Error> {
    let rolled_back = client.batch_execute("ROLLBACK").await;
    let answer = answer?;
    rolled_back?;
    Ok(answer)
}
