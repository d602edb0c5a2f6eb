//! `/metrics` in Prometheus' text format: decisions by endpoint and outcome, their latency
//! as a histogram, store errors and answers by status. Only counts: no user ids, no codes.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The histogram's upper bounds, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// The service's counters.
#[derive(Default)]
pub struct Metrics {
    decisions: Mutex<BTreeMap<(&'static str, String), u64>>,
    /// Per bucket of [`BUCKETS`] (not cumulative), then one past the last.
    latency: [AtomicU64; BUCKETS.len() + 1],
    latency_micros: AtomicU64,
    store_errors: AtomicU64,
    responses: Mutex<BTreeMap<u16, u64>>,
}

impl Metrics {
    /// A decision of `endpoint` with `outcome` (`accepted`, a refusal's reason, `error`)
    /// that took `took`.
    pub fn decision(&self, endpoint: &'static str, outcome: &str, took: Duration) {
        let mut decisions = self.decisions.lock().unwrap_or_else(|e| e.into_inner());
        let count = decisions.entry((endpoint, outcome.to_owned())).or_insert(0);
        *count = count.saturating_add(1);
        drop(decisions);
        let secs = took.as_secs_f64();
        let bucket = BUCKETS
            .iter()
            .position(|bound| secs <= *bound)
            .unwrap_or(BUCKETS.len());
        if let Some(counter) = self.latency.get(bucket) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.latency_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// A store failure (unreachable, busy, an error).
    pub fn store_error(&self) {
        self.store_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// An answer with `status`.
    pub fn response(&self, status: u16) {
        let mut responses = self.responses.lock().unwrap_or_else(|e| e.into_inner());
        let count = responses.entry(status).or_insert(0);
        *count = count.saturating_add(1);
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP otpgate_decisions_total Decisions by endpoint and outcome.\n\
             # TYPE otpgate_decisions_total counter"
        );
        let decisions = self.decisions.lock().unwrap_or_else(|e| e.into_inner());
        for ((endpoint, outcome), count) in decisions.iter() {
            let _ = writeln!(
                out,
                "otpgate_decisions_total{{endpoint=\"{endpoint}\",outcome=\"{outcome}\"}} {count}"
            );
        }
        drop(decisions);
        let _ = writeln!(
            out,
            "# HELP otpgate_decision_seconds Time from a decision's request to its answer.\n\
             # TYPE otpgate_decision_seconds histogram"
        );
        let mut cumulative = 0u64;
        for (bound, counter) in BUCKETS.iter().zip(&self.latency) {
            cumulative = cumulative.saturating_add(counter.load(Ordering::Relaxed));
            let _ = writeln!(
                out,
                "otpgate_decision_seconds_bucket{{le=\"{bound}\"}} {cumulative}"
            );
        }
        if let Some(last) = self.latency.last() {
            cumulative = cumulative.saturating_add(last.load(Ordering::Relaxed));
        }
        let sum = Duration::from_micros(self.latency_micros.load(Ordering::Relaxed)).as_secs_f64();
        let _ = writeln!(
            out,
            "otpgate_decision_seconds_bucket{{le=\"+Inf\"}} {cumulative}\n\
             otpgate_decision_seconds_sum {sum}\n\
             otpgate_decision_seconds_count {cumulative}"
        );
        let _ = writeln!(
            out,
            "# HELP otpgate_store_errors_total Requests the store failed.\n\
             # TYPE otpgate_store_errors_total counter\n\
             otpgate_store_errors_total {}",
            self.store_errors.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP otpgate_http_responses_total Answers by HTTP status.\n\
             # TYPE otpgate_http_responses_total counter"
        );
        let responses = self.responses.lock().unwrap_or_else(|e| e.into_inner());
        for (status, count) in responses.iter() {
            let _ = writeln!(
                out,
                "otpgate_http_responses_total{{status=\"{status}\"}} {count}"
            );
        }
        out
    }
}
