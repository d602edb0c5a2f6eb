//! Links that grant something: an enrollment link ([`Gate::invite`](super::Gate::invite))
//! and an approval link ([`Gate::request_approval`](super::Gate::request_approval)).
//!
//! A link carries a [`LinkToken`] of 256 random bits in its path. Only the token's SHA-256
//! is stored ([`LinkStore`]), so whoever reads the database cannot open a link, and a
//! token is looked up by its hash, never compared byte by byte. A link is single use and
//! expires; the pages give one answer for an unknown, used or expired link.
//!
//! Forms on a link's page carry a CSRF token bound to the link
//! ([`Gate::csrf_token`](super::Gate::csrf_token)): a keyed hash of the link's token hash
//! under a key derived from the server key, so it survives a restart of the service and
//! no other link's form (nor a page of another site) can post to this link.

use core::fmt;
use std::string::String;

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::{AuditEntry, Database, Gate, GateError, Store, Swap};

/// The length of a link token in bytes (256 bits; the web rules ask for at least 128).
pub const LINK_TOKEN_LEN: usize = 32;

/// The SHA-256 of a link token: what the store keeps and looks links up by.
pub type TokenHash = [u8; 32];

const HEX: &[u8; 16] = b"0123456789abcdef";

/// A link token: random bytes, written as lowercase hexadecimal in the link. Wiped on
/// drop; its `Debug` does not show it.
pub struct LinkToken(Zeroizing<String>);

impl LinkToken {
    /// A new token from the operating system's random number generator.
    pub fn generate() -> Result<Self, GateError> {
        let mut bytes = Zeroizing::new([0u8; LINK_TOKEN_LEN]);
        getrandom::fill(bytes.as_mut_slice()).map_err(|_| GateError::Randomness)?;
        Ok(LinkToken(Zeroizing::new(hex(bytes.as_slice()))))
    }

    /// The token as it appears in a link.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Its hash, as stored.
    pub fn hash(&self) -> TokenHash {
        Sha256::digest(self.0.as_bytes()).into()
    }

    /// The hash of a token taken from a link, or `None` when `text` cannot be a token
    /// (not 64 lowercase hexadecimal digits): such a link is unknown, like any other.
    pub fn hash_of(text: &str) -> Option<TokenHash> {
        let well_formed = text.len() == LINK_TOKEN_LEN.saturating_mul(2)
            && text.bytes().all(|b| HEX.contains(&b));
        well_formed.then(|| Sha256::digest(text.as_bytes()).into())
    }
}

impl fmt::Debug for LinkToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LinkToken(..)")
    }
}

/// Lowercase hexadecimal of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len().saturating_mul(2));
    for byte in bytes {
        for nibble in [byte >> 4, byte & 0xf] {
            if let Some(&d) = HEX.get(usize::from(nibble)) {
                text.push(char::from(d));
            }
        }
    }
    text
}

impl<S: Store> Gate<S> {
    /// The CSRF token of the forms on the page of the link whose token hashes to
    /// `token_hash`: 64 hexadecimal digits, the same for every form of that link.
    pub fn csrf_token(&self, token_hash: &TokenHash) -> String {
        hex(&self.server_key().link_tag(token_hash))
    }

    /// Whether `given` is [`csrf_token`](Self::csrf_token) of that link, compared in
    /// constant time.
    pub fn csrf_matches(&self, token_hash: &TokenHash, given: &str) -> bool {
        let expected = self.csrf_token(token_hash);
        expected.len() == given.len()
            && expected
                .bytes()
                .zip(given.bytes())
                .fold(0u8, |diff, (a, b)| diff | (a ^ b))
                == 0
    }
}

/// An enrollment invitation as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InviteRow {
    /// The hash of the link's token.
    pub token_hash: TokenHash,
    /// The user it enrolls.
    pub user: String,
    /// The service name shown in authenticator apps.
    pub issuer: String,
    /// SHA-256 of the pending secret the invitation shows: the link shows that enrollment
    /// and no later one (a new invitation or `otpgate enroll` kills it).
    pub secret_digest: [u8; 32],
    /// Unix time it was made.
    pub created: u64,
    /// Unix time from which the link is dead.
    pub expires: u64,
    /// Unix time it was used (the enrollment confirmed through it), if it was.
    pub used: Option<u64>,
}

/// Where an approval is: decided at most once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApprovalState {
    /// Waiting for a code (or expired, when its expiry has passed).
    Pending,
    /// Granted by a right code of the user.
    Granted,
    /// Declined on its page.
    Declined,
}

impl ApprovalState {
    /// The label as stored and in the API.
    pub const fn label(self) -> &'static str {
        match self {
            ApprovalState::Pending => "pending",
            ApprovalState::Granted => "granted",
            ApprovalState::Declined => "declined",
        }
    }

    /// The state a stored label names.
    pub fn from_label(label: &str) -> Option<Self> {
        match label {
            "pending" => Some(ApprovalState::Pending),
            "granted" => Some(ApprovalState::Granted),
            "declined" => Some(ApprovalState::Declined),
            _ => None,
        }
    }
}

/// An approval as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalRow {
    /// Its public id (128 random bits, hexadecimal): what the requester polls. It opens no
    /// page; the link's token does.
    pub id: String,
    /// The hash of the link's token.
    pub token_hash: TokenHash,
    /// Whose code approves it.
    pub user: String,
    /// What it approves, e.g. "deploy 1.4.2".
    pub action: String,
    /// Who asked: the service token's name.
    pub requester: Option<String>,
    /// Unix time it was made.
    pub created: u64,
    /// Unix time from which it can no longer be decided.
    pub expires: u64,
    /// Granted, declined, or not yet.
    pub state: ApprovalState,
    /// Unix time it was decided.
    pub decided: Option<u64>,
}

/// How an approval is looked up.
#[derive(Debug, Clone, Copy)]
pub enum ApprovalKey<'a> {
    /// By its public id (the requester).
    Id(&'a str),
    /// By its link's token hash (the page).
    Token(&'a TokenHash),
}

/// Storage for links, beside the user records: invitations and approvals.
///
/// As for [`Store`](super::Store), every write is atomic; [`LinkStore::use_invite`] and
/// [`LinkStore::decide_approval`] are conditional writes, so of racing callers exactly one
/// succeeds.
pub trait LinkStore {
    /// Stores a new invitation.
    fn insert_invite(&self, invite: &InviteRow) -> Result<(), GateError>;

    /// The invitation with this token hash, used or not.
    fn find_invite(&self, token_hash: &TokenHash) -> Result<Option<InviteRow>, GateError>;

    /// Marks the invitation used at `now` if it was not: `true` for the caller that did.
    fn use_invite(&self, token_hash: &TokenHash, now: u64) -> Result<bool, GateError>;

    /// Stores a new approval.
    fn insert_approval(&self, approval: &ApprovalRow) -> Result<(), GateError>;

    /// The approval by id or token hash.
    fn find_approval(&self, key: ApprovalKey<'_>) -> Result<Option<ApprovalRow>, GateError>;

    /// Moves the approval `id` from pending to `state` at `now`, if it is still pending and
    /// `now` is before its expiry, and appends `audit` in the same transaction:
    /// [`Swap::Written`] for the one caller that decided it, [`Swap::Conflict`] (nothing
    /// written) for everyone else.
    fn decide_approval(
        &self,
        id: &str,
        state: ApprovalState,
        now: u64,
        audit: &AuditEntry,
    ) -> Result<Swap, GateError>;
}

impl<T: LinkStore + ?Sized> LinkStore for &T {
    fn insert_invite(&self, invite: &InviteRow) -> Result<(), GateError> {
        (**self).insert_invite(invite)
    }

    fn find_invite(&self, token_hash: &TokenHash) -> Result<Option<InviteRow>, GateError> {
        (**self).find_invite(token_hash)
    }

    fn use_invite(&self, token_hash: &TokenHash, now: u64) -> Result<bool, GateError> {
        (**self).use_invite(token_hash, now)
    }

    fn insert_approval(&self, approval: &ApprovalRow) -> Result<(), GateError> {
        (**self).insert_approval(approval)
    }

    fn find_approval(&self, key: ApprovalKey<'_>) -> Result<Option<ApprovalRow>, GateError> {
        (**self).find_approval(key)
    }

    fn decide_approval(
        &self,
        id: &str,
        state: ApprovalState,
        now: u64,
        audit: &AuditEntry,
    ) -> Result<Swap, GateError> {
        (**self).decide_approval(id, state, now, audit)
    }
}

impl Database {
    fn links(&self) -> &dyn LinkStore {
        match self {
            Database::Sqlite(store) => store.as_ref(),
            #[cfg(feature = "postgres")]
            Database::Postgres(store) => store.as_ref(),
        }
    }
}

impl LinkStore for Database {
    fn insert_invite(&self, invite: &InviteRow) -> Result<(), GateError> {
        self.links().insert_invite(invite)
    }

    fn find_invite(&self, token_hash: &TokenHash) -> Result<Option<InviteRow>, GateError> {
        self.links().find_invite(token_hash)
    }

    fn use_invite(&self, token_hash: &TokenHash, now: u64) -> Result<bool, GateError> {
        self.links().use_invite(token_hash, now)
    }

    fn insert_approval(&self, approval: &ApprovalRow) -> Result<(), GateError> {
        self.links().insert_approval(approval)
    }

    fn find_approval(&self, key: ApprovalKey<'_>) -> Result<Option<ApprovalRow>, GateError> {
        self.links().find_approval(key)
    }

    fn decide_approval(
        &self,
        id: &str,
        state: ApprovalState,
        now: u64,
        audit: &AuditEntry,
    ) -> Result<Swap, GateError> {
        self.links().decide_approval(id, state, now, audit)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn tokens_are_random_hex_and_only_well_formed_ones_hash() {
        let a = LinkToken::generate().unwrap();
        let b = LinkToken::generate().unwrap();
        assert_eq!(a.as_str().len(), 64);
        assert_ne!(a.as_str(), b.as_str());
        assert_eq!(LinkToken::hash_of(a.as_str()), Some(a.hash()));
        assert_eq!(LinkToken::hash_of(&a.as_str().to_uppercase()), None);
        assert_eq!(LinkToken::hash_of(&a.as_str()[1..]), None);
        assert_eq!(LinkToken::hash_of(""), None);
        assert_eq!(LinkToken::hash_of(&"g".repeat(64)), None);
        assert_eq!(format!("{a:?}"), "LinkToken(..)");
    }
}
