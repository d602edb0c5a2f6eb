//! The limits every request is held to, each answered like every other error of the
//! service (the JSON error object on the API, the problem page on the pages), never an
//! empty answer:
//!
//! - the body, read whole within [`READ_TIMEOUT`] (else 408 `request-timeout`) and at most
//!   [`MAX_BODY`] bytes (else 413 `body-too-large`);
//! - a place among `--max-concurrent` requests in progress, waited for at most
//!   [`QUEUE_TIMEOUT`] (else 503 `overloaded`, with `Retry-After`);
//! - the whole request within [`REQUEST_TIMEOUT`] (else 503 `timeout`, with `Retry-After`).
//!
//! The body is read before a place is taken, so a client sending its body slowly holds a
//! place of no one's; and a long poll gives its place back while it only waits (up to
//! [`WAITING_PER_PLACE`] waiters per place) and takes one again for each read, so pipelines
//! waiting for approvals do not keep the checks out.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use otpgate::pages::ProblemPage;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, timeout_at};

use super::error::ApiError;
use super::{MAX_BODY, READ_TIMEOUT, REQUEST_TIMEOUT};

/// How long a request waits for a place among `--max-concurrent` before it is answered
/// 503: a place is normally free within milliseconds, so a longer wait means overload.
/// Short enough that a long poll which queued this long still ends its longest wait
/// before the whole-request deadline (an answer "pending", not a 503).
pub const QUEUE_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a long poll waits for a place again to read its approval again (after a
/// decision, at the expiry or at the end of its wait); without one by then, it answers what
/// its last read said.
pub const REREAD_QUEUE_TIMEOUT: Duration = Duration::from_secs(2);

/// `Retry-After` of a 503 for overload or a timeout, in seconds.
pub const RETRY_AFTER_SECS: u64 = 5;

const _: () = assert!(READ_TIMEOUT.as_secs() + QUEUE_TIMEOUT.as_secs() < REQUEST_TIMEOUT.as_secs());
const _: () = assert!(
    QUEUE_TIMEOUT.as_secs() + super::links::MAX_WAIT_SECS + REREAD_QUEUE_TIMEOUT.as_secs()
        < REQUEST_TIMEOUT.as_secs()
);

/// How many requests may wait without a place (long polls), per place: each is a task and a
/// connection, doing nothing until it is woken.
pub const WAITING_PER_PLACE: usize = 16;

/// The places of the requests in progress, and of the requests only waiting.
pub struct Limits {
    places: Arc<Semaphore>,
    waiting: Arc<Semaphore>,
}

impl Limits {
    /// `max_concurrent` requests in progress at once, and [`WAITING_PER_PLACE`] times as
    /// many waiting.
    pub fn new(max_concurrent: usize) -> Arc<Self> {
        Arc::new(Limits {
            places: Arc::new(Semaphore::new(max_concurrent)),
            waiting: Arc::new(Semaphore::new(
                max_concurrent.saturating_mul(WAITING_PER_PLACE),
            )),
        })
    }
}

/// A request's place, in its extensions: a handler about to wait for something that
/// needs no place (an approval's decision) trades it for a waiting one.
#[derive(Clone)]
pub struct Place {
    held: Arc<Mutex<Option<OwnedSemaphorePermit>>>,
    places: Arc<Semaphore>,
    waiting: Arc<Semaphore>,
}

impl Place {
    /// Gives the place back to the requests queued for one and returns a waiting place,
    /// to hold while waiting; `None` when every waiting place is taken: the request then
    /// waits holding its place, as any other request.
    pub fn wait_without(&self) -> Option<OwnedSemaphorePermit> {
        let waiting = Arc::clone(&self.waiting).try_acquire_owned().ok()?;
        // A panic while the place was locked leaves a permit or none: either is whole.
        let mut held = self
            .held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        held.take();
        Some(waiting)
    }

    /// A place again, for the work between two waits, once one is free within
    /// [`REREAD_QUEUE_TIMEOUT`]; `None` if none is.
    pub async fn retake(&self) -> Option<OwnedSemaphorePermit> {
        let places = Arc::clone(&self.places);
        timeout_at(after(REREAD_QUEUE_TIMEOUT), places.acquire_owned())
            .await
            .ok()?
            .ok()
    }
}

/// Why a request was cut short by a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cut {
    SlowBody,
    LargeBody,
    UnreadableBody,
    Overloaded,
    Timeout,
}

/// The middleware: the body, a place, then the request within the whole deadline.
pub async fn guard(State(limits): State<Arc<Limits>>, request: Request, next: Next) -> Response {
    let deadline = after(REQUEST_TIMEOUT);
    let page = super::links::is_page(request.uri().path());
    let (parts, body) = request.into_parts();
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return answer(Cut::LargeBody, page);
    }
    let bytes = match timeout_at(after(READ_TIMEOUT), read_body(body)).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(cut)) => return answer(cut, page),
        Err(_) => return answer(Cut::SlowBody, page),
    };
    let mut request = Request::from_parts(parts, Body::from(bytes));
    let queue_end = deadline.min(after(QUEUE_TIMEOUT));
    let places = Arc::clone(&limits.places);
    let Ok(Ok(permit)) = timeout_at(queue_end, places.acquire_owned()).await else {
        return answer(Cut::Overloaded, page);
    };
    // Held here until the answer, unless the handler trades it for a waiting place.
    let place = Place {
        held: Arc::new(Mutex::new(Some(permit))),
        places: Arc::clone(&limits.places),
        waiting: Arc::clone(&limits.waiting),
    };
    request.extensions_mut().insert(place.clone());
    let answered = timeout_at(deadline, next.run(request)).await;
    drop(place);
    match answered {
        Ok(response) => response,
        Err(_) => answer(Cut::Timeout, page),
    }
}

/// `limit` from now (now itself if that is past the clock's range: a deadline already
/// reached fails closed).
fn after(limit: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(limit).unwrap_or(now)
}

/// The whole body, at most [`MAX_BODY`] bytes.
async fn read_body(mut body: Body) -> Result<Bytes, Cut> {
    let mut bytes = Vec::new();
    while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        let frame = frame.map_err(|_| Cut::UnreadableBody)?;
        if let Ok(data) = frame.into_data() {
            if bytes.len().saturating_add(data.len()) > MAX_BODY {
                return Err(Cut::LargeBody);
            }
            bytes.extend_from_slice(&data);
        }
    }
    Ok(Bytes::from(bytes))
}

/// The answer to a cut request: the API's JSON error or a page, with `Retry-After` on a 503
/// and `Connection: close` where the body was not read to its end.
fn answer(cut: Cut, page: bool) -> Response {
    use StatusCode as S;
    let error = match cut {
        Cut::SlowBody => ApiError::Body(
            S::REQUEST_TIMEOUT,
            "request-timeout",
            "the request's body did not arrive within 10 s",
        ),
        Cut::LargeBody => ApiError::Body(
            S::PAYLOAD_TOO_LARGE,
            "body-too-large",
            "the body is larger than 16 KiB",
        ),
        Cut::UnreadableBody => ApiError::Body(
            S::BAD_REQUEST,
            "unreadable-body",
            "the body could not be read",
        ),
        Cut::Overloaded => ApiError::Overloaded(RETRY_AFTER_SECS),
        Cut::Timeout => ApiError::Timeout(RETRY_AFTER_SECS),
    };
    let mut response = if page {
        let (status, problem) = match cut {
            Cut::SlowBody => (S::REQUEST_TIMEOUT, ProblemPage::slow_form()),
            Cut::LargeBody => (S::PAYLOAD_TOO_LARGE, ProblemPage::bad_form()),
            Cut::UnreadableBody => (S::BAD_REQUEST, ProblemPage::bad_form()),
            Cut::Overloaded | Cut::Timeout => (S::SERVICE_UNAVAILABLE, ProblemPage::busy()),
        };
        if status.is_server_error() {
            // The page hides the reason; the log keeps it.
            eprintln!("otpgate serve: page: {error:?}");
        }
        super::links::page(status, &problem)
    } else {
        error.into_response()
    };
    let headers = response.headers_mut();
    if page && matches!(cut, Cut::Overloaded | Cut::Timeout) {
        // (The API's error sets its own.)
        headers.insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    }
    if matches!(cut, Cut::SlowBody | Cut::LargeBody | Cut::UnreadableBody) {
        // What is left of the body would be read as the next request.
        headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use axum::Router;
    use axum::routing::{get, post};
    use serde_json::Value;
    use tower::ServiceExt;

    use super::*;

    /// A router whose one handler takes longer than any deadline, behind the guard.
    fn stalling(max_concurrent: usize) -> Router {
        let stall = || async {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            "never"
        };
        Router::new()
            .route("/v1/stall", get(stall))
            .route("/approve/{token}", get(stall))
            .route("/v1/echo", post(|body: Bytes| async move { body }))
            .layer(axum::middleware::from_fn_with_state(
                Limits::new(max_concurrent),
                guard,
            ))
    }

    async fn call(router: Router, request: Request) -> (StatusCode, Option<String>, Vec<u8>) {
        let response = router.oneshot(request).await.unwrap();
        let status = response.status();
        let retry = response
            .headers()
            .get(header::RETRY_AFTER)
            .map(|v| v.to_str().unwrap().to_owned());
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, retry, body.to_vec())
    }

    fn get_request(path: &str) -> Request {
        Request::builder().uri(path).body(Body::empty()).unwrap()
    }

    /// The whole-request deadline (time is paused: the test runs at once) answers 503 with
    /// the JSON error object and Retry-After on the API, the problem page on a page.
    #[tokio::test(start_paused = true)]
    async fn a_request_past_its_deadline_is_a_503_with_the_error_object_and_retry_after() {
        let (status, retry, body) = call(stalling(4), get_request("/v1/stall")).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(retry.as_deref(), Some("5"));
        let value: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(value["error"]["code"], "timeout");
        assert!(value["error"]["message"].as_str().unwrap().contains("30 s"));

        let (status, retry, body) = call(stalling(4), get_request("/approve/x")).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(retry.as_deref(), Some("5"));
        assert!(String::from_utf8(body).unwrap().contains("id=\"problem\""));
    }

    /// A request that finds no free place within the queue's time is a 503 `overloaded`.
    #[tokio::test(start_paused = true)]
    async fn a_request_without_a_place_is_a_503_overloaded() {
        let router = stalling(1);
        let holder = tokio::spawn(call(router.clone(), get_request("/v1/stall")));
        // Let the holder take the one place.
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(1)).await;
        let (status, retry, body) = call(router, get_request("/v1/stall")).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(retry.as_deref(), Some("5"));
        let value: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(value["error"]["code"], "overloaded");
        holder.abort();
    }

    /// A body within the limit reaches the handler whole; a larger one is a 413.
    #[tokio::test]
    async fn bodies_reach_the_handler_whole_up_to_the_limit() {
        let post_of = |bytes: Vec<u8>| {
            Request::builder()
                .method("POST")
                .uri("/v1/echo")
                .body(Body::from(bytes))
                .unwrap()
        };
        let body = vec![b'x'; MAX_BODY];
        let (status, _, echoed) = call(stalling(4), post_of(body.clone())).await;
        assert_eq!((status, echoed), (StatusCode::OK, body));
        let (status, _, answer) = call(stalling(4), post_of(vec![b'x'; MAX_BODY + 1])).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        let value: Value = serde_json::from_slice(&answer).unwrap();
        assert_eq!(value["error"]["code"], "body-too-large");
    }
}
