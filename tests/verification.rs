//! Verification semantics: window sizes and clipping, drift, replay protection, HOTP
//! look-ahead and resynchronisation, user-typed codes, and Debug output without secrets.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::arithmetic_side_effects
)]

use std::collections::HashMap;

use otpcore::{
    Digits, Error, Hotp, HotpParams, KeyUri, MAX_WINDOW, Match, Secret, Totp, TotpParams,
    Verification,
};

const RFC_SECRET: &[u8; 20] = b"12345678901234567890";

fn secret() -> Secret {
    Secret::from_bytes(RFC_SECRET).unwrap()
}

/// TOTP with one-second steps (so time = step) and ten digits, which makes chance
/// collisions between the few steps a test looks at negligible; `distinct` checks anyway.
fn totp(look_back: u32, look_ahead: u32) -> Totp {
    let params = TotpParams {
        digits: Digits::new(10).unwrap(),
        period: 1,
        look_back,
        look_ahead,
        ..TotpParams::default()
    };
    Totp::new(&secret(), params).unwrap()
}

fn hotp(digits: u8, look_ahead: u32) -> Hotp {
    let params = HotpParams {
        digits: Digits::new(digits).unwrap(),
        look_ahead,
        ..HotpParams::default()
    };
    Hotp::new(&secret(), params).unwrap()
}

fn code(totp: &Totp, step: u64) -> String {
    totp.generate_at_step(step).to_string()
}

fn valid(step: u64, drift: i64) -> Result<Verification, Error> {
    Ok(Verification::Valid(Match { step, drift }))
}

fn replayed(step: u64, drift: i64) -> Result<Verification, Error> {
    Ok(Verification::Replayed(Match { step, drift }))
}

/// Asserts that the codes of `steps` differ pairwise, so one cannot pass for another.
fn distinct(codes: &[String]) {
    for (i, a) in codes.iter().enumerate() {
        for b in &codes[i + 1..] {
            assert_ne!(a, b, "chance collision: pick other steps");
        }
    }
}

#[test]
fn totp_window_accepts_exactly_look_back_and_look_ahead_steps() {
    let totp = totp(2, 3);
    let now = 1_000u64;
    let codes: Vec<String> = (now - 3..=now + 4).map(|s| code(&totp, s)).collect();
    distinct(&codes);
    for (step, code) in (now - 3..=now + 4).zip(&codes) {
        let expected = if (now - 2..=now + 3).contains(&step) {
            valid(step, step as i64 - now as i64)
        } else {
            Ok(Verification::Invalid)
        };
        assert_eq!(totp.verify(code, now, None), expected, "step {step}");
    }
}

#[test]
fn zero_windows_accept_only_the_current_step() {
    let totp = totp(0, 0);
    let codes: Vec<String> = (99..=101).map(|s| code(&totp, s)).collect();
    distinct(&codes);
    assert_eq!(totp.verify(&codes[0], 100, None), Ok(Verification::Invalid));
    assert_eq!(totp.verify(&codes[1], 100, None), valid(100, 0));
    assert_eq!(totp.verify(&codes[2], 100, None), Ok(Verification::Invalid));
}

#[test]
fn default_window_is_one_step_each_way_of_thirty_seconds() {
    let totp = Totp::new(&secret(), TotpParams::default()).unwrap();
    let now = 1_700_000_000u64;
    let step = now / 30;
    assert_eq!(totp.step_at(now), Ok(step));
    let codes: Vec<String> = (step - 2..=step + 2)
        .map(|s| totp.generate_at_step(s).to_string())
        .collect();
    distinct(&codes);
    assert_eq!(totp.verify(&codes[0], now, None), Ok(Verification::Invalid));
    assert_eq!(totp.verify(&codes[1], now, None), valid(step - 1, -1));
    assert_eq!(totp.verify(&codes[2], now, None), valid(step, 0));
    assert_eq!(totp.verify(&codes[3], now, None), valid(step + 1, 1));
    assert_eq!(totp.verify(&codes[4], now, None), Ok(Verification::Invalid));
}

#[test]
fn drift_is_negative_for_past_codes_and_positive_for_future_ones() {
    let totp = totp(5, 5);
    let now = 500;
    let past = totp.verify(code(&totp, now - 4), now, None).unwrap();
    let future = totp.verify(code(&totp, now + 4), now, None).unwrap();
    let exact = totp.verify(code(&totp, now), now, None).unwrap();
    assert_eq!(past.valid_match().map(|m| m.drift), Some(-4));
    assert_eq!(future.valid_match().map(|m| m.drift), Some(4));
    // A drift of zero is a success, not something that reads as false.
    assert!(exact.is_valid());
    assert_eq!(exact.valid_match().map(|m| m.drift), Some(0));
}

#[test]
fn largest_window_reaches_max_window_steps_and_no_further() {
    let totp = totp(MAX_WINDOW, MAX_WINDOW);
    let now = 100_000u64;
    let w = u64::from(MAX_WINDOW);
    let codes: Vec<String> = [now - w - 1, now - w, now + w, now + w + 1]
        .iter()
        .map(|&s| code(&totp, s))
        .collect();
    distinct(&codes);
    // A 10-digit code of a step outside the window could still collide with one of the
    // 20001 steps inside; the probability is about 1e-5 and the secret is fixed, so this
    // either always passes or always fails.
    assert_eq!(totp.verify(&codes[0], now, None), Ok(Verification::Invalid));
    assert_eq!(
        totp.verify(&codes[1], now, None),
        valid(now - w, -(w as i64))
    );
    assert_eq!(totp.verify(&codes[2], now, None), valid(now + w, w as i64));
    assert_eq!(totp.verify(&codes[3], now, None), Ok(Verification::Invalid));
}

#[test]
fn window_is_clipped_at_step_zero_without_wrapping() {
    let totp = totp(3, 1);
    let codes: Vec<String> = [0, 1, 2, u64::MAX, u64::MAX - 1, u64::MAX - 2]
        .iter()
        .map(|&s| code(&totp, s))
        .collect();
    distinct(&codes);
    assert_eq!(totp.verify(&codes[0], 0, None), valid(0, 0));
    assert_eq!(totp.verify(&codes[1], 0, None), valid(1, 1));
    assert_eq!(totp.verify(&codes[2], 0, None), Ok(Verification::Invalid));
    for wrapped in &codes[3..] {
        assert_eq!(totp.verify(wrapped, 0, None), Ok(Verification::Invalid));
        assert_eq!(totp.verify(wrapped, 1, None), Ok(Verification::Invalid));
    }
}

#[test]
fn window_at_u64_max_does_not_accept_the_code_of_step_zero() {
    let totp = totp(1, 3);
    let codes: Vec<String> = [u64::MAX, u64::MAX - 1, u64::MAX - 2, 0, 1, 2]
        .iter()
        .map(|&s| code(&totp, s))
        .collect();
    distinct(&codes);
    assert_eq!(totp.step_at(u64::MAX), Ok(u64::MAX));
    assert_eq!(totp.verify(&codes[0], u64::MAX, None), valid(u64::MAX, 0));
    assert_eq!(
        totp.verify(&codes[1], u64::MAX, None),
        valid(u64::MAX - 1, -1)
    );
    assert_eq!(
        totp.verify(&codes[2], u64::MAX, None),
        Ok(Verification::Invalid)
    );
    for wrapped in &codes[3..] {
        assert_eq!(
            totp.verify(wrapped, u64::MAX, None),
            Ok(Verification::Invalid)
        );
    }
    // One step before the end, look-ahead still stops at u64::MAX.
    assert_eq!(
        totp.verify(&codes[0], u64::MAX - 1, None),
        valid(u64::MAX, 1)
    );
    assert_eq!(
        totp.verify(&codes[3], u64::MAX - 1, None),
        Ok(Verification::Invalid)
    );
}

#[test]
fn code_at_or_before_last_accepted_step_is_replayed() {
    let totp = totp(2, 2);
    let now = 1_000u64;
    let codes: Vec<String> = (now - 2..=now + 2).map(|s| code(&totp, s)).collect();
    distinct(&codes);
    // The code of `now` was accepted: it and older ones are replays, newer ones are fresh.
    let last = Some(now);
    assert_eq!(totp.verify(&codes[2], now, last), replayed(now, 0));
    assert_eq!(totp.verify(&codes[1], now, last), replayed(now - 1, -1));
    assert_eq!(totp.verify(&codes[0], now, last), replayed(now - 2, -2));
    assert_eq!(totp.verify(&codes[3], now, last), valid(now + 1, 1));
    // A code accepted from a clock running ahead blocks the current step too.
    let last = Some(now + 1);
    assert_eq!(totp.verify(&codes[2], now, last), replayed(now, 0));
    assert_eq!(totp.verify(&codes[3], now, last), replayed(now + 1, 1));
    assert_eq!(totp.verify(&codes[4], now, last), valid(now + 2, 2));
    // A last accepted step before the window changes nothing.
    assert_eq!(totp.verify(&codes[2], now, Some(now - 3)), valid(now, 0));
    assert_eq!(totp.verify(&codes[2], now, Some(0)), valid(now, 0));
}

#[test]
fn replayed_code_is_not_valid_and_has_no_valid_match() {
    let totp = totp(1, 1);
    let outcome = totp.verify(code(&totp, 50), 50, Some(50)).unwrap();
    assert!(!outcome.is_valid());
    assert_eq!(outcome.valid_match(), None);
}

/// Two steps, at most `MAX_WINDOW` apart, whose 6-digit codes are equal, with no step in
/// between having that code.
fn colliding_steps(totp: &Totp) -> (u64, u64) {
    let mut last_seen: HashMap<u32, u64> = HashMap::new();
    for step in 0..1_000_000u64 {
        let value = totp.generate_at_step(step).value();
        if let Some(&earlier) = last_seen.get(&value)
            && step - earlier <= u64::from(MAX_WINDOW)
        {
            return (earlier, step);
        }
        last_seen.insert(value, step);
    }
    panic!("no collision found");
}

#[test]
fn fresh_match_wins_over_replayed_match_of_the_same_code() {
    let six_digits = |look_back, look_ahead| {
        let params = TotpParams {
            period: 1,
            look_back,
            look_ahead,
            ..TotpParams::default()
        };
        Totp::new(&secret(), params).unwrap()
    };
    let (early, late) = colliding_steps(&six_digits(0, 0));
    let d = u32::try_from(late - early).unwrap();
    let shared = six_digits(0, 0).generate_at_step(early).to_string();
    let drift = i64::from(d);

    // Looking ahead from `early`: the preferred step is `early` itself.
    let ahead = six_digits(0, d);
    assert_eq!(ahead.verify(&shared, early, None), valid(early, 0));
    assert_eq!(
        ahead.verify(&shared, early, Some(early)),
        valid(late, drift)
    );
    assert_eq!(ahead.verify(&shared, early, Some(late)), replayed(early, 0));

    // Looking back from `late`: the same, mirrored.
    let back = six_digits(d, 0);
    assert_eq!(back.verify(&shared, late, None), valid(late, 0));
    assert_eq!(back.verify(&shared, late, Some(early)), valid(late, 0));
    assert_eq!(back.verify(&shared, late, Some(late)), replayed(late, 0));
}

#[test]
fn user_typed_code_with_grouping_spaces_is_accepted() {
    let totp = Totp::new(&secret(), TotpParams::default()).unwrap();
    let now = 1_234_567_890;
    let code = totp.generate(now).unwrap().to_string();
    let (a, b) = code.split_at(3);
    let step = totp.step_at(now).unwrap();
    for typed in [
        format!("{a} {b}"),
        format!("{a}  {b}"),
        format!("{} {} {}", &code[..2], &code[2..4], &code[4..]),
    ] {
        assert_eq!(totp.verify(&typed, now, None), valid(step, 0), "{typed:?}");
    }
}

#[test]
fn typed_code_is_read_the_same_as_text_or_bytes() {
    let totp = Totp::new(&secret(), TotpParams::default()).unwrap();
    let now = 1_234_567_890;
    let code = totp.generate(now).unwrap().to_string();
    let step = totp.step_at(now).unwrap();
    assert_eq!(totp.verify(code.as_bytes(), now, None), valid(step, 0));
    assert_eq!(
        totp.verify(code.clone().into_bytes(), now, None),
        valid(step, 0)
    );
    // Bytes outside ASCII are never digits, wherever they are; text and bytes get the
    // same error for the same input.
    for typed in ["12345\u{e9}", "1234567\u{e9}9", "\u{e9}23456"] {
        assert_eq!(
            totp.verify(typed.as_bytes(), now, None),
            totp.verify(typed, now, None),
            "{typed:?}"
        );
    }
    assert_eq!(
        totp.verify(b"12345\xff", now, None),
        Err(Error::CodeInvalidCharacter)
    );
    assert_eq!(
        totp.verify(b"1234567\xff9", now, None),
        Err(Error::CodeWrongLength)
    );
}

#[test]
fn hotp_accepts_the_stored_counter_and_its_look_ahead_only() {
    let hotp = hotp(10, 3);
    let counter = 1_000u64;
    let codes: Vec<String> = (counter - 1..=counter + 4)
        .map(|c| hotp.generate(c).to_string())
        .collect();
    distinct(&codes);
    // Counters before the stored one were used already.
    assert_eq!(hotp.verify(&codes[0], counter), Ok(Verification::Invalid));
    for k in 0..=3u64 {
        let outcome = hotp.verify(&codes[k as usize + 1], counter);
        assert_eq!(outcome, valid(counter + k, k as i64));
        assert_eq!(
            outcome.unwrap().valid_match().unwrap().next_counter(),
            Some(counter + k + 1)
        );
    }
    assert_eq!(hotp.verify(&codes[5], counter), Ok(Verification::Invalid));
}

#[test]
fn hotp_verified_code_falls_outside_the_window_of_the_stored_next_counter() {
    let hotp = hotp(8, 3);
    let code = hotp.generate(7).to_string();
    let next = hotp
        .verify(&code, 5)
        .unwrap()
        .valid_match()
        .unwrap()
        .next_counter()
        .unwrap();
    assert_eq!(next, 8);
    assert_eq!(hotp.verify(&code, next), Ok(Verification::Invalid));
}

#[test]
fn hotp_rfc_counter_sequence_verifies_one_after_another() {
    // RFC 4226 Appendix D codes for counters 0..9.
    let expected = [
        "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871",
        "520489",
    ];
    let hotp = hotp(6, 0);
    let mut counter = 0u64;
    for code in expected {
        let m = hotp.verify(code, counter).unwrap().valid_match().unwrap();
        assert_eq!((m.step, m.drift), (counter, 0));
        counter = m.next_counter().unwrap();
    }
    assert_eq!(counter, 10);
}

#[test]
fn resync_accepts_two_consecutive_codes_beyond_the_normal_look_ahead() {
    let hotp = hotp(10, 3);
    let counter = 200u64;
    let first = hotp.generate(counter + 50).to_string();
    let second = hotp.generate(counter + 51).to_string();
    assert_eq!(hotp.verify(&first, counter), Ok(Verification::Invalid));
    let outcome = hotp.resync(&first, &second, counter, 100);
    assert_eq!(outcome, valid(counter + 51, 51));
    assert_eq!(
        outcome.unwrap().valid_match().unwrap().next_counter(),
        Some(counter + 52)
    );
}

#[test]
fn resync_rejects_codes_that_are_not_consecutive_or_out_of_order() {
    let hotp = hotp(10, 3);
    let counter = 200u64;
    let codes: Vec<String> = (counter + 49..=counter + 52)
        .map(|c| hotp.generate(c).to_string())
        .collect();
    distinct(&codes);
    let resync = |a: &str, b: &str| hotp.resync(a, b, counter, 100);
    assert_eq!(resync(&codes[1], &codes[3]), Ok(Verification::Invalid));
    assert_eq!(resync(&codes[0], &codes[3]), Ok(Verification::Invalid));
    assert_eq!(resync(&codes[2], &codes[1]), Ok(Verification::Invalid));
    assert_eq!(resync(&codes[1], &codes[1]), Ok(Verification::Invalid));
    assert_eq!(resync(&codes[1], &codes[2]), valid(counter + 51, 51));
}

#[test]
fn resync_window_starts_at_the_stored_counter_and_spans_look_ahead() {
    let hotp = hotp(10, 3);
    let counter = 200u64;
    let code = |c: u64| hotp.generate(c).to_string();
    // The first code may be at counter + look_ahead, not beyond.
    assert_eq!(
        hotp.resync(code(300), code(301), counter, 100),
        valid(301, 101)
    );
    assert_eq!(
        hotp.resync(code(301), code(302), counter, 100),
        Ok(Verification::Invalid)
    );
    // A pair starting before the stored counter was used already.
    assert_eq!(
        hotp.resync(code(199), code(200), counter, 100),
        Ok(Verification::Invalid)
    );
    assert_eq!(hotp.resync(code(200), code(201), counter, 0), valid(201, 1));
}

#[test]
fn resync_near_u64_max_clips_without_wrapping_or_reaching_the_last_counter() {
    let hotp = hotp(10, 3);
    let code = |c: u64| hotp.generate(c).to_string();
    let outcome = hotp.resync(code(u64::MAX - 2), code(u64::MAX - 1), u64::MAX - 3, 10);
    assert_eq!(outcome, valid(u64::MAX - 1, 2));
    assert_eq!(
        outcome.unwrap().valid_match().unwrap().next_counter(),
        Some(u64::MAX)
    );
    // The pair ending at u64::MAX would leave no counter to block its replay.
    assert_eq!(
        hotp.resync(code(u64::MAX - 1), code(u64::MAX), u64::MAX - 1, 10),
        Ok(Verification::Invalid)
    );
    assert_eq!(
        hotp.resync(code(u64::MAX), code(0), u64::MAX, 10),
        Err(Error::CounterExhausted)
    );
    assert_eq!(
        hotp.resync(code(u64::MAX), code(0), u64::MAX - 5, 10),
        Ok(Verification::Invalid)
    );
}

#[test]
fn totp_step_and_seconds_left_follow_t0_and_period() {
    let params = TotpParams {
        period: 60,
        t0: 1_000,
        ..TotpParams::default()
    };
    let totp = Totp::new(&secret(), params).unwrap();
    assert_eq!(totp.step_at(1_000), Ok(0));
    assert_eq!(totp.step_at(1_059), Ok(0));
    assert_eq!(totp.step_at(1_060), Ok(1));
    assert_eq!(totp.seconds_left(1_000), Ok(60));
    assert_eq!(totp.seconds_left(1_059), Ok(1));
    assert_eq!(totp.params(), params);
    let code = totp.generate(1_075).unwrap().to_string();
    assert_eq!(code, totp.generate_at_step(1).to_string());
    assert_eq!(totp.verify(&code, 1_075, None), valid(1, 0));
}

/// Renderings of the secret a careless Debug might print.
fn leak_forms(bytes: &[u8]) -> Vec<String> {
    let mut buf = [0u8; otpcore::MAX_SECRET_BASE32_LEN];
    let secret = Secret::from_bytes(bytes).unwrap();
    let b32 = secret.to_base32(&mut buf).unwrap().to_string();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    vec![
        b32.clone(),
        b32.to_lowercase(),
        hex.clone(),
        hex.to_uppercase(),
        format!("{bytes:?}"),
        format!("{:?}", &bytes[..4]),
        String::from_utf8_lossy(bytes).into_owned(),
    ]
}

#[test]
fn debug_and_display_never_show_secret_material() {
    let bytes = RFC_SECRET;
    let secret = secret();
    let mut rendered = vec![
        format!("{secret:?}"),
        format!("{secret:#?}"),
        format!("{:?}", Secret::from_base32("JBSWY3DPEHPK3PXP").unwrap()),
    ];
    let mut uri_buf = [0u8; 256];
    let uri = KeyUri::totp("alice")
        .with_issuer("ACME")
        .to_buf(&secret, &mut uri_buf)
        .unwrap()
        .to_string();
    let mut fields = [0u8; 256];
    let (parsed, parsed_secret) = KeyUri::parse(&uri, &mut fields).unwrap();
    rendered.push(format!("{parsed:?}"));
    rendered.push(format!("{parsed_secret:?}"));
    // Errors raised while handling the secret.
    for text in ["12345678901234567890", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ="] {
        let error = Secret::from_base32(text).unwrap_err();
        rendered.push(format!("{error:?}"));
        rendered.push(error.to_string());
    }
    assert_eq!(format!("{secret:?}"), "Secret(..)");
    for text in &rendered {
        for leak in leak_forms(bytes) {
            assert!(!text.contains(&leak), "{text:?} contains {leak:?}");
        }
    }
}

#[test]
fn secrets_compare_in_constant_time_by_value() {
    use subtle::ConstantTimeEq;
    let a = secret();
    let b = Secret::from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ").unwrap();
    let c = Secret::from_bytes(b"12345678901234567891").unwrap();
    assert!(bool::from(a.ct_eq(&b)));
    assert!(!bool::from(a.ct_eq(&c)));
}

#[cfg(feature = "std")]
#[test]
fn code_for_the_system_clock_verifies_now() {
    let secret = Secret::generate().unwrap();
    assert_eq!(secret.len(), Secret::DEFAULT_LEN);
    let totp = Totp::new(&secret, TotpParams::default()).unwrap();
    let now = otpcore::unix_time().unwrap();
    let code = totp.generate(now).unwrap().to_string();
    let m = totp
        .verify(&code, now, None)
        .unwrap()
        .valid_match()
        .unwrap();
    assert_eq!(m.drift, 0);
}

#[cfg(feature = "std")]
#[test]
fn error_is_a_std_error() {
    fn takes(_: &dyn std::error::Error) {}
    takes(&Error::SecretEmpty);
}
