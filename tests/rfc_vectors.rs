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
