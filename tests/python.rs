//! The Python package (python/, issue 20) as a user gets it: pip builds the wheel from this
//! checkout (cargo builds the C library inside it) and installs it into a virtual
//! environment in the target directory, with pytest and pyotp from PyPI; then its pytest
//! suite runs, including a user state shared with Rust's `UserState` both ways
//! (python/tests/test_rust_interop.py, with the Rust side here).
//!
//! Without python3, its venv module and its headers the test prints SKIPPED, except when
//! the `CI` environment variable is set: then it fails (.ci/run installs them).
#![cfg(feature = "ffi")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod support;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use otpcore::{
    OobKey, OobVerification, RecoveryCodes, RecoveryVerification, Secret, Throttle, Totp,
    TotpParams, UserState, Verification,
};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Everything this test makes, in the target directory (so CARGO_TARGET_DIR is honoured).
fn work_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("python")
}

/// Runs `command`, failing the test with its whole output when it fails.
fn run(what: &str, command: &mut Command) -> Output {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(
        output.status.success(),
        "{what} failed with {}: {command:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The virtual environment's python with the test requirements and otpcore from
/// ./python installed, or `None` (SKIPPED) when python3, its venv module or its headers are
/// missing.
fn python_with_otpcore() -> Option<PathBuf> {
    // `ensurepip` is what Debian's python3 lacks without python3-venv: venv needs it.
    // Python.h, what it lacks without python3-dev: the package's extensions compile
    // against it.
    let mut probe = Command::new("python3");
    probe.args([
        "-c",
        "import ensurepip, os, sysconfig, venv; \
         assert os.path.isfile(os.path.join(sysconfig.get_paths()['include'], 'Python.h'))",
    ]);
    if !support::tool_available(
        "python3 with venv and its headers",
        &mut probe,
        "apt-get install python3 python3-venv python3-dev",
    ) {
        return None;
    }
    let venv = work_dir().join("venv");
    let python = venv.join("bin").join("python");
    // Kept between runs; made anew when missing or broken (python3 changed, say).
    let usable = Command::new(&python)
        .args(["-c", "import sys"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !usable {
        run(
            "creating the virtual environment",
            Command::new("python3")
                .args(["-m", "venv", "--clear"])
                .arg(&venv),
        );
    }
    let pip = |what: &str, args: &[&str]| {
        run(
            what,
            Command::new(&python)
                .args(["-m", "pip", "install", "--disable-pip-version-check"])
                .args(args)
                .current_dir(root()),
        )
    };
    pip(
        "installing pytest and pyotp",
        &["-r", "python/tests/requirements.txt"],
    );
    // The wheel's cargo build gets a target directory of its own: the main one is locked
    // by the `cargo test` running this.
    let output = run(
        "building and installing the otpcore wheel",
        Command::new(&python)
            .args(["-m", "pip", "install", "--disable-pip-version-check"])
            .args(["--force-reinstall", "--no-deps", "./python"])
            .env("CARGO_TARGET_DIR", work_dir().join("cargo"))
            .current_dir(root()),
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("Successfully installed otpcore-"),
        "{stdout}"
    );
    Some(python)
}

/// The RFC 6238 SHA-1 secret and a time: fixed, so that the wrong codes below are wrong
/// on every run.
const SECRET_B32: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const TIME: u64 = 1_700_000_000;
const OOB_KEY: &[u8; 32] = b"an out-of-band key for the tests";

/// The Rust side's state: the code at TIME accepted, then two wrong codes; fresh recovery
/// codes. Writes `rust.state` and `rust.txt` (`name value` lines) for the Python test.
fn write_rust_state(dir: &Path, totp: &Totp, throttle: &Throttle) -> Vec<String> {
    let mut state = UserState::default();
    let code = totp.generate(TIME).unwrap().to_string();
    assert!(
        state
            .verify_totp(totp, throttle, &code, TIME)
            .unwrap()
            .is_valid()
    );
    for hours in [1, 2] {
        let wrong = totp.generate(TIME + hours * 3600).unwrap().to_string();
        let outcome = state.verify_totp(totp, throttle, &wrong, TIME).unwrap();
        assert_eq!(outcome, Verification::Invalid);
    }
    let (recovery, shown) = RecoveryCodes::generate().unwrap();
    state.recovery = recovery;
    let mut buf = [0u8; otpcore::USER_STATE_LEN];
    std::fs::write(dir.join("rust.state"), state.encode(&mut buf).unwrap()).unwrap();

    let mut text = format!("secret {SECRET_B32}\ntime {TIME}\n");
    for code in &shown {
        writeln!(text, "recovery {}", code.as_str()).unwrap();
    }
    writeln!(text, "oob_key {}", hex(OOB_KEY)).unwrap();
    std::fs::write(dir.join("rust.txt"), text).unwrap();
    shown.iter().map(|c| c.as_str().to_owned()).collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        write!(s, "{b:02x}").unwrap();
        s
    })
}

/// Checks with Rust what the Python test did to the state and wrote back: the code of the
/// next step accepted, recovery code 4 used, an out-of-band code issued.
fn check_python_state(dir: &Path, totp: &Totp, throttle: &Throttle, shown: &[String]) {
    let fields: HashMap<String, String> = std::fs::read_to_string(dir.join("python.txt"))
        .expect("the Python test writes python.txt")
        .lines()
        .map(|line| {
            let (name, value) = line.split_once(' ').unwrap();
            (name.to_owned(), value.to_owned())
        })
        .collect();
    let later: u64 = fields["time"].parse().unwrap();
    assert_eq!(later, TIME + 30);
    let mut state = UserState::decode(&std::fs::read(dir.join("python.state")).unwrap()).unwrap();
    assert_eq!(state.last_accepted(), Some(totp.step_at(later).unwrap()));
    assert_eq!(
        (state.throttle.failures, state.throttle.locked_until),
        (0, 0)
    );
    assert_eq!(state.recovery.remaining(), 9);

    let code = totp.generate(later).unwrap().to_string();
    assert!(matches!(
        state.verify_totp(totp, throttle, &code, later).unwrap(),
        Verification::Replayed(_)
    ));
    assert_eq!(
        state.verify_recovery(throttle, &shown[4], later).unwrap(),
        RecoveryVerification::Used { slot: 4 }
    );
    let key = OobKey::new(OOB_KEY).unwrap();
    let oob = state
        .verify_oob(&key, throttle, "alice", &fields["oob_code"], later + 1)
        .unwrap();
    assert_eq!(oob, OobVerification::Valid);
}

/// The closing line of pytest's output ("N passed in ..."), for the log of a passing run.
fn closing_line(stdout: &str) -> &str {
    stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
}

#[test]
fn python_package_builds_installs_and_passes_its_tests_sharing_state_with_rust() {
    let Some(python) = python_with_otpcore() else {
        return;
    };
    let interop = work_dir().join("interop");
    let _ = std::fs::remove_dir_all(&interop);
    std::fs::create_dir_all(&interop).unwrap();
    let secret = Secret::from_base32(SECRET_B32).unwrap();
    let totp = Totp::new(&secret, TotpParams::default()).unwrap();
    let throttle = Throttle::default();
    let shown = write_rust_state(&interop, &totp, &throttle);

    // No cache folder and no bytecode in the checkout; -rs lists skipped tests.
    let output = Command::new(&python)
        .args(["-m", "pytest", "-p", "no:cacheprovider", "-rs", "tests"])
        .current_dir(root().join("python"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("OTPCORE_INTEROP_DIR", &interop)
        .output()
        .expect("cannot run pytest");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "pytest failed with {}:\n{stdout}\n--- stderr\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr),
        closing_line(&stdout)
    );
    // The harness hides a passing test's output; the count belongs in the log.
    let _ = writeln!(std::io::stderr(), "python/tests: {}", closing_line(&stdout));
    assert!(
        !stdout.contains(" skipped"),
        "no test may be skipped here:\n{stdout}"
    );
    check_python_state(&interop, &totp, &throttle, &shown);
}
