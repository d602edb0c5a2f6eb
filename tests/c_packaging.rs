//! The README's C build, link and pkg-config commands, run as written: the build block in
//! the checkout, the rest from a fresh directory holding the README's C quickstart as
//! `app.c`, so the README and reality cannot drift apart: once with `CARGO_TARGET_DIR`
//! unset and once set to another (absolute) directory. Also checks the shared library's
//! SONAME, which the README names.
#![cfg(all(target_os = "linux", target_env = "gnu"))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod support;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The README's "C API" section, up to the next section.
fn c_api_section() -> String {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let section = readme
        .split("\n## C API\n")
        .nth(1)
        .expect("README has a C API section");
    section.split("\n## ").next().unwrap().to_owned()
}

/// The code blocks of `lang` in `text`, in order.
fn blocks(text: &str, lang: &str) -> Vec<String> {
    text.split(&format!("```{lang}\n"))
        .skip(1)
        .map(|block| block.split("```").next().unwrap().to_owned())
        .collect()
}

/// Runs `script` with `sh -e` in `dir`, with neither `PKG_CONFIG_PATH` nor
/// `LD_LIBRARY_PATH` from the environment, so only what the README sets counts, and with
/// `CARGO_TARGET_DIR` set to `target_dir` or unset.
fn sh(dir: &Path, script: &str, target_dir: Option<&Path>) -> Output {
    let mut command = Command::new("sh");
    command
        .args(["-e", "-c", script])
        .current_dir(dir)
        .env_remove("PKG_CONFIG_PATH")
        .env_remove("LD_LIBRARY_PATH");
    match target_dir {
        Some(target_dir) => command.env("CARGO_TARGET_DIR", target_dir),
        None => command.env_remove("CARGO_TARGET_DIR"),
    };
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "the README's commands failed ({}):\n{script}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The dynamic section of an ELF file as `readelf -d` prints it.
fn dynamic_section(path: &Path) -> String {
    let output = Command::new("readelf")
        .arg("-d")
        .arg(path)
        .output()
        .unwrap();
    assert!(output.status.success(), "readelf -d {}", path.display());
    String::from_utf8(output.stdout).unwrap()
}

/// How many times the quickstart ran and printed its key URI.
fn quickstart_runs(output: &Output) -> usize {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|l| l.starts_with("otpauth://totp/Deploy%20Portal:alice@example.com?secret="))
        .count()
}

/// The README's build, link and pkg-config blocks, with `CARGO_TARGET_DIR` unset and then
/// set to a directory outside the checkout's `target` (the `ln` into the library's directory
/// used to miss it).
#[test]
fn readme_c_build_link_and_pkg_config_commands_work_as_written() {
    for (tool, install) in [
        ("cc", "apt-get install gcc"),
        ("make", "apt-get install make"),
        ("pkg-config", "apt-get install pkg-config"),
        ("readelf", "apt-get install binutils"),
    ] {
        if !support::tool_available(tool, Command::new(tool).arg("--version"), install) {
            return;
        }
    }
    readme_c_commands_work_with(None);
    let elsewhere = root().join("target").join("c-packaging-target-dir");
    readme_c_commands_work_with(Some(&elsewhere));
}

/// The README's C commands with `CARGO_TARGET_DIR` set to `target_dir` (absolute) or unset.
fn readme_c_commands_work_with(target_dir: Option<&Path>) {
    let section = c_api_section();
    let sh_blocks = blocks(&section, "sh");
    let [build, link, pkg_config] = &sh_blocks[..] else {
        panic!("the C API section should have 3 sh blocks (build, link, pkg-config)");
    };
    let quickstart = blocks(&section, "c")
        .into_iter()
        .next()
        .expect("the C API section has the quickstart");

    // Build, in the checkout.
    sh(root(), build, target_dir);
    let release = target_dir
        .map_or_else(|| root().join("target"), Path::to_path_buf)
        .join("release");
    let library = release.join("libotpcore.so");
    let soname = support::soname();
    assert!(
        dynamic_section(&library).contains(&format!("Library soname: [{soname}]")),
        "{} has no SONAME {soname}:\n{}",
        library.display(),
        dynamic_section(&library)
    );
    assert!(
        build.contains(&format!(
            "ln -sf libotpcore.so ${{CARGO_TARGET_DIR:-target}}/release/{soname}\n"
        )),
        "the README's build block should link the library to its SONAME {soname}"
    );

    // Link and run, from a fresh project directory.
    let project: PathBuf = root()
        .join("target/tmp")
        .join(format!("c-packaging-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&project);
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(project.join("app.c"), &quickstart).unwrap();
    let placeholder = "OTPCORE=/path/to/otpcore\n";
    assert!(
        link.starts_with(placeholder),
        "the link block sets OTPCORE first"
    );
    let checkout = format!("OTPCORE={}\n", root().display());
    let link = link.replacen(placeholder, &checkout, 1);
    let output = sh(&project, &link, target_dir);
    assert_eq!(quickstart_runs(&output), link.matches("./app\n").count());
    // The last program of the link block is the shared build: it records the SONAME.
    assert!(
        dynamic_section(&project.join("app")).contains(&format!("Shared library: [{soname}]")),
        "the shared build of app does not need {soname}"
    );
    // It was linked against, and runs with, the library of this build.
    assert!(
        dynamic_section(&project.join("app"))
            .contains(&format!("Library runpath: [{}]", release.display())),
        "the shared build of app does not look in {}",
        release.display()
    );

    let output = sh(&project, &format!("{checkout}{pkg_config}"), target_dir);
    assert_eq!(
        quickstart_runs(&output),
        pkg_config.matches("./app\n").count()
    );
    // The last program of the pkg-config block is the static build.
    assert!(!dynamic_section(&project.join("app")).contains("libotpcore"));
    std::fs::remove_dir_all(&project).unwrap();
}
