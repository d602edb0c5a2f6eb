//! A [`Store`] in a PostgreSQL database (feature `postgres`), so the deploy runners of a
//! fleet share one gate: `otpgate --db postgresql://...`.
//!
//! # The same guarantees as SQLite, on a server
//!
//! - **Compare-and-swap as one conditional write.** An existing user's record is replaced
//!   by `UPDATE users ... WHERE "user" = $1 AND version = $expected`, a new one inserted by
//!   `INSERT ... ON CONFLICT DO NOTHING`, and the audit row is inserted in the same
//!   transaction only when the record was written (its MAC, chained to the previous row's,
//!   is computed here). Every decision takes the audit chain's lock before it writes, so
//!   under PostgreSQL's default `READ COMMITTED` a second writer of the same row waits for
//!   the first one's commit and then evaluates its `WHERE` against the committed row: the
//!   version moved on, zero rows, [`Swap::Conflict`], nothing committed, and the flow reads
//!   and verifies again. A write runs only in a transaction that holds the chain's lock
//!   (the lock's statement marks the transaction, and every write requires the mark, or
//!   calls `otpgate_chain_at`, which takes the lock itself). No lost update, no code
//!   accepted twice, however many runners.
//! - **Few round trips.** The statements are prepared once per connection; a read is one
//!   message exchange; a decision is one statement, autocommitted, when the connection
//!   appended the audit chain's last row itself (the row write and its audit row, under
//!   the chain's lock taken by the write's condition), else two round trips (`decide.rs`).
//!   [`Store::compare_and_swap_all`] writes many decisions in one such transaction, which
//!   is how `otpgate serve` shares one commit among the decisions that arrive together.
//! - **Durable before it counts.** `synchronous_commit` is forced `on` for the session: a
//!   decision returns only after its commit is flushed to the write-ahead log (`off` could
//!   lose the last commits in a server crash, and a lost acceptance lets its code pass
//!   again).
//! - **The same versioned schema.** The same tables and columns as the SQLite store, the
//!   same [`SCHEMA_VERSION`]; migrations run on first use inside one transaction holding
//!   a transaction-level advisory lock ([`MIGRATION_LOCK`]), so of two runners starting on
//!   a new database one migrates and the other waits, then finds nothing to do. A database
//!   newer than this program is refused ([`GateError::SchemaTooNew`]); one that a role
//!   without the right to create tables cannot migrate is [`GateError::NotSetUp`] or
//!   [`GateError::SchemaTooOld`]. The tables live in the first schema of the role's
//!   `search_path`.
//! - **Key rotation with runners deciding.** `otpgate rotate-key` (the role that owns the
//!   tables only) rewrites every record, MAC and the key check in one transaction under the
//!   locks every decision needs (`rotate.rs`). A decision compares the stored key check,
//!   read under the audit chain's lock, with the one its gate was opened against, so a gate
//!   opened before a rotation writes nothing under its old key after it
//!   ([`GateError::WrongServerKey`]).
//! - **Fail closed on the network.** A connection refused, a server down or restarting, a
//!   connection lost, a timeout: [`GateError::StoreUnavailable`], never a pass. A commit
//!   whose answer is lost is an error too, though it may have committed: the code is then
//!   spent, which errs on the side of refusing.
//! - **Deadlines.** Server side, at most (a lower one from the URL's `options`, the role
//!   or the database is kept): [`STATEMENT_TIMEOUT`] for a statement or an idle
//!   transaction, [`LOCK_TIMEOUT`] to wait for a lock (a held `LOCK TABLE` makes the gate
//!   say it is blocked). Client side, for a server that does not answer at all: the whole
//!   connection within `connect_timeout` ([`CONNECT_TIMEOUT`] unless the URL sets it), each
//!   call within the statement timeout in force and [`ANSWER_MARGIN`], plus TCP keepalives.
//!   So a frozen server or a silent listener is exit 2 within 10 s while connecting and
//!   within 12 s once connected.
//! - **TLS by default.** Over TCP, TLS is required unless the URL says `sslmode=disable`
//!   (`prefer`, `verify-ca` and `verify-full` are taken as `require`); unix sockets keep
//!   their mode. The server's certificate and host name are always verified (rustls), against
//!   `sslrootcert=PATH` when the URL gives one, else the system's trusted certificates
//!   (`SSL_CERT_FILE` names another bundle). SCRAM uses channel binding whenever the server
//!   offers it over TLS (`channel_binding=require` insists on it).

mod session;
mod tls;

use std::format;
use std::string::String;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;
use std::vec::Vec;

use futures_util::future::{try_join3, try_join4};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Statement};

use self::decide::{ChainHead, Conditional, Write, decide};
pub use self::session::ANSWER_MARGIN;
use self::session::Deadline;
use super::store::swap_as_group_of_one;
use super::token::stored_scope;
use super::{
    AuditEntry, AuditRecord, GateError, SCHEMA_VERSION, Scope, Store, Stored, Swap, SwapRequest,
    TokenInfo, TokenStore, next_version,
};

mod decide;
mod links;
mod rotate;

/// How long a runner tries to connect (TCP, TLS and authentication together) before
/// [`GateError::StoreUnavailable`], unless the URL sets `connect_timeout`.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest a statement may run or a transaction may sit idle (a runner stopped in the
/// middle of one), unless the URL sets a lower one. A decision's statements take
/// milliseconds; the only wait is for a lock, bounded by [`LOCK_TIMEOUT`].
pub const STATEMENT_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest a statement waits for a lock, unless the URL sets a lower one: the audit
/// chain's lock ([`AUDIT_CHAIN_LOCK`]) is held for one commit by another decision; a lock
/// held longer (`LOCK TABLE`, a long transaction) makes the gate say it is blocked.
pub const LOCK_TIMEOUT: Duration = Duration::from_secs(5);

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
    // 2: the authenticated audit trail, as in the SQLite store.
    "ALTER TABLE audit ADD COLUMN mac BYTEA;
     INSERT INTO meta (name, value)
         SELECT 'audit_chain_start', convert_to(COALESCE(MAX(id), 0)::TEXT, 'UTF8') FROM audit;",
    // 3: `otpgate serve`'s tokens (digests only), and which token made each decision.
    "CREATE TABLE tokens (
         name TEXT PRIMARY KEY,
         scope TEXT NOT NULL,
         digest BYTEA NOT NULL UNIQUE,
         created BIGINT NOT NULL,
         revoked BIGINT
     );
     ALTER TABLE audit ADD COLUMN actor TEXT;",
    // 4: links (issue 17): enrollment invitations and approvals, by their token's hash.
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
    // 5: nothing (the version is the stores' common one): the SQLite store drops its
    // trail's index by user, which no query there could use, while PostgreSQL's custom
    // plans of one user's log do use this one.
    "SELECT 1;",
    // 6: the chain's check as one function, so that a decision at the predicted head is
    // one statement (`decide.rs`). It takes the chain's lock (`AUDIT_CHAIN_LOCK` plus the
    // `audit` table's oid: the test of a decision that waited for it fails with any other
    // key) and marks the transaction, then compares the head and the key check with the
    // ones the decision was made against (an `opened` of NULL: the key check is not
    // compared). Being `VOLATILE`, it reads them with a snapshot taken after the lock was
    // granted, not the calling statement's older one, which might miss a row another
    // decision committed meanwhile.
    "CREATE FUNCTION otpgate_chain_at(previous BYTEA, opened BYTEA) RETURNS BOOLEAN
         LANGUAGE plpgsql VOLATILE AS $$
     BEGIN
         PERFORM pg_advisory_xact_lock(8031167597422575616 + 'audit'::REGCLASS::OID::BIGINT),
             set_config('otpgate.chain', 'held', true);
         IF (SELECT mac FROM audit WHERE mac IS NOT NULL ORDER BY id DESC LIMIT 1)
                IS DISTINCT FROM previous
            OR (opened IS NOT NULL
                AND (SELECT value FROM meta WHERE name = 'key_check') IS DISTINCT FROM opened)
         THEN
             RAISE EXCEPTION 'the audit chain or the key check moved on' USING ERRCODE = 'OG001';
         END IF;
         RETURN TRUE;
     END
     $$;",
];

// Both stores write the same schema version: a database moved from one to the other (or
// read by an older otpgate) is judged by the same number.
const _: () = assert!(MIGRATIONS.len() as i64 == SCHEMA_VERSION);

/// An audit row as the write statement binds it: the entry, its time as `BIGINT`, and its
/// MAC chained to the previous row's.
struct AuditRow<'a> {
    time: i64,
    entry: &'a AuditEntry,
    mac: Vec<u8>,
}

/// One column of the audit table: its name, its type, and its value in a row.
type AuditColumn = (
    &'static str,
    Type,
    for<'a> fn(&'a AuditRow<'a>) -> &'a (dyn ToSql + Sync),
);

/// The audit table's columns as a decision writes them. The write statements are built
/// from this list, so a new column is one line here (and one in a migration).
const AUDIT_COLUMNS: &[AuditColumn] = &[
    ("time", Type::INT8, |row| &row.time),
    ("\"user\"", Type::TEXT, |row| &row.entry.user),
    ("event", Type::TEXT, |row| &row.entry.event),
    ("action", Type::TEXT, |row| &row.entry.action),
    ("outcome", Type::TEXT, |row| &row.entry.outcome),
    ("drift", Type::INT8, |row| &row.entry.drift),
    ("actor", Type::TEXT, |row| &row.entry.actor),
    ("mac", Type::BYTEA, |row| &row.mac),
];

/// The audit row's insert, built from [`AUDIT_COLUMNS`].
fn audit_insert_statement() -> String {
    let columns: Vec<&str> = AUDIT_COLUMNS.iter().map(|column| column.0).collect();
    let values: Vec<String> = (1..=AUDIT_COLUMNS.len())
        .map(|index| format!("${index}"))
        .collect();
    format!(
        "INSERT INTO audit ({}) VALUES ({})",
        columns.join(", "),
        values.join(", ")
    )
}

/// The statements a connection prepares once, after the schema is up to date.
struct Statements {
    load: Statement,
    insert: Conditional,
    update: Conditional,
    chain_lock: Statement,
    chain_head: Statement,
    insert_audit: Statement,
    key_check: Statement,
    audit_log: Statement,
    /// An approval's decision ([`LinkStore::decide_approval`](crate::link::LinkStore)).
    decide_approval: Conditional,
}

impl Statements {
    /// Prepares them all at once: the requests are pipelined, one round trip in all.
    async fn prepare(client: &Client) -> Result<Statements, tokio_postgres::Error> {
        let audit_types: Vec<Type> = AUDIT_COLUMNS
            .iter()
            .map(|column| column.1.clone())
            .collect();
        let insert_audit = audit_insert_statement();
        let (
            (load, insert, update, chain_lock),
            (chain_head, insert_audit, key_check, audit_log),
            decide_approval,
        ) = try_join3(
                try_join4(
                    client.prepare("SELECT version, record FROM users WHERE \"user\" = $1"),
                    Conditional::prepare(
                        client,
                        "INSERT INTO users (\"user\", version, record, updated)
                         SELECT $1, $2, $3, $4 WHERE {chain}
                         ON CONFLICT (\"user\") DO NOTHING",
                        &[Type::TEXT, Type::INT8, Type::BYTEA, Type::INT8],
                    ),
                    Conditional::prepare(
                        client,
                        "UPDATE users SET version = $2, record = $3, updated = $4
                         WHERE \"user\" = $1 AND version = $5 AND {chain}",
                        &[Type::TEXT, Type::INT8, Type::BYTEA, Type::INT8, Type::INT8],
                    ),
                    client.prepare_typed(CHAIN_LOCK_STATEMENT, &[Type::INT8]),
                ),
                try_join4(
                    client.prepare(
                        "SELECT (SELECT mac FROM audit WHERE mac IS NOT NULL ORDER BY id DESC LIMIT 1),
                                (SELECT value FROM meta WHERE name = 'key_check')"
                    ),
                    client.prepare_typed(&insert_audit, &audit_types),
                    client.prepare("SELECT value FROM meta WHERE name = 'key_check'"),
                    client.prepare_typed(
                        "SELECT id, time, \"user\", event, action, outcome, drift, actor, mac FROM audit
                         WHERE $1::TEXT IS NULL OR \"user\" = $1 ORDER BY id DESC LIMIT $2",
                        &[Type::TEXT, Type::INT8],
                    ),
                ),
                Conditional::prepare(
                    client,
                    "UPDATE approvals SET state = $2, decided = $3
                     WHERE id = $1 AND state = 'pending' AND expires > $3 AND {chain}",
                    &[Type::TEXT, Type::TEXT, Type::INT8],
                ),
            )
            .await?;
        Ok(Statements {
            load,
            insert,
            update,
            chain_lock,
            chain_head,
            insert_audit,
            key_check,
            audit_log,
            decide_approval,
        })
    }
}

/// A connection with its deadline and prepared statements.
struct Session {
    client: Client,
    deadline: Deadline,
    statements: Statements,
    /// The key check as this connection first read it: the one its gate compared its key
    /// with when it opened (see [`decide`]).
    opened_with: Option<Vec<u8>>,
    /// What this connection knows of the audit chain's head.
    chain: ChainHead,
}
/// The advisory lock a decision holds from before it writes its rows to its commit, so
/// that it extends the audit chain alone (`pg_advisory_xact_lock`, released at commit):
/// its key is this number ("otpa" read as a number, in the high half) plus the oid of the
/// schema's `audit` table, so that gates in two schemas of one database (staging and
/// production, say) do not wait for each other.
pub const AUDIT_CHAIN_LOCK: i64 = 0x6f74_7061_0000_0000;

/// Takes the chain's lock ([`AUDIT_CHAIN_LOCK`], its one parameter, plus the `audit`
/// table's oid) and marks the transaction as holding it
/// (`otpgate.chain`, a setting local to the transaction). A decision's writes do nothing
/// without the mark, so none can ever run outside a transaction that holds the lock (as
/// they would, one by one and each committed alone, had the `BEGIN` sent before them
/// failed).
const CHAIN_LOCK_STATEMENT: &str =
    "SELECT pg_advisory_xact_lock($1 + 'audit'::REGCLASS::OID::BIGINT),
            set_config('otpgate.chain', 'held', true)";

/// A [`Store`] in a PostgreSQL database: one connection, used by one call at a time.
pub struct PostgresStore {
    session: Mutex<Session>,
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgresql://` or `postgres://`, or libpq's
    /// `key=value` form) and brings its schema up to date. The database itself must
    /// exist; the role needs the grants the README lists.
    pub fn connect(url: &str) -> Result<Self, GateError> {
        let (mut client, deadline) = session::connect(url)?;
        migrate(&mut client, &deadline)?;
        refuse_foreign_objects(&client, &deadline)?;
        let statements = deadline.call(Statements::prepare(&client))?;
        Ok(PostgresStore {
            session: Mutex::new(Session {
                client,
                deadline,
                statements,
                opened_with: None,
                chain: ChainHead::default(),
            }),
        })
    }

    /// The writes of [`Store::compare_and_swap_all`]: whether each one was written.
    fn write_all(&self, swaps: &[SwapRequest<'_>]) -> Result<Vec<bool>, GateError> {
        struct Row<'a> {
            swap: &'a SwapRequest<'a>,
            version: i64,
            expected: Option<i64>,
            time: i64,
        }
        let mut rows = Vec::with_capacity(swaps.len());
        for swap in swaps {
            rows.push(Row {
                swap,
                version: to_sql_int(next_version(swap.expected))?,
                expected: swap.expected.map(to_sql_int).transpose()?,
                time: to_sql_int(swap.audit.time)?,
            });
        }
        let mut guard = self.session()?;
        let Session {
            client,
            deadline,
            statements,
            opened_with,
            chain,
        } = &mut *guard;
        let writes: Vec<Write<'_>> = rows
            .iter()
            .map(|row| {
                let user: &(dyn ToSql + Sync) = &row.swap.user;
                let sealed: &(dyn ToSql + Sync) = &row.swap.sealed;
                let (statement, params) = match &row.expected {
                    None => (
                        &statements.insert,
                        vec![user, &row.version, sealed, &row.time],
                    ),
                    Some(expected) => (
                        &statements.update,
                        vec![user, &row.version, sealed, &row.time, expected],
                    ),
                };
                Write {
                    statement,
                    params,
                    audit: row.swap.audit,
                    time: row.time,
                }
            })
            .collect();
        deadline.call(decide(
            client,
            statements,
            opened_with.as_deref(),
            chain,
            &writes,
        ))?
    }

    fn session(&self) -> Result<MutexGuard<'_, Session>, GateError> {
        self.session
            .lock()
            .map_err(|_| GateError::Store(String::from("PostgreSQL connection poisoned")))
    }
}

/// The applied schema version: 0 before the first migration (no `schema_version` table).
async fn schema_version(
    client: &impl tokio_postgres::GenericClient,
) -> Result<i64, tokio_postgres::Error> {
    match client
        .query_one(
            "SELECT COALESCE(MAX(version), 0)::BIGINT FROM schema_version",
            &[],
        )
        .await
    {
        Ok(row) => row.try_get(0),
        Err(e) if e.code() == Some(&SqlState::UNDEFINED_TABLE) => Ok(0),
        Err(e) => Err(e),
    }
}

/// Applies the missing migrations under the advisory lock; only reads when there are
/// none, so a role without CREATE works on a migrated database. A role that may not
/// create the tables on a database that needs them is told to let the migration role
/// run first.
fn migrate(client: &mut Client, deadline: &Deadline) -> Result<(), GateError> {
    let found = deadline.call(schema_version(client))?;
    if found > SCHEMA_VERSION {
        return Err(GateError::SchemaTooNew { found });
    }
    if found == SCHEMA_VERSION {
        return Ok(());
    }
    let migrated = deadline.wait(async {
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            .await?;
        // Read again under the lock: another runner may have migrated meanwhile.
        let found = schema_version(&tx).await?;
        if found <= SCHEMA_VERSION {
            for (version, migration) in (1i32..).zip(MIGRATIONS) {
                if i64::from(version) > found {
                    tx.batch_execute(migration).await?;
                    tx.execute(
                        "INSERT INTO schema_version (version) VALUES ($1)",
                        &[&version],
                    )
                    .await?;
                }
            }
            tx.commit().await?;
        }
        Ok(found)
    })?;
    // A role without CREATE on the schema ("permission denied for schema"), or a
    // search_path that names no existing schema ("no schema has been selected").
    let may_not_create = |e: &tokio_postgres::Error| {
        e.code() == Some(&SqlState::INSUFFICIENT_PRIVILEGE)
            || e.code() == Some(&SqlState::INVALID_SCHEMA_NAME)
    };
    match migrated {
        Ok(found) if found > SCHEMA_VERSION => Err(GateError::SchemaTooNew { found }),
        Ok(_) => Ok(()),
        Err(e) if may_not_create(&e) && found == 0 => Err(GateError::NotSetUp(NOT_MIGRATED)),
        Err(e) if may_not_create(&e) => Err(GateError::SchemaTooOld { found }),
        Err(e) => Err(store_error(e)),
    }
}

/// [`GateError::ForeignSchemaObjects`] when a trigger or a rule sits on one of the gate's
/// tables (the gate creates neither; either can write an older row back).
fn refuse_foreign_objects(client: &Client, deadline: &Deadline) -> Result<(), GateError> {
    let rows = deadline.call(client.query(
        "SELECT 'trigger ' || tgname FROM pg_trigger
         WHERE NOT tgisinternal AND tgrelid = ANY (ARRAY[
             to_regclass('users'), to_regclass('audit'), to_regclass('meta'),
             to_regclass('schema_version'), to_regclass('tokens'),
             to_regclass('invites'), to_regclass('approvals')])
         UNION ALL
         SELECT 'rule ' || rulename FROM pg_rewrite
         WHERE rulename <> '_RETURN' AND ev_class = ANY (ARRAY[
             to_regclass('users'), to_regclass('audit'), to_regclass('meta'),
             to_regclass('schema_version'), to_regclass('tokens'),
             to_regclass('invites'), to_regclass('approvals')])",
        &[],
    ))?;
    let names = rows
        .iter()
        .map(|row| row.try_get::<_, String>(0).map_err(column_error))
        .collect::<Result<Vec<_>, _>>()?;
    if names.is_empty() {
        Ok(())
    } else {
        Err(GateError::ForeignSchemaObjects {
            names: names.join(", "),
        })
    }
}

/// What a role that may not create the tables is told on a database without them.
const NOT_MIGRATED: &str = "its tables do not exist and this role may not create them: run one \
     otpgate command (such as the first enroll) as the migration role first";

/// The error and its causes: the client library's own message is only its kind ("error
/// connecting to server"), the cause says which ("Connection refused").
fn with_causes(e: &tokio_postgres::Error) -> String {
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

/// What an error from the server or the connection means for the gate. The URL (with its
/// password) is never printed.
fn store_error(e: tokio_postgres::Error) -> GateError {
    let Some(db) = e.as_db_error() else {
        // Not an answer from the server: the connection failed or was closed.
        return GateError::StoreUnavailable(format!(
            "lost the connection to the PostgreSQL server: {}",
            with_causes(&e)
        ));
    };
    let code = db.code();
    if *code == SqlState::READ_ONLY_SQL_TRANSACTION {
        GateError::StoreReadOnly
    } else if *code == SqlState::LOCK_NOT_AVAILABLE {
        GateError::StoreUnavailable(format!(
            "the gate is blocked: another session holds a lock the gate needs (LOCK TABLE, \
             a long transaction, a key rotation) past the lock timeout; nothing was decided \
             ({})",
            db.message()
        ))
    } else if *code == SqlState::QUERY_CANCELED
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
fn column_error(e: tokio_postgres::Error) -> GateError {
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
        let s = self.session()?;
        let row = s
            .deadline
            .call(s.client.query_opt(&s.statements.load, &[&user]))?;
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
        swap_as_group_of_one(self, user, expected, sealed, audit)
    }

    /// One transaction for all: the rows written in order under the audit chain's lock,
    /// the chain extended once, one commit and one flush. An error (the connection, a
    /// deadline) is every decision's: none of them was written, or, when the error is the
    /// loss of the `COMMIT`'s answer, perhaps all of them (a code is then spent without an
    /// acceptance, which errs on the side of refusing).
    fn compare_and_swap_all(&self, swaps: &[SwapRequest<'_>]) -> Vec<Result<Swap, GateError>> {
        match self.write_all(swaps) {
            Ok(written) => written
                .into_iter()
                .map(|written| {
                    Ok(if written {
                        Swap::Written
                    } else {
                        Swap::Conflict
                    })
                })
                .collect(),
            Err(e) => swaps.iter().map(|_| Err(e.clone())).collect(),
        }
    }

    fn key_check(&self) -> Result<Option<Vec<u8>>, GateError> {
        let mut s = self.session()?;
        let row = s
            .deadline
            .call(s.client.query_opt(&s.statements.key_check, &[]))?;
        let check: Option<Vec<u8>> = row
            .map(|row| row.try_get(0).map_err(column_error))
            .transpose()?;
        if s.opened_with.is_none() {
            s.opened_with.clone_from(&check);
        }
        Ok(check)
    }

    fn init_key_check(&self, check: &[u8]) -> Result<Vec<u8>, GateError> {
        let mut guard = self.session()?;
        let s = &mut *guard;
        let row = s.deadline.call(async {
            let tx = s.client.transaction().await?;
            tx.execute(
                "INSERT INTO meta (name, value) VALUES ('key_check', $1)
                 ON CONFLICT (name) DO NOTHING",
                &[&check],
            )
            .await?;
            let row = tx
                .query_one("SELECT value FROM meta WHERE name = 'key_check'", &[])
                .await?;
            tx.commit().await?;
            Ok(row)
        })?;
        let stored: Vec<u8> = row.try_get(0).map_err(column_error)?;
        if s.opened_with.is_none() {
            s.opened_with = Some(stored.clone());
        }
        Ok(stored)
    }

    fn audit_chain_start(&self) -> Result<i64, GateError> {
        let s = self.session()?;
        let row = s.deadline.call(s.client.query_one(CHAIN_START, &[]))?;
        row.try_get(0).map_err(column_error)
    }

    fn audit_log(&self, user: Option<&str>, limit: usize) -> Result<Vec<AuditRecord>, GateError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let s = self.session()?;
        let rows = s
            .deadline
            .call(s.client.query(&s.statements.audit_log, &[&user, &limit]))?;
        let mut entries = rows
            .iter()
            .map(audit_record)
            .collect::<Result<Vec<_>, GateError>>()?;
        entries.reverse();
        Ok(entries)
    }
}

/// The id of the last audit row from before the chain ([`Store::audit_chain_start`]).
const CHAIN_START: &str =
    "SELECT convert_from(value, 'UTF8')::BIGINT FROM meta WHERE name = 'audit_chain_start'";

/// A row of the `audit_log` statement.
fn audit_record(row: &tokio_postgres::Row) -> Result<AuditRecord, GateError> {
    let unreadable = |_| GateError::RecordUnreadable;
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
        mac: row.try_get(8).map_err(unreadable)?,
    })
}

/// A token row: name, scope, created, revoked.
fn token_info(row: &tokio_postgres::Row) -> Result<TokenInfo, GateError> {
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
        let now = to_sql_int(now)?;
        let s = self.session()?;
        let inserted = s.deadline.call(s.client.execute(
            "INSERT INTO tokens (name, scope, digest, created) VALUES ($1, $2, $3, $4)
             ON CONFLICT DO NOTHING",
            &[&name, &scope.label(), &digest.as_slice(), &now],
        ))?;
        if inserted == 1 {
            Ok(())
        } else {
            Err(GateError::TokenExists)
        }
    }

    fn list_tokens(&self) -> Result<Vec<TokenInfo>, GateError> {
        let s = self.session()?;
        s.deadline
            .call(s.client.query(
                "SELECT name, scope, created, revoked FROM tokens ORDER BY name",
                &[],
            ))?
            .iter()
            .map(token_info)
            .collect()
    }

    fn revoke_token(&self, name: &str, now: u64) -> Result<(), GateError> {
        let now = to_sql_int(now)?;
        let s = self.session()?;
        let found = s.deadline.call(s.client.execute(
            "UPDATE tokens SET revoked = COALESCE(revoked, $2) WHERE name = $1",
            &[&name, &now],
        ))?;
        if found == 1 {
            Ok(())
        } else {
            Err(GateError::UnknownToken)
        }
    }

    fn token_by_digest(&self, digest: &[u8; 32]) -> Result<Option<TokenInfo>, GateError> {
        let s = self.session()?;
        s.deadline
            .call(s.client.query_opt(
                "SELECT name, scope, created, revoked FROM tokens WHERE digest = $1",
                &[&digest.as_slice()],
            ))?
            .as_ref()
            .map(token_info)
            .transpose()
    }
}
