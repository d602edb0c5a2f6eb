//! Links: the pages a person opens from a link (enrollment, approval of an action: in
//! [`pages`]) and the API endpoints that make and read them (in [`api`]), with what both
//! share: the routes, the decisions long polls wait for, the public URL links start with,
//! and the headers of every page and asset ([`otpgate::pages::page_headers`]).

use std::sync::Arc;

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use otpgate::pages::page_headers;
use tokio::sync::broadcast;

use super::api::AppState;

mod api;
mod pages;

pub use pages::page;

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
        ("/v1/invites", Method::POST, post(api::create_invite)),
        ("/v1/approvals", Method::POST, post(api::create_approval)),
        ("/v1/approvals/{id}", Method::GET, get(api::read_approval)),
        ("/enroll/{token}", Method::GET, get(pages::enroll_page)),
        (
            "/enroll/{token}/confirm",
            Method::POST,
            post(pages::enroll_confirm),
        ),
        ("/enroll/{token}/sms", Method::POST, post(pages::enroll_sms)),
        ("/approve/{token}", Method::GET, get(pages::approve_page)),
        (
            "/approve/{token}/code",
            Method::POST,
            post(pages::approve_code),
        ),
        (
            "/approve/{token}/sms",
            Method::POST,
            post(pages::approve_sms),
        ),
        (
            "/approve/{token}/decline",
            Method::POST,
            post(pages::approve_decline),
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
}
