//! `otpgate serve` killed with SIGKILL while runners' checks are in flight, 100 times per
//! database, and restarted each time: no code passes twice, every runner that exited 0 has
//! its committed audit entry, and every runner ends (with a decision or exit 2) within its
//! deadline. On SQLite, and on PostgreSQL when `OTPGATE_TEST_POSTGRES_URL` is set.
#![cfg(all(feature = "serve", unix))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod gate_support;
mod service_support;
#[cfg(feature = "postgres")]
#[path = "../../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use gate_support::{Rng, Run, code, step_now};
use service_support::{Backend, Service};

const BATCHES: usize = 100;
const CLIENTS: usize = 4;
/// The runners' `--timeout`, in seconds.
const DEADLINE: f64 = 3.0;

/// `CLIENTS` runners checking `fresh` for `user` at once; each outcome with its duration.
fn batch(service: &Service, token: &str, user: &str, fresh: &str) -> Vec<(Run, Duration)> {
    let timeout = DEADLINE.to_string();
    let args = [
        "--timeout",
        timeout.as_str(),
        "--json",
        "check",
        user,
        fresh,
    ];
    let children: Vec<_> = (0..CLIENTS)
        .map(|_| {
            (
                Instant::now(),
                service.runner(token, &args).spawn().unwrap(),
            )
        })
        .collect();
    children
        .into_iter()
        .map(|(started, child)| {
            let run = Run::from(child.wait_with_output().unwrap());
            (run, started.elapsed())
        })
        .collect()
}

#[test]
fn kill_9_of_the_service_during_checks_never_passes_a_code_twice_or_hangs_a_runner() {
    for backend in Backend::all("svc-crash") {
        let name = backend.name();
        let mut rng = Rng::from_clock();
        let seed = rng.seed();
        let admin = backend.token("admin", "admin");
        let runner = backend.token("runner", "check");
        let mut service = backend.serve(&[]);
        // How long a batch takes here: the fastest of three, so the kills spread over one.
        let fastest = (0..3)
            .map(|i| {
                let user = format!("timing{i}");
                let phone = service.activate(&admin, &user);
                let fresh = code(&phone, step_now(&phone));
                let started = Instant::now();
                let runs = batch(&service, &runner, &user, &fresh);
                assert_eq!(runs.iter().filter(|(r, _)| r.code == Some(0)).count(), 1);
                started.elapsed()
            })
            .min()
            .unwrap();
        let span = (fastest.as_micros() as u64 * 3 / 2).max(1000);
        let (mut hit, mut unanswered) = (0, 0);
        for i in 0..BATCHES {
            let context = format!("{name}, seed {seed}, batch {i}");
            let user = format!("user{i}");
            let phone = service.activate(&admin, &user);
            let fresh = code(&phone, step_now(&phone));
            let delay = Duration::from_micros(rng.below(span));
            let pid = service.child.id();
            let killer = std::thread::spawn(move || {
                std::thread::sleep(delay);
                let _ = std::process::Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            });
            let runs = batch(&service, &runner, &user, &fresh);
            killer.join().unwrap();
            service.kill();
            service = backend.serve(&[]);

            let passed = runs.iter().filter(|(r, _)| r.code == Some(0)).count();
            hit += usize::from(runs.iter().any(|(r, _)| r.code == Some(2)));
            for (run, took) in &runs {
                assert!(
                    took.as_secs_f64() < DEADLINE + 2.0,
                    "{context}: a runner took {took:?}: {run:?}"
                );
                match run.code {
                    Some(0) => assert_eq!(run.json()["result"], "accepted", "{context}"),
                    Some(1) => assert_eq!(run.json()["reason"], "replayed", "{context}: {run:?}"),
                    Some(2) => assert_eq!(run.json()["result"], "error", "{context}: {run:?}"),
                    other => panic!("{context}: exit {other:?}: {run:?}"),
                }
            }
            // After the restart the code passes only if no runner's check was committed.
            let again = Run::from(
                service
                    .runner(&runner, &["--json", "check", &user, &fresh])
                    .output()
                    .unwrap(),
            );
            assert!(matches!(again.code, Some(0 | 1)), "{context}: {again:?}");
            let audit = service.audit(&admin, &user, "check");
            let accepted: Vec<_> = audit
                .iter()
                .filter(|e| e["outcome"] == "accepted")
                .collect();
            assert_eq!(
                accepted.len(),
                1,
                "{context}: accepted {} times",
                accepted.len()
            );
            assert!(passed <= 1, "{context}: {passed} runners passed");
            // Committed, and the runner got no answer: exit 2, never a pass.
            unanswered += usize::from(passed == 0 && again.code == Some(1));
            if passed == 1 {
                assert_eq!(again.code, Some(1), "{context}: passed twice");
                assert_eq!(accepted[0]["actor"], "runner", "{context}");
            }
        }
        eprintln!(
            "{name}: {hit} of {BATCHES} kills left a runner with exit 2; {unanswered} hit an \
             acceptance committed but not answered"
        );
        assert!(
            hit >= BATCHES / 4,
            "{name}, seed {seed}: only {hit} kills hit runners in flight"
        );
    }
}
