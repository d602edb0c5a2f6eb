//! The C API (feature `ffi`): every capability of the crate behind `otp_`-prefixed functions
//! for C and C++ callers, declared in the committed header `include/otpcore.h`.
//!
//! Conventions, the same for every function:
//!
//! - Every function returns an [`otp_status`]: `OTP_OK` (0) on success, one specific code
//!   per failure otherwise. Verification returns `OTP_OK` only for a valid code, so
//!   `otp_totp_verify(...) == OTP_OK` is the one correct test.
//! - Pointer arguments are checked for NULL before anything else (`OTP_NULL_POINTER`);
//!   only arguments documented as optional may be NULL. That holds with a length of 0
//!   too: to learn the size an output needs, pass a valid pointer with capacity 0 and
//!   read it from `OTP_BUFFER_TOO_SMALL`'s `out_len`.
//! - Enumerations arrive as `uint32_t` and are validated (`OTP_INVALID_ENUM`).
//! - Outputs are written only on `OTP_OK`. The one exception: on `OTP_BUFFER_TOO_SMALL` the
//!   size the buffer needs is written to the function's `out_len`.
//! - Text outputs are NUL-terminated; the size needed counts the NUL and `*out_len` on
//!   success does not. Text inputs are a pointer and a length in bytes, no NUL needed.
//! - Nothing allocates: keys and secrets live in caller-provided objects of fixed size
//!   (`otp_totp`, `otp_hotp`, `otp_secret`), set up by an init function and erased by a
//!   wipe function.
//! - No panic crosses the boundary: a panic (a bug) is caught and returned as `OTP_PANIC`,
//!   with no output written.
#![allow(unsafe_code)]
// The C names are the API: `otp_status`, `OTP_OK`.
#![allow(non_camel_case_types)]

use core::ffi::c_char;
use core::panic::AssertUnwindSafe;
use core::ptr::{self, NonNull};

use crate::{Algorithm, Code, Digits, Error, SecretPolicy, Verification};

/// Returns `OTP_NULL_POINTER` from the enclosing closure when any of the pointers is NULL,
/// so that NULL is reported before any other fault.
macro_rules! require {
    ($($ptr:expr),+ $(,)?) => {
        if false $(|| $ptr.is_null())+ {
            return Err($crate::ffi::otp_status::OTP_NULL_POINTER);
        }
    };
}

mod hotp;
mod oob;
mod recovery;
mod secret;
mod state;
mod throttle;
mod totp;
mod uri;

pub use hotp::*;
pub use oob::*;
pub use recovery::*;
pub use secret::*;
pub use state::*;
pub use throttle::*;
pub use totp::*;
pub use uri::*;

/// The outcome of every C API function. The numbers are fixed forever: a code is never
/// renumbered or reused, new ones are only added. They start at 0 (`OTP_OK`); the other
/// enumerations start at 1.
/// cbindgen:prefix-with-name=false
/// cbindgen:rename-all=None
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum otp_status {
    /// Success; for a verification, the code is valid.
    OTP_OK = 0,
    /// A required pointer argument is NULL.
    OTP_NULL_POINTER = 1,
    /// An enumeration argument (algorithm, policy, URI type) has no defined meaning.
    OTP_INVALID_ENUM = 2,
    /// A panic (a bug in otpcore) was caught at the boundary; no output was written.
    OTP_PANIC = 3,
    /// The key or secret object was never initialised, or has been wiped.
    OTP_NOT_INITIALIZED = 4,
    /// A text argument that must be UTF-8 (account name, issuer, key URI) is not.
    OTP_INVALID_UTF8 = 5,
    /// The code is well-formed but matches no step (or counter) of the window: refuse it.
    OTP_CODE_INVALID = 6,
    /// A replay: the code is right but for a step at or before the last accepted one, or it
    /// is a used recovery code, or the out-of-band code accepted before. Refuse it; the
    /// `otp_user_state_verify_*` functions do not count it as a failure.
    OTP_CODE_REPLAYED = 7,
    /// A secret of zero bytes was given.
    OTP_SECRET_EMPTY = 10,
    /// The secret is longer than `OTP_MAX_SECRET_LEN` bytes.
    OTP_SECRET_TOO_LONG = 11,
    /// The secret is shorter than the policy allows (80 bits compatible, 128 bits strict;
    /// generated secrets are at least 128 bits).
    OTP_SECRET_TOO_SHORT = 12,
    /// A character that is not in the base32 alphabet (nor a space, `-` or trailing `=`).
    OTP_BASE32_INVALID_CHARACTER = 13,
    /// A number of base32 characters that no byte string encodes to.
    OTP_BASE32_INVALID_LENGTH = 14,
    /// Base32 `=` padding that is not at the end, or more of it than the length allows.
    OTP_BASE32_INVALID_PADDING = 15,
    /// The operating system could not provide randomness.
    OTP_RANDOMNESS_UNAVAILABLE = 16,
    /// The number of digits is outside 6 to 10.
    OTP_INVALID_DIGITS = 17,
    /// The TOTP period is zero.
    OTP_INVALID_PERIOD = 18,
    /// A look-back or look-ahead window is larger than `OTP_MAX_WINDOW`.
    OTP_WINDOW_TOO_LARGE = 19,
    /// The time is before the TOTP start time T0.
    OTP_TIME_BEFORE_T0 = 20,
    /// The system clock is before the Unix epoch.
    OTP_CLOCK_BEFORE_UNIX_EPOCH = 21,
    /// The code to verify does not have the configured number of digits.
    OTP_CODE_WRONG_LENGTH = 22,
    /// The code to verify contains something other than ASCII digits and grouping spaces.
    OTP_CODE_INVALID_CHARACTER = 23,
    /// An output buffer is too small; the size needed was written to the `out_len`
    /// argument and nothing else was written.
    OTP_BUFFER_TOO_SMALL = 24,
    /// The key URI's algorithm is not SHA1, SHA256 or SHA512.
    OTP_UNKNOWN_ALGORITHM = 25,
    /// The URI does not start with `otpauth://`.
    OTP_URI_INVALID_SCHEME = 26,
    /// The URI type is neither `totp` nor `hotp`.
    OTP_URI_UNKNOWN_TYPE = 27,
    /// The URI has no label: no `/` after its type.
    OTP_URI_MALFORMED = 28,
    /// The URI has no `secret` parameter.
    OTP_URI_MISSING_SECRET = 29,
    /// An `hotp` URI has no `counter` parameter.
    OTP_URI_MISSING_COUNTER = 30,
    /// The `counter` parameter is not a decimal number that fits 64 bits.
    OTP_URI_INVALID_COUNTER = 31,
    /// A URI parameter appears more than once.
    OTP_URI_DUPLICATE_PARAMETER = 32,
    /// A `%` in the URI is not followed by two hexadecimal digits.
    OTP_URI_INVALID_PERCENT_ENCODING = 33,
    /// Percent-decoding the URI produced bytes that are not UTF-8.
    OTP_URI_INVALID_UTF8 = 34,
    /// The issuer in the URI label differs from the `issuer` parameter.
    OTP_URI_ISSUER_MISMATCH = 35,
    /// The account name is empty.
    OTP_ACCOUNT_NAME_EMPTY = 36,
    /// The account name contains `:`.
    OTP_ACCOUNT_NAME_HAS_COLON = 37,
    /// The issuer is empty or contains `:` or an ASCII control character.
    OTP_INVALID_ISSUER = 38,
    /// The account name starts with a space (key URI readers drop it).
    OTP_ACCOUNT_NAME_LEADING_SPACE = 39,
    /// Too many failed attempts: locked out until the throttle state's `locked_until`.
    OTP_THROTTLED = 40,
    /// A throttle setting is 0, or its longest lockout is shorter than its first.
    OTP_INVALID_THROTTLE = 41,
    /// A recovery code is not 16 symbols of its alphabet.
    OTP_RECOVERY_CODE_MALFORMED = 42,
    /// Encoded user state does not start with its magic bytes.
    OTP_STATE_BAD_MAGIC = 43,
    /// Encoded user state has a version this library cannot read.
    OTP_STATE_UNSUPPORTED_VERSION = 44,
    /// Encoded user state is not as long as its version requires.
    OTP_STATE_WRONG_LENGTH = 45,
    /// Encoded user state has a reserved flag or recovery bit set.
    OTP_STATE_INVALID_FLAGS = 46,
    /// The account name contains an ASCII control character (such as NUL).
    OTP_ACCOUNT_NAME_CONTROL_CHARACTER = 47,
    /// Too many consecutive failures: the throttle's hard stop. No one-time code is checked
    /// until a recovery code succeeds or an administrator resets the state.
    OTP_LOCKED_OUT = 48,
    /// The HOTP counter is `UINT64_MAX`: no code can be accepted at it, since no later
    /// counter could block its replay. Enroll a new key.
    OTP_COUNTER_EXHAUSTED = 49,
    /// Encoded user state fails its checksum: it was corrupted after it was written.
    OTP_STATE_CORRUPT = 50,
    /// The out-of-band server key is shorter than `OTP_OOB_KEY_MIN_LEN` bytes.
    OTP_OOB_KEY_TOO_SHORT = 60,
    /// The out-of-band server key is longer than `OTP_OOB_KEY_MAX_LEN` bytes.
    OTP_OOB_KEY_TOO_LONG = 61,
    /// An `otp_oob_policy` field is out of its range (see the struct).
    OTP_INVALID_OOB_POLICY = 62,
    /// A new out-of-band code was asked for within the resend cooldown of the previous one;
    /// `otp_oob_next_issue_at` says when a new one can be issued.
    OTP_OOB_ISSUE_TOO_SOON = 63,
    /// The time is before the issue time of the out-of-band code on record.
    OTP_OOB_TIME_BEFORE_ISSUE = 64,
    /// An `otp_oob_record` is not a valid record encoding.
    OTP_OOB_RECORD_INVALID = 65,
    /// The out-of-band code has expired (whether or not the typed one was right): refuse it.
    OTP_OOB_CODE_EXPIRED = 66,
    /// The tries for this out-of-band code are used up: refused even if right.
    OTP_OOB_TOO_MANY_ATTEMPTS = 67,
    /// No out-of-band code is pending for this record: none was issued, or the one issued
    /// was accepted and the typed code is another.
    OTP_OOB_NO_CODE_PENDING = 68,
}

use otp_status as S;

impl From<Error> for otp_status {
    fn from(e: Error) -> Self {
        match e {
            Error::SecretEmpty => S::OTP_SECRET_EMPTY,
            Error::SecretTooLong => S::OTP_SECRET_TOO_LONG,
            Error::SecretTooShort { .. } => S::OTP_SECRET_TOO_SHORT,
            Error::Base32InvalidCharacter { .. } => S::OTP_BASE32_INVALID_CHARACTER,
            Error::Base32InvalidLength => S::OTP_BASE32_INVALID_LENGTH,
            Error::Base32InvalidPadding => S::OTP_BASE32_INVALID_PADDING,
            Error::RandomnessUnavailable => S::OTP_RANDOMNESS_UNAVAILABLE,
            Error::InvalidDigits => S::OTP_INVALID_DIGITS,
            Error::InvalidPeriod => S::OTP_INVALID_PERIOD,
            Error::WindowTooLarge => S::OTP_WINDOW_TOO_LARGE,
            Error::TimeBeforeT0 => S::OTP_TIME_BEFORE_T0,
            Error::ClockBeforeUnixEpoch => S::OTP_CLOCK_BEFORE_UNIX_EPOCH,
            Error::CodeWrongLength => S::OTP_CODE_WRONG_LENGTH,
            Error::CodeInvalidCharacter => S::OTP_CODE_INVALID_CHARACTER,
            Error::BufferTooSmall { .. } => S::OTP_BUFFER_TOO_SMALL,
            Error::UnknownAlgorithm => S::OTP_UNKNOWN_ALGORITHM,
            Error::UriInvalidScheme => S::OTP_URI_INVALID_SCHEME,
            Error::UriUnknownType => S::OTP_URI_UNKNOWN_TYPE,
            Error::UriMalformed => S::OTP_URI_MALFORMED,
            Error::UriMissingSecret => S::OTP_URI_MISSING_SECRET,
            Error::UriMissingCounter => S::OTP_URI_MISSING_COUNTER,
            Error::UriInvalidCounter => S::OTP_URI_INVALID_COUNTER,
            Error::UriDuplicateParameter => S::OTP_URI_DUPLICATE_PARAMETER,
            Error::UriInvalidPercentEncoding => S::OTP_URI_INVALID_PERCENT_ENCODING,
            Error::UriInvalidUtf8 => S::OTP_URI_INVALID_UTF8,
            Error::UriIssuerMismatch => S::OTP_URI_ISSUER_MISMATCH,
            Error::AccountNameEmpty => S::OTP_ACCOUNT_NAME_EMPTY,
            Error::AccountNameHasColon => S::OTP_ACCOUNT_NAME_HAS_COLON,
            Error::InvalidIssuer => S::OTP_INVALID_ISSUER,
            Error::AccountNameLeadingSpace => S::OTP_ACCOUNT_NAME_LEADING_SPACE,
            Error::Throttled { .. } => S::OTP_THROTTLED,
            Error::InvalidThrottle => S::OTP_INVALID_THROTTLE,
            Error::RecoveryCodeMalformed => S::OTP_RECOVERY_CODE_MALFORMED,
            Error::StateBadMagic => S::OTP_STATE_BAD_MAGIC,
            Error::StateUnsupportedVersion { .. } => S::OTP_STATE_UNSUPPORTED_VERSION,
            Error::StateWrongLength { .. } => S::OTP_STATE_WRONG_LENGTH,
            Error::StateInvalidFlags => S::OTP_STATE_INVALID_FLAGS,
            Error::AccountNameControlCharacter => S::OTP_ACCOUNT_NAME_CONTROL_CHARACTER,
            Error::LockedOut => S::OTP_LOCKED_OUT,
            Error::CounterExhausted => S::OTP_COUNTER_EXHAUSTED,
            Error::StateCorrupt => S::OTP_STATE_CORRUPT,
            Error::OobKeyTooShort => S::OTP_OOB_KEY_TOO_SHORT,
            Error::OobKeyTooLong => S::OTP_OOB_KEY_TOO_LONG,
            Error::InvalidOobPolicy => S::OTP_INVALID_OOB_POLICY,
            Error::OobIssueTooSoon { .. } => S::OTP_OOB_ISSUE_TOO_SOON,
            Error::OobTimeBeforeIssue => S::OTP_OOB_TIME_BEFORE_ISSUE,
            Error::OobRecordInvalid => S::OTP_OOB_RECORD_INVALID,
        }
    }
}

/// The highest status number in use; numbers up to it that `otp_status` does not list
/// are unassigned.
pub const OTP_STATUS_MAX: u32 = 68;

/// The HMAC hash function, passed as a `uint32_t`. The numbers are fixed forever and
/// start at 1: 0 (a zero-filled field) is `OTP_INVALID_ENUM`.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum otp_algorithm {
    /// HMAC-SHA-1, the default and the only one every authenticator app honours.
    Sha1 = 1,
    /// HMAC-SHA-256.
    Sha256 = 2,
    /// HMAC-SHA-512.
    Sha512 = 3,
}

/// How short an imported secret may be, passed as a `uint32_t`. The numbers are fixed
/// forever and start at 1: 0 (a zero-filled field) is `OTP_INVALID_ENUM`.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum otp_policy {
    /// At least 80 bits: what authenticator apps accept and many services issue.
    Compatible = 1,
    /// At least 128 bits, the minimum RFC 4226 requires.
    Strict = 2,
}

/// TOTP or HOTP, in a key URI, passed as a `uint32_t`. The numbers are fixed forever and
/// start at 1: 0 (a zero-filled field) is `OTP_INVALID_ENUM`.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum otp_type {
    /// Time-based (`otpauth://totp/`).
    Totp = 1,
    /// Counter-based (`otpauth://hotp/`).
    Hotp = 2,
}

/// The size of a buffer that holds any generated code: 10 digits and the NUL.
pub const OTP_CODE_BUFFER_SIZE: usize = 11;
/// The largest secret in bytes.
pub const OTP_MAX_SECRET_LEN: usize = 256;
/// The length of the base32 text of the longest secret, without the NUL.
pub const OTP_MAX_SECRET_BASE32_LEN: usize = 410;
/// The recommended length in bytes for `otp_secret_generate`: 160 bits, as RFC 4226
/// recommends.
pub const OTP_SECRET_DEFAULT_LEN: usize = 20;
/// The largest look-back or look-ahead window in steps: at this bound one guess at six
/// digits matches one of 101 TOTP codes (about 1 in 9,900).
pub const OTP_MAX_WINDOW: u32 = 50;
/// The largest look-ahead of `otp_hotp_resync`, which needs two consecutive codes.
pub const OTP_MAX_RESYNC_WINDOW: u32 = 1_000;
/// The longest typed code read at all, in bytes; longer input is `OTP_CODE_WRONG_LENGTH`
/// before any work.
pub const OTP_MAX_CODE_INPUT_LEN: usize = 32;

const _: () = assert!(OTP_MAX_SECRET_LEN == crate::MAX_SECRET_LEN);
const _: () = assert!(OTP_MAX_SECRET_BASE32_LEN == crate::MAX_SECRET_BASE32_LEN);
const _: () = assert!(OTP_SECRET_DEFAULT_LEN == crate::Secret::DEFAULT_LEN);
const _: () = assert!(OTP_MAX_WINDOW == crate::MAX_WINDOW);
const _: () = assert!(OTP_MAX_RESYNC_WINDOW == crate::MAX_RESYNC_WINDOW);
const _: () = assert!(OTP_MAX_CODE_INPUT_LEN == crate::MAX_CODE_INPUT_LEN);

/// The size in bytes of an `otp_totp_params` (for bindings that lay out structs by hand;
/// every struct a caller allocates or passes has such a constant, checked at build time
/// and by the C tests).
pub const OTP_TOTP_PARAMS_SIZE: usize = 32;
/// The size in bytes of an `otp_hotp_params`.
pub const OTP_HOTP_PARAMS_SIZE: usize = 12;
/// The size in bytes of an `otp_uri`.
pub const OTP_URI_SIZE: usize = 64;
/// The size in bytes of an `otp_recovery_codes`.
pub const OTP_RECOVERY_CODES_SIZE: usize = 338;
/// The size in bytes of an `otp_throttle`.
pub const OTP_THROTTLE_SIZE: usize = 24;
/// The size in bytes of an `otp_throttle_state`.
pub const OTP_THROTTLE_STATE_SIZE: usize = 16;
/// The size in bytes of an `otp_user_state`.
pub const OTP_USER_STATE_SIZE: usize = 432;
/// The size in bytes of an `otp_oob_policy`.
pub const OTP_OOB_POLICY_SIZE: usize = 24;
/// The size in bytes of an `otp_oob_record` (its encoding, `OTP_OOB_RECORD_LEN` bytes).
pub const OTP_OOB_RECORD_SIZE: usize = 56;

const _: () = assert!(size_of::<otp_totp_params>() == OTP_TOTP_PARAMS_SIZE);
const _: () = assert!(size_of::<otp_hotp_params>() == OTP_HOTP_PARAMS_SIZE);
const _: () = assert!(size_of::<otp_uri>() == OTP_URI_SIZE);
const _: () = assert!(size_of::<otp_recovery_codes>() == OTP_RECOVERY_CODES_SIZE);
const _: () = assert!(size_of::<otp_throttle>() == OTP_THROTTLE_SIZE);
const _: () = assert!(size_of::<otp_throttle_state>() == OTP_THROTTLE_STATE_SIZE);
const _: () = assert!(size_of::<otp_user_state>() == OTP_USER_STATE_SIZE);
const _: () = assert!(size_of::<oob::otp_oob_policy>() == OTP_OOB_POLICY_SIZE);
const _: () = assert!(size_of::<oob::otp_oob_record>() == OTP_OOB_RECORD_SIZE);

/// Runs `f` behind the panic boundary. Functions compute everything first and write their
/// outputs last, so a caught panic leaves the outputs untouched.
fn guard(f: impl FnOnce() -> Result<(), otp_status>) -> otp_status {
    match std::panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => S::OTP_OK,
        Ok(Err(status)) => status,
        Err(_) => S::OTP_PANIC,
    }
}

/// An output pointer, checked for NULL and written at most once, at the end.
struct Out<T>(NonNull<T>);

impl<T> Out<T> {
    fn new(ptr: *mut T) -> Result<Self, otp_status> {
        NonNull::new(ptr).map(Out).ok_or(S::OTP_NULL_POINTER)
    }

    fn set(self, value: T) {
        // SAFETY: the pointer is non-null, and the C caller passes a pointer to writable
        // memory for a `T`, as every function's safety section requires. Unaligned, like
        // `read_in`, so an in-out struct read from any address is written back the same way.
        unsafe { self.0.as_ptr().write_unaligned(value) }
    }
}

/// Borrows `len` input bytes at `ptr`.
///
/// # Safety
/// `ptr`, when not NULL, points to `len` readable bytes that stay unchanged during the call.
unsafe fn bytes_in<'a>(ptr: *const u8, len: usize) -> Result<&'a [u8], otp_status> {
    if ptr.is_null() {
        return Err(S::OTP_NULL_POINTER);
    }
    // SAFETY: non-null, and the caller guarantees `len` readable bytes.
    Ok(unsafe { core::slice::from_raw_parts(ptr, len) })
}

/// Borrows `len` bytes of text at `ptr`.
///
/// # Safety
/// As for [`bytes_in`].
unsafe fn text_in<'a>(ptr: *const c_char, len: usize) -> Result<&'a [u8], otp_status> {
    // SAFETY: forwarded from the caller; `c_char` and `u8` have the same layout.
    unsafe { bytes_in(ptr.cast::<u8>(), len) }
}

/// Borrows `len` bytes of UTF-8 text at `ptr`.
///
/// # Safety
/// As for [`bytes_in`].
unsafe fn str_in<'a>(ptr: *const c_char, len: usize) -> Result<&'a str, otp_status> {
    // SAFETY: forwarded from the caller.
    let bytes = unsafe { text_in(ptr, len) }?;
    core::str::from_utf8(bytes).map_err(|_| S::OTP_INVALID_UTF8)
}

/// An output buffer of `cap` bytes, checked for NULL.
struct Buf {
    ptr: NonNull<u8>,
    cap: usize,
}

impl Buf {
    fn new(ptr: *mut u8, cap: usize) -> Result<Self, otp_status> {
        NonNull::new(ptr)
            .map(|ptr| Buf { ptr, cap })
            .ok_or(S::OTP_NULL_POINTER)
    }

    /// The buffer as a slice.
    ///
    /// # Safety
    /// The C caller passed `cap` writable bytes that nothing else accesses during the call.
    unsafe fn slice<'a>(&mut self) -> &'a mut [u8] {
        // SAFETY: as the function's contract states.
        unsafe { core::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.cap) }
    }

    /// Writes `text` and a NUL, or reports the size needed.
    ///
    /// # Safety
    /// As for [`Buf::slice`].
    unsafe fn put_text(mut self, text: &[u8], out_len: Out<usize>) -> Result<(), otp_status> {
        let needed = text.len().saturating_add(1);
        if self.cap < needed {
            out_len.set(needed);
            return Err(S::OTP_BUFFER_TOO_SMALL);
        }
        // SAFETY: forwarded from the caller.
        let out = unsafe { self.slice() };
        let (body, rest) = out.split_at_mut(text.len());
        body.copy_from_slice(text);
        if let Some(nul) = rest.first_mut() {
            *nul = 0;
        }
        out_len.set(text.len());
        Ok(())
    }
}

/// Maps a core error, reporting the size needed of a too-small buffer through `out_len`.
fn buffer_error(e: Error, out_len: Out<usize>) -> otp_status {
    if let Error::BufferTooSmall { needed } = e {
        out_len.set(needed);
    }
    e.into()
}

fn algorithm_from(value: u32) -> Result<Algorithm, otp_status> {
    match value {
        1 => Ok(Algorithm::Sha1),
        2 => Ok(Algorithm::Sha256),
        3 => Ok(Algorithm::Sha512),
        _ => Err(S::OTP_INVALID_ENUM),
    }
}

fn algorithm_to(algorithm: Algorithm) -> u32 {
    match algorithm {
        Algorithm::Sha1 => otp_algorithm::Sha1 as u32,
        Algorithm::Sha256 => otp_algorithm::Sha256 as u32,
        Algorithm::Sha512 => otp_algorithm::Sha512 as u32,
    }
}

fn policy_from(value: u32) -> Result<SecretPolicy, otp_status> {
    match value {
        1 => Ok(SecretPolicy::Compatible),
        2 => Ok(SecretPolicy::Strict),
        _ => Err(S::OTP_INVALID_ENUM),
    }
}

fn digits_from(value: u32) -> Result<Digits, otp_status> {
    let small = u8::try_from(value).map_err(|_| S::OTP_INVALID_DIGITS)?;
    Ok(Digits::new(small)?)
}

/// Turns a verification into a status, writing the match only for a valid code.
fn verification_status(
    verification: Verification,
    out_step: Out<u64>,
    out_drift: Out<i64>,
) -> Result<(), otp_status> {
    match verification {
        Verification::Valid(m) => {
            out_step.set(m.step);
            out_drift.set(m.drift);
            Ok(())
        }
        Verification::Replayed(_) => Err(S::OTP_CODE_REPLAYED),
        Verification::Invalid => Err(S::OTP_CODE_INVALID),
    }
}

/// Writes a code's digits and a NUL into the caller's buffer.
///
/// # Safety
/// `out` points to `cap` writable bytes, `out_len` to a writable `size_t`.
unsafe fn code_out(
    code: Code,
    out: *mut c_char,
    cap: usize,
    out_len: *mut usize,
) -> Result<(), otp_status> {
    let buf = Buf::new(out.cast::<u8>(), cap)?;
    let out_len = Out::new(out_len)?;
    let (ascii, len) = code.to_ascii();
    let digits = ascii.get(..len).ok_or(S::OTP_PANIC)?;
    // SAFETY: forwarded from the caller.
    unsafe { buf.put_text(digits, out_len) }
}

/// A value kept in a caller-allocated object: a tag that says it is initialised, then
/// the value.
#[repr(C)]
struct Slot<T> {
    magic: u64,
    value: T,
}

/// Reads the value in the object at `obj`.
///
/// # Safety
/// `obj`, when not NULL, points to a readable, aligned object at least as large and as
/// aligned as `Slot<T>` (asserted next to each object type) that is not written during
/// the call and holds either `magic` followed by a valid `T`, or anything else but
/// `magic` in its first eight bytes.
unsafe fn slot_ref<'a, O, T>(obj: *const O, magic: u64) -> Result<&'a T, otp_status> {
    let slot = obj.cast::<Slot<T>>();
    if slot.is_null() {
        return Err(S::OTP_NULL_POINTER);
    }
    // SAFETY: non-null and aligned per the contract; the tag is a plain u64.
    let found = unsafe { ptr::addr_of!((*slot).magic).read() };
    if found != magic {
        return Err(S::OTP_NOT_INITIALIZED);
    }
    // SAFETY: only `slot_put` writes the tag, and it writes a valid `T` with it.
    Ok(unsafe { &(*slot).value })
}

/// Overwrites every byte of the object with zeros, through volatile writes that the
/// compiler may not remove.
///
/// # Safety
/// `obj` is non-null, aligned and writable for `size_of::<O>()` bytes, which are a
/// multiple of 8.
unsafe fn zero_object<O>(obj: *mut O) {
    let words = obj.cast::<u64>();
    for i in 0..size_of::<O>() / 8 {
        // SAFETY: `i` words stay within the object, per the contract.
        unsafe { words.add(i).write_volatile(0) };
    }
    core::sync::atomic::compiler_fence(core::sync::atomic::Ordering::SeqCst);
}

/// Stores `value` in the object at `obj`, zeroing the object first so that no byte of a
/// previous key survives in the padding, then wipes the bytes `value` occupied in this
/// frame, which the move would leave behind (for a key, its whole HMAC state).
///
/// # Safety
/// `obj` is non-null, aligned and writable, at least as large and as aligned as `Slot<T>`.
unsafe fn slot_put<O, T>(obj: *mut O, magic: u64, value: T) {
    let mut value = core::mem::ManuallyDrop::new(value);
    let slot = obj.cast::<Slot<T>>();
    let source = ptr::addr_of_mut!(*value);
    // SAFETY: the object is writable, large and aligned enough per the contract, and
    // `source` is a valid `T` that does not overlap it. After the copy the object owns the
    // value, so the source is wiped without being dropped.
    unsafe {
        zero_object(obj);
        ptr::copy_nonoverlapping(source, ptr::addr_of_mut!((*slot).value), 1);
        ptr::addr_of_mut!((*slot).magic).write(magic);
        zeroize::Zeroize::zeroize(core::slice::from_raw_parts_mut(
            source.cast::<u8>(),
            size_of::<T>(),
        ));
    }
}

/// Drops (and so zeroizes) the value in the object if there is one, then zeroes every byte.
///
/// # Safety
/// As for [`slot_ref`], with the object writable.
unsafe fn slot_wipe<O, T>(obj: *mut O, magic: u64) -> Result<(), otp_status> {
    let slot = obj.cast::<Slot<T>>();
    if slot.is_null() {
        return Err(S::OTP_NULL_POINTER);
    }
    // SAFETY: non-null and aligned per the contract.
    let found = unsafe { ptr::addr_of!((*slot).magic).read() };
    if found == magic {
        // SAFETY: the tag is written only together with a valid `T`, and zeroing the
        // object below removes the tag, so the value is never dropped twice.
        unsafe { ptr::drop_in_place(ptr::addr_of_mut!((*slot).value)) };
    }
    // SAFETY: the object is writable per the contract.
    unsafe { zero_object(obj) };
    Ok(())
}

/// A static, NUL-terminated English description of `status`, for logs. Never NULL; an
/// unassigned number gives "unknown status". The text contains no secret material.
#[unsafe(no_mangle)]
pub extern "C" fn otp_status_message(status: u32) -> *const c_char {
    let text: &'static str = match status {
        0 => "success\0",
        1 => "a required pointer argument is NULL\0",
        2 => "an enumeration argument has no defined meaning\0",
        3 => "internal error: a panic was caught at the C boundary\0",
        4 => "the key or secret object is not initialized or was wiped\0",
        5 => "a text argument is not UTF-8\0",
        6 => "the code is wrong\0",
        7 => "the code was already used\0",
        10 => "the secret is empty\0",
        11 => "the secret is longer than 256 bytes\0",
        12 => "the secret is shorter than the policy allows\0",
        13 => "invalid base32 character\0",
        14 => "impossible base32 length\0",
        15 => "misplaced or excess base32 padding\0",
        16 => "no randomness available\0",
        17 => "digits must be from 6 to 10\0",
        18 => "the TOTP period must be at least one second\0",
        19 => "a verification window may hold at most 50 steps each way (1000 for resync)\0",
        20 => "the time is before the TOTP start time T0\0",
        21 => "the system clock is before 1970\0",
        22 => "the code has the wrong number of digits\0",
        23 => "the code contains a non-digit\0",
        24 => "the output buffer is too small\0",
        25 => "the algorithm is not SHA1, SHA256 or SHA512\0",
        26 => "the URI scheme is not otpauth\0",
        27 => "the URI type is neither totp nor hotp\0",
        28 => "the URI is malformed\0",
        29 => "the URI has no secret\0",
        30 => "the hotp URI has no counter\0",
        31 => "the URI counter is not a 64-bit number\0",
        32 => "a URI parameter appears twice\0",
        33 => "invalid percent-encoding in the URI\0",
        34 => "the URI decodes to invalid UTF-8\0",
        35 => "the label issuer differs from the issuer parameter\0",
        36 => "the account name is empty\0",
        37 => "the account name contains ':'\0",
        38 => "the issuer is empty or contains ':' or a control character\0",
        39 => "the account name starts with a space\0",
        40 => "too many failed attempts: locked out\0",
        41 => "invalid throttle settings\0",
        42 => "the recovery code is malformed\0",
        43 => "the data is not an encoded user state\0",
        44 => "unsupported user state version\0",
        45 => "the encoded user state has the wrong length\0",
        46 => "the encoded user state has reserved bits set\0",
        47 => "the account name contains a control character\0",
        48 => {
            "too many consecutive failed attempts: locked until a recovery code or an administrator reset\0"
        }
        49 => "the HOTP counter is used up: enroll a new key\0",
        50 => "the encoded user state fails its checksum\0",
        60 => "the out-of-band server key is shorter than 16 bytes\0",
        61 => "the out-of-band server key is longer than 64 bytes\0",
        62 => "invalid out-of-band code policy\0",
        63 => "a code was sent too recently\0",
        64 => "the time is before the out-of-band code was issued\0",
        65 => "the out-of-band code record is invalid\0",
        66 => "the out-of-band code has expired\0",
        67 => "too many attempts for this out-of-band code\0",
        68 => "no out-of-band code is pending\0",
        _ => "unknown status\0",
    };
    text.as_ptr().cast::<c_char>()
}

/// The library version, such as "0.1.0": a static, NUL-terminated string.
#[unsafe(no_mangle)]
pub extern "C" fn otp_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0")
        .as_ptr()
        .cast::<c_char>()
}

/// Writes the current Unix time in seconds, from the system clock, to `out_time`.
///
/// # Safety
/// `out_time` points to a writable `uint64_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn otp_unix_time(out_time: *mut u64) -> otp_status {
    guard(|| {
        let out = Out::new(out_time)?;
        out.set(crate::unix_time()?);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    //! Checks of what C callers cannot trigger.

    use super::*;

    #[test]
    fn a_panic_inside_the_boundary_becomes_otp_panic() {
        let status = guard(|| panic!("deliberate"));
        assert_eq!(status, S::OTP_PANIC);
    }

    #[test]
    fn errors_no_c_input_can_cause_still_have_their_own_status() {
        assert_eq!(
            otp_status::from(Error::RandomnessUnavailable),
            S::OTP_RANDOMNESS_UNAVAILABLE
        );
        assert_eq!(
            otp_status::from(Error::ClockBeforeUnixEpoch),
            S::OTP_CLOCK_BEFORE_UNIX_EPOCH
        );
    }

    #[test]
    fn every_status_number_has_its_own_message() {
        let unknown = otp_status_message(u32::MAX);
        let mut seen = std::vec::Vec::new();
        for n in [0u32, 1, 2, 3, 4, 5, 6, 7]
            .into_iter()
            .chain(10..=50)
            .chain(60..=OTP_STATUS_MAX)
        {
            let message = otp_status_message(n);
            assert_ne!(message, unknown, "status {n}");
            assert!(!seen.contains(&message), "status {n}");
            seen.push(message);
        }
        assert_eq!(otp_status_message(8), unknown);
        assert_eq!(otp_status_message(51), unknown);
        assert_eq!(otp_status_message(59), unknown);
        assert_eq!(otp_status_message(OTP_STATUS_MAX + 1), unknown);
    }
}
