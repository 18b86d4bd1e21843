//! Answers kept in the state dir (`remote-auth.json`, written atomically) so each URL is asked
//! at most once a day. Keys are probe URLs (no credential: see [`super::target`]); a file that
//! does not parse is ignored and replaced.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::Timed;

/// The file in the state dir.
pub const FILE: &str = "remote-auth.json";
const VERSION: u32 = 1;

/// The kept answers by probe URL.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ProbeCache {
    version: u32,
    answers: BTreeMap<String, Timed>,
}

impl ProbeCache {
    /// Loads the cache of `dir`; empty when absent, unreadable or of another version.
    pub fn load(dir: &Path) -> ProbeCache {
        let Ok(bytes) = std::fs::read(dir.join(FILE)) else { return ProbeCache::default() };
        match serde_json::from_slice::<ProbeCache>(&bytes) {
            Ok(c) if c.version == VERSION => c,
            _ => ProbeCache::default(),
        }
    }

    /// The answer for `key` when younger than `max_age` seconds at `now` (and not from the future).
    pub fn fresh(&self, key: &str, now: i64, max_age: i64) -> Option<&Timed> {
        self.answers.get(key).filter(|t| is_fresh(t, now, max_age))
    }

    pub fn into_answers(self) -> BTreeMap<String, Timed> {
        self.answers
    }

    pub fn from_answers(answers: BTreeMap<String, Timed>) -> ProbeCache {
        ProbeCache { version: VERSION, answers }
    }

    pub fn put(&mut self, key: &str, timed: Timed) {
        self.answers.insert(key.to_string(), timed);
    }

    /// Drops answers `max_age` or older.
    pub fn retain_younger(&mut self, now: i64, max_age: i64) {
        self.answers.retain(|_, t| is_fresh(t, now, max_age));
    }

    pub fn save(&mut self, dir: &Path) -> std::io::Result<()> {
        self.version = VERSION;
        std::fs::create_dir_all(dir)?;
        let bytes = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        crate::state::write_atomic(&dir.join(FILE), &bytes)
    }
}

/// Younger than `max_age` seconds at `now`, and not from the future (a clock set back).
pub fn is_fresh(t: &Timed, now: i64, max_age: i64) -> bool {
    t.probed_at <= now && now - t.probed_at < max_age
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote_auth::Observation;

    #[test]
    fn an_answer_is_used_for_a_day_and_survives_a_reload() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| unreachable!("temp dir: {e}"));
        let mut c = ProbeCache::default();
        let t = Timed { probed_at: 1000, observation: Observation::Unreachable { reason: "timed out".into() } };
        c.put("https://a.example/mcp", t.clone());
        c.save(dir.path()).unwrap_or_else(|e| unreachable!("save: {e}"));
        let c = ProbeCache::load(dir.path());
        assert_eq!(c.fresh("https://a.example/mcp", 1000 + 86_399, 86_400), Some(&t));
        assert_eq!(c.fresh("https://a.example/mcp", 1000 + 86_400, 86_400), None);
        assert_eq!(c.fresh("https://a.example/mcp", 999, 86_400), None, "an answer from the future is not trusted");
    }
}
