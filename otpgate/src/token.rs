//! Service tokens: what a runner presents to `otpgate serve` instead of holding the server
//! key and write rights on the database.
//!
//! A token is 256 random bits, shown once when created (`otpgate token create`); the store
//! keeps only its SHA-256 digest, with the token's name and [`Scope`]. A plain digest is
//! enough here, unlike for codes or passwords: 256 random bits cannot be guessed from their
//! digest, so no salt or slow hash adds anything. The service looks a token up by its
//! digest, so no comparison of secrets depends on how much of them matches.

use core::fmt;
use std::string::String;
use std::vec::Vec;

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::GateError;

/// The prefix of every token, so a leaked one is recognisable (secret scanners, logs).
pub const TOKEN_PREFIX: &str = "otpgate_";

/// The longest token name, in bytes.
pub const MAX_TOKEN_NAME_LEN: usize = 64;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// A runner: check, recover, send-code and a user's status (no secrets).
    Check,
    /// An administrator: everything `check` may, and enroll, confirm, reset, disable,
    /// phone, recovery-codes and the audit log.
    Admin,
}

impl Scope {
    /// `check` or `admin`, as stored and printed.
    pub const fn label(self) -> &'static str {
        match self {
            Scope::Check => "check",
            Scope::Admin => "admin",
        }
    }

    /// The scope a label names.
    pub fn parse(label: &str) -> Option<Self> {
        match label {
            "check" => Some(Scope::Check),
            "admin" => Some(Scope::Admin),
            _ => None,
        }
    }

    /// Whether a token of this scope may do what `needed` allows.
    pub const fn allows(self, needed: Scope) -> bool {
        matches!(
            (self, needed),
            (Scope::Admin, _) | (Scope::Check, Scope::Check)
        )
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// A stored token, without its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// Its name: written in the audit entry of every request made with it.
    pub name: String,
    /// What it may do.
    pub scope: Scope,
    /// Unix time of its creation.
    pub created: u64,
    /// Unix time it was revoked at; `None` while it works.
    pub revoked: Option<u64>,
}

/// A new token: the secret to hand to the runner once, and the digest to store.
pub struct NewToken {
    /// `otpgate_` and 64 hexadecimal digits (wiped on drop).
    pub secret: Zeroizing<String>,
    /// [`token_digest`] of the secret.
    pub digest: [u8; 32],
}

impl NewToken {
    /// 256 bits from the operating system's generator.
    pub fn generate() -> Result<Self, GateError> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        getrandom::fill(bytes.as_mut_slice()).map_err(|_| GateError::Randomness)?;
        let mut secret = Zeroizing::new(String::with_capacity(72));
        secret.push_str(TOKEN_PREFIX);
        for byte in bytes.iter() {
            secret.push_str(&format!("{byte:02x}"));
        }
        let digest = token_digest(&secret);
        Ok(NewToken { secret, digest })
    }
}

/// The digest a token is stored and looked up by.
pub fn token_digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// A token name: 1 to [`MAX_TOKEN_NAME_LEN`] letters, digits, `.`, `_` or `-` (it is
/// printed in logs and audit entries, so nothing that could fake a line or a field).
pub fn check_token_name(name: &str) -> Result<(), GateError> {
    let valid = !name.is_empty()
        && name.len() <= MAX_TOKEN_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if valid {
        Ok(())
    } else {
        Err(GateError::InvalidTokenName)
    }
}

/// Where tokens are kept: the gate's database ([`SqliteStore`](crate::SqliteStore),
/// `PostgresStore`, [`Database`](crate::Database)).
pub trait TokenStore {
    /// Stores a new token; [`GateError::TokenExists`] when the name was ever used (a
    /// revoked name stays taken, so an audit entry's token name means one token).
    fn create_token(
        &self,
        name: &str,
        scope: Scope,
        digest: &[u8; 32],
        now: u64,
    ) -> Result<(), GateError>;

    /// Every token, revoked ones too, by name.
    fn list_tokens(&self) -> Result<Vec<TokenInfo>, GateError>;

    /// Revokes the token `name`; [`GateError::UnknownToken`] when there is none (revoking
    /// a revoked token again keeps its first revocation time).
    fn revoke_token(&self, name: &str, now: u64) -> Result<(), GateError>;

    /// The token with this digest, revoked or not (the caller checks `revoked`).
    fn token_by_digest(&self, digest: &[u8; 32]) -> Result<Option<TokenInfo>, GateError>;
}

/// A scope label read back from a store; anything else is a changed schema or row.
pub(crate) fn stored_scope(label: &str) -> Result<Scope, GateError> {
    Scope::parse(label)
        .ok_or_else(|| GateError::Store(format!("unknown token scope {label:?} in the store")))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn tokens_are_fresh_256_bit_values_stored_as_their_digest() {
        let a = NewToken::generate().unwrap();
        let b = NewToken::generate().unwrap();
        assert_ne!(*a.secret, *b.secret);
        assert_eq!(a.secret.len(), TOKEN_PREFIX.len() + 64);
        assert!(a.secret.starts_with(TOKEN_PREFIX));
        assert_eq!(a.digest, token_digest(&a.secret));
        assert_ne!(a.digest, b.digest);
    }

    #[test]
    fn names_and_scopes_are_checked() {
        assert!(check_token_name("runner-1.ci_a").is_ok());
        for bad in ["", "a b", "a\nb", "é", &"x".repeat(65)] {
            assert_eq!(
                check_token_name(bad),
                Err(GateError::InvalidTokenName),
                "{bad:?}"
            );
        }
        assert!(Scope::Admin.allows(Scope::Check));
        assert!(Scope::Check.allows(Scope::Check));
        assert!(!Scope::Check.allows(Scope::Admin));
        assert_eq!(Scope::parse("admin"), Some(Scope::Admin));
        assert_eq!(Scope::parse("root"), None);
    }
}
