//! TOTP keys for C.

use core::ffi::c_char;

use super::{
    Out, Slot, algorithm_from, algorithm_to, code_out, digits_from, guard, otp_status,
    secret::{otp_secret, scrubbed, secret_ref},
    slot_put, slot_ref, slot_wipe, text_in, verification_status,
};
use crate::{Totp, TotpParams};

/// The size in bytes of an `otp_totp` object.
pub const OTP_TOTP_SIZE: usize = 256;

/// A TOTP key with its HMAC state prepared, in caller-allocated memory: `OTP_TOTP_SIZE`
/// bytes, aligned as `uint64_t`.
///
/// Opaque: set it up with `otp_totp_init` and erase it with `otp_totp_wipe`, which leaves
/// every byte zero. `otp_totp_init` leaves no copy of the key state behind: it wipes its
/// temporaries and zeroes the stack it used. Declare it zero-filled (`= {0}`): a
/// zero-filled or wiped object gives `OTP_NOT_INITIALIZED`, while uninitialised memory is
/// not reliably detected. Do not copy it with memcpy. Read-only functions may share one key
/// between threads; init and wipe need exclusive access.
#[repr(C)]
pub struct otp_totp {
    /// Opaque storage; do not touch.
    pub opaque: [u64; 32],
}

/// TOTP settings. `otp_totp_params_default` fills in those of every authenticator app.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct otp_totp_params {
    /// The HMAC hash function, an `otp_algorithm` (default `OTP_ALGORITHM_SHA1`).
    pub algorithm: u32,
    /// The number of digits per code, 6 to 10 (default 6).
    pub digits: u32,
    /// The step length in seconds, at least 1 (default 30).
    pub period: u64,
    /// The Unix time at which step 0 starts (default 0).
    pub t0: u64,
    /// How many steps before the current one verification also accepts, at most
    /// `OTP_MAX_WINDOW` (default 1).
    pub look_back: u32,
    /// How many steps after the current one verification also accepts, at most
    /// `OTP_MAX_WINDOW` (default 1).
    pub look_ahead: u32,
}

const TOTP_MAGIC: u64 = 0x6f74_7054_6f74_7031;

const _: () = assert!(size_of::<otp_totp>() == OTP_TOTP_SIZE);
const _: () = assert!(size_of::<Slot<Totp>>() <= size_of::<otp_totp>());
const _: () = assert!(align_of::<Slot<Totp>>() <= align_of::<otp_totp>());

pub(super) fn totp_params_to(params: TotpParams) -> otp_totp_params {
    otp_totp_params {
        algorithm: algorithm_to(params.algorithm),
        digits: u32::from(params.digits.get()),
        period: params.period,
        t0: params.t0,
        look_back: params.look_back,
        look_ahead: params.look_ahead,
    }
}

fn totp_params_from(params: &otp_totp_params) -> Result<TotpParams, otp_status> {
    Ok(TotpParams {
        algorithm: algorithm_from(params.algorithm)?,
        digits: digits_from(params.digits)?,
        period: params.period,
        t0: params.t0,
        look_back: params.look_back,
        look_ahead: params.look_ahead,
    })
}

/// Reads the key in `key`.
///
/// # Safety
/// `key`, when not NULL, points to an `otp_totp` not written during the call.
pub(super) unsafe fn totp_ref<'a>(key: *const otp_totp) -> Result<&'a Totp, otp_status> {
    // SAFETY: an `otp_totp` is large and aligned enough for the slot (asserted above).
    unsafe { slot_ref::<otp_totp, Totp>(key, TOTP_MAGIC) }
}

/// Writes the default TOTP settings (SHA1, 6 digits, 30 s from the Unix epoch, one step
/// of tolerance each way) to `out_params`.
///
/// # Safety
/// `out_params` points to a writable `otp_totp_params`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn otp_totp_params_default(out_params: *mut otp_totp_params) -> otp_status {
    guard(|| {
        Out::new(out_params)?.set(totp_params_to(TotpParams::default()));
        Ok(())
    })
}

/// Prepares the TOTP key `key` for `secret` with `params`. An initialised `key` is
/// overwritten (old bytes zeroed first); on error `key` is left as it was.
///
/// Errors: `OTP_INVALID_ENUM`, `OTP_INVALID_DIGITS`, `OTP_INVALID_PERIOD`,
/// `OTP_WINDOW_TOO_LARGE`, `OTP_NOT_INITIALIZED` (for `secret`).
///
/// # Safety
/// `key` points to a writable `otp_totp` (its contents may be uninitialised); `secret`
/// to an `otp_secret`; `params` to an `otp_totp_params`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn otp_totp_init(
    key: *mut otp_totp,
    secret: *const otp_secret,
    params: *const otp_totp_params,
) -> otp_status {
    scrubbed(|| {
        guard(|| {
            require!(key, secret, params);
            let out = Out::new(key)?;
            // SAFETY: the caller guarantees an `otp_secret`.
            let secret = unsafe { secret_ref(secret) }?;
            // SAFETY: the caller guarantees a readable `otp_totp_params` when not NULL.
            let params = unsafe { params.as_ref() }.ok_or(otp_status::OTP_NULL_POINTER)?;
            let totp = Totp::new(secret, totp_params_from(params)?)?;
            // SAFETY: non-null, writable, large and aligned enough (asserted above).
            unsafe { slot_put(out.0.as_ptr(), TOTP_MAGIC, totp) };
            Ok(())
        })
    })
}

/// Writes the settings of `key` to `out_params`.
///
/// # Safety
/// `key` points to an `otp_totp`; `out_params` to a writable `otp_totp_params`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn otp_totp_get_params(
    key: *const otp_totp,
    out_params: *mut otp_totp_params,
) -> otp_status {
    guard(|| {
        require!(key, out_params);
        // SAFETY: the caller guarantees an `otp_totp`.
        let totp = unsafe { totp_ref(key) }?;
        Out::new(out_params)?.set(totp_params_to(totp.params()));
        Ok(())
    })
}

/// Writes the time step of Unix time `time`, `(time - t0) / period`, to `out_step`.
///
/// Errors: `OTP_TIME_BEFORE_T0`.
///
/// # Safety
/// `key` points to an `otp_totp`; `out_step` to a writable `uint64_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn otp_totp_step_at(
    key: *const otp_totp,
    time: u64,
    out_step: *mut u64,
) -> otp_status {
    guard(|| {
        require!(key, out_step);
        // SAFETY: the caller guarantees an `otp_totp`.
        let totp = unsafe { totp_ref(key) }?;
        let out = Out::new(out_step)?;
        out.set(totp.step_at(time)?);
        Ok(())
    })
}

/// Writes the seconds from Unix time `time` until the code changes (1 to the period) to
/// `out_seconds`.
///
/// Errors: `OTP_TIME_BEFORE_T0`.
///
/// # Safety
/// `key` points to an `otp_totp`; `out_seconds` to a writable `uint64_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn otp_totp_seconds_left(
    key: *const otp_totp,
    time: u64,
    out_seconds: *mut u64,
) -> otp_status {
    guard(|| {
        require!(key, out_seconds);
        // SAFETY: the caller guarantees an `otp_totp`.
        let totp = unsafe { totp_ref(key) }?;
        let out = Out::new(out_seconds)?;
        out.set(totp.seconds_left(time)?);
        Ok(())
    })
}

/// Writes the code at Unix time `time` as zero-padded ASCII digits and a NUL into `out`
/// (`cap` bytes; `OTP_CODE_BUFFER_SIZE` always suffices), and the number of digits to
/// `out_len`.
///
/// On `OTP_BUFFER_TOO_SMALL`, `*out_len` is the size needed, NUL included. Other errors:
/// `OTP_TIME_BEFORE_T0`.
///
/// # Safety
/// `key` points to an `otp_totp`; `out` to `cap` writable bytes; `out_len` to a
/// writable `size_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn otp_totp_generate(
    key: *const otp_totp,
    time: u64,
    out: *mut c_char,
    cap: usize,
    out_len: *mut usize,
) -> otp_status {
    guard(|| {
        require!(key, out, out_len);
        // SAFETY: the caller guarantees an `otp_totp`.
        let totp = unsafe { totp_ref(key) }?;
        let code = totp.generate(time)?;
        // SAFETY: the caller guarantees the buffer and the `size_t`.
        unsafe { code_out(code, out, cap, out_len) }
    })
}

/// Writes the code of time step `step` as `otp_totp_generate` does.
///
/// # Safety
/// As for `otp_totp_generate`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn otp_totp_generate_at_step(
    key: *const otp_totp,
    step: u64,
    out: *mut c_char,
    cap: usize,
    out_len: *mut usize,
) -> otp_status {
    guard(|| {
        require!(key, out, out_len);
        // SAFETY: the caller guarantees an `otp_totp`.
        let totp = unsafe { totp_ref(key) }?;
        // SAFETY: the caller guarantees the buffer and the `size_t`.
        unsafe { code_out(totp.generate_at_step(step), out, cap, out_len) }
    })
}

/// Verifies the typed code (`code_len` bytes at `code`: the digits, optionally grouped by
/// ASCII spaces such as "123 456") at Unix time `time`.
///
/// Returns `OTP_OK` only when the code is valid; then, and only then, the matched step is
/// written to `out_step` and the drift (matched step minus current step; negative for a
/// code from the past) to `out_drift`. Persist `*out_step` as the user's last accepted
/// step before granting access.
///
/// Replay protection: pass `has_last_accepted = true` and the step persisted after the
/// user's previous success in `last_accepted` (`has_last_accepted = false` only before
/// the first success); a right code for that step or an earlier one gives
/// `OTP_CODE_REPLAYED`.
///
/// Other outcomes: `OTP_CODE_INVALID` (wrong code), `OTP_CODE_WRONG_LENGTH`,
/// `OTP_CODE_INVALID_CHARACTER` (malformed input), `OTP_TIME_BEFORE_T0`. Every step of the
/// window is computed and compared in constant time.
///
/// # Safety
/// `key` points to an `otp_totp`; `code` to `code_len` readable bytes; `out_step` and
/// `out_drift` to writable integers.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn otp_totp_verify(
    key: *const otp_totp,
    code: *const c_char,
    code_len: usize,
    time: u64,
    has_last_accepted: bool,
    last_accepted: u64,
    out_step: *mut u64,
    out_drift: *mut i64,
) -> otp_status {
    guard(|| {
        require!(key, code, out_step, out_drift);
        // SAFETY: the caller guarantees an `otp_totp`.
        let totp = unsafe { totp_ref(key) }?;
        // SAFETY: the caller guarantees `code_len` readable bytes.
        let code = unsafe { text_in(code, code_len) }?;
        let (out_step, out_drift) = (Out::new(out_step)?, Out::new(out_drift)?);
        let last = has_last_accepted.then_some(last_accepted);
        verification_status(totp.verify(code, time, last)?, out_step, out_drift)
    })
}

/// Erases the key: the HMAC state is zeroized and then every byte of the object is set
/// to zero. Wiping a wiped or zero-filled object is allowed and does nothing more.
///
/// # Safety
/// `key` points to a writable `otp_totp` that was set up by `otp_totp_init`, wiped, or
/// zero-filled.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn otp_totp_wipe(key: *mut otp_totp) -> otp_status {
    guard(|| {
        // SAFETY: an `otp_totp` is large and aligned enough for the slot.
        unsafe { slot_wipe::<otp_totp, Totp>(key, TOTP_MAGIC) }
    })
}
