//! Per-user state: the version 2 byte layout field by field, reading version 1, round
//! trips, corruption detection, each decoding error, and the throttled TOTP, HOTP and
//! recovery verifications that update it.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use sha2::{Digest, Sha256};

use otpcore::{
    Error, Hotp, HotpParams, OobKey, OobPolicy, OobRecord, OobVerification, RecoveryCodes,
    RecoveryVerification, Secret, Throttle, ThrottleState, Totp, TotpParams, USER_STATE_LEN,
    UserState, Verification,
};

const T: u64 = 1_700_000_000;

fn counting(buf: &mut [u8]) -> Result<(), ()> {
    for (i, b) in buf.iter_mut().enumerate() {
        *b = i as u8;
    }
    Ok(())
}

fn oob_key() -> OobKey {
    OobKey::new(b"0123456789abcdef0123456789abcdef").unwrap()
}

/// A state with every field set, an out-of-band code pending among them.
fn sample() -> UserState {
    let mut state = sample_without_oob();
    let code = state
        .issue_oob_with(&oob_key(), "alice", &OobPolicy::default(), T, counting)
        .unwrap();
    assert_eq!(code.as_str().len(), 6);
    state
}

/// What version 1 could hold: no out-of-band record.
fn sample_without_oob() -> UserState {
    let (recovery, _) = RecoveryCodes::generate_with(counting).unwrap();
    UserState {
        last_totp_step: Some(0x0102_0304_0506_0708),
        hotp_counter: 0x1112_1314_1516_1718,
        throttle: ThrottleState {
            locked_until: 0x3132_3334_3536_3738,
            failures: 0x4142_4344,
        },
        recovery: RecoveryCodes {
            used: 0b10_0000_0101,
            ..recovery
        },
        oob: OobRecord::default(),
    }
}

fn encoded(state: &UserState) -> [u8; USER_STATE_LEN] {
    let mut buf = [0u8; USER_STATE_LEN];
    state.encode(&mut buf).unwrap();
    buf
}

#[test]
fn version_2_layout_is_as_documented_byte_by_byte() {
    let state = sample();
    let bytes = encoded(&state);
    assert_eq!(USER_STATE_LEN, 472);
    assert_eq!(&bytes[0..4], b"OTPS");
    assert_eq!(bytes[4], 2);
    assert_eq!(bytes[5], 1);
    assert_eq!(bytes[6..8], [0x02, 0x05]);
    assert_eq!(bytes[8..16], [1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(
        bytes[16..24],
        [0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18]
    );
    assert_eq!(
        bytes[24..32],
        [0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38]
    );
    assert_eq!(bytes[32..36], [0x41, 0x42, 0x43, 0x44]);
    assert_eq!(bytes[36..40], [0; 4]);
    assert_eq!(bytes[40..96], state.oob.to_bytes());
    assert_ne!(bytes[40..96], [0; 56]);
    assert_eq!(bytes[96..104], [0; 8]);
    assert_eq!(bytes[104..120], state.recovery.salt);
    for (i, hash) in state.recovery.hashes.iter().enumerate() {
        assert_eq!(&bytes[120 + 32 * i..152 + 32 * i], hash, "hash {i}");
    }
    let sum: [u8; 32] = Sha256::digest(&bytes[..440]).into();
    assert_eq!(bytes[440..472], sum);
}

/// A version 1 encoding as the previous release wrote it, built by hand from its table.
fn version_1(state: &UserState, window_start: u64, failures: u32, lockouts: u32) -> Vec<u8> {
    let mut v1 = Vec::with_capacity(384);
    v1.extend_from_slice(b"OTPS");
    v1.push(1);
    v1.push(u8::from(state.last_totp_step.is_some()));
    v1.extend_from_slice(&state.recovery.used.to_be_bytes());
    v1.extend_from_slice(&state.last_totp_step.unwrap_or(0).to_be_bytes());
    v1.extend_from_slice(&state.hotp_counter.to_be_bytes());
    v1.extend_from_slice(&window_start.to_be_bytes());
    v1.extend_from_slice(&state.throttle.locked_until.to_be_bytes());
    v1.extend_from_slice(&failures.to_be_bytes());
    v1.extend_from_slice(&lockouts.to_be_bytes());
    v1.extend_from_slice(&state.recovery.salt);
    for hash in &state.recovery.hashes {
        v1.extend_from_slice(hash);
    }
    assert_eq!(v1.len(), 384);
    v1
}

#[test]
fn version_1_is_still_read_and_never_lowers_the_failure_count() {
    let state = UserState {
        throttle: ThrottleState {
            locked_until: T + 120,
            failures: 0,
        },
        ..sample_without_oob()
    };
    // Two failures in the current window after three lockouts: at least 2 + 3 x 5 in a row.
    let decoded = UserState::decode(&version_1(&state, T - 50, 2, 3)).unwrap();
    assert_eq!(
        decoded,
        UserState {
            throttle: ThrottleState {
                locked_until: T + 120,
                failures: 17,
            },
            ..sample_without_oob()
        }
    );
    let saturated = UserState::decode(&version_1(&state, 0, u32::MAX, u32::MAX)).unwrap();
    assert_eq!(saturated.throttle.failures, u32::MAX);
    // Version 1 has its own length and flag checks.
    let v1 = version_1(&state, 0, 0, 0);
    assert_eq!(
        UserState::decode(&v1[..383]),
        Err(Error::StateWrongLength { expected: 384 })
    );
    let mut flags = v1.clone();
    flags[5] |= 0x02;
    assert_eq!(UserState::decode(&flags), Err(Error::StateInvalidFlags));
    // Written back, it becomes version 2.
    assert_eq!(encoded(&decoded)[4], 2);
}

#[test]
fn any_flipped_bit_is_detected() {
    let good = encoded(&sample());
    for at in 0..USER_STATE_LEN {
        for bit in 0..8 {
            let mut bad = good;
            bad[at] ^= 1 << bit;
            let result = UserState::decode(&bad);
            assert!(result.is_err(), "byte {at} bit {bit} went unnoticed");
            if at >= 5 {
                assert_eq!(result, Err(Error::StateCorrupt), "byte {at} bit {bit}");
            }
        }
    }
}

#[test]
fn a_lowered_counter_or_cleared_throttle_is_detected_as_corruption() {
    let good = encoded(&sample());
    let mut lowered = good;
    lowered[16..24].copy_from_slice(&0u64.to_be_bytes());
    assert_eq!(UserState::decode(&lowered), Err(Error::StateCorrupt));
    let mut cleared = good;
    cleared[24..36].fill(0);
    assert_eq!(UserState::decode(&cleared), Err(Error::StateCorrupt));
}

#[test]
fn encoding_round_trips() {
    for state in [sample(), UserState::default()] {
        assert_eq!(UserState::decode(&encoded(&state)), Ok(state));
    }
}

#[test]
fn no_accepted_step_encodes_flag_and_step_as_zero() {
    let state = UserState {
        last_totp_step: None,
        ..sample()
    };
    let bytes = encoded(&state);
    assert_eq!(bytes[5], 0);
    assert_eq!(bytes[8..16], [0; 8]);
    let decoded = UserState::decode(&bytes).unwrap();
    assert_eq!(decoded.last_accepted(), None);
    assert_eq!(sample().last_accepted(), Some(0x0102_0304_0506_0708));
}

#[test]
fn a_new_user_encodes_all_recovery_slots_as_used() {
    let bytes = encoded(&UserState::default());
    assert_eq!(bytes[6..8], [0x03, 0xff]);
    assert!(bytes[8..440].iter().all(|&b| b == 0));
}

#[test]
fn a_short_buffer_is_refused_and_left_untouched() {
    let mut buf = [0xAAu8; USER_STATE_LEN - 1];
    assert_eq!(
        sample().encode(&mut buf),
        Err(Error::BufferTooSmall {
            needed: USER_STATE_LEN
        })
    );
    assert!(buf.iter().all(|&b| b == 0xAA));
    let mut big = [0u8; USER_STATE_LEN + 10];
    assert_eq!(sample().encode(&mut big).unwrap().len(), USER_STATE_LEN);
}

#[test]
fn each_decoding_fault_has_its_error() {
    let good = encoded(&sample());
    let wrong_length = Err(Error::StateWrongLength {
        expected: USER_STATE_LEN,
    });
    assert_eq!(UserState::decode(&[]), wrong_length);
    assert_eq!(UserState::decode(&good[..4]), wrong_length);
    assert_eq!(UserState::decode(&good[..USER_STATE_LEN - 1]), wrong_length);
    let mut long = good.to_vec();
    long.push(0);
    assert_eq!(UserState::decode(&long), wrong_length);

    let mut magic = good;
    magic[0] = b'X';
    assert_eq!(UserState::decode(&magic), Err(Error::StateBadMagic));
    assert_eq!(
        UserState::decode(b"{\"json\": 1}"),
        Err(Error::StateBadMagic)
    );

    for version in [0u8, 3, 255] {
        let mut other = good;
        other[4] = version;
        assert_eq!(
            UserState::decode(&other),
            Err(Error::StateUnsupportedVersion { version })
        );
        // The version is checked before the length, which depends on it.
        assert_eq!(
            UserState::decode(&other[..5]),
            Err(Error::StateUnsupportedVersion { version })
        );
    }

    // Reserved bits and bytes, with a checksum that matches: not corruption, but still
    // not a state this version writes.
    for (at, value) in [
        (5, 0x02u8),
        (5, 0x80),
        (6, 0x04),
        (6, 0x80),
        (36, 1),
        (39, 1),
        (96, 1),
        (103, 0x80),
    ] {
        let mut flags = good;
        flags[at] |= value;
        let sum: [u8; 32] = Sha256::digest(&flags[..440]).into();
        flags[440..].copy_from_slice(&sum);
        assert_eq!(
            UserState::decode(&flags),
            Err(Error::StateInvalidFlags),
            "{at}"
        );
    }
}

#[test]
fn an_admin_reset_clears_only_the_throttle() {
    let mut state = sample();
    state.reset_throttle();
    assert_eq!(
        state,
        UserState {
            throttle: ThrottleState::default(),
            ..sample()
        }
    );
}

fn totp() -> Totp {
    Totp::new(
        &Secret::from_base32("JBSWY3DPEHPK3PXP").unwrap(),
        TotpParams::default(),
    )
    .unwrap()
}

#[test]
fn totp_verification_stores_the_step_and_refuses_the_replay_without_counting_it() {
    let totp = totp();
    let throttle = Throttle::default();
    let mut state = UserState::default();
    let code = totp.generate(T).unwrap().to_string();
    let first = state.verify_totp(&totp, &throttle, &code, T).unwrap();
    assert!(first.is_valid());
    assert_eq!(state.last_accepted(), Some(totp.step_at(T).unwrap()));
    // More replays than the hard stop: none counts, the user is not locked out.
    for i in 0..=u64::from(throttle.hard_stop_after) {
        let again = state
            .verify_totp(&totp, &throttle, &code, T + i % 20)
            .unwrap();
        assert!(matches!(again, Verification::Replayed(_)));
    }
    assert_eq!(state.throttle, ThrottleState::default());
    // A wrong code still counts.
    let wrong = state
        .verify_totp(&totp, &throttle, "000000", T + 1)
        .unwrap();
    assert_eq!(wrong, Verification::Invalid);
    assert_eq!(state.throttle.failures, 1);
}

#[test]
fn totp_verification_is_refused_unchecked_while_locked_out() {
    let totp = totp();
    let throttle = Throttle {
        lockout_after: 2,
        ..Throttle::default()
    };
    let mut state = UserState::default();
    for _ in 0..2 {
        let wrong = state.verify_totp(&totp, &throttle, "000000", T).unwrap();
        assert_eq!(wrong, Verification::Invalid);
    }
    let code = totp.generate(T).unwrap().to_string();
    assert_eq!(
        state.verify_totp(&totp, &throttle, &code, T),
        Err(Error::Throttled { retry_at: T + 60 })
    );
    assert_eq!(state.last_accepted(), None);
    // The lockout survives an encode/decode round trip.
    let reloaded = UserState::decode(&encoded(&state)).unwrap();
    assert_eq!(
        throttle.check(&reloaded.throttle, T + 59),
        Err(Error::Throttled { retry_at: T + 60 })
    );
}

#[test]
fn hotp_verification_moves_the_counter_past_the_code() {
    let hotp = Hotp::new(
        &Secret::from_bytes(b"12345678901234567890").unwrap(),
        HotpParams::default(),
    )
    .unwrap();
    let throttle = Throttle::default();
    let mut state = UserState::default();
    // RFC 4226 counter 2 is within the look-ahead of 3.
    let valid = state.verify_hotp(&hotp, &throttle, "359152", T).unwrap();
    assert!(valid.is_valid());
    assert_eq!(state.hotp_counter, 3);
    // HOTP has no replay outcome: the used code is behind the counter, a wrong code.
    let replay = state.verify_hotp(&hotp, &throttle, "359152", T).unwrap();
    assert_eq!(replay, Verification::Invalid);
    assert_eq!(state.throttle.failures, 1);
}

#[test]
fn an_exhausted_hotp_counter_is_an_error_and_not_a_failure() {
    let hotp = Hotp::new(
        &Secret::from_bytes(b"12345678901234567890").unwrap(),
        HotpParams::default(),
    )
    .unwrap();
    let mut state = UserState {
        hotp_counter: u64::MAX,
        ..UserState::default()
    };
    let code = hotp.generate(u64::MAX).to_string();
    let outcome = state.verify_hotp(&hotp, &Throttle::default(), &code, T);
    assert_eq!(outcome, Err(Error::CounterExhausted));
    assert_eq!(state.hotp_counter, u64::MAX);
    assert_eq!(state.throttle.failures, 0);
}

#[test]
fn recovery_verification_marks_the_slot_and_persists() {
    let (recovery, shown) = RecoveryCodes::generate_with(counting).unwrap();
    let throttle = Throttle::default();
    let mut state = UserState {
        recovery,
        ..UserState::default()
    };
    let outcome = state
        .verify_recovery(&throttle, shown[4].as_str(), T)
        .unwrap();
    assert_eq!(
        outcome,
        RecoveryVerification::Valid {
            slot: 4,
            remaining: 9
        }
    );
    let mut reloaded = UserState::decode(&encoded(&state)).unwrap();
    assert_eq!(
        reloaded.verify_recovery(&throttle, shown[4].as_str(), T),
        Ok(RecoveryVerification::Used { slot: 4 })
    );
    assert_eq!(reloaded.throttle.failures, 0);
}

/// A used recovery code typed again is a replay: refused, not counted, however often (five
/// tries used to lock the user out). Only an exact match of a used code is free: a code not
/// in the set, even one a symbol away from the used one, counts as a failure.
#[test]
fn a_used_recovery_code_tried_again_is_not_a_failure_but_any_other_code_is() {
    let (recovery, shown) = RecoveryCodes::generate_with(counting).unwrap();
    let throttle = Throttle::default();
    let mut state = UserState {
        recovery,
        ..UserState::default()
    };
    let used = shown[2].as_str();
    assert!(
        state
            .verify_recovery(&throttle, used, T)
            .unwrap()
            .is_valid()
    );
    // The same code in another spelling is the same code.
    let spellings = [used.to_string(), used.to_uppercase(), used.replace('-', "")];
    for i in 0..=throttle.hard_stop_after {
        let typed = &spellings[i as usize % spellings.len()];
        assert_eq!(
            state.verify_recovery(&throttle, typed, T),
            Ok(RecoveryVerification::Used { slot: 2 })
        );
    }
    assert_eq!(state.throttle, ThrottleState::default());
    // One symbol off the used code is not in the set: a failure, and the lockout follows.
    let last = used.chars().last().unwrap();
    let neighbour = format!(
        "{}{}",
        &used[..used.len() - 1],
        if last == 'z' { 'y' } else { 'z' }
    );
    for _ in 0..throttle.lockout_after {
        assert_eq!(
            state.verify_recovery(&throttle, &neighbour, T),
            Ok(RecoveryVerification::Invalid)
        );
    }
    assert_eq!(state.throttle.failures, throttle.lockout_after);
    assert_eq!(
        state.verify_recovery(&throttle, used, T),
        Err(Error::Throttled { retry_at: T + 60 })
    );
    // While locked out, a replay is refused unchecked, as any code is.
    assert_eq!(state.throttle.failures, throttle.lockout_after);
}

#[test]
fn a_recovery_code_lifts_the_hard_stop() {
    let (recovery, shown) = RecoveryCodes::generate_with(counting).unwrap();
    let totp = totp();
    let throttle = Throttle::default();
    let mut state = UserState {
        recovery,
        throttle: ThrottleState {
            locked_until: T,
            failures: throttle.hard_stop_after,
        },
        ..UserState::default()
    };
    let code = totp.generate(T).unwrap().to_string();
    assert_eq!(
        state.verify_totp(&totp, &throttle, &code, T),
        Err(Error::LockedOut)
    );
    let outcome = state
        .verify_recovery(&throttle, shown[0].as_str(), T)
        .unwrap();
    assert!(outcome.is_valid());
    assert!(
        state
            .verify_totp(&totp, &throttle, &code, T)
            .unwrap()
            .is_valid()
    );
}

#[test]
fn an_out_of_band_record_that_is_invalid_is_refused_even_with_a_good_checksum() {
    let mut bytes = encoded(&sample());
    bytes[40] = 9; // no such record state
    let sum: [u8; 32] = Sha256::digest(&bytes[..440]).into();
    bytes[440..].copy_from_slice(&sum);
    assert_eq!(UserState::decode(&bytes), Err(Error::OobRecordInvalid));
}

#[test]
fn an_out_of_band_code_survives_a_round_trip_and_verifies_once_under_the_throttle() {
    let key = oob_key();
    let throttle = Throttle::default();
    let mut state = sample_without_oob();
    state.throttle = ThrottleState::default();
    let code = state
        .issue_oob_with(&key, "alice", &OobPolicy::default(), T, counting)
        .unwrap();
    let mut loaded = UserState::decode(&encoded(&state)).unwrap();
    assert_eq!(loaded, state);
    // A wrong code for another user counts as a failure, like any refusal.
    assert_eq!(
        loaded.verify_oob(&key, &throttle, "bob", code.as_str(), T + 5),
        Ok(OobVerification::Wrong)
    );
    assert_eq!(loaded.throttle.failures, 1);
    assert_eq!(
        loaded.verify_oob(&key, &throttle, "alice", code.as_str(), T + 6),
        Ok(OobVerification::Valid)
    );
    assert_eq!(loaded.throttle.failures, 0);
    let mut reloaded = UserState::decode(&encoded(&loaded)).unwrap();
    // The used code again is a replay, not counted, even after its expiry.
    for at in [T + 7, T + 10_000] {
        assert_eq!(
            reloaded.verify_oob(&key, &throttle, "alice", code.as_str(), at),
            Ok(OobVerification::AlreadyUsed)
        );
    }
    assert_eq!(reloaded.throttle.failures, 0);
    // Any other code has nothing to match and counts.
    let other = if code.as_str() == "000000" {
        "000001"
    } else {
        "000000"
    };
    assert_eq!(
        reloaded.verify_oob(&key, &throttle, "alice", other, T + 8),
        Ok(OobVerification::NoCodePending)
    );
    assert_eq!(reloaded.throttle.failures, 1);
}

#[test]
fn out_of_band_verification_is_refused_unchecked_at_the_hard_stop() {
    let key = oob_key();
    let throttle = Throttle::default();
    let mut state = sample_without_oob();
    state.throttle = ThrottleState {
        locked_until: 0,
        failures: throttle.hard_stop_after,
    };
    let code = state
        .issue_oob_with(&key, "alice", &OobPolicy::default(), T, counting)
        .unwrap();
    assert_eq!(
        state.verify_oob(&key, &throttle, "alice", code.as_str(), T + 1),
        Err(Error::LockedOut)
    );
    assert_eq!(state.oob.attempts_used(), 0);
}
