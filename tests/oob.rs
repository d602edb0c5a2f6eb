//! Out-of-band codes: single use, expiry to the second, the attempt bound, binding to the
//! user and the key, the resend cooldown, uniform codes, the record encoding, and nothing
//! secret in `Debug`.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]
// Inspecting the memory a value occupied after dropping it needs raw pointers.
#![allow(unsafe_code)]

use hmac::{Hmac, KeyInit, Mac};
use proptest::prelude::*;
use zeroize::Zeroize;

mod support;
use support::memory::{drop_in_place, image, place};

use otpcore::oob::{OOB_MAX_ATTEMPTS, OOB_MAX_TTL_SECS};
use otpcore::{
    AttemptOutcome, Error, OOB_RECORD_LEN, OobKey, OobPolicy, OobRecord, OobState, OobVerification,
    Throttle, ThrottleState,
};

const T: u64 = 1_700_000_000;
const KEY: [u8; 32] = *b"0123456789abcdef0123456789abcdef";

fn key() -> OobKey {
    OobKey::new(&KEY).unwrap()
}

/// SplitMix64: a small deterministic generator, so that every draw of these tests is
/// reproducible.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn fill(&mut self, out: &mut [u8]) -> Result<(), ()> {
        for chunk in out.chunks_mut(8) {
            let bytes = self.next().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
        Ok(())
    }
}

/// Issues a code from the seeded generator and returns it as text.
fn issue(
    record: &mut OobRecord,
    key: &OobKey,
    user: &[u8],
    policy: &OobPolicy,
    now: u64,
    rng: &mut SplitMix,
) -> String {
    let code = record
        .issue_with(key, user, policy, now, |b| rng.fill(b))
        .unwrap();
    code.as_str().to_owned()
}

/// A code of the same length that differs from `code`.
fn other_code(code: &str, delta: u32) -> String {
    let digits = code.len() as u32;
    let modulus = 10u64.pow(digits);
    let value = (code.parse::<u64>().unwrap() + 1 + u64::from(delta) % (modulus - 1)) % modulus;
    format!("{value:0width$}", width = code.len())
}

fn policy_strategy() -> impl Strategy<Value = OobPolicy> {
    (
        6u8..=8,
        1..=OOB_MAX_TTL_SECS,
        1..=OOB_MAX_ATTEMPTS,
        1u64..=3600,
    )
        .prop_map(
            |(digits, ttl_secs, max_attempts, resend_cooldown_secs)| OobPolicy {
                digits,
                ttl_secs,
                max_attempts,
                resend_cooldown_secs,
            },
        )
}

proptest! {
    /// Whatever is typed, whenever, at most one verification of an issued code is Valid,
    /// and only the right code can be it.
    #[test]
    fn a_code_is_accepted_at_most_once(
        seed in any::<u64>(),
        policy in policy_strategy(),
        tries in proptest::collection::vec((any::<bool>(), 0u64..700, any::<u32>()), 1..20),
    ) {
        let key = key();
        let mut rng = SplitMix(seed);
        let mut record = OobRecord::default();
        let code = issue(&mut record, &key, b"alice", &policy, T, &mut rng);
        let mut valid = 0;
        for (right, offset, delta) in tries {
            let typed = if right { code.clone() } else { other_code(&code, delta) };
            let outcome = record.verify(&key, "alice", &typed, T + offset).unwrap();
            if outcome == OobVerification::Valid {
                prop_assert!(right);
                valid += 1;
            }
            prop_assert!(record.attempts_used() <= record.max_attempts());
        }
        prop_assert!(valid <= 1);
        if valid == 1 {
            prop_assert_eq!(record.verify(&key, "alice", &code, T).unwrap(), OobVerification::AlreadyUsed);
        }
    }

    /// The right code is valid up to one second before `issued_at + ttl` and expired from
    /// that second on, however late.
    #[test]
    fn never_accepted_from_the_expiry_on(
        seed in any::<u64>(),
        policy in policy_strategy(),
        late in 0u64..1_000_000,
    ) {
        let key = key();
        let mut rng = SplitMix(seed);
        let mut record = OobRecord::default();
        let code = issue(&mut record, &key, b"alice", &policy, T, &mut rng);
        prop_assert_eq!(record.expires_at(), T + policy.ttl_secs);
        let before = record.to_bytes();
        for now in [T + policy.ttl_secs, T + policy.ttl_secs + late] {
            prop_assert_eq!(
                record.verify(&key, "alice", &code, now).unwrap(),
                OobVerification::Expired
            );
        }
        // An expired try is not counted.
        prop_assert_eq!(record.to_bytes(), before);
        prop_assert_eq!(
            record.verify(&key, "alice", &code, T + policy.ttl_secs - 1).unwrap(),
            OobVerification::Valid
        );
    }

    /// After `max_attempts` wrong tries even the right code is refused; one fewer and it is
    /// still accepted.
    #[test]
    fn never_accepted_past_the_attempt_bound(
        seed in any::<u64>(),
        policy in policy_strategy(),
        extra in 0u8..3,
        deltas in any::<[u32; 12]>(),
    ) {
        let key = key();
        let mut rng = SplitMix(seed);
        let mut record = OobRecord::default();
        let code = issue(&mut record, &key, b"alice", &policy, T, &mut rng);
        let mut spare = OobRecord::from_bytes(&record.to_bytes()).unwrap();
        for (i, delta) in deltas.iter().take(usize::from(policy.max_attempts)).enumerate() {
            let wrong = other_code(&code, *delta);
            prop_assert_eq!(record.verify(&key, "alice", &wrong, T).unwrap(), OobVerification::Wrong);
            prop_assert_eq!(usize::from(record.attempts_used()), i + 1);
        }
        for _ in 0..=extra {
            prop_assert_eq!(
                record.verify(&key, "alice", &code, T).unwrap(),
                OobVerification::TooManyAttempts
            );
        }
        for delta in deltas.iter().take(usize::from(policy.max_attempts) - 1) {
            let wrong = other_code(&code, *delta);
            prop_assert_eq!(spare.verify(&key, "alice", &wrong, T).unwrap(), OobVerification::Wrong);
        }
        prop_assert_eq!(spare.verify(&key, "alice", &code, T).unwrap(), OobVerification::Valid);
    }

    /// A record issued for one user never verifies for another, nor under another key,
    /// and those tries count like wrong codes.
    #[test]
    fn a_code_is_bound_to_its_user_and_key(
        seed in any::<u64>(),
        user in proptest::collection::vec(any::<u8>(), 0..40),
        other in proptest::collection::vec(any::<u8>(), 0..40),
        other_key in proptest::collection::vec(any::<u8>(), 16..=64),
    ) {
        prop_assume!(user != other);
        prop_assume!(other_key != KEY);
        let key = key();
        let other_key = OobKey::new(&other_key).unwrap();
        let policy = OobPolicy { max_attempts: 3, ..OobPolicy::default() };
        let mut rng = SplitMix(seed);
        let mut record = OobRecord::default();
        let code = issue(&mut record, &key, &user, &policy, T, &mut rng);
        prop_assert_eq!(record.verify(&key, &other, &code, T).unwrap(), OobVerification::Wrong);
        prop_assert_eq!(record.verify(&other_key, &user, &code, T).unwrap(), OobVerification::Wrong);
        prop_assert_eq!(record.verify(&key, &user, &code, T).unwrap(), OobVerification::Valid);
    }

    /// A new code is refused until the cooldown has passed since the last issue, with the
    /// time to retry at, and the record is left as it was.
    #[test]
    fn the_resend_cooldown_holds_to_the_second(
        seed in any::<u64>(),
        policy in policy_strategy(),
        early in 0u64..3600,
    ) {
        let key = key();
        let mut rng = SplitMix(seed);
        let mut record = OobRecord::default();
        let first = issue(&mut record, &key, b"alice", &policy, T, &mut rng);
        let retry_at = T + policy.resend_cooldown_secs;
        prop_assert_eq!(record.next_issue_at(&policy), retry_at);
        let before = record.to_bytes();
        let now = T + early % policy.resend_cooldown_secs;
        prop_assert_eq!(
            record.issue_with(&key, "alice", &policy, now, |b| rng.fill(b)).map(drop),
            Err(Error::OobIssueTooSoon { retry_at })
        );
        prop_assert_eq!(record.to_bytes(), before);
        let second = issue(&mut record, &key, b"alice", &policy, retry_at, &mut rng);
        prop_assert_eq!(record.issued_at(), retry_at);
        // The new code replaced the old one (unless the draw repeated it).
        if first != second && retry_at < T + policy.ttl_secs {
            prop_assert_eq!(record.verify(&key, "alice", &first, retry_at).unwrap(), OobVerification::Wrong);
        }
    }

    /// Any 56 bytes decode to a record or to `OobRecordInvalid`, without panicking; what
    /// decodes encodes back to the same bytes.
    #[test]
    fn any_record_bytes_decode_canonically_or_not_at_all(bytes in any::<[u8; OOB_RECORD_LEN]>()) {
        if let Ok(record) = OobRecord::from_bytes(&bytes) {
            prop_assert_eq!(record.to_bytes(), bytes);
        }
    }

    /// Issued and used records survive the encoding, with the same behaviour.
    #[test]
    fn records_round_trip_through_their_encoding(seed in any::<u64>(), policy in policy_strategy()) {
        let key = key();
        let mut rng = SplitMix(seed);
        let mut record = OobRecord::default();
        let code = issue(&mut record, &key, b"alice", &policy, T, &mut rng);
        let mut decoded = OobRecord::from_bytes(&record.to_bytes()).unwrap();
        prop_assert_eq!(decoded.to_bytes(), record.to_bytes());
        prop_assert_eq!(&decoded, &record);
        prop_assert_eq!(decoded.verify(&key, "alice", &code, T).unwrap(), OobVerification::Valid);
        let used = OobRecord::from_bytes(&decoded.to_bytes()).unwrap();
        prop_assert_eq!(used.state(), OobState::Used);
        prop_assert_ne!(&used, &record);
    }

    /// Malformed typed codes are errors that count nothing.
    #[test]
    fn malformed_codes_are_errors_and_not_counted(seed in any::<u64>(), typed in "[0-9a ]{0,12}") {
        let key = key();
        let mut rng = SplitMix(seed);
        let mut record = OobRecord::default();
        issue(&mut record, &key, b"alice", &OobPolicy::default(), T, &mut rng);
        let before = record.to_bytes();
        match record.verify(&key, "alice", &typed, T) {
            Ok(_) => {}
            Err(e) => {
                prop_assert!(matches!(e, Error::CodeWrongLength | Error::CodeInvalidCharacter), "{e:?}");
                prop_assert_eq!(record.to_bytes(), before);
            }
        }
    }
}

/// The chi-square statistic of `counts` against a uniform expectation.
fn chi_square(counts: &[u64]) -> f64 {
    let total: u64 = counts.iter().sum();
    let expected = total as f64 / counts.len() as f64;
    counts
        .iter()
        .map(|&c| (c as f64 - expected).powi(2) / expected)
        .sum()
}

/// Codes drawn from a seeded source are uniform: the leading two digits (100 buckets) and
/// each digit position (10 buckets) pass a chi-square test at the 0.1 % level, for 6, 7 and
/// 8 digits.
#[test]
fn codes_are_uniform_over_their_range() {
    // Critical values of the chi-square distribution at p = 0.001.
    const CRITICAL_99: f64 = 148.23;
    const CRITICAL_9: f64 = 27.88;
    let key = key();
    let mut rng = SplitMix(0x5eed);
    for digits in 6u8..=8 {
        let policy = OobPolicy {
            digits,
            ..OobPolicy::default()
        };
        let mut leading = [0u64; 100];
        let mut positions = vec![[0u64; 10]; usize::from(digits)];
        for _ in 0..50_000 {
            let mut record = OobRecord::default();
            let code = issue(&mut record, &key, b"alice", &policy, T, &mut rng);
            assert_eq!(code.len(), usize::from(digits));
            leading[code[..2].parse::<usize>().unwrap()] += 1;
            for (position, digit) in positions.iter_mut().zip(code.bytes()) {
                position[usize::from(digit - b'0')] += 1;
            }
        }
        let chi = chi_square(&leading);
        assert!(chi < CRITICAL_99, "{digits} digits, leading pair: {chi}");
        for (i, position) in positions.iter().enumerate() {
            let chi = chi_square(position);
            assert!(chi < CRITICAL_9, "{digits} digits, position {i}: {chi}");
        }
    }
}

/// The test above can fail: a source that favours small values (as `random % 10^6` of a
/// 20-bit draw would) is caught.
#[test]
fn the_uniformity_check_catches_a_skewed_source() {
    let mut rng = SplitMix(0x5eed);
    let mut leading = [0u64; 100];
    for _ in 0..50_000 {
        let skewed = (rng.next() % (1 << 20)) % 1_000_000;
        leading[(skewed / 10_000) as usize] += 1;
    }
    assert!(chi_square(&leading) > 148.23);
}

/// The tag is HMAC-SHA-256 under the server key of the documented message, and the record
/// holds it at offset 24, never the code.
#[test]
fn the_record_holds_the_documented_tag_and_not_the_code() {
    let key = key();
    let mut rng = SplitMix(7);
    let mut record = OobRecord::default();
    let policy = OobPolicy::default();
    let code = issue(&mut record, &key, b"alice", &policy, T, &mut rng);
    let bytes = record.to_bytes();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&KEY).unwrap();
    mac.update(b"otpcore-oob-v1\0\0");
    mac.update(&[6]);
    mac.update(&T.to_be_bytes());
    mac.update(&(T + 300).to_be_bytes());
    mac.update(&code.parse::<u32>().unwrap().to_be_bytes());
    mac.update(b"alice");
    assert_eq!(&bytes[24..], mac.finalize().into_bytes().as_slice());
    assert_eq!(&bytes[..4], &[1, 6, 0, 3]);
    assert_eq!(&bytes[4..8], &[0; 4]);
    assert_eq!(&bytes[8..16], &T.to_be_bytes());
    assert_eq!(&bytes[16..24], &(T + 300).to_be_bytes());
    let value = code.parse::<u32>().unwrap().to_be_bytes();
    assert!(!bytes.windows(4).any(|w| w == value));
    assert!(!bytes.windows(6).any(|w| w == code.as_bytes()));
    // Once used, the tag stays (to recognise a replay) and the state says used.
    assert_eq!(
        record.verify(&key, "alice", &code, T).unwrap(),
        OobVerification::Valid
    );
    assert_eq!(&record.to_bytes()[24..], &bytes[24..]);
    assert_eq!(&record.to_bytes()[..4], &[2, 6, 1, 3]);
}

/// Once a code is accepted, only that very code is a replay ([`OobVerification::AlreadyUsed`],
/// not counted by a throttle); every other code is [`OobVerification::NoCodePending`] and
/// counted, so a guesser gets no free tries from a used code. A record of an older version,
/// whose tag was erased on use, has no replay: every code is `NoCodePending`.
#[test]
fn after_use_only_the_used_code_is_a_replay() {
    let key = key();
    let mut rng = SplitMix(11);
    let mut record = OobRecord::default();
    let policy = OobPolicy::default();
    let code = issue(&mut record, &key, b"alice", &policy, T, &mut rng);
    assert!(record.verify(&key, "alice", &code, T).unwrap().is_valid());
    let throttle = Throttle::default();
    let mut state = ThrottleState::default();
    for at in [T + 1, T + 10_000] {
        let again = throttle.attempt(&mut state, at, || record.verify(&key, "alice", &code, at));
        assert_eq!(again, Ok(OobVerification::AlreadyUsed));
        assert!(again.unwrap().is_replay());
    }
    assert_eq!(state, ThrottleState::default());
    for i in 0..4 {
        let wrong = other_code(&code, i);
        let outcome = throttle.attempt(&mut state, T + 1, || {
            record.verify(&key, "alice", &wrong, T + 1)
        });
        assert_eq!(outcome, Ok(OobVerification::NoCodePending));
    }
    assert_eq!(state.failures, 4);
    // Another user's id does not make the code a replay.
    assert_eq!(
        record.verify(&key, "bob", &code, T + 1).unwrap(),
        OobVerification::NoCodePending
    );
    let mut erased = record.to_bytes();
    erased[24..].fill(0);
    let mut old = OobRecord::from_bytes(&erased).unwrap();
    assert_eq!(
        old.verify(&key, "alice", &code, T + 1).unwrap(),
        OobVerification::NoCodePending
    );
}

#[test]
fn the_default_record_is_all_zero_and_has_no_code() {
    let mut record = OobRecord::default();
    assert_eq!(record.to_bytes(), [0; OOB_RECORD_LEN]);
    assert_eq!(record.state(), OobState::Empty);
    assert_eq!(record.next_issue_at(&OobPolicy::default()), 0);
    assert_eq!(
        record.verify(&key(), "alice", "123456", T).unwrap(),
        OobVerification::NoCodePending
    );
    assert_eq!(
        OobRecord::from_bytes(&[0; OOB_RECORD_LEN])
            .unwrap()
            .to_bytes(),
        [0; OOB_RECORD_LEN]
    );
}

#[test]
fn precedence_of_outcomes_used_then_attempts_then_expiry() {
    let key = key();
    let mut rng = SplitMix(3);
    let policy = OobPolicy {
        max_attempts: 1,
        ..OobPolicy::default()
    };
    let mut record = OobRecord::default();
    let code = issue(&mut record, &key, b"alice", &policy, T, &mut rng);
    assert!(record.verify(&key, "alice", &code, T).unwrap().is_valid());
    // Used beats expired.
    assert_eq!(
        record.verify(&key, "alice", &code, T + 10_000).unwrap(),
        OobVerification::AlreadyUsed
    );
    let code = issue(&mut record, &key, b"alice", &policy, T + 60, &mut rng);
    let wrong = other_code(&code, 0);
    assert_eq!(
        record.verify(&key, "alice", &wrong, T + 60).unwrap(),
        OobVerification::Wrong
    );
    // Too many attempts beats expired.
    assert_eq!(
        record.verify(&key, "alice", &code, T + 10_000).unwrap(),
        OobVerification::TooManyAttempts
    );
}

#[test]
fn times_before_the_issue_are_errors_and_change_nothing() {
    let key = key();
    let mut rng = SplitMix(4);
    let policy = OobPolicy::default();
    let mut record = OobRecord::default();
    let code = issue(&mut record, &key, b"alice", &policy, T, &mut rng);
    let before = record.to_bytes();
    assert_eq!(
        record.verify(&key, "alice", &code, T - 1),
        Err(Error::OobTimeBeforeIssue)
    );
    assert_eq!(
        record
            .issue_with(&key, "alice", &policy, T - 1, |b| rng.fill(b))
            .map(drop),
        Err(Error::OobTimeBeforeIssue)
    );
    assert_eq!(record.to_bytes(), before);
}

#[test]
fn a_failing_or_broken_entropy_source_issues_nothing() {
    let key = key();
    let policy = OobPolicy::default();
    let mut record = OobRecord::default();
    assert_eq!(
        record
            .issue_with(&key, "alice", &policy, T, |_| Err("no entropy"))
            .map(drop),
        Err(Error::RandomnessUnavailable)
    );
    // All ones: every candidate is in the rejected tail.
    assert_eq!(
        record
            .issue_with(&key, "alice", &policy, T, |b: &mut [u8]| {
                b.fill(0xff);
                Ok::<(), ()>(())
            })
            .map(drop),
        Err(Error::RandomnessUnavailable)
    );
    assert_eq!(record.to_bytes(), [0; OOB_RECORD_LEN]);
}

#[cfg(feature = "std")]
#[test]
fn issue_from_the_os_rng_gives_a_code_that_verifies_once() {
    let key = key();
    let mut record = OobRecord::default();
    let code = record
        .issue(&key, "alice", &OobPolicy::default(), T)
        .unwrap();
    assert!(code.as_str().len() == 6 && code.as_str().bytes().all(|b| b.is_ascii_digit()));
    let grouped = format!("{} {}", &code.as_str()[..3], &code.as_str()[3..]);
    assert_eq!(
        record.verify(&key, "alice", &grouped, T + 1).unwrap(),
        OobVerification::Valid
    );
    assert_eq!(
        record.verify(&key, "alice", code.as_str(), T + 2).unwrap(),
        OobVerification::AlreadyUsed
    );
}

#[test]
fn the_throttle_composes_with_verification() {
    let key = key();
    let mut rng = SplitMix(5);
    let throttle = Throttle {
        lockout_after: 2,
        ..Throttle::default()
    };
    let mut state = ThrottleState::default();
    let mut record = OobRecord::default();
    let code = issue(
        &mut record,
        &key,
        b"alice",
        &OobPolicy::default(),
        T,
        &mut rng,
    );
    let wrong = other_code(&code, 0);
    for _ in 0..2 {
        let outcome = throttle.attempt(&mut state, T, || record.verify(&key, "alice", &wrong, T));
        assert_eq!(outcome, Ok(OobVerification::Wrong));
    }
    assert_eq!(
        throttle.attempt(&mut state, T, || record.verify(&key, "alice", &code, T)),
        Err(Error::Throttled { retry_at: T + 60 })
    );
    assert_eq!(
        throttle.attempt(&mut state, T + 60, || record.verify(
            &key,
            "alice",
            &code,
            T + 60
        )),
        Ok(OobVerification::Valid)
    );
    assert_eq!(state, ThrottleState::default());
}

#[test]
fn debug_output_shows_no_key_code_or_tag() {
    let key = key();
    let mut rng = SplitMix(6);
    let mut record = OobRecord::default();
    let code = record
        .issue_with(&key, "alice", &OobPolicy::default(), T, |b| rng.fill(b))
        .unwrap();
    assert_eq!(format!("{key:?}"), "OobKey(..)");
    assert_eq!(format!("{code:?}"), "OobCode(..)");
    let shown = format!("{record:?}");
    let bytes = record.to_bytes();
    let hex: String = bytes[24..].iter().map(|b| format!("{b:02x}")).collect();
    let decimal = format!("{:?}", &bytes[24..28]);
    assert!(
        shown.starts_with("OobRecord { state: Pending, digits: 6,"),
        "{shown}"
    );
    assert!(
        !shown.contains("tag") && !shown.contains(&hex[..8]),
        "{shown}"
    );
    assert!(!shown.contains(decimal.trim_matches(['[', ']'])), "{shown}");
    assert!(!shown.contains(code.as_str()), "{shown}");
}

#[test]
fn zeroize_clears_the_code_and_the_record() {
    let key = key();
    let mut rng = SplitMix(8);
    let mut record = OobRecord::default();
    let mut code = record
        .issue_with(&key, "alice", &OobPolicy::default(), T, |b| rng.fill(b))
        .unwrap();
    code.zeroize();
    assert_eq!(code.as_str(), "");
    record.zeroize();
    assert_eq!(record.to_bytes(), [0; OOB_RECORD_LEN]);
}

#[test]
fn policy_ranges_are_checked() {
    let ok = OobPolicy::default();
    assert_eq!(ok.validate(), Ok(()));
    assert_eq!(
        (
            ok.digits,
            ok.ttl_secs,
            ok.max_attempts,
            ok.resend_cooldown_secs
        ),
        (6, 300, 3, 60)
    );
    let bounds = [
        OobPolicy { digits: 8, ..ok },
        OobPolicy { ttl_secs: 1, ..ok },
        OobPolicy {
            ttl_secs: 600,
            ..ok
        },
        OobPolicy {
            max_attempts: 1,
            ..ok
        },
        OobPolicy {
            max_attempts: 10,
            ..ok
        },
        OobPolicy {
            resend_cooldown_secs: 1,
            ..ok
        },
        OobPolicy {
            resend_cooldown_secs: 3600,
            ..ok
        },
    ];
    for policy in bounds {
        assert_eq!(policy.validate(), Ok(()), "{policy:?}");
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The key's HMAC-SHA-256 inner pad state, computed independently, as it lies in memory.
fn inner_pad(key: &[u8]) -> Vec<u8> {
    let mut block = [0x36u8; 64];
    for (b, k) in block.iter_mut().zip(key) {
        *b ^= k;
    }
    let mut state: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    sha2::block_api::compress256(&mut state, &[block]);
    state.iter().flat_map(|w| w.to_ne_bytes()).collect()
}

#[test]
fn key_code_and_record_are_zero_in_memory_after_drop() {
    let key_bytes: Vec<u8> = (0..32u8).map(|i| i.wrapping_mul(37) | 1).collect();
    let mut key = place(OobKey::new(&key_bytes).unwrap());
    // SAFETY: `place` initialised the slot.
    let key_ref = unsafe { key.assume_init_ref() };
    let mut rng = SplitMix(9);
    let mut record = place(OobRecord::default());
    // SAFETY: as above.
    let record_ref = unsafe { record.assume_init_mut() };
    let mut code = place(
        record_ref
            .issue_with(key_ref, "alice", &OobPolicy::default(), T, |b| rng.fill(b))
            .unwrap(),
    );
    // SAFETY: as above.
    let text = unsafe { code.assume_init_ref() }.as_str().to_owned();
    let tag = record_ref.to_bytes()[24..].to_vec();

    assert!(
        contains(&image(&key), &inner_pad(&key_bytes)),
        "pad not found"
    );
    assert!(contains(&image(&code), text.as_bytes()), "code not found");
    // Where the tag and the issue and expiry times lie in the record.
    let record_before = image(&record);
    let fields = [
        tag,
        T.to_ne_bytes().to_vec(),
        (T + OobPolicy::default().ttl_secs).to_ne_bytes().to_vec(),
    ];
    let spans: Vec<_> = fields
        .iter()
        .map(|field| {
            let at = record_before.windows(field.len()).position(|w| w == field);
            assert!(at.is_some(), "record field not found");
            at.unwrap()..at.unwrap() + field.len()
        })
        .collect();
    drop_in_place(&mut key);
    drop_in_place(&mut code);
    drop_in_place(&mut record);
    assert!(image(&key).iter().all(|&b| b == 0), "key state left");
    assert!(image(&code).iter().all(|&b| b == 0), "code left");
    // The tag and the times where they lay, then the whole record but as many bytes as its
    // padding (its size less the 52 bytes of its fields): the wipe does not write padding,
    // which holds whatever the move into the slot copied there.
    let record_after = image(&record);
    for span in spans {
        assert!(
            record_after[span].iter().all(|&b| b == 0),
            "record field left"
        );
    }
    let padding = size_of::<OobRecord>() - (4 + 2 * 8 + 32);
    assert!(
        record_after.iter().filter(|&&b| b != 0).count() <= padding,
        "record left"
    );
}

#[test]
fn a_withdrawn_code_is_expired_and_keeps_the_cooldown() {
    let key = key();
    let policy = OobPolicy::default();
    let mut rng = SplitMix(11);
    let mut record = OobRecord::default();
    record.withdraw();
    assert_eq!(record, OobRecord::default());
    let code = issue(&mut record, &key, b"alice", &policy, T, &mut rng);
    record.withdraw();
    assert_eq!(
        record.verify(&key, "alice", &code, T + 1),
        Ok(OobVerification::Expired)
    );
    assert_eq!(
        record.next_issue_at(&policy),
        T + policy.resend_cooldown_secs
    );
    assert!(!record.to_bytes()[24..].iter().any(|&b| b != 0));
    // A new code can be issued once the cooldown is over, and works.
    let fresh = issue(&mut record, &key, b"alice", &policy, T + 60, &mut rng);
    assert_eq!(
        record.verify(&key, "alice", &fresh, T + 61),
        Ok(OobVerification::Valid)
    );
}
