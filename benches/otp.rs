#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]
//! One run, every figure of issue 4: the compression-function limit, otpcore's operations,
//! and the peers (totp-rs, totp-lite, re-keyed `hmac`) on the same inputs.
//!
//! `cargo bench --bench otp` runs it; `python3 benches/report.py` prints the table from
//! criterion's estimates.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use hmac::{Hmac, KeyInit, Mac};
use otpcore::{
    Algorithm, Digits, Hotp, HotpParams, KeyUri, Secret, Totp, TotpParams, Verification,
};

/// The RFC 6238 SHA-1 test secret, as authenticator apps carry it: 20 bytes.
const SECRET: &[u8; 20] = b"12345678901234567890";
/// A 32-character base32 secret (20 bytes), the length most services issue.
const SECRET_BASE32: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
/// A time well inside a step, so the window never crosses step 0.
const TIME: u64 = 1_700_000_000;
const PERIOD: u64 = 30;

const SHA1_IV: [u32; 5] = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0];
const SHA256_IV: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];
const SHA512_IV: [u64; 8] = [
    0x6a09e667f3bcc908,
    0xbb67ae8584caa73b,
    0x3c6ef372fe94f82b,
    0xa54ff53a5f1d36f1,
    0x510e527fade682d1,
    0x9b05688c2b3e6c1f,
    0x1f83d9abfb41bd6b,
    0x5be0cd19137e2179,
];

fn secret() -> Secret {
    Secret::from_bytes(SECRET).unwrap()
}

fn totp(algorithm: Algorithm, digits: Digits, window: u32) -> Totp {
    let params = TotpParams {
        algorithm,
        digits,
        look_back: window,
        look_ahead: window,
        ..TotpParams::default()
    };
    Totp::new(&secret(), params).unwrap()
}

/// A six-digit code that matches no step within `window` steps of `TIME`, so verifying it
/// computes the whole window and finds nothing: the typical failed attempt.
fn miss_code(totp: &Totp, window: u64) -> String {
    let now = totp.step_at(TIME).unwrap();
    let digits = usize::from(totp.params().digits.get());
    let taken: Vec<u32> = (now - window..=now + window)
        .map(|step| totp.generate_at_step(step).value())
        .collect();
    let value = (0u32..).find(|v| !taken.contains(v)).unwrap();
    format!("{value:0digits$}")
}

/// `n` dependent compressions: each one starts from the state the previous one left, as
/// the outer hash of HMAC waits for the inner one.
macro_rules! chain {
    ($c:expr, $name:literal, $compress:path, $iv:expr, $block:expr, $n:literal) => {
        $c.bench_function($name, |b| {
            let block = $block;
            b.iter(|| {
                let mut state = black_box($iv);
                for _ in 0..$n {
                    $compress(&mut state, core::slice::from_ref(black_box(&block)));
                }
                state
            })
        });
    };
}

/// The limit: raw block-level compression calls of the `sha1`/`sha2` crates (the same
/// functions otpcore calls). One code is two dependent compressions; a ±1 window
/// evaluated one code after another is six.
fn limit(c: &mut Criterion) {
    let mut g = c.benchmark_group("limit");
    chain!(
        g,
        "sha1_x1",
        sha1::block_api::compress,
        SHA1_IV,
        [0x36u8; 64],
        1
    );
    chain!(
        g,
        "sha1_x2",
        sha1::block_api::compress,
        SHA1_IV,
        [0x36u8; 64],
        2
    );
    chain!(
        g,
        "sha1_x6",
        sha1::block_api::compress,
        SHA1_IV,
        [0x36u8; 64],
        6
    );
    chain!(
        g,
        "sha256_x1",
        sha2::block_api::compress256,
        SHA256_IV,
        [0x36u8; 64],
        1
    );
    chain!(
        g,
        "sha256_x2",
        sha2::block_api::compress256,
        SHA256_IV,
        [0x36u8; 64],
        2
    );
    chain!(
        g,
        "sha256_x6",
        sha2::block_api::compress256,
        SHA256_IV,
        [0x36u8; 64],
        6
    );
    chain!(
        g,
        "sha512_x1",
        sha2::block_api::compress512,
        SHA512_IV,
        [0x36u8; 128],
        1
    );
    chain!(
        g,
        "sha512_x2",
        sha2::block_api::compress512,
        SHA512_IV,
        [0x36u8; 128],
        2
    );
    chain!(
        g,
        "sha512_x6",
        sha2::block_api::compress512,
        SHA512_IV,
        [0x36u8; 128],
        6
    );
    g.finish();
}

fn generate(c: &mut Criterion) {
    let mut g = c.benchmark_group("generate");
    let cases = [
        ("sha1", Algorithm::Sha1, Digits::SIX),
        ("sha256", Algorithm::Sha256, Digits::SIX),
        ("sha512", Algorithm::Sha512, Digits::SIX),
        ("sha1_8digits", Algorithm::Sha1, Digits::EIGHT),
        ("sha1_10digits", Algorithm::Sha1, Digits::new(10).unwrap()),
    ];
    for (name, algorithm, digits) in cases {
        let t = totp(algorithm, digits, 1);
        g.bench_function(name, |b| {
            b.iter(|| t.generate(black_box(TIME)).unwrap().value())
        });
    }
    // With the digits written out, as a caller that displays or sends the code does.
    let t = totp(Algorithm::Sha1, Digits::SIX, 1);
    g.bench_function("sha1_ascii", |b| {
        b.iter(|| t.generate(black_box(TIME)).unwrap().to_ascii())
    });
    g.finish();
}

fn verify(c: &mut Criterion) {
    let mut g = c.benchmark_group("verify");
    // A wrong code, by window size: cost grows with the 2w+1 codes computed.
    for window in [0u32, 1, 2, 5, 10] {
        let t = totp(Algorithm::Sha1, Digits::SIX, window);
        let code = miss_code(&t, u64::from(window));
        g.bench_function(format!("miss_w{window}"), |b| {
            b.iter(|| t.verify(black_box(&code), black_box(TIME), None).unwrap())
        });
    }
    for (name, algorithm) in [("sha256", Algorithm::Sha256), ("sha512", Algorithm::Sha512)] {
        let t = totp(algorithm, Digits::SIX, 1);
        let code = miss_code(&t, 1);
        g.bench_function(format!("miss_w1_{name}"), |b| {
            b.iter(|| t.verify(black_box(&code), black_box(TIME), None).unwrap())
        });
    }
    // A right code at each position of a ±1 window: the same work as a miss, by design.
    let t = totp(Algorithm::Sha1, Digits::SIX, 1);
    let now = t.step_at(TIME).unwrap();
    for (name, drift) in [("hit_back", -1i64), ("hit_now", 0), ("hit_ahead", 1)] {
        let step = now.checked_add_signed(drift).unwrap();
        let code = t.generate_at_step(step).to_string();
        assert!(matches!(
            t.verify(&code, TIME, None).unwrap(),
            Verification::Valid(m) if m.drift == drift
        ));
        g.bench_function(name, |b| {
            b.iter(|| t.verify(black_box(&code), black_box(TIME), None).unwrap())
        });
    }
    g.finish();
}

fn hotp(c: &mut Criterion) {
    let mut g = c.benchmark_group("hotp");
    let params = HotpParams {
        look_ahead: 10,
        ..HotpParams::default()
    };
    let h = Hotp::new(&secret(), params).unwrap();
    let taken: Vec<u32> = (0..=10).map(|n| h.generate(n).value()).collect();
    let value = (0u32..).find(|v| !taken.contains(v)).unwrap();
    let code = format!("{value:06}");
    assert_eq!(h.verify(&code, 0).unwrap(), Verification::Invalid);
    g.bench_function("lookahead10_miss", |b| {
        b.iter(|| h.verify(black_box(&code), black_box(0)).unwrap())
    });
    g.finish();
}

fn uri_and_base32(c: &mut Criterion) {
    let secret = secret();
    let uri = KeyUri::totp("alice@example.com").with_issuer("Example Co");
    let mut g = c.benchmark_group("uri");
    g.bench_function("build", |b| {
        let mut out = [0u8; 256];
        b.iter(|| black_box(&uri).to_buf(&secret, &mut out).unwrap().len())
    });
    let mut out = [0u8; 256];
    let text = uri.to_buf(&secret, &mut out).unwrap().to_owned();
    g.bench_function("parse", |b| {
        let mut buf = [0u8; 256];
        b.iter(|| {
            let (parsed, secret) = KeyUri::parse(black_box(&text), &mut buf).unwrap();
            (parsed.totp_params().period, secret.len())
        })
    });
    g.finish();

    let mut g = c.benchmark_group("base32");
    g.bench_function("decode32", |b| {
        let mut out = [0u8; 20];
        b.iter(|| {
            otpcore::base32::decode(black_box(SECRET_BASE32), &mut out)
                .unwrap()
                .len()
        })
    });
    g.finish();
}

/// HOTP as a naive implementation computes it: HMAC keyed anew for every code.
fn hmac_rekeyed(secret: &[u8], counter: u64) -> u32 {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret).unwrap();
    mac.update(&counter.to_be_bytes());
    let mac = mac.finalize().into_bytes();
    let offset = usize::from(mac[19] & 0x0f);
    let value = u32::from_be_bytes(mac[offset..offset + 4].try_into().unwrap()) & 0x7fff_ffff;
    value % 1_000_000
}

fn peers(c: &mut Criterion) {
    let ours = totp(Algorithm::Sha1, Digits::SIX, 1);
    let theirs = totp_rs::Builder::new()
        .with_algorithm(totp_rs::Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(PERIOD)
        .with_secret(SECRET.to_vec())
        .build()
        .unwrap();
    // The peers compute the same codes on the same inputs.
    let expected = ours.generate(TIME).unwrap().to_string();
    assert_eq!(theirs.generate(TIME).to_string(), expected);
    assert_eq!(
        totp_lite::totp_custom::<totp_lite::Sha1>(PERIOD, 6, SECRET, TIME),
        expected
    );
    assert_eq!(
        format!("{:06}", hmac_rekeyed(SECRET, TIME / PERIOD)),
        expected
    );
    let miss = miss_code(&ours, 1);
    assert_eq!(theirs.check(&miss, TIME), None);

    let mut g = c.benchmark_group("peers");
    g.bench_function("totp_rs_generate", |b| {
        b.iter(|| theirs.generate(black_box(TIME)))
    });
    g.bench_function("totp_rs_check_miss_w1", |b| {
        b.iter(|| theirs.check(black_box(&miss), black_box(TIME)))
    });
    g.bench_function("totp_lite_generate", |b| {
        b.iter(|| {
            totp_lite::totp_custom::<totp_lite::Sha1>(PERIOD, 6, black_box(SECRET), black_box(TIME))
        })
    });
    g.bench_function("hmac_rekeyed_generate", |b| {
        b.iter(|| hmac_rekeyed(black_box(SECRET), black_box(TIME) / PERIOD))
    });
    g.finish();
}

/// Short runs by default, since the benchmark machines are shared; the command line
/// (`--warm-up-time`, `--measurement-time`) overrides these.
fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! {
    name = benches;
    config = config();
    targets = limit, generate, verify, hotp, uri_and_base32, peers
}
criterion_main!(benches);
