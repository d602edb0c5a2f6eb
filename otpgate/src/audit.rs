//! The audit trail: one entry per decision, written by the store in the same transaction
//! as the user's new record, so the trail never claims an outcome that was not committed
//! and no committed outcome is missing from it.

use std::string::String;

/// One line of the audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Unix time of the decision.
    pub time: u64,
    /// The user.
    pub user: String,
    /// What was done: `enroll`, `confirm`, `check`, `recover`, `reset`, `disable`,
    /// `recovery-codes`, `phone`, `send-code`.
    pub event: &'static str,
    /// The caller's label for what the code was for (`--action`, e.g. a deploy), if any.
    pub action: Option<String>,
    /// The outcome label: `accepted` (`accepted-sms` for a texted code), or a refusal such
    /// as `replayed` or `wrong`; for `send-code`, `issued` and, after a failed delivery,
    /// `delivery-failed`.
    pub outcome: &'static str,
    /// The clock drift of an accepted code, in time steps.
    pub drift: Option<i64>,
    /// Who asked: the name of the service token that made the request (`otpgate serve`),
    /// `None` for the command run directly on the database.
    pub actor: Option<String>,
}

/// An entry read back from a store, with the text labels as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// The store's sequence number: later entries have larger ones.
    pub id: i64,
    /// Unix time of the decision.
    pub time: u64,
    /// The user.
    pub user: String,
    /// See [`AuditEntry::event`].
    pub event: String,
    /// See [`AuditEntry::action`].
    pub action: Option<String>,
    /// See [`AuditEntry::outcome`].
    pub outcome: String,
    /// See [`AuditEntry::drift`].
    pub drift: Option<i64>,
    /// See [`AuditEntry::actor`].
    pub actor: Option<String>,
}
