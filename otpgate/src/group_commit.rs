//! Group commit: many connections' decisions in one transaction, one flush for the lot
//! ([`GroupCommit`], [`Grouped`]).

use std::collections::HashMap;
use std::mem;
use std::string::String;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::vec::Vec;

use super::link::{ApprovalKey, ApprovalRow, ApprovalState, InviteRow, LinkStore, TokenHash};
use super::{AuditEntry, AuditRecord, GateError, Store, Stored, Swap, SwapRequest};

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

/// Group commit: many connections' decisions in one transaction, one flush for the lot.
///
/// Every decision extends the one audit chain, so writers queue for the chain (SQLite's
/// one writer, PostgreSQL's advisory lock on the chain), each holding it through its
/// commit's flush: one flush per decision, one after the other, however many connections
/// decide at once. Gates that share a [`GroupCommit`] (each over its own connection,
/// wrapped in [`Grouped`]) queue their decisions instead: the decisions that arrive while
/// one commit is in flight wait for it, and the next of them to run commits them all in
/// one transaction ([`Store::compare_and_swap_all`]) on its own connection. Each decision
/// is still its own compare-and-swap (a conflict is that decision's alone), and each
/// caller gets its answer only after the commit that holds its write: nothing is answered
/// from memory.
///
/// This is what `otpgate serve` decides with, and what a Rust program deciding on many
/// threads at once (one gate per thread) can use the same way:
///
/// ```
/// use std::sync::Arc;
/// use otpgate::{Gate, GroupCommit, Grouped, MemoryStore, ServerKey};
///
/// let store = MemoryStore::new();
/// let key = [7; 32]; // in a real program, the key file's
/// let group = Arc::new(GroupCommit::default());
/// std::thread::scope(|s| {
///     let threads: Vec<_> = (0..4)
///         .map(|i| {
///             let (store, group) = (&store, Arc::clone(&group));
///             s.spawn(move || {
///                 // One gate (in a real program: one connection) per thread, one group.
///                 let gate = Gate::open(Grouped::new(store, group), ServerKey::from_bytes(key))?;
///                 gate.enroll(&format!("user{i}"), "Deploy Portal", 1_700_000_000)?;
///                 Ok::<(), otpgate::GateError>(())
///             })
///         })
///         .collect();
///     threads.into_iter().try_for_each(|t| t.join().expect("no panic"))
/// })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Every store sharing a group must be a connection to the same database: a group's
/// decisions are written on whichever of them commits. A group holds only decisions made
/// under one server key (the committing connection checks its own key against the
/// database's, as each connection does for its own decisions), so after a key rotation the
/// gates still on the old key commit among themselves, and fail as they would alone. A
/// store in the middle of a transaction of its caller's ([`SqliteStore::batch`]) decides
/// alone, inside that transaction, and never commits other callers' decisions.
///
/// Not guaranteed: fewer flushes when decisions do not overlap in time (a group is
/// whatever queued while the previous commit ran), nor any order among one group's
/// decisions but the order they queued in. Where a group is one transaction (SQLite,
/// PostgreSQL), one store error fails the whole group: every decision in it is answered
/// with the error, and none of them was written (or, when the answer to the commit itself
/// was lost, perhaps all of them: a code then spent without an acceptance).
///
/// [`SqliteStore::batch`]: crate::SqliteStore::batch
#[derive(Default)]
pub struct GroupCommit {
    queue: Mutex<Queue>,
    answered: Condvar,
}

impl GroupCommit {
    /// Decides `swap`, in one transaction with the decisions queued beside it: `commit` (on
    /// the caller's own connection: [`Store::compare_and_swap_all`]) runs that transaction
    /// when the caller is the first to find no commit in flight.
    fn swap(
        &self,
        swap: SwapRequest<'_>,
        commit: impl FnOnce(&[SwapRequest<'_>]) -> Vec<Result<Swap, GateError>>,
    ) -> Result<Swap, GateError> {
        let mut commit = Some(commit);
        // The gate's key: a group holds only decisions made under one key.
        let key = swap.audit.key.clone();
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
            // The committer's connection checks its own key against the database's (a key
            // rotated meanwhile fails the write): decisions made under another key wait
            // for a committer of their own.
            let (pending, others) = mem::take(&mut queue.waiting)
                .into_iter()
                .partition(|pending| pending.audit.key == key);
            queue.waiting = others;
            let batch = Batch {
                commit: self,
                pending,
                answers: None,
            };
            drop(queue);
            // Only once: the caller who commits finds its own answer next time round.
            if let Some(commit) = commit.take() {
                batch.run(commit);
            }
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
    fn run(mut self, commit: impl FnOnce(&[SwapRequest<'_>]) -> Vec<Result<Swap, GateError>>) {
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
        self.answers = Some(commit(&requests));
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

/// A store whose decisions are committed in groups with those of every other store that
/// shares its [`GroupCommit`] (connections to one database: see there); everything else
/// goes straight to the store.
pub struct Grouped<S> {
    store: S,
    group: Arc<GroupCommit>,
}

impl<S> Grouped<S> {
    /// `store` (a connection of its own) deciding with `group`.
    pub fn new(store: S, group: Arc<GroupCommit>) -> Self {
        Grouped { store, group }
    }

    /// The store itself, for what the gate does not do (tokens, say).
    pub fn inner(&self) -> &S {
        &self.store
    }
}

impl<S: Store> Store for Grouped<S> {
    fn load(&self, user: &str) -> Result<Option<Stored>, GateError> {
        self.store.load(user)
    }

    fn compare_and_swap(
        &self,
        user: &str,
        expected: Option<u64>,
        sealed: &[u8],
        audit: &AuditEntry,
    ) -> Result<Swap, GateError> {
        if !self.store.commits_on_return() {
            // Inside the caller's own transaction: not durable before it commits, so never
            // another caller's answer.
            return self.store.compare_and_swap(user, expected, sealed, audit);
        }
        let swap = SwapRequest {
            user,
            expected,
            sealed,
            audit,
        };
        self.group
            .swap(swap, |all| self.store.compare_and_swap_all(all))
    }

    /// Already a group: committed together, as the store commits them.
    fn compare_and_swap_all(&self, swaps: &[SwapRequest<'_>]) -> Vec<Result<Swap, GateError>> {
        self.store.compare_and_swap_all(swaps)
    }

    fn commits_on_return(&self) -> bool {
        self.store.commits_on_return()
    }

    fn key_check(&self) -> Result<Option<Vec<u8>>, GateError> {
        self.store.key_check()
    }

    fn init_key_check(&self, check: &[u8]) -> Result<Vec<u8>, GateError> {
        self.store.init_key_check(check)
    }

    fn audit_log(&self, user: Option<&str>, limit: usize) -> Result<Vec<AuditRecord>, GateError> {
        self.store.audit_log(user, limit)
    }

    fn audit_chain_start(&self) -> Result<i64, GateError> {
        self.store.audit_chain_start()
    }
}

/// Links go straight to the store: an approval's decision (which appends to the audit
/// trail too, queued with the groups for the trail's lock) has no grouped form, and
/// approvals come at the pace of people.
impl<S: LinkStore> LinkStore for Grouped<S> {
    fn insert_invite(&self, invite: &InviteRow) -> Result<(), GateError> {
        self.store.insert_invite(invite)
    }

    fn find_invite(&self, token_hash: &TokenHash) -> Result<Option<InviteRow>, GateError> {
        self.store.find_invite(token_hash)
    }

    fn use_invite(&self, token_hash: &TokenHash, now: u64) -> Result<bool, GateError> {
        self.store.use_invite(token_hash, now)
    }

    fn insert_approval(&self, approval: &ApprovalRow) -> Result<(), GateError> {
        self.store.insert_approval(approval)
    }

    fn find_approval(&self, key: ApprovalKey<'_>) -> Result<Option<ApprovalRow>, GateError> {
        self.store.find_approval(key)
    }

    fn decide_approval(
        &self,
        id: &str,
        state: ApprovalState,
        now: u64,
        audit: &AuditEntry,
    ) -> Result<Swap, GateError> {
        self.store.decide_approval(id, state, now, audit)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::thread;
    use std::time::Duration;

    use crate::{MemoryStore, ServerKey};

    use super::*;

    /// A store, and how many commits it was given.
    #[derive(Default)]
    struct Counted {
        store: MemoryStore,
        commits: AtomicUsize,
    }

    /// Decides a new `user` through `commit`, under one key, or another for a user whose
    /// name starts with "other". A commit that holds "doomed" panics, and so does one that
    /// holds decisions under two keys; the first commit waits until `together` decisions
    /// are in it or queued behind it, so that the next one finds them all queued, however
    /// the threads were scheduled.
    fn decide(
        commit: &GroupCommit,
        counted: &Counted,
        user: &str,
        together: usize,
    ) -> Result<Swap, GateError> {
        let audit = AuditEntry {
            time: 1,
            user: user.to_owned(),
            event: "check",
            action: None,
            outcome: "accepted",
            drift: None,
            actor: None,
            key: ServerKey::from_bytes([u8::from(user.starts_with("other")); 32]).audit_key(),
        };
        let swap = SwapRequest {
            user,
            expected: None,
            sealed: b"sealed",
            audit: &audit,
        };
        commit.swap(swap, |all| {
            if counted.commits.fetch_add(1, Ordering::SeqCst) == 0 {
                while all.len().saturating_add(commit.lock().waiting.len()) < together {
                    thread::sleep(Duration::from_millis(1));
                }
            }
            if all.iter().any(|swap| swap.user == "doomed") {
                panic!("the store failed");
            }
            if all.iter().any(|swap| swap.audit.key != audit.key) {
                panic!("a group under two keys");
            }
            counted.store.compare_and_swap_all(all)
        })
    }

    /// Decides `users` on threads of their own, then one more: the answers, joined.
    fn concurrently(
        users: Vec<String>,
        together: usize,
    ) -> (Arc<Counted>, Vec<thread::Result<Result<Swap, GateError>>>) {
        let commit = Arc::new(GroupCommit::default());
        let counted = Arc::new(Counted::default());
        let threads: Vec<_> = users
            .into_iter()
            .map(|user| {
                let (commit, counted) = (Arc::clone(&commit), Arc::clone(&counted));
                thread::spawn(move || decide(&commit, &counted, &user, together))
            })
            .collect();
        let answers = threads.into_iter().map(thread::JoinHandle::join).collect();
        assert_eq!(decide(&commit, &counted, "after", 0), Ok(Swap::Written));
        (counted, answers)
    }

    #[test]
    fn concurrent_decisions_share_commits_and_each_gets_its_own_answer() {
        // Every user twice: of each pair one is written, the other conflicts.
        let users = (0..32).map(|i| format!("user{}", i / 2)).collect();
        let (counted, answers) = concurrently(users, 32);
        let written = answers
            .into_iter()
            .filter(|answer| matches!(answer, Ok(Ok(Swap::Written))))
            .count();
        assert_eq!(written, 16);
        for i in 0..16 {
            assert_eq!(
                counted
                    .store
                    .load(&format!("user{i}"))
                    .unwrap()
                    .unwrap()
                    .version,
                1
            );
        }
        // The first commit, one for all that queued behind it, one for "after".
        assert_eq!(counted.commits.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn decisions_under_another_key_are_committed_apart() {
        let users = (0..16)
            .map(|i| match i % 2 {
                0 => format!("user{i}"),
                _ => format!("other{i}"),
            })
            .collect();
        let (counted, answers) = concurrently(users, 16);
        for answer in answers {
            assert!(matches!(answer, Ok(Ok(Swap::Written))), "{answer:?}");
        }
        // Whichever key the first commit was under, the other's decisions needed at least one
        // commit of their own, and the last decision one more.
        assert!(counted.commits.load(Ordering::SeqCst) >= 3);
    }

    #[test]
    fn a_commit_that_panics_answers_its_whole_group_and_the_next_commit_runs() {
        let users = ["doomed", "a", "b", "c", "d", "e", "f", "g"]
            .map(String::from)
            .to_vec();
        let (counted, answers) = concurrently(users, 0);
        // Whoever shared a group with "doomed" got an error, whoever committed it panicked,
        // the others were written, nobody waits for ever, and a decision after it is
        // committed (in `concurrently`).
        for answer in answers {
            match answer {
                Err(_) | Ok(Err(GateError::Store(_)) | Ok(Swap::Written)) => {}
                other => panic!("{other:?}"),
            }
        }
        assert!(counted.store.load("doomed").unwrap().is_none());
    }
}
