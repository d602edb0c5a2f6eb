//! Sealing at rest: every user record is encrypted and authenticated with
//! XChaCha20-Poly1305 under the 32-byte server key.
//!
//! The associated data binds the user id and the record version, so a sealed record
//! cannot be moved to another user (or its secret swapped in), nor an older sealed record
//! of the same user put back under a newer version number. The whole record is sealed —
//! the secret, the status and the encoded [`UserState`](otpcore::UserState) — so lowering a
//! step, clearing the throttle or marking recovery codes unused in the database fails to
//! open. Nonces are 24 random bytes: with XChaCha20 random nonces never collide in
//! practice, whatever the number of records.
//!
//! A sealed record is `nonce (24) || ciphertext || tag (16)`.

use std::string::String;
use std::vec::Vec;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::GateError;
use otpcore::OobKey;

/// The length of a server key in bytes.
pub const SERVER_KEY_LEN: usize = 32;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
const RECORD_CONTEXT: &[u8] = b"otpgate record v1\0";
const KEY_CHECK_CONTEXT: &[u8] = b"otpgate key check v1\0";
/// The label the out-of-band code key is derived from (see [`ServerKey::oob_key`]).
const OOB_KEY_LABEL: &[u8] = b"otpgate out-of-band code key v1\0";
/// The label the audit trail's MAC key is derived from (see [`ServerKey::audit_key`]).
const AUDIT_KEY_LABEL: &[u8] = b"otpgate audit chain key v1\0";
/// The label the key of link pages' CSRF tokens is derived from (see [`ServerKey::link_tag`]).
const LINK_KEY_LABEL: &[u8] = b"otpgate link form key v1\0";
/// The SHA-256 block size, for HMAC's pads.
const SHA256_BLOCK: usize = 64;

/// The server key that seals every record: 32 random bytes, wiped on drop, never printed.
pub struct ServerKey {
    bytes: [u8; SERVER_KEY_LEN],
}

impl ServerKey {
    /// A key from its 32 bytes.
    pub fn from_bytes(bytes: [u8; SERVER_KEY_LEN]) -> Self {
        ServerKey { bytes }
    }

    /// A new key from the operating system's random number generator.
    pub fn generate() -> Result<Self, GateError> {
        let mut bytes = [0u8; SERVER_KEY_LEN];
        getrandom::fill(&mut bytes).map_err(|_| GateError::Randomness)?;
        Ok(ServerKey { bytes })
    }

    /// Reads the key file format: 64 hexadecimal digits, surrounding white space ignored.
    /// `None` for anything else.
    pub fn from_hex(text: &str) -> Option<Self> {
        let digits = text.trim().as_bytes();
        if digits.len() != SERVER_KEY_LEN.saturating_mul(2) {
            return None;
        }
        let mut bytes = [0u8; SERVER_KEY_LEN];
        for (out, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
            let (Some(high), Some(low)) = (
                pair.first().and_then(|&d| hex_value(d)),
                pair.get(1).and_then(|&d| hex_value(d)),
            ) else {
                bytes.zeroize();
                return None;
            };
            *out = high << 4 | low;
        }
        Some(ServerKey { bytes })
    }

    /// The key file format: 64 lowercase hexadecimal digits and a newline.
    pub fn to_hex(&self) -> Zeroizing<String> {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut text = Zeroizing::new(String::with_capacity(SERVER_KEY_LEN * 2 + 1));
        for byte in self.bytes {
            for nibble in [byte >> 4, byte & 0xf] {
                if let Some(&d) = DIGITS.get(usize::from(nibble)) {
                    text.push(char::from(d));
                }
            }
        }
        text.push('\n');
        text
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(Key::from_slice(&self.bytes))
    }

    /// Seals `plaintext` for `user` at record `version`.
    pub fn seal(&self, user: &str, version: u64, plaintext: &[u8]) -> Result<Vec<u8>, GateError> {
        self.seal_with(&record_aad(user, version), plaintext)
    }

    /// Opens a record sealed by [`seal`](Self::seal) for the same `user` and `version`:
    /// [`GateError::RecordCorrupt`] when it is too short to be a sealed record,
    /// [`GateError::RecordTampered`] when it does not authenticate.
    pub fn open(
        &self,
        user: &str,
        version: u64,
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, GateError> {
        self.open_with(&record_aad(user, version), sealed)
    }

    /// A value to store beside the records that proves which key sealed them: an empty
    /// message sealed under a fixed context.
    pub fn key_check(&self) -> Result<Vec<u8>, GateError> {
        self.seal_with(KEY_CHECK_CONTEXT, &[])
    }

    /// Whether `check` (from [`key_check`](Self::key_check)) was made with this key.
    pub fn matches(&self, check: &[u8]) -> bool {
        self.open_with(KEY_CHECK_CONTEXT, check).is_ok()
    }

    /// The key that texted codes' tags are computed under: HMAC-SHA-256 under the server
    /// key of a fixed label, computed when needed and never stored.
    ///
    /// Why derived rather than the server key itself: the server key is an XChaCha20-Poly1305
    /// key, and one key should serve one algorithm; HMAC under a uniformly random key is a
    /// PRF, so the derived key is independent of the sealing key and of any other key derived
    /// with another label. Why not a key of its own: a second file to create, protect, back up
    /// and move in step with the first, for no gain, since whoever reads the server key can
    /// open every record (and the tags inside) anyway.
    pub(crate) fn oob_key(&self) -> Result<OobKey, GateError> {
        let derived = Zeroizing::new(hmac_sha256(&self.bytes, OOB_KEY_LABEL));
        Ok(OobKey::new(derived.as_slice())?)
    }

    /// The key the audit trail's MACs are computed under: HMAC-SHA-256 under the server key
    /// of a fixed label, derived for the reasons the texted codes' key is (one key, one
    /// algorithm; no second file to keep).
    pub fn audit_key(&self) -> crate::AuditKey {
        crate::AuditKey::from_bytes(hmac_sha256(&self.bytes, AUDIT_KEY_LABEL))
    }

    /// HMAC-SHA-256 of `message` under a key derived from the server key for link pages
    /// (their forms' CSRF tokens): stable across restarts, and useless for anything else.
    pub(crate) fn link_tag(&self, message: &[u8]) -> [u8; 32] {
        let derived = Zeroizing::new(hmac_sha256(&self.bytes, LINK_KEY_LABEL));
        hmac_sha256(&derived, message)
    }

    fn seal_with(&self, aad: &[u8], msg: &[u8]) -> Result<Vec<u8>, GateError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|_| GateError::Randomness)?;
        let sealed = self
            .cipher()
            .encrypt(XNonce::from_slice(&nonce), Payload { msg, aad })
            .map_err(|_| GateError::Store(String::from("sealing failed")))?;
        let mut out = Vec::with_capacity(NONCE_LEN.saturating_add(sealed.len()));
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    fn open_with(&self, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, GateError> {
        if sealed.len() < NONCE_LEN.saturating_add(TAG_LEN) {
            return Err(GateError::RecordCorrupt);
        }
        let (nonce, msg) = sealed.split_at(NONCE_LEN);
        self.cipher()
            .decrypt(XNonce::from_slice(nonce), Payload { msg, aad })
            .map(Zeroizing::new)
            .map_err(|_| GateError::RecordTampered)
    }
}

impl Zeroize for ServerKey {
    fn zeroize(&mut self) {
        self.bytes.zeroize();
    }
}

impl Drop for ServerKey {
    fn drop(&mut self) {
        self.zeroize();
    }
}

impl ZeroizeOnDrop for ServerKey {}

impl core::fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("ServerKey(..)")
    }
}

/// HMAC-SHA-256 (RFC 2104) for a key of at most one block, as the server key is.
pub(crate) fn hmac_sha256(key: &[u8; SERVER_KEY_LEN], message: &[u8]) -> [u8; 32] {
    let mut pad = Zeroizing::new([0u8; SHA256_BLOCK]);
    let mut keyed = |byte: u8| {
        for (i, p) in pad.iter_mut().enumerate() {
            *p = key.get(i).copied().unwrap_or(0) ^ byte;
        }
        Sha256::new().chain_update(pad.as_slice())
    };
    let mut inner = keyed(0x36).chain_update(message).finalize();
    let outer = keyed(0x5c).chain_update(inner.as_slice()).finalize();
    inner.as_mut_slice().zeroize();
    outer.into()
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => digit.checked_sub(b'0'),
        b'a'..=b'f' => digit.checked_sub(b'a' - 10),
        b'A'..=b'F' => digit.checked_sub(b'A' - 10),
        _ => None,
    }
}

fn record_aad(user: &str, version: u64) -> Vec<u8> {
    let mut aad = Vec::with_capacity(
        RECORD_CONTEXT
            .len()
            .saturating_add(8)
            .saturating_add(user.len()),
    );
    aad.extend_from_slice(RECORD_CONTEXT);
    aad.extend_from_slice(&version.to_be_bytes());
    aad.extend_from_slice(user.as_bytes());
    aad
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn key(byte: u8) -> ServerKey {
        ServerKey::from_bytes([byte; SERVER_KEY_LEN])
    }

    #[test]
    fn a_record_opens_only_for_its_user_version_and_key() {
        let sealed = key(1).seal("alice", 7, b"state").unwrap();
        assert_eq!(
            key(1).open("alice", 7, &sealed).unwrap().as_slice(),
            b"state"
        );
        assert_eq!(
            key(1).open("bob", 7, &sealed),
            Err(GateError::RecordTampered)
        );
        assert_eq!(
            key(1).open("alice", 6, &sealed),
            Err(GateError::RecordTampered)
        );
        assert_eq!(
            key(2).open("alice", 7, &sealed),
            Err(GateError::RecordTampered)
        );
        let mut flipped = sealed.clone();
        flipped[30] ^= 1;
        assert_eq!(
            key(1).open("alice", 7, &flipped),
            Err(GateError::RecordTampered)
        );
        assert_eq!(
            key(1).open("alice", 7, &sealed[..39]),
            Err(GateError::RecordCorrupt)
        );
    }

    /// The derivation is HMAC-SHA-256 under the server key (checked against the `hmac`
    /// crate), and the derived key is not the server key itself.
    #[test]
    fn the_out_of_band_key_is_an_hmac_of_a_label_under_the_server_key() {
        use hmac::{KeyInit, Mac};
        let server = [9u8; SERVER_KEY_LEN];
        let mut reference = hmac::Hmac::<Sha256>::new_from_slice(&server).unwrap();
        reference.update(OOB_KEY_LABEL);
        let expected = reference.finalize().into_bytes();
        assert_eq!(
            hmac_sha256(&server, OOB_KEY_LABEL).as_slice(),
            expected.as_slice()
        );
        assert_ne!(hmac_sha256(&server, OOB_KEY_LABEL), server);
        assert!(key(9).oob_key().is_ok());
    }

    #[test]
    fn the_key_check_tells_keys_apart() {
        let check = key(1).key_check().unwrap();
        assert!(key(1).matches(&check));
        assert!(!key(2).matches(&check));
    }

    #[test]
    fn the_key_file_format_round_trips_and_refuses_anything_else() {
        let k = ServerKey::generate().unwrap();
        let text = k.to_hex();
        assert_eq!(text.len(), 65);
        let back = ServerKey::from_hex(&text).unwrap();
        assert_eq!(back.bytes, k.bytes);
        assert!(ServerKey::from_hex(&text[..63]).is_none());
        assert!(ServerKey::from_hex(&std::format!("g{}", &text[1..])).is_none());
        assert!(ServerKey::from_hex("").is_none());
    }
}
