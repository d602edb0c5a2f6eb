#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing
)]
//! The approval round trip of issue 17 with a native client: `otpgate serve` (SQLite, a
//! real process on an ephemeral loopback port) and, per round, `BATCHES` batches of 32
//! concurrent approvals, each made as a pipeline and a browser make it: `POST
//! /v1/approvals`, a waiter long-polling `GET /v1/approvals/{id}?wait=20`, the approval
//! page loaded for its CSRF token and the code posted through its form. The round trip is
//! the time from the create to the waiter's answer (`granted`: every approval is a user of
//! its own with a fresh code). `service_load.py` measures the same with a Python client,
//! whose own CPU time (as much as the service's per approval) is then in the figures.
//!
//! `cargo bench -p otpgate --features serve --bench approvals` (`REPEATS` rounds, 5;
//! `BATCHES`, 4; `CONNECTIONS`, the service's `--connections`, 4); BENCHMARKS.md has the
//! figures.

#[path = "../tests/gate_support/mod.rs"]
mod gate_support;
#[path = "../tests/service_support/mod.rs"]
mod service_support;
#[path = "../../tests/support/mod.rs"]
mod support;

use std::sync::Barrier;
use std::time::{Duration, Instant};

use gate_support::{Env, code, step_now};
use serde_json::{Value, json};
use service_support::{Backend, Service};

const CLIENTS: usize = 32;

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// An HTTP client of its own (a connection of its own, as a browser or a pipeline has).
fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

fn json_answer(mut response: ureq::http::Response<ureq::Body>) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap();
    (status, serde_json::from_str(&text).unwrap())
}

/// Milliseconds since `started` at which the approval was created, its page loaded, the
/// code answered, and the waiter released (the round trip).
type Phases = [f64; 4];

/// One of the 32 concurrent pipelines, with the browser that approves its requests and the
/// waiter that long-polls them: threads and connections made once per round and kept
/// alive, as the pipeline's, the browser's and the waiter's own would be, so the figures
/// hold the service's time and not thread starts.
struct Slot<'a> {
    service: &'a Service,
    bearer: String,
    pipeline: ureq::Agent,
    browser: ureq::Agent,
    /// Approval ids to the waiter, and its release times back.
    to_waiter: std::sync::mpsc::Sender<String>,
    released: std::sync::mpsc::Receiver<Instant>,
}

impl Slot<'_> {
    fn round_trip(&self, user: &str, code: &str, start: &Barrier) -> Phases {
        start.wait();
        let started = Instant::now();
        let ms = |at: Instant| (at - started).as_secs_f64() * 1e3;
        let (status, created) = json_answer(
            self.pipeline
                .post(format!("{}/v1/approvals", self.service.url))
                .header("Authorization", &self.bearer)
                .send_json(json!({ "user": user, "action": format!("deploy {user}") }))
                .unwrap(),
        );
        assert_eq!(status, 200, "{created}");
        let created_at = Instant::now();
        self.to_waiter
            .send(created["id"].as_str().unwrap().to_owned())
            .unwrap();
        let link = created["link"].as_str().unwrap();
        let path = &link[link.find("/approve/").unwrap()..];
        let page = self
            .browser
            .get(format!("{}{path}", self.service.url))
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap();
        let csrf = page
            .split_once(r#"name="csrf" value=""#)
            .and_then(|(_, rest)| rest.split_once('"'))
            .unwrap()
            .0;
        let loaded_at = Instant::now();
        let mut answer = self
            .browser
            .post(format!("{}{path}/code", self.service.url))
            .send_form([("csrf", csrf), ("code", code)])
            .unwrap();
        assert_eq!(answer.status().as_u16(), 200);
        assert!(
            answer
                .body_mut()
                .read_to_string()
                .unwrap()
                .contains("Approved")
        );
        let answered_at = Instant::now();
        let released_at = self.released.recv().unwrap();
        [
            ms(created_at),
            ms(loaded_at),
            ms(answered_at),
            ms(released_at),
        ]
    }
}

/// The waiter of a slot: long-polls each approval id it is sent until it is granted.
fn waiter(
    service: &Service,
    bearer: &str,
    ids: std::sync::mpsc::Receiver<String>,
    released: std::sync::mpsc::Sender<Instant>,
) {
    let agent = agent();
    for id in ids {
        let (status, answer) = json_answer(
            agent
                .get(format!("{}/v1/approvals/{id}?wait=20", service.url))
                .header("Authorization", bearer)
                .call()
                .unwrap(),
        );
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["result"], "granted", "{answer}");
        released.send(Instant::now()).unwrap();
    }
}

/// One round: a new database and service, `batches` x 32 approvals; their phases.
fn round(batches: usize, connections: usize) -> Vec<Phases> {
    let backend = Backend::Sqlite(Env::new("approvals-bench"));
    let (admin, pipeline) = (
        backend.token("admin", "admin"),
        backend.token("pipeline", "check"),
    );
    let service = backend.serve(&[
        "--token-rate",
        "1000000",
        "--connections",
        &connections.to_string(),
    ]);
    let bearer = format!("Bearer {pipeline}");
    let users: Vec<(String, otpcore::Totp)> = (0..batches * CLIENTS)
        .map(|i| {
            let user = format!("user{i}");
            let phone = service.activate(&admin, &user);
            (user, phone)
        })
        .collect();
    let start = Barrier::new(CLIENTS);
    std::thread::scope(|s| {
        let slots: Vec<_> = (0..CLIENTS)
            .map(|slot| {
                let (to_waiter, ids) = std::sync::mpsc::channel();
                let (release, released) = std::sync::mpsc::channel();
                let (service, bearer) = (&service, &bearer);
                s.spawn(move || waiter(service, bearer, ids, release));
                let slot_users: Vec<_> = users.iter().skip(slot).step_by(CLIENTS).collect();
                let start = &start;
                s.spawn(move || {
                    let slot = Slot {
                        service,
                        bearer: bearer.clone(),
                        pipeline: agent(),
                        browser: agent(),
                        to_waiter,
                        released,
                    };
                    slot_users
                        .into_iter()
                        .map(|(user, phone)| {
                            // Activated with the previous step's code: the current one is
                            // fresh, and so is the next if the step turns meanwhile.
                            slot.round_trip(user, &code(phone, step_now(phone)), start)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        slots
            .into_iter()
            .flat_map(|slot| slot.join().unwrap())
            .collect()
    })
}

/// The nearest-rank percentile of sorted `values`.
fn percentile(sorted: &[f64], pct: usize) -> f64 {
    sorted[(sorted.len() * pct).div_ceil(100).max(1) - 1]
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split(' ').take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn main() {
    let (repeats, batches) = (setting("REPEATS", 5), setting("BATCHES", 4));
    let connections = setting("CONNECTIONS", 4);
    let (mut p50s, mut p99s) = (Vec::new(), Vec::new());
    for r in 1..=repeats {
        let phases = round(batches, connections);
        let mut trips: Vec<f64> = phases.iter().map(|p| p[3]).collect();
        trips.sort_by(f64::total_cmp);
        let step = |i: usize| median(phases.iter().map(|p| p[i]).collect());
        let (p50, p99) = (percentile(&trips, 50), percentile(&trips, 99));
        println!(
            "round {r}: {} round trips, p50 {p50:.1} ms, p99 {p99:.1} ms, max {:.1} ms; medians \
             since the start: created {:.1}, page loaded {:.1}, code answered {:.1}, waiter \
             released {:.1} ms; load {}",
            trips.len(),
            trips[trips.len() - 1],
            step(0),
            step(1),
            step(2),
            step(3),
            load_average()
        );
        p50s.push(p50);
        p99s.push(p99);
    }
    let min = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
    println!(
        "approval round trip, {CLIENTS} concurrent, {repeats} x {}: p50 min {:.1} / median \
         {:.1} ms; p99 min {:.1} / median {:.1} / max {:.1} ms",
        batches * CLIENTS,
        min(&p50s),
        median(p50s.clone()),
        min(&p99s),
        median(p99s.clone()),
        max(&p99s)
    );
}
