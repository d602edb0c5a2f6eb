//! The audit trail: one entry per decision, written by the store in the same transaction
//! as the user's new record, so the trail never claims an outcome that was not committed
//! and no committed outcome is missing from it.

//!
//! # An authenticated trail
//!
//! Whoever can write the database can insert, delete or edit audit rows, so each row
//! carries a MAC: HMAC-SHA-256, under a key derived from the server key ([`AuditKey`]), of
//! the previous row's MAC and this row's fields in one canonical encoding
//! ([`AuditFields::encode`]). The store reads the previous MAC and appends the row while
//! it holds the trail's write lock (SQLite's `BEGIN IMMEDIATE`, a transaction-level
//! advisory lock on PostgreSQL), so concurrent writers extend one chain.
//! [`verify`] walks the chain and names the first row that is forged, altered, out of
//! order, or follows missing rows. Rows written before the chain existed (a database from
//! before schema version 2) carry no MAC and are counted as unauthenticated; deleting the
//! newest rows leaves a shorter valid chain, which only a copy of the head
//! ([`AuditVerification::head`]) kept elsewhere reveals.

use std::string::String;
use std::vec::Vec;

use zeroize::{Zeroize, ZeroizeOnDrop};

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
    /// The key the store computes the entry's MAC with.
    pub key: AuditKey,
}

impl AuditEntry {
    /// The fields the MAC covers.
    pub fn fields(&self) -> AuditFields<'_> {
        AuditFields {
            time: self.time,
            user: &self.user,
            event: self.event,
            action: self.action.as_deref(),
            outcome: self.outcome,
            drift: self.drift,
            actor: self.actor.as_deref(),
        }
    }

    /// The entry's MAC, chained to `previous` (the MAC of the trail's last authenticated
    /// row, `None` for the first one).
    pub fn mac(&self, previous: Option<&[u8]>) -> Vec<u8> {
        self.key.mac(previous, &self.fields()).to_vec()
    }
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
    /// The entry's MAC ([`AuditEntry::mac`]); `None` for a row written before the trail was
    /// authenticated (or inserted without one).
    pub mac: Option<Vec<u8>>,
}

impl AuditRecord {
    /// The fields the MAC covers.
    pub fn fields(&self) -> AuditFields<'_> {
        AuditFields {
            time: self.time,
            user: &self.user,
            event: &self.event,
            action: self.action.as_deref(),
            outcome: &self.outcome,
            drift: self.drift,
            actor: self.actor.as_deref(),
        }
    }
}

/// The fields of an audit row that its MAC covers, borrowed from an entry being written or a
/// row read back, so both encode through one function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditFields<'a> {
    /// See [`AuditEntry::time`].
    pub time: u64,
    /// See [`AuditEntry::user`].
    pub user: &'a str,
    /// See [`AuditEntry::event`].
    pub event: &'a str,
    /// See [`AuditEntry::action`].
    pub action: Option<&'a str>,
    /// See [`AuditEntry::outcome`].
    pub outcome: &'a str,
    /// See [`AuditEntry::drift`].
    pub drift: Option<i64>,
    /// See [`AuditEntry::actor`].
    pub actor: Option<&'a str>,
}

impl AuditFields<'_> {
    /// The canonical encoding the MAC is computed over: a version label, then each field in
    /// order, texts with their length (8 bytes, big-endian) first and optional fields with a
    /// presence byte, so no two rows encode alike. A new column is one line here.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64usize.saturating_add(self.user.len()));
        out.extend_from_slice(b"otpgate audit row v1\0");
        out.extend_from_slice(&self.time.to_be_bytes());
        put_text(&mut out, Some(self.user));
        put_text(&mut out, Some(self.event));
        put_text(&mut out, self.action);
        put_text(&mut out, Some(self.outcome));
        match self.drift {
            Some(drift) => {
                out.push(1);
                out.extend_from_slice(&drift.to_be_bytes());
            }
            None => out.push(0),
        }
        put_text(&mut out, self.actor);
        out
    }
}

fn put_text(out: &mut Vec<u8>, text: Option<&str>) {
    match text {
        Some(text) => {
            out.push(1);
            out.extend_from_slice(&u64::try_from(text.len()).unwrap_or(u64::MAX).to_be_bytes());
            out.extend_from_slice(text.as_bytes());
        }
        None => out.push(0),
    }
}

/// The audit trail's MAC key: HMAC-SHA-256 under the server key of a fixed label
/// ([`ServerKey::audit_key`](super::ServerKey)), as the texted codes' key is derived; wiped
/// on drop, never stored or printed.
#[derive(Clone, PartialEq, Eq)]
pub struct AuditKey([u8; 32]);

impl AuditKey {
    pub(crate) fn from_bytes(bytes: [u8; 32]) -> Self {
        AuditKey(bytes)
    }

    /// HMAC-SHA-256 of `previous` (32 zero bytes for the first row) and `fields`.
    pub fn mac(&self, previous: Option<&[u8]>, fields: &AuditFields<'_>) -> [u8; 32] {
        let mut message = Vec::new();
        message.extend_from_slice(previous.unwrap_or(&[0u8; 32]));
        message.extend_from_slice(&fields.encode());
        super::seal::hmac_sha256(&self.0, &message)
    }
}

impl Zeroize for AuditKey {
    fn zeroize(&mut self) {
        self.0.zeroize();
    }
}

impl Drop for AuditKey {
    fn drop(&mut self) {
        self.zeroize();
    }
}

impl ZeroizeOnDrop for AuditKey {}

impl core::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("AuditKey(..)")
    }
}

/// What [`Gate::verify_log`](crate::Gate::verify_log) found wrong with a row: the first one that breaks the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditBreak {
    /// A row after the chain started without a MAC: inserted by hand.
    NoMac {
        /// The row's id.
        id: i64,
    },
    /// The row's MAC does not authenticate it after the row before it: the row was forged
    /// or altered, moved out of order, or rows before it were deleted (the MAC chains to
    /// the deleted row's, which is gone, so the gap shows at the row after it).
    Broken {
        /// The row's id.
        id: i64,
    },
}

impl AuditBreak {
    /// The row it names.
    pub fn id(&self) -> i64 {
        match self {
            AuditBreak::NoMac { id } | AuditBreak::Broken { id } => *id,
        }
    }
}

impl core::fmt::Display for AuditBreak {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            AuditBreak::NoMac { id } => {
                write!(f, "row {id} has no MAC: it was inserted by hand")
            }
            AuditBreak::Broken { id } => write!(
                f,
                "row {id} does not authenticate after the row before it: it was forged or \
                 altered, moved out of order, or rows just before it were deleted"
            ),
        }
    }
}

/// The result of [`Gate::verify_log`](crate::Gate::verify_log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditVerification {
    /// Rows from before the chain started (no MAC, ids up to the start): not authenticated.
    pub unauthenticated: usize,
    /// Rows whose MAC was checked, up to the first broken one.
    pub authenticated: usize,
    /// The first row that breaks the chain; `None` when the trail is intact.
    pub broken: Option<AuditBreak>,
    /// The last authenticated row's id and MAC: keep a copy elsewhere to detect rows
    /// deleted from the end later (a shorter chain is still a valid one).
    pub head: Option<(i64, Vec<u8>)>,
}

/// Walks `rows` (the whole trail, oldest first): rows with ids from 1 up to `chain_start`
/// are from before the chain (no MAC, counted as unauthenticated: a row inserted among them
/// cannot be told from them); every later row must authenticate after the one before it.
pub fn verify(key: &AuditKey, chain_start: i64, rows: &[AuditRecord]) -> AuditVerification {
    let mut result = AuditVerification {
        unauthenticated: 0,
        authenticated: 0,
        broken: None,
        head: None,
    };
    // The last authenticated row's MAC.
    let mut seen: Option<&[u8]> = None;
    for row in rows {
        let id = row.id;
        let Some(mac) = row.mac.as_deref() else {
            // Both stores number rows from 1.
            if (1..=chain_start).contains(&id) && seen.is_none() {
                result.unauthenticated = result.unauthenticated.saturating_add(1);
                continue;
            }
            result.broken = Some(AuditBreak::NoMac { id });
            return result;
        };
        if key.mac(seen, &row.fields()).as_slice() != mac {
            result.broken = Some(AuditBreak::Broken { id });
            return result;
        }
        seen = Some(mac);
        result.authenticated = result.authenticated.saturating_add(1);
        result.head = Some((id, mac.to_vec()));
    }
    result
}
