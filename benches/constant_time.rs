//! Statistical timing test in the style of dudect (Reparaz, Balasch, Verbauwhede, 2017):
//! for each pair of input classes, time many verifications with the class picked at random
//! per call, then compare the two timing distributions with Welch's t-test, also after
//! cropping the slowest samples at several percentiles. |t| < 4.5 everywhere passes.
//!
//! Too noisy for CI, so it only has to compile there. Run it with
//! `cargo bench --bench constant_time` on an idle machine; `OTPCORE_DUDECT_SAMPLES` sets the
//! number of timed calls per test (default 1,000,000), `OTPCORE_DUDECT_FILTER` runs only the
//! tests whose name contains it.
#![allow(clippy::arithmetic_side_effects, clippy::indexing_slicing)]

use std::hint::black_box;
use std::time::Instant;

use otpcore::{Algorithm, Digits, Hotp, HotpParams, Secret, Totp, TotpParams};

/// The threshold of dudect: above it, the timing distributions of the two classes differ.
const T_THRESHOLD: f64 = 4.5;
/// Percentiles at which the slowest samples are cropped (100 keeps them all): interrupts
/// and frequency changes only ever add time, and cropping exposes differences they hide.
const CROPS: [f64; 6] = [100.0, 99.0, 95.0, 90.0, 75.0, 50.0];

/// SplitMix64, for the class order and wrong codes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Welch's t statistic of two samples, from running sums.
#[derive(Default)]
struct Welch {
    n: [f64; 2],
    mean: [f64; 2],
    m2: [f64; 2],
}

impl Welch {
    fn push(&mut self, class: usize, x: f64) {
        self.n[class] += 1.0;
        let delta = x - self.mean[class];
        self.mean[class] += delta / self.n[class];
        self.m2[class] += delta * (x - self.mean[class]);
    }

    fn t(&self) -> f64 {
        let var = |c: usize| self.m2[c] / (self.n[c] - 1.0);
        (self.mean[0] - self.mean[1]) / (var(0) / self.n[0] + var(1) / self.n[1]).sqrt()
    }
}

/// One test: two classes of inputs (a time or counter, and a typed code), and the
/// verification to time. Both classes draw from pools of the same size and the same
/// times, so that only the property under test tells them apart.
struct Case<'a> {
    name: &'a str,
    classes: [Vec<(u64, String)>; 2],
    verify: &'a dyn Fn(u64, &str) -> bool,
}

struct Outcome {
    samples: usize,
    /// t at each crop of `CROPS` (positive when class 1 is slower).
    t: Vec<f64>,
    /// The mean time of each class, in nanoseconds.
    mean: [f64; 2],
}

fn run(case: &Case<'_>, samples: usize, rng: &mut Rng) -> Outcome {
    // Warm caches and branch predictors on both classes before measuring.
    for i in 0..samples / 20 {
        let class = &case.classes[i % 2];
        let (at, code) = &class[i % class.len()];
        black_box((case.verify)(black_box(*at), black_box(code)));
    }
    let mut timings = Vec::with_capacity(samples);
    let mut typed = [0u8; 16];
    for _ in 0..samples {
        let r = rng.next();
        let class = (r & 1) as usize;
        let inputs = &case.classes[class];
        let (at, code) = &inputs[(r >> 1) as usize % inputs.len()];
        // Every code is verified from the same buffer, so that where a class's strings
        // happen to lie in memory cannot tell the classes apart.
        let len = code.len().min(typed.len());
        typed[..len].copy_from_slice(&code.as_bytes()[..len]);
        let code = std::str::from_utf8(&typed[..len]).unwrap_or_default();
        let (at, code) = (black_box(*at), black_box(code));
        let start = Instant::now();
        let outcome = (case.verify)(at, code);
        let elapsed = start.elapsed();
        black_box(outcome);
        timings.push((class, elapsed.as_nanos() as f64));
    }
    let mut sorted: Vec<f64> = timings.iter().map(|&(_, t)| t).collect();
    sorted.sort_by(f64::total_cmp);
    let mut all = Welch::default();
    for &(class, x) in &timings {
        all.push(class, x);
    }
    let t = CROPS
        .iter()
        .map(|&p| {
            let cut = sorted[((sorted.len() - 1) as f64 * p / 100.0) as usize];
            let mut welch = Welch::default();
            for &(class, x) in timings.iter().filter(|&&(_, x)| x <= cut) {
                welch.push(class, x);
            }
            welch.t()
        })
        .collect();
    Outcome {
        samples,
        t,
        mean: all.mean,
    }
}

/// The number of distinct inputs per class.
const POOL: usize = 1000;

/// A well-formed code of `digits` digits that none of `right` equals.
fn wrong_code(rng: &mut Rng, digits: u32, right: &[String]) -> String {
    let modulus = 10u64.pow(digits);
    loop {
        let code = format!("{:0width$}", rng.next() % modulus, width = digits as usize);
        if !right.contains(&code) {
            return code;
        }
    }
}

/// `code` with the digit at `index` replaced by the next digit.
fn change_digit(code: &str, index: usize) -> String {
    let mut bytes = code.as_bytes().to_vec();
    bytes[index] = b'0' + (bytes[index] - b'0' + 1) % 10;
    String::from_utf8(bytes).unwrap_or_default()
}

/// Pairs of class inputs, one pair per time or counter in `points`; a pair is left out
/// when `make` gives `None` (a changed code that happens to be right for another step).
fn pools(
    points: &[u64],
    mut make: impl FnMut(u64) -> Option<[String; 2]>,
) -> [Vec<(u64, String)>; 2] {
    let mut classes = [Vec::new(), Vec::new()];
    for &at in points {
        if let Some([a, b]) = make(at) {
            classes[0].push((at, a));
            classes[1].push((at, b));
        }
    }
    classes
}

fn main() {
    let samples: usize = std::env::var("OTPCORE_DUDECT_SAMPLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let mut rng = Rng(0xD0DEC7);
    let times: Vec<u64> = (0..POOL)
        .map(|_| 1_700_000_000 + rng.next() % 100_000_000)
        .collect();
    let counters: Vec<u64> = (0..POOL).map(|_| rng.next() >> 8).collect();

    let Ok(secret) = Secret::from_bytes(b"12345678901234567890") else {
        return;
    };
    let Ok(eight) = Digits::new(8) else {
        return;
    };
    let make_totp = |algorithm, window| {
        Totp::new(
            &secret,
            TotpParams {
                algorithm,
                look_back: window,
                look_ahead: window,
                ..TotpParams::default()
            },
        )
    };
    let make_hotp = |digits| {
        Hotp::new(
            &secret,
            HotpParams {
                digits,
                ..HotpParams::default()
            },
        )
    };
    let (Ok(totp), Ok(totp_wide), Ok(totp512), Ok(hotp), Ok(hotp8)) = (
        make_totp(Algorithm::Sha1, 1),
        make_totp(Algorithm::Sha1, 5),
        make_totp(Algorithm::Sha512, 1),
        make_hotp(Digits::SIX),
        make_hotp(eight),
    ) else {
        return;
    };

    // The codes of every step of a TOTP window at `time`, the expected step's first.
    let totp_window = |t: &Totp, time: u64, reach: u64| -> Vec<String> {
        let step = t.step_at(time).unwrap_or_default();
        let mut codes = vec![t.generate_at_step(step).to_string()];
        codes.extend(
            (1..=reach)
                .flat_map(|k| [step - k, step + k].map(|s| t.generate_at_step(s).to_string())),
        );
        codes
    };
    let hotp_window = |h: &Hotp, counter: u64| -> Vec<String> {
        (counter..=counter + 3)
            .map(|c| h.generate(c).to_string())
            .collect()
    };

    let verify_totp =
        |time: u64, code: &str| totp.verify(code, time, None).is_ok_and(|v| v.is_valid());
    let verify_wide = |time: u64, code: &str| {
        totp_wide
            .verify(code, time, None)
            .is_ok_and(|v| v.is_valid())
    };
    let verify_512 =
        |time: u64, code: &str| totp512.verify(code, time, None).is_ok_and(|v| v.is_valid());
    let verify_hotp =
        |counter: u64, code: &str| hotp.verify(code, counter).is_ok_and(|v| v.is_valid());
    let verify_hotp8 =
        |counter: u64, code: &str| hotp8.verify(code, counter).is_ok_and(|v| v.is_valid());

    let valid_vs_wrong_totp = pools(&times, |time| {
        let window = totp_window(&totp, time, 1);
        Some([window[0].clone(), wrong_code(&mut rng, 6, &window)])
    });
    // A null test: two classes drawn the same way. If it fails, the machine is too noisy
    // for the other results to mean anything.
    let wrong_vs_wrong_totp = pools(&times, |time| {
        let window = totp_window(&totp, time, 1);
        Some([
            wrong_code(&mut rng, 6, &window),
            wrong_code(&mut rng, 6, &window),
        ])
    });
    let first_vs_last_step = pools(&times, |time| {
        let window = totp_window(&totp_wide, time, 5);
        Some([window[0].clone(), window[10].clone()])
    });
    let first_vs_last_digit_totp = pools(&times, |time| {
        let window = totp_window(&totp, time, 1);
        let pair = [change_digit(&window[0], 0), change_digit(&window[0], 5)];
        (!pair.iter().any(|c| window.contains(c))).then_some(pair)
    });
    let valid_vs_wrong_512 = pools(&times, |time| {
        let window = totp_window(&totp512, time, 1);
        Some([window[0].clone(), wrong_code(&mut rng, 6, &window)])
    });
    let valid_vs_wrong_hotp = pools(&counters, |counter| {
        let window = hotp_window(&hotp, counter);
        Some([window[0].clone(), wrong_code(&mut rng, 6, &window)])
    });
    let first_vs_last_counter = pools(&counters, |counter| {
        let window = hotp_window(&hotp, counter);
        Some([window[0].clone(), window[3].clone()])
    });
    let first_vs_last_digit_hotp8 = pools(&counters, |counter| {
        let window = hotp_window(&hotp8, counter);
        let pair = [change_digit(&window[0], 0), change_digit(&window[0], 7)];
        (!pair.iter().any(|c| window.contains(c))).then_some(pair)
    });

    let cases = [
        Case {
            name: "TOTP SHA-1 ±1: valid code vs wrong code",
            classes: valid_vs_wrong_totp,
            verify: &verify_totp,
        },
        Case {
            name: "control: TOTP SHA-1 ±1: wrong code vs wrong code",
            classes: wrong_vs_wrong_totp,
            verify: &verify_totp,
        },
        Case {
            name: "TOTP SHA-1 ±5: match at the expected step vs at the last step (+5)",
            classes: first_vs_last_step,
            verify: &verify_wide,
        },
        Case {
            name: "TOTP SHA-1 ±1: wrong first digit vs wrong last digit",
            classes: first_vs_last_digit_totp,
            verify: &verify_totp,
        },
        Case {
            name: "TOTP SHA-512 ±1: valid code vs wrong code",
            classes: valid_vs_wrong_512,
            verify: &verify_512,
        },
        Case {
            name: "HOTP SHA-1 +3: valid code vs wrong code",
            classes: valid_vs_wrong_hotp,
            verify: &verify_hotp,
        },
        Case {
            name: "HOTP SHA-1 +3: match at the counter vs at counter + 3",
            classes: first_vs_last_counter,
            verify: &verify_hotp,
        },
        Case {
            name: "HOTP SHA-1 8 digits +3: wrong first digit vs wrong last digit",
            classes: first_vs_last_digit_hotp8,
            verify: &verify_hotp8,
        },
    ];

    println!(
        "dudect-style timing test, {samples} timed calls per test (both classes), |t| < {T_THRESHOLD} passes"
    );
    println!(
        "| test | samples | mean ns (class 1 / 2) | max abs t | t at crops {CROPS:?} | result |"
    );
    println!("|---|---|---|---|---|---|");
    let mut failed = false;
    let filter = std::env::var("OTPCORE_DUDECT_FILTER").unwrap_or_default();
    for case in cases.iter().filter(|c| c.name.contains(filter.as_str())) {
        let outcome = run(case, samples, &mut rng);
        let max = outcome.t.iter().map(|t| t.abs()).fold(0.0, f64::max);
        let pass = max < T_THRESHOLD;
        failed |= !pass;
        let crops: Vec<String> = outcome.t.iter().map(|t| format!("{t:+.2}")).collect();
        println!(
            "| {} | {} | {:.0} / {:.0} | {max:.2} | {} | {} |",
            case.name,
            outcome.samples,
            outcome.mean[0],
            outcome.mean[1],
            crops.join(" / "),
            if pass { "pass" } else { "FAIL" }
        );
    }
    if failed {
        println!("at least one test exceeds |t| = {T_THRESHOLD}: timing depends on the class");
        std::process::exit(1);
    }
}
