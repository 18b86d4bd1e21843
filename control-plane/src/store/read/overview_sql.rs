//! The overview page's counters and trend, and the services list.
//!
//! Portable SQL under the rules of `read/sql.rs`; a macro instantiated per backend inside
//! `read_models` (whose imports and helpers it shares through `use super::*`).

macro_rules! impl_overview {
    ($store:ident, $db:ty, $conn:ty) => {
        pub(crate) mod overview {
            use super::*;

            pub(crate) async fn overview(
                store: &super::super::$store,
                now: i64,
                online_since: i64,
            ) -> Result<Overview, StoreError> {
                let totals = sqlx::query(
                    "SELECT COUNT(*) AS endpoints, \
                     CAST(COALESCE(SUM(server_count), 0) AS BIGINT) AS servers, \
                     CAST(COALESCE(SUM(client_count), 0) AS BIGINT) AS clients, \
                     CAST(COALESCE(SUM(findings_high), 0) AS BIGINT) AS findings_high, \
                     CAST(COALESCE(SUM(findings_critical), 0) AS BIGINT) AS findings_critical \
                     FROM endpoint_summary",
                )
                .fetch_one(store.reader())
                .await?;
                // Offline endpoints are the minority: counting them walks a short stretch of the
                // last-seen index instead of joining the whole fleet.
                let offline: i64 = sqlx::query(
                    "SELECT COUNT(*) AS n FROM agents a WHERE a.last_seen_at < $1 \
                     AND EXISTS (SELECT 1 FROM endpoint_summary e WHERE e.agent_id = a.id)",
                )
                .bind(online_since)
                .fetch_one(store.reader())
                .await?
                .try_get("n")?;
                // Kept live with the fingerprint rollup (migration 0021): one row, never a count.
                let secrets = super::credentials::secret_totals(store).await?;
                let services: i64 = sqlx::query("SELECT COUNT(*) AS n FROM service_rollup")
                    .fetch_one(store.reader())
                    .await?
                    .try_get("n")?;
                let refreshed = sqlx::query("SELECT refreshed_at FROM rollup_state WHERE id = 1")
                    .fetch_optional(store.reader())
                    .await?;
                let rollup_refreshed_at = match refreshed {
                    Some(row) => Some(row.try_get::<i64, _>("refreshed_at")?),
                    None => None,
                };
                let rows = sqlx::query(
                    "SELECT day, endpoints, endpoints_online, servers, clients, services, literal_secrets, \
                     findings_high, findings_critical FROM fleet_daily WHERE day > $1 ORDER BY day",
                )
                .bind(day_start(now) - 30 * 86_400)
                .fetch_all(store.reader())
                .await?;
                let trend = rows
                    .iter()
                    .map(|row| {
                        Ok(DailyPoint {
                            day: row.try_get("day")?,
                            endpoints: row.try_get("endpoints")?,
                            endpoints_online: row.try_get("endpoints_online")?,
                            servers: row.try_get("servers")?,
                            clients: row.try_get("clients")?,
                            services: row.try_get("services")?,
                            literal_secrets: row.try_get("literal_secrets")?,
                            findings_high: row.try_get("findings_high")?,
                            findings_critical: row.try_get("findings_critical")?,
                        })
                    })
                    .collect::<Result<Vec<_>, StoreError>>()?;
                let endpoints: i64 = totals.try_get("endpoints")?;
                Ok(Overview {
                    endpoints,
                    endpoints_online: endpoints - offline,
                    endpoints_offline: offline,
                    servers: totals.try_get("servers")?,
                    clients: totals.try_get("clients")?,
                    services,
                    literal_secrets: secrets.uses,
                    literal_secrets_distinct: secrets.distinct,
                    findings_high: totals.try_get("findings_high")?,
                    findings_critical: totals.try_get("findings_critical")?,
                    trend,
                    rollup_refreshed_at,
                })
            }

            pub(crate) async fn services(store: &super::super::$store) -> Result<Vec<ServiceRow>, StoreError> {
                let rows = sqlx::query(
                    "SELECT service, servers, endpoints, users, auth_oauth, auth_env_reference, auth_secret_manager, \
                     auth_reference, auth_literal, \
                     auth_none, posture_oauth, posture_oauth_partial, posture_static_key, posture_none, \
                     posture_unknown FROM service_rollup ORDER BY endpoints DESC, service",
                )
                .fetch_all(store.reader())
                .await?;
                rows.iter()
                    .map(|row| {
                        Ok(ServiceRow {
                            service: row.try_get("service")?,
                            servers: row.try_get("servers")?,
                            endpoints: row.try_get("endpoints")?,
                            users: row.try_get("users")?,
                            auth: AuthCounts {
                                oauth: row.try_get("auth_oauth")?,
                                env_reference: row.try_get("auth_env_reference")?,
                                secret_manager: row.try_get("auth_secret_manager")?,
                                reference: row.try_get("auth_reference")?,
                                literal: row.try_get("auth_literal")?,
                                none: row.try_get("auth_none")?,
                            },
                            remote_auth: PostureCounts {
                                oauth: row.try_get("posture_oauth")?,
                                oauth_partial: row.try_get("posture_oauth_partial")?,
                                static_key: row.try_get("posture_static_key")?,
                                none: row.try_get("posture_none")?,
                                unknown: row.try_get("posture_unknown")?,
                            },
                        })
                    })
                    .collect()
            }
        }
    };
}

pub(crate) use impl_overview;
