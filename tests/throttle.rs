//! The throttle state machine: consecutive failures lock out for longer and longer, a hard
//! stop ends one-time code attempts, only a success clears the count, and a locked-out
//! user's code is not even checked. The simulated attackers at the end check the budget
//! the module docs state.
#![allow(clippy::unwrap_used, clippy::arithmetic_side_effects)]

use otpcore::{
    Error, MAX_HARD_STOP, RecoveryVerification, Secret, Throttle, ThrottleState, Totp, TotpParams,
    Verification,
};

const T: u64 = 1_700_000_000;
const YEAR: u64 = 365 * 86_400;

fn policy() -> Throttle {
    Throttle {
        lockout_after: 3,
        hard_stop_after: 6,
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
fn failures_before_lockout_after_are_free() {
    let throttle = policy();
    let mut state = ThrottleState::default();
    assert_eq!(throttle.record_failure(&mut state, T), None);
    assert_eq!(throttle.record_failure(&mut state, T + 1), None);
    assert_eq!(throttle.check(&state, T + 2), Ok(()));
    assert_eq!(state.failures, 2);
}

#[test]
fn the_lockout_after_th_failure_locks_until_the_lockout_ends() {
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
fn failures_are_never_forgotten_with_time_only_with_a_success() {
    let throttle = policy();
    let mut state = ThrottleState::default();
    throttle.record_failure(&mut state, T);
    throttle.record_failure(&mut state, T + 1);
    // A year later the next failure is still the third in a row, and locks.
    assert_eq!(
        throttle.record_failure(&mut state, T + YEAR),
        Some(T + YEAR + 30)
    );
    assert_eq!(state.failures, 3);
}

#[test]
fn each_further_failure_doubles_the_lockout_up_to_the_cap() {
    let throttle = Throttle {
        hard_stop_after: MAX_HARD_STOP,
        ..policy()
    };
    let mut state = ThrottleState::default();
    throttle.record_failure(&mut state, T);
    throttle.record_failure(&mut state, T);
    let mut now = T;
    let mut lengths = Vec::new();
    for _ in 0..5 {
        let until = throttle.record_failure(&mut state, now).unwrap();
        lengths.push(until - now);
        now = until;
    }
    assert_eq!(lengths, [30, 60, 100, 100, 100]);
    assert_eq!(
        (0..8).map(|f| throttle.lockout_for(f)).collect::<Vec<_>>(),
        [0, 0, 0, 30, 60, 100, 100, 100]
    );
}

#[test]
fn a_huge_failure_count_saturates_instead_of_overflowing() {
    let throttle = Throttle {
        lockout_after: 1,
        hard_stop_after: MAX_HARD_STOP,
        max_lockout_secs: u64::MAX,
        ..policy()
    };
    let mut state = ThrottleState {
        failures: 70,
        ..ThrottleState::default()
    };
    assert_eq!(throttle.record_failure(&mut state, T), Some(u64::MAX));
    state.failures = u32::MAX;
    assert_eq!(throttle.record_failure(&mut state, T), Some(u64::MAX));
    assert_eq!(state.failures, u32::MAX);
}

#[test]
fn the_hard_stop_refuses_codes_until_a_reset() {
    let throttle = policy();
    let mut state = ThrottleState::default();
    let mut now = T;
    for _ in 0..6 {
        throttle.check(&state, now).unwrap();
        now = throttle.record_failure(&mut state, now).unwrap_or(now);
    }
    assert!(throttle.is_hard_stopped(&state));
    // Long after the last lockout ended: still no code is checked.
    let later = now + YEAR;
    let mut called = false;
    let result = throttle.attempt(&mut state, later, || {
        called = true;
        Ok(Verification::Invalid)
    });
    assert_eq!(result, Err(Error::LockedOut));
    assert!(!called);
    // An administrator's reset (the default state) opens it again.
    state = ThrottleState::default();
    assert_eq!(throttle.check(&state, later), Ok(()));
}

#[test]
fn a_recovery_code_gets_past_the_hard_stop_but_not_past_a_running_lockout() {
    let throttle = policy();
    let mut state = ThrottleState {
        failures: 6,
        locked_until: T + 100,
    };
    let early = throttle.attempt_recovery(&mut state, T, || {
        Ok(RecoveryVerification::Valid {
            slot: 0,
            remaining: 9,
        })
    });
    assert_eq!(early, Err(Error::Throttled { retry_at: T + 100 }));
    // A wrong recovery code counts too, and keeps pacing further tries.
    let wrong =
        throttle.attempt_recovery(&mut state, T + 100, || Ok(RecoveryVerification::Invalid));
    assert_eq!(wrong, Ok(RecoveryVerification::Invalid));
    assert_eq!((state.failures, state.locked_until), (7, T + 200));
    let valid = throttle.attempt_recovery(&mut state, T + 200, || {
        Ok(RecoveryVerification::Valid {
            slot: 0,
            remaining: 9,
        })
    });
    assert!(valid.unwrap().is_valid());
    assert_eq!(state, ThrottleState::default());
}

#[test]
fn a_clock_set_back_never_shortens_a_lockout() {
    let throttle = policy();
    let mut state = ThrottleState::default();
    for _ in 0..3 {
        throttle.record_failure(&mut state, T);
    }
    assert_eq!(state.locked_until, T + 30);
    // The clock jumps back an hour: still locked until the same absolute time.
    assert_eq!(
        throttle.check(&state, T - 3600),
        Err(Error::Throttled { retry_at: T + 30 })
    );
    // A failure recorded with a clock behind the lockout's end starts from that end.
    assert_eq!(throttle.record_failure(&mut state, T - 3600), Some(T + 90));
}

#[test]
fn a_success_resets_the_failures_and_the_lockout() {
    let throttle = policy();
    let mut state = ThrottleState::default();
    for _ in 0..4 {
        throttle.record_failure(&mut state, T);
    }
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
fn wrong_codes_count_and_lock_out_even_the_right_code_and_replays_do_not_count() {
    let throttle = policy();
    let totp = totp();
    let mut state = ThrottleState::default();
    let good = totp.generate(T).unwrap().to_string();
    let wrong = throttle.attempt(&mut state, T, || totp.verify("000000", T, None));
    assert_eq!(wrong, Ok(Verification::Invalid));
    // Replays, however many, are refused and leave the count as it is.
    for _ in 0..10 {
        let replay = throttle
            .attempt(&mut state, T, || {
                totp.verify(&good, T, Some(totp.step_at(T).unwrap()))
            })
            .unwrap();
        assert!(matches!(replay, Verification::Replayed(_)));
        assert_eq!(state.failures, 1);
        assert_eq!(state.locked_until, 0);
    }
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
fn invalid_settings_are_refused() {
    let bad = [
        Throttle {
            lockout_after: 0,
            ..policy()
        },
        Throttle {
            hard_stop_after: 2,
            ..policy()
        },
        Throttle {
            hard_stop_after: MAX_HARD_STOP + 1,
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
    let edge = Throttle {
        lockout_after: 1,
        hard_stop_after: 1,
        ..policy()
    };
    assert_eq!(edge.validate(), Ok(()));
}

#[test]
fn the_state_is_16_bytes_of_plain_data() {
    assert_eq!(size_of::<ThrottleState>(), 16);
    assert_eq!(align_of::<ThrottleState>(), 8);
}

// --- The budget: simulated attackers against the default policy over a simulated year.

/// Runs an attacker whose next attempt time is chosen by `next` from the time of its last
/// attempt and its refusal, if it was refused, over `secs` seconds. A legitimate user succeeds at every
/// multiple of `success_every` (when not locked out). Returns the attacker's guesses that
/// reached verification.
fn simulate(
    throttle: &Throttle,
    secs: u64,
    success_every: Option<u64>,
    mut next: impl FnMut(u64, Option<Error>) -> u64,
) -> u64 {
    let mut state = ThrottleState::default();
    let mut guesses = 0u64;
    let mut now = T;
    let mut next_success = success_every.map(|every| T + every);
    let mut steps = 0u64;
    while now < T + secs {
        steps += 1;
        assert!(steps < 100_000_000, "the simulation must end");
        while let Some(at) = next_success.filter(|&at| at <= now) {
            let _ = throttle.attempt(&mut state, at, || Ok(Verification::Valid(otp_match())));
            next_success = success_every.map(|every| at + every);
        }
        let outcome = throttle.attempt(&mut state, now, || {
            guesses += 1;
            Ok(Verification::Invalid)
        });
        let refusal = outcome.err();
        if refusal == Some(Error::LockedOut) && success_every.is_none() {
            break;
        }
        let after = next(now, refusal);
        assert!(after >= now, "time only moves forward here");
        now = after;
    }
    guesses
}

fn otp_match() -> otpcore::Match {
    otpcore::Match { step: 0, drift: 0 }
}

/// The chance that at least one of `guesses` guesses at six digits with a window of three
/// steps succeeds.
fn chance(guesses: u64) -> f64 {
    1.0 - (1.0 - 3e-6_f64).powf(guesses as f64)
}

#[test]
fn the_documented_budget_of_the_defaults_holds() {
    let throttle = Throttle::default();
    assert_eq!(throttle.max_failures_within(0), 5);
    assert_eq!(throttle.max_failures_within(3600), 10);
    assert_eq!(throttle.max_failures_within(86_400), 20);
    assert_eq!(throttle.max_failures_within(u64::MAX), 20);
    assert!(chance(20) < 0.000_07);
    assert!(chance(10) < 0.000_04);
    let daily = 19 * 365;
    assert_eq!(daily, 6935);
    assert!((0.020..0.021).contains(&chance(daily)));
}

#[test]
fn a_burst_attacker_gets_no_more_than_the_hard_stop() {
    let throttle = Throttle::default();
    let guesses = simulate(&throttle, YEAR, None, |now, _| now + 1);
    assert_eq!(guesses, u64::from(throttle.hard_stop_after));
}

#[test]
fn a_trickle_below_any_threshold_gets_no_more_than_the_hard_stop() {
    let throttle = Throttle::default();
    // The attack that beat the old windowed throttle: 4 guesses every 600 s.
    let mut sent = 0u64;
    let guesses = simulate(&throttle, YEAR, None, |now, _| {
        sent += 1;
        if sent.is_multiple_of(4) {
            now + 597
        } else {
            now + 1
        }
    });
    assert_eq!(guesses, u64::from(throttle.hard_stop_after));
    // One guess a day, far below any rate.
    let daily = simulate(&throttle, YEAR, None, |now, _| now + 86_400);
    assert_eq!(daily, u64::from(throttle.hard_stop_after));
}

#[test]
fn straddling_a_boundary_gains_nothing() {
    let throttle = Throttle::default();
    // Four guesses just before and four just after every full hour and every ten minutes.
    let guesses = simulate(&throttle, YEAR, None, |now, _| {
        let into = (now - T) % 600;
        if !(3..596).contains(&into) {
            now + 1
        } else {
            now + (596 - into)
        }
    });
    assert_eq!(guesses, u64::from(throttle.hard_stop_after));
}

#[test]
fn waiting_out_every_lockout_exactly_is_the_worst_case_and_matches_the_formula() {
    let throttle = Throttle::default();
    // Every guess allowed at once, then one the second each lockout ends.
    let wait = |now: u64, refusal: Option<Error>| match refusal {
        Some(Error::Throttled { retry_at }) => retry_at,
        _ => now,
    };
    for secs in [1, 59, 60, 3600, 36_000, 86_400, YEAR] {
        let guesses = simulate(&throttle, secs, None, wait);
        assert_eq!(
            guesses,
            u64::from(throttle.max_failures_within(secs - 1)),
            "{secs} s"
        );
    }
}

#[test]
fn with_one_success_a_day_the_attacker_gets_at_most_hard_stop_minus_one_a_day() {
    let throttle = Throttle::default();
    // The attacker stops one short of the hard stop (which would alert and lock the user
    // out) and waits for the user's daily success to clear the count.
    let mut this_day = (0u64, 0u32);
    let guesses = simulate(&throttle, YEAR, Some(86_400), |now, refusal| {
        let day = (now - T) / 86_400;
        if day != this_day.0 {
            this_day = (day, 0);
        }
        if refusal.is_none() {
            this_day.1 += 1;
        }
        if this_day.1 >= throttle.hard_stop_after - 1 {
            return T + (day + 1) * 86_400 + 1;
        }
        match refusal {
            Some(Error::Throttled { retry_at }) => retry_at,
            _ => now + 1,
        }
    });
    assert!(guesses <= 19 * 366, "{guesses}");
    assert!(
        guesses >= 19 * 364,
        "the simulation should reach the bound: {guesses}"
    );
    assert!(chance(guesses) < 0.021);
}
