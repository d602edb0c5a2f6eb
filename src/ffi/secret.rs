//! Secrets and base32 for C, and how every C init function keeps secrets out of dead stack.

use core::ffi::c_char;
use core::ptr;

use subtle::ConstantTimeEq;
use zeroize::Zeroize;

use super::{
    Buf, Out, S, Slot, buffer_error, bytes_in, guard, otp_status, policy_from, slot_ref, slot_wipe,
    text_in, zero_object,
};
use crate::key::scrub_stack;
use crate::{Error, MAX_SECRET_LEN, Secret, SecretPolicy, base32};

/// The size in bytes of an `otp_secret` object.
pub const OTP_SECRET_SIZE: usize = 288;

/// A shared secret of 1 to `OTP_MAX_SECRET_LEN` bytes in caller-allocated memory (on the
/// stack, in a struct, or from malloc): `OTP_SECRET_SIZE` bytes, aligned as `uint64_t`.
///
/// Opaque: set it up with `otp_secret_from_bytes`, `otp_secret_from_base32`,
/// `otp_secret_generate` or `otp_uri_parse`, and erase it with `otp_secret_wipe`, which
/// leaves every byte zero. Declare it zero-filled (`= {0}`): a zero-filled or wiped
/// object gives `OTP_NOT_INITIALIZED`, while uninitialised memory is not reliably
/// detected. Do not copy it with memcpy (the copy is not wiped with the original); set it
/// up again instead. The functions that set it up write the secret straight into it and
/// then zero the stack they used, so no copy of the secret is left behind (SECURITY.md,
/// "Zeroization and secret hygiene", says what remains).
#[repr(C)]
pub struct otp_secret {
    /// Opaque storage; do not touch.
    pub opaque: [u64; 36],
}

const SECRET_MAGIC: u64 = 0x6f74_7053_6563_7231;

const _: () = assert!(size_of::<otp_secret>() == OTP_SECRET_SIZE);
const _: () = assert!(size_of::<Slot<Secret>>() <= size_of::<otp_secret>());
const _: () = assert!(align_of::<Slot<Secret>>() <= align_of::<otp_secret>());

/// Runs an init function's body `f` in a frame of its own, then wipes the stack where that
/// frame and its callees were ([`scrub_stack`]): the copies a move leaves, the block
/// function's working state, the decoded bytes. Used by every C function that sets up a
/// secret or a key or checks a recovery code.
pub(super) fn scrubbed(f: impl FnOnce() -> otp_status) -> otp_status {
    let status = below(f);
    scrub_stack();
    status
}

/// Calls `f`; never inlined, so that `f`'s locals live below the caller's frame, in the
/// part of the stack [`scrub_stack`] wipes.
#[inline(never)]
fn below(f: impl FnOnce() -> otp_status) -> otp_status {
    f()
}

/// Reads the secret in `secret`.
///
/// # Safety
/// `secret`, when not NULL, points to an `otp_secret` not written during the call.
pub(super) unsafe fn secret_ref<'a>(secret: *const otp_secret) -> Result<&'a Secret, otp_status> {
    // SAFETY: an `otp_secret` is large and aligned enough for the slot (asserted above).
    unsafe { slot_ref::<otp_secret, Secret>(secret, SECRET_MAGIC) }
}

/// Sets up the secret in the object `out` in place, with no copy of the secret elsewhere:
/// the object is zeroed (which erases an old secret as dropping it would), `fill` writes
/// the `len` bytes (checked by the caller) straight into it, and the tag goes last. On an
/// error from `fill` the object is left zero, so it reads as not initialised.
///
/// # Safety
/// `out` points to a writable `otp_secret` that nothing else accesses during the call.
unsafe fn secret_init(
    out: Out<otp_secret>,
    len: usize,
    fill: impl FnOnce(&mut [u8]) -> Result<(), Error>,
) -> Result<(), otp_status> {
    let obj = out.0.as_ptr();
    let slot = obj.cast::<Slot<Secret>>();
    // SAFETY: non-null, writable, large and aligned enough (asserted above).
    unsafe { zero_object(obj) };
    // SAFETY: the zeroed object holds a valid empty `Secret` (its fields are integers, for
    // which all-zero bytes are a value) under a tag that is not the magic, and the caller
    // guarantees exclusive access.
    let secret = unsafe { &mut *ptr::addr_of_mut!((*slot).value) };
    secret.fill_in_place(len, fill)?;
    // SAFETY: as above; the tag is written only now that the secret is complete.
    unsafe { ptr::addr_of_mut!((*slot).magic).write(SECRET_MAGIC) };
    Ok(())
}

/// Stores `value` in `out`, which must be checked for NULL, and wipes `value`.
///
/// # Safety
/// `out` points to a writable `otp_secret`.
pub(super) unsafe fn secret_put(out: Out<otp_secret>, value: Secret) {
    let bytes = value.as_bytes();
    // SAFETY: forwarded from the caller. `value` passed the length checks when it was
    // made, so `fill_in_place` cannot refuse its length; were it to, the object would
    // read as not initialised rather than hold part of a secret.
    let _ = unsafe {
        secret_init(out, bytes.len(), |dest| {
            dest.copy_from_slice(bytes);
            Ok(())
        })
    };
    drop(value);
    scrub_stack();
}

/// Imports `len` raw secret bytes into `out_secret` under `policy` (an `otp_policy`).
///
/// Errors: `OTP_SECRET_EMPTY`, `OTP_SECRET_TOO_LONG`, `OTP_SECRET_TOO_SHORT`,
/// `OTP_INVALID_ENUM`.
///
/// # Safety
/// `out_secret` points to a writable `otp_secret`; `bytes` to `len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn otp_secret_from_bytes(
    out_secret: *mut otp_secret,
    bytes: *const u8,
    len: usize,
    policy: u32,
) -> otp_status {
    scrubbed(|| {
        guard(|| {
            require!(out_secret, bytes);
            let out = Out::new(out_secret)?;
            // SAFETY: the caller guarantees `len` readable bytes.
            let bytes = unsafe { bytes_in(bytes, len) }?;
            Secret::check_len(bytes.len(), policy_from(policy)?)?;
            // SAFETY: the caller guarantees a writable object.
            unsafe {
                secret_init(out, bytes.len(), |dest| {
                    dest.copy_from_slice(bytes);
                    Ok(())
                })
            }
        })
    })
}

/// Imports a base32 secret (`len` bytes of text at `text`, no NUL needed) into
/// `out_secret` under `policy` (an `otp_policy`).
///
/// Reading is lenient as authenticator apps are: any letter case, spaces and `-` ignored,
/// `=` padding optional. Errors: `OTP_BASE32_INVALID_CHARACTER`,
/// `OTP_BASE32_INVALID_LENGTH`, `OTP_BASE32_INVALID_PADDING`, the length errors of
/// `otp_secret_from_bytes`, `OTP_INVALID_ENUM`.
///
/// # Safety
/// `out_secret` points to a writable `otp_secret`; `text` to `len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn otp_secret_from_base32(
    out_secret: *mut otp_secret,
    text: *const c_char,
    len: usize,
    policy: u32,
) -> otp_status {
    scrubbed(|| {
        guard(|| {
            require!(out_secret, text);
            let out = Out::new(out_secret)?;
            // SAFETY: the caller guarantees `len` readable bytes.
            let text = unsafe { base32_text(text, len) }?;
            let symbols = || text.bytes().map(Ok);
            let secret_len = Secret::base32_len_of(symbols(), policy_from(policy)?)?;
            // SAFETY: the caller guarantees a writable object.
            unsafe {
                secret_init(out, secret_len, |dest| {
                    base32::decode_from(symbols(), dest).map(|_| ())
                })
            }
        })
    })
}

/// Generates a secret of `len` bytes (16 to `OTP_MAX_SECRET_LEN`; use
/// `OTP_SECRET_DEFAULT_LEN`) from the operating system's random number generator.
///
/// Errors: `OTP_SECRET_TOO_SHORT` (below 128 bits), `OTP_SECRET_EMPTY`,
/// `OTP_SECRET_TOO_LONG`, `OTP_RANDOMNESS_UNAVAILABLE`.
///
/// # Safety
/// `out_secret` points to a writable `otp_secret`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn otp_secret_generate(
    out_secret: *mut otp_secret,
    len: usize,
) -> otp_status {
    scrubbed(|| {
        guard(|| {
            let out = Out::new(out_secret)?;
            Secret::check_len(len, SecretPolicy::Strict)?;
            // Drawn here first, so that a failure leaves the object as it was; wiped below.
            let mut random = [0u8; MAX_SECRET_LEN];
            let drawn = random.get_mut(..len).ok_or(S::OTP_SECRET_TOO_LONG)?;
            let result = match getrandom::fill(drawn) {
                // SAFETY: the caller guarantees a writable object.
                Ok(()) => unsafe {
                    secret_init(out, len, |dest| {
                        dest.copy_from_slice(drawn);
                        Ok(())
                    })
                },
                Err(_) => Err(S::OTP_RANDOMNESS_UNAVAILABLE),
            };
            random.zeroize();
            result
        })
    })
}

/// Writes the length of the secret in bytes to `out_len`.
///
/// # Safety
/// `secret` points to an `otp_secret`; `out_len` to a writable `size_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn otp_secret_len(
    secret: *const otp_secret,
    out_len: *mut usize,
) -> otp_status {
    guard(|| {
        require!(secret, out_len);
        // SAFETY: the caller guarantees an `otp_secret`.
        let secret = unsafe { secret_ref(secret) }?;
        Out::new(out_len)?.set(secret.len());
        Ok(())
    })
}

/// Copies the raw secret bytes into `out` (`cap` bytes) and their number to `out_len`.
///
/// On `OTP_BUFFER_TOO_SMALL`, `*out_len` is the size needed. The copy is yours to wipe.
///
/// # Safety
/// `secret` points to an `otp_secret`; `out` to `cap` writable bytes; `out_len` to a
/// writable `size_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn otp_secret_bytes(
    secret: *const otp_secret,
    out: *mut u8,
    cap: usize,
    out_len: *mut usize,
) -> otp_status {
    guard(|| {
        require!(secret, out, out_len);
        // SAFETY: the caller guarantees an `otp_secret`.
        let secret = unsafe { secret_ref(secret) }?;
        let mut buf = Buf::new(out, cap)?;
        let out_len = Out::new(out_len)?;
        let bytes = secret.as_bytes();
        if cap < bytes.len() {
            out_len.set(bytes.len());
            return Err(S::OTP_BUFFER_TOO_SMALL);
        }
        // SAFETY: the caller guarantees `cap` writable bytes.
        let out = unsafe { buf.slice() };
        let (dest, _) = out.split_at_mut(bytes.len());
        dest.copy_from_slice(bytes);
        out_len.set(bytes.len());
        Ok(())
    })
}

/// Writes the canonical base32 text of the secret (upper case, no padding) and a NUL into
/// `out` (`cap` bytes; `OTP_MAX_SECRET_BASE32_LEN + 1` always suffices), and the text
/// length without the NUL to `out_len`.
///
/// On `OTP_BUFFER_TOO_SMALL`, `*out_len` is the size needed, NUL included. The text is the
/// secret: wipe it when done.
///
/// # Safety
/// `secret` points to an `otp_secret`; `out` to `cap` writable bytes; `out_len` to a
/// writable `size_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn otp_secret_to_base32(
    secret: *const otp_secret,
    out: *mut c_char,
    cap: usize,
    out_len: *mut usize,
) -> otp_status {
    guard(|| {
        require!(secret, out, out_len);
        // SAFETY: the caller guarantees an `otp_secret`.
        let secret = unsafe { secret_ref(secret) }?;
        // SAFETY: the caller guarantees `cap` writable bytes and a writable `size_t`.
        unsafe { encode_into(secret.as_bytes(), out, cap, out_len) }
    })
}

/// Compares two secrets in constant time (for equal lengths) and writes the result to
/// `out_equal`.
///
/// # Safety
/// `a` and `b` point to `otp_secret` objects; `out_equal` to a writable `bool`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn otp_secret_equal(
    a: *const otp_secret,
    b: *const otp_secret,
    out_equal: *mut bool,
) -> otp_status {
    guard(|| {
        require!(a, b, out_equal);
        // SAFETY: the caller guarantees `otp_secret` objects.
        let (a, b) = unsafe { (secret_ref(a)?, secret_ref(b)?) };
        Out::new(out_equal)?.set(bool::from(a.ct_eq(b)));
        Ok(())
    })
}

/// Erases the secret: the secret bytes are zeroized and then every byte of the object is
/// set to zero. Wiping a wiped or zero-filled object is allowed and does nothing more.
///
/// # Safety
/// `secret` points to a writable `otp_secret` that was set up by an otpcore function,
/// wiped, or zero-filled.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn otp_secret_wipe(secret: *mut otp_secret) -> otp_status {
    guard(|| {
        // SAFETY: an `otp_secret` is large and aligned enough for the slot.
        unsafe { slot_wipe::<otp_secret, Secret>(secret, SECRET_MAGIC) }
    })
}

/// Encodes `len` bytes as canonical base32 (upper case, no padding) plus a NUL into `out`
/// (`cap` bytes), and writes the text length without the NUL to `out_len`.
///
/// On `OTP_BUFFER_TOO_SMALL`, `*out_len` is the size needed, NUL included.
///
/// # Safety
/// `bytes` points to `len` readable bytes; `out` to `cap` writable bytes that do not
/// overlap them; `out_len` to a writable `size_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn otp_base32_encode(
    bytes: *const u8,
    len: usize,
    out: *mut c_char,
    cap: usize,
    out_len: *mut usize,
) -> otp_status {
    guard(|| {
        require!(bytes, out, out_len);
        // SAFETY: the caller guarantees `len` readable bytes.
        let bytes = unsafe { bytes_in(bytes, len) }?;
        // SAFETY: the caller guarantees `cap` writable bytes and a writable `size_t`.
        unsafe { encode_into(bytes, out, cap, out_len) }
    })
}

/// Decodes base32 text (`len` bytes at `text`, read as `otp_secret_from_base32` does)
/// into `out` (`cap` bytes), and writes the number of bytes to `out_len`.
///
/// On `OTP_BUFFER_TOO_SMALL`, `*out_len` is the size needed.
///
/// # Safety
/// `text` points to `len` readable bytes; `out` to `cap` writable bytes that do not
/// overlap them; `out_len` to a writable `size_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn otp_base32_decode(
    text: *const c_char,
    len: usize,
    out: *mut u8,
    cap: usize,
    out_len: *mut usize,
) -> otp_status {
    guard(|| {
        require!(text, out, out_len);
        // SAFETY: the caller guarantees `len` readable bytes.
        let text = unsafe { base32_text(text, len) }?;
        let mut buf = Buf::new(out, cap)?;
        let out_len = Out::new(out_len)?;
        // SAFETY: the caller guarantees `cap` writable bytes.
        let out = unsafe { buf.slice() };
        match base32::decode(text, out) {
            Ok(decoded) => {
                out_len.set(decoded.len());
                Ok(())
            }
            Err(e) => Err(buffer_error(e, out_len)),
        }
    })
}

/// Reads base32 input text; bytes that are not UTF-8 are never base32 characters.
///
/// # Safety
/// As for [`bytes_in`](super::bytes_in).
unsafe fn base32_text<'a>(text: *const c_char, len: usize) -> Result<&'a str, otp_status> {
    // SAFETY: forwarded from the caller.
    let bytes = unsafe { text_in(text, len) }?;
    core::str::from_utf8(bytes).map_err(|e| {
        Error::Base32InvalidCharacter {
            position: e.valid_up_to(),
        }
        .into()
    })
}

/// Writes the base32 text of `bytes` and a NUL.
///
/// # Safety
/// `out` points to `cap` writable bytes, `out_len` to a writable `size_t`.
unsafe fn encode_into(
    bytes: &[u8],
    out: *mut c_char,
    cap: usize,
    out_len: *mut usize,
) -> Result<(), otp_status> {
    let mut buf = Buf::new(out.cast::<u8>(), cap)?;
    let out_len = Out::new(out_len)?;
    let text_len = base32::encoded_len(bytes.len());
    let needed = text_len.saturating_add(1);
    if cap < needed {
        out_len.set(needed);
        return Err(S::OTP_BUFFER_TOO_SMALL);
    }
    // SAFETY: the caller guarantees `cap` writable bytes.
    let out = unsafe { buf.slice() };
    let (body, rest) = out.split_at_mut(text_len);
    base32::encode(bytes, body)?;
    if let Some(nul) = rest.first_mut() {
        *nul = 0;
    }
    out_len.set(text_len);
    Ok(())
}
