//! The per-user flow: enroll, confirm, verify, administer. Every decision is one
//! read-verify-swap through the store; a conflicting swap reads and verifies again.

use core::fmt;
use std::string::String;
use std::vec;
use std::vec::Vec;

use super::record::{Record, Status};

mod texted;
use super::{
    AuditEntry, AuditRecord, AuditVerification, GateError, PhoneNumber, ServerKey, Store, Swap,
};
use otpcore::recovery::RecoveryCodeList;
use otpcore::{
    Error, KeyUri, OobPolicy, OobRecord, OobState, OobVerification, RecoveryCodes,
    RecoveryVerification, Secret, Throttle, Totp, TotpParams, UserState, Verification,
};

/// How many times one decision reads and verifies again after a conflicting write before it
/// gives up with [`GateError::Contention`]. Each conflict means another process decided, so
/// this bounds the number of processes deciding for one user at the same moment.
pub const MAX_ROUNDS: usize = 256;

/// The longest user id, in bytes.
pub const MAX_USER_LEN: usize = 128;

/// How long after a texted code's expiry a wrong code is still refused with the texted
/// code's fate ("expired", "already used") rather than as a plain wrong code: a user who
/// types a late code learns why, and after that the texted code is forgotten.
pub const TEXTED_CODE_NOTICE_SECS: u64 = 600;

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
    /// The code is not a current authenticator code, and the texted code has expired (or
    /// was withdrawn after a failed delivery): send a new one.
    SmsExpired,
    /// The code is not a current authenticator code, and the texted code has had all its
    /// tries: refused even if right. Send a new one.
    SmsTooManyAttempts,
    /// The code is neither a current authenticator code nor the texted code, which was
    /// already used: a failure. (The used texted code itself, typed again, is
    /// [`Refusal::Replayed`] and not counted.)
    SmsAlreadyUsed,
    /// A new texted code was asked for too soon after the previous one.
    SmsTooSoon {
        /// Unix time from which a new code can be sent.
        retry_at: u64,
        /// Seconds from the request until then.
        retry_in: u64,
    },
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
            Refusal::SmsExpired => "sms-expired",
            Refusal::SmsTooManyAttempts => "sms-too-many-attempts",
            Refusal::SmsAlreadyUsed => "sms-already-used",
            Refusal::SmsTooSoon { .. } => "sms-too-soon",
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

    fn from_oob(outcome: Result<OobVerification, Error>, now: u64) -> Result<(), Self> {
        match outcome {
            Ok(OobVerification::Valid) => Ok(()),
            Ok(OobVerification::Wrong) => Err(Refusal::Wrong),
            Ok(OobVerification::Expired) => Err(Refusal::SmsExpired),
            Ok(OobVerification::TooManyAttempts) => Err(Refusal::SmsTooManyAttempts),
            Ok(OobVerification::AlreadyUsed) => Err(Refusal::Replayed),
            // Only checked when a texted code was issued: none pending means it was used.
            Ok(OobVerification::NoCodePending) => Err(Refusal::SmsAlreadyUsed),
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
            Refusal::SmsExpired => f.write_str(
                "not a current authenticator code, and the texted code has expired (or its \
                 delivery failed): send a new one with `otpgate send-code`",
            ),
            Refusal::SmsTooManyAttempts => f.write_str(
                "not a current authenticator code, and the texted code has had too many \
                 attempts: send a new one with `otpgate send-code`",
            ),
            Refusal::SmsAlreadyUsed => f.write_str(
                "not a current authenticator code, and the texted code was already used: \
                 send a new one with `otpgate send-code`",
            ),
            Refusal::SmsTooSoon { retry_at, retry_in } => write!(
                f,
                "too soon after the last texted code: no new one before {retry_at} \
                 (retry in {retry_in} s)"
            ),
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

/// Which second factor an accepted code came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Factor {
    /// A TOTP code from the authenticator app.
    Totp,
    /// A texted (out-of-band) code from [`Gate::send_code`].
    Sms,
}

impl Factor {
    /// `totp` or `sms`, as in the JSON output.
    pub const fn label(self) -> &'static str {
        match self {
            Factor::Totp => "totp",
            Factor::Sms => "sms",
        }
    }
}

/// An accepted code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    /// The code's time step minus the server's, in steps (0 for a texted code).
    pub drift: i64,
    /// The factor the code came from.
    pub factor: Factor,
}

impl Accepted {
    /// The round that records this acceptance: outcome `accepted` with the drift for a
    /// TOTP code, `accepted-sms` for a texted one.
    fn round<T>(self, value: T) -> Round<T> {
        match self.factor {
            Factor::Totp => Round::accept(value, Some(self.drift)),
            Factor::Sms => Round::accept_as(value, None, "accepted-sms"),
        }
    }
}

/// A texted code handed to the delivery command, which reported success.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// Where it went.
    pub to: PhoneNumber,
    /// Unix time from which the code is refused as expired.
    pub expires_at: u64,
}

/// An accepted recovery code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recovered {
    /// Unused recovery codes left.
    pub remaining: usize,
}

/// What `status` reports about a user.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// Where texted codes go, if anywhere.
    pub phone: Option<PhoneNumber>,
    /// The last texted code: none, pending (possibly expired) or used.
    pub texted_code: OobState,
    /// When the last texted code expires (0 when none was sent).
    pub texted_code_expires_at: u64,
}

/// What one round of a decision wants written.
struct Round<T> {
    decision: Decision<T>,
    drift: Option<i64>,
    /// The audit entry's outcome.
    outcome: &'static str,
}

impl<T> Round<T> {
    fn accept(value: T, drift: Option<i64>) -> Self {
        Self::accept_as(value, drift, "accepted")
    }

    fn accept_as(value: T, drift: Option<i64>, outcome: &'static str) -> Self {
        Round {
            decision: Ok(value),
            drift,
            outcome,
        }
    }

    fn refuse(refusal: Refusal) -> Self {
        Round {
            outcome: refusal.label(),
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
    oob_policy: OobPolicy,
    /// Written into every audit entry: who asked (a service token's name).
    actor: Option<String>,
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
            oob_policy: OobPolicy::default(),
            actor: None,
        })
    }

    /// Names who makes the following decisions in their audit entries (`otpgate serve`:
    /// the name of the token of the request); `None` for the command run directly.
    pub fn set_actor(&mut self, actor: Option<&str>) {
        self.actor = actor.map(String::from);
    }

    /// Who the following decisions are recorded as made by (see [`set_actor`](Self::set_actor)).
    pub fn actor(&self) -> Option<&str> {
        self.actor.as_deref()
    }

    /// The same gate with another throttling policy.
    pub fn with_throttle(self, throttle: Throttle) -> Result<Self, GateError> {
        throttle.validate()?;
        Ok(Gate { throttle, ..self })
    }

    /// The same gate with another policy for texted codes ([`OobPolicy::default`]: 6
    /// digits, valid 5 minutes, 3 tries, 60 seconds between two codes). The digits must be
    /// 6, as for TOTP codes, since `check` takes either.
    pub fn with_oob_policy(self, oob_policy: OobPolicy) -> Result<Self, GateError> {
        oob_policy.validate()?;
        if oob_policy.digits != self.params.digits.get() {
            return Err(GateError::Core(Error::InvalidOobPolicy));
        }
        Ok(Gate { oob_policy, ..self })
    }

    /// The store underneath.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The server key, for what the gate's other modules derive from it.
    pub(crate) fn server_key(&self) -> &ServerKey {
        &self.key
    }

    /// The TOTP parameters codes are checked with.
    pub fn params(&self) -> TotpParams {
        self.params
    }

    /// Enrolls `user`: a new secret, pending until [`confirm`](Self::confirm). A pending or
    /// disabled user gets a new secret (the old one never passes again); an active user is
    /// [`GateError::AlreadyEnrolled`]. `issuer` names the service in authenticator apps.
    pub fn enroll(&self, user: &str, issuer: &str, now: u64) -> Result<Enrollment, GateError> {
        self.enroll_with_phone(user, issuer, None, now)
    }

    /// [`enroll`](Self::enroll), with the phone number texted codes go to
    /// ([`send_code`](Self::send_code)), checked by [`PhoneNumber::parse`] first.
    pub fn enroll_with_phone(
        &self,
        user: &str,
        issuer: &str,
        phone: Option<&str>,
        now: u64,
    ) -> Result<Enrollment, GateError> {
        check_user(user)?;
        let phone = phone.map(PhoneNumber::parse).transpose()?;
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
                phone: phone.clone(),
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

    /// Confirms a pending enrollment with the first `code` (from the authenticator app, or
    /// a texted code, which proves the phone number): the user becomes active and gets
    /// recovery codes, generated and committed in the same write, and returned only once
    /// that write succeeded. Show them to the user once.
    pub fn confirm(
        &self,
        user: &str,
        code: &str,
        now: u64,
    ) -> Result<Decision<RecoveryCodeList>, GateError> {
        self.decide(user, "confirm", None, now, |record| match record.status {
            Status::Active => Ok(Round::refuse(Refusal::AlreadyConfirmed)),
            Status::Disabled => Ok(Round::refuse(Refusal::Disabled)),
            Status::Pending => match self.verify_code(user, record, code, now, Texted::Accepted)? {
                Ok(accepted) => {
                    let (set, codes) = RecoveryCodes::generate()?;
                    record.state.recovery = set;
                    record.status = Status::Active;
                    Ok(accepted.round(codes))
                }
                Err(refusal) => Ok(Round::refuse(refusal)),
            },
        })
    }

    /// The gate: checks a `code` of an active user, at most once across every process
    /// sharing the store: a TOTP code, or the texted code of [`send_code`](Self::send_code).
    /// `action` labels the audit entry (say, the deploy it allows).
    ///
    /// One typed code is one attempt, counted once by the throttle: it is checked as a TOTP
    /// code first; only when it matches no time step (not when it is a replay) and a texted
    /// code is in play (issued and not more than [`TEXTED_CODE_NOTICE_SECS`] past its
    /// expiry) is the TOTP failure taken back and the code checked as the texted one, whose
    /// outcome is what counts (and what the refusal says: wrong, expired, too many tries,
    /// already used). A TOTP replay is refused as such without trying the texted code, so
    /// a retried pipeline job never uses up the texted code's tries.
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
            Ok(
                match self.verify_code(user, record, code, now, Texted::Accepted)? {
                    Ok(accepted) => accepted.round(accepted),
                    Err(refusal) => Round::refuse(refusal),
                },
            )
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
    /// used, like any accepted code). The new codes are returned only after the write. A
    /// texted code is not enough here: whoever took over the phone number could otherwise
    /// replace the codes that are the user's way back.
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
            match self.verify_code(user, record, code, now, Texted::Refused)? {
                Ok(accepted) => {
                    let (set, codes) = RecoveryCodes::generate()?;
                    record.state.recovery = set;
                    Ok(accepted.round(codes))
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
            texted_code: record.state.oob.state(),
            texted_code_expires_at: record.state.oob.expires_at(),
            phone: record.phone,
        })
    }

    /// Checks the whole audit trail's chain of MACs (each row's MAC under a key derived from
    /// the server key, chained to the previous row's): intact, or the first row that is
    /// forged, altered, out of order or after deleted rows.
    pub fn verify_log(&self) -> Result<AuditVerification, GateError> {
        let start = self.store.audit_chain_start()?;
        let rows = self.store.audit_log(None, usize::MAX)?;
        Ok(super::audit::verify(&self.key.audit_key(), start, &rows))
    }

    /// The audit trail, up to `limit` entries, the latest last.
    pub fn log(&self, user: Option<&str>, limit: usize) -> Result<Vec<AuditRecord>, GateError> {
        self.store.audit_log(user, limit)
    }

    /// Verifies a code against the record under the throttle, as a TOTP code and then, as
    /// [`check`](Self::check) describes, as the texted code. A replayed code (TOTP or
    /// texted) is refused without counting as a failure, as the core decides
    /// ([`otpcore::AttemptOutcome::is_replay`]): counting it would let a retried pipeline
    /// job, or anyone who saw a used code, lock out the user who just passed, and it tells
    /// a guesser nothing about the next code.
    fn verify_code(
        &self,
        user: &str,
        record: &mut Record,
        code: &str,
        now: u64,
        texted: Texted,
    ) -> Result<Decision<Accepted>, GateError> {
        let totp = Totp::new(&record.secret, self.params)?;
        let before = record.state.throttle;
        let outcome = record.state.verify_totp(&totp, &self.throttle, code, now);
        match outcome {
            Ok(Verification::Invalid)
                if texted == Texted::Accepted && texted_code_in_play(&record.state.oob, now) =>
            {
                // One attempt, one failure: the texted code's outcome counts instead.
                record.state.throttle = before;
                let key = self.key.oob_key()?;
                let outcome = record
                    .state
                    .verify_oob(&key, &self.throttle, user, code, now);
                Ok(Refusal::from_oob(outcome, now).map(|()| Accepted {
                    drift: 0,
                    factor: Factor::Sms,
                }))
            }
            outcome => Ok(Refusal::from_totp(outcome, now).map(|drift| Accepted {
                drift,
                factor: Factor::Totp,
            })),
        }
    }

    pub(crate) fn read(&self, user: &str) -> Result<(u64, Record), GateError> {
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
            key: self.key.audit_key(),
            actor: self.actor.clone(),
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
            let Round {
                decision,
                drift,
                outcome,
            } = round(&mut record)?;
            let audit = self.audit(user, event, action, outcome, drift, now);
            if self.swap(user, Some(version), &record, &audit)? == Swap::Written {
                return Ok(decision);
            }
        }
        Err(GateError::Contention)
    }
}

/// Whether a typed code that is not a TOTP code is checked as the texted code: one was
/// issued, at or before `now`, and its expiry is at most [`TEXTED_CODE_NOTICE_SECS`] ago.
/// (A clock that went back before the issue leaves the TOTP failure counted.)
fn texted_code_in_play(oob: &OobRecord, now: u64) -> bool {
    oob.state() != OobState::Empty
        && now >= oob.issued_at()
        && now < oob.expires_at().saturating_add(TEXTED_CODE_NOTICE_SECS)
}

fn inactive(status: Status) -> Option<Refusal> {
    match status {
        Status::Active => None,
        Status::Pending => Some(Refusal::NotConfirmed),
        Status::Disabled => Some(Refusal::Disabled),
    }
}

/// Checks a user id: 1 to [`MAX_USER_LEN`] bytes without control characters
/// ([`GateError::InvalidUser`] otherwise), as every operation does before anything else.
pub fn check_user(user: &str) -> Result<(), GateError> {
    if user.is_empty() || user.len() > MAX_USER_LEN || user.chars().any(char::is_control) {
        return Err(GateError::InvalidUser);
    }
    Ok(())
}

/// The most bytes one QR code holds (version 40, error correction L, bytes): the key URI
/// must fit, or no phone can scan it.
const QR_MAX_BYTES: usize = 2953;

/// The `otpauth://` URI of `user`'s key. An issuer that makes it too long for a QR code
/// (non-ASCII, percent-encoded to three bytes each, and in the URI twice) is
/// [`GateError::InvalidIssuer`]: [`check_user`] bounds the user, so only the issuer can.
pub(crate) fn key_uri(
    user: &str,
    issuer: &str,
    secret: &Secret,
) -> Result<zeroize::Zeroizing<String>, GateError> {
    let uri = KeyUri::totp(user).with_issuer(issuer);
    let len = uri.encoded_len(secret)?;
    if len > QR_MAX_BYTES {
        return Err(GateError::InvalidIssuer);
    }
    let mut buf = zeroize::Zeroizing::new(vec![0u8; len]);
    let text = uri.to_buf(secret, &mut buf)?;
    Ok(zeroize::Zeroizing::new(String::from(text)))
}

/// Whether a decision takes a texted code in place of a TOTP code.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Texted {
    Accepted,
    Refused,
}
