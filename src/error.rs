//! The one error type of the crate.

use core::fmt;

/// Everything that can go wrong in otpcore, one variant per distinct fault.
///
/// No variant carries secret material, and neither does any message: errors can be logged
/// as they are. The enum is `#[non_exhaustive]` so that new faults can be told apart in
/// later versions without a breaking change.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Error {
    /// A secret of zero bytes was given.
    SecretEmpty,
    /// The secret is longer than [`MAX_SECRET_LEN`](crate::MAX_SECRET_LEN) bytes.
    SecretTooLong,
    /// The secret is shorter than the import policy allows.
    SecretTooShort {
        /// The minimum length, in bits, of the policy that rejected it.
        min_bits: u16,
    },
    /// A character that is not in the base32 alphabet (nor a space, `-` or trailing `=`).
    Base32InvalidCharacter {
        /// Byte offset of the offending character in the input.
        position: usize,
    },
    /// A number of base32 characters that no byte string encodes to (1, 3 or 6 modulo 8).
    Base32InvalidLength,
    /// `=` padding that is not at the end, or more of it than the length allows.
    Base32InvalidPadding,
    /// The operating system (or the caller's entropy source) could not provide randomness.
    RandomnessUnavailable,
    /// The number of digits is outside 6 to 10.
    InvalidDigits,
    /// The TOTP period is zero.
    InvalidPeriod,
    /// A look-back or look-ahead window is larger than [`MAX_WINDOW`](crate::MAX_WINDOW)
    /// ([`MAX_RESYNC_WINDOW`](crate::MAX_RESYNC_WINDOW) for HOTP resynchronisation).
    WindowTooLarge,
    /// The time is before the TOTP start time T0.
    TimeBeforeT0,
    /// The system clock is before the Unix epoch.
    ClockBeforeUnixEpoch,
    /// A code to verify does not have the configured number of digits.
    CodeWrongLength,
    /// A code to verify contains something other than ASCII digits and grouping spaces.
    CodeInvalidCharacter,
    /// An output buffer is too small; nothing was written to it.
    BufferTooSmall {
        /// The number of bytes the output needs.
        needed: usize,
    },
    /// The algorithm name is not SHA1, SHA256 or SHA512.
    UnknownAlgorithm,
    /// The URI does not start with `otpauth://`.
    UriInvalidScheme,
    /// The URI type is neither `totp` nor `hotp`.
    UriUnknownType,
    /// The URI has no `/` (and so no label) after its type.
    UriMalformed,
    /// The URI has no `secret` parameter.
    UriMissingSecret,
    /// An `hotp` URI has no `counter` parameter.
    UriMissingCounter,
    /// The `counter` parameter is not a decimal number that fits 64 bits.
    UriInvalidCounter,
    /// A parameter appears more than once.
    UriDuplicateParameter,
    /// A `%` is not followed by two hexadecimal digits.
    UriInvalidPercentEncoding,
    /// Percent-decoding produced bytes that are not UTF-8.
    UriInvalidUtf8,
    /// The issuer in the label differs from the `issuer` parameter.
    UriIssuerMismatch,
    /// The account name is empty.
    AccountNameEmpty,
    /// The account name contains `:`, which would be read as the issuer separator.
    AccountNameHasColon,
    /// The issuer is empty or contains `:` or an ASCII control character.
    InvalidIssuer,
    /// The account name starts with a space, which key URI readers drop after the issuer
    /// separator, so it would not read back the same.
    AccountNameLeadingSpace,
    /// The account name contains an ASCII control character (such as NUL or a line feed),
    /// which would cut it short in C or split it across lines on screen.
    AccountNameControlCharacter,
    /// Too many failed attempts: no code is checked before `retry_at`.
    Throttled {
        /// The Unix time from which attempts are allowed again.
        retry_at: u64,
    },
    /// A throttle setting is 0, or its longest lockout is shorter than its first.
    InvalidThrottle,
    /// A recovery code is not 16 symbols of its alphabet (ignoring `-` and spaces), or is
    /// longer than [`MAX_RECOVERY_CODE_INPUT_LEN`](crate::recovery::MAX_RECOVERY_CODE_INPUT_LEN)
    /// bytes.
    RecoveryCodeMalformed,
    /// Encoded user state does not start with its magic bytes: it is something else.
    StateBadMagic,
    /// Encoded user state has a version this crate cannot read.
    StateUnsupportedVersion {
        /// The version byte found.
        version: u8,
    },
    /// Encoded user state is not as long as its version requires.
    StateWrongLength {
        /// The length the encoding must have.
        expected: usize,
    },
    /// Encoded user state has a reserved flag or recovery bit set.
    StateInvalidFlags,
    /// Too many consecutive failures: the hard stop of the throttle. No one-time code is
    /// checked until a recovery code succeeds or an administrator resets the state.
    LockedOut,
    /// The HOTP counter is `u64::MAX`: no code can be accepted at it, since no later
    /// counter could block its replay. The key is used up; enroll a new one.
    CounterExhausted,
    /// Encoded user state fails its checksum: it was corrupted after it was written.
    StateCorrupt,
    /// An out-of-band server key is shorter than
    /// [`OOB_KEY_MIN_LEN`](crate::oob::OOB_KEY_MIN_LEN) bytes.
    OobKeyTooShort,
    /// An out-of-band server key is longer than
    /// [`OOB_KEY_MAX_LEN`](crate::oob::OOB_KEY_MAX_LEN) bytes.
    OobKeyTooLong,
    /// An out-of-band code policy has digits outside 6 to 8, a validity of 0 or more than
    /// 10 minutes, no attempt or more than the maximum, or a resend cooldown of 0 or more
    /// than an hour.
    InvalidOobPolicy,
    /// A new out-of-band code was asked for within the resend cooldown of the previous one.
    OobIssueTooSoon {
        /// The Unix time from which a new code can be issued.
        retry_at: u64,
    },
    /// The time is before the issue time of the out-of-band code on record.
    OobTimeBeforeIssue,
    /// An encoded out-of-band code record has an unknown state, a field out of its range
    /// or a reserved byte set.
    OobRecordInvalid,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::SecretEmpty => f.write_str("the secret is empty"),
            Error::SecretTooLong => write!(
                f,
                "the secret is longer than {} bytes",
                crate::MAX_SECRET_LEN
            ),
            Error::SecretTooShort { min_bits } => {
                write!(f, "the secret is shorter than {min_bits} bits")
            }
            Error::Base32InvalidCharacter { position } => {
                write!(f, "invalid base32 character at byte {position}")
            }
            Error::Base32InvalidLength => f.write_str("impossible base32 length"),
            Error::Base32InvalidPadding => f.write_str("misplaced or excess base32 padding"),
            Error::RandomnessUnavailable => f.write_str("no randomness available"),
            Error::InvalidDigits => f.write_str("digits must be from 6 to 10"),
            Error::InvalidPeriod => f.write_str("the TOTP period must be at least one second"),
            Error::WindowTooLarge => write!(
                f,
                "a verification window may hold at most {} steps each way ({} for HOTP resynchronisation)",
                crate::MAX_WINDOW,
                crate::MAX_RESYNC_WINDOW
            ),
            Error::TimeBeforeT0 => f.write_str("the time is before the TOTP start time T0"),
            Error::ClockBeforeUnixEpoch => f.write_str("the system clock is before 1970"),
            Error::CodeWrongLength => f.write_str("the code has the wrong number of digits"),
            Error::CodeInvalidCharacter => f.write_str("the code contains a non-digit"),
            Error::BufferTooSmall { needed } => {
                write!(f, "the output buffer is too small: {needed} bytes needed")
            }
            Error::UnknownAlgorithm => f.write_str("the algorithm is not SHA1, SHA256 or SHA512"),
            Error::UriInvalidScheme => f.write_str("the URI scheme is not otpauth"),
            Error::UriUnknownType => f.write_str("the URI type is neither totp nor hotp"),
            Error::UriMalformed => f.write_str("the URI is malformed"),
            Error::UriMissingSecret => f.write_str("the URI has no secret"),
            Error::UriMissingCounter => f.write_str("the hotp URI has no counter"),
            Error::UriInvalidCounter => f.write_str("the URI counter is not a 64-bit number"),
            Error::UriDuplicateParameter => f.write_str("a URI parameter appears twice"),
            Error::UriInvalidPercentEncoding => f.write_str("invalid percent-encoding in the URI"),
            Error::UriInvalidUtf8 => f.write_str("the URI decodes to invalid UTF-8"),
            Error::UriIssuerMismatch => {
                f.write_str("the label issuer differs from the issuer parameter")
            }
            Error::AccountNameEmpty => f.write_str("the account name is empty"),
            Error::AccountNameHasColon => f.write_str("the account name contains ':'"),
            Error::InvalidIssuer => {
                f.write_str("the issuer is empty or contains ':' or a control character")
            }
            Error::AccountNameLeadingSpace => f.write_str("the account name starts with a space"),
            Error::AccountNameControlCharacter => {
                f.write_str("the account name contains a control character")
            }
            Error::Throttled { retry_at } => {
                write!(f, "too many failed attempts: retry at Unix time {retry_at}")
            }
            Error::InvalidThrottle => f.write_str("invalid throttle settings"),
            Error::RecoveryCodeMalformed => f.write_str("the recovery code is malformed"),
            Error::StateBadMagic => f.write_str("the data is not an encoded user state"),
            Error::StateUnsupportedVersion { version } => {
                write!(f, "unsupported user state version {version}")
            }
            Error::StateWrongLength { expected } => {
                write!(f, "the encoded user state must be {expected} bytes long")
            }
            Error::StateInvalidFlags => f.write_str("the encoded user state has reserved bits set"),
            Error::LockedOut => f.write_str(
                "too many consecutive failed attempts: locked until a recovery code or an administrator reset",
            ),
            Error::CounterExhausted => {
                f.write_str("the HOTP counter is used up: enroll a new key")
            }
            Error::StateCorrupt => f.write_str("the encoded user state fails its checksum"),
            Error::OobKeyTooShort => write!(
                f,
                "the out-of-band server key is shorter than {} bytes",
                crate::oob::OOB_KEY_MIN_LEN
            ),
            Error::OobKeyTooLong => write!(
                f,
                "the out-of-band server key is longer than {} bytes",
                crate::oob::OOB_KEY_MAX_LEN
            ),
            Error::InvalidOobPolicy => f.write_str("invalid out-of-band code policy"),
            Error::OobIssueTooSoon { retry_at } => write!(
                f,
                "a code was sent too recently: a new one at Unix time {retry_at}"
            ),
            Error::OobTimeBeforeIssue => {
                f.write_str("the time is before the out-of-band code was issued")
            }
            Error::OobRecordInvalid => f.write_str("the out-of-band code record is invalid"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Error {}
