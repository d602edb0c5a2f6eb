//! Shared by the gate tests that run `otpgate` as a process: a database of its own per
//! test, runs with their exit code and output, and a phone computing codes with otpcore.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use otpcore::{Secret, Totp, TotpParams, unix_time};
use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_otpgate");

/// Runs `command` to its end, or kills it after `limit` and fails: a hang is a failure of
/// its own, not a test that never ends.
pub fn within(mut command: Command, limit: Duration) -> Run {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            let run: Run = child.wait_with_output().unwrap().into();
            panic!("still running after {limit:?}: {run:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().unwrap().into()
}

/// A fresh directory with a gate database path in it (the database is created by the
/// first enroll), removed when dropped.
pub struct Env {
    pub dir: PathBuf,
    pub db: PathBuf,
}

/// The outcome of one `otpgate` run.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> Value {
        let mut lines = self.stdout.lines();
        let first = lines
            .next()
            .unwrap_or_else(|| panic!("no output: {self:?}"));
        assert!(lines.next().is_none(), "more than one line: {self:?}");
        serde_json::from_str(first).unwrap_or_else(|e| panic!("{e}: {self:?}"))
    }
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            code: o.status.code(),
            stdout: String::from_utf8(o.stdout).unwrap(),
            stderr: String::from_utf8(o.stderr).unwrap(),
        }
    }
}

impl Env {
    pub fn new(name: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "otpgate-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("gate.db");
        Env { dir, db }
    }

    pub fn key_file(&self) -> PathBuf {
        self.dir.join("gate.db.key")
    }

    /// `otpgate --db DB`, without any OTPGATE_* variable of the caller.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.env_remove("OTPGATE_DB")
            .env_remove("OTPGATE_DELIVER_COMMAND")
            .env_remove("OTPGATE_KEY_FILE")
            .arg("--db")
            .arg(&self.db)
            .stdin(Stdio::null());
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.command().args(args).output().unwrap().into()
    }

    /// Enrolls `user` and returns the phone, from the secret in the JSON output.
    pub fn enroll(&self, user: &str) -> Totp {
        let run = self.run(&["--json", "enroll", user]);
        assert_eq!(run.code, Some(0), "{run:?}");
        phone(run.json()["secret"].as_str().unwrap())
    }

    /// Enrolls and confirms `user` as [`activate_with`] does, so that the current step's
    /// code is fresh for a check; returns the phone and the recovery codes.
    pub fn activate(&self, user: &str) -> (Totp, Vec<String>) {
        let (phone, run) = activate_with(|args| self.run(args), user, &[]);
        let codes = run.json()["recovery_codes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_owned())
            .collect();
        (phone, codes)
    }

    /// `status USER --json`.
    pub fn status(&self, user: &str) -> Value {
        let run = self.run(&["--json", "status", user]);
        assert_eq!(run.code, Some(0), "{run:?}");
        run.json()
    }

    /// The outcomes of `event` in the user's audit trail, oldest first.
    pub fn outcomes(&self, user: &str, event: &str) -> Vec<String> {
        let run = self.run(&["--json", "log", user, "--limit", "1000"]);
        assert_eq!(run.code, Some(0), "{run:?}");
        run.json()["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["event"] == event)
            .map(|e| e["outcome"].as_str().unwrap().to_owned())
            .collect()
    }

    pub fn sql(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(&self.db).unwrap()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Enrolls `user` (`enroll_args` after `enroll USER`) and confirms with the previous
/// step's code, so that afterwards the code of the step the test sees is fresh for a check
/// (and the one after it too). Returns the phone and the confirmation's run.
///
/// Immune to step boundaries: the process accepts the previous step's code while its own
/// clock is in the step the code was computed in; when a boundary is crossed between
/// computing the code and the process checking it, that code is two steps back and refused
/// as wrong. Only then (the test's clock has moved on too, so it cannot hide a real
/// refusal) the user is enrolled again, which replaces the pending record and its counted
/// failure, and confirmed with the new previous step's code. Each retry needs another
/// boundary within one enroll and confirm, 30 s apart.
pub fn activate_with(
    run: impl Fn(&[&str]) -> Run,
    user: &str,
    enroll_args: &[&str],
) -> (Totp, Run) {
    for _ in 0..4 {
        let enrolled = run(&[&["--json", "enroll", user], enroll_args].concat());
        assert_eq!(enrolled.code, Some(0), "{enrolled:?}");
        let phone = phone(enrolled.json()["secret"].as_str().unwrap());
        let step = step_now(&phone);
        let first = code(&phone, step.saturating_sub(1));
        let confirmed = run(&["--json", "confirm", user, &first]);
        if confirmed.code == Some(0) {
            return (phone, confirmed);
        }
        let crossed = step_now(&phone) > step;
        let wrong = confirmed.code == Some(1) && confirmed.json()["reason"] == "wrong";
        assert!(crossed && wrong, "{confirmed:?}");
        eprintln!("{user}: a step boundary passed during the confirmation; enrolling again");
    }
    panic!("{user}: a step boundary passed during each of 4 confirmations");
}

pub fn phone(secret: &str) -> Totp {
    Totp::new(&Secret::from_base32(secret).unwrap(), TotpParams::default()).unwrap()
}

pub fn step_now(phone: &Totp) -> u64 {
    phone.step_at(unix_time().unwrap()).unwrap()
}

/// The code of time step `step`.
pub fn code(phone: &Totp, step: u64) -> String {
    phone.generate_at_step(step).to_string()
}

/// The verdict on one race of processes checking the same code: exactly one accepted, every
/// other refused as replayed (exit 1, never a store error), and every decision in the audit
/// trail (`outcomes`) with one `accepted` (the acceptance's label, such as `accepted-sms`).
pub fn assert_exactly_one_accepted(
    runs: &[Run],
    outcomes: &[String],
    accepted: &str,
    round: usize,
) {
    let passed = runs.iter().filter(|r| r.code == Some(0)).count();
    assert_eq!(passed, 1, "round {round}: {runs:#?}");
    for run in runs.iter().filter(|r| r.code != Some(0)) {
        assert_eq!(run.code, Some(1), "round {round}: {run:?}");
        assert_eq!(run.json()["reason"], "replayed", "round {round}: {run:?}");
    }
    assert_eq!(
        outcomes.len(),
        runs.len(),
        "round {round}: every decision is audited"
    );
    assert_eq!(
        outcomes.iter().filter(|o| *o == accepted).count(),
        1,
        "round {round}: {outcomes:?}"
    );
}

/// xorshift64*: the kill points of the crash tests, reproducible from the seed they print
/// on failure.
pub struct Rng {
    seed: u64,
    state: u64,
}

impl Rng {
    /// Seeded from the clock (never 0, which xorshift would stay at).
    pub fn from_clock() -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
            | 1;
        Rng { seed, state: seed }
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// A number below `bound` (0 for a bound of 0).
    pub fn below(&mut self, bound: u64) -> u64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_f491_4f6c_dd1d) % bound.max(1)
    }
}

/// Runs `otpgate` with `args` in `env`, killed with SIGKILL after `delay` unless it ended
/// before; the outcome (the exit code is `None` when the kill hit). The kill points of the
/// crash tests.
pub fn killed_after(env: &Env, args: &[&str], delay: std::time::Duration) -> Run {
    let mut child = env
        .command()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(delay);
    // SIGKILL on Unix; an error only when the process is already gone.
    let _ = child.kill();
    child.wait_with_output().unwrap().into()
}

/// A compare-and-swap of `user`'s record (a placeholder sealed record) from `expected`,
/// with `audit`.
pub fn swap_request<'a>(
    user: &'a str,
    expected: Option<u64>,
    audit: &'a otpgate::AuditEntry,
) -> otpgate::SwapRequest<'a> {
    otpgate::SwapRequest {
        user,
        expected,
        sealed: b"sealed",
        audit,
    }
}

/// The audit entry of an accepted check of `user`'s code, for tests that call a store's
/// compare-and-swap themselves.
pub fn accepted_check(user: &str, audit_key: &otpgate::AuditKey) -> otpgate::AuditEntry {
    otpgate::AuditEntry {
        time: 1_700_000_000,
        user: user.to_owned(),
        event: "check",
        action: None,
        outcome: "accepted",
        drift: None,
        actor: None,
        key: audit_key.clone(),
    }
}

/// [`Store::compare_and_swap_all`](otpgate::Store::compare_and_swap_all) on `gate`'s store
/// (a new one, opened with the key `audit_key` is of): each swap of a group decided as on
/// its own, in order, and the trail of the lot verifies.
pub fn assert_decisions_committed_together_are_each_decided_once<S: otpgate::Store>(
    gate: &otpgate::Gate<S>,
    audit_key: &otpgate::AuditKey,
) {
    use otpgate::{Swap, SwapRequest};

    let entry = |user: &str| accepted_check(user, audit_key);
    let (alice, bob) = (&entry("alice"), &entry("bob"));
    let swap = swap_request;
    let store = gate.store();
    let decided = |swaps: &[SwapRequest<'_>]| -> Vec<Swap> {
        store
            .compare_and_swap_all(swaps)
            .into_iter()
            .map(Result::unwrap)
            .collect()
    };

    // Two new users, one of them twice: the second of the pair conflicts.
    let first = decided(&[
        swap("bob", None, bob),
        swap("alice", None, alice),
        swap("alice", None, alice),
    ]);
    assert_eq!(first, [Swap::Written, Swap::Written, Swap::Conflict]);
    // Two decisions on one version: one is written, whatever the order of the users.
    let second = decided(&[
        swap("alice", Some(1), alice),
        swap("bob", Some(7), bob),
        swap("alice", Some(1), alice),
    ]);
    assert_eq!(second, [Swap::Written, Swap::Conflict, Swap::Conflict]);
    // Nothing written: nothing committed.
    assert_eq!(decided(&[swap("bob", Some(9), bob)]), [Swap::Conflict]);
    // A store error in the middle of a group (a time the store cannot hold) fails the
    // whole group: the swap before it is not written either.
    let mut unstorable = entry("bob");
    unstorable.time = u64::MAX;
    let failed = store.compare_and_swap_all(&[
        swap("alice", Some(2), alice),
        swap("bob", Some(1), &unstorable),
    ]);
    assert!(failed.iter().all(Result::is_err), "{failed:?}");

    assert_eq!(store.load("alice").unwrap().unwrap().version, 2);
    assert_eq!(store.load("bob").unwrap().unwrap().version, 1);
    let trail = store.audit_log(None, 100).unwrap();
    assert_eq!(trail.len(), 3, "{trail:?}");
    let verified = gate.verify_log().unwrap();
    assert_eq!(verified.broken, None);
    assert_eq!(verified.authenticated, 3);
}

/// Gates on connections of their own from `open`, deciding through one
/// [`GroupCommit`](otpgate::GroupCommit) on as many threads: in each of `rounds` rounds all
/// of them check one fresh code of one user at once, and exactly one is accepted, the others
/// refused as replayed; then the trail verifies, one row per decision.
pub fn assert_grouped_gates_accept_each_code_once<S: otpgate::Store>(
    open: impl Fn() -> S + Sync,
    gates: usize,
    rounds: u64,
) {
    use std::sync::{Arc, Barrier};

    use otpgate::{Gate, GroupCommit, Grouped, Refusal, ServerKey};

    const KEY: [u8; 32] = [9; 32];
    let now = 1_700_000_000;
    let first = Gate::open(open(), ServerKey::from_bytes(KEY)).unwrap();
    let enrollment = first.enroll("alice", "Deploy Portal", now).unwrap();
    let phone = Totp::new(&enrollment.secret, first.params()).unwrap();
    let confirmed = phone.generate(now).unwrap().to_string();
    assert!(first.confirm("alice", &confirmed, now).unwrap().is_ok());

    let group = Arc::new(GroupCommit::default());
    let barrier = Barrier::new(gates);
    let decisions: Vec<Vec<Result<_, Refusal>>> = std::thread::scope(|s| {
        let threads: Vec<_> = (0..gates)
            .map(|_| {
                let (open, group, barrier, phone) = (&open, Arc::clone(&group), &barrier, &phone);
                s.spawn(move || {
                    let gate = Gate::open(Grouped::new(open(), group), ServerKey::from_bytes(KEY))
                        .unwrap();
                    (1..=rounds)
                        .map(|round| {
                            let at = now + 30 * round;
                            let code = phone.generate(at).unwrap().to_string();
                            barrier.wait();
                            gate.check("alice", &code, Some("deploy"), at)
                                .unwrap()
                                .map(|_| ())
                        })
                        .collect()
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    });
    for round in 0..usize::try_from(rounds).unwrap() {
        let answers: Vec<_> = decisions.iter().map(|gate| gate[round]).collect();
        let accepted = answers.iter().filter(|answer| answer.is_ok()).count();
        assert_eq!(accepted, 1, "round {round}: {answers:?}");
        assert!(
            answers
                .iter()
                .all(|answer| matches!(answer, Ok(()) | Err(Refusal::Replayed))),
            "round {round}: {answers:?}"
        );
    }
    let verified = first.verify_log().unwrap();
    assert_eq!(verified.broken, None);
    // The enrolment and the confirmation, then every decision.
    assert_eq!(
        verified.authenticated,
        2 + gates * usize::try_from(rounds).unwrap()
    );
}
