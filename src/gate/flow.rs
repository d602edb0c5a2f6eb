//! The per-user flow: enroll, confirm, verify, administer. Every decision is one
//! read-verify-swap through the store; a conflicting swap reads and verifies again.

use core::fmt;
use std::string::String;
use std::vec;
use std::vec::Vec;

use super::record::{Record, Status};
use super::{AuditEntry, AuditRecord, GateError, ServerKey, Store, Swap};
use crate::recovery::RecoveryCodeList;
use crate::{
    Error, KeyUri, RecoveryCodes, RecoveryVerification, Secret, Throttle, Totp, TotpParams,
    UserState, Verification,
};

/// How many times one decision reads and verifies again after a conflicting write before it
/// gives up with [`GateError::Contention`]. Each conflict means another process decided, so
/// this bounds the number of processes deciding for one user at the same moment.
pub const MAX_ROUNDS: usize = 256;

/// The longest user id, in bytes.
pub const MAX_USER_LEN: usize = 128;

/// Why a code was refused. Unlike a [`GateError`], the gate reached a decision (and
/// recorded it in the audit trail).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// The code matches no time step in the window.
    Wrong,
    /// The code is right but its time step was already used.
    Replayed,
    /// Too many failures: no code is checked until `retry_at`.
    Throttled {
        /// Unix time from which attempts are checked again.
        retry_at: u64,
        /// Seconds from the attempt until then.
        retry_in: u64,
    },
    /// Too many consecutive failures: the throttle's hard stop. No code is checked until a
    /// recovery code succeeds or an administrator resets the user.
    LockedOut,
    /// The enrollment was not confirmed with a first code yet.
    NotConfirmed,
    /// The enrollment was already confirmed (a second `confirm`).
    AlreadyConfirmed,
    /// The user was disabled by an administrator.
    Disabled,
    /// The recovery code belongs to the user but was used before.
    RecoveryCodeUsed,
    /// The recovery code is not one of the user's.
    UnknownRecoveryCode,
    /// The core refused the attempt before checking it (a malformed code, a lockout):
    /// its error says why.
    Refused(Error),
}

impl Refusal {
    /// The label in the audit trail and the JSON output.
    pub const fn label(&self) -> &'static str {
        match self {
            Refusal::Wrong => "wrong",
            Refusal::Replayed => "replayed",
            Refusal::Throttled { .. } => "throttled",
            Refusal::LockedOut => "locked-out",
            Refusal::NotConfirmed => "not-confirmed",
            Refusal::AlreadyConfirmed => "already-confirmed",
            Refusal::Disabled => "disabled",
            Refusal::RecoveryCodeUsed => "recovery-code-used",
            Refusal::UnknownRecoveryCode => "unknown-recovery-code",
            Refusal::Refused(Error::CodeWrongLength | Error::CodeInvalidCharacter) => "malformed",
            Refusal::Refused(Error::RecoveryCodeMalformed) => "malformed",
            Refusal::Refused(_) => "refused",
        }
    }

    fn from_core(e: Error, now: u64) -> Self {
        match e {
            Error::Throttled { retry_at } => Refusal::Throttled {
                retry_at,
                retry_in: retry_at.saturating_sub(now),
            },
            Error::LockedOut => Refusal::LockedOut,
            e => Refusal::Refused(e),
        }
    }

    fn from_totp(outcome: Result<Verification, Error>, now: u64) -> Result<i64, Self> {
        match outcome {
            Ok(Verification::Valid(m)) => Ok(m.drift),
            Ok(Verification::Replayed(_)) => Err(Refusal::Replayed),
            Ok(Verification::Invalid) => Err(Refusal::Wrong),
            Err(e) => Err(Refusal::from_core(e, now)),
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Wrong => f.write_str("wrong code"),
            Refusal::Replayed => f.write_str("this code was already used (replayed)"),
            Refusal::Throttled { retry_at, retry_in } => write!(
                f,
                "too many failures: throttled, no code is checked before {retry_at} \
                 (retry in {retry_in} s)"
            ),
            Refusal::LockedOut => f.write_str(
                "too many failures in a row: locked out until a recovery code \
                 (`otpgate recover`) or an administrator reset (`otpgate reset`)",
            ),
            Refusal::NotConfirmed => {
                f.write_str("the enrollment is not confirmed: run `otpgate confirm USER CODE`")
            }
            Refusal::AlreadyConfirmed => f.write_str("the enrollment is already confirmed"),
            Refusal::Disabled => f.write_str("the user is disabled"),
            Refusal::RecoveryCodeUsed => f.write_str("this recovery code was already used"),
            Refusal::UnknownRecoveryCode => f.write_str("unknown recovery code"),
            Refusal::Refused(e) => write!(f, "{e}"),
        }
    }
}

/// A decision: the accepted value, or why not.
pub type Decision<T> = Result<T, Refusal>;

/// A new, pending enrollment: show it to the user once.
#[derive(Debug)]
pub struct Enrollment {
    /// The new secret (wiped on drop).
    pub secret: Secret,
    /// The `otpauth://` key URI for authenticator apps (it holds the secret).
    pub uri: zeroize::Zeroizing<String>,
}

/// An accepted TOTP code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    /// The code's time step minus the server's, in steps.
    pub drift: i64,
}

/// An accepted recovery code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recovered {
    /// Unused recovery codes left.
    pub remaining: usize,
}

/// What `status` reports about a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserStatus {
    /// Where the user is in the enrollment.
    pub status: Status,
    /// Unused recovery codes.
    pub recovery_codes_left: usize,
    /// Failed attempts counted by the throttle.
    pub failures: u32,
    /// Unix time until which codes are not checked (0 or past: not locked).
    pub locked_until: u64,
    /// The last accepted time step.
    pub last_step: Option<u64>,
    /// The record's version in the store (one more per recorded decision).
    pub version: u64,
}

/// What one round of a decision wants written.
struct Round<T> {
    decision: Decision<T>,
    drift: Option<i64>,
}

impl<T> Round<T> {
    fn accept(value: T, drift: Option<i64>) -> Self {
        Round {
            decision: Ok(value),
            drift,
        }
    }

    fn refuse(refusal: Refusal) -> Self {
        Round {
            decision: Err(refusal),
            drift: None,
        }
    }
}

/// The gate over a [`Store`], with the server key that seals its records.
pub struct Gate<S> {
    store: S,
    key: ServerKey,
    throttle: Throttle,
    params: TotpParams,
}

impl<S: Store> Gate<S> {
    /// Opens the gate: checks `key` against the key check in `store` (stored on first
    /// use), so a wrong key is [`GateError::WrongServerKey`] before any record is read.
    /// Codes are six-digit SHA-1 TOTP with a window of one step (what authenticator apps
    /// show) under [`Throttle::default`].
    pub fn open(store: S, key: ServerKey) -> Result<Self, GateError> {
        let check = match store.key_check()? {
            Some(check) => check,
            None => store.init_key_check(&key.key_check()?)?,
        };
        if !key.matches(&check) {
            return Err(GateError::WrongServerKey);
        }
        Ok(Gate {
            store,
            key,
            throttle: Throttle::default(),
            params: TotpParams::default(),
        })
    }

    /// The same gate with another throttling policy.
    pub fn with_throttle(self, throttle: Throttle) -> Result<Self, GateError> {
        throttle.validate()?;
        Ok(Gate { throttle, ..self })
    }

    /// The store underneath.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The TOTP parameters codes are checked with.
    pub fn params(&self) -> TotpParams {
        self.params
    }

    /// Enrolls `user`: a new secret, pending until [`confirm`](Self::confirm). A pending or
    /// disabled user gets a new secret (the old one never passes again); an active user is
    /// [`GateError::AlreadyEnrolled`]. `issuer` names the service in authenticator apps.
    pub fn enroll(&self, user: &str, issuer: &str, now: u64) -> Result<Enrollment, GateError> {
        check_user(user)?;
        for _ in 0..MAX_ROUNDS {
            let expected = match self.store.load(user)? {
                None => None,
                Some(stored) => {
                    let record = self.open_record(user, stored.version, &stored.sealed)?;
                    if record.status == Status::Active {
                        return Err(GateError::AlreadyEnrolled);
                    }
                    Some(stored.version)
                }
            };
            let record = Record {
                status: Status::Pending,
                secret: Secret::generate()?,
                state: UserState::default(),
            };
            let uri = key_uri(user, issuer, &record.secret)?;
            let audit = self.audit(user, "enroll", None, "pending", None, now);
            if self.swap(user, expected, &record, &audit)? == Swap::Written {
                return Ok(Enrollment {
                    secret: record.secret,
                    uri,
                });
            }
        }
        Err(GateError::Contention)
    }

    /// Confirms a pending enrollment with the first `code`: the user becomes active and
    /// gets recovery codes, generated and committed in the same write, and returned only
    /// once that write succeeded. Show them to the user once.
    pub fn confirm(
        &self,
        user: &str,
        code: &str,
        now: u64,
    ) -> Result<Decision<RecoveryCodeList>, GateError> {
        self.decide(user, "confirm", None, now, |record| match record.status {
            Status::Active => Ok(Round::refuse(Refusal::AlreadyConfirmed)),
            Status::Disabled => Ok(Round::refuse(Refusal::Disabled)),
            Status::Pending => match self.verify_code(record, code, now)? {
                Ok(drift) => {
                    let (set, codes) = RecoveryCodes::generate()?;
                    record.state.recovery = set;
                    record.status = Status::Active;
                    Ok(Round::accept(codes, Some(drift)))
                }
                Err(refusal) => Ok(Round::refuse(refusal)),
            },
        })
    }

    /// The gate: checks a TOTP `code` of an active user, at most once across every process
    /// sharing the store. `action` labels the audit entry (say, the deploy it allows).
    pub fn check(
        &self,
        user: &str,
        code: &str,
        action: Option<&str>,
        now: u64,
    ) -> Result<Decision<Accepted>, GateError> {
        self.decide(user, "check", action, now, |record| {
            if let Some(refusal) = inactive(record.status) {
                return Ok(Round::refuse(refusal));
            }
            Ok(match self.verify_code(record, code, now)? {
                Ok(drift) => Round::accept(Accepted { drift }, Some(drift)),
                Err(refusal) => Round::refuse(refusal),
            })
        })
    }

    /// The gate with a recovery code instead of a TOTP code; each works once.
    pub fn recover(
        &self,
        user: &str,
        code: &str,
        action: Option<&str>,
        now: u64,
    ) -> Result<Decision<Recovered>, GateError> {
        self.decide(user, "recover", action, now, |record| {
            if let Some(refusal) = inactive(record.status) {
                return Ok(Round::refuse(refusal));
            }
            Ok(
                match record.state.verify_recovery(&self.throttle, code, now) {
                    Ok(RecoveryVerification::Valid { remaining, .. }) => {
                        Round::accept(Recovered { remaining }, None)
                    }
                    Ok(RecoveryVerification::Used { .. }) => {
                        Round::refuse(Refusal::RecoveryCodeUsed)
                    }
                    Ok(RecoveryVerification::Invalid) => {
                        Round::refuse(Refusal::UnknownRecoveryCode)
                    }
                    Err(e) => Round::refuse(Refusal::from_core(e, now)),
                },
            )
        })
    }

    /// Replaces an active user's recovery codes after a fresh TOTP `code` (which counts as
    /// used, like any accepted code). The new codes are returned only after the write.
    pub fn new_recovery_codes(
        &self,
        user: &str,
        code: &str,
        now: u64,
    ) -> Result<Decision<RecoveryCodeList>, GateError> {
        self.decide(user, "recovery-codes", None, now, |record| {
            if let Some(refusal) = inactive(record.status) {
                return Ok(Round::refuse(refusal));
            }
            match self.verify_code(record, code, now)? {
                Ok(drift) => {
                    let (set, codes) = RecoveryCodes::generate()?;
                    record.state.recovery = set;
                    Ok(Round::accept(codes, Some(drift)))
                }
                Err(refusal) => Ok(Round::refuse(refusal)),
            }
        })
    }

    /// An administrator's reset of the user's throttle (failures and lockouts), after
    /// finding out why the user was locked out.
    pub fn reset(&self, user: &str, now: u64) -> Result<(), GateError> {
        self.decide(user, "reset", None, now, |record| {
            record.state.reset_throttle();
            Ok(Round::accept((), None))
        })
        .map(|_| ())
    }

    /// Disables the user: nothing passes until the user enrolls again.
    pub fn disable(&self, user: &str, now: u64) -> Result<(), GateError> {
        self.decide(user, "disable", None, now, |record| {
            record.status = Status::Disabled;
            Ok(Round::accept((), None))
        })
        .map(|_| ())
    }

    /// The user's status, read (and authenticated) without a write.
    pub fn status(&self, user: &str) -> Result<UserStatus, GateError> {
        let (version, record) = self.read(user)?;
        Ok(UserStatus {
            status: record.status,
            recovery_codes_left: if record.status == Status::Active {
                record.state.recovery.remaining()
            } else {
                0
            },
            failures: record.state.throttle.failures,
            locked_until: record.state.throttle.locked_until,
            last_step: record.state.last_accepted(),
            version,
        })
    }

    /// The audit trail, up to `limit` entries, the latest last.
    pub fn log(&self, user: Option<&str>, limit: usize) -> Result<Vec<AuditRecord>, GateError> {
        self.store.audit_log(user, limit)
    }

    /// Verifies a TOTP code against the record under the throttle. A replayed code is
    /// refused without counting as a failure: it is a code that already passed, so counting
    /// it would let a retried pipeline job, or anyone who saw a used code, lock out the
    /// user who just passed, and it tells a guesser nothing about the next code.
    fn verify_code(
        &self,
        record: &mut Record,
        code: &str,
        now: u64,
    ) -> Result<Decision<i64>, GateError> {
        let totp = Totp::new(&record.secret, self.params)?;
        let before = record.state.throttle;
        let outcome = record.state.verify_totp(&totp, &self.throttle, code, now);
        if matches!(outcome, Ok(Verification::Replayed(_))) {
            record.state.throttle = before;
        }
        Ok(Refusal::from_totp(outcome, now))
    }

    fn read(&self, user: &str) -> Result<(u64, Record), GateError> {
        check_user(user)?;
        let stored = self.store.load(user)?.ok_or(GateError::UnknownUser)?;
        let record = self.open_record(user, stored.version, &stored.sealed)?;
        Ok((stored.version, record))
    }

    fn open_record(&self, user: &str, version: u64, sealed: &[u8]) -> Result<Record, GateError> {
        Record::decode(&self.key.open(user, version, sealed)?)
    }

    fn swap(
        &self,
        user: &str,
        expected: Option<u64>,
        record: &Record,
        audit: &AuditEntry,
    ) -> Result<Swap, GateError> {
        let version = super::next_version(expected);
        let sealed = self.key.seal(user, version, &record.encode()?)?;
        self.store.compare_and_swap(user, expected, &sealed, audit)
    }

    fn audit(
        &self,
        user: &str,
        event: &'static str,
        action: Option<&str>,
        outcome: &'static str,
        drift: Option<i64>,
        now: u64,
    ) -> AuditEntry {
        AuditEntry {
            time: now,
            user: String::from(user),
            event,
            action: action.map(String::from),
            outcome,
            drift,
        }
    }

    /// One decision: read, let `round` decide (and change the record), then swap the new
    /// record in with the audit entry; on a conflict, all over again from a fresh read.
    fn decide<T>(
        &self,
        user: &str,
        event: &'static str,
        action: Option<&str>,
        now: u64,
        mut round: impl FnMut(&mut Record) -> Result<Round<T>, GateError>,
    ) -> Result<Decision<T>, GateError> {
        for _ in 0..MAX_ROUNDS {
            let (version, mut record) = self.read(user)?;
            let Round { decision, drift } = round(&mut record)?;
            let outcome = match &decision {
                Ok(_) => "accepted",
                Err(refusal) => refusal.label(),
            };
            let audit = self.audit(user, event, action, outcome, drift, now);
            if self.swap(user, Some(version), &record, &audit)? == Swap::Written {
                return Ok(decision);
            }
        }
        Err(GateError::Contention)
    }
}

fn inactive(status: Status) -> Option<Refusal> {
    match status {
        Status::Active => None,
        Status::Pending => Some(Refusal::NotConfirmed),
        Status::Disabled => Some(Refusal::Disabled),
    }
}

fn check_user(user: &str) -> Result<(), GateError> {
    if user.is_empty() || user.len() > MAX_USER_LEN || user.chars().any(char::is_control) {
        return Err(GateError::InvalidUser);
    }
    Ok(())
}

fn key_uri(
    user: &str,
    issuer: &str,
    secret: &Secret,
) -> Result<zeroize::Zeroizing<String>, GateError> {
    let uri = KeyUri::totp(user).with_issuer(issuer);
    let mut buf = zeroize::Zeroizing::new(vec![0u8; uri.encoded_len(secret)?]);
    let text = uri.to_buf(secret, &mut buf)?;
    Ok(zeroize::Zeroizing::new(String::from(text)))
}
