//! The C API entry points with arbitrary inputs, lengths, buffer sizes and NULL pointers.
//! Buffers are heap allocations of exactly the size passed, so AddressSanitizer catches any
//! write past them. Every call must: never report a panic; give the status the Rust API's
//! result maps to; write outputs only on success (on OTP_BUFFER_TOO_SMALL only the size
//! needed); return exactly the Rust API's output; and answer a NULL required pointer with
//! OTP_NULL_POINTER.
#![no_main]

use core::ffi::c_char;
use core::ptr;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use otpcore::ffi::*;
use otpcore::{
    Algorithm, Digits, Error, Hotp, HotpParams, KeyUri, MAX_WINDOW, OtpType, Secret, SecretPolicy,
    Totp, TotpParams, Verification, base32,
};

const FILL: u8 = 0xA5;
const LEN_FILL: usize = 0xDEAD_BEEF;

#[derive(Arbitrary, Debug)]
enum Call {
    Base32Decode {
        text: Vec<u8>,
        cap: u16,
        null: u8,
    },
    Base32Encode {
        bytes: Vec<u8>,
        cap: u16,
        null: u8,
    },
    SecretImport {
        bytes: Vec<u8>,
        base32: bool,
        policy: u32,
        cap: u16,
        null: u8,
    },
    UriParse {
        text: Vec<u8>,
        cap: u16,
        null: u8,
    },
    UriBuild {
        key: Vec<u8>,
        kind: u32,
        algorithm: u32,
        digits: u32,
        period: u64,
        counter: u64,
        account: Vec<u8>,
        issuer: Option<Vec<u8>>,
        cap: u16,
        null: u8,
    },
    Totp {
        key: Vec<u8>,
        algorithm: u32,
        digits: u32,
        period: u64,
        t0: u64,
        look_back: u8,
        look_ahead: u8,
        time: u64,
        code: Code,
        last_accepted: Option<u64>,
        cap: u8,
        null: u8,
    },
    Hotp {
        key: Vec<u8>,
        algorithm: u32,
        digits: u32,
        look_ahead: u8,
        counter: u64,
        code: Code,
        second: Code,
        resync_look_ahead: u8,
        cap: u8,
        null: u8,
    },
}

/// A typed code: raw bytes, or the right code of a step near the expected one.
#[derive(Arbitrary, Debug)]
enum Code {
    Raw(Vec<u8>),
    Near(i8),
}

/// Small windows keep the fuzzer fast; 255 stands for one past the maximum.
fn window(w: u8) -> u32 {
    if w == u8::MAX {
        MAX_WINDOW + 1
    } else {
        u32::from(w % 16)
    }
}

/// Whether argument `i` of a call is passed as NULL: at most one per call, chosen by `null`.
fn is_null(null: u8, i: u8) -> bool {
    null < 32 && null % 8 == i
}

fn buffer(cap: usize) -> Vec<u8> {
    vec![FILL; cap]
}

fn untouched(buf: &[u8]) -> bool {
    buf.iter().all(|&b| b == FILL)
}

/// Checks a text output call: on success `out` holds `expected` and a NUL; on a too-small
/// buffer only the size needed was written; otherwise nothing was written.
fn check_text_out(got: otp_status, expected: Result<&[u8], Error>, out: &[u8], out_len: usize) {
    match expected {
        Ok(text) if out.len() > text.len() => {
            assert_eq!(got, otp_status::OTP_OK);
            assert_eq!(out_len, text.len());
            assert_eq!(&out[..text.len()], text);
            assert_eq!(out[text.len()], 0);
        }
        Ok(text) => {
            assert_eq!(got, otp_status::OTP_BUFFER_TOO_SMALL);
            assert_eq!(out_len, text.len() + 1);
            assert!(untouched(out));
        }
        Err(e) => {
            assert_eq!(got, otp_status::from(e));
            assert_eq!(out_len, LEN_FILL);
            assert!(untouched(out));
        }
    }
}

fn ptr_or_null<T>(null: bool, p: *const T) -> *const T {
    if null { ptr::null() } else { p }
}

fn mut_or_null<T>(null: bool, p: *mut T) -> *mut T {
    if null { ptr::null_mut() } else { p }
}

/// An initialised `otp_secret` from `key`, or None when the key is not a valid secret.
fn c_secret(key: &[u8]) -> Option<Box<otp_secret>> {
    let mut secret = Box::new(otp_secret { opaque: [0; OTP_SECRET_SIZE / 8] });
    let status = unsafe { otp_secret_from_bytes(&mut *secret, key.as_ptr(), key.len(), 1) };
    (status == otp_status::OTP_OK).then_some(secret)
}

fn code_bytes(code: &Code, expected: u64, generate: impl Fn(u64) -> String) -> Vec<u8> {
    match code {
        Code::Raw(bytes) => bytes.clone(),
        Code::Near(offset) => {
            generate(expected.wrapping_add_signed(i64::from(*offset))).into_bytes()
        }
    }
}

fn verification(got: otp_status, expected: Result<Verification, Error>, step: u64, drift: i64) {
    match expected {
        Ok(Verification::Valid(m)) => {
            assert_eq!(got, otp_status::OTP_OK);
            assert_eq!((step, drift), (m.step, m.drift));
            return;
        }
        Ok(Verification::Replayed(_)) => assert_eq!(got, otp_status::OTP_CODE_REPLAYED),
        Ok(Verification::Invalid) => assert_eq!(got, otp_status::OTP_CODE_INVALID),
        Err(e) => assert_eq!(got, otp_status::from(e)),
    }
    assert_eq!(
        (step, drift),
        (u64::MAX, i64::MIN),
        "output written on failure"
    );
}

fuzz_target!(|call: Call| unsafe {
    match call {
        Call::Base32Decode { text, cap, null } => {
            let mut out = buffer(usize::from(cap));
            let mut out_len = LEN_FILL;
            let got = otp_base32_decode(
                ptr_or_null(is_null(null, 0), text.as_ptr().cast::<c_char>()),
                text.len(),
                mut_or_null(is_null(null, 1), out.as_mut_ptr()),
                out.len(),
                mut_or_null(is_null(null, 2), &mut out_len),
            );
            if null < 32 && null % 8 < 3 {
                assert_eq!(got, otp_status::OTP_NULL_POINTER);
                assert!(untouched(&out) && out_len == LEN_FILL);
                return;
            }
            let expected = match core::str::from_utf8(&text) {
                Ok(text) => {
                    let mut reference = vec![0u8; text.len()];
                    base32::decode(text, &mut reference).map(|d| d.to_vec())
                }
                Err(e) => Err(Error::Base32InvalidCharacter {
                    position: e.valid_up_to(),
                }),
            };
            match expected {
                Ok(bytes) if bytes.len() <= out.len() => {
                    assert_eq!(got, otp_status::OTP_OK);
                    assert_eq!(out_len, bytes.len());
                    assert_eq!(&out[..bytes.len()], &bytes[..]);
                    assert!(untouched(&out[bytes.len()..]));
                }
                Ok(bytes) => {
                    assert_eq!(got, otp_status::OTP_BUFFER_TOO_SMALL);
                    assert_eq!(out_len, bytes.len());
                    assert!(untouched(&out));
                }
                Err(e) => {
                    assert_eq!(got, otp_status::from(e));
                    assert!(untouched(&out) && out_len == LEN_FILL);
                }
            }
        }
        Call::Base32Encode { bytes, cap, null } => {
            let mut out = buffer(usize::from(cap));
            let mut out_len = LEN_FILL;
            let got = otp_base32_encode(
                ptr_or_null(is_null(null, 0), bytes.as_ptr()),
                bytes.len(),
                mut_or_null(is_null(null, 1), out.as_mut_ptr().cast::<c_char>()),
                out.len(),
                mut_or_null(is_null(null, 2), &mut out_len),
            );
            if null < 32 && null % 8 < 3 {
                assert_eq!(got, otp_status::OTP_NULL_POINTER);
                assert!(untouched(&out) && out_len == LEN_FILL);
                return;
            }
            let mut reference = vec![0u8; base32::encoded_len(bytes.len())];
            let text = base32::encode(&bytes, &mut reference).unwrap();
            check_text_out(got, Ok(text.as_bytes()), &out, out_len);
        }
        Call::SecretImport {
            bytes,
            base32: is_base32,
            policy,
            cap,
            null,
        } => {
            let mut secret = Box::new(otp_secret { opaque: [0; OTP_SECRET_SIZE / 8] });
            let input = ptr_or_null(is_null(null, 1), bytes.as_ptr());
            let target = mut_or_null(is_null(null, 0), &mut *secret);
            let got = if is_base32 {
                otp_secret_from_base32(target, input.cast::<c_char>(), bytes.len(), policy)
            } else {
                otp_secret_from_bytes(target, input, bytes.len(), policy)
            };
            if null < 32 && null % 8 < 2 {
                assert_eq!(got, otp_status::OTP_NULL_POINTER);
                return;
            }
            // Base32 text that is not UTF-8 is refused before the policy is read.
            if is_base32 && core::str::from_utf8(&bytes).is_err() {
                assert_eq!(got, otp_status::OTP_BASE32_INVALID_CHARACTER);
                return;
            }
            let policy = match policy {
                1 => SecretPolicy::Compatible,
                2 => SecretPolicy::Strict,
                _ => {
                    assert_eq!(got, otp_status::OTP_INVALID_ENUM);
                    return;
                }
            };
            let expected = if is_base32 {
                match core::str::from_utf8(&bytes) {
                    Ok(text) => Secret::from_base32_with_policy(text, policy),
                    Err(e) => Err(Error::Base32InvalidCharacter {
                        position: e.valid_up_to(),
                    }),
                }
            } else {
                Secret::from_bytes_with_policy(&bytes, policy)
            };
            let expected = match expected {
                Ok(s) => s,
                Err(e) => {
                    assert_eq!(got, otp_status::from(e));
                    assert!(
                        secret.opaque.iter().all(|&w| w == 0),
                        "secret written on error"
                    );
                    return;
                }
            };
            assert_eq!(got, otp_status::OTP_OK);
            // Reading the bytes back, into a buffer of arbitrary size.
            let mut out = buffer(usize::from(cap));
            let mut out_len = LEN_FILL;
            let got = otp_secret_bytes(&*secret, out.as_mut_ptr(), out.len(), &mut out_len);
            if out.len() >= expected.len() {
                assert_eq!(got, otp_status::OTP_OK);
                assert_eq!(&out[..out_len], expected.as_bytes());
            } else {
                assert_eq!(got, otp_status::OTP_BUFFER_TOO_SMALL);
                assert_eq!(out_len, expected.len());
                assert!(untouched(&out));
            }
            // Wiping leaves every byte zero, and the object unusable.
            assert_eq!(otp_secret_wipe(&mut *secret), otp_status::OTP_OK);
            assert!(secret.opaque.iter().all(|&w| w == 0));
            let mut len = LEN_FILL;
            assert_eq!(
                otp_secret_len(&*secret, &mut len),
                otp_status::OTP_NOT_INITIALIZED
            );
            assert_eq!(len, LEN_FILL);
        }
        Call::UriParse { text, cap, null } => {
            let mut out = buffer(usize::from(cap));
            let mut out_len = LEN_FILL;
            let mut uri = core::mem::MaybeUninit::<otp_uri>::zeroed();
            let mut secret = Box::new(otp_secret { opaque: [0; OTP_SECRET_SIZE / 8] });
            let got = otp_uri_parse(
                ptr_or_null(is_null(null, 0), text.as_ptr().cast::<c_char>()),
                text.len(),
                mut_or_null(is_null(null, 1), uri.as_mut_ptr()),
                mut_or_null(is_null(null, 2), &mut *secret),
                mut_or_null(is_null(null, 3), out.as_mut_ptr().cast::<c_char>()),
                out.len(),
                mut_or_null(is_null(null, 4), &mut out_len),
            );
            if null < 32 && null % 8 < 5 {
                assert_eq!(got, otp_status::OTP_NULL_POINTER);
                assert!(untouched(&out) && out_len == LEN_FILL);
                return;
            }
            let Ok(text) = core::str::from_utf8(&text) else {
                assert_eq!(got, otp_status::OTP_INVALID_UTF8);
                return;
            };
            // The C API keeps two bytes of the buffer for NULs and decodes into the rest.
            let mut fields = vec![0u8; usize::from(cap).saturating_sub(2)];
            match KeyUri::parse(text, &mut fields) {
                Err(Error::BufferTooSmall { needed }) => {
                    assert_eq!(got, otp_status::OTP_BUFFER_TOO_SMALL);
                    assert_eq!(out_len, needed + 2);
                    assert!(untouched(&out));
                }
                Err(e) => {
                    assert_eq!(got, otp_status::from(e));
                    assert_eq!(out_len, LEN_FILL);
                    assert!(
                        secret.opaque.iter().all(|&w| w == 0),
                        "secret written on error"
                    );
                    assert!(untouched(&out), "buffer written on error");
                }
                Ok((parsed, parsed_secret)) => {
                    assert_eq!(got, otp_status::OTP_OK);
                    let uri = uri.assume_init();
                    let account =
                        core::slice::from_raw_parts(uri.account.cast::<u8>(), uri.account_len + 1);
                    assert_eq!(&account[..uri.account_len], parsed.account.as_bytes());
                    assert_eq!(account[uri.account_len], 0);
                    match parsed.issuer {
                        None => assert!(uri.issuer.is_null()),
                        Some(issuer) => {
                            let c = core::slice::from_raw_parts(
                                uri.issuer.cast::<u8>(),
                                uri.issuer_len + 1,
                            );
                            assert_eq!(&c[..uri.issuer_len], issuer.as_bytes());
                            assert_eq!(c[uri.issuer_len], 0);
                        }
                    }
                    let kind = match parsed.otp_type {
                        OtpType::Totp => 1,
                        OtpType::Hotp => 2,
                    };
                    assert_eq!(
                        (uri.kind, uri.digits, uri.period, uri.counter),
                        (
                            kind,
                            u32::from(parsed.digits.get()),
                            parsed.period,
                            parsed.counter
                        )
                    );
                    let mut key = buffer(otpcore::MAX_SECRET_LEN);
                    let mut key_len = 0;
                    assert_eq!(
                        otp_secret_bytes(&*secret, key.as_mut_ptr(), key.len(), &mut key_len),
                        otp_status::OTP_OK
                    );
                    assert_eq!(&key[..key_len], parsed_secret.as_bytes());
                    assert!(out_len <= out.len());
                    otp_secret_wipe(&mut *secret);
                }
            }
        }
        Call::UriBuild {
            key,
            kind,
            algorithm,
            digits,
            period,
            counter,
            account,
            issuer,
            cap,
            null,
        } => {
            let Some(secret) = c_secret(&key) else {
                return;
            };
            let uri = otp_uri {
                kind,
                algorithm,
                digits,
                period,
                counter,
                issuer: issuer
                    .as_ref()
                    .map_or(ptr::null(), |i| i.as_ptr().cast::<c_char>()),
                issuer_len: issuer.as_ref().map_or(0, Vec::len),
                account: account.as_ptr().cast::<c_char>(),
                account_len: account.len(),
            };
            let mut out = buffer(usize::from(cap));
            let mut out_len = LEN_FILL;
            let got = otp_uri_build(
                ptr_or_null(is_null(null, 0), &uri),
                ptr_or_null(is_null(null, 1), &*secret),
                mut_or_null(is_null(null, 2), out.as_mut_ptr().cast::<c_char>()),
                out.len(),
                mut_or_null(is_null(null, 3), &mut out_len),
            );
            if null < 32 && null % 8 < 4 {
                assert_eq!(got, otp_status::OTP_NULL_POINTER);
                assert!(untouched(&out) && out_len == LEN_FILL);
                return;
            }
            let rust_secret = Secret::from_bytes(&key).unwrap();
            let (Ok(account), Ok(issuer)) = (
                core::str::from_utf8(&account),
                issuer.as_deref().map(core::str::from_utf8).transpose(),
            ) else {
                assert_eq!(got, otp_status::OTP_INVALID_UTF8);
                return;
            };
            let otp_type = match kind {
                1 => OtpType::Totp,
                2 => OtpType::Hotp,
                _ => {
                    assert_eq!(got, otp_status::OTP_INVALID_ENUM);
                    return;
                }
            };
            let algorithm = match algorithm {
                1 => Algorithm::Sha1,
                2 => Algorithm::Sha256,
                3 => Algorithm::Sha512,
                _ => {
                    assert_eq!(got, otp_status::OTP_INVALID_ENUM);
                    return;
                }
            };
            let Ok(digits) = u8::try_from(digits)
                .map_err(|_| Error::InvalidDigits)
                .and_then(Digits::new)
            else {
                assert_eq!(got, otp_status::OTP_INVALID_DIGITS);
                return;
            };
            let key_uri = KeyUri {
                otp_type,
                issuer,
                account,
                algorithm,
                digits,
                period,
                counter,
            };
            let mut reference = vec![0u8; key_uri.encoded_len(&rust_secret).unwrap_or(0)];
            let expected = key_uri
                .to_buf(&rust_secret, &mut reference)
                .map(str::as_bytes);
            check_text_out(got, expected, &out, out_len);
        }
        Call::Totp {
            key,
            algorithm,
            digits,
            period,
            t0,
            look_back,
            look_ahead,
            time,
            code,
            last_accepted,
            cap,
            null,
        } => {
            let Some(secret) = c_secret(&key) else {
                return;
            };
            let params = otp_totp_params {
                algorithm,
                digits,
                period,
                t0,
                look_back: window(look_back),
                look_ahead: window(look_ahead),
            };
            let mut totp = Box::new(otp_totp { opaque: [0; 32] });
            // Zero-filled: never initialised.
            let mut step = u64::MAX;
            assert_eq!(
                otp_totp_step_at(&*totp, time, &mut step),
                otp_status::OTP_NOT_INITIALIZED
            );
            let got = otp_totp_init(&mut *totp, &*secret, &params);
            let rust_params = (|| {
                Ok(TotpParams {
                    algorithm: match algorithm {
                        1 => Algorithm::Sha1,
                        2 => Algorithm::Sha256,
                        3 => Algorithm::Sha512,
                        _ => return Err(otp_status::OTP_INVALID_ENUM),
                    },
                    digits: u8::try_from(digits)
                        .map_err(|_| Error::InvalidDigits)
                        .and_then(Digits::new)?,
                    period,
                    t0,
                    look_back: params.look_back,
                    look_ahead: params.look_ahead,
                })
            })();
            let rust = match rust_params
                .and_then(|p| Ok(Totp::new(&Secret::from_bytes(&key).unwrap(), p)?))
            {
                Ok(t) => t,
                Err(e) => {
                    assert_eq!(got, e);
                    assert!(totp.opaque.iter().all(|&w| w == 0));
                    return;
                }
            };
            assert_eq!(got, otp_status::OTP_OK);

            let mut out = buffer(usize::from(cap % 16));
            let mut out_len = LEN_FILL;
            let got = otp_totp_generate(
                &*totp,
                time,
                mut_or_null(is_null(null, 0), out.as_mut_ptr().cast::<c_char>()),
                out.len(),
                mut_or_null(is_null(null, 1), &mut out_len),
            );
            if null < 32 && null % 8 < 2 {
                assert_eq!(got, otp_status::OTP_NULL_POINTER);
                assert!(untouched(&out) && out_len == LEN_FILL);
            } else {
                let expected = rust.generate(time).map(|c| c.to_string());
                check_text_out(
                    got,
                    expected.as_ref().map(|s| s.as_bytes()).map_err(|e| *e),
                    &out,
                    out_len,
                );
            }

            let expected_step = rust.step_at(time).unwrap_or(0);
            let typed = code_bytes(&code, expected_step, |s| {
                rust.generate_at_step(s).to_string()
            });
            let (mut step, mut drift) = (u64::MAX, i64::MIN);
            let got = otp_totp_verify(
                &*totp,
                ptr_or_null(is_null(null, 2), typed.as_ptr().cast::<c_char>()),
                typed.len(),
                time,
                last_accepted.is_some(),
                last_accepted.unwrap_or(0),
                mut_or_null(is_null(null, 3), &mut step),
                mut_or_null(is_null(null, 4), &mut drift),
            );
            if null < 32 && (2..5).contains(&(null % 8)) {
                assert_eq!(got, otp_status::OTP_NULL_POINTER);
                assert_eq!((step, drift), (u64::MAX, i64::MIN));
            } else {
                // Both read the typed bytes as they are, UTF-8 or not.
                let expected = rust.verify(&typed, time, last_accepted);
                verification(got, expected, step, drift);
            }

            assert_eq!(otp_totp_wipe(&mut *totp), otp_status::OTP_OK);
            assert!(totp.opaque.iter().all(|&w| w == 0));
            let (mut step, mut drift) = (u64::MAX, i64::MIN);
            assert_eq!(
                otp_totp_verify(
                    &*totp,
                    typed.as_ptr().cast::<c_char>(),
                    typed.len(),
                    time,
                    false,
                    0,
                    &mut step,
                    &mut drift
                ),
                otp_status::OTP_NOT_INITIALIZED
            );
        }
        Call::Hotp {
            key,
            algorithm,
            digits,
            look_ahead,
            counter,
            code,
            second,
            resync_look_ahead,
            cap,
            null,
        } => {
            let Some(secret) = c_secret(&key) else {
                return;
            };
            let params = otp_hotp_params {
                algorithm,
                digits,
                look_ahead: window(look_ahead),
            };
            let mut hotp = Box::new(otp_hotp { opaque: [0; 32] });
            let got = otp_hotp_init(&mut *hotp, &*secret, &params);
            let rust_params = (|| {
                Ok(HotpParams {
                    algorithm: match algorithm {
                        1 => Algorithm::Sha1,
                        2 => Algorithm::Sha256,
                        3 => Algorithm::Sha512,
                        _ => return Err(otp_status::OTP_INVALID_ENUM),
                    },
                    digits: u8::try_from(digits)
                        .map_err(|_| Error::InvalidDigits)
                        .and_then(Digits::new)?,
                    look_ahead: params.look_ahead,
                })
            })();
            let rust = match rust_params
                .and_then(|p| Ok(Hotp::new(&Secret::from_bytes(&key).unwrap(), p)?))
            {
                Ok(h) => h,
                Err(e) => {
                    assert_eq!(got, e);
                    assert!(hotp.opaque.iter().all(|&w| w == 0));
                    return;
                }
            };
            assert_eq!(got, otp_status::OTP_OK);

            let mut out = buffer(usize::from(cap % 16));
            let mut out_len = LEN_FILL;
            let got = otp_hotp_generate(
                &*hotp,
                counter,
                out.as_mut_ptr().cast::<c_char>(),
                out.len(),
                &mut out_len,
            );
            let expected = rust.generate(counter).to_string();
            check_text_out(got, Ok(expected.as_bytes()), &out, out_len);

            let generate = |c: u64| rust.generate(c).to_string();
            let first = code_bytes(&code, counter, generate);
            let (mut step, mut drift) = (u64::MAX, i64::MIN);
            let got = otp_hotp_verify(
                &*hotp,
                ptr_or_null(is_null(null, 0), first.as_ptr().cast::<c_char>()),
                first.len(),
                counter,
                mut_or_null(is_null(null, 1), &mut step),
                mut_or_null(is_null(null, 2), &mut drift),
            );
            if null < 32 && null % 8 < 3 {
                assert_eq!(got, otp_status::OTP_NULL_POINTER);
                assert_eq!((step, drift), (u64::MAX, i64::MIN));
            } else {
                let expected = rust.verify(&first, counter);
                verification(got, expected, step, drift);
            }

            let second = code_bytes(&second, counter, generate);
            let resync_window = window(resync_look_ahead);
            let (mut step, mut drift) = (u64::MAX, i64::MIN);
            let got = otp_hotp_resync(
                &*hotp,
                first.as_ptr().cast::<c_char>(),
                first.len(),
                second.as_ptr().cast::<c_char>(),
                second.len(),
                counter,
                resync_window,
                &mut step,
                &mut drift,
            );
            let expected = rust.resync(&first, &second, counter, resync_window);
            verification(got, expected, step, drift);

            assert_eq!(otp_hotp_wipe(&mut *hotp), otp_status::OTP_OK);
            assert!(hotp.opaque.iter().all(|&w| w == 0));
        }
    }
});
