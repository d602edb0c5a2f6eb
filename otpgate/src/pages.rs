//! The web pages of `otpgate serve` (feature `serve`): enrollment by link and approval of
//! a production action, as askama templates compiled into the binary (HTML-escaped by
//! default: no page is built by concatenating strings), the headers every page carries,
//! and what each refusal tells the person to do next.
//!
//! The pages work without JavaScript: every action is a `POST` form with the link's CSRF
//! token ([`Gate::csrf_token`](super::Gate::csrf_token)); the one script
//! ([`PAGE_JS`]) only adds print and copy buttons for the recovery codes. Styles and
//! script are files of the service ([`PAGE_CSS`], [`PAGE_JS`]), so the
//! [`CONTENT_SECURITY_POLICY`] needs no `unsafe-inline`.

use std::format;
use std::string::String;
use std::vec::Vec;

use askama::Template;

use super::{InvitePage, Refusal, grouped_key, qr_svg_image};
use crate::{Approval, GateError};

/// The pages' policy: nothing but the service's own style sheet and script, forms that
/// post only to the service, no framing (clickjacking), no `<base>` rewriting. The QR
/// code is inline SVG, which needs no source.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; \
     script-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; \
     base-uri 'none'";

/// `Strict-Transport-Security` over TLS: a year.
pub const HSTS: &str = "max-age=31536000";

/// The headers of every page and asset: no caching (keys, codes and recovery codes must
/// not sit in caches), no referrer (the link holds a token), the policy above, no MIME
/// sniffing; and HSTS when served over TLS.
pub fn page_headers(tls: bool) -> Vec<(&'static str, &'static str)> {
    let mut headers = Vec::from([
        ("cache-control", "no-store"),
        ("referrer-policy", "no-referrer"),
        ("content-security-policy", CONTENT_SECURITY_POLICY),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
    ]);
    if tls {
        headers.push(("strict-transport-security", HSTS));
    }
    headers
}

/// The pages' style sheet, served at `/assets/page.css`.
pub const PAGE_CSS: &str = include_str!("../assets/page.css");

/// The pages' optional script, served at `/assets/page.js`.
pub const PAGE_JS: &str = include_str!("../assets/page.js");

/// The enrollment page: QR code, key, steps, the first code, "Use SMS instead".
#[derive(Template)]
#[template(path = "enroll.html")]
pub struct EnrollPage {
    user: String,
    issuer: String,
    qr_svg: String,
    key: String,
    token: String,
    csrf: String,
    phone: Option<String>,
    expires: String,
    error: Option<String>,
    notice: Option<String>,
    sms_open: bool,
}

impl EnrollPage {
    /// The page of the live link `token`, with an error or a notice from the last form.
    pub fn new(
        page: &InvitePage,
        token: &str,
        csrf: &str,
        error: Option<String>,
        notice: Option<String>,
    ) -> Result<Self, GateError> {
        let svg = qr_svg_image(&page.enrollment.uri)?;
        // Inline in HTML: without the XML declaration.
        let svg = match svg.find("<svg") {
            Some(start) => svg.get(start..).unwrap_or_default().to_owned(),
            None => svg,
        };
        Ok(EnrollPage {
            user: page.user.clone(),
            issuer: page.issuer.clone(),
            qr_svg: svg,
            key: String::from(grouped_key(&page.enrollment.secret)?.as_str()),
            token: String::from(token),
            csrf: String::from(csrf),
            phone: page.phone.as_ref().map(|p| p.masked()),
            expires: utc(page.expires_at),
            sms_open: notice.is_some() && error.is_none(),
            error,
            notice,
        })
    }

    /// The page as the answer to "Use SMS instead": its section stays open, so an error
    /// about the number is read beside the field to correct it.
    pub fn with_sms_open(mut self) -> Self {
        self.sms_open = true;
        self
    }
}

/// What "Use SMS instead" says to an empty number field when none is on record: the person
/// enrolling can type one (on the approval page only an administrator can add one).
pub const TYPE_A_NUMBER: &str = "Type your mobile number in international form, + and \
     the country code, e.g. +4915112345678, then press \u{201c}Text me a code\u{201d}.";

/// After the right first code: the recovery codes, once.
#[derive(Template)]
#[template(path = "enrolled.html")]
pub struct EnrolledPage {
    user: String,
    codes: Vec<String>,
}

impl EnrolledPage {
    /// The page for `user` with `codes` (shown only here).
    pub fn new(user: &str, codes: Vec<String>) -> Self {
        EnrolledPage {
            user: String::from(user),
            codes,
        }
    }
}

/// The approval page: who, which action, a code, "Text me a code", "Decline".
#[derive(Template)]
#[template(path = "approve.html")]
pub struct ApprovePage {
    user: String,
    action: String,
    requester: Option<String>,
    expires: String,
    token: String,
    csrf: String,
    error: Option<String>,
    notice: Option<String>,
}

impl ApprovePage {
    /// The page of the pending `approval` at the link `token`.
    pub fn new(
        approval: &Approval,
        token: &str,
        csrf: &str,
        error: Option<String>,
        notice: Option<String>,
    ) -> Self {
        ApprovePage {
            user: approval.user.clone(),
            action: approval.action.clone(),
            requester: approval.requester.clone(),
            expires: utc(approval.expires_at),
            token: String::from(token),
            csrf: String::from(csrf),
            error,
            notice,
        }
    }
}

/// An approval just granted or declined.
#[derive(Template)]
#[template(path = "decided.html")]
pub struct DecidedPage {
    heading: String,
    text: String,
}

impl DecidedPage {
    /// Granted: the action goes ahead.
    pub fn granted(action: &str) -> Self {
        DecidedPage {
            heading: String::from("Approved"),
            text: format!(
                "\u{201c}{action}\u{201d} may go ahead. The pipeline continues on its own."
            ),
        }
    }

    /// Declined: the action does not happen.
    pub fn declined(action: &str) -> Self {
        DecidedPage {
            heading: String::from("Declined"),
            text: format!(
                "\u{201c}{action}\u{201d} was declined and will not run. If that was a mistake, \
                 start the pipeline step again for a new approval link."
            ),
        }
    }
}

/// A page that could not be served: what happened and what to do next.
#[derive(Template)]
#[template(path = "problem.html")]
pub struct ProblemPage {
    heading: String,
    text: String,
    next: String,
}

impl ProblemPage {
    /// The one answer for an unknown, used or expired link, whatever the reason.
    pub fn dead_link() -> Self {
        ProblemPage {
            heading: String::from("This link does not work"),
            text: String::from("The link is unknown, was already used, or has expired."),
            next: String::from(
                "Ask for a new link: for setting up, from your administrator; for an \
                 approval, start the pipeline step again.",
            ),
        }
    }

    /// A form without the page's CSRF token (or with another page's).
    pub fn bad_form() -> Self {
        ProblemPage {
            heading: String::from("This form was not accepted"),
            text: String::from(
                "The form did not come from this page, or it was incomplete. Nothing was changed.",
            ),
            next: String::from("Open the link you were sent again and fill in the form there."),
        }
    }

    /// A form whose body did not arrive in time.
    pub fn slow_form() -> Self {
        ProblemPage {
            heading: String::from("This form took too long to arrive"),
            text: String::from("The connection was too slow. Nothing was changed."),
            next: String::from("Open the link you were sent again and send the form once more."),
        }
    }

    /// The service is overloaded, or the request ran out of time.
    pub fn busy() -> Self {
        ProblemPage {
            heading: String::from("The service is busy"),
            text: String::from(
                "It could not answer in time. Nothing was approved unless a later page says so.",
            ),
            next: String::from(
                "Open the link you were sent again in a minute; if it keeps failing, tell your \
                 administrator.",
            ),
        }
    }

    /// A fault of the service: nothing was accepted.
    pub fn unavailable() -> Self {
        ProblemPage {
            heading: String::from("The service could not decide"),
            text: String::from(
                "Something went wrong on the server. Nothing was approved or changed.",
            ),
            next: String::from(
                "Try again in a minute; if it keeps failing, tell your administrator.",
            ),
        }
    }
}

/// What a refused code tells the person, and what to do next.
pub fn refusal_advice(refusal: &Refusal) -> String {
    match refusal {
        Refusal::Wrong => String::from(
            "That code is not right. Type the 6-digit code your app shows now; if it keeps \
             failing, check that your phone's clock is set automatically.",
        ),
        Refusal::Refused(
            otpcore::Error::CodeWrongLength | otpcore::Error::CodeInvalidCharacter,
        ) => String::from("Type the 6 digits your app shows, without letters or spaces."),
        Refusal::Replayed => String::from(
            "This code was already used. Wait for the next code in your app (a new one every \
             30 seconds) and type that one.",
        ),
        Refusal::Throttled { retry_in, .. } => format!(
            "Too many wrong codes. Wait {retry_in} seconds, then type the code your app shows."
        ),
        Refusal::LockedOut => String::from(
            "Too many wrong codes in a row: no code is checked now. Ask your administrator to \
             reset your account, or use one of your recovery codes.",
        ),
        Refusal::NotConfirmed => String::from(
            "Two-factor authentication is not set up yet for this account: ask your \
             administrator for a set-up link.",
        ),
        Refusal::Disabled => {
            String::from("This account is disabled. Ask your administrator to set it up again.")
        }
        Refusal::SmsExpired | Refusal::SmsTooManyAttempts | Refusal::SmsAlreadyUsed => format!(
            "{}. Press \u{201c}Text me a code\u{201d} for a new one, or use your app.",
            sentence(refusal)
        ),
        Refusal::SmsTooSoon { retry_in, .. } => format!(
            "A code was texted moments ago: wait {retry_in} seconds before asking for another, \
             and check your messages."
        ),
        other => format!("{}. Try again with a new code.", sentence(other)),
    }
}

/// A refusal's own text with a capital letter and without its hints at commands.
fn sentence(refusal: &Refusal) -> String {
    let text = format!("{refusal}");
    let text = text.split(": send a new one").next().unwrap_or_default();
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// What an error of a form tells the person (a bad phone number), or `None` for a fault
/// of the service.
pub fn error_advice(error: &GateError) -> Option<String> {
    match error {
        GateError::InvalidPhone(e) => Some(format!(
            "That number does not work: {e}. Write it in international form, + and 8 to 15 \
             digits with the country code, e.g. +4915112345678."
        )),
        GateError::NoPhone => Some(String::from(
            "No phone number is on record: ask your administrator to add one, or use your app.",
        )),
        GateError::NoDeliveryCommand | GateError::DeliveryFailed { .. } => Some(String::from(
            "The text message could not be sent. Use your authenticator app, or try again later.",
        )),
        _ => None,
    }
}

/// Unix time as `2026-12-03 10:15 UTC`.
pub fn utc(unix: u64) -> String {
    let days = unix / 86_400;
    let secs = unix % 86_400;
    // Howard Hinnant's civil_from_days, for days since 1970-01-01.
    let z = days.saturating_add(719_468);
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = doe
        .saturating_sub(doe / 1_460)
        .saturating_add(doe / 36_524)
        .saturating_sub(doe / 146_096)
        / 365;
    let doy = doe.saturating_sub(
        yoe.saturating_mul(365)
            .saturating_add(yoe / 4)
            .saturating_sub(yoe / 100),
    );
    let mp = doy.saturating_mul(5).saturating_add(2) / 153;
    let day = doy
        .saturating_sub(mp.saturating_mul(153).saturating_add(2) / 5)
        .saturating_add(1);
    let month = if mp < 10 {
        mp.saturating_add(3)
    } else {
        mp.saturating_sub(9)
    };
    let year = yoe
        .saturating_add(era.saturating_mul(400))
        .saturating_add(u64::from(month <= 2));
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60
    )
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects
    )]
    use super::*;
    use crate::{Gate, MemoryStore, ServerKey};

    const NOW: u64 = 1_700_000_000;

    #[test]
    fn dates_are_utc() {
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc(NOW), "2023-11-14 22:13 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(utc(4_107_542_400), "2100-03-01 00:00 UTC");
    }

    #[test]
    fn the_enrollment_page_escapes_and_carries_its_form_rules() {
        let gate = Gate::open(MemoryStore::new(), ServerKey::generate().unwrap()).unwrap();
        let user = "<script>alert(1)</script>";
        let invitation = gate
            .invite(
                user,
                "Deploy \"Portal\" & Co",
                Some("+4915112345678"),
                600,
                NOW,
            )
            .unwrap();
        let token = invitation.token.as_str();
        let page = gate.invite_page(token, NOW).unwrap().unwrap();
        let csrf = gate.csrf_token(&page.token_hash);
        let html = EnrollPage::new(&page, token, &csrf, Some(String::from("<b>no</b>")), None)
            .unwrap()
            .render()
            .unwrap();
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(html.contains("&#60;script&#62;") || html.contains("&lt;script&gt;"));
        assert!(!html.contains("<b>no</b>"));
        assert!(html.contains("<svg"));
        assert!(!html.contains("<?xml"));
        assert!(html.contains(&grouped_key(&page.enrollment.secret).unwrap().to_string()));
        assert!(html.contains("autocomplete=\"one-time-code\""));
        assert!(html.contains("inputmode=\"numeric\""));
        assert!(html.contains("<label for=\"code\">"));
        assert!(html.contains("<label for=\"phone\">"));
        assert!(html.contains(&format!("value=\"{csrf}\"")));
        assert_eq!(
            html.matches(&format!("action=\"/enroll/{token}/")).count(),
            2
        );
        assert!(html.contains("+491********78"));
        assert!(html.contains("Scan a barcode") && html.contains("Enter provided key"));
        assert!(html.contains("Set up account"));
        assert!(
            !html.contains("style=\"") && !html.contains("<style"),
            "no inline style"
        );
        assert!(!html.contains("<script>"), "no inline script");
    }

    #[test]
    fn the_other_pages_render() {
        let codes = vec![String::from("abcd-efgh-ijkm-npqr")];
        let html = EnrolledPage::new("alice", codes).render().unwrap();
        assert!(html.contains("abcd-efgh-ijkm-npqr") && html.contains("shown only now"));
        let approval = Approval {
            id: String::from("id"),
            user: String::from("alice"),
            action: String::from("deploy <1.4.2>"),
            requester: Some(String::from("ci")),
            created: NOW,
            expires_at: NOW + 600,
            status: crate::ApprovalStatus::Pending,
            decided_at: None,
            token_hash: [0; 32],
        };
        let html = ApprovePage::new(&approval, "t", "c", None, Some(String::from("sent")))
            .render()
            .unwrap();
        assert!(html.contains("deploy &#60;1.4.2&#62;") || html.contains("deploy &lt;1.4.2&gt;"));
        assert!(html.contains("autocomplete=\"one-time-code\"") && html.contains("sent"));
        assert_eq!(html.matches("name=\"csrf\" value=\"c\"").count(), 3);
        for page in [
            ProblemPage::dead_link(),
            ProblemPage::bad_form(),
            ProblemPage::unavailable(),
            ProblemPage::slow_form(),
            ProblemPage::busy(),
        ] {
            assert!(page.render().unwrap().contains("<h1 id=\"problem\">"));
        }
        assert!(
            DecidedPage::granted("x")
                .render()
                .unwrap()
                .contains("Approved")
        );
    }

    #[test]
    fn every_refusal_says_what_to_do_next() {
        let refusals = [
            Refusal::Wrong,
            Refusal::Replayed,
            Refusal::Throttled {
                retry_at: 1,
                retry_in: 30,
            },
            Refusal::LockedOut,
            Refusal::Disabled,
            Refusal::SmsExpired,
            Refusal::SmsTooManyAttempts,
            Refusal::SmsAlreadyUsed,
            Refusal::SmsTooSoon {
                retry_at: 1,
                retry_in: 42,
            },
            Refusal::Refused(otpcore::Error::CodeWrongLength),
        ];
        for refusal in refusals {
            let advice = refusal_advice(&refusal);
            assert!(advice.len() > 30, "{refusal:?}: {advice}");
            assert!(!advice.contains("otpgate "), "{refusal:?}: {advice}");
        }
        assert!(refusal_advice(&refusals[2]).contains("30 seconds"));
    }
}
