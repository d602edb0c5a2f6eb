//! Rate limiting of failed attempts: a pure state machine whose state the caller persists.
//!
//! Six digits resist guessing only while attempts are limited: with a window of three
//! steps, each guess succeeds with probability 3 in a million. A [`Throttle`] (the policy)
//! and a [`ThrottleState`] (per user, persisted with the rest of the user's state) count
//! the **consecutive** failures since the last success; only a success clears them, never
//! the passing of time (NIST SP 800-63B §5.2.2).
//!
//! - The first [`Throttle::lockout_after`] − 1 consecutive failures are free (typing
//!   mistakes).
//! - The `lockout_after`-th failure, and every one after it, locks the user out: the first
//!   time for [`Throttle::lockout_secs`], then twice as long after each further failure,
//!   up to [`Throttle::max_lockout_secs`].
//! - The [`Throttle::hard_stop_after`]-th consecutive failure (at most
//!   [`MAX_HARD_STOP`] = 100) is a hard stop: no one-time code is checked any more
//!   ([`Error::LockedOut`]) until a recovery code succeeds
//!   ([`Throttle::attempt_recovery`], still paced by the longest lockout) or an
//!   administrator resets the state ([`ThrottleState::default`]).
//!
//! A lockout ends at an absolute time and a new one starts from that end, never from an
//! earlier "now": a clock that goes backwards never shortens a lockout.
//!
//! # The guessing budget
//!
//! With no success in between, an attacker gets at most `hard_stop_after` guesses in
//! total, whatever the strategy: bursts are cut off by the lockouts, a trickle below any
//! rate adds up to the same count, and there is no counting window whose boundary could be
//! straddled. [`Throttle::max_failures_within`] gives the exact worst case for any span of
//! time (the attacker waits out every lockout to the second).
//!
//! Every success by the real user clears the count, so over a period with `S` successes
//! the budget is at most `(S + 1) × (hard_stop_after − 1)` guesses (plus one that ends in
//! the hard stop), and never more than `max_failures_within` allows between two successes.
//! For the defaults (`lockout_after` 5, 60 s doubling to 1 h, hard stop at 20):
//!
//! | situation | guesses | chance, 6 digits, window ±1 step |
//! |---|---:|---:|
//! | a dormant account, forever | 20 | 0.006 % |
//! | the first hour | 10 | 0.003 % |
//! | a year, one success a day | 19 a day, 6,935 | 2.1 % |
//!
//! The chance per guess is the window (3 steps) over 10^6; a lockout or hard stop is worth
//! an alert, since a real user rarely makes more than a few mistakes in a row.
//!
//! [`Throttle::attempt`] composes with verification: while locked out, the code is not
//! even checked, and the error says when to retry.
//!
//! ```
//! use otpcore::{Error, Secret, Throttle, ThrottleState, Totp, TotpParams, Verification};
//! let totp = Totp::new(&Secret::from_base32("JBSWY3DPEHPK3PXP")?, TotpParams::default())?;
//! let throttle = Throttle { lockout_after: 2, ..Throttle::default() };
//! let mut state = ThrottleState::default(); // load it from the user's record
//! let now = 1_700_000_000;
//! for _ in 0..2 {
//!     let outcome = throttle.attempt(&mut state, now, || totp.verify("000000", now, None))?;
//!     assert_eq!(outcome, Verification::Invalid);
//! }
//! // Locked out: even the right code is not checked.
//! let code = totp.generate(now)?.to_string();
//! let locked = throttle.attempt(&mut state, now, || totp.verify(&code, now, None));
//! assert_eq!(locked, Err(Error::Throttled { retry_at: now + 60 }));
//! # Ok::<(), otpcore::Error>(())
//! ```

use crate::{Error, Verification};

/// The largest [`Throttle::hard_stop_after`]: NIST SP 800-63B allows at most 100
/// consecutive failed attempts on one account.
pub const MAX_HARD_STOP: u32 = 100;

/// The throttling policy. Plain data (`#[repr(C)]`): the same values can be used from C.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Throttle {
    /// The consecutive failure that starts the first lockout (at least 1): the failures
    /// before it are free.
    pub lockout_after: u32,
    /// The consecutive failure that is a hard stop: from `lockout_after` to
    /// [`MAX_HARD_STOP`].
    pub hard_stop_after: u32,
    /// The first lockout, in seconds (at least 1).
    pub lockout_secs: u64,
    /// The longest lockout: each further failure doubles the previous lockout, up to this.
    /// Equal to [`lockout_secs`](Self::lockout_secs) for a fixed lockout.
    pub max_lockout_secs: u64,
}

impl Default for Throttle {
    /// The 5th consecutive failure locks out for one minute, each further one for twice
    /// as long up to an hour, and the 20th is a hard stop (see the module docs for the
    /// budget this gives).
    fn default() -> Self {
        Throttle {
            lockout_after: 5,
            hard_stop_after: 20,
            lockout_secs: 60,
            max_lockout_secs: 3600,
        }
    }
}

/// The per-user throttle state: plain data (`#[repr(C)]`) that the caller loads before an
/// attempt and persists after it. The `Default` (all zero) is a user with no failures, and
/// is also what an administrator's reset writes.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ThrottleState {
    /// Unix time until which attempts are refused; in the past (or 0) when not locked out.
    pub locked_until: u64,
    /// Consecutive failures since the last success.
    pub failures: u32,
}

/// The outcome of an attempt, as the throttle sees it: a success resets the failure count,
/// a replay leaves it as it is, anything else is a failure and adds to it.
pub trait AttemptOutcome {
    /// `true` when the attempt succeeded.
    fn is_success(&self) -> bool;

    /// `true` when the attempt typed again a code that was valid and is used up: a
    /// [`Verification::Replayed`] one-time code, the texted code already accepted
    /// ([`OobVerification::AlreadyUsed`](crate::OobVerification::AlreadyUsed)), a used
    /// recovery code ([`RecoveryVerification::Used`](crate::RecoveryVerification::Used)).
    /// It is refused but not counted: only an exact match of such a code is a replay, so
    /// it tells a guesser nothing about any code still usable, while counting it would let
    /// a retried job, or anyone who saw the code, lock out the user who just passed.
    /// The default is `false`.
    fn is_replay(&self) -> bool {
        false
    }
}

impl AttemptOutcome for Verification {
    /// Only [`Verification::Valid`].
    fn is_success(&self) -> bool {
        self.is_valid()
    }

    /// [`Verification::Replayed`]: the code of a step at or before the last accepted one.
    fn is_replay(&self) -> bool {
        matches!(self, Verification::Replayed(_))
    }
}

impl Throttle {
    /// Checks that `lockout_after` and `lockout_secs` are at least 1, that
    /// `hard_stop_after` is from `lockout_after` to [`MAX_HARD_STOP`], and that the longest
    /// lockout is not shorter than the first; [`Error::InvalidThrottle`] otherwise.
    pub const fn validate(&self) -> Result<(), Error> {
        if self.lockout_after == 0
            || self.hard_stop_after < self.lockout_after
            || self.hard_stop_after > MAX_HARD_STOP
            || self.lockout_secs == 0
            || self.max_lockout_secs < self.lockout_secs
        {
            Err(Error::InvalidThrottle)
        } else {
            Ok(())
        }
    }

    /// `true` once `state` has reached the hard stop.
    pub const fn is_hard_stopped(&self, state: &ThrottleState) -> bool {
        state.failures >= self.hard_stop_after
    }

    /// `Ok` when `state` allows a one-time code attempt at Unix time `now`;
    /// [`Error::LockedOut`] at the hard stop, otherwise [`Error::Throttled`] with the time
    /// from which attempts are allowed again while a lockout runs.
    pub const fn check(&self, state: &ThrottleState, now: u64) -> Result<(), Error> {
        if self.is_hard_stopped(state) {
            Err(Error::LockedOut)
        } else {
            Self::check_lockout(state, now)
        }
    }

    /// As [`check`](Self::check) for a recovery code, which the hard stop does not refuse
    /// (it is how a user gets out of it): only a running lockout does.
    pub const fn check_recovery(&self, state: &ThrottleState, now: u64) -> Result<(), Error> {
        Self::check_lockout(state, now)
    }

    const fn check_lockout(state: &ThrottleState, now: u64) -> Result<(), Error> {
        if now < state.locked_until {
            Err(Error::Throttled {
                retry_at: state.locked_until,
            })
        } else {
            Ok(())
        }
    }

    /// The lockout that the `failures`-th consecutive failure starts, in seconds (0 for a
    /// free failure).
    pub fn lockout_for(&self, failures: u32) -> u64 {
        let Some(doublings) = failures.checked_sub(self.lockout_after) else {
            return 0;
        };
        self.lockout_secs
            .checked_shl(doublings)
            .filter(|d| d >> doublings == self.lockout_secs)
            .unwrap_or(u64::MAX)
            .min(self.max_lockout_secs)
    }

    /// Records a failed attempt at `now`. Returns the end of the lockout when this failure
    /// starts one. The lockout starts at the later of `now` and the end of the previous
    /// one, so a clock set back cannot shorten it.
    pub fn record_failure(&self, state: &mut ThrottleState, now: u64) -> Option<u64> {
        state.failures = state.failures.saturating_add(1);
        let lockout = self.lockout_for(state.failures);
        if lockout == 0 {
            return None;
        }
        let until = now.max(state.locked_until).saturating_add(lockout);
        state.locked_until = until;
        Some(until)
    }

    /// Records a successful attempt: the failures are forgotten.
    pub fn record_success(&self, state: &mut ThrottleState) {
        *state = ThrottleState::default();
    }

    /// Records `outcome` at `now`: a success with [`record_success`](Self::record_success),
    /// a replay ([`AttemptOutcome::is_replay`]) not at all, anything else with
    /// [`record_failure`](Self::record_failure).
    pub fn record(&self, state: &mut ThrottleState, outcome: &impl AttemptOutcome, now: u64) {
        if outcome.is_success() {
            self.record_success(state);
        } else if !outcome.is_replay() {
            let _ = self.record_failure(state, now);
        }
    }

    /// Runs one throttled one-time code attempt: refuses with [`Error::LockedOut`] or
    /// [`Error::Throttled`] without calling `verify` (see [`check`](Self::check)),
    /// otherwise calls it and records its outcome (see [`record`](Self::record): a replay
    /// is refused but not counted). An error from `verify` (a malformed code, say) is
    /// returned as is and not counted: it reveals nothing about the secret.
    /// Persist `state` after every call, before acting on the outcome.
    pub fn attempt<T: AttemptOutcome>(
        &self,
        state: &mut ThrottleState,
        now: u64,
        verify: impl FnOnce() -> Result<T, Error>,
    ) -> Result<T, Error> {
        self.attempt_after(Self::check, state, now, verify)
    }

    /// As [`attempt`](Self::attempt) for a recovery code: allowed at the hard stop (a
    /// success clears it), refused only while a lockout runs.
    pub fn attempt_recovery<T: AttemptOutcome>(
        &self,
        state: &mut ThrottleState,
        now: u64,
        verify: impl FnOnce() -> Result<T, Error>,
    ) -> Result<T, Error> {
        self.attempt_after(Self::check_recovery, state, now, verify)
    }

    /// An attempt that `check` allows: validates the policy, checks, verifies, records.
    fn attempt_after<T: AttemptOutcome>(
        &self,
        check: fn(&Self, &ThrottleState, u64) -> Result<(), Error>,
        state: &mut ThrottleState,
        now: u64,
        verify: impl FnOnce() -> Result<T, Error>,
    ) -> Result<T, Error> {
        self.validate()?;
        check(self, state, now)?;
        let outcome = verify()?;
        self.record(state, &outcome, now);
        Ok(outcome)
    }

    /// The most failed one-time code attempts anyone can make in the `secs` seconds after
    /// the first (both ends included), starting from a clean state, with no success in
    /// between: every free failure at once, then one the moment each lockout ends, up to
    /// the hard stop. This is the
    /// worst case the module docs tabulate.
    pub fn max_failures_within(&self, secs: u64) -> u32 {
        let mut failures = 0u32;
        let mut next_at = 0u64;
        while failures < self.hard_stop_after && next_at <= secs {
            failures = failures.saturating_add(1);
            next_at = next_at.saturating_add(self.lockout_for(failures));
        }
        failures
    }
}
