//! `otpgate serve`: the gate as an HTTP service (axum on hyper and tokio), the only
//! process that opens the database and the server key. Runners hold a token instead.
//!
//! - Listening: TLS (rustls) with `--tls-cert`/`--tls-key`; plain HTTP only on a loopback
//!   address or a unix socket, unless `--insecure-plain-http`.
//! - Limits: a body of at most 16 KiB, request headers within 10 s, the body within 10 s,
//!   a whole request within 30 s, `--max-concurrent` requests at once (a request waits
//!   5 s at most for a place), `--token-rate` per token; each answered with the JSON
//!   error object (`guard`). `--max-connections` in all and `--max-connections-per-peer`
//!   from one address, past which a connection is closed at once (`connections`).
//! - SIGTERM or SIGINT: stop accepting, finish the requests in progress, exit 0.

mod api;
mod connections;
mod error;
mod guard;
mod limit;
pub(crate) mod links;
mod listen;
mod metrics;
mod pool;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::middleware::Next;
use axum::response::Response;
use otpgate::{DeliveryCommand, GateError};
use tower_http::catch_panic::CatchPanicLayer;

use crate::cli::{Cli, ServeOptions};
use crate::output::Exit;
use api::{Actor, App, AppState};
use error::ApiError;

/// The largest request body.
pub const MAX_BODY: usize = 16 * 1024;
/// The largest request head (request line and headers; hyper's own default is about
/// 400 KiB): a token and a page's cookies fit many times over; more is answered 431.
pub const MAX_HEAD: usize = 32 * 1024;
/// How long a client may take to send its request headers, and its body.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a whole request may take; a decision is a few milliseconds.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the delivery command may take to text a code: well inside a request's time
/// (after up to [`guard::QUEUE_TIMEOUT`] waiting for a place), so a slow gateway ends as a
/// `delivery-failed` answer with the code withdrawn, never as a request timeout that leaves
/// the caller not knowing whether a code went out.
pub const DELIVERY_LIMIT: Duration = Duration::from_secs(15);
const _: () = assert!(
    guard::QUEUE_TIMEOUT.as_secs() + DELIVERY_LIMIT.as_secs() + 5 < REQUEST_TIMEOUT.as_secs()
);

pub fn run(cli: &Cli, options: &ServeOptions) -> Result<Exit, Box<dyn std::error::Error>> {
    let open_files = raise_open_files_limit();
    let requested = options.max_connections;
    let reserved = connections::reserved_files(usize::from(options.connections));
    let max_connections = connections::bounded_total(requested, open_files, reserved);
    if max_connections < requested {
        eprintln!(
            "otpgate serve: at most {max_connections} connections at once, not \
             --max-connections {requested}: the open files limit is {open_files}, less \
             {reserved} kept for the database and the service itself"
        );
    }
    let client_connections =
        connections::Connections::new(max_connections, options.max_connections_per_peer);
    let listen = listen::Address::parse(&options.listen)?;
    let tls = match (&options.tls_cert, &options.tls_key) {
        (Some(cert), Some(key)) => Some(listen::tls_acceptor(cert, key)?),
        _ => None,
    };
    if tls.is_none() && !listen.is_local() && !options.insecure_plain_http {
        return Err(format!(
            "refusing plain HTTP on {}, which is not a loopback address or a unix socket: \
             give --tls-cert and --tls-key (or, knowing that tokens and codes then cross \
             the network in clear, --insecure-plain-http)",
            options.listen
        )
        .into());
    }
    let deliver = options
        .deliver_command
        .as_deref()
        .map(DeliveryCommand::parse)
        .transpose()?;
    let connections = usize::from(options.connections);
    let public_url = options
        .public_url
        .as_deref()
        .map(links::check_public_url)
        .transpose()?;
    // Dropped last, outside the runtime: a PostgreSQL gate owns a runtime of its own, which
    // tokio refuses to drop inside another's `block_on`.
    let pool = Arc::new(pool::GatePool::open(
        cli.db.clone(),
        cli.key_file.clone(),
        connections,
    )?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(connections.saturating_add(4))
        .build()
        .map_err(|e| GateError::Store(format!("cannot start the runtime: {e}")))?;
    let max_concurrent = usize::from(options.max_concurrent);
    let pool_of_app = Arc::clone(&pool);
    runtime.block_on(async move {
        let bound = listen::bind(listen, tls.is_some()).await?;
        // Links name --public-url, else the address bound over TCP; never the Host header
        // of a request, which whoever sends the request chooses.
        let public_url = public_url.or_else(|| {
            (bound.url.starts_with("http://") || bound.url.starts_with("https://"))
                .then(|| bound.url.clone())
        });
        let app = Arc::new(App {
            pool: pool_of_app,
            metrics: metrics::Metrics::default(),
            limiter: limit::RateLimiter::new(options.token_rate),
            deliver,
            tls: tls.is_some(),
            public_url,
            decisions: links::Decisions::default(),
            texted_links: limit::TextedLinks::default(),
            connections: Arc::clone(&client_connections),
        });
        listen::serve(bound, tls, client_connections, router(app, max_concurrent)).await
    })?;
    // Decisions whose clients went away are still finishing on blocking threads: each ends
    // within the store's own timeouts.
    runtime.shutdown_timeout(REQUEST_TIMEOUT);
    drop(pool);
    Ok(Exit::Accepted)
}

/// Raises the soft limit of open files to the hard one, as far as the system lets it:
/// every connection, waiting long poll and database connection is a file, and a soft limit
/// of 1,024 (systemd's default) would have new connections turned away (`accept` failing)
/// long before the service's own limits. Where it cannot be raised, the service runs with
/// the limit it has. Returns the limit in force (`u64::MAX`: none).
fn raise_open_files_limit() -> u64 {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        let raised = Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        let _ = setrlimit(Resource::Nofile, raised);
    }
    getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
}

/// The routes with their limits, panic catching and the access log.
fn router(app: AppState, max_concurrent: usize) -> Router {
    let mut router = Router::new();
    for (path, _, handler) in api::routes().into_iter().chain(links::routes()) {
        router = router.route(path, handler);
    }
    let tls = app.tls;
    router
        .fallback(api::not_found)
        .method_not_allowed_fallback(api::method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn_with_state(
            guard::Limits::new(max_concurrent),
            guard::guard,
        ))
        .layer(CatchPanicLayer::custom(|_| {
            axum::response::IntoResponse::into_response(ApiError::Internal(
                "the service failed on this request; nothing was accepted",
            ))
        }))
        .layer(axum::middleware::from_fn(move |request, next| {
            links::with_page_headers(tls, request, next)
        }))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            access_log,
        ))
        .with_state(app)
}

/// One line per request on standard error: peer, method, path, status, time and token
/// name. Never the query, the headers (the token) or the body (the codes).
async fn access_log(
    axum::extract::State(app): axum::extract::State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = links::loggable_path(request.uri().path());
    let peer = request
        .extensions()
        .get::<listen::Peer>()
        .map_or_else(|| String::from("-"), |p| p.0.clone());
    let response = next.run(request).await;
    let actor = response
        .extensions()
        .get::<Actor>()
        .map_or("-", |a| a.0.as_str());
    app.metrics.response(response.status().as_u16());
    eprintln!(
        "access: {peer} {method} {path} {} {:.1}ms token={actor}",
        response.status().as_u16(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    response
}
