//! `otpgate`: the deploy gate for pipelines. Parses arguments, calls
//! [`otpcore::gate`], prints; exit code 0 accepted, 1 refused, 2 error.

use std::fs::OpenOptions;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use otpcore::gate::{
    AuditEntry, AuditRecord, DELIVERY_TIMEOUT, Decision, DeliveryCommand, Factor, Gate, GateError,
    MemoryStore, Refusal, ServerKey, SqliteStore, Store, Stored, Swap, UserStatus,
};
use otpcore::{OobState, RecoveryCode, Secret, Totp, unix_time};
use qrcode::{Color, EcLevel, QrCode};
use serde_json::{Value, json};
use zeroize::Zeroizing;

/// Prints a line on standard output. A closed output (`otpgate demo | head`) is not an
/// error worth a panic: the exit code still tells the outcome.
macro_rules! say {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// A second factor in front of deploys: a fresh authenticator code per deploy, each code
/// accepted once across every process sharing the database.
#[derive(Parser)]
#[command(name = "otpgate", version)]
struct Cli {
    /// The gate database: an SQLite file (`file:` URIs too), or a PostgreSQL database
    /// shared by several runners, `postgresql://USER@HOST/DB` (feature `postgres`).
    #[arg(
        long,
        env = "OTPGATE_DB",
        default_value = "otpgate.db",
        global = true,
        value_name = "PATH"
    )]
    db: PathBuf,
    /// The server key file [default: the database path plus `.key`; required with a
    /// PostgreSQL URL]; created, mode 0600, with a new database.
    #[arg(long, env = "OTPGATE_KEY_FILE", global = true, value_name = "PATH")]
    key_file: Option<PathBuf>,
    /// Print one JSON object per command on standard output.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Enroll USER: a QR code, the key in groups of four and the otpauth:// URI. The user
    /// stays pending until `confirm`.
    Enroll {
        /// The user id.
        user: String,
        /// The service name shown in authenticator apps.
        #[arg(long, default_value = "otpgate")]
        issuer: String,
        /// Also write the QR code as an SVG image to FILE.
        #[arg(long, value_name = "FILE")]
        qr_svg: Option<PathBuf>,
        /// Where `send-code` texts codes: E.164, + and 8 to 15 digits, e.g. +4915112345678.
        #[arg(long, value_name = "NUMBER")]
        phone: Option<String>,
    },
    /// Activate USER with the first CODE; prints the recovery codes.
    Confirm {
        /// The user id.
        user: String,
        /// The code the authenticator app shows.
        code: String,
    },
    /// The gate: exit 0 when CODE is accepted, 1 when refused, 2 on error.
    Check {
        /// The user id.
        user: String,
        /// The code the authenticator app shows, or the texted code of `send-code`.
        code: String,
        /// What the code allows (logged in the audit trail), e.g. "deploy 1.4.2".
        #[arg(long, value_name = "T")]
        action: Option<String>,
    },
    /// The gate with a recovery code instead; the same exit codes.
    Recover {
        /// The user id.
        user: String,
        /// One of the user's recovery codes (xxxx-xxxx-xxxx-xxxx).
        code: String,
        /// What the code allows (logged in the audit trail).
        #[arg(long, value_name = "T")]
        action: Option<String>,
    },
    /// Text USER a one-time code for `check`, through the delivery command: exit 0 sent,
    /// 1 refused (too soon after the last one, locked out, disabled), 2 error (no phone, the
    /// delivery failed: the code is then withdrawn).
    SendCode {
        /// The user id.
        user: String,
        /// What the code allows (in the message and the audit trail), e.g. "deploy 1.4.2".
        #[arg(long, value_name = "T")]
        action: Option<String>,
        /// The service named in the message.
        #[arg(long, default_value = "otpgate")]
        issuer: String,
        /// The program that sends the message, and its arguments, run without a shell
        /// (words split at blanks, quotes keep blanks) with OTPGATE_TO (the number) and
        /// OTPGATE_MESSAGE (the text with the code) in its environment; it must exit 0 once
        /// the message is handed over, within 30 s.
        #[arg(long, env = "OTPGATE_DELIVER_COMMAND", value_name = "CMD")]
        deliver_command: Option<String>,
    },
    /// Set or change the phone NUMBER USER's texted codes go to (E.164: + and 8 to 15
    /// digits); a code texted to the old number is withdrawn.
    Phone {
        /// The user id.
        user: String,
        /// The phone number, e.g. +4915112345678.
        number: String,
    },
    /// USER's enrollment, throttle and recovery codes left.
    Status {
        /// The user id.
        user: String,
    },
    /// Clear USER's failures and lockout (an administrator's action).
    Reset {
        /// The user id.
        user: String,
    },
    /// Turn USER off: nothing passes until USER enrolls again.
    Disable {
        /// The user id.
        user: String,
    },
    /// New recovery codes for USER after a fresh CODE; the old ones stop working.
    RecoveryCodes {
        /// The user id.
        user: String,
        /// A fresh code from the authenticator app.
        code: String,
    },
    /// The audit trail, of USER or of everyone.
    Log {
        /// Only this user's entries.
        user: Option<String>,
        /// How many entries, the latest last.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Write a consistent copy of the database to FILE (a new file), safe while checks run.
    /// The key file is not in it: keep a copy of the key apart.
    Backup {
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// A simulated walkthrough in memory: enroll, confirm, deploys, a lockout, recovery.
    Demo,
}

/// What a command ends in: accepted (0), refused (1) or an error (2).
enum Exit {
    Accepted,
    Refused,
}

struct Out {
    json: bool,
}

impl Out {
    fn json(&self, value: &Value) {
        if self.json {
            say!("{value}");
        }
    }

    fn text(&self, text: impl std::fmt::Display) {
        if !self.json {
            say!("{text}");
        }
    }

    /// A refusal: why, on standard error (and as JSON on standard output).
    fn refused(&self, user: &str, refusal: &Refusal) -> Exit {
        eprintln!("refused: {refusal}");
        let (retry_at, retry_in) = match refusal {
            Refusal::Throttled { retry_at, retry_in }
            | Refusal::SmsTooSoon { retry_at, retry_in } => (Some(*retry_at), Some(*retry_in)),
            _ => (None, None),
        };
        let value = json!({
            "result": "refused",
            "user": user,
            "reason": refusal.label(),
            "message": format!("{refusal}"),
            "retry_at": retry_at,
            "retry_in": retry_in,
        });
        self.json(&value);
        Exit::Refused
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return parse_failure(&e),
    };
    let out = Out { json: cli.json };
    match run(&cli, &out) {
        Ok(Exit::Accepted) => ExitCode::SUCCESS,
        Ok(Exit::Refused) => ExitCode::from(1),
        Err(e) => {
            eprintln!("otpgate: error: {e}");
            out.json(&json!({ "result": "error", "error": format!("{e}") }));
            ExitCode::from(2)
        }
    }
}

/// Help, version and usage errors. Only help or version asked for before any command
/// (`otpgate --help`, `otpgate --db PATH --version`) or through `otpgate help` exits 0.
/// After a command, `-h` or `--help` may stand where a code should be (`read -r code;
/// otpgate check "$USER" "$code"` with `--help` typed), and a gate must never answer that
/// with the status of an accepted code: exit 2, as for any other usage error.
fn parse_failure(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    let _ = e.print();
    let help = matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion);
    if help && no_command_but_help(std::env::args().skip(1)) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    }
}

/// Whether `args` name no command, or only `help`: options, and the values of the two
/// global options that take one, are skipped.
fn no_command_but_help(mut args: impl Iterator<Item = String>) -> bool {
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--db" | "--key-file" => {
                args.next();
            }
            option if option.starts_with('-') => {}
            command => return command == "help",
        }
    }
    true
}

/// The key file: `--key-file`, or beside an SQLite database. A database URL has no path
/// to put it beside, and a key in the database would defeat sealing, so it must be named.
fn key_path(cli: &Cli) -> Result<PathBuf, GateError> {
    match (&cli.key_file, database_url(&cli.db)) {
        (Some(path), _) => Ok(path.clone()),
        (None, Some(_)) => Err(GateError::KeyFileRequired),
        (None, None) => {
            let mut name = cli.db.as_os_str().to_owned();
            name.push(".key");
            Ok(PathBuf::from(name))
        }
    }
}

/// `--db` when it is a PostgreSQL URL rather than an SQLite path.
fn database_url(db: &Path) -> Option<&str> {
    db.to_str()
        .filter(|db| db.starts_with("postgresql://") || db.starts_with("postgres://"))
}

/// The store `--db` names.
enum AnyStore {
    Sqlite(SqliteStore),
    #[cfg(feature = "postgres")]
    Postgres(otpcore::gate::PostgresStore),
}

impl AnyStore {
    /// Opens the SQLite file (created only by `enroll`) or connects to the PostgreSQL
    /// database (which the administrator creates; its tables are created on first use).
    fn open(cli: &Cli, create: bool) -> Result<Self, GateError> {
        #[cfg(feature = "postgres")]
        if let Some(url) = database_url(&cli.db) {
            return otpcore::gate::PostgresStore::connect(url).map(AnyStore::Postgres);
        }
        #[cfg(not(feature = "postgres"))]
        if database_url(&cli.db).is_some() {
            return Err(GateError::Store(String::from(
                "--db is a PostgreSQL URL, and this otpgate was built without the `postgres` \
                 feature (build it with --features postgres)",
            )));
        }
        if create {
            SqliteStore::create(&cli.db).map(AnyStore::Sqlite)
        } else {
            SqliteStore::open(&cli.db).map(AnyStore::Sqlite)
        }
    }

    fn inner(&self) -> &dyn Store {
        match self {
            AnyStore::Sqlite(store) => store,
            #[cfg(feature = "postgres")]
            AnyStore::Postgres(store) => store,
        }
    }
}

impl Store for AnyStore {
    fn load(&self, user: &str) -> Result<Option<Stored>, GateError> {
        self.inner().load(user)
    }

    fn compare_and_swap(
        &self,
        user: &str,
        expected: Option<u64>,
        sealed: &[u8],
        audit: &AuditEntry,
    ) -> Result<Swap, GateError> {
        self.inner().compare_and_swap(user, expected, sealed, audit)
    }

    fn key_check(&self) -> Result<Option<Vec<u8>>, GateError> {
        self.inner().key_check()
    }

    fn init_key_check(&self, check: &[u8]) -> Result<Vec<u8>, GateError> {
        self.inner().init_key_check(check)
    }

    fn audit_log(&self, user: Option<&str>, limit: usize) -> Result<Vec<AuditRecord>, GateError> {
        self.inner().audit_log(user, limit)
    }
}

/// Opens the gate: the database, then the server key. A database already set up with a
/// key needs that key file; a new one gets a new key file, unless one is there already (a
/// key moved in on purpose).
fn open_gate(cli: &Cli, create: bool) -> Result<Gate<AnyStore>, GateError> {
    let path = key_path(cli)?;
    let store = AnyStore::open(cli, create)?;
    let key = match (store.key_check()?, read_key(&path)?) {
        (_, Some(key)) => key,
        (Some(_), None) => {
            return Err(GateError::MissingServerKey {
                path: format!("{}", path.display()),
            });
        }
        // Only an enrollment sets up a new key: any other command on a database without
        // one is an error, never a reason to write a key file and a key check.
        (None, None) if create => create_key(&path)?,
        (None, None) => {
            return Err(GateError::MissingServerKey {
                path: format!("{}", path.display()),
            });
        }
    };
    Gate::open(store, key)
}

fn read_key(path: &Path) -> Result<Option<ServerKey>, GateError> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let text = Zeroizing::new(text);
            ServerKey::from_hex(&text)
                .map(Some)
                .ok_or(GateError::BadServerKey {
                    path: format!("{}", path.display()),
                })
        }
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(GateError::Store(format!(
            "cannot read the server key file {}: {e}",
            path.display()
        ))),
    }
}

/// Creates the key file, mode 0600, never over an existing one: the key is written to a
/// file of its own (O_EXCL), synced, then linked to `path`, which fails if `path` exists;
/// of two processes creating it at once, the second reads the first one's key.
fn create_key(path: &Path) -> Result<ServerKey, GateError> {
    let io = |what: &str, e: std::io::Error| {
        GateError::Store(format!(
            "cannot {what} the server key file {}: {e}",
            path.display()
        ))
    };
    let key = ServerKey::generate()?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".{}.tmp", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(&tmp).and_then(|mut file| {
        file.write_all(key.to_hex().as_bytes())?;
        file.sync_all()
    });
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(io("write", e));
    }
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::File::open(dir)
                    .and_then(|d| d.sync_all())
                    .map_err(|e| io("sync the directory of", e))?;
            }
            Ok(key)
        }
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
            read_key(path)?.ok_or_else(|| io("read", e))
        }
        Err(e) => Err(io("create", e)),
    }
}

fn run(cli: &Cli, out: &Out) -> Result<Exit, GateError> {
    let now = unix_time()?;
    match &cli.command {
        Command::Demo => demo(out),
        Command::Enroll {
            user,
            issuer,
            qr_svg,
            phone,
        } => {
            if let Some(phone) = phone {
                // Before the database is created: a typo creates nothing.
                otpcore::gate::PhoneNumber::parse(phone)?;
            }
            let gate = open_gate(cli, true)?;
            let enrollment = gate.enroll_with_phone(user, issuer, phone.as_deref(), now)?;
            let key = grouped_key(&enrollment.secret)?;
            if let Some(file) = qr_svg {
                std::fs::write(file, qr_svg_image(&enrollment.uri)?).map_err(|e| {
                    GateError::Store(format!("cannot write {}: {e}", file.display()))
                })?;
            }
            out.json(&json!({
                "result": "pending",
                "user": user,
                "secret": Zeroizing::new(key.replace(' ', "")).as_str(),
                "uri": enrollment.uri.as_str(),
                "qr_svg": qr_svg.as_ref().map(|p| format!("{}", p.display())),
            }));
            out.text(enrollment_screen(user, &key, &enrollment.uri)?);
            Ok(Exit::Accepted)
        }
        Command::Confirm { user, code } => {
            let gate = open_gate(cli, false)?;
            match gate.confirm(user, code, now)? {
                Ok(codes) => {
                    out.json(&json!({
                        "result": "accepted",
                        "user": user,
                        "status": "active",
                        "recovery_codes": codes.iter().map(RecoveryCode::as_str).collect::<Vec<_>>(),
                    }));
                    out.text(format!(
                        "{user} is confirmed: every deploy needs a fresh code now."
                    ));
                    out.text(recovery_text(&codes));
                    Ok(Exit::Accepted)
                }
                Err(refusal) => Ok(out.refused(user, &refusal)),
            }
        }
        Command::Check { user, code, action } => {
            let gate = open_gate(cli, false)?;
            decided(
                out,
                user,
                gate.check(user, code, action.as_deref(), now)?,
                |a| match a.factor {
                    Factor::Totp => (
                        vec![("factor", json!("totp")), ("drift", json!(a.drift))],
                        format!("accepted: {user} (clock drift {} steps)", a.drift),
                    ),
                    Factor::Sms => (
                        vec![("factor", json!("sms")), ("drift", Value::Null)],
                        format!("accepted: {user} (texted code)"),
                    ),
                },
            )
        }
        Command::Recover { user, code, action } => {
            let gate = open_gate(cli, false)?;
            decided(
                out,
                user,
                gate.recover(user, code, action.as_deref(), now)?,
                |r| {
                    (
                        vec![("recovery_codes_left", json!(r.remaining))],
                        format!(
                            "accepted: {user} with a recovery code ({} left)",
                            r.remaining
                        ),
                    )
                },
            )
        }
        Command::SendCode {
            user,
            action,
            issuer,
            deliver_command,
        } => {
            // Checked before a code is issued, so a typo does not start the cooldown.
            let command = DeliveryCommand::parse(
                deliver_command
                    .as_deref()
                    .ok_or(GateError::NoDeliveryCommand)?,
            )?;
            let gate = open_gate(cli, false)?;
            let decision =
                gate.send_code(user, issuer, action.as_deref(), now, |to, message| {
                    command.deliver(to.as_str(), message, DELIVERY_TIMEOUT)
                })?;
            decided(out, user, decision, |sent| {
                (
                    vec![
                        ("to", json!(sent.to.masked())),
                        ("expires_at", json!(sent.expires_at)),
                    ],
                    format!(
                        "code sent to {} for {user}; valid until {} ({} s)",
                        sent.to.masked(),
                        sent.expires_at,
                        sent.expires_at.saturating_sub(now)
                    ),
                )
            })
        }
        Command::Phone { user, number } => {
            open_gate(cli, false)?.set_phone(user, number, now)?;
            out.json(&json!({ "result": "accepted", "user": user, "event": "phone" }));
            out.text(format!("{user}: texted codes now go to {number}"));
            Ok(Exit::Accepted)
        }
        Command::Status { user } => {
            let status = open_gate(cli, false)?.status(user)?;
            out.json(&status_json(user, &status));
            out.text(status_text(user, &status, now));
            Ok(Exit::Accepted)
        }
        Command::Reset { user } => {
            open_gate(cli, false)?.reset(user, now)?;
            out.json(&json!({ "result": "accepted", "user": user, "event": "reset" }));
            out.text(format!("{user}: failures and lockout cleared"));
            Ok(Exit::Accepted)
        }
        Command::Disable { user } => {
            open_gate(cli, false)?.disable(user, now)?;
            out.json(&json!({ "result": "accepted", "user": user, "status": "disabled" }));
            out.text(format!(
                "{user} is disabled: enroll again to turn the gate back on"
            ));
            Ok(Exit::Accepted)
        }
        Command::RecoveryCodes { user, code } => {
            let gate = open_gate(cli, false)?;
            match gate.new_recovery_codes(user, code, now)? {
                Ok(codes) => {
                    out.json(&json!({
                        "result": "accepted",
                        "user": user,
                        "recovery_codes": codes.iter().map(RecoveryCode::as_str).collect::<Vec<_>>(),
                    }));
                    out.text(recovery_text(&codes));
                    Ok(Exit::Accepted)
                }
                Err(refusal) => Ok(out.refused(user, &refusal)),
            }
        }
        Command::Backup { file } => {
            if database_url(&cli.db).is_some() {
                return Err(GateError::Store(String::from(
                    "backup copies an SQLite database; back a PostgreSQL one up with pg_dump",
                )));
            }
            SqliteStore::open(&cli.db)?.backup_to(file)?;
            out.json(&json!({ "result": "accepted", "backup": format!("{}", file.display()) }));
            out.text(format!(
                "backup written to {} (without the server key: keep a copy of the key apart)",
                file.display()
            ));
            Ok(Exit::Accepted)
        }
        Command::Log { user, limit } => {
            let entries = open_gate(cli, false)?.log(user.as_deref(), *limit)?;
            out.json(&json!({
                "result": "accepted",
                "entries": entries.iter().map(audit_json).collect::<Vec<_>>(),
            }));
            for entry in &entries {
                out.text(audit_text(entry));
            }
            Ok(Exit::Accepted)
        }
    }
}

fn decided<T>(
    out: &Out,
    user: &str,
    decision: Decision<T>,
    describe: impl FnOnce(&T) -> (Vec<(&'static str, Value)>, String),
) -> Result<Exit, GateError> {
    match decision {
        Ok(value) => {
            let (details, text) = describe(&value);
            let mut fields = serde_json::Map::new();
            fields.insert(String::from("result"), json!("accepted"));
            fields.insert(String::from("user"), json!(user));
            for (name, detail) in details {
                fields.insert(String::from(name), detail);
            }
            out.json(&Value::Object(fields));
            out.text(text);
            Ok(Exit::Accepted)
        }
        Err(refusal) => Ok(out.refused(user, &refusal)),
    }
}

fn grouped_key(secret: &Secret) -> Result<Zeroizing<String>, GateError> {
    let mut buf = Zeroizing::new([0u8; otpcore::MAX_SECRET_BASE32_LEN]);
    let key = secret.to_base32(buf.as_mut_slice())?;
    let groups: Vec<&str> = key
        .as_bytes()
        .chunks(4)
        .filter_map(|g| std::str::from_utf8(g).ok())
        .collect();
    Ok(Zeroizing::new(groups.join(" ")))
}

fn qr(uri: &str) -> Result<QrCode, GateError> {
    QrCode::with_error_correction_level(uri.as_bytes(), EcLevel::L)
        .map_err(|e| GateError::Store(format!("cannot draw the QR code: {e}")))
}

fn qr_svg_image(uri: &str) -> Result<String, GateError> {
    Ok(qr(uri)?
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(256, 256)
        .dark_color(qrcode::render::svg::Color("#000000"))
        .light_color(qrcode::render::svg::Color("#ffffff"))
        .build())
}

/// Modules of light margin around the code: drawn in white, so it is there on a dark
/// terminal too.
const QUIET_ZONE: usize = 2;

/// The QR code as rows of half blocks (two modules per character cell), dark modules black
/// on a white background, in explicit colours: the same polarity on light and dark
/// terminals, as phone cameras expect.
fn qr_rows(uri: &str) -> Result<Vec<String>, GateError> {
    let code = qr(uri)?;
    let width = code.width();
    let colors = code.to_colors();
    let side = width.saturating_add(QUIET_ZONE.saturating_mul(2));
    let dark = |x: usize, y: usize| -> bool {
        let (Some(x), Some(y)) = (x.checked_sub(QUIET_ZONE), y.checked_sub(QUIET_ZONE)) else {
            return false;
        };
        x < width
            && y < width
            && y.checked_mul(width)
                .and_then(|row| row.checked_add(x))
                .and_then(|i| colors.get(i))
                == Some(&Color::Dark)
    };
    let mut rows = Vec::new();
    for y in (0..side).step_by(2) {
        let mut row = String::from("\x1b[30;107m");
        for x in 0..side {
            row.push(match (dark(x, y), dark(x, y.saturating_add(1))) {
                (true, true) => '█',
                (true, false) => '▀',
                (false, true) => '▄',
                (false, false) => ' ',
            });
        }
        row.push_str("\x1b[0m");
        rows.push(row);
    }
    Ok(rows)
}

/// The terminal the enrollment is laid out for.
const COLUMNS: usize = 80;
const LINES: usize = 24;

/// How many terminal rows `text` takes on a terminal [`COLUMNS`] wide.
fn rows_on_terminal(text: &str) -> usize {
    text.lines()
        .map(|line| visible_width(line).div_ceil(COLUMNS).max(1))
        .sum()
}

/// The width of a line without its colour escape sequences.
fn visible_width(line: &str) -> usize {
    let mut width = 0usize;
    let mut in_escape = false;
    for c in line.chars() {
        match (in_escape, c) {
            (false, '\x1b') => in_escape = true,
            (true, 'm') => in_escape = false,
            (true, _) => {}
            (false, _) => width = width.saturating_add(1),
        }
    }
    width
}

/// The enrollment in one screen: the QR code with the instructions beside it, then the
/// URI on one line. It fits 80x24 (with a line left for the prompt) for user ids and
/// issuers of usual length; a longer one ends with a line saying how to see it all.
fn enrollment_screen(user: &str, key: &str, uri: &str) -> Result<String, GateError> {
    let rows = qr_rows(uri)?;
    let key_groups: Vec<&str> = key.split(' ').collect();
    let (first, second) = key_groups.split_at(key_groups.len().min(4));
    let side = [
        format!("Enroll {user}"),
        String::from("(pending until confirmed)"),
        String::new(),
        String::from("1. Scan this QR code with an"),
        String::from("   authenticator app, or type"),
        String::from("   the setup key:"),
        format!("   {}", first.join(" ")),
        format!("   {}", second.join(" ")),
        String::new(),
        String::from("2. Confirm with its code:"),
        String::from("   otpgate confirm USER CODE"),
    ];
    let qr_width = rows.first().map_or(0, |r| visible_width(r));
    let side_width = side.iter().map(|l| visible_width(l)).max().unwrap_or(0);
    let beside = qr_width.saturating_add(2).saturating_add(side_width) <= COLUMNS;
    let mut screen = String::new();
    let lines = if beside {
        rows.len().max(side.len())
    } else {
        rows.len()
    };
    for i in 0..lines {
        match rows.get(i) {
            Some(row) => screen.push_str(row),
            None => screen.push_str(&" ".repeat(qr_width)),
        }
        if let Some(text) = side.get(i).filter(|t| beside && !t.is_empty()) {
            screen.push_str("  ");
            screen.push_str(text);
        }
        screen.push('\n');
    }
    if !beside {
        for line in &side {
            screen.push_str(line);
            screen.push('\n');
        }
    }
    screen.push_str(uri);
    if rows_on_terminal(&screen) >= LINES {
        screen.push_str(
            "\n(taller than a 24-line terminal: scroll up, or write the QR code to an image \
             with --qr-svg FILE; --json prints the key and URI alone)",
        );
    }
    Ok(screen)
}

fn recovery_text(codes: &[RecoveryCode]) -> String {
    let mut text = String::from(
        "Recovery codes, each works once if the phone is lost. Store them offline now;\n\
         only their salted hashes are kept:\n",
    );
    for pair in codes.chunks(2) {
        let line: Vec<String> = pair.iter().map(|c| format!("  {}", c.as_str())).collect();
        text.push_str(&line.join("    "));
        text.push('\n');
    }
    text
}

fn status_json(user: &str, s: &UserStatus) -> Value {
    json!({
        "result": "accepted",
        "user": user,
        "status": s.status.label(),
        "recovery_codes_left": s.recovery_codes_left,
        "failures": s.failures,
        "locked_until": s.locked_until,
        "last_step": s.last_step,
        "version": s.version,
        "phone": s.phone.as_ref().map(|p| p.as_str()),
        "texted_code": texted_code_label(s.texted_code),
        "texted_code_expires_at": s.texted_code_expires_at,
    })
}

fn texted_code_label(state: OobState) -> &'static str {
    match state {
        OobState::Empty => "none",
        OobState::Pending => "pending",
        OobState::Used => "used",
    }
}

fn status_text(user: &str, s: &UserStatus, now: u64) -> String {
    let mut text = format!(
        "{user}: {}\nrecovery codes left: {}\nfailed attempts: {}",
        s.status.label(),
        s.recovery_codes_left,
        s.failures
    );
    if s.locked_until > now {
        text.push_str(&format!(
            "\nlocked out for {} s",
            s.locked_until.saturating_sub(now)
        ));
    }
    match &s.phone {
        Some(phone) => text.push_str(&format!("\nphone for texted codes: {}", phone.as_str())),
        None => text.push_str("\nphone for texted codes: none"),
    }
    if s.texted_code == OobState::Pending && s.texted_code_expires_at > now {
        text.push_str(&format!(
            "\ntexted code pending, valid for {} s",
            s.texted_code_expires_at.saturating_sub(now)
        ));
    }
    text
}

fn audit_json(e: &AuditRecord) -> Value {
    json!({
        "id": e.id,
        "time": e.time,
        "user": e.user,
        "event": e.event,
        "action": e.action,
        "outcome": e.outcome,
        "drift": e.drift,
    })
}

fn audit_text(e: &AuditRecord) -> String {
    let mut text = format!("{} {} {} {}", e.time, e.user, e.event, e.outcome);
    if let Some(drift) = e.drift {
        text.push_str(&format!(" drift={drift}"));
    }
    if let Some(action) = &e.action {
        text.push_str(&format!(" action={action:?}"));
    }
    text
}

/// The walkthrough of the deploy gate on a simulated clock, in memory, with the phone
/// simulated too.
fn demo(out: &Out) -> Result<Exit, GateError> {
    if out.json {
        return Err(GateError::Store(String::from(
            "demo prints a walkthrough for people; it has no --json output",
        )));
    }
    const USER: &str = "alice@example.com";
    let start = unix_time()?;
    let mut now = start;
    let gate = Gate::open(MemoryStore::new(), ServerKey::generate()?)?;
    let t = |now: u64| now.saturating_sub(start);

    say!("== 1. Enroll {USER} for deploys to production\n");
    let enrollment = gate.enroll(USER, "Deploy Portal", now)?;
    let phone = Totp::new(&enrollment.secret, gate.params())?;
    say!(
        "{}\n",
        enrollment_screen(USER, &grouped_key(&enrollment.secret)?, &enrollment.uri)?
    );

    say!("== 2. Confirm with the first code the phone shows\n");
    let code = phone.generate(now)?.to_string();
    say!("phone shows {code}");
    let codes = match gate.confirm(USER, &code, now)? {
        Ok(codes) => codes,
        Err(refusal) => {
            return Err(GateError::Store(format!(
                "the demo's confirmation failed: {refusal}"
            )));
        }
    };
    say!("  confirmed; the recovery codes were committed with the activation.");
    say!("{}", recovery_text(&codes));

    say!("== 3. Transport to Production: `otpgate check` in front of each deploy\n");
    now = now.saturating_add(30);
    let fresh = phone.generate(now)?.to_string();
    let attempt = |label: &str, code: &str, now: u64| -> Result<(), GateError> {
        say!("[t+{}s] {label} {code}", t(now));
        let decision = gate.check(USER, code, Some("deploy build 1.4.2"), now)?;
        describe(decision.map(|a| format!("drift {}", a.drift)));
        Ok(())
    };
    attempt("fresh code", &fresh, now)?;
    now = now.saturating_add(5);
    attempt("the same code again (a shoulder-surfer?)", &fresh, now)?;
    // Wrong codes until the throttle locks the user out, whatever its policy.
    for wrong in ["123456", "654321", "111111", "222222", "333333", "444444"] {
        now = now.saturating_add(5);
        attempt("wrong code", wrong, now)?;
        if gate.status(USER)?.locked_until > now {
            break;
        }
    }
    now = now.saturating_add(5);
    let right = phone.generate(now)?.to_string();
    attempt("the right code, but after too many failures", &right, now)?;

    say!("\n== 4. Phone lost: a recovery code, once the lockout is over\n");
    now = now.max(gate.status(USER)?.locked_until);
    let recovery = codes.first().map(RecoveryCode::as_str).unwrap_or_default();
    for label in ["recovery code", "the same recovery code again"] {
        say!("[t+{}s] {label} {recovery}", t(now));
        let decision = gate.recover(USER, recovery, Some("deploy build 1.4.2"), now)?;
        describe(decision.map(|r| format!("{} left", r.remaining)));
        now = now.saturating_add(5);
    }

    say!("\n== 5. The audit trail, written with each decision\n");
    for entry in gate.log(Some(USER), 20)? {
        say!(
            "  t+{}s {}",
            t(entry.time),
            audit_text(&entry)
                .split_once(' ')
                .map_or("", |(_, rest)| rest)
        );
    }
    say!("\nFor real: otpgate enroll USER, scan the code, otpgate confirm USER CODE,");
    say!("then gate each deploy on: otpgate check USER CODE --action \"deploy\"");
    Ok(Exit::Accepted)
}

/// Prints a demo decision.
fn describe(decision: Decision<String>) {
    match decision {
        Ok(detail) => {
            say!("  accepted ({detail})");
            say!("      -> Transport to Production: build 1.4.2 deployed");
        }
        Err(refusal) => {
            say!("  refused: {refusal}");
            say!("      -> Transport to Production: not allowed");
        }
    }
}
