//! Constant-time verification over a window of steps, and its typed outcome.

use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};

use crate::Error;
use crate::code::{Digits, parse_code};
use crate::key::Key;

/// The largest look-back or look-ahead window, in steps, that verification accepts.
///
/// Each step of a window is one more code that a guess can match: at this bound a TOTP
/// window of 50 steps back and 50 ahead (25 minutes each way with 30 s steps) accepts 101
/// codes, so one guess at six digits succeeds with probability 101 in a million (about
/// 1 in 9,900), and an HOTP look-ahead of 50 with 51 in a million. Real deployments need far
/// less: one step each way is the common default, and google-authenticator-libpam's
/// largest suggested window is 17 steps in all.
pub const MAX_WINDOW: u32 = 50;

/// The largest look-ahead of [`Hotp::resync`](crate::Hotp::resync), which needs two
/// consecutive codes to match: at this bound one guessed pair of six-digit codes succeeds
/// with probability about 1,001 in 10^12.
pub const MAX_RESYNC_WINDOW: u32 = 1_000;

/// How many codes are computed side by side: the steps of a window are independent, and
/// the CPU overlaps their hash computations.
const LANES: usize = 3;

/// Where a code matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Match {
    /// The time step (TOTP) or counter (HOTP) the code belongs to.
    pub step: u64,
    /// `step` minus the expected step: negative for a code from the past (a slow clock or a
    /// slow typist), positive for one from the future. Zero is an exact match, not a failure.
    pub drift: i64,
}

impl Match {
    /// For HOTP, the counter to store for the next verification (`step + 1`); `None` when
    /// the matched counter was `u64::MAX` and the key can produce no further codes.
    pub const fn next_counter(&self) -> Option<u64> {
        self.step.checked_add(1)
    }
}

/// The outcome of verifying a well-formed code. Malformed codes are an [`Error`] instead.
#[must_use = "a verification that is not checked lets every code in"]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verification {
    /// The code is right. Persist `step` as the last accepted step (TOTP) or
    /// [`Match::next_counter`] as the counter (HOTP) before acting on it.
    Valid(Match),
    /// The code is right for a step at or before the last accepted one: it was already used
    /// (RFC 6238 §5.2). Reject it.
    Replayed(Match),
    /// The code matches no step in the window.
    Invalid,
}

impl Verification {
    /// `true` only for [`Verification::Valid`].
    pub const fn is_valid(&self) -> bool {
        matches!(self, Verification::Valid(_))
    }

    /// The match of a valid code, `None` otherwise.
    pub const fn valid_match(&self) -> Option<Match> {
        match self {
            Verification::Valid(m) => Some(*m),
            _ => None,
        }
    }
}

/// Checks a window size against [`MAX_WINDOW`].
pub(crate) const fn check_window(steps: u32) -> Result<u32, Error> {
    check_window_against(steps, MAX_WINDOW)
}

/// Checks a window size against `max`.
pub(crate) const fn check_window_against(steps: u32, max: u32) -> Result<u32, Error> {
    if steps > max {
        Err(Error::WindowTooLarge)
    } else {
        Ok(steps)
    }
}

/// The steps of a window in order of preference: the expected step, then alternately one
/// further back and one further ahead. Steps below 0 or above `u64::MAX` are left out, so
/// nothing wraps.
pub(crate) fn window_steps(expected: u64, back: u32, ahead: u32) -> impl Iterator<Item = u64> {
    let reach = back.max(ahead);
    core::iter::once(expected).chain((1..=reach).flat_map(move |k| {
        let before = if k <= back {
            expected.checked_sub(u64::from(k))
        } else {
            None
        };
        let after = if k <= ahead {
            expected.checked_add(u64::from(k))
        } else {
            None
        };
        before.into_iter().chain(after)
    }))
}

/// Computes the truncated value of every step, [`LANES`] at a time, and hands each to `f`
/// in the order of `steps`.
pub(crate) fn for_each_value(
    key: &Key,
    mut steps: impl Iterator<Item = u64>,
    mut f: impl FnMut(u64, u32),
) {
    loop {
        let mut batch = [0u64; LANES];
        let mut filled = 0usize;
        for (slot, step) in batch.iter_mut().zip(&mut steps) {
            *slot = step;
            filled = filled.wrapping_add(1);
        }
        // Only a window's last batch can be partial; computing just its filled lanes
        // depends on the window size, which is public.
        let [a, b, c] = batch;
        match filled {
            LANES => {
                let [va, vb, vc] = key.truncated(&batch);
                f(a, va);
                f(b, vb);
                f(c, vc);
            }
            2 => {
                let [va, vb] = key.truncated(&[a, b]);
                f(a, va);
                f(b, vb);
                return;
            }
            1 => {
                let [va] = key.truncated(&[a]);
                f(a, va);
                return;
            }
            _ => return,
        }
    }
}

/// Verifies `code` against every step of `steps` (in preference order) without exiting
/// early. A match at a step at or before `last_accepted` counts as a replay; a fresh match
/// wins over a replayed one, and the first match in preference order wins among each kind.
pub(crate) fn verify_steps(
    key: &Key,
    digits: Digits,
    code: &[u8],
    expected: u64,
    steps: impl Iterator<Item = u64>,
    last_accepted: Option<u64>,
) -> Result<Verification, Error> {
    let code = parse_code(code, digits)?;
    let mut fresh_found = Choice::from(0);
    let mut fresh_step = 0u64;
    let mut replay_found = Choice::from(0);
    let mut replay_step = 0u64;
    for_each_value(key, steps, |step, value| {
        let equal = u64::from(digits.reduce(value)).ct_eq(&code);
        // Whether a step is fresh depends only on public step numbers and the public last
        // accepted step, so branching on it reveals nothing; only `equal` is secret.
        let (found, found_step) = if last_accepted.is_none_or(|last| step > last) {
            (&mut fresh_found, &mut fresh_step)
        } else {
            (&mut replay_found, &mut replay_step)
        };
        found_step.conditional_assign(&step, equal & !*found);
        *found |= equal;
    });
    // Only here does the outcome leave constant-time form, and it is selected without a
    // branch: which kind of outcome, and its step, are picked with masks first.
    let kind = u8::conditional_select(
        &u8::conditional_select(&0, &1, replay_found),
        &2,
        fresh_found,
    );
    let step = u64::conditional_select(&replay_step, &fresh_step, fresh_found);
    let matched = Match {
        step,
        // Windows are far narrower than 2^63 steps, so the wrapped difference read as
        // signed is the exact drift.
        drift: step.wrapping_sub(expected) as i64,
    };
    Ok(match kind {
        2 => Verification::Valid(matched),
        1 => Verification::Replayed(matched),
        _ => Verification::Invalid,
    })
}
