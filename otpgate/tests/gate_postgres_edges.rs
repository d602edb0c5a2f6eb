//! The PostgreSQL connection's edges (feature `postgres`): a server that does not answer
//! (a listener that accepts and stays silent, a SIGSTOPped postmaster or backend) is exit 2
//! within the documented deadlines; a server that answers "no TLS" never gets the password;
//! a held `LOCK TABLE` makes a check fail fast saying the gate is blocked, and lower
//! timeouts from the URL are kept; a database nobody set up says so.
//!
//! The listener tests need no server. The others need `OTPGATE_TEST_POSTGRES_URL` (see
//! gate_postgres.rs); the SIGSTOP tests run a cluster of their own and always SIGCONT it.
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

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use gate_support::{BIN, Run, code, step_now};
use otpgate::{GateError, PostgresStore, Store};
use pg::{Cluster, Db, server_url, unique};
use postgres::{Client, NoTls};

/// Slack for starting a process and the machine's load, on top of a deadline.
const SLACK: Duration = Duration::from_secs(6);

/// `otpgate check` against `url` with a key file that exists nowhere (the connection fails
/// first), and how long it took.
fn check_against(url: &str) -> (Run, Duration) {
    let dir = std::env::temp_dir().join(unique("otpgate-pg-edge"));
    std::fs::create_dir_all(&dir).unwrap();
    let started = Instant::now();
    let run: Run = Command::new(BIN)
        .current_dir(&dir)
        .env_remove("OTPGATE_DB")
        .env_remove("SSL_CERT_FILE")
        .args([
            "--db",
            url,
            "--key-file",
            "gate.key",
            "check",
            "alice",
            "123456",
        ])
        .output()
        .unwrap()
        .into();
    let elapsed = started.elapsed();
    let _ = std::fs::remove_dir_all(&dir);
    (run, elapsed)
}

/// A listener that accepts connections and never answers, kept open until dropped.
struct SilentListener {
    port: u16,
    _accepted: JoinHandle<()>,
}

impl SilentListener {
    fn start() -> SilentListener {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming().flatten() {
                held.push(stream);
            }
        });
        SilentListener {
            port,
            _accepted: accepted,
        }
    }
}

#[test]
fn a_listener_that_accepts_and_never_answers_is_exit_2_within_connect_timeout() {
    let listener = SilentListener::start();
    for params in [
        "connect_timeout=2",
        "connect_timeout=2&sslmode=disable",
        "connect_timeout=2&sslmode=require",
    ] {
        let url = format!(
            "postgresql://gate:secret-password@127.0.0.1:{}/otpgate?{params}",
            listener.port
        );
        let (run, elapsed) = check_against(&url);
        assert_eq!(run.code, Some(2), "{params}: {run:?}");
        assert!(
            run.stderr
                .contains("did not complete the connection within 2.0 s"),
            "{params}: {run:?}"
        );
        assert!(!run.stderr.contains("secret-password"), "{run:?}");
        assert!(
            elapsed < Duration::from_secs(2) + SLACK,
            "{params}: {elapsed:?}"
        );
    }
}

/// The PostgreSQL protocol's SSLRequest: length 8, code 80877103.
const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 4, 210, 22, 47];

/// A fake PostgreSQL server for one connection: it answers an SSLRequest with 'N' (no
/// TLS), asks for a clear-text password after a startup message, and returns every byte
/// the client sent after the SSLRequest.
fn server_without_tls() -> (u16, JoinHandle<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut received = Vec::new();
        let mut first = [0u8; 8];
        if stream.read_exact(&mut first).is_err() {
            return received;
        }
        if first == SSL_REQUEST {
            stream.write_all(b"N").unwrap();
        } else {
            received.extend_from_slice(&first);
        }
        let mut asked = false;
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => return received,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
            let startup_len = received
                .get(..4)
                .map(|len| u32::from_be_bytes(len.try_into().unwrap()) as usize);
            if !asked && startup_len.is_some_and(|len| received.len() >= len) {
                // AuthenticationCleartextPassword.
                let _ = stream.write_all(&[b'R', 0, 0, 0, 8, 0, 0, 0, 3]);
                asked = true;
            }
        }
    });
    (port, handle)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn a_server_answering_no_tls_gets_no_startup_and_no_password_unless_sslmode_disable() {
    const PASSWORD: &[u8] = b"runner-password-41";
    for params in ["connect_timeout=3", "connect_timeout=3&sslmode=prefer"] {
        let (port, server) = server_without_tls();
        let url = format!("postgresql://gate:runner-password-41@127.0.0.1:{port}/otpgate?{params}");
        let (run, _) = check_against(&url);
        let received = server.join().unwrap();
        assert_eq!(run.code, Some(2), "{params}: {run:?}");
        assert!(
            run.stderr.contains("server does not support TLS"),
            "{params}: {run:?}"
        );
        assert!(
            received.is_empty(),
            "{params}: the client went on in plain text: {received:?}"
        );
        assert!(!run.stderr.contains("runner-password-41"), "{run:?}");
    }
    // Only an explicit sslmode=disable talks in plain text: then the fake server gets the
    // password (which is what the default prevents).
    let (port, server) = server_without_tls();
    let url = format!(
        "postgresql://gate:runner-password-41@127.0.0.1:{port}/otpgate?connect_timeout=3&sslmode=disable"
    );
    let (run, _) = check_against(&url);
    let received = server.join().unwrap();
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(contains(&received, PASSWORD), "{received:?}");
}

/// A process stopped with SIGSTOP, continued with SIGCONT when dropped (also when the test
/// fails).
struct Stopped(u32);

impl Stopped {
    fn new(pid: u32) -> Stopped {
        let status = Command::new("kill")
            .args(["-STOP", &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -STOP {pid}");
        Stopped(pid)
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-CONT", &self.0.to_string()])
            .status();
    }
}

#[test]
fn a_frozen_server_is_exit_2_within_the_documented_deadlines() {
    if !Cluster::available() {
        return;
    }
    let (cluster, admin) = Cluster::new("otpgate-pg-frozen", false);
    let db = Db::new(&admin, "frozen");
    let owner = db.runner("owner", db.url(None, false), false);
    let phone = owner.activate("alice");

    // The postmaster frozen: the kernel accepts the connection, nobody answers. The
    // default connect deadline (10 s) holds, and a lower connect_timeout is kept.
    let postmaster: u32 = std::fs::read_to_string(cluster.dir.join("data/postmaster.pid"))
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    {
        let _frozen = Stopped::new(postmaster);
        for (params, bound) in [
            ("", otpgate::CONNECT_TIMEOUT),
            ("connect_timeout=2&", Duration::from_secs(2)),
        ] {
            let url = db.url(None, false).replace("?", &format!("?{params}"));
            let runner = db.runner("frozen", url, true);
            let started = Instant::now();
            let run = runner.run(&["check", "alice", "123456"]);
            let elapsed = started.elapsed();
            assert_eq!(run.code, Some(2), "{params}: {run:?}");
            assert!(
                run.stderr.contains("did not complete the connection"),
                "{params}: {run:?}"
            );
            assert!(
                elapsed >= bound && elapsed < bound + SLACK,
                "{params}: {elapsed:?}"
            );
        }
    }

    // A connected session whose backend freezes: the next call ends after the statement
    // timeout in force and the answer margin (here a lower statement timeout from the URL).
    let name = unique("frozen_backend");
    let url = format!(
        "{}%20-c%20statement_timeout%3D1500&application_name={name}",
        db.url(None, false)
    );
    let store = PostgresStore::connect(&url).unwrap();
    assert!(store.load("alice").unwrap().is_some());
    let pid: i32 = Client::connect(&admin, NoTls)
        .unwrap()
        .query_one(
            "SELECT pid FROM pg_stat_activity WHERE application_name = $1",
            &[&name],
        )
        .unwrap()
        .get(0);
    {
        let _frozen = Stopped::new(pid as u32);
        let bound = Duration::from_millis(1500) + otpgate::ANSWER_MARGIN;
        let started = Instant::now();
        let result = store.load("alice");
        let elapsed = started.elapsed();
        assert!(
            matches!(&result, Err(GateError::StoreUnavailable(m)) if m.contains("did not answer within 3.5 s")),
            "{result:?}"
        );
        assert!(elapsed >= bound && elapsed < bound + SLACK, "{elapsed:?}");
        // The connection is not used again after a call that ran out of time.
        assert!(matches!(
            store.load("alice"),
            Err(GateError::StoreUnavailable(_))
        ));
    }
    // Continued, the server decides as before.
    let run = owner.run(&["check", "alice", &code(&phone, step_now(&phone))]);
    assert_eq!(run.code, Some(0), "{run:?}");
    drop(db);
}

#[test]
fn a_held_lock_table_fails_a_check_quickly_saying_the_gate_is_blocked() {
    let Some(admin) = server_url() else { return };
    let db = Db::new(&admin, "locked");
    let owner = db.runner("owner", db.url(None, false), false);
    let phone = owner.activate("alice");
    let fresh = code(&phone, step_now(&phone));
    let mut locker = db.admin();
    let mut tx = locker.transaction().unwrap();
    tx.batch_execute("LOCK TABLE users").unwrap();
    // (URL options, the timeout that ends the wait, what the message says, the latest end):
    // a lower timeout from the URL ends the wait before the default lock timeout would.
    let cases = [
        (
            "",
            otpgate::LOCK_TIMEOUT,
            "the gate is blocked",
            otpgate::LOCK_TIMEOUT + SLACK,
        ),
        (
            "%20-c%20lock_timeout%3D1000",
            Duration::from_millis(1000),
            "the gate is blocked",
            otpgate::LOCK_TIMEOUT,
        ),
        (
            "%20-c%20statement_timeout%3D1500",
            Duration::from_millis(1500),
            "did not decide in time",
            otpgate::LOCK_TIMEOUT,
        ),
    ];
    for (options, bound, says, latest) in cases {
        let runner = db.runner("blocked", format!("{}{options}", db.url(None, false)), true);
        let started = Instant::now();
        let run = runner.run(&["check", "alice", &fresh]);
        let elapsed = started.elapsed();
        assert_eq!(run.code, Some(2), "{options}: {run:?}");
        assert!(run.stderr.contains(says), "{options}: {run:?}");
        assert!(
            elapsed >= bound && elapsed < latest,
            "{options}: {elapsed:?}"
        );
    }
    tx.rollback().unwrap();
    // Nothing was decided while blocked: the code still passes.
    let run = owner.run(&["check", "alice", &fresh]);
    assert_eq!(run.code, Some(0), "{run:?}");
}

#[test]
fn a_database_nobody_set_up_says_so() {
    let Some(admin) = server_url() else { return };
    // A runner role (no CREATE on the schema) on a database nobody migrated.
    let db = Db::new(&admin, "unmigrated");
    let role = unique("otpgate_runner");
    db.admin()
        .batch_execute(&format!(
            "CREATE ROLE {role} LOGIN; GRANT USAGE ON SCHEMA {} TO {role};",
            db.schema
        ))
        .unwrap();
    let runner = db.runner("runner", db.url(Some(&role), false), true);
    for args in [vec!["check", "alice", "123456"], vec!["status", "alice"]] {
        let run = runner.run(&args);
        assert_eq!(run.code, Some(2), "{args:?}: {run:?}");
        assert!(
            run.stderr.contains("the database is not set up")
                && run.stderr.contains("as the migration role first"),
            "{args:?}: {run:?}"
        );
        assert!(!run.stderr.contains("permission denied"), "{run:?}");
    }
    // The migration role's status on a new database: not set up, not "set up with a key".
    let owner = db.runner("owner", db.url(None, false), false);
    std::fs::remove_file(&owner.key_file).unwrap();
    let run = owner.run(&["status", "alice"]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(
        run.stderr.contains("the database is not set up")
            && run.stderr.contains("enroll the first user"),
        "{run:?}"
    );
    assert!(!run.stderr.contains("was set up with a key"), "{run:?}");
    let mut client = Client::connect(&admin, NoTls).unwrap();
    client
        .batch_execute(&format!(
            "DROP SCHEMA {s} CASCADE; DROP OWNED BY {role}; DROP ROLE {role}",
            s = db.schema
        ))
        .unwrap();
}
