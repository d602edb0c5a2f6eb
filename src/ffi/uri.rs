//! `otpauth://` key URIs for C.

use core::ffi::c_char;

use super::{
    Buf, Out, S, algorithm_from, algorithm_to, digits_from, guard,
    hotp::{hotp_params_to, otp_hotp_params},
    otp_status, otp_type,
    secret::{otp_secret, secret_put, secret_ref},
    str_in,
    totp::{otp_totp_params, totp_params_to},
};
use crate::{Error, KeyUri, OtpType};

/// Set by `otp_uri_compatibility` when the algorithm is not SHA1 (several apps compute
/// SHA1 codes regardless).
pub const OTP_COMPAT_ALGORITHM_IGNORED: u32 = 1;
/// Set by `otp_uri_compatibility` when the code length is not 6 digits.
pub const OTP_COMPAT_DIGITS_IGNORED: u32 = 2;
/// Set by `otp_uri_compatibility` when a TOTP period is not 30 seconds.
pub const OTP_COMPAT_PERIOD_IGNORED: u32 = 4;

/// The fields of a key URI except the secret.
///
/// For `otp_uri_build` the caller fills it in; for `otp_uri_parse` otpcore does, with
/// `account` and `issuer` pointing into the caller's buffer.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct otp_uri {
    /// TOTP or HOTP, an `otp_type`.
    pub kind: u32,
    /// The HMAC hash function, an `otp_algorithm`.
    pub algorithm: u32,
    /// The number of digits, 6 to 10.
    pub digits: u32,
    /// The TOTP period in seconds (ignored for HOTP).
    pub period: u64,
    /// The HOTP initial counter (ignored for TOTP).
    pub counter: u64,
    /// The issuer (the service name shown in the app), `issuer_len` bytes of UTF-8; NULL
    /// for none. From `otp_uri_parse` it is also NUL-terminated.
    pub issuer: *const c_char,
    /// The length of `issuer` in bytes, without any NUL.
    pub issuer_len: usize,
    /// The account name, such as an e-mail address, `account_len` bytes of UTF-8; never
    /// NULL. From `otp_uri_parse` it is also NUL-terminated.
    pub account: *const c_char,
    /// The length of `account` in bytes, without any NUL.
    pub account_len: usize,
}

/// Reads the C fields as a [`KeyUri`].
///
/// # Safety
/// `issuer` (when not NULL) and `account` (when not NULL) point to their lengths of
/// readable bytes.
unsafe fn key_uri_from<'a>(uri: &otp_uri) -> Result<KeyUri<'a>, otp_status> {
    // SAFETY: the caller guarantees `account_len` readable bytes.
    let account = unsafe { str_in(uri.account, uri.account_len) }?;
    let issuer = if uri.issuer.is_null() {
        None
    } else {
        // SAFETY: the caller guarantees `issuer_len` readable bytes.
        Some(unsafe { str_in(uri.issuer, uri.issuer_len) }?)
    };
    let otp_type = match uri.kind {
        1 => OtpType::Totp,
        2 => OtpType::Hotp,
        _ => return Err(S::OTP_INVALID_ENUM),
    };
    Ok(KeyUri {
        otp_type,
        issuer,
        account,
        algorithm: algorithm_from(uri.algorithm)?,
        digits: digits_from(uri.digits)?,
        period: uri.period,
        counter: uri.counter,
    })
}

/// Reads `uri`, checked for NULL.
///
/// # Safety
/// `uri`, when not NULL, points to an `otp_uri` whose strings are readable.
unsafe fn key_uri_at<'a>(uri: *const otp_uri) -> Result<KeyUri<'a>, otp_status> {
    // SAFETY: the caller guarantees a readable `otp_uri` when not NULL.
    let uri = unsafe { uri.as_ref() }.ok_or(S::OTP_NULL_POINTER)?;
    // SAFETY: forwarded from the caller.
    unsafe { key_uri_from(uri) }
}

/// Writes the key URI of `uri` with `secret` and a NUL into `out` (`cap` bytes), and the
/// URI length without the NUL to `out_len`.
///
/// The URI is `otpauth://TYPE/ISSUER:ACCOUNT?secret=...&issuer=...`, with `algorithm`,
/// `digits` and `period` only when not SHA1, 6 and 30, and `counter` always for HOTP;
/// issuer and account are percent-encoded. On `OTP_BUFFER_TOO_SMALL`, `*out_len` is the
/// size needed, NUL included. Other errors: `OTP_ACCOUNT_NAME_EMPTY`,
/// `OTP_ACCOUNT_NAME_HAS_COLON`, `OTP_ACCOUNT_NAME_LEADING_SPACE`,
/// `OTP_ACCOUNT_NAME_CONTROL_CHARACTER`, `OTP_INVALID_ISSUER`, `OTP_INVALID_PERIOD`,
/// `OTP_INVALID_DIGITS`, `OTP_INVALID_ENUM`, `OTP_INVALID_UTF8`. The URI contains the
/// secret: wipe `out` when done.
///
/// # Safety
/// `uri` points to an `otp_uri` whose strings are readable; `secret` to an `otp_secret`;
/// `out` to `cap` writable bytes that overlap neither the strings of `uri` nor `secret`;
/// `out_len` to a writable `size_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn otp_uri_build(
    uri: *const otp_uri,
    secret: *const otp_secret,
    out: *mut c_char,
    cap: usize,
    out_len: *mut usize,
) -> otp_status {
    guard(|| {
        require!(uri, secret, out, out_len);
        // SAFETY: the caller guarantees a readable `otp_uri`.
        let uri = unsafe { key_uri_at(uri) }?;
        // SAFETY: the caller guarantees an `otp_secret`.
        let secret = unsafe { secret_ref(secret) }?;
        let mut buf = Buf::new(out.cast::<u8>(), cap)?;
        let out_len = Out::new(out_len)?;
        let len = uri.encoded_len(secret)?;
        let needed = len.saturating_add(1);
        if cap < needed {
            out_len.set(needed);
            return Err(S::OTP_BUFFER_TOO_SMALL);
        }
        // SAFETY: the caller guarantees `cap` writable bytes.
        let out = unsafe { buf.slice() };
        let (body, rest) = out.split_at_mut(len);
        uri.to_buf(secret, body)?;
        if let Some(nul) = rest.first_mut() {
            *nul = 0;
        }
        out_len.set(len);
        Ok(())
    })
}

/// Parses the key URI `text` (`text_len` bytes) into `out_uri` and `out_secret`.
///
/// The account name and issuer are percent-decoded into `buf` (`cap` bytes; `text_len + 2`
/// always suffices), each followed by a NUL, and `out_uri->account`/`issuer` point there
/// (`issuer` is NULL when the URI has none); `*out_len` is the number of bytes of `buf`
/// used. On `OTP_BUFFER_TOO_SMALL`, `*out_len` is the size needed. The secret is read
/// under the 80-bit compatible policy.
///
/// Errors: every `OTP_URI_*` status, `OTP_UNKNOWN_ALGORITHM`, `OTP_INVALID_DIGITS`,
/// `OTP_INVALID_PERIOD`, `OTP_ACCOUNT_NAME_EMPTY`, `OTP_ACCOUNT_NAME_HAS_COLON`,
/// `OTP_ACCOUNT_NAME_CONTROL_CHARACTER` (so both strings are free of NULs and line
/// breaks), `OTP_INVALID_ISSUER`, the secret and base32 statuses, and `OTP_INVALID_UTF8`
/// when `text` itself is not UTF-8. Every other fault is reported before
/// `OTP_BUFFER_TOO_SMALL`, so a retry with the size it gives succeeds. On any error
/// `out_uri`, `out_secret` and `buf` are not written (only `*out_len`, on
/// `OTP_BUFFER_TOO_SMALL`).
///
/// An empty issuer (empty label prefix, empty `issuer=` parameter, or both, as pyotp
/// writes for an empty issuer) is no issuer: `out_uri->issuer` is NULL. Empty in one place
/// and not in the other is `OTP_URI_ISSUER_MISMATCH`.
///
/// # Safety
/// `text` points to `text_len` readable bytes; `out_uri` to a writable `otp_uri`;
/// `out_secret` to a writable `otp_secret`; `buf` to `cap` writable bytes that overlap
/// nothing else; `out_len` to a writable `size_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn otp_uri_parse(
    text: *const c_char,
    text_len: usize,
    out_uri: *mut otp_uri,
    out_secret: *mut otp_secret,
    buf: *mut c_char,
    cap: usize,
    out_len: *mut usize,
) -> otp_status {
    // The parsed secret moves through frames below this one; `scrubbed` wipes them.
    // SAFETY: forwarded from the caller.
    super::secret::scrubbed(|| unsafe {
        uri_parse(text, text_len, out_uri, out_secret, buf, cap, out_len)
    })
}

/// `otp_uri_parse` itself.
///
/// # Safety
/// As for `otp_uri_parse`.
unsafe fn uri_parse(
    text: *const c_char,
    text_len: usize,
    out_uri: *mut otp_uri,
    out_secret: *mut otp_secret,
    buf: *mut c_char,
    cap: usize,
    out_len: *mut usize,
) -> otp_status {
    guard(|| {
        require!(text, out_uri, out_secret, buf, out_len);
        let out_uri = Out::new(out_uri)?;
        let out_secret = Out::new(out_secret)?;
        let mut buf = Buf::new(buf.cast::<u8>(), cap)?;
        let out_len = Out::new(out_len)?;
        // SAFETY: the caller guarantees `text_len` readable bytes.
        let text = unsafe { str_in(text, text_len) }?;
        // SAFETY: the caller guarantees `cap` writable bytes.
        let full = unsafe { buf.slice() };
        // Two bytes are kept back for the NULs after the account name and the issuer.
        let inner_len = cap.saturating_sub(2);
        let (parsed, secret, account_len, issuer_len) = {
            let inner = full.get_mut(..inner_len).ok_or(S::OTP_PANIC)?;
            let start = inner.as_ptr() as usize;
            match KeyUri::parse(text, inner) {
                Ok((parsed, secret)) => {
                    // The parser writes the account name first and the issuer right
                    // after it; the layout below depends on that.
                    let account_at = (parsed.account.as_ptr() as usize).wrapping_sub(start);
                    let issuer_at = parsed.issuer.map_or(parsed.account.len(), |i| {
                        (i.as_ptr() as usize).wrapping_sub(start)
                    });
                    if account_at != 0 || issuer_at != parsed.account.len() {
                        return Err(S::OTP_PANIC);
                    }
                    let lens = (parsed.account.len(), parsed.issuer.map(str::len));
                    let parsed = KeyUri {
                        account: "",
                        issuer: None,
                        ..parsed
                    };
                    (parsed, secret, lens.0, lens.1)
                }
                Err(Error::BufferTooSmall { needed }) => {
                    out_len.set(needed.saturating_add(2));
                    return Err(S::OTP_BUFFER_TOO_SMALL);
                }
                Err(e) => return Err(e.into()),
            }
        };
        // Move the issuer one byte on and terminate both strings.
        let issuer_start = account_len.saturating_add(1);
        let used = match issuer_len {
            Some(len) => {
                let issuer_end = issuer_start.saturating_add(len);
                full.copy_within(account_len..issuer_end.saturating_sub(1), issuer_start);
                *full.get_mut(issuer_end).ok_or(S::OTP_PANIC)? = 0;
                issuer_end.saturating_add(1)
            }
            None => issuer_start,
        };
        *full.get_mut(account_len).ok_or(S::OTP_PANIC)? = 0;
        let base = full.as_ptr().cast::<c_char>();
        out_uri.set(otp_uri {
            kind: match parsed.otp_type {
                OtpType::Totp => otp_type::Totp as u32,
                OtpType::Hotp => otp_type::Hotp as u32,
            },
            algorithm: algorithm_to(parsed.algorithm),
            digits: u32::from(parsed.digits.get()),
            period: parsed.period,
            counter: parsed.counter,
            issuer: match issuer_len {
                Some(_) => base.wrapping_add(issuer_start),
                None => core::ptr::null(),
            },
            issuer_len: issuer_len.unwrap_or(0),
            account: base,
            account_len,
        });
        // SAFETY: the caller guarantees a writable `otp_secret`.
        unsafe { secret_put(out_secret, secret) };
        out_len.set(used);
        Ok(())
    })
}

/// Writes to `out_flags` which settings of `uri` Google Authenticator and similar apps
/// would silently ignore (then showing codes that never verify): a bitwise OR of
/// `OTP_COMPAT_ALGORITHM_IGNORED`, `OTP_COMPAT_DIGITS_IGNORED` and
/// `OTP_COMPAT_PERIOD_IGNORED`; 0 means every common app honours the key.
///
/// # Safety
/// `uri` points to an `otp_uri` whose strings are readable; `out_flags` to a writable
/// `uint32_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn otp_uri_compatibility(
    uri: *const otp_uri,
    out_flags: *mut u32,
) -> otp_status {
    guard(|| {
        require!(uri, out_flags);
        // SAFETY: the caller guarantees a readable `otp_uri`.
        let uri = unsafe { key_uri_at(uri) }?;
        let out = Out::new(out_flags)?;
        let c = uri.compatibility();
        let flag = |set: bool, bit: u32| if set { bit } else { 0 };
        out.set(
            flag(c.algorithm_ignored, OTP_COMPAT_ALGORITHM_IGNORED)
                | flag(c.digits_ignored, OTP_COMPAT_DIGITS_IGNORED)
                | flag(c.period_ignored, OTP_COMPAT_PERIOD_IGNORED),
        );
        Ok(())
    })
}

/// Writes the TOTP settings of `uri` (algorithm, digits, period; the windows at their
/// defaults) to `out_params`, ready for `otp_totp_init`.
///
/// # Safety
/// `uri` points to an `otp_uri` whose strings are readable; `out_params` to a writable
/// `otp_totp_params`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn otp_uri_totp_params(
    uri: *const otp_uri,
    out_params: *mut otp_totp_params,
) -> otp_status {
    guard(|| {
        require!(uri, out_params);
        // SAFETY: the caller guarantees a readable `otp_uri`.
        let uri = unsafe { key_uri_at(uri) }?;
        Out::new(out_params)?.set(totp_params_to(uri.totp_params()));
        Ok(())
    })
}

/// Writes the HOTP settings of `uri` (algorithm, digits; the look-ahead at its default)
/// to `out_params`, ready for `otp_hotp_init`.
///
/// # Safety
/// `uri` points to an `otp_uri` whose strings are readable; `out_params` to a writable
/// `otp_hotp_params`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn otp_uri_hotp_params(
    uri: *const otp_uri,
    out_params: *mut otp_hotp_params,
) -> otp_status {
    guard(|| {
        require!(uri, out_params);
        // SAFETY: the caller guarantees a readable `otp_uri`.
        let uri = unsafe { key_uri_at(uri) }?;
        Out::new(out_params)?.set(hotp_params_to(uri.hotp_params()));
        Ok(())
    })
}
