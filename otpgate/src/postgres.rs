//! A [`Store`] in a PostgreSQL database (feature `postgres`), so the deploy runners of a
//! fleet share one gate: `otpgate --db postgresql://...`.
//!
//! # The same guarantees as SQLite, on a server
//!
//! - **Compare-and-swap as one conditional write.** An existing user's record is replaced
//!   by `UPDATE users ... WHERE "user" = $1 AND version = $expected`, a new one inserted by
//!   `INSERT ... ON CONFLICT DO NOTHING`, and the audit row follows in the same
//!   transaction. Under PostgreSQL's default `READ COMMITTED`, a second writer of the same
//!   row waits for the first one's row lock and then evaluates its `WHERE` against the
//!   committed row: the version moved on, zero rows, [`Swap::Conflict`], and the flow reads
//!   and verifies again. No lost update, no code accepted twice, however many runners.
//! - **Durable before it counts.** `synchronous_commit` is forced `on` for the session: a
//!   decision returns only after its commit is flushed to the write-ahead log (`off` could
//!   lose the last commits in a server crash, and a lost acceptance lets its code pass
//!   again).
//! - **The same versioned schema.** The same tables and columns as the SQLite store, the
//!   same [`SCHEMA_VERSION`]; migrations run on first use inside one transaction holding
//!   a transaction-level advisory lock ([`MIGRATION_LOCK`]), so of two runners starting on
//!   a new database one migrates and the other waits, then finds nothing to do. A database
//!   newer than this program is refused ([`GateError::SchemaTooNew`]). The tables live in
//!   the first schema of the role's `search_path`.
//! - **Fail closed on the network.** A connection refused, a server down or restarting, a
//!   connection lost in a transaction, a timeout: [`GateError::StoreUnavailable`], never a
//!   pass. A commit whose answer is lost is an error too, though it may have committed: the
//!   code is then spent, which errs on the side of refusing. Timeouts, unless the URL sets
//!   them: [`CONNECT_TIMEOUT`] to connect, and for the session a `statement_timeout` and an
//!   `idle_in_transaction_session_timeout` of [`STATEMENT_TIMEOUT`], so a runner frozen
//!   inside a transaction cannot hold a user's row locked for longer.
//! - **TLS from the URL.** `sslmode=disable` connects in plain text; `prefer` (the
//!   default) uses TLS when the server offers it; `require` refuses to connect without
//!   it. Whenever TLS is used the server's certificate and host name are verified against
//!   the system's trusted certificates (native-tls: OpenSSL on Linux; `SSL_CERT_FILE`
//!   names another bundle), as libpq's `verify-full` does; `verify-ca` and `verify-full`
//!   are accepted as `require`.

use core::future::Future;
use core::pin::Pin;
use std::boxed::Box;
use std::format;
use std::str::FromStr;
use std::string::String;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;
use std::vec::Vec;

use postgres::config::SslMode;
use postgres::error::SqlState;
use postgres::tls::{MakeTlsConnect, TlsConnect};
use postgres::{Client, Config, NoTls, Socket};

use super::token::stored_scope;
use super::{
    AuditEntry, AuditRecord, GateError, SCHEMA_VERSION, Scope, Store, Stored, Swap, TokenInfo,
    TokenStore, next_version,
};

mod links;

/// How long a runner tries to connect before [`GateError::StoreUnavailable`], unless the
/// URL sets `connect_timeout`.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest a statement may run or a transaction may sit idle (a runner stopped in the
/// middle of one), the same bound as SQLite's [`BUSY_TIMEOUT`](super::BUSY_TIMEOUT).
pub const STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);

/// The key of the advisory lock migrations hold (`pg_advisory_xact_lock`): the bytes of
/// "otpgate" read as a number, so it does not collide with another program's by chance.
pub const MIGRATION_LOCK: i64 = 0x006f_7470_6761_7465;

/// The schema's migrations, in order: the SQLite store's, in PostgreSQL's types (`user`
/// is a reserved word here, hence the quotes).
const MIGRATIONS: &[&str] = &[
    // 1: sealed user records with their versions, the audit trail, the key check.
    "CREATE TABLE meta (name TEXT PRIMARY KEY, value BYTEA NOT NULL);
     CREATE TABLE users (
         \"user\" TEXT PRIMARY KEY,
         version BIGINT NOT NULL,
         record BYTEA NOT NULL,
         updated BIGINT NOT NULL
     );
     CREATE TABLE audit (
         id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
         time BIGINT NOT NULL,
         \"user\" TEXT NOT NULL,
         event TEXT NOT NULL,
         action TEXT,
         outcome TEXT NOT NULL,
         drift BIGINT
     );
     CREATE INDEX audit_by_user ON audit (\"user\", id);",
    // 2: `otpgate serve`'s tokens (digests only), and which token made each decision.
    "CREATE TABLE tokens (
         name TEXT PRIMARY KEY,
         scope TEXT NOT NULL,
         digest BYTEA NOT NULL UNIQUE,
         created BIGINT NOT NULL,
         revoked BIGINT
     );
     ALTER TABLE audit ADD COLUMN actor TEXT;",
    // 3: links (issue 17): enrollment invitations and approvals, by their token's hash.
    "CREATE TABLE invites (
         token_hash BYTEA PRIMARY KEY,
         \"user\" TEXT NOT NULL,
         issuer TEXT NOT NULL,
         secret_digest BYTEA NOT NULL,
         created BIGINT NOT NULL,
         expires BIGINT NOT NULL,
         used BIGINT
     );
     CREATE TABLE approvals (
         id TEXT PRIMARY KEY,
         token_hash BYTEA NOT NULL UNIQUE,
         \"user\" TEXT NOT NULL,
         action TEXT NOT NULL,
         requester TEXT,
         created BIGINT NOT NULL,
         expires BIGINT NOT NULL,
         state TEXT NOT NULL,
         decided BIGINT
     );",
];

// Both stores write the same schema version: a database moved from one to the other (or
// read by an older otpgate) is judged by the same number.
const _: () = assert!(MIGRATIONS.len() as i64 == SCHEMA_VERSION);

/// A [`Store`] in a PostgreSQL database: one connection, used by one call at a time.
pub struct PostgresStore {
    client: Mutex<Client>,
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgresql://` or `postgres://`, or libpq's
    /// `key=value` form) and brings its schema up to date. The database itself must
    /// exist; the role needs the grants the README lists.
    pub fn connect(url: &str) -> Result<Self, GateError> {
        let mut config = Config::from_str(&libpq_sslmode(url)).map_err(|e| {
            GateError::Store(format!("invalid PostgreSQL URL: {}", with_causes(&e)))
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("otpgate");
        }
        let mut client = if config.get_ssl_mode() == SslMode::Disable {
            config.connect(NoTls)
        } else {
            config.connect(LazyTls)
        }
        .map_err(|e| unavailable("cannot connect to the PostgreSQL server", &e))?;
        let timeout = STATEMENT_TIMEOUT.as_millis();
        client
            .batch_execute(&format!(
                "SET synchronous_commit = on;
                 SET statement_timeout = {timeout};
                 SET idle_in_transaction_session_timeout = {timeout};"
            ))
            .map_err(store_error)?;
        let store = PostgresStore {
            client: Mutex::new(client),
        };
        store.migrate()?;
        Ok(store)
    }

    fn client(&self) -> Result<MutexGuard<'_, Client>, GateError> {
        self.client
            .lock()
            .map_err(|_| GateError::Store(String::from("PostgreSQL connection poisoned")))
    }

    /// The applied schema version: 0 before the first migration.
    fn schema_version(client: &mut impl postgres::GenericClient) -> Result<i64, GateError> {
        let row = client
            .query_one("SELECT to_regclass('schema_version') IS NOT NULL", &[])
            .map_err(store_error)?;
        if !row.try_get::<_, bool>(0).map_err(column_error)? {
            return Ok(0);
        }
        let row = client
            .query_one(
                "SELECT COALESCE(MAX(version), 0)::BIGINT FROM schema_version",
                &[],
            )
            .map_err(store_error)?;
        row.try_get(0).map_err(column_error)
    }

    /// Applies the missing migrations under the advisory lock; only reads when there are
    /// none, so a role without CREATE works on a migrated database.
    fn migrate(&self) -> Result<(), GateError> {
        let mut client = self.client()?;
        let found = Self::schema_version(&mut *client)?;
        if found > SCHEMA_VERSION {
            return Err(GateError::SchemaTooNew { found });
        }
        if found == SCHEMA_VERSION {
            return Ok(());
        }
        let mut tx = client.transaction().map_err(store_error)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .map_err(store_error)?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            .map_err(store_error)?;
        // Read again under the lock: another runner may have migrated meanwhile.
        let found = Self::schema_version(&mut tx)?;
        if found > SCHEMA_VERSION {
            return Err(GateError::SchemaTooNew { found });
        }
        for (version, migration) in (1i32..).zip(MIGRATIONS) {
            if i64::from(version) > found {
                tx.batch_execute(migration).map_err(store_error)?;
                tx.execute(
                    "INSERT INTO schema_version (version) VALUES ($1)",
                    &[&version],
                )
                .map_err(store_error)?;
            }
        }
        tx.commit().map_err(store_error)
    }
}

/// TLS through native-tls, its connector built only once the server agreed to TLS: building
/// one loads the system's trusted certificates, some 90 ms per process with OpenSSL 3 here,
/// which `sslmode=prefer` (the default) against a server without TLS would pay for nothing.
struct LazyTls;

/// [`LazyTls`] for one host.
struct LazyTlsConnect(String);

impl MakeTlsConnect<Socket> for LazyTls {
    type Stream = postgres_native_tls::TlsStream<Socket>;
    type TlsConnect = LazyTlsConnect;
    type Error = native_tls::Error;

    fn make_tls_connect(&mut self, domain: &str) -> Result<LazyTlsConnect, native_tls::Error> {
        Ok(LazyTlsConnect(String::from(domain)))
    }
}

impl TlsConnect<Socket> for LazyTlsConnect {
    type Stream = postgres_native_tls::TlsStream<Socket>;
    type Error = native_tls::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Stream, native_tls::Error>> + Send>>;

    fn connect(self, stream: Socket) -> Self::Future {
        match native_tls::TlsConnector::new() {
            Ok(tls) => postgres_native_tls::TlsConnector::new(tls, &self.0).connect(stream),
            Err(e) => Box::pin(core::future::ready(Err(e))),
        }
    }
}

/// libpq's `sslmode=verify-ca` and `verify-full` as `require`, which verifies the
/// certificate and host name here already; the client library knows only
/// `disable`/`prefer`/`require`.
fn libpq_sslmode(url: &str) -> String {
    url.replace("sslmode=verify-full", "sslmode=require")
        .replace("sslmode=verify-ca", "sslmode=require")
}

/// A connection-level failure: the server cannot be reached, went away or is shutting
/// down. The client library's message names the cause; the URL (with its password) is
/// never printed.
fn unavailable(context: &str, e: &postgres::Error) -> GateError {
    GateError::StoreUnavailable(format!("{context}: {}", with_causes(e)))
}

/// The error and its causes: the client library's own message is only its kind ("error
/// connecting to server"), the cause says which ("Connection refused").
fn with_causes(e: &postgres::Error) -> String {
    let mut message = format!("{e}");
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let cause_text = format!("{cause}");
        if !message.contains(&cause_text) {
            message.push_str(": ");
            message.push_str(&cause_text);
        }
        source = cause.source();
    }
    message
}

fn store_error(e: postgres::Error) -> GateError {
    let Some(db) = e.as_db_error() else {
        // Not an answer from the server: the connection failed or was closed.
        return unavailable("lost the connection to the PostgreSQL server", &e);
    };
    let code = db.code();
    if *code == SqlState::READ_ONLY_SQL_TRANSACTION {
        GateError::StoreReadOnly
    } else if *code == SqlState::QUERY_CANCELED
        || *code == SqlState::LOCK_NOT_AVAILABLE
        || *code == SqlState::IDLE_IN_TRANSACTION_SESSION_TIMEOUT
    {
        GateError::StoreUnavailable(format!(
            "the PostgreSQL server did not decide in time: {}",
            db.message()
        ))
    } else if code.code().starts_with("57") || code.code().starts_with("08") {
        // Operator intervention (shutdown, restart) or a connection exception.
        GateError::StoreUnavailable(format!("PostgreSQL: {}", db.message()))
    } else {
        GateError::Store(format!(
            "PostgreSQL: {} (SQLSTATE {})",
            db.message(),
            code.code()
        ))
    }
}

/// A column of the schema's own tables that does not convert: the schema was changed by
/// hand.
fn column_error(e: postgres::Error) -> GateError {
    GateError::Store(format!(
        "PostgreSQL: unexpected column type: {}",
        with_causes(&e)
    ))
}

fn to_sql_int(value: u64) -> Result<i64, GateError> {
    i64::try_from(value).map_err(|_| GateError::Store(format!("{value} does not fit BIGINT")))
}

impl Store for PostgresStore {
    fn load(&self, user: &str) -> Result<Option<Stored>, GateError> {
        let row = self
            .client()?
            .query_opt(
                "SELECT version, record FROM users WHERE \"user\" = $1",
                &[&user],
            )
            .map_err(store_error)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let version: i64 = row.try_get(0).map_err(|_| GateError::RecordUnreadable)?;
        let sealed: Vec<u8> = row.try_get(1).map_err(|_| GateError::RecordUnreadable)?;
        let version = u64::try_from(version).map_err(|_| GateError::RecordUnreadable)?;
        Ok(Some(Stored { version, sealed }))
    }

    fn compare_and_swap(
        &self,
        user: &str,
        expected: Option<u64>,
        sealed: &[u8],
        audit: &AuditEntry,
    ) -> Result<Swap, GateError> {
        let version = to_sql_int(next_version(expected))?;
        let time = to_sql_int(audit.time)?;
        let mut client = self.client()?;
        let mut tx = client.transaction().map_err(store_error)?;
        let written = match expected {
            None => tx.execute(
                "INSERT INTO users (\"user\", version, record, updated) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (\"user\") DO NOTHING",
                &[&user, &version, &sealed, &time],
            ),
            Some(expected) => tx.execute(
                "UPDATE users SET version = $2, record = $3, updated = $4
                 WHERE \"user\" = $1 AND version = $5",
                &[&user, &version, &sealed, &time, &to_sql_int(expected)?],
            ),
        }
        .map_err(store_error)?;
        if written != 1 {
            // Dropping the transaction rolls it back.
            return Ok(Swap::Conflict);
        }
        tx.execute(
            "INSERT INTO audit (time, \"user\", event, action, outcome, drift, actor)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &time,
                &audit.user,
                &audit.event,
                &audit.action,
                &audit.outcome,
                &audit.drift,
                &audit.actor,
            ],
        )
        .map_err(store_error)?;
        tx.commit().map_err(store_error)?;
        Ok(Swap::Written)
    }

    fn key_check(&self) -> Result<Option<Vec<u8>>, GateError> {
        let row = self
            .client()?
            .query_opt("SELECT value FROM meta WHERE name = 'key_check'", &[])
            .map_err(store_error)?;
        row.map(|row| row.try_get(0).map_err(column_error))
            .transpose()
    }

    fn init_key_check(&self, check: &[u8]) -> Result<Vec<u8>, GateError> {
        let mut client = self.client()?;
        let mut tx = client.transaction().map_err(store_error)?;
        tx.execute(
            "INSERT INTO meta (name, value) VALUES ('key_check', $1)
             ON CONFLICT (name) DO NOTHING",
            &[&check],
        )
        .map_err(store_error)?;
        let row = tx
            .query_one("SELECT value FROM meta WHERE name = 'key_check'", &[])
            .map_err(store_error)?;
        let stored = row.try_get(0).map_err(column_error)?;
        tx.commit().map_err(store_error)?;
        Ok(stored)
    }

    fn audit_log(&self, user: Option<&str>, limit: usize) -> Result<Vec<AuditRecord>, GateError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self
            .client()?
            .query(
                "SELECT id, time, \"user\", event, action, outcome, drift, actor FROM audit
                 WHERE $1::TEXT IS NULL OR \"user\" = $1 ORDER BY id DESC LIMIT $2",
                &[&user, &limit],
            )
            .map_err(store_error)?;
        let unreadable = |_| GateError::RecordUnreadable;
        let mut entries = rows
            .iter()
            .map(|row| {
                let time: i64 = row.try_get(1).map_err(unreadable)?;
                Ok(AuditRecord {
                    id: row.try_get(0).map_err(unreadable)?,
                    time: u64::try_from(time).map_err(|_| GateError::RecordUnreadable)?,
                    user: row.try_get(2).map_err(unreadable)?,
                    event: row.try_get(3).map_err(unreadable)?,
                    action: row.try_get(4).map_err(unreadable)?,
                    outcome: row.try_get(5).map_err(unreadable)?,
                    drift: row.try_get(6).map_err(unreadable)?,
                    actor: row.try_get(7).map_err(unreadable)?,
                })
            })
            .collect::<Result<Vec<_>, GateError>>()?;
        entries.reverse();
        Ok(entries)
    }
}

/// A token row: name, scope, created, revoked.
fn token_info(row: &postgres::Row) -> Result<TokenInfo, GateError> {
    let created: i64 = row.try_get(2).map_err(column_error)?;
    let revoked: Option<i64> = row.try_get(3).map_err(column_error)?;
    let time = |t: i64| u64::try_from(t).map_err(|_| GateError::Store(format!("bad time {t}")));
    Ok(TokenInfo {
        name: row.try_get(0).map_err(column_error)?,
        scope: stored_scope(row.try_get(1).map_err(column_error)?)?,
        created: time(created)?,
        revoked: revoked.map(time).transpose()?,
    })
}

impl TokenStore for PostgresStore {
    fn create_token(
        &self,
        name: &str,
        scope: Scope,
        digest: &[u8; 32],
        now: u64,
    ) -> Result<(), GateError> {
        let inserted = self
            .client()?
            .execute(
                "INSERT INTO tokens (name, scope, digest, created) VALUES ($1, $2, $3, $4)
                 ON CONFLICT DO NOTHING",
                &[&name, &scope.label(), &digest.as_slice(), &to_sql_int(now)?],
            )
            .map_err(store_error)?;
        if inserted == 1 {
            Ok(())
        } else {
            Err(GateError::TokenExists)
        }
    }

    fn list_tokens(&self) -> Result<Vec<TokenInfo>, GateError> {
        self.client()?
            .query(
                "SELECT name, scope, created, revoked FROM tokens ORDER BY name",
                &[],
            )
            .map_err(store_error)?
            .iter()
            .map(token_info)
            .collect()
    }

    fn revoke_token(&self, name: &str, now: u64) -> Result<(), GateError> {
        let found = self
            .client()?
            .execute(
                "UPDATE tokens SET revoked = COALESCE(revoked, $2) WHERE name = $1",
                &[&name, &to_sql_int(now)?],
            )
            .map_err(store_error)?;
        if found == 1 {
            Ok(())
        } else {
            Err(GateError::UnknownToken)
        }
    }

    fn token_by_digest(&self, digest: &[u8; 32]) -> Result<Option<TokenInfo>, GateError> {
        self.client()?
            .query_opt(
                "SELECT name, scope, created, revoked FROM tokens WHERE digest = $1",
                &[&digest.as_slice()],
            )
            .map_err(store_error)?
            .as_ref()
            .map(token_info)
            .transpose()
    }
}
