//! Login rate limiting, in memory: failed attempts are counted per username and per source address
//! in a fixed window. When either count is over its limit, login is refused before the password
//! is checked, with the same message whether or not the account exists.
//!
//! It is per process (a restart forgets); several control-plane replicas each keep their own.

use std::collections::HashMap;
use std::sync::Mutex;

/// Failed attempts allowed per username within [`WINDOW_SECS`].
pub const MAX_FAILURES_PER_USER: u32 = 5;
/// Failed attempts allowed per source address within [`WINDOW_SECS`].
pub const MAX_FAILURES_PER_ADDR: u32 = 20;
pub const WINDOW_SECS: i64 = 15 * 60;
/// Entries kept before old windows are swept.
const SWEEP_ABOVE: usize = 10_000;

#[derive(Debug, Default)]
pub struct LoginThrottle {
    failures: Mutex<HashMap<Key, Window>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    User(String),
    Addr(String),
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: i64,
    count: u32,
}

impl LoginThrottle {
    /// `Some(seconds to wait)` when `username` or `addr` is locked out at `now`.
    pub fn locked(&self, username: &str, addr: &str, now: i64) -> Option<i64> {
        let failures = self.failures.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let check = |key: Key, limit: u32| {
            failures
                .get(&key)
                .filter(|w| now - w.started < WINDOW_SECS && w.count >= limit)
                .map(|w| w.started + WINDOW_SECS - now)
        };
        let user = check(Key::User(username.to_lowercase()), MAX_FAILURES_PER_USER);
        let addr = check(Key::Addr(addr.to_string()), MAX_FAILURES_PER_ADDR);
        user.max(addr)
    }

    pub fn record_failure(&self, username: &str, addr: &str, now: i64) {
        let mut failures = self.failures.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if failures.len() > SWEEP_ABOVE {
            failures.retain(|_, w| now - w.started < WINDOW_SECS);
        }
        for key in [Key::User(username.to_lowercase()), Key::Addr(addr.to_string())] {
            let window = failures.entry(key).or_insert(Window { started: now, count: 0 });
            if now - window.started >= WINDOW_SECS {
                *window = Window { started: now, count: 0 };
            }
            window.count += 1;
        }
    }

    /// A successful login clears the username's count (not the address's).
    pub fn record_success(&self, username: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        failures.remove(&Key::User(username.to_lowercase()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_per_user_and_per_address_then_expires() {
        let throttle = LoginThrottle::default();
        for _ in 0..MAX_FAILURES_PER_USER {
            assert_eq!(throttle.locked("alice", "10.0.0.1", 100), None);
            throttle.record_failure("alice", "10.0.0.1", 100);
        }
        assert_eq!(throttle.locked("Alice", "10.0.0.2", 160), Some(WINDOW_SECS - 60));
        assert_eq!(throttle.locked("bob", "10.0.0.1", 160), None);
        assert_eq!(throttle.locked("alice", "10.0.0.2", 100 + WINDOW_SECS), None);

        for i in 0..MAX_FAILURES_PER_ADDR {
            throttle.record_failure(&format!("user{i}"), "10.0.0.9", 200);
        }
        assert!(throttle.locked("someone-new", "10.0.0.9", 201).is_some());
    }
}
