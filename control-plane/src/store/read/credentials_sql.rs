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
                let mut qb = Builder::new(
                    "SELECT fingerprint, provider, kind, hosts, servers FROM fingerprint_rollup WHERE hosts >= ",
                );
                qb.push_bind(query.min_hosts.max(2));
                if let Some(provider) = &query.provider {
                    qb.push(" AND provider = ").push_bind(provider.clone());
                }
                if let Some(cursor) = &query.cursor {
                    let cursor = Cursor::decode(cursor)?;
                    qb.push(" AND (hosts, fingerprint) < (")
                        .push_bind(cursor.int_key()?)
                        .push(", ")
                        .push_bind(cursor.id)
                        .push(")");
                }
                qb.push(" ORDER BY hosts DESC, fingerprint DESC LIMIT ").push_bind(i64::from(limit) + 1);
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
                Ok(into_page(items, limit, |f| Cursor { key: f.hosts.to_string(), id: f.fingerprint.clone() }))
            }
        }
    };
}

pub(crate) use impl_credentials;
