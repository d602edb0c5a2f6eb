//! Opening the store a `--db` string names: an SQLite file, or (feature `postgres`) a
//! PostgreSQL URL. The policy every front end shares, so a Rust caller opens the same
//! database the `otpgate` command would.

use std::path::{Path, PathBuf};
use std::vec::Vec;

use crate::{
    AuditEntry, AuditRecord, Gate, GateError, ServerKey, SqliteStore, Store, Stored, Swap, keyfile,
};

/// The store a `--db` string names.
pub enum Database {
    /// An SQLite file.
    Sqlite(SqliteStore),
    /// A PostgreSQL database shared by several runners.
    #[cfg(feature = "postgres")]
    Postgres(crate::PostgresStore),
}

/// `db` when it is a PostgreSQL URL rather than an SQLite path.
pub fn database_url(db: &Path) -> Option<&str> {
    db.to_str()
        .filter(|db| db.starts_with("postgresql://") || db.starts_with("postgres://"))
}

impl Database {
    /// Opens the SQLite file (created only when `create`) or connects to the PostgreSQL
    /// database (which the administrator creates; its tables are created on first use).
    pub fn open(db: &Path, create: bool) -> Result<Self, GateError> {
        #[cfg(feature = "postgres")]
        if let Some(url) = database_url(db) {
            return crate::PostgresStore::connect(url).map(Database::Postgres);
        }
        #[cfg(not(feature = "postgres"))]
        if database_url(db).is_some() {
            return Err(GateError::Store(String::from(
                "--db is a PostgreSQL URL, and this otpgate was built without the `postgres` \
                 feature (build it with --features postgres)",
            )));
        }
        if create {
            SqliteStore::create(db).map(Database::Sqlite)
        } else {
            SqliteStore::open(db).map(Database::Sqlite)
        }
    }

    fn inner(&self) -> &dyn Store {
        match self {
            Database::Sqlite(store) => store,
            #[cfg(feature = "postgres")]
            Database::Postgres(store) => store,
        }
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

    fn key_check(&self) -> Result<Option<Vec<u8>>, GateError> {
        self.inner().key_check()
    }

    fn init_key_check(&self, check: &[u8]) -> Result<Vec<u8>, GateError> {
        self.inner().init_key_check(check)
    }

    fn audit_log(&self, user: Option<&str>, limit: usize) -> Result<Vec<AuditRecord>, GateError> {
        self.inner().audit_log(user, limit)
    }
}

/// The key file: `key_file`, or beside an SQLite database. A database URL has no path to
/// put it beside, and a key in the database would defeat sealing, so it must be named.
pub fn key_path(db: &Path, key_file: Option<&Path>) -> Result<PathBuf, GateError> {
    match (key_file, database_url(db)) {
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
    /// file, unless one is there already (a key moved in on purpose). Without `create`, a
    /// database without a key is an error, never a reason to write a key file.
    pub fn open_database(
        db: &Path,
        key_file: Option<&Path>,
        create: bool,
    ) -> Result<Self, GateError> {
        let path = key_path(db, key_file)?;
        let store = Database::open(db, create)?;
        let key: ServerKey = match (store.key_check()?, keyfile::read_key(&path)?) {
            (_, Some(key)) => key,
            (None, None) if create => keyfile::create_key(&path)?,
            (None, None) => {
                return Err(GateError::NotSetUp(
                    "no user was enrolled yet, so it has no server key: enroll the first user",
                ));
            }
            (Some(_), None) => {
                return Err(GateError::MissingServerKey {
                    path: format!("{}", path.display()),
                });
            }
        };
        Gate::open(store, key)
    }
}
