//! Invitations and approvals on the real stores (SQLite, and PostgreSQL when
//! `OTPGATE_TEST_POSTGRES_URL` is set): the links' rows round-trip, and of 16 threads, each
//! with its own connection, deciding one approval at once, exactly one decides it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod gate_support;
#[cfg(feature = "postgres")]
#[path = "gate_support/postgres.rs"]
mod pg;
#[path = "../../tests/support/mod.rs"]
mod support;

use std::sync::Barrier;

use gate_support::Env;
use otpcore::{Secret, Totp};
use otpgate::{ApprovalStatus, Database, Gate, GateError, LinkStore, Refusal, Status, Store};

const NOW: u64 = 1_700_000_000;
const RACERS: usize = 16;

/// Opens one more connection to the test database: a gate per thread.
trait Opener: Sync {
    fn open(&self) -> Gate<Database>;
}

struct Sqlite(Env);

impl Opener for Sqlite {
    fn open(&self) -> Gate<Database> {
        Gate::open_database(&self.0.db, None, true).unwrap()
    }
}

#[cfg(feature = "postgres")]
impl Opener for pg::Runner {
    fn open(&self) -> Gate<Database> {
        Gate::open_database(std::path::Path::new(&self.url), Some(&self.key_file), true).unwrap()
    }
}

/// A user enrolled through an invitation, and their phone.
fn invited<S: Store + LinkStore>(gate: &Gate<S>, user: &str) -> Totp {
    let invitation = gate.invite(user, "Deploy Portal", None, 600, NOW).unwrap();
    let link = invitation.token.as_str();
    let page = gate.invite_page(link, NOW).unwrap().expect("live link");
    let secret = Secret::from_bytes(page.enrollment.secret.as_bytes()).unwrap();
    let phone = Totp::new(&secret, gate.params()).unwrap();
    let first = phone.generate(NOW).unwrap().to_string();
    assert!(
        gate.confirm_invite(link, &first, NOW)
            .unwrap()
            .unwrap()
            .is_ok()
    );
    assert!(gate.invite_page(link, NOW).unwrap().is_none(), "used link");
    assert!(gate.confirm_invite(link, &first, NOW).unwrap().is_none());
    assert_eq!(gate.status(user).unwrap().status, Status::Active);
    phone
}

fn links_on(opener: &dyn Opener) {
    let mut gate = opener.open();
    let phone = invited(&gate, "alice");

    // Expired invitation on the store: dead.
    let late = gate.invite("bob", "otpgate", None, 60, NOW).unwrap();
    assert!(
        gate.invite_page(late.token.as_str(), NOW + 60)
            .unwrap()
            .is_none()
    );

    // An approval granted once, by one of 16 threads submitting the same right code.
    let at = NOW + 300;
    let request = gate
        .request_approval("alice", "deploy 1.4.2", Some("ci"), 600, at)
        .unwrap();
    let code = phone.generate(at).unwrap().to_string();
    let barrier = Barrier::new(RACERS);
    let outcomes: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..RACERS)
            .map(|_| {
                let (barrier, link, code) = (&barrier, request.token.as_str(), code.as_str());
                s.spawn(move || {
                    let mut gate = opener.open();
                    barrier.wait();
                    gate.approve(link, code, at).unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let granted = outcomes.iter().filter(|o| matches!(o, Some(Ok(_)))).count();
    assert_eq!(granted, 1, "{outcomes:?}");
    for outcome in &outcomes {
        assert!(
            matches!(outcome, Some(Ok(_)) | Some(Err(Refusal::Replayed)) | None),
            "{outcome:?}"
        );
    }
    let approval = gate.approval(&request.id, at).unwrap();
    assert_eq!(approval.status, ApprovalStatus::Granted);
    assert_eq!(approval.decided_at, Some(at));
    assert_eq!(approval.requester.as_deref(), Some("ci"));

    // Many deciders with different outcomes on one approval: one decides.
    let contested = gate
        .request_approval("alice", "deploy 1.4.3", None, 600, at)
        .unwrap();
    let barrier = Barrier::new(RACERS);
    let declined: usize = std::thread::scope(|s| {
        let handles: Vec<_> = (0..RACERS)
            .map(|_| {
                let (barrier, link) = (&barrier, contested.token.as_str());
                s.spawn(move || {
                    let gate = opener.open();
                    barrier.wait();
                    usize::from(gate.decline(link, at + 1).unwrap())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(declined, 1);
    assert_eq!(
        gate.approval(&contested.id, at + 2).unwrap().status,
        ApprovalStatus::Declined
    );

    // Expiry is part of the decision.
    let short = gate
        .request_approval("alice", "deploy 1.4.4", None, 30, at)
        .unwrap();
    let later = phone.generate(at + 30).unwrap().to_string();
    assert!(
        gate.approve(short.token.as_str(), &later, at + 30)
            .unwrap()
            .is_none()
    );
    assert_eq!(
        gate.approval(&short.id, at + 30).unwrap().status,
        ApprovalStatus::Expired
    );
    assert_eq!(
        gate.approval("0123", at).unwrap_err(),
        GateError::UnknownApproval
    );

    // The audit trail: one grant, one decline, with their actions.
    let log = gate.log(Some("alice"), 1000).unwrap();
    let decisions: Vec<_> = log
        .iter()
        .filter(|e| e.event == "approval")
        .map(|e| (e.outcome.as_str(), e.action.as_deref().unwrap_or("")))
        .collect();
    assert_eq!(
        decisions,
        [("granted", "deploy 1.4.2"), ("declined", "deploy 1.4.3")]
    );
    let accepted_checks = log
        .iter()
        .filter(|e| e.event == "check" && e.outcome == "accepted")
        .count();
    assert_eq!(accepted_checks, 1, "the code was accepted once");
    // The approval's check and grant name the requester.
    let grant = log.iter().find(|e| e.outcome == "granted").unwrap();
    assert_eq!(grant.actor.as_deref(), Some("ci"));
    let check = log
        .iter()
        .find(|e| e.event == "check" && e.outcome == "accepted")
        .unwrap();
    assert_eq!(check.actor.as_deref(), Some("ci"));
}

#[test]
fn links_on_sqlite() {
    links_on(&Sqlite(Env::new("links")));
}

#[cfg(feature = "postgres")]
#[test]
fn links_on_postgres() {
    let Some(admin) = pg::server_url() else {
        return;
    };
    let db = pg::Db::new(&admin, "links");
    links_on(&db.runner("links", db.url(None, false), false));
}
