//! `otpauth://` key URIs (the Google Authenticator "Key Uri Format"), built and parsed
//! without allocation.
//!
//! Building writes `otpauth://TYPE/ISSUER:ACCOUNT?secret=…&issuer=…` with the issuer both as
//! label prefix and as parameter, then `algorithm`, `digits` and `period` only when they are
//! not the defaults, and `counter` always for HOTP. Issuer and account are percent-encoded
//! as RFC 3986 asks: every byte except the unreserved characters `A-Z a-z 0-9 - . _ ~` and
//! `@` (kept for readable e-mail addresses) becomes `%XX`, so a space is `%20` (never `+`)
//! and `& # ? + % / = :` and non-ASCII text are always escaped.
//!
//! Parsing is strict and gives one specific [`Error`] per fault. It accepts `:` or `%3A` as
//! the label separator, spaces before the account name, algorithm names in any case and
//! percent-encoding in parameter names and values (`digits=%38` is 8 digits), and ignores
//! parameters it does not know (such as `image`, with or without a value); a `+` stays a
//! `+`. An empty issuer (label prefix, parameter or both) is read as no issuer, as pyotp
//! writes it; see [`KeyUri::parse`]. On any error the caller's buffer is left untouched.

use core::fmt::{self, Write};

use crate::code::Digits;
use crate::{Algorithm, Error, HotpParams, Secret, SecretPolicy, TotpParams};

/// Whether a key URI is for TOTP or HOTP.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum OtpType {
    /// Time-based (`otpauth://totp/`).
    #[default]
    Totp,
    /// Counter-based (`otpauth://hotp/`).
    Hotp,
}

impl OtpType {
    const fn name(self) -> &'static str {
        match self {
            OtpType::Totp => "totp",
            OtpType::Hotp => "hotp",
        }
    }
}

/// The fields of a key URI except the secret, which is passed in when building and
/// returned separately when parsing.
///
/// ```
/// use otpcore::{KeyUri, Secret};
/// let secret = Secret::from_base32("JBSWY3DPEHPK3PXP")?;
/// let uri = KeyUri::totp("alice@example.com").with_issuer("ACME Co");
/// let mut buf = [0u8; 256];
/// let text = uri.to_buf(&secret, &mut buf)?;
/// assert_eq!(
///     text,
///     "otpauth://totp/ACME%20Co:alice@example.com?secret=JBSWY3DPEHPK3PXP&issuer=ACME%20Co"
/// );
///
/// let mut fields = [0u8; 256];
/// let (parsed, parsed_secret) = KeyUri::parse(text, &mut fields)?;
/// assert_eq!(parsed, uri);
/// assert_eq!(parsed_secret.as_bytes(), secret.as_bytes());
/// # Ok::<(), otpcore::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KeyUri<'a> {
    /// TOTP or HOTP.
    pub otp_type: OtpType,
    /// The service the account belongs to, shown above the code in the app.
    pub issuer: Option<&'a str>,
    /// The account name, such as an e-mail address.
    pub account: &'a str,
    /// The HMAC hash function.
    pub algorithm: Algorithm,
    /// The number of digits.
    pub digits: Digits,
    /// The TOTP period in seconds (ignored for HOTP).
    pub period: u64,
    /// The HOTP initial counter (ignored for TOTP).
    pub counter: u64,
}

/// Which settings of a key would be silently ignored by Google Authenticator and the many
/// apps that behave like it, which then show codes that never verify.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Compatibility {
    /// The algorithm is not SHA1 (several apps compute SHA1 codes regardless).
    pub algorithm_ignored: bool,
    /// The code length is not 6 digits.
    pub digits_ignored: bool,
    /// The period is not 30 seconds (TOTP only).
    pub period_ignored: bool,
}

impl Compatibility {
    /// `true` when every setting is one all common authenticator apps honour.
    pub const fn is_compatible(&self) -> bool {
        !(self.algorithm_ignored || self.digits_ignored || self.period_ignored)
    }
}

const DEFAULT_PERIOD: u64 = 30;

impl<'a> KeyUri<'a> {
    /// A TOTP key URI for `account` with the default settings (SHA1, 6 digits, 30 s).
    pub fn totp(account: &'a str) -> Self {
        KeyUri {
            otp_type: OtpType::Totp,
            issuer: None,
            account,
            algorithm: Algorithm::Sha1,
            digits: Digits::SIX,
            period: DEFAULT_PERIOD,
            counter: 0,
        }
    }

    /// An HOTP key URI for `account` starting at `counter`.
    pub fn hotp(account: &'a str, counter: u64) -> Self {
        KeyUri {
            otp_type: OtpType::Hotp,
            counter,
            ..KeyUri::totp(account)
        }
    }

    /// The same URI with `issuer` set.
    pub fn with_issuer(self, issuer: &'a str) -> Self {
        KeyUri {
            issuer: Some(issuer),
            ..self
        }
    }

    /// The same URI with the algorithm, digits and period of `params`.
    pub fn with_totp_params(self, params: &TotpParams) -> Self {
        KeyUri {
            algorithm: params.algorithm,
            digits: params.digits,
            period: params.period,
            ..self
        }
    }

    /// TOTP settings from this URI (windows at their defaults).
    pub fn totp_params(&self) -> TotpParams {
        TotpParams {
            algorithm: self.algorithm,
            digits: self.digits,
            period: self.period,
            ..TotpParams::default()
        }
    }

    /// HOTP settings from this URI (look-ahead at its default).
    pub fn hotp_params(&self) -> HotpParams {
        HotpParams {
            algorithm: self.algorithm,
            digits: self.digits,
            ..HotpParams::default()
        }
    }

    /// Which settings common authenticator apps would silently ignore.
    pub fn compatibility(&self) -> Compatibility {
        Compatibility {
            algorithm_ignored: self.algorithm != Algorithm::Sha1,
            digits_ignored: self.digits != Digits::SIX,
            period_ignored: self.otp_type == OtpType::Totp && self.period != DEFAULT_PERIOD,
        }
    }

    fn check(&self) -> Result<(), Error> {
        valid_account(self.account.bytes().map(Ok))?;
        if let Some(issuer) = self.issuer {
            valid_issuer(issuer.bytes().map(Ok))?;
        }
        if self.otp_type == OtpType::Totp && self.period == 0 {
            return Err(Error::InvalidPeriod);
        }
        Ok(())
    }

    /// Writes the URI with `secret` into `w`.
    ///
    /// Checks the fields first (see [`Error::AccountNameEmpty`],
    /// [`Error::AccountNameHasColon`], [`Error::AccountNameLeadingSpace`],
    /// [`Error::AccountNameControlCharacter`], [`Error::InvalidIssuer`],
    /// [`Error::InvalidPeriod`]);
    /// an error from `w` itself is [`Error::BufferTooSmall`] with `needed` 0, since a
    /// formatter cannot say how much room it lacked.
    pub fn write(&self, secret: &Secret, w: &mut impl Write) -> Result<(), Error> {
        self.check()?;
        self.write_unchecked(secret, w)
            .map_err(|_| Error::BufferTooSmall { needed: 0 })
    }

    /// The length in bytes of the URI that [`KeyUri::to_buf`] writes.
    pub fn encoded_len(&self, secret: &Secret) -> Result<usize, Error> {
        self.check()?;
        let mut counter = Counter(0);
        self.write_unchecked(secret, &mut counter)
            .map_err(|_| Error::BufferTooSmall { needed: 0 })?;
        Ok(counter.0)
    }

    /// Writes the URI with `secret` into `out` and returns it as a string. When `out` is too
    /// small, returns [`Error::BufferTooSmall`] with the length needed and writes nothing.
    ///
    /// The URI contains the secret: wipe `out` when done with it.
    pub fn to_buf<'o>(&self, secret: &Secret, out: &'o mut [u8]) -> Result<&'o str, Error> {
        let needed = self.encoded_len(secret)?;
        let out = out
            .get_mut(..needed)
            .ok_or(Error::BufferTooSmall { needed })?;
        let mut writer = SliceWriter { out, len: 0 };
        self.write_unchecked(secret, &mut writer)
            .map_err(|_| Error::BufferTooSmall { needed })?;
        let SliceWriter { out, .. } = writer;
        core::str::from_utf8(out).map_err(|_| Error::UriInvalidUtf8)
    }

    fn write_unchecked(&self, secret: &Secret, w: &mut impl Write) -> fmt::Result {
        w.write_str("otpauth://")?;
        w.write_str(self.otp_type.name())?;
        w.write_char('/')?;
        if let Some(issuer) = self.issuer {
            percent_encode(issuer, w)?;
            w.write_char(':')?;
        }
        percent_encode(self.account, w)?;
        w.write_str("?secret=")?;
        secret.write_base32(w)?;
        if let Some(issuer) = self.issuer {
            w.write_str("&issuer=")?;
            percent_encode(issuer, w)?;
        }
        if self.algorithm != Algorithm::Sha1 {
            write!(w, "&algorithm={}", self.algorithm.name())?;
        }
        if self.digits != Digits::SIX {
            write!(w, "&digits={}", self.digits.get())?;
        }
        match self.otp_type {
            OtpType::Totp if self.period != DEFAULT_PERIOD => write!(w, "&period={}", self.period),
            OtpType::Totp => Ok(()),
            OtpType::Hotp => write!(w, "&counter={}", self.counter),
        }
    }

    /// Parses a key URI. Issuer and account are percent-decoded into `buf` (a buffer as long
    /// as `uri` always suffices; a shorter one that is too small gives
    /// [`Error::BufferTooSmall`] with the length needed). The secret is decoded as
    /// [`Secret::from_base32`] does, under the 80-bit [`SecretPolicy::Compatible`] policy.
    ///
    /// Every fault is found before anything is written: on any error `buf` is left as it
    /// was, and [`Error::BufferTooSmall`] comes only for a URI that is otherwise valid, so
    /// a retry with the length it gives succeeds.
    ///
    /// An empty issuer means "no issuer" (pyotp writes `otpauth://totp/:alice?…&issuer=`
    /// for `issuer=''`): an empty label prefix, an empty `issuer=` parameter or both give
    /// [`KeyUri::issuer`] `None`. An empty issuer in one place next to a non-empty one in
    /// the other is [`Error::UriIssuerMismatch`], since apps that read only one of them
    /// would show different issuers. Building stays strict: `Some("")` is
    /// [`Error::InvalidIssuer`].
    pub fn parse(uri: &str, buf: &'a mut [u8]) -> Result<(KeyUri<'a>, Secret), Error> {
        let rest = strip_prefix_ignore_case(uri, "otpauth://").ok_or(Error::UriInvalidScheme)?;
        // The type ends at the first `/`, `?` or `#` (RFC 3986 §3.2); only a `/`, which starts
        // the label, makes a key URI.
        let (otp_type, rest) = match rest.find(['/', '?', '#']) {
            Some(at) if rest.as_bytes().get(at) == Some(&b'/') => {
                (rest.get(..at), rest.get(at.saturating_add(1)..))
            }
            _ => (None, None),
        };
        let (Some(otp_type), Some(rest)) = (otp_type, rest) else {
            return Err(Error::UriMalformed);
        };
        let otp_type = if otp_type.eq_ignore_ascii_case("totp") {
            OtpType::Totp
        } else if otp_type.eq_ignore_ascii_case("hotp") {
            OtpType::Hotp
        } else {
            return Err(Error::UriUnknownType);
        };
        // A fragment is not part of the key.
        let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
        let (label, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (label_issuer, account) = split_label(label);
        let account = trim_leading_spaces(account);

        let params = Params::read(query)?;
        // An empty issuer is "no issuer"; one that holds a colon is wrong in itself, before
        // it can differ from the other one.
        for issuer in [label_issuer, params.issuer].into_iter().flatten() {
            if !issuer.is_empty() {
                valid_issuer(percent_decoded(issuer))?;
            }
        }
        let issuer = match (label_issuer, params.issuer) {
            (Some(from_label), Some(from_param)) => {
                if !decoded_eq(from_label, from_param)? {
                    return Err(Error::UriIssuerMismatch);
                }
                Some(from_label)
            }
            (from_label, from_param) => from_label.or(from_param),
        }
        .filter(|issuer| !issuer.is_empty());

        if otp_type == OtpType::Hotp && params.counter.is_none() {
            return Err(Error::UriMissingCounter);
        }
        let secret = decode_secret(params.secret.ok_or(Error::UriMissingSecret)?)?;

        // Account and issuer are checked as they decode, without being stored, so that
        // nothing is written to `buf` unless the whole URI is valid and fits.
        let account_len = decoded_utf8_len(account)?;
        valid_account(percent_decoded(account))?;
        let issuer_len = issuer.map_or(Ok(0), decoded_utf8_len)?;
        let needed = account_len.saturating_add(issuer_len);
        let too_small = Error::BufferTooSmall { needed };
        let (account_buf, rest) = buf.split_at_mut_checked(account_len).ok_or(too_small)?;
        let (issuer_buf, _) = rest.split_at_mut_checked(issuer_len).ok_or(too_small)?;
        // Both were decoded and checked above, so these cannot fail.
        let account = decode_into(account, account_buf)?;
        let issuer = issuer.map(|i| decode_into(i, issuer_buf)).transpose()?;
        let parsed = KeyUri {
            otp_type,
            issuer,
            account,
            algorithm: params.algorithm.unwrap_or_default(),
            digits: params.digits.unwrap_or_default(),
            // A parameter of the other type (a TOTP counter, an HOTP period) was checked but
            // does not belong to the key, so equal keys compare equal.
            period: match otp_type {
                OtpType::Totp => params.period.unwrap_or(DEFAULT_PERIOD),
                OtpType::Hotp => DEFAULT_PERIOD,
            },
            counter: match otp_type {
                OtpType::Totp => 0,
                OtpType::Hotp => params.counter.unwrap_or(0),
            },
        };
        Ok((parsed, secret))
    }
}

/// The known parameters of a query, still percent-encoded where that matters.
#[derive(Default)]
struct Params<'u> {
    secret: Option<&'u str>,
    issuer: Option<&'u str>,
    algorithm: Option<Algorithm>,
    digits: Option<Digits>,
    period: Option<u64>,
    counter: Option<u64>,
}

fn set_once<T>(slot: &mut Option<T>, value: T) -> Result<(), Error> {
    if slot.is_some() {
        return Err(Error::UriDuplicateParameter);
    }
    *slot = Some(value);
    Ok(())
}

/// The number a percent-encoded parameter value spells in ASCII decimal digits, `None` when
/// it is empty, holds anything else, or exceeds `u64`.
fn decimal(value: &str) -> Result<Option<u64>, Error> {
    let mut number: Option<u64> = None;
    for b in percent_decoded(value) {
        let b = b?;
        if !b.is_ascii_digit() {
            return Ok(None);
        }
        let digit = u64::from(b.wrapping_sub(b'0'));
        number = match number
            .unwrap_or(0)
            .checked_mul(10)
            .and_then(|n| n.checked_add(digit))
        {
            Some(n) => Some(n),
            None => return Ok(None),
        };
    }
    Ok(number)
}

/// The algorithm a percent-encoded parameter value names.
fn algorithm(value: &str) -> Result<Algorithm, Error> {
    // Longer than any algorithm name, so a longer value is simply unknown.
    decode_short(value, &mut [0u8; 8])?
        .and_then(|name| core::str::from_utf8(name).ok())
        .ok_or(Error::UnknownAlgorithm)
        .and_then(Algorithm::from_name)
}

/// A byte an issuer may not hold: the label separator, or a control character.
fn not_in_issuer(b: u8) -> bool {
    b == b':' || b.is_ascii_control()
}

/// Checks the bytes of an issuer (decoded, or as they decode) for the building rules.
fn valid_issuer(bytes: impl Iterator<Item = Result<u8, Error>>) -> Result<(), Error> {
    let mut empty = true;
    for b in bytes {
        if not_in_issuer(b?) {
            return Err(Error::InvalidIssuer);
        }
        empty = false;
    }
    if empty {
        Err(Error::InvalidIssuer)
    } else {
        Ok(())
    }
}

/// Checks the bytes of an account name (decoded, or as they decode); when several rules
/// fail, the first in the order of [`KeyUri::write`]'s list is reported.
fn valid_account(bytes: impl Iterator<Item = Result<u8, Error>>) -> Result<(), Error> {
    let (mut first, mut colon, mut control) = (None, false, false);
    for b in bytes {
        let b = b?;
        first = first.or(Some(b));
        colon |= b == b':';
        control |= b.is_ascii_control();
    }
    match first {
        None => Err(Error::AccountNameEmpty),
        Some(_) if colon => Err(Error::AccountNameHasColon),
        Some(b' ') => Err(Error::AccountNameLeadingSpace),
        Some(_) if control => Err(Error::AccountNameControlCharacter),
        Some(_) => Ok(()),
    }
}

impl<'u> Params<'u> {
    fn read(query: &'u str) -> Result<Self, Error> {
        let mut params = Params::default();
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            // A name without `=` has an empty value, as browsers and Android read it.
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            // Names and values are percent-decoded like the rest of the URI (`%38` is `8`);
            // a name longer than "algorithm" is none of the known ones.
            match decode_short(name, &mut [0u8; 9])? {
                Some(b"secret") => set_once(&mut params.secret, value)?,
                Some(b"issuer") => set_once(&mut params.issuer, value)?,
                Some(b"algorithm") => set_once(&mut params.algorithm, algorithm(value)?)?,
                Some(b"digits") => {
                    let digits = decimal(value)?
                        .and_then(|d| u8::try_from(d).ok())
                        .ok_or(Error::InvalidDigits)
                        .and_then(Digits::new)?;
                    set_once(&mut params.digits, digits)?;
                }
                Some(b"period") => {
                    let period = decimal(value)?
                        .filter(|&p| p > 0)
                        .ok_or(Error::InvalidPeriod)?;
                    set_once(&mut params.period, period)?;
                }
                Some(b"counter") => {
                    let counter = decimal(value)?.ok_or(Error::UriInvalidCounter)?;
                    set_once(&mut params.counter, counter)?;
                }
                // Other parameters (image, color, …) are for apps, not for the key.
                _ => {}
            }
        }
        Ok(params)
    }
}

fn strip_prefix_ignore_case<'u>(text: &'u str, prefix: &str) -> Option<&'u str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| text.get(prefix.len()..))
        .flatten()
}

/// Splits a raw label at the first `:` or `%3A` into issuer and account.
fn split_label(label: &str) -> (Option<&str>, &str) {
    let colon = label.find(':');
    let encoded = label
        .as_bytes()
        .windows(3)
        .position(|w| w.eq_ignore_ascii_case(b"%3a"));
    let (at, width) = match (colon, encoded) {
        (Some(c), Some(e)) if e < c => (e, 3),
        (Some(c), _) => (c, 1),
        (None, Some(e)) => (e, 3),
        (None, None) => return (None, label),
    };
    match (label.get(..at), label.get(at.saturating_add(width)..)) {
        (Some(issuer), Some(account)) => (Some(issuer), account),
        _ => (None, label),
    }
}

/// Drops spaces and `%20`s before the account name (the format allows spaces after the separator).
fn trim_leading_spaces(mut account: &str) -> &str {
    loop {
        let trimmed = account.trim_start_matches(' ');
        match strip_prefix_ignore_case(trimmed, "%20") {
            Some(rest) => account = rest,
            None => return trimmed,
        }
    }
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c.wrapping_sub(b'0')),
        b'a'..=b'f' => Some(c.wrapping_sub(b'a').wrapping_add(10)),
        b'A'..=b'F' => Some(c.wrapping_sub(b'A').wrapping_add(10)),
        _ => None,
    }
}

/// The bytes `text` percent-decodes to; `+` is a plain `+`.
fn percent_decoded(text: &str) -> impl Iterator<Item = Result<u8, Error>> + Clone + '_ {
    let mut bytes = text.bytes();
    core::iter::from_fn(move || {
        let b = bytes.next()?;
        if b != b'%' {
            return Some(Ok(b));
        }
        let high = bytes.next().and_then(hex_value);
        let low = bytes.next().and_then(hex_value);
        Some(match (high, low) {
            (Some(h), Some(l)) => Ok(h << 4 | l),
            _ => Err(Error::UriInvalidPercentEncoding),
        })
    })
}

fn decoded_len(text: &str) -> Result<usize, Error> {
    percent_decoded(text).try_fold(0usize, |n, b| b.map(|_| n.saturating_add(1)))
}

/// The decoded length of `text`, after checking that it decodes to UTF-8. The bytes pass
/// through a small window rather than the caller's buffer; a character cut at the end of
/// the window is carried over to the next one.
fn decoded_utf8_len(text: &str) -> Result<usize, Error> {
    let mut window = [0u8; 32];
    let (mut filled, mut len) = (0usize, 0usize);
    for b in percent_decoded(text) {
        *window.get_mut(filled).ok_or(Error::UriInvalidUtf8)? = b?;
        filled = filled.saturating_add(1);
        len = len.saturating_add(1);
        if filled == window.len() {
            filled = carry_incomplete(&mut window, filled)?;
        }
    }
    let rest = window.get(..filled).ok_or(Error::UriInvalidUtf8)?;
    core::str::from_utf8(rest).map_err(|_| Error::UriInvalidUtf8)?;
    Ok(len)
}

/// Checks the first `filled` bytes of `window` as UTF-8, moves a character cut at its end
/// (at most 3 bytes) to the front and returns how many bytes that is.
fn carry_incomplete(window: &mut [u8], filled: usize) -> Result<usize, Error> {
    let bytes = window.get(..filled).ok_or(Error::UriInvalidUtf8)?;
    match core::str::from_utf8(bytes) {
        Ok(_) => Ok(0),
        Err(e) if e.error_len().is_none() => {
            let cut = e.valid_up_to();
            window.copy_within(cut..filled, 0);
            Ok(filled.saturating_sub(cut))
        }
        Err(_) => Err(Error::UriInvalidUtf8),
    }
}

fn decoded_eq(a: &str, b: &str) -> Result<bool, Error> {
    let mut a = percent_decoded(a);
    let mut b = percent_decoded(b);
    loop {
        match (a.next().transpose()?, b.next().transpose()?) {
            (None, None) => return Ok(true),
            (x, y) if x != y => return Ok(false),
            _ => {}
        }
    }
}

/// Percent-decodes `text` into `out`, exactly its decoded length.
fn decode_bytes<'o>(text: &str, out: &'o mut [u8]) -> Result<&'o [u8], Error> {
    for (slot, b) in out.iter_mut().zip(percent_decoded(text)) {
        *slot = b?;
    }
    Ok(out)
}

/// Percent-decodes `text` into `out` (exactly its decoded length) and checks UTF-8.
fn decode_into<'o>(text: &str, out: &'o mut [u8]) -> Result<&'o str, Error> {
    core::str::from_utf8(decode_bytes(text, out)?).map_err(|_| Error::UriInvalidUtf8)
}

/// Percent-decodes a short `text` into `buf`; `None` when it decodes to more than `N` bytes.
fn decode_short<'b, const N: usize>(
    text: &str,
    buf: &'b mut [u8; N],
) -> Result<Option<&'b [u8]>, Error> {
    match buf.get_mut(..decoded_len(text)?) {
        Some(out) => decode_bytes(text, out).map(Some),
        None => Ok(None),
    }
}

/// Base32-decodes the secret straight from its percent-decoded bytes, so no copy of the
/// secret's text is made and every length gets the error [`Secret::from_base32`] gives.
fn decode_secret(text: &str) -> Result<Secret, Error> {
    Secret::from_base32_stream(percent_decoded(text), SecretPolicy::Compatible)
}

/// Writes `text` percent-encoded: all but unreserved characters and `@` become `%XX`.
fn percent_encode(text: &str, w: &mut impl Write) -> fmt::Result {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'@') {
            w.write_char(char::from(b))?;
        } else {
            let high = HEX.get(usize::from(b >> 4)).copied().unwrap_or(b'0');
            let low = HEX.get(usize::from(b & 0x0f)).copied().unwrap_or(b'0');
            w.write_char('%')?;
            w.write_char(char::from(high))?;
            w.write_char(char::from(low))?;
        }
    }
    Ok(())
}

/// A writer that only counts bytes.
struct Counter(usize);

impl Write for Counter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0 = self.0.saturating_add(s.len());
        Ok(())
    }
}

/// A writer into a byte slice that fails, rather than truncates, when full.
struct SliceWriter<'o> {
    out: &'o mut [u8],
    len: usize,
}

impl Write for SliceWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len.checked_add(s.len()).ok_or(fmt::Error)?;
        let dest = self.out.get_mut(self.len..end).ok_or(fmt::Error)?;
        dest.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}
