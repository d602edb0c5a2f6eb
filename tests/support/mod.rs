//! Shared by the integration tests that run the example programs.

use std::path::{Path, PathBuf};
use std::process::Command;

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
