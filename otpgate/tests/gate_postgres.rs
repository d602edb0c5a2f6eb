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

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::str::FromStr;
use std::sync::Barrier;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use gate_support::{BIN, Rng, Run, code, phone, step_now};
use otpcore::Totp;
use otpgate::{SCHEMA_VERSION, ServerKey};
use postgres::config::Host;
use postgres::{Client, Config, NoTls};

const URL_VAR: &str = "OTPGATE_TEST_POSTGRES_URL";
const START: &str =
    "export OTPGATE_TEST_POSTGRES_URL=$(tests/postgres/server.sh start \"$(mktemp -d)\")";
const SERVER_SH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/postgres/server.sh");

fn server_url() -> Option<String> {
    support::service_url(URL_VAR, "a PostgreSQL server", START)
}

fn unique(name: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{name}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// A schema of its own in the test database, dropped at the end, and the server key the
/// runners share.
struct Db {
    admin: String,
    schema: String,
    key_hex: String,
}

impl Db {
    fn new(admin: &str, name: &str) -> Db {
        let schema = unique(name);
        let mut client = Client::connect(admin, NoTls).unwrap();
        client
            .batch_execute(&format!("CREATE SCHEMA {schema}"))
            .unwrap();
        Db {
            admin: admin.to_owned(),
            schema,
            key_hex: ServerKey::generate().unwrap().to_hex().to_string(),
        }
    }

    /// The URL of this schema for `user` (the admin URL's user when `None`), over TCP or
    /// over the server's unix socket.
    fn url(&self, user: Option<&str>, socket: bool) -> String {
        let config = Config::from_str(&self.admin).unwrap();
        let user = user.or(config.get_user()).unwrap_or("postgres");
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let db = config.get_dbname().unwrap_or("postgres");
        let host = if socket {
            let dir = self.sql_one("SHOW unix_socket_directories");
            let dir = dir.split(',').next().unwrap().trim().to_owned();
            assert!(
                Path::new(&dir).join(format!(".s.PGSQL.{port}")).exists(),
                "the server's socket is not on this machine: {dir}"
            );
            dir.replace('/', "%2F")
        } else {
            match config.get_hosts().first() {
                Some(Host::Tcp(host)) => host.clone(),
                other => panic!("the test URL names no TCP host: {other:?}"),
            }
        };
        format!(
            "postgresql://{user}@{host}:{port}/{db}?sslmode=disable&options=-c%20search_path%3D{}",
            self.schema
        )
    }

    fn admin(&self) -> Client {
        let mut client = Client::connect(&self.admin, NoTls).unwrap();
        client
            .batch_execute(&format!("SET search_path = {}", self.schema))
            .unwrap();
        client
    }

    fn sql_one(&self, query: &str) -> String {
        self.admin()
            .simple_query(query)
            .unwrap()
            .iter()
            .find_map(|m| match m {
                postgres::SimpleQueryMessage::Row(row) => row.get(0).map(str::to_owned),
                _ => None,
            })
            .unwrap_or_default()
    }

    /// A runner: a directory of its own with its copy of the server key.
    fn runner(&self, name: &str, url: String, via_env: bool) -> Runner {
        let dir = std::env::temp_dir().join(unique(&format!("otpgate-pg-{name}")));
        std::fs::create_dir_all(&dir).unwrap();
        let key_file = dir.join("gate.key");
        std::fs::write(&key_file, &self.key_hex).unwrap();
        Runner {
            dir,
            url,
            key_file,
            via_env,
        }
    }

    /// The outcomes of `event` in `user`'s audit trail, oldest first.
    fn outcomes(&self, user: &str, event: &str) -> Vec<String> {
        self.admin()
            .query(
                "SELECT outcome FROM audit WHERE \"user\" = $1 AND event = $2 ORDER BY id",
                &[&user, &event],
            )
            .unwrap()
            .iter()
            .map(|row| row.get(0))
            .collect()
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Ok(mut client) = Client::connect(&self.admin, NoTls) {
            let _ = client.batch_execute(&format!("DROP SCHEMA {} CASCADE", self.schema));
        }
    }
}

/// A deploy runner: its own working directory, key file and way of naming the database.
struct Runner {
    dir: PathBuf,
    url: String,
    key_file: PathBuf,
    via_env: bool,
}

impl Runner {
    fn command(&self) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.current_dir(&self.dir)
            .env_remove("OTPGATE_DB")
            .env_remove("OTPGATE_KEY_FILE")
            .stdin(Stdio::null());
        if self.via_env {
            cmd.env("OTPGATE_DB", &self.url)
                .env("OTPGATE_KEY_FILE", &self.key_file);
        } else {
            cmd.arg("--db")
                .arg(&self.url)
                .arg("--key-file")
                .arg(&self.key_file);
        }
        cmd
    }

    fn run(&self, args: &[&str]) -> Run {
        self.command().args(args).output().unwrap().into()
    }

    fn enroll(&self, user: &str) -> Totp {
        let run = self.run(&["--json", "enroll", user]);
        assert_eq!(run.code, Some(0), "{run:?}");
        phone(run.json()["secret"].as_str().unwrap())
    }

    /// Enrolls and confirms `user` with the previous step's code, so the current step's
    /// code is fresh for a check.
    fn activate(&self, user: &str) -> Totp {
        let phone = self.enroll(user);
        let first = code(&phone, step_now(&phone).saturating_sub(1));
        let run = self.run(&["--json", "confirm", user, &first]);
        assert_eq!(run.code, Some(0), "{run:?}");
        phone
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

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
            db.sql_one("SELECT count(*) FROM meta"),
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
fn sslmode_require_refuses_a_server_without_tls_instead_of_plain_text() {
    let Some(admin) = server_url() else { return };
    let db = Db::new(&admin, "tls");
    let plain = db.runner("plain", db.url(None, false), false);
    let phone = plain.activate("alice");
    let fresh = code(&phone, step_now(&phone));
    for mode in ["require", "verify-full"] {
        let url = db
            .url(None, false)
            .replace("sslmode=disable", &format!("sslmode={mode}"));
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

/// A cluster of the fault test's own, stopped when dropped.
struct Cluster {
    dir: PathBuf,
}

impl Cluster {
    /// Whether a cluster of the test's own can run here: the PostgreSQL tests are on (the
    /// URL is set) and the server binaries are installed.
    fn available() -> bool {
        server_url().is_some()
            && support::tool_available(
                "the PostgreSQL server binaries",
                Command::new("bash").arg(SERVER_SH).arg("available"),
                "apt-get install postgresql",
            )
    }

    /// A new cluster in a directory of its own, and its URL.
    fn new(name: &str, tls: bool) -> (Cluster, String) {
        let dir = std::env::temp_dir().join(unique(name));
        std::fs::create_dir_all(&dir).unwrap();
        let url = Cluster::start(&dir, tls);
        (Cluster { dir }, url)
    }

    fn start(dir: &Path, tls: bool) -> String {
        let out = Command::new("bash")
            .arg(SERVER_SH)
            .arg("start")
            .arg(dir)
            .args(tls.then_some("tls"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    fn stop(&self, mode: &str) {
        let out = Command::new("bash")
            .arg(SERVER_SH)
            .args(["stop"])
            .arg(&self.dir)
            .arg(mode)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(SERVER_SH)
            .args(["stop"])
            .arg(&self.dir)
            .arg("immediate")
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
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
            let fresh = code(&phone, step_now(&phone));
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
    let url = |mode: &str| {
        format!(
            "postgresql://postgres@localhost:{port}/otpgate?sslmode={mode}\
             &options=-c%20search_path%3D{}",
            db.schema
        )
    };
    let plain = db.runner("plain", db.url(None, false), false);
    let phone = plain.activate("alice");
    let fresh = code(&phone, step_now(&phone));
    // A certificate the system does not trust: refused in every mode that tries TLS,
    // `prefer` too (no fall back to plain text).
    for mode in ["prefer", "require", "verify-full"] {
        let runner = db.runner("untrusted", url(mode), true);
        let run: Run = runner
            .command()
            .env_remove("SSL_CERT_FILE")
            .args(["check", "alice", &fresh])
            .output()
            .unwrap()
            .into();
        assert_eq!(run.code, Some(2), "{mode}: {run:?}");
        assert!(
            run.stderr.contains("certificate verify failed"),
            "{mode}: {run:?}"
        );
    }
    // Trusted through SSL_CERT_FILE: the check is decided over TLS.
    let runner = db.runner("trusted", url("require"), true);
    let run: Run = runner
        .command()
        .env("SSL_CERT_FILE", cluster.dir.join("ca.crt"))
        .args(["--json", "check", "alice", &fresh])
        .output()
        .unwrap()
        .into();
    assert_eq!(run.code, Some(0), "{run:?}");
    drop(db);
}
