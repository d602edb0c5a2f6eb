//! The link endpoints of the API: `POST /v1/invites` (admin), `POST /v1/approvals` and
//! `GET /v1/approvals/{id}` (check; `?wait=SECONDS` long-polls until the approval is
//! decided, expires or the wait ends, woken by the decision itself, not by polling).

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Extension, Path, Query, State};
use axum::response::{IntoResponse, Response};
use otpcore::unix_time;
use otpgate::{APPROVAL_VALIDITY_SECS, GateError, INVITE_VALIDITY_SECS, Scope};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::broadcast;

use super::MAX_WAIT_SECS;
use crate::serve::api::{AppState, Bearer, decide};
use crate::serve::error::ApiError;
use crate::serve::guard::Place;

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaitQuery {
    wait: Option<u64>,
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

pub(super) async fn create_invite(
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

pub(super) async fn create_approval(
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
            if let Err(reason) =
                command.deliver(phone.as_str(), &message, crate::serve::DELIVERY_LIMIT)
            {
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

pub(super) async fn read_approval(
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

fn approval_json(
    gate: &crate::serve::pool::ServiceGate,
    id: &str,
    now: u64,
) -> Result<Value, ApiError> {
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
