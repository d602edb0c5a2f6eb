//! Secret hygiene: after a wipe or drop, the secret bytes and the HMAC key state are zero in
//! the memory that held them; and no Debug, Display or error text of any type contains
//! the secret, as raw text, hex or base32.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::arithmetic_side_effects
)]
// Inspecting the memory a value occupied after dropping it needs raw pointers.
#![allow(unsafe_code)]

use otpcore::{
    Algorithm, Digits, Hotp, HotpParams, KeyUri, MAX_SECRET_BASE32_LEN, Secret, SecretPolicy, Totp,
    TotpParams, Verification, base32,
};
use proptest::prelude::*;
use sha1::Digest;
use std::mem::MaybeUninit;

use zeroize::Zeroize;

mod support;
use support::memory::{drop_in_place, image, place};

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Key bytes that are neither zero nor a repeated pattern, `len` long.
fn key_bytes(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 37 + 11) as u8 | 1).collect()
}

#[test]
fn secret_bytes_and_length_are_zero_after_drop() {
    for len in [10, 20, 64, 65, 128, 129, 256] {
        let bytes = key_bytes(len);
        let mut slot = place(Secret::from_bytes(&bytes).unwrap());
        assert!(find(&image(&slot), &bytes).is_some(), "secret not found");
        drop_in_place(&mut slot);
        assert!(
            image(&slot).iter().all(|&b| b == 0),
            "{len}-byte secret left bytes after drop"
        );
    }
}

#[test]
fn secret_zeroize_wipes_bytes_and_length() {
    let bytes = key_bytes(32);
    let mut slot = place(Secret::from_bytes(&bytes).unwrap());
    // SAFETY: `place` initialised the slot.
    let secret = unsafe { slot.assume_init_mut() };
    secret.zeroize();
    assert_eq!(secret.as_bytes(), b"");
    assert_eq!(secret.len(), 0);
    assert!(image(&slot).iter().all(|&b| b == 0));
    drop_in_place(&mut slot);
}

/// The HMAC chaining values otpcore must hold for `key`, computed here independently, as
/// the bytes they occupy in memory (native-endian words).
fn expected_pads(key: &[u8], algorithm: Algorithm) -> [Vec<u8>; 2] {
    fn block<const N: usize>(key: &[u8], pad: u8) -> [u8; N] {
        let mut block = [pad; N];
        for (b, k) in block.iter_mut().zip(key) {
            *b ^= k;
        }
        block
    }
    match algorithm {
        Algorithm::Sha1 => {
            let long;
            let key = if key.len() > 64 {
                long = sha1::Sha1::digest(key);
                &long[..]
            } else {
                key
            };
            [0x36, 0x5c].map(|pad| {
                let mut state = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0];
                sha1::block_api::compress(&mut state, &[block::<64>(key, pad)]);
                state.iter().flat_map(|w| w.to_ne_bytes()).collect()
            })
        }
        Algorithm::Sha256 => {
            let long;
            let key = if key.len() > 64 {
                long = sha2::Sha256::digest(key);
                &long[..]
            } else {
                key
            };
            [0x36, 0x5c].map(|pad| {
                let mut state = [
                    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c,
                    0x1f83d9ab, 0x5be0cd19,
                ];
                sha2::block_api::compress256(&mut state, &[block::<64>(key, pad)]);
                state.iter().flat_map(|w| w.to_ne_bytes()).collect()
            })
        }
        _ => {
            let long;
            let key = if key.len() > 128 {
                long = sha2::Sha512::digest(key);
                &long[..]
            } else {
                key
            };
            [0x36, 0x5c].map(|pad| {
                let mut state = [
                    0x6a09e667f3bcc908,
                    0xbb67ae8584caa73b,
                    0x3c6ef372fe94f82b,
                    0xa54ff53a5f1d36f1,
                    0x510e527fade682d1,
                    0x9b05688c2b3e6c1f,
                    0x1f83d9abfb41bd6b,
                    0x5be0cd19137e2179,
                ];
                sha2::block_api::compress512(&mut state, &[block::<128>(key, pad)]);
                state.iter().flat_map(|w| w.to_ne_bytes()).collect()
            })
        }
    }
}

/// Finds both pads of `key` in the image of `slot`, drops the value, and checks that the
/// bytes where the pads were, and the secret itself, are gone.
fn assert_key_state_wiped<T>(mut slot: MaybeUninit<T>, key: &[u8], algorithm: Algorithm) {
    let before = image(&slot);
    let spans: Vec<(usize, usize)> = expected_pads(key, algorithm)
        .iter()
        .map(|pad| {
            let at = find(&before, pad)
                .unwrap_or_else(|| panic!("{algorithm} key state not found in the object"));
            (at, at + pad.len())
        })
        .collect();
    drop_in_place(&mut slot);
    let after = image(&slot);
    for (start, end) in spans {
        assert!(
            after[start..end].iter().all(|&b| b == 0),
            "{algorithm} key state left after drop"
        );
    }
    assert!(find(&after, key).is_none());
}

#[test]
fn totp_key_state_is_zero_after_drop() {
    for algorithm in [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512] {
        // Short keys, block-sized keys, and keys longer than each block (hashed).
        for len in [10, 20, 64, 65, 128, 129, 256] {
            let key = key_bytes(len);
            let params = TotpParams {
                algorithm,
                ..TotpParams::default()
            };
            let totp = Totp::new(&Secret::from_bytes(&key).unwrap(), params).unwrap();
            assert_key_state_wiped(place(totp), &key, algorithm);
        }
    }
}

#[test]
fn hotp_key_state_is_zero_after_drop() {
    for algorithm in [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512] {
        for len in [10, 64, 65, 128, 129, 256] {
            let key = key_bytes(len);
            let params = HotpParams {
                algorithm,
                ..HotpParams::default()
            };
            let hotp = Hotp::new(&Secret::from_bytes(&key).unwrap(), params).unwrap();
            assert_key_state_wiped(place(hotp), &key, algorithm);
        }
    }
}

/// The forms in which a leaked secret would show: raw text, hex in either case, base32 in
/// either case, whole or as any run of 5 bytes (8 base32 characters, 10 hex digits).
fn leak_patterns(secret: &[u8]) -> Vec<String> {
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let b32 = |b: &[u8]| {
        let mut out = vec![0u8; base32::encoded_len(b.len())];
        base32::encode(b, &mut out).unwrap().to_owned()
    };
    let mut patterns = Vec::new();
    for part in std::iter::once(secret).chain(secret.windows(5)) {
        for text in [hex(part), b32(part)] {
            patterns.push(text.to_ascii_lowercase());
            patterns.push(text.to_ascii_uppercase());
        }
        if let Ok(raw) = std::str::from_utf8(part) {
            patterns.push(raw.to_owned());
        }
    }
    patterns
}

/// Every text otpcore produces around a secret: the Debug of each type that holds or was
/// built from it, and the Debug and Display of the errors its operations give.
fn texts_around(bytes: &[u8]) -> Vec<String> {
    let secret = Secret::from_bytes(bytes).unwrap();
    let mut b32_buf = [0u8; MAX_SECRET_BASE32_LEN];
    let b32 = secret.to_base32(&mut b32_buf).unwrap().to_owned();
    let mut texts = vec![format!("{secret:?}")];
    let mut errors = Vec::new();

    // Errors from reading the secret: a bad character after it, bad padding, a bad
    // length, a too-strict policy, too small a buffer.
    errors.push(Secret::from_base32(&format!("{b32}1")).unwrap_err());
    errors.push(Secret::from_base32(&format!("{b32}=A")).unwrap_err());
    for suffix in ["A", "AA", "AAA"] {
        if let Err(e) = Secret::from_base32(&format!("{b32}{suffix}")) {
            errors.push(e);
        }
    }
    if let Err(e) = Secret::from_bytes_with_policy(bytes, SecretPolicy::Strict) {
        errors.push(e);
    }
    errors.push(base32::decode(&b32, &mut [0u8; 1]).unwrap_err());
    errors.push(secret.to_base32(&mut [0u8; 4]).unwrap_err());

    // Key URIs: the URI itself carries the secret by design; its fields and errors do not.
    let uri = KeyUri::totp("alice@example.com").with_issuer("ACME");
    errors.push(uri.to_buf(&secret, &mut [0u8; 16]).unwrap_err());
    let mut uri_buf = [0u8; 512];
    let text = uri.to_buf(&secret, &mut uri_buf).unwrap().to_owned();
    errors.push(KeyUri::parse(&text, &mut [0u8; 3]).unwrap_err());
    errors.push(
        KeyUri::parse(&text.replace("issuer=ACME", "issuer=ACNE"), &mut [0u8; 512]).unwrap_err(),
    );
    errors.push(KeyUri::parse(&format!("{text}&secret={b32}"), &mut [0u8; 512]).unwrap_err());
    errors.push(KeyUri::parse(&format!("{text}%"), &mut [0u8; 512]).unwrap_err());
    errors.push(KeyUri::parse(&text.replace("otpauth", "http"), &mut [0u8; 512]).unwrap_err());
    let mut fields = [0u8; 512];
    let (parsed, parsed_secret) = KeyUri::parse(&text, &mut fields).unwrap();
    texts.push(format!(
        "{parsed:?} {parsed_secret:?} {:?}",
        parsed.compatibility()
    ));

    for algorithm in [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512] {
        let params = TotpParams {
            algorithm,
            digits: Digits::new(8).unwrap(),
            ..TotpParams::default()
        };
        let totp = Totp::new(&secret, params).unwrap();
        let code = totp.generate(1_700_000_000).unwrap();
        let outcome = totp.verify(code.to_string(), 1_700_000_000, None).unwrap();
        let replay = totp.verify(
            code.to_string(),
            1_700_000_000,
            outcome.valid_match().map(|m| m.step),
        );
        texts.push(format!(
            "{totp:?} {params:?} {code:?} {code} {outcome:?} {replay:?}"
        ));
        errors.push(totp.verify("12345x78", 1_700_000_000, None).unwrap_err());
        errors.push(totp.verify("1234567", 1_700_000_000, None).unwrap_err());
        errors.push(code.write_to(&mut [0u8; 2]).unwrap_err());

        let hotp = Hotp::new(
            &secret,
            HotpParams {
                algorithm,
                ..HotpParams::default()
            },
        )
        .unwrap();
        let code = hotp.generate(u64::MAX - 1);
        let outcome = hotp.verify(code.to_string(), u64::MAX - 1).unwrap();
        let resync = hotp.resync(code.to_string(), "000000", 0, 5).unwrap();
        texts.push(format!(
            "{hotp:?} {:?} {code:?} {outcome:?} {resync:?}",
            hotp.params()
        ));
        errors.push(hotp.verify("١٢٣٤٥٦", 0).unwrap_err());
    }
    let invalid: Verification = Verification::Invalid;
    texts.push(format!("{invalid:?}"));
    for e in errors {
        texts.push(format!("{e:?}"));
        texts.push(e.to_string());
    }
    texts
}

fn secret_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 10..=256),
        // Printable secrets, to catch raw copies in text.
        prop::collection::vec(
            prop::sample::select(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".to_vec()),
            10..=256
        ),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn no_debug_display_or_error_text_contains_the_secret(bytes in secret_bytes()) {
        let patterns = leak_patterns(&bytes);
        for text in texts_around(&bytes) {
            for pattern in &patterns {
                prop_assert!(!text.contains(pattern.as_str()), "{text:?} contains {pattern:?}");
            }
        }
    }
}

/// What the C init functions leave in the stack below their caller, once they return: the
/// dead frames of everything they called. Nothing of the secret, the HMAC key state, a
/// block of `key ^ pad` or a recovery code may be there (issue 10, §3).
#[cfg(feature = "ffi")]
mod dead_stack {
    use super::*;
    use otpcore::ffi::*;

    /// How far below the call the stack is read: more than any call here goes deep,
    /// unoptimised builds with the hash crates' portable back ends included (45 KiB).
    const DEPTH: usize = 128 * 1024;
    /// Room between the test's frame and the call, so that the frames of the reader
    /// itself (calls, in an unoptimised build) land in this gap, not in what it reads.
    const GAP: usize = 4096;

    /// Writes zeros over the stack below the caller, so that whatever is found afterwards
    /// was put there by the call under test, not by the test computing what to look for.
    #[inline(never)]
    fn clear_below() {
        let mut area = [0u8; DEPTH + 2 * GAP];
        area.zeroize();
        std::hint::black_box(&mut area);
    }

    /// Runs `f` below a gap of `GAP` bytes.
    #[inline(never)]
    fn below_gap(f: &mut dyn FnMut()) {
        let mut gap = [0u8; GAP];
        std::hint::black_box(&mut gap);
        f();
        std::hint::black_box(&mut gap);
    }

    /// Copies the `DEPTH` bytes of the stack that lie below the gap into `image`.
    #[inline(never)]
    fn read_below(image: &mut [u8]) {
        let marker = 0u8;
        let top = std::hint::black_box(&raw const marker) as usize;
        let start = top - GAP - DEPTH;
        for (i, byte) in image.iter_mut().enumerate() {
            // SAFETY: this thread's stack extends well below the current frame (test
            // threads have 2 MiB, and `clear_below` touched this range), only this thread
            // uses it, and bytes are plain data. The read is volatile so that it happens.
            *byte = unsafe { ((start + i) as *const u8).read_volatile() };
        }
    }

    /// The dead stack after `call`, which runs below the gap.
    fn residue_of(mut call: impl FnMut()) -> Vec<u8> {
        let mut image = vec![0u8; DEPTH];
        clear_below();
        below_gap(&mut call);
        read_below(&mut image);
        image
    }

    /// Every 12-byte window of each pattern that appears in `image`.
    fn found(image: &[u8], patterns: &[Vec<u8>]) -> Vec<usize> {
        patterns
            .iter()
            .flat_map(|p| p.windows(12))
            .filter_map(|w| find(image, w))
            .collect()
    }

    /// `bytes` with each `word`-byte group reversed: how a big-endian hash function's
    /// message words sit in memory.
    fn swapped(bytes: &[u8], word: usize) -> Vec<u8> {
        bytes
            .chunks(word)
            .flat_map(|c| c.iter().rev().copied())
            .collect()
    }

    /// The secret, the HMAC chaining values, and the blocks `key ^ ipad`, `key ^ opad`
    /// (as bytes and as the hash's message words) of `key`.
    fn key_patterns(key: &[u8], algorithm: Algorithm) -> Vec<Vec<u8>> {
        let (block, word) = match algorithm {
            Algorithm::Sha512 => (128, 8),
            _ => (64, 4),
        };
        let mut patterns = vec![key.to_vec()];
        patterns.extend(expected_pads(key, algorithm));
        if key.len() <= block {
            for pad in [0x36u8, 0x5c] {
                let xored: Vec<u8> = key.iter().map(|k| k ^ pad).collect();
                patterns.push(swapped(&xored, word));
                patterns.push(xored);
            }
        }
        patterns
    }

    #[test]
    fn secret_import_leaves_no_copy_in_dead_stack() {
        for len in [20, 64, 200, 256] {
            let key = key_bytes(len);
            let mut secret: Box<otp_secret> = Box::new(otp_secret {
                opaque: [0; OTP_SECRET_SIZE / 8],
            });
            let image = residue_of(|| {
                // SAFETY: a writable object and `len` readable bytes.
                let status =
                    unsafe { otp_secret_from_bytes(&mut *secret, key.as_ptr(), key.len(), 1) };
                assert_eq!(status, otp_status::OTP_OK);
            });
            assert_eq!(
                found(&image, std::slice::from_ref(&key)),
                [],
                "{len}-byte secret, from bytes"
            );

            let mut text = vec![0u8; base32::encoded_len(len)];
            base32::encode(&key, &mut text).unwrap();
            let image = residue_of(|| {
                // SAFETY: as above.
                let status = unsafe {
                    otp_secret_from_base32(&mut *secret, text.as_ptr().cast(), text.len(), 1)
                };
                assert_eq!(status, otp_status::OTP_OK);
            });
            assert_eq!(
                found(&image, std::slice::from_ref(&key)),
                [],
                "{len}-byte secret, base32"
            );
            // SAFETY: an initialised object.
            unsafe { otp_secret_wipe(&mut *secret) };
        }
    }

    #[test]
    fn key_uri_parse_leaves_no_copy_of_the_secret_in_dead_stack() {
        for len in [20, 64, 256] {
            let key = key_bytes(len);
            let mut b32 = vec![0u8; base32::encoded_len(len)];
            let b32 = base32::encode(&key, &mut b32).unwrap();
            let uri = format!("otpauth://totp/ACME:alice?secret={b32}&issuer=ACME");
            let mut secret: Box<otp_secret> = Box::new(otp_secret {
                opaque: [0; OTP_SECRET_SIZE / 8],
            });
            let mut parsed: Box<std::mem::MaybeUninit<otp_uri>> =
                Box::new(std::mem::MaybeUninit::zeroed());
            let mut fields = vec![0u8; 256];
            let image = residue_of(|| {
                let mut out_len = 0;
                // SAFETY: readable text, writable objects and a buffer of its length.
                let status = unsafe {
                    otp_uri_parse(
                        uri.as_ptr().cast(),
                        uri.len(),
                        parsed.as_mut_ptr(),
                        &mut *secret,
                        fields.as_mut_ptr().cast(),
                        fields.len(),
                        &mut out_len,
                    )
                };
                assert_eq!(status, otp_status::OTP_OK);
            });
            assert_eq!(
                found(&image, std::slice::from_ref(&key)),
                [],
                "{len}-byte secret"
            );
            // SAFETY: an initialised object.
            unsafe { otp_secret_wipe(&mut *secret) };
        }
    }

    #[test]
    fn key_setup_leaves_no_key_state_in_dead_stack() {
        for algorithm in [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512] {
            for len in [20, 64, 65, 128, 129, 256] {
                let key = key_bytes(len);
                let patterns = key_patterns(&key, algorithm);
                let mut secret: Box<otp_secret> = Box::new(otp_secret {
                    opaque: [0; OTP_SECRET_SIZE / 8],
                });
                // SAFETY: a writable object and `len` readable bytes.
                let status =
                    unsafe { otp_secret_from_bytes(&mut *secret, key.as_ptr(), key.len(), 1) };
                assert_eq!(status, otp_status::OTP_OK);
                let number = match algorithm {
                    Algorithm::Sha1 => 1,
                    Algorithm::Sha256 => 2,
                    _ => 3,
                };
                let mut totp: Box<otp_totp> = Box::new(otp_totp { opaque: [0; 32] });
                let image = residue_of(|| {
                    let mut params = std::mem::MaybeUninit::<otp_totp_params>::uninit();
                    // SAFETY: writable params, then initialised objects.
                    let status = unsafe {
                        otp_totp_params_default(params.as_mut_ptr());
                        let mut params = params.assume_init();
                        params.algorithm = number;
                        otp_totp_init(&mut *totp, &*secret, &params)
                    };
                    assert_eq!(status, otp_status::OTP_OK);
                });
                assert_eq!(
                    found(&image, &patterns),
                    [],
                    "TOTP {algorithm}, {len} bytes"
                );
                let mut hotp: Box<otp_hotp> = Box::new(otp_hotp { opaque: [0; 32] });
                let image = residue_of(|| {
                    let mut params = std::mem::MaybeUninit::<otp_hotp_params>::uninit();
                    // SAFETY: as above.
                    let status = unsafe {
                        otp_hotp_params_default(params.as_mut_ptr());
                        let mut params = params.assume_init();
                        params.algorithm = number;
                        otp_hotp_init(&mut *hotp, &*secret, &params)
                    };
                    assert_eq!(status, otp_status::OTP_OK);
                });
                assert_eq!(
                    found(&image, &patterns),
                    [],
                    "HOTP {algorithm}, {len} bytes"
                );
                // SAFETY: initialised objects.
                unsafe {
                    otp_totp_wipe(&mut *totp);
                    otp_hotp_wipe(&mut *hotp);
                    otp_secret_wipe(&mut *secret);
                }
            }
        }
    }

    #[test]
    fn recovery_check_leaves_no_decoded_code_in_dead_stack() {
        let (mut set, shown) = otpcore::RecoveryCodes::generate().unwrap();
        for (i, code) in shown.iter().enumerate() {
            let typed = code.as_str().as_bytes().to_vec();
            let mut bytes = [0u8; 10];
            let mut value = 0u128;
            for &c in typed.iter().filter(|&&c| c != b'-') {
                let digit = b"0123456789abcdefghjkmnpqrstvwxyz"
                    .iter()
                    .position(|&a| a == c)
                    .unwrap();
                value = value << 5 | digit as u128;
            }
            bytes.copy_from_slice(&value.to_be_bytes()[6..]);
            // A slot marked used by an earlier pass still goes through decode and hash.
            let image = residue_of(|| {
                let outcome = set.verify(&typed).unwrap();
                assert!(outcome.is_valid(), "code {i}");
            });
            let patterns = [bytes.to_vec(), swapped(&bytes, 4)];
            let hits: Vec<usize> = patterns
                .iter()
                .flat_map(|p| p.windows(8))
                .filter_map(|w| find(&image, w))
                .collect();
            assert_eq!(hits, [], "recovery code {i}");
        }
    }
}
