//! Texted (out-of-band) codes in the gate (issue 12): `otpgate send-code` through a
//! delivery command, `otpgate check` taking the texted code once across processes, the
//! refusals, a failed delivery, phone numbers; and the flow's rules in process (one failure
//! per typed code, replays, expiry, withdrawal).
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
use otpcore::{OobPolicy, OobState, Throttle, Totp};
use otpgate::{
    Factor, Gate, GateError, MemoryStore, PhoneError, PhoneNumber, Refusal, ServerKey,
    TEXTED_CODE_NOTICE_SECS,
};

const NUMBER: &str = "+4915112345678";

/// A delivery command for the tests: a script that writes `OTPGATE_TO` and
/// `OTPGATE_MESSAGE` to `NAME.out` in the test's directory, then exits with `exit`.
fn delivery_script(env: &Env, name: &str, exit: i32) -> String {
    let script = env.dir.join(name);
    let out = env.dir.join(format!("{name}.out"));
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf '%s\\n%s\\n' \"$OTPGATE_TO\" \"$OTPGATE_MESSAGE\" > '{}'\nexit {exit}\n",
            out.display()
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    script.to_str().unwrap().to_owned()
}

/// What the script `name` was last given: the number, the message and the code in it.
fn delivered(env: &Env, name: &str) -> (String, String, String) {
    let text = std::fs::read_to_string(env.dir.join(format!("{name}.out"))).unwrap();
    let mut lines = text.lines();
    let to = lines.next().unwrap().to_owned();
    let message = lines.next().unwrap().to_owned();
    let code = message[..6].to_owned();
    assert!(code.bytes().all(|b| b.is_ascii_digit()), "{message}");
    (to, message, code)
}

/// Enrolls `user` with the phone number and confirms with the app's previous-step code
/// (see [`gate_support::activate_with`]: immune to step boundaries).
fn activate_with_phone(env: &Env, user: &str) -> Totp {
    gate_support::activate_with(|args| env.run(args), user, &["--phone", NUMBER]).0
}

fn send(env: &Env, user: &str, script: &str) -> Run {
    env.run(&[
        "--json",
        "send-code",
        user,
        "--issuer",
        "Deploy Portal",
        "--action",
        "deploy 1.4.2",
        "--deliver-command",
        script,
    ])
}

/// A six-digit code other than `code`.
fn other_than(code: &str) -> String {
    format!(
        "{:06}",
        (code.parse::<u32>().unwrap() + 500_000) % 1_000_000
    )
}

#[test]
fn a_texted_code_passes_once_and_its_replay_is_refused_without_counting() {
    let env = Env::new("oob-once");
    activate_with_phone(&env, "alice");
    let script = delivery_script(&env, "deliver", 0);
    let run = send(&env, "alice", &script);
    assert_eq!(run.code, Some(0), "{run:?}");
    let sent = run.json();
    assert_eq!(
        sent["to"], "+491********78",
        "pipeline logs get a masked number"
    );
    let (to, message, code) = delivered(&env, "deliver");
    assert_eq!(to, NUMBER);
    for part in [
        "is your Deploy Portal code",
        "deploy 1.4.2",
        "expires in 5 minutes",
        "Do not share it",
    ] {
        assert!(message.contains(part), "{part:?} missing from {message:?}");
    }
    assert!(!run.stdout.contains(&code) && !run.stderr.contains(&code));

    let run = env.run(&[
        "--json",
        "check",
        "alice",
        &code,
        "--action",
        "deploy 1.4.2",
    ]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.json()["factor"], "sms");
    let run = env.run(&["--json", "check", "alice", &code]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert_eq!(run.json()["reason"], "replayed");
    assert!(run.stderr.contains("already used"), "{run:?}");

    let status = env.status("alice");
    assert_eq!(status["failures"], 0, "a replay is not a failure: {status}");
    assert_eq!(status["texted_code"], "used");
    assert_eq!(status["phone"], NUMBER);
    assert_eq!(env.outcomes("alice", "send-code"), ["issued"]);
    assert_eq!(env.outcomes("alice", "check"), ["accepted-sms", "replayed"]);
}

#[test]
fn past_its_attempt_bound_even_the_right_texted_code_is_refused() {
    let env = Env::new("oob-attempts");
    let script = delivery_script(&env, "deliver", 0);
    activate_with_phone(&env, "alice");
    assert_eq!(send(&env, "alice", &script).code, Some(0));
    let (_, _, right) = delivered(&env, "deliver");
    let wrong = other_than(&right);
    for _ in 0..3 {
        let run = env.run(&["--json", "check", "alice", &wrong]);
        assert_eq!(run.code, Some(1), "{run:?}");
        assert_eq!(run.json()["reason"], "wrong");
    }
    let run = env.run(&["--json", "check", "alice", &right]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert_eq!(run.json()["reason"], "sms-too-many-attempts");
    assert!(run.stderr.contains("too many attempts"), "{run:?}");
    assert_eq!(
        env.status("alice")["failures"],
        4,
        "one failure per typed code"
    );

    // Within the bound, a mistake does not cost the right code.
    activate_with_phone(&env, "bob");
    assert_eq!(send(&env, "bob", &script).code, Some(0));
    let (_, _, right) = delivered(&env, "deliver");
    let run = env.run(&["--json", "check", "bob", &other_than(&right)]);
    assert_eq!(run.code, Some(1), "{run:?}");
    let run = env.run(&["--json", "check", "bob", &right]);
    assert_eq!(run.code, Some(0), "{run:?}");
}

const PROCESSES: usize = 16;
const ROUNDS: usize = 10;

#[test]
fn sixteen_concurrent_checks_of_one_texted_code_accept_exactly_one() {
    let env = Env::new("oob-race");
    let script = delivery_script(&env, "deliver", 0);
    for round in 0..ROUNDS {
        let user = format!("user{round}");
        activate_with_phone(&env, &user);
        let run = send(&env, &user, &script);
        assert_eq!(run.code, Some(0), "{run:?}");
        let (_, _, texted) = delivered(&env, "deliver");
        let barrier = Barrier::new(PROCESSES);
        let runs: Vec<Run> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..PROCESSES)
                .map(|_| {
                    s.spawn(|| {
                        let mut cmd = env.command();
                        cmd.args(["--json", "check", &user, &texted])
                            .stdout(Stdio::piped())
                            .stderr(Stdio::piped());
                        barrier.wait();
                        Run::from(cmd.output().unwrap())
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let outcomes = env.outcomes(&user, "check");
        gate_support::assert_exactly_one_accepted(&runs, &outcomes, "accepted-sms", round);
    }
}

#[test]
fn a_failed_delivery_is_an_error_and_leaves_no_usable_code() {
    let env = Env::new("oob-fail");
    activate_with_phone(&env, "alice");
    // The script hands the message over (so the test sees the code) but reports failure.
    let failing = delivery_script(&env, "failing", 3);
    let run = send(&env, "alice", &failing);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert_eq!(run.json()["result"], "error");
    for part in ["not delivered", "exited with status 3", "withdrawn"] {
        assert!(run.stderr.contains(part), "{part:?}: {run:?}");
    }
    let (_, _, code) = delivered(&env, "failing");
    let run = env.run(&["--json", "check", "alice", &code]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert_eq!(run.json()["reason"], "sms-expired");
    assert_eq!(env.status("alice")["texted_code"], "pending");

    // The cooldown runs from the failed send: a gateway that failed is not hammered.
    let working = delivery_script(&env, "working", 0);
    let run = send(&env, "alice", &working);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert_eq!(run.json()["reason"], "sms-too-soon");

    // A command that cannot even start: the same, for another user.
    activate_with_phone(&env, "bob");
    let run = send(&env, "bob", "/nonexistent/otpgate-sms");
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("cannot start"), "{run:?}");
    assert_eq!(
        env.outcomes("alice", "send-code"),
        ["issued", "delivery-failed", "sms-too-soon"]
    );
    assert_eq!(
        env.outcomes("bob", "send-code"),
        ["issued", "delivery-failed"]
    );
}

#[test]
fn a_second_code_within_the_cooldown_is_refused_with_the_retry_time() {
    let env = Env::new("oob-cooldown");
    let script = delivery_script(&env, "deliver", 0);
    activate_with_phone(&env, "alice");
    let first = send(&env, "alice", &script);
    assert_eq!(first.code, Some(0), "{first:?}");
    let (_, _, code) = delivered(&env, "deliver");
    let issued_at = first.json()["expires_at"].as_u64().unwrap() - 300;
    let run = send(&env, "alice", &script);
    assert_eq!(run.code, Some(1), "{run:?}");
    let refusal = run.json();
    assert_eq!(refusal["reason"], "sms-too-soon");
    assert_eq!(refusal["retry_at"], issued_at + 60);
    assert!(
        (55..=60).contains(&refusal["retry_in"].as_u64().unwrap()),
        "{refusal}"
    );
    assert!(run.stderr.contains("retry in"), "{run:?}");
    // The refused resend left the first code alone.
    assert_eq!(delivered(&env, "deliver").2, code);
    let run = env.run(&["check", "alice", &code]);
    assert_eq!(run.code, Some(0), "{run:?}");
}

#[test]
fn phone_numbers_are_e164_and_refused_with_their_reason() {
    let env = Env::new("oob-phone");
    let refused = [
        ("", "the phone number is empty"),
        ("4915112345678", "must start with +"),
        ("+49 151 12345678", "other than digits"),
        ("+49-151-12345678", "other than digits"),
        ("+0049151123456", "cannot start with 0"),
        ("+1234567", "fewer than 8 digits"),
        ("+1234567890123456", "more than 15 digits"),
    ];
    for (number, reason) in refused {
        let run = env.run(&["enroll", "alice", "--phone", number]);
        assert_eq!(run.code, Some(2), "{number:?}: {run:?}");
        assert!(run.stderr.contains(reason), "{number:?}: {run:?}");
        assert!(!env.db.exists(), "a refused number creates nothing");
    }
    activate_with_phone(&env, "alice");
    for (number, reason) in refused {
        let run = env.run(&["phone", "alice", number]);
        assert_eq!(run.code, Some(2), "{number:?}: {run:?}");
        assert!(run.stderr.contains(reason), "{number:?}: {run:?}");
    }
    assert_eq!(env.status("alice")["phone"], NUMBER, "unchanged");
    let run = env.run(&["phone", "alice", "+12025550123"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(env.status("alice")["phone"], "+12025550123");
}

#[test]
fn send_code_needs_a_phone_and_a_well_formed_delivery_command() {
    let env = Env::new("oob-setup");
    env.activate("alice");
    let script = delivery_script(&env, "deliver", 0);
    let run = send(&env, "alice", &script);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("no phone number"), "{run:?}");
    assert!(!env.dir.join("deliver.out").exists());

    assert_eq!(env.run(&["phone", "alice", NUMBER]).code, Some(0));
    let run = env.run(&["send-code", "alice"]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("no delivery command"), "{run:?}");
    let run = env.run(&["send-code", "alice", "--deliver-command", "'unfinished"]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("quote is not closed"), "{run:?}");

    // Neither started the cooldown; the command may come from the environment.
    let run: Run = env
        .command()
        .args(["send-code", "alice"])
        .env("OTPGATE_DELIVER_COMMAND", &script)
        .output()
        .unwrap()
        .into();
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(delivered(&env, "deliver").0, NUMBER);
}

// The flow's rules, in process over the in-memory store, on a simulated clock.

const T: u64 = 1_700_000_010;

fn key() -> ServerKey {
    ServerKey::from_bytes([3; 32])
}

/// An active `user` with a phone number; the authenticator to compute TOTP codes.
fn active(gate: &Gate<&MemoryStore>, user: &str) -> Totp {
    let enrollment = gate
        .enroll_with_phone(user, "Deploy Portal", Some(NUMBER), T)
        .unwrap();
    let app = Totp::new(&enrollment.secret, gate.params()).unwrap();
    let first = app.generate(T).unwrap().to_string();
    gate.confirm(user, &first, T).unwrap().unwrap();
    app
}

/// Sends `user` a code at `now` and returns it, as the delivery command got it.
fn texted(gate: &Gate<&MemoryStore>, user: &str, now: u64) -> String {
    let mut message = String::new();
    let sent = gate
        .send_code(user, "Deploy Portal", Some("deploy"), now, |to, text| {
            assert_eq!(to.as_str(), NUMBER);
            message = text.to_owned();
            Ok(())
        })
        .unwrap()
        .unwrap();
    assert_eq!(sent.expires_at, now + 300);
    message[..6].to_owned()
}

#[test]
fn one_typed_code_counts_one_failure_whichever_factor_refuses_it() {
    let store = MemoryStore::new();
    let gate = Gate::open(&store, key()).unwrap();
    active(&gate, "alice");
    assert_eq!(
        gate.check("alice", "000000", None, T + 1).unwrap(),
        Err(Refusal::Wrong)
    );
    assert_eq!(gate.status("alice").unwrap().failures, 1);
    let code = texted(&gate, "alice", T + 2);
    let wrong = other_than(&code);
    assert_eq!(
        gate.check("alice", &wrong, None, T + 3).unwrap(),
        Err(Refusal::Wrong)
    );
    assert_eq!(gate.status("alice").unwrap().failures, 2, "not 3");
    let accepted = gate.check("alice", &code, None, T + 4).unwrap().unwrap();
    assert_eq!(accepted.factor, Factor::Sms);
    assert_eq!(
        gate.status("alice").unwrap().failures,
        0,
        "a success clears them"
    );
    // The used texted code again, in time or past its expiry: a replay, not counted.
    for at in [T + 5, T + 400] {
        assert_eq!(
            gate.check("alice", &code, None, at).unwrap(),
            Err(Refusal::Replayed)
        );
    }
    assert_eq!(gate.status("alice").unwrap().failures, 0);
    // Another code once the texted code is used: a failure, saying the code was used.
    assert_eq!(
        gate.check("alice", &wrong, None, T + 6).unwrap(),
        Err(Refusal::SmsAlreadyUsed)
    );
    assert_eq!(gate.status("alice").unwrap().failures, 1);
}

#[test]
fn a_totp_replay_does_not_use_up_the_texted_codes_tries() {
    let store = MemoryStore::new();
    let gate = Gate::open(&store, key()).unwrap();
    let app = active(&gate, "alice");
    let code = texted(&gate, "alice", T + 1);
    let confirming = app.generate(T).unwrap().to_string();
    for i in 0..5 {
        assert_eq!(
            gate.check("alice", &confirming, None, T + 2 + i).unwrap(),
            Err(Refusal::Replayed)
        );
    }
    assert_eq!(gate.status("alice").unwrap().failures, 0);
    assert!(gate.check("alice", &code, None, T + 10).unwrap().is_ok());
}

#[test]
fn a_texted_code_expires_to_the_second_and_is_forgotten_after_the_notice() {
    let store = MemoryStore::new();
    let gate = Gate::open(&store, key()).unwrap();
    active(&gate, "alice");
    active(&gate, "bob");
    let alice = texted(&gate, "alice", T);
    let bob = texted(&gate, "bob", T);
    assert_eq!(
        gate.check("alice", &alice, None, T + 300).unwrap(),
        Err(Refusal::SmsExpired)
    );
    assert_eq!(
        gate.check("bob", &bob, None, T + 299)
            .unwrap()
            .unwrap()
            .factor,
        Factor::Sms
    );
    let late = T + 300 + TEXTED_CODE_NOTICE_SECS;
    assert_eq!(
        gate.check("alice", &alice, None, late).unwrap(),
        Err(Refusal::Wrong)
    );
}

#[test]
fn a_texted_code_passes_only_for_the_user_it_was_sent_to() {
    let store = MemoryStore::new();
    let gate = Gate::open(&store, key()).unwrap();
    active(&gate, "alice");
    active(&gate, "bob");
    let alice = texted(&gate, "alice", T);
    texted(&gate, "bob", T);
    assert_eq!(
        gate.check("bob", &alice, None, T + 1).unwrap(),
        Err(Refusal::Wrong)
    );
    assert!(gate.check("alice", &alice, None, T + 2).unwrap().is_ok());
}

#[test]
fn a_failed_delivery_withdraws_the_code_and_a_new_phone_withdraws_a_pending_one() {
    let store = MemoryStore::new();
    let gate = Gate::open(&store, key()).unwrap();
    active(&gate, "alice");
    let mut code = String::new();
    let failed = gate.send_code("alice", "Deploy Portal", None, T, |_, text| {
        code = text[..6].to_owned();
        Err(String::from("gateway down"))
    });
    match failed {
        Err(GateError::DeliveryFailed { reason }) => {
            assert!(
                reason.starts_with("gateway down; the code was withdrawn"),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        gate.check("alice", &code, None, T + 1).unwrap(),
        Err(Refusal::SmsExpired)
    );
    assert!(matches!(
        gate.send_code("alice", "x", None, T + 59, |_, _| Ok(())).unwrap(),
        Err(Refusal::SmsTooSoon { retry_at, retry_in: 1 }) if retry_at == T + 60
    ));

    let code = texted(&gate, "alice", T + 60);
    gate.set_phone("alice", "+12025550123", T + 61).unwrap();
    assert_eq!(
        gate.check("alice", &code, None, T + 62).unwrap(),
        Err(Refusal::SmsExpired)
    );
    let status = gate.status("alice").unwrap();
    assert_eq!(
        status.phone,
        Some(PhoneNumber::parse("+12025550123").unwrap())
    );
    assert_eq!(status.texted_code, OobState::Pending);
}

#[test]
fn a_pending_user_confirms_with_a_texted_code_and_a_locked_out_user_is_not_texted() {
    let store = MemoryStore::new();
    let gate = Gate::open(&store, key())
        .unwrap()
        .with_throttle(Throttle {
            lockout_after: 2,
            ..Throttle::default()
        })
        .unwrap();
    gate.enroll_with_phone("alice", "Deploy Portal", Some(NUMBER), T)
        .unwrap();
    let code = texted(&gate, "alice", T);
    let accepted = gate.confirm("alice", &code, T + 1).unwrap();
    assert_eq!(accepted.unwrap().len(), 10);

    for i in 0..2 {
        let _ = gate.check("alice", "000000", None, T + 2 + i).unwrap();
    }
    let refused = gate
        .send_code("alice", "x", None, T + 10, |_, _| {
            panic!("texted while locked out")
        })
        .unwrap();
    assert!(
        matches!(refused, Err(Refusal::Throttled { .. })),
        "{refused:?}"
    );
}

#[test]
fn bad_input_gets_its_own_error() {
    let store = MemoryStore::new();
    let gate = Gate::open(&store, key()).unwrap();
    assert_eq!(
        gate.enroll_with_phone("alice", "x", Some("+12"), T)
            .unwrap_err(),
        GateError::InvalidPhone(PhoneError::TooShort)
    );
    assert!(gate.status("alice").is_err(), "nothing enrolled");
    gate.enroll("alice", "x", T).unwrap();
    assert_eq!(
        gate.send_code("alice", "x", None, T, |_, _| Ok(()))
            .unwrap_err(),
        GateError::NoPhone
    );
    let eight = OobPolicy {
        digits: 8,
        ..OobPolicy::default()
    };
    assert!(
        Gate::open(&store, key())
            .unwrap()
            .with_oob_policy(eight)
            .is_err()
    );
    let zero_ttl = OobPolicy {
        ttl_secs: 0,
        ..OobPolicy::default()
    };
    assert!(
        Gate::open(&store, key())
            .unwrap()
            .with_oob_policy(zero_ttl)
            .is_err()
    );
}

#[test]
fn the_delivery_command_does_not_inherit_otpgates_own_settings() {
    let env = Env::new("oob-env");
    activate_with_phone(&env, "alice");
    let script = env.dir.join("env-script");
    let out = env.dir.join("env-script.out");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf '%s|%s|%s|%s\\n' \"${{OTPGATE_DB-unset}}\" \"${{OTPGATE_KEY_FILE-unset}}\" \"${{OTPGATE_DELIVER_COMMAND-unset}}\" \"$OTPGATE_TO\" > '{}'\n",
            out.display()
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    // The settings come from the environment, as a fleet's runner would give them (the
    // database URL there can hold a password).
    let run: Run = env
        .command()
        .env("OTPGATE_DB", &env.db)
        .env("OTPGATE_KEY_FILE", env.key_file())
        .env("OTPGATE_DELIVER_COMMAND", &script)
        .args(["send-code", "alice"])
        .output()
        .unwrap()
        .into();
    assert_eq!(run.code, Some(0), "{run:?}");
    let seen = std::fs::read_to_string(&out).unwrap();
    assert_eq!(seen.trim_end(), format!("unset|unset|unset|{NUMBER}"));
}

#[test]
fn new_recovery_codes_need_an_app_code_not_a_texted_one() {
    let env = Env::new("oob-recovery-codes");
    let phone = activate_with_phone(&env, "alice");
    let script = delivery_script(&env, "deliver", 0);
    assert_eq!(send(&env, "alice", &script).code, Some(0));
    let (_, _, texted) = delivered(&env, "deliver");
    if is_also_an_app_code(&phone, &texted) {
        return;
    }
    let run = env.run(&["--json", "recovery-codes", "alice", &texted]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert_eq!(run.json()["reason"], "wrong", "{run:?}");
    // The texted code itself still works where a texted code is allowed.
    assert_eq!(env.run(&["check", "alice", &texted]).code, Some(0));
}

/// The rare draw (about 1 in 250,000) where the texted code is also a TOTP code of the
/// window, which the app-code path would rightly accept: nothing to show then. The window
/// of the test's step and of the next one, in case a boundary passes before the process
/// checks the code.
fn is_also_an_app_code(phone: &Totp, texted: &str) -> bool {
    let now = step_now(phone);
    (now - 1..=now + 2).any(|step| code(phone, step) == texted)
}
