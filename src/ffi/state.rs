//! Per-user state for C: the plain struct, its versioned byte encoding, and the throttled
//! verifications that keep it up to date.

use core::ffi::c_char;

use super::{
    Buf, Out, S, buffer_error, bytes_in, guard,
    hotp::{hotp_ref, otp_hotp},
    oob::{key_ref as oob_key_ref, oob_status, otp_oob_key, otp_oob_record},
    otp_status,
    recovery::{otp_recovery_codes, recovery_from, recovery_status, recovery_to},
    text_in,
    throttle::{
        otp_throttle, otp_throttle_state, read_in, throttle_from, throttle_state_from,
        throttle_state_to,
    },
    totp::{otp_totp, totp_ref},
    verification_status,
};
use crate::{OobRecord, USER_STATE_LEN, USER_STATE_VERSION, UserState};

/// The length in bytes of an encoded `otp_user_state` (version 2).
pub const OTP_USER_STATE_LEN: usize = 472;
/// The encoding version `otp_user_state_encode` writes (version 1 is still read).
pub const OTP_USER_STATE_VERSION: u8 = 2;

const _: () = assert!(OTP_USER_STATE_LEN == USER_STATE_LEN);
const _: () = assert!(OTP_USER_STATE_VERSION == USER_STATE_VERSION);

/// Everything a server keeps per user besides the secret: plain data to load (with
/// `otp_user_state_decode`) before a verification and persist (with
/// `otp_user_state_encode`) after it, before acting on the outcome.
///
/// Store the encoding, not the struct's bytes: the encoding is versioned, fixed-endian
/// and checked when read; the struct's layout is this platform's. `has_totp_step` must be
/// 0 or 1 and `recovery.used` within `OTP_RECOVERY_USED_MASK`; functions given anything
/// else return `OTP_STATE_INVALID_FLAGS`. `otp_user_state_default` gives a newly enrolled
/// user.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct otp_user_state {
    /// The last accepted TOTP step; meaningful only when `has_totp_step` is 1.
    pub totp_step: u64,
    /// The next expected HOTP counter.
    pub hotp_counter: u64,
    /// Consecutive failed attempts and the lockout they started;
    /// `throttle.locked_until` is the time to retry at after `OTP_THROTTLED`.
    pub throttle: otp_throttle_state,
    /// The hashes of the recovery codes and which are used.
    pub recovery: otp_recovery_codes,
    /// 1 once a TOTP code has been accepted, 0 before.
    pub has_totp_step: u8,
    /// The out-of-band (SMS) code last issued: all zero when none was.
    pub oob: otp_oob_record,
}

fn state_from(state: &otp_user_state) -> Result<UserState, otp_status> {
    if state.has_totp_step > 1 {
        return Err(S::OTP_STATE_INVALID_FLAGS);
    }
    Ok(UserState {
        last_totp_step: (state.has_totp_step == 1).then_some(state.totp_step),
        hotp_counter: state.hotp_counter,
        throttle: throttle_state_from(&state.throttle),
        recovery: recovery_from(&state.recovery)?,
        oob: OobRecord::from_bytes(&state.oob.bytes)?,
    })
}

fn state_to(state: &UserState) -> otp_user_state {
    otp_user_state {
        totp_step: state.last_totp_step.unwrap_or(0),
        hotp_counter: state.hotp_counter,
        throttle: throttle_state_to(&state.throttle),
        recovery: recovery_to(&state.recovery),
        has_totp_step: u8::from(state.last_totp_step.is_some()),
        oob: otp_oob_record {
            bytes: state.oob.to_bytes(),
        },
    }
}

/// Reads the C struct at `state` and checks it.
///
/// # Safety
/// `state`, when not NULL, points to a readable `otp_user_state`.
unsafe fn state_in(state: *const otp_user_state) -> Result<UserState, otp_status> {
    // SAFETY: forwarded from the caller.
    state_from(&unsafe { read_in(state) }?)
}

/// Writes a newly enrolled user's state to `out_state`: no TOTP step accepted, HOTP
/// counter 0, no failures, and an empty recovery set (every code used: generate one with
/// `otp_recovery_codes_generate`).
///
/// # Safety
/// `out_state` points to a writable `otp_user_state`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn otp_user_state_default(out_state: *mut otp_user_state) -> otp_status {
    guard(|| {
        Out::new(out_state)?.set(state_to(&UserState::default()));
        Ok(())
    })
}

/// Writes the version 2 encoding of `state` (`OTP_USER_STATE_LEN` bytes, documented in
/// the README and in the Rust docs of `UserState`) into `out` (`cap` bytes) and its
/// length to `out_len`. The encoding holds no secret, but whoever can change it can reset
/// the throttle or allow a replay: keep it where only the server writes.
///
/// On `OTP_BUFFER_TOO_SMALL`, `*out_len` is the size needed. Other errors:
/// `OTP_STATE_INVALID_FLAGS`.
///
/// # Safety
/// `state` points to an `otp_user_state`; `out` to `cap` writable bytes; `out_len` to a
/// writable `size_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn otp_user_state_encode(
    state: *const otp_user_state,
    out: *mut u8,
    cap: usize,
    out_len: *mut usize,
) -> otp_status {
    guard(|| {
        require!(state, out, out_len);
        // SAFETY: the caller guarantees an `otp_user_state`.
        let state = unsafe { state_in(state) }?;
        let mut buf = Buf::new(out, cap)?;
        let out_len = Out::new(out_len)?;
        // SAFETY: the caller guarantees `cap` writable bytes.
        let out = unsafe { buf.slice() };
        match state.encode(out) {
            Ok(encoded) => {
                out_len.set(encoded.len());
                Ok(())
            }
            Err(e) => Err(buffer_error(e, out_len)),
        }
    })
}

/// Reads an encoding written by `otp_user_state_encode` (or the Rust `UserState::encode`)
/// from the `len` bytes at `bytes` into `out_state`.
///
/// Errors, checked in this order: `OTP_STATE_WRONG_LENGTH` (shorter than the 5 bytes of
/// magic and version), `OTP_STATE_BAD_MAGIC` (not a user state), `OTP_STATE_UNSUPPORTED_VERSION`
/// (written by a later version), `OTP_STATE_WRONG_LENGTH` (not the length of its version),
/// `OTP_STATE_CORRUPT` (the checksum of version 2 does not match), `OTP_STATE_INVALID_FLAGS`
/// (a reserved bit or byte set). Version 1 encodings are read as the Rust docs of
/// `UserState` describe.
///
/// # Safety
/// `bytes` points to `len` readable bytes; `out_state` to a writable `otp_user_state`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn otp_user_state_decode(
    bytes: *const u8,
    len: usize,
    out_state: *mut otp_user_state,
) -> otp_status {
    guard(|| {
        require!(bytes, out_state);
        // SAFETY: the caller guarantees `len` readable bytes.
        let bytes = unsafe { bytes_in(bytes, len) }?;
        let out = Out::new(out_state)?;
        out.set(state_to(&UserState::decode(bytes)?));
        Ok(())
    })
}

/// Verifies a TOTP code (`code_len` bytes at `code`) at Unix time `now` for the user
/// whose state is `state`, under `throttle`, with replay protection from the state's last
/// accepted step.
///
/// While the user is locked out the code is not checked: `OTP_THROTTLED`, retry at
/// `state->throttle.locked_until`, or `OTP_LOCKED_OUT` at the throttle's hard stop. Otherwise the outcome is as for `otp_totp_verify`:
/// `OTP_OK` only for a valid code, with the step and drift written to `out_step` and
/// `out_drift`; `OTP_CODE_REPLAYED` or `OTP_CODE_INVALID` for a refused one.
///
/// `state` is read, and written back for these three outcomes: a valid code stores its
/// step and clears the failures, a wrong one counts as a failure and may start a lockout,
/// a replayed one (the code of a step at or before the last accepted one) is refused
/// without counting: it tells a guesser nothing. Persist the state after every call (encode it),
/// before acting on the outcome. For any other status (`OTP_THROTTLED`, `OTP_LOCKED_OUT`,
/// a malformed code,
/// `OTP_TIME_BEFORE_T0`, `OTP_INVALID_THROTTLE`, `OTP_STATE_INVALID_FLAGS`,
/// `OTP_NOT_INITIALIZED`, ...) nothing is written.
///
/// # Safety
/// `key` points to an `otp_totp`; `throttle` to an `otp_throttle`; `code` to `code_len`
/// readable bytes; `state` to a readable and writable `otp_user_state`; `out_step` and
/// `out_drift` to writable integers.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn otp_user_state_verify_totp(
    key: *const otp_totp,
    throttle: *const otp_throttle,
    code: *const c_char,
    code_len: usize,
    now: u64,
    state: *mut otp_user_state,
    out_step: *mut u64,
    out_drift: *mut i64,
) -> otp_status {
    guard(|| {
        require!(key, throttle, code, state, out_step, out_drift);
        // SAFETY: the caller guarantees an `otp_totp`.
        let totp = unsafe { totp_ref(key) }?;
        // SAFETY: the caller guarantees the structs and `code_len` readable bytes.
        let (throttle, code, mut user) = unsafe {
            (
                read_in(throttle)?,
                text_in(code, code_len)?,
                state_in(state)?,
            )
        };
        let throttle = throttle_from(&throttle)?;
        let outcome = user.verify_totp(totp, &throttle, code, now)?;
        Out::new(state)?.set(state_to(&user));
        verification_status(outcome, Out::new(out_step)?, Out::new(out_drift)?)
    })
}

/// Verifies an HOTP code (`code_len` bytes at `code`) against the state's next counter
/// `state->hotp_counter` and the key's look-ahead, under `throttle`, at Unix time `now`.
///
/// As `otp_user_state_verify_totp`: `OTP_THROTTLED` or `OTP_LOCKED_OUT` without checking
/// while locked out; otherwise `OTP_OK` with the matched counter written to `out_counter`
/// and its distance past the stored one to `out_drift`, or `OTP_CODE_INVALID`. A valid
/// code moves `state->hotp_counter` past it; a stored counter of `UINT64_MAX` is
/// `OTP_COUNTER_EXHAUSTED` (see `otp_hotp_verify`). `state` is written back for `OTP_OK`
/// and `OTP_CODE_INVALID` only; persist it after every call, before acting on the outcome.
/// HOTP has no replay outcome: a code used before lies behind the counter and is
/// `OTP_CODE_INVALID`, counted like any wrong code.
///
/// # Safety
/// `key` points to an `otp_hotp`; `throttle` to an `otp_throttle`; `code` to `code_len`
/// readable bytes; `state` to a readable and writable `otp_user_state`; `out_counter` and
/// `out_drift` to writable integers.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn otp_user_state_verify_hotp(
    key: *const otp_hotp,
    throttle: *const otp_throttle,
    code: *const c_char,
    code_len: usize,
    now: u64,
    state: *mut otp_user_state,
    out_counter: *mut u64,
    out_drift: *mut i64,
) -> otp_status {
    guard(|| {
        require!(key, throttle, code, state, out_counter, out_drift);
        // SAFETY: the caller guarantees an `otp_hotp`.
        let hotp = unsafe { hotp_ref(key) }?;
        // SAFETY: the caller guarantees the structs and `code_len` readable bytes.
        let (throttle, code, mut user) = unsafe {
            (
                read_in(throttle)?,
                text_in(code, code_len)?,
                state_in(state)?,
            )
        };
        let throttle = throttle_from(&throttle)?;
        let outcome = user.verify_hotp(hotp, &throttle, code, now)?;
        Out::new(state)?.set(state_to(&user));
        verification_status(outcome, Out::new(out_counter)?, Out::new(out_drift)?)
    })
}

/// Verifies a typed recovery code (`code_len` bytes at `code`) against the state's
/// recovery set under `throttle` (the same failure count as one-time codes), at Unix time
/// `now`. The throttle's hard stop does not refuse it: a valid recovery code is how a user
/// gets out of it.
///
/// `OTP_THROTTLED` without checking while a lockout runs; otherwise `OTP_OK` for an unused
/// code of the set, which is marked used, with its slot (0 to 9) written to `out_slot` and
/// the unused codes left to `out_remaining`; `OTP_CODE_REPLAYED` for a code of the set
/// used before (exactly that code: a replay, not counted); `OTP_CODE_INVALID` for one not
/// in the set (counted as a failure). `state` is written back for these three outcomes;
/// persist it after every call, before acting on the outcome. A malformed code is
/// `OTP_RECOVERY_CODE_MALFORMED`, not counted.
///
/// # Safety
/// `throttle` points to an `otp_throttle`; `code` to `code_len` readable bytes; `state` to
/// a readable and writable `otp_user_state`; `out_slot` and `out_remaining` to writable
/// `size_t`s.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn otp_user_state_verify_recovery(
    throttle: *const otp_throttle,
    code: *const c_char,
    code_len: usize,
    now: u64,
    state: *mut otp_user_state,
    out_slot: *mut usize,
    out_remaining: *mut usize,
) -> otp_status {
    guard(|| {
        require!(throttle, code, state, out_slot, out_remaining);
        // SAFETY: the caller guarantees the structs and `code_len` readable bytes.
        let (throttle, code, mut user) = unsafe {
            (
                read_in(throttle)?,
                text_in(code, code_len)?,
                state_in(state)?,
            )
        };
        let throttle = throttle_from(&throttle)?;
        let outcome = user.verify_recovery(&throttle, code, now)?;
        Out::new(state)?.set(state_to(&user));
        recovery_status(outcome, Out::new(out_slot)?, Out::new(out_remaining)?)
    })
}

/// Verifies a typed out-of-band (SMS) code (`code_len` bytes at `code`) for the user
/// `user_id` (`user_id_len` bytes, the same as at issue) against `state->oob` under
/// `throttle`, at Unix time `now`. Issue codes into `state->oob` with `otp_oob_issue`.
///
/// As `otp_user_state_verify_totp`: `OTP_THROTTLED` or `OTP_LOCKED_OUT` without checking
/// while locked out; otherwise the outcome of `otp_oob_verify` (`OTP_OK` only for the right
/// code, in time and within its tries, which is then used), and `state` is written back
/// for every such outcome: a valid code clears the failures, `OTP_CODE_REPLAYED` (the code
/// accepted before, typed again) is refused without counting, and every other refusal
/// (`OTP_CODE_INVALID`, `OTP_OOB_CODE_EXPIRED`, `OTP_OOB_TOO_MANY_ATTEMPTS`,
/// `OTP_OOB_NO_CODE_PENDING`) counts as a failure. Persist it
/// after every call, before acting on the outcome. For any other status (a malformed code,
/// `OTP_OOB_TIME_BEFORE_ISSUE`, `OTP_OOB_RECORD_INVALID`, `OTP_INVALID_THROTTLE`,
/// `OTP_STATE_INVALID_FLAGS`, `OTP_NOT_INITIALIZED`, ...) nothing is written.
///
/// # Safety
/// `key` points to an `otp_oob_key`; `throttle` to an `otp_throttle`; `user_id` to
/// `user_id_len` readable bytes; `code` to `code_len` readable bytes; `state` to a
/// readable and writable `otp_user_state`.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn otp_user_state_verify_oob(
    key: *const otp_oob_key,
    throttle: *const otp_throttle,
    user_id: *const u8,
    user_id_len: usize,
    code: *const c_char,
    code_len: usize,
    now: u64,
    state: *mut otp_user_state,
) -> otp_status {
    guard(|| {
        require!(key, throttle, user_id, code, state);
        // SAFETY: the caller guarantees an `otp_oob_key`.
        let key = unsafe { oob_key_ref(key) }?;
        // SAFETY: the caller guarantees the structs and the readable bytes.
        let (throttle, user_id, code, mut user) = unsafe {
            (
                read_in(throttle)?,
                bytes_in(user_id, user_id_len)?,
                text_in(code, code_len)?,
                state_in(state)?,
            )
        };
        let throttle = throttle_from(&throttle)?;
        let outcome = user.verify_oob(key, &throttle, user_id, code, now)?;
        Out::new(state)?.set(state_to(&user));
        oob_status(outcome)
    })
}
