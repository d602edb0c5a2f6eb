//! The gate's flow over the in-memory store: enrollment, confirmation, checks, recovery,
//! administration, conflicting writers, and every tampering the seal must catch.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use std::sync::atomic::{AtomicBool, Ordering};

use otpcore::{Error, Totp};
use otpgate::{
    AuditEntry, AuditRecord, Gate, GateError, MemoryStore, Refusal, ServerKey, Status, Store,
    Stored, Swap,
};

const T: u64 = 1_700_000_010;

fn key(byte: u8) -> ServerKey {
    ServerKey::from_bytes([byte; 32])
}

/// A gate with `user` enrolled; the phone's TOTP to compute codes.
fn enrolled<'s>(store: &'s MemoryStore, user: &str) -> (Gate<&'s MemoryStore>, Totp) {
    let gate = Gate::open(store, key(1)).unwrap();
    let enrollment = gate.enroll(user, "Deploy Portal", T).unwrap();
    assert!(
        enrollment
            .uri
            .starts_with("otpauth://totp/Deploy%20Portal:")
    );
    let phone = Totp::new(&enrollment.secret, gate.params()).unwrap();
    (gate, phone)
}

fn code(phone: &Totp, at: u64) -> String {
    phone.generate(at).unwrap().to_string()
}

fn active<'s>(store: &'s MemoryStore, user: &str) -> (Gate<&'s MemoryStore>, Totp, Vec<String>) {
    let (gate, phone) = enrolled(store, user);
    let codes = gate.confirm(user, &code(&phone, T), T).unwrap().unwrap();
    let codes = codes.iter().map(|c| c.as_str().to_owned()).collect();
    (gate, phone, codes)
}

#[test]
fn a_pending_user_passes_nothing_until_confirmed() {
    let store = MemoryStore::new();
    let (gate, phone) = enrolled(&store, "alice");
    assert_eq!(gate.status("alice").unwrap().status, Status::Pending);
    assert_eq!(
        gate.check("alice", &code(&phone, T), None, T).unwrap(),
        Err(Refusal::NotConfirmed)
    );
    assert_eq!(
        gate.confirm("alice", "000000", T).unwrap().unwrap_err(),
        Refusal::Wrong
    );
    let codes = gate.confirm("alice", &code(&phone, T), T).unwrap().unwrap();
    assert_eq!(codes.len(), 10);
    let status = gate.status("alice").unwrap();
    assert_eq!(status.status, Status::Active);
    assert_eq!(status.recovery_codes_left, 10);
    assert_eq!(
        gate.confirm("alice", &code(&phone, T + 30), T + 30)
            .unwrap()
            .unwrap_err(),
        Refusal::AlreadyConfirmed
    );
}

#[test]
fn a_code_passes_once_and_the_confirming_code_not_again() {
    let store = MemoryStore::new();
    let (gate, phone, _) = active(&store, "alice");
    assert_eq!(
        gate.check("alice", &code(&phone, T), None, T + 1).unwrap(),
        Err(Refusal::Replayed)
    );
    let fresh = code(&phone, T + 30);
    let accepted = gate.check("alice", &fresh, Some("deploy"), T + 30).unwrap();
    assert_eq!(accepted.unwrap().drift, 0);
    assert_eq!(
        gate.check("alice", &fresh, Some("deploy"), T + 31).unwrap(),
        Err(Refusal::Replayed)
    );
    assert_eq!(
        gate.check("alice", "999999", None, T + 32).unwrap(),
        Err(Refusal::Wrong)
    );
    assert_eq!(
        gate.check("alice", "12", None, T + 33).unwrap(),
        Err(Refusal::Refused(Error::CodeWrongLength))
    );
}

#[test]
fn every_decision_is_in_the_audit_trail_with_its_action_and_drift() {
    let store = MemoryStore::new();
    let (gate, phone, _) = active(&store, "alice");
    gate.check("alice", &code(&phone, T + 60), Some("deploy 1.4.2"), T + 30)
        .unwrap()
        .unwrap();
    gate.check("alice", "000000", None, T + 31)
        .unwrap()
        .unwrap_err();
    let log: Vec<(String, String, Option<i64>)> = gate
        .log(Some("alice"), 10)
        .unwrap()
        .into_iter()
        .map(|e: AuditRecord| (e.event, e.outcome, e.drift))
        .collect();
    let expected = [
        ("enroll", "pending", None),
        ("confirm", "accepted", Some(0)),
        ("check", "accepted", Some(1)),
        ("check", "wrong", None),
    ];
    let expected: Vec<(String, String, Option<i64>)> = expected
        .iter()
        .map(|(e, o, d)| (e.to_string(), o.to_string(), *d))
        .collect();
    assert_eq!(log, expected);
    assert_eq!(
        gate.log(None, 1).unwrap()[0].action,
        None,
        "the latest entry only"
    );
    let entries = gate.log(Some("alice"), 10).unwrap();
    assert_eq!(entries[2].action.as_deref(), Some("deploy 1.4.2"));
}

#[test]
fn wrong_codes_throttle_and_an_admin_reset_clears_it() {
    let store = MemoryStore::new();
    let (gate, phone, _) = active(&store, "alice");
    let mut now = T + 30;
    let retry_at = loop {
        match gate.check("alice", "000000", None, now).unwrap() {
            Err(Refusal::Wrong) => now += 1,
            Err(Refusal::Throttled { retry_at, retry_in }) => {
                assert_eq!(retry_at - now, retry_in);
                break retry_at;
            }
            other => panic!("{other:?}"),
        }
        assert!(now < T + 200, "never throttled");
    };
    assert!(gate.status("alice").unwrap().locked_until >= retry_at);
    let right = code(&phone, now);
    assert!(matches!(
        gate.check("alice", &right, None, now).unwrap(),
        Err(Refusal::Throttled { .. })
    ));
    gate.reset("alice", now).unwrap();
    assert_eq!(gate.status("alice").unwrap().failures, 0);
    assert!(gate.check("alice", &right, None, now).unwrap().is_ok());
}

#[test]
fn the_hard_stop_refuses_every_code_until_a_recovery_code() {
    let store = MemoryStore::new();
    let (gate, phone, codes) = active(&store, "alice");
    // An attacker who waits out every lockout reaches the hard stop.
    let mut now = T + 30;
    let mut guesses = 0;
    loop {
        match gate.check("alice", "000000", None, now).unwrap() {
            Err(Refusal::Wrong) => guesses += 1,
            Err(Refusal::Throttled { retry_at, .. }) => now = retry_at,
            Err(Refusal::LockedOut) => break,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(guesses, otpcore::Throttle::default().hard_stop_after);
    assert_eq!(Refusal::LockedOut.label(), "locked-out");
    // Days later even the right code is refused unchecked...
    let later = now + 7 * 86_400;
    assert_eq!(
        gate.check("alice", &code(&phone, later), None, later)
            .unwrap(),
        Err(Refusal::LockedOut)
    );
    // ...but a recovery code gets the user out, and codes pass again.
    assert!(
        gate.recover("alice", &codes[0], None, later)
            .unwrap()
            .is_ok()
    );
    assert_eq!(gate.status("alice").unwrap().failures, 0);
    let next = later + 30;
    assert!(
        gate.check("alice", &code(&phone, next), None, next)
            .unwrap()
            .is_ok()
    );
}

#[test]
fn a_recovery_code_works_once_and_new_codes_replace_the_old() {
    let store = MemoryStore::new();
    let (gate, phone, codes) = active(&store, "alice");
    let recovered = gate.recover("alice", &codes[3], None, T + 1).unwrap();
    assert_eq!(recovered.unwrap().remaining, 9);
    assert_eq!(
        gate.recover("alice", &codes[3], None, T + 2).unwrap(),
        Err(Refusal::RecoveryCodeUsed)
    );
    assert_eq!(
        gate.recover("alice", "aaaa-aaaa-aaaa-aaaa", None, T + 3)
            .unwrap(),
        Err(Refusal::UnknownRecoveryCode)
    );
    assert_eq!(
        gate.new_recovery_codes("alice", "000000", T + 30)
            .unwrap()
            .unwrap_err(),
        Refusal::Wrong
    );
    let new = gate
        .new_recovery_codes("alice", &code(&phone, T + 30), T + 30)
        .unwrap()
        .unwrap();
    assert_eq!(gate.status("alice").unwrap().recovery_codes_left, 10);
    assert_eq!(
        gate.recover("alice", &codes[4], None, T + 31).unwrap(),
        Err(Refusal::UnknownRecoveryCode)
    );
    assert!(
        gate.recover("alice", new[4].as_str(), None, T + 32)
            .unwrap()
            .is_ok()
    );
}

/// A code typed as apps show it, `123 456`, passes like `123456` (the README says so); a
/// leading or trailing space is malformed: refused, not counted.
#[test]
fn a_code_with_an_inner_space_passes_and_an_outer_space_is_malformed() {
    let store = MemoryStore::new();
    let (gate, phone, _) = active(&store, "alice");
    let fresh = code(&phone, T + 30);
    for typed in [format!(" {fresh}"), format!("{fresh} ")] {
        assert_eq!(
            gate.check("alice", &typed, None, T + 30).unwrap(),
            Err(Refusal::Refused(Error::CodeInvalidCharacter))
        );
    }
    assert_eq!(gate.status("alice").unwrap().failures, 0);
    let grouped = format!("{} {}", &fresh[..3], &fresh[3..]);
    assert!(gate.check("alice", &grouped, None, T + 30).unwrap().is_ok());
}

/// A used recovery code tried again is refused as used and never counted (five tries used
/// to lock the user out); a code that is not the user's still counts.
#[test]
fn a_used_recovery_code_tried_again_never_locks_the_user_out() {
    let store = MemoryStore::new();
    let (gate, phone, codes) = active(&store, "alice");
    assert!(
        gate.recover("alice", &codes[0], None, T + 1)
            .unwrap()
            .is_ok()
    );
    for i in 0..25 {
        assert_eq!(
            gate.recover("alice", &codes[0], None, T + 2 + i).unwrap(),
            Err(Refusal::RecoveryCodeUsed)
        );
    }
    assert_eq!(gate.status("alice").unwrap().failures, 0);
    assert!(
        gate.check("alice", &code(&phone, T + 30), None, T + 30)
            .unwrap()
            .is_ok()
    );
    assert_eq!(
        gate.recover("alice", "aaaa-aaaa-aaaa-aaaa", None, T + 31)
            .unwrap(),
        Err(Refusal::UnknownRecoveryCode)
    );
    assert_eq!(gate.status("alice").unwrap().failures, 1);
}

#[test]
fn enrollment_never_replaces_an_active_user_and_disable_turns_the_gate_off() {
    let store = MemoryStore::new();
    let (gate, phone, _) = active(&store, "alice");
    assert!(matches!(
        gate.enroll("alice", "x", T + 1),
        Err(GateError::AlreadyEnrolled)
    ));
    gate.disable("alice", T + 2).unwrap();
    assert_eq!(
        gate.check("alice", &code(&phone, T + 30), None, T + 30)
            .unwrap(),
        Err(Refusal::Disabled)
    );
    let again = gate.enroll("alice", "x", T + 40).unwrap();
    let new_phone = Totp::new(&again.secret, gate.params()).unwrap();
    assert_eq!(gate.status("alice").unwrap().status, Status::Pending);
    assert!(
        gate.confirm("alice", &code(&new_phone, T + 60), T + 60)
            .unwrap()
            .is_ok()
    );
    assert_eq!(
        gate.check("alice", &code(&phone, T + 90), None, T + 90)
            .unwrap(),
        Err(Refusal::Wrong),
        "the old secret is gone"
    );
}

#[test]
fn unknown_and_invalid_users_are_errors_not_enrollments() {
    let store = MemoryStore::new();
    let gate = Gate::open(&store, key(1)).unwrap();
    assert!(matches!(
        gate.check("nobody", "123456", None, T),
        Err(GateError::UnknownUser)
    ));
    assert!(matches!(gate.status("nobody"), Err(GateError::UnknownUser)));
    assert!(store.load("nobody").unwrap().is_none(), "nothing enrolled");
    for bad in ["", "a\nb", &"x".repeat(129)] {
        assert!(matches!(
            gate.check(bad, "123456", None, T),
            Err(GateError::InvalidUser)
        ));
    }
}

#[test]
fn a_wrong_server_key_is_refused_before_any_record_is_read() {
    let store = MemoryStore::new();
    let _ = active(&store, "alice");
    assert!(matches!(
        Gate::open(&store, key(2)),
        Err(GateError::WrongServerKey)
    ));
}

#[test]
fn tampered_records_fail_closed() {
    let store = MemoryStore::new();
    let (gate, phone, _) = active(&store, "alice");
    let _ = active(&store, "bob");
    let alice_before = store.load("alice").unwrap().unwrap();
    gate.check("alice", &code(&phone, T + 30), None, T + 30)
        .unwrap()
        .unwrap();
    let alice = store.load("alice").unwrap().unwrap();
    let bob = store.load("bob").unwrap().unwrap();
    let fresh = code(&phone, T + 60);
    let attempts = [
        // Bob's sealed record (and secret) under Alice's name.
        Stored {
            version: alice.version,
            sealed: bob.sealed.clone(),
        },
        // Alice's older record (before the accepted step) under the current version.
        Stored {
            version: alice.version,
            sealed: alice_before.sealed.clone(),
        },
        // One bit of the ciphertext flipped.
        Stored {
            version: alice.version,
            sealed: {
                let mut s = alice.sealed.clone();
                s[40] ^= 1;
                s
            },
        },
    ];
    for stored in attempts {
        store.overwrite("alice", stored).unwrap();
        assert_eq!(
            gate.check("alice", &fresh, None, T + 60),
            Err(GateError::RecordTampered)
        );
        assert_eq!(gate.status("alice").unwrap_err(), GateError::RecordTampered);
    }
    store
        .overwrite(
            "alice",
            Stored {
                version: alice.version,
                sealed: vec![1, 2, 3],
            },
        )
        .unwrap();
    assert_eq!(
        gate.check("alice", &fresh, None, T + 60),
        Err(GateError::RecordCorrupt)
    );
    assert!(matches!(
        gate.enroll("alice", "x", T + 60),
        Err(GateError::RecordCorrupt)
    ));
}

/// A store whose next swap loses to a write slipped in just before it: what another process
/// deciding at the same moment looks like.
struct Racing<'a> {
    inner: &'a MemoryStore,
    rival: &'a dyn Fn(),
    raced: AtomicBool,
}

impl Store for Racing<'_> {
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
        if !self.raced.swap(true, Ordering::SeqCst) {
            (self.rival)();
        }
        self.inner.compare_and_swap(user, expected, sealed, audit)
    }
    fn key_check(&self) -> Result<Option<Vec<u8>>, GateError> {
        self.inner.key_check()
    }
    fn init_key_check(&self, check: &[u8]) -> Result<Vec<u8>, GateError> {
        self.inner.init_key_check(check)
    }
    fn audit_log(&self, user: Option<&str>, limit: usize) -> Result<Vec<AuditRecord>, GateError> {
        self.inner.audit_log(user, limit)
    }

    fn audit_chain_start(&self) -> Result<i64, GateError> {
        self.inner.audit_chain_start()
    }
}

#[test]
fn a_conflicting_check_reads_again_and_sees_the_code_used() {
    let store = MemoryStore::new();
    let (gate, phone, _) = active(&store, "alice");
    let fresh = code(&phone, T + 30);
    let rival = || {
        let accepted = gate.check("alice", &fresh, None, T + 30).unwrap();
        assert!(accepted.is_ok(), "the rival wins");
    };
    let racing = Racing {
        inner: &store,
        rival: &rival,
        raced: AtomicBool::new(false),
    };
    let loser = Gate::open(&racing, key(1)).unwrap();
    assert_eq!(
        loser.check("alice", &fresh, None, T + 30).unwrap(),
        Err(Refusal::Replayed)
    );
    let outcomes: Vec<String> = gate
        .log(Some("alice"), 10)
        .unwrap()
        .into_iter()
        .map(|e| e.outcome)
        .collect();
    assert_eq!(outcomes, ["pending", "accepted", "accepted", "replayed"]);
}

#[test]
fn a_conflicting_confirmation_returns_no_recovery_codes() {
    let store = MemoryStore::new();
    let (gate, phone) = enrolled(&store, "alice");
    let first = code(&phone, T);
    let rival = || assert!(gate.confirm("alice", &first, T).unwrap().is_ok());
    let racing = Racing {
        inner: &store,
        rival: &rival,
        raced: AtomicBool::new(false),
    };
    let loser = Gate::open(&racing, key(1)).unwrap();
    assert_eq!(
        loser.confirm("alice", &first, T).unwrap().unwrap_err(),
        Refusal::AlreadyConfirmed
    );
}

#[test]
fn replays_of_a_used_code_are_refused_without_locking_the_user_out() {
    let store = MemoryStore::new();
    let (gate, phone, _) = active(&store, "alice");
    let fresh = code(&phone, T + 30);
    assert!(gate.check("alice", &fresh, None, T + 30).unwrap().is_ok());
    for i in 0..20 {
        assert_eq!(
            gate.check("alice", &fresh, None, T + 31 + i).unwrap(),
            Err(Refusal::Replayed)
        );
    }
    assert_eq!(gate.status("alice").unwrap().failures, 0);
    assert!(
        gate.check("alice", &code(&phone, T + 60), None, T + 60)
            .unwrap()
            .is_ok()
    );
    // Wrong codes still count.
    gate.check("alice", "000000", None, T + 61)
        .unwrap()
        .unwrap_err();
    assert_eq!(gate.status("alice").unwrap().failures, 1);
}

#[test]
fn an_issuer_too_long_for_a_qr_code_is_refused_before_anything_is_written() {
    let store = MemoryStore::new();
    let gate = Gate::open(&store, key(1)).unwrap();
    // 200 characters, each percent-encoded to 12 bytes, twice in the URI.
    let faces = "\u{1F600}".repeat(200);
    assert!(matches!(
        gate.enroll("alice", &faces, T),
        Err(GateError::InvalidIssuer)
    ));
    assert!(store.load("alice").unwrap().is_none());
    // The longest issuer of letters still draws.
    let enrollment = gate.enroll("alice", &"é".repeat(200), T).unwrap();
    otpgate::qr_svg_image(&enrollment.uri).unwrap();
}
