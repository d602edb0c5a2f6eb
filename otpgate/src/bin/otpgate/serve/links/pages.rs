//! The link's pages: every state-changing form is a `POST` carrying the link's CSRF token
//! ([`otpgate::Gate::csrf_token`]); a form without it (or with another link's) is a 403
//! and changes nothing. A code that is not six digits is answered on the page without
//! reaching the gate. Dead links get one page, 404, whatever the reason.

use std::sync::Arc;

use askama::Template;
use axum::extract::rejection::{FormRejection, PathRejection};
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use otpcore::unix_time;
use otpgate::pages::{
    ApprovePage, DecidedPage, EnrollPage, EnrolledPage, ProblemPage, TYPE_A_NUMBER, error_advice,
    refusal_advice,
};
use otpgate::{Decision, DeliveryCommand, GateError, LinkToken, PhoneNumber, Sent};
use serde::Deserialize;

use crate::serve::api::AppState;
use crate::serve::error::ApiError;

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
}

#[derive(Deserialize)]
pub struct PhoneForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    phone: String,
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// A rendered page with its status.
pub fn page(status: StatusCode, template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "the page could not be drawn",
        )
            .into_response(),
    }
}

fn dead() -> Response {
    page(StatusCode::NOT_FOUND, &ProblemPage::dead_link())
}

fn bad_form() -> Response {
    page(StatusCode::FORBIDDEN, &ProblemPage::bad_form())
}

fn unavailable() -> Response {
    page(StatusCode::SERVICE_UNAVAILABLE, &ProblemPage::unavailable())
}

/// What a page's job answers: a page, or a fault (shown as [`ProblemPage::unavailable`]).
type PageJob = Result<Response, GateError>;

async fn run_page(
    app: &AppState,
    job: impl FnOnce(&mut crate::serve::pool::ServiceGate, u64) -> PageJob + Send + 'static,
) -> Response {
    let result = app
        .pool
        .run(move |gate| {
            let now = unix_time().map_err(GateError::from)?;
            match job(gate, now) {
                // An error of the store's, so that the pool closes the connection rather
                // than lend it out again (after a database restart, say).
                Err(e) if crate::serve::error::store_fault(&e) => Err(ApiError::Gate(e)),
                answer => Ok(answer),
            }
        })
        .await;
    match result {
        Ok(Ok(response)) => response,
        Ok(Err(e)) | Err(ApiError::Gate(e)) => {
            eprintln!("otpgate: page: {e}");
            unavailable()
        }
        Err(_) => unavailable(),
    }
}

/// A code field's text when it can be a code (six digits, blanks around ignored), else
/// what to tell the person.
fn form_code(code: &str) -> Result<String, String> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.is_empty() {
        return Err(String::from(
            "Type the 6-digit code your app shows, then press the button.",
        ));
    }
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(String::from(
            "A code is 6 digits, without letters: type the code your app shows.",
        ));
    }
    Ok(code)
}

fn well_formed(token: &Result<Path<String>, PathRejection>) -> Option<String> {
    match token {
        Ok(Path(token)) if LinkToken::hash_of(token).is_some() => Some(token.clone()),
        _ => None,
    }
}

fn form_or_bad<T>(form: Result<Form<T>, FormRejection>) -> Result<T, Box<Response>> {
    match form {
        Ok(Form(form)) => Ok(form),
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(Box::new(page(
            StatusCode::PAYLOAD_TOO_LARGE,
            &ProblemPage::bad_form(),
        ))),
        Err(_) => Err(Box::new(bad_form())),
    }
}

/// The enrollment page; `sms_open`: answering "Use SMS instead", with that section open.
fn enroll_view(
    gate: &crate::serve::pool::ServiceGate,
    token: &str,
    now: u64,
    status: StatusCode,
    error: Option<String>,
    notice: Option<String>,
    sms_open: bool,
) -> PageJob {
    let Some(invite) = gate.invite_page(token, now)? else {
        return Ok(dead());
    };
    let csrf = gate.csrf_token(&invite.token_hash);
    let view = EnrollPage::new(&invite, token, &csrf, error, notice)?;
    Ok(page(
        status,
        &if sms_open { view.with_sms_open() } else { view },
    ))
}

pub(super) async fn enroll_page(
    State(app): State<AppState>,
    token: Result<Path<String>, PathRejection>,
) -> Response {
    let Some(token) = well_formed(&token) else {
        return dead();
    };
    run_page(&app, move |gate, now| {
        enroll_view(gate, &token, now, StatusCode::OK, None, None, false)
    })
    .await
}

/// The forms of a link's pages: each carries the CSRF token bound to the link.
trait LinkForm {
    fn csrf(&self) -> &str;
}

impl LinkForm for CodeForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

impl LinkForm for PhoneForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

impl LinkForm for CsrfForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// A form posted to a link's page: a malformed link is dead and a form that does not parse
/// is a bad form, at once; then, on a gate, a CSRF token that is not the link's is refused,
/// and only then does `job` run, with the link's token and the form.
async fn run_form<F: LinkForm + Send + 'static>(
    app: &AppState,
    token: Result<Path<String>, PathRejection>,
    form: Result<Form<F>, FormRejection>,
    job: impl FnOnce(&mut crate::serve::pool::ServiceGate, u64, String, F) -> PageJob + Send + 'static,
) -> Response {
    let Some(token) = well_formed(&token) else {
        return dead();
    };
    let form = match form_or_bad(form) {
        Ok(form) => form,
        Err(response) => return *response,
    };
    run_page(app, move |gate, now| {
        if let Some(refused) = csrf_fails(gate, &token, form.csrf()) {
            return Ok(refused);
        }
        job(gate, now, token, form)
    })
    .await
}

/// The CSRF check of a link's form: `None` when the token is right.
fn csrf_fails(
    gate: &crate::serve::pool::ServiceGate,
    token: &str,
    given: &str,
) -> Option<Response> {
    match LinkToken::hash_of(token) {
        Some(hash) if gate.csrf_matches(&hash, given) => None,
        Some(_) => Some(bad_form()),
        None => Some(dead()),
    }
}

pub(super) async fn enroll_confirm(
    State(app): State<AppState>,
    token: Result<Path<String>, PathRejection>,
    form: Result<Form<CodeForm>, FormRejection>,
) -> Response {
    run_form(&app, token, form, move |gate, now, token, form| {
        let code = match form_code(&form.code) {
            Ok(code) => code,
            Err(advice) => {
                return enroll_view(
                    gate,
                    &token,
                    now,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Some(advice),
                    None,
                    false,
                );
            }
        };
        let Some(page_user) = gate.invite_page(&token, now)?.map(|p| p.user) else {
            return Ok(dead());
        };
        match gate.confirm_invite(&token, &code, now)? {
            None => Ok(dead()),
            Some(Ok(codes)) => {
                let codes = codes.iter().map(|c| c.as_str().to_owned()).collect();
                Ok(page(StatusCode::OK, &EnrolledPage::new(&page_user, codes)))
            }
            Some(Err(refusal)) => enroll_view(
                gate,
                &token,
                now,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(refusal_advice(&refusal)),
                None,
                false,
            ),
        }
    })
    .await
}

/// "Text me a code" from a page: `send` issues and texts it through the delivery command
/// (within the service's [`DELIVERY_LIMIT`](crate::serve::DELIVERY_LIMIT)), and `view` shows the
/// page again with what happened: where the code went and which button to `press`, the
/// refusal, or the advice for an error (`advice`; an error without advice is the page's
/// error).
fn text_a_code(
    command: Option<&DeliveryCommand>,
    send: impl FnOnce(&dyn Fn(&PhoneNumber, &str) -> Result<(), String>) -> SentFromPage,
    advice: impl Fn(&GateError) -> Option<String>,
    press: &str,
    view: impl Fn(StatusCode, Option<String>, Option<String>) -> PageJob,
) -> PageJob {
    let Some(command) = command else {
        let unavailable = error_advice(&GateError::NoDeliveryCommand);
        return view(StatusCode::SERVICE_UNAVAILABLE, unavailable, None);
    };
    let deliver = |to: &PhoneNumber, text: &str| {
        command.deliver(to.as_str(), text, crate::serve::DELIVERY_LIMIT)
    };
    match send(&deliver) {
        Ok(None) => Ok(dead()),
        Ok(Some(Ok(sent))) => {
            let notice = format!(
                "We texted a code to {}. Type it in the code field and press {press}.",
                sent.to.masked()
            );
            view(StatusCode::OK, None, Some(notice))
        }
        Ok(Some(Err(refusal))) => view(
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(refusal_advice(&refusal)),
            None,
        ),
        Err(e) => match advice(&e) {
            Some(advice) => view(StatusCode::UNPROCESSABLE_ENTITY, Some(advice), None),
            None => Err(e),
        },
    }
}

/// What sending a code from a link's page gives: `None` for a dead link.
type SentFromPage = Result<Option<Decision<Sent>>, GateError>;

pub(super) async fn enroll_sms(
    State(app): State<AppState>,
    token: Result<Path<String>, PathRejection>,
    form: Result<Form<PhoneForm>, FormRejection>,
) -> Response {
    let shared = Arc::clone(&app);
    run_form(&app, token, form, move |gate, now, token, form| {
        let phone = form.phone.trim();
        let phone = (!phone.is_empty()).then_some(phone);
        text_a_code(
            shared.deliver.as_ref(),
            |deliver| gate.invite_send_code(&token, phone, now, deliver),
            // Here the person can type a number: say so, not "ask your administrator".
            |e| match e {
                GateError::NoPhone => Some(String::from(TYPE_A_NUMBER)),
                e => error_advice(e),
            },
            "Confirm",
            |status, error, notice| enroll_view(gate, &token, now, status, error, notice, true),
        )
    })
    .await
}

fn approve_view(
    gate: &crate::serve::pool::ServiceGate,
    token: &str,
    now: u64,
    status: StatusCode,
    error: Option<String>,
    notice: Option<String>,
) -> PageJob {
    let Some(approval) = gate.approval_page(token, now)? else {
        return Ok(dead());
    };
    let csrf = gate.csrf_token(&approval.token_hash);
    Ok(page(
        status,
        &ApprovePage::new(&approval, token, &csrf, error, notice),
    ))
}

pub(super) async fn approve_page(
    State(app): State<AppState>,
    token: Result<Path<String>, PathRejection>,
) -> Response {
    let Some(token) = well_formed(&token) else {
        return dead();
    };
    run_page(&app, move |gate, now| {
        approve_view(gate, &token, now, StatusCode::OK, None, None)
    })
    .await
}

pub(super) async fn approve_code(
    State(app): State<AppState>,
    token: Result<Path<String>, PathRejection>,
    form: Result<Form<CodeForm>, FormRejection>,
) -> Response {
    let shared = Arc::clone(&app);
    run_form(&app, token, form, move |gate, now, token, form| {
        let code = match form_code(&form.code) {
            Ok(code) => code,
            Err(advice) => {
                return approve_view(
                    gate,
                    &token,
                    now,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Some(advice),
                    None,
                );
            }
        };
        let Some((id, action)) = gate.approval_page(&token, now)?.map(|a| (a.id, a.action)) else {
            return Ok(dead());
        };
        match gate.approve(&token, &code, now)? {
            None => Ok(dead()),
            Some(Ok(_)) => {
                shared.decisions.decided(&id);
                Ok(page(StatusCode::OK, &DecidedPage::granted(&action)))
            }
            Some(Err(refusal)) => approve_view(
                gate,
                &token,
                now,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(refusal_advice(&refusal)),
                None,
            ),
        }
    })
    .await
}

pub(super) async fn approve_sms(
    State(app): State<AppState>,
    token: Result<Path<String>, PathRejection>,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    let shared = Arc::clone(&app);
    run_form(&app, token, form, move |gate, now, token, _: CsrfForm| {
        text_a_code(
            shared.deliver.as_ref(),
            |deliver| gate.approval_send_code(&token, "otpgate", now, deliver),
            error_advice,
            "Approve",
            |status, error, notice| approve_view(gate, &token, now, status, error, notice),
        )
    })
    .await
}

pub(super) async fn approve_decline(
    State(app): State<AppState>,
    token: Result<Path<String>, PathRejection>,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    let shared = Arc::clone(&app);
    run_form(&app, token, form, move |gate, now, token, _: CsrfForm| {
        let Some((id, action)) = gate.approval_page(&token, now)?.map(|a| (a.id, a.action)) else {
            return Ok(dead());
        };
        if gate.decline(&token, now)? {
            shared.decisions.decided(&id);
            Ok(page(StatusCode::OK, &DecidedPage::declined(&action)))
        } else {
            Ok(dead())
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn codes_on_forms_are_six_digits() {
        assert_eq!(form_code(" 123 456 ").unwrap(), "123456");
        assert!(form_code("").is_err());
        assert!(form_code("abcdef").is_err());
        assert!(form_code(&"1".repeat(1 << 20)).is_err());
    }
}
