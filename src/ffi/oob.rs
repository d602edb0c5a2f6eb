//! Out-of-band codes (SMS) for C: the server key object, the policy and the per-user
//! record as plain structs, issuing and verifying.

use core::ffi::c_char;

use super::{
    Buf, Out, S, Slot, bytes_in, guard, otp_status, slot_put, slot_ref, slot_wipe, text_in,
    throttle::read_in,
};
use crate::oob::{
    OOB_KEY_MAX_LEN, OOB_KEY_MIN_LEN, OOB_MAX_ATTEMPTS, OOB_MAX_COOLDOWN_SECS, OOB_MAX_TTL_SECS,
};
use crate::{OOB_RECORD_LEN, OobKey, OobPolicy, OobRecord, OobVerification};

/// The size in bytes of an `otp_oob_key` object.
pub const OTP_OOB_KEY_SIZE: usize = 96;
/// The shortest out-of-band server key in bytes (128 bits).
pub const OTP_OOB_KEY_MIN_LEN: usize = 16;
/// The longest out-of-band server key in bytes.
pub const OTP_OOB_KEY_MAX_LEN: usize = 64;
/// The length in bytes of an `otp_oob_record`.
pub const OTP_OOB_RECORD_LEN: usize = 56;
/// The size of a buffer that holds any out-of-band code: 8 digits and the NUL.
pub const OTP_OOB_CODE_BUFFER_SIZE: usize = 9;
/// The longest validity of a code in seconds (10 minutes).
pub const OTP_OOB_MAX_TTL_SECS: u64 = 600;
/// The most tries a policy may allow per code.
pub const OTP_OOB_MAX_ATTEMPTS: u32 = 10;
/// The longest resend cooldown in seconds (one hour).
pub const OTP_OOB_MAX_COOLDOWN_SECS: u64 = 3600;

const _: () = assert!(OTP_OOB_KEY_MIN_LEN == OOB_KEY_MIN_LEN);
const _: () = assert!(OTP_OOB_KEY_MAX_LEN == OOB_KEY_MAX_LEN);
const _: () = assert!(OTP_OOB_RECORD_LEN == OOB_RECORD_LEN);
const _: () = assert!(OTP_OOB_MAX_TTL_SECS == OOB_MAX_TTL_SECS);
const _: () = assert!(OTP_OOB_MAX_ATTEMPTS == OOB_MAX_ATTEMPTS as u32);
const _: () = assert!(OTP_OOB_MAX_COOLDOWN_SECS == OOB_MAX_COOLDOWN_SECS);

/// The server key that out-of-band code tags are computed under, with its HMAC-SHA-256
/// state prepared, in caller-allocated memory: `OTP_OOB_KEY_SIZE` bytes, aligned as
/// `uint64_t`. One key serves every user.
///
/// Opaque: set it up with `otp_oob_key_init` and erase it with `otp_oob_key_wipe`, which
/// leaves every byte zero. Declare it zero-filled (`= {0}`): a zero-filled or wiped object
/// gives `OTP_NOT_INITIALIZED`. Do not copy it with memcpy. Read-only functions may share
/// one key between threads; init and wipe need exclusive access.
#[repr(C)]
pub struct otp_oob_key {
    /// Opaque storage; do not touch.
    pub opaque: [u64; 12],
}

const OOB_KEY_MAGIC: u64 = 0x6f74_704f_6f62_6b31;

const _: () = assert!(size_of::<otp_oob_key>() == OTP_OOB_KEY_SIZE);
const _: () = assert!(size_of::<Slot<OobKey>>() <= size_of::<otp_oob_key>());
const _: () = assert!(align_of::<Slot<OobKey>>() <= align_of::<otp_oob_key>());

/// How codes are issued. `otp_oob_policy_default` fills in 6 digits, valid 300 seconds,
/// 3 tries and 60 seconds between sends. Every function that takes one checks it first
/// (`OTP_INVALID_OOB_POLICY`).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct otp_oob_policy {
    /// Digits per code, 6 to 8 (default 6).
    pub digits: u32,
    /// Tries per code, 1 to `OTP_OOB_MAX_ATTEMPTS` (default 3): after that many wrong
    /// ones even the right code is refused.
    pub max_attempts: u32,
    /// How long a code is valid in seconds, 1 to `OTP_OOB_MAX_TTL_SECS` (default 300).
    pub ttl_secs: u64,
    /// The least time between two codes for one user in seconds, 1 to
    /// `OTP_OOB_MAX_COOLDOWN_SECS` (default 60).
    pub resend_cooldown_secs: u64,
}

/// A user's out-of-band code record: `OTP_OOB_RECORD_LEN` bytes in a fixed,
/// platform-independent encoding (the Rust `otpcore::oob` docs have the table). Store these
/// bytes as they are. Integers are big-endian: byte 0 is the state (0 no code, 1 pending,
/// 2 used), byte 1 the digits, byte 2 the tries used, byte 3 the tries allowed, bytes 4-7
/// are 0, bytes 8-15 the issue time, bytes 16-23 the expiry (Unix seconds; the code is
/// expired from then on) and bytes 24-55 the code's HMAC-SHA-256 tag.
///
/// All zero is a record with no code pending. It holds a keyed hash of the code, never the
/// code: persist it after every issue and verification, where only the server writes.
/// Functions given bytes that are not a valid record return `OTP_OOB_RECORD_INVALID`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct otp_oob_record {
    /// The encoded record.
    pub bytes: [u8; OTP_OOB_RECORD_LEN],
}

fn policy_from(policy: &otp_oob_policy) -> Result<OobPolicy, otp_status> {
    let small = |n: u32| u8::try_from(n).map_err(|_| S::OTP_INVALID_OOB_POLICY);
    let policy = OobPolicy {
        digits: small(policy.digits)?,
        ttl_secs: policy.ttl_secs,
        max_attempts: small(policy.max_attempts)?,
        resend_cooldown_secs: policy.resend_cooldown_secs,
    };
    policy.validate()?;
    Ok(policy)
}

/// Reads and checks the record at `record`.
///
/// # Safety
/// `record`, when not NULL, points to a readable `otp_oob_record`.
unsafe fn record_in(record: *const otp_oob_record) -> Result<OobRecord, otp_status> {
    // SAFETY: forwarded from the caller.
    let raw = unsafe { read_in(record) }?;
    Ok(OobRecord::from_bytes(&raw.bytes)?)
}

fn record_to(record: &OobRecord) -> otp_oob_record {
    otp_oob_record {
        bytes: record.to_bytes(),
    }
}

/// Reads the key in `key`.
///
/// # Safety
/// `key`, when not NULL, points to an `otp_oob_key` not written during the call.
pub(super) unsafe fn key_ref<'a>(key: *const otp_oob_key) -> Result<&'a OobKey, otp_status> {
    // SAFETY: an `otp_oob_key` is large and aligned enough for the slot (asserted above).
    unsafe { slot_ref::<otp_oob_key, OobKey>(key, OOB_KEY_MAGIC) }
}

/// Prepares the out-of-band server key `out_key` from the `len` bytes at `bytes`
/// (`OTP_OOB_KEY_MIN_LEN` to `OTP_OOB_KEY_MAX_LEN`; use 32 random bytes kept secret on the
/// server). An initialised `out_key` is overwritten (old bytes zeroed first); on error it
/// is left as it was. The key bytes are not retained: wipe your copy.
///
/// Errors: `OTP_OOB_KEY_TOO_SHORT`, `OTP_OOB_KEY_TOO_LONG`.
///
/// # Safety
/// `out_key` points to a writable `otp_oob_key` (its contents may be uninitialised);
/// `bytes` to `len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn otp_oob_key_init(
    out_key: *mut otp_oob_key,
    bytes: *const u8,
    len: usize,
) -> otp_status {
    guard(|| {
        require!(out_key, bytes);
        let out = Out::new(out_key)?;
        // SAFETY: the caller guarantees `len` readable bytes.
        let bytes = unsafe { bytes_in(bytes, len) }?;
        let key = OobKey::new(bytes)?;
        // SAFETY: non-null, writable, large and aligned enough (asserted above).
        unsafe { slot_put(out.0.as_ptr(), OOB_KEY_MAGIC, key) };
        Ok(())
    })
}

/// Erases the key: the HMAC state is zeroized and then every byte of the object is set to
/// zero. Wiping a wiped or zero-filled object is allowed and does nothing more.
///
/// # Safety
/// `key` points to a writable `otp_oob_key` that was set up by `otp_oob_key_init`, wiped,
/// or zero-filled.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn otp_oob_key_wipe(key: *mut otp_oob_key) -> otp_status {
    guard(|| {
        // SAFETY: an `otp_oob_key` is large and aligned enough for the slot.
        unsafe { slot_wipe::<otp_oob_key, OobKey>(key, OOB_KEY_MAGIC) }
    })
}

/// Writes the default policy (6 digits, valid 300 seconds, 3 tries, 60 seconds between
/// sends) to `out_policy`.
///
/// # Safety
/// `out_policy` points to a writable `otp_oob_policy`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn otp_oob_policy_default(out_policy: *mut otp_oob_policy) -> otp_status {
    guard(|| {
        let policy = OobPolicy::default();
        Out::new(out_policy)?.set(otp_oob_policy {
            digits: u32::from(policy.digits),
            max_attempts: u32::from(policy.max_attempts),
            ttl_secs: policy.ttl_secs,
            resend_cooldown_secs: policy.resend_cooldown_secs,
        });
        Ok(())
    })
}

/// Issues a new code for the user `user_id` (`user_id_len` bytes, any stable identifier)
/// at Unix time `now` under `policy`, from the operating system's random number generator.
///
/// On `OTP_OK` the code replaces any previous one in `record` (which then holds only its
/// keyed hash), the digits and a NUL go to `out_code` (`cap` bytes;
/// `OTP_OOB_CODE_BUFFER_SIZE` always suffices) and their number to `out_len`. Persist
/// `record`, then send the code, then wipe `out_code`.
///
/// Errors, with nothing written: `OTP_NOT_INITIALIZED` (`key`), `OTP_INVALID_OOB_POLICY`,
/// `OTP_BUFFER_TOO_SMALL` (`*out_len` is the size needed, and no code is issued),
/// `OTP_OOB_RECORD_INVALID`, `OTP_OOB_TIME_BEFORE_ISSUE` (`now` before the previous issue),
/// `OTP_OOB_ISSUE_TOO_SOON` (within the resend cooldown: see `otp_oob_next_issue_at`),
/// `OTP_RANDOMNESS_UNAVAILABLE`.
///
/// # Safety
/// `key` points to an `otp_oob_key`; `user_id` to `user_id_len` readable bytes; `policy`
/// to an `otp_oob_policy`; `record` to a readable and writable `otp_oob_record`;
/// `out_code` to `cap` writable bytes; `out_len` to a writable `size_t`.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn otp_oob_issue(
    key: *const otp_oob_key,
    user_id: *const u8,
    user_id_len: usize,
    policy: *const otp_oob_policy,
    now: u64,
    record: *mut otp_oob_record,
    out_code: *mut c_char,
    cap: usize,
    out_len: *mut usize,
) -> otp_status {
    guard(|| {
        require!(key, user_id, policy, record, out_code, out_len);
        // SAFETY: the caller guarantees an `otp_oob_key`.
        let key = unsafe { key_ref(key) }?;
        // SAFETY: the caller guarantees the struct and `user_id_len` readable bytes.
        let (policy, user_id) = unsafe { (read_in(policy)?, bytes_in(user_id, user_id_len)?) };
        let policy = policy_from(&policy)?;
        let buf = Buf::new(out_code.cast::<u8>(), cap)?;
        let out_len = Out::new(out_len)?;
        let needed = usize::from(policy.digits).saturating_add(1);
        if cap < needed {
            out_len.set(needed);
            return Err(S::OTP_BUFFER_TOO_SMALL);
        }
        // SAFETY: the caller guarantees a readable `otp_oob_record`.
        let mut updated = unsafe { record_in(record) }?;
        let code = updated.issue(key, user_id, &policy, now)?;
        Out::new(record)?.set(record_to(&updated));
        // SAFETY: the caller guarantees `cap` writable bytes; `cap` was checked above.
        unsafe { buf.put_text(code.as_str().as_bytes(), out_len) }
    })
}

/// Checks the code the user typed (`code_len` bytes at `code`: ASCII digits, optionally
/// grouped by spaces) for the user `user_id` at Unix time `now` against `record`.
///
/// Returns `OTP_OK` only for the right code, in time and within the tries; the code is
/// then used. Otherwise, in this order of precedence: `OTP_OOB_NO_CODE_PENDING` (none was
/// issued, or the one issued was accepted and this is another), `OTP_CODE_REPLAYED` (this
/// very code was accepted before), `OTP_OOB_TOO_MANY_ATTEMPTS`
/// (refused even if right), `OTP_OOB_CODE_EXPIRED`, `OTP_CODE_INVALID` (wrong; the try was
/// counted). `record` is written back for `OTP_OK` and `OTP_CODE_INVALID`, the outcomes
/// that count a try; persist it after every call, before acting on the outcome. Put the
/// user's throttle on top to bound tries across codes.
///
/// Errors, with nothing written: `OTP_NOT_INITIALIZED` (`key`), `OTP_OOB_RECORD_INVALID`,
/// `OTP_OOB_TIME_BEFORE_ISSUE`, `OTP_CODE_WRONG_LENGTH` and `OTP_CODE_INVALID_CHARACTER`
/// (a malformed code, not counted).
///
/// # Safety
/// `key` points to an `otp_oob_key`; `user_id` to `user_id_len` readable bytes; `code` to
/// `code_len` readable bytes; `record` to a readable and writable `otp_oob_record`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn otp_oob_verify(
    key: *const otp_oob_key,
    user_id: *const u8,
    user_id_len: usize,
    code: *const c_char,
    code_len: usize,
    now: u64,
    record: *mut otp_oob_record,
) -> otp_status {
    guard(|| {
        require!(key, user_id, code, record);
        // SAFETY: the caller guarantees an `otp_oob_key`.
        let key = unsafe { key_ref(key) }?;
        // SAFETY: the caller guarantees the readable bytes and the record.
        let (user_id, code, mut updated) = unsafe {
            (
                bytes_in(user_id, user_id_len)?,
                text_in(code, code_len)?,
                record_in(record)?,
            )
        };
        let outcome = updated.verify(key, user_id, code, now)?;
        if matches!(outcome, OobVerification::Valid | OobVerification::Wrong) {
            Out::new(record)?.set(record_to(&updated));
        }
        oob_status(outcome)
    })
}

/// The status of a verification outcome: `OTP_OK` only for a valid code.
pub(super) fn oob_status(outcome: OobVerification) -> Result<(), otp_status> {
    match outcome {
        OobVerification::Valid => Ok(()),
        OobVerification::Wrong => Err(S::OTP_CODE_INVALID),
        OobVerification::Expired => Err(S::OTP_OOB_CODE_EXPIRED),
        OobVerification::AlreadyUsed => Err(S::OTP_CODE_REPLAYED),
        OobVerification::TooManyAttempts => Err(S::OTP_OOB_TOO_MANY_ATTEMPTS),
        OobVerification::NoCodePending => Err(S::OTP_OOB_NO_CODE_PENDING),
    }
}

/// Writes to `out_time` the earliest Unix time at which `policy` lets a new code be issued
/// for `record`: the previous issue time plus the resend cooldown, or 0 when no code was
/// issued.
///
/// Errors: `OTP_INVALID_OOB_POLICY`, `OTP_OOB_RECORD_INVALID`.
///
/// # Safety
/// `record` points to an `otp_oob_record`; `policy` to an `otp_oob_policy`; `out_time` to
/// a writable `uint64_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn otp_oob_next_issue_at(
    record: *const otp_oob_record,
    policy: *const otp_oob_policy,
    out_time: *mut u64,
) -> otp_status {
    guard(|| {
        require!(record, policy, out_time);
        // SAFETY: the caller guarantees the structs.
        let (record, policy) = unsafe { (record_in(record)?, read_in(policy)?) };
        let policy = policy_from(&policy)?;
        Out::new(out_time)?.set(record.next_issue_at(&policy));
        Ok(())
    })
}
