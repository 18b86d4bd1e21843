//! The rollup task: what only the passing of time changes (today's trend point, endpoints whose
//! waivers expired, this hour's compliance trend point), on a fixed period. Services, server groups and credentials are not its
//! business: ingest keeps those rollups live. Logs failures and keeps going; it never stops
//! ingest or the HTTP server. It does not decide what the rollups contain (`store::read` and `compliance` do).

use std::time::Duration;

use tokio::sync::watch;

use crate::state::unix_now;
use crate::store::DynStore;

/// How often the rollups are recomputed.
pub const ROLLUP_EVERY: Duration = Duration::from_secs(300);
/// An endpoint counts as online when it was seen within this window.
pub const ONLINE_WINDOW: Duration = Duration::from_secs(15 * 60);

/// Refreshes at once, then every `every`, until `stop` turns true. `clock` gives unix seconds
/// (tests pass a fixed one).
pub async fn run(store: DynStore, every: Duration, mut stop: watch::Receiver<bool>, clock: fn() -> i64) {
    let window = i64::try_from(ONLINE_WINDOW.as_secs()).unwrap_or(i64::MAX);
    loop {
        let now = clock();
        match store.refresh_rollups(now, now - window).await {
            Ok(stats) => tracing::debug!(expired_waivers = stats.expired_waiver_endpoints, "trend point written"),
            Err(error) => tracing::warn!(%error, "rollup refresh failed"),
        }
        if let Err(error) = crate::compliance::record_trend(store.as_ref(), now).await {
            tracing::warn!(%error, "compliance trend refresh failed");
        }
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            _ = stop.wait_for(|stopped| *stopped) => return,
        }
    }
}

/// The production clock.
pub fn wall_clock() -> i64 {
    unix_now()
}
