//! The deploy gate: the whole per-user second-factor flow over a store, built on
//! [`otpcore`], so no caller writes load-verify-persist by hand.
//!
//! - [`Gate::enroll`] makes a pending secret; [`Gate::confirm`] activates it with the
//!   first code and hands out recovery codes, committed in the same write.
//! - [`Gate::check`] and [`Gate::recover`] decide one attempt each: one read-verify-swap
//!   through [`Store::compare_and_swap`], again from a fresh read on a conflict, so a code
//!   passes at most once across every process sharing the store.
//! - Every record is sealed ([`ServerKey`]) and bound to its user and version; every
//!   decision is written with its [`AuditEntry`] in one transaction.
//! - [`Gate::send_code`] texts a one-time code through a delivery command
//!   ([`DeliveryCommand`]) to the user's [`PhoneNumber`]; [`Gate::check`] takes it as well
//!   as a TOTP code, once.
//! - It fails closed: an unknown user, a missing, unreadable, corrupt or tampered record,
//!   a store fault or a wrong key is a [`GateError`], never a pass and never an implicit
//!   enrollment.
//!
//! ```
//! use otpgate::{Gate, MemoryStore, ServerKey};
//! use otpcore::{Secret, Totp};
//!
//! let gate = Gate::open(MemoryStore::new(), ServerKey::generate()?)?;
//! let now = 1_700_000_000;
//! let enrollment = gate.enroll("alice", "Deploy Portal", now)?;
//! // The phone, after scanning enrollment.uri:
//! let phone = Totp::new(&enrollment.secret, gate.params())?;
//! let first = phone.generate(now)?.to_string();
//! let recovery_codes = gate.confirm("alice", &first, now)?.expect("confirmed");
//! assert_eq!(recovery_codes.len(), 10);
//!
//! let fresh = phone.generate(now + 30)?.to_string();
//! assert!(gate.check("alice", &fresh, Some("deploy 1.4.2"), now + 30)?.is_ok());
//! assert!(gate.check("alice", &fresh, Some("deploy 1.4.2"), now + 31)?.is_err()); // replayed
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(unsafe_code)]
#![deny(missing_docs)]
// docs.rs (`--cfg docsrs`, nightly): mark each item with the feature it needs.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod approval;
mod audit;
mod database;
mod deliver;
mod error;
mod flow;
mod group_commit;
mod invite;
pub mod keyfile;
mod link;
mod memory;
#[cfg(feature = "serve")]
pub mod pages;
mod phone;
#[cfg(feature = "postgres")]
mod postgres;
mod record;
mod rotate;
mod seal;
mod sqlite;
mod sqlitetx;
mod store;
pub mod token;
mod writelock;

#[cfg(feature = "postgres")]
pub use self::postgres::{
    ANSWER_MARGIN, AUDIT_CHAIN_LOCK, CONNECT_TIMEOUT, LOCK_TIMEOUT, MIGRATION_LOCK, PostgresStore,
    STATEMENT_TIMEOUT,
};
pub use approval::{
    APPROVAL_MAX_VALIDITY_SECS, APPROVAL_VALIDITY_SECS, Approval, ApprovalRequest, ApprovalStatus,
    check_approval_request,
};
pub use audit::{AuditBreak, AuditEntry, AuditFields, AuditKey, AuditRecord, AuditVerification};
pub use database::{Database, database_url, key_path, server_key};
pub use deliver::{DELIVERY_TIMEOUT, DeliveryCommand};
pub use error::GateError;
pub use flow::{
    Accepted, Decision, Enrollment, Factor, Gate, MAX_ROUNDS, MAX_USER_LEN, Recovered, Refusal,
    Sent, TEXTED_CODE_NOTICE_SECS, UserStatus, check_user,
};
pub use group_commit::{GroupCommit, Grouped};
pub use invite::{
    INVITE_MAX_VALIDITY_SECS, INVITE_VALIDITY_SECS, Invitation, InvitePage, MAX_LABEL_CHARS,
    grouped_key, qr_svg_image,
};
pub use link::{
    ApprovalKey, ApprovalRow, ApprovalState, InviteRow, LINK_TOKEN_LEN, LinkStore, LinkToken,
    TokenHash,
};
pub use memory::MemoryStore;
pub use phone::{PHONE_MAX_DIGITS, PHONE_MIN_DIGITS, PhoneError, PhoneNumber};
pub use record::Status;
pub use rotate::{Rotated, rotate_key};
pub use seal::{SERVER_KEY_LEN, ServerKey};
pub use sqlite::{BUSY_TIMEOUT, SCHEMA_VERSION, SqliteStore};
pub use store::{Store, Stored, Swap, SwapRequest, next_version};
pub use token::{Scope, TokenInfo, TokenStore};
