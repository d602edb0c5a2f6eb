//! The deploy_gate example end to end: the simulated walkthrough, and the multi-run flow
//! with a state file driven by codes computed here as a phone would.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
// The example and the clock need std.
#![cfg(feature = "std")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

mod support;

use otpcore::{Secret, Totp, TotpParams, USER_STATE_LEN, UserState, unix_time};

/// The example, built once per test run.
fn deploy_gate() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| support::build_example("deploy_gate"))
}

fn run(args: &[&str]) -> (String, Option<i32>) {
    let Output { stdout, status, .. } = Command::new(deploy_gate()).args(args).output().unwrap();
    (String::from_utf8(stdout).unwrap(), status.code())
}

#[test]
fn the_walkthrough_shows_every_step_of_the_gate() {
    let (out, status) = run(&[]);
    assert_eq!(status, Some(0), "{out}");
    let expected_in_order = [
        "== 1. Enroll alice@example.com",
        "or choose \"Enter a setup key\" and type: ",
        "key URI: otpauth://totp/Deploy%20Portal:alice@example.com?secret=",
        "enrollment: accepted",
        "persisted the user's state: 472 bytes",
        "fresh code",
        "  accepted",
        "build 1.4.2 deployed to production",
        "refused: this code was already used",
        "refused: wrong code",
        "refused: wrong code",
        "refused without checking: too many failures, retry in 55 s",
        "accepted (recovery code 1, 9 left)",
        "deployed to production",
        "refused: recovery code already used",
    ];
    let mut rest = out.as_str();
    for line in expected_in_order {
        let at = rest
            .find(line)
            .unwrap_or_else(|| panic!("{line:?} missing (in order) from:\n{out}"));
        rest = &rest[at + line.len()..];
    }
    // The QR code is drawn with half blocks.
    assert!(out.contains('▀') && out.contains('▄'));
}

fn code_now(state_file: &Path) -> String {
    let mut key_path = state_file.as_os_str().to_owned();
    key_path.push(".key");
    let key = std::fs::read_to_string(PathBuf::from(key_path)).unwrap();
    let totp = Totp::new(
        &Secret::from_base32(key.trim()).unwrap(),
        TotpParams::default(),
    )
    .unwrap();
    totp.generate(unix_time().unwrap()).unwrap().to_string()
}

#[test]
fn a_state_file_carries_the_user_across_runs() {
    let dir = std::env::temp_dir().join(format!("deploy-gate-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("alice.otp");
    let path = file.to_str().unwrap();

    let (out, status) = run(&["--state", path]);
    assert_eq!(status, Some(0));
    assert!(out.contains("Enrolling alice@example.com"), "{out}");
    let state = UserState::decode(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(state.last_accepted(), None);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "state readable by others: {mode:o}");
    }

    let (out, status) = run(&["--state", path, "--code", "000000"]);
    assert_eq!(status, Some(1), "{out}");
    let code = code_now(&file);
    let (out, status) = run(&["--state", path, "--code", &code]);
    assert_eq!(status, Some(0), "{out}");
    assert!(out.contains("enrollment: accepted"), "{out}");
    let recovery: Vec<&str> = out
        .split_whitespace()
        .filter(|w| w.len() == 19 && w.matches('-').count() == 3)
        .collect();
    assert_eq!(recovery.len(), 10, "{out}");

    // The same code is a replay now; the state file has the step.
    let (out, status) = run(&["--state", path, "--code", &code]);
    assert_eq!(status, Some(1));
    assert!(
        out.contains("already used") && out.contains("not allowed"),
        "{out}"
    );

    let (out, status) = run(&["--state", path, "--recovery", recovery[2]]);
    assert_eq!(status, Some(0), "{out}");
    assert!(out.contains("recovery code 3, 9 left") && out.contains("deployed to production"));
    let (out, status) = run(&["--state", path, "--recovery", recovery[2]]);
    assert_eq!(status, Some(1), "{out}");

    let bytes = std::fs::read(&file).unwrap();
    assert_eq!(bytes.len(), USER_STATE_LEN);
    let state = UserState::decode(&bytes).unwrap();
    assert_eq!(state.recovery.remaining(), 9);
    assert_eq!(state.throttle.failures, 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_code_without_a_state_file_is_a_usage_error() {
    let (_, status) = run(&["--code", "123456"]);
    assert_eq!(status, Some(2));
}
