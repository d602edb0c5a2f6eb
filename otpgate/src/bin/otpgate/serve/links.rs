//! The web pages (enrollment by link, approval of an action) and the link endpoints of the
//! API: `POST /v1/invites` (admin), `POST /v1/approvals` and `GET /v1/approvals/{id}`
//! (check; `?wait=SECONDS` long-polls until the approval is decided, expires or the wait
//! ends, woken by the decision itself, not by polling).
//!
//! Pages: every state-changing form is a `POST` carrying the link's CSRF token
//! ([`otpgate::Gate::csrf_token`]); a form without it (or with another link's) is a 403
//! and changes nothing. A code that is not six digits is answered on the page without
//! reaching the gate. Dead links get one page, 404, whatever the reason. Every page and
//! asset carries [`otpgate::pages::page_headers`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use askama::Template;
use axum::Json;
use axum::extract::rejection::{FormRejection, JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Extension, Form, Path, Query, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use otpcore::unix_time;
use otpgate::pages::{
    ApprovePage, DecidedPage, EnrollPage, EnrolledPage, ProblemPage, TYPE_A_NUMBER, error_advice,
    page_headers, refusal_advice,
};
use otpgate::{
    APPROVAL_VALIDITY_SECS, Decision, DeliveryCommand, GateError, INVITE_VALIDITY_SECS, LinkToken,
    PhoneNumber, Scope, Sent,
};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::broadcast;

use super::api::{AppState, Bearer, decide};
use super::error::ApiError;
use super::guard::Place;

/// The longest `?wait=` of `GET /v1/approvals/{id}`, in seconds.
/// Below the service's whole-request timeout, so a long poll is answered, not cut off;
/// `otpgate request` asks again until its own wait ends.
pub const MAX_WAIT_SECS: u64 = 20;
const _: () = assert!(MAX_WAIT_SECS < super::REQUEST_TIMEOUT.as_secs());

/// Tells long-polling readers which approval was decided: only that approval's readers
/// read it again. (Waking every reader at every decision made each decision cost a store
/// read per waiting pipeline: with 32 approvals waiting at once, some 500 reads per 32
/// decisions, queued before the reads that mattered.)
pub struct Decisions(broadcast::Sender<Arc<str>>);

/// Decisions a reader may be behind before it is told it lagged (and reads again anyway).
const DECISIONS_BACKLOG: usize = 1024;

impl Default for Decisions {
    fn default() -> Self {
        Decisions(broadcast::channel(DECISIONS_BACKLOG).0)
    }
}

impl Decisions {
    fn decided(&self, id: &str) {
        // No reader waiting is no error.
        let _ = self.0.send(Arc::from(id));
    }
}

/// The pages, their assets and the link endpoints of the API.
pub fn routes() -> Vec<(&'static str, Method, MethodRouter<AppState>)> {
    vec![
        ("/v1/invites", Method::POST, post(create_invite)),
        ("/v1/approvals", Method::POST, post(create_approval)),
        ("/v1/approvals/{id}", Method::GET, get(read_approval)),
        ("/enroll/{token}", Method::GET, get(enroll_page)),
        (
            "/enroll/{token}/confirm",
            Method::POST,
            post(enroll_confirm),
        ),
        ("/enroll/{token}/sms", Method::POST, post(enroll_sms)),
        ("/approve/{token}", Method::GET, get(approve_page)),
        ("/approve/{token}/code", Method::POST, post(approve_code)),
        ("/approve/{token}/sms", Method::POST, post(approve_sms)),
        (
            "/approve/{token}/decline",
            Method::POST,
            post(approve_decline),
        ),
        ("/assets/page.css", Method::GET, get(css)),
        ("/assets/page.js", Method::GET, get(js)),
    ]
}

/// The path as the access log may show it: a link's token replaced by `…`.
pub fn loggable_path(path: &str) -> String {
    for prefix in ["/enroll/", "/approve/"] {
        if let Some(rest) = path.strip_prefix(prefix) {
            let tail = rest.find('/').map_or("", |i| rest.get(i..).unwrap_or(""));
            return format!("{prefix}…{tail}");
        }
    }
    path.to_owned()
}

/// Whether `path` is a page or a page's asset (answered in HTML, with the pages' headers),
/// not the API.
pub fn is_page(path: &str) -> bool {
    path.starts_with("/enroll/") || path.starts_with("/approve/") || path.starts_with("/assets/")
}

/// Adds the pages' headers to every answer of a page or asset (`tls`: with HSTS), and
/// `Cache-Control: no-store` to the API's: they carry secrets and recovery codes, and each
/// says how things stood at one moment.
pub async fn with_page_headers(tls: bool, request: Request, next: Next) -> Response {
    let page = is_page(request.uri().path());
    let api = request.uri().path().starts_with("/v1/");
    let mut response = next.run(request).await;
    if api {
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if page {
        let headers = response.headers_mut();
        for (name, value) in page_headers(tls) {
            headers.insert(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
    }
    response
}

async fn css() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        otpgate::pages::PAGE_CSS,
    )
}

async fn js() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        otpgate::pages::PAGE_JS,
    )
}

// ----- API

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InviteBody {
    user: String,
    issuer: Option<String>,
    phone: Option<String>,
    valid_secs: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalBody {
    user: String,
    action: String,
    valid_secs: Option<u64>,
    /// Also text the link to the user's phone on record.
    #[serde(default)]
    text_link: bool,
}

/// When each user may be texted an approval's link again: one a minute, as texted codes
/// (`send-code`) are, so that a check-scoped token cannot flood a phone (or an SMS bill).
/// Kept by the service process, which is the only one texting links.
#[derive(Default)]
pub struct TextedLinks(Mutex<HashMap<String, u64>>);

impl TextedLinks {
    /// Takes `user`'s text at `now`, or answers when the next one may go.
    fn take(&self, user: &str, now: u64) -> Result<(), ApiError> {
        let mut next = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        next.retain(|_, at| *at > now);
        if let Some(&at) = next.get(user) {
            return Err(ApiError::TextTooSoon(at.saturating_sub(now)));
        }
        let cooldown = otpcore::OobPolicy::default().resend_cooldown_secs;
        next.insert(user.to_owned(), now.saturating_add(cooldown));
        Ok(())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaitQuery {
    wait: Option<u64>,
}

/// A `--public-url` (or `invite --base-url`): `https://HOST[:PORT]`, or `http://` (a
/// service behind a TLS proxy, or loopback); no path (the pages' forms and assets are at
/// the host's root, so links under a prefix would open pages whose forms post outside
/// it), query, fragment, user info, blank or control character. Returned without a
/// trailing `/`.
pub fn check_public_url(url: &str) -> Result<String, String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    let fine = rest.is_some_and(|rest| {
        let host = rest.strip_suffix('/').unwrap_or(rest);
        !host.is_empty()
            && !host.contains(['@', '/'])
            && host
                .bytes()
                .all(|b| b.is_ascii_graphic() && !b"?#\\\"<>`{}|^".contains(&b))
    });
    if !fine {
        return Err(format!(
            "{url:?}: give the service's address as browsers reach it, \
             https://HOST[:PORT] (the service at the root of its host: no path, query or \
             fragment)"
        ));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

/// The start of every link: the service's public URL, never a request's `Host` header.
fn base_url(app: &AppState) -> Result<String, ApiError> {
    app.public_url.clone().ok_or_else(|| {
        ApiError::BadRequest(
            "no-public-url",
            String::from(
                "the service listens on a unix socket and has no --public-url: \
                 it cannot make links",
            ),
        )
    })
}

async fn create_invite(
    State(app): State<AppState>,
    bearer: Bearer,
    body: Result<Json<InviteBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body?;
    let base = base_url(&app)?;
    decide(&app, "invite", bearer, Scope::Admin, move |gate, now| {
        let issuer = body.issuer.as_deref().unwrap_or("otpgate");
        let valid = body.valid_secs.unwrap_or(INVITE_VALIDITY_SECS);
        let invitation = gate.invite(&body.user, issuer, body.phone.as_deref(), valid, now)?;
        Ok(json!({
            "result": "invited",
            "user": invitation.user,
            "link": format!("{base}/enroll/{}", invitation.token.as_str()),
            "expires_at": invitation.expires_at,
        }))
    })
    .await
}

async fn create_approval(
    State(app): State<AppState>,
    bearer: Bearer,
    body: Result<Json<ApprovalBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body?;
    let base = base_url(&app)?;
    let shared = Arc::clone(&app);
    decide(&app, "approval", bearer, Scope::Check, move |gate, now| {
        let valid = body.valid_secs.unwrap_or(APPROVAL_VALIDITY_SECS);
        // Bad input, then an unknown user, then whether the link can be texted: each known
        // before anything is written, in that order.
        otpgate::check_approval_request(&body.user, &body.action, valid, now)?;
        let text_to = if body.text_link {
            let phone = gate.status(&body.user)?.phone;
            let command = shared
                .deliver
                .as_ref()
                .ok_or(GateError::NoDeliveryCommand)?;
            let phone = phone.ok_or(GateError::NoPhone)?;
            shared.texted_links.take(&body.user, now)?;
            Some((command, phone))
        } else {
            None
        };
        let requester = gate.actor().map(String::from);
        let request =
            gate.request_approval(&body.user, &body.action, requester.as_deref(), valid, now)?;
        let link = format!("{base}/approve/{}", request.token.as_str());
        let mut answer = json!({
            "result": "pending",
            "id": request.id,
            "user": body.user,
            "action": body.action,
            "link": link,
            "expires_at": request.expires_at,
        });
        if let Some((command, phone)) = text_to {
            let message = format!(
                "otpgate: {} is asked to approve \"{}\" until {}: {link}",
                body.user,
                body.action,
                otpgate::pages::utc(request.expires_at)
            );
            if let Err(reason) = command.deliver(phone.as_str(), &message, super::DELIVERY_LIMIT) {
                // The gateway may have sent it before it failed: the link must not work
                // for an approval its requester was told failed.
                gate.decline(request.token.as_str(), now)?;
                return Err(GateError::DeliveryFailed {
                    reason: format!("{reason}; the approval was withdrawn"),
                }
                .into());
            }
            if let Some(fields) = answer.as_object_mut() {
                fields.insert(String::from("texted_to"), json!(phone.masked()));
            }
        }
        Ok(answer)
    })
    .await
}

async fn read_approval(
    State(app): State<AppState>,
    place: Option<Extension<Place>>,
    bearer: Bearer,
    id: Result<Path<String>, PathRejection>,
    query: Result<Query<WaitQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let (Path(id), Query(query)) = (id?, query?);
    let wait = query.wait.unwrap_or(0);
    if wait > MAX_WAIT_SECS {
        return Err(ApiError::BadRequest(
            "invalid-wait",
            format!("wait: 0 to {MAX_WAIT_SECS} seconds"),
        ));
    }
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::Gate(GateError::UnknownApproval));
    }
    let started = tokio::time::Instant::now();
    let deadline = started
        .checked_add(Duration::from_secs(wait))
        .unwrap_or(started);
    // Subscribed before the first read: a decision between a read and the wait is seen.
    let mut decided = app.decisions.0.subscribe();
    let read_id = id.clone();
    let first = decide(
        &app,
        "approval-read",
        bearer,
        Scope::Check,
        move |gate, now| approval_json(gate, &read_id, now),
    )
    .await?;
    let (parts, body) = first.into_parts();
    let bytes = axum::body::to_bytes(body, 64 * 1024)
        .await
        .map_err(|_| ApiError::Internal("cannot read the answer"))?;
    let mut value: Value =
        serde_json::from_slice(&bytes).map_err(|_| ApiError::Internal("cannot read the answer"))?;
    // The waiting place, once the request's place went to the requests queued for one.
    let mut waiting = None;
    loop {
        let pending = value.get("result").and_then(Value::as_str) == Some("pending");
        let now = tokio::time::Instant::now();
        if !pending || now >= deadline {
            return Ok(poll_answer(parts, value));
        }
        // Waiting for the decision needs none of the --max-concurrent places.
        if waiting.is_none() {
            waiting = place
                .as_ref()
                .and_then(|Extension(place)| place.wait_without());
        }
        // Wake at a decision, at the approval's expiry or at the end of the wait.
        let expires_in = value
            .get("expires_at")
            .and_then(Value::as_u64)
            .zip(unix_time().ok())
            .map_or(0, |(at, now)| at.saturating_sub(now));
        let until = now
            .checked_add(Duration::from_secs(expires_in).saturating_add(Duration::from_millis(20)))
            .map_or(deadline, |expiry| deadline.min(expiry));
        let read_again = tokio::select! {
            message = decided.recv() => match message {
                Ok(other) if *other != *id => false,
                // This approval, or decisions missed: read it again.
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => true,
                Err(broadcast::error::RecvError::Closed) => {
                    return Err(ApiError::Internal("the service is shutting down"));
                }
            },
            () = tokio::time::sleep_until(until) => true,
        };
        if !read_again {
            continue;
        }
        // A read takes a place like any request; without one soon, the answer is what the
        // last read said (still pending: the client asks again).
        let _place = match (&place, &waiting) {
            (Some(Extension(place)), Some(_)) => match place.retake().await {
                Some(permit) => Some(permit),
                None => return Ok(poll_answer(parts, value)),
            },
            _ => None,
        };
        // The token was checked by the first read; the same approval is read again.
        let read_id = id.clone();
        value = app
            .pool
            .run(move |gate| {
                let now = unix_time().map_err(GateError::from)?;
                approval_json(gate, &read_id, now)
            })
            .await?;
    }
}

/// A long poll's answer: the head of its first read's, the body of its last read.
fn poll_answer(parts: axum::http::response::Parts, value: Value) -> Response {
    Response::from_parts(parts, Json(value).into_response().into_body())
}

fn approval_json(gate: &super::pool::ServiceGate, id: &str, now: u64) -> Result<Value, ApiError> {
    let approval = gate.approval(id, now)?;
    Ok(json!({
        "result": approval.status.label(),
        "id": approval.id,
        "user": approval.user,
        "action": approval.action,
        "requester": approval.requester,
        "expires_at": approval.expires_at,
        "decided_at": approval.decided_at,
    }))
}

// ----- pages

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
    job: impl FnOnce(&mut super::pool::ServiceGate, u64) -> PageJob + Send + 'static,
) -> Response {
    let result = app
        .pool
        .run(move |gate| {
            let now = unix_time().map_err(GateError::from)?;
            match job(gate, now) {
                // An error of the store's, so that the pool closes the connection rather
                // than lend it out again (after a database restart, say).
                Err(e) if super::error::store_fault(&e) => Err(ApiError::Gate(e)),
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

fn enroll_view(
    gate: &super::pool::ServiceGate,
    token: &str,
    now: u64,
    status: StatusCode,
    error: Option<String>,
    notice: Option<String>,
) -> PageJob {
    enroll_page_of(gate, token, now, status, error, notice, false)
}

/// The enrollment page answering "Use SMS instead", with that section open.
fn enroll_sms_view(
    gate: &super::pool::ServiceGate,
    token: &str,
    now: u64,
    status: StatusCode,
    error: Option<String>,
    notice: Option<String>,
) -> PageJob {
    enroll_page_of(gate, token, now, status, error, notice, true)
}

fn enroll_page_of(
    gate: &super::pool::ServiceGate,
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

async fn enroll_page(
    State(app): State<AppState>,
    token: Result<Path<String>, PathRejection>,
) -> Response {
    let Some(token) = well_formed(&token) else {
        return dead();
    };
    run_page(&app, move |gate, now| {
        enroll_view(gate, &token, now, StatusCode::OK, None, None)
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
    job: impl FnOnce(&mut super::pool::ServiceGate, u64, String, F) -> PageJob + Send + 'static,
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
fn csrf_fails(gate: &super::pool::ServiceGate, token: &str, given: &str) -> Option<Response> {
    match LinkToken::hash_of(token) {
        Some(hash) if gate.csrf_matches(&hash, given) => None,
        Some(_) => Some(bad_form()),
        None => Some(dead()),
    }
}

async fn enroll_confirm(
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
            ),
        }
    })
    .await
}

/// "Text me a code" from a page: `send` issues and texts it through the delivery command
/// (within the service's [`DELIVERY_LIMIT`](super::DELIVERY_LIMIT)), and `view` shows the
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
    let deliver =
        |to: &PhoneNumber, text: &str| command.deliver(to.as_str(), text, super::DELIVERY_LIMIT);
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

async fn enroll_sms(
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
            |status, error, notice| enroll_sms_view(gate, &token, now, status, error, notice),
        )
    })
    .await
}

fn approve_view(
    gate: &super::pool::ServiceGate,
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

async fn approve_page(
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

async fn approve_code(
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

async fn approve_sms(
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

async fn approve_decline(
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
    fn link_tokens_stay_out_of_the_log() {
        let token = "ab".repeat(32);
        assert_eq!(loggable_path(&format!("/enroll/{token}")), "/enroll/…");
        assert_eq!(
            loggable_path(&format!("/approve/{token}/code")),
            "/approve/…/code"
        );
        assert_eq!(loggable_path("/v1/approvals/12"), "/v1/approvals/12");
    }

    #[test]
    fn public_urls_are_plain_addresses() {
        assert_eq!(
            check_public_url("https://gate.example.com/").unwrap(),
            "https://gate.example.com"
        );
        assert_eq!(
            check_public_url("http://127.0.0.1:8477").unwrap(),
            "http://127.0.0.1:8477"
        );
        for bad in [
            "http://127.0.0.1:8477/gate",
            "https://gate.example.com/gate/",
            "gate.example.com",
            "ftp://gate",
            "https://",
            "https://a@evil.example",
            "https://gate/?x=1",
            "https://gate/#x",
            "https://ga te",
            "https://gate/\"",
        ] {
            assert!(check_public_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn codes_on_forms_are_six_digits() {
        assert_eq!(form_code(" 123 456 ").unwrap(), "123456");
        assert!(form_code("").is_err());
        assert!(form_code("abcdef").is_err());
        assert!(form_code(&"1".repeat(1 << 20)).is_err());
    }
}
