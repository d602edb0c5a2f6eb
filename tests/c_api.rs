//! The C API end to end: the committed header matches cbindgen's output, the static and
//! shared libraries build and export only `otp_` symbols, and the C tests (with the header
//! also compiled as C++17) pass plainly, under valgrind and under ASan + UBSan.
//!
//! Tools that are missing locally (gcc, g++, make, valgrind, nm) skip their test with a
//! message, except when the `CI` environment variable is set: then they fail it.
#![cfg(feature = "ffi")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

mod support;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Where the C libraries and C test binaries go: a target directory of their own (so that
/// the nested cargo does not wait for the lock the running `cargo test` holds) inside the
/// one this test was built in, `CARGO_TARGET_DIR` or not (this binary is
/// `<target>/<profile>/deps/c_api-*`).
fn ffi_target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let target = exe
        .ancestors()
        .nth(3)
        .map_or_else(|| root().join("target"), Path::to_path_buf);
    target.join("ffi")
}

fn generated_header() -> String {
    let config = cbindgen::Config::from_file(root().join("cbindgen.toml")).unwrap();
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(root().join("src/ffi/mod.rs"))
        .generate()
        .expect("cbindgen failed on src/ffi");
    let mut out = Vec::new();
    bindings.write(&mut out);
    String::from_utf8(out).unwrap()
}

#[test]
fn committed_header_is_what_cbindgen_generates() {
    let generated = generated_header();
    let path = root().join("include/otpcore.h");
    if std::env::var_os("OTPCORE_BLESS_HEADER").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "include/otpcore.h is stale: regenerate it with \
         `OTPCORE_BLESS_HEADER=1 cargo test --all-features --test c_api committed_header` \
         and commit it"
    );
}

/// `true` when `tool` runs; otherwise skips (returns `false`) with a message, or fails
/// under CI.
fn have(tool: &str) -> bool {
    let found = Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "{tool} is required when CI is set (.ci/run installs it)"
        );
        eprintln!("SKIPPED: {tool} is not installed; install it to run this C API test");
    }
    found
}

fn run(command: &mut Command) -> Output {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed with {}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

struct Libraries {
    dir: PathBuf,
    /// What `--print native-static-libs` reports: the system libraries the static
    /// library needs on the link line.
    native_static_libs: String,
}

/// Builds `libotpcore.a` and `libotpcore.so` once, with the README's command.
fn libraries() -> &'static Libraries {
    static LIBS: OnceLock<Libraries> = OnceLock::new();
    LIBS.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let target_dir = ffi_target_dir();
        let output = run(Command::new(cargo)
            .current_dir(root())
            .args([
                "rustc",
                "--release",
                "--lib",
                "--features",
                "ffi",
                "--crate-type",
                "staticlib,cdylib",
                "--target-dir",
            ])
            .arg(&target_dir)
            .args(["--", "--print", "native-static-libs", "-C"])
            .arg(format!("link-arg=-Wl,-soname,{}", support::soname())));
        let stderr = String::from_utf8_lossy(&output.stderr);
        let native_static_libs = stderr
            .lines()
            .find_map(|line| line.split("native-static-libs:").nth(1))
            .map(|libs| libs.trim().to_owned())
            .unwrap_or_else(|| panic!("no native-static-libs note in the cargo output:\n{stderr}"));
        // The shared library's SONAME, which the programs linked against it look for.
        support::link_soname(&target_dir.join("release"));
        Libraries {
            dir: target_dir.join("release"),
            native_static_libs,
        }
    })
}

/// Runs a target of tests/c/Makefile against the libraries.
fn make(target: &str) -> Output {
    let libs = libraries();
    let out_dir = ffi_target_dir().join("c");
    std::fs::create_dir_all(&out_dir).unwrap();
    run(Command::new("make")
        .arg("-C")
        .arg(root().join("tests/c"))
        .arg(target)
        .arg(format!("LIBDIR={}", libs.dir.display()))
        .arg(format!("OUT={}", out_dir.display()))
        .arg(format!("NATIVE_LIBS={}", libs.native_static_libs)))
}

#[test]
fn c_tests_pass_against_the_static_library() {
    if have("gcc") && have("make") {
        let output = make("check-static");
        println!("{}", String::from_utf8_lossy(&output.stdout));
    }
}

#[test]
fn c_tests_pass_against_the_shared_library() {
    if have("gcc") && have("make") {
        make("check-shared");
    }
}

#[test]
fn header_compiles_as_cpp17_and_links() {
    if have("g++") && have("make") {
        make("check-cpp");
    }
}

#[test]
fn c_tests_are_clean_under_valgrind() {
    if have("gcc") && have("make") && have("valgrind") {
        make("check-valgrind");
    }
}

#[test]
fn c_tests_are_clean_under_address_and_undefined_behavior_sanitizers() {
    if have("gcc") && have("make") {
        make("check-sanitizers");
    }
}

#[test]
fn c_example_builds_against_the_static_library_and_enrolls_and_verifies() {
    if !(have("gcc") && have("make") && have("pkg-config")) {
        return;
    }
    let libs = libraries();
    let out_dir = ffi_target_dir().join("example");
    std::fs::create_dir_all(&out_dir).unwrap();
    run(Command::new("make")
        .arg("-C")
        .arg(root().join("examples/c"))
        .arg(format!("LIBDIR={}", libs.dir.display()))
        .arg(format!("OUT={}", out_dir.display()))
        .arg(format!("NATIVE_LIBS={}", libs.native_static_libs)));
    let example = out_dir.join("otp_example");
    // The pkg-config build of the same program, against the shared library.
    let via_pkg_config = run(Command::new(out_dir.join("otp_example_pkgconfig")).args([
        "verify",
        "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
        "287082",
        "59",
    ]));
    assert!(String::from_utf8_lossy(&via_pkg_config.stdout).starts_with("valid"));

    let enrolled = run(Command::new(&example).args(["enroll", "alice@example.com"]));
    let stdout = String::from_utf8(enrolled.stdout).unwrap();
    let uri = stdout
        .lines()
        .find(|l| l.starts_with("otpauth://"))
        .expect("enroll prints the key URI");
    assert!(uri.starts_with("otpauth://totp/Deploy%20Portal:alice@example.com?secret="));

    // The code of the RFC 6238 SHA-1 secret at time 59, typed on the command line.
    let secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
    let accepted = Command::new(&example)
        .args(["verify", secret, "287082", "59"])
        .output()
        .unwrap();
    assert!(
        accepted.status.success(),
        "{}",
        String::from_utf8_lossy(&accepted.stderr)
    );
    let refused = Command::new(&example)
        .args(["verify", secret, "287083", "59"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1));
    let malformed = Command::new(&example)
        .args(["verify", secret, "28708x", "59"])
        .output()
        .unwrap();
    assert_eq!(malformed.status.code(), Some(2));
}

/// Runs `command`, returning its exit code and standard output.
fn status_and_stdout(command: &mut Command) -> (Option<i32>, String) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.is_empty() || output.status.code() == Some(2),
        "{stderr}"
    );
    (output.status.code(), stdout)
}

#[test]
fn c_deploy_gate_example_runs_the_flow_and_shares_state_files_with_rust() {
    if !(have("gcc") && have("make")) {
        return;
    }
    let binary = c_deploy_gate("deploy_gate");
    let out_dir = binary.parent().unwrap().to_path_buf();

    // With no arguments: the whole simulated flow, exit 0.
    let (code, demo) = status_and_stdout(&mut Command::new(&binary));
    assert_eq!(code, Some(0), "{demo}");
    for expected in [
        "key URI: otpauth://totp/Deploy%20Portal:alice@example.com?secret=",
        "  enrollment: accepted (step ",
        "  refused: this code was already used",
        "  refused: wrong code",
        "  refused without checking: too many failures, retry in ",
        "  accepted (recovery code 1, 9 left)",
        "  refused: recovery code already used",
    ] {
        assert!(demo.contains(expected), "missing {expected:?} in:\n{demo}");
    }
    assert_eq!(demo.matches("deployed to production").count(), 2, "{demo}");
    let key_line = demo
        .lines()
        .find_map(|l| l.strip_prefix("and type: "))
        .unwrap();
    let groups: Vec<&str> = key_line.split(' ').collect();
    assert!(
        groups.len() == 8 && groups.iter().all(|g| g.len() == 4),
        "{key_line}"
    );

    // Across runs with --state: the C program enrolls, a Rust "phone" computes the code.
    let state = out_dir.join("alice.otp");
    let _ = std::fs::remove_file(&state);
    let gate = |args: &[&str]| {
        let mut command = Command::new(&binary);
        command.arg("--state").arg(&state).args(args);
        status_and_stdout(&mut command)
    };
    let (code, enrolled) = gate(&["--enroll"]);
    assert_eq!(code, Some(0), "{enrolled}");
    let key = std::fs::read_to_string(out_dir.join("alice.otp.key")).unwrap();
    let totp = otpcore::Totp::new(
        &otpcore::Secret::from_base32(key.trim()).unwrap(),
        otpcore::TotpParams::default(),
    )
    .unwrap();
    let now = otpcore::unix_time().unwrap();
    let phone = totp.generate(now).unwrap().to_string();
    let (code, confirmed) = gate(&["--code", &phone]);
    assert_eq!(code, Some(0), "{confirmed}");
    assert!(confirmed.contains("enrollment confirmed."), "{confirmed}");
    let recovery_code = confirmed
        .lines()
        .find_map(|l| l.strip_prefix("  "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_owned();

    // The file is the versioned encoding that Rust reads too.
    let stored = otpcore::UserState::decode(&std::fs::read(&state).unwrap()).unwrap();
    assert_eq!(stored.last_accepted(), Some(totp.step_at(now).unwrap()));
    assert_eq!(stored.recovery.remaining(), 10);

    let (code, replayed) = gate(&["--code", &phone]);
    assert_eq!(code, Some(1), "{replayed}");
    assert!(replayed.contains("already used"), "{replayed}");
    let (code, recovered) = gate(&["--recovery", &recovery_code]);
    assert_eq!(code, Some(0), "{recovered}");
    assert!(recovered.contains("9 left"), "{recovered}");
    // The used recovery code again, more often than the lockout needs: each a replay,
    // refused and never counted.
    for _ in 0..4 {
        let (code, again) = gate(&["--recovery", &recovery_code]);
        assert_eq!(code, Some(1), "{again}");
        assert!(again.contains("already used"), "{again}");
    }
    let stored = otpcore::UserState::decode(&std::fs::read(&state).unwrap()).unwrap();
    assert_eq!(stored.recovery.remaining(), 9);
    assert_eq!(stored.throttle.failures, 0);
    let (code, _) = gate(&["--code"]);
    assert_eq!(code, Some(2));
}

/// Builds the C deploy gate into its own directory under `name`.
fn c_deploy_gate(name: &str) -> PathBuf {
    let libs = libraries();
    let out_dir = ffi_target_dir().join(name);
    std::fs::create_dir_all(&out_dir).unwrap();
    let binary = out_dir.join("deploy_gate");
    run(Command::new("make")
        .arg("-C")
        .arg(root().join("examples/c"))
        .arg(format!("LIBDIR={}", libs.dir.display()))
        .arg(format!("OUT={}", out_dir.display()))
        .arg(format!("NATIVE_LIBS={}", libs.native_static_libs))
        .arg(&binary));
    binary
}

/// The code a phone shows `steps` steps from now for the key the gate stored next to
/// `state`.
fn phone_code(state: &Path, steps: u64) -> String {
    let mut key_path = state.as_os_str().to_owned();
    key_path.push(".key");
    let key = std::fs::read_to_string(key_path).unwrap();
    let totp = otpcore::Totp::new(
        &otpcore::Secret::from_base32(key.trim()).unwrap(),
        otpcore::TotpParams::default(),
    )
    .unwrap();
    let step = totp.step_at(otpcore::unix_time().unwrap()).unwrap();
    totp.generate_at_step(step.checked_add(steps).unwrap())
        .to_string()
}

/// Issue 11: the C gate fails closed. A state file that does not exist is an error (exit
/// 2), with or without a code, and nothing is created; only `--enroll` creates one, and
/// never over an existing user.
#[test]
fn c_deploy_gate_refuses_a_missing_state_file_and_never_enrolls_over_a_user() {
    if !(have("gcc") && have("make")) {
        return;
    }
    let binary = c_deploy_gate("deploy_gate_closed");
    let dir = binary.parent().unwrap().join("closed");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("nobody.otp");
    for args in [
        &["--code", "000000"][..],
        &["--recovery", "0000-0000-0000-0000"],
        &[],
    ] {
        let output = Command::new(&binary)
            .arg("--state")
            .arg(&state)
            .args(args)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("does not exist"), "{stderr}");
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            0,
            "{args:?} created a file"
        );
    }

    let enroll = || {
        Command::new(&binary)
            .arg("--state")
            .arg(&state)
            .arg("--enroll")
            .output()
            .unwrap()
    };
    assert_eq!(enroll().status.code(), Some(0));
    let key = std::fs::read(dir.join("nobody.otp.key")).unwrap();
    let again = enroll();
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists already"));
    assert_eq!(std::fs::read(dir.join("nobody.otp.key")).unwrap(), key);
    // Only the state and the key: no temporary file is left behind.
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 2);
}

/// Issue 11: a valid code is accepted once however many processes race with it. Each
/// round enrolls a user, confirms it with the current step's code, then starts 16
/// processes at once with the next step's code (inside the default window): exactly one
/// exits 0, every other one refuses it (exit 1), and none fails (exit 2).
#[test]
fn c_deploy_gate_accepts_a_code_once_across_16_racing_processes() {
    if !(have("gcc") && have("make")) {
        return;
    }
    let binary = c_deploy_gate("deploy_gate_race");
    let dir = binary.parent().unwrap().join("race");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for round in 0..20 {
        let state = dir.join(format!("user{round}.otp"));
        let gate = |args: &[&str]| {
            let mut command = Command::new(&binary);
            command.arg("--state").arg(&state).args(args);
            command
        };
        let enrolled = gate(&["--enroll"]).output().unwrap();
        assert_eq!(enrolled.status.code(), Some(0), "round {round}");
        let confirmed = gate(&["--code", &phone_code(&state, 0)]).output().unwrap();
        assert_eq!(
            confirmed.status.code(),
            Some(0),
            "round {round}: {}",
            String::from_utf8_lossy(&confirmed.stderr)
        );

        let code = phone_code(&state, 1);
        let racers: Vec<_> = (0..16)
            .map(|_| {
                gate(&["--code", &code])
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let outcomes: Vec<(Option<i32>, String)> = racers
            .into_iter()
            .map(|child| {
                let output = child.wait_with_output().unwrap();
                let text = String::from_utf8_lossy(&output.stdout).into_owned()
                    + &String::from_utf8_lossy(&output.stderr);
                (output.status.code(), text)
            })
            .collect();
        let accepted = outcomes.iter().filter(|(c, _)| *c == Some(0)).count();
        let refused = outcomes.iter().filter(|(c, _)| *c == Some(1)).count();
        assert!(
            accepted == 1 && refused == 15,
            "round {round}: {accepted} accepted, {refused} refused: {outcomes:#?}"
        );
        // The one acceptance is what the state file holds: that step, persisted.
        let stored = otpcore::UserState::decode(&std::fs::read(&state).unwrap()).unwrap();
        let first = std::fs::read_to_string({
            let mut key_path = state.as_os_str().to_owned();
            key_path.push(".key");
            key_path
        })
        .unwrap();
        let totp = otpcore::Totp::new(
            &otpcore::Secret::from_base32(first.trim()).unwrap(),
            otpcore::TotpParams::default(),
        )
        .unwrap();
        let accepted_step = stored.last_accepted().unwrap();
        assert_eq!(totp.generate_at_step(accepted_step).to_string(), code);
    }
    // No temporary file survives any round: a state and a key per user.
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 40);
}

/// The defined global symbols of `path` as `nm` lists them (name per line).
fn defined_symbols(args: &[&str], path: &Path) -> Vec<String> {
    let output = run(Command::new("nm").args(args).arg(path));
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .filter_map(|line| line.split_whitespace().last().map(str::to_owned))
        .filter(|name| !name.ends_with(':') && !name.is_empty())
        .collect()
}

/// The function names the header declares: each `otp_` identifier followed by `(`.
fn header_functions() -> Vec<String> {
    let header = std::fs::read_to_string(root().join("include/otpcore.h")).unwrap();
    let mut names: Vec<String> = header
        .match_indices("otp_")
        .filter(|&(at, _)| !header[..at].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_'))
        .filter_map(|(at, _)| {
            let rest = &header[at..];
            let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))?;
            rest[end..].starts_with('(').then(|| rest[..end].to_owned())
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

#[test]
fn shared_library_exports_exactly_the_header_functions() {
    if !have("nm") {
        return;
    }
    let so = libraries().dir.join("libotpcore.so");
    let mut exported = defined_symbols(&["-D", "--defined-only"], &so);
    exported.sort();
    exported.dedup();
    let declared = header_functions();
    assert!(declared.len() > 30, "{declared:?}");
    assert_eq!(exported, declared);
}

/// Whether `name` is a symbol the Rust compiler gives every crate: mangled Rust names,
/// LLVM's renamed internal constants, and the unwinder's personality reference.
fn is_rust_compiler_symbol(name: &str) -> bool {
    name.starts_with("_ZN")
        || name.starts_with("_R")
        || (name.starts_with("anon.") && name.contains(".llvm."))
        || name == "DW.ref.rust_eh_personality"
}

#[test]
fn static_library_code_of_this_crate_exports_only_otp_symbols() {
    if !have("nm") {
        return;
    }
    let archive = libraries().dir.join("libotpcore.a");
    let output = run(Command::new("nm")
        .args(["-g", "--defined-only", "-A"])
        .arg(&archive));
    let listing = String::from_utf8(output.stdout).unwrap();
    // Lines read `libotpcore.a:MEMBER.o:ADDRESS TYPE NAME`; this crate's members are
    // named `otpcore.otpcore.*` and `otpcore.*`. The members of std and
    // compiler-builtins that every Rust static library carries are outside its control.
    let ours: Vec<&str> = listing
        .lines()
        .filter(|line| {
            line.split(':')
                .nth(1)
                .is_some_and(|member| member.starts_with("otpcore."))
        })
        .filter_map(|line| line.split_whitespace().last())
        .collect();
    let declared = header_functions();
    for name in &declared {
        assert!(
            ours.contains(&name.as_str()),
            "{name} is not in libotpcore.a"
        );
    }
    let foreign: Vec<&&str> = ours
        .iter()
        .filter(|name| !name.starts_with("otp_") && !is_rust_compiler_symbol(name))
        .collect();
    assert!(foreign.is_empty(), "unprefixed symbols: {foreign:?}");
    let undeclared: Vec<&&str> = ours
        .iter()
        .filter(|name| name.starts_with("otp_") && !declared.iter().any(|d| d == **name))
        .collect();
    assert!(
        undeclared.is_empty(),
        "exported but not in the header: {undeclared:?}"
    );
}

/// The `c` code block of the README's "C API" section.
fn readme_c_quickstart() -> String {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let section = readme
        .split("\n## C API\n")
        .nth(1)
        .expect("README has a C API section");
    let block = section
        .split("```c\n")
        .nth(1)
        .expect("the C API section has a c block");
    block.split("```").next().unwrap().to_owned()
}

#[test]
fn readme_c_quickstart_compiles_strictly_and_runs() {
    if !have("gcc") {
        return;
    }
    let libs = libraries();
    let dir = ffi_target_dir().join("readme");
    std::fs::create_dir_all(&dir).unwrap();
    let source = dir.join("quickstart.c");
    std::fs::write(&source, readme_c_quickstart()).unwrap();
    let binary = dir.join("quickstart");
    run(Command::new("gcc")
        .args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-I"])
        .arg(root().join("include"))
        .arg("-o")
        .arg(&binary)
        .arg(&source)
        .arg(libs.dir.join("libotpcore.a"))
        .args(libs.native_static_libs.split_whitespace()));
    let output = run(&mut Command::new(&binary));
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.starts_with("otpauth://totp/Deploy%20Portal:alice@example.com?secret="),
        "{stdout}"
    );
}

#[test]
#[cfg_attr(
    not(all(target_os = "linux", target_env = "gnu")),
    ignore = "the README shows the link line of Linux with glibc"
)]
fn readme_link_line_lists_what_native_static_libs_reports() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let section = readme.split("\n## C API\n").nth(1).unwrap();
    let link_line = section
        .split("libotpcore.a \\\n")
        .nth(1)
        .and_then(|rest| rest.lines().next())
        .expect("the README shows the static link line");
    let shown: Vec<&str> = link_line.split_whitespace().collect();
    let reported: Vec<&str> = libraries().native_static_libs.split_whitespace().collect();
    assert_eq!(shown, reported, "update the README's link line");
}
