//! Rate limiting of failed attempts: a pure state machine whose state the caller persists.
//!
//! Six digits resist guessing only while attempts are limited: with a window of three
//! steps, each guess succeeds with probability 3 in a million. A [`Throttle`] (the policy)
//! and a [`ThrottleState`] (per user, persisted next to the last accepted step) allow at
//! most [`Throttle::max_failures`] failures within [`Throttle::window_secs`] seconds; one
//! more failure locks the user out for [`Throttle::lockout_secs`], doubled after every
//! further lockout up to [`Throttle::max_lockout_secs`], until a success resets it.
//!
//! [`Throttle::attempt`] composes with verification: while locked out, the code is not
//! even checked, and the error says when to retry.
//!
//! ```
//! use otpcore::{Error, Secret, Throttle, ThrottleState, Totp, TotpParams, Verification};
//! let totp = Totp::new(&Secret::from_base32("JBSWY3DPEHPK3PXP")?, TotpParams::default())?;
//! let throttle = Throttle { max_failures: 2, ..Throttle::default() };
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

/// The throttling policy. Plain data (`#[repr(C)]`): the same values can be used from C.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Throttle {
    /// The number of failures within [`window_secs`](Self::window_secs) that triggers a
    /// lockout (at least 1).
    pub max_failures: u32,
    /// How long, in seconds, failures are counted together: a failure more than this after
    /// the first failure of the current window starts a new window (at least 1).
    pub window_secs: u64,
    /// The first lockout, in seconds (at least 1).
    pub lockout_secs: u64,
    /// The longest lockout: each lockout without a success in between doubles the previous
    /// one, up to this. Equal to [`lockout_secs`](Self::lockout_secs) for a fixed lockout.
    pub max_lockout_secs: u64,
}

impl Default for Throttle {
    /// Five failures within ten minutes lock out for one minute, then 2, 4, … up to one
    /// hour. An attacker then gets about 5 guesses an hour: some 44 000 a year, for a chance
    /// of about 13 % a year against six digits and a window of three steps; alert on
    /// lockouts rather than rely on the throttle alone.
    fn default() -> Self {
        Throttle {
            max_failures: 5,
            window_secs: 600,
            lockout_secs: 60,
            max_lockout_secs: 3600,
        }
    }
}

/// The per-user throttle state: 24 bytes of plain data (`#[repr(C)]`, no padding) that the
/// caller loads before an attempt and persists after it. All zero (the `Default`) is a user
/// with no failures.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ThrottleState {
    /// Unix time of the first failure of the current counting window.
    pub window_start: u64,
    /// Unix time until which attempts are refused; in the past (or 0) when not locked out.
    pub locked_until: u64,
    /// Failures in the current counting window.
    pub failures: u32,
    /// Lockouts since the last success, which set the length of the next one.
    pub lockouts: u32,
}

/// The outcome of an attempt, as the throttle sees it: a success resets the failure count,
/// a failure adds to it.
pub trait AttemptOutcome {
    /// `true` when the attempt succeeded.
    fn is_success(&self) -> bool;
}

impl AttemptOutcome for Verification {
    /// Only [`Verification::Valid`]: a replayed code is a failed attempt too.
    fn is_success(&self) -> bool {
        self.is_valid()
    }
}

impl Throttle {
    /// Checks that every setting is at least 1 and that the longest lockout is not shorter
    /// than the first; [`Error::InvalidThrottle`] otherwise.
    pub const fn validate(&self) -> Result<(), Error> {
        if self.max_failures == 0
            || self.window_secs == 0
            || self.lockout_secs == 0
            || self.max_lockout_secs < self.lockout_secs
        {
            Err(Error::InvalidThrottle)
        } else {
            Ok(())
        }
    }

    /// `Ok` when `state` allows an attempt at Unix time `now`, otherwise
    /// [`Error::Throttled`] with the time from which attempts are allowed again.
    pub const fn check(&self, state: &ThrottleState, now: u64) -> Result<(), Error> {
        if now < state.locked_until {
            Err(Error::Throttled {
                retry_at: state.locked_until,
            })
        } else {
            Ok(())
        }
    }

    /// Records a failed attempt at `now`. Returns the end of the lockout when this failure
    /// starts one.
    pub fn record_failure(&self, state: &mut ThrottleState, now: u64) -> Option<u64> {
        // A clock that went back counts as inside the window rather than restarting it.
        let window_over = now.saturating_sub(state.window_start) >= self.window_secs;
        if state.failures == 0 || window_over {
            state.window_start = now;
            state.failures = 0;
        }
        state.failures = state.failures.saturating_add(1);
        if state.failures < self.max_failures {
            return None;
        }
        let doubled = self
            .lockout_secs
            .checked_shl(state.lockouts)
            .filter(|d| d >> state.lockouts == self.lockout_secs)
            .unwrap_or(u64::MAX);
        let until = now.saturating_add(doubled.min(self.max_lockout_secs));
        state.locked_until = until;
        state.lockouts = state.lockouts.saturating_add(1);
        state.failures = 0;
        Some(until)
    }

    /// Records a successful attempt: failures and lockouts are forgotten.
    pub fn record_success(&self, state: &mut ThrottleState) {
        *state = ThrottleState::default();
    }

    /// Records `outcome` at `now` (see [`record_failure`](Self::record_failure) and
    /// [`record_success`](Self::record_success)).
    pub fn record(&self, state: &mut ThrottleState, outcome: &impl AttemptOutcome, now: u64) {
        if outcome.is_success() {
            self.record_success(state);
        } else {
            let _ = self.record_failure(state, now);
        }
    }

    /// Runs one throttled attempt: refuses with [`Error::Throttled`] without calling
    /// `verify` while locked out, otherwise calls it and records its outcome. An error from
    /// `verify` (a malformed code, say) is returned as is and not counted: it reveals
    /// nothing about the secret. Persist `state` after every call, before acting on the
    /// outcome.
    pub fn attempt<T: AttemptOutcome>(
        &self,
        state: &mut ThrottleState,
        now: u64,
        verify: impl FnOnce() -> Result<T, Error>,
    ) -> Result<T, Error> {
        self.validate()?;
        self.check(state, now)?;
        let outcome = verify()?;
        self.record(state, &outcome, now);
        Ok(outcome)
    }
}
