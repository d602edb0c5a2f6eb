//! The command line: global options and one subcommand per gate operation.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// A second factor in front of deploys: a fresh authenticator code per deploy, each code
/// accepted once across every process sharing the database.
#[derive(Parser)]
#[command(name = "otpgate", version)]
pub struct Cli {
    /// The gate database: an SQLite file (`file:` URIs too), or a PostgreSQL database
    /// shared by several runners, `postgresql://USER@HOST/DB` (feature `postgres`).
    #[arg(
        long,
        env = "OTPGATE_DB",
        default_value = "otpgate.db",
        global = true,
        value_name = "PATH"
    )]
    pub db: PathBuf,
    /// The server key file [default: the database path plus `.key`; required with a
    /// PostgreSQL URL]; created, mode 0600, with a new database.
    #[arg(long, env = "OTPGATE_KEY_FILE", global = true, value_name = "PATH")]
    pub key_file: Option<PathBuf>,
    /// Print one JSON object per command on standard output.
    #[arg(long, global = true)]
    pub json: bool,
    /// Ask `otpgate serve` at URL (`https://HOST:PORT`) instead of opening the database:
    /// check, recover, send-code and status, with a token instead of the server key.
    #[cfg(feature = "serve")]
    #[arg(long, env = "OTPGATE_SERVER", global = true, value_name = "URL")]
    pub server: Option<String>,
    /// The file holding the service token [default: the OTPGATE_TOKEN variable].
    #[cfg(feature = "serve")]
    #[arg(long, global = true, value_name = "PATH")]
    pub token_file: Option<PathBuf>,
    /// Verify the service's TLS certificate against the CA certificates (PEM) in PATH
    /// instead of the system's trusted roots.
    #[cfg(feature = "serve")]
    #[arg(long, global = true, value_name = "PATH")]
    pub ca_file: Option<PathBuf>,
    /// The whole request to the service (connect, TLS, request, answer) must end within
    /// SECS seconds, else exit 2.
    #[cfg(feature = "serve")]
    #[arg(long, global = true, default_value_t = 10.0, value_name = "SECS")]
    pub timeout: f64,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
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
        /// the message is handed over, within the timeout; at the timeout it is killed with
        /// every process it started.
        #[arg(long, env = "OTPGATE_DELIVER_COMMAND", value_name = "CMD")]
        deliver_command: Option<String>,
        /// How long the delivery command may run, in seconds: 1 to 30.
        #[arg(
            long,
            env = "OTPGATE_DELIVER_TIMEOUT",
            value_name = "SECS",
            default_value_t = 30,
            value_parser = clap::value_parser!(u64).range(1..=30)
        )]
        deliver_timeout: u64,
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
        /// Check the whole trail's MAC chain instead of printing it: exit 0 intact, 1 when a
        /// row is forged, altered, out of order or missing (the first one is named).
        #[arg(long, conflicts_with = "user")]
        verify: bool,
    },
    /// Write a consistent copy of the database to FILE (a new file), safe while checks run.
    /// The key file is not in it: keep a copy of the key apart.
    Backup {
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Change the server key: every record re-sealed, the audit trail re-authenticated and
    /// the key check replaced under the key in FILE (created, mode 0600, when missing), in
    /// one transaction. Then use --key-file FILE. Run it again after a crash. On PostgreSQL,
    /// run it as the migration role (the owner of the tables; the runners' role is
    /// refused); runners still on the old key fail closed (exit 2) until they get FILE.
    RotateKey {
        /// The new key file.
        #[arg(long, value_name = "FILE")]
        new_key_file: PathBuf,
    },
    /// A simulated walkthrough in memory: enroll, confirm, deploys, a lockout, recovery.
    Demo,
    /// Invite USER to enroll by link (run on the service's host, on its database): enrolls
    /// USER (pending) and prints a single-use link to the service's enrollment page.
    #[cfg(feature = "serve")]
    Invite {
        /// The user id.
        user: String,
        /// The service name shown in authenticator apps.
        #[arg(long, default_value = "otpgate")]
        issuer: String,
        /// Where texted codes go: E.164, e.g. +4915112345678.
        #[arg(long, value_name = "NUMBER")]
        phone: Option<String>,
        /// How long the link works, in seconds (at most 604800, a week).
        #[arg(long, default_value_t = otpgate::INVITE_VALIDITY_SECS, value_name = "SECS")]
        valid: u64,
        /// The service's address as users reach it, e.g. https://gate.example.com.
        #[arg(long, value_name = "URL")]
        base_url: String,
    },
    /// Ask USER to approve ACTION (with `--server`): prints the link to the approval's
    /// page, waits for the decision and exits 0 only when USER granted it with a fresh
    /// code; 1 when declined, expired or still pending when the wait ends; 2 on error.
    #[cfg(feature = "serve")]
    Request {
        /// The user id whose code approves.
        user: String,
        /// What is approved, shown on the page and in the audit trail, e.g. "deploy 1.4.2".
        #[arg(long, value_name = "T")]
        action: String,
        /// How long to wait for the decision: SECS, or a number with s, m or h (e.g. 10m)
        /// [default: until the approval expires].
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        wait: Option<u64>,
        /// How long the approval can be granted, in seconds (at most 3600).
        #[arg(long, default_value_t = otpgate::APPROVAL_VALIDITY_SECS, value_name = "SECS")]
        valid: u64,
        /// Also text the link to the user's phone on record (through the service's
        /// --deliver-command); nothing is asked when that cannot be done.
        #[arg(long)]
        text_link: bool,
    },
    /// Read approval ID (with `--server`): exit 0 granted, 1 pending, declined or expired.
    #[cfg(feature = "serve")]
    Approval {
        /// The approval's id, as `request` printed it.
        id: String,
    },
    /// Tokens for `otpgate serve` (run on the service's host, on its database).
    #[command(subcommand)]
    Token(TokenCommand),
    /// The gate as an HTTP service: the only process holding the server key and the
    /// database; runners ask it with `otpgate --server URL check ...` and a token.
    #[cfg(feature = "serve")]
    Serve(ServeOptions),
}

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Create token NAME and print it, once (only its digest is stored).
    Create {
        /// Its name, written in the audit entry of every request made with it.
        name: String,
        /// `check`: check, recover, send-code, status. `admin`: also enroll, confirm,
        /// reset, disable, phone, recovery-codes and log.
        #[arg(long, value_parser = parse_scope)]
        scope: otpgate::Scope,
    },
    /// The tokens, revoked ones too (never their values).
    List,
    /// Revoke token NAME: the next request with it is refused.
    Revoke {
        /// The token's name.
        name: String,
    },
}

/// `check` or `admin`.
fn parse_scope(label: &str) -> Result<otpgate::Scope, String> {
    otpgate::Scope::parse(label).ok_or_else(|| String::from("check or admin"))
}

/// `otpgate serve`'s options.
#[cfg(feature = "serve")]
#[derive(clap::Args)]
pub struct ServeOptions {
    /// Where to listen: HOST:PORT (port 0: any free port, printed on startup) or
    /// unix:PATH.
    #[arg(long, default_value = "127.0.0.1:8477", value_name = "ADDR")]
    pub listen: String,
    /// The TLS certificate chain (PEM); with --tls-key, the service speaks HTTPS only.
    #[arg(long, value_name = "PATH", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The TLS private key (PEM).
    #[arg(long, value_name = "PATH", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Serve plain HTTP on an address that is not loopback: tokens and codes then cross
    /// the network readable by anyone on the path.
    #[arg(long)]
    pub insecure_plain_http: bool,
    /// Database connections deciding at once (SQLite: they queue for its one writer).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub connections: u16,
    /// Requests in progress at once; more wait.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u16).range(1..))]
    pub max_concurrent: u16,
    /// Client connections open at once (at most the open files limit, less 64 and 4 per
    /// database connection); more are closed as soon as they are accepted.
    #[arg(long, default_value_t = 4096, value_parser = at_least_one())]
    pub max_connections: usize,
    /// Client connections open at once from one IP address (runners behind one NAT
    /// gateway or proxy are one address: raise it up to --max-connections there); more are
    /// closed as soon as they are accepted.
    #[arg(long, default_value_t = 1024, value_parser = at_least_one())]
    pub max_connections_per_peer: usize,
    /// Requests per second one token may make (a burst of twice as many); more are
    /// answered 429 with Retry-After.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    pub token_rate: u32,
    /// The delivery command for `send-code` (see `otpgate send-code --help`).
    #[arg(long, env = "OTPGATE_DELIVER_COMMAND", value_name = "CMD")]
    pub deliver_command: Option<String>,
    /// The service's address as people's browsers reach it (e.g. https://gate.example.com),
    /// the start of every enrollment and approval link, at the root of its host (no path)
    /// [default: the listen address].
    /// Links never follow a request's Host header.
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
}

/// `--wait`: seconds, or a number followed by `s`, `m` or `h`; at most a day.
#[cfg(feature = "serve")]
fn parse_duration(text: &str) -> Result<u64, String> {
    let (number, unit) = match text.strip_suffix(['s', 'm', 'h']) {
        Some(number) => (number, text.get(number.len()..).unwrap_or("s")),
        None => (text, "s"),
    };
    let scale = match unit {
        "m" => 60,
        "h" => 3600,
        _ => 1,
    };
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .filter(|secs| (1..=86_400).contains(secs))
        .ok_or_else(|| format!("{text:?}: give 1 s to 24 h, e.g. 90, 90s, 10m or 1h"))
}

/// A count of at least one, as a `usize`.
#[cfg(feature = "serve")]
fn at_least_one() -> clap::builder::RangedU64ValueParser<usize> {
    clap::builder::RangedU64ValueParser::new().range(1..)
}
