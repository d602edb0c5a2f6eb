//! Crashes: `otpgate confirm` and `otpgate check` killed with SIGKILL at random points, 200
//! times. Afterwards the database always opens, no user is active without the recovery
//! codes committed with the activation, codes that were printed are the committed ones,
//! and no code passes twice.
#![cfg(unix)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod gate_support;

use std::time::{Duration, Instant};

use gate_support::{Env, Rng, code, killed_after, step_now};

/// Users, each with a killed confirmation and a killed check: 200 kills.
const USERS: usize = 100;

#[test]
fn kill_9_during_confirm_and_check_never_loses_recovery_codes_or_passes_a_code_twice() {
    let env = Env::new("crash");
    let mut rng = Rng::from_clock();
    let seed = rng.seed();
    // How long a confirmation takes here, to spread the kills over a whole run: the
    // fastest of three, so that a moment of load on a shared machine does not make most
    // kills come after the process ended.
    let fastest = (0..3)
        .map(|i| {
            let user = format!("timing{i}");
            let phone = env.enroll(&user);
            let started = Instant::now();
            let run = env.run(&["confirm", &user, &code(&phone, step_now(&phone))]);
            assert_eq!(run.code, Some(0), "{run:?}");
            started.elapsed().as_micros() as u64
        })
        .min()
        .unwrap();
    let span = (fastest * 3 / 2).max(1000);
    let (mut killed_confirms, mut killed_checks) = (0, 0);
    // Kills that came after the commit (the user active, the code used) and before it.
    let (mut confirms_committed, mut checks_committed) = (0, 0);

    for i in 0..USERS {
        let user = format!("user{i}");
        let context = format!("seed {seed}, user {i}");
        let phone = env.enroll(&user);

        // Step boundaries: the current step's code is accepted whether the process sees
        // this step or, a boundary later, the next; `accepted` is the step it stored.
        let mut accepted = step_now(&phone);
        let first = code(&phone, accepted);
        let delay = Duration::from_micros(rng.below(span));
        let run = killed_after(&env, &["--json", "confirm", &user, &first], delay);
        killed_confirms += usize::from(run.code.is_none());
        let status = env.status(&user);
        match status["status"].as_str().unwrap() {
            "active" => {
                assert_eq!(status["recovery_codes_left"], 10, "{context}: {status}");
                confirms_committed += usize::from(run.code.is_none());
            }
            "pending" => {
                assert!(
                    run.stdout.is_empty(),
                    "{context}: codes shown, not committed"
                );
                accepted = step_now(&phone);
                let first = code(&phone, accepted);
                let confirmed = env.run(&["--json", "confirm", &user, &first]);
                assert_eq!(confirmed.code, Some(0), "{context}: {confirmed:?}");
            }
            other => panic!("{context}: {other}"),
        }
        if !run.stdout.is_empty() {
            // Printed codes were committed before they were printed: the first one passes.
            let shown = run.json()["recovery_codes"][0].as_str().unwrap().to_owned();
            let recovered = env.run(&["recover", &user, &shown]);
            assert_eq!(recovered.code, Some(0), "{context}: {recovered:?}");
        }

        // The step after the accepted one: fresh, and in the window of a process in the
        // accepted step, the next or the one after, so neither the check nor its replay
        // below depends on where the boundaries fall.
        let fresh = code(&phone, accepted + 1);
        let delay = Duration::from_micros(rng.below(span));
        let run = killed_after(&env, &["--json", "check", &user, &fresh], delay);
        killed_checks += usize::from(run.code.is_none());
        let again = env.run(&["--json", "check", &user, &fresh]);
        match run.code {
            Some(0) => assert_eq!(again.code, Some(1), "{context}: passed twice"),
            Some(code) => panic!("{context}: the check exited {code}: {run:?}"),
            None => {
                assert!(matches!(again.code, Some(0 | 1)), "{context}: {again:?}");
                checks_committed += usize::from(again.code == Some(1));
            }
        }
        let accepted = env
            .outcomes(&user, "check")
            .iter()
            .filter(|o| *o == "accepted")
            .count();
        assert_eq!(accepted, 1, "{context}: the code passed {accepted} times");
        if again.code == Some(1) {
            assert_eq!(again.json()["reason"], "replayed", "{context}: {again:?}");
        }
    }
    eprintln!(
        "killed: {killed_confirms} confirmations ({confirms_committed} after the commit), \
         {killed_checks} checks ({checks_committed} after the commit)"
    );
    // The kills hit running processes, not only finished ones.
    assert!(
        killed_confirms >= USERS / 4 && killed_checks >= USERS / 4,
        "seed {seed}: only {killed_confirms} confirmations and {killed_checks} checks killed"
    );
}
