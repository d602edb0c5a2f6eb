//! HOTP: counter-based one-time passwords (RFC 4226).

use core::fmt;

use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};

use crate::code::{Code, Digits, parse_code};
use crate::key::Key;
use crate::verify::{
    MAX_RESYNC_WINDOW, Match, Verification, check_window, check_window_against, for_each_value,
    verify_steps,
};
use crate::{Algorithm, Error, Secret};

/// HOTP settings. The defaults are SHA-1, six digits and a look-ahead of 3 counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HotpParams {
    /// The HMAC hash function.
    pub algorithm: Algorithm,
    /// The number of digits per code.
    pub digits: Digits,
    /// How many counters past the stored one [`Hotp::verify`] also accepts, for button
    /// presses that never reached the server (RFC 4226 §7.4). At most
    /// [`MAX_WINDOW`](crate::MAX_WINDOW).
    pub look_ahead: u32,
}

impl Default for HotpParams {
    fn default() -> Self {
        HotpParams {
            algorithm: Algorithm::Sha1,
            digits: Digits::SIX,
            look_ahead: 3,
        }
    }
}

/// An HOTP generator and verifier with its HMAC key prepared. Wiped on drop.
///
/// ```
/// use otpcore::{Hotp, HotpParams, Secret, Verification};
/// let secret = Secret::from_bytes(b"12345678901234567890")?;
/// let hotp = Hotp::new(&secret, HotpParams::default())?;
/// assert_eq!(hotp.generate(0).to_string(), "755224");
///
/// // The server stores the next expected counter, here 0.
/// let Verification::Valid(m) = hotp.verify("287082", 0)? else { panic!() };
/// assert_eq!((m.step, m.next_counter()), (1, Some(2))); // store 2
/// # Ok::<(), otpcore::Error>(())
/// ```
pub struct Hotp {
    key: Key,
    digits: Digits,
    look_ahead: u32,
}

impl fmt::Debug for Hotp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The settings only: the key state is secret.
        f.debug_struct("Hotp")
            .field("params", &self.params())
            .finish_non_exhaustive()
    }
}

impl Hotp {
    /// Prepares HOTP for `secret` with `params`.
    pub fn new(secret: &Secret, params: HotpParams) -> Result<Self, Error> {
        Ok(Hotp {
            key: Key::new(secret.as_bytes(), params.algorithm),
            digits: params.digits,
            look_ahead: check_window(params.look_ahead)?,
        })
    }

    /// The settings in force.
    pub fn params(&self) -> HotpParams {
        HotpParams {
            algorithm: self.key.algorithm(),
            digits: self.digits,
            look_ahead: self.look_ahead,
        }
    }

    /// The code for `counter`.
    pub fn generate(&self, counter: u64) -> Code {
        let [value] = self.key.truncated(&[counter]);
        Code::new(self.digits.reduce(value), self.digits)
    }

    /// Verifies a typed `code` (text or bytes, read as [`Totp::verify`](crate::Totp::verify)
    /// reads it) against the stored next `counter` and the look-ahead.
    ///
    /// Every counter of the window is computed and compared in constant time. On
    /// [`Verification::Valid`], store [`Match::next_counter`]: codes of that counter and
    /// earlier then fall outside every later window, which is HOTP's replay protection.
    ///
    /// The window stops at `u64::MAX - 1` rather than wrapping to 0: a code for counter
    /// `u64::MAX` could never be blocked from replay (no counter comes after it), so it is
    /// never accepted, and a stored `counter` of `u64::MAX` is
    /// [`Error::CounterExhausted`] before any work: before the code is read, so it is the
    /// error when the code is malformed (too long, say) as well.
    pub fn verify(&self, code: impl AsRef<[u8]>, counter: u64) -> Result<Verification, Error> {
        let end = last_usable(counter)?.min(counter.saturating_add(u64::from(self.look_ahead)));
        verify_steps(
            &self.key,
            self.digits,
            code.as_ref(),
            counter,
            counter..=end,
            None,
        )
    }

    /// Resynchronises a counter that drifted beyond the look-ahead (RFC 4226 §7.4): accepts
    /// two codes only if they belong to consecutive counters `c` and `c + 1` with `c` within
    /// `look_ahead` (at most [`MAX_RESYNC_WINDOW`](crate::MAX_RESYNC_WINDOW)) of the stored
    /// `counter`, and `c + 1` below `u64::MAX` (see [`verify`](Self::verify)).
    ///
    /// The match is for the second code: store its [`Match::next_counter`]. All counters of
    /// the window are evaluated, with no early exit.
    ///
    /// Errors, the first that applies: [`Error::CounterExhausted`] (before the codes are
    /// read), the first code's and then the second code's malformed-code error, then
    /// [`Error::WindowTooLarge`].
    pub fn resync(
        &self,
        first: impl AsRef<[u8]>,
        second: impl AsRef<[u8]>,
        counter: u64,
        look_ahead: u32,
    ) -> Result<Verification, Error> {
        let last = last_usable(counter)?;
        let first = parse_code(first.as_ref(), self.digits)?;
        let second = parse_code(second.as_ref(), self.digits)?;
        let reach = check_window_against(look_ahead, MAX_RESYNC_WINDOW)?;
        let end = last.min(counter.saturating_add(u64::from(reach)).saturating_add(1));
        let mut previous_equal = Choice::from(0);
        let mut found = Choice::from(0);
        let mut found_step = 0u64;
        for_each_value(&self.key, counter..=end, |step, value| {
            let value = u64::from(self.digits.reduce(value));
            let pair = previous_equal & value.ct_eq(&second);
            found_step.conditional_assign(&step, pair & !found);
            found |= pair;
            previous_equal = value.ct_eq(&first);
        });
        // As in verification, the outcome is picked with a mask before the enum is built.
        let matched = Match {
            step: found_step,
            drift: found_step.wrapping_sub(counter) as i64,
        };
        Ok(match u8::conditional_select(&0, &1, found) {
            1 => Verification::Valid(matched),
            _ => Verification::Invalid,
        })
    }
}

/// The last counter a code may be accepted at, `u64::MAX - 1`; [`Error::CounterExhausted`]
/// when the stored `counter` is already past it.
fn last_usable(counter: u64) -> Result<u64, Error> {
    const LAST: u64 = u64::MAX - 1;
    if counter > LAST {
        Err(Error::CounterExhausted)
    } else {
        Ok(LAST)
    }
}
