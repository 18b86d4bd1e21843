//! `refresh_rollups`: the fleet-wide rollups and today's `fleet_daily` row, recomputed by
//! `rollup::run` (reads outside a transaction, writes the small result in one).
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
                // Read phase: plain reads, no transaction held open.
                let rows = sqlx::query(
                    "SELECT service, COUNT(*) AS servers, COUNT(DISTINCT agent_id) AS endpoints, \
                     COUNT(DISTINCT agent_id || '/' || user_name) AS users, \
                     CAST(SUM(CASE WHEN auth = 'oauth' THEN 1 ELSE 0 END) AS BIGINT) AS oauth, \
                     CAST(SUM(CASE WHEN auth = 'reference' THEN 1 ELSE 0 END) AS BIGINT) AS reference, \
                     CAST(SUM(CASE WHEN auth = 'literal' THEN 1 ELSE 0 END) AS BIGINT) AS literal, \
                     CAST(SUM(CASE WHEN auth = 'none' THEN 1 ELSE 0 END) AS BIGINT) AS none \
                     FROM servers WHERE service <> '' GROUP BY service",
                )
                .fetch_all(store.reader())
                .await?;
                let mut services = Vec::with_capacity(rows.len());
                for row in &rows {
                    services.push((
                        row.try_get::<String, _>("service")?,
                        [
                            row.try_get::<i64, _>("servers")?,
                            row.try_get("endpoints")?,
                            row.try_get("users")?,
                            row.try_get("oauth")?,
                            row.try_get("reference")?,
                            row.try_get("literal")?,
                            row.try_get("none")?,
                        ],
                    ));
                }
                let mut groups: BTreeMap<(String, i64, String), GroupAcc> = BTreeMap::new();
                for row in sqlx::query(
                    "SELECT package_ecosystem, package_name, package_version, COUNT(*) AS servers, \
                     CAST(SUM(pinned) AS BIGINT) AS pinned FROM servers WHERE package_name <> '' \
                     GROUP BY package_ecosystem, package_name, package_version",
                )
                .fetch_all(store.reader())
                .await?
                {
                    let key = ("package".to_string(), row.try_get("package_ecosystem")?, row.try_get("package_name")?);
                    let group = groups.entry(key).or_default();
                    group.servers += row.try_get::<i64, _>("servers")?;
                    group.pinned += row.try_get::<i64, _>("pinned")?;
                    let version: String = row.try_get("package_version")?;
                    if !version.is_empty() {
                        group.versions.insert(version);
                    }
                }
                for row in sqlx::query(
                    "SELECT package_ecosystem, package_name, COUNT(DISTINCT agent_id) AS endpoints FROM servers \
                     WHERE package_name <> '' GROUP BY package_ecosystem, package_name",
                )
                .fetch_all(store.reader())
                .await?
                {
                    let key = ("package".to_string(), row.try_get("package_ecosystem")?, row.try_get("package_name")?);
                    groups.entry(key).or_default().endpoints = row.try_get("endpoints")?;
                }
                for row in sqlx::query(
                    "SELECT DISTINCT s.package_ecosystem, s.package_name, f.advisory FROM findings f \
                     JOIN servers s ON s.agent_id = f.agent_id AND s.server_id = f.server_id \
                     WHERE f.advisory <> '' AND s.package_name <> ''",
                )
                .fetch_all(store.reader())
                .await?
                {
                    let key = ("package".to_string(), row.try_get("package_ecosystem")?, row.try_get("package_name")?);
                    groups.entry(key).or_default().advisories.insert(row.try_get("advisory")?);
                }
                for row in sqlx::query(
                    "SELECT endpoint_host, COUNT(*) AS servers, COUNT(DISTINCT agent_id) AS endpoints \
                     FROM servers WHERE endpoint_host <> '' GROUP BY endpoint_host",
                )
                .fetch_all(store.reader())
                .await?
                {
                    let key = ("remote".to_string(), 0, row.try_get("endpoint_host")?);
                    let group = groups.entry(key).or_default();
                    group.servers = row.try_get("servers")?;
                    group.endpoints = row.try_get("endpoints")?;
                }
                let rows = sqlx::query(
                    "SELECT provider, kind, CASE WHEN location LIKE 'env:%' THEN 'env' \
                     WHEN location LIKE 'header:%' THEN 'header' WHEN location LIKE 'arg:%' THEN 'arg' \
                     WHEN location = 'url' THEN 'url' ELSE 'other' END AS location_type, \
                     COUNT(*) AS secrets, COUNT(DISTINCT agent_id) AS endpoints FROM credentials \
                     WHERE source = 1 GROUP BY provider, kind, location_type",
                )
                .fetch_all(store.reader())
                .await?;
                let mut secrets = Vec::with_capacity(rows.len());
                for row in &rows {
                    secrets.push((
                        row.try_get::<String, _>("provider")?,
                        row.try_get::<String, _>("kind")?,
                        row.try_get::<String, _>("location_type")?,
                        row.try_get::<i64, _>("secrets")?,
                        row.try_get::<i64, _>("endpoints")?,
                    ));
                }
                let rows = sqlx::query(
                    "SELECT fingerprint, MIN(provider) AS provider, MIN(kind) AS kind, \
                     COUNT(DISTINCT agent_id) AS hosts, COUNT(*) AS servers FROM credentials \
                     WHERE fingerprint <> '' GROUP BY fingerprint HAVING COUNT(DISTINCT agent_id) >= 2",
                )
                .fetch_all(store.reader())
                .await?;
                let mut fingerprints = Vec::with_capacity(rows.len());
                for row in &rows {
                    fingerprints.push((
                        row.try_get::<String, _>("fingerprint")?,
                        row.try_get::<String, _>("provider")?,
                        row.try_get::<String, _>("kind")?,
                        row.try_get::<i64, _>("hosts")?,
                        row.try_get::<i64, _>("servers")?,
                    ));
                }

                // Write phase: one short transaction.
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
                for table in ["service_rollup", "package_rollup", "secret_rollup", "fingerprint_rollup"] {
                    sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table}"))).execute(&mut *tx).await?;
                }
                for chunk in services.chunks(500) {
                    let mut qb = Builder::new(
                        "INSERT INTO service_rollup (service, servers, endpoints, users, auth_oauth, \
                         auth_reference, auth_literal, auth_none) ",
                    );
                    qb.push_values(chunk, |mut b, (service, n)| {
                        b.push_bind(service.clone());
                        for value in n {
                            b.push_bind(*value);
                        }
                    });
                    qb.build().execute(&mut *tx).await?;
                }
                let group_rows: Vec<_> = groups.iter().collect();
                for chunk in group_rows.chunks(500) {
                    let mut qb = Builder::new(
                        "INSERT INTO package_rollup (kind, ecosystem, name, servers, endpoints, pinned_servers, \
                         versions, advisories) ",
                    );
                    qb.push_values(chunk, |mut b, ((kind, ecosystem, name), group)| {
                        b.push_bind(kind.clone())
                            .push_bind(*ecosystem)
                            .push_bind(name.clone())
                            .push_bind(group.servers)
                            .push_bind(group.endpoints)
                            .push_bind(group.pinned)
                            .push_bind(group.versions.iter().cloned().collect::<Vec<_>>().join("\n"))
                            .push_bind(group.advisories.iter().cloned().collect::<Vec<_>>().join("\n"));
                    });
                    qb.build().execute(&mut *tx).await?;
                }
                for chunk in secrets.chunks(500) {
                    let mut qb =
                        Builder::new("INSERT INTO secret_rollup (provider, kind, location_type, secrets, endpoints) ");
                    qb.push_values(chunk, |mut b, (provider, kind, location, n, endpoints)| {
                        b.push_bind(provider.clone())
                            .push_bind(kind.clone())
                            .push_bind(location.clone())
                            .push_bind(*n)
                            .push_bind(*endpoints);
                    });
                    qb.build().execute(&mut *tx).await?;
                }
                for chunk in fingerprints.chunks(500) {
                    let mut qb =
                        Builder::new("INSERT INTO fingerprint_rollup (fingerprint, provider, kind, hosts, servers) ");
                    qb.push_values(chunk, |mut b, (fingerprint, provider, kind, hosts, servers)| {
                        b.push_bind(fingerprint.clone())
                            .push_bind(provider.clone())
                            .push_bind(kind.clone())
                            .push_bind(*hosts)
                            .push_bind(*servers);
                    });
                    qb.build().execute(&mut *tx).await?;
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
                Ok(RollupStats {
                    services: services.len(),
                    server_groups: groups.len(),
                    secret_groups: secrets.len(),
                    shared_fingerprints: fingerprints.len(),
                    expired_waiver_endpoints: expired.len(),
                })
            }
        }
    };
}

pub(crate) use impl_rollups;
