//! Key rotation on PostgreSQL (feature `postgres`): `otpgate rotate-key` killed with
//! SIGKILL at random points at least 50 times, after each of which exactly one of the two
//! keys opens everything and the command run again finishes; refusals over a forged trail,
//! with a wrong key and for the runners' role; and decisions that waited behind a rotation
//! failing closed once it committed, never writing under the old key.
//!
//! Needs `OTPGATE_TEST_POSTGRES_URL` (see gate_postgres.rs): unset, the tests fail under
//! `CI=true` and print SKIPPED otherwise. Each test works in a schema of its own.
#![cfg(all(feature = "postgres", unix))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod gate_support;
#[path = "gate_support/postgres.rs"]
mod pg;
#[path = "../../tests/support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gate_support::{BIN, Rng, Run};
use otpgate::{Gate, GateError, ServerKey};
use pg::{Db, server_url, unique, wait_until_waiting};
use postgres::{Client, NoTls};

/// `otpgate --db URL --key-file KEY` with `args`.
fn gate(url: &str, key: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_remove("OTPGATE_DB")
        .env_remove("OTPGATE_KEY_FILE")
        .arg("--db")
        .arg(url)
        .arg("--key-file")
        .arg(key)
        .args(args)
        .stdin(Stdio::null());
    cmd
}

fn run(url: &str, key: &Path, args: &[&str]) -> Run {
    gate(url, key, args).output().unwrap().into()
}

fn rotate(url: &str, key: &Path, new: &Path) -> Run {
    run(
        url,
        key,
        &[
            "--json",
            "rotate-key",
            "--new-key-file",
            new.to_str().unwrap(),
        ],
    )
}

/// Whether `key` opens the database: the gate opens with it and the whole trail verifies.
fn opens(url: &str, key: &Path) -> bool {
    key.exists() && run(url, key, &["log", "--verify"]).code == Some(0)
}

/// Every user's record and version, as stored.
fn records(db: &Db) -> Vec<(String, i64, Vec<u8>)> {
    db.admin()
        .query(
            "SELECT \"user\", version, record FROM users ORDER BY \"user\"",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2)))
        .collect()
}

/// How many of the stored records open under the key in `key`.
fn records_opening(db: &Db, key: &Path) -> usize {
    let key = ServerKey::from_hex(&std::fs::read_to_string(key).unwrap()).unwrap();
    records(db)
        .iter()
        .filter(|(user, version, sealed)| key.open(user, *version as u64, sealed).is_ok())
        .count()
}

/// Waits until no session of `application_name` is left on the server: a killed
/// `otpgate`'s transaction is then rolled back or committed, not in flight, so what the
/// test reads next is final.
fn wait_until_gone(admin: &mut Client, application_name: &str) {
    let started = Instant::now();
    while admin
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
            &[&application_name],
        )
        .unwrap()
        .get::<_, i64>(0)
        > 0
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the killed rotation's session is still there after 30 s"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// A key file named `name` in `dir`, holding a new key (mode 0600).
fn key_file(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    otpgate::keyfile::create_key(&path).unwrap();
    path
}

const KILLS: usize = 50;
/// Rounds at most: a round whose rotation ended before its kill does not count.
const MAX_ROUNDS: usize = 200;
const USERS: usize = 100;

#[test]
fn kill_9_during_rotate_key_on_postgresql_leaves_one_key_that_opens_everything() {
    let Some(admin) = server_url() else { return };
    let db = Db::new(&admin, "rotate_kill");
    let plain = db.url(None, false);
    // The rotations' sessions carry a name of their own, to wait for them to end.
    let name = unique("otpgate_rotate");
    let url = format!("{plain}&application_name={name}");
    let owner = db.runner("owner", plain.clone(), false);
    {
        let gate = Gate::open_database(Path::new(&plain), Some(&owner.key_file), true).unwrap();
        for i in 0..USERS {
            gate.enroll(&format!("user{i}"), "otpgate", 1_700_000_000)
                .unwrap();
        }
    }
    // One active user with recovery codes and one failure, to show the records still work
    // with their state after it all.
    let (_, confirmed) = gate_support::activate_with(|args| owner.run(args), "active", &[]);
    let recovery: Vec<String> = confirmed.json()["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(owner.run(&["check", "active", "000000"]).code, Some(1));
    let total = USERS + 1;

    let mut rng = Rng::from_clock();
    let seed = rng.seed();
    let mut current = owner.key_file.clone();
    let mut generation = 0usize;
    let mut next_key = || {
        generation += 1;
        owner.dir.join(format!("key{generation}"))
    };
    // How long a rotation takes here (the fastest of three), to spread the kills over it.
    let fastest = (0..3)
        .map(|_| {
            let new = next_key();
            let started = Instant::now();
            let run = rotate(&url, &current, &new);
            let took = started.elapsed().as_micros() as u64;
            assert_eq!(run.code, Some(0), "{run:?}");
            assert_eq!(run.json()["records"], total, "{run:?}");
            current = new;
            took
        })
        .min()
        .unwrap();
    assert!(opens(&plain, &current));
    let span = (fastest * 5 / 4).max(1000);
    let mut admin_client = db.admin();
    let (mut rounds, mut killed, mut committed) = (0, 0, 0);
    while killed < KILLS {
        assert!(
            rounds < MAX_ROUNDS,
            "seed {seed}: only {killed} of {rounds} rotations were killed"
        );
        let context = format!("seed {seed}, round {rounds}");
        rounds += 1;
        let new = next_key();
        let mut child = gate(
            &url,
            &current,
            &["rotate-key", "--new-key-file", new.to_str().unwrap()],
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
        std::thread::sleep(Duration::from_micros(rng.below(span)));
        // SIGKILL; an error only when the process is already gone.
        let _ = child.kill();
        let killed_run: Run = child.wait_with_output().unwrap().into();
        if killed_run.code.is_some() {
            assert_eq!(killed_run.code, Some(0), "{context}: {killed_run:?}");
        }
        wait_until_gone(&mut admin_client, &name);
        let (old_opens, new_opens) = (opens(&plain, &current), opens(&plain, &new));
        assert!(
            old_opens != new_opens,
            "{context}: old key opens: {old_opens}, new key opens: {new_opens}: {killed_run:?}"
        );
        let key = if new_opens { &new } else { &current };
        assert_eq!(records_opening(&db, key), total, "{context}");
        let status = run(&plain, key, &["--json", "status", "active"]);
        assert_eq!(status.code, Some(0), "{context}: {status:?}");
        assert_eq!(status.json()["failures"], 1, "{context}: {status:?}");
        if killed_run.code.is_none() {
            killed += 1;
            committed += usize::from(new_opens);
        }
        // Run again: it finishes the interrupted rotation, or finds it done.
        let again = rotate(&url, &current, &new);
        assert_eq!(again.code, Some(0), "{context}: {again:?}");
        if new_opens {
            assert_eq!(again.json()["already"], true, "{context}: {again:?}");
        } else {
            assert_eq!(again.json()["records"], total, "{context}: {again:?}");
        }
        current = new;
    }
    eprintln!(
        "killed {killed} of {rounds} rotations ({committed} after the commit), every one run \
         again"
    );
    assert!(opens(&plain, &current));
    assert_eq!(records_opening(&db, &current), total);
    // The active user's records work under the last key: a recovery code passes once.
    let run_recover = || run(&plain, &current, &["recover", "active", &recovery[0]]);
    assert_eq!(run_recover().code, Some(0));
    assert_eq!(run_recover().code, Some(1));
    assert!(opens(&plain, &current));
}

#[test]
fn a_rotation_on_postgresql_is_refused_over_a_forged_trail_and_with_a_wrong_key() {
    let Some(admin) = server_url() else { return };
    let db = Db::new(&admin, "rotate_refused");
    let owner = db.runner("owner", db.url(None, false), false);
    owner.enroll("alice");
    let before = records(&db);
    let new = owner.dir.join("new.key");
    db.admin()
        .batch_execute(
            "INSERT INTO audit (time, \"user\", event, outcome) VALUES (1, 'alice', 'check', 'accepted')",
        )
        .unwrap();
    let refused = rotate(&owner.url, &owner.key_file, &new);
    assert_eq!(refused.code, Some(2), "{refused:?}");
    assert!(refused.stderr.contains("does not verify"), "{refused:?}");
    // Nothing was written: the records are as they were, under the old key.
    assert_eq!(records(&db), before);
    assert_eq!(owner.run(&["status", "alice"]).code, Some(0));
    db.admin()
        .batch_execute("DELETE FROM audit WHERE outcome = 'accepted'")
        .unwrap();
    // The new key (created by the refused run) is not the database's: using it as the
    // current key is refused.
    let other = owner.dir.join("other.key");
    let wrong = rotate(&owner.url, &new, &other);
    assert_eq!(wrong.code, Some(2), "{wrong:?}");
    assert!(wrong.stderr.contains("not the one"), "{wrong:?}");
    assert_eq!(records(&db), before);
    // "Rotating" to the key in use finds it done.
    let same = rotate(&owner.url, &owner.key_file, &owner.key_file);
    assert_eq!(same.code, Some(0), "{same:?}");
    assert_eq!(same.json()["already"], true, "{same:?}");
    assert!(opens(&owner.url, &owner.key_file));
    assert!(!opens(&owner.url, &new));
}

#[test]
fn the_runners_role_may_not_rotate_the_key_and_the_migration_role_may() {
    let Some(admin) = server_url() else { return };
    let db = Db::new(&admin, "rotate_roles");
    let role = unique("otpgate_runner");
    let owner = db.runner("owner", db.url(None, false), false);
    owner.activate("alice");
    db.admin()
        .batch_execute(&format!(
            "CREATE ROLE {role} LOGIN PASSWORD 'runner';
             GRANT USAGE ON SCHEMA {s} TO {role};
             GRANT SELECT ON schema_version, meta TO {role};
             GRANT SELECT, INSERT, UPDATE ON users TO {role};
             GRANT SELECT, INSERT ON audit TO {role};",
            s = db.schema
        ))
        .unwrap();
    let runner = db.runner("runner", db.url(Some(&role), false), false);
    let before = records(&db);
    let new = key_file(&owner.dir, "new.key");
    let refused = rotate(&runner.url, &runner.key_file, &new);
    assert_eq!(refused.code, Some(2), "{refused:?}");
    assert!(
        refused.stderr.contains("may not rotate the server key")
            && refused.stderr.contains("migration role"),
        "{refused:?}"
    );
    assert_eq!(records(&db), before);
    // The runner still decides under the old key.
    assert_eq!(runner.run(&["check", "alice", "000000"]).code, Some(1));
    let done = rotate(&owner.url, &owner.key_file, &new);
    assert_eq!(done.code, Some(0), "{done:?}");
    assert_eq!(done.json()["records"], 1, "{done:?}");
    // The runner needs the new key now.
    assert_eq!(runner.run(&["status", "alice"]).code, Some(2));
    let status = run(&runner.url, &new, &["--json", "status", "alice"]);
    assert_eq!(status.code, Some(0), "{status:?}");
    assert_eq!(status.json()["failures"], 1, "{status:?}");
    let mut client = Client::connect(&admin, NoTls).unwrap();
    client
        .batch_execute(&format!(
            "DROP SCHEMA {s} CASCADE; DROP OWNED BY {role}; DROP ROLE {role}",
            s = db.schema
        ))
        .unwrap();
}

/// A transaction holding the key check's row: a rotation started now takes its first
/// locks and waits there, until the transaction ends.
fn hold_key_check(holder: &mut Client) -> postgres::Transaction<'_> {
    let mut hold = holder.transaction().unwrap();
    hold.query_one(
        "SELECT value FROM meta WHERE name = 'key_check' FOR UPDATE",
        &[],
    )
    .unwrap();
    hold
}

#[test]
fn decisions_waiting_behind_a_rotation_fail_closed_after_it_commits() {
    let Some(admin) = server_url() else { return };
    let db = Db::new(&admin, "rotate_waiting");
    let plain = db.url(None, false);
    let owner = db.runner("owner", plain.clone(), false);
    owner.activate("alice");
    let named = |name: &str| format!("{plain}&application_name={name}");
    let (rotation, enroller, checker) = (unique("rotation"), unique("enroller"), unique("checker"));
    // Two gates opened under the old key before the rotation: one enrolls a new user, one
    // checks an existing user's code.
    let open = |name: &str| {
        Gate::open_database(Path::new(&named(name)), Some(&owner.key_file), false).unwrap()
    };
    let (enrolling, checking) = (open(&enroller), open(&checker));
    // The rotation is held, with its first locks taken, at the key check's row.
    let mut holder = db.admin();
    let hold = hold_key_check(&mut holder);
    let new = owner.dir.join("new.key");
    let rotating = gate(
        &named(&rotation),
        &owner.key_file,
        &[
            "--json",
            "rotate-key",
            "--new-key-file",
            new.to_str().unwrap(),
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let mut watcher = db.admin();
    wait_until_waiting(&mut watcher, &[&rotation]);
    let (enrolled, checked) = std::thread::scope(|s| {
        let enrolled = s.spawn(move || enrolling.enroll("newcomer", "otpgate", 1_700_000_000));
        let checked = s.spawn(move || checking.check("alice", "000000", None, 1_700_000_000));
        // Both wait behind the rotation's locks (the audit chain's); then it goes on.
        wait_until_waiting(&mut watcher, &[&rotation, &enroller, &checker]);
        hold.rollback().unwrap();
        (enrolled.join().unwrap(), checked.join().unwrap())
    });
    let rotated: Run = rotating.wait_with_output().unwrap().into();
    assert_eq!(rotated.code, Some(0), "{rotated:?}");
    assert_eq!(rotated.json()["records"], 1, "{rotated:?}");
    // The new user's record, sealed under the old key, was rolled back with its audit row.
    assert!(
        matches!(enrolled, Err(GateError::WrongServerKey)),
        "{:?}",
        enrolled.map(|_| ())
    );
    // The check's write conflicted, and its second reading does not open under the old key.
    assert!(
        matches!(checked, Err(GateError::RecordTampered)),
        "{:?}",
        checked.map(|_| ())
    );
    assert_eq!(
        db.sql_one("SELECT count(*) FROM users WHERE \"user\" = 'newcomer'"),
        "0"
    );
    assert!(opens(&plain, &new));
    assert_eq!(records_opening(&db, &new), 1);
    // Nothing of the refused check was written: no failure counted.
    let status = run(&plain, &new, &["--json", "status", "alice"]);
    assert_eq!(status.code, Some(0), "{status:?}");
    assert_eq!(status.json()["failures"], 0, "{status:?}");
}

#[test]
fn a_connection_guessing_the_head_behind_a_rotation_fails_closed_after_it_commits() {
    let Some(admin) = server_url() else { return };
    let db = Db::new(&admin, "rotate_guessing");
    let plain = db.url(None, false);
    let owner = db.runner("owner", plain.clone(), false);
    let named = |name: &str| format!("{plain}&application_name={name}");
    let (rotation, decider) = (unique("rotation"), unique("decider"));
    // A long-lived connection (as the service keeps them): after two decisions of its own
    // it appends at the head it predicts, in one round trip.
    let gate =
        Gate::open_database(Path::new(&named(&decider)), Some(&owner.key_file), true).unwrap();
    for user in ["one", "two", "three"] {
        gate.enroll(user, "otpgate", 1_700_000_000).unwrap();
    }
    let mut holder = db.admin();
    let hold = hold_key_check(&mut holder);
    let new = owner.dir.join("new.key");
    let mut watcher = db.admin();
    let (rotated, enrolled) = std::thread::scope(|s| {
        let url = named(&rotation);
        let (key_file, new) = (owner.key_file.clone(), new.clone());
        let rotated = s.spawn(move || {
            otpgate::rotate_key(Path::new(&url), Some(&key_file), &new, 1_700_000_001)
        });
        wait_until_waiting(&mut watcher, &[&rotation]);
        let enrolled = s.spawn(move || gate.enroll("newcomer", "otpgate", 1_700_000_002));
        wait_until_waiting(&mut watcher, &[&rotation, &decider]);
        hold.rollback().unwrap();
        (rotated.join().unwrap(), enrolled.join().unwrap())
    });
    rotated.unwrap();
    assert!(
        matches!(enrolled, Err(GateError::WrongServerKey)),
        "{:?}",
        enrolled.map(|_| ())
    );
    assert_eq!(
        db.sql_one("SELECT count(*) FROM users WHERE \"user\" = 'newcomer'"),
        "0"
    );
}
