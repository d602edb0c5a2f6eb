//! Group commit of the service's PostgreSQL decisions.
//!
//! Every decision extends the one audit chain, so PostgreSQL writers queue for the chain's
//! lock, each holding it through its commit's flush: one flush per decision, one after the
//! other, however many connections the pool has. Here the decisions that arrive while one
//! commit is in flight wait for it, and the next of them to run commits them all in one
//! transaction ([`Store::compare_and_swap_all`]): one flush for the lot. Each decision is
//! still its own compare-and-swap (a conflict is that decision's alone), and each caller
//! gets its answer only after the commit that holds its write: nothing is answered from
//! memory.

use std::collections::HashMap;
use std::mem;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use otpgate::{AuditEntry, GateError, Store, Swap, SwapRequest};

/// A decision waiting for a commit.
struct Pending {
    ticket: u64,
    user: String,
    expected: Option<u64>,
    sealed: Vec<u8>,
    audit: AuditEntry,
}

#[derive(Default)]
struct Queue {
    waiting: Vec<Pending>,
    answers: HashMap<u64, Result<Swap, GateError>>,
    next_ticket: u64,
    committing: bool,
}

/// The queue the service's connections share: see the [module](self).
#[derive(Default)]
pub struct GroupCommit {
    queue: Mutex<Queue>,
    answered: Condvar,
}

impl GroupCommit {
    /// Decides `swap`, in one transaction with the decisions queued beside it; `store` (the
    /// caller's own connection) runs that transaction when the caller is the first to find
    /// no commit in flight.
    pub fn swap(&self, store: &dyn Store, swap: SwapRequest<'_>) -> Result<Swap, GateError> {
        let mut queue = self.lock();
        let ticket = queue.next_ticket;
        queue.next_ticket = queue.next_ticket.wrapping_add(1);
        queue.waiting.push(Pending {
            ticket,
            user: swap.user.to_owned(),
            expected: swap.expected,
            sealed: swap.sealed.to_vec(),
            audit: swap.audit.clone(),
        });
        loop {
            if let Some(answer) = queue.answers.remove(&ticket) {
                return answer;
            }
            if queue.committing {
                queue = self
                    .answered
                    .wait(queue)
                    .unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            queue.committing = true;
            let batch = Batch {
                commit: self,
                pending: mem::take(&mut queue.waiting),
                answers: None,
            };
            drop(queue);
            batch.run(store);
            queue = self.lock();
        }
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        // The queue is whole between statements: a panic elsewhere leaves it usable.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The decisions one caller commits for all. However it ends (a panic in the store
/// included), dropping it answers every one of them and lets the next commit start, so
/// no caller waits for an answer that never comes.
struct Batch<'a> {
    commit: &'a GroupCommit,
    pending: Vec<Pending>,
    answers: Option<Vec<Result<Swap, GateError>>>,
}

impl Batch<'_> {
    fn run(mut self, store: &dyn Store) {
        let requests: Vec<SwapRequest<'_>> = self
            .pending
            .iter()
            .map(|pending| SwapRequest {
                user: &pending.user,
                expected: pending.expected,
                sealed: &pending.sealed,
                audit: &pending.audit,
            })
            .collect();
        let answers = store.compare_and_swap_all(&requests);
        self.answers = Some(answers);
    }
}

impl Drop for Batch<'_> {
    fn drop(&mut self) {
        let mut answers = self.answers.take().unwrap_or_default().into_iter();
        let mut queue = self.commit.lock();
        for pending in self.pending.drain(..) {
            let answer = answers.next().unwrap_or_else(|| {
                Err(GateError::Store(String::from(
                    "the commit this decision was part of failed; nothing was accepted",
                )))
            });
            queue.answers.insert(pending.ticket, answer);
        }
        queue.committing = false;
        drop(queue);
        self.commit.answered.notify_all();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::thread;

    use otpgate::{AuditRecord, MemoryStore, ServerKey, Stored};

    use super::*;

    /// A store that counts the batches it is given and holds each one a moment, so that
    /// decisions pile up behind it.
    struct Counting {
        inner: MemoryStore,
        batches: AtomicUsize,
        panic_on: Option<&'static str>,
    }

    impl Store for Counting {
        fn load(&self, user: &str) -> Result<Option<Stored>, GateError> {
            self.inner.load(user)
        }

        fn compare_and_swap(
            &self,
            user: &str,
            expected: Option<u64>,
            sealed: &[u8],
            audit: &AuditEntry,
        ) -> Result<Swap, GateError> {
            self.inner.compare_and_swap(user, expected, sealed, audit)
        }

        fn compare_and_swap_all(&self, swaps: &[SwapRequest<'_>]) -> Vec<Result<Swap, GateError>> {
            self.batches.fetch_add(1, Ordering::SeqCst);
            if swaps.iter().any(|swap| Some(swap.user) == self.panic_on) {
                panic!("the store failed");
            }
            thread::sleep(std::time::Duration::from_millis(5));
            swaps
                .iter()
                .map(|swap| {
                    self.compare_and_swap(swap.user, swap.expected, swap.sealed, swap.audit)
                })
                .collect()
        }

        fn key_check(&self) -> Result<Option<Vec<u8>>, GateError> {
            self.inner.key_check()
        }

        fn init_key_check(&self, check: &[u8]) -> Result<Vec<u8>, GateError> {
            self.inner.init_key_check(check)
        }

        fn audit_log(
            &self,
            user: Option<&str>,
            limit: usize,
        ) -> Result<Vec<AuditRecord>, GateError> {
            self.inner.audit_log(user, limit)
        }

        fn audit_chain_start(&self) -> Result<i64, GateError> {
            self.inner.audit_chain_start()
        }
    }

    fn entry(user: &str) -> AuditEntry {
        AuditEntry {
            time: 1,
            user: user.to_owned(),
            event: "check",
            action: None,
            outcome: "accepted",
            drift: None,
            actor: None,
            key: ServerKey::generate().unwrap().audit_key(),
        }
    }

    fn decide(
        commit: &GroupCommit,
        store: &Counting,
        user: &str,
        expected: Option<u64>,
    ) -> Result<Swap, GateError> {
        let audit = entry(user);
        commit.swap(
            store,
            SwapRequest {
                user,
                expected,
                sealed: b"sealed",
                audit: &audit,
            },
        )
    }

    fn store(panic_on: Option<&'static str>) -> Arc<Counting> {
        Arc::new(Counting {
            inner: MemoryStore::new(),
            batches: AtomicUsize::new(0),
            panic_on,
        })
    }

    #[test]
    fn concurrent_decisions_share_commits_and_each_gets_its_own_answer() {
        let commit = Arc::new(GroupCommit::default());
        let store = store(None);
        let threads: Vec<_> = (0..32)
            .map(|i| {
                let (commit, store) = (Arc::clone(&commit), Arc::clone(&store));
                // Every second thread races another for one new user: one of the two is
                // written, the other conflicts.
                thread::spawn(move || decide(&commit, &store, &format!("user{}", i / 2), None))
            })
            .collect();
        let answers: Vec<Swap> = threads
            .into_iter()
            .map(|thread| thread.join().unwrap().unwrap())
            .collect();
        let written = answers.iter().filter(|a| **a == Swap::Written).count();
        assert_eq!(written, 16, "{answers:?}");
        for i in 0..16 {
            let stored = store.load(&format!("user{i}")).unwrap().unwrap();
            assert_eq!(stored.version, 1);
        }
        let batches = store.batches.load(Ordering::SeqCst);
        assert!(batches < 32, "{batches} commits for 32 decisions");
    }

    #[test]
    fn a_store_that_panics_answers_its_whole_batch_and_the_next_commit_runs() {
        let commit = Arc::new(GroupCommit::default());
        let store = store(Some("doomed"));
        let threads: Vec<_> = ["doomed", "a", "b", "c", "d", "e", "f", "g"]
            .into_iter()
            .map(|user| {
                let (commit, store) = (Arc::clone(&commit), Arc::clone(&store));
                thread::spawn(move || decide(&commit, &store, user, None))
            })
            .collect();
        // Whoever shared a batch with "doomed" got an error, whoever ran it panicked; the
        // others were written; nobody waits for ever.
        for thread in threads {
            match thread.join() {
                Err(_) | Ok(Err(GateError::Store(_))) | Ok(Ok(Swap::Written)) => {}
                other => panic!("{other:?}"),
            }
        }
        assert!(store.load("doomed").unwrap().is_none());
        assert_eq!(decide(&commit, &store, "after", None), Ok(Swap::Written));
    }
}
