//! The service's one error type: every failure of a request as a status and a JSON object
//! `{"error": {"code": "...", "message": "..."}}`. A refusal is not an error (it is a 200
//! answer with its reason); these are requests the gate could not, or would not, decide.
//! No message holds a token, a code or a request body.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use otpgate::GateError;
use serde_json::json;

use super::api::Actor;

/// Why a request got no decision.
#[derive(Debug)]
pub enum ApiError {
    /// No `Authorization: Bearer` header, or not a well-formed one.
    MissingToken,
    /// A token that is unknown or revoked (the same answer for both).
    InvalidToken,
    /// The token's scope does not allow this endpoint.
    Forbidden,
    /// The token made too many requests: try again after this many seconds.
    RateLimited(u64),
    /// The user was texted a link less than a cooldown ago: try again after this many
    /// seconds.
    TextTooSoon(u64),
    /// An error answered to a request whose token was accepted: the token's name goes into
    /// the access log beside it.
    ByToken(String, Box<ApiError>),
    /// A field of the request is not acceptable: the code and the message.
    BadRequest(&'static str, String),
    /// The body is not JSON of the endpoint's schema, too large, or not `application/json`.
    Body(StatusCode, &'static str, &'static str),
    /// No such endpoint.
    NotFound,
    /// The endpoint exists, with another method.
    MethodNotAllowed,
    /// Every place among `--max-concurrent` stayed taken: try again after this many seconds.
    Overloaded(u64),
    /// The request did not end within the service's whole-request time: try again after
    /// this many seconds. It may still have been decided.
    Timeout(u64),
    /// The gate's own error.
    Gate(GateError),
    /// The decision did not end in time, or crashed: nothing may be assumed of it.
    Internal(&'static str),
}

impl ApiError {
    /// Whether this says the database connection should not be used again.
    pub fn store_failed(&self) -> bool {
        match self {
            ApiError::Gate(e) => store_fault(e),
            ApiError::ByToken(_, error) => error.store_failed(),
            _ => false,
        }
    }

    fn parts(&self) -> (StatusCode, &'static str, String) {
        use StatusCode as S;
        match self {
            ApiError::MissingToken => (
                S::UNAUTHORIZED,
                "missing-token",
                String::from("send the service token as Authorization: Bearer TOKEN"),
            ),
            ApiError::InvalidToken => (
                S::UNAUTHORIZED,
                "invalid-token",
                String::from("the token is unknown or revoked"),
            ),
            ApiError::Forbidden => (
                S::FORBIDDEN,
                "forbidden",
                String::from("the token's scope does not allow this request"),
            ),
            ApiError::RateLimited(secs) => (
                S::TOO_MANY_REQUESTS,
                "rate-limited",
                format!("too many requests with this token: retry in {secs} s"),
            ),
            ApiError::TextTooSoon(secs) => (
                S::TOO_MANY_REQUESTS,
                "sms-too-soon",
                format!("this user was texted a link less than a minute ago: retry in {secs} s"),
            ),
            ApiError::ByToken(_, error) => error.parts(),
            ApiError::BadRequest(code, message) => (S::BAD_REQUEST, code, message.clone()),
            ApiError::Body(status, code, message) => (*status, code, String::from(*message)),
            ApiError::NotFound => (S::NOT_FOUND, "not-found", String::from("no such endpoint")),
            ApiError::MethodNotAllowed => (
                S::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                String::from("this endpoint takes another method (see /v1/openapi.json)"),
            ),
            ApiError::Overloaded(secs) => (
                S::SERVICE_UNAVAILABLE,
                "overloaded",
                format!(
                    "the service has as many requests in progress as it takes: nothing was \
                     decided; retry in {secs} s"
                ),
            ),
            ApiError::Timeout(secs) => (
                S::SERVICE_UNAVAILABLE,
                "timeout",
                format!(
                    "the request did not end within {} s: take it as not accepted (a code \
                     in it may have been used); retry in {secs} s",
                    super::REQUEST_TIMEOUT.as_secs()
                ),
            ),
            ApiError::Gate(e) => gate_parts(e),
            ApiError::Internal(message) => {
                (S::INTERNAL_SERVER_ERROR, "internal", String::from(*message))
            }
        }
    }
}

/// Whether `e` is the store's fault (its connection or file), not the request's.
pub fn store_fault(e: &GateError) -> bool {
    matches!(
        e,
        GateError::StoreUnavailable(_)
            | GateError::Store(_)
            | GateError::StoreBusy
            | GateError::StoreReadOnly
            | GateError::NoDatabase { .. }
    )
}

/// A gate error's status: the caller's mistakes are 4xx, the store's faults 503, anything
/// else 500 with a fixed message (the detail, which may name files, goes to the log).
fn gate_parts(e: &GateError) -> (StatusCode, &'static str, String) {
    use StatusCode as S;
    let (status, code) = match e {
        GateError::InvalidUser => (S::BAD_REQUEST, "invalid-user"),
        GateError::InvalidPhone(_) => (S::BAD_REQUEST, "invalid-phone"),
        GateError::UnknownUser => (S::NOT_FOUND, "unknown-user"),
        GateError::UnknownApproval => (S::NOT_FOUND, "unknown-approval"),
        GateError::InvalidValidity { .. } => (S::BAD_REQUEST, "invalid-validity"),
        GateError::InvalidIssuer => (S::BAD_REQUEST, "invalid-issuer"),
        GateError::InvalidAction => (S::BAD_REQUEST, "invalid-action"),
        GateError::AlreadyEnrolled => (S::CONFLICT, "already-enrolled"),
        GateError::NoPhone => (S::CONFLICT, "no-phone"),
        GateError::DeliveryFailed { .. } => {
            return (
                S::BAD_GATEWAY,
                "delivery-failed",
                String::from(
                    "the message was not delivered, and what it carried (a code or an \
                     approval's link) was withdrawn; the service's log has the gateway's answer",
                ),
            );
        }
        GateError::NoDeliveryCommand => (S::SERVICE_UNAVAILABLE, "no-delivery-command"),
        GateError::StoreUnavailable(_)
        | GateError::StoreBusy
        | GateError::Contention
        | GateError::Store(_)
        | GateError::StoreReadOnly
        | GateError::NoDatabase { .. } => {
            // The detail (a path, a host, the database's words) goes to the log.
            return (
                S::SERVICE_UNAVAILABLE,
                "store-unavailable",
                String::from(
                    "the gate's database cannot be used now (full, read-only, missing or \
                     unreachable): nothing was accepted; see the service's log",
                ),
            );
        }
        _ => {
            return (
                S::INTERNAL_SERVER_ERROR,
                "internal",
                String::from(
                    "the gate could not decide; nothing was accepted (see the service's log)",
                ),
            );
        }
    };
    (status, code, format!("{e}"))
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::ByToken(name, error) = self {
            let mut response = error.into_response();
            response.extensions_mut().insert(Actor(name));
            return response;
        }
        let (status, code, message) = self.parts();
        if status.is_server_error() {
            eprintln!("otpgate serve: {code}: {}", detail(&self));
        }
        let mut response = (
            status,
            Json(json!({ "error": { "code": code, "message": message } })),
        )
            .into_response();
        if let ApiError::RateLimited(secs)
        | ApiError::TextTooSoon(secs)
        | ApiError::Overloaded(secs)
        | ApiError::Timeout(secs) = self
        {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// What the log says of a server error: the gate error's full message.
fn detail(e: &ApiError) -> String {
    match e {
        ApiError::Gate(e) => format!("{e}"),
        other => other.parts().2,
    }
}

impl From<GateError> for ApiError {
    fn from(e: GateError) -> Self {
        ApiError::Gate(e)
    }
}

/// A body that is not JSON of the endpoint's schema. serde's messages can quote the values
/// sent (a code), so they are not passed on: the code says which kind of mistake.
impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        use StatusCode as S;
        match rejection {
            JsonRejection::MissingJsonContentType(_) => ApiError::Body(
                S::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "the body must be JSON, sent with Content-Type: application/json",
            ),
            JsonRejection::JsonSyntaxError(_) => ApiError::Body(
                S::BAD_REQUEST,
                "malformed-json",
                "the body is not valid JSON",
            ),
            JsonRejection::JsonDataError(_) => ApiError::Body(
                S::UNPROCESSABLE_ENTITY,
                "invalid-body",
                "the body does not fit the endpoint's schema: an unknown or missing field, \
                 or a field of the wrong type",
            ),
            JsonRejection::BytesRejection(e) if e.status() == S::PAYLOAD_TOO_LARGE => {
                ApiError::Body(
                    S::PAYLOAD_TOO_LARGE,
                    "body-too-large",
                    "the body is larger than 16 KiB",
                )
            }
            _ => ApiError::Body(
                S::BAD_REQUEST,
                "unreadable-body",
                "the body could not be read",
            ),
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(_: PathRejection) -> Self {
        ApiError::BadRequest(
            "invalid-user",
            String::from("the user id in the path is not valid UTF-8"),
        )
    }
}

impl From<QueryRejection> for ApiError {
    fn from(_: QueryRejection) -> Self {
        ApiError::BadRequest(
            "invalid-query",
            String::from(
                "the query string does not fit this endpoint's parameters (see /v1/openapi.json)",
            ),
        )
    }
}
