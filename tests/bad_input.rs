//! One table of bad inputs to every entry point, each with the exact `Error` it must give.
#![allow(clippy::unwrap_used, clippy::panic)]

use core::fmt;

use otpcore::{
    Algorithm, Digits, Error, Hotp, HotpParams, KeyUri, MAX_CODE_INPUT_LEN, MAX_HARD_STOP,
    MAX_RESYNC_WINDOW, MAX_WINDOW, Secret, SecretPolicy, Throttle, ThrottleState, Totp, TotpParams,
    USER_STATE_LEN, UserState, base32,
};
use otpcore::{OOB_RECORD_LEN, OobKey, OobPolicy, OobRecord};

type Case = (&'static str, fn() -> Result<(), Error>, Error);

const RFC_SECRET: &[u8; 20] = b"12345678901234567890";
/// 80 bits, the shortest secret the default policy takes.
const SECRET_B32: &str = "JBSWY3DPEHPK3PXP";

fn secret() -> Secret {
    Secret::from_bytes(RFC_SECRET).unwrap()
}

fn totp(params: TotpParams) -> Result<(), Error> {
    Totp::new(&secret(), params).map(drop)
}

fn totp_verify(code: &str) -> Result<(), Error> {
    let totp = Totp::new(&secret(), TotpParams::default())?;
    totp.verify(code, 1_700_000_000, None).map(drop)
}

fn totp_t0_100() -> Totp {
    let params = TotpParams {
        t0: 100,
        ..TotpParams::default()
    };
    Totp::new(&secret(), params).unwrap()
}

fn hotp() -> Hotp {
    Hotp::new(&secret(), HotpParams::default()).unwrap()
}

fn secret_b32(text: &str) -> Result<(), Error> {
    Secret::from_base32(text).map(drop)
}

fn secret_b32_strict(text: &str) -> Result<(), Error> {
    Secret::from_base32_with_policy(text, SecretPolicy::Strict).map(drop)
}

fn decode(text: &str) -> Result<(), Error> {
    base32::decode(text, &mut [0u8; 256]).map(drop)
}

fn parse(uri: &str) -> Result<(), Error> {
    KeyUri::parse(uri, &mut [0u8; 512]).map(drop)
}

fn parse_into(uri: &str, len: usize) -> Result<(), Error> {
    KeyUri::parse(uri, &mut vec![0u8; len]).map(drop)
}

fn build(uri: KeyUri<'_>) -> Result<(), Error> {
    uri.to_buf(&secret(), &mut [0u8; 512]).map(drop)
}

/// A `fmt::Write` into a fixed array that fails when full, like a caller's stack buffer.
struct Fixed<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> fmt::Write for Fixed<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len.checked_add(s.len()).ok_or(fmt::Error)?;
        self.buf
            .get_mut(self.len..end)
            .ok_or(fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

const CASES: &[Case] = &[
    // Secrets from bytes, under both policies.
    (
        "empty bytes",
        || Secret::from_bytes(&[]).map(drop),
        Error::SecretEmpty,
    ),
    (
        "empty bytes, strict",
        || Secret::from_bytes_with_policy(&[], SecretPolicy::Strict).map(drop),
        Error::SecretEmpty,
    ),
    (
        "257 bytes",
        || Secret::from_bytes(&[7; 257]).map(drop),
        Error::SecretTooLong,
    ),
    (
        "257 bytes, strict",
        || Secret::from_bytes_with_policy(&[7; 257], SecretPolicy::Strict).map(drop),
        Error::SecretTooLong,
    ),
    (
        "9 bytes",
        || Secret::from_bytes(&[7; 9]).map(drop),
        Error::SecretTooShort { min_bits: 80 },
    ),
    (
        "15 bytes, strict",
        || Secret::from_bytes_with_policy(&[7; 15], SecretPolicy::Strict).map(drop),
        Error::SecretTooShort { min_bits: 128 },
    ),
    // Secrets from base32.
    ("empty base32", || secret_b32(""), Error::SecretEmpty),
    (
        "only separators",
        || secret_b32(" - -  "),
        Error::SecretEmpty,
    ),
    (
        "empty base32, strict",
        || secret_b32_strict(""),
        Error::SecretEmpty,
    ),
    (
        "8 base32 chars (40 bits)",
        || secret_b32("JBSWY3DP"),
        Error::SecretTooShort { min_bits: 80 },
    ),
    (
        "16 base32 chars (80 bits), strict",
        || secret_b32_strict(SECRET_B32),
        Error::SecretTooShort { min_bits: 128 },
    ),
    (
        "416 base32 chars (260 bytes)",
        || secret_b32(&"A".repeat(416)),
        Error::SecretTooLong,
    ),
    (
        "416 base32 chars (260 bytes), strict",
        || secret_b32_strict(&"A".repeat(416)),
        Error::SecretTooLong,
    ),
    (
        "digit 1 in base32",
        || secret_b32("JBSWY3DP1HPK3PXP"),
        Error::Base32InvalidCharacter { position: 8 },
    ),
    (
        "digit 0 in base32",
        || secret_b32("0BSWY3DPEHPK3PXP"),
        Error::Base32InvalidCharacter { position: 0 },
    ),
    (
        "digit 8 in base32",
        || secret_b32("JBSWY3DPEHPK3PX8"),
        Error::Base32InvalidCharacter { position: 15 },
    ),
    (
        "underscore in base32",
        || secret_b32("JBSW_Y3DPEHPK3PXP"),
        Error::Base32InvalidCharacter { position: 4 },
    ),
    (
        "tab in base32",
        || secret_b32("JBSW\tY3DPEHPK3PXP"),
        Error::Base32InvalidCharacter { position: 4 },
    ),
    (
        "non-ASCII in base32 (byte offset)",
        || secret_b32("JBéSWY3DPEHPK3PXP"),
        Error::Base32InvalidCharacter { position: 2 },
    ),
    (
        "invalid character beats bad length",
        || decode("A!"),
        Error::Base32InvalidCharacter { position: 1 },
    ),
    (
        "1 symbol mod 8",
        || decode("JBSWY3DPE"),
        Error::Base32InvalidLength,
    ),
    (
        "3 symbols mod 8",
        || decode("JBS"),
        Error::Base32InvalidLength,
    ),
    (
        "6 symbols mod 8",
        || decode("JBSWY3"),
        Error::Base32InvalidLength,
    ),
    (
        "17 symbols (1 mod 8) as a secret",
        || secret_b32("JBSWY3DPEHPK3PXPA"),
        Error::Base32InvalidLength,
    ),
    (
        "padding in the middle",
        || decode("MY==MZXW"),
        Error::Base32InvalidPadding,
    ),
    (
        "too little padding",
        || decode("MZXW6=="),
        Error::Base32InvalidPadding,
    ),
    (
        "too much padding",
        || decode("MZXW6===="),
        Error::Base32InvalidPadding,
    ),
    (
        "padding alone",
        || decode("===="),
        Error::Base32InvalidPadding,
    ),
    (
        "a full block of padding after a complete block",
        || decode("MZXW6YTB========"),
        Error::Base32InvalidPadding,
    ),
    (
        "padding after a complete secret",
        || secret_b32("JBSWY3DPEHPK3PXP========"),
        Error::Base32InvalidPadding,
    ),
    // Base32 output and input buffers.
    (
        "base32 decode into a short buffer",
        || base32::decode("MZXW6YTBOI", &mut [0u8; 5]).map(drop),
        Error::BufferTooSmall { needed: 6 },
    ),
    (
        "base32 encode into a short buffer",
        || base32::encode(b"foobar", &mut [0u8; 9]).map(drop),
        Error::BufferTooSmall { needed: 10 },
    ),
    (
        "secret to_base32 into a short buffer",
        || {
            Secret::from_base32(SECRET_B32)?
                .to_base32(&mut [0u8; 15])
                .map(drop)
        },
        Error::BufferTooSmall { needed: 16 },
    ),
    (
        "code write_to into a short buffer",
        || hotp().generate(0).write_to(&mut [0u8; 5]).map(drop),
        Error::BufferTooSmall { needed: 6 },
    ),
    // Secret generation.
    (
        "generate 15 bytes",
        || Secret::generate_with(15, |_| Ok::<(), ()>(())).map(drop),
        Error::SecretTooShort { min_bits: 128 },
    ),
    (
        "generate 0 bytes",
        || Secret::generate_with(0, |_| Ok::<(), ()>(())).map(drop),
        Error::SecretEmpty,
    ),
    (
        "generate 257 bytes",
        || Secret::generate_with(257, |_| Ok::<(), ()>(())).map(drop),
        Error::SecretTooLong,
    ),
    (
        "entropy source fails",
        || Secret::generate_with(20, |_| Err(())).map(drop),
        Error::RandomnessUnavailable,
    ),
    // Parameters.
    (
        "0 digits",
        || Digits::new(0).map(drop),
        Error::InvalidDigits,
    ),
    (
        "5 digits",
        || Digits::new(5).map(drop),
        Error::InvalidDigits,
    ),
    (
        "11 digits",
        || Digits::new(11).map(drop),
        Error::InvalidDigits,
    ),
    (
        "255 digits",
        || Digits::try_from(255).map(drop),
        Error::InvalidDigits,
    ),
    (
        "algorithm SHA-1",
        || Algorithm::from_name("SHA-1").map(drop),
        Error::UnknownAlgorithm,
    ),
    (
        "algorithm MD5",
        || Algorithm::from_name("MD5").map(drop),
        Error::UnknownAlgorithm,
    ),
    (
        "empty algorithm",
        || Algorithm::from_name("").map(drop),
        Error::UnknownAlgorithm,
    ),
    (
        "period 0",
        || {
            totp(TotpParams {
                period: 0,
                ..TotpParams::default()
            })
        },
        Error::InvalidPeriod,
    ),
    (
        "look-back over MAX_WINDOW",
        || {
            totp(TotpParams {
                look_back: MAX_WINDOW + 1,
                ..TotpParams::default()
            })
        },
        Error::WindowTooLarge,
    ),
    (
        "look-ahead over MAX_WINDOW",
        || {
            totp(TotpParams {
                look_ahead: MAX_WINDOW + 1,
                ..TotpParams::default()
            })
        },
        Error::WindowTooLarge,
    ),
    (
        "look-ahead u32::MAX",
        || {
            totp(TotpParams {
                look_ahead: u32::MAX,
                ..TotpParams::default()
            })
        },
        Error::WindowTooLarge,
    ),
    (
        "HOTP look-ahead over MAX_WINDOW",
        || {
            let params = HotpParams {
                look_ahead: MAX_WINDOW + 1,
                ..HotpParams::default()
            };
            Hotp::new(&secret(), params).map(drop)
        },
        Error::WindowTooLarge,
    ),
    (
        "resync look-ahead over MAX_RESYNC_WINDOW",
        || {
            hotp()
                .resync("755224", "287082", 0, MAX_RESYNC_WINDOW + 1)
                .map(drop)
        },
        Error::WindowTooLarge,
    ),
    // HOTP counters that no code can be accepted at.
    (
        "HOTP verify at counter u64::MAX",
        || hotp().verify("755224", u64::MAX).map(drop),
        Error::CounterExhausted,
    ),
    (
        "HOTP resync at counter u64::MAX",
        || hotp().resync("755224", "287082", u64::MAX, 1).map(drop),
        Error::CounterExhausted,
    ),
    // Throttle settings and states.
    (
        "throttle hard stop above MAX_HARD_STOP",
        || {
            Throttle {
                hard_stop_after: MAX_HARD_STOP + 1,
                ..Throttle::default()
            }
            .validate()
        },
        Error::InvalidThrottle,
    ),
    (
        "throttle hard stop before the first lockout",
        || {
            Throttle {
                lockout_after: 5,
                hard_stop_after: 4,
                ..Throttle::default()
            }
            .validate()
        },
        Error::InvalidThrottle,
    ),
    (
        "code attempt at the hard stop",
        || {
            let mut state = ThrottleState {
                failures: 20,
                locked_until: 0,
            };
            let totp = Totp::new(&secret(), TotpParams::default())?;
            Throttle::default()
                .attempt(&mut state, 1_700_000_000, || {
                    totp.verify("123456", 1_700_000_000, None)
                })
                .map(drop)
        },
        Error::LockedOut,
    ),
    (
        "user state with a flipped bit",
        || {
            let mut bytes = [0u8; USER_STATE_LEN];
            UserState::default().encode(&mut bytes)?;
            if let Some(b) = bytes.get_mut(20) {
                *b ^= 1;
            }
            UserState::decode(&bytes).map(drop)
        },
        Error::StateCorrupt,
    ),
    // Time before T0 (T0 = 100).
    (
        "generate before T0",
        || totp_t0_100().generate(99).map(drop),
        Error::TimeBeforeT0,
    ),
    (
        "verify before T0",
        || totp_t0_100().verify("123456", 99, None).map(drop),
        Error::TimeBeforeT0,
    ),
    (
        "step_at before T0",
        || totp_t0_100().step_at(0).map(drop),
        Error::TimeBeforeT0,
    ),
    (
        "seconds_left before T0",
        || totp_t0_100().seconds_left(99).map(drop),
        Error::TimeBeforeT0,
    ),
    // Typed codes (6 digits configured).
    ("empty code", || totp_verify(""), Error::CodeWrongLength),
    (
        "code padded past MAX_CODE_INPUT_LEN",
        || {
            let padded = format!("123{}456", " ".repeat(MAX_CODE_INPUT_LEN - 5));
            assert_eq!(padded.len(), MAX_CODE_INPUT_LEN + 1);
            Totp::new(&secret(), TotpParams::default())?
                .verify(padded, 1_700_000_000, None)
                .map(drop)
        },
        Error::CodeWrongLength,
    ),
    (
        "a megabyte of spaces around six digits",
        || {
            let padded = format!("1{}23456", " ".repeat(1 << 20));
            hotp().verify(padded, 0).map(drop)
        },
        Error::CodeWrongLength,
    ),
    (
        "code of 5 digits",
        || totp_verify("12345"),
        Error::CodeWrongLength,
    ),
    (
        "code of 7 digits",
        || totp_verify("1234567"),
        Error::CodeWrongLength,
    ),
    (
        "5 digits in groups",
        || totp_verify("12 345"),
        Error::CodeWrongLength,
    ),
    (
        "7 digits in groups",
        || totp_verify("123 4567"),
        Error::CodeWrongLength,
    ),
    (
        "letter",
        || totp_verify("12345a"),
        Error::CodeInvalidCharacter,
    ),
    (
        "minus sign",
        || totp_verify("-12345"),
        Error::CodeInvalidCharacter,
    ),
    (
        "plus sign",
        || totp_verify("+123456"),
        Error::CodeInvalidCharacter,
    ),
    (
        "dash between groups",
        || totp_verify("123-456"),
        Error::CodeInvalidCharacter,
    ),
    (
        "tab between groups",
        || totp_verify("123\t456"),
        Error::CodeInvalidCharacter,
    ),
    (
        "leading space",
        || totp_verify(" 123456"),
        Error::CodeInvalidCharacter,
    ),
    (
        "trailing space",
        || totp_verify("123456 "),
        Error::CodeInvalidCharacter,
    ),
    (
        "trailing newline",
        || totp_verify("123456\n"),
        Error::CodeInvalidCharacter,
    ),
    (
        "only spaces",
        || totp_verify("      "),
        Error::CodeInvalidCharacter,
    ),
    (
        "Arabic-Indic digits",
        || totp_verify("١٢٣٤٥٦"),
        Error::CodeInvalidCharacter,
    ),
    (
        "full-width digits",
        || totp_verify("１２３４５６"),
        Error::CodeInvalidCharacter,
    ),
    (
        "non-breaking space between groups",
        || totp_verify("123\u{a0}456"),
        Error::CodeInvalidCharacter,
    ),
    (
        "6 digits where 8 are configured",
        || {
            let params = TotpParams {
                digits: Digits::EIGHT,
                ..TotpParams::default()
            };
            Totp::new(&secret(), params)?
                .verify("123456", 0, None)
                .map(drop)
        },
        Error::CodeWrongLength,
    ),
    (
        "HOTP code too short",
        || hotp().verify("75522", 0).map(drop),
        Error::CodeWrongLength,
    ),
    (
        "HOTP code with a letter",
        || hotp().verify("75522x", 0).map(drop),
        Error::CodeInvalidCharacter,
    ),
    (
        "resync first code malformed",
        || hotp().resync("7552244", "287082", 0, 100).map(drop),
        Error::CodeWrongLength,
    ),
    (
        "resync second code malformed",
        || hotp().resync("755224", "28708x", 0, 100).map(drop),
        Error::CodeInvalidCharacter,
    ),
    // Key URIs: scheme and type.
    ("empty URI", || parse(""), Error::UriInvalidScheme),
    (
        "http scheme",
        || parse("http://totp/a?secret=JBSWY3DPEHPK3PXP"),
        Error::UriInvalidScheme,
    ),
    (
        "one slash after the scheme",
        || parse("otpauth:/totp/a?secret=JBSWY3DPEHPK3PXP"),
        Error::UriInvalidScheme,
    ),
    (
        "scheme cut short by a multi-byte character",
        || parse("otpauth:/é"),
        Error::UriInvalidScheme,
    ),
    (
        "no slash after the type",
        || parse("otpauth://totp"),
        Error::UriMalformed,
    ),
    (
        "unknown type",
        || parse("otpauth://motp/a?secret=JBSWY3DPEHPK3PXP"),
        Error::UriUnknownType,
    ),
    (
        "empty type",
        || parse("otpauth:///a?secret=JBSWY3DPEHPK3PXP"),
        Error::UriUnknownType,
    ),
    (
        "type ended by the query, no label",
        || parse("otpauth://totp?secret=JBSWY3DPEHPK3PXP&issuer=a/b"),
        Error::UriMalformed,
    ),
    (
        "known parameter without =",
        || parse("otpauth://totp/a?secret=JBSWY3DPEHPK3PXP&digits"),
        Error::InvalidDigits,
    ),
    (
        "invalid percent-encoding in a parameter name",
        || parse("otpauth://totp/a?secret=JBSWY3DPEHPK3PXP&%zzimage=x"),
        Error::UriInvalidPercentEncoding,
    ),
    (
        "invalid percent-encoding in a digits value",
        || parse("otpauth://totp/a?secret=JBSWY3DPEHPK3PXP&digits=%3"),
        Error::UriInvalidPercentEncoding,
    ),
    (
        "percent-encoded digits value out of range",
        || parse("otpauth://totp/a?secret=JBSWY3DPEHPK3PXP&digits=%31%31"),
        Error::InvalidDigits,
    ),
    (
        "percent-encoded unknown algorithm",
        || parse("otpauth://totp/a?secret=JBSWY3DPEHPK3PXP&algorithm=SHA%2D1"),
        Error::UnknownAlgorithm,
    ),
    // Key URIs: secret.
    (
        "no query",
        || parse("otpauth://totp/alice"),
        Error::UriMissingSecret,
    ),
    (
        "no secret parameter",
        || parse("otpauth://totp/alice?issuer=ACME"),
        Error::UriMissingSecret,
    ),
    (
        "secret parameter name in upper case",
        || parse("otpauth://totp/alice?SECRET=JBSWY3DPEHPK3PXP"),
        Error::UriMissingSecret,
    ),
    (
        "empty secret",
        || parse("otpauth://totp/alice?secret="),
        Error::SecretEmpty,
    ),
    (
        "secret with an invalid character",
        || parse("otpauth://totp/alice?secret=JBSWY3DPEHPK3PX1"),
        Error::Base32InvalidCharacter { position: 15 },
    ),
    (
        "secret with a literal +",
        || parse("otpauth://totp/alice?secret=JBSWY3DP+EHPK3PXP"),
        Error::Base32InvalidCharacter { position: 8 },
    ),
    (
        "secret of impossible length",
        || parse("otpauth://totp/alice?secret=JBSWY3DPEHPK3PXPA"),
        Error::Base32InvalidLength,
    ),
    (
        "secret too short",
        || parse("otpauth://totp/alice?secret=JBSWY3DP"),
        Error::SecretTooShort { min_bits: 80 },
    ),
    (
        "secret too long",
        || parse(&format!("otpauth://totp/alice?secret={}", "A".repeat(416))),
        Error::SecretTooLong,
    ),
    (
        "secret far too long",
        || parse(&format!("otpauth://totp/alice?secret={}", "A".repeat(1000))),
        Error::SecretTooLong,
    ),
    (
        "long secret of invalid characters",
        || parse(&format!("otpauth://totp/alice?secret={}", "1".repeat(420))),
        Error::Base32InvalidCharacter { position: 0 },
    ),
    (
        "long secret of padding only",
        || parse(&format!("otpauth://totp/alice?secret={}", "=".repeat(420))),
        Error::Base32InvalidPadding,
    ),
    // Key URIs: HOTP counter.
    (
        "hotp without counter",
        || parse("otpauth://hotp/alice?secret=JBSWY3DPEHPK3PXP"),
        Error::UriMissingCounter,
    ),
    (
        "non-numeric counter",
        || parse("otpauth://hotp/alice?secret=JBSWY3DPEHPK3PXP&counter=abc"),
        Error::UriInvalidCounter,
    ),
    (
        "empty counter",
        || parse("otpauth://hotp/alice?secret=JBSWY3DPEHPK3PXP&counter="),
        Error::UriInvalidCounter,
    ),
    (
        "negative counter",
        || parse("otpauth://hotp/alice?secret=JBSWY3DPEHPK3PXP&counter=-1"),
        Error::UriInvalidCounter,
    ),
    (
        "counter with a plus sign",
        || parse("otpauth://hotp/alice?secret=JBSWY3DPEHPK3PXP&counter=+1"),
        Error::UriInvalidCounter,
    ),
    (
        "counter 2^64",
        || parse("otpauth://hotp/alice?secret=JBSWY3DPEHPK3PXP&counter=18446744073709551616"),
        Error::UriInvalidCounter,
    ),
    // Key URIs: digits, period, algorithm.
    (
        "digits 5",
        || parse("otpauth://totp/alice?secret=JBSWY3DPEHPK3PXP&digits=5"),
        Error::InvalidDigits,
    ),
    (
        "digits 11",
        || parse("otpauth://totp/alice?secret=JBSWY3DPEHPK3PXP&digits=11"),
        Error::InvalidDigits,
    ),
    (
        "digits 262 (wraps to 6 in a u8)",
        || parse("otpauth://totp/alice?secret=JBSWY3DPEHPK3PXP&digits=262"),
        Error::InvalidDigits,
    ),
    (
        "digits beyond u64",
        || parse("otpauth://totp/alice?secret=JBSWY3DPEHPK3PXP&digits=99999999999999999999999"),
        Error::InvalidDigits,
    ),
    (
        "digits not a number",
        || parse("otpauth://totp/alice?secret=JBSWY3DPEHPK3PXP&digits=six"),
        Error::InvalidDigits,
    ),
    (
        "empty digits",
        || parse("otpauth://totp/alice?secret=JBSWY3DPEHPK3PXP&digits="),
        Error::InvalidDigits,
    ),
    (
        "period 0 in a URI",
        || parse("otpauth://totp/alice?secret=JBSWY3DPEHPK3PXP&period=0"),
        Error::InvalidPeriod,
    ),
    (
        "negative period",
        || parse("otpauth://totp/alice?secret=JBSWY3DPEHPK3PXP&period=-30"),
        Error::InvalidPeriod,
    ),
    (
        "period with a unit",
        || parse("otpauth://totp/alice?secret=JBSWY3DPEHPK3PXP&period=30s"),
        Error::InvalidPeriod,
    ),
    (
        "empty period",
        || parse("otpauth://totp/alice?secret=JBSWY3DPEHPK3PXP&period="),
        Error::InvalidPeriod,
    ),
    (
        "algorithm SHA-256",
        || parse("otpauth://totp/alice?secret=JBSWY3DPEHPK3PXP&algorithm=SHA-256"),
        Error::UnknownAlgorithm,
    ),
    (
        "algorithm MD5 in a URI",
        || parse("otpauth://totp/alice?secret=JBSWY3DPEHPK3PXP&algorithm=MD5"),
        Error::UnknownAlgorithm,
    ),
    (
        "empty algorithm in a URI",
        || parse("otpauth://totp/alice?secret=JBSWY3DPEHPK3PXP&algorithm="),
        Error::UnknownAlgorithm,
    ),
    // Key URIs: percent-encoding and UTF-8.
    (
        "truncated escape at the end of the label",
        || parse("otpauth://totp/alice%2?secret=JBSWY3DPEHPK3PXP"),
        Error::UriInvalidPercentEncoding,
    ),
    (
        "lone % in the label",
        || parse("otpauth://totp/al%ice?secret=JBSWY3DPEHPK3PXP"),
        Error::UriInvalidPercentEncoding,
    ),
    (
        "non-hex escape in the label",
        || parse("otpauth://totp/alice%zz?secret=JBSWY3DPEHPK3PXP"),
        Error::UriInvalidPercentEncoding,
    ),
    (
        "bad escape in the issuer parameter",
        || parse("otpauth://totp/alice?secret=JBSWY3DPEHPK3PXP&issuer=AC%G0ME"),
        Error::UriInvalidPercentEncoding,
    ),
    (
        "bad escape in the issuer parameter next to a label issuer",
        || parse("otpauth://totp/ACME:alice?secret=JBSWY3DPEHPK3PXP&issuer=ACME%"),
        Error::UriInvalidPercentEncoding,
    ),
    (
        "bad escape in the secret",
        || parse("otpauth://totp/alice?secret=JBSWY3DPEHPK3PX%5"),
        Error::UriInvalidPercentEncoding,
    ),
    (
        "invalid UTF-8 in the account",
        || parse("otpauth://totp/alice%FF?secret=JBSWY3DPEHPK3PXP"),
        Error::UriInvalidUtf8,
    ),
    (
        "truncated UTF-8 sequence in the issuer parameter",
        || parse("otpauth://totp/alice?secret=JBSWY3DPEHPK3PXP&issuer=ACME%C3"),
        Error::UriInvalidUtf8,
    ),
    (
        "UTF-8 encoded surrogate in the label issuer",
        || parse("otpauth://totp/%ED%A0%80:alice?secret=JBSWY3DPEHPK3PXP"),
        Error::UriInvalidUtf8,
    ),
    // Key URIs: duplicates.
    (
        "secret twice",
        || parse("otpauth://totp/alice?secret=JBSWY3DPEHPK3PXP&secret=JBSWY3DPEHPK3PXP"),
        Error::UriDuplicateParameter,
    ),
    (
        "issuer twice",
        || parse("otpauth://totp/alice?secret=JBSWY3DPEHPK3PXP&issuer=A&issuer=A"),
        Error::UriDuplicateParameter,
    ),
    (
        "algorithm twice",
        || parse("otpauth://totp/alice?secret=JBSWY3DPEHPK3PXP&algorithm=SHA1&algorithm=sha1"),
        Error::UriDuplicateParameter,
    ),
    (
        "digits twice",
        || parse("otpauth://totp/alice?secret=JBSWY3DPEHPK3PXP&digits=6&digits=8"),
        Error::UriDuplicateParameter,
    ),
    (
        "period twice",
        || parse("otpauth://totp/alice?secret=JBSWY3DPEHPK3PXP&period=30&period=30"),
        Error::UriDuplicateParameter,
    ),
    (
        "counter twice",
        || parse("otpauth://hotp/alice?secret=JBSWY3DPEHPK3PXP&counter=1&counter=2"),
        Error::UriDuplicateParameter,
    ),
    // Key URIs: issuer and account.
    (
        "label issuer differs from the parameter",
        || parse("otpauth://totp/ACME:alice?secret=JBSWY3DPEHPK3PXP&issuer=Other"),
        Error::UriIssuerMismatch,
    ),
    (
        "issuer differs only in case",
        || parse("otpauth://totp/ACME:alice?secret=JBSWY3DPEHPK3PXP&issuer=acme"),
        Error::UriIssuerMismatch,
    ),
    (
        "percent-encoded NUL in the account",
        || parse("otpauth://totp/ACME:alice%00evil?secret=JBSWY3DPEHPK3PXP"),
        Error::AccountNameControlCharacter,
    ),
    (
        "percent-encoded line feed in the issuer parameter",
        || parse("otpauth://totp/alice?secret=JBSWY3DPEHPK3PXP&issuer=ACME%0A"),
        Error::InvalidIssuer,
    ),
    (
        "empty issuer parameter next to a label issuer",
        || parse("otpauth://totp/ACME:alice?secret=JBSWY3DPEHPK3PXP&issuer="),
        Error::UriIssuerMismatch,
    ),
    (
        "issuer parameter with a colon next to a label issuer",
        || parse("otpauth://totp/ACME:alice?secret=JBSWY3DPEHPK3PXP&issuer=AC%3AME"),
        Error::InvalidIssuer,
    ),
    (
        "parameter issuer is a prefix of the label issuer",
        || parse("otpauth://totp/ACME%20Co:alice?secret=JBSWY3DPEHPK3PXP&issuer=ACME"),
        Error::UriIssuerMismatch,
    ),
    (
        "empty label",
        || parse("otpauth://totp/?secret=JBSWY3DPEHPK3PXP"),
        Error::AccountNameEmpty,
    ),
    (
        "empty account after the issuer",
        || parse("otpauth://totp/ACME:?secret=JBSWY3DPEHPK3PXP"),
        Error::AccountNameEmpty,
    ),
    (
        "account of only spaces",
        || parse("otpauth://totp/ACME:%20%20?secret=JBSWY3DPEHPK3PXP"),
        Error::AccountNameEmpty,
    ),
    (
        "second colon in the label",
        || parse("otpauth://totp/ACME:alice:bob?secret=JBSWY3DPEHPK3PXP"),
        Error::AccountNameHasColon,
    ),
    (
        "encoded colon in the account",
        || parse("otpauth://totp/ACME:alice%3Abob?secret=JBSWY3DPEHPK3PXP"),
        Error::AccountNameHasColon,
    ),
    (
        "empty label issuer next to an issuer parameter",
        || parse("otpauth://totp/:alice?secret=JBSWY3DPEHPK3PXP&issuer=ACME"),
        Error::UriIssuerMismatch,
    ),
    (
        "colon in the issuer parameter",
        || parse("otpauth://totp/alice?secret=JBSWY3DPEHPK3PXP&issuer=AC%3AME"),
        Error::InvalidIssuer,
    ),
    // Key URIs: buffers. "A B" + "alé" decode to 3 + 4 bytes.
    (
        "parse buffer one byte short",
        || {
            parse_into(
                "otpauth://totp/A%20B:al%C3%A9?secret=JBSWY3DPEHPK3PXP&issuer=A%20B",
                6,
            )
        },
        Error::BufferTooSmall { needed: 7 },
    ),
    (
        "parse into an empty buffer",
        || parse_into("otpauth://totp/alice?secret=JBSWY3DPEHPK3PXP", 0),
        Error::BufferTooSmall { needed: 5 },
    ),
    (
        "to_buf one byte short",
        || {
            // otpauth://totp/ (15) + alice (5) + ?secret= (8) + 32 base32 chars = 60.
            KeyUri::totp("alice")
                .to_buf(&secret(), &mut [0u8; 59])
                .map(drop)
        },
        Error::BufferTooSmall { needed: 60 },
    ),
    (
        "to_buf of an HOTP URI one byte short",
        || {
            // ... + &counter=42 (11) = 71.
            KeyUri::hotp("alice", 42)
                .to_buf(&secret(), &mut [0u8; 70])
                .map(drop)
        },
        Error::BufferTooSmall { needed: 71 },
    ),
    (
        "write into a full fixed buffer",
        || {
            let mut w = Fixed {
                buf: [0u8; 59],
                len: 0,
            };
            KeyUri::totp("alice").write(&secret(), &mut w)
        },
        Error::BufferTooSmall { needed: 0 },
    ),
    // Key URIs: building.
    (
        "build with an empty account",
        || build(KeyUri::totp("")),
        Error::AccountNameEmpty,
    ),
    (
        "build with a colon in the account",
        || build(KeyUri::totp("alice:bob")),
        Error::AccountNameHasColon,
    ),
    (
        "build with a space before the account",
        || build(KeyUri::totp(" alice")),
        Error::AccountNameLeadingSpace,
    ),
    (
        "build with a NUL in the account",
        || build(KeyUri::totp("alice\0evil")),
        Error::AccountNameControlCharacter,
    ),
    (
        "build with a line feed in the account",
        || build(KeyUri::totp("alice\nadmin")),
        Error::AccountNameControlCharacter,
    ),
    (
        "build with a control character in the issuer",
        || build(KeyUri::totp("alice").with_issuer("ACME\u{7f}")),
        Error::InvalidIssuer,
    ),
    (
        "build with an empty issuer",
        || build(KeyUri::totp("alice").with_issuer("")),
        Error::InvalidIssuer,
    ),
    (
        "build with a colon in the issuer",
        || build(KeyUri::totp("alice").with_issuer("AC:ME")),
        Error::InvalidIssuer,
    ),
    (
        "build with period 0",
        || {
            build(KeyUri {
                period: 0,
                ..KeyUri::totp("alice")
            })
        },
        Error::InvalidPeriod,
    ),
    (
        "encoded_len with an empty account",
        || KeyUri::totp("").encoded_len(&secret()).map(drop),
        Error::AccountNameEmpty,
    ),
    (
        "write with a colon in the account",
        || {
            let mut w = Fixed {
                buf: [0u8; 256],
                len: 0,
            };
            KeyUri::totp("a:b").write(&secret(), &mut w)
        },
        Error::AccountNameHasColon,
    ),
    // Out-of-band codes: server keys, policies, times, typed codes and records.
    (
        "oob key of 15 bytes",
        || OobKey::new(&[7; 15]).map(drop),
        Error::OobKeyTooShort,
    ),
    (
        "empty oob key",
        || OobKey::new(&[]).map(drop),
        Error::OobKeyTooShort,
    ),
    (
        "oob key of 65 bytes",
        || OobKey::new(&[7; 65]).map(drop),
        Error::OobKeyTooLong,
    ),
    (
        "oob policy with 5 digits",
        || {
            oob_issue(OobPolicy {
                digits: 5,
                ..OobPolicy::default()
            })
        },
        Error::InvalidOobPolicy,
    ),
    (
        "oob policy with 9 digits",
        || {
            oob_issue(OobPolicy {
                digits: 9,
                ..OobPolicy::default()
            })
        },
        Error::InvalidOobPolicy,
    ),
    (
        "oob policy with an expiry of 0",
        || {
            oob_issue(OobPolicy {
                ttl_secs: 0,
                ..OobPolicy::default()
            })
        },
        Error::InvalidOobPolicy,
    ),
    (
        "oob policy with an expiry beyond 10 minutes",
        || {
            oob_issue(OobPolicy {
                ttl_secs: 601,
                ..OobPolicy::default()
            })
        },
        Error::InvalidOobPolicy,
    ),
    (
        "oob policy with no attempt",
        || {
            oob_issue(OobPolicy {
                max_attempts: 0,
                ..OobPolicy::default()
            })
        },
        Error::InvalidOobPolicy,
    ),
    (
        "oob policy with 11 attempts",
        || {
            oob_issue(OobPolicy {
                max_attempts: 11,
                ..OobPolicy::default()
            })
        },
        Error::InvalidOobPolicy,
    ),
    (
        "oob policy without a resend cooldown",
        || {
            oob_issue(OobPolicy {
                resend_cooldown_secs: 0,
                ..OobPolicy::default()
            })
        },
        Error::InvalidOobPolicy,
    ),
    (
        "oob policy with a resend cooldown beyond an hour",
        || {
            oob_issue(OobPolicy {
                resend_cooldown_secs: 3601,
                ..OobPolicy::default()
            })
        },
        Error::InvalidOobPolicy,
    ),
    (
        "oob policy check",
        || {
            OobPolicy {
                digits: 10,
                ..OobPolicy::default()
            }
            .validate()
        },
        Error::InvalidOobPolicy,
    ),
    (
        "oob entropy source that fails",
        || {
            OobRecord::default()
                .issue_with(&oob_key(), "alice", &OobPolicy::default(), OOB_T, |_| {
                    Err(())
                })
                .map(drop)
        },
        Error::RandomnessUnavailable,
    ),
    (
        "oob verify a second before the issue",
        || oob_verify("123456", OOB_T - 1),
        Error::OobTimeBeforeIssue,
    ),
    (
        "oob verify at time 0",
        || oob_verify("123456", 0),
        Error::OobTimeBeforeIssue,
    ),
    (
        "oob issue before the previous issue",
        || oob_reissue(OOB_T - 1),
        Error::OobTimeBeforeIssue,
    ),
    (
        "oob issue within the resend cooldown",
        || oob_reissue(OOB_T + 59),
        Error::OobIssueTooSoon {
            retry_at: OOB_T + 60,
        },
    ),
    (
        "oob code with a letter",
        || oob_verify("12a456", OOB_T),
        Error::CodeInvalidCharacter,
    ),
    (
        "oob code with a leading space",
        || oob_verify(" 123456", OOB_T),
        Error::CodeInvalidCharacter,
    ),
    (
        "oob code with a non-ASCII digit",
        || oob_verify("12345\u{0664}", OOB_T),
        Error::CodeInvalidCharacter,
    ),
    (
        "oob code of 5 digits",
        || oob_verify("12345", OOB_T),
        Error::CodeWrongLength,
    ),
    (
        "oob code of 7 digits",
        || oob_verify("1234567", OOB_T),
        Error::CodeWrongLength,
    ),
    (
        "empty oob code",
        || oob_verify("", OOB_T),
        Error::CodeWrongLength,
    ),
    (
        "oob record with an unknown state",
        || oob_record(|b| b[0] = 3),
        Error::OobRecordInvalid,
    ),
    (
        "oob record with 9 digits",
        || oob_record(|b| b[1] = 9),
        Error::OobRecordInvalid,
    ),
    (
        "oob record with more attempts used than allowed",
        || oob_record(|b| b[2] = 4),
        Error::OobRecordInvalid,
    ),
    (
        "oob record allowing no attempt",
        || oob_record(|b| b[3] = 0),
        Error::OobRecordInvalid,
    ),
    (
        "oob record with a reserved byte set",
        || oob_record(|b| b[7] = 1),
        Error::OobRecordInvalid,
    ),
    (
        "oob record expiring more than 10 minutes after its issue",
        || oob_record(|b| b[16..24].copy_from_slice(&(OOB_T + 601).to_be_bytes())),
        Error::OobRecordInvalid,
    ),
    (
        "oob record expiring before its issue",
        || oob_record(|b| b[16..24].copy_from_slice(&(OOB_T - 1).to_be_bytes())),
        Error::OobRecordInvalid,
    ),
    (
        "empty oob record with a stray byte",
        || {
            OobRecord::from_bytes(&{
                let mut b = [0u8; OOB_RECORD_LEN];
                b[55] = 1;
                b
            })
            .map(drop)
        },
        Error::OobRecordInvalid,
    ),
];

#[test]
fn every_bad_input_gives_its_specific_error() {
    let mut failures = Vec::new();
    for (name, run, expected) in CASES {
        let got = run();
        if got != Err(*expected) {
            failures.push(format!("{name}: expected Err({expected:?}), got {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn case_names_are_unique() {
    let mut names: Vec<&str> = CASES.iter().map(|(name, _, _)| *name).collect();
    names.sort_unstable();
    let before = names.len();
    names.dedup();
    assert_eq!(before, names.len());
}

#[test]
fn error_messages_name_the_fault_without_secret_material() {
    for (name, run, _) in CASES {
        let Err(error) = run() else { continue };
        let message = error.to_string();
        assert!(!message.is_empty(), "{name}");
        for leak in [SECRET_B32, "JBSWY3DP", "1234567890"] {
            assert!(!message.contains(leak), "{name}: {message}");
        }
    }
}

#[test]
fn hotp_windows_end_before_u64_max_so_no_accepted_code_is_replayable() {
    // 10 digits make a chance collision between the codes of counters 0..3 and u64::MAX
    // impossible to overlook: the assertion below checks there is none.
    let params = HotpParams {
        digits: Digits::new(10).unwrap(),
        look_ahead: 3,
        ..HotpParams::default()
    };
    let hotp = Hotp::new(&secret(), params).unwrap();
    let at_max = hotp.generate(u64::MAX).to_string();
    for wrapped in 0..3 {
        let code = hotp.generate(wrapped).to_string();
        assert_ne!(code, at_max);
        assert_eq!(
            hotp.verify(&code, u64::MAX - 1),
            Ok(otpcore::Verification::Invalid),
            "code of counter {wrapped} accepted near the end"
        );
    }
    // The code of counter u64::MAX is never accepted: nothing could block its replay.
    assert_eq!(
        hotp.verify(&at_max, u64::MAX - 2),
        Ok(otpcore::Verification::Invalid)
    );
    assert_eq!(hotp.verify(&at_max, u64::MAX), Err(Error::CounterExhausted));
    // The exhausted counter is checked before the code is read: it wins over a code that
    // is too long (or otherwise malformed), as the docs and the C header say.
    let too_long = "1".repeat(otpcore::MAX_CODE_INPUT_LEN + 1);
    assert_eq!(
        hotp.verify(&too_long, u64::MAX),
        Err(Error::CounterExhausted)
    );
    assert_eq!(hotp.verify(&too_long, 0), Err(Error::CodeWrongLength));
    let window = otpcore::MAX_RESYNC_WINDOW + 1;
    assert_eq!(
        hotp.resync(&too_long, "x", u64::MAX, window),
        Err(Error::CounterExhausted)
    );
    assert_eq!(
        hotp.resync(&too_long, "x", 0, window),
        Err(Error::CodeWrongLength)
    );
    assert_eq!(
        hotp.resync(&at_max, "x", 0, window),
        Err(Error::CodeInvalidCharacter)
    );
    // The last usable counter still works, and its successor is the exhausted counter.
    let last = hotp.generate(u64::MAX - 1).to_string();
    let matched = hotp.verify(&last, u64::MAX - 2).unwrap().valid_match();
    assert_eq!(matched.map(|m| (m.step, m.drift)), Some((u64::MAX - 1, 1)));
    assert_eq!(matched.and_then(|m| m.next_counter()), Some(u64::MAX));
    let first = hotp.generate(u64::MAX - 2).to_string();
    let resynced = hotp.resync(&first, &last, u64::MAX - 10, 20).unwrap();
    assert_eq!(resynced.valid_match().map(|m| m.step), Some(u64::MAX - 1));
    assert_eq!(
        hotp.resync(&last, &at_max, u64::MAX - 10, 20),
        Ok(otpcore::Verification::Invalid)
    );
}

#[test]
fn failed_writes_leave_the_output_buffer_untouched() {
    let mut out = [0xAAu8; 8];
    assert_eq!(
        base32::decode("MZXW6YTBO!", &mut out).map(drop),
        Err(Error::Base32InvalidCharacter { position: 9 })
    );
    assert_eq!(
        base32::decode("MZXW6YTBOJRGC4TAMFZA", &mut out).map(drop),
        Err(Error::BufferTooSmall { needed: 12 })
    );
    assert_eq!(out, [0xAA; 8]);
    let mut uri = [0xAAu8; 59];
    assert_eq!(
        KeyUri::totp("alice").to_buf(&secret(), &mut uri).map(drop),
        Err(Error::BufferTooSmall { needed: 60 })
    );
    assert_eq!(uri, [0xAA; 59]);
    let mut fields = [0xAAu8; 4];
    assert_eq!(
        KeyUri::parse("otpauth://totp/alice?secret=JBSWY3DPEHPK3PXP", &mut fields).map(drop),
        Err(Error::BufferTooSmall { needed: 5 })
    );
    assert_eq!(fields, [0xAA; 4]);
}

const OOB_T: u64 = 1_700_000_000;

fn oob_key() -> OobKey {
    OobKey::new(&[7; 32]).unwrap()
}

fn oob_fill(buf: &mut [u8]) -> Result<(), ()> {
    buf.fill(0x5a);
    Ok(())
}

fn oob_issue(policy: OobPolicy) -> Result<(), Error> {
    OobRecord::default()
        .issue_with(&oob_key(), "alice", &policy, OOB_T, oob_fill)
        .map(drop)
}

/// A record with a six-digit code for alice issued at `OOB_T` under the default policy.
fn oob_pending() -> OobRecord {
    let mut record = OobRecord::default();
    record
        .issue_with(&oob_key(), "alice", &OobPolicy::default(), OOB_T, oob_fill)
        .unwrap();
    record
}

fn oob_verify(typed: &str, now: u64) -> Result<(), Error> {
    oob_pending()
        .verify(&oob_key(), "alice", typed, now)
        .map(drop)
}

fn oob_reissue(now: u64) -> Result<(), Error> {
    oob_pending()
        .issue_with(&oob_key(), "alice", &OobPolicy::default(), now, oob_fill)
        .map(drop)
}

/// The pending record's encoding with `patch` applied, decoded.
fn oob_record(patch: fn(&mut [u8; OOB_RECORD_LEN])) -> Result<(), Error> {
    let mut bytes = oob_pending().to_bytes();
    patch(&mut bytes);
    OobRecord::from_bytes(&bytes).map(drop)
}
