//! The otptool example against oathtool itself: the same stdout and exit status (and the
//! same message on stderr where otptool words it alike) for hundreds of option
//! combinations, plus otptool's documented differences and additions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

mod support;

/// The example, built once per test run.
fn otptool() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| support::build_example("otptool"))
}

/// `true` when oathtool runs; otherwise skips with a message, or fails under CI.
fn have_oathtool() -> bool {
    support::tool_available(
        "oathtool",
        Command::new("oathtool").arg("--version"),
        "apt-get install oathtool",
    )
}

#[test]
fn a_missing_tool_fails_under_ci_and_is_skipped_otherwise() {
    let missing = || Command::new("otpcore-test-no-such-tool");
    assert!(!support::tool_available_in(
        false,
        "otpcore-test-no-such-tool",
        &mut missing(),
        "nothing"
    ));
    let under_ci = std::panic::catch_unwind(|| {
        support::tool_available_in(true, "otpcore-test-no-such-tool", &mut missing(), "nothing")
    });
    assert!(under_ci.is_err(), "a missing tool must fail under CI");
    assert!(support::tool_available_in(
        true,
        "true",
        &mut Command::new("true"),
        "coreutils"
    ));
}

fn run(program: &Path, args: &[String]) -> Output {
    run_in(program, args, "UTC")
}

/// Runs `program` with the time zone `tz`, in which both tools read dates without a zone.
fn run_in(program: &Path, args: &[String], tz: &str) -> Output {
    Command::new(program)
        .args(args)
        .env("TZ", tz)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs both tools; stdout and exit status must match, and stderr too (with the program
/// name swapped) when `same_message`.
fn compare(args: &[String], same_message: bool) {
    compare_in("UTC", args, same_message);
}

/// [`compare`] with both tools in the time zone `tz`.
fn compare_in(tz: &str, args: &[String], same_message: bool) {
    let theirs = run_in(Path::new("oathtool"), args, tz);
    let ours = run_in(otptool(), args, tz);
    assert_eq!(
        (text(&ours.stdout), ours.status.code()),
        (text(&theirs.stdout), theirs.status.code()),
        "TZ={tz} otptool {args:?}\n--- otptool stderr\n{}--- oathtool stderr\n{}",
        text(&ours.stderr),
        text(&theirs.stderr)
    );
    if same_message {
        assert_eq!(
            text(&ours.stderr),
            text(&theirs.stderr).replace("oathtool:", "otptool:"),
            "stderr of {args:?}"
        );
    }
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

const RFC_SHA1: &str = "3132333435363738393031323334353637383930";
const RFC_SHA256: &str = "3132333435363738393031323334353637383930313233343536373839303132";
const RFC_SHA512: &str = "31323334353637383930313233343536373839303132333435363738393031323334353637383930313233343536373839303132333435363738393031323334";

#[test]
fn hotp_generation_matches_for_counters_digits_and_windows() {
    if !have_oathtool() {
        return;
    }
    for key in [RFC_SHA1, RFC_SHA512, "00ff00ff00ff00ff00ffabcdef"] {
        for counter in [
            None,
            Some("0"),
            Some("1"),
            Some("1000000"),
            Some("18446744073709551614"),
        ] {
            for digits in [None, Some("6"), Some("7"), Some("8")] {
                for (window, verbose) in [(None, false), (Some("0"), true), (Some("3"), false)] {
                    let mut a = Vec::new();
                    if verbose {
                        a.push("-v".to_string());
                    }
                    if let Some(c) = counter {
                        a.extend(args(&["-c", c]));
                    }
                    if let Some(d) = digits {
                        a.extend(args(&["--digits", d]));
                    }
                    if let Some(w) = window {
                        a.push(format!("--window={w}"));
                    }
                    a.push(key.into());
                    compare(&a, true);
                }
            }
        }
    }
}

#[test]
fn totp_generation_matches_for_modes_times_steps_and_start_times() {
    if !have_oathtool() {
        return;
    }
    let modes = [
        ("--totp", RFC_SHA1),
        ("--totp=SHA1", RFC_SHA1),
        ("--totp=sha256", RFC_SHA256),
        ("--totp=SHA512", RFC_SHA512),
    ];
    let times = [
        "@59",
        "@1111111109",
        "@1234567890",
        "@2000000000",
        "@20000000000",
        "2009-02-13 23:31:30 UTC",
        "2033-05-18T03:33:20Z",
        "2024-02-29",
    ];
    for (mode, key) in modes {
        for now in times {
            for (step, start) in [("30", "@0"), ("60s", "@0"), ("1m30s", "@15"), ("1h", "@0")] {
                for (digits, verbose) in [("6", "--verbose"), ("8", "--")] {
                    let a = args(&[
                        mode, "-N", now, "-s", step, "-S", start, "-d", digits, "-w", "2", verbose,
                        key,
                    ]);
                    compare(&a, true);
                }
            }
        }
    }
}

#[test]
fn validation_reports_the_same_window_position_or_the_same_miss() {
    if !have_oathtool() {
        return;
    }
    // Codes oathtool generates at known offsets, then validated by both tools from
    // several places and window sizes; plus wrong codes.
    let generate = |a: &[&str]| -> Vec<String> {
        text(&run(Path::new("oathtool"), &args(a)).stdout)
            .lines()
            .map(String::from)
            .collect()
    };
    let hotp_codes = generate(&["-c", "100", "-w", "5", RFC_SHA1]);
    for (offset, code) in hotp_codes.iter().enumerate() {
        for counter in ["98", "100", "103"] {
            for window in ["0", "2", "5", "10"] {
                compare(&args(&["-c", counter, "-w", window, RFC_SHA1, code]), true);
            }
            compare(
                &args(&["-v", "-c", counter, "-w", "3", RFC_SHA1, code]),
                true,
            );
        }
        assert!(offset <= 5);
    }
    let totp_codes = generate(&[
        "--totp",
        "-N",
        "@1111111109",
        "-w",
        "6",
        "-d",
        "8",
        RFC_SHA1,
    ]);
    for code in &totp_codes {
        for now in ["@1111111049", "@1111111109", "@1111111200", "@1111111260"] {
            for window in ["0", "1", "2", "3", "7"] {
                let a = args(&["--totp", "-N", now, "-w", window, RFC_SHA1, code]);
                compare(&a, true);
            }
            compare(
                &args(&["-v", "--totp", "-N", now, "-w", "2", RFC_SHA1, code]),
                true,
            );
        }
    }
    for wrong in ["000000", "99999999", "1234567"] {
        compare(&args(&["-w", "3", RFC_SHA1, wrong]), true);
        compare(
            &args(&["--totp", "-N", "@59", "-w", "4", RFC_SHA1, wrong]),
            true,
        );
    }
}

#[test]
fn argument_forms_and_input_errors_match() {
    if !have_oathtool() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("otptool-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let key_file = dir.join("key");
    std::fs::write(&key_file, format!("{RFC_SHA1}\n")).unwrap();
    let at_key = format!("@{}", key_file.display());
    let cases: &[(&[&str], bool)] = &[
        (&["-c5", RFC_SHA1], true),
        (&["--coun", "5", RFC_SHA1], true),
        (&["--counter=0x10", RFC_SHA1], true),
        (&["-c", "010", RFC_SHA1], true),
        (&["-c", "-1", RFC_SHA1], true),
        (&["-c", "18446744073709551616", RFC_SHA1], true),
        (&[RFC_SHA1, "-c", "2"], true),
        (&["-bc", "1", "JBSWY3DPEHPK3PXP"], true),
        (&["-b", "jbsw y3dp ehpk 3pxp"], true),
        (&["--base32", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"], true),
        (&["-b", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJ="], true),
        (&["--", RFC_SHA1], true),
        (&[&at_key], true),
        (&["-c", "1", &at_key, "287082"], true),
        (
            &["--totp", "-s", "0", "-N", "@59", "-w", "2", RFC_SHA1],
            true,
        ),
        (&["--totp", "-S", "@90", "-N", "@59", RFC_SHA1], true),
        (&["--totp", "-N", "@-5", RFC_SHA1], true),
        (&["--totp", "-N", "@1234567890.5", RFC_SHA1], true),
        (&["--totp", "-N", "1970-01-01 00:00:59 UTC", RFC_SHA1], true),
        (&["--totp", "-N", "2009-02-13 23:31 UTC", RFC_SHA1], true),
        (&["--totp", "-N", "2009-02-13 23:31:30", RFC_SHA1], true),
        (&["--totp", "--now=garbage", RFC_SHA1], true),
        (&["--totp", "-s", "1.5m", RFC_SHA1], true),
        (&["--totp", "-s", "30x", RFC_SHA1], true),
        (&["--totp", "-s", "10S", RFC_SHA1], true),
        (&["-c", "abc", RFC_SHA1], true),
        (&["-w", "abc", RFC_SHA1], true),
        (&["-d", "abc", RFC_SHA1], true),
        (&["-d", "5", RFC_SHA1], false),
        (&["-d", "11", RFC_SHA1], false),
        (&["-d", "5", RFC_SHA1, "75522"], false),
        // An OTP of a length no code has: liboath's message.
        (&[RFC_SHA1, "75522"], true),
        (&["-v", RFC_SHA1, "75522"], true),
        (&["--totp", RFC_SHA1, "1234"], true),
        (&[RFC_SHA1, "12345678901"], true),
        (&[RFC_SHA1, ""], true),
        // Errors in oathtool's order: numbers, key, digits, parameters; times only for TOTP,
        // after the first -v lines.
        (&["-c", "abc", "31323g"], true),
        (&["-d", "9", "31323g"], true),
        (&["-d", "5", RFC_SHA1, "1", "2"], false),
        (&[RFC_SHA1, "1", "2"], true),
        (&["-N", "garbage", "-s", "30x", "-S", "x", RFC_SHA1], true),
        (&["-v", "--totp", "-s", "30x", RFC_SHA1], true),
        (
            &["-v", "--totp", "-s", "30x", "-N", "garbage", RFC_SHA1],
            true,
        ),
        (
            &["-v", "--totp", "-S", "garbage2", "-s", "30x", RFC_SHA1],
            true,
        ),
        (&["-v", "--totp", "-N", "2024-02-30T00:00Z", RFC_SHA1], true),
        (&["--totp", "-N", "2023-02-29", RFC_SHA1], true),
        (&["--totp", "-N", "1999-12-31 23:59:60 UTC", RFC_SHA1], true),
        (&["-v", "-b", "JBSWY3DPEHPK3PXPAB"], true),
        (&["-v", "-c", "18446744073709551615", RFC_SHA1], true),
        (&["-v", "--totp", "-N", "@-35", RFC_SHA1], true),
        (&["-v", "--totp", "-S", "@90", "-N", "@59", RFC_SHA1], true),
        // The largest time oathtool takes (its -v cannot show the date), one below the
        // smallest, and a five-digit year.
        (&["--totp", "-N", "@9223372036854775807", RFC_SHA1], true),
        (&["-v", "--totp", "-N", "@253402300800", RFC_SHA1], true),
        (&["--totp", "-N", "@-9223372036854775809", RFC_SHA1], true),
        (&["31323"], true),
        (&["31323g"], true),
        (&[RFC_SHA1, "abcdef"], true),
        (&[RFC_SHA1, "7552244"], true),
        (&["-d", "6", RFC_SHA1, "7552244"], true),
        (&[RFC_SHA1, "755224", "extra"], true),
        (&["-b", "JBSWY3DPEHPK3PXP===="], false),
        (&["--nosuch", RFC_SHA1], false),
        (&["-x", RFC_SHA1], false),
        (&["-c"], false),
    ];
    for (a, same_message) in cases {
        compare(&args(a), *same_message);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn no_arguments_prints_help_and_succeeds_like_oathtool() {
    if !have_oathtool() {
        return;
    }
    let theirs = run(Path::new("oathtool"), &[]);
    let ours = run(otptool(), &[]);
    assert_eq!(ours.status.code(), theirs.status.code());
    assert!(text(&ours.stdout).starts_with("Usage: otptool [OPTION]... [KEY [OTP]]"));
    for option in [
        "--hotp",
        "--totp[=MODE]",
        "--base32",
        "--counter",
        "--digits",
    ] {
        assert!(text(&ours.stdout).contains(option), "{option}");
    }
}

#[test]
fn key_and_otp_are_read_from_standard_input_with_a_dash() {
    use std::io::Write;
    let mut child = Command::new(otptool())
        .args(["-c", "1", RFC_SHA1, "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"287082\n").unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(
        (text(&output.stdout).as_str(), output.status.code()),
        ("0\n", Some(0))
    );
}

#[test]
fn a_key_uri_gives_the_key_and_settings() {
    let uri = "otpauth://totp/ACME:alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&digits=8&period=60&issuer=ACME";
    // RFC 6238 SHA-1 at time 59 with 60-second steps is step 0: RFC 4226 counter 0, 8 digits.
    let out = run(otptool(), &args(&["--uri", uri, "-N", "@59"]));
    assert_eq!(
        (text(&out.stdout).as_str(), out.status.code()),
        ("84755224\n", Some(0))
    );
    let hotp = "otpauth://hotp/alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&counter=1";
    let out = run(otptool(), &args(&["--uri", hotp, "-w", "1"]));
    assert_eq!(text(&out.stdout), "287082\n359152\n");
    let out = run(otptool(), &args(&["--uri", hotp, "-w", "1", "359152"]));
    assert_eq!(
        (text(&out.stdout).as_str(), out.status.code()),
        ("1\n", Some(0))
    );
    let out = run(otptool(), &args(&["--uri", "otpauth://totp/x?digits=6"]));
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("invalid key URI"));
}

#[test]
fn documented_differences_are_errors_rather_than_surprises() {
    for (a, message) in [
        (&["0102030405"][..], "unusable secret key"),
        (&[""][..], "unusable secret key"),
        (&["-b", "JBSWY3DPEHPK3PX="][..], "unusable secret key"),
        (&["--totp=md5", RFC_SHA1][..], "unknown TOTP mode"),
        (&["-w", "-1", RFC_SHA1][..], "window must not be negative"),
        (
            &["-w", "10001", RFC_SHA1, "755224"][..],
            "validation window may be at most",
        ),
    ] {
        let out = run(otptool(), &args(a));
        assert_eq!(out.status.code(), Some(1), "{a:?}");
        assert!(
            text(&out.stderr).contains(message),
            "{a:?}: {}",
            text(&out.stderr)
        );
        assert!(out.stdout.is_empty());
    }
    // Base32 keys may be grouped with '-', as services print them.
    let out = run(
        otptool(),
        &args(&["-b", "GEZD-GNBV-GY3T-QOJQ-GEZD-GNBV-GY3T-QOJQ"]),
    );
    assert_eq!(text(&out.stdout), "755224\n");
}

#[test]
fn watch_with_a_bound_shows_the_current_code_and_stops() {
    let out = run(
        otptool(),
        &args(&["--watch", "--watch-seconds=0", "-b", "JBSWY3DPEHPK3PXP"]),
    );
    assert_eq!(out.status.code(), Some(0));
    let shown = text(&out.stdout);
    let code: String = shown.trim_start_matches('\r').chars().take(6).collect();
    assert!(code.chars().all(|c| c.is_ascii_digit()), "{shown:?}");
    assert!(
        shown.contains('█') && shown.trim_end().ends_with('s'),
        "{shown:?}"
    );
}

#[test]
fn dates_without_a_zone_are_local_time_as_in_oathtool() {
    if !have_oathtool() {
        return;
    }
    for tz in ["Europe/Berlin", "America/New_York", "Asia/Kolkata", "UTC"] {
        for now in [
            "2009-02-13 23:31:30",
            "2024-07-01 12:00",
            "2024-02-29",
            "2009-02-13T23:31:30",
            "2009-02-13 23:31:30 UTC",
            // Skipped by the change to summer time in New York: neither tool reads it.
            "2024-03-10 02:30:00",
        ] {
            compare_in(tz, &args(&["-v", "--totp", "-N", now, RFC_SHA1]), true);
            compare_in(
                tz,
                &args(&["--totp", "-S", now, "-N", "@2000000000", RFC_SHA1]),
                true,
            );
        }
    }
}

#[test]
fn nine_and_ten_digits_and_times_to_u64_max_go_beyond_oathtool() {
    // RFC 4226 Appendix D: counter 0 truncates to 1284755224.
    for (digits, code) in [("9", "284755224\n"), ("10", "1284755224\n")] {
        let out = run(otptool(), &args(&["-d", digits, RFC_SHA1]));
        assert_eq!(
            (text(&out.stdout).as_str(), out.status.code()),
            (code, Some(0))
        );
        let out = run(otptool(), &args(&[RFC_SHA1, code.trim_end()]));
        assert_eq!(
            (text(&out.stdout).as_str(), out.status.code()),
            ("0\n", Some(0))
        );
    }
    let secret = otpcore::Secret::from_bytes(b"12345678901234567890").unwrap();
    let at_step = |step: u64| {
        let params = otpcore::TotpParams {
            period: 1,
            ..otpcore::TotpParams::default()
        };
        format!(
            "{}\n",
            otpcore::Totp::new(&secret, params)
                .unwrap()
                .generate_at_step(step)
        )
    };
    for seconds in [9_223_372_036_854_775_808u64, u64::MAX - 30, u64::MAX] {
        let now = format!("@{seconds}");
        let out = run(otptool(), &args(&["--totp", "-N", &now, RFC_SHA1]));
        assert_eq!(text(&out.stdout), at_step(seconds / 30), "{now}");
        let out = run(otptool(), &args(&["-v", "--totp", "-N", &now, RFC_SHA1]));
        let step = seconds / 30;
        assert!(
            text(&out.stdout).contains(&format!("\nCounter: 0x{step:X} ({step})\n")),
            "{}",
            text(&out.stdout)
        );
    }
    let out = run(
        otptool(),
        &args(&["--totp", "-N", "@18446744073709551616", RFC_SHA1]),
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn a_key_uri_with_a_long_label_is_read() {
    let account = "a".repeat(3000);
    let uri = format!(
        "otpauth://totp/{}:{account}?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer={}",
        "I".repeat(200),
        "I".repeat(200)
    );
    let out = run(otptool(), &args(&["--uri", &uri, "-N", "@59"]));
    assert_eq!(
        (text(&out.stdout).as_str(), out.status.code()),
        ("287082\n", Some(0)),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn options_that_uri_or_watch_would_not_use_are_errors() {
    let totp_uri = "otpauth://totp/alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
    let hotp_uri = "otpauth://hotp/alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&counter=1";
    let cases: &[(&[&str], &str)] = &[
        (
            &["--uri", totp_uri, "-b"],
            "--base32 cannot be used with --uri",
        ),
        (
            &["--uri", totp_uri, "--hotp"],
            "--hotp cannot be used with --uri",
        ),
        (
            &["--uri", totp_uri, "--totp=sha256"],
            "--totp cannot be used with --uri",
        ),
        (
            &["--uri", totp_uri, "-d", "8"],
            "--digits cannot be used with --uri",
        ),
        (
            &["--uri", totp_uri, "-s", "60"],
            "--time-step-size cannot be used with --uri",
        ),
        (
            &["--uri", totp_uri, "-c", "5"],
            "--counter only applies to an HOTP key URI",
        ),
        (
            &["--uri", hotp_uri, "-N", "@59"],
            "--now only applies to a TOTP key URI",
        ),
        (
            &["--uri", hotp_uri, "-S", "@0"],
            "--start-time only applies to a TOTP key URI",
        ),
        (
            &["--uri", hotp_uri, "--watch"],
            "--watch only applies to a TOTP key URI",
        ),
        (
            &["--watch", "-w", "3", RFC_SHA1],
            "--window cannot be used with --watch",
        ),
        (
            &["--watch", "-c", "3", RFC_SHA1],
            "--counter cannot be used with --watch",
        ),
        (
            &["--watch", "-N", "@59", RFC_SHA1],
            "--now cannot be used with --watch",
        ),
        (
            &["--watch", "-v", RFC_SHA1],
            "--verbose cannot be used with --watch",
        ),
        (
            &["--watch", "--hotp", RFC_SHA1],
            "--hotp cannot be used with --watch",
        ),
        (
            &["--watch", RFC_SHA1, "755224"],
            "an OTP to validate cannot be used with --watch",
        ),
        (
            &["--watch", "--uri", totp_uri, "755224"],
            "an OTP to validate cannot",
        ),
        (
            &["--watch-seconds=1", RFC_SHA1],
            "--watch-seconds needs --watch",
        ),
    ];
    for (a, message) in cases {
        let out = run(otptool(), &args(a));
        assert_eq!(out.status.code(), Some(1), "{a:?}");
        assert!(
            text(&out.stderr).contains(message),
            "{a:?}: {}",
            text(&out.stderr)
        );
        assert!(out.stdout.is_empty(), "{a:?}");
    }
    // -c with an HOTP URI is the current counter, which the URI does not hold.
    let out = run(otptool(), &args(&["--uri", hotp_uri, "-c", "2"]));
    assert_eq!(text(&out.stdout), "359152\n");
}
