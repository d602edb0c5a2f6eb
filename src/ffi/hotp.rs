//! HOTP keys for C.

use core::ffi::c_char;

use super::{
    Out, Slot, algorithm_from, algorithm_to, code_out, digits_from, guard, otp_status,
    secret::{otp_secret, scrubbed, secret_ref},
    slot_put, slot_ref, slot_wipe, text_in, verification_status,
};
use crate::{Hotp, HotpParams};

/// The size in bytes of an `otp_hotp` object.
pub const OTP_HOTP_SIZE: usize = 256;

/// An HOTP key with its HMAC state prepared, in caller-allocated memory: `OTP_HOTP_SIZE`
/// bytes, aligned as `uint64_t`.
///
/// Opaque: set it up with `otp_hotp_init` and erase it with `otp_hotp_wipe`, which leaves
/// every byte zero. `otp_hotp_init` leaves no copy of the key state behind: it wipes its
/// temporaries and zeroes the stack it used. Declare it zero-filled (`= {0}`): a
/// zero-filled or wiped object gives `OTP_NOT_INITIALIZED`, while uninitialised memory is
/// not reliably detected. Do not copy it with memcpy.
#[repr(C)]
pub struct otp_hotp {
    /// Opaque storage; do not touch.
    pub opaque: [u64; 32],
}

/// HOTP settings. `otp_hotp_params_default` fills in the defaults.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct otp_hotp_params {
    /// The HMAC hash function, an `otp_algorithm` (default `OTP_ALGORITHM_SHA1`).
    pub algorithm: u32,
    /// The number of digits per code, 6 to 10 (default 6).
    pub digits: u32,
    /// How many counters past the stored one verification also accepts, at most
    /// `OTP_MAX_WINDOW` (default 3).
    pub look_ahead: u32,
}

const HOTP_MAGIC: u64 = 0x6f74_7048_6f74_7031;

const _: () = assert!(size_of::<otp_hotp>() == OTP_HOTP_SIZE);
const _: () = assert!(size_of::<Slot<Hotp>>() <= size_of::<otp_hotp>());
const _: () = assert!(align_of::<Slot<Hotp>>() <= align_of::<otp_hotp>());

pub(super) fn hotp_params_to(params: HotpParams) -> otp_hotp_params {
    otp_hotp_params {
        algorithm: algorithm_to(params.algorithm),
        digits: u32::from(params.digits.get()),
        look_ahead: params.look_ahead,
    }
}

/// Reads the key in `key`.
///
/// # Safety
/// `key`, when not NULL, points to an `otp_hotp` not written during the call.
pub(super) unsafe fn hotp_ref<'a>(key: *const otp_hotp) -> Result<&'a Hotp, otp_status> {
    // SAFETY: an `otp_hotp` is large and aligned enough for the slot (asserted above).
    unsafe { slot_ref::<otp_hotp, Hotp>(key, HOTP_MAGIC) }
}

/// Writes the default HOTP settings (SHA1, 6 digits, look-ahead 3) to `out_params`.
///
/// # Safety
/// `out_params` points to a writable `otp_hotp_params`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn otp_hotp_params_default(out_params: *mut otp_hotp_params) -> otp_status {
    guard(|| {
        Out::new(out_params)?.set(hotp_params_to(HotpParams::default()));
        Ok(())
    })
}

/// Prepares the HOTP key `key` for `secret` with `params`. An initialised `key` is
/// overwritten (old bytes zeroed first); on error `key` is left as it was.
///
/// Errors: `OTP_INVALID_ENUM`, `OTP_INVALID_DIGITS`, `OTP_WINDOW_TOO_LARGE`,
/// `OTP_NOT_INITIALIZED` (for `secret`).
///
/// # Safety
/// `key` points to a writable `otp_hotp` (its contents may be uninitialised); `secret`
/// to an `otp_secret`; `params` to an `otp_hotp_params`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn otp_hotp_init(
    key: *mut otp_hotp,
    secret: *const otp_secret,
    params: *const otp_hotp_params,
) -> otp_status {
    scrubbed(|| {
        guard(|| {
            require!(key, secret, params);
            let out = Out::new(key)?;
            // SAFETY: the caller guarantees an `otp_secret`.
            let secret = unsafe { secret_ref(secret) }?;
            // SAFETY: the caller guarantees a readable `otp_hotp_params` when not NULL.
            let params = unsafe { params.as_ref() }.ok_or(otp_status::OTP_NULL_POINTER)?;
            let params = HotpParams {
                algorithm: algorithm_from(params.algorithm)?,
                digits: digits_from(params.digits)?,
                look_ahead: params.look_ahead,
            };
            let hotp = Hotp::new(secret, params)?;
            // SAFETY: non-null, writable, large and aligned enough (asserted above).
            unsafe { slot_put(out.0.as_ptr(), HOTP_MAGIC, hotp) };
            Ok(())
        })
    })
}

/// Writes the settings of `key` to `out_params`.
///
/// # Safety
/// `key` points to an `otp_hotp`; `out_params` to a writable `otp_hotp_params`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn otp_hotp_get_params(
    key: *const otp_hotp,
    out_params: *mut otp_hotp_params,
) -> otp_status {
    guard(|| {
        require!(key, out_params);
        // SAFETY: the caller guarantees an `otp_hotp`.
        let hotp = unsafe { hotp_ref(key) }?;
        Out::new(out_params)?.set(hotp_params_to(hotp.params()));
        Ok(())
    })
}

/// Writes the code for `counter` as zero-padded ASCII digits and a NUL into `out` (`cap`
/// bytes; `OTP_CODE_BUFFER_SIZE` always suffices), and the number of digits to `out_len`.
///
/// On `OTP_BUFFER_TOO_SMALL`, `*out_len` is the size needed, NUL included.
///
/// # Safety
/// `key` points to an `otp_hotp`; `out` to `cap` writable bytes; `out_len` to a
/// writable `size_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn otp_hotp_generate(
    key: *const otp_hotp,
    counter: u64,
    out: *mut c_char,
    cap: usize,
    out_len: *mut usize,
) -> otp_status {
    guard(|| {
        require!(key, out, out_len);
        // SAFETY: the caller guarantees an `otp_hotp`.
        let hotp = unsafe { hotp_ref(key) }?;
        // SAFETY: the caller guarantees the buffer and the `size_t`.
        unsafe { code_out(hotp.generate(counter), out, cap, out_len) }
    })
}

/// Verifies the typed code (`code_len` bytes at `code`) against the stored next counter
/// `counter` and the look-ahead.
///
/// Returns `OTP_OK` only when the code is valid; then, and only then, the matched counter
/// is written to `out_counter` and its distance past `counter` to `out_drift`. Store
/// `*out_counter + 1` as the next counter before granting access (codes of that counter
/// and earlier then fall outside every later window: HOTP's replay protection). The
/// window ends at `UINT64_MAX - 1`, so `*out_counter + 1` never wraps; a `counter` of
/// `UINT64_MAX` is `OTP_COUNTER_EXHAUSTED` (the key has no codes left). That is checked
/// first, before the code is read: when both apply, an exhausted counter and a malformed
/// code (too long, say), the status is `OTP_COUNTER_EXHAUSTED`.
///
/// Other outcomes: `OTP_CODE_INVALID` (wrong code), `OTP_CODE_WRONG_LENGTH` (also for more
/// than `OTP_MAX_CODE_INPUT_LEN` bytes), `OTP_CODE_INVALID_CHARACTER`. Every counter of the window is computed and compared in
/// constant time.
///
/// # Safety
/// `key` points to an `otp_hotp`; `code` to `code_len` readable bytes; `out_counter` and
/// `out_drift` to writable integers.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn otp_hotp_verify(
    key: *const otp_hotp,
    code: *const c_char,
    code_len: usize,
    counter: u64,
    out_counter: *mut u64,
    out_drift: *mut i64,
) -> otp_status {
    guard(|| {
        require!(key, code, out_counter, out_drift);
        // SAFETY: the caller guarantees an `otp_hotp`.
        let hotp = unsafe { hotp_ref(key) }?;
        // SAFETY: the caller guarantees `code_len` readable bytes.
        let code = unsafe { text_in(code, code_len) }?;
        let (out_counter, out_drift) = (Out::new(out_counter)?, Out::new(out_drift)?);
        verification_status(hotp.verify(code, counter)?, out_counter, out_drift)
    })
}

/// Resynchronises a counter that drifted beyond the look-ahead (RFC 4226 §7.4): accepts
/// two codes (`first`, then `second`) only if they belong to consecutive counters `c` and
/// `c + 1` with `c` at most `look_ahead` (at most `OTP_MAX_RESYNC_WINDOW`) past `counter`
/// and `c + 1` below `UINT64_MAX`.
///
/// Returns `OTP_OK` only for such a pair; then the counter of the second code is written
/// to `out_counter` (store `*out_counter + 1`) and its distance past `counter` to
/// `out_drift`. Otherwise `OTP_CODE_INVALID`, a malformed-code status,
/// `OTP_WINDOW_TOO_LARGE` or `OTP_COUNTER_EXHAUSTED`. When several apply they come in this
/// order: `OTP_COUNTER_EXHAUSTED` (checked before the codes are read), then the first
/// code's and the second code's malformed-code status, then `OTP_WINDOW_TOO_LARGE`.
///
/// # Safety
/// `key` points to an `otp_hotp`; `first` and `second` to `first_len` and `second_len`
/// readable bytes; `out_counter` and `out_drift` to writable integers.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn otp_hotp_resync(
    key: *const otp_hotp,
    first: *const c_char,
    first_len: usize,
    second: *const c_char,
    second_len: usize,
    counter: u64,
    look_ahead: u32,
    out_counter: *mut u64,
    out_drift: *mut i64,
) -> otp_status {
    guard(|| {
        require!(key, first, second, out_counter, out_drift);
        // SAFETY: the caller guarantees an `otp_hotp`.
        let hotp = unsafe { hotp_ref(key) }?;
        // SAFETY: the caller guarantees the readable bytes of both codes.
        let (first, second) = unsafe { (text_in(first, first_len)?, text_in(second, second_len)?) };
        let (out_counter, out_drift) = (Out::new(out_counter)?, Out::new(out_drift)?);
        let verification = hotp.resync(first, second, counter, look_ahead)?;
        verification_status(verification, out_counter, out_drift)
    })
}

/// Erases the key: the HMAC state is zeroized and then every byte of the object is set
/// to zero. Wiping a wiped or zero-filled object is allowed and does nothing more.
///
/// # Safety
/// `key` points to a writable `otp_hotp` that was set up by `otp_hotp_init`, wiped, or
/// zero-filled.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn otp_hotp_wipe(key: *mut otp_hotp) -> otp_status {
    guard(|| {
        // SAFETY: an `otp_hotp` is large and aligned enough for the slot.
        unsafe { slot_wipe::<otp_hotp, Hotp>(key, HOTP_MAGIC) }
    })
}
