//! Per-agent rate limiting: one token bucket per key (agent id), kept in memory.
//!
//! The control plane keeps two of these: one counting requests (one token each) and one counting
//! ingest work (a report costs its work units, see [`crate::ingest::limits`]). A cost larger than
//! the burst is charged as the burst, so any single report can pass from a full bucket and a
//! refusal is always worth retrying later. Time is passed in, so the arithmetic is tested without
//! waiting. Buckets of agents that have been quiet long enough to be full again are dropped now
//! and then, bounding memory.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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
    /// A bucket of `burst` tokens per key, refilled at `per_minute` tokens a minute.
    pub fn new(burst: u64, per_minute: u64) -> Self {
        Self { burst: (burst.max(1)) as f64, per_second: per_minute as f64 / 60.0, buckets: Mutex::default() }
    }

    /// Takes one token for `key`; false when its bucket is empty.
    pub fn allow(&self, key: &str, now: Instant) -> bool {
        self.take(key, 1, now).is_ok()
    }

    /// Takes `cost` tokens (at most the burst) for `key`, or takes nothing and says how long until
    /// the bucket would hold them.
    pub fn take(&self, key: &str, cost: u64, now: Instant) -> Result<(), Duration> {
        let cost = (cost as f64).min(self.burst);
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
        if bucket.tokens >= cost {
            bucket.tokens -= cost;
            Ok(())
        } else {
            let missing = cost - bucket.tokens;
            Err(Duration::from_secs_f64((missing / self.per_second.max(f64::MIN_POSITIVE)).min(86_400.0)))
        }
    }
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn work_is_charged_by_cost_and_refills_over_time() {
        // 1,000 units of burst, 600 a minute (10 a second).
        let work = RateLimiter::new(1_000, 600);
        let t0 = Instant::now();
        assert_eq!(work.take("big", 700, t0), Ok(()));
        // 300 left: a report of 400 waits for 100 more units, i.e. ten seconds.
        assert_eq!(work.take("big", 400, t0), Err(Duration::from_secs(10)));
        assert_eq!(work.take("big", 400, t0 + Duration::from_secs(9)), Err(Duration::from_secs(1)));
        assert_eq!(work.take("big", 400, t0 + Duration::from_secs(10)), Ok(()));
        // Small reports of other agents are not touched by the big agent's spending.
        assert!((0..100).all(|_| work.take("small", 10, t0 + Duration::from_secs(10)).is_ok()));
        assert!(work.take("small", 10, t0 + Duration::from_secs(10)).is_err());
    }

    #[test]
    fn a_cost_above_the_burst_needs_a_full_bucket_and_never_more() {
        let work = RateLimiter::new(100, 60);
        let t0 = Instant::now();
        assert_eq!(work.take("a", 5_000, t0), Ok(()), "a full bucket pays any single report");
        assert_eq!(work.take("a", 5_000, t0), Err(Duration::from_secs(100)), "then it waits for a full bucket");
        assert_eq!(work.take("a", 5_000, t0 + Duration::from_secs(100)), Ok(()));
    }
}
