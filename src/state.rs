//! Everything a server keeps per user besides the secret, with a fixed, versioned byte
//! encoding that C and Rust programs share (documented on [`UserState`], where the
//! rendered docs show it).

use sha2::{Digest, Sha256};

#[cfg(doc)]
use crate::AttemptOutcome;
use crate::oob::{OOB_RECORD_LEN, OobCode, OobKey, OobPolicy, OobRecord, OobVerification};
use crate::recovery::{
    RECOVERY_CODE_COUNT, RECOVERY_SALT_LEN, RecoveryCodes, RecoveryVerification,
};
use crate::throttle::{Throttle, ThrottleState};
use crate::{Error, Hotp, Totp, Verification};

/// The length of an encoded [`UserState`] of the current version (2).
pub const USER_STATE_LEN: usize = 472;

/// The current encoding version.
pub const USER_STATE_VERSION: u8 = 2;

/// The length of a version 1 encoding, which [`UserState::decode`] still reads.
const USER_STATE_V1_LEN: usize = 384;

/// The bytes of the out-of-band code record in version 2: the record, then zeros.
const OOB_SLOT_LEN: usize = 64;

const _: () = assert!(OOB_RECORD_LEN <= OOB_SLOT_LEN);

/// Where the checksum starts in version 2: everything before it is covered.
const CHECKSUM_AT: usize = USER_STATE_LEN - 32;

const MAGIC: [u8; 4] = *b"OTPS";
const FLAG_TOTP_STEP: u8 = 1;
const RECOVERY_USED_MASK: u16 = (1 << RECOVERY_CODE_COUNT) - 1;

/// A user's second-factor state: plain data to load before a verification and persist
/// after it, before acting on the outcome.
///
/// The `Default` is a newly enrolled user: no step accepted, HOTP counter 0, no failures,
/// no recovery codes, no out-of-band code pending.
///
/// It holds no secret, but the out-of-band record holds a tag keyed by the server key, so
/// the state is wiped on drop with it and is not `Clone`.
///
/// # Encoding, version 2
///
/// [`UserState::encode`] writes exactly [`USER_STATE_LEN`] (472) bytes; integers are
/// big-endian.
///
/// | Offset | Size | Field |
/// |-------:|-----:|-------|
/// | 0      | 4    | magic: the ASCII bytes `OTPS` |
/// | 4      | 1    | version: 2 |
/// | 5      | 1    | flags: bit 0 set when a TOTP step has been accepted; bits 1-7 are 0 |
/// | 6      | 2    | recovery codes used: bit `i` for code `i`; bits 10-15 are 0 |
/// | 8      | 8    | last accepted TOTP step (0 when flag bit 0 is clear) |
/// | 16     | 8    | next HOTP counter |
/// | 24     | 8    | throttle: locked until (Unix seconds) |
/// | 32     | 4    | throttle: consecutive failures since the last success |
/// | 36     | 4    | reserved, 0 |
/// | 40     | 56   | out-of-band code record ([`OobRecord::to_bytes`]); all 0 when none was issued |
/// | 96     | 8    | reserved, 0 |
/// | 104    | 16   | recovery codes: salt |
/// | 120    | 320  | recovery codes: ten SHA-256 hashes of 32 bytes, slot 0 first |
/// | 440    | 32   | SHA-256 of bytes 0 to 439 |
///
/// [`UserState::decode`] checks, in this order: at least the 5 bytes of magic and version
/// ([`Error::StateWrongLength`]), the magic ([`Error::StateBadMagic`]), the version
/// ([`Error::StateUnsupportedVersion`]), the exact length for that version
/// ([`Error::StateWrongLength`]), the checksum ([`Error::StateCorrupt`]), that no
/// reserved bit or byte is set ([`Error::StateInvalidFlags`]) and the out-of-band record
/// ([`Error::OobRecordInvalid`]).
///
/// The checksum catches corruption (a torn write, a flipped bit, a truncated copy), not
/// tampering: whoever can write the encoding can compute a new checksum, and so reset the
/// throttle, allow a replay or restore used recovery codes. Keep it where only the server
/// writes, or authenticate it under a server key as the `gate` module does.
///
/// # Version 1
///
/// Version 1 (384 bytes, no checksum, no out-of-band record) is still read: its throttle
/// counted failures in a window, so its failures plus its lockouts times the default
/// [`Throttle::lockout_after`] become the consecutive failures (never fewer than it had),
/// and its lockout end is kept. [`UserState::encode`] always writes version 2.
///
/// | Offset | Size | Field (version 1) |
/// |-------:|-----:|-------|
/// | 0      | 8    | magic `OTPS`, version 1, flags, recovery codes used (as version 2) |
/// | 8      | 16   | last accepted TOTP step, next HOTP counter (as version 2) |
/// | 24     | 8    | throttle: start of the counting window (ignored) |
/// | 32     | 8    | throttle: locked until |
/// | 40     | 4    | throttle: failures in the window |
/// | 44     | 4    | throttle: lockouts since the last success |
/// | 48     | 336  | recovery codes: salt and hashes (as version 2 at 104) |
#[derive(Debug, Default, PartialEq, Eq)]
pub struct UserState {
    /// The last accepted TOTP step, `None` before the first.
    pub last_totp_step: Option<u64>,
    /// The next expected HOTP counter.
    pub hotp_counter: u64,
    /// Consecutive failed attempts and the lockout they started.
    pub throttle: ThrottleState,
    /// The hashes of the recovery codes and which are used.
    pub recovery: RecoveryCodes,
    /// The out-of-band (SMS) code last issued, if any.
    pub oob: OobRecord,
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

fn checksum(covered: &[u8]) -> [u8; 32] {
    Sha256::digest(covered).into()
}

impl UserState {
    /// The last accepted TOTP step, as [`Totp::verify`] takes it.
    pub const fn last_accepted(&self) -> Option<u64> {
        self.last_totp_step
    }

    /// An administrator's reset of the throttle: failures, lockout and hard stop are
    /// cleared. Everything else is kept.
    pub fn reset_throttle(&mut self) {
        self.throttle = ThrottleState::default();
    }

    /// Verifies a TOTP `code` at `now` under `throttle`: refused with
    /// [`Error::Throttled`] or [`Error::LockedOut`] while locked out (the code is not
    /// checked), otherwise verified with replay protection; a valid code's step is stored
    /// and the throttle reset, a wrong code counts as a failure, and a replayed one
    /// ([`Verification::Replayed`]: the code of a step at or before the last accepted one)
    /// is refused without counting (see [`AttemptOutcome::is_replay`]). Persist the state
    /// after every call.
    pub fn verify_totp(
        &mut self,
        totp: &Totp,
        throttle: &Throttle,
        code: impl AsRef<[u8]>,
        now: u64,
    ) -> Result<Verification, Error> {
        let last = self.last_totp_step;
        let outcome = throttle.attempt(&mut self.throttle, now, || totp.verify(code, now, last))?;
        if let Verification::Valid(m) = outcome {
            self.last_totp_step = Some(m.step);
        }
        Ok(outcome)
    }

    /// Verifies an HOTP `code` against the stored counter under `throttle`, as
    /// [`verify_totp`](Self::verify_totp) does; a valid code moves the counter past it.
    /// A stored counter of `u64::MAX` is [`Error::CounterExhausted`] (see
    /// [`Hotp::verify`]). HOTP has no replay outcome: a code used before lies behind the
    /// counter, outside the window, and is [`Verification::Invalid`], counted like any
    /// wrong code.
    pub fn verify_hotp(
        &mut self,
        hotp: &Hotp,
        throttle: &Throttle,
        code: impl AsRef<[u8]>,
        now: u64,
    ) -> Result<Verification, Error> {
        let counter = self.hotp_counter;
        let outcome = throttle.attempt(&mut self.throttle, now, || hotp.verify(code, counter))?;
        if let Some(next) = outcome.valid_match().and_then(|m| m.next_counter()) {
            self.hotp_counter = next;
        }
        Ok(outcome)
    }

    /// Verifies a recovery code under `throttle` (the same failure count as codes, but
    /// allowed at the hard stop, which a valid code clears): a valid code's slot is marked
    /// used and the throttle reset; a code not in the set counts as a failure; a used code
    /// of the set ([`RecoveryVerification::Used`], an exact match only) is refused without
    /// counting.
    pub fn verify_recovery(
        &mut self,
        throttle: &Throttle,
        code: impl AsRef<[u8]>,
        now: u64,
    ) -> Result<RecoveryVerification, Error> {
        let recovery = &mut self.recovery;
        throttle.attempt_recovery(&mut self.throttle, now, || recovery.verify(code))
    }

    /// Issues an out-of-band code for `user_id` (see [`OobRecord::issue_with`], whose
    /// errors it returns): the record in this state is replaced; persist the state, then
    /// send the code. Issuing needs no throttle check: it reveals nothing, and the resend
    /// cooldown bounds how often it can happen.
    pub fn issue_oob_with<E>(
        &mut self,
        key: &OobKey,
        user_id: impl AsRef<[u8]>,
        policy: &OobPolicy,
        now: u64,
        fill: impl FnOnce(&mut [u8]) -> Result<(), E>,
    ) -> Result<OobCode, Error> {
        self.oob.issue_with(key, user_id, policy, now, fill)
    }

    /// [`issue_oob_with`](Self::issue_oob_with) with the operating system's randomness.
    #[cfg(feature = "std")]
    pub fn issue_oob(
        &mut self,
        key: &OobKey,
        user_id: impl AsRef<[u8]>,
        policy: &OobPolicy,
        now: u64,
    ) -> Result<OobCode, Error> {
        self.oob.issue(key, user_id, policy, now)
    }

    /// Verifies a typed out-of-band `code` for `user_id` under `throttle`, as
    /// [`verify_totp`](Self::verify_totp) does for TOTP: refused unchecked while locked
    /// out; otherwise [`OobRecord::verify`], where a valid code is used up and resets the
    /// throttle, the code accepted before typed again ([`OobVerification::AlreadyUsed`]) is
    /// refused without counting, and every other outcome (wrong, expired, too many tries,
    /// none pending) counts as a failure. Persist the state after every call.
    pub fn verify_oob(
        &mut self,
        key: &OobKey,
        throttle: &Throttle,
        user_id: impl AsRef<[u8]>,
        code: impl AsRef<[u8]>,
        now: u64,
    ) -> Result<OobVerification, Error> {
        let oob = &mut self.oob;
        throttle.attempt(&mut self.throttle, now, || {
            oob.verify(key, user_id, code, now)
        })
    }

    /// Writes the version 2 encoding (see [`UserState`]) into the first
    /// [`USER_STATE_LEN`] bytes of `out` and returns them; [`Error::BufferTooSmall`] and
    /// nothing written when `out` is shorter.
    pub fn encode<'o>(&self, out: &'o mut [u8]) -> Result<&'o [u8], Error> {
        let out = out.get_mut(..USER_STATE_LEN).ok_or(Error::BufferTooSmall {
            needed: USER_STATE_LEN,
        })?;
        out.fill(0);
        put(out, 0, MAGIC);
        put(out, 4, [USER_STATE_VERSION]);
        put(
            out,
            5,
            [if self.last_totp_step.is_some() {
                FLAG_TOTP_STEP
            } else {
                0
            }],
        );
        put(
            out,
            6,
            (self.recovery.used & RECOVERY_USED_MASK).to_be_bytes(),
        );
        put(out, 8, self.last_totp_step.unwrap_or(0).to_be_bytes());
        put(out, 16, self.hotp_counter.to_be_bytes());
        put(out, 24, self.throttle.locked_until.to_be_bytes());
        put(out, 32, self.throttle.failures.to_be_bytes());
        put(out, 40, self.oob.to_bytes());
        put_recovery(out, 104, &self.recovery);
        let sum = checksum(out.get(..CHECKSUM_AT).unwrap_or_default());
        put(out, CHECKSUM_AT, sum);
        Ok(out)
    }

    /// Reads an encoding written by [`encode`](Self::encode), of version 2 or 1, with the
    /// checks listed under [`UserState`].
    pub fn decode(input: &[u8]) -> Result<UserState, Error> {
        let (Some(magic), Some(&version)) = (input.first_chunk::<4>(), input.get(4)) else {
            return Err(Error::StateWrongLength {
                expected: USER_STATE_LEN,
            });
        };
        if *magic != MAGIC {
            return Err(Error::StateBadMagic);
        }
        let expected = match version {
            1 => USER_STATE_V1_LEN,
            USER_STATE_VERSION => USER_STATE_LEN,
            _ => return Err(Error::StateUnsupportedVersion { version }),
        };
        if input.len() != expected {
            return Err(Error::StateWrongLength { expected });
        }
        if version == 1 {
            return decode_v1(input);
        }
        let (covered, sum) = input.split_at(CHECKSUM_AT);
        if !bool::from(subtle::ConstantTimeEq::ct_eq(
            checksum(covered).as_slice(),
            sum,
        )) {
            return Err(Error::StateCorrupt);
        }
        let flags = common_flags(input)?;
        let reserved = take::<4>(input, 36);
        let oob_padding = take::<{ OOB_SLOT_LEN - OOB_RECORD_LEN }>(input, 40 + OOB_RECORD_LEN);
        if reserved != [0; 4] || oob_padding.iter().any(|&b| b != 0) {
            return Err(Error::StateInvalidFlags);
        }
        let oob = OobRecord::from_bytes(&take(input, 40))?;
        Ok(UserState {
            last_totp_step: totp_step(input, &flags),
            hotp_counter: u64::from_be_bytes(take(input, 16)),
            throttle: ThrottleState {
                locked_until: u64::from_be_bytes(take(input, 24)),
                failures: u32::from_be_bytes(take(input, 32)),
            },
            recovery: take_recovery(input, 104, flags.used),
            oob,
        })
    }
}

/// The flags and used-code bits every version has at the same place, checked.
struct CommonFlags {
    totp_step: bool,
    used: u16,
}

fn common_flags(input: &[u8]) -> Result<CommonFlags, Error> {
    let [flags] = take::<1>(input, 5);
    let used = u16::from_be_bytes(take(input, 6));
    if flags & !FLAG_TOTP_STEP != 0 || used & !RECOVERY_USED_MASK != 0 {
        return Err(Error::StateInvalidFlags);
    }
    Ok(CommonFlags {
        totp_step: flags & FLAG_TOTP_STEP != 0,
        used,
    })
}

fn totp_step(input: &[u8], flags: &CommonFlags) -> Option<u64> {
    flags.totp_step.then(|| u64::from_be_bytes(take(input, 8)))
}

fn put_recovery(out: &mut [u8], at: usize, recovery: &RecoveryCodes) {
    put(out, at, recovery.salt);
    for (i, hash) in recovery.hashes.iter().enumerate() {
        put(out, hash_offset(at, i), *hash);
    }
}

fn take_recovery(input: &[u8], at: usize, used: u16) -> RecoveryCodes {
    let mut recovery = RecoveryCodes {
        salt: take::<RECOVERY_SALT_LEN>(input, at),
        hashes: [[0; 32]; RECOVERY_CODE_COUNT],
        used,
    };
    for (i, hash) in recovery.hashes.iter_mut().enumerate() {
        *hash = take(input, hash_offset(at, i));
    }
    recovery
}

fn hash_offset(at: usize, slot: usize) -> usize {
    at.saturating_add(RECOVERY_SALT_LEN)
        .saturating_add(slot.saturating_mul(32))
}

/// Version 1: the throttle counted failures within a window; its failures and lockouts
/// become consecutive failures, so that reading an old record never lowers the count.
fn decode_v1(input: &[u8]) -> Result<UserState, Error> {
    let flags = common_flags(input)?;
    let failures = u32::from_be_bytes(take(input, 40));
    let lockouts = u32::from_be_bytes(take(input, 44));
    Ok(UserState {
        last_totp_step: totp_step(input, &flags),
        hotp_counter: u64::from_be_bytes(take(input, 16)),
        throttle: ThrottleState {
            locked_until: u64::from_be_bytes(take(input, 32)),
            failures: failures
                .saturating_add(lockouts.saturating_mul(Throttle::default().lockout_after)),
        },
        recovery: take_recovery(input, 48, flags.used),
        oob: OobRecord::default(),
    })
}
