//! Credential read models: secret groups and shared fingerprints.
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
        }
    };
}

pub(crate) use impl_credentials;
