//! One connection to the PostgreSQL server with a client-side deadline on everything it
//! does: connecting (TCP, TLS, authentication) within the connect timeout, and every call
//! within the session's statement timeout and a margin. The server's own timeouts stop a
//! statement that waits; these stop a server that does not answer at all (a frozen
//! postmaster or backend, a listener that accepts and never replies), which no server-side
//! timeout and no TCP setting would (the frozen server's kernel still acknowledges).

use core::cell::Cell;
use core::future::Future;
use core::str::FromStr;
use std::format;
use std::string::String;
use std::time::Duration;

use tokio::runtime::Runtime;
use tokio_postgres::{Client, Config, SimpleQueryMessage};

use super::tls::{require_tls_over_tcp, tls_settings};
use super::{CONNECT_TIMEOUT, LOCK_TIMEOUT, STATEMENT_TIMEOUT, store_error, with_causes};
use crate::GateError;

/// How much longer than the session's statement timeout the client waits for an answer
/// before it gives up on the server: the server's own timeout, with its clearer message,
/// fires first whenever the server is alive.
pub const ANSWER_MARGIN: Duration = Duration::from_secs(2);

/// TCP keepalives, unless the URL sets them: the first probe after 5 s of silence, then
/// every 2 s, 3 unanswered probes close the connection. They detect a peer host that is
/// gone (a network cut, a machine powered off); a frozen server process on a live host
/// is detected by the deadlines.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(5);
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(2);
const KEEPALIVE_RETRIES: u32 = 3;
/// tokio-postgres's default keepalive idle time (2 hours), meaning "not set in the URL".
const LIBRARY_KEEPALIVE_IDLE: Duration = Duration::from_secs(2 * 60 * 60);

/// The session's settings, in one statement. `synchronous_commit` forced on (a decision
/// returns only once its commit is flushed); `READ COMMITTED` forced as the isolation
/// level, whatever the role, the database or the URL chose (a decision reads the chain's
/// head after the chain's lock is granted, which under a transaction-wide snapshot would
/// miss the row committed while it waited); the timeouts at most otpgate's, keeping a
/// lower one the URL's `options` (or the role or database) set. The statement timeout in
/// force is returned, for the client-side deadline.
fn session_setup() -> String {
    format!(
        "SET synchronous_commit = on;
         SET default_transaction_isolation = 'read committed';
         SELECT name, ms, set_config(name, ms::TEXT, false) FROM (
             SELECT name, CASE WHEN setting::BIGINT > 0 AND setting::BIGINT < cap
                               THEN setting::BIGINT ELSE cap END AS ms
             FROM (VALUES ('statement_timeout', {statement}),
                          ('idle_in_transaction_session_timeout', {statement}),
                          ('lock_timeout', {lock})) AS ours (name, cap)
             JOIN pg_settings USING (name)) AS chosen",
        statement = STATEMENT_TIMEOUT.as_millis(),
        lock = LOCK_TIMEOUT.as_millis(),
    )
}

/// The runtime the connection runs on (one thread: the caller's, only while it waits for
/// an answer) and the deadline of one call.
pub(super) struct Deadline {
    runtime: Runtime,
    limit: Duration,
    /// A call ran out of time or the connection was lost: the protocol's state is unknown,
    /// so no later call may use the connection.
    broken: Cell<bool>,
}

impl Deadline {
    /// Runs `call` to its end within the deadline. A timeout or a lost connection marks the
    /// connection unusable.
    pub(super) fn call<T>(
        &self,
        call: impl Future<Output = Result<T, tokio_postgres::Error>>,
    ) -> Result<T, GateError> {
        self.wait(call)?.map_err(store_error)
    }

    /// [`Deadline::call`] with the server's error left as it is, for a caller that acts on
    /// its SQLSTATE; no answer in time or a lost connection is the outer error.
    pub(super) fn wait<T>(
        &self,
        call: impl Future<Output = Result<T, tokio_postgres::Error>>,
    ) -> Result<Result<T, tokio_postgres::Error>, GateError> {
        if self.broken.get() {
            return Err(GateError::StoreUnavailable(String::from(
                "the connection to the PostgreSQL server was lost in an earlier call",
            )));
        }
        let limit = self.limit;
        match self
            .runtime
            .block_on(async { tokio::time::timeout(limit, call).await })
        {
            Ok(Err(e)) if e.as_db_error().is_none() => {
                self.broken.set(true);
                Err(store_error(e))
            }
            Ok(answer) => Ok(answer),
            Err(_) => {
                self.broken.set(true);
                Err(silent(limit))
            }
        }
    }
}

/// The server did not answer within `limit`.
fn silent(limit: Duration) -> GateError {
    GateError::StoreUnavailable(format!(
        "the PostgreSQL server did not answer within {:.1} s (frozen, overloaded or not a \
         PostgreSQL server)",
        limit.as_secs_f64()
    ))
}

/// Connects to the database at `url` and sets the session up; the whole connection
/// (TCP, TLS, authentication) within the URL's `connect_timeout` or [`CONNECT_TIMEOUT`].
pub(super) fn connect(url: &str) -> Result<(Client, Deadline), GateError> {
    let (url, tls) = tls_settings(url);
    let mut config = Config::from_str(&url)
        .map_err(|e| GateError::Store(format!("invalid PostgreSQL URL: {}", with_causes(&e))))?;
    require_tls_over_tcp(&mut config);
    let connect_limit = config
        .get_connect_timeout()
        .copied()
        .unwrap_or(CONNECT_TIMEOUT);
    config.connect_timeout(connect_limit);
    if config.get_application_name().is_none() {
        config.application_name("otpgate");
    }
    if config.get_keepalives_idle() == LIBRARY_KEEPALIVE_IDLE {
        config.keepalives_idle(KEEPALIVE_IDLE);
    }
    if config.get_keepalives_interval().is_none() {
        config.keepalives_interval(KEEPALIVE_INTERVAL);
    }
    if config.get_keepalives_retries().is_none() {
        config.keepalives_retries(KEEPALIVE_RETRIES);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| GateError::Store(format!("cannot start the PostgreSQL client: {e}")))?;
    let client = runtime
        .block_on(async {
            let (client, connection) =
                tokio::time::timeout(connect_limit, config.connect(tls)).await??;
            // The connection's messages are read and written while a call waits.
            tokio::spawn(connection);
            Ok::<_, ConnectError>(client)
        })
        .map_err(|e| match e {
            ConnectError::Silent => GateError::StoreUnavailable(format!(
                "the PostgreSQL server did not complete the connection within {:.1} s \
                 (unreachable, frozen or not a PostgreSQL server)",
                connect_limit.as_secs_f64()
            )),
            ConnectError::Failed(e) => GateError::StoreUnavailable(format!(
                "cannot connect to the PostgreSQL server: {}",
                with_causes(&e)
            )),
        })?;
    let mut deadline = Deadline {
        runtime,
        limit: STATEMENT_TIMEOUT.saturating_add(ANSWER_MARGIN),
        broken: Cell::new(false),
    };
    let settings = deadline.call(client.simple_query(&session_setup()))?;
    // A lower statement timeout from the URL shortens the client's wait too.
    for message in &settings {
        if let SimpleQueryMessage::Row(row) = message
            && row.get(0) == Some("statement_timeout")
            && let Some(ms) = row.get(1).and_then(|ms| ms.parse::<u64>().ok())
        {
            deadline.limit = Duration::from_millis(ms).saturating_add(ANSWER_MARGIN);
        }
    }
    Ok((client, deadline))
}

/// Why connecting failed: no answer in time, or an answer that was an error.
enum ConnectError {
    Silent,
    Failed(tokio_postgres::Error),
}

impl From<tokio::time::error::Elapsed> for ConnectError {
    fn from(_: tokio::time::error::Elapsed) -> Self {
        ConnectError::Silent
    }
}

impl From<tokio_postgres::Error> for ConnectError {
    fn from(e: tokio_postgres::Error) -> Self {
        ConnectError::Failed(e)
    }
}
