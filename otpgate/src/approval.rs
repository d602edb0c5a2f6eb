//! Approval of one production action: a pipeline asks ([`Gate::request_approval`]), the
//! user opens the approval's link and types a code ([`Gate::approve`]), the pipeline reads
//! the outcome ([`Gate::approval`]).
//!
//! - The code is a normal use of the user's code through [`Gate::check`], with the action
//!   in its audit entry: the throttle counts it, and a code used here cannot pass a
//!   `check` again, nor the reverse.
//! - An approval is decided once: the store moves it from pending to granted (or declined)
//!   with a conditional write that also appends the audit entry
//!   ([`LinkStore::decide_approval`]), so of many browsers or retries submitting right
//!   codes at once exactly one grants it, and the others find it decided.
//! - Expiry is part of that write's condition: a code typed after the expiry grants
//!   nothing.

use std::string::String;

use super::flow::check_user;
use super::invite::{check_label, expiry};
use super::link::{ApprovalKey, ApprovalRow, ApprovalState, LinkStore, LinkToken, TokenHash, hex};
use super::{Accepted, AuditEntry, Decision, Gate, GateError, PhoneNumber, Sent, Store, Swap};

/// How long an approval waits for its code unless told otherwise: ten minutes.
pub const APPROVAL_VALIDITY_SECS: u64 = 600;

/// The longest an approval may wait: an hour.
pub const APPROVAL_MAX_VALIDITY_SECS: u64 = 3600;

/// A new approval: show the link to the user, poll the id.
#[derive(Debug)]
pub struct ApprovalRequest {
    /// The public id to read the outcome with.
    pub id: String,
    /// The token for the link's path (`/approve/TOKEN`). Not stored anywhere.
    pub token: LinkToken,
    /// Unix time from which it can no longer be granted.
    pub expires_at: u64,
}

/// Where an approval is, as its requester sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApprovalStatus {
    /// Waiting for a code.
    Pending,
    /// Granted: the action may go ahead.
    Granted,
    /// Declined on its page.
    Declined,
    /// Not decided before its expiry.
    Expired,
}

impl ApprovalStatus {
    /// The label in the API and the command's output.
    pub const fn label(self) -> &'static str {
        match self {
            ApprovalStatus::Pending => "pending",
            ApprovalStatus::Granted => "granted",
            ApprovalStatus::Declined => "declined",
            ApprovalStatus::Expired => "expired",
        }
    }

    /// Whether it will not change any more.
    pub const fn is_final(self) -> bool {
        !matches!(self, ApprovalStatus::Pending)
    }
}

/// An approval, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approval {
    /// Its public id.
    pub id: String,
    /// Whose code approves it.
    pub user: String,
    /// What it approves.
    pub action: String,
    /// Who asked (a service token's name).
    pub requester: Option<String>,
    /// Unix time it was made.
    pub created: u64,
    /// Unix time from which it can no longer be decided.
    pub expires_at: u64,
    /// Where it is at the time it was read.
    pub status: ApprovalStatus,
    /// Unix time it was decided.
    pub decided_at: Option<u64>,
    /// The hash of the link's token (for its forms' CSRF token).
    pub token_hash: TokenHash,
}

impl Approval {
    fn from_row(row: ApprovalRow, now: u64) -> Self {
        let status = match row.state {
            ApprovalState::Pending if now >= row.expires => ApprovalStatus::Expired,
            ApprovalState::Pending => ApprovalStatus::Pending,
            ApprovalState::Granted => ApprovalStatus::Granted,
            ApprovalState::Declined => ApprovalStatus::Declined,
        };
        Approval {
            id: row.id,
            user: row.user,
            action: row.action,
            requester: row.requester,
            created: row.created,
            expires_at: row.expires,
            status,
            decided_at: row.decided,
            token_hash: row.token_hash,
        }
    }
}

/// Checks a request as [`Gate::request_approval`] does before it reads anything: the user's
/// name, `action` (1 to 200 characters, no control characters) and `valid_secs` (1 to
/// [`APPROVAL_MAX_VALIDITY_SECS`]); returns when the approval would expire. For a caller
/// that has more to check before asking (the service, whether it can text the link), so
/// that bad input is reported as such first.
pub fn check_approval_request(
    user: &str,
    action: &str,
    valid_secs: u64,
    now: u64,
) -> Result<u64, GateError> {
    check_user(user)?;
    check_label(action, GateError::InvalidAction)?;
    expiry(now, valid_secs, APPROVAL_MAX_VALIDITY_SECS)
}

impl<S: Store + LinkStore> Gate<S> {
    /// Asks `user` to approve `action` (1 to 200 characters, no control characters) within
    /// `valid_secs` (1 to [`APPROVAL_MAX_VALIDITY_SECS`]); `requester` names who asks in the
    /// audit trail. The user must be enrolled ([`GateError::UnknownUser`] otherwise).
    pub fn request_approval(
        &self,
        user: &str,
        action: &str,
        requester: Option<&str>,
        valid_secs: u64,
        now: u64,
    ) -> Result<ApprovalRequest, GateError> {
        let expires_at = check_approval_request(user, action, valid_secs, now)?;
        self.status(user)?;
        let mut id = [0u8; 16];
        getrandom::fill(&mut id).map_err(|_| GateError::Randomness)?;
        let token = LinkToken::generate()?;
        let row = ApprovalRow {
            id: hex(&id),
            token_hash: token.hash(),
            user: String::from(user),
            action: String::from(action),
            requester: requester.map(String::from),
            created: now,
            expires: expires_at,
            state: ApprovalState::Pending,
            decided: None,
        };
        self.store().insert_approval(&row)?;
        Ok(ApprovalRequest {
            id: row.id,
            token,
            expires_at,
        })
    }

    /// The approval `id` as it is at `now`; [`GateError::UnknownApproval`] when there is none.
    pub fn approval(&self, id: &str, now: u64) -> Result<Approval, GateError> {
        self.store()
            .find_approval(ApprovalKey::Id(id))?
            .map(|row| Approval::from_row(row, now))
            .ok_or(GateError::UnknownApproval)
    }

    /// The pending approval the link `token` opens, or `None` when the link is dead
    /// (unknown, malformed, decided or expired).
    pub fn approval_page(&self, token: &str, now: u64) -> Result<Option<Approval>, GateError> {
        let Some(token_hash) = LinkToken::hash_of(token) else {
            return Ok(None);
        };
        Ok(self
            .store()
            .find_approval(ApprovalKey::Token(&token_hash))?
            .map(|row| Approval::from_row(row, now))
            .filter(|approval| approval.status == ApprovalStatus::Pending))
    }

    /// A code typed on the approval page: checked by [`Gate::check`] with the action, and
    /// when accepted the approval is granted if no one decided it first. `None` when the
    /// link is dead, or was decided (or expired) while the code was checked: the code is
    /// spent then, and nothing is granted twice. The check's audit entry names the
    /// approval's requester, as the grant's does.
    pub fn approve(
        &mut self,
        token: &str,
        code: &str,
        now: u64,
    ) -> Result<Option<Decision<Accepted>>, GateError> {
        let Some(approval) = self.approval_page(token, now)? else {
            return Ok(None);
        };
        let previous = self.actor().map(String::from);
        self.set_actor(approval.requester.as_deref());
        let checked = self.check(&approval.user, code, Some(&approval.action), now);
        self.set_actor(previous.as_deref());
        match checked? {
            Err(refusal) => Ok(Some(Err(refusal))),
            Ok(accepted) => match self.decide_approval(&approval, ApprovalState::Granted, now)? {
                Swap::Written => Ok(Some(Ok(accepted))),
                Swap::Conflict => Ok(None),
            },
        }
    }

    /// "Decline" on the approval page: the approval is refused, once. `false` when the link
    /// is dead.
    pub fn decline(&self, token: &str, now: u64) -> Result<bool, GateError> {
        let Some(approval) = self.approval_page(token, now)? else {
            return Ok(false);
        };
        Ok(self.decide_approval(&approval, ApprovalState::Declined, now)? == Swap::Written)
    }

    /// "Text me a code" on the approval page: [`Gate::send_code`] for the approval's user
    /// and action, under the same rules. `None` when the link is dead.
    pub fn approval_send_code(
        &self,
        token: &str,
        issuer: &str,
        now: u64,
        deliver: impl FnOnce(&PhoneNumber, &str) -> Result<(), String>,
    ) -> Result<Option<Decision<Sent>>, GateError> {
        let Some(approval) = self.approval_page(token, now)? else {
            return Ok(None);
        };
        self.send_code(&approval.user, issuer, Some(&approval.action), now, deliver)
            .map(Some)
    }

    fn decide_approval(
        &self,
        approval: &Approval,
        state: ApprovalState,
        now: u64,
    ) -> Result<Swap, GateError> {
        let audit = AuditEntry {
            time: now,
            user: approval.user.clone(),
            event: "approval",
            action: Some(approval.action.clone()),
            outcome: state.label(),
            drift: None,
            actor: approval.requester.clone(),
            key: self.server_key().audit_key(),
        };
        self.store()
            .decide_approval(&approval.id, state, now, &audit)
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::panic,
        clippy::arithmetic_side_effects,
        clippy::indexing_slicing
    )]
    use super::*;
    use crate::{MemoryStore, Refusal, ServerKey};
    use otpcore::{Secret, Totp};

    const NOW: u64 = 1_700_000_000;

    fn enrolled() -> (Gate<MemoryStore>, Totp) {
        let gate = Gate::open(MemoryStore::new(), ServerKey::generate().unwrap()).unwrap();
        let enrollment = gate.enroll("alice", "otpgate", NOW - 300).unwrap();
        let secret = Secret::from_bytes(enrollment.secret.as_bytes()).unwrap();
        let phone = Totp::new(&secret, gate.params()).unwrap();
        let first = phone.generate(NOW - 300).unwrap().to_string();
        assert!(gate.confirm("alice", &first, NOW - 300).unwrap().is_ok());
        (gate, phone)
    }

    #[test]
    fn a_right_code_grants_once_and_is_spent_for_check() {
        let (mut gate, phone) = enrolled();
        let request = gate
            .request_approval("alice", "deploy 1.4.2", Some("ci"), 600, NOW)
            .unwrap();
        let link = request.token.as_str();
        let approval = gate.approval(&request.id, NOW).unwrap();
        assert_eq!(approval.status, ApprovalStatus::Pending);
        assert_eq!(approval.requester.as_deref(), Some("ci"));
        assert_eq!(
            gate.approve(link, "123", NOW).unwrap().unwrap().err(),
            Some(Refusal::Refused(otpcore::Error::CodeWrongLength))
        );
        let code = phone.generate(NOW).unwrap().to_string();
        let wrong = if code == "000000" { "111111" } else { "000000" };
        assert_eq!(
            gate.approve(link, wrong, NOW).unwrap().unwrap().err(),
            Some(Refusal::Wrong)
        );
        assert!(gate.approve(link, &code, NOW).unwrap().unwrap().is_ok());
        assert_eq!(
            gate.approval(&request.id, NOW).unwrap().status,
            ApprovalStatus::Granted
        );
        assert!(
            gate.approve(link, &code, NOW + 1).unwrap().is_none(),
            "replayed POST"
        );
        assert!(!gate.decline(link, NOW + 1).unwrap());
        // The approval's code is spent for check, and a check's code for an approval.
        assert_eq!(
            gate.check("alice", &code, None, NOW + 1).unwrap().err(),
            Some(Refusal::Replayed)
        );
        let next = phone.generate(NOW + 30).unwrap().to_string();
        assert!(gate.check("alice", &next, None, NOW + 30).unwrap().is_ok());
        let second = gate
            .request_approval("alice", "deploy 1.4.3", None, 600, NOW + 30)
            .unwrap();
        assert_eq!(
            gate.approve(second.token.as_str(), &next, NOW + 31)
                .unwrap()
                .unwrap()
                .err(),
            Some(Refusal::Replayed)
        );
        let log = gate.log(Some("alice"), 100).unwrap();
        let grants: Vec<_> = log.iter().filter(|e| e.event == "approval").collect();
        assert_eq!(grants.len(), 1);
        assert_eq!(grants[0].outcome, "granted");
        assert_eq!(grants[0].action.as_deref(), Some("deploy 1.4.2"));
    }

    #[test]
    fn expired_and_declined_approvals_grant_nothing() {
        let (mut gate, phone) = enrolled();
        let request = gate
            .request_approval("alice", "deploy 2", None, 60, NOW)
            .unwrap();
        let code = phone.generate(NOW + 60).unwrap().to_string();
        assert!(
            gate.approve(request.token.as_str(), &code, NOW + 60)
                .unwrap()
                .is_none()
        );
        assert_eq!(
            gate.approval(&request.id, NOW + 60).unwrap().status,
            ApprovalStatus::Expired
        );
        // The code was not used by the dead link.
        assert!(gate.check("alice", &code, None, NOW + 60).unwrap().is_ok());

        let declined = gate
            .request_approval("alice", "deploy 3", None, 60, NOW + 90)
            .unwrap();
        assert!(gate.decline(declined.token.as_str(), NOW + 91).unwrap());
        assert!(!gate.decline(declined.token.as_str(), NOW + 91).unwrap());
        assert_eq!(
            gate.approval(&declined.id, NOW + 92).unwrap().status,
            ApprovalStatus::Declined
        );
    }

    #[test]
    fn requests_are_checked() {
        let (gate, _) = enrolled();
        let bad = |user: &str, action: &str, valid: u64| {
            gate.request_approval(user, action, None, valid, NOW)
                .unwrap_err()
        };
        assert_eq!(bad("nobody", "deploy", 60), GateError::UnknownUser);
        assert_eq!(bad("", "deploy", 60), GateError::InvalidUser);
        assert_eq!(bad("alice", "", 60), GateError::InvalidAction);
        assert_eq!(bad("alice", "a\nb", 60), GateError::InvalidAction);
        assert_eq!(bad("alice", &"x".repeat(201), 60), GateError::InvalidAction);
        assert!(matches!(
            bad("alice", "deploy", 0),
            GateError::InvalidValidity { .. }
        ));
        assert!(matches!(
            bad("alice", "deploy", 3601),
            GateError::InvalidValidity { .. }
        ));
        assert_eq!(
            gate.approval("nope", NOW).unwrap_err(),
            GateError::UnknownApproval
        );
    }
}
