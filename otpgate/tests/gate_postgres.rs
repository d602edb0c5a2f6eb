//! The gate on PostgreSQL (feature `postgres`): `otpgate` processes from two "runners"
//! (their own working directories, key file copies and connections: one over TCP with
//! `OTPGATE_DB`, one over the unix socket with `--db`) sharing one database.
//!
//! Needs a server: `OTPGATE_TEST_POSTGRES_URL` (a superuser, for the schemas and roles the
//! tests create). Start a throwaway one with
//! `export OTPGATE_TEST_POSTGRES_URL=$(tests/postgres/server.sh start "$(mktemp -d)")`.
//! Unset, the tests fail under `CI=true` and print SKIPPED otherwise. Each test works in a
//! schema of its own, dropped at the end; the fault test runs a cluster of its own (it stops
//! and restarts it), with tests/postgres/server.sh.
#![cfg(all(feature = "postgres", unix))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod gate_support;
// The workspace's shared test helpers (CI detection, external services).
#[path = "../../tests/support/mod.rs"]
mod support;

#[path = "gate_support/postgres.rs"]
mod pg;

use std::process::Stdio;
use std::str::FromStr;
use std::sync::Barrier;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use gate_support::{BIN, Rng, Run, code, step_now};
use otpgate::SCHEMA_VERSION;
use pg::{Cluster, Db, Runner, server_url, unique};
use postgres::{Client, Config, NoTls};
use std::process::Command;

/// Runner A over TCP with OTPGATE_DB/OTPGATE_KEY_FILE, runner B over the unix socket with
/// --db/--key-file.
fn two_runners(db: &Db) -> (Runner, Runner) {
    (
        db.runner("a", db.url(None, false), true),
        db.runner("b", db.url(None, true), false),
    )
}

/// Runs every (runner, args) at once, each from its own thread released by one barrier.
fn together(jobs: &[(&Runner, Vec<String>)]) -> Vec<Run> {
    let barrier = Barrier::new(jobs.len());
    std::thread::scope(|s| {
        let handles: Vec<_> = jobs
            .iter()
            .map(|(runner, args)| {
                let barrier = &barrier;
                s.spawn(move || {
                    let mut cmd = runner.command();
                    cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
                    barrier.wait();
                    Run::from(cmd.output().unwrap())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

const PROCESSES: usize = 32;
const ROUNDS: usize = 50;

#[test]
fn thirty_two_checks_from_two_runners_accept_each_code_exactly_once_in_fifty_rounds() {
    let Some(admin) = server_url() else { return };
    let db = Db::new(&admin, "race");
    let (a, b) = two_runners(&db);
    for round in 0..ROUNDS {
        let user = format!("user{round}");
        let phone = if round % 2 == 0 {
            a.activate(&user)
        } else {
            b.activate(&user)
        };
        let fresh = code(&phone, step_now(&phone));
        let args: Vec<String> = ["--json", "check", &user, &fresh, "--action", "deploy"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let jobs: Vec<(&Runner, Vec<String>)> = (0..PROCESSES)
            .map(|i| (if i % 2 == 0 { &a } else { &b }, args.clone()))
            .collect();
        let runs = together(&jobs);
        let outcomes = db.outcomes(&user, "check");
        gate_support::assert_exactly_one_accepted(&runs, &outcomes, "accepted", round);
    }
}

#[test]
fn runners_starting_together_on_a_new_schema_migrate_it_once() {
    let Some(admin) = server_url() else { return };
    for round in 0..5 {
        let db = Db::new(&admin, "migrate");
        let (a, b) = two_runners(&db);
        let jobs: Vec<(&Runner, Vec<String>)> = (0..8)
            .map(|i| {
                let runner = if i % 2 == 0 { &a } else { &b };
                (
                    runner,
                    vec!["--json".into(), "enroll".into(), format!("u{i}")],
                )
            })
            .collect();
        let runs = together(&jobs);
        for run in &runs {
            assert_eq!(run.code, Some(0), "round {round}: {run:?}");
        }
        assert_eq!(
            db.sql_one(
                "SELECT string_agg(version::text, ',' ORDER BY version) FROM schema_version"
            ),
            (1..=SCHEMA_VERSION)
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join(","),
            "each migration recorded once"
        );
        assert_eq!(
            db.sql_one("SELECT count(*) FROM meta WHERE name = 'key_check'"),
            "1",
            "one key check"
        );
        assert_eq!(db.sql_one("SELECT count(*) FROM users"), "8");
        if round == 4 {
            // A schema from a newer otpgate is refused, not written to.
            db.admin()
                .batch_execute(&format!(
                    "INSERT INTO schema_version (version) VALUES ({})",
                    SCHEMA_VERSION + 1
                ))
                .unwrap();
            let run = b.run(&["status", "u0"]);
            assert_eq!(run.code, Some(2), "{run:?}");
            assert!(run.stderr.contains("newer than this otpgate"), "{run:?}");
        }
    }
}

#[test]
fn a_runner_role_with_only_the_documented_grants_decides_and_cannot_migrate() {
    let Some(admin) = server_url() else { return };
    let db = Db::new(&admin, "grants");
    let role = unique("otpgate_runner");
    // The migration role (here the admin) creates the tables with the first enroll.
    let owner = db.runner("owner", db.url(None, false), false);
    owner.enroll("first");
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
    let runner = db.runner("runner", db.url(Some(&role), false), true);
    let phone = runner.activate("alice");
    let fresh = code(&phone, step_now(&phone));
    let run = runner.run(&["check", "alice", &fresh]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let run = runner.run(&["--json", "check", "alice", &fresh]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert_eq!(run.json()["reason"], "replayed");
    // The runner role cannot change the schema: a newer program's migration is for the
    // migration role.
    let denied = Client::connect(&db.url(Some(&role), false), NoTls)
        .unwrap()
        .batch_execute("CREATE TABLE users2 (x INTEGER)");
    assert!(denied.is_err(), "the runner role could create a table");
    let mut client = Client::connect(&admin, NoTls).unwrap();
    client
        .batch_execute(&format!(
            "DROP SCHEMA {s} CASCADE; DROP OWNED BY {role}; DROP ROLE {role}",
            s = db.schema
        ))
        .unwrap();
}

/// A TCP port nothing listens on: bound, then released.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn a_database_that_is_down_is_exit_2_with_a_clear_message() {
    let dir = std::env::temp_dir().join(unique("otpgate-pg-down"));
    std::fs::create_dir_all(&dir).unwrap();
    let key = dir.join("gate.key");
    let url = format!(
        "postgresql://gate:secret-password@127.0.0.1:{}/otpgate?connect_timeout=5",
        closed_port()
    );
    for args in [
        vec!["check", "alice", "123456"],
        vec!["--json", "check", "alice", "123456"],
        vec!["enroll", "alice"],
        vec!["status", "alice"],
    ] {
        let run: Run = Command::new(BIN)
            .current_dir(&dir)
            .env_remove("OTPGATE_DB")
            .args(["--db", &url, "--key-file"])
            .arg(&key)
            .args(&args)
            .output()
            .unwrap()
            .into();
        assert_eq!(run.code, Some(2), "{args:?}: {run:?}");
        assert!(
            run.stderr
                .contains("the database is unavailable, nothing was decided")
                && run.stderr.contains("Connection refused"),
            "{run:?}"
        );
        assert!(!run.stderr.contains("secret-password"), "{run:?}");
        if args[0] == "--json" {
            assert_eq!(run.json()["result"], "error");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_database_url_without_a_key_file_is_exit_2_and_says_to_name_one() {
    for db in [
        "postgresql://gate@127.0.0.1/otpgate",
        "postgres://gate@db/otpgate",
    ] {
        let run: Run = Command::new(BIN)
            .env_remove("OTPGATE_KEY_FILE")
            .env("OTPGATE_DB", db)
            .args(["check", "alice", "123456"])
            .output()
            .unwrap()
            .into();
        assert_eq!(run.code, Some(2), "{run:?}");
        assert!(run.stderr.contains("--key-file"), "{run:?}");
        assert!(run.stderr.contains("OTPGATE_KEY_FILE"), "{run:?}");
    }
}

#[test]
fn runners_deciding_at_once_extend_one_audit_chain_and_a_forged_row_is_named() {
    let Some(admin) = server_url() else { return };
    let db = Db::new(&admin, "chain");
    let (a, b) = two_runners(&db);
    let users: Vec<String> = (0..8).map(|i| format!("user{i}")).collect();
    for user in &users {
        a.activate(user);
    }
    // 32 wrong codes for 8 users from two runners at once: 32 rows appended concurrently.
    for _ in 0..2 {
        let jobs: Vec<(&Runner, Vec<String>)> = (0..32)
            .map(|i| {
                let runner = if i % 2 == 0 { &a } else { &b };
                let user = users[i % users.len()].clone();
                (runner, vec!["check".into(), user, "000000".into()])
            })
            .collect();
        for run in together(&jobs) {
            assert_eq!(run.code, Some(1), "{run:?}");
        }
    }
    let run = b.run(&["--json", "log", "--verify"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.json()["authenticated"], 16 + 64);
    // "accepted", inserted through SQL with a MAC copied from a real row.
    db.admin()
        .batch_execute(
            "INSERT INTO audit (time, \"user\", event, action, outcome, drift, mac)
             SELECT time, \"user\", event, 'deploy 9', 'accepted', 0, mac
             FROM audit ORDER BY id DESC LIMIT 1",
        )
        .unwrap();
    let run = a.run(&["--json", "log", "--verify"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.json()["broken"]["id"].as_i64().is_some(), "{run:?}");
}

#[test]
fn a_trigger_or_rule_on_the_gates_tables_is_refused() {
    let Some(admin) = server_url() else { return };
    let db = Db::new(&admin, "trigger");
    let (a, _) = two_runners(&db);
    a.activate("alice");
    // A trigger that writes the row as it was back after every decision.
    db.admin()
        .batch_execute(
            "CREATE TABLE saved AS SELECT * FROM users;
             CREATE FUNCTION roll_back() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN
                 UPDATE users SET version = s.version, record = s.record
                 FROM saved s WHERE users.\"user\" = s.\"user\" AND users.version <> s.version;
                 RETURN NULL;
             END $$;
             CREATE TRIGGER roll_back AFTER UPDATE ON users
                 FOR EACH STATEMENT EXECUTE FUNCTION roll_back();",
        )
        .unwrap();
    let run = a.run(&["check", "alice", "000000"]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("trigger roll_back"), "{run:?}");
    db.admin()
        .batch_execute(
            "DROP TRIGGER roll_back ON users;
             CREATE RULE no_audit AS ON INSERT TO audit DO INSTEAD NOTHING;",
        )
        .unwrap();
    let run = a.run(&["status", "alice"]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("rule no_audit"), "{run:?}");
}

#[test]
fn backup_of_a_postgresql_database_points_to_pg_dump() {
    let dir = std::env::temp_dir().join(unique("otpgate-pg-backup"));
    std::fs::create_dir_all(&dir).unwrap();
    let run: Run = Command::new(BIN)
        .current_dir(&dir)
        .env_remove("OTPGATE_DB")
        .args([
            "--db",
            "postgresql://gate@127.0.0.1/otpgate",
            "--key-file",
            "k",
        ])
        .args(["backup", "copy.db"])
        .output()
        .unwrap()
        .into();
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("pg_dump"), "{run:?}");
    assert!(!dir.join("copy.db").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn tls_is_required_over_tcp_unless_the_url_says_sslmode_disable() {
    let Some(admin) = server_url() else { return };
    let db = Db::new(&admin, "tls");
    let plain = db.runner("plain", db.url(None, false), false);
    let phone = plain.activate("alice");
    let fresh = code(&phone, step_now(&phone));
    // The throwaway cluster has no TLS: refused without sslmode (TLS is the default over
    // TCP) and with every mode but `disable`.
    for mode in [
        "",
        "sslmode=prefer&",
        "sslmode=require&",
        "sslmode=verify-full&",
    ] {
        let url = db.url(None, false).replace("sslmode=disable&", mode);
        let tls = db.runner("tls", url, true);
        let run = tls.run(&["check", "alice", &fresh]);
        assert_eq!(run.code, Some(2), "{mode}: {run:?}");
        assert!(run.stderr.contains("TLS"), "{mode}: {run:?}");
    }
    // Nothing was decided: the code still passes over the plain connection.
    assert_eq!(plain.run(&["check", "alice", &fresh]).code, Some(0));
}

#[test]
fn kill_9_of_checks_mid_transaction_never_passes_a_code_twice_or_leaves_a_lock() {
    let Some(admin) = server_url() else { return };
    let db = Db::new(&admin, "kill");
    let (a, b) = two_runners(&db);
    let mut rng = Rng::from_clock();
    let seed = rng.seed();
    // How long a check takes here, to spread the kills over a whole run.
    let phone = a.activate("timing");
    let started = Instant::now();
    let run = a.run(&["check", "timing", &code(&phone, step_now(&phone))]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let mut span = (started.elapsed().as_micros() as u64 * 3 / 2).max(1000);
    let (mut killed, mut replayed) = (0, 0);
    for i in 0..40 {
        let user = format!("user{i}");
        let context = format!("seed {seed}, user {i}");
        let phone = a.activate(&user);
        let fresh = code(&phone, step_now(&phone));
        let mut child = b
            .command()
            .args(["check", &user, &fresh])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros(rng.below(span)));
        let _ = child.kill();
        let status = child.wait().unwrap();
        killed += usize::from(status.code().is_none());
        if status.code().is_some() {
            // It ended before the kill: the timing run was slow (a loaded machine), aim
            // earlier.
            span = (span * 2 / 3).max(1000);
        }
        // The same code again, from the other runner: refused if the killed check
        // committed, accepted otherwise; at once either way (no lock left behind).
        let started = Instant::now();
        let run = a.run(&["--json", "check", &user, &fresh]);
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{context}: waited {:?}",
            started.elapsed()
        );
        let outcomes = db.outcomes(&user, "check");
        let accepted = outcomes.iter().filter(|o| *o == "accepted").count();
        assert_eq!(accepted, 1, "{context}: {outcomes:?} {run:?}");
        match run.code {
            Some(0) => assert_eq!(outcomes.last().unwrap(), "accepted", "{context}"),
            Some(1) => {
                assert_eq!(run.json()["reason"], "replayed", "{context}: {run:?}");
                replayed += 1;
            }
            _ => panic!("{context}: {run:?}"),
        }
    }
    assert!(killed > 0, "no check was killed (seed {seed})");
    let _ = std::io::Write::write_all(
        &mut std::io::stderr(),
        format!(
            "killed {killed} of 40 checks; the code was spent before {replayed} of the 40 kills\n"
        )
        .as_bytes(),
    );
}

#[test]
fn the_server_stopped_during_checks_fails_them_with_exit_2_and_loses_nothing() {
    // A cluster of its own, which it stops and restarts.
    if !Cluster::available() {
        return;
    }
    let (cluster, admin) = Cluster::new("otpgate-pg-cluster", false);
    let db = Db::new(&admin, "fault");
    let (a, b) = two_runners(&db);
    const USERS: usize = 24;
    let users: Vec<(String, String)> = (0..USERS)
        .map(|i| {
            let user = format!("user{i}");
            let phone = a.activate(&user);
            // The next step's code: fresh, and still in the window a step later than the
            // current one's, for checks that wait out the server's restart and a replay
            // at the end.
            let fresh = code(&phone, step_now(&phone) + 1);
            (user, fresh)
        })
        .collect();
    // Four workers check the users' codes, each code twice (once from each runner): the
    // server is stopped (immediate: backends killed mid-transaction) after a few checks,
    // and started again once the first half of the users had their turn; the second half
    // waits for the restart.
    let next = AtomicUsize::new(0);
    let restarted = AtomicBool::new(false);
    let resume_at = USERS; // the first check of user USERS / 2
    let runs: Vec<(usize, Run)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..4)
            .map(|_| {
                let (next, restarted, users, a, b) = (&next, &restarted, &users, &a, &b);
                s.spawn(move || {
                    let mut runs = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        if i >= 2 * USERS {
                            return runs;
                        }
                        while i >= resume_at && !restarted.load(Ordering::SeqCst) {
                            std::thread::sleep(Duration::from_millis(1));
                        }
                        let (user, fresh) = &users[i / 2];
                        let runner = if i % 2 == 0 { a } else { b };
                        runs.push((i, runner.run(&["--json", "check", user, fresh])));
                    }
                })
            })
            .collect();
        while next.load(Ordering::SeqCst) < 8 {
            std::thread::sleep(Duration::from_millis(1));
        }
        cluster.stop("immediate");
        while next.load(Ordering::SeqCst) < resume_at {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(Cluster::start(&cluster.dir, false), admin);
        restarted.store(true, Ordering::SeqCst);
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    let failed = runs.iter().filter(|(_, r)| r.code == Some(2)).count();
    let passed = runs.iter().filter(|(_, r)| r.code == Some(0)).count();
    assert!(failed > 0, "no check met the stopped server: {runs:#?}");
    for (i, run) in &runs {
        match run.code {
            Some(0) => {}
            Some(1) => assert_eq!(run.json()["reason"], "replayed", "{run:?}"),
            Some(2) => {
                assert!(*i < resume_at, "failed after the restart: {run:?}");
                assert!(
                    run.stderr.contains("the database is unavailable"),
                    "{run:?}"
                );
            }
            _ => panic!("{run:?}"),
        }
    }
    let _ = std::io::Write::write_all(
        &mut std::io::stderr(),
        format!("{passed} checks passed, {failed} failed with exit 2 while the server was down\n")
            .as_bytes(),
    );
    // Users checked after the restart: decided normally, once.
    for i in USERS / 2..USERS {
        let passed = runs
            .iter()
            .filter(|(j, r)| *j / 2 == i && r.code == Some(0))
            .count();
        assert_eq!(passed, 1, "user{i} after the restart: {runs:#?}");
    }
    for (i, (user, fresh)) in users.iter().enumerate() {
        let exits: Vec<Option<i32>> = runs
            .iter()
            .filter(|(j, _)| *j / 2 == i)
            .map(|(_, r)| r.code)
            .collect();
        let passed = exits.iter().filter(|c| **c == Some(0)).count();
        let accepted = db
            .outcomes(user, "check")
            .iter()
            .filter(|o| *o == "accepted")
            .count();
        assert!(passed <= 1, "{user}: passed twice: {exits:?}");
        assert!(accepted <= 1, "{user}: accepted twice in the audit trail");
        // No state lost: every pass is in the trail, and its code stays spent.
        assert!(accepted >= passed, "{user}: a pass was lost: {exits:?}");
        if accepted == 1 {
            let run = b.run(&["--json", "check", user, fresh]);
            assert_eq!(run.code, Some(1), "{user}: {run:?}");
            assert_eq!(run.json()["reason"], "replayed", "{user}: {run:?}");
        }
    }
    drop(db);
}

#[test]
fn tls_from_the_url_verifies_the_server_certificate_and_never_falls_back_to_plain_text() {
    if !Cluster::available() {
        return;
    }
    let (cluster, admin) = Cluster::new("otpgate-pg-tls", true);
    let db = Db::new(&admin, "tls");
    let port = Config::from_str(&admin).unwrap().get_ports()[0];
    let ca = cluster.dir.join("ca.crt");
    let url = |user: &str, params: &str| {
        format!(
            "postgresql://{user}@localhost:{port}/otpgate?{params}\
             options=-c%20search_path%3D{}",
            db.schema
        )
    };
    let plain = db.runner("plain", db.url(None, false), false);
    let phone = plain.activate("alice");
    let fresh = code(&phone, step_now(&phone));
    let check = |runner: &Runner, env_ca: bool| -> Run {
        let mut cmd = runner.command();
        if env_ca {
            cmd.env("SSL_CERT_FILE", &ca);
        } else {
            cmd.env_remove("SSL_CERT_FILE");
        }
        cmd.args(["--json", "check", "alice", &fresh])
            .output()
            .unwrap()
            .into()
    };
    // A certificate the system does not trust: refused with no sslmode (TLS is the default
    // over TCP) and in every mode that tries TLS, `prefer` too (no fall back to plain text).
    for mode in [
        "",
        "sslmode=prefer&",
        "sslmode=require&",
        "sslmode=verify-full&",
    ] {
        let run = check(&db.runner("untrusted", url("postgres", mode), true), false);
        assert_eq!(run.code, Some(2), "{mode}: {run:?}");
        assert!(
            run.stderr
                .contains("invalid peer certificate: UnknownIssuer"),
            "{mode}: {run:?}"
        );
    }
    // Trusted through SSL_CERT_FILE: the check is decided over TLS.
    let run = check(&db.runner("trusted", url("postgres", ""), true), true);
    assert_eq!(run.code, Some(0), "{run:?}");
    // Trusted through sslrootcert in the URL: decided too (a replay now).
    let rootcert = format!(
        "sslmode=verify-full&sslrootcert={}&",
        ca.display().to_string().replace('/', "%2F")
    );
    let run = check(
        &db.runner("rootcert", url("postgres", &rootcert), true),
        false,
    );
    assert_eq!(run.code, Some(1), "{run:?}");
    assert_eq!(run.json()["reason"], "replayed", "{run:?}");
    // SCRAM over TLS binds the channel: a password role that must authenticate with
    // scram-sha-256 over TLS, and a URL that insists on channel binding.
    let mut client = Client::connect(&admin, NoTls).unwrap();
    client
        .batch_execute("CREATE ROLE scram_user LOGIN SUPERUSER PASSWORD 'scram-password'")
        .unwrap();
    let hba = db.sql_one("SHOW hba_file");
    let rules = std::fs::read_to_string(&hba).unwrap();
    std::fs::write(
        &hba,
        format!("hostssl all scram_user all scram-sha-256\n{rules}"),
    )
    .unwrap();
    client.batch_execute("SELECT pg_reload_conf()").unwrap();
    let bound = url("scram_user:scram-password", "channel_binding=require&");
    let run = check(&db.runner("bound", bound, true), true);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert_eq!(run.json()["reason"], "replayed", "{run:?}");
    // Without SCRAM (trust) there is nothing to bind: channel_binding=require refuses.
    let run = check(
        &db.runner("unbound", url("postgres", "channel_binding=require&"), true),
        true,
    );
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("channel binding"), "{run:?}");
    drop(db);
}

/// A gate over a store of its own on a fresh schema `name` of the test server, and its
/// trail's key; `None` without a server. The schema is dropped with the `Db`, after the
/// gate (bind it first).
fn store_gate(
    name: &str,
) -> Option<(Db, otpgate::Gate<otpgate::PostgresStore>, otpgate::AuditKey)> {
    let db = Db::new(&server_url()?, name);
    let key = otpgate::ServerKey::generate().unwrap();
    let audit_key = key.audit_key();
    let store = otpgate::PostgresStore::connect(&db.url(None, false)).unwrap();
    let gate = otpgate::Gate::open(store, key).unwrap();
    Some((db, gate, audit_key))
}

#[test]
fn decisions_committed_together_are_each_decided_once_and_the_trail_verifies() {
    let Some((_db, gate, audit_key)) = store_gate("together") else {
        return;
    };
    gate_support::assert_decisions_committed_together_are_each_decided_once(&gate, &audit_key);
}

#[test]
fn gates_committing_in_groups_accept_each_code_once_and_the_trail_verifies() {
    let Some(server) = server_url() else {
        return;
    };
    let db = Db::new(&server, "grouped");
    let url = db.url(None, false);
    let open = || otpgate::PostgresStore::connect(&url).unwrap();
    gate_support::assert_grouped_gates_accept_each_code_once(open, 16, 10);
}

#[test]
fn a_decision_the_server_fails_in_either_round_trip_writes_nothing_and_the_connection_goes_on() {
    use otpgate::{Gate, PostgresStore, ServerKey, Store, Swap};

    let Some(admin) = server_url() else { return };
    let db = Db::new(&admin, "midway");
    let key = ServerKey::generate().unwrap();
    let audit_key = key.audit_key();
    // A short lock timeout, so the held lock below ends the first decision quickly.
    let url = format!("{}%20-c%20lock_timeout%3D300", db.url(None, false));
    let gate = Gate::open(PostgresStore::connect(&url).unwrap(), key).unwrap();
    let store = gate.store();
    let entry = gate_support::accepted_check("alice", &audit_key);
    let swap = |expected| gate_support::swap_request("alice", expected, &entry);
    let version = || store.load("alice").unwrap().map(|stored| stored.version);
    assert_eq!(
        store.compare_and_swap_all(&[swap(None)]),
        [Ok(Swap::Written)]
    );

    // The row's write waits for a lock it does not get: first in the one round trip of a
    // connection that appended the chain's head itself, then (having failed, it no longer
    // predicts the head) in the first of two.
    let mut locker = db.admin();
    let mut tx = locker.transaction().unwrap();
    tx.batch_execute("LOCK TABLE users IN SHARE MODE").unwrap();
    for way in ["one round trip", "the first of two"] {
        let blocked = store.compare_and_swap_all(&[swap(Some(1))]);
        assert!(matches!(blocked[..], [Err(_)]), "{way}: {blocked:?}");
    }
    tx.rollback().unwrap();
    assert_eq!(version(), Some(1));

    // The second of two fails: the row is written, then its audit row is refused, and the
    // pipelined COMMIT rolls the row back with it.
    let mut admin = db.admin();
    admin
        .batch_execute(
            "ALTER TABLE audit ADD CONSTRAINT before_2023 CHECK (time < 1672531200) NOT VALID",
        )
        .unwrap();
    let refused = store.compare_and_swap_all(&[swap(Some(1))]);
    assert!(matches!(refused[..], [Err(_)]), "{refused:?}");
    assert_eq!(version(), Some(1));
    admin
        .batch_execute("ALTER TABLE audit DROP CONSTRAINT before_2023")
        .unwrap();

    // The same connection decides again, and the trail holds exactly the two decisions.
    assert_eq!(
        store.compare_and_swap_all(&[swap(Some(1))]),
        [Ok(Swap::Written)]
    );
    assert_eq!(version(), Some(2));
    let verified = gate.verify_log().unwrap();
    assert_eq!((verified.broken, verified.authenticated), (None, 2));
}

#[test]
fn connections_taking_turns_append_at_the_true_head_whatever_each_one_predicted() {
    use otpgate::{Gate, PostgresStore, ServerKey, Store, Swap};

    let Some(admin) = server_url() else { return };
    let db = Db::new(&admin, "turns");
    let key = ServerKey::generate().unwrap();
    let audit_key = key.audit_key();
    let url = db.url(None, false);
    let same_key = ServerKey::from_hex(&key.to_hex()).unwrap();
    let first = Gate::open(PostgresStore::connect(&url).unwrap(), key).unwrap();
    let second = Gate::open(PostgresStore::connect(&url).unwrap(), same_key).unwrap();
    let entry = gate_support::accepted_check("alice", &audit_key);
    // A connection that decided twice in a row predicts the head at its own last row;
    // each switch makes that prediction wrong once.
    let turns = [0, 0, 0, 1, 1, 1, 0, 1, 0, 0, 1, 1, 0];
    let mut version = None;
    for (index, &turn) in turns.iter().enumerate() {
        let store = [&first, &second][turn].store();
        let swap = gate_support::swap_request("alice", version, &entry);
        assert_eq!(
            store.compare_and_swap_all(&[swap]),
            [Ok(Swap::Written)],
            "turn {index}"
        );
        version = Some(version.map_or(1, |v| v + 1));
    }
    let verified = first.verify_log().unwrap();
    assert_eq!(verified.broken, None);
    assert_eq!(verified.authenticated, turns.len());
    assert_eq!(
        first.store().load("alice").unwrap().unwrap().version,
        turns.len() as u64
    );
}

#[test]
fn a_decision_at_its_predicted_head_chains_onto_a_row_committed_while_it_waited() {
    decision_waiting_for_the_chain_chains_at_the_true_head("");
}

#[test]
fn a_transaction_wide_snapshot_the_role_or_url_asks_for_is_overridden() {
    // Under REPEATABLE READ the head read after the lock would be the snapshot's.
    decision_waiting_for_the_chain_chains_at_the_true_head(
        "%20-c%20default_transaction_isolation%3Drepeatable%5C%20read",
    );
}

/// A connection that predicts its own row as the head decides while another one holds
/// the chain's lock and appends: its row must be chained to the other's. `options` are
/// added to the URL's.
fn decision_waiting_for_the_chain_chains_at_the_true_head(options: &str) {
    use otpgate::{Gate, PostgresStore, ServerKey, Store, Swap};

    let Some(admin) = server_url() else { return };
    let db = Db::new(&admin, "waited");
    let key = ServerKey::generate().unwrap();
    let audit_key = key.audit_key();
    let plain = format!("{}{options}", db.url(None, false));
    let (predictor, appender) = (unique("predictor"), unique("appender"));
    let open = |name: &str, key: ServerKey| {
        let url = format!("{plain}&application_name={name}");
        Gate::open(PostgresStore::connect(&url).unwrap(), key).unwrap()
    };
    let same_key = ServerKey::from_hex(&key.to_hex()).unwrap();
    let (predicting, appending) = (open(&predictor, key), open(&appender, same_key));
    let alice = gate_support::accepted_check("alice", &audit_key);
    let bob = gate_support::accepted_check("bob", &audit_key);
    let swap = gate_support::swap_request;
    assert_eq!(
        appending
            .store()
            .compare_and_swap_all(&[swap("bob", None, &bob)]),
        [Ok(Swap::Written)]
    );
    // Two decisions in a row: the predicting connection now predicts its own row.
    for expected in [None, Some(1)] {
        assert_eq!(
            predicting
                .store()
                .compare_and_swap_all(&[swap("alice", expected, &alice)]),
            [Ok(Swap::Written)]
        );
    }
    // bob's row is held: the appending connection takes the chain's lock, then waits.
    let mut holder = db.admin();
    let mut hold = holder.transaction().unwrap();
    hold.query("SELECT 1 FROM users WHERE \"user\" = 'bob' FOR UPDATE", &[])
        .unwrap();
    let mut watcher = db.admin();
    let (appended, predicted) = std::thread::scope(|s| {
        let appended = s.spawn(|| {
            appending
                .store()
                .compare_and_swap_all(&[swap("bob", Some(1), &bob)])
        });
        pg::wait_until_waiting(&mut watcher, &[&appender]);
        // Its statement begins (and takes its snapshot) before bob's row is appended, and
        // gets the chain's lock after: the head it reads must be bob's row.
        let predicted = s.spawn(|| {
            predicting
                .store()
                .compare_and_swap_all(&[swap("alice", Some(2), &alice)])
        });
        pg::wait_until_waiting(&mut watcher, &[&appender, &predictor]);
        hold.rollback().unwrap();
        (appended.join().unwrap(), predicted.join().unwrap())
    });
    assert_eq!(appended, [Ok(Swap::Written)]);
    assert_eq!(predicted, [Ok(Swap::Written)]);
    let verified = predicting.verify_log().unwrap();
    assert_eq!((verified.broken, verified.authenticated), (None, 5));
}

#[test]
fn a_role_without_execute_on_the_chain_function_decides_under_the_lock() {
    use otpgate::{Gate, PostgresStore, ServerKey, Store, Swap};

    let Some(admin) = server_url() else { return };
    let db = Db::new(&admin, "noexecute");
    let key = ServerKey::generate().unwrap();
    let audit_key = key.audit_key();
    let same_key = ServerKey::from_hex(&key.to_hex()).unwrap();
    // The migration role creates the schema; the runners' role may not call the function.
    drop(Gate::open(PostgresStore::connect(&db.url(None, false)).unwrap(), key).unwrap());
    let role = unique("otpgate_runner");
    db.admin()
        .batch_execute(&format!(
            "CREATE ROLE {role} LOGIN;
             GRANT USAGE ON SCHEMA {s} TO {role};
             GRANT SELECT ON schema_version, meta TO {role};
             GRANT SELECT, INSERT, UPDATE ON users TO {role};
             GRANT SELECT, INSERT ON audit TO {role};
             REVOKE EXECUTE ON FUNCTION otpgate_chain_at FROM PUBLIC;",
            s = db.schema
        ))
        .unwrap();
    let url = db.url(Some(&role), false);
    let gate = Gate::open(PostgresStore::connect(&url).unwrap(), same_key).unwrap();
    let alice = gate_support::accepted_check("alice", &audit_key);
    // Decisions in a row: from the second on, the connection would predict the head.
    let mut version = None;
    for turn in 0..5 {
        let swap = gate_support::swap_request("alice", version, &alice);
        assert_eq!(
            gate.store().compare_and_swap_all(&[swap]),
            [Ok(Swap::Written)],
            "decision {turn}"
        );
        version = Some(version.map_or(1, |v| v + 1));
    }
    let verified = gate.verify_log().unwrap();
    assert_eq!((verified.broken, verified.authenticated), (None, 5));
}

#[test]
fn gates_in_two_schemas_of_one_database_do_not_wait_for_each_others_chain() {
    use otpgate::{Gate, PostgresStore, ServerKey, Store, Swap};

    let Some(admin) = server_url() else { return };
    let (here, there) = (
        Db::new(&admin, "chain_here"),
        Db::new(&admin, "chain_there"),
    );
    let key = ServerKey::generate().unwrap();
    let audit_key = key.audit_key();
    let waiting = unique("waiting");
    let open = |url: String| {
        let key = ServerKey::from_hex(&key.to_hex()).unwrap();
        Gate::open(PostgresStore::connect(&url).unwrap(), key).unwrap()
    };
    let blocked = open(format!(
        "{}&application_name={waiting}",
        here.url(None, false)
    ));
    // A shared lock would be waited for 300 ms, then fail the decision.
    let other = open(format!(
        "{}%20-c%20lock_timeout%3D300",
        there.url(None, false)
    ));
    let bob = gate_support::accepted_check("bob", &audit_key);
    let alice = gate_support::accepted_check("alice", &audit_key);
    let swap = gate_support::swap_request;
    assert_eq!(
        blocked
            .store()
            .compare_and_swap_all(&[swap("bob", None, &bob)]),
        [Ok(Swap::Written)]
    );
    // bob's row is held: the next decision takes its schema's chain lock, then waits.
    let mut holder = here.admin();
    let mut hold = holder.transaction().unwrap();
    hold.query("SELECT 1 FROM users WHERE \"user\" = 'bob' FOR UPDATE", &[])
        .unwrap();
    let mut watcher = here.admin();
    std::thread::scope(|s| {
        let decided = s.spawn(|| {
            blocked
                .store()
                .compare_and_swap_all(&[swap("bob", Some(1), &bob)])
        });
        pg::wait_until_waiting(&mut watcher, &[&waiting]);
        assert_eq!(
            other
                .store()
                .compare_and_swap_all(&[swap("alice", None, &alice)]),
            [Ok(Swap::Written)]
        );
        hold.rollback().unwrap();
        assert_eq!(decided.join().unwrap(), [Ok(Swap::Written)]);
    });
}

#[test]
fn a_group_whose_guessed_head_fails_midway_is_decided_again_reading_the_head() {
    use otpgate::{GateError, Store, Swap, SwapRequest};

    let Some((_db, gate, audit_key)) = store_gate("midgroup") else {
        return;
    };
    let store = gate.store();
    let entries =
        ["alice", "bob", "carol"].map(|user| gate_support::accepted_check(user, &audit_key));
    let [alice, bob, carol] = &entries;
    let swap = gate_support::swap_request;
    let decided = |swaps: &[SwapRequest<'_>]| -> Vec<Swap> {
        store
            .compare_and_swap_all(swaps)
            .into_iter()
            .map(Result::<Swap, GateError>::unwrap)
            .collect()
    };
    // Read under the lock (an empty chain); then the connection predicts its own row.
    assert_eq!(
        decided(&[
            swap("alice", None, alice),
            swap("bob", None, bob),
            swap("carol", None, carol)
        ]),
        [Swap::Written; 3]
    );
    // In one round trip carol is written, bob conflicts, and alice's row, chained to the
    // one bob's would have been, is refused: all of it again under the lock.
    assert_eq!(
        decided(&[
            swap("carol", Some(1), carol),
            swap("bob", Some(99), bob),
            swap("alice", Some(1), alice)
        ]),
        [Swap::Written, Swap::Conflict, Swap::Written]
    );
    assert_eq!(
        decided(&[swap("alice", Some(99), alice), swap("bob", Some(1), bob)]),
        [Swap::Conflict, Swap::Written]
    );
    for user in ["alice", "bob", "carol"] {
        assert_eq!(store.load(user).unwrap().unwrap().version, 2, "{user}");
    }
    let verified = gate.verify_log().unwrap();
    assert_eq!((verified.broken, verified.authenticated), (None, 6));
}

#[test]
fn a_guessed_head_is_not_appended_at_once_the_key_check_changed() {
    use otpgate::{GateError, Store, Swap};

    let Some((db, gate, audit_key)) = store_gate("keyhalf") else {
        return;
    };
    let store = gate.store();
    let swap = |user, audit| gate_support::swap_request(user, None, audit);
    let alice = gate_support::accepted_check("alice", &audit_key);
    assert_eq!(
        store.compare_and_swap_all(&[swap("alice", &alice)]),
        [Ok(Swap::Written)]
    );
    // The head is still the connection's own row; only the key check moved on.
    db.admin()
        .batch_execute("UPDATE meta SET value = '\\x00' WHERE name = 'key_check'")
        .unwrap();
    let newcomer = gate_support::accepted_check("newcomer", &audit_key);
    let refused = store.compare_and_swap_all(&[swap("newcomer", &newcomer)]);
    assert!(
        matches!(refused[..], [Err(GateError::WrongServerKey)]),
        "{refused:?}"
    );
    assert_eq!(
        db.sql_one("SELECT count(*) FROM users WHERE \"user\" = 'newcomer'"),
        "0"
    );
}
