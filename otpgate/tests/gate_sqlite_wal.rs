//! The SQLite log kept between processes (issue 19, item 1): a check leaves its decision in
//! `-wal`, not checkpointed on exit; a backup still holds it; the README's restore (delete
//! `-wal` and `-shm`, copy the backup over the database) gives back the backed-up state.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod gate_support;

use std::path::PathBuf;

use gate_support::{Env, code, step_now};

fn beside(env: &Env, suffix: &str) -> PathBuf {
    let mut name = env.db.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

#[test]
fn the_log_stays_between_processes_and_a_backup_restored_as_documented_rolls_back() {
    let env = Env::new("wal");
    let (phone, _) = env.activate("alice");
    let wal = beside(&env, "-wal");
    let shm = beside(&env, "-shm");
    // Kept by the last process to exit, not checkpointed: it holds the commits.
    assert!(std::fs::metadata(&wal).unwrap().len() > 0);
    assert!(shm.exists());

    let copy = env.dir.join("copy.db");
    let run = env.run(&["backup", copy.to_str().unwrap()]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let step = step_now(&phone);
    let fresh = code(&phone, step);
    assert_eq!(env.run(&["check", "alice", &fresh]).code, Some(0));
    assert_eq!(env.run(&["check", "alice", &fresh]).code, Some(1));

    // The restore of the README, while no otpgate runs.
    std::fs::remove_file(&wal).unwrap();
    std::fs::remove_file(&shm).unwrap();
    std::fs::copy(&copy, &env.db).unwrap();
    let status = env.status("alice");
    assert_eq!(status["status"], "active", "{status}");
    // Rolled back to before the check: the code passes again (what the README warns of).
    let run = env.run(&["check", "alice", &fresh]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(env.outcomes("alice", "check"), ["accepted"]);
}
