//! The embedded default [`Store`]: one SQLite file (rusqlite with its bundled SQLite, so a
//! fresh machine needs nothing installed).
//!
//! # Durability, chosen for a security gate
//!
//! - **`journal_mode=WAL`, `synchronous=FULL`.** A decision is acted on (a deploy starts)
//!   only after its commit returned, so the commit must survive a crash or power loss: in
//!   WAL mode `FULL` syncs the log on every commit (`NORMAL` could lose the last commits on
//!   power loss, which would let an accepted code pass again). WAL rather than a rollback
//!   journal because readers (`status`, `log`) then never block the writers, and a commit
//!   is one sync of the log instead of several. The cost: the database is three files
//!   (`.db`, `-wal`, `-shm`, and the writers' `-lock` beside them) on a local file system
//!   (WAL needs shared memory, so no NFS), and a backup must go through SQLite (the
//!   README's backup section), not `cp` of the `.db` alone.
//! - **`BEGIN IMMEDIATE` for the compare-and-swap.** The write lock is taken before the
//!   version is read, so no other writer can come between the check and the write, and a
//!   transaction never has to upgrade from reading to writing (which SQLite refuses with
//!   `SQLITE_BUSY` and no wait).
//! - **Writers queue for a lock of their own** ([`writelock`](super::writelock)): a fair
//!   mutex per database within a process, a blocking `flock` on `DB-lock` beside the
//!   database across processes, both held around the write transaction, so concurrent
//!   checks wait their turn instead of polling SQLite's lock. A write waits
//!   [`BUSY_TIMEOUT`] in all (the lock, then SQLite's busy timeout for writers that do not
//!   take the lock); past it, [`GateError::StoreBusy`].
//! - **The WAL stays between processes** (`SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE`): the last
//!   connection to close neither checkpoints nor deletes `-wal` and `-shm`, so a process
//!   per check does not pay for a checkpoint (two syncs) and a new WAL (its header and
//!   directory synced) every time. SQLite's automatic checkpoint (at 1000 pages of log)
//!   copies the log into the database, inside a commit, after that commit is synced.
//!   Without the checkpoint on close, SQLite keeps the files as `SQLITE_FCNTL_PERSIST_WAL`
//!   would (`sqlite3WalClose` deletes them only after a checkpoint), so that setting, out
//!   of reach without `unsafe`, is not needed. The `-wal` file holds committed decisions:
//!   a restore must remove it (README, backup section).
//! - **A versioned schema.** `schema_version` holds the version; [`SqliteStore::open`]
//!   applies the missing migrations in one `BEGIN IMMEDIATE` transaction (two processes
//!   opening a new database at once: the second waits, then finds nothing to do) and
//!   refuses a database newer than it knows ([`GateError::SchemaTooNew`]). Opening an
//!   up-to-date database costs one query for it.
//! - A path starting with `file:` is an SQLite URI, so `file:otpgate.db?mode=ro` opens a
//!   database read-only (every decision then fails with [`GateError::StoreReadOnly`]).

use std::format;
use std::path::Path;
use std::string::String;
use std::time::{Duration, Instant};
use std::vec::Vec;

use rusqlite::config::DbConfig;
use rusqlite::{Connection, ErrorCode, MAIN_DB, OpenFlags, OptionalExtension, params};

use super::sqlitetx::{BatchFlag, Cached, WriteTx, run_cached};
use super::store::swap_as_group_of_one;
use super::token::stored_scope;
use super::writelock::WriteLock;
use super::{
    AuditEntry, AuditRecord, GateError, Scope, ServerKey, Store, Stored, Swap, SwapRequest,
    TokenInfo, TokenStore, next_version,
};

mod links;
mod rotate;

/// How long a write waits for other writers, in all.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Each connection's page cache, in KiB (SQLite's default is 2,000): enough for the
/// interior pages of the tables and indexes of a million users, so that a check reads
/// only the leaf pages of its user from the file.
const CACHE_KIB: u32 = 8 * 1024;

/// The page cache inside a [`SqliteStore::batch`].
const BATCH_CACHE_KIB: u32 = 64 * 1024;

/// The schema's migrations, in order; the schema version is how many are applied.
const MIGRATIONS: &[&str] = &[
    // 1: sealed user records with their versions, the audit trail, the key check.
    "CREATE TABLE meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);
     CREATE TABLE users (
         user TEXT PRIMARY KEY,
         version INTEGER NOT NULL,
         record BLOB NOT NULL,
         updated INTEGER NOT NULL
     );
     CREATE TABLE audit (
         id INTEGER PRIMARY KEY AUTOINCREMENT,
         time INTEGER NOT NULL,
         user TEXT NOT NULL,
         event TEXT NOT NULL,
         action TEXT,
         outcome TEXT NOT NULL,
         drift INTEGER
     );
     CREATE INDEX audit_by_user ON audit (user, id);",
    // 2: the authenticated audit trail: each row's MAC, chained to the previous row's;
    // the rows already there are from before the chain (their last id is kept).
    "ALTER TABLE audit ADD COLUMN mac BLOB;
     INSERT INTO meta (name, value)
         SELECT 'audit_chain_start', CAST(COALESCE(MAX(id), 0) AS TEXT) FROM audit;",
    // 3: `otpgate serve`'s tokens (digests only), and which token made each decision.
    "CREATE TABLE tokens (
         name TEXT PRIMARY KEY,
         scope TEXT NOT NULL,
         digest BLOB NOT NULL UNIQUE,
         created INTEGER NOT NULL,
         revoked INTEGER
     );
     ALTER TABLE audit ADD COLUMN actor TEXT;",
    // 4: links (issue 17): enrollment invitations and approvals, by their token's hash.
    "CREATE TABLE invites (
         token_hash BLOB PRIMARY KEY,
         user TEXT NOT NULL,
         issuer TEXT NOT NULL,
         secret_digest BLOB NOT NULL,
         created INTEGER NOT NULL,
         expires INTEGER NOT NULL,
         used INTEGER
     );
     CREATE TABLE approvals (
         id TEXT PRIMARY KEY,
         token_hash BLOB NOT NULL UNIQUE,
         user TEXT NOT NULL,
         action TEXT NOT NULL,
         requester TEXT,
         created INTEGER NOT NULL,
         expires INTEGER NOT NULL,
         state TEXT NOT NULL,
         decided INTEGER
     );",
    // 5: no index of the trail by user. No query used it (`audit_log`'s "every user or
    // one" filter cannot), and each decision wrote one more page for it: at a million users
    // a page of its own, somewhere else in the file each time. A log of one user reads the
    // trail from its end.
    "DROP INDEX IF EXISTS audit_by_user;",
    // 6: nothing (the version is the stores' common one): the PostgreSQL store adds the
    // function that checks its chain's head under the chain's lock.
    "SELECT 1;",
];

/// The schema version this program writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// A [`Store`] in an SQLite database file. One per thread (a connection is not shared);
/// any number of processes and threads can open the same file.
pub struct SqliteStore {
    conn: Cached,
    /// `None` for a database nothing else can write: in memory, or opened read-only.
    lock: Option<WriteLock>,
    /// How long a write waits for other writers, in all.
    timeout: Duration,
    /// Inside [`batch`](Self::batch): writes join its transaction.
    in_batch: std::cell::Cell<bool>,
    /// The key check this store's gate was opened against, the first one read: a write
    /// that finds another one stored (a rotation committed meanwhile) is refused.
    opened_with: std::cell::RefCell<Option<Vec<u8>>>,
    /// The database file as opened; `None` in memory.
    file: Option<OpenedFile>,
}

/// A database file as it was opened: its path and identity. A file deleted or replaced
/// while a connection is open goes on taking that connection's writes, and no later
/// process sees them: an acceptance committed there could be accepted again.
struct OpenedFile {
    path: std::path::PathBuf,
    identity: (u64, u64),
}

impl OpenedFile {
    fn new(path: &Path) -> Result<Self, GateError> {
        let identity = file_identity(path).ok_or_else(|| GateError::NoDatabase {
            path: format!("{}", path.display()),
        })?;
        Ok(OpenedFile {
            path: path.to_owned(),
            identity,
        })
    }

    /// [`GateError::StoreUnavailable`] when the path no longer names the file opened.
    fn check(&self) -> Result<(), GateError> {
        if file_identity(&self.path) == Some(self.identity) {
            return Ok(());
        }
        Err(GateError::StoreUnavailable(format!(
            "the database file {} was deleted or replaced after it was opened",
            self.path.display()
        )))
    }
}

/// The device and inode of the file at `path`; elsewhere its creation time where the
/// file system keeps one (else only a deleted file is seen); `None` when there is no file.
fn file_identity(path: &Path) -> Option<(u64, u64)> {
    let metadata = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Some((metadata.dev(), metadata.ino()))
    }
    #[cfg(not(unix))]
    {
        let created = metadata
            .created()
            .ok()
            .and_then(|at| at.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |since| {
                u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)
            });
        Some((0, created))
    }
}

impl SqliteStore {
    /// Opens an existing database ([`GateError::NoDatabase`] when there is none) and
    /// brings its schema up to date.
    pub fn open(path: &Path) -> Result<Self, GateError> {
        Self::open_with(path, false)
    }

    /// Opens the database, creating it when missing.
    pub fn create(path: &Path) -> Result<Self, GateError> {
        Self::open_with(path, true)
    }

    fn open_with(path: &Path, create: bool) -> Result<Self, GateError> {
        let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        if create {
            flags |= OpenFlags::SQLITE_OPEN_CREATE;
            create_private(path)?;
        }
        let conn = Connection::open_with_flags(path, flags).map_err(|e| {
            if e.sqlite_error_code() == Some(ErrorCode::CannotOpen) && !create {
                GateError::NoDatabase {
                    path: format!("{}", path.display()),
                }
            } else {
                store_error(e)
            }
        })?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(store_error)?;
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)
            .map_err(store_error)?;
        // The journal mode is a property of the file (set once, kept); synchronous is per
        // connection.
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |row| row.get(0))
            .map_err(store_error)?;
        if !mode.eq_ignore_ascii_case("wal") {
            conn.query_row("PRAGMA journal_mode=WAL", [], |row| row.get::<_, String>(0))
                .map_err(store_error)?;
        }
        conn.execute_batch(&format!(
            "PRAGMA synchronous=FULL; PRAGMA cache_size=-{CACHE_KIB}"
        ))
        .map_err(store_error)?;
        let file = match conn.path() {
            Some(file) if !file.is_empty() => Some(OpenedFile::new(Path::new(file))?),
            _ => None,
        };
        let lock = match &file {
            Some(file) if !conn.is_readonly(MAIN_DB).map_err(store_error)? => {
                Some(WriteLock::new(&file.path))
            }
            _ => None,
        };
        conn.set_prepared_statement_cache_capacity(Cached::CAPACITY);
        let store = SqliteStore {
            conn: Cached(conn),
            lock,
            timeout: BUSY_TIMEOUT,
            in_batch: std::cell::Cell::new(false),
            opened_with: std::cell::RefCell::new(None),
            file,
        };
        store.migrate()?;
        store.refuse_foreign_objects()?;
        Ok(store)
    }

    /// The same store with another bound on how long a write waits for other writers
    /// ([`BUSY_TIMEOUT`] by default).
    pub fn with_lock_timeout(mut self, timeout: Duration) -> Result<Self, GateError> {
        deadline_after(timeout)?;
        self.conn.busy_timeout(timeout).map_err(store_error)?;
        self.timeout = timeout;
        Ok(self)
    }

    /// Runs `writes` in one transaction, committed (one sync) when it returns `Ok`, rolled
    /// back as a whole otherwise: for bulk imports (enrolling a whole directory of users),
    /// where a synced commit per user would take hours. Each write in it stays atomic on
    /// its own (a failed one leaves nothing behind), but none is durable, nor visible to
    /// other connections, before `batch` returned `Ok`: never decide codes in a batch.
    pub fn batch<T>(&self, writes: impl FnOnce() -> Result<T, GateError>) -> Result<T, GateError> {
        if self.in_batch.get() {
            return Err(GateError::Store(String::from(
                "a batch cannot hold another batch",
            )));
        }
        let tx = self.begin_write()?;
        // A batch's pages stay in memory until its commit rather than spill into the log.
        tx.execute_batch(&format!("PRAGMA cache_size=-{BATCH_CACHE_KIB}"))
            .map_err(store_error)?;
        let value = {
            let _batch = BatchFlag::set(&self.in_batch);
            writes()
        };
        let committed = value.and_then(|value| tx.commit().map(|()| value));
        self.conn
            .execute_batch(&format!("PRAGMA cache_size=-{CACHE_KIB}"))
            .map_err(store_error)?;
        committed
    }

    /// Starts a write transaction: waits (for [`Self::timeout`] in all) for the write lock,
    /// then for SQLite's with what is left; inside a [`batch`](Self::batch), a savepoint.
    fn begin_write(&self) -> Result<WriteTx<'_>, GateError> {
        if self.in_batch.get() {
            run_cached(&self.conn, "SAVEPOINT otpgate_write").map_err(store_error)?;
            return Ok(WriteTx {
                conn: &self.conn,
                nested: true,
                done: false,
                _held: None,
            });
        }
        let deadline = deadline_after(self.timeout)?;
        let held = match &self.lock {
            Some(lock) => Some(lock.acquire(deadline)?),
            None => None,
        };
        let left = deadline.saturating_duration_since(Instant::now());
        self.conn.busy_timeout(left).map_err(store_error)?;
        let begun = run_cached(&self.conn, "BEGIN IMMEDIATE");
        self.conn.busy_timeout(self.timeout).map_err(store_error)?;
        begun.map_err(store_error)?;
        let tx = WriteTx {
            conn: &self.conn,
            nested: false,
            done: false,
            _held: held,
        };
        // Under the write lock: the file cannot be swapped by another gate meanwhile.
        self.check_file()?;
        Ok(tx)
    }

    /// Whether the database's path still names the file this connection opened.
    fn check_file(&self) -> Result<(), GateError> {
        self.file.as_ref().map_or(Ok(()), OpenedFile::check)
    }

    /// Runs one write statement in a write transaction of its own: an invitation, an
    /// approval or a token queues for the write lock like a decision, within the same
    /// bound, and never meets SQLite's polling busy handler.
    pub(crate) fn write_one<P: rusqlite::Params>(
        &self,
        sql: &str,
        params: P,
    ) -> Result<usize, GateError> {
        let tx = self.begin_write()?;
        let rows = tx.execute(sql, params).map_err(store_error)?;
        tx.commit()?;
        Ok(rows)
    }

    /// Writes a consistent copy of the database to `path` with `VACUUM INTO`, safe while
    /// other processes decide (copying the files is not: in WAL mode recent commits live
    /// in the `-wal` file). `path` must not exist; the copy is readable by its owner only.
    pub fn backup_to(&self, path: &Path) -> Result<(), GateError> {
        let output_error = |reason: String| GateError::OutputFile {
            path: format!("{}", path.display()),
            reason,
        };
        let target = path
            .to_str()
            .ok_or_else(|| output_error(String::from("not a UTF-8 path")))?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        options
            .open(path)
            .map_err(|e| output_error(format!("{e}")))?;
        self.conn
            .execute("VACUUM INTO ?1", [target])
            .map(|_| ())
            .map_err(store_error)
    }

    /// Chooses the server key with `choose` (told whether a key check is stored) under the
    /// write lock, and stores its key check if none is: of several processes setting up a
    /// new database at once, one creates the key and the others wait, then read it.
    pub fn set_up_key(
        &self,
        choose: impl FnOnce(bool) -> Result<ServerKey, GateError>,
    ) -> Result<ServerKey, GateError> {
        let tx = self.begin_write()?;
        let stored = self.key_check()?;
        let key = choose(stored.is_some())?;
        if stored.is_none() {
            tx.execute(
                "INSERT INTO meta (name, value) VALUES ('key_check', ?1)",
                [key.key_check()?],
            )
            .map_err(store_error)?;
        }
        tx.commit()?;
        Ok(key)
    }

    /// [`GateError::ForeignSchemaObjects`] when the database holds a trigger or a view: the
    /// gate creates neither, and a trigger can put an older row back after every write.
    fn refuse_foreign_objects(&self) -> Result<(), GateError> {
        let names: Vec<String> = self
            .conn
            .prepare(
                "SELECT type || ' ' || name FROM sqlite_master
                 WHERE type IN ('trigger', 'view') ORDER BY name",
            )
            .and_then(|mut statement| {
                statement
                    .query_map([], |row| row.get(0))?
                    .collect::<Result<Vec<String>, _>>()
            })
            .map_err(store_error)?;
        if names.is_empty() {
            Ok(())
        } else {
            Err(GateError::ForeignSchemaObjects {
                names: names.join(", "),
            })
        }
    }

    /// The schema version: one query on an up-to-date database, more only when that fails
    /// (a new database has no `schema_version` table).
    fn schema_version(&self) -> Result<i64, GateError> {
        let read = || {
            self.conn.query_row(
                "SELECT COALESCE(MAX(version), 0) FROM schema_version",
                [],
                |row| row.get(0),
            )
        };
        match read() {
            Ok(version) => Ok(version),
            Err(_) => {
                let has_table: bool = self
                    .conn
                    .query_row(
                        "SELECT EXISTS (SELECT 1 FROM sqlite_master
                                        WHERE type = 'table' AND name = 'schema_version')",
                        [],
                        |row| row.get(0),
                    )
                    .map_err(store_error)?;
                if !has_table {
                    return Ok(0);
                }
                // Each statement reads its own snapshot: another process may have committed
                // the table between the two, so only a second failure on it is an error.
                read().map_err(store_error)
            }
        }
    }

    /// Applies the missing migrations; a read only when there are none, so a read-only or
    /// busy database still serves reads.
    fn migrate(&self) -> Result<(), GateError> {
        let found = self.schema_version()?;
        if found > SCHEMA_VERSION {
            return Err(GateError::SchemaTooNew { found });
        }
        if found == SCHEMA_VERSION {
            return Ok(());
        }
        let tx = self.begin_write()?;
        tx.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            .map_err(store_error)?;
        // Read again under the write lock: another process may have migrated meanwhile.
        let found = self.schema_version()?;
        if found > SCHEMA_VERSION {
            return Err(GateError::SchemaTooNew { found });
        }
        for (version, migration) in (1i64..).zip(MIGRATIONS) {
            if version > found {
                tx.execute_batch(migration).map_err(store_error)?;
                tx.execute(
                    "INSERT INTO schema_version (version) VALUES (?1)",
                    [version],
                )
                .map_err(store_error)?;
            }
        }
        tx.commit()
    }
}

/// Creates a missing database file readable by its owner only (SQLite would create it
/// with the umask's mode): the audit trail names users and actions.
fn create_private(path: &Path) -> Result<(), GateError> {
    if path.as_os_str().as_encoded_bytes().starts_with(b"file:") {
        return Ok(());
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(GateError::Store(format!(
            "cannot create {}: {e}",
            path.display()
        ))),
    }
}

/// The moment `timeout` from now; a timeout too long to have one is an error.
fn deadline_after(timeout: Duration) -> Result<Instant, GateError> {
    Instant::now()
        .checked_add(timeout)
        .ok_or_else(|| GateError::Store(format!("a lock timeout of {timeout:?} is too long")))
}

pub(crate) fn store_error(e: rusqlite::Error) -> GateError {
    match e.sqlite_error_code() {
        Some(ErrorCode::ReadOnly) => GateError::StoreReadOnly,
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => GateError::StoreBusy,
        _ => GateError::Store(format!("{e}")),
    }
}

/// A column that does not convert is an unreadable record; anything else a store error.
fn record_error(e: rusqlite::Error) -> GateError {
    match e {
        rusqlite::Error::InvalidColumnType(..)
        | rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::IntegralValueOutOfRange(..) => GateError::RecordUnreadable,
        e => store_error(e),
    }
}

fn to_sql_int(value: u64) -> Result<i64, GateError> {
    i64::try_from(value).map_err(|_| GateError::Store(format!("{value} does not fit SQLite")))
}

/// Appends `audit` to the trail inside `tx`, chained to the last row's MAC. The caller holds
/// the write lock (`BEGIN IMMEDIATE`): no other writer extends the chain meanwhile.
impl SqliteStore {
    /// Appends `audit` to the trail inside `tx`, the write transaction of a decision;
    /// [`GateError::WrongServerKey`] (and so no commit) when the stored key check is no
    /// longer the one the gate was opened against: the key was rotated meanwhile, and
    /// nothing may be written under the old one.
    pub(crate) fn append_audit(
        &self,
        tx: &Cached,
        audit: &AuditEntry,
        time: i64,
    ) -> Result<(), GateError> {
        // One statement for the chain's last MAC and the key check: both are read on every
        // decision.
        let (previous, stored): (Option<Vec<u8>>, Option<Vec<u8>>) = tx
            .query_row(
                "SELECT (SELECT mac FROM audit WHERE mac IS NOT NULL ORDER BY id DESC LIMIT 1),
                        (SELECT value FROM meta WHERE name = 'key_check')",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .map_err(record_error)?;
        if let Some(opened) = self.opened_with.borrow().as_deref()
            && stored.as_deref() != Some(opened)
        {
            return Err(GateError::WrongServerKey);
        }
        tx.execute(
            "INSERT INTO audit (time, user, event, action, outcome, drift, actor, mac)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                time,
                audit.user,
                audit.event,
                audit.action,
                audit.outcome,
                audit.drift,
                audit.actor,
                audit.mac(previous.as_deref()),
            ],
        )
        .map_err(store_error)?;
        Ok(())
    }

    /// The compare-and-swap `swap` inside `tx`: its record and audit row written when the
    /// stored version is the expected one, nothing otherwise.
    fn swap_in(&self, tx: &Cached, swap: &SwapRequest<'_>) -> Result<Swap, GateError> {
        let current: Option<i64> = tx
            .query_row(
                "SELECT version FROM users WHERE user = ?1",
                [swap.user],
                |row| row.get(0),
            )
            .optional()
            .map_err(record_error)?;
        if current != swap.expected.map(to_sql_int).transpose()? {
            return Ok(Swap::Conflict);
        }
        let version = to_sql_int(next_version(swap.expected))?;
        let time = to_sql_int(swap.audit.time)?;
        tx.execute(
            "INSERT INTO users (user, version, record, updated) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (user) DO UPDATE
             SET version = excluded.version, record = excluded.record, updated = excluded.updated",
            params![swap.user, version, swap.sealed, time],
        )
        .map_err(store_error)?;
        self.append_audit(tx, swap.audit, time)?;
        Ok(Swap::Written)
    }

    /// Keeps `check` as the one the gate was opened against, if none is kept yet.
    fn opened_with(&self, check: Option<&Vec<u8>>) {
        let mut opened = self.opened_with.borrow_mut();
        if opened.is_none() {
            opened.clone_from(&check.cloned());
        }
    }
}

impl Store for SqliteStore {
    fn load(&self, user: &str) -> Result<Option<Stored>, GateError> {
        let row = self
            .conn
            .query_row(
                "SELECT version, record FROM users WHERE user = ?1",
                [user],
                |row| Ok((row.get::<_, i64>(0)?, row.get::<_, Vec<u8>>(1)?)),
            )
            .optional()
            .map_err(record_error)?;
        let Some((version, sealed)) = row else {
            return Ok(None);
        };
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

    /// One write transaction for all of `swaps`, so one sync: each is still decided on
    /// its own, in order (of two on one version, the first is written), but a store error
    /// in any of them rolls all back and answers every one with it. Inside a
    /// [`batch`](Self::batch), part of the batch's transaction, as every write.
    fn compare_and_swap_all(&self, swaps: &[SwapRequest<'_>]) -> Vec<Result<Swap, GateError>> {
        let decided = self.begin_write().and_then(|tx| {
            let swaps = swaps
                .iter()
                .map(|swap| self.swap_in(&tx, swap))
                .collect::<Result<Vec<_>, _>>()?;
            tx.commit()?;
            Ok(swaps)
        });
        match decided {
            Ok(swaps) => swaps.into_iter().map(Ok).collect(),
            Err(e) => swaps.iter().map(|_| Err(e.clone())).collect(),
        }
    }

    /// Not inside a [`batch`](Self::batch).
    fn commits_on_return(&self) -> bool {
        !self.in_batch.get()
    }

    fn key_check(&self) -> Result<Option<Vec<u8>>, GateError> {
        self.check_file()?;
        let check: Option<Vec<u8>> = self
            .conn
            .query_row(
                "SELECT value FROM meta WHERE name = 'key_check'",
                [],
                |row| row.get(0),
            )
            .optional()
            .map_err(store_error)?;
        self.opened_with(check.as_ref());
        Ok(check)
    }

    fn init_key_check(&self, check: &[u8]) -> Result<Vec<u8>, GateError> {
        let tx = self.begin_write()?;
        tx.execute(
            "INSERT OR IGNORE INTO meta (name, value) VALUES ('key_check', ?1)",
            [check],
        )
        .map_err(store_error)?;
        let stored = tx
            .query_row(
                "SELECT value FROM meta WHERE name = 'key_check'",
                [],
                |row| row.get(0),
            )
            .map_err(store_error)?;
        tx.commit()?;
        self.opened_with(Some(&stored));
        Ok(stored)
    }

    fn audit_chain_start(&self) -> Result<i64, GateError> {
        self.conn
            .query_row(
                "SELECT CAST(CAST(value AS TEXT) AS INTEGER) FROM meta
                 WHERE name = 'audit_chain_start'",
                [],
                |row| row.get(0),
            )
            .map_err(record_error)
    }

    fn audit_log(&self, user: Option<&str>, limit: usize) -> Result<Vec<AuditRecord>, GateError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut statement = self
            .conn
            .prepare(
                "SELECT id, time, user, event, action, outcome, drift, actor, mac FROM audit
                 WHERE ?1 IS NULL OR user = ?1 ORDER BY id DESC LIMIT ?2",
            )
            .map_err(store_error)?;
        let rows = statement
            .query_map(params![user, limit], |row| {
                Ok(AuditRecord {
                    id: row.get(0)?,
                    time: row.get(1)?,
                    user: row.get(2)?,
                    event: row.get(3)?,
                    action: row.get(4)?,
                    outcome: row.get(5)?,
                    drift: row.get(6)?,
                    actor: row.get(7)?,
                    mac: row.get(8)?,
                })
            })
            .map_err(store_error)?;
        let mut entries = rows.collect::<Result<Vec<_>, _>>().map_err(record_error)?;
        entries.reverse();
        Ok(entries)
    }
}

impl TokenStore for SqliteStore {
    fn create_token(
        &self,
        name: &str,
        scope: Scope,
        digest: &[u8; 32],
        now: u64,
    ) -> Result<(), GateError> {
        let inserted = self.write_one(
            "INSERT INTO tokens (name, scope, digest, created) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT DO NOTHING",
            params![name, scope.label(), digest.as_slice(), to_sql_int(now)?],
        )?;
        if inserted == 1 {
            Ok(())
        } else {
            Err(GateError::TokenExists)
        }
    }

    fn list_tokens(&self) -> Result<Vec<TokenInfo>, GateError> {
        let mut statement = self
            .conn
            .prepare("SELECT name, scope, created, revoked FROM tokens ORDER BY name")
            .map_err(store_error)?;
        let rows = statement
            .query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, u64>(2)?,
                    row.get::<_, Option<u64>>(3)?,
                ))
            })
            .map_err(store_error)?;
        rows.map(|row| {
            let (name, scope, created, revoked) = row.map_err(store_error)?;
            Ok(TokenInfo {
                name,
                scope: stored_scope(&scope)?,
                created,
                revoked,
            })
        })
        .collect()
    }

    fn revoke_token(&self, name: &str, now: u64) -> Result<(), GateError> {
        let found = self.write_one(
            "UPDATE tokens SET revoked = COALESCE(revoked, ?2) WHERE name = ?1",
            params![name, to_sql_int(now)?],
        )?;
        if found == 1 {
            Ok(())
        } else {
            Err(GateError::UnknownToken)
        }
    }

    fn token_by_digest(&self, digest: &[u8; 32]) -> Result<Option<TokenInfo>, GateError> {
        let row = self
            .conn
            .query_row(
                "SELECT name, scope, created, revoked FROM tokens WHERE digest = ?1",
                [digest.as_slice()],
                |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, u64>(2)?,
                        row.get::<_, Option<u64>>(3)?,
                    ))
                },
            )
            .optional()
            .map_err(store_error)?;
        row.map(|(name, scope, created, revoked)| {
            Ok(TokenInfo {
                name,
                scope: stored_scope(&scope)?,
                created,
                revoked,
            })
        })
        .transpose()
    }
}
