//! Everything a server keeps per user besides the secret, as one plain struct with a
//! fixed, versioned byte encoding that C and Rust programs share.
//!
//! # Encoding, version 1
//!
//! [`UserState::encode`] writes exactly [`USER_STATE_LEN`] (384) bytes; integers are
//! big-endian.
//!
//! | Offset | Size | Field |
//! |-------:|-----:|-------|
//! | 0      | 4    | magic: the ASCII bytes `OTPS` |
//! | 4      | 1    | version: 1 |
//! | 5      | 1    | flags: bit 0 set when a TOTP step has been accepted; bits 1-7 are 0 |
//! | 6      | 2    | recovery codes used: bit `i` for code `i`; bits 10-15 are 0 |
//! | 8      | 8    | last accepted TOTP step (0 when flag bit 0 is clear) |
//! | 16     | 8    | next HOTP counter |
//! | 24     | 8    | throttle: start of the counting window (Unix seconds) |
//! | 32     | 8    | throttle: locked until (Unix seconds) |
//! | 40     | 4    | throttle: failures in the window |
//! | 44     | 4    | throttle: lockouts since the last success |
//! | 48     | 16   | recovery codes: salt |
//! | 64     | 320  | recovery codes: ten SHA-256 hashes of 32 bytes, slot 0 first |
//!
//! [`UserState::decode`] checks, in this order: at least the 5 bytes of magic and version
//! ([`Error::StateWrongLength`]), the magic ([`Error::StateBadMagic`]), the version
//! ([`Error::StateUnsupportedVersion`]), the exact length for that version
//! ([`Error::StateWrongLength`]) and that no reserved bit is set
//! ([`Error::StateInvalidFlags`]). A later version will get a new version number, and this
//! version stays readable.
//!
//! The encoding holds no secret, only values that must not go *backwards*: whoever can
//! write it can reset the throttle, allow a replay or restore used recovery codes. Keep it
//! where only the server writes (see the README's "Deploy gate" section).

use crate::recovery::{
    RECOVERY_CODE_COUNT, RECOVERY_SALT_LEN, RecoveryCodes, RecoveryVerification,
};
use crate::throttle::{Throttle, ThrottleState};
use crate::{Error, Hotp, Totp, Verification};

/// The length of an encoded [`UserState`], version 1.
pub const USER_STATE_LEN: usize = 384;

/// The current encoding version.
pub const USER_STATE_VERSION: u8 = 1;

const MAGIC: [u8; 4] = *b"OTPS";
const FLAG_TOTP_STEP: u8 = 1;
const RECOVERY_USED_MASK: u16 = (1 << RECOVERY_CODE_COUNT) - 1;

/// A user's second-factor state: plain data (`#[repr(C)]`) to load before a verification
/// and persist after it, before acting on the outcome.
///
/// The `Default` is a newly enrolled user: no step accepted, HOTP counter 0, no failures,
/// no recovery codes.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct UserState {
    /// The last accepted TOTP step; meaningful only when `has_totp_step` is 1.
    pub totp_step: u64,
    /// The next expected HOTP counter.
    pub hotp_counter: u64,
    /// Failed attempts and lockouts.
    pub throttle: ThrottleState,
    /// The hashes of the recovery codes and which are used.
    pub recovery: RecoveryCodes,
    /// 1 once a TOTP code has been accepted, 0 before.
    pub has_totp_step: u8,
}

fn put<const N: usize>(out: &mut [u8], at: usize, bytes: [u8; N]) {
    if let Some(slot) = out.get_mut(at..).and_then(|s| s.first_chunk_mut::<N>()) {
        *slot = bytes;
    }
}

fn take<const N: usize>(input: &[u8], at: usize) -> [u8; N] {
    input
        .get(at..)
        .and_then(|s| s.first_chunk::<N>())
        .copied()
        .unwrap_or([0; N])
}

impl UserState {
    /// The last accepted TOTP step, as [`Totp::verify`] takes it.
    pub const fn last_accepted(&self) -> Option<u64> {
        if self.has_totp_step == 1 {
            Some(self.totp_step)
        } else {
            None
        }
    }

    /// Verifies a TOTP `code` at `now` under `throttle`: refused with
    /// [`Error::Throttled`] while locked out (the code is not checked), otherwise verified
    /// with replay protection; a valid code's step is stored and the throttle reset, a
    /// replayed or wrong code counts as a failure. Persist the state after every call.
    pub fn verify_totp(
        &mut self,
        totp: &Totp,
        throttle: &Throttle,
        code: impl AsRef<[u8]>,
        now: u64,
    ) -> Result<Verification, Error> {
        let last = self.last_accepted();
        let outcome = throttle.attempt(&mut self.throttle, now, || totp.verify(code, now, last))?;
        if let Verification::Valid(m) = outcome {
            self.totp_step = m.step;
            self.has_totp_step = 1;
        }
        Ok(outcome)
    }

    /// Verifies an HOTP `code` against the stored counter under `throttle`, as
    /// [`verify_totp`](Self::verify_totp) does; a valid code moves the counter past it.
    /// A match at counter `u64::MAX` is [`Verification::Invalid`]: no counter after it
    /// could block its replay, so the key is used up.
    pub fn verify_hotp(
        &mut self,
        hotp: &Hotp,
        throttle: &Throttle,
        code: impl AsRef<[u8]>,
        now: u64,
    ) -> Result<Verification, Error> {
        let counter = self.hotp_counter;
        let outcome = throttle.attempt(&mut self.throttle, now, || {
            let outcome = hotp.verify(code, counter)?;
            match outcome {
                Verification::Valid(m) if m.next_counter().is_none() => Ok(Verification::Invalid),
                _ => Ok(outcome),
            }
        })?;
        if let Some(next) = outcome.valid_match().and_then(|m| m.next_counter()) {
            self.hotp_counter = next;
        }
        Ok(outcome)
    }

    /// Verifies a recovery code under `throttle` (the same failure count as codes): a
    /// valid code's slot is marked used and the throttle reset.
    pub fn verify_recovery(
        &mut self,
        throttle: &Throttle,
        code: impl AsRef<[u8]>,
        now: u64,
    ) -> Result<RecoveryVerification, Error> {
        let recovery = &mut self.recovery;
        throttle.attempt(&mut self.throttle, now, || recovery.verify(code))
    }

    /// Writes the version 1 encoding (see the module docs) into the first
    /// [`USER_STATE_LEN`] bytes of `out` and returns them; [`Error::BufferTooSmall`] and
    /// nothing written when `out` is shorter.
    pub fn encode<'o>(&self, out: &'o mut [u8]) -> Result<&'o [u8], Error> {
        let out = out.get_mut(..USER_STATE_LEN).ok_or(Error::BufferTooSmall {
            needed: USER_STATE_LEN,
        })?;
        let has_step = self.has_totp_step == 1;
        put(out, 0, MAGIC);
        put(out, 4, [USER_STATE_VERSION]);
        put(out, 5, [if has_step { FLAG_TOTP_STEP } else { 0 }]);
        put(
            out,
            6,
            (self.recovery.used & RECOVERY_USED_MASK).to_be_bytes(),
        );
        put(
            out,
            8,
            (if has_step { self.totp_step } else { 0 }).to_be_bytes(),
        );
        put(out, 16, self.hotp_counter.to_be_bytes());
        put(out, 24, self.throttle.window_start.to_be_bytes());
        put(out, 32, self.throttle.locked_until.to_be_bytes());
        put(out, 40, self.throttle.failures.to_be_bytes());
        put(out, 44, self.throttle.lockouts.to_be_bytes());
        put(out, 48, self.recovery.salt);
        for (i, hash) in self.recovery.hashes.iter().enumerate() {
            put(out, 64usize.saturating_add(i.saturating_mul(32)), *hash);
        }
        Ok(out)
    }

    /// Reads an encoding written by [`encode`](Self::encode) (of any version this crate
    /// reads), with the checks the module docs list.
    pub fn decode(input: &[u8]) -> Result<UserState, Error> {
        let (Some(magic), Some(&version)) = (input.first_chunk::<4>(), input.get(4)) else {
            return Err(Error::StateWrongLength {
                expected: USER_STATE_LEN,
            });
        };
        if *magic != MAGIC {
            return Err(Error::StateBadMagic);
        }
        if version != USER_STATE_VERSION {
            return Err(Error::StateUnsupportedVersion { version });
        }
        if input.len() != USER_STATE_LEN {
            return Err(Error::StateWrongLength {
                expected: USER_STATE_LEN,
            });
        }
        let [flags] = take::<1>(input, 5);
        let used = u16::from_be_bytes(take(input, 6));
        if flags & !FLAG_TOTP_STEP != 0 || used & !RECOVERY_USED_MASK != 0 {
            return Err(Error::StateInvalidFlags);
        }
        let mut recovery = RecoveryCodes {
            salt: take::<RECOVERY_SALT_LEN>(input, 48),
            hashes: [[0; 32]; RECOVERY_CODE_COUNT],
            used,
        };
        for (i, hash) in recovery.hashes.iter_mut().enumerate() {
            *hash = take(input, 64usize.saturating_add(i.saturating_mul(32)));
        }
        Ok(UserState {
            totp_step: u64::from_be_bytes(take(input, 8)),
            hotp_counter: u64::from_be_bytes(take(input, 16)),
            throttle: ThrottleState {
                window_start: u64::from_be_bytes(take(input, 24)),
                locked_until: u64::from_be_bytes(take(input, 32)),
                failures: u32::from_be_bytes(take(input, 40)),
                lockouts: u32::from_be_bytes(take(input, 44)),
            },
            recovery,
            has_totp_step: flags & FLAG_TOTP_STEP,
        })
    }
}
