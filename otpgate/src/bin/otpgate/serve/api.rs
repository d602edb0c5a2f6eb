//! The API under `/v1/`: one endpoint per command, deciding with the same [`Gate`] calls
//! and answering the same JSON objects as `otpgate --json`. Every request names its token;
//! the token's scope, revocation and rate are checked on the same connection as the
//! decision, and its name goes into the decision's audit entry.

use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{Method, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post, put};
use otpcore::unix_time;
use otpgate::token::token_digest;
use otpgate::{DeliveryCommand, Scope, TokenStore};
use serde::Deserialize;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use super::error::ApiError;
use super::limit::RateLimiter;
use super::metrics::Metrics;
use super::pool::{GatePool, ServiceGate};
use crate::output::{check_json, recover_json, recovery_codes_json, sent_json, status_json};

/// What every request shares.
pub struct App {
    pub pool: Arc<GatePool>,
    pub metrics: Metrics,
    pub limiter: RateLimiter,
    pub deliver: Option<DeliveryCommand>,
    /// Served over TLS (links are `https://`, pages carry HSTS).
    pub tls: bool,
    /// The service's address as people reach it, for links (`--public-url`, else the
    /// bound TCP address); `None` on a unix socket without `--public-url`.
    pub public_url: Option<String>,
    /// Wakes the readers waiting for an approval's decision.
    pub decisions: super::links::Decisions,
    /// When each user may be texted an approval's link again.
    pub texted_links: super::limit::TextedLinks,
    /// The client connections open, for `/metrics`.
    pub connections: Arc<super::connections::Connections>,
}

pub type AppState = Arc<App>;

/// The token's name, for the access log (set on the answer once the token was accepted).
#[derive(Clone)]
pub struct Actor(pub String);

/// The digest of the bearer token of a request.
pub struct Bearer([u8; 32]);

impl<S: Send + Sync> FromRequestParts<S> for Bearer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or(ApiError::MissingToken)?;
        let token = value
            .strip_prefix("Bearer ")
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(ApiError::MissingToken)?;
        Ok(Bearer(token_digest(&Zeroizing::new(token.to_owned()))))
    }
}

/// `check` and `recover`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeBody {
    code: String,
    action: Option<String>,
}

/// `send-code`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendCodeBody {
    action: Option<String>,
    issuer: Option<String>,
}

/// `enroll`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrollBody {
    issuer: Option<String>,
    phone: Option<String>,
}

/// `confirm` and `recovery-codes`: a code without an action.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfirmBody {
    code: String,
}

/// `phone`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhoneBody {
    number: String,
}

/// `log`'s query.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogQuery {
    user: Option<String>,
    limit: Option<usize>,
}

/// The longest action label and issuer, in bytes.
const MAX_LABEL_LEN: usize = 256;
/// The most audit entries one `log` request returns.
const MAX_LOG_LIMIT: usize = 10_000;

/// Every endpoint: its path, method and handler. The router is built from this list, and
/// a test holds it against the committed OpenAPI document.
pub fn routes() -> Vec<(&'static str, Method, MethodRouter<AppState>)> {
    vec![
        ("/v1/users/{user}/check", Method::POST, post(check)),
        ("/v1/users/{user}/recover", Method::POST, post(recover)),
        ("/v1/users/{user}/send-code", Method::POST, post(send_code)),
        ("/v1/users/{user}/status", Method::GET, get(status)),
        ("/v1/users/{user}/enroll", Method::POST, post(enroll)),
        ("/v1/users/{user}/confirm", Method::POST, post(confirm)),
        ("/v1/users/{user}/reset", Method::POST, post(reset)),
        ("/v1/users/{user}/disable", Method::POST, post(disable)),
        ("/v1/users/{user}/phone", Method::PUT, put(phone)),
        (
            "/v1/users/{user}/recovery-codes",
            Method::POST,
            post(recovery_codes),
        ),
        ("/v1/log", Method::GET, get(log)),
        ("/v1/openapi.json", Method::GET, get(openapi)),
        ("/healthz", Method::GET, get(healthz)),
        ("/metrics", Method::GET, get(metrics)),
    ]
}

/// The committed OpenAPI document.
pub const OPENAPI: &str = include_str!("../../../../openapi.json");

/// One request: the token checked (known, not revoked, of a scope that allows `needed`,
/// within its rate), then `job` on a gate of the pool that writes the token's name into
/// its audit entries. `job` answers the command's JSON object.
pub(super) async fn decide(
    app: &AppState,
    endpoint: &'static str,
    bearer: Bearer,
    needed: Scope,
    job: impl FnOnce(&mut ServiceGate, u64) -> Result<Value, ApiError> + Send + 'static,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let shared = Arc::clone(app);
    let result = app
        .pool
        .run_after_read(
            move |gate| Ok(gate.store().inner().token_by_digest(&bearer.0)?),
            move |gate, token| {
                let token = token
                    .filter(|t| t.revoked.is_none())
                    .ok_or(ApiError::InvalidToken)?;
                let answer = || {
                    if !token.scope.allows(needed) {
                        return Err(ApiError::Forbidden);
                    }
                    shared.limiter.take(&token.name)?;
                    gate.set_actor(Some(&token.name));
                    let now = unix_time().map_err(otpgate::GateError::from)?;
                    job(gate, now)
                };
                // From here on the token is known: its name goes into the access log, of
                // an error too.
                match answer() {
                    Ok(value) => Ok((token.name, value)),
                    Err(error) => Err(ApiError::ByToken(token.name, Box::new(error))),
                }
            },
        )
        .await;
    let outcome = match &result {
        Ok((_, value)) if value.get("result").and_then(Value::as_str) == Some("refused") => value
            .get("reason")
            .unwrap_or(&Value::Null)
            .as_str()
            .unwrap_or("refused")
            .to_owned(),
        Ok(_) => String::from("accepted"),
        Err(e) => {
            if e.store_failed() {
                app.metrics.store_error();
            }
            String::from("error")
        }
    };
    app.metrics.decision(endpoint, &outcome, started.elapsed());
    let (name, value) = result?;
    let mut response = Json(value).into_response();
    response.extensions_mut().insert(Actor(name));
    Ok(response)
}

fn check_label(field: &'static str, value: Option<&str>) -> Result<(), ApiError> {
    match value {
        Some(v) if v.len() > MAX_LABEL_LEN || v.chars().any(char::is_control) => {
            Err(ApiError::BadRequest(
                if field == "action" {
                    "invalid-action"
                } else {
                    "invalid-issuer"
                },
                format!("{field}: at most {MAX_LABEL_LEN} bytes without control characters"),
            ))
        }
        _ => Ok(()),
    }
}

/// A TOTP or texted code: the gate's number of digits, and nothing else.
fn check_code(gate: &ServiceGate, code: &str) -> Result<(), ApiError> {
    let digits = usize::from(gate.params().digits.get());
    if code.len() == digits && code.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(ApiError::BadRequest(
            "invalid-code",
            format!("code: {digits} digits"),
        ))
    }
}

/// A recovery code: printable ASCII of a sensible length (the gate parses it).
fn check_recovery_code(code: &str) -> Result<(), ApiError> {
    if !code.is_empty()
        && code.len() <= otpcore::recovery::MAX_RECOVERY_CODE_INPUT_LEN
        && code.bytes().all(|b| b.is_ascii_graphic())
    {
        Ok(())
    } else {
        Err(ApiError::BadRequest(
            "invalid-code",
            String::from("code: a recovery code, xxxx-xxxx-xxxx-xxxx"),
        ))
    }
}

type UserPath = Result<Path<String>, PathRejection>;
type Body<T> = Result<Json<T>, JsonRejection>;

async fn check(
    State(app): State<AppState>,
    bearer: Bearer,
    user: UserPath,
    body: Body<CodeBody>,
) -> Result<Response, ApiError> {
    let (Path(user), Json(body)) = (user?, body?);
    check_label("action", body.action.as_deref())?;
    decide(&app, "check", bearer, Scope::Check, move |gate, now| {
        check_code(gate, &body.code)?;
        let decision = gate.check(&user, &body.code, body.action.as_deref(), now)?;
        Ok(check_json(&user, &decision))
    })
    .await
}

async fn recover(
    State(app): State<AppState>,
    bearer: Bearer,
    user: UserPath,
    body: Body<CodeBody>,
) -> Result<Response, ApiError> {
    let (Path(user), Json(body)) = (user?, body?);
    check_label("action", body.action.as_deref())?;
    check_recovery_code(&body.code)?;
    decide(&app, "recover", bearer, Scope::Check, move |gate, now| {
        let decision = gate.recover(&user, &body.code, body.action.as_deref(), now)?;
        Ok(recover_json(&user, &decision))
    })
    .await
}

async fn send_code(
    State(app): State<AppState>,
    bearer: Bearer,
    user: UserPath,
    body: Body<SendCodeBody>,
) -> Result<Response, ApiError> {
    let (Path(user), Json(body)) = (user?, body?);
    check_label("action", body.action.as_deref())?;
    check_label("issuer", body.issuer.as_deref())?;
    let shared = Arc::clone(&app);
    decide(&app, "send-code", bearer, Scope::Check, move |gate, now| {
        let command = shared
            .deliver
            .as_ref()
            .ok_or(otpgate::GateError::NoDeliveryCommand)?;
        let issuer = body.issuer.as_deref().unwrap_or("otpgate");
        let decision = gate.send_code(&user, issuer, body.action.as_deref(), now, |to, text| {
            command.deliver(to.as_str(), text, super::DELIVERY_LIMIT)
        })?;
        Ok(sent_json(&user, &decision))
    })
    .await
}

async fn status(
    State(app): State<AppState>,
    bearer: Bearer,
    user: UserPath,
) -> Result<Response, ApiError> {
    let Path(user) = user?;
    decide(&app, "status", bearer, Scope::Check, move |gate, _| {
        let status = gate.status(&user)?;
        let mut answer = status_json(&user, &status);
        // Masked, as the pages and send-code show it: a check-scoped token reads a
        // user's state, not the number (an administrator set it, and the CLI on the
        // service's host shows it whole).
        if let (Some(fields), Some(phone)) = (answer.as_object_mut(), &status.phone) {
            fields.insert(String::from("phone"), json!(phone.masked()));
        }
        Ok(answer)
    })
    .await
}

async fn enroll(
    State(app): State<AppState>,
    bearer: Bearer,
    user: UserPath,
    body: Body<EnrollBody>,
) -> Result<Response, ApiError> {
    let (Path(user), Json(body)) = (user?, body?);
    check_label("issuer", body.issuer.as_deref())?;
    decide(&app, "enroll", bearer, Scope::Admin, move |gate, now| {
        let issuer = body.issuer.as_deref().unwrap_or("otpgate");
        let enrollment = gate.enroll_with_phone(&user, issuer, body.phone.as_deref(), now)?;
        let key = crate::screen::grouped_key(&enrollment.secret)?;
        Ok(json!({
            "result": "pending",
            "user": user,
            "secret": Zeroizing::new(key.replace(' ', "")).as_str(),
            "uri": enrollment.uri.as_str(),
        }))
    })
    .await
}

async fn confirm(
    State(app): State<AppState>,
    bearer: Bearer,
    user: UserPath,
    body: Body<ConfirmBody>,
) -> Result<Response, ApiError> {
    let (Path(user), Json(body)) = (user?, body?);
    decide(&app, "confirm", bearer, Scope::Admin, move |gate, now| {
        check_code(gate, &body.code)?;
        Ok(match gate.confirm(&user, &body.code, now)? {
            Ok(codes) => recovery_codes_json(&user, &codes, Some("active")),
            Err(refusal) => crate::output::refusal_json(&user, &refusal),
        })
    })
    .await
}

async fn recovery_codes(
    State(app): State<AppState>,
    bearer: Bearer,
    user: UserPath,
    body: Body<ConfirmBody>,
) -> Result<Response, ApiError> {
    let (Path(user), Json(body)) = (user?, body?);
    decide(
        &app,
        "recovery-codes",
        bearer,
        Scope::Admin,
        move |gate, now| {
            check_code(gate, &body.code)?;
            Ok(match gate.new_recovery_codes(&user, &body.code, now)? {
                Ok(codes) => recovery_codes_json(&user, &codes, None),
                Err(refusal) => crate::output::refusal_json(&user, &refusal),
            })
        },
    )
    .await
}

async fn reset(
    State(app): State<AppState>,
    bearer: Bearer,
    user: UserPath,
) -> Result<Response, ApiError> {
    let Path(user) = user?;
    decide(&app, "reset", bearer, Scope::Admin, move |gate, now| {
        gate.reset(&user, now)?;
        Ok(json!({ "result": "accepted", "user": user, "event": "reset" }))
    })
    .await
}

async fn disable(
    State(app): State<AppState>,
    bearer: Bearer,
    user: UserPath,
) -> Result<Response, ApiError> {
    let Path(user) = user?;
    decide(&app, "disable", bearer, Scope::Admin, move |gate, now| {
        gate.disable(&user, now)?;
        Ok(json!({ "result": "accepted", "user": user, "status": "disabled" }))
    })
    .await
}

async fn phone(
    State(app): State<AppState>,
    bearer: Bearer,
    user: UserPath,
    body: Body<PhoneBody>,
) -> Result<Response, ApiError> {
    let (Path(user), Json(body)) = (user?, body?);
    decide(&app, "phone", bearer, Scope::Admin, move |gate, now| {
        gate.set_phone(&user, &body.number, now)?;
        Ok(json!({ "result": "accepted", "user": user, "event": "phone" }))
    })
    .await
}

async fn log(
    State(app): State<AppState>,
    bearer: Bearer,
    query: Result<Query<LogQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query?;
    let limit = query.limit.unwrap_or(50).min(MAX_LOG_LIMIT);
    decide(&app, "log", bearer, Scope::Admin, move |gate, _| {
        let entries = gate.log(query.user.as_deref(), limit)?;
        Ok(json!({
            "result": "accepted",
            "entries": entries.iter().map(crate::output::audit_json).collect::<Vec<_>>(),
        }))
    })
    .await
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

/// 200 when the store answers (a read of the key check on a gate of the pool).
async fn healthz(State(app): State<AppState>) -> Result<Json<Value>, ApiError> {
    app.pool
        .run_after_read(
            |gate| Ok(otpgate::Store::key_check(gate.store())?),
            |_, _| Ok(()),
        )
        .await
        .inspect_err(|e| {
            if e.store_failed() {
                app.metrics.store_error();
            }
        })?;
    Ok(Json(json!({ "status": "ok" })))
}

async fn metrics(State(app): State<AppState>) -> Response {
    let mut text = app.metrics.render();
    app.connections.render(&mut text);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

/// Any other path.
pub async fn not_found() -> ApiError {
    ApiError::NotFound
}

/// A path of the API with a method it does not take.
pub async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use std::collections::BTreeSet;

    use super::*;

    /// The committed OpenAPI document names exactly the router's API endpoints.
    #[test]
    fn the_openapi_document_lists_every_route_and_no_other() {
        let doc: Value = serde_json::from_str(OPENAPI).unwrap();
        let mut documented = BTreeSet::new();
        for (path, item) in doc
            .get("paths")
            .unwrap_or(&Value::Null)
            .as_object()
            .unwrap()
        {
            for method in item.as_object().unwrap().keys() {
                if method != "parameters" {
                    documented.insert((path.clone(), method.to_uppercase()));
                }
            }
        }
        // The API's routes and the link endpoints under /v1/ (the pages are HTML, not API).
        let routed: BTreeSet<(String, String)> = routes()
            .into_iter()
            .chain(
                super::super::links::routes()
                    .into_iter()
                    .filter(|(path, _, _)| path.starts_with("/v1/")),
            )
            .map(|(path, method, _)| (path.to_owned(), method.as_str().to_owned()))
            .collect();
        assert_eq!(documented, routed);
        assert_eq!(
            doc.get("openapi")
                .unwrap_or(&Value::Null)
                .as_str()
                .unwrap()
                .get(..2),
            Some("3.")
        );
    }
}
