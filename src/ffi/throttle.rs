//! Rate limiting of failed attempts for C: the policy and the per-user state as plain
//! structs, and the check/record steps of `Throttle::attempt`.

use super::{Out, guard, otp_status};
use crate::{Throttle, ThrottleState};

/// The throttling policy: the `lockout_after`-th consecutive failure locks out for
/// `lockout_secs`, each further one for twice as long up to `max_lockout_secs`, and the
/// `hard_stop_after`-th is a hard stop (`OTP_LOCKED_OUT`: no one-time code is checked until
/// a recovery code succeeds or an administrator resets the state). Only a success clears
/// the failures. `otp_throttle_default` fills in 5, 20, one minute and one hour; the Rust
/// docs of `Throttle` give the guessing budget this allows.
///
/// Plain data: fill it in by hand or from `otp_throttle_default`. Every function that
/// takes one checks it first (`OTP_INVALID_THROTTLE`).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct otp_throttle {
    /// The consecutive failure that starts the first lockout (at least 1).
    pub lockout_after: u32,
    /// The consecutive failure that is a hard stop (from `lockout_after` to
    /// `OTP_MAX_HARD_STOP`).
    pub hard_stop_after: u32,
    /// The first lockout in seconds (at least 1).
    pub lockout_secs: u64,
    /// The longest lockout in seconds (at least `lockout_secs`; equal for a fixed one).
    pub max_lockout_secs: u64,
}

/// The largest `hard_stop_after`: NIST SP 800-63B allows at most 100 consecutive failed
/// attempts on one account.
pub const OTP_MAX_HARD_STOP: u32 = 100;

const _: () = assert!(OTP_MAX_HARD_STOP == crate::MAX_HARD_STOP);

/// A user's throttle state: plain data that the caller loads before an attempt and
/// persists after it (it is part of `otp_user_state` and its encoding). All zero is a
/// user with no failures, and what an administrator's reset writes. Every bit pattern is
/// valid.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct otp_throttle_state {
    /// Unix time until which attempts are refused (`OTP_THROTTLED`): the time to retry
    /// at. In the past (or 0) when not locked out.
    pub locked_until: u64,
    /// Consecutive failures since the last success.
    pub failures: u32,
}

const _: () = assert!(size_of::<otp_throttle_state>() == size_of::<ThrottleState>());

/// Reads a plain input struct that may not be aligned.
///
/// # Safety
/// `ptr`, when not NULL, points to a readable `T` of plain data.
pub(super) unsafe fn read_in<T: Copy>(ptr: *const T) -> Result<T, otp_status> {
    if ptr.is_null() {
        return Err(otp_status::OTP_NULL_POINTER);
    }
    // SAFETY: non-null, readable per the contract; every `T` used here is plain data for
    // which any initialised bit pattern is valid.
    Ok(unsafe { ptr.read_unaligned() })
}

pub(super) fn throttle_from(throttle: &otp_throttle) -> Result<Throttle, otp_status> {
    let throttle = Throttle {
        lockout_after: throttle.lockout_after,
        hard_stop_after: throttle.hard_stop_after,
        lockout_secs: throttle.lockout_secs,
        max_lockout_secs: throttle.max_lockout_secs,
    };
    throttle.validate()?;
    Ok(throttle)
}

pub(super) fn throttle_state_from(state: &otp_throttle_state) -> ThrottleState {
    ThrottleState {
        locked_until: state.locked_until,
        failures: state.failures,
    }
}

pub(super) fn throttle_state_to(state: &ThrottleState) -> otp_throttle_state {
    otp_throttle_state {
        locked_until: state.locked_until,
        failures: state.failures,
    }
}

/// Writes the default policy (the 5th consecutive failure locks out for 60 s, each further
/// one for twice as long up to 3600 s, the 20th is a hard stop) to `out_throttle`.
///
/// # Safety
/// `out_throttle` points to a writable `otp_throttle`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn otp_throttle_default(out_throttle: *mut otp_throttle) -> otp_status {
    guard(|| {
        let t = Throttle::default();
        Out::new(out_throttle)?.set(otp_throttle {
            lockout_after: t.lockout_after,
            hard_stop_after: t.hard_stop_after,
            lockout_secs: t.lockout_secs,
            max_lockout_secs: t.max_lockout_secs,
        });
        Ok(())
    })
}

/// Checks the policy: `OTP_OK`, or `OTP_INVALID_THROTTLE` when `lockout_after` or
/// `lockout_secs` is 0, `hard_stop_after` is below `lockout_after` or above
/// `OTP_MAX_HARD_STOP`, or `max_lockout_secs` is below `lockout_secs`.
///
/// # Safety
/// `throttle` points to an `otp_throttle`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn otp_throttle_validate(throttle: *const otp_throttle) -> otp_status {
    guard(|| {
        // SAFETY: the caller guarantees an `otp_throttle`.
        throttle_from(&unsafe { read_in(throttle) }?)?;
        Ok(())
    })
}

/// Whether `state` allows a one-time code attempt at Unix time `now`: `OTP_OK`;
/// `OTP_LOCKED_OUT` at the hard stop; or `OTP_THROTTLED` while a lockout runs (retry at
/// `state->locked_until`).
///
/// For a flow of your own, the safe order is: `otp_throttle_check`; only on `OTP_OK`
/// verify the code; then `otp_throttle_record_success` for a valid code or
/// `otp_throttle_record_failure` for a wrong one (neither for a malformed code nor for a
/// replay, `OTP_CODE_REPLAYED`: a code that was valid and is used up, typed again, tells a
/// guesser nothing); persist the state; only then act on the outcome. The
/// `otp_user_state_verify_*` functions do all of this in one call.
///
/// Errors: `OTP_INVALID_THROTTLE`.
///
/// # Safety
/// `throttle` points to an `otp_throttle`; `state` to an `otp_throttle_state`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn otp_throttle_check(
    throttle: *const otp_throttle,
    state: *const otp_throttle_state,
    now: u64,
) -> otp_status {
    // SAFETY: forwarded from the caller.
    unsafe { check_with(throttle, state, now, Throttle::check) }
}

/// As `otp_throttle_check` for a recovery code, which the hard stop does not refuse (a
/// valid one is how a user gets out of it): `OTP_OK`, or `OTP_THROTTLED` while a lockout
/// runs.
///
/// Errors: `OTP_INVALID_THROTTLE`.
///
/// # Safety
/// `throttle` points to an `otp_throttle`; `state` to an `otp_throttle_state`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn otp_throttle_check_recovery(
    throttle: *const otp_throttle,
    state: *const otp_throttle_state,
    now: u64,
) -> otp_status {
    // SAFETY: forwarded from the caller.
    unsafe { check_with(throttle, state, now, Throttle::check_recovery) }
}

/// Reads both structs and runs `check` behind the panic boundary.
///
/// # Safety
/// As for `otp_throttle_check`.
unsafe fn check_with(
    throttle: *const otp_throttle,
    state: *const otp_throttle_state,
    now: u64,
    check: fn(&Throttle, &ThrottleState, u64) -> Result<(), crate::Error>,
) -> otp_status {
    guard(|| {
        require!(throttle, state);
        // SAFETY: the caller guarantees both structs.
        let (throttle, state) = unsafe { (read_in(throttle)?, read_in(state)?) };
        check(
            &throttle_from(&throttle)?,
            &throttle_state_from(&state),
            now,
        )?;
        Ok(())
    })
}

/// Records a failed attempt at Unix time `now` in `state` (read, then written on
/// `OTP_OK`). When this failure starts a lockout, `state->locked_until` is then after
/// `now` (and after the previous lockout's end: a clock set back never shortens one).
///
/// Errors: `OTP_INVALID_THROTTLE`.
///
/// # Safety
/// `throttle` points to an `otp_throttle`; `state` to a readable and writable
/// `otp_throttle_state`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn otp_throttle_record_failure(
    throttle: *const otp_throttle,
    now: u64,
    state: *mut otp_throttle_state,
) -> otp_status {
    guard(|| {
        require!(throttle, state);
        // SAFETY: the caller guarantees both structs.
        let (throttle, current) = unsafe { (read_in(throttle)?, read_in(state.cast_const())?) };
        let throttle = throttle_from(&throttle)?;
        let mut updated = throttle_state_from(&current);
        let _ = throttle.record_failure(&mut updated, now);
        Out::new(state)?.set(throttle_state_to(&updated));
        Ok(())
    })
}

/// Records a successful attempt in `state`: the failures are forgotten (the state becomes
/// all zero).
///
/// Errors: `OTP_INVALID_THROTTLE`.
///
/// # Safety
/// `throttle` points to an `otp_throttle`; `state` to a writable `otp_throttle_state`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn otp_throttle_record_success(
    throttle: *const otp_throttle,
    state: *mut otp_throttle_state,
) -> otp_status {
    guard(|| {
        require!(throttle, state);
        // SAFETY: the caller guarantees an `otp_throttle`.
        let throttle = throttle_from(&unsafe { read_in(throttle) }?)?;
        let mut updated = ThrottleState::default();
        throttle.record_success(&mut updated);
        Out::new(state)?.set(throttle_state_to(&updated));
        Ok(())
    })
}
