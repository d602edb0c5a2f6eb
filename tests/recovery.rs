//! Recovery codes: generation from caller entropy (known answers), lenient reading of typed
//! codes, single use, only salted hashes stored, and throttled verification.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use otpcore::recovery::{RECOVERY_CODE_COUNT, RECOVERY_RANDOM_LEN};
use otpcore::{Error, RecoveryCodes, RecoveryVerification, Throttle, ThrottleState};

/// The bytes 0, 1, 2, …: salt 0..16, code 0 is 16..26, code 9 is 106..116.
fn counting(buf: &mut [u8]) -> Result<(), ()> {
    for (i, b) in buf.iter_mut().enumerate() {
        *b = i as u8;
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn generation_asks_for_salt_and_ten_codes_of_80_bits() {
    let mut asked = 0;
    let _ = RecoveryCodes::generate_with(|buf: &mut [u8]| {
        asked = buf.len();
        counting(buf)
    })
    .unwrap();
    assert_eq!(asked, RECOVERY_RANDOM_LEN);
    assert_eq!(RECOVERY_RANDOM_LEN, 16 + 10 * 10);
}

#[test]
fn generated_codes_and_hashes_match_known_answers() {
    // Expected values computed independently (Python: Crockford base32 of the 10 bytes,
    // hashlib.sha256(salt + code)).
    let (stored, shown) = RecoveryCodes::generate_with(counting).unwrap();
    assert_eq!(shown[0].as_str(), "208h-44rm-2mb1-e60s");
    assert_eq!(shown[9].as_str(), "d9np-rvbe-dxr7-2wkk");
    assert_eq!(
        hex(&stored.hashes[0]),
        "b858da80d8a57dc546905fd147612ebddd3c9188620405d058f9ee5ab1e6bc52"
    );
    assert_eq!(
        hex(&stored.hashes[9]),
        "b8467902e2bc4c54bddd6627f9ffc3ac76e4978cb38080384ed8954bdc4624ff"
    );
    assert_eq!(stored.salt, core::array::from_fn(|i| i as u8));
    assert_eq!((stored.used, stored.remaining()), (0, 10));
}

#[cfg(feature = "std")]
#[test]
fn the_stored_set_holds_no_code_text() {
    let (stored, shown) = RecoveryCodes::generate().unwrap();
    let debug = format!("{stored:?}");
    for code in &shown {
        let bare: String = code.as_str().chars().filter(|&c| c != '-').collect();
        assert!(!debug.contains(&bare));
    }
    assert_eq!(format!("{:?}", shown[0]), "RecoveryCode(..)");
}

#[cfg(feature = "std")]
#[test]
fn os_generated_sets_differ() {
    let (a, _) = RecoveryCodes::generate().unwrap();
    let (b, _) = RecoveryCodes::generate().unwrap();
    assert_ne!(a.salt, b.salt);
    assert_ne!(a.hashes, b.hashes);
}

#[test]
fn a_failing_entropy_source_is_randomness_unavailable() {
    let result = RecoveryCodes::generate_with(|_: &mut [u8]| Err("no rng"));
    assert_eq!(result.err(), Some(Error::RandomnessUnavailable));
}

#[test]
fn each_code_verifies_once_in_its_own_slot() {
    let (mut stored, shown) = RecoveryCodes::generate_with(counting).unwrap();
    for (slot, code) in shown.iter().enumerate() {
        assert_eq!(
            stored.verify(code.as_str()),
            Ok(RecoveryVerification::Valid {
                slot,
                remaining: RECOVERY_CODE_COUNT - 1 - slot
            })
        );
        assert_eq!(
            stored.verify(code.as_str()),
            Ok(RecoveryVerification::Used { slot })
        );
    }
    assert_eq!(stored.remaining(), 0);
    assert_eq!(stored.used, 0x3ff);
}

#[test]
fn typed_codes_are_read_in_any_case_grouping_and_with_crockford_lookalikes() {
    for typed in [
        "208H-44RM-2MB1-E60S",
        "208h44rm2mb1e60s",
        "208h 44rm 2mb1 e60s",
        " 208h-44rm-2mbl-e6os ",
        "208h-44rm-2mbI-E6Os",
    ] {
        let (mut stored, _) = RecoveryCodes::generate_with(counting).unwrap();
        assert!(stored.verify(typed).unwrap().is_valid(), "{typed}");
    }
    let (mut stored, _) = RecoveryCodes::generate_with(counting).unwrap();
    assert!(stored.verify(b"208h-44rm-2mb1-e60s").unwrap().is_valid());
}

#[test]
fn malformed_codes_are_errors_and_change_nothing() {
    let (mut stored, _) = RecoveryCodes::generate_with(counting).unwrap();
    for typed in [
        "",
        "208h-44rm-2mb1-e60",
        "208h-44rm-2mb1-e60s0",
        "208h-44rm-2mb1-e60u",
        "208h_44rm_2mb1_e60s",
        "208h-44rm-2mb1-é60s",
    ] {
        assert_eq!(
            stored.verify(typed),
            Err(Error::RecoveryCodeMalformed),
            "{typed:?}"
        );
    }
    assert_eq!(
        stored.verify(b"208h-44rm-2mb1-e60\xff"),
        Err(Error::RecoveryCodeMalformed)
    );
    // A valid code padded past MAX_RECOVERY_CODE_INPUT_LEN is refused unread.
    let padded = format!("208h-44rm-2mb1-e60s{}", " ".repeat(46));
    assert_eq!(
        padded.len(),
        otpcore::recovery::MAX_RECOVERY_CODE_INPUT_LEN + 1
    );
    assert_eq!(stored.verify(&padded), Err(Error::RecoveryCodeMalformed));
    assert!(stored.verify(&padded[..64]).unwrap().is_valid());
    assert_eq!(stored.remaining(), 9);
}

#[cfg(feature = "std")]
#[test]
fn a_code_of_another_set_is_invalid() {
    let (mut stored, _) = RecoveryCodes::generate_with(counting).unwrap();
    let (_, other) = RecoveryCodes::generate().unwrap();
    assert_eq!(
        stored.verify(other[0].as_str()),
        Ok(RecoveryVerification::Invalid)
    );
    // The same code under a different salt does not match either.
    let (mut resalted, shown) = RecoveryCodes::generate_with(counting).unwrap();
    resalted.salt[0] ^= 1;
    assert_eq!(
        resalted.verify(shown[0].as_str()),
        Ok(RecoveryVerification::Invalid)
    );
}

#[test]
fn the_empty_set_accepts_nothing() {
    let (_, shown) = RecoveryCodes::generate_with(counting).unwrap();
    let mut empty = RecoveryCodes::default();
    assert_eq!(empty, RecoveryCodes::EMPTY);
    assert_eq!(empty.remaining(), 0);
    assert_eq!(
        empty.verify(shown[0].as_str()),
        Ok(RecoveryVerification::Invalid)
    );
    // A hash of all zeros is no code's hash; its used bit keeps it closed anyway.
    assert_eq!(
        empty.verify("0000-0000-0000-0000"),
        Ok(RecoveryVerification::Invalid)
    );
}

#[test]
fn unknown_codes_count_toward_the_throttle_and_used_ones_do_not() {
    let throttle = Throttle {
        lockout_after: 2,
        ..Throttle::default()
    };
    let (mut stored, shown) = RecoveryCodes::generate_with(counting).unwrap();
    let mut state = ThrottleState::default();
    let now = 1_700_000_000;
    let first = throttle.attempt(&mut state, now, || stored.verify(shown[1].as_str()));
    assert!(first.unwrap().is_valid());
    for _ in 0..5 {
        let again = throttle.attempt(&mut state, now, || stored.verify(shown[1].as_str()));
        assert_eq!(again, Ok(RecoveryVerification::Used { slot: 1 }));
    }
    assert_eq!(state, ThrottleState::default());
    for _ in 0..2 {
        let unknown = throttle.attempt(&mut state, now, || stored.verify("zzzz-zzzz-zzzz-zzzz"));
        assert_eq!(unknown, Ok(RecoveryVerification::Invalid));
    }
    let locked = throttle.attempt(&mut state, now, || stored.verify(shown[2].as_str()));
    assert_eq!(locked, Err(Error::Throttled { retry_at: now + 60 }));
    assert_eq!(stored.remaining(), 9);
}

#[test]
fn the_stored_set_is_338_bytes_of_plain_data() {
    assert_eq!(size_of::<RecoveryCodes>(), 338);
}
