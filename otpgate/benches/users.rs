#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing
)]
//! The gate with many users on SQLite (issue 19, item 4): enrolls 1,000 and 1,000,000 users
//! through the library ([`Gate::enroll`] inside [`SqliteStore::batch`], one commit per
//! 10,000 users: a bulk import, not the per-decision path), activates 1,000 users spread
//! over each database, then times checks of those users in turn (each a replay: the whole
//! path, one synced commit each), in interleaved rounds, 1,000 users then 1,000,000.
//!
//! `cargo bench -p otpgate --bench users` (about 2 minutes; `-- ROUNDS CHECKS` to change
//! the 7 rounds of 1,000 checks); the figures are in BENCHMARKS.md. `-- prefill DB N`
//! only writes a database of `N` users, for the service's benchmark.

use std::path::{Path, PathBuf};
use std::time::Instant;

use otpcore::{Totp, unix_time};
use otpgate::{Gate, Refusal, ServerKey, SqliteStore, key_path, keyfile};

const KEY: [u8; 32] = [7; 32];
const BATCH: usize = 10_000;
const ACTIVE: usize = 1_000;

fn gate(db: &Path) -> Gate<SqliteStore> {
    Gate::open(SqliteStore::create(db).unwrap(), ServerKey::from_bytes(KEY)).unwrap()
}

/// Enrolls `users` users (`user0000000` on) through `gate`, one commit per `BATCH`, and
/// hands each one's index, name and secret to `enrolled`.
fn enroll_all(
    gate: &Gate<SqliteStore>,
    users: usize,
    now: u64,
    mut enrolled: impl FnMut(usize, String, otpcore::Secret),
) {
    for first in (0..users).step_by(BATCH) {
        gate.store()
            .batch(|| {
                for i in first..(first + BATCH).min(users) {
                    let user = format!("user{i:07}");
                    let enrollment = gate.enroll(&user, "bench", now)?;
                    enrolled(i, user, enrollment.secret);
                }
                Ok(())
            })
            .unwrap();
    }
}

/// `-- prefill DB N`: a new gate database of `N` enrolled users with its key file beside
/// it, for the service's 1,000,000-user case (`FILLER` in `service_load.py`).
fn prefill(db: &Path, users: usize) {
    let key = keyfile::create_key(&key_path(db, None).unwrap()).unwrap();
    let gate = Gate::open(SqliteStore::create(db).unwrap(), key).unwrap();
    let started = Instant::now();
    enroll_all(&gate, users, unix_time().unwrap(), |_, _, _| {});
    println!(
        "enrolled {users} users into {} in {:.1} s",
        db.display(),
        started.elapsed().as_secs_f64()
    );
}

/// A database of `users` users, `ACTIVE` of them (every `users / ACTIVE`-th) confirmed;
/// their names and codes (replays from then on).
fn populate(dir: &Path, users: usize, now: u64) -> (PathBuf, Vec<(String, String)>) {
    let db = dir.join(format!("users-{users}.db"));
    let gate = gate(&db);
    let started = Instant::now();
    let mut active = Vec::new();
    enroll_all(&gate, users, now, |i, user, secret| {
        if i % (users / ACTIVE) == 0 {
            active.push((user, secret));
        }
    });
    let enrolled = started.elapsed();
    let codes = gate
        .store()
        .batch(|| {
            Ok(active
                .iter()
                .map(|(user, secret)| {
                    let code = Totp::new(secret, gate.params())
                        .unwrap()
                        .generate(now)
                        .unwrap()
                        .to_string();
                    assert!(gate.confirm(user, &code, now).unwrap().is_ok());
                    (user.clone(), code)
                })
                .collect::<Vec<_>>())
        })
        .unwrap();
    println!(
        "enrolled {users} users in {:.1} s ({:.1} us per user), {} of them active",
        enrolled.as_secs_f64(),
        enrolled.as_secs_f64() * 1e6 / users as f64,
        codes.len()
    );
    (db, codes)
}

/// `checks` checks, cycling through the active users; microseconds per check.
fn time_checks(db: &Path, active: &[(String, String)], checks: usize, now: u64) -> f64 {
    let gate = gate(db);
    let started = Instant::now();
    for (user, code) in active.iter().cycle().take(checks) {
        let decision = gate.check(user, code, None, now).unwrap();
        assert_eq!(decision, Err(Refusal::Replayed));
    }
    started.elapsed().as_secs_f64() * 1e6 / checks as f64
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split(' ').take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn main() {
    let given: Vec<String> = std::env::args().skip(1).collect();
    if let [mode, db, users, ..] = given.as_slice()
        && mode == "prefill"
    {
        prefill(Path::new(db), users.parse().expect("a number of users"));
        return;
    }
    let args: Vec<usize> = given.iter().filter_map(|a| a.parse().ok()).collect();
    let rounds = args.first().copied().unwrap_or(7);
    let checks = args.get(1).copied().unwrap_or(1_000);
    let dir = std::env::temp_dir().join(format!("otpgate-bench-users-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let now = unix_time().unwrap();
    let small = populate(&dir, 1_000, now);
    let large = populate(&dir, 1_000_000, now);
    let (mut per_small, mut per_large) = (Vec::new(), Vec::new());
    for round in 1..=rounds {
        let s = time_checks(&small.0, &small.1, checks, now);
        let l = time_checks(&large.0, &large.1, checks, now);
        println!(
            "round {round} (load {}): 1,000 users {s:.0} us per check, 1,000,000 users {l:.0} us, ratio {:.2}",
            load_average(),
            l / s
        );
        per_small.push(s);
        per_large.push(l);
    }
    let min = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "min: {:.0} us / {:.0} us = {:.2}; median: {:.0} us / {:.0} us = {:.2}",
        min(&per_large),
        min(&per_small),
        min(&per_large) / min(&per_small),
        median(&mut per_large.clone()),
        median(&mut per_small.clone()),
        median(&mut per_large.clone()) / median(&mut per_small.clone()),
    );
    let _ = std::fs::remove_dir_all(&dir);
}
