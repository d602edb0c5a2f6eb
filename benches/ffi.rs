#![allow(unsafe_code, clippy::unwrap_used, clippy::arithmetic_side_effects)]
//! The C API's overhead over the Rust call: the exported `otp_totp_generate` and
//! `otp_totp_verify` functions called directly (as C calls them, through the non-inlined
//! symbol) against `Totp::generate` and `Totp::verify` on the same key and inputs.
//!
//! `cargo bench --features ffi --bench ffi`; `python3 benches/report.py` prints the ratios.

use std::hint::black_box;
use std::os::raw::c_char;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use otpcore::ffi::{
    OTP_SECRET_SIZE, otp_algorithm, otp_policy, otp_secret, otp_secret_from_bytes, otp_secret_wipe,
    otp_status, otp_totp, otp_totp_generate, otp_totp_init, otp_totp_params, otp_totp_verify,
    otp_totp_wipe,
};
use otpcore::{Secret, Totp, TotpParams, Verification};

const SECRET: &[u8; 20] = b"12345678901234567890";
const TIME: u64 = 1_700_000_000;

fn ffi(c: &mut Criterion) {
    let rust = Totp::new(&Secret::from_bytes(SECRET).unwrap(), TotpParams::default()).unwrap();

    let mut secret = otp_secret {
        opaque: [0; OTP_SECRET_SIZE / 8],
    };
    let mut key = otp_totp { opaque: [0; 32] };
    let params = otp_totp_params {
        algorithm: otp_algorithm::Sha1 as u32,
        digits: 6,
        period: 30,
        t0: 0,
        look_back: 1,
        look_ahead: 1,
    };
    // SAFETY: every pointer is to a live, properly typed local.
    unsafe {
        let status = otp_secret_from_bytes(
            &mut secret,
            SECRET.as_ptr(),
            SECRET.len(),
            otp_policy::Compatible as u32,
        );
        assert_eq!(status, otp_status::OTP_OK);
        assert_eq!(
            otp_totp_init(&mut key, &secret, &params),
            otp_status::OTP_OK
        );
    }

    // A code that matches no step of the ±1 window, so both sides compute all three.
    let now = rust.step_at(TIME).unwrap();
    let taken: Vec<u32> = (now - 1..=now + 1)
        .map(|s| rust.generate_at_step(s).value())
        .collect();
    let miss = format!("{:06}", (0u32..).find(|v| !taken.contains(v)).unwrap());
    assert_eq!(
        rust.verify(&miss, TIME, None).unwrap(),
        Verification::Invalid
    );

    let mut g = c.benchmark_group("ffi");
    // Both sides write the six ASCII digits into a caller's buffer, as the C call does.
    g.bench_function("generate_rust", |b| {
        let mut out = [0u8; 11];
        b.iter(|| {
            let code = rust.generate(black_box(TIME)).unwrap();
            code.write_to(&mut out).unwrap().len()
        })
    });
    g.bench_function("generate_c", |b| {
        let mut out = [0 as c_char; 11];
        let mut len = 0usize;
        b.iter(|| {
            // SAFETY: the key is initialised and the buffer holds 11 bytes.
            let status = unsafe {
                otp_totp_generate(
                    black_box(&key),
                    black_box(TIME),
                    out.as_mut_ptr(),
                    out.len(),
                    &mut len,
                )
            };
            (status, len)
        })
    });
    g.bench_function("verify_miss_w1_rust", |b| {
        b.iter(|| {
            rust.verify(black_box(&miss), black_box(TIME), None)
                .unwrap()
        })
    });
    g.bench_function("verify_miss_w1_c", |b| {
        let (mut step, mut drift) = (0u64, 0i64);
        b.iter(|| {
            let code = black_box(miss.as_bytes());
            // SAFETY: the key is initialised; `code` is readable for its length.
            unsafe {
                otp_totp_verify(
                    black_box(&key),
                    code.as_ptr().cast(),
                    code.len(),
                    black_box(TIME),
                    false,
                    0,
                    &mut step,
                    &mut drift,
                )
            }
        })
    });
    g.finish();

    // SAFETY: both objects were initialised above.
    unsafe {
        assert_eq!(otp_totp_wipe(&mut key), otp_status::OTP_OK);
        assert_eq!(otp_secret_wipe(&mut secret), otp_status::OTP_OK);
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
    targets = ffi
}
criterion_main!(benches);
