//! An in-memory [`Store`] for tests and the demo: one mutex around everything, so every
//! compare-and-swap is trivially atomic. Nothing survives the process.

use std::collections::HashMap;
use std::string::String;
use std::sync::{Mutex, MutexGuard};
use std::vec::Vec;

use super::link::{ApprovalKey, ApprovalRow, ApprovalState, InviteRow, LinkStore, TokenHash};
use super::{AuditEntry, AuditRecord, GateError, Store, Stored, Swap, next_version};

#[derive(Default)]
struct Inner {
    users: HashMap<String, Stored>,
    audit: Vec<AuditRecord>,
    key_check: Option<Vec<u8>>,
    invites: HashMap<TokenHash, InviteRow>,
    approvals: Vec<ApprovalRow>,
}

impl Inner {
    fn append(&mut self, audit: &AuditEntry) -> Result<(), GateError> {
        let id = i64::try_from(self.audit.len())
            .map_err(|_| GateError::Store(String::from("audit trail full")))?;
        let mac = audit.mac(self.audit.last().and_then(|e| e.mac.as_deref()));
        self.audit.push(AuditRecord {
            id,
            time: audit.time,
            user: audit.user.clone(),
            event: String::from(audit.event),
            action: audit.action.clone(),
            outcome: String::from(audit.outcome),
            drift: audit.drift,
            actor: audit.actor.clone(),
            mac: Some(mac),
        });
        Ok(())
    }
}

/// A [`Store`] in memory, shared between threads.
#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    fn lock(&self) -> Result<MutexGuard<'_, Inner>, GateError> {
        self.inner
            .lock()
            .map_err(|_| GateError::Store(String::from("memory store poisoned")))
    }

    /// Replaces a user's stored record as it is, bypassing the compare-and-swap: what an
    /// attacker with write access to the database can do. For tests of tamper detection.
    pub fn overwrite(&self, user: &str, stored: Stored) -> Result<(), GateError> {
        self.lock()?.users.insert(String::from(user), stored);
        Ok(())
    }
}

impl Store for MemoryStore {
    fn load(&self, user: &str) -> Result<Option<Stored>, GateError> {
        Ok(self.lock()?.users.get(user).cloned())
    }

    fn compare_and_swap(
        &self,
        user: &str,
        expected: Option<u64>,
        sealed: &[u8],
        audit: &AuditEntry,
    ) -> Result<Swap, GateError> {
        let mut inner = self.lock()?;
        if inner.users.get(user).map(|s| s.version) != expected {
            return Ok(Swap::Conflict);
        }
        let stored = Stored {
            version: next_version(expected),
            sealed: sealed.to_vec(),
        };
        inner.users.insert(String::from(user), stored);
        inner.append(audit)?;
        Ok(Swap::Written)
    }

    fn key_check(&self) -> Result<Option<Vec<u8>>, GateError> {
        Ok(self.lock()?.key_check.clone())
    }

    fn init_key_check(&self, check: &[u8]) -> Result<Vec<u8>, GateError> {
        Ok(self
            .lock()?
            .key_check
            .get_or_insert_with(|| check.to_vec())
            .clone())
    }

    /// Ids start at 0 here, and every row has a MAC.
    fn audit_chain_start(&self) -> Result<i64, GateError> {
        Ok(-1)
    }

    fn audit_log(&self, user: Option<&str>, limit: usize) -> Result<Vec<AuditRecord>, GateError> {
        let inner = self.lock()?;
        let mut entries: Vec<AuditRecord> = inner
            .audit
            .iter()
            .rev()
            .filter(|e| user.is_none_or(|u| e.user == u))
            .take(limit)
            .cloned()
            .collect();
        entries.reverse();
        Ok(entries)
    }
}

impl LinkStore for MemoryStore {
    fn insert_invite(&self, invite: &InviteRow) -> Result<(), GateError> {
        self.lock()?
            .invites
            .insert(invite.token_hash, invite.clone());
        Ok(())
    }

    fn find_invite(&self, token_hash: &TokenHash) -> Result<Option<InviteRow>, GateError> {
        Ok(self.lock()?.invites.get(token_hash).cloned())
    }

    fn use_invite(&self, token_hash: &TokenHash, now: u64) -> Result<bool, GateError> {
        let mut inner = self.lock()?;
        match inner.invites.get_mut(token_hash) {
            Some(invite) if invite.used.is_none() => {
                invite.used = Some(now);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn insert_approval(&self, approval: &ApprovalRow) -> Result<(), GateError> {
        self.lock()?.approvals.push(approval.clone());
        Ok(())
    }

    fn find_approval(&self, key: ApprovalKey<'_>) -> Result<Option<ApprovalRow>, GateError> {
        Ok(self
            .lock()?
            .approvals
            .iter()
            .find(|a| match key {
                ApprovalKey::Id(id) => a.id == id,
                ApprovalKey::Token(hash) => a.token_hash == *hash,
            })
            .cloned())
    }

    fn decide_approval(
        &self,
        id: &str,
        state: ApprovalState,
        now: u64,
        audit: &AuditEntry,
    ) -> Result<Swap, GateError> {
        let mut inner = self.lock()?;
        let Some(approval) = inner
            .approvals
            .iter_mut()
            .find(|a| a.id == id && a.state == ApprovalState::Pending && now < a.expires)
        else {
            return Ok(Swap::Conflict);
        };
        approval.state = state;
        approval.decided = Some(now);
        inner.append(audit)?;
        Ok(Swap::Written)
    }
}
