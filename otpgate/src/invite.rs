//! Enrollment by link: `otpgate invite USER` enrolls the user (pending) and returns a
//! single-use link to a page that shows the QR code and the key of that enrollment and
//! takes the first code, as [`Gate::confirm`] does.
//!
//! The link shows one enrollment only: the invitation keeps the SHA-256 of the pending
//! secret, and the page is dead as soon as the user's pending secret is another one (a new
//! invitation, `otpgate enroll`), the user is no longer pending (confirmed, here or by
//! `otpgate confirm`; disabled), the invitation was used or it expired. A dead link gets
//! one answer whatever the reason ([`None`] here), so a link tells nothing about a user.

use std::string::String;
use std::vec::Vec;

use otpcore::Secret;
use otpcore::recovery::RecoveryCodeList;
use qrcode::{EcLevel, QrCode};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::flow::{check_user, key_uri};
use super::link::{InviteRow, LinkStore, LinkToken, TokenHash};
use super::{Decision, Enrollment, Gate, GateError, PhoneNumber, Refusal, Sent, Status, Store};

/// How long an invitation is valid unless told otherwise: a day.
pub const INVITE_VALIDITY_SECS: u64 = 24 * 3600;

/// The longest an invitation may be valid: a week.
pub const INVITE_MAX_VALIDITY_SECS: u64 = 7 * 24 * 3600;

/// A new invitation: hand the link to the user. Its token is not stored anywhere.
#[derive(Debug)]
pub struct Invitation {
    /// The user it enrolls.
    pub user: String,
    /// The token for the link's path (`/enroll/TOKEN`).
    pub token: LinkToken,
    /// Unix time from which the link is dead.
    pub expires_at: u64,
}

/// What a live enrollment link shows.
#[derive(Debug)]
pub struct InvitePage {
    /// The user it enrolls.
    pub user: String,
    /// The service name shown in authenticator apps.
    pub issuer: String,
    /// The pending enrollment: its secret and key URI.
    pub enrollment: Enrollment,
    /// The phone number on record, if any (for "Use SMS instead").
    pub phone: Option<PhoneNumber>,
    /// Unix time from which the link is dead.
    pub expires_at: u64,
    /// The hash of the link's token (for its forms' CSRF token).
    pub token_hash: TokenHash,
}

impl<S: Store + LinkStore> Gate<S> {
    /// Invites `user`: enrolls the user as [`Gate::enroll_with_phone`] does (so an active
    /// user is [`GateError::AlreadyEnrolled`]) and stores an invitation valid for
    /// `valid_secs` (1 to [`INVITE_MAX_VALIDITY_SECS`]) under the hash of a new link token.
    pub fn invite(
        &self,
        user: &str,
        issuer: &str,
        phone: Option<&str>,
        valid_secs: u64,
        now: u64,
    ) -> Result<Invitation, GateError> {
        check_user(user)?;
        let expires_at = expiry(now, valid_secs, INVITE_MAX_VALIDITY_SECS)?;
        check_label(issuer, GateError::InvalidIssuer)?;
        let token = LinkToken::generate()?;
        let enrollment = self.enroll_with_phone(user, issuer, phone, now)?;
        self.store().insert_invite(&InviteRow {
            token_hash: token.hash(),
            user: String::from(user),
            issuer: String::from(issuer),
            secret_digest: secret_digest(&enrollment.secret),
            created: now,
            expires: expires_at,
            used: None,
        })?;
        Ok(Invitation {
            user: String::from(user),
            token,
            expires_at,
        })
    }

    /// The page of the enrollment link `token` (as taken from the link), or `None` when the
    /// link is dead (unknown, malformed, used, expired, or its enrollment replaced, confirmed
    /// or disabled).
    pub fn invite_page(&self, token: &str, now: u64) -> Result<Option<InvitePage>, GateError> {
        let Some(token_hash) = LinkToken::hash_of(token) else {
            return Ok(None);
        };
        let Some(invite) = self.store().find_invite(&token_hash)? else {
            return Ok(None);
        };
        if invite.used.is_some() || now >= invite.expires {
            return Ok(None);
        }
        let (_, record) = match self.read(&invite.user) {
            Ok(read) => read,
            Err(GateError::UnknownUser) => return Ok(None),
            Err(e) => return Err(e),
        };
        if record.status != Status::Pending || secret_digest(&record.secret) != invite.secret_digest
        {
            return Ok(None);
        }
        let secret = Secret::from_bytes(record.secret.as_bytes())?;
        let uri = key_uri(&invite.user, &invite.issuer, &secret)?;
        Ok(Some(InvitePage {
            user: invite.user,
            issuer: invite.issuer,
            enrollment: Enrollment { secret, uri },
            phone: record.phone,
            expires_at: invite.expires,
            token_hash,
        }))
    }

    /// The first code typed on the enrollment page: [`Gate::confirm`] for the link's user
    /// (a wrong code counts toward the throttle), and the link dies with the right code.
    /// `None` when the link is dead, including when the enrollment was just confirmed by
    /// another request.
    pub fn confirm_invite(
        &self,
        token: &str,
        code: &str,
        now: u64,
    ) -> Result<Option<Decision<RecoveryCodeList>>, GateError> {
        let Some(page) = self.invite_page(token, now)? else {
            return Ok(None);
        };
        match self.confirm(&page.user, code, now)? {
            Ok(codes) => {
                self.store().use_invite(&page.token_hash, now)?;
                Ok(Some(Ok(codes)))
            }
            Err(Refusal::AlreadyConfirmed | Refusal::Disabled) => Ok(None),
            Err(refusal) => Ok(Some(Err(refusal))),
        }
    }

    /// "Use SMS instead" on the enrollment page: sets the phone number when one is given
    /// (checked as [`Gate::set_phone`] does), then texts a code as [`Gate::send_code`] does,
    /// under the same rules (cooldown, throttle); the texted code confirms the enrollment
    /// through [`confirm_invite`](Self::confirm_invite). `None` when the link is dead.
    pub fn invite_send_code(
        &self,
        token: &str,
        phone: Option<&str>,
        now: u64,
        deliver: impl FnOnce(&PhoneNumber, &str) -> Result<(), String>,
    ) -> Result<Option<Decision<Sent>>, GateError> {
        let Some(page) = self.invite_page(token, now)? else {
            return Ok(None);
        };
        if let Some(phone) = phone {
            let phone = PhoneNumber::parse(phone)?;
            if page.phone.as_ref() != Some(&phone) {
                self.set_phone(&page.user, phone.as_str(), now)?;
            }
        }
        self.send_code(&page.user, &page.issuer, None, now, deliver)
            .map(Some)
    }
}

/// `now + valid_secs`, with `valid_secs` from 1 to `max_secs`.
pub(crate) fn expiry(now: u64, valid_secs: u64, max_secs: u64) -> Result<u64, GateError> {
    if valid_secs == 0 || valid_secs > max_secs {
        return Err(GateError::InvalidValidity { max_secs });
    }
    now.checked_add(valid_secs)
        .ok_or(GateError::InvalidValidity { max_secs })
}

/// A label shown on a page (an issuer, an action): 1 to 200 characters, no control
/// characters.
pub(crate) fn check_label(text: &str, error: GateError) -> Result<(), GateError> {
    let chars = text.chars().count();
    if chars == 0 || chars > MAX_LABEL_CHARS || text.chars().any(char::is_control) {
        return Err(error);
    }
    Ok(())
}

/// The longest issuer or action, in characters.
pub const MAX_LABEL_CHARS: usize = 200;

fn secret_digest(secret: &Secret) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// The key as people type it: base32 in groups of four (`JBSW Y3DP ...`).
pub fn grouped_key(secret: &Secret) -> Result<Zeroizing<String>, GateError> {
    let mut buf = Zeroizing::new([0u8; otpcore::MAX_SECRET_BASE32_LEN]);
    let key = secret.to_base32(buf.as_mut_slice())?;
    let groups: Vec<&str> = key
        .as_bytes()
        .chunks(4)
        .filter_map(|g| core::str::from_utf8(g).ok())
        .collect();
    Ok(Zeroizing::new(groups.join(" ")))
}

/// The QR code of `uri` as an SVG image (black on white, at least 256 pixels): a file of
/// its own (`enroll --qr-svg`) or, without its XML declaration, inline in a page.
pub fn qr_svg_image(uri: &str) -> Result<String, GateError> {
    let code = QrCode::with_error_correction_level(uri.as_bytes(), EcLevel::L)
        .map_err(|e| GateError::Store(std::format!("cannot draw the QR code: {e}")))?;
    Ok(code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(256, 256)
        .dark_color(qrcode::render::svg::Color("#000000"))
        .light_color(qrcode::render::svg::Color("#ffffff"))
        .build())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic, clippy::arithmetic_side_effects)]
    use super::*;
    use crate::{MemoryStore, ServerKey};
    use otpcore::Totp;

    const NOW: u64 = 1_700_000_000;

    fn gate() -> Gate<MemoryStore> {
        Gate::open(MemoryStore::new(), ServerKey::generate().unwrap()).unwrap()
    }

    fn code(gate: &Gate<MemoryStore>, page: &InvitePage, at: u64) -> String {
        let phone = Totp::new(&page.enrollment.secret, gate.params()).unwrap();
        phone.generate(at).unwrap().to_string()
    }

    #[test]
    fn a_link_shows_its_enrollment_until_the_right_code_then_dies() {
        let gate = gate();
        let invitation = gate
            .invite("alice", "Deploy Portal", None, 3600, NOW)
            .unwrap();
        assert_eq!(invitation.expires_at, NOW + 3600);
        let link = invitation.token.as_str();
        let page = gate.invite_page(link, NOW).unwrap().unwrap();
        assert_eq!(page.user, "alice");
        assert!(page.enrollment.uri.starts_with("otpauth://totp/"));
        // Reopened before confirming: the same key.
        let again = gate.invite_page(link, NOW + 5).unwrap().unwrap();
        assert_eq!(page.enrollment.uri, again.enrollment.uri);

        let wrong = gate.confirm_invite(link, "000000", NOW).unwrap().unwrap();
        assert_eq!(wrong.err(), Some(Refusal::Wrong));
        assert_eq!(gate.status("alice").unwrap().failures, 1, "counted");

        let codes = gate
            .confirm_invite(link, &code(&gate, &page, NOW), NOW)
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(codes.len(), 10);
        assert_eq!(gate.status("alice").unwrap().status, Status::Active);
        assert!(gate.invite_page(link, NOW + 1).unwrap().is_none());
        assert!(
            gate.confirm_invite(link, &code(&gate, &page, NOW + 30), NOW + 30)
                .unwrap()
                .is_none(),
            "a used link is dead"
        );
        // The first code is spent for `check` too.
        let first = code(&gate, &page, NOW);
        assert_eq!(
            gate.check("alice", &first, None, NOW + 1).unwrap().err(),
            Some(Refusal::Replayed)
        );
    }

    #[test]
    fn dead_links_are_one_answer() {
        let gate = gate();
        let old = gate.invite("bob", "otpgate", None, 60, NOW).unwrap();
        assert!(
            gate.invite_page(old.token.as_str(), NOW + 60)
                .unwrap()
                .is_none()
        );
        assert!(gate.invite_page("nonsense", NOW).unwrap().is_none());
        assert!(gate.invite_page(&"a".repeat(64), NOW).unwrap().is_none());
        // A new invitation replaces the enrollment: the old link dies even before expiry.
        let new = gate.invite("bob", "otpgate", None, 60, NOW + 1).unwrap();
        assert!(
            gate.invite_page(old.token.as_str(), NOW + 2)
                .unwrap()
                .is_none()
        );
        let page = gate
            .invite_page(new.token.as_str(), NOW + 2)
            .unwrap()
            .unwrap();
        // Confirmed on the command line: the link dies too.
        let first = code(&gate, &page, NOW + 2);
        assert!(gate.confirm("bob", &first, NOW + 2).unwrap().is_ok());
        assert!(
            gate.invite_page(new.token.as_str(), NOW + 3)
                .unwrap()
                .is_none()
        );
        assert_eq!(
            gate.invite("bob", "otpgate", None, 60, NOW).unwrap_err(),
            GateError::AlreadyEnrolled
        );
    }

    #[test]
    fn validity_and_labels_are_checked() {
        let gate = gate();
        for valid in [0, INVITE_MAX_VALIDITY_SECS + 1] {
            assert!(matches!(
                gate.invite("carol", "otpgate", None, valid, NOW),
                Err(GateError::InvalidValidity { .. })
            ));
        }
        assert_eq!(
            gate.invite("carol", "", None, 60, NOW).unwrap_err(),
            GateError::InvalidIssuer
        );
        assert!(matches!(
            gate.invite("carol", "otpgate", Some("12345"), 60, NOW),
            Err(GateError::InvalidPhone(_))
        ));
        // Nothing was enrolled by the refused invitations.
        assert_eq!(gate.status("carol").unwrap_err(), GateError::UnknownUser);
        assert!(
            gate.invite("carol", "otpgate", None, INVITE_MAX_VALIDITY_SECS, NOW)
                .is_ok()
        );
    }

    #[test]
    fn sms_instead_confirms_with_the_texted_code() {
        let gate = gate();
        let invitation = gate.invite("dave", "otpgate", None, 600, NOW).unwrap();
        let link = invitation.token.as_str();
        assert!(matches!(
            gate.invite_send_code(link, Some("0151"), NOW, |_, _| Ok(())),
            Err(GateError::InvalidPhone(_))
        ));
        let mut texted = String::new();
        let sent = gate
            .invite_send_code(link, Some("+4915112345678"), NOW, |to, text| {
                assert_eq!(to.as_str(), "+4915112345678");
                texted = String::from(text);
                Ok(())
            })
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(sent.to.as_str(), "+4915112345678");
        // Same rules as send-code: not again within the cooldown.
        assert!(matches!(
            gate.invite_send_code(link, None, NOW + 1, |_, _| Ok(()))
                .unwrap()
                .unwrap(),
            Err(Refusal::SmsTooSoon { .. })
        ));
        let code = texted.split(' ').next().unwrap();
        assert!(
            gate.confirm_invite(link, code, NOW + 2)
                .unwrap()
                .unwrap()
                .is_ok()
        );
        assert!(gate.invite_page(link, NOW + 3).unwrap().is_none());
    }
}
