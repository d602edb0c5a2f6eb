//! Shared by the integration tests that run the example programs or external tools.
// Each test crate that includes this module uses only part of it.
#![allow(dead_code)]
// Test support: a failed step is a failed test.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

pub mod memory;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Builds example `name` in a target directory of its own (the `cargo test` running the
/// caller holds the lock on the main one) and returns the path of its binary.
pub fn build_example(name: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let target_dir = root.join("target").join("examples-under-test");
    let output = Command::new(cargo)
        .current_dir(root)
        .args(["build", "--example", name, "--target-dir"])
        .arg(&target_dir)
        .output()
        .expect("cannot run cargo");
    assert!(
        output.status.success(),
        "building the {name} example failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    target_dir.join("debug").join("examples").join(name)
}

/// Whether CI is running: `CI` set to anything but empty, `0` or `false` (CI services and
/// `.ci/run` set `CI=true`).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.as_str(), "" | "0" | "false"))
}

/// Whether the external `tool` runs (`probe` exits with status 0), for tests that compare
/// against it. A missing tool fails the calling test under CI, so CI never passes without
/// the comparison; elsewhere it prints `SKIPPED` and the caller returns early.
pub fn tool_available(tool: &str, probe: &mut Command, install: &str) -> bool {
    tool_available_in(in_ci(), tool, probe, install)
}

/// [`tool_available`] with the CI decision given, so it can be tested without changing
/// the environment of the test process.
pub fn tool_available_in(ci: bool, tool: &str, probe: &mut Command, install: &str) -> bool {
    let found = probe
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            !ci,
            "{tool} is required when CI is set; install it with: {install}"
        );
        // Written to the real stderr: the test harness captures `eprintln!` of a passing
        // test, which would hide that nothing was checked.
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: {tool} not found, the tests against it did not run (install: {install})"
        );
    }
    found
}

/// The SONAME the README gives the shared library: `libotpcore.so.0.MINOR` while the crate is
/// 0.x, `libotpcore.so.MAJOR` from 1.0 on.
pub fn soname() -> String {
    match env!("CARGO_PKG_VERSION_MAJOR") {
        "0" => format!("libotpcore.so.0.{}", env!("CARGO_PKG_VERSION_MINOR")),
        major => format!("libotpcore.so.{major}"),
    }
}

/// Links `dir/libotpcore.so` to its SONAME in `dir`, as the README's build block does, so
/// programs linked against it find it at run time.
#[cfg(unix)]
pub fn link_soname(dir: &Path) {
    let link = dir.join(soname());
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink("libotpcore.so", &link)
        .unwrap_or_else(|e| panic!("cannot link {}: {e}", link.display()));
}

/// The address in environment variable `var` of an external service the calling test
/// needs (a database server), or `None`. Unset fails the calling test when CI is set, as
/// [`tool_available`] does; elsewhere it prints `SKIPPED` and the caller returns early.
pub fn service_url(var: &str, service: &str, start: &str) -> Option<String> {
    let url = std::env::var(var).ok().filter(|url| !url.is_empty());
    if url.is_none() {
        assert!(
            !in_ci(),
            "{service} is required when CI is set: start one and set {var} ({start})"
        );
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: {var} is not set, the tests against {service} did not run ({start})"
        );
    }
    url
}
