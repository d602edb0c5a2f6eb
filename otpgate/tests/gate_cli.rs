//! `otpgate` as a pipeline sees it: the command contract (exit codes, JSON, messages), the
//! enrollment screen, the key file, the demo, and failing closed on every fault.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod gate_support;

use gate_support::{Env, code, phone, step_now};

#[test]
fn the_demo_walks_through_every_step_of_the_gate() {
    let env = Env::new("demo");
    let run = env.run(&["demo"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let expected_in_order = [
        "== 1. Enroll alice@example.com",
        "otpauth://totp/Deploy%20Portal:alice@example.com?secret=",
        "confirmed; the recovery codes were committed",
        "fresh code",
        "accepted (drift 0)",
        "build 1.4.2 deployed",
        "refused: this code was already used",
        "refused: wrong code",
        "refused: too many failures: throttled",
        "not allowed",
        "accepted (9 left)",
        "refused: this recovery code was already used",
        "check accepted drift=0 action=\"deploy build 1.4.2\"",
        "recover recovery-code-used",
    ];
    let mut rest = run.stdout.as_str();
    for line in expected_in_order {
        let at = rest
            .find(line)
            .unwrap_or_else(|| panic!("{line:?} missing (in order) from:\n{}", run.stdout));
        rest = &rest[at + line.len()..];
    }
    assert!(!env.db.exists(), "the demo runs in memory");
}

/// The screen as an 80-column terminal shows it: escape sequences take no room, and a line
/// longer than 80 characters takes more than one row.
fn rows_on_80_columns(text: &str) -> usize {
    text.lines()
        .map(|line| {
            let width = strip_ansi(line).chars().count();
            width.div_ceil(80).max(1)
        })
        .sum()
}

fn strip_ansi(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Checks that every QR row of `screen` sets black on bright white itself (so the
/// terminal's colours do not matter) and that the rows decode back to the QR code of
/// `uri`, quiet zone included.
fn assert_qr_code_of(screen: &str, uri: &str) {
    let qr_rows: Vec<&str> = screen
        .lines()
        .filter(|l| l.starts_with("\x1b[30;107m"))
        .collect();
    let matrix = qrcode::QrCode::with_error_correction_level(uri, qrcode::EcLevel::L).unwrap();
    let width = matrix.width();
    assert_eq!(qr_rows.len(), (width + 4).div_ceil(2));
    let colors = matrix.to_colors();
    let dark = |x: usize, y: usize| {
        x >= 2 && y >= 2 && x - 2 < width && y - 2 < width && {
            colors[(y - 2) * width + (x - 2)] == qrcode::Color::Dark
        }
    };
    for (row, line) in qr_rows.iter().enumerate() {
        let cells: Vec<char> = line["\x1b[30;107m".len()..]
            .split("\x1b[0m")
            .next()
            .unwrap()
            .chars()
            .collect();
        assert_eq!(cells.len(), width + 4);
        for (x, cell) in cells.iter().enumerate() {
            let expected = match (dark(x, 2 * row), dark(x, 2 * row + 1)) {
                (true, true) => '█',
                (true, false) => '▀',
                (false, true) => '▄',
                (false, false) => ' ',
            };
            assert_eq!(*cell, expected, "row {row}, column {x}");
        }
    }
}

const HINT: &str = "(taller than a 24-line terminal";

#[test]
fn enrollment_fits_a_terminal_and_its_qr_code_has_explicit_colours() {
    let env = Env::new("enroll-screen");
    let svg = env.dir.join("alice.svg");
    let run = env.run(&["enroll", "alice", "--qr-svg", svg.to_str().unwrap()]);
    assert_eq!(run.code, Some(0), "{run:?}");
    // One row left for the shell prompt on a 24-line terminal.
    let rows = rows_on_80_columns(&run.stdout);
    assert!(rows <= 23, "{rows} rows:\n{}", run.stdout);
    assert!(!run.stdout.contains(HINT));
    let uri = run.stdout.lines().last().unwrap();
    assert!(
        uri.starts_with("otpauth://totp/otpgate:alice?secret="),
        "{uri}"
    );
    assert_qr_code_of(&run.stdout, uri);
    let image = std::fs::read_to_string(&svg).unwrap();
    assert!(
        image.starts_with("<?xml") && image.contains("<svg"),
        "{image}"
    );

    // The key in groups of four, the same secret as the URI's.
    let secret = uri
        .split("secret=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let grouped: Vec<String> = secret
        .as_bytes()
        .chunks(4)
        .map(|g| String::from_utf8(g.to_vec()).unwrap())
        .collect();
    assert!(
        run.stdout.contains(&grouped[..4].join(" ")),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(&grouped[4..].join(" ")),
        "{}",
        run.stdout
    );
}

#[test]
fn an_enrollment_taller_than_the_terminal_ends_saying_how_to_see_it() {
    let env = Env::new("enroll-long");
    let run = env.run(&[
        "enroll",
        "alice.long-name@example.com",
        "--issuer",
        "Deploy Portal",
    ]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(rows_on_80_columns(&run.stdout) > 23);
    let mut lines = run.stdout.lines().rev();
    assert!(lines.next().unwrap().starts_with(HINT), "{}", run.stdout);
    let uri = lines.next().unwrap();
    assert!(uri.starts_with("otpauth://totp/Deploy%20Portal:alice.long-name@example.com?"));
    assert_qr_code_of(&run.stdout, uri);
}

#[cfg(unix)]
#[test]
fn the_key_file_is_private_and_never_overwritten() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new("key-file");
    env.enroll("alice");
    let key = std::fs::read_to_string(env.key_file()).unwrap();
    assert_eq!(key.trim().len(), 64);
    for path in [env.key_file(), env.db.clone()] {
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{} is {mode:o}", path.display());
    }
    env.enroll("bob");
    assert_eq!(std::fs::read_to_string(env.key_file()).unwrap(), key);
}

#[test]
fn a_pipeline_gets_exit_codes_json_and_reasons() {
    let env = Env::new("contract");
    let (phone, recovery) = env.activate("alice");
    let status = env.status("alice");
    assert_eq!(status["status"], "active");
    assert_eq!(status["recovery_codes_left"], 10);

    let fresh = code(&phone, step_now(&phone));
    let run = env.run(&[
        "--json",
        "check",
        "alice",
        &fresh,
        "--action",
        "deploy 1.4.2",
    ]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.json()["result"], "accepted");

    let run = env.run(&["check", "alice", &fresh]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stderr.contains("already used"), "{run:?}");
    let run = env.run(&["--json", "check", "alice", "000000"]);
    assert_eq!(run.code, Some(1));
    assert_eq!(run.json()["reason"], "wrong");
    assert!(run.stderr.contains("wrong code"), "{run:?}");

    let run = env.run(&[
        "--json",
        "recover",
        "alice",
        &recovery[0],
        "--action",
        "hotfix",
    ]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.json()["recovery_codes_left"], 9);
    // A used recovery code again, more often than the lockout needs: refused as used,
    // never counted.
    for _ in 0..6 {
        let run = env.run(&["--json", "recover", "alice", &recovery[0]]);
        assert_eq!(run.code, Some(1));
        assert_eq!(run.json()["reason"], "recovery-code-used", "{run:?}");
        assert!(run.stderr.contains("already used"), "{run:?}");
    }
    assert_eq!(
        env.status("alice")["failures"],
        0,
        "replays are not failures"
    );

    let next = code(&phone, step_now(&phone) + 1);
    let run = env.run(&["--json", "recovery-codes", "alice", &next]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.json()["recovery_codes"].as_array().unwrap().len(), 10);
    assert_eq!(env.run(&["recover", "alice", &recovery[1]]).code, Some(1));

    let run = env.run(&["--json", "log", "alice"]);
    assert_eq!(run.code, Some(0));
    let entries = run.json()["entries"].as_array().unwrap().clone();
    let check = entries.iter().find(|e| e["event"] == "check").unwrap();
    assert_eq!(check["action"], "deploy 1.4.2");
    assert_eq!(check["outcome"], "accepted");

    // Usage errors are exit 2 as well.
    assert_eq!(env.run(&["check", "alice"]).code, Some(2));
    assert_eq!(env.run(&["frobnicate"]).code, Some(2));
}

/// The shared activation survives a step boundary between computing the confirmation's
/// code and the process checking it, forced here: the first confirmation waits for the
/// next step before it runs, so the process refuses the code (two steps back) as wrong;
/// the helper enrolls again and confirms, and the user ends active with no failure and a
/// fresh current-step code, as if no boundary had passed.
#[test]
fn activation_survives_a_step_boundary_before_the_confirmation() {
    let env = Env::new("boundary");
    let confirmations = std::cell::Cell::new(0);
    let run = |args: &[&str]| {
        if args.get(1) == Some(&"confirm") {
            confirmations.set(confirmations.get() + 1);
            if confirmations.get() == 1 {
                let code = args[3];
                let status = env.run(&["--json", "status", "alice"]);
                assert_eq!(status.json()["status"], "pending");
                let step = |now: u64| now / 30;
                let start = step(otpcore::unix_time().unwrap());
                while step(otpcore::unix_time().unwrap()) == start {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                let refused = env.run(&["--json", "confirm", "alice", code]);
                assert_eq!(refused.json()["reason"], "wrong", "{refused:?}");
                return refused;
            }
        }
        env.run(args)
    };
    let (phone, confirmed) = gate_support::activate_with(run, "alice", &[]);
    assert_eq!(confirmations.get(), 2);
    assert_eq!(
        confirmed.json()["recovery_codes"].as_array().unwrap().len(),
        10
    );
    let status = env.status("alice");
    assert_eq!(status["status"], "active");
    assert_eq!(status["failures"], 0);
    let run = env.run(&["check", "alice", &code(&phone, step_now(&phone))]);
    assert_eq!(run.code, Some(0), "{run:?}");
}

#[test]
fn a_throttled_user_is_told_when_to_retry_and_a_reset_lets_the_user_in() {
    let env = Env::new("throttle");
    let (phone, _) = env.activate("alice");
    let mut last = None;
    for _ in 0..20 {
        let run = env.run(&["--json", "check", "alice", "000000"]);
        assert_eq!(run.code, Some(1));
        if run.json()["reason"] == "throttled" {
            last = Some(run);
            break;
        }
    }
    let run = last.expect("never throttled");
    assert!(run.stderr.contains("retry in"), "{run:?}");
    assert!(run.json()["retry_at"].as_u64().unwrap() > 0);
    let fresh = code(&phone, step_now(&phone));
    assert_eq!(env.run(&["check", "alice", &fresh]).code, Some(1));
    assert_eq!(env.run(&["reset", "alice"]).code, Some(0));
    let run = env.run(&["check", "alice", &fresh]);
    assert_eq!(run.code, Some(0), "{run:?}");
}

#[test]
fn the_database_and_key_file_come_from_the_environment_too() {
    let env = Env::new("env-vars");
    let key = env.dir.join("elsewhere.key");
    let run: gate_support::Run = std::process::Command::new(gate_support::BIN)
        .env("OTPGATE_DB", &env.db)
        .env("OTPGATE_KEY_FILE", &key)
        .args(["--json", "enroll", "alice"])
        .output()
        .unwrap()
        .into();
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(env.db.exists() && key.exists() && !env.key_file().exists());
}

/// Runs `args` and checks that it fails with `exit` and a message naming the fault.
fn fails(env: &Env, args: &[&str], exit: i32, message: &str) {
    let run = env.run(args);
    assert_eq!(run.code, Some(exit), "{args:?}: {run:?}");
    assert!(
        run.stderr.contains(message),
        "{args:?}: {message:?} missing: {run:?}"
    );
    assert!(!run.stdout.contains("accepted"), "{run:?}");
}

#[test]
fn a_missing_database_unknown_or_pending_user_fails_closed() {
    let env = Env::new("closed-basic");
    fails(&env, &["check", "alice", "123456"], 2, "no gate database");
    assert!(!env.db.exists(), "check never creates a database");
    let pending = env.enroll("pending");
    let (_, _) = env.activate("alice");
    fails(&env, &["check", "nobody", "123456"], 2, "unknown user");
    fails(&env, &["status", "nobody"], 2, "unknown user");
    let right = code(&pending, step_now(&pending));
    fails(&env, &["check", "pending", &right], 1, "not confirmed");
    fails(&env, &["enroll", "alice"], 2, "already enrolled");
}

#[test]
fn a_damaged_or_tampered_record_fails_closed() {
    let env = Env::new("closed-records");
    let (alice, _) = env.activate("alice");
    env.activate("bob");
    let fresh = code(&alice, step_now(&alice));
    let sql = env.sql();
    let row = |user: &str| -> (i64, Vec<u8>) {
        sql.query_row(
            "SELECT version, record FROM users WHERE user = ?1",
            [user],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
    };
    let (version, original) = row("alice");
    let restore = || {
        sql.execute(
            "UPDATE users SET version = ?1, record = ?2 WHERE user = 'alice'",
            rusqlite::params![version, original],
        )
        .unwrap();
    };
    let cases: [(&str, &str); 4] = [
        (
            "UPDATE users SET record = x'0102' WHERE user = 'alice'",
            "corrupt",
        ),
        (
            "UPDATE users SET record = 'text' WHERE user = 'alice'",
            "cannot be read",
        ),
        (
            "UPDATE users SET record = (SELECT record FROM users WHERE user = 'bob')
             WHERE user = 'alice'",
            "tampered",
        ),
        (
            "UPDATE users SET version = version + 1 WHERE user = 'alice'",
            "tampered",
        ),
    ];
    for (update, message) in cases {
        sql.execute(update, []).unwrap();
        fails(&env, &["check", "alice", &fresh], 2, message);
        fails(&env, &["status", "alice"], 2, message);
        restore();
    }
    // An older sealed state of the same user (before a failure was counted) put back.
    let run = env.run(&["check", "alice", "000000"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    sql.execute(
        "UPDATE users SET record = ?1 WHERE user = 'alice'",
        [&original],
    )
    .unwrap();
    fails(&env, &["check", "alice", &fresh], 2, "tampered");
    restore();
    let run = env.run(&["check", "alice", &fresh]);
    assert_eq!(run.code, Some(0), "restored, the code is unused: {run:?}");
}

#[test]
fn help_where_a_code_should_be_is_never_an_accepted_exit() {
    let env = Env::new("closed-help");
    let (alice, _) = env.activate("alice");
    // What a deployer might type at the pipeline's prompt, or a CI variable might hold.
    for args in [
        &["check", "alice", "--help"][..],
        &["check", "alice", "-h"],
        &["check", "alice", "-h123"],
        &["check", "--help", "alice", "123456"],
        &["check", "alice", "123456", "--json", "--help"],
        &["recover", "alice", "--help"],
        &["confirm", "alice", "-h"],
        &["recovery-codes", "alice", "--help"],
        &["check", "alice", "--version"],
    ] {
        let run = env.run(args);
        assert_eq!(run.code, Some(2), "{args:?}: {run:?}");
    }
    // Nothing was decided: the next code still passes.
    let fresh = code(&alice, step_now(&alice));
    assert_eq!(env.run(&["check", "alice", &fresh]).code, Some(0));
    // Help asked for on its own is not an error.
    for args in [&["--help"][..], &["help", "check"], &["--version"]] {
        let run = env.run(args);
        assert_eq!(run.code, Some(0), "{args:?}: {run:?}");
    }
}

#[test]
fn only_an_enrollment_sets_up_a_server_key() {
    let env = Env::new("closed-new-key");
    // A database file without a key check (say, created empty by hand): a check is an
    // error that says the database is not set up, and writes no key file.
    std::fs::write(&env.db, b"").unwrap();
    fails(&env, &["check", "alice", "123456"], 2, "is not set up");
    assert!(!env.key_file().exists(), "only enroll creates a key");
    env.enroll("alice");
    assert!(env.key_file().exists());
}

#[test]
fn a_wrong_missing_or_malformed_server_key_fails_closed() {
    let env = Env::new("closed-key");
    let (alice, _) = env.activate("alice");
    let fresh = code(&alice, step_now(&alice));
    let key = std::fs::read_to_string(env.key_file()).unwrap();
    std::fs::write(env.key_file(), "00".repeat(32)).unwrap();
    fails(
        &env,
        &["check", "alice", &fresh],
        2,
        "not the one this database",
    );
    std::fs::write(env.key_file(), "not a key").unwrap();
    fails(
        &env,
        &["check", "alice", &fresh],
        2,
        "64 hexadecimal digits",
    );
    std::fs::remove_file(env.key_file()).unwrap();
    fails(&env, &["check", "alice", &fresh], 2, "is missing");
    fails(&env, &["enroll", "carol"], 2, "is missing");
    assert!(!env.key_file().exists(), "a missing key is never replaced");
    std::fs::write(env.key_file(), key).unwrap();
    // Put back as a new file (the umask's mode), it is refused until private again.
    #[cfg(unix)]
    {
        fails(
            &env,
            &["check", "alice", &fresh],
            2,
            "readable by its owner only",
        );
        std::fs::set_permissions(
            env.key_file(),
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .unwrap();
    }
    let run = env.run(&["check", "alice", &fresh]);
    assert_eq!(run.code, Some(0), "{run:?}");
}

#[test]
fn a_read_only_database_fails_closed() {
    let env = Env::new("closed-read-only");
    let (alice, _) = env.activate("alice");
    let fresh = code(&alice, step_now(&alice));
    let uri = format!("file:{}?mode=ro", env.db.display());
    let key = env.key_file();
    let run: gate_support::Run = std::process::Command::new(gate_support::BIN)
        .args([
            "--db",
            &uri,
            "--key-file",
            key.to_str().unwrap(),
            "check",
            "alice",
            &fresh,
        ])
        .output()
        .unwrap()
        .into();
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("read-only"), "{run:?}");
    // Nothing was recorded, so the code is still good.
    let run = env.run(&["check", "alice", &fresh]);
    assert_eq!(run.code, Some(0), "{run:?}");
}

#[test]
fn json_output_is_one_object_for_errors_too() {
    let env = Env::new("json-errors");
    let run = env.run(&["--json", "check", "alice", "123456"]);
    assert_eq!(run.code, Some(2));
    let value = run.json();
    assert_eq!(value["result"], "error");
    assert!(
        value["error"]
            .as_str()
            .unwrap()
            .contains("no gate database")
    );
    let secret = env.run(&["--json", "enroll", "alice"]).json()["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let p = phone(&secret);
    let run = env.run(&["--json", "check", "alice", &code(&p, step_now(&p))]);
    assert_eq!(run.code, Some(1));
    assert_eq!(run.json()["reason"], "not-confirmed");
}

#[test]
fn a_backup_is_a_working_database_and_never_overwrites_a_file() {
    let env = Env::new("backup");
    let (phone, _) = env.activate("alice");
    let copy = env.dir.join("copy.db");
    let run = env.run(&["backup", copy.to_str().unwrap()]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let from_copy = |args: &[&str]| -> gate_support::Run {
        std::process::Command::new(gate_support::BIN)
            .arg("--db")
            .arg(&copy)
            .arg("--key-file")
            .arg(env.key_file())
            .args(args)
            .output()
            .unwrap()
            .into()
    };
    let run = from_copy(&["--json", "status", "alice"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.json()["status"], "active");
    let fresh = code(&phone, step_now(&phone));
    assert_eq!(from_copy(&["check", "alice", &fresh]).code, Some(0));
    let before = std::fs::read(&copy).unwrap();
    fails(&env, &["backup", copy.to_str().unwrap()], 2, "cannot write");
    assert_eq!(std::fs::read(&copy).unwrap(), before);
}

/// The QR rows of an enrollment screen as a camera would see them on a terminal with
/// background `terminal` (0 black, 255 white): each character cell 4 pixels wide and 8
/// tall (two modules), the colours the rows set themselves, a margin of terminal
/// background around.
fn photograph(screen: &str, terminal: u8) -> (usize, usize, Vec<u8>) {
    const MARGIN: usize = 24;
    let rows: Vec<Vec<char>> = screen
        .lines()
        .filter_map(|l| l.strip_prefix("\x1b[30;107m"))
        .map(|l| l.split("\x1b[0m").next().unwrap().chars().collect())
        .collect();
    let (w, h) = (rows[0].len() * 4 + 2 * MARGIN, rows.len() * 8 + 2 * MARGIN);
    let mut pixels = vec![terminal; w * h];
    for (r, row) in rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            let (top, bottom) = match cell {
                '█' => (0, 0),
                '▀' => (0, 255),
                '▄' => (255, 0),
                ' ' => (255, 255),
                other => panic!("{other:?} in a QR row"),
            };
            for dy in 0..8 {
                for dx in 0..4 {
                    let (x, y) = (MARGIN + c * 4 + dx, MARGIN + r * 8 + dy);
                    pixels[y * w + x] = if dy < 4 { top } else { bottom };
                }
            }
        }
    }
    (w, h, pixels)
}

#[test]
fn the_terminal_qr_code_scans_on_light_and_dark_terminals() {
    let env = Env::new("scan");
    for (user, issuer) in [
        ("alice", "otpgate"),
        ("alice.long-name@example.com", "Deploy Portal"),
    ] {
        let run = env.run(&["enroll", user, "--issuer", issuer]);
        assert_eq!(run.code, Some(0), "{run:?}");
        let uri = run
            .stdout
            .lines()
            .find(|l| l.starts_with("otpauth://"))
            .unwrap();
        for terminal in [0u8, 255] {
            let (w, h, pixels) = photograph(&run.stdout, terminal);
            let mut image =
                rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| pixels[y * w + x]);
            let grids = image.detect_grids();
            assert_eq!(grids.len(), 1, "background {terminal}: no QR code found");
            let (_, content) = grids[0].decode().unwrap();
            assert_eq!(content, uri, "background {terminal}");
        }
    }
}
