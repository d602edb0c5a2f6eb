//! Base32 import: arbitrary text and output sizes never panic; decoding agrees with a
//! naive reference reader of the documented policy; errors write nothing; decode -> encode
//! -> decode is stable and encoding is canonical; `Secret::from_base32` agrees with it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use otpcore::{Error, MAX_SECRET_LEN, Secret, SecretPolicy, base32};

/// The documented reading policy, written the slow and obvious way: drop spaces and `-`,
/// allow `=` only as complete padding at the end, then read 5 bits per symbol in any case.
fn reference_decode(text: &str) -> Option<Vec<u8>> {
    let kept: Vec<u8> = text.bytes().filter(|b| !matches!(b, b' ' | b'-')).collect();
    let symbols = kept.iter().take_while(|&&b| b != b'=').count();
    let padding = kept.len() - symbols;
    if kept[symbols..].iter().any(|&b| b != b'=') {
        return None;
    }
    if !matches!(symbols % 8, 0 | 2 | 4 | 5 | 7) {
        return None;
    }
    if padding != 0 && (symbols % 8 == 0 || padding != 8 - symbols % 8) {
        return None;
    }
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut bits = String::new();
    for &c in &kept[..symbols] {
        let value = alphabet.iter().position(|&a| a == c.to_ascii_uppercase())?;
        bits.push_str(&format!("{value:05b}"));
    }
    Some(
        bits.as_bytes()
            .chunks_exact(8)
            .map(|byte| u8::from_str_radix(core::str::from_utf8(byte).unwrap(), 2).unwrap())
            .collect(),
    )
}

fuzz_target!(|data: &[u8]| {
    let Some((&size, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = core::str::from_utf8(rest) else {
        return;
    };
    let expected = reference_decode(text);
    assert_eq!(
        base32::decoded_len(text).ok(),
        expected.as_ref().map(Vec::len)
    );

    // An output buffer of arbitrary size, pre-filled to detect partial writes.
    let mut out = vec![0xA5u8; usize::from(size)];
    match base32::decode(text, &mut out) {
        Ok(decoded) => {
            let decoded = decoded.to_vec();
            assert_eq!(Some(&decoded), expected.as_ref());
            assert!(out[decoded.len()..].iter().all(|&b| b == 0xA5));

            let mut encoded = vec![0u8; base32::encoded_len(decoded.len())];
            let encoded = base32::encode(&decoded, &mut encoded).unwrap().to_owned();
            assert!(
                encoded
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
            );
            let mut again = vec![0u8; decoded.len()];
            assert_eq!(base32::decode(&encoded, &mut again).unwrap(), &decoded[..]);
            let mut encoded_again = vec![0u8; encoded.len()];
            assert_eq!(base32::encode(&again, &mut encoded_again).unwrap(), encoded);

            // One byte too few for the encoding: refused, nothing written.
            if !encoded.is_empty() {
                let mut short = vec![0xA5u8; encoded.len() - 1];
                assert_eq!(
                    base32::encode(&decoded, &mut short),
                    Err(Error::BufferTooSmall {
                        needed: encoded.len()
                    })
                );
                assert!(short.iter().all(|&b| b == 0xA5));
            }
        }
        Err(error) => {
            assert!(
                out.iter().all(|&b| b == 0xA5),
                "{error:?} after a partial write"
            );
            match &expected {
                Some(bytes) => {
                    assert_eq!(
                        error,
                        Error::BufferTooSmall {
                            needed: bytes.len()
                        }
                    );
                    assert!(bytes.len() > out.len());
                }
                None => assert!(!matches!(error, Error::BufferTooSmall { .. })),
            }
        }
    }

    // The secret importer reads the same bytes, and refuses by length exactly as documented.
    for policy in [SecretPolicy::Compatible, SecretPolicy::Strict] {
        let imported = Secret::from_base32_with_policy(text, policy);
        match (&expected, imported) {
            (Some(bytes), Ok(secret)) => {
                assert_eq!(secret.as_bytes(), &bytes[..]);
                assert!(bytes.len() * 8 >= usize::from(policy.min_bits()));
                let mut canonical = [0u8; otpcore::MAX_SECRET_BASE32_LEN];
                let mut direct = vec![0u8; base32::encoded_len(bytes.len())];
                assert_eq!(
                    secret.to_base32(&mut canonical).unwrap(),
                    base32::encode(bytes, &mut direct).unwrap()
                );
            }
            (Some(bytes), Err(error)) => assert_eq!(
                error,
                if bytes.is_empty() {
                    Error::SecretEmpty
                } else if bytes.len() > MAX_SECRET_LEN {
                    Error::SecretTooLong
                } else {
                    Error::SecretTooShort {
                        min_bits: policy.min_bits(),
                    }
                }
            ),
            (None, result) => assert!(result.is_err()),
        }
    }
});
