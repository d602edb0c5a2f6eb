//! Single-use recovery codes for C: generation into a caller buffer, the stored set as a
//! plain struct, and verification.

use core::ffi::c_char;

use super::{Buf, Out, S, guard, otp_status, text_in, throttle::read_in};
use crate::recovery::{
    RECOVERY_CODE_COUNT, RECOVERY_CODE_TEXT_LEN, RECOVERY_SALT_LEN, RecoveryCodes,
    RecoveryVerification,
};

/// The number of codes in a set.
pub const OTP_RECOVERY_CODE_COUNT: usize = 10;
/// The length of one code as shown, `xxxx-xxxx-xxxx-xxxx`, without a NUL.
pub const OTP_RECOVERY_CODE_TEXT_LEN: usize = 19;
/// The size of the buffer `otp_recovery_codes_generate` needs: the ten codes one per
/// line and a NUL. Code `i` starts at byte `i * (OTP_RECOVERY_CODE_TEXT_LEN + 1)`.
pub const OTP_RECOVERY_CODES_TEXT_SIZE: usize = 200;
/// The length of the salt of a set in bytes.
pub const OTP_RECOVERY_SALT_LEN: usize = 16;
/// The length of each stored hash in bytes (SHA-256).
pub const OTP_RECOVERY_HASH_LEN: usize = 32;
/// The bits of `otp_recovery_codes.used` that can be set: one per code.
pub const OTP_RECOVERY_USED_MASK: u16 = 0x03ff;

/// One code and the byte after it: a newline, or the final NUL.
const LINE: usize = OTP_RECOVERY_CODE_TEXT_LEN + 1;
const LAST: usize = OTP_RECOVERY_CODE_COUNT - 1;
const TEXT_LEN: usize = OTP_RECOVERY_CODES_TEXT_SIZE - 1;

const _: () = assert!(OTP_RECOVERY_CODE_COUNT == RECOVERY_CODE_COUNT);
const _: () = assert!(OTP_RECOVERY_CODE_TEXT_LEN == RECOVERY_CODE_TEXT_LEN);
const _: () = assert!(OTP_RECOVERY_SALT_LEN == RECOVERY_SALT_LEN);
const _: () = assert!(OTP_RECOVERY_CODES_TEXT_SIZE == OTP_RECOVERY_CODE_COUNT * LINE);
const _: () = assert!(OTP_RECOVERY_USED_MASK == (1 << RECOVERY_CODE_COUNT) - 1);

/// The stored form of a set of recovery codes: a random salt, the SHA-256 of the salt
/// followed by each code's bytes, and which codes are used. It holds no code itself.
///
/// Plain data, part of `otp_user_state` and its encoding. Bits of `used` outside
/// `OTP_RECOVERY_USED_MASK` must be 0 (`OTP_STATE_INVALID_FLAGS` otherwise). An empty set
/// (every code used, as in `otp_user_state_default`) lets nothing in.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct otp_recovery_codes {
    /// The random salt of this set.
    pub salt: [u8; OTP_RECOVERY_SALT_LEN],
    /// The hash of each code, code 0 first.
    pub hashes: [[u8; OTP_RECOVERY_HASH_LEN]; OTP_RECOVERY_CODE_COUNT],
    /// Bit `i` is set once code `i` has been used.
    pub used: u16,
}

pub(super) fn recovery_from(set: &otp_recovery_codes) -> Result<RecoveryCodes, otp_status> {
    if set.used & !OTP_RECOVERY_USED_MASK != 0 {
        return Err(S::OTP_STATE_INVALID_FLAGS);
    }
    Ok(RecoveryCodes {
        salt: set.salt,
        hashes: set.hashes,
        used: set.used,
    })
}

pub(super) fn recovery_to(set: &RecoveryCodes) -> otp_recovery_codes {
    otp_recovery_codes {
        salt: set.salt,
        hashes: set.hashes,
        used: set.used,
    }
}

/// Writes a verification outcome: `OTP_OK` with the slot and the codes left for a valid
/// code; `OTP_CODE_REPLAYED` for a used one, as for a replayed one-time code;
/// `OTP_CODE_INVALID` for one not in the set.
pub(super) fn recovery_status(
    outcome: RecoveryVerification,
    out_slot: Out<usize>,
    out_remaining: Out<usize>,
) -> Result<(), otp_status> {
    match outcome {
        RecoveryVerification::Valid { slot, remaining } => {
            out_slot.set(slot);
            out_remaining.set(remaining);
            Ok(())
        }
        RecoveryVerification::Used { .. } => Err(S::OTP_CODE_REPLAYED),
        RecoveryVerification::Invalid => Err(S::OTP_CODE_INVALID),
    }
}

/// Generates a new set of `OTP_RECOVERY_CODE_COUNT` codes of 80 bits each from the
/// operating system's random number generator.
///
/// The codes go to `out_codes` (`cap` bytes, at least `OTP_RECOVERY_CODES_TEXT_SIZE`) as
/// text, one `xxxx-xxxx-xxxx-xxxx` per line with a NUL after the last, and the text length
/// without the NUL to `out_len`; show them to the user once, then wipe the buffer. The
/// stored form goes to `out_set`: persist it (in `otp_user_state.recovery`, say).
///
/// On `OTP_BUFFER_TOO_SMALL`, `*out_len` is the size needed, NUL included, and nothing is
/// generated. Other errors: `OTP_RANDOMNESS_UNAVAILABLE`.
///
/// # Safety
/// `out_codes` points to `cap` writable bytes; `out_len` to a writable `size_t`;
/// `out_set` to a writable `otp_recovery_codes`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn otp_recovery_codes_generate(
    out_codes: *mut c_char,
    cap: usize,
    out_len: *mut usize,
    out_set: *mut otp_recovery_codes,
) -> otp_status {
    super::secret::scrubbed(|| {
        guard(|| {
            require!(out_codes, out_len, out_set);
            let mut buf = Buf::new(out_codes.cast::<u8>(), cap)?;
            let out_len = Out::new(out_len)?;
            let out_set = Out::new(out_set)?;
            if cap < OTP_RECOVERY_CODES_TEXT_SIZE {
                out_len.set(OTP_RECOVERY_CODES_TEXT_SIZE);
                return Err(S::OTP_BUFFER_TOO_SMALL);
            }
            let (set, codes) = RecoveryCodes::generate()?;
            // SAFETY: the caller guarantees `cap` writable bytes.
            let out = unsafe { buf.slice() };
            let lines = out.chunks_exact_mut(LINE);
            for (i, (line, code)) in lines.zip(&codes).enumerate() {
                let (text, end) = line.split_at_mut(OTP_RECOVERY_CODE_TEXT_LEN);
                text.copy_from_slice(code.as_str().as_bytes());
                end.fill(if i == LAST { 0 } else { b'\n' });
            }
            out_len.set(TEXT_LEN);
            out_set.set(recovery_to(&set));
            Ok(())
        })
    })
}

/// Checks a typed recovery code (`code_len` bytes at `code`; any letter case, dashes and
/// spaces ignored) against every code of `set` in constant time, without a throttle (see
/// `otp_user_state_verify_recovery` for the throttled check).
///
/// Returns `OTP_OK` only for an unused code of the set; then, and only then, its slot is
/// marked used in `set` (persist it before granting access), the slot (0 to 9) is written
/// to `out_slot` and the number of unused codes left to `out_remaining`. Otherwise
/// `OTP_CODE_REPLAYED` (a code of the set used before), `OTP_CODE_INVALID` (not in the
/// set), `OTP_RECOVERY_CODE_MALFORMED` (not 16 symbols of the code alphabet) or
/// `OTP_STATE_INVALID_FLAGS` (`set->used` has bits outside `OTP_RECOVERY_USED_MASK`), with
/// nothing written.
///
/// # Safety
/// `code` points to `code_len` readable bytes; `set` to a readable and writable
/// `otp_recovery_codes`; `out_slot` and `out_remaining` to writable `size_t`s.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn otp_recovery_codes_verify(
    code: *const c_char,
    code_len: usize,
    set: *mut otp_recovery_codes,
    out_slot: *mut usize,
    out_remaining: *mut usize,
) -> otp_status {
    super::secret::scrubbed(|| {
        guard(|| {
            require!(code, set, out_slot, out_remaining);
            // SAFETY: the caller guarantees the readable bytes and the struct.
            let (code, current) = unsafe { (text_in(code, code_len)?, read_in(set.cast_const())?) };
            let mut updated = recovery_from(&current)?;
            let outcome = updated.verify(code)?;
            if outcome.is_valid() {
                Out::new(set)?.set(recovery_to(&updated));
            }
            recovery_status(outcome, Out::new(out_slot)?, Out::new(out_remaining)?)
        })
    })
}

/// Writes the number of unused codes in `set` to `out_remaining`.
///
/// Errors: `OTP_STATE_INVALID_FLAGS` (bits of `used` outside `OTP_RECOVERY_USED_MASK`).
///
/// # Safety
/// `set` points to an `otp_recovery_codes`; `out_remaining` to a writable `size_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn otp_recovery_codes_remaining(
    set: *const otp_recovery_codes,
    out_remaining: *mut usize,
) -> otp_status {
    guard(|| {
        require!(set, out_remaining);
        // SAFETY: the caller guarantees an `otp_recovery_codes`.
        let set = recovery_from(&unsafe { read_in(set) }?)?;
        Out::new(out_remaining)?.set(set.remaining());
        Ok(())
    })
}
