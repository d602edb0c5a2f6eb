//! Single use across processes: many `otpgate` processes started together with the same
//! valid code against one database, round after round.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod gate_support;

use std::process::Stdio;
use std::sync::Barrier;

use gate_support::{Env, Run, code, step_now};

const PROCESSES: usize = 16;
const ROUNDS: usize = 50;

/// Starts `PROCESSES` runs of `args` at once (each from its own thread, released by one
/// barrier) and returns their outcomes.
fn together(env: &Env, args: &[&str]) -> Vec<Run> {
    let barrier = Barrier::new(PROCESSES);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..PROCESSES)
            .map(|_| {
                s.spawn(|| {
                    let mut cmd = env.command();
                    cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
                    barrier.wait();
                    Run::from(cmd.output().unwrap())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

#[test]
fn sixteen_checks_of_one_code_accept_exactly_one_and_refuse_the_rest_as_replayed() {
    let env = Env::new("race-check");
    for round in 0..ROUNDS {
        let user = format!("user{round}");
        let (phone, _) = env.activate(&user);
        let fresh = code(&phone, step_now(&phone));
        let runs = together(&env, &["--json", "check", &user, &fresh]);
        let outcomes = env.outcomes(&user, "check");
        gate_support::assert_exactly_one_accepted(&runs, &outcomes, "accepted", round);
    }
}

#[test]
fn sixteen_confirmations_activate_once_with_the_recovery_codes_that_were_shown() {
    let env = Env::new("race-confirm");
    for round in 0..ROUNDS {
        let user = format!("user{round}");
        let phone = env.enroll(&user);
        let first = code(&phone, step_now(&phone));
        let runs = together(&env, &["--json", "confirm", &user, &first]);
        let winners: Vec<&Run> = runs.iter().filter(|r| r.code == Some(0)).collect();
        assert_eq!(winners.len(), 1, "round {round}: {runs:#?}");
        for run in runs.iter().filter(|r| r.code != Some(0)) {
            assert_eq!(run.code, Some(1), "round {round}: {run:?}");
            assert_eq!(run.json()["reason"], "already-confirmed", "{run:?}");
        }
        let shown: Vec<String> = winners[0].json()["recovery_codes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_owned())
            .collect();
        assert_eq!(shown.len(), 10);
        // The codes shown are the stored ones: the first and the last one pass, once.
        for (i, recovery) in [&shown[0], &shown[9]].into_iter().enumerate() {
            let run = env.run(&["--json", "recover", &user, recovery]);
            assert_eq!(run.code, Some(0), "round {round}: {run:?}");
            assert_eq!(run.json()["recovery_codes_left"], 9 - i);
        }
    }
}
