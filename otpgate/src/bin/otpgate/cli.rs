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
    /// one transaction (SQLite). Then use --key-file FILE. Run it again after a crash.
    RotateKey {
        /// The new key file.
        #[arg(long, value_name = "FILE")]
        new_key_file: PathBuf,
    },
    /// A simulated walkthrough in memory: enroll, confirm, deploys, a lockout, recovery.
    Demo,
}
