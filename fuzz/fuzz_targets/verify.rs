//! Code verification with arbitrary code strings, secrets, parameters, times and counters:
//! every outcome is recomputed from `generate` over the window. Verify never accepts a code
//! that no step of the window produces, never misses one that a step produces, reports the
//! step that the documented preference order picks, and classifies replays exactly. The
//! codes themselves are checked against RFC 4226 computed with the RustCrypto `hmac` crate,
//! so the precomputed and hardware HMAC paths are fuzzed too.
#![no_main]

use arbitrary::Arbitrary;
use hmac::{Hmac, KeyInit, Mac};
use libfuzzer_sys::fuzz_target;
use otpcore::{
    Algorithm, Digits, Error, Hotp, HotpParams, MAX_CODE_INPUT_LEN, Match, Secret, Totp, TotpParams,
    Verification,
};

/// Windows are kept small so that the reference recomputation stays fast; the window code
/// is the same for every size.
const MAX_FUZZ_WINDOW: u32 = 12;

#[derive(Arbitrary, Debug)]
enum CodeSource {
    /// Whatever the fuzzer typed.
    Raw(String),
    /// The code of a step near the expected one, with spaces inserted after some digits.
    Near { offset: i8, spaces: u16 },
}

#[derive(Arbitrary, Debug)]
enum Mode {
    Totp {
        period: u64,
        t0: u64,
        time: u64,
        look_back: u8,
        look_ahead: u8,
        last_accepted: Option<u64>,
    },
    Hotp {
        counter: u64,
        look_ahead: u8,
    },
    Resync {
        counter: u64,
        look_ahead: u8,
        second: CodeSource,
    },
}

#[derive(Arbitrary, Debug)]
struct Input {
    secret: Vec<u8>,
    algorithm: u8,
    digits: u8,
    mode: Mode,
    code: CodeSource,
}

fn algorithm(n: u8) -> Algorithm {
    match n % 3 {
        0 => Algorithm::Sha1,
        1 => Algorithm::Sha256,
        _ => Algorithm::Sha512,
    }
}

/// RFC 4226 §5.3 from first principles, zero-padded to `digits`.
fn reference_code(algorithm: Algorithm, key: &[u8], counter: u64, digits: Digits) -> String {
    let message = counter.to_be_bytes();
    let mac: Vec<u8> = match algorithm {
        Algorithm::Sha1 => {
            let mut mac = Hmac::<sha1::Sha1>::new_from_slice(key).unwrap();
            mac.update(&message);
            mac.finalize().into_bytes().to_vec()
        }
        Algorithm::Sha256 => {
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
            mac.update(&message);
            mac.finalize().into_bytes().to_vec()
        }
        _ => {
            let mut mac = Hmac::<sha2::Sha512>::new_from_slice(key).unwrap();
            mac.update(&message);
            mac.finalize().into_bytes().to_vec()
        }
    };
    let offset = usize::from(mac[mac.len() - 1] & 0x0f);
    let word = u32::from_be_bytes(mac[offset..offset + 4].try_into().unwrap()) & 0x7fff_ffff;
    let width = usize::from(digits.get());
    format!(
        "{:0width$}",
        u64::from(word) % 10u64.pow(u32::from(digits.get()))
    )
}

/// The code a user would type for `step`, or raw text.
fn code_text(source: &CodeSource, expected: u64, generate: impl Fn(u64) -> String) -> String {
    match source {
        CodeSource::Raw(text) => text.clone(),
        CodeSource::Near { offset, spaces } => {
            let step = expected.wrapping_add_signed(i64::from(*offset));
            let digits = generate(step);
            let mut typed = String::new();
            for (i, c) in digits.chars().enumerate() {
                typed.push(c);
                if i + 1 < digits.len() && spaces & (1 << i) != 0 {
                    typed.push(' ');
                }
            }
            typed
        }
    }
}

/// The documented reading of a typed code: digits with spaces between them only.
fn well_formed(code: &str, digits: Digits) -> bool {
    let bytes = code.as_bytes();
    let Some((first, last)) = bytes.first().zip(bytes.last()) else {
        return false;
    };
    bytes.len() <= MAX_CODE_INPUT_LEN
        && first.is_ascii_digit()
        && last.is_ascii_digit()
        && bytes.iter().all(|b| b.is_ascii_digit() || *b == b' ')
        && bytes.iter().filter(|b| b.is_ascii_digit()).count() == usize::from(digits.get())
}

fn digits_only(code: &str) -> String {
    code.chars().filter(char::is_ascii_digit).collect()
}

/// The TOTP preference order: expected, then one back, one ahead, two back, ...
fn totp_window(expected: u64, back: u32, ahead: u32) -> Vec<u64> {
    let mut steps = vec![expected];
    for k in 1..=u64::from(back.max(ahead)) {
        if k <= u64::from(back) {
            steps.extend(expected.checked_sub(k));
        }
        if k <= u64::from(ahead) {
            steps.extend(expected.checked_add(k));
        }
    }
    steps
}

/// The reference outcome: first fresh match in order wins, else first replayed match.
fn reference(
    steps: &[u64],
    expected: u64,
    code: &str,
    last_accepted: Option<u64>,
    generate: impl Fn(u64) -> String,
) -> Verification {
    let code = digits_only(code);
    let matching = || steps.iter().copied().filter(|&s| generate(s) == code);
    let at = |step: u64| Match {
        step,
        drift: step.wrapping_sub(expected) as i64,
    };
    let fresh = |s: &u64| last_accepted.is_none_or(|last| *s > last);
    if let Some(step) = matching().find(fresh) {
        Verification::Valid(at(step))
    } else if let Some(step) = matching().find(|s| !fresh(s)) {
        Verification::Replayed(at(step))
    } else {
        Verification::Invalid
    }
}

fuzz_target!(|input: Input| {
    let Ok(secret) = Secret::from_bytes(&input.secret) else {
        return;
    };
    let Ok(digits) = Digits::new(6 + input.digits % 5) else {
        return;
    };
    let algorithm = algorithm(input.algorithm);
    let key = &input.secret;
    match input.mode {
        Mode::Totp {
            period,
            t0,
            time,
            look_back,
            look_ahead,
            last_accepted,
        } => {
            let params = TotpParams {
                algorithm,
                digits,
                period,
                t0,
                look_back: u32::from(look_back) % (MAX_FUZZ_WINDOW + 1),
                look_ahead: u32::from(look_ahead) % (MAX_FUZZ_WINDOW + 1),
            };
            let totp = match Totp::new(&secret, params) {
                Ok(totp) => totp,
                Err(error) => {
                    assert_eq!((error, period), (Error::InvalidPeriod, 0));
                    return;
                }
            };
            let generate = |step: u64| totp.generate_at_step(step).to_string();
            let any_step = time.wrapping_sub(t0);
            assert_eq!(
                generate(any_step),
                reference_code(algorithm, key, any_step, digits)
            );
            let Some(expected) = time.checked_sub(t0).map(|e| e / period) else {
                let any = totp.verify("000000", time, last_accepted);
                assert_eq!(any, Err(Error::TimeBeforeT0));
                return;
            };
            let code = code_text(&input.code, expected, generate);
            let result = totp.verify(&code, time, last_accepted);
            if !well_formed(&code, digits) {
                assert!(result.is_err(), "malformed {code:?} gave {result:?}");
                return;
            }
            let steps = totp_window(expected, params.look_back, params.look_ahead);
            assert_eq!(
                result,
                Ok(reference(&steps, expected, &code, last_accepted, generate))
            );
        }
        Mode::Hotp {
            counter,
            look_ahead,
        } => {
            let params = HotpParams {
                algorithm,
                digits,
                look_ahead: u32::from(look_ahead) % (MAX_FUZZ_WINDOW + 1),
            };
            let hotp = Hotp::new(&secret, params).unwrap();
            let generate = |step: u64| hotp.generate(step).to_string();
            assert_eq!(
                generate(counter),
                reference_code(algorithm, key, counter, digits)
            );
            let code = code_text(&input.code, counter, generate);
            let result = hotp.verify(&code, counter);
            if !well_formed(&code, digits) {
                assert!(result.is_err(), "malformed {code:?} gave {result:?}");
                return;
            }
            if counter == u64::MAX {
                assert_eq!(result, Err(Error::CounterExhausted));
                return;
            }
            // Clipped at u64::MAX - 1: the window never wraps around to counter 0, and the
            // code of u64::MAX, which nothing could stop from being replayed, never passes.
            let steps: Vec<u64> = (0..=u64::from(params.look_ahead))
                .map_while(|k| counter.checked_add(k).filter(|&c| c < u64::MAX))
                .collect();
            assert_eq!(
                result,
                Ok(reference(&steps, counter, &code, None, generate))
            );
        }
        Mode::Resync {
            counter,
            look_ahead,
            second,
        } => {
            let hotp = Hotp::new(
                &secret,
                HotpParams {
                    algorithm,
                    digits,
                    ..HotpParams::default()
                },
            )
            .unwrap();
            let look_ahead = u32::from(look_ahead) % (MAX_FUZZ_WINDOW + 1);
            let generate = |step: u64| hotp.generate(step).to_string();
            let first = code_text(&input.code, counter, generate);
            let second = code_text(&second, counter, generate);
            let result = hotp.resync(&first, &second, counter, look_ahead);
            if counter == u64::MAX {
                assert_eq!(result, Err(Error::CounterExhausted));
                return;
            }
            if !well_formed(&first, digits) || !well_formed(&second, digits) {
                assert!(result.is_err(), "malformed pair gave {result:?}");
                return;
            }
            // The pair (c, c + 1) with c from counter to counter + look_ahead, first such
            // pair wins, with c + 1 below u64::MAX.
            let (first, second) = (digits_only(&first), digits_only(&second));
            let found = (0..=u64::from(look_ahead))
                .filter_map(|k| counter.checked_add(k))
                .filter_map(|c| Some((c, c.checked_add(1).filter(|&n| n < u64::MAX)?)))
                .find(|&(c, next)| generate(c) == first && generate(next) == second);
            let expected = match found {
                Some((_, step)) => Verification::Valid(Match {
                    step,
                    drift: step.wrapping_sub(counter) as i64,
                }),
                None => Verification::Invalid,
            };
            assert_eq!(result, Ok(expected));
        }
    }
});
