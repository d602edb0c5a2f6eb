//! Rate limiting of failed attempts for C: the policy and the per-user state as plain
//! structs, and the check/record steps of `Throttle::attempt`.

use super::{Out, guard, otp_status};
use crate::{Throttle, ThrottleState};

/// The throttling policy: at most `max_failures` failures within `window_secs` seconds,
/// then a lockout of `lockout_secs`, doubled after every further lockout up to
/// `max_lockout_secs`, until a success. `otp_throttle_default` fills in five failures in
/// ten minutes, one minute doubling up to an hour.
///
/// Plain data: fill it in by hand or from `otp_throttle_default`. Every function that
/// takes one checks it first (`OTP_INVALID_THROTTLE`).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct otp_throttle {
    /// The failures within `window_secs` that start a lockout (at least 1).
    pub max_failures: u32,
    /// How long failures count together, in seconds, from the first failure of the
    /// window (at least 1).
    pub window_secs: u64,
    /// The first lockout in seconds (at least 1).
    pub lockout_secs: u64,
    /// The longest lockout in seconds (at least `lockout_secs`; equal for a fixed one).
    pub max_lockout_secs: u64,
}

/// A user's throttle state: plain data that the caller loads before an attempt and
/// persists after it (it is part of `otp_user_state` and its encoding). All zero is a
/// user with no failures. Every bit pattern is valid.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct otp_throttle_state {
    /// Unix time of the first failure of the current counting window.
    pub window_start: u64,
    /// Unix time until which attempts are refused (`OTP_THROTTLED`): the time to retry
    /// at. In the past (or 0) when not locked out.
    pub locked_until: u64,
    /// Failures in the current counting window.
    pub failures: u32,
    /// Lockouts since the last success, which set the length of the next one.
    pub lockouts: u32,
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
        max_failures: throttle.max_failures,
        window_secs: throttle.window_secs,
        lockout_secs: throttle.lockout_secs,
        max_lockout_secs: throttle.max_lockout_secs,
    };
    throttle.validate()?;
    Ok(throttle)
}

pub(super) fn throttle_state_from(state: &otp_throttle_state) -> ThrottleState {
    ThrottleState {
        window_start: state.window_start,
        locked_until: state.locked_until,
        failures: state.failures,
        lockouts: state.lockouts,
    }
}

pub(super) fn throttle_state_to(state: &ThrottleState) -> otp_throttle_state {
    otp_throttle_state {
        window_start: state.window_start,
        locked_until: state.locked_until,
        failures: state.failures,
        lockouts: state.lockouts,
    }
}

/// Writes the default policy (5 failures within 600 s lock out for 60 s, doubling up to
/// 3600 s) to `out_throttle`.
///
/// # Safety
/// `out_throttle` points to a writable `otp_throttle`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn otp_throttle_default(out_throttle: *mut otp_throttle) -> otp_status {
    guard(|| {
        let t = Throttle::default();
        Out::new(out_throttle)?.set(otp_throttle {
            max_failures: t.max_failures,
            window_secs: t.window_secs,
            lockout_secs: t.lockout_secs,
            max_lockout_secs: t.max_lockout_secs,
        });
        Ok(())
    })
}

/// Checks the policy: `OTP_OK`, or `OTP_INVALID_THROTTLE` when a setting is 0 or
/// `max_lockout_secs` is below `lockout_secs`.
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

/// Whether `state` allows an attempt at Unix time `now`: `OTP_OK`, or `OTP_THROTTLED`
/// while locked out; retry at `state->locked_until`.
///
/// For a flow of your own, the safe order is: `otp_throttle_check`; only on `OTP_OK`
/// verify the code; then `otp_throttle_record_success` for a valid code or
/// `otp_throttle_record_failure` for a wrong or replayed one (a malformed code is not
/// counted); persist the state; only then act on the outcome. The
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
    guard(|| {
        require!(throttle, state);
        // SAFETY: the caller guarantees both structs.
        let (throttle, state) = unsafe { (read_in(throttle)?, read_in(state)?) };
        throttle_from(&throttle)?.check(&throttle_state_from(&state), now)?;
        Ok(())
    })
}

/// Records a failed attempt at Unix time `now` in `state` (read, then written on
/// `OTP_OK`). When this failure starts a lockout, `state->locked_until` is then after
/// `now`.
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

/// Records a successful attempt in `state`: failures and lockouts are forgotten (the
/// state becomes all zero).
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
