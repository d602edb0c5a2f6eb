//! Texted codes: the phone number they go to, and sending one (issued and committed
//! before it leaves the process, withdrawn when the delivery fails).

use std::format;
use std::string::String;

use otpcore::{Error, OobCode};
use zeroize::Zeroizing;

use super::{Decision, Gate, Refusal, Round, Sent, Status};
use crate::{GateError, PhoneNumber, Store};

/// A code issued and committed, not yet delivered.
struct Issued {
    code: OobCode,
    to: PhoneNumber,
    issued_at: u64,
    expires_at: u64,
}

impl<S: Store> Gate<S> {
    /// Sets or changes the phone number `user`'s texted codes go to (an administrator's
    /// action), checked by [`PhoneNumber::parse`]. A code texted to the previous number
    /// is withdrawn: the number is usually changed because the old phone is gone.
    pub fn set_phone(&self, user: &str, phone: &str, now: u64) -> Result<(), GateError> {
        let phone = PhoneNumber::parse(phone)?;
        self.decide(user, "phone", None, now, |record| {
            record.phone = Some(phone.clone());
            record.state.oob.withdraw();
            Ok(Round::accept((), None))
        })
        .map(|_| ())
    }

    /// Texts `user` a one-time code: issues it (as
    /// [`UserState::issue_oob`](otpcore::UserState::issue_oob), under the gate's
    /// [`OobPolicy`](otpcore::OobPolicy)) in one read-verify-swap like every decision, then
    /// hands the phone number and the message (the code, `issuer`, `action`, the validity and
    /// a warning not to share it) to `deliver`, which sends it and says whether it did.
    ///
    /// The order, and what a crash at each point leaves:
    ///
    /// 1. The issued code is committed (audit outcome `issued`) before it leaves this
    ///    process, so the resend cooldown and single use hold across processes, and no
    ///    code is ever delivered that the store does not know (of two racing sends, the
    ///    loser's code is never shown anywhere). A crash here leaves a pending code that
    ///    no one was told: as good as no code (guessing it is bounded by its tries and the
    ///    throttle), and it expires.
    /// 2. `deliver` runs. If it fails, a second swap withdraws the code (audit outcome
    ///    `delivery-failed`; the code then counts as expired) and the result is
    ///    [`GateError::DeliveryFailed`]. The cooldown still runs from the issue: a gateway
    ///    that timed out may have sent the message anyway, and a failing gateway must not
    ///    be hammered. A crash between the failure and the withdrawal leaves the code
    ///    valid until its expiry, usable only by someone the gateway did deliver it to.
    ///
    /// Delivering first and committing after would be worse on every count: two processes
    /// could both pass the cooldown check and both text a code, and a failed commit would
    /// leave the user with a code that never works.
    ///
    /// Refusals (no code issued): [`Refusal::Disabled`], [`Refusal::SmsTooSoon`] within the
    /// cooldown, [`Refusal::Throttled`] and [`Refusal::LockedOut`] while the user is
    /// locked out (a code could not be checked anyway, and this stops texting a locked
    /// account). A pending user can be sent a code (a texted code confirms the
    /// enrollment). [`GateError::NoPhone`] when the user has no phone number.
    pub fn send_code(
        &self,
        user: &str,
        issuer: &str,
        action: Option<&str>,
        now: u64,
        deliver: impl FnOnce(&PhoneNumber, &str) -> Result<(), String>,
    ) -> Result<Decision<Sent>, GateError> {
        let key = self.key.oob_key()?;
        let decision = self.decide(user, "send-code", action, now, |record| {
            if record.status == Status::Disabled {
                return Ok(Round::refuse(Refusal::Disabled));
            }
            let to = record.phone.clone().ok_or(GateError::NoPhone)?;
            if let Err(e) = self.throttle.check(&record.state.throttle, now) {
                return Ok(Round::refuse(Refusal::from_core(e, now)));
            }
            match record.state.issue_oob(&key, user, &self.oob_policy, now) {
                Ok(code) => Ok(Round::accept_as(
                    Issued {
                        code,
                        to,
                        issued_at: record.state.oob.issued_at(),
                        expires_at: record.state.oob.expires_at(),
                    },
                    None,
                    "issued",
                )),
                Err(Error::OobIssueTooSoon { retry_at }) => {
                    Ok(Round::refuse(Refusal::SmsTooSoon {
                        retry_at,
                        retry_in: retry_at.saturating_sub(now),
                    }))
                }
                Err(e) => Err(e.into()),
            }
        })?;
        let issued = match decision {
            Ok(issued) => issued,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let text = message(
            issuer,
            action,
            issued.code.as_str(),
            self.oob_policy.ttl_secs,
        );
        match deliver(&issued.to, &text) {
            Ok(()) => Ok(Ok(Sent {
                to: issued.to,
                expires_at: issued.expires_at,
            })),
            Err(reason) => {
                let reason = match self.withdraw(user, issued.issued_at, action, now) {
                    Ok(()) => format!("{reason}; the code was withdrawn"),
                    Err(e) => format!(
                        "{reason}; the code could not be withdrawn ({e}) and stays valid \
                         until {}",
                        issued.expires_at
                    ),
                };
                Err(GateError::DeliveryFailed { reason })
            }
        }
    }

    /// Withdraws the texted code issued at `issued_at` if it is still pending (another
    /// process may have replaced or used it meanwhile), with the audit outcome
    /// `delivery-failed` either way.
    fn withdraw(
        &self,
        user: &str,
        issued_at: u64,
        action: Option<&str>,
        now: u64,
    ) -> Result<(), GateError> {
        self.decide(user, "send-code", action, now, |record| {
            let oob = &mut record.state.oob;
            if oob.issued_at() == issued_at {
                oob.withdraw();
            }
            Ok(Round::accept_as((), None, "delivery-failed"))
        })
        .map(|_| ())
    }
}

/// The text message: the code first (phones offer to fill it in from there), who sends
/// it and for what, how long it is valid, and not to share it. Control characters in the
/// issuer or the action are replaced, so they cannot fake a line of the message.
fn message(issuer: &str, action: Option<&str>, code: &str, ttl_secs: u64) -> Zeroizing<String> {
    let clean = |text: &str| -> String {
        text.chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect()
    };
    let what = match action {
        Some(action) => format!("to approve: {}", clean(action)),
        None => String::from("to approve a deploy"),
    };
    let validity = match (ttl_secs / 60, ttl_secs % 60) {
        (1, 0) => String::from("1 minute"),
        (minutes, 0) => format!("{minutes} minutes"),
        _ => format!("{ttl_secs} seconds"),
    };
    let issuer = clean(issuer);
    Zeroizing::new(format!(
        "{code} is your {issuer} code {what}. It expires in {validity}. Do not share it: \
         no one from {issuer} will ask you for it."
    ))
}
