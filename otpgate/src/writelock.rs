//! The write lock of an SQLite database: writers queue for it, where SQLite's own lock
//! makes them poll.
//!
//! Two levels, one deadline:
//! - **Within a process**, the writers of one database (each with its own connection)
//!   queue on one mutex per database file, handed over in arrival order
//!   (`parking_lot`'s fair unlock), so a thread never starves and never polls.
//! - **Across processes**, the head of that queue takes an exclusive `flock` on the lock
//!   file beside the database (`DB-lock`). The kernel blocks the waiter until the holder
//!   releases it, and a holder that dies (even by `kill -9`) releases it with its file
//!   descriptors. A blocking `flock` has no timeout, so a contended one waits in a helper
//!   thread on a file of its own: the writer waits for that thread until the deadline, and
//!   a helper whose writer gave up closes its file, releasing the lock, as soon as it gets
//!   it.
//!
//! The lock only orders writers that use it (every `otpgate` from this version on); any
//! other writer (the `sqlite3` shell, an older `otpgate`) still meets SQLite's own lock,
//! whose busy timeout gets what is left of the same deadline.

use std::collections::HashMap;
use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex as StdMutex, OnceLock, PoisonError, Weak, mpsc};
use std::time::Instant;

use parking_lot::{ArcMutexGuard, Mutex, RawMutex};

use super::GateError;

/// The queue of one database's writers in this process.
type Queue = Mutex<()>;

/// This process's queues, by lock file. Entries of databases no store has open any more
/// are dropped when the next queue is made.
fn queue_for(lock_file: &Path) -> Arc<Queue> {
    static QUEUES: OnceLock<StdMutex<HashMap<PathBuf, Weak<Queue>>>> = OnceLock::new();
    let mut queues = QUEUES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if let Some(queue) = queues.get(lock_file).and_then(Weak::upgrade) {
        return queue;
    }
    queues.retain(|_, queue| queue.strong_count() > 0);
    let queue = Arc::new(Mutex::new(()));
    queues.insert(lock_file.to_path_buf(), Arc::downgrade(&queue));
    queue
}

/// One connection's way to the write lock of its database.
pub(crate) struct WriteLock {
    path: PathBuf,
    queue: Arc<Queue>,
    /// The lock file, opened at the first write (a store that only reads creates none).
    file: std::cell::OnceCell<File>,
}

/// The write lock, held until dropped: the `flock` first, then this process's queue,
/// handed to the next writer in line.
pub(crate) struct Held<'a> {
    queue: Option<ArcMutexGuard<RawMutex, ()>>,
    file: Flock<'a>,
}

/// Which file holds the `flock`.
enum Flock<'a> {
    /// The connection's own lock file: unlocked when released.
    Own(&'a File),
    /// A helper thread's file (the lock was contended): closed when released.
    Helper(File),
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        // An unlock that fails leaves the lock with the open file: the helper's is closed
        // right after, the connection's own when its store is dropped.
        let _ = match &self.file {
            Flock::Own(file) => file.unlock(),
            Flock::Helper(file) => file.unlock(),
        };
        if let Some(queue) = self.queue.take() {
            ArcMutexGuard::unlock_fair(queue);
        }
    }
}

impl WriteLock {
    /// The lock of the database file `database` (an absolute path, as SQLite reports it).
    pub(crate) fn new(database: &Path) -> Self {
        let mut name = database.as_os_str().to_owned();
        name.push("-lock");
        let path = PathBuf::from(name);
        WriteLock {
            queue: queue_for(&path),
            path,
            file: std::cell::OnceCell::new(),
        }
    }

    /// Waits for the lock until `deadline`: [`GateError::StoreBusy`] past it.
    pub(crate) fn acquire(&self, deadline: Instant) -> Result<Held<'_>, GateError> {
        let wait = deadline.saturating_duration_since(Instant::now());
        let queue = self
            .queue
            .try_lock_arc_for(wait)
            .ok_or(GateError::StoreBusy)?;
        let own = self.own_file()?;
        let file = match own.try_lock() {
            Ok(()) => Flock::Own(own),
            Err(TryLockError::WouldBlock) => Flock::Helper(self.wait_in_helper(deadline)?),
            Err(TryLockError::Error(e)) => return Err(self.error(&e)),
        };
        Ok(Held {
            queue: Some(queue),
            file,
        })
    }

    fn own_file(&self) -> Result<&File, GateError> {
        if let Some(file) = self.file.get() {
            return Ok(file);
        }
        let file = self.open()?;
        Ok(self.file.get_or_init(|| file))
    }

    /// Opens (creating, readable by its owner only) the lock file.
    fn open(&self) -> Result<File, GateError> {
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        options.open(&self.path).map_err(|e| self.error(&e))
    }

    /// A blocking `flock` on a file of its own in a helper thread, waited for until
    /// `deadline`. When the writer gives up first, the helper's result has no receiver and
    /// is dropped with its file, which releases the lock the moment it was got.
    fn wait_in_helper(&self, deadline: Instant) -> Result<File, GateError> {
        let file = self.open()?;
        let (sender, receiver) = mpsc::sync_channel(1);
        std::thread::Builder::new()
            .name(String::from("otpgate-flock"))
            .spawn(move || {
                let locked = file.lock().map(|()| file);
                let _ = sender.send(locked);
            })
            .map_err(|e| GateError::Store(format!("cannot wait for the write lock: {e}")))?;
        let wait = deadline.saturating_duration_since(Instant::now());
        match receiver.recv_timeout(wait) {
            Ok(Ok(file)) => Ok(file),
            Ok(Err(e)) => Err(self.error(&e)),
            Err(mpsc::RecvTimeoutError::Timeout) => Err(GateError::StoreBusy),
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(GateError::Store(String::from(
                "the wait for the write lock ended without an answer",
            ))),
        }
    }

    fn error(&self, e: &std::io::Error) -> GateError {
        GateError::Store(format!("lock file {}: {e}", self.path.display()))
    }
}
