//! Out-of-band codes: a random numeric code sent to the user over another channel (an SMS,
//! a voice call), following NIST SP 800-63B §5.1.3.
//!
//! The server keeps an [`OobKey`] (16 to 64 random bytes, the same for every user) and, per
//! user, an [`OobRecord`] of [`OOB_RECORD_LEN`] bytes. [`OobRecord::issue`] draws a code,
//! stores only a keyed hash of it in the record and returns the code to send;
//! [`OobRecord::verify`] checks what the user typed against the record.
//!
//! ```
//! # #[cfg(feature = "std")]
//! # fn main() -> Result<(), otpcore::Error> {
//! use otpcore::{OobKey, OobPolicy, OobRecord, OobVerification};
//! let key = OobKey::new(&[0x42; 32])?; // load it from the server's secret store
//! let policy = OobPolicy::default(); // 6 digits, 5 minutes, 3 attempts, 60 s between sends
//! let mut record = OobRecord::default(); // load it from the user's state
//! let now = 1_700_000_000;
//! let code = record.issue(&key, "alice", &policy, now)?;
//! // Persist `record`, then send `code.as_str()` to the user's phone. Later:
//! let outcome = record.verify(&key, "alice", code.as_str(), now + 42)?;
//! assert_eq!(outcome, OobVerification::Valid);
//! // Persist `record` before acting on the outcome: the code is now used.
//! assert_eq!(record.verify(&key, "alice", code.as_str(), now + 43)?, OobVerification::AlreadyUsed);
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "std"))]
//! # fn main() {}
//! ```
//!
//! Without `std`, [`OobRecord::issue_with`] takes the platform's random number generator as
//! a closure that fills a byte slice.
//!
//! # Guarantees
//!
//! - **Uniform codes.** A code is 6 to 8 decimal digits, uniformly random over all
//!   10^digits values (at least 19.9 bits for six digits): 32-bit draws from the entropy
//!   source are rejected above the largest multiple of 10^digits, so there is no modulo
//!   bias. Without `std` the caller passes the entropy source, which must be
//!   cryptographically secure; with `std`, [`OobRecord::issue`] uses the operating system's.
//! - **No code at rest.** The record holds the HMAC-SHA-256, under the server key, of the
//!   code together with the user id, the number of digits, the issue time and the expiry.
//!   A stolen record cannot be checked offline without the server key (a bare hash of six
//!   digits falls to a million guesses), a record copied to another user does not verify
//!   for them, and a record whose times were moved no longer matches any code. Once a code
//!   has been accepted its tag stays, only to recognise that code typed again (a replay,
//!   [`OobVerification::AlreadyUsed`]); the code is dead by then, so even someone who also
//!   holds the server key learns nothing usable from it.
//! - **Single use, expiry, bounded attempts.** A code is accepted at most once; from its
//!   expiry on (issue time plus [`OobPolicy::ttl_secs`], at most 10 minutes) it is
//!   [`OobVerification::Expired`]; after [`OobPolicy::max_attempts`] wrong tries it is
//!   [`OobVerification::TooManyAttempts`] even when right. Each try is counted in the
//!   record before its outcome is returned. Issuing a new code replaces the pending one.
//! - **Resend cooldown.** A new code is refused with [`Error::OobIssueTooSoon`] until
//!   [`OobPolicy::resend_cooldown_secs`] after the previous issue.
//! - **Constant time.** The typed code's tag is computed and compared with the stored one
//!   (`subtle`) on every well-formed attempt, whatever the record's state; the time taken
//!   depends on the lengths of the user id and the typed code and on the record's public
//!   fields (state, times, attempts), never on how close the code was.
//! - **No secret in logs, no allocation.** [`OobKey`], [`OobCode`] and [`OobRecord`] are
//!   wiped on drop, none is `Clone`, and their `Debug` output shows neither the key, the
//!   code nor the tag. Nothing here touches the heap.
//!
//! # Not guaranteed
//!
//! - **The channel.** NIST calls the phone network a *restricted* channel: SIM swaps, number
//!   porting and SS7 interception hand codes to an attacker. Offer an authenticator app
//!   (TOTP) first and tell users of the risk. E-mail is not an out-of-band channel at all.
//! - **Rate limiting across codes.** The attempt bound is per code; an attacker who can
//!   have codes issued gets `max_attempts` guesses per code. Put the per-user
//!   [`Throttle`](crate::Throttle) on top of [`OobRecord::verify`] (its outcome implements
//!   [`AttemptOutcome`]).
//! - **The record's integrity.** Whoever can write the record can reset its attempt count
//!   or mark a used code pending again (though not extend its expiry). Keep it where only
//!   the server writes, and persist it atomically after every issue and verification,
//!   before acting on the outcome.
//! - **The key.** The server key must be random and secret (generate 32 bytes with
//!   [`Secret::generate_len`](crate::Secret::generate_len) or from the OS, and keep it with
//!   the other server secrets); anyone holding it can brute-force a stolen record.
//!
//! # Encoding
//!
//! [`OobRecord::to_bytes`] writes [`OOB_RECORD_LEN`] (56) bytes, integers big-endian:
//!
//! | Offset | Size | Field |
//! |-------:|-----:|-------|
//! | 0      | 1    | state: 0 no code, 1 pending, 2 used |
//! | 1      | 1    | digits: 6 to 8 |
//! | 2      | 1    | attempts used: 0 to max attempts |
//! | 3      | 1    | max attempts: 1 to [`OOB_MAX_ATTEMPTS`] |
//! | 4      | 4    | reserved: 0 |
//! | 8      | 8    | issued at (Unix seconds) |
//! | 16     | 8    | expires at (Unix seconds): issued at plus 0 to [`OOB_MAX_TTL_SECS`] |
//! | 24     | 32   | HMAC-SHA-256 tag of the code (kept once used; all zero once withdrawn) |
//!
//! The tag is HMAC-SHA-256 under the server key of the 16 bytes `otpcore-oob-v1` followed by
//! two zero bytes, then the digits (1 byte), the issue time and the expiry (8 bytes each),
//! the code's value (4 bytes) and the user id's bytes.
//!
//! A record with no code (state 0, the `Default`) is 56 zero bytes. [`OobRecord::from_bytes`]
//! refuses anything else with [`Error::OobRecordInvalid`]: another state, digits or
//! attempts outside their ranges, a reserved byte that is not 0, an expiry before the issue
//! time or more than [`OOB_MAX_TTL_SECS`] after it, or a state-0 record that is not all
//! zero.

use core::fmt;

use sha2::block_api::compress256;
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq, ConstantTimeLess};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::code::parse_code;
use crate::throttle::AttemptOutcome;
use crate::{Digits, Error};

/// The shortest server key, in bytes (128 bits).
pub const OOB_KEY_MIN_LEN: usize = 16;
/// The longest server key, in bytes: one SHA-256 block, so that a key is never hashed first.
pub const OOB_KEY_MAX_LEN: usize = 64;
/// The length of an encoded [`OobRecord`].
pub const OOB_RECORD_LEN: usize = 56;
/// The longest validity of a code, in seconds: 10 minutes, as NIST SP 800-63B allows.
pub const OOB_MAX_TTL_SECS: u64 = 600;
/// The most tries a policy may allow per code.
pub const OOB_MAX_ATTEMPTS: u8 = 10;
/// The longest resend cooldown a policy may set, in seconds (one hour).
pub const OOB_MAX_COOLDOWN_SECS: u64 = 3600;

/// Domain separation: the tag of an out-of-band code never equals a MAC the caller computes
/// with the same key for anything else.
const DOMAIN: &[u8; 16] = b"otpcore-oob-v1\0\0";

const STATE_EMPTY: u8 = 0;
const STATE_PENDING: u8 = 1;
const STATE_USED: u8 = 2;

/// The SHA-256 initial chaining value.
const IV: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];
const BLOCK: usize = 64;

/// SHA-256 over a message fed in pieces, starting from a chaining value that has already
/// absorbed one block (a key pad). Wiped on drop: it holds the code being hashed.
struct Stream {
    state: [u32; 8],
    block: [u8; BLOCK],
    used: usize,
    /// Bytes hashed so far, the absorbed pad block included.
    len: u64,
}

impl Stream {
    fn after_pad(state: [u32; 8]) -> Self {
        Stream {
            state,
            block: [0; BLOCK],
            used: 0,
            len: BLOCK as u64,
        }
    }

    fn push(&mut self, byte: u8) {
        if let Some(slot) = self.block.get_mut(self.used) {
            *slot = byte;
        }
        self.used = self.used.wrapping_add(1);
        if self.used == BLOCK {
            compress256(&mut self.state, core::slice::from_ref(&self.block));
            self.used = 0;
        }
    }

    fn update(&mut self, data: &[u8]) {
        for &b in data {
            self.push(b);
        }
        self.len = self.len.wrapping_add(data.len() as u64);
    }

    fn finish(&mut self) -> [u8; 32] {
        let bits = self.len.wrapping_mul(8);
        self.push(0x80);
        while self.used != BLOCK - 8 {
            self.push(0);
        }
        for b in bits.to_be_bytes() {
            self.push(b);
        }
        let mut digest = [0u8; 32];
        for (chunk, word) in digest.chunks_exact_mut(4).zip(&self.state) {
            chunk.copy_from_slice(&word.to_be_bytes());
        }
        digest
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        self.state.zeroize();
        self.block.zeroize();
    }
}

/// The server key that out-of-band code tags are computed under: 16 to 64 bytes, kept as
/// HMAC-SHA-256 pads (the key bytes themselves are not retained).
///
/// Wiped on drop, not `Clone`, printed as `OobKey(..)`. Use a random key of 32 bytes, the
/// same for every user, kept secret on the server; changing it invalidates pending codes.
pub struct OobKey {
    inner: [u32; 8],
    outer: [u32; 8],
}

impl OobKey {
    /// Keys HMAC-SHA-256 with `key`: [`Error::OobKeyTooShort`] below
    /// [`OOB_KEY_MIN_LEN`] bytes, [`Error::OobKeyTooLong`] above [`OOB_KEY_MAX_LEN`].
    pub fn new(key: &[u8]) -> Result<Self, Error> {
        if key.len() < OOB_KEY_MIN_LEN {
            return Err(Error::OobKeyTooShort);
        }
        if key.len() > OOB_KEY_MAX_LEN {
            return Err(Error::OobKeyTooLong);
        }
        let mut block = [0u8; BLOCK];
        let mut absorb = |pad: u8| {
            for (i, b) in block.iter_mut().enumerate() {
                *b = key.get(i).copied().unwrap_or(0) ^ pad;
            }
            let mut state = IV;
            compress256(&mut state, core::slice::from_ref(&block));
            state
        };
        let key = OobKey {
            inner: absorb(0x36),
            outer: absorb(0x5c),
        };
        block.zeroize();
        Ok(key)
    }

    /// HMAC-SHA-256 of the concatenation of `parts`.
    fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut inner = Stream::after_pad(self.inner);
        for part in parts {
            inner.update(part);
        }
        let mut digest = inner.finish();
        let mut outer = Stream::after_pad(self.outer);
        outer.update(&digest);
        digest.zeroize();
        outer.finish()
    }
}

impl Zeroize for OobKey {
    fn zeroize(&mut self) {
        self.inner.zeroize();
        self.outer.zeroize();
    }
}

impl Drop for OobKey {
    fn drop(&mut self) {
        self.zeroize();
    }
}

impl ZeroizeOnDrop for OobKey {}

impl fmt::Debug for OobKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OobKey(..)")
    }
}

/// How codes are issued. Plain data; [`validate`](Self::validate) checks it, and
/// [`OobRecord::issue`] does too.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OobPolicy {
    /// Digits per code, 6 to 8. Six digits carry 19.9 bits; with three attempts per code
    /// a guess succeeds with probability 3 in a million.
    pub digits: u8,
    /// How long a code is valid, in seconds, 1 to [`OOB_MAX_TTL_SECS`].
    pub ttl_secs: u64,
    /// Tries per code, 1 to [`OOB_MAX_ATTEMPTS`]: after that many wrong ones, even the right
    /// code is refused.
    pub max_attempts: u8,
    /// The least time between two issues to the same user, in seconds, 1 to
    /// [`OOB_MAX_COOLDOWN_SECS`].
    pub resend_cooldown_secs: u64,
}

impl Default for OobPolicy {
    /// Six digits, valid 5 minutes, 3 tries, 60 seconds between sends.
    ///
    /// Five minutes leaves time for a slow SMS and for typing while staying well inside
    /// NIST's ten. A resend replaces the pending code, so a cooldown shorter than SMS
    /// delivery (often tens of seconds) makes the message that finally arrives useless; 60
    /// seconds also caps a user's phone at 60 messages an hour against SMS flooding and
    /// toll fraud.
    fn default() -> Self {
        OobPolicy {
            digits: 6,
            ttl_secs: 300,
            max_attempts: 3,
            resend_cooldown_secs: 60,
        }
    }
}

impl OobPolicy {
    /// Checks every field's range (see each field); [`Error::InvalidOobPolicy`] otherwise.
    pub const fn validate(&self) -> Result<(), Error> {
        if self.digits < 6
            || self.digits > 8
            || self.ttl_secs == 0
            || self.ttl_secs > OOB_MAX_TTL_SECS
            || self.max_attempts == 0
            || self.max_attempts > OOB_MAX_ATTEMPTS
            || self.resend_cooldown_secs == 0
            || self.resend_cooldown_secs > OOB_MAX_COOLDOWN_SECS
        {
            Err(Error::InvalidOobPolicy)
        } else {
            Ok(())
        }
    }
}

/// A freshly issued code: the digits to send to the user, once. Wiped on drop, not
/// `Clone`, printed by `Debug` as `OobCode(..)`.
pub struct OobCode {
    text: [u8; 8],
    len: u8,
}

impl OobCode {
    /// The zero-padded digits, such as `"042917"`.
    pub fn as_str(&self) -> &str {
        let text = self.text.get(..usize::from(self.len)).unwrap_or_default();
        // The text is ASCII digits only.
        core::str::from_utf8(text).unwrap_or_default()
    }
}

impl Zeroize for OobCode {
    fn zeroize(&mut self) {
        self.text.zeroize();
        self.len.zeroize();
    }
}

impl Drop for OobCode {
    fn drop(&mut self) {
        self.zeroize();
    }
}

impl ZeroizeOnDrop for OobCode {}

impl fmt::Debug for OobCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OobCode(..)")
    }
}

/// Where a record stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OobState {
    /// No code was issued.
    Empty,
    /// A code was issued and not yet accepted (it may have expired or run out of tries).
    Pending,
    /// The code was accepted.
    Used,
}

/// The outcome of checking a well-formed typed code. Malformed input is an error
/// ([`Error::CodeWrongLength`], [`Error::CodeInvalidCharacter`]) and not counted.
#[must_use = "a verification that is not checked lets every code in"]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OobVerification {
    /// The code is right, in time and within the tries: it is now used.
    Valid,
    /// The code is wrong; the try was counted.
    Wrong,
    /// The code's validity has ended (whether or not this one was right).
    Expired,
    /// This very code was accepted before (a replay): a new one must be issued. A
    /// [`Throttle`](crate::Throttle) does not count it as a failure.
    AlreadyUsed,
    /// The tries for this code are used up: refused even if right.
    TooManyAttempts,
    /// No code is pending: none was issued, or the one issued was accepted and this is a
    /// different code.
    NoCodePending,
}

impl OobVerification {
    /// `true` only for [`OobVerification::Valid`].
    pub const fn is_valid(&self) -> bool {
        matches!(self, OobVerification::Valid)
    }
}

impl AttemptOutcome for OobVerification {
    /// Only [`OobVerification::Valid`].
    fn is_success(&self) -> bool {
        self.is_valid()
    }

    /// [`OobVerification::AlreadyUsed`]: exactly the code accepted before. Every other
    /// refusal is a failure.
    fn is_replay(&self) -> bool {
        matches!(self, OobVerification::AlreadyUsed)
    }
}

/// A user's out-of-band code state: fixed-size data with a fixed encoding
/// ([`to_bytes`](Self::to_bytes), [`from_bytes`](Self::from_bytes); see the module docs),
/// holding the code's tag, never the code.
///
/// The `Default` holds no code. Wiped on drop (the tag is derived from the server key), not
/// `Clone`; `Debug` shows every field but the tag.
pub struct OobRecord {
    state: u8,
    digits: u8,
    attempts_used: u8,
    max_attempts: u8,
    issued_at: u64,
    expires_at: u64,
    tag: [u8; 32],
}

impl Default for OobRecord {
    fn default() -> Self {
        OobRecord {
            state: STATE_EMPTY,
            digits: 0,
            attempts_used: 0,
            max_attempts: 0,
            issued_at: 0,
            expires_at: 0,
            tag: [0; 32],
        }
    }
}

/// Draws a code below `M` (10^6, 10^7 or 10^8) from 16 32-bit candidates, keeping the
/// first below the largest multiple of `M` under 2^32 so that every value is equally
/// likely. The choice is made without branching on the random values, and `M` is a
/// constant so the remainder compiles to multiplications, not a division whose time could
/// depend on the value. `None` when all 16 are rejected, which a working source does with
/// probability below 10^-26.
#[allow(clippy::arithmetic_side_effects)] // `M` is a nonzero constant; nothing overflows.
fn draw<const M: u32>(random: &[u8; BLOCK]) -> Option<u32> {
    // 2^32 - (2^32 mod M), as M does not divide 2^32: the candidates at or above it would
    // make small values likelier.
    let limit = u32::MAX - u32::MAX % M;
    let mut found = Choice::from(0);
    let mut value = 0u32;
    for chunk in random.chunks_exact(4) {
        let mut word = [0u8; 4];
        word.copy_from_slice(chunk);
        let candidate = u32::from_be_bytes(word);
        let accept = candidate.ct_lt(&limit);
        let reduced = candidate % M;
        value.conditional_assign(&reduced, accept & !found);
        found |= accept;
        word.zeroize();
    }
    let result = bool::from(found).then_some(value);
    value.zeroize();
    result
}

/// A uniform code of `digits` (6 to 8) digits from `random`, as [`draw`] picks it.
fn draw_digits(random: &[u8; BLOCK], digits: u8) -> Option<u32> {
    match digits {
        6 => draw::<1_000_000>(random),
        7 => draw::<10_000_000>(random),
        _ => draw::<100_000_000>(random),
    }
}

fn take<const N: usize>(input: &[u8; OOB_RECORD_LEN], at: usize) -> [u8; N] {
    input
        .get(at..)
        .and_then(|s| s.first_chunk::<N>())
        .copied()
        .unwrap_or([0; N])
}

fn put<const N: usize>(out: &mut [u8; OOB_RECORD_LEN], at: usize, bytes: &[u8; N]) {
    if let Some(slot) = out.get_mut(at..).and_then(|s| s.first_chunk_mut::<N>()) {
        *slot = *bytes;
    }
}

impl OobRecord {
    /// Where the record stands.
    pub const fn state(&self) -> OobState {
        match self.state {
            STATE_PENDING => OobState::Pending,
            STATE_USED => OobState::Used,
            _ => OobState::Empty,
        }
    }

    /// The Unix time the code was issued (0 when none was).
    pub const fn issued_at(&self) -> u64 {
        self.issued_at
    }

    /// The Unix time from which the code is [`OobVerification::Expired`] (0 when none was
    /// issued).
    pub const fn expires_at(&self) -> u64 {
        self.expires_at
    }

    /// The digits of the code (0 when none was issued).
    pub const fn digits(&self) -> u8 {
        self.digits
    }

    /// How many tries have been counted against the code.
    pub const fn attempts_used(&self) -> u8 {
        self.attempts_used
    }

    /// How many tries the code allows (its policy's `max_attempts` when it was issued).
    pub const fn max_attempts(&self) -> u8 {
        self.max_attempts
    }

    /// The earliest Unix time at which `policy` lets a new code be issued: the previous
    /// issue time plus the cooldown, or 0 when no code was issued.
    pub const fn next_issue_at(&self, policy: &OobPolicy) -> u64 {
        if self.state == STATE_EMPTY {
            0
        } else {
            self.issued_at.saturating_add(policy.resend_cooldown_secs)
        }
    }

    /// The tag of `code` for this record's digits, issue time and expiry.
    fn tag_of(&self, key: &OobKey, user_id: &[u8], code: u32) -> [u8; 32] {
        let mut code = code.to_be_bytes();
        let tag = key.mac(&[
            DOMAIN,
            &[self.digits],
            &self.issued_at.to_be_bytes(),
            &self.expires_at.to_be_bytes(),
            &code,
            user_id,
        ]);
        code.zeroize();
        tag
    }

    /// Issues a new code for `user_id` at Unix time `now` under `policy`, with randomness
    /// from the caller's `fill`, which must fill the whole slice (64 bytes) with
    /// cryptographically secure random bytes. This is the `no_std` way.
    ///
    /// The code replaces any previous one, and the record holds only its tag: persist the
    /// record, then send the code. Errors, in this order: [`Error::InvalidOobPolicy`];
    /// [`Error::OobTimeBeforeIssue`] when `now` is before the previous issue;
    /// [`Error::OobIssueTooSoon`] within the resend cooldown of the previous issue;
    /// [`Error::RandomnessUnavailable`] when `fill` fails (or returns bytes that no
    /// working source would). The record is unchanged on every error.
    pub fn issue_with<E>(
        &mut self,
        key: &OobKey,
        user_id: impl AsRef<[u8]>,
        policy: &OobPolicy,
        now: u64,
        fill: impl FnOnce(&mut [u8]) -> Result<(), E>,
    ) -> Result<OobCode, Error> {
        policy.validate()?;
        if self.state != STATE_EMPTY {
            if now < self.issued_at {
                return Err(Error::OobTimeBeforeIssue);
            }
            let retry_at = self.next_issue_at(policy);
            if now < retry_at {
                return Err(Error::OobIssueTooSoon { retry_at });
            }
        }
        let mut random = [0u8; BLOCK];
        let drawn = match fill(&mut random) {
            Ok(()) => draw_digits(&random, policy.digits),
            Err(_) => None,
        };
        random.zeroize();
        let Some(mut value) = drawn else {
            return Err(Error::RandomnessUnavailable);
        };
        let mut record = OobRecord {
            state: STATE_PENDING,
            digits: policy.digits,
            attempts_used: 0,
            max_attempts: policy.max_attempts,
            issued_at: now,
            expires_at: now.saturating_add(policy.ttl_secs),
            tag: [0; 32],
        };
        record.tag = record.tag_of(key, user_id.as_ref(), value);
        let mut code = OobCode {
            text: [b'0'; 8],
            len: policy.digits,
        };
        let mut rest = value;
        for slot in code.text.iter_mut().take(usize::from(policy.digits)).rev() {
            *slot = b'0'.wrapping_add((rest % 10) as u8);
            rest /= 10;
        }
        value.zeroize();
        *self = record;
        Ok(code)
    }

    /// [`issue_with`](Self::issue_with) using the operating system's random number
    /// generator.
    #[cfg(feature = "std")]
    pub fn issue(
        &mut self,
        key: &OobKey,
        user_id: impl AsRef<[u8]>,
        policy: &OobPolicy,
        now: u64,
    ) -> Result<OobCode, Error> {
        self.issue_with(key, user_id, policy, now, getrandom::fill)
    }

    /// Checks the code `typed` by the user (ASCII digits, optionally grouped by single
    /// spaces as in `"123 456"`) for `user_id` at Unix time `now`.
    ///
    /// The outcome, in this order of precedence: [`OobVerification::NoCodePending`] when
    /// no code was issued; once the code was accepted, [`OobVerification::AlreadyUsed`]
    /// for that code typed again and `NoCodePending` for any other;
    /// [`OobVerification::TooManyAttempts`], [`OobVerification::Expired`] (from
    /// [`expires_at`](Self::expires_at) on), then [`OobVerification::Valid`] or
    /// [`OobVerification::Wrong`]. Only the last two count a try, which is recorded before
    /// the comparison's result is read; `Valid` marks the code used (its tag stays, to
    /// recognise a replay). Persist the record after every call, before acting on the
    /// outcome.
    ///
    /// Errors (nothing counted, the record unchanged): [`Error::OobTimeBeforeIssue`] when
    /// `now` is before the issue time; [`Error::CodeWrongLength`] or
    /// [`Error::CodeInvalidCharacter`] for a typed code that is not the record's number of
    /// digits.
    pub fn verify(
        &mut self,
        key: &OobKey,
        user_id: impl AsRef<[u8]>,
        typed: impl AsRef<[u8]>,
        now: u64,
    ) -> Result<OobVerification, Error> {
        if self.state == STATE_EMPTY {
            return Ok(OobVerification::NoCodePending);
        }
        if now < self.issued_at {
            return Err(Error::OobTimeBeforeIssue);
        }
        let digits = Digits::new(self.digits)?;
        let parsed = parse_code(typed.as_ref(), digits)?;
        let mut value = u32::try_from(parsed).map_err(|_| Error::CodeWrongLength)?;
        let mut tag = self.tag_of(key, user_id.as_ref(), value);
        value.zeroize();
        let right = tag.ct_eq(&self.tag);
        tag.zeroize();
        if self.state == STATE_USED {
            return Ok(if bool::from(right) {
                OobVerification::AlreadyUsed
            } else {
                OobVerification::NoCodePending
            });
        }
        if self.attempts_used >= self.max_attempts {
            return Ok(OobVerification::TooManyAttempts);
        }
        if now >= self.expires_at {
            return Ok(OobVerification::Expired);
        }
        self.attempts_used = self.attempts_used.saturating_add(1);
        if bool::from(right) {
            self.state = STATE_USED;
            Ok(OobVerification::Valid)
        } else {
            Ok(OobVerification::Wrong)
        }
    }

    /// Withdraws a pending code, for example when its delivery failed or the phone number
    /// changed: the tag is erased and the expiry moved back to the issue time, so the code
    /// verifies as [`OobVerification::Expired`] from then on, while the issue time, and so
    /// the resend cooldown, stays. A record with no pending code is left as it is.
    pub fn withdraw(&mut self) {
        if self.state == STATE_PENDING {
            self.expires_at = self.issued_at;
            self.tag.zeroize();
        }
    }

    /// The encoding described in the module docs. It contains the tag: treat it as the
    /// record itself.
    pub fn to_bytes(&self) -> [u8; OOB_RECORD_LEN] {
        let mut out = [0u8; OOB_RECORD_LEN];
        put(
            &mut out,
            0,
            &[
                self.state,
                self.digits,
                self.attempts_used,
                self.max_attempts,
            ],
        );
        put(&mut out, 8, &self.issued_at.to_be_bytes());
        put(&mut out, 16, &self.expires_at.to_be_bytes());
        put(&mut out, 24, &self.tag);
        out
    }

    /// Reads an encoding written by [`to_bytes`](Self::to_bytes), with the checks the module
    /// docs list ([`Error::OobRecordInvalid`]).
    pub fn from_bytes(bytes: &[u8; OOB_RECORD_LEN]) -> Result<OobRecord, Error> {
        let [state, digits, attempts_used, max_attempts] = take::<4>(bytes, 0);
        let reserved = take::<4>(bytes, 4);
        let record = OobRecord {
            state,
            digits,
            attempts_used,
            max_attempts,
            issued_at: u64::from_be_bytes(take(bytes, 8)),
            expires_at: u64::from_be_bytes(take(bytes, 16)),
            tag: take(bytes, 24),
        };
        let valid = match state {
            STATE_EMPTY => bytes.iter().all(|&b| b == 0),
            STATE_PENDING | STATE_USED => {
                reserved == [0; 4]
                    && (6..=8).contains(&digits)
                    && (1..=OOB_MAX_ATTEMPTS).contains(&max_attempts)
                    && attempts_used <= max_attempts
                    && record
                        .expires_at
                        .checked_sub(record.issued_at)
                        .is_some_and(|ttl| ttl <= OOB_MAX_TTL_SECS)
            }
            _ => false,
        };
        if valid {
            Ok(record)
        } else {
            Err(Error::OobRecordInvalid)
        }
    }
}

impl Zeroize for OobRecord {
    fn zeroize(&mut self) {
        self.state.zeroize();
        self.digits.zeroize();
        self.attempts_used.zeroize();
        self.max_attempts.zeroize();
        self.issued_at.zeroize();
        self.expires_at.zeroize();
        self.tag.zeroize();
    }
}

impl Drop for OobRecord {
    fn drop(&mut self) {
        self.zeroize();
    }
}

impl ZeroizeOnDrop for OobRecord {}

impl PartialEq for OobRecord {
    /// Compares the encodings in constant time, the tags included.
    fn eq(&self, other: &Self) -> bool {
        let (mut a, mut b) = (self.to_bytes(), other.to_bytes());
        let equal = a.ct_eq(&b);
        a.zeroize();
        b.zeroize();
        equal.into()
    }
}

impl Eq for OobRecord {}

impl fmt::Debug for OobRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OobRecord")
            .field("state", &self.state())
            .field("digits", &self.digits)
            .field("attempts_used", &self.attempts_used)
            .field("max_attempts", &self.max_attempts)
            .field("issued_at", &self.issued_at)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects
    )]

    use super::*;
    use hmac::{KeyInit, Mac};
    use proptest::prelude::*;

    proptest! {
        /// The pad-precomputing HMAC agrees with the `hmac` crate for every key length and
        /// for messages across block boundaries.
        #[test]
        fn mac_matches_the_hmac_crate(
            key in proptest::collection::vec(any::<u8>(), OOB_KEY_MIN_LEN..=OOB_KEY_MAX_LEN),
            a in proptest::collection::vec(any::<u8>(), 0..80),
            b in proptest::collection::vec(any::<u8>(), 0..140),
        ) {
            let ours = OobKey::new(&key).unwrap().mac(&[&a, &b]);
            let mut reference = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
            reference.update(&a);
            reference.update(&b);
            let expected = reference.finalize().into_bytes();
            prop_assert_eq!(ours.as_slice(), expected.as_slice());
        }

        /// Whatever the candidates, a drawn code is below the modulus, and it is the first
        /// candidate under the rejection limit, reduced.
        #[test]
        fn draw_keeps_the_first_unbiased_candidate(
            random in any::<[u8; 64]>(),
            digits in 6u8..=8,
        ) {
            let m = 10u32.pow(u32::from(digits));
            let limit = (1u64 << 32) - (1u64 << 32) % u64::from(m);
            let expected = random
                .chunks_exact(4)
                .map(|c| u32::from_be_bytes(c.try_into().unwrap()))
                .find(|&c| u64::from(c) < limit)
                .map(|c| c % m);
            prop_assert_eq!(draw_digits(&random, digits), expected);
        }
    }

    #[test]
    fn draw_rejects_candidates_in_the_biased_tail() {
        // 2^32 mod 10^6 = 967_296: candidates from 2^32 - 967_296 on are rejected.
        let limit = u32::MAX - 967_295;
        let mut random = [0xffu8; 64];
        assert_eq!(draw_digits(&random, 6), None);
        random[8..12].copy_from_slice(&limit.to_be_bytes());
        assert_eq!(draw_digits(&random, 6), None);
        random[12..16].copy_from_slice(&(limit - 1).to_be_bytes());
        assert_eq!(draw_digits(&random, 6), Some((limit - 1) % 1_000_000));
    }
}
