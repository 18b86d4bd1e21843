//! `refresh_rollups`: what only time changes, run by `rollup::run`: endpoints whose waivers
//! expired are recounted, and today's `fleet_daily` trend point is written. The fleet-wide
//! rollups themselves are kept live by ingest (`live_sql.rs`), not here.
//!
//! Portable SQL under the rules of `read/sql.rs`; a macro instantiated per backend inside
//! `read_models` (whose imports and helpers it shares through `use super::*`).

macro_rules! impl_rollups {
    ($store:ident, $db:ty, $conn:ty) => {
        pub(crate) mod rollups {
            use super::*;

            pub(crate) async fn refresh_rollups(
                store: &super::super::$store,
                now: i64,
                online_since: i64,
            ) -> Result<RollupStats, StoreError> {
                let mut tx = store.writer().begin().await?;
                let last: Option<i64> = match sqlx::query("SELECT refreshed_at FROM rollup_state WHERE id = 1")
                    .fetch_optional(&mut *tx)
                    .await?
                {
                    Some(row) => Some(row.try_get("refreshed_at")?),
                    None => None,
                };
                let expired = sqlx::query(
                    "SELECT DISTINCT agent_id FROM finding_states WHERE state = 'waived' \
                     AND expires_at > $1 AND expires_at <= $2",
                )
                .bind(last.unwrap_or(i64::MIN))
                .bind(now)
                .fetch_all(&mut *tx)
                .await?;
                for row in &expired {
                    refresh_endpoint(&mut tx, &row.try_get::<String, _>("agent_id")?, now).await?;
                }
                sqlx::query(
                    "INSERT INTO rollup_state (id, refreshed_at) VALUES (1, $1) \
                     ON CONFLICT (id) DO UPDATE SET refreshed_at = excluded.refreshed_at",
                )
                .bind(now)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;

                let overview = store.overview(now, online_since).await?;
                sqlx::query(
                    "INSERT INTO fleet_daily (day, endpoints, endpoints_online, servers, clients, services, \
                     literal_secrets, findings_high, findings_critical, taken_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                     ON CONFLICT (day) DO UPDATE SET endpoints = excluded.endpoints, \
                     endpoints_online = excluded.endpoints_online, servers = excluded.servers, \
                     clients = excluded.clients, services = excluded.services, \
                     literal_secrets = excluded.literal_secrets, findings_high = excluded.findings_high, \
                     findings_critical = excluded.findings_critical, taken_at = excluded.taken_at",
                )
                .bind(day_start(now))
                .bind(overview.endpoints)
                .bind(overview.endpoints_online)
                .bind(overview.servers)
                .bind(overview.clients)
                .bind(overview.services)
                .bind(overview.literal_secrets)
                .bind(overview.findings_high)
                .bind(overview.findings_critical)
                .bind(now)
                .execute(store.writer())
                .await?;
                Ok(RollupStats { expired_waiver_endpoints: expired.len() })
            }
        }
    };
}

pub(crate) use impl_rollups;
