#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing
)]
//! The gate's cost per decision on SQLite (WAL, synchronous=FULL: every decision is a
//! synced commit): `otpgate check` as a process, as a pipeline step runs it, and in-process
//! checks with 1 and 16 writers on one database file, each writer its own connection and
//! user.
//!
//! Each check is a replay of the user's last accepted code: the whole path (read, open
//! the sealed record, verify, seal, compare-and-swap with its audit entry, commit), and
//! replays do not count towards the throttle, so the outcome stays the same.
//!
//! `cargo bench --features gate --bench gate`; the figures are in BENCHMARKS.md.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use otpcore::gate::{Gate, Refusal, ServerKey, SqliteStore};
use otpcore::{Totp, unix_time};

const KEY: [u8; 32] = [7; 32];

fn gate(db: &Path) -> Gate<SqliteStore> {
    Gate::open(SqliteStore::create(db).unwrap(), ServerKey::from_bytes(KEY)).unwrap()
}

/// Enrolls and confirms `user`; returns the code that confirmed it (a replay from then on)
/// and the time it was confirmed at.
fn active_user(db: &Path, user: &str) -> (String, u64) {
    let gate = gate(db);
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

fn in_process(c: &mut Criterion) {
    let mut group = c.benchmark_group("gate/in-process check");
    for writers in [1usize, 16] {
        let dir = scratch(&format!("writers-{writers}"));
        let db = dir.join("gate.db");
        let users: Vec<(String, String, u64)> = (0..writers)
            .map(|i| {
                let user = format!("user{i}");
                let (code, now) = active_user(&db, &user);
                (user, code, now)
            })
            .collect();
        group.throughput(Throughput::Elements(1));
        group.bench_function(format!("{writers} writers"), |b| {
            b.iter_custom(|iters| {
                // iters checks in all, shared among the writers, timed together.
                let per_writer = iters.div_ceil(writers as u64);
                let barrier = Barrier::new(writers + 1);
                std::thread::scope(|s| {
                    for (user, code, now) in &users {
                        let (db, barrier) = (&db, &barrier);
                        s.spawn(move || {
                            let gate = gate(db);
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
        let _ = std::fs::remove_dir_all(&dir);
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = process, in_process
}
criterion_main!(benches);
