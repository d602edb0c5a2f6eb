//! The SQLite store's schema and set-up: versioned migrations, WAL, and many processes
//! creating one new database (and its key) at once.
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

use gate_support::{Env, Run};
use otpgate::SCHEMA_VERSION;

#[test]
fn sixteen_processes_creating_one_database_share_one_schema_and_one_key() {
    let env = Env::new("sqlite-create");
    let barrier = Barrier::new(16);
    let runs: Vec<Run> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..16)
            .map(|i| {
                let (env, barrier) = (&env, &barrier);
                s.spawn(move || {
                    let mut cmd = env.command();
                    cmd.args(["--json", "enroll", &format!("user{i}")])
                        .stdout(Stdio::piped())
                        .stderr(Stdio::piped());
                    barrier.wait();
                    Run::from(cmd.output().unwrap())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for run in &runs {
        assert_eq!(run.code, Some(0), "{run:?}");
    }
    let sql = env.sql();
    let versions: Vec<i64> = sql
        .prepare("SELECT version FROM schema_version")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(versions, (1..=SCHEMA_VERSION).collect::<Vec<_>>());
    let checks: i64 = sql
        .query_row(
            "SELECT COUNT(*) FROM meta WHERE name = 'key_check'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(checks, 1);
    let mode: String = sql
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    // Every user opens under the one key file that is there.
    for i in 0..16 {
        assert_eq!(env.status(&format!("user{i}"))["status"], "pending");
    }
    let leftovers: Vec<_> = std::fs::read_dir(&env.dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_database_from_a_newer_otpgate_is_refused() {
    let env = Env::new("sqlite-newer");
    env.enroll("alice");
    env.sql()
        .execute(
            "INSERT INTO schema_version (version) VALUES (?1)",
            [SCHEMA_VERSION + 1],
        )
        .unwrap();
    let run = env.run(&["status", "alice"]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(
        run.stderr.contains("newer than this otpgate knows"),
        "{run:?}"
    );
}

#[test]
fn a_file_that_is_not_a_database_is_an_error() {
    let env = Env::new("sqlite-garbage");
    std::fs::write(&env.db, vec![0x42; 4096]).unwrap();
    let run = env.run(&["check", "alice", "123456"]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("store error"), "{run:?}");
}

#[test]
fn status_on_a_database_without_a_key_says_it_is_not_set_up() {
    // A database created (here by the library; by an enroll that failed before writing the
    // key file, in practice) that never got a server key.
    let env = Env::new("sqlite-not-set-up");
    drop(otpgate::SqliteStore::create(&env.db).unwrap());
    for args in [
        ["status", "alice"].as_slice(),
        &["check", "alice", "123456"],
    ] {
        let run = env.run(args);
        assert_eq!(run.code, Some(2), "{run:?}");
        assert!(
            run.stderr.contains("the database is not set up")
                && run.stderr.contains("enroll the first user"),
            "{run:?}"
        );
        assert!(!run.stderr.contains("was set up with a key"), "{run:?}");
    }
    assert!(!env.key_file().exists(), "no key file is written");
}

#[test]
fn decisions_committed_together_are_each_decided_once_and_the_trail_verifies() {
    use otpgate::{Gate, ServerKey, SqliteStore};

    let env = Env::new("sqlite-together");
    let key = ServerKey::generate().unwrap();
    let audit_key = key.audit_key();
    let gate = Gate::open(SqliteStore::create(&env.db).unwrap(), key).unwrap();
    gate_support::assert_decisions_committed_together_are_each_decided_once(&gate, &audit_key);
}

#[test]
fn gates_committing_in_groups_accept_each_code_once_and_the_trail_verifies() {
    let env = Env::new("sqlite-grouped");
    let open = || otpgate::SqliteStore::create(&env.db).unwrap();
    gate_support::assert_grouped_gates_accept_each_code_once(open, 8, 10);
}

/// A grouped store inside its caller's batch decides alone, inside the batch: a group's
/// other decisions must not be answered from a transaction that is not yet committed.
#[test]
fn a_grouped_store_inside_a_batch_decides_alone() {
    use std::sync::Arc;

    use otpgate::{Gate, GroupCommit, Grouped, ServerKey, SqliteStore, Store};

    /// Counts the group's commits: a store whose every group commit is counted.
    struct Counting<'a>(&'a SqliteStore, &'a std::sync::atomic::AtomicUsize);
    impl Store for Counting<'_> {
        fn load(&self, user: &str) -> Result<Option<otpgate::Stored>, otpgate::GateError> {
            self.0.load(user)
        }
        fn compare_and_swap(
            &self,
            user: &str,
            expected: Option<u64>,
            sealed: &[u8],
            audit: &otpgate::AuditEntry,
        ) -> Result<otpgate::Swap, otpgate::GateError> {
            self.0.compare_and_swap(user, expected, sealed, audit)
        }
        fn compare_and_swap_all(
            &self,
            swaps: &[otpgate::SwapRequest<'_>],
        ) -> Vec<Result<otpgate::Swap, otpgate::GateError>> {
            self.1.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            self.0.compare_and_swap_all(swaps)
        }
        fn commits_on_return(&self) -> bool {
            self.0.commits_on_return()
        }
        fn key_check(&self) -> Result<Option<Vec<u8>>, otpgate::GateError> {
            self.0.key_check()
        }
        fn init_key_check(&self, check: &[u8]) -> Result<Vec<u8>, otpgate::GateError> {
            self.0.init_key_check(check)
        }
        fn audit_log(
            &self,
            user: Option<&str>,
            limit: usize,
        ) -> Result<Vec<otpgate::AuditRecord>, otpgate::GateError> {
            self.0.audit_log(user, limit)
        }
        fn audit_chain_start(&self) -> Result<i64, otpgate::GateError> {
            self.0.audit_chain_start()
        }
    }

    let env = Env::new("sqlite-grouped-batch");
    let store = SqliteStore::create(&env.db).unwrap();
    let group_commits = std::sync::atomic::AtomicUsize::new(0);
    let gate = Gate::open(
        Grouped::new(
            Counting(&store, &group_commits),
            Arc::new(GroupCommit::default()),
        ),
        ServerKey::from_bytes([3; 32]),
    )
    .unwrap();
    let now = 1_700_000_000;
    store
        .batch(|| gate.enroll("alice", "Deploy Portal", now))
        .unwrap();
    assert_eq!(group_commits.into_inner(), 0, "decided through the group");
    assert!(store.load("alice").unwrap().is_some());
    // Outside a batch, through the group.
    let group_commits = std::sync::atomic::AtomicUsize::new(0);
    let gate = Gate::open(
        Grouped::new(
            Counting(&store, &group_commits),
            Arc::new(GroupCommit::default()),
        ),
        ServerKey::from_bytes([3; 32]),
    )
    .unwrap();
    gate.enroll("bob", "Deploy Portal", now).unwrap();
    assert_eq!(group_commits.into_inner(), 1);
}

#[test]
fn a_store_whose_file_was_deleted_or_replaced_writes_nothing_more() {
    use otpgate::{Gate, GateError, ServerKey, SqliteStore};
    let env = Env::new("sqlite-file-gone");
    let gate = Gate::open(
        SqliteStore::create(&env.db).unwrap(),
        ServerKey::from_bytes([3; 32]),
    )
    .unwrap();
    gate.enroll("alice", "Deploy", 1_700_000_000).unwrap();

    // Replaced: the path now names another database.
    let moved = env.dir.join("moved.db");
    std::fs::rename(&env.db, &moved).unwrap();
    let other = SqliteStore::create(&env.db).unwrap();
    assert!(matches!(
        gate.enroll("bob", "Deploy", 1_700_000_000),
        Err(GateError::StoreUnavailable(_))
    ));
    assert!(otpgate::Store::load(&other, "bob").unwrap().is_none());
    drop(other);
    // Deleted.
    std::fs::remove_file(&env.db).unwrap();
    assert!(matches!(
        gate.enroll("bob", "Deploy", 1_700_000_000),
        Err(GateError::StoreUnavailable(_))
    ));
    assert!(matches!(
        otpgate::Store::key_check(gate.store()),
        Err(GateError::StoreUnavailable(_))
    ));
}
