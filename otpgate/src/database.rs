//! Opening the store a `--db` string names: an SQLite file, or (feature `postgres`) a
//! PostgreSQL URL. The policy every front end shares, so a Rust caller opens the same
//! database the `otpgate` command would.

use std::path::{Path, PathBuf};
use std::vec::Vec;

use crate::{
    AuditEntry, AuditRecord, Gate, GateError, Scope, ServerKey, SqliteStore, Store, Stored, Swap,
    SwapRequest, TokenInfo, TokenStore, keyfile,
};

/// The store a `--db` string names.
pub enum Database {
    /// An SQLite file.
    Sqlite(Box<SqliteStore>),
    /// A PostgreSQL database shared by several runners.
    #[cfg(feature = "postgres")]
    Postgres(Box<crate::PostgresStore>),
}

/// `db` when it names a PostgreSQL database rather than an SQLite file, in the form the
/// PostgreSQL client parses: a URL (`postgresql://` or `postgres://`, the scheme in any
/// case), or libpq's `key=value` form. Anything but an SQLite `file:` URI that holds a `=`
/// is taken as the latter, so a connection string (and its password) is never taken as a
/// file name. [`GateError::InvalidDatabase`] for a URL of another scheme.
pub fn database_url(db: &Path) -> Result<Option<String>, GateError> {
    let Some(text) = db.to_str() else {
        return Ok(None);
    };
    let lower = text.to_ascii_lowercase();
    for scheme in ["postgresql://", "postgres://"] {
        if let Some(rest) = text
            .get(scheme.len()..)
            .filter(|_| lower.starts_with(scheme))
        {
            return Ok(Some(format!("{scheme}{rest}")));
        }
    }
    if lower.starts_with("file:") {
        return Ok(None);
    }
    if lower.contains("://") {
        return Err(GateError::InvalidDatabase(
            "a URL, but not postgresql:// or postgres:// (an SQLite database is a path or a \
             file: URI)",
        ));
    }
    if text.contains('=') {
        return Ok(Some(String::from(text)));
    }
    Ok(None)
}

impl Database {
    /// Opens the SQLite file (created only when `create`) or connects to the PostgreSQL
    /// database (which the administrator creates; its tables are created on first use).
    pub fn open(db: &Path, create: bool) -> Result<Self, GateError> {
        #[cfg(feature = "postgres")]
        if let Some(url) = database_url(db)? {
            let url = zeroize::Zeroizing::new(url);
            return crate::PostgresStore::connect(&url)
                .map(|store| Database::Postgres(Box::new(store)));
        }
        #[cfg(not(feature = "postgres"))]
        if database_url(db)?.is_some() {
            return Err(GateError::InvalidDatabase(
                "a PostgreSQL connection string, and this otpgate was built without the \
                 `postgres` feature (build it with --features postgres)",
            ));
        }
        if create {
            SqliteStore::create(db).map(|store| Database::Sqlite(Box::new(store)))
        } else {
            SqliteStore::open(db).map(|store| Database::Sqlite(Box::new(store)))
        }
    }

    fn inner(&self) -> &dyn Store {
        match self {
            Database::Sqlite(store) => store.as_ref(),
            #[cfg(feature = "postgres")]
            Database::Postgres(store) => store.as_ref(),
        }
    }

    fn tokens(&self) -> &dyn TokenStore {
        match self {
            Database::Sqlite(store) => store.as_ref(),
            #[cfg(feature = "postgres")]
            Database::Postgres(store) => store.as_ref(),
        }
    }
}

impl TokenStore for Database {
    fn create_token(
        &self,
        name: &str,
        scope: Scope,
        digest: &[u8; 32],
        now: u64,
    ) -> Result<(), GateError> {
        self.tokens().create_token(name, scope, digest, now)
    }

    fn list_tokens(&self) -> Result<Vec<TokenInfo>, GateError> {
        self.tokens().list_tokens()
    }

    fn revoke_token(&self, name: &str, now: u64) -> Result<(), GateError> {
        self.tokens().revoke_token(name, now)
    }

    fn token_by_digest(&self, digest: &[u8; 32]) -> Result<Option<TokenInfo>, GateError> {
        self.tokens().token_by_digest(digest)
    }
}

impl Store for Database {
    fn load(&self, user: &str) -> Result<Option<Stored>, GateError> {
        self.inner().load(user)
    }

    fn compare_and_swap(
        &self,
        user: &str,
        expected: Option<u64>,
        sealed: &[u8],
        audit: &AuditEntry,
    ) -> Result<Swap, GateError> {
        self.inner().compare_and_swap(user, expected, sealed, audit)
    }

    fn compare_and_swap_all(&self, swaps: &[SwapRequest<'_>]) -> Vec<Result<Swap, GateError>> {
        self.inner().compare_and_swap_all(swaps)
    }

    fn commits_on_return(&self) -> bool {
        self.inner().commits_on_return()
    }

    fn key_check(&self) -> Result<Option<Vec<u8>>, GateError> {
        self.inner().key_check()
    }

    fn init_key_check(&self, check: &[u8]) -> Result<Vec<u8>, GateError> {
        self.inner().init_key_check(check)
    }

    fn audit_log(&self, user: Option<&str>, limit: usize) -> Result<Vec<AuditRecord>, GateError> {
        self.inner().audit_log(user, limit)
    }

    fn audit_chain_start(&self) -> Result<i64, GateError> {
        self.inner().audit_chain_start()
    }
}

/// The key file: `key_file`, or beside an SQLite database. A database URL has no path to
/// put it beside, and a key in the database would defeat sealing, so it must be named.
pub fn key_path(db: &Path, key_file: Option<&Path>) -> Result<PathBuf, GateError> {
    match (key_file, database_url(db)?) {
        (Some(path), _) => Ok(path.to_path_buf()),
        (None, Some(_)) => Err(GateError::KeyFileRequired),
        (None, None) => {
            let mut name = db.as_os_str().to_owned();
            name.push(".key");
            Ok(PathBuf::from(name))
        }
    }
}

impl Gate<Database> {
    /// Opens the gate on the database `db` names, with its server key from `key_file` (or
    /// beside an SQLite database). A database already set up with a key needs that key
    /// file; with `create` (an enrollment), a new database is created and gets a new key
    /// file. An existing key file is adopted for a database without a key only when named
    /// (`key_file`), never when found at the default path
    /// ([`GateError::UnnamedKeyFile`]). Without `create`, a database without a key is an
    /// error, never a reason to write a key file.
    pub fn open_database(
        db: &Path,
        key_file: Option<&Path>,
        create: bool,
    ) -> Result<Self, GateError> {
        // Before connecting: a URL without a key file is told so, not a connection error.
        let path = key_path(db, key_file)?;
        let named = key_file.is_some();
        let store = Database::open(db, create)?;
        let key = server_key(&path, &store, named, create)?;
        Gate::open(store, key)
    }
}

/// The server key of `store` from the key file at `path` ([`key_path`]), `named` when the
/// caller named the file (`--key-file`); created only with `create` and only for a store
/// without a key check. The policy of [`Gate::open_database`], for callers that wrap the
/// store (`otpgate serve`).
pub fn server_key(
    path: &Path,
    store: &Database,
    named: bool,
    create: bool,
) -> Result<ServerKey, GateError> {
    match store {
        // Under the write lock: of several enrollments into a new database, one sets the
        // key up and the others find it done.
        Database::Sqlite(sqlite) if create => {
            sqlite.set_up_key(|set_up| choose_key(set_up, path, named, create))
        }
        _ => choose_key(store.key_check()?.is_some(), path, named, create),
    }
}

/// The key for a database that is `set_up` with a key or not: the key file, read; for a
/// new database, a named key file is adopted, and with `create` a missing one is created.
fn choose_key(
    set_up: bool,
    path: &Path,
    named: bool,
    create: bool,
) -> Result<ServerKey, GateError> {
    match keyfile::read_key(path)? {
        Some(key) if set_up || named => Ok(key),
        Some(_) => Err(GateError::UnnamedKeyFile {
            path: format!("{}", path.display()),
        }),
        None if create && !set_up => keyfile::create_key(path),
        None if !set_up => Err(GateError::NotSetUp(
            "no user was enrolled yet, so it has no server key: enroll the first user",
        )),
        None => Err(GateError::MissingServerKey {
            path: format!("{}", path.display()),
        }),
    }
}
