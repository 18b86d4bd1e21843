//! Credential read models: secret groups, shared fingerprints, and the credential locations (one
//! row per credential of one server, filtered by fingerprint, provider, kind, source, location
//! type or endpoint; paged by the credentials primary key).
//!
//! Portable SQL under the rules of `read/sql.rs`; a macro instantiated per backend inside
//! `read_models` (whose imports and helpers it shares through `use super::*`).

macro_rules! impl_credentials {
    ($store:ident, $db:ty, $conn:ty) => {
        pub(crate) mod credentials {
            use super::*;

            pub(crate) async fn secret_groups(store: &super::super::$store) -> Result<Vec<SecretGroup>, StoreError> {
                let rows = sqlx::query(
                    "SELECT provider, kind, location_type, secrets, endpoints FROM secret_rollup \
                     ORDER BY secrets DESC, provider, kind, location_type",
                )
                .fetch_all(store.reader())
                .await?;
                rows.iter()
                    .map(|row| {
                        Ok(SecretGroup {
                            provider: row.try_get("provider")?,
                            kind: row.try_get("kind")?,
                            location_type: row.try_get("location_type")?,
                            secrets: row.try_get("secrets")?,
                            endpoints: row.try_get("endpoints")?,
                        })
                    })
                    .collect()
            }

            /// Migration 0021's one row, kept live with the fingerprint rollup.
            pub(crate) async fn secret_totals(store: &super::super::$store) -> Result<SecretTotals, StoreError> {
                let row = sqlx::query("SELECT distinct_secrets, uses FROM secret_totals WHERE id = 1")
                    .fetch_optional(store.reader())
                    .await?;
                match row {
                    Some(row) => Ok(SecretTotals { distinct: row.try_get("distinct_secrets")?, uses: row.try_get("uses")? }),
                    None => Ok(SecretTotals::default()),
                }
            }

            pub(crate) async fn shared_fingerprints(
                store: &super::super::$store,
                query: &FingerprintQuery,
            ) -> Result<Page<SharedFingerprint>, StoreError> {
                let limit = page_limit(query.limit);
                // Each scope pages on the column its index ranks by: hosts across hosts, uses
                // (servers) for the others, where more uses than hosts means a host uses it twice.
                let (rank, min) = match query.reuse {
                    FingerprintReuse::AcrossHosts => ("hosts", query.min_hosts.max(2)),
                    FingerprintReuse::WithinHost | FingerprintReuse::Any => ("servers", 2),
                };
                let mut qb = Builder::new(format!(
                    "SELECT fingerprint, provider, kind, hosts, servers FROM fingerprint_rollup WHERE {rank} >= "
                ));
                qb.push_bind(min);
                match query.reuse {
                    FingerprintReuse::WithinHost => {
                        qb.push(" AND servers > hosts");
                    }
                    FingerprintReuse::Any if query.min_hosts > 1 => {
                        qb.push(" AND hosts >= ").push_bind(query.min_hosts);
                    }
                    _ => {}
                }
                if let Some(prefix) = &query.prefix {
                    // A range, not LIKE, so both dialects use the primary key whatever the
                    // collation; fingerprints are lower-case hex and 'g' sorts after every digit.
                    let prefix = prefix.to_ascii_lowercase();
                    qb.push(" AND fingerprint >= ")
                        .push_bind(prefix.clone())
                        .push(" AND fingerprint < ")
                        .push_bind(format!("{prefix}g"));
                }
                if let Some(provider) = &query.provider {
                    qb.push(" AND provider = ").push_bind(provider.clone());
                }
                if let Some(cursor) = &query.cursor {
                    let cursor = Cursor::decode(cursor)?;
                    qb.push(format!(" AND ({rank}, fingerprint) < ("))
                        .push_bind(cursor.int_key()?)
                        .push(", ")
                        .push_bind(cursor.id)
                        .push(")");
                }
                qb.push(format!(" ORDER BY {rank} DESC, fingerprint DESC LIMIT ")).push_bind(i64::from(limit) + 1);
                let rows = qb.build().fetch_all(store.reader()).await?;
                let items = rows
                    .iter()
                    .map(|row| {
                        Ok(SharedFingerprint {
                            fingerprint: row.try_get("fingerprint")?,
                            provider: row.try_get("provider")?,
                            kind: row.try_get("kind")?,
                            hosts: row.try_get("hosts")?,
                            servers: row.try_get("servers")?,
                        })
                    })
                    .collect::<Result<Vec<_>, StoreError>>()?;
                let across = query.reuse == FingerprintReuse::AcrossHosts;
                Ok(into_page(items, limit, |f| Cursor {
                    key: if across { f.hosts } else { f.servers }.to_string(),
                    id: f.fingerprint.clone(),
                }))
            }

            pub(crate) async fn credential_locations(
                store: &super::super::$store,
                query: &CredentialQuery,
            ) -> Result<Page<CredentialLocation>, StoreError> {
                let limit = page_limit(query.limit);
                // The page is chosen from `credentials` alone, in page order, and only its rows
                // are joined to their server and endpoint (one primary-key lookup each). Written
                // as one join, both databases misplanned it on the 100,000-endpoint seed:
                // PostgreSQL estimated the credentials-servers join at 5 rows and hashed both
                // tables (3.3 s for the first page); SQLite started from `endpoint_summary` and
                // sorted (1-2 s for a page 100 pages deep). Each credential's server and summary
                // are written with it at ingest, so the joins drop no row.
                let mut qb = Builder::new(
                    "SELECT c.agent_id, e.hostname, c.server_id, s.name, s.client, s.user_name, s.config_path, \
                     c.location, c.kind, c.provider, c.source, c.reference_kind, c.fingerprint \
                     FROM (SELECT c.agent_id, c.server_id, c.location, c.kind, c.provider, c.source, \
                     c.reference_kind, c.fingerprint FROM credentials c WHERE 1 = 1",
                );
                if let Some(fingerprint) = &query.fingerprint {
                    qb.push(" AND c.fingerprint = ").push_bind(fingerprint.to_ascii_lowercase());
                }
                if let Some(source) = query.source {
                    // `+`: checked on the rows, never the index to read (`credentials_literal`
                    // would need every literal credential sorted into page order).
                    qb.push(" AND +c.source = ").push_bind(i64::from(source));
                }
                if let Some(provider) = &query.provider {
                    qb.push(" AND c.provider = ").push_bind(provider.clone());
                }
                if let Some(kind) = &query.kind {
                    qb.push(" AND c.kind = ").push_bind(kind.clone());
                }
                if let Some(location_type) = &query.location_type {
                    // The location types of `facts::location_type`: the part before the first ':'.
                    match location_type.as_str() {
                        "other" => {
                            qb.push(
                                " AND c.location NOT LIKE 'env:%' AND c.location NOT LIKE 'header:%' \
                                 AND c.location NOT LIKE 'arg:%' AND c.location <> 'url' AND c.location NOT LIKE 'url:%'",
                            );
                        }
                        "url" => {
                            qb.push(" AND (c.location = 'url' OR c.location LIKE 'url:%')");
                        }
                        other => {
                            qb.push(" AND c.location LIKE ").push_bind(format!("{other}:%"));
                        }
                    }
                }
                if let Some(agent_id) = &query.agent_id {
                    qb.push(" AND c.agent_id = ").push_bind(agent_id.clone());
                }
                if let Some(cursor) = &query.cursor {
                    let cursor = Cursor::decode(cursor)?;
                    let Some((server_id, location)) = cursor.id.split_once('\u{1e}') else {
                        return Err(StoreError::InvalidCursor(cursor.encode()));
                    };
                    qb.push(" AND (c.agent_id, c.server_id, c.location) > (")
                        .push_bind(cursor.key.clone())
                        .push(", ")
                        .push_bind(server_id.to_string())
                        .push(", ")
                        .push_bind(location.to_string())
                        .push(")");
                }
                qb.push(" ORDER BY c.agent_id, c.server_id, c.location LIMIT ").push_bind(i64::from(limit) + 1);
                qb.push(
                    ") c JOIN servers s ON s.agent_id = c.agent_id AND s.server_id = c.server_id \
                     JOIN endpoint_summary e ON e.agent_id = c.agent_id ORDER BY c.agent_id, c.server_id, c.location",
                );
                let rows = qb.build().fetch_all(store.reader()).await?;
                let mut items = Vec::with_capacity(rows.len());
                for row in &rows {
                    let location: String = row.try_get("location")?;
                    items.push(CredentialLocation {
                        agent_id: row.try_get("agent_id")?,
                        hostname: row.try_get("hostname")?,
                        server_id: row.try_get("server_id")?,
                        server_name: row.try_get("name")?,
                        client: row.try_get("client")?,
                        user: row.try_get("user_name")?,
                        config_path: row.try_get("config_path")?,
                        location_type: crate::store::read::location_type(&location).to_string(),
                        location,
                        kind: row.try_get("kind")?,
                        provider: row.try_get("provider")?,
                        source: to_i32(row.try_get("source")?),
                        reference_kind: to_i32(row.try_get("reference_kind")?),
                        fingerprint: row.try_get("fingerprint")?,
                    });
                }
                Ok(into_page(items, limit, |c| Cursor {
                    key: c.agent_id.clone(),
                    id: format!("{}\u{1e}{}", c.server_id, c.location),
                }))
            }
        }
    };
}

pub(crate) use impl_credentials;
