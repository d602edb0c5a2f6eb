//! The deploy gate: a second factor before "Transport to Production". Enrolls a user (key in
//! groups of four, key URI and a QR code in the terminal), confirms the enrollment, hands out
//! recovery codes, then gates a deployment: a fresh code passes, a replayed one fails, wrong
//! codes lock the user out, a recovery code works once.
//!
//! `cargo run --example deploy_gate` runs the whole flow on a simulated clock, computing the
//! codes a phone would show. To try it with a real phone:
//!
//! ```sh
//! cargo run --example deploy_gate -- --state /tmp/alice.otp            # enroll, scan the QR code
//! cargo run --example deploy_gate -- --state /tmp/alice.otp --code 123456  # confirm, then deploy
//! cargo run --example deploy_gate -- --state /tmp/alice.otp --recovery xxxx-xxxx-xxxx-xxxx
//! ```
//!
//! With `--state FILE` the user's state lives in FILE (the 472-byte versioned encoding of
//! `UserState`) and the secret in `FILE.key`, both written atomically and readable by the
//! owner only.
#![allow(clippy::arithmetic_side_effects, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use otpcore::{
    Error, KeyUri, RecoveryCodes, RecoveryVerification, Secret, Throttle, Totp, TotpParams,
    USER_STATE_LEN, USER_STATE_VERSION, UserState, Verification, unix_time,
};
use qrcode::QrCode;
use qrcode::render::unicode::Dense1x2;

const ACCOUNT: &str = "alice@example.com";
const ISSUER: &str = "Deploy Portal";

/// The third failure in a row locks out for a minute, each further one for twice as long
/// up to an hour, and the tenth is a hard stop.
const THROTTLE: Throttle = Throttle {
    lockout_after: 3,
    hard_stop_after: 10,
    lockout_secs: 60,
    max_lockout_secs: 3600,
};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// Prints the enrollment: the key for typing, the key URI and its QR code.
fn show_enrollment(secret: &Secret) -> Result<()> {
    let mut key = [0u8; otpcore::MAX_SECRET_BASE32_LEN];
    let key = secret.to_base32(&mut key)?;
    let grouped: Vec<&str> = key
        .as_bytes()
        .chunks(4)
        .map(|g| std::str::from_utf8(g).unwrap_or_default())
        .collect();
    let mut uri = [0u8; 512];
    let uri = KeyUri::totp(ACCOUNT)
        .with_issuer(ISSUER)
        .to_buf(secret, &mut uri)?;
    println!("Scan this QR code with Google Authenticator (or any authenticator app):\n");
    let qr = QrCode::new(uri.as_bytes())?;
    // Light modules drawn bright: the usual look on a dark terminal, and what phone
    // cameras read.
    let image = qr
        .render::<Dense1x2>()
        .dark_color(Dense1x2::Light)
        .light_color(Dense1x2::Dark)
        .quiet_zone(true)
        .build();
    println!("{image}");
    println!(
        "or choose \"Enter a setup key\" and type: {}",
        grouped.join(" ")
    );
    println!("key URI: {uri}\n");
    Ok(())
}

fn show_recovery_codes(codes: &[otpcore::RecoveryCode]) {
    println!("Recovery codes: each works once if you lose your phone. Store them offline now;");
    println!("only their salted hashes are kept.");
    for pair in codes.chunks(2) {
        let line: Vec<String> = pair.iter().map(|c| format!("  {}", c.as_str())).collect();
        println!("{}", line.join("    "));
    }
    println!();
}

/// What the user sees after a code attempt at the gate.
fn describe(result: &std::result::Result<Verification, Error>, now: u64) -> String {
    match result {
        Ok(Verification::Valid(m)) => format!("accepted (step {}, drift {})", m.step, m.drift),
        Ok(Verification::Replayed(_)) => "refused: this code was already used".into(),
        Ok(Verification::Invalid) => "refused: wrong code".into(),
        Err(Error::Throttled { retry_at }) => format!(
            "refused without checking: too many failures, retry in {} s",
            retry_at.saturating_sub(now)
        ),
        Err(e) => format!("refused: {e}"),
    }
}

fn describe_recovery(
    result: &std::result::Result<RecoveryVerification, Error>,
    now: u64,
) -> String {
    match result {
        Ok(RecoveryVerification::Valid { slot, remaining }) => {
            format!("accepted (recovery code {}, {remaining} left)", slot + 1)
        }
        Ok(RecoveryVerification::Used { .. }) => "refused: recovery code already used".into(),
        Ok(RecoveryVerification::Invalid) => "refused: unknown recovery code".into(),
        Err(Error::Throttled { retry_at }) => format!(
            "refused without checking: too many failures, retry in {} s",
            retry_at.saturating_sub(now)
        ),
        Err(e) => format!("refused: {e}"),
    }
}

fn transport(granted: bool) {
    if granted {
        println!("      -> Transport to Production: build 1.4.2 deployed to production");
    } else {
        println!("      -> Transport to Production: not allowed");
    }
}

/// The whole flow on a simulated clock that starts now, with the phone simulated too.
fn demo() -> Result<()> {
    let start = unix_time()?;
    let mut now = start;
    let secret = Secret::generate()?;
    let totp = Totp::new(&secret, TotpParams::default())?;
    let mut state = UserState::default();
    let mut stored = [0u8; USER_STATE_LEN];

    println!("== 1. Enroll {ACCOUNT} for two-factor authentication\n");
    show_enrollment(&secret)?;

    println!("== 2. Confirm the enrollment with the first code\n");
    let code = totp.generate(now)?.to_string();
    println!("phone shows {code}");
    let confirmed = state.verify_totp(&totp, &THROTTLE, &code, now);
    println!("  enrollment: {}", describe(&confirmed, now));
    if !confirmed.is_ok_and(|v| v.is_valid()) {
        return Err("enrollment failed".into());
    }
    let (recovery, codes) = RecoveryCodes::generate()?;
    state.recovery = recovery;
    show_recovery_codes(&codes);
    state.encode(&mut stored)?;
    println!(
        "persisted the user's state: {USER_STATE_LEN} bytes (version {USER_STATE_VERSION} encoding)\n"
    );

    println!("== 3. Transport to Production, 30 seconds later\n");
    now += 30;
    let fresh = totp.generate(now)?.to_string();
    println!("[t+30s] fresh code {fresh}");
    let result = state.verify_totp(&totp, &THROTTLE, &fresh, now);
    println!("  {}", describe(&result, now));
    transport(result.is_ok_and(|v| v.is_valid()));

    now += 5;
    println!("[t+35s] the same code {fresh} again (replayed, say from a shoulder-surfer)");
    let result = state.verify_totp(&totp, &THROTTLE, &fresh, now);
    println!("  {}", describe(&result, now));
    transport(result.is_ok_and(|v| v.is_valid()));

    for (at, wrong) in [(40, "123456"), (45, "654321")] {
        now += 5;
        println!("[t+{at}s] wrong code {wrong}");
        let result = state.verify_totp(&totp, &THROTTLE, wrong, now);
        println!("  {}", describe(&result, now));
        transport(result.is_ok_and(|v| v.is_valid()));
    }

    now += 5;
    let right = totp.generate(now)?.to_string();
    println!("[t+50s] the right code {right}, but the user is locked out");
    let result = state.verify_totp(&totp, &THROTTLE, &right, now);
    println!("  {}", describe(&result, now));
    transport(result.is_ok_and(|v| v.is_valid()));

    // The state survives a restart: encode, decode, and the lockout is still there.
    state.encode(&mut stored)?;
    state = UserState::decode(&stored)?;
    now = state.throttle.locked_until;
    println!("\n== 4. Phone lost: a recovery code, after the lockout\n");
    let recovery_code = codes[0].as_str();
    println!(
        "[t+{}s] recovery code {recovery_code}",
        now - (unix_time()?)
    );
    let result = state.verify_recovery(&THROTTLE, recovery_code, now);
    println!("  {}", describe_recovery(&result, now));
    transport(result.is_ok_and(|v| v.is_valid()));
    now += 5;
    println!("[later] the same recovery code again");
    let result = state.verify_recovery(&THROTTLE, recovery_code, now);
    println!("  {}", describe_recovery(&result, now));
    transport(result.is_ok_and(|v| v.is_valid()));

    println!("\nTry it with your phone: cargo run --example deploy_gate -- --state FILE");
    Ok(())
}

fn key_path(state: &Path) -> PathBuf {
    let mut name = state.as_os_str().to_owned();
    name.push(".key");
    PathBuf::from(name)
}

/// Writes `bytes` to `path` atomically (a temporary file renamed over it), readable by the
/// owner only: a crash never leaves half a state, which could restore an old counter.
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(".tmp");
    let tmp = PathBuf::from(tmp_name);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

fn save(path: &Path, state: &UserState) -> Result<()> {
    let mut buf = [0u8; USER_STATE_LEN];
    write_private(path, state.encode(&mut buf)?)
}

/// The flow across runs, for a real phone.
fn with_state(path: &Path, code: Option<&str>, recovery: Option<&str>) -> Result<bool> {
    let key_file = key_path(path);
    if !path.exists() {
        // This demo keeps the secret next to the state in plain base32; a real server keeps
        // it encrypted (see the README's "Deploy gate" section).
        let secret = Secret::generate()?;
        let mut key = [0u8; otpcore::MAX_SECRET_BASE32_LEN];
        write_private(&key_file, secret.to_base32(&mut key)?.as_bytes())?;
        save(path, &UserState::default())?;
        println!("Enrolling {ACCOUNT}; state in {}\n", path.display());
        show_enrollment(&secret)?;
        println!("Then confirm with the code your phone shows:");
        println!(
            "  cargo run --example deploy_gate -- --state {} --code NNNNNN",
            path.display()
        );
        return Ok(true);
    }
    let mut state = UserState::decode(&std::fs::read(path)?)?;
    let secret = Secret::from_base32(std::fs::read_to_string(&key_file)?.trim())?;
    let totp = Totp::new(&secret, TotpParams::default())?;
    let now = unix_time()?;
    let enrolled = state.last_accepted().is_some();
    let granted = match (code, recovery) {
        (Some(code), _) => {
            let result = state.verify_totp(&totp, &THROTTLE, code, now);
            save(path, &state)?;
            let what = if enrolled { "code" } else { "enrollment" };
            println!("{what}: {}", describe(&result, now));
            let valid = result.is_ok_and(|v| v.is_valid());
            if valid && !enrolled {
                let (recovery, codes) = RecoveryCodes::generate()?;
                state.recovery = recovery;
                save(path, &state)?;
                println!("enrollment confirmed.\n");
                show_recovery_codes(&codes);
                println!("From now on every Transport to Production needs a fresh code:");
                println!(
                    "  cargo run --example deploy_gate -- --state {} --code NNNNNN",
                    path.display()
                );
                return Ok(true);
            }
            valid
        }
        (None, Some(typed)) => {
            let result = state.verify_recovery(&THROTTLE, typed, now);
            save(path, &state)?;
            println!("recovery: {}", describe_recovery(&result, now));
            result.is_ok_and(|v| v.is_valid())
        }
        (None, None) => {
            let confirmed = if enrolled {
                "confirmed"
            } else {
                "waiting for the first code"
            };
            println!("{ACCOUNT}: enrollment {confirmed}");
            println!(
                "failed attempts in the current window: {}",
                state.throttle.failures
            );
            if state.throttle.locked_until > now {
                println!("locked out for {} s", state.throttle.locked_until - now);
            }
            println!("recovery codes left: {}", state.recovery.remaining());
            println!("give a code with --code NNNNNN or a recovery code with --recovery CODE");
            return Ok(true);
        }
    };
    if enrolled {
        transport(granted);
    }
    Ok(granted)
}

fn usage() -> &'static str {
    "usage: deploy_gate [--state FILE [--code NNNNNN | --recovery CODE]]"
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut state = None;
    let mut code = None;
    let mut recovery = None;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let slot = match arg.as_str() {
            "--state" => &mut state,
            "--code" => &mut code,
            "--recovery" => &mut recovery,
            "-h" | "--help" => {
                println!("{}", usage());
                return ExitCode::SUCCESS;
            }
            _ => {
                eprintln!("{}", usage());
                return ExitCode::from(2);
            }
        };
        let Some(value) = rest.next() else {
            eprintln!("{arg} needs a value\n{}", usage());
            return ExitCode::from(2);
        };
        *slot = Some(value.clone());
    }
    let result = match (&state, &code, &recovery) {
        (None, None, None) => demo().map(|()| true),
        (Some(path), _, _) => with_state(Path::new(path), code.as_deref(), recovery.as_deref()),
        (None, _, _) => Err(
            "--code and --recovery need --state FILE: enroll first with --state FILE, \
             scan the QR code, then give the code your phone shows"
                .into(),
        ),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("deploy_gate: {e}");
            ExitCode::from(2)
        }
    }
}
