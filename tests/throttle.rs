//! The throttle state machine: failures within a window lock out, lockouts double up to a
//! cap, a success resets, and a locked-out user's code is not even checked.
#![allow(clippy::unwrap_used, clippy::arithmetic_side_effects)]

use otpcore::{Error, Secret, Throttle, ThrottleState, Totp, TotpParams, Verification};

const T: u64 = 1_700_000_000;

fn policy() -> Throttle {
    Throttle {
        max_failures: 3,
        window_secs: 60,
        lockout_secs: 30,
        max_lockout_secs: 100,
    }
}

fn totp() -> Totp {
    Totp::new(
        &Secret::from_base32("JBSWY3DPEHPK3PXP").unwrap(),
        TotpParams::default(),
    )
    .unwrap()
}

#[test]
fn failures_below_the_limit_do_not_lock() {
    let throttle = policy();
    let mut state = ThrottleState::default();
    assert_eq!(throttle.record_failure(&mut state, T), None);
    assert_eq!(throttle.record_failure(&mut state, T + 1), None);
    assert_eq!(throttle.check(&state, T + 2), Ok(()));
    assert_eq!(state.failures, 2);
}

#[test]
fn the_limit_within_the_window_locks_until_the_lockout_ends() {
    let throttle = policy();
    let mut state = ThrottleState::default();
    throttle.record_failure(&mut state, T);
    throttle.record_failure(&mut state, T + 10);
    assert_eq!(throttle.record_failure(&mut state, T + 20), Some(T + 50));
    assert_eq!(
        throttle.check(&state, T + 49),
        Err(Error::Throttled { retry_at: T + 50 })
    );
    assert_eq!(throttle.check(&state, T + 50), Ok(()));
}

#[test]
fn failures_older_than_the_window_are_forgotten() {
    let throttle = policy();
    let mut state = ThrottleState::default();
    throttle.record_failure(&mut state, T);
    throttle.record_failure(&mut state, T + 59);
    // The window started at T: at T + 60 a new one starts with this failure.
    assert_eq!(throttle.record_failure(&mut state, T + 60), None);
    assert_eq!((state.failures, state.window_start), (1, T + 60));
}

#[test]
fn lockouts_double_up_to_the_cap() {
    let throttle = policy();
    let mut state = ThrottleState::default();
    let mut now = T;
    let mut lengths = Vec::new();
    for _ in 0..5 {
        let until = (0..3)
            .filter_map(|_| throttle.record_failure(&mut state, now))
            .last()
            .unwrap();
        lengths.push(until - now);
        now = until;
    }
    assert_eq!(lengths, [30, 60, 100, 100, 100]);
}

#[test]
fn a_huge_lockout_count_saturates_instead_of_overflowing() {
    let throttle = Throttle {
        max_failures: 1,
        max_lockout_secs: u64::MAX,
        ..policy()
    };
    let mut state = ThrottleState {
        lockouts: 70,
        ..ThrottleState::default()
    };
    assert_eq!(throttle.record_failure(&mut state, T), Some(u64::MAX));
    state.lockouts = u32::MAX;
    assert_eq!(throttle.record_failure(&mut state, T), Some(u64::MAX));
    assert_eq!(state.lockouts, u32::MAX);
}

#[test]
fn a_success_resets_failures_and_lockouts() {
    let throttle = policy();
    let mut state = ThrottleState::default();
    for _ in 0..3 {
        throttle.record_failure(&mut state, T);
    }
    throttle.record_failure(&mut state, T + 30);
    throttle.record_success(&mut state);
    assert_eq!(state, ThrottleState::default());
}

#[test]
fn a_locked_out_attempt_does_not_run_the_verification() {
    let throttle = policy();
    let mut state = ThrottleState {
        locked_until: T + 5,
        ..ThrottleState::default()
    };
    let mut called = false;
    let result = throttle.attempt(&mut state, T, || {
        called = true;
        Ok(Verification::Invalid)
    });
    assert_eq!(result, Err(Error::Throttled { retry_at: T + 5 }));
    assert!(!called);
}

#[test]
fn wrong_and_replayed_codes_count_and_lock_out_even_the_right_code() {
    let throttle = policy();
    let totp = totp();
    let mut state = ThrottleState::default();
    let good = totp.generate(T).unwrap().to_string();
    let replay = throttle
        .attempt(&mut state, T, || {
            totp.verify(&good, T, Some(totp.step_at(T).unwrap()))
        })
        .unwrap();
    assert!(matches!(replay, Verification::Replayed(_)));
    for _ in 0..2 {
        let wrong = throttle.attempt(&mut state, T, || totp.verify("000000", T, None));
        assert_eq!(wrong, Ok(Verification::Invalid));
    }
    assert_eq!(
        throttle.attempt(&mut state, T, || totp.verify(&good, T, None)),
        Err(Error::Throttled { retry_at: T + 30 })
    );
    // After the lockout the right code passes and clears the state.
    let later = T + 30;
    let code = totp.generate(later).unwrap().to_string();
    let ok = throttle.attempt(&mut state, later, || totp.verify(&code, later, None));
    assert!(ok.unwrap().is_valid());
    assert_eq!(state, ThrottleState::default());
}

#[test]
fn a_malformed_code_is_an_error_and_not_a_failure() {
    let throttle = policy();
    let totp = totp();
    let mut state = ThrottleState::default();
    let result = throttle.attempt(&mut state, T, || totp.verify("12a456", T, None));
    assert_eq!(result, Err(Error::CodeInvalidCharacter));
    assert_eq!(state.failures, 0);
}

#[test]
fn settings_of_zero_or_a_cap_below_the_first_lockout_are_refused() {
    let bad = [
        Throttle {
            max_failures: 0,
            ..policy()
        },
        Throttle {
            window_secs: 0,
            ..policy()
        },
        Throttle {
            lockout_secs: 0,
            ..policy()
        },
        Throttle {
            max_lockout_secs: 29,
            ..policy()
        },
    ];
    for throttle in bad {
        assert_eq!(throttle.validate(), Err(Error::InvalidThrottle));
        let mut state = ThrottleState::default();
        let result = throttle.attempt(&mut state, T, || Ok(Verification::Invalid));
        assert_eq!(result, Err(Error::InvalidThrottle));
    }
    assert_eq!(Throttle::default().validate(), Ok(()));
}

#[test]
fn the_state_is_24_bytes_of_plain_data() {
    assert_eq!(size_of::<ThrottleState>(), 24);
    assert_eq!(align_of::<ThrottleState>(), 8);
}
