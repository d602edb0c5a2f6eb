//! The per-token request rate: a token bucket per token name, refilled at `rate` requests
//! per second up to a burst of twice as many; and the per-user cooldown of texted links.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use super::error::ApiError;

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The buckets of every token seen.
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    pub fn new(rate: u32) -> Self {
        let rate = f64::from(rate);
        RateLimiter {
            rate,
            burst: rate * 2.0,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request from `name`'s bucket, or says in how many seconds one is there.
    pub fn take(&self, name: &str) -> Result<(), ApiError> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let bucket = buckets.entry(name.to_owned()).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        let refill = now.saturating_duration_since(bucket.at).as_secs_f64() * self.rate;
        bucket.tokens = (bucket.tokens + refill).min(self.burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = ((1.0 - bucket.tokens) / self.rate).ceil().max(1.0);
            // At most the time a full bucket takes: a small whole number of seconds.
            Err(ApiError::RateLimited(if wait < 3600.0 {
                wait as u64
            } else {
                3600
            }))
        }
    }
}

/// When each user may be texted an approval's link again: one a minute, as texted codes
/// (`send-code`) are, so that a check-scoped token cannot flood a phone (or an SMS bill).
/// Kept by the service process, which is the only one texting links.
#[derive(Default)]
pub struct TextedLinks(Mutex<HashMap<String, u64>>);

impl TextedLinks {
    /// Takes `user`'s text at `now`, or answers when the next one may go.
    pub fn take(&self, user: &str, now: u64) -> Result<(), ApiError> {
        let mut next = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        next.retain(|_, at| *at > now);
        if let Some(&at) = next.get(user) {
            return Err(ApiError::TextTooSoon(at.saturating_sub(now)));
        }
        let cooldown = otpcore::OobPolicy::default().resend_cooldown_secs;
        next.insert(user.to_owned(), now.saturating_add(cooldown));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_token_gets_its_burst_then_waits_and_others_are_not_affected() {
        let limiter = RateLimiter::new(2);
        for _ in 0..4 {
            assert!(limiter.take("a").is_ok());
        }
        assert!(matches!(limiter.take("a"), Err(ApiError::RateLimited(1))));
        assert!(limiter.take("b").is_ok());
    }
}
