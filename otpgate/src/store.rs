//! The store trait: where sealed user records and the audit trail live.
//!
//! A store knows nothing of codes or keys. It keeps, per user id, a version number and an
//! opaque sealed record, and offers one write: a compare-and-swap that replaces the record
//! only if its version is still the one the caller read, and appends an audit entry in the
//! same atomic step. The flow ([`Gate`](super::Gate)) reads, verifies and swaps; when the
//! swap reports [`Swap::Conflict`] another process decided in between, and the flow reads
//! and verifies again. That is what makes a code single use across processes: of two
//! processes verifying one code, the second one's swap conflicts, and its second reading
//! sees the step the first one stored.
//!
//! An implementation must make [`Store::compare_and_swap`] atomic and durable: when it
//! returns [`Swap::Written`], the record and the audit entry are both committed and survive
//! a crash; when it returns anything else, neither is. [`SqliteStore`](super::SqliteStore)
//! uses `BEGIN IMMEDIATE`; a server database can use one transaction with a conditional
//! `UPDATE ... WHERE version = $expected` (zero rows: conflict).

use std::vec::Vec;

use super::{AuditEntry, AuditRecord, GateError};

/// A user's record as stored: its version and the sealed bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// Starts at 1 for a new user and grows by one with every write.
    pub version: u64,
    /// The record sealed by [`ServerKey::seal`](super::ServerKey::seal) for this version.
    pub sealed: Vec<u8>,
}

/// The outcome of a compare-and-swap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "a conflict means nothing was written"]
pub enum Swap {
    /// The record now has version [`next_version`] of the expected one, and the audit
    /// entry is committed with it.
    Written,
    /// The user's version was not the expected one (or the user exists when `None` was
    /// expected): nothing was written.
    Conflict,
}

/// One compare-and-swap of [`Store::compare_and_swap_all`]: the arguments of
/// [`Store::compare_and_swap`].
#[derive(Debug, Clone, Copy)]
pub struct SwapRequest<'a> {
    /// The user whose record is written.
    pub user: &'a str,
    /// The version read (`None`: the user must not exist).
    pub expected: Option<u64>,
    /// The new sealed record.
    pub sealed: &'a [u8],
    /// The audit entry written with it.
    pub audit: &'a AuditEntry,
}

/// The version a successful swap writes after `expected` (`None`: a new user).
pub const fn next_version(expected: Option<u64>) -> u64 {
    match expected {
        None => 1,
        Some(v) => v.saturating_add(1),
    }
}

/// [`Store::compare_and_swap`] for a store whose one way to decide is
/// [`Store::compare_and_swap_all`]: the request as a group of one.
pub(crate) fn swap_as_group_of_one(
    store: &impl Store,
    user: &str,
    expected: Option<u64>,
    sealed: &[u8],
    audit: &AuditEntry,
) -> Result<Swap, GateError> {
    let request = SwapRequest {
        user,
        expected,
        sealed,
        audit,
    };
    store
        .compare_and_swap_all(&[request])
        .pop()
        .unwrap_or_else(|| Err(GateError::Store(String::from("a decision went unanswered"))))
}

/// Storage for the gate: sealed records with versions, an audit trail, and the server key
/// check. Implemented by [`MemoryStore`](super::MemoryStore),
/// [`SqliteStore`](super::SqliteStore) and (feature `postgres`) `PostgresStore`.
pub trait Store {
    /// The user's record, or `None` for an unknown user.
    fn load(&self, user: &str) -> Result<Option<Stored>, GateError>;

    /// Writes `sealed` as the user's record with version [`next_version`]`(expected)`
    /// and appends `audit`, atomically, if the stored version is `expected` (`None`: the
    /// user must not exist); [`Swap::Conflict`] and no write otherwise.
    fn compare_and_swap(
        &self,
        user: &str,
        expected: Option<u64>,
        sealed: &[u8],
        audit: &AuditEntry,
    ) -> Result<Swap, GateError>;

    /// Several compare-and-swaps, each decided as [`compare_and_swap`](Self::compare_and_swap)
    /// decides it, answered in order. A store may commit them together (SQLite and
    /// PostgreSQL: one transaction, so one flush for all: what a service deciding for many
    /// callers at once wants); none is durable before this returns. By default, one after
    /// the other.
    fn compare_and_swap_all(&self, swaps: &[SwapRequest<'_>]) -> Vec<Result<Swap, GateError>> {
        swaps
            .iter()
            .map(|swap| self.compare_and_swap(swap.user, swap.expected, swap.sealed, swap.audit))
            .collect()
    }

    /// Whether a write is durable when it returns: `false` inside a transaction the caller
    /// holds open ([`SqliteStore::batch`](super::SqliteStore::batch)), whose writes are
    /// not durable before it commits. A [`GroupCommit`](super::GroupCommit) commits other
    /// callers' decisions only on a store that says `true`. By default, `true`.
    fn commits_on_return(&self) -> bool {
        true
    }

    /// The stored server key check ([`ServerKey::key_check`](super::ServerKey::key_check)),
    /// `None` before the first key was set up.
    fn key_check(&self) -> Result<Option<Vec<u8>>, GateError>;

    /// Stores `check` unless a check is stored already, and returns the stored one (so of
    /// two processes setting up a new store, both end up comparing against the same).
    fn init_key_check(&self, check: &[u8]) -> Result<Vec<u8>, GateError>;

    /// Up to `limit` audit entries, the latest last, of one user or of everyone.
    fn audit_log(&self, user: Option<&str>, limit: usize) -> Result<Vec<AuditRecord>, GateError>;

    /// The id of the last audit row written before the trail was authenticated (rows up to
    /// it carry no MAC; 0 when the trail was authenticated from the start).
    fn audit_chain_start(&self) -> Result<i64, GateError>;
}

/// A shared store: several gates (threads, tests) over one store.
impl<T: Store + ?Sized> Store for &T {
    fn load(&self, user: &str) -> Result<Option<Stored>, GateError> {
        (**self).load(user)
    }

    fn compare_and_swap(
        &self,
        user: &str,
        expected: Option<u64>,
        sealed: &[u8],
        audit: &AuditEntry,
    ) -> Result<Swap, GateError> {
        (**self).compare_and_swap(user, expected, sealed, audit)
    }

    fn compare_and_swap_all(&self, swaps: &[SwapRequest<'_>]) -> Vec<Result<Swap, GateError>> {
        (**self).compare_and_swap_all(swaps)
    }

    fn commits_on_return(&self) -> bool {
        (**self).commits_on_return()
    }

    fn key_check(&self) -> Result<Option<Vec<u8>>, GateError> {
        (**self).key_check()
    }

    fn init_key_check(&self, check: &[u8]) -> Result<Vec<u8>, GateError> {
        (**self).init_key_check(check)
    }

    fn audit_log(&self, user: Option<&str>, limit: usize) -> Result<Vec<AuditRecord>, GateError> {
        (**self).audit_log(user, limit)
    }

    fn audit_chain_start(&self) -> Result<i64, GateError> {
        (**self).audit_chain_start()
    }
}
