//! The gate's edges (issue 18): the key file's checks, `--db` strings that are connection
//! strings, usage errors with `--json`, an enrollment that cannot be shown, errors named for
//! what they are, and a delivery command whose children outlive it.
#![cfg(unix)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod gate_support;

use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use gate_support::{Env, Run, within};

/// Writes a key file of `text` with `mode`.
fn key_file(path: &Path, text: &str, mode: u32) {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()))
        .unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn assert_error(run: &Run, message: &str) {
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains(message), "{message:?} missing: {run:?}");
    assert!(!run.stderr.contains("store error"), "{run:?}");
}

#[test]
fn a_key_file_that_is_no_regular_file_of_ours_is_refused_at_once() {
    let env = Env::new("key-checks");
    env.activate("alice");
    let good = std::fs::read_to_string(env.key_file()).unwrap();
    let check = |key: &Path, message: &str| {
        let mut command = env.command();
        command
            .arg("--key-file")
            .arg(key)
            .args(["check", "alice", "123456"]);
        let run = within(command, Duration::from_secs(20));
        assert_error(&run, message);
    };
    // Devices that never end and a FIFO nobody writes: refused, not read (before, these
    // hung the check and ate memory).
    check(Path::new("/dev/zero"), "not a regular file");
    check(Path::new("/dev/urandom"), "not a regular file");
    let fifo = env.dir.join("fifo.key");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    check(&fifo, "not a regular file");
    check(&env.dir, "not a regular file");
    // A symbolic link to the right key: not followed.
    let link = env.dir.join("link.key");
    std::os::unix::fs::symlink(env.key_file(), &link).unwrap();
    check(&link, "symbolic link");
    // The right key, readable by the group or by others.
    for (name, mode) in [
        ("group.key", 0o640),
        ("world.key", 0o604),
        ("gw.key", 0o620),
    ] {
        let path = env.dir.join(name);
        key_file(&path, &good, mode);
        check(&path, &format!("mode {mode:04o}"));
    }
    // A file far larger than a key: read up to the bound, refused as malformed.
    let big = env.dir.join("big.key");
    key_file(&big, &good.repeat(1000), 0o600);
    check(&big, "64 hexadecimal digits");
    // Another owner (only root can make one).
    if rustix::process::geteuid().is_root() {
        let theirs = env.dir.join("theirs.key");
        key_file(&theirs, &good, 0o600);
        rustix::fs::chown(
            &theirs,
            Some(rustix::fs::Uid::from_raw(65534)),
            Some(rustix::fs::Gid::from_raw(65534)),
        )
        .unwrap();
        check(&theirs, "belongs to another user");
    } else {
        eprintln!("not root: the other-owner case needs root to make the file");
    }
    // The good key, its own copy with mode 0600: accepted.
    let copy = env.dir.join("copy.key");
    key_file(&copy, &good, 0o600);
    let mut command = env.command();
    command
        .arg("--key-file")
        .arg(&copy)
        .args(["status", "alice"]);
    assert_eq!(within(command, Duration::from_secs(20)).code, Some(0));
}

#[test]
fn a_key_found_at_the_default_path_is_adopted_for_a_new_database_only_when_named() {
    let env = Env::new("key-planted");
    let planted = "ab".repeat(32);
    key_file(&env.key_file(), &planted, 0o600);
    let run = env.run(&["--json", "enroll", "alice"]);
    assert_error(&run, "only when named");
    assert_eq!(run.json()["result"], "error");
    // Named, it is adopted, and the database is bound to it.
    let run = env.run(&[
        "--key-file",
        env.key_file().to_str().unwrap(),
        "--json",
        "enroll",
        "alice",
    ]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(std::fs::read_to_string(env.key_file()).unwrap(), planted);
    // From now on the database is set up with it, so the default path works.
    assert_eq!(env.run(&["status", "alice"]).code, Some(0));
}

#[test]
fn connection_strings_never_become_file_names_and_passwords_are_never_printed() {
    let env = Env::new("db-strings");
    let key = env.dir.join("k.key");
    for db in [
        "host=127.0.0.1 port=1 user=u password=hunter2 dbname=gate connect_timeout=5",
        "  user=u password=hunter2 host=127.0.0.1 port=1",
        "POSTGRESQL://u:hunter2@127.0.0.1:1/gate?connect_timeout=5",
        "Postgres://u:hunter2@127.0.0.1:1/gate?connect_timeout=5",
        "mysql://u:hunter2@127.0.0.1:1/gate",
        "postgresql://u:hunter2@127.0.0.1:1/gate?sslmode=bogus",
    ] {
        for args in [
            &["--json", "enroll", "alice"][..],
            &["--json", "check", "alice", "123456"],
            &["--json", "backup", "copy.db"],
        ] {
            let mut command = Command::new(gate_support::BIN);
            command
                .current_dir(&env.dir)
                .env_remove("OTPGATE_DB")
                .env_remove("OTPGATE_KEY_FILE")
                .arg("--db")
                .arg(db)
                .arg("--key-file")
                .arg(&key)
                .args(args);
            let run = within(command, Duration::from_secs(30));
            assert_eq!(run.code, Some(2), "{db} {args:?}: {run:?}");
            assert_eq!(run.json()["result"], "error", "{db}: {run:?}");
            assert!(
                !run.stdout.contains("hunter2") && !run.stderr.contains("hunter2"),
                "{db} {args:?}: the password was printed: {run:?}"
            );
        }
        // Without a key file named, the URL needs one: still nothing printed.
        let run = within(
            {
                let mut c = Command::new(gate_support::BIN);
                c.current_dir(&env.dir)
                    .env_remove("OTPGATE_KEY_FILE")
                    .args(["--db", db, "enroll", "alice"]);
                c
            },
            Duration::from_secs(30),
        );
        assert_eq!(run.code, Some(2), "{run:?}");
        assert!(!run.stderr.contains("hunter2"), "{run:?}");
    }
    // No file was created for any of them: only the directory's own entries are there.
    let names: Vec<String> = std::fs::read_dir(&env.dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(names.is_empty(), "files created: {names:?}");
}

#[test]
fn usage_errors_with_json_print_one_json_error_object() {
    let env = Env::new("json-usage");
    for args in [
        &["--json", "check", "alice"][..],
        &["--json", "frobnicate"],
        &["--json", "check", "alice", "123456", "--help"],
        &["check", "alice", "--json", "-h"],
        &["--json", "check", "alice", "123456", "--version"],
        &["--json", "status"],
        &["--json", "log", "--limit", "many"],
        &["--json", "send-code", "alice", "--deliver-timeout", "31"],
    ] {
        let run = env.run(args);
        assert_eq!(run.code, Some(2), "{args:?}: {run:?}");
        let value = run.json();
        assert_eq!(value["result"], "error", "{args:?}: {run:?}");
        assert!(
            value["error"].as_str().unwrap().starts_with("usage")
                || value["error"].as_str().unwrap().contains("usage error"),
            "{args:?}: {run:?}"
        );
    }
    // Help before any command is not an error, and not JSON.
    assert_eq!(env.run(&["--json", "--help"]).code, Some(0));
}

#[test]
fn an_enrollment_that_cannot_be_shown_writes_nothing() {
    let env = Env::new("qr-too-long");
    let issuer = "I".repeat(3000);
    let svg = env.dir.join("qr.svg");
    let run = env.run(&[
        "--json",
        "enroll",
        "alice",
        "--issuer",
        &issuer,
        "--qr-svg",
        svg.to_str().unwrap(),
    ]);
    assert_error(&run, "cannot draw the QR code");
    assert_eq!(run.json()["result"], "error");
    // Nothing was written: no database, no key, no user pending, no image.
    assert!(!env.db.exists() && !env.key_file().exists() && !svg.exists());
    // The same with a database already there: no pending user, no audit entry.
    env.activate("bob");
    let run = env.run(&["enroll", "alice", "--issuer", &issuer]);
    assert_error(&run, "cannot draw the QR code");
    assert_error(&env.run(&["status", "alice"]), "unknown user");
    assert!(env.outcomes("alice", "enroll").is_empty());
    // An image that cannot be written: refused before the user is stored too.
    let run = env.run(&["enroll", "alice", "--qr-svg", "/nonexistent/dir/qr.svg"]);
    assert_error(&run, "cannot write /nonexistent/dir/qr.svg");
    assert_error(&env.run(&["status", "alice"]), "unknown user");
}

#[test]
fn errors_that_are_not_the_stores_are_not_called_store_errors() {
    let env = Env::new("labels");
    let run = env.run(&["--json", "demo"]);
    assert_error(&run, "no --json output");
    env.activate("alice");
    // A key file that cannot be read (a directory is refused before it is read; a file
    // without read permission needs a user other than root to fail).
    let mut command = env.command();
    command
        .arg("--key-file")
        .arg(&env.dir)
        .args(["status", "alice"]);
    assert_error(
        &within(command, Duration::from_secs(20)),
        "not a regular file",
    );
    let run = env.run(&["backup", env.db.to_str().unwrap()]);
    assert_error(&run, "cannot write");
}

#[test]
fn a_delivery_command_and_everything_it_started_are_killed_at_the_timeout() {
    let env = Env::new("deliver-group");
    env.enroll("alice");
    assert_eq!(env.run(&["phone", "alice", "+4915112345678"]).code, Some(0));
    // A delivery script that leaves a sleeping child holding its output, then hangs.
    let script = env.dir.join("deliver.sh");
    std::fs::write(&script, "#!/bin/sh\nsleep 40 &\nsleep 40\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut command = env.command();
    command.args([
        "--json",
        "send-code",
        "alice",
        "--deliver-timeout",
        "1",
        "--deliver-command",
        script.to_str().unwrap(),
    ]);
    // The output is read to its end (as `out=$(otpgate send-code ... 2>&1)` does): it ends
    // only when no process holds it open any more.
    let started = Instant::now();
    let run = within(command, Duration::from_secs(60));
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the delivery's child kept the output open: {:?}",
        started.elapsed()
    );
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("did not finish within 1 s"), "{run:?}");
}

#[test]
fn a_trigger_that_rolls_records_back_is_refused() {
    let env = Env::new("rollback-trigger");
    let (alice, _) = env.activate("alice");
    // On every decision, put alice's row as it was back: her failures would never count.
    env.sql()
        .execute_batch(
            "CREATE TABLE saved AS SELECT * FROM users;
             CREATE TRIGGER roll_back AFTER UPDATE ON users BEGIN
                 UPDATE users SET version = (SELECT version FROM saved WHERE user = NEW.user),
                                  record = (SELECT record FROM saved WHERE user = NEW.user)
                 WHERE user = NEW.user;
             END;",
        )
        .unwrap();
    for _ in 0..3 {
        assert_error(&env.run(&["check", "alice", "000000"]), "trigger roll_back");
    }
    // A view is refused too (the gate creates none).
    env.sql()
        .execute_batch("DROP TRIGGER roll_back; CREATE VIEW everyone AS SELECT user FROM users;")
        .unwrap();
    assert_error(&env.run(&["status", "alice"]), "view everyone");
    env.sql().execute_batch("DROP VIEW everyone").unwrap();
    let fresh = gate_support::code(&alice, gate_support::step_now(&alice));
    assert_eq!(env.run(&["check", "alice", &fresh]).code, Some(0));
}

/// `log --verify`: its exit code and the first broken row it names (none when intact).
fn verify(env: &Env) -> (Option<i32>, Option<i64>) {
    let run = env.run(&["--json", "log", "--verify"]);
    let value = run.json();
    (run.code, value["broken"]["id"].as_i64())
}

#[test]
fn forged_deleted_altered_or_reordered_audit_rows_are_named_by_log_verify() {
    let env = Env::new("audit-chain");
    let (alice, _) = env.activate("alice");
    for wrong in ["000000", "111111", "222222"] {
        assert_eq!(env.run(&["check", "alice", wrong]).code, Some(1));
    }
    let fresh = gate_support::code(&alice, gate_support::step_now(&alice));
    assert_eq!(
        env.run(&["check", "alice", &fresh, "--action", "deploy 1"])
            .code,
        Some(0)
    );
    assert_eq!(verify(&env), (Some(0), None));
    let ids: Vec<i64> = {
        let sql = env.sql();
        let mut statement = sql.prepare("SELECT id FROM audit ORDER BY id").unwrap();
        statement
            .query_map([], |row| row.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert_eq!(ids.len(), 6);
    let backup = env.dir.join("pristine.db");
    assert_eq!(env.run(&["backup", backup.to_str().unwrap()]).code, Some(0));
    let restore = || {
        for suffix in ["-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", env.db.display()));
        }
        std::fs::copy(&backup, &env.db).unwrap();
        assert_eq!(verify(&env), (Some(0), None));
    };
    // "deploy 2 accepted", inserted by hand: without a MAC, or with a copied one.
    env.sql()
        .execute(
            "INSERT INTO audit (time, user, event, action, outcome, drift)
             SELECT time, user, event, 'deploy 2', outcome, drift FROM audit WHERE id = ?1",
            [ids[5]],
        )
        .unwrap();
    assert_eq!(verify(&env), (Some(1), Some(ids[5] + 1)));
    restore();
    env.sql()
        .execute(
            "INSERT INTO audit (time, user, event, action, outcome, drift, mac)
             SELECT time, user, event, 'deploy 2', outcome, drift, mac FROM audit WHERE id = ?1",
            [ids[5]],
        )
        .unwrap();
    assert_eq!(verify(&env), (Some(1), Some(ids[5] + 1)));
    restore();
    // A refusal deleted from the middle: the row after the gap is named.
    env.sql()
        .execute("DELETE FROM audit WHERE id = ?1", [ids[3]])
        .unwrap();
    let run = env.run(&["log", "--verify"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stderr
            .contains(&format!("row {} does not authenticate", ids[4])),
        "{run:?}"
    );
    restore();
    // A refusal turned into an acceptance.
    env.sql()
        .execute(
            "UPDATE audit SET outcome = 'accepted' WHERE id = ?1",
            [ids[2]],
        )
        .unwrap();
    assert_eq!(verify(&env), (Some(1), Some(ids[2])));
    restore();
    // Two rows swapped (their contents and MACs, ids kept): out of order.
    env.sql()
        .execute_batch(&format!(
            "UPDATE audit SET id = -1 WHERE id = {a};
             UPDATE audit SET id = {a} WHERE id = {b};
             UPDATE audit SET id = {b} WHERE id = -1;",
            a = ids[3],
            b = ids[4]
        ))
        .unwrap();
    assert_eq!(verify(&env), (Some(1), Some(ids[3])));
    restore();
    // Every decision after the verification still extends one valid chain.
    assert_eq!(env.run(&["check", "alice", "333333"]).code, Some(1));
    assert_eq!(verify(&env), (Some(0), None));
    // A wrong key cannot verify (nor forge): exit 2.
    let other = env.dir.join("other.key");
    key_file(&other, &"cd".repeat(32), 0o600);
    let mut command = env.command();
    command
        .arg("--key-file")
        .arg(&other)
        .args(["log", "--verify"]);
    assert_eq!(within(command, Duration::from_secs(20)).code, Some(2));
}

#[test]
fn a_database_from_before_the_chain_opens_and_its_old_rows_count_as_unauthenticated() {
    let env = Env::new("audit-upgrade");
    // Schema version 1, as an older otpgate left it, with two audit rows.
    env.sql()
        .execute_batch(
            "CREATE TABLE meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);
             CREATE TABLE users (user TEXT PRIMARY KEY, version INTEGER NOT NULL,
                                 record BLOB NOT NULL, updated INTEGER NOT NULL);
             CREATE TABLE audit (id INTEGER PRIMARY KEY AUTOINCREMENT, time INTEGER NOT NULL,
                                 user TEXT NOT NULL, event TEXT NOT NULL, action TEXT,
                                 outcome TEXT NOT NULL, drift INTEGER);
             CREATE INDEX audit_by_user ON audit (user, id);
             CREATE TABLE schema_version (version INTEGER NOT NULL);
             INSERT INTO schema_version VALUES (1);
             INSERT INTO audit (time, user, event, outcome) VALUES (1, 'old', 'check', 'wrong');
             INSERT INTO audit (time, user, event, outcome) VALUES (2, 'old', 'check', 'wrong');",
        )
        .unwrap();
    env.activate("alice");
    let run = env.run(&["--json", "log", "--verify"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.json()["unauthenticated"], 2);
    assert_eq!(run.json()["authenticated"], 2);
    // A row without a MAC added after the chain started is forged, whatever its id.
    env.sql()
        .execute(
            "INSERT INTO audit (id, time, user, event, outcome) VALUES (-5, 3, 'x', 'check', 'accepted')",
            [],
        )
        .unwrap();
    assert_eq!(verify(&env), (Some(1), Some(-5)));
    env.sql()
        .execute("DELETE FROM audit WHERE id = -5", [])
        .unwrap();
    assert_eq!(verify(&env), (Some(0), None));
    env.sql()
        .execute(
            "INSERT INTO audit (time, user, event, outcome) VALUES (3, 'x', 'check', 'accepted')",
            [],
        )
        .unwrap();
    let (code, id) = verify(&env);
    assert_eq!(code, Some(1));
    assert!(id.unwrap() > 4);
}
