#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing
)]
//! The gate's cost per decision on SQLite (WAL, synchronous=FULL: every decision is a
//! synced commit): `otpgate check` as a process, as a pipeline step runs it, and in-process
//! checks with 1, 8, 16 and 32 writers on one database file, each writer its own connection
//! and user. With the feature `postgres` and `OTPGATE_TEST_POSTGRES_URL` set (a superuser:
//! the bench works in a schema of its own, dropped at the end), the same on PostgreSQL with
//! 1, 8 and 32 clients, and with 8 and 32 whose decisions are committed in groups.
//!
//! Each check is a replay of the user's last accepted code: the whole path (read, open
//! the sealed record, verify, seal, compare-and-swap with its audit entry, commit), and
//! replays do not count towards the throttle, so the outcome stays the same.
//!
//! `cargo bench -p otpgate --bench gate` (or `--features postgres`); the figures are in
//! BENCHMARKS.md.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use criterion::BenchmarkGroup;
use criterion::measurement::WallTime;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use otpcore::{Totp, unix_time};
use otpgate::{Gate, Refusal, ServerKey, SqliteStore, Store};

const KEY: [u8; 32] = [7; 32];

fn gate(db: &Path) -> Gate<SqliteStore> {
    Gate::open(SqliteStore::create(db).unwrap(), ServerKey::from_bytes(KEY)).unwrap()
}

/// Enrolls and confirms `user`; returns the code that confirmed it (a replay from then on)
/// and the time it was confirmed at.
fn active_user(db: &Path, user: &str) -> (String, u64) {
    activate(&gate(db), user)
}

fn activate<S: Store>(gate: &Gate<S>, user: &str) -> (String, u64) {
    let now = unix_time().unwrap();
    let enrollment = gate.enroll(user, "bench", now).unwrap();
    let phone = Totp::new(&enrollment.secret, gate.params()).unwrap();
    let code = phone.generate(now).unwrap().to_string();
    assert!(gate.confirm(user, &code, now).unwrap().is_ok());
    (code, now)
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("otpgate-bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn process(c: &mut Criterion) {
    let dir = scratch("process");
    let db = dir.join("gate.db");
    // otpgate reads the clock: the code stays a replay (in the window) for 30 s at least.
    let (code, _) = active_user(&db, "alice");
    std::fs::write(dir.join("gate.db.key"), ServerKey::from_bytes(KEY).to_hex()).unwrap();
    let bin = env!("CARGO_BIN_EXE_otpgate");
    c.bench_function("gate/otpgate check (process)", |b| {
        b.iter(|| {
            let status = Command::new(bin)
                .arg("--db")
                .arg(&db)
                .args(["check", "alice", &code])
                .stderr(std::process::Stdio::null())
                .status()
                .unwrap();
            assert_eq!(status.code(), Some(1), "a replay is refused");
        })
    });
    let _ = std::fs::remove_dir_all(&dir);
}

/// The fewest checks each writer makes in one sample of [`writers_bench`].
const MIN_PER_WRITER: u64 = 200;

/// `writers` threads, each with its own gate (connection) from `open` and its own user,
/// checking replays; the time per check, all writers together.
fn writers_bench<S: Store>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    writers: usize,
    open: impl Fn() -> Gate<S> + Sync,
) {
    let users: Vec<(String, String, u64)> = (0..writers)
        .map(|i| {
            let user = format!("user{i}");
            let (code, now) = activate(&open(), &user);
            (user, code, now)
        })
        .collect();
    group.throughput(Throughput::Elements(1));
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            // iters checks in all, shared among the writers, timed together; at least
            // MIN_PER_WRITER each, so that a sample measures the writers deciding side by
            // side, not their threads waking up after the barrier for one check each.
            let per_writer = iters.div_ceil(writers as u64).max(MIN_PER_WRITER);
            let barrier = Barrier::new(writers + 1);
            std::thread::scope(|s| {
                for (user, code, now) in &users {
                    let (open, barrier) = (&open, &barrier);
                    s.spawn(move || {
                        let gate = open();
                        barrier.wait();
                        for _ in 0..per_writer {
                            let decision = gate.check(user, code, None, *now).unwrap();
                            assert_eq!(decision, Err(Refusal::Replayed));
                        }
                    });
                }
                barrier.wait();
                let start = Instant::now();
                // The scope joins the writers before returning.
                start
            })
            .elapsed()
            .mul_f64(iters as f64 / (per_writer * writers as u64) as f64)
        })
    });
}

fn in_process(c: &mut Criterion) {
    let mut group = c.benchmark_group("gate/in-process check");
    for writers in [1usize, 8, 16, 32] {
        let dir = scratch(&format!("writers-{writers}"));
        let db = dir.join("gate.db");
        writers_bench(&mut group, &format!("{writers} writers"), writers, || {
            gate(&db)
        });
        let _ = std::fs::remove_dir_all(&dir);
    }
    group.finish();
}

/// The same on PostgreSQL, each client its own connection, in a schema of its own.
#[cfg(feature = "postgres")]
fn postgres(c: &mut Criterion) {
    use otpgate::{GroupCommit, Grouped, PostgresStore};
    use std::sync::Arc;

    let Ok(admin) = std::env::var("OTPGATE_TEST_POSTGRES_URL") else {
        eprintln!("SKIPPED: the PostgreSQL benchmarks need OTPGATE_TEST_POSTGRES_URL");
        return;
    };
    let schema = format!("otpgate_bench_{}", std::process::id());
    let mut client = postgres::Client::connect(&admin, postgres::NoTls).unwrap();
    client
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .unwrap();
    let sep = if admin.contains('?') { '&' } else { '?' };
    let url = format!("{admin}{sep}options=-c%20search_path%3D{schema}");
    let open = || {
        Gate::open(
            PostgresStore::connect(&url).unwrap(),
            ServerKey::from_bytes(KEY),
        )
        .unwrap()
    };

    // otpgate reads the clock: the code stays a replay (in the window) for 30 s at least.
    let (code, _) = activate(&open(), "alice");
    let dir = scratch("postgres-process");
    let key = dir.join("gate.key");
    std::fs::write(&key, ServerKey::from_bytes(KEY).to_hex()).unwrap();
    c.bench_function("gate/postgres/otpgate check (process)", |b| {
        b.iter(|| {
            let status = Command::new(env!("CARGO_BIN_EXE_otpgate"))
                .arg("--db")
                .arg(&url)
                .arg("--key-file")
                .arg(&key)
                .args(["check", "alice", &code])
                .stderr(std::process::Stdio::null())
                .status()
                .unwrap();
            assert_eq!(status.code(), Some(1), "a replay is refused");
        })
    });
    let _ = std::fs::remove_dir_all(&dir);

    let mut group = c.benchmark_group("gate/postgres/in-process check");
    for clients in [1usize, 8, 32] {
        client
            .batch_execute(&format!("TRUNCATE {schema}.users, {schema}.audit"))
            .unwrap();
        writers_bench(&mut group, &format!("{clients} clients"), clients, open);
    }
    // The same clients, each on its own connection, their decisions committed in groups
    // (what `otpgate serve` does): one flush, and one holder of the chain's lock, per group.
    for clients in [8usize, 32] {
        client
            .batch_execute(&format!("TRUNCATE {schema}.users, {schema}.audit"))
            .unwrap();
        let commits = Arc::new(GroupCommit::default());
        writers_bench(
            &mut group,
            &format!("{clients} clients, committed in groups"),
            clients,
            || {
                Gate::open(
                    Grouped::new(PostgresStore::connect(&url).unwrap(), Arc::clone(&commits)),
                    ServerKey::from_bytes(KEY),
                )
                .unwrap()
            },
        );
    }
    group.finish();
    client
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .unwrap();
}

#[cfg(not(feature = "postgres"))]
fn postgres(_: &mut Criterion) {}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = process, in_process, postgres
}
criterion_main!(benches);
