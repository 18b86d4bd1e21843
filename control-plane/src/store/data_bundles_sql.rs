//! The SQL of [`super::DataBundleStore`], shared by both backends: portable statements only
//! (`$N` parameters, `ON CONFLICT`); the column types per dialect are in migration
//! `0018_data_bundles` (and `0019_data_bundle_status` for what agents report). One macro instantiated per backend
//! (`docs/adr/0005-store-per-feature-sql-modules.md`); it decides nothing.

/// Implements [`super::DataBundleStore`] for `$store` (a struct with `writer()` and `reader()`).
macro_rules! impl_data_bundle_store {
    ($store:ty, $db:ty) => {
        mod data_bundle_store_impl {
            use sqlx::Row as _;

            use crate::store::StoreError;
            use crate::store::data_bundles::{DataBundleRecord, DataBundleSummary, DataRefusalRecord};
            use crate::store::portable::to_u64;

            type Row = <$db as sqlx::Database>::Row;

            fn summary_from_row(row: &Row) -> Result<DataBundleSummary, StoreError> {
                Ok(DataBundleSummary {
                    version: to_u64(row.try_get("version")?),
                    digest: row.try_get("digest")?,
                    parts: row.try_get("parts")?,
                    author: row.try_get("author")?,
                    reason: row.try_get("reason")?,
                    created_at: row.try_get("created_at")?,
                })
            }

            fn to_i64(version: u64) -> i64 {
                i64::try_from(version).unwrap_or(i64::MAX)
            }

            #[async_trait::async_trait]
            impl crate::store::data_bundles::DataBundleStore for $store {
                async fn last_data_bundle_version(&self) -> Result<u64, StoreError> {
                    let row =
                        sqlx::query("SELECT MAX(version) AS last FROM data_bundles").fetch_one(self.reader()).await?;
                    Ok(row.try_get::<Option<i64>, _>("last")?.map(to_u64).unwrap_or(0))
                }

                async fn insert_data_bundle(&self, b: &DataBundleRecord) -> Result<bool, StoreError> {
                    let done = sqlx::query(
                        "INSERT INTO data_bundles (version, document, digest, parts, author, reason, created_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (version) DO NOTHING",
                    )
                    .bind(to_i64(b.version))
                    .bind(&b.document)
                    .bind(&b.digest)
                    .bind(&b.parts)
                    .bind(&b.author)
                    .bind(&b.reason)
                    .bind(b.created_at)
                    .execute(self.writer())
                    .await?;
                    Ok(done.rows_affected() == 1)
                }

                async fn current_data_bundle(&self) -> Result<Option<DataBundleRecord>, StoreError> {
                    let row = sqlx::query(
                        "SELECT version, document, digest, parts, author, reason, created_at FROM data_bundles \
                         ORDER BY version DESC LIMIT 1",
                    )
                    .fetch_optional(self.reader())
                    .await?;
                    let Some(row) = row else { return Ok(None) };
                    let summary = summary_from_row(&row)?;
                    Ok(Some(DataBundleRecord {
                        version: summary.version,
                        document: row.try_get("document")?,
                        digest: summary.digest,
                        parts: summary.parts,
                        author: summary.author,
                        reason: summary.reason,
                        created_at: summary.created_at,
                    }))
                }

                async fn data_bundle_history(&self, limit: u32) -> Result<Vec<DataBundleSummary>, StoreError> {
                    let rows = sqlx::query(
                        "SELECT version, digest, parts, author, reason, created_at FROM data_bundles \
                         ORDER BY version DESC LIMIT $1",
                    )
                    .bind(i64::from(limit))
                    .fetch_all(self.reader())
                    .await?;
                    rows.iter().map(summary_from_row).collect()
                }

                async fn data_bundle_refusals(&self, limit: u32) -> Result<Vec<DataRefusalRecord>, StoreError> {
                    let rows = sqlx::query(
                        "SELECT c.agent_id, a.hostname, c.data_version, c.data_refused_version, c.data_refusal, \
                         c.reported_at FROM policy_compliance c JOIN agents a ON a.id = c.agent_id \
                         WHERE c.data_refused_version > 0 \
                         ORDER BY c.data_refused_version DESC, c.agent_id LIMIT $1",
                    )
                    .bind(i64::from(limit))
                    .fetch_all(self.reader())
                    .await?;
                    rows.iter()
                        .map(|row| {
                            Ok(DataRefusalRecord {
                                agent_id: row.try_get("agent_id")?,
                                hostname: row.try_get("hostname")?,
                                data_version: to_u64(row.try_get("data_version")?),
                                refused_version: to_u64(row.try_get("data_refused_version")?),
                                reason: row.try_get("data_refusal")?,
                                reported_at: row.try_get("reported_at")?,
                            })
                        })
                        .collect()
                }
            }
        }
    };
}

pub(crate) use impl_data_bundle_store;
