//! The live rollups' SQL: reads one endpoint's contribution ([`super::live::Contribution`]) inside
//! the ingest transaction, adds a difference to the rollup tables, and rebuilds every rollup from
//! the stored inventory (once after migration `0012`, and for bulk-seeded benchmark fleets).
//!
//! Portable SQL under the rules of `read/sql.rs`; a macro instantiated per backend inside
//! `read_models` (whose imports and helpers it shares through `use super::*`).

macro_rules! impl_live {
    ($store:ident, $db:ty, $conn:ty) => {
        pub(crate) mod live {
            use super::*;
            use crate::store::portable::ROWS_PER_STATEMENT;
            use crate::store::read::live::{Contribution, CredentialFactsRow, ServerFactsRow, distinct_change};

            /// What `agent_id`'s stored inventory contributes to the rollups now.
            pub(crate) async fn contribution(conn: &mut $conn, agent_id: &str) -> Result<Contribution, StoreError> {
                let mut servers = Vec::new();
                for row in sqlx::query(
                    "SELECT service, user_name, auth, auth_posture, package_ecosystem, package_name, package_version, \
                     pinned, endpoint_host FROM servers WHERE agent_id = $1",
                )
                .bind(agent_id)
                .fetch_all(&mut *conn)
                .await?
                {
                    servers.push(ServerFactsRow {
                        service: row.try_get("service")?,
                        user_name: row.try_get("user_name")?,
                        auth: row.try_get("auth")?,
                        posture: row.try_get("auth_posture")?,
                        ecosystem: row.try_get("package_ecosystem")?,
                        package_name: row.try_get("package_name")?,
                        package_version: row.try_get("package_version")?,
                        pinned: row.try_get::<i64, _>("pinned")? != 0,
                        endpoint_host: row.try_get("endpoint_host")?,
                    });
                }
                let mut credentials = Vec::new();
                for row in sqlx::query(
                    "SELECT provider, kind, location, source, fingerprint FROM credentials WHERE agent_id = $1",
                )
                .bind(agent_id)
                .fetch_all(&mut *conn)
                .await?
                {
                    credentials.push(CredentialFactsRow {
                        provider: row.try_get("provider")?,
                        kind: row.try_get("kind")?,
                        location: row.try_get("location")?,
                        literal: row.try_get::<i64, _>("source")? == 1,
                        fingerprint: row.try_get("fingerprint")?,
                    });
                }
                let mut advisories = Vec::new();
                for row in sqlx::query(
                    "SELECT DISTINCT s.package_ecosystem, s.package_name, f.advisory FROM findings f \
                     JOIN servers s ON s.agent_id = f.agent_id AND s.server_id = f.server_id \
                     WHERE f.agent_id = $1 AND f.advisory <> '' AND s.package_name <> ''",
                )
                .bind(agent_id)
                .fetch_all(&mut *conn)
                .await?
                {
                    advisories.push((row.try_get("package_ecosystem")?, row.try_get("package_name")?, row.try_get("advisory")?));
                }
                Ok(Contribution::of(&servers, &credentials, &advisories))
            }

            /// Adds `delta` (a [`Contribution::difference`]) to the rollup tables, drops the rows
            /// it empties, and rewrites the version and advisory lists of the packages it touches.
            /// Rows are written in key order, table by table, so concurrent PostgreSQL ingests
            /// lock shared rows in the same order and never deadlock.
            pub(crate) async fn apply(conn: &mut $conn, delta: &Contribution) -> Result<(), StoreError> {
                if delta.is_empty() {
                    return Ok(());
                }
                let services: Vec<_> = delta.services.iter().collect();
                for chunk in services.chunks(ROWS_PER_STATEMENT) {
                    let mut qb = Builder::new(
                        "INSERT INTO service_rollup (service, servers, endpoints, users, auth_oauth, auth_env_reference, \
                         auth_secret_manager, auth_reference, auth_literal, auth_none, posture_oauth, \
                         posture_oauth_partial, posture_static_key, posture_none, posture_unknown) ",
                    );
                    qb.push_values(chunk, |mut b, (service, n)| {
                        b.push_bind((*service).clone())
                            .push_bind(n.servers)
                            .push_bind(n.endpoints)
                            .push_bind(n.users)
                            .push_bind(n.oauth)
                            .push_bind(n.env_reference)
                            .push_bind(n.secret_manager)
                            .push_bind(n.reference)
                            .push_bind(n.literal)
                            .push_bind(n.none)
                            .push_bind(n.posture.oauth)
                            .push_bind(n.posture.oauth_partial)
                            .push_bind(n.posture.static_key)
                            .push_bind(n.posture.none)
                            .push_bind(n.posture.unknown);
                    });
                    qb.push(
                        " ON CONFLICT (service) DO UPDATE SET servers = service_rollup.servers + excluded.servers, \
                         endpoints = service_rollup.endpoints + excluded.endpoints, \
                         users = service_rollup.users + excluded.users, \
                         auth_oauth = service_rollup.auth_oauth + excluded.auth_oauth, \
                         auth_env_reference = service_rollup.auth_env_reference + excluded.auth_env_reference, \
                         auth_secret_manager = service_rollup.auth_secret_manager + excluded.auth_secret_manager, \
                         auth_reference = service_rollup.auth_reference + excluded.auth_reference, \
                         auth_literal = service_rollup.auth_literal + excluded.auth_literal, \
                         auth_none = service_rollup.auth_none + excluded.auth_none, \
                         posture_oauth = service_rollup.posture_oauth + excluded.posture_oauth, \
                         posture_oauth_partial = service_rollup.posture_oauth_partial + excluded.posture_oauth_partial, \
                         posture_static_key = service_rollup.posture_static_key + excluded.posture_static_key, \
                         posture_none = service_rollup.posture_none + excluded.posture_none, \
                         posture_unknown = service_rollup.posture_unknown + excluded.posture_unknown",
                    );
                    qb.build().execute(&mut *conn).await?;
                }
                for (service, n) in &delta.services {
                    if n.servers < 0 {
                        sqlx::query("DELETE FROM service_rollup WHERE service = $1 AND servers <= 0")
                            .bind(service)
                            .execute(&mut *conn)
                            .await?;
                    }
                }

                let groups: Vec<_> = delta.groups.iter().collect();
                for chunk in groups.chunks(ROWS_PER_STATEMENT) {
                    let mut qb = Builder::new(
                        "INSERT INTO package_rollup (kind, ecosystem, name, servers, endpoints, pinned_servers, \
                         versions, advisories) ",
                    );
                    qb.push_values(chunk, |mut b, ((kind, ecosystem, name), n)| {
                        b.push_bind(kind.clone())
                            .push_bind(*ecosystem)
                            .push_bind(name.clone())
                            .push_bind(n.servers)
                            .push_bind(n.endpoints)
                            .push_bind(n.pinned)
                            .push_bind(String::new())
                            .push_bind(String::new());
                    });
                    qb.push(
                        " ON CONFLICT (kind, ecosystem, name) DO UPDATE SET \
                         servers = package_rollup.servers + excluded.servers, \
                         endpoints = package_rollup.endpoints + excluded.endpoints, \
                         pinned_servers = package_rollup.pinned_servers + excluded.pinned_servers",
                    );
                    qb.build().execute(&mut *conn).await?;
                }
                for ((kind, ecosystem, name), n) in &delta.groups {
                    if n.servers < 0 {
                        sqlx::query(
                            "DELETE FROM package_rollup WHERE kind = $1 AND ecosystem = $2 AND name = $3 \
                             AND servers <= 0",
                        )
                        .bind(kind)
                        .bind(*ecosystem)
                        .bind(name)
                        .execute(&mut *conn)
                        .await?;
                    }
                }

                for (table, column, items) in [
                    ("package_version_rollup", "servers", &delta.versions),
                    ("package_advisory_rollup", "endpoints", &delta.advisories),
                ] {
                    let item = if table == "package_version_rollup" { "version" } else { "advisory" };
                    let rows: Vec<_> = items.iter().collect();
                    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
                        let mut qb = Builder::new(format!("INSERT INTO {table} (ecosystem, name, {item}, {column}) "));
                        qb.push_values(chunk, |mut b, ((ecosystem, name, value), n)| {
                            b.push_bind(*ecosystem).push_bind(name.clone()).push_bind(value.clone()).push_bind(**n);
                        });
                        qb.push(format!(
                            " ON CONFLICT (ecosystem, name, {item}) DO UPDATE SET {column} = {table}.{column} + excluded.{column}"
                        ));
                        qb.build().execute(&mut *conn).await?;
                    }
                    for ((ecosystem, name, value), n) in items {
                        if *n < 0 {
                            sqlx::query(sqlx::AssertSqlSafe(format!(
                                "DELETE FROM {table} WHERE ecosystem = $1 AND name = $2 AND {item} = $3 AND {column} <= 0"
                            )))
                            .bind(*ecosystem)
                            .bind(name)
                            .bind(value)
                            .execute(&mut *conn)
                            .await?;
                        }
                    }
                }
                let packages = delta.packages_with_changed_lists();
                write_package_lists(conn, packages.iter()).await?;

                let secrets: Vec<_> = delta.secrets.iter().collect();
                for chunk in secrets.chunks(ROWS_PER_STATEMENT) {
                    let mut qb =
                        Builder::new("INSERT INTO secret_rollup (provider, kind, location_type, secrets, endpoints) ");
                    qb.push_values(chunk, |mut b, ((provider, kind, location), (n, endpoints))| {
                        b.push_bind(provider.clone())
                            .push_bind(kind.clone())
                            .push_bind(location.clone())
                            .push_bind(*n)
                            .push_bind(*endpoints);
                    });
                    qb.push(
                        " ON CONFLICT (provider, kind, location_type) DO UPDATE SET \
                         secrets = secret_rollup.secrets + excluded.secrets, \
                         endpoints = secret_rollup.endpoints + excluded.endpoints",
                    );
                    qb.build().execute(&mut *conn).await?;
                }
                for ((provider, kind, location), (n, _)) in &delta.secrets {
                    if *n < 0 {
                        sqlx::query(
                            "DELETE FROM secret_rollup WHERE provider = $1 AND kind = $2 AND location_type = $3 \
                             AND secrets <= 0",
                        )
                        .bind(provider)
                        .bind(kind)
                        .bind(location)
                        .execute(&mut *conn)
                        .await?;
                    }
                }

                let fingerprints: Vec<_> = delta.fingerprints.iter().collect();
                let mut distinct_secrets = 0i64;
                for chunk in fingerprints.chunks(ROWS_PER_STATEMENT) {
                    let mut qb =
                        Builder::new("INSERT INTO fingerprint_rollup (fingerprint, provider, kind, hosts, servers) ");
                    qb.push_values(chunk, |mut b, (fingerprint, n)| {
                        b.push_bind((*fingerprint).clone())
                            .push_bind(n.provider.clone())
                            .push_bind(n.kind.clone())
                            .push_bind(n.hosts)
                            .push_bind(n.servers);
                    });
                    // The label of the first endpoint that reported the fingerprint is kept. The
                    // new counts say which fingerprints this made appear or vanish.
                    qb.push(
                        " ON CONFLICT (fingerprint) DO UPDATE SET hosts = fingerprint_rollup.hosts + excluded.hosts, \
                         servers = fingerprint_rollup.servers + excluded.servers RETURNING fingerprint, servers",
                    );
                    for row in qb.build().fetch_all(&mut *conn).await? {
                        let fingerprint: String = row.try_get("fingerprint")?;
                        let servers: i64 = row.try_get("servers")?;
                        let added = delta.fingerprints.get(&fingerprint).map_or(0, |n| n.servers);
                        distinct_secrets += distinct_change(added, servers);
                    }
                }
                for (fingerprint, n) in &delta.fingerprints {
                    if n.servers < 0 {
                        sqlx::query("DELETE FROM fingerprint_rollup WHERE fingerprint = $1 AND servers <= 0")
                            .bind(fingerprint)
                            .execute(&mut *conn)
                            .await?;
                    }
                }
                let uses: i64 = delta.secrets.values().map(|(secrets, _)| secrets).sum();
                if distinct_secrets != 0 || uses != 0 {
                    sqlx::query(
                        "UPDATE secret_totals SET distinct_secrets = distinct_secrets + $1, uses = uses + $2 \
                         WHERE id = 1",
                    )
                    .bind(distinct_secrets)
                    .bind(uses)
                    .execute(&mut *conn)
                    .await?;
                }
                Ok(())
            }

            /// Rewrites `package_rollup.versions` and `.advisories` (newline-separated, sorted in
            /// Rust so both dialects agree whatever the database collation) of `packages`.
            async fn write_package_lists<'a>(
                conn: &mut $conn,
                packages: impl Iterator<Item = &'a (i64, String)>,
            ) -> Result<(), StoreError> {
                for (ecosystem, name) in packages {
                    let mut lists = Vec::with_capacity(2);
                    for sql in [
                        "SELECT version AS item FROM package_version_rollup WHERE ecosystem = $1 AND name = $2",
                        "SELECT advisory AS item FROM package_advisory_rollup WHERE ecosystem = $1 AND name = $2",
                    ] {
                        let mut items = BTreeSet::new();
                        for row in sqlx::query(sql).bind(*ecosystem).bind(name).fetch_all(&mut *conn).await? {
                            items.insert(row.try_get::<String, _>("item")?);
                        }
                        lists.push(items.into_iter().collect::<Vec<_>>().join("\n"));
                    }
                    sqlx::query(
                        "UPDATE package_rollup SET versions = $3, advisories = $4 \
                         WHERE kind = 'package' AND ecosystem = $1 AND name = $2",
                    )
                    .bind(*ecosystem)
                    .bind(name)
                    .bind(&lists[0])
                    .bind(&lists[1])
                    .execute(&mut *conn)
                    .await?;
                }
                Ok(())
            }

            /// Recomputes every rollup from the stored inventory, in the caller's transaction.
            /// The same sums ingest keeps by differences (the conformance suite checks they agree).
            pub(crate) async fn rebuild(conn: &mut $conn) -> Result<(), StoreError> {
                for table in [
                    "service_rollup",
                    "package_rollup",
                    "package_version_rollup",
                    "package_advisory_rollup",
                    "secret_rollup",
                    "fingerprint_rollup",
                ] {
                    sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table}"))).execute(&mut *conn).await?;
                }
                // `auth_posture` holds `muster.v1.AuthPosture` numbers: 1 oauth, 2 oauth_partial,
                // 3 static_key, 4 none, 5 unknown (as `PostureCounts::count` reads them).
                for sql in [
                    "INSERT INTO service_rollup (service, servers, endpoints, users, auth_oauth, auth_env_reference, \
                     auth_secret_manager, auth_reference, auth_literal, auth_none, posture_oauth, posture_oauth_partial, \
                     posture_static_key, posture_none, posture_unknown) \
                     SELECT service, COUNT(*), COUNT(DISTINCT agent_id), COUNT(DISTINCT agent_id || '/' || user_name), \
                     CAST(SUM(CASE WHEN auth = 'oauth' THEN 1 ELSE 0 END) AS BIGINT), \
                     CAST(SUM(CASE WHEN auth = 'env_reference' THEN 1 ELSE 0 END) AS BIGINT), \
                     CAST(SUM(CASE WHEN auth = 'secret_manager' THEN 1 ELSE 0 END) AS BIGINT), \
                     CAST(SUM(CASE WHEN auth = 'reference' THEN 1 ELSE 0 END) AS BIGINT), \
                     CAST(SUM(CASE WHEN auth = 'literal' THEN 1 ELSE 0 END) AS BIGINT), \
                     CAST(SUM(CASE WHEN auth = 'none' THEN 1 ELSE 0 END) AS BIGINT), \
                     CAST(SUM(CASE WHEN auth_posture = 1 THEN 1 ELSE 0 END) AS BIGINT), \
                     CAST(SUM(CASE WHEN auth_posture = 2 THEN 1 ELSE 0 END) AS BIGINT), \
                     CAST(SUM(CASE WHEN auth_posture = 3 THEN 1 ELSE 0 END) AS BIGINT), \
                     CAST(SUM(CASE WHEN auth_posture = 4 THEN 1 ELSE 0 END) AS BIGINT), \
                     CAST(SUM(CASE WHEN auth_posture = 5 THEN 1 ELSE 0 END) AS BIGINT) \
                     FROM servers WHERE service <> '' GROUP BY service",
                    "INSERT INTO package_rollup (kind, ecosystem, name, servers, endpoints, pinned_servers, versions, \
                     advisories) \
                     SELECT 'package', package_ecosystem, package_name, COUNT(*), COUNT(DISTINCT agent_id), \
                     CAST(SUM(pinned) AS BIGINT), '', '' FROM servers WHERE package_name <> '' \
                     GROUP BY package_ecosystem, package_name",
                    "INSERT INTO package_rollup (kind, ecosystem, name, servers, endpoints, pinned_servers, versions, \
                     advisories) \
                     SELECT 'remote', 0, endpoint_host, COUNT(*), COUNT(DISTINCT agent_id), 0, '', '' FROM servers \
                     WHERE endpoint_host <> '' GROUP BY endpoint_host",
                    "INSERT INTO package_version_rollup (ecosystem, name, version, servers) \
                     SELECT package_ecosystem, package_name, package_version, COUNT(*) FROM servers \
                     WHERE package_name <> '' AND package_version <> '' \
                     GROUP BY package_ecosystem, package_name, package_version",
                    "INSERT INTO package_advisory_rollup (ecosystem, name, advisory, endpoints) \
                     SELECT s.package_ecosystem, s.package_name, f.advisory, COUNT(DISTINCT f.agent_id) FROM findings f \
                     JOIN servers s ON s.agent_id = f.agent_id AND s.server_id = f.server_id \
                     WHERE f.advisory <> '' AND s.package_name <> '' \
                     GROUP BY s.package_ecosystem, s.package_name, f.advisory",
                    // The location types of `facts::location_type`: the part before the first ':'.
                    "INSERT INTO secret_rollup (provider, kind, location_type, secrets, endpoints) \
                     SELECT provider, kind, location_type, COUNT(*), COUNT(DISTINCT agent_id) FROM (\
                     SELECT agent_id, provider, kind, CASE \
                     WHEN location = 'env' OR location LIKE 'env:%' THEN 'env' \
                     WHEN location = 'header' OR location LIKE 'header:%' THEN 'header' \
                     WHEN location = 'arg' OR location LIKE 'arg:%' THEN 'arg' \
                     WHEN location = 'url' OR location LIKE 'url:%' THEN 'url' ELSE 'other' END AS location_type \
                     FROM credentials WHERE source = 1) AS c GROUP BY provider, kind, location_type",
                    "INSERT INTO fingerprint_rollup (fingerprint, provider, kind, hosts, servers) \
                     SELECT fingerprint, MIN(provider), MIN(kind), COUNT(DISTINCT agent_id), COUNT(*) FROM credentials \
                     WHERE fingerprint <> '' GROUP BY fingerprint",
                    "DELETE FROM secret_totals",
                    "INSERT INTO secret_totals (id, distinct_secrets, uses) \
                     SELECT 1, (SELECT COUNT(*) FROM fingerprint_rollup), \
                     (SELECT COUNT(*) FROM credentials WHERE source = 1)",
                ] {
                    sqlx::query(sql).execute(&mut *conn).await?;
                }
                let mut packages = BTreeSet::new();
                for sql in [
                    "SELECT DISTINCT ecosystem, name FROM package_version_rollup",
                    "SELECT DISTINCT ecosystem, name FROM package_advisory_rollup",
                ] {
                    for row in sqlx::query(sql).fetch_all(&mut *conn).await? {
                        packages.insert((row.try_get::<i64, _>("ecosystem")?, row.try_get::<String, _>("name")?));
                    }
                }
                write_package_lists(conn, packages.iter()).await
            }

            /// Finishes migration `0012` once (its row in `data_backfills` says it is pending):
            /// rebuilds every rollup in one transaction. Runs at open, after migrations.
            pub(crate) async fn backfill_live_rollups(pool: &sqlx::Pool<$db>) -> Result<(), StoreError> {
                const PENDING: &str = "SELECT 1 AS one FROM data_backfills WHERE name = 'live_rollups'";
                if sqlx::query(PENDING).fetch_optional(pool).await?.is_none() {
                    return Ok(());
                }
                let mut tx = pool.begin().await?;
                rebuild(&mut tx).await?;
                sqlx::query("DELETE FROM data_backfills WHERE name = 'live_rollups'").execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(())
            }
        }
    };
}

pub(crate) use impl_live;
