//! The daemon's way of probing: a scan never waits for the network. Each scan is annotated from
//! the answers already known (kept ones younger than a day); URLs without one are probed in the
//! background, one task per host, whose answers go to the cache file, and the daemon is then told
//! that file changed (on its configuration-change channel, since the file is an input of the
//! scan), so the next scan reports the verified posture.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use muster_proto::v1 as pb;
use tokio::sync::mpsc;

use super::{ProbeCache, ProbeSettings, ProbeTarget, Timed, annotate, cache, probe};
use crate::findings::CompleteCatalog;

/// Probes in the background for the daemon.
#[derive(Debug)]
pub struct BackgroundProber {
    settings: ProbeSettings,
    answers: Arc<Mutex<BTreeMap<String, Timed>>>,
    /// Probe URLs being asked now.
    in_flight: Arc<Mutex<BTreeSet<String>>>,
    changed: mpsc::Sender<PathBuf>,
}

impl BackgroundProber {
    /// A prober keeping its answers in `settings.cache_dir` and announcing new ones on `changed`.
    pub fn new(settings: ProbeSettings, changed: mpsc::Sender<PathBuf>) -> BackgroundProber {
        let kept = settings.cache_dir.as_deref().map(ProbeCache::load).unwrap_or_default();
        BackgroundProber {
            settings,
            answers: Arc::new(Mutex::new(kept.into_answers())),
            in_flight: Arc::default(),
            changed,
        }
    }

    /// Annotates `inv` from the answers known now and starts probing the URLs without a fresh
    /// one that are not being asked already, one task per host, each announcing its answers as
    /// soon as it has them. Never waits. Call inside a tokio runtime.
    pub fn annotate_and_refresh(&self, inv: &mut pb::InventorySnapshot, catalog: &CompleteCatalog, now: i64) {
        let max_age = i64::try_from(self.settings.max_age.as_secs()).unwrap_or(i64::MAX);
        let fresh: BTreeMap<String, Timed> = lock(&self.answers)
            .iter()
            .filter(|(_, t)| cache::is_fresh(t, now, max_age))
            .map(|(k, t)| (k.clone(), t.clone()))
            .collect();
        let wanted: BTreeSet<ProbeTarget> = inv
            .servers
            .iter()
            .filter_map(|s| ProbeTarget::of(s).and_then(Result::ok))
            .filter(|t| !fresh.contains_key(t.key()))
            .collect();
        annotate(inv, &fresh, Some("not probed yet"), catalog);
        let mut by_host: BTreeMap<String, Vec<ProbeTarget>> = BTreeMap::new();
        {
            let mut in_flight = lock(&self.in_flight);
            for t in wanted {
                if in_flight.insert(t.key().to_string()) {
                    by_host.entry(t.origin()).or_default().push(t);
                }
            }
        }
        for targets in by_host.into_values() {
            let (settings, answers, in_flight, changed) =
                (self.settings.clone(), self.answers.clone(), self.in_flight.clone(), self.changed.clone());
            tokio::spawn(async move {
                let keys: Vec<String> = targets.iter().map(|t| t.key().to_string()).collect();
                match probe::probe_all(targets, &settings, now).await {
                    Ok(new) => {
                        let snapshot = {
                            let mut all = lock(&answers);
                            all.extend(new);
                            all.retain(|_, t| cache::is_fresh(t, now, max_age));
                            all.clone()
                        };
                        if let Some(dir) = &settings.cache_dir {
                            if let Err(e) = ProbeCache::from_answers(snapshot).save(dir) {
                                tracing::warn!(error = %e, "remote auth answers not kept");
                            }
                            let _ = changed.send(dir.join(cache::FILE)).await;
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "remote auth probe not started"),
                }
                let mut in_flight = lock(&in_flight);
                for k in keys {
                    in_flight.remove(&k);
                }
            });
        }
    }
}

/// The lock's data even when a task panicked holding it (the maps stay consistent: every
/// update is one insert or retain).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
