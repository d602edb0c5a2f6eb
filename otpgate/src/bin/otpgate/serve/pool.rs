//! The gates the service decides with: a bounded set of database connections, each used
//! by one request at a time on a blocking thread (the gate and its stores are synchronous).
//!
//! Every decision extends the one audit chain, so the connections' decisions are committed
//! in groups ([`GroupCommit`]): one sync for the decisions that arrive while a commit is in
//! flight, on SQLite as on PostgreSQL. Their other writes (invitations, approvals) go
//! straight to the store, whose SQLite writers queue for its write lock in arrival order
//! within one deadline (`BUSY_TIMEOUT`). A decision can wait longer: for the commit in
//! flight, then for its own group's (each bounded so), never answered before its commit.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use otpgate::{Database, Gate, GateError, GroupCommit, Grouped, key_path, server_key};
use tokio::sync::Semaphore;

use super::error::ApiError;

/// A database connection as the service uses it: its decisions committed in groups with
/// the other connections'.
pub type ServiceStore = Grouped<Database>;

/// The service's gate.
pub type ServiceGate = Gate<ServiceStore>;

/// At most `size` gates, opened when needed and reused.
pub struct GatePool {
    db: PathBuf,
    key_path: PathBuf,
    idle: Mutex<Vec<ServiceGate>>,
    permits: Semaphore,
    group: Arc<GroupCommit>,
}

impl GatePool {
    /// Opens the first gate now (creating the database and the key file when neither
    /// exists), so a wrong key or an unreachable database stops the service at startup.
    /// A key file without its SQLite database (a volume not mounted, a path mistyped) is
    /// [`GateError::NoDatabase`]: a new, empty database would answer every runner 401
    /// while `/healthz` said all is well.
    pub fn open(db: PathBuf, key_file: Option<PathBuf>, size: usize) -> Result<Self, GateError> {
        let key_path = key_path(&db, key_file.as_deref())?;
        let database = Database::open(&db, !key_path.exists())?;
        let group = Arc::<GroupCommit>::default();
        let key = server_key(&key_path, &database, key_file.is_some(), true)?;
        let first = Gate::open(Grouped::new(database, Arc::clone(&group)), key)?;
        Ok(GatePool {
            db,
            key_path,
            idle: Mutex::new(vec![first]),
            permits: Semaphore::new(size),
            group,
        })
    }

    fn open_gate(&self) -> Result<ServiceGate, GateError> {
        let database = Database::open(&self.db, false)?;
        let key = server_key(&self.key_path, &database, true, false)?;
        Gate::open(Grouped::new(database, Arc::clone(&self.group)), key)
    }

    fn idle(&self) -> MutexGuard<'_, Vec<ServiceGate>> {
        // A panic while the list was locked leaves a list of whole gates: still usable.
        self.idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs `job` with a gate of its own on a blocking thread, once one of the pool's
    /// places is free. A gate whose connection failed is closed, not reused; a panic in
    /// `job` is an internal error (and its gate is dropped with it).
    pub async fn run<T: Send + 'static>(
        self: &Arc<Self>,
        job: impl FnOnce(&mut ServiceGate) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        self.run_after_read(|_| Ok(()), move |gate, ()| job(gate))
            .await
    }

    /// [`run`](Self::run) for a job that starts with a read, `first`. A connection that
    /// died while idle (the database restarted since it was last used) is found only by
    /// the request that uses it: when `first` fails so on a reused gate, it is read again
    /// on a new one, once. Nothing was written by then, so nothing is done twice.
    pub async fn run_after_read<R, T: Send + 'static>(
        self: &Arc<Self>,
        mut first: impl FnMut(&mut ServiceGate) -> Result<R, ApiError> + Send + 'static,
        then: impl FnOnce(&mut ServiceGate, R) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| ApiError::Internal("the service is shutting down"))?;
        let pool = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let taken = pool.idle().pop();
            let reused = taken.is_some();
            let mut gate = match taken {
                Some(gate) => gate,
                None => pool.open_gate()?,
            };
            gate.set_actor(None);
            let mut read = first(&mut gate);
            if reused && read.as_ref().is_err_and(ApiError::store_failed) {
                gate = pool.open_gate()?;
                read = first(&mut gate);
            }
            let result = read.and_then(|read| then(&mut gate, read));
            if !result.as_ref().is_err_and(ApiError::store_failed) {
                pool.idle().push(gate);
            }
            result
        })
        .await
        .map_err(|_| ApiError::Internal("the decision failed; nothing was accepted"))?
    }
}
