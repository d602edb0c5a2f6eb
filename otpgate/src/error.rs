//! Everything that stops the gate from reaching a decision. None of them is a pass: the
//! command maps every one to exit code 2.

use core::fmt;
use std::string::String;

/// Why the gate could not decide. A refused code is not an error but a
/// [`Refusal`](super::Refusal); these are the faults around it, each its own variant so
/// that a script or an operator sees which one.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum GateError {
    /// The user id is empty, longer than [`MAX_USER_LEN`](super::MAX_USER_LEN) bytes or
    /// holds control characters.
    InvalidUser,
    /// No record for this user: enroll first. Never an implicit enrollment.
    UnknownUser,
    /// The user exists and is active or disabled, so `enroll` would replace a working
    /// second factor; disable the user first to enroll again.
    AlreadyEnrolled,
    /// The database does not exist (only `enroll` creates one).
    NoDatabase {
        /// The path that was tried.
        path: String,
    },
    /// The record's columns cannot be read (missing or of the wrong type).
    RecordUnreadable,
    /// The sealed record is too short or its framing is wrong, or what it holds does not
    /// decode: damaged, not forged (a forgery fails [`GateError::RecordTampered`]).
    RecordCorrupt,
    /// The sealed record does not authenticate under the server key for this user and
    /// version: it was changed, moved from another user or rolled back to an older version
    /// while the version column moved on.
    RecordTampered,
    /// The server key file is missing while the database was set up with a key.
    MissingServerKey {
        /// The path that was tried.
        path: String,
    },
    /// The server key file exists but is not 64 hexadecimal digits (32 bytes).
    BadServerKey {
        /// The path that was read.
        path: String,
    },
    /// The server key is not the one this database was set up with.
    WrongServerKey,
    /// The store's schema is newer than this program knows: upgrade `otpgate`.
    SchemaTooNew {
        /// The version found in the database.
        found: i64,
    },
    /// The store's schema is older than this program and this role may not upgrade it:
    /// run one command as the migration role first.
    SchemaTooOld {
        /// The version found in the database.
        found: i64,
    },
    /// The database was never set up (no tables, or no user enrolled yet, so no server
    /// key): what to do about it.
    NotSetUp(&'static str),
    /// The store is read-only, so no outcome could be recorded (and none is granted).
    StoreReadOnly,
    /// The store stayed locked by other writers past the busy timeout.
    StoreBusy,
    /// The record kept changing under this process past the retry bound.
    Contention,
    /// Any other store or file system failure, with the underlying message.
    Store(String),
    /// The operating system's random number generator failed.
    Randomness,
    /// The core library refused an input or parameter (not a code attempt).
    Core(otpcore::Error),
    /// The phone number is not in E.164 form; the reason says what is wrong.
    InvalidPhone(super::PhoneError),
    /// The user has no phone number, so no code can be texted: `otpgate phone USER NUMBER`.
    NoPhone,
    /// No delivery command was given for a texted code.
    NoDeliveryCommand,
    /// The delivery command cannot be split into a program and arguments.
    InvalidDeliveryCommand(&'static str),
    /// The delivery command failed, so the code was withdrawn (see
    /// [`Gate::send_code`](super::Gate::send_code)).
    DeliveryFailed {
        /// What went wrong, and whether the code could be withdrawn.
        reason: String,
    },
    /// The database server cannot be reached, went away (down, restarting, the connection
    /// lost) or did not answer in time: nothing was decided.
    StoreUnavailable(String),
    /// A database given by URL (`postgresql://...`) needs the server key file named:
    /// there is no database path to put it beside.
    KeyFileRequired,
    /// The server key file is a symbolic link: it is opened without following links, so a
    /// link planted in its place cannot point the gate at another file.
    KeyFileSymlink {
        /// The path that was tried.
        path: String,
    },
    /// The server key file is not a regular file (a device such as `/dev/zero`, a FIFO, a
    /// directory or a socket): never read, so it cannot hang or exhaust the gate.
    KeyFileNotRegular {
        /// The path that was tried.
        path: String,
    },
    /// The server key file belongs to another user than the one running the gate.
    KeyFileOwner {
        /// The path that was tried.
        path: String,
    },
    /// The server key file can be read or written by its group or by others.
    KeyFilePermissions {
        /// The path that was tried.
        path: String,
        /// Its permission bits.
        mode: u32,
    },
    /// The server key file cannot be opened, read or created.
    KeyFileUnreadable {
        /// The path that was tried.
        path: String,
        /// The operating system's reason.
        reason: String,
    },
    /// A key file sits at the default path beside a database that has no key yet: it is
    /// adopted only when named explicitly (`--key-file`, `OTPGATE_KEY_FILE`), so a key
    /// planted there is never used by accident.
    UnnamedKeyFile {
        /// The path where the key file was found.
        path: String,
    },
    /// The `--db` string is neither an SQLite path nor a PostgreSQL connection string this
    /// otpgate can use; why (it is never printed itself: it may hold a password).
    InvalidDatabase(&'static str),
    /// The QR code of the enrollment cannot be drawn (the issuer and user are too long).
    QrCode(String),
    /// An output file (a QR code image, a backup) cannot be written.
    OutputFile {
        /// The file.
        path: String,
        /// The operating system's reason.
        reason: String,
    },
    /// The command cannot do what was asked, whatever the database holds.
    Usage(String),
    /// The database role may not do what was asked (PostgreSQL): what, why, and which role
    /// may.
    RoleNotAllowed(&'static str),
    /// The database has triggers, views or rules on the gate's tables: a trigger can write
    /// an older row back on every decision (resetting the failure count), so such a
    /// database is refused rather than trusted.
    ForeignSchemaObjects {
        /// Their kinds and names.
        names: String,
    },
    /// A service token name is empty, too long or holds other characters than letters,
    /// digits, `.`, `_` and `-`.
    InvalidTokenName,
    /// A service token of this name exists (or existed: revoked names stay taken).
    TokenExists,
    /// No service token of this name.
    UnknownToken,
    /// A link's validity is out of range: from one second to `max_secs`.
    InvalidValidity {
        /// The longest validity allowed, in seconds.
        max_secs: u64,
    },
    /// The issuer is empty, longer than 200 characters, holds control characters, or
    /// makes the key's URI too long for a QR code.
    InvalidIssuer,
    /// The approval's action is empty, longer than 200 characters or holds control
    /// characters.
    InvalidAction,
    /// No approval has this id.
    UnknownApproval,
}

impl fmt::Display for GateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GateError::InvalidUser => {
                f.write_str("invalid user id: 1 to 128 bytes without control characters")
            }
            GateError::UnknownUser => f.write_str("unknown user: enroll the user first"),
            GateError::AlreadyEnrolled => {
                f.write_str("the user is already enrolled; disable the user to enroll again")
            }
            GateError::NoDatabase { path } => write!(
                f,
                "no gate database at {path} (enroll a user to create one, or give --db)"
            ),
            GateError::RecordUnreadable => f.write_str("the user's record cannot be read"),
            GateError::RecordCorrupt => f.write_str("the user's record is corrupt"),
            GateError::RecordTampered => f.write_str(
                "the user's record does not authenticate: it was tampered with or moved",
            ),
            GateError::MissingServerKey { path } => write!(
                f,
                "the server key file {path} is missing, and the database was set up with a key"
            ),
            GateError::BadServerKey { path } => write!(
                f,
                "the server key file {path} does not hold 64 hexadecimal digits"
            ),
            GateError::WrongServerKey => {
                f.write_str("the server key is not the one this database was set up with")
            }
            GateError::SchemaTooNew { found } => write!(
                f,
                "the database schema is version {found}, newer than this otpgate knows"
            ),
            GateError::SchemaTooOld { found } => write!(
                f,
                "the database schema is version {found}, older than this otpgate, and this \
                 role may not upgrade it: run one otpgate command as the migration role first"
            ),
            GateError::NotSetUp(what_to_do) => {
                write!(f, "the database is not set up: {what_to_do}")
            }
            GateError::StoreReadOnly => {
                f.write_str("the database is read-only: no outcome can be recorded")
            }
            GateError::StoreBusy => f.write_str("the database stayed locked by other writers"),
            GateError::Contention => {
                f.write_str("the user's record kept changing; nothing was decided")
            }
            GateError::Store(message) => write!(f, "store error: {message}"),
            GateError::Randomness => f.write_str("the system random number generator failed"),
            GateError::Core(e) => write!(f, "{e}"),
            GateError::InvalidPhone(e) => write!(
                f,
                "invalid phone number: {e}; write it in E.164 form, + and 8 to 15 digits \
                 (e.g. +4915112345678)"
            ),
            GateError::NoPhone => f.write_str(
                "the user has no phone number for texted codes: \
                 set one with `otpgate phone USER NUMBER`",
            ),
            GateError::NoDeliveryCommand => f.write_str(
                "no delivery command: give --deliver-command CMD or set OTPGATE_DELIVER_COMMAND",
            ),
            GateError::InvalidDeliveryCommand(why) => write!(f, "invalid delivery command: {why}"),
            GateError::DeliveryFailed { reason } => {
                write!(f, "the message was not delivered: {reason}")
            }
            GateError::StoreUnavailable(message) => {
                write!(
                    f,
                    "the database is unavailable, nothing was decided: {message}"
                )
            }
            GateError::KeyFileRequired => f.write_str(
                "a database URL needs the server key file named: give --key-file PATH or set \
                 OTPGATE_KEY_FILE (the same key on every runner, kept out of the database)",
            ),
            GateError::KeyFileSymlink { path } => write!(
                f,
                "the server key file {path} is a symbolic link: name the file itself"
            ),
            GateError::KeyFileNotRegular { path } => write!(
                f,
                "the server key file {path} is not a regular file (a device, FIFO, directory \
                 or socket)"
            ),
            GateError::KeyFileOwner { path } => write!(
                f,
                "the server key file {path} belongs to another user: it must be owned by the \
                 user running otpgate"
            ),
            GateError::KeyFilePermissions { path, mode } => write!(
                f,
                "the server key file {path} has mode {mode:04o}: it must be readable by its \
                 owner only (chmod 600 {path})"
            ),
            GateError::KeyFileUnreadable { path, reason } => {
                write!(f, "cannot use the server key file {path}: {reason}")
            }
            GateError::UnnamedKeyFile { path } => write!(
                f,
                "the database is new, but a key file is already at {path}: a key is adopted \
                 for a new database only when named (--key-file or OTPGATE_KEY_FILE); \
                 otherwise remove it"
            ),
            GateError::InvalidDatabase(why) => write!(f, "invalid --db: {why}"),
            GateError::QrCode(why) => write!(f, "cannot draw the QR code: {why}"),
            GateError::OutputFile { path, reason } => write!(f, "cannot write {path}: {reason}"),
            GateError::Usage(why) => write!(f, "usage: {why}"),
            GateError::RoleNotAllowed(what) => write!(f, "this database role may not {what}"),
            GateError::ForeignSchemaObjects { names } => write!(
                f,
                "the database has objects the gate did not create on its tables ({names}): \
                 they could roll records back, so the database is refused; drop them"
            ),
            GateError::InvalidTokenName => f.write_str(
                "invalid token name: 1 to 64 letters, digits, '.', '_' or '-'",
            ),
            GateError::TokenExists => f.write_str(
                "a token of this name exists or existed (revoked names stay taken): pick another name",
            ),
            GateError::UnknownToken => f.write_str("no token of this name"),
            GateError::InvalidValidity { max_secs } => write!(
                f,
                "invalid validity: from 1 second to {max_secs} seconds ({} hours)",
                max_secs / 3600
            ),
            GateError::InvalidIssuer => {
                f.write_str(
                    "invalid issuer: 1 to 200 characters without control characters, \
                     short enough for the key's QR code",
                )
            }
            GateError::InvalidAction => {
                f.write_str("invalid action: 1 to 200 characters without control characters")
            }
            GateError::UnknownApproval => {
                f.write_str("no approval with this id: check the id `otpgate request` printed")
            }
        }
    }
}

impl std::error::Error for GateError {}

impl From<otpcore::Error> for GateError {
    fn from(e: otpcore::Error) -> Self {
        match e {
            otpcore::Error::RandomnessUnavailable => GateError::Randomness,
            e => GateError::Core(e),
        }
    }
}
