//! TOTP: time-based one-time passwords (RFC 6238).

use core::fmt;

use crate::code::{Code, Digits};
use crate::key::Key;
use crate::verify::{Verification, check_window, verify_steps, window_steps};
use crate::{Algorithm, Error, Secret};

/// TOTP settings. The defaults are those of every authenticator app: SHA-1, six digits,
/// 30-second steps from the Unix epoch, and one step of tolerance each way.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TotpParams {
    /// The HMAC hash function.
    pub algorithm: Algorithm,
    /// The number of digits per code.
    pub digits: Digits,
    /// The step length in seconds (X in RFC 6238), at least 1.
    pub period: u64,
    /// The Unix time at which step 0 starts (T0 in RFC 6238).
    pub t0: u64,
    /// How many steps before the current one [`Totp::verify`] also accepts (a phone clock
    /// behind, or a slow typist). At most [`MAX_WINDOW`](crate::MAX_WINDOW).
    pub look_back: u32,
    /// How many steps after the current one [`Totp::verify`] also accepts (a phone clock
    /// ahead). At most [`MAX_WINDOW`](crate::MAX_WINDOW).
    pub look_ahead: u32,
}

impl Default for TotpParams {
    fn default() -> Self {
        TotpParams {
            algorithm: Algorithm::Sha1,
            digits: Digits::SIX,
            period: 30,
            t0: 0,
            look_back: 1,
            look_ahead: 1,
        }
    }
}

/// A TOTP generator and verifier with its HMAC key prepared. Wiped on drop.
///
/// Times are Unix seconds passed in by the caller, so tests and servers control the clock;
/// with the `std` feature, [`unix_time`](crate::unix_time) reads the system clock.
///
/// ```
/// use otpcore::{Secret, Totp, TotpParams, Verification};
/// let secret = Secret::from_base32("JBSWY3DPEHPK3PXP")?;
/// let totp = Totp::new(&secret, TotpParams::default())?;
/// let now = 1_700_000_000;
/// let code = totp.generate(now)?.to_string();
///
/// let Verification::Valid(m) = totp.verify(&code, now, None)? else { panic!() };
/// assert_eq!(m.drift, 0);
/// // Persist m.step; the same code is then refused.
/// assert!(matches!(totp.verify(&code, now, Some(m.step))?, Verification::Replayed(_)));
/// # Ok::<(), otpcore::Error>(())
/// ```
pub struct Totp {
    key: Key,
    digits: Digits,
    period: u64,
    t0: u64,
    look_back: u32,
    look_ahead: u32,
}

impl fmt::Debug for Totp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The settings only: the key state is secret.
        f.debug_struct("Totp")
            .field("params", &self.params())
            .finish_non_exhaustive()
    }
}

impl Totp {
    /// Prepares TOTP for `secret` with `params`.
    pub fn new(secret: &Secret, params: TotpParams) -> Result<Self, Error> {
        if params.period == 0 {
            return Err(Error::InvalidPeriod);
        }
        Ok(Totp {
            key: Key::new(secret.as_bytes(), params.algorithm),
            digits: params.digits,
            period: params.period,
            t0: params.t0,
            look_back: check_window(params.look_back)?,
            look_ahead: check_window(params.look_ahead)?,
        })
    }

    /// The settings in force.
    pub fn params(&self) -> TotpParams {
        TotpParams {
            algorithm: self.key.algorithm(),
            digits: self.digits,
            period: self.period,
            t0: self.t0,
            look_back: self.look_back,
            look_ahead: self.look_ahead,
        }
    }

    /// The time step of Unix time `time`: `(time - T0) / period`.
    pub fn step_at(&self, time: u64) -> Result<u64, Error> {
        let elapsed = time.checked_sub(self.t0).ok_or(Error::TimeBeforeT0)?;
        elapsed.checked_div(self.period).ok_or(Error::InvalidPeriod)
    }

    /// Seconds from `time` until the code changes (1 to `period`).
    pub fn seconds_left(&self, time: u64) -> Result<u64, Error> {
        let elapsed = time.checked_sub(self.t0).ok_or(Error::TimeBeforeT0)?;
        let into = elapsed
            .checked_rem(self.period)
            .ok_or(Error::InvalidPeriod)?;
        Ok(self.period.saturating_sub(into))
    }

    /// The code at Unix time `time`.
    pub fn generate(&self, time: u64) -> Result<Code, Error> {
        Ok(self.generate_at_step(self.step_at(time)?))
    }

    /// The code of time step `step`.
    pub fn generate_at_step(&self, step: u64) -> Code {
        let [value] = self.key.truncated(&[step]);
        Code::new(self.digits.reduce(value), self.digits)
    }

    /// Verifies a typed `code` at Unix time `time`.
    ///
    /// `code` is what the user typed, as text or raw bytes (`&str`, `String`, `&[u8]`): the
    /// digits, optionally grouped by ASCII spaces (`"123 456"`); anything else is
    /// [`Error::CodeWrongLength`] or [`Error::CodeInvalidCharacter`].
    ///
    /// `last_accepted` is the step of the last code this user had accepted (`None` before
    /// the first). Every step of the window is computed and compared in constant time, and a
    /// code whose step is at or before `last_accepted` is [`Verification::Replayed`]. On
    /// [`Verification::Valid`], persist the match's `step` as the new `last_accepted` before
    /// granting access. The window is clipped at step 0 and `u64::MAX`.
    pub fn verify(
        &self,
        code: impl AsRef<[u8]>,
        time: u64,
        last_accepted: Option<u64>,
    ) -> Result<Verification, Error> {
        let now = self.step_at(time)?;
        let steps = window_steps(now, self.look_back, self.look_ahead);
        verify_steps(
            &self.key,
            self.digits,
            code.as_ref(),
            now,
            steps,
            last_accepted,
        )
    }
}

/// The current Unix time in seconds from the system clock.
#[cfg(feature = "std")]
pub fn unix_time() -> Result<u64, Error> {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .map_err(|_| Error::ClockBeforeUnixEpoch)
}
