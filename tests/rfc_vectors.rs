//! RFC 4226 Appendix D and RFC 6238 Appendix B test vectors, kept as data in
//! `tests/vectors/rfc.csv`, checked through generate and verify.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::arithmetic_side_effects
)]

use otpcore::{Algorithm, Digits, Hotp, HotpParams, Secret, Totp, TotpParams, Verification};

struct Vector<'a> {
    kind: &'a str,
    algorithm: Algorithm,
    digits: Digits,
    secret: Vec<u8>,
    counter: u64,
    time: u64,
    period: u64,
    t0: u64,
    code: &'a str,
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn number(field: &str) -> u64 {
    if field.is_empty() {
        0
    } else {
        field.parse().unwrap()
    }
}

fn vectors(csv: &str) -> Vec<Vector<'_>> {
    csv.lines()
        .skip(1)
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            Vector {
                kind: f[0],
                algorithm: Algorithm::from_name(f[1]).unwrap(),
                digits: Digits::new(f[2].parse().unwrap()).unwrap(),
                secret: hex(f[3]),
                counter: number(f[4]),
                time: number(f[5]),
                period: number(f[6]),
                t0: number(f[7]),
                code: f[8],
            }
        })
        .collect()
}

/// Checks every vector of one CSV source.
macro_rules! vector_source {
    ($name:ident, $path:literal, $expected_count:expr) => {
        #[test]
        fn $name() {
            let all = vectors(include_str!($path));
            assert_eq!(all.len(), $expected_count);
            for v in &all {
                let secret = Secret::from_bytes(&v.secret).unwrap();
                match v.kind {
                    "hotp" => {
                        let params = HotpParams {
                            algorithm: v.algorithm,
                            digits: v.digits,
                            look_ahead: 0,
                        };
                        let hotp = Hotp::new(&secret, params).unwrap();
                        assert_eq!(
                            hotp.generate(v.counter).to_string(),
                            v.code,
                            "counter {}",
                            v.counter
                        );
                        let outcome = hotp.verify(v.code, v.counter).unwrap();
                        assert_eq!(outcome.valid_match().map(|m| m.step), Some(v.counter));
                    }
                    "totp" => {
                        let params = TotpParams {
                            algorithm: v.algorithm,
                            digits: v.digits,
                            period: v.period,
                            t0: v.t0,
                            ..TotpParams::default()
                        };
                        let totp = Totp::new(&secret, params).unwrap();
                        assert_eq!(
                            totp.generate(v.time).unwrap().to_string(),
                            v.code,
                            "{} at {}",
                            v.algorithm,
                            v.time
                        );
                        let step = (v.time - v.t0) / v.period;
                        match totp.verify(v.code, v.time, None).unwrap() {
                            Verification::Valid(m) => assert_eq!((m.step, m.drift), (step, 0)),
                            other => panic!("{other:?}"),
                        }
                    }
                    other => panic!("unknown kind {other}"),
                }
            }
        }
    };
}

vector_source!(rfc4226_and_rfc6238_appendix_vectors, "vectors/rfc.csv", 28);

/// RFC 4226 §5.3 from first principles, with the RustCrypto `hmac` crate, which hashes
/// keys longer than a block itself.
fn reference_code(algorithm: Algorithm, key: &[u8], counter: u64, digits: u32) -> String {
    use hmac::{Hmac, KeyInit, Mac};
    let message = counter.to_be_bytes();
    let mac: Vec<u8> = match algorithm {
        Algorithm::Sha1 => Hmac::<sha1::Sha1>::new_from_slice(key)
            .unwrap()
            .chain_update(message)
            .finalize()
            .into_bytes()
            .to_vec(),
        Algorithm::Sha256 => Hmac::<sha2::Sha256>::new_from_slice(key)
            .unwrap()
            .chain_update(message)
            .finalize()
            .into_bytes()
            .to_vec(),
        Algorithm::Sha512 => Hmac::<sha2::Sha512>::new_from_slice(key)
            .unwrap()
            .chain_update(message)
            .finalize()
            .into_bytes()
            .to_vec(),
    };
    let offset = usize::from(mac[mac.len() - 1] & 0x0f);
    let word = u32::from_be_bytes(mac[offset..offset + 4].try_into().unwrap()) & 0x7fff_ffff;
    format!(
        "{:0width$}",
        u64::from(word) % 10u64.pow(digits),
        width = digits as usize
    )
}

/// Key bytes that differ at every position and between lengths.
fn long_key(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 131 + len * 7 + 3) as u8).collect()
}

/// oathtool and pyotp compute codes for keys of up to 256 bytes and more (issue 10, §4):
/// every length from 1 to 256, so below, at and above each block size (64 bytes for
/// SHA-1/SHA-256, 128 for SHA-512), where longer keys are hashed once (RFC 2104).
#[test]
fn keys_of_every_length_up_to_256_bytes_match_an_independent_hmac() {
    for algorithm in [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512] {
        for len in 10..=otpcore::MAX_SECRET_LEN {
            let key = long_key(len);
            let secret = Secret::from_bytes(&key).unwrap();
            let hotp = Hotp::new(
                &secret,
                HotpParams {
                    algorithm,
                    digits: Digits::new(8).unwrap(),
                    look_ahead: 0,
                },
            )
            .unwrap();
            let totp = Totp::new(
                &secret,
                TotpParams {
                    algorithm,
                    digits: Digits::new(8).unwrap(),
                    ..TotpParams::default()
                },
            )
            .unwrap();
            for counter in [0, 1, len as u64 * 1_000_003, u64::MAX] {
                let expected = reference_code(algorithm, &key, counter, 8);
                let label = format!("{algorithm}, {len}-byte key, counter {counter}");
                assert_eq!(hotp.generate(counter).to_string(), expected, "{label}");
                assert_eq!(
                    totp.generate_at_step(counter).to_string(),
                    expected,
                    "{label}"
                );
            }
        }
    }
}

#[test]
fn a_256_byte_key_is_accepted_in_every_form_and_257_bytes_are_not() {
    assert_eq!(otpcore::MAX_SECRET_LEN, 256);
    let key = long_key(256);
    let mut text = [0u8; otpcore::MAX_SECRET_BASE32_LEN];
    let b32 = Secret::from_bytes(&key)
        .unwrap()
        .to_base32(&mut text)
        .unwrap()
        .to_owned();
    assert_eq!(b32.len(), otpcore::MAX_SECRET_BASE32_LEN);
    assert_eq!(Secret::from_base32(&b32).unwrap().as_bytes(), &key[..]);
    let uri = format!("otpauth://totp/ACME:alice?secret={b32}&algorithm=SHA512&issuer=ACME");
    let (_, parsed) = otpcore::KeyUri::parse(&uri, &mut [0u8; 64]).unwrap();
    assert_eq!(parsed.as_bytes(), &key[..]);
    let fill = |bytes: &mut [u8]| {
        bytes.fill(0x5a);
        Ok::<(), ()>(())
    };
    assert_eq!(Secret::generate_with(256, fill).unwrap().len(), 256);

    let too_long = long_key(257);
    assert_eq!(
        Secret::from_bytes(&too_long).unwrap_err(),
        otpcore::Error::SecretTooLong
    );
    let mut text = vec![0u8; otpcore::base32::encoded_len(257)];
    let b32 = otpcore::base32::encode(&too_long, &mut text).unwrap();
    assert_eq!(
        Secret::from_base32(b32).unwrap_err(),
        otpcore::Error::SecretTooLong
    );
    assert_eq!(
        Secret::generate_with(257, fill).unwrap_err(),
        otpcore::Error::SecretTooLong
    );
}
