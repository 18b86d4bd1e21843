//! Per-agent rate limiting: one token bucket per agent id, kept in memory.
//!
//! Time is passed in, so the arithmetic is tested without waiting. Buckets of agents that have
//! been quiet long enough to be full again are dropped now and then, bounding memory.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

#[derive(Debug)]
pub struct RateLimiter {
    burst: f64,
    per_second: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl RateLimiter {
    pub fn new(burst: u32, per_minute: u32) -> Self {
        Self { burst: f64::from(burst.max(1)), per_second: f64::from(per_minute) / 60.0, buckets: Mutex::default() }
    }

    /// Takes one token for `key`; false when its bucket is empty.
    pub fn allow(&self, key: &str, now: Instant) -> bool {
        // A poisoned lock only means another request panicked mid-update; the map is still usable.
        let mut buckets = self.buckets.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() > 100_000 {
            let full_after = self.burst / self.per_second.max(f64::MIN_POSITIVE);
            buckets.retain(|_, b| now.saturating_duration_since(b.updated).as_secs_f64() < full_after);
        }
        let bucket = buckets.entry(key.to_string()).or_insert(Bucket { tokens: self.burst, updated: now });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.per_second).min(self.burst);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn burst_then_refill_per_agent() {
        let limiter = RateLimiter::new(3, 60);
        let start = Instant::now();
        assert!((0..3).all(|_| limiter.allow("a", start)));
        assert!(!limiter.allow("a", start));
        assert!(limiter.allow("b", start), "other agents have their own bucket");
        assert!(limiter.allow("a", start + Duration::from_secs(1)));
        assert!(!limiter.allow("a", start + Duration::from_secs(1)));
    }
}
