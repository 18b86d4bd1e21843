//! The SQL of [`super::PolicyStore`], shared by both backends: portable statements only (`$N`
//! parameters, `ON CONFLICT`); the column types per dialect are in migration `0009_policies`.
//! One macro instantiated per backend (`docs/adr/0005-store-per-feature-sql-modules.md`); it
//! decides nothing (version numbers and stamping are `crate::policies`').

/// Implements [`super::PolicyStore`] for `$store` (a struct with `writer()` and `reader()`).
macro_rules! impl_policy_store {
    ($store:ty, $db:ty) => {
        mod policy_store_impl {
            use sqlx::Row as _;

            use crate::store::StoreError;
            use crate::store::policies::{NewPolicyVersion, PolicyVersionRecord, PolicyVersionSummary};
            use crate::store::portable::to_u64;

            type Row = <$db as sqlx::Database>::Row;

            fn summary_from_row(row: &Row) -> Result<PolicyVersionSummary, StoreError> {
                Ok(PolicyVersionSummary {
                    version: to_u64(row.try_get("version")?),
                    name: row.try_get("name")?,
                    digest: row.try_get("digest")?,
                    author: row.try_get("author")?,
                    reason: row.try_get("reason")?,
                    created_at: row.try_get("created_at")?,
                    published_at: row.try_get("published_at")?,
                    rollback_of: row.try_get::<Option<i64>, _>("rollback_of")?.map(to_u64),
                })
            }

            fn record_from_row(row: &Row) -> Result<PolicyVersionRecord, StoreError> {
                let summary = summary_from_row(row)?;
                Ok(PolicyVersionRecord {
                    version: summary.version,
                    name: summary.name,
                    source_text: row.try_get("source_text")?,
                    canonical: row.try_get("canonical")?,
                    digest: summary.digest,
                    author: summary.author,
                    reason: summary.reason,
                    created_at: summary.created_at,
                    published_at: summary.published_at,
                    rollback_of: summary.rollback_of,
                })
            }

            fn to_i64(version: u64) -> i64 {
                i64::try_from(version).unwrap_or(i64::MAX)
            }

            #[async_trait::async_trait]
            impl crate::store::policies::PolicyStore for $store {
                async fn last_policy_version(&self) -> Result<u64, StoreError> {
                    let row = sqlx::query("SELECT MAX(version) AS last FROM policy_versions")
                        .fetch_one(self.reader())
                        .await?;
                    Ok(row.try_get::<Option<i64>, _>("last")?.map(to_u64).unwrap_or(0))
                }

                async fn insert_policy_version(&self, v: &NewPolicyVersion) -> Result<bool, StoreError> {
                    let done = sqlx::query(
                        "INSERT INTO policy_versions (version, name, source_text, canonical, digest, author, \
                         reason, created_at, published_at, rollback_of) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (version) DO NOTHING",
                    )
                    .bind(to_i64(v.version))
                    .bind(&v.name)
                    .bind(&v.source_text)
                    .bind(&v.canonical)
                    .bind(&v.digest)
                    .bind(&v.author)
                    .bind(&v.reason)
                    .bind(v.created_at)
                    .bind(v.published_at)
                    .bind(v.rollback_of.map(to_i64))
                    .execute(self.writer())
                    .await?;
                    Ok(done.rows_affected() == 1)
                }

                async fn policy_version(&self, version: u64) -> Result<Option<PolicyVersionRecord>, StoreError> {
                    let row = sqlx::query(
                        "SELECT version, name, digest, author, reason, created_at, published_at, rollback_of, \
                         source_text, canonical FROM policy_versions WHERE version = $1",
                    )
                    .bind(to_i64(version))
                    .fetch_optional(self.reader())
                    .await?;
                    row.as_ref().map(record_from_row).transpose()
                }

                async fn current_policy(&self) -> Result<Option<PolicyVersionRecord>, StoreError> {
                    let row = sqlx::query(
                        "SELECT version, name, digest, author, reason, created_at, published_at, rollback_of, \
                         source_text, canonical FROM policy_versions \
                         WHERE published_at IS NOT NULL ORDER BY version DESC LIMIT 1",
                    )
                    .fetch_optional(self.reader())
                    .await?;
                    row.as_ref().map(record_from_row).transpose()
                }

                async fn policy_history(
                    &self,
                    before: Option<u64>,
                    limit: u32,
                ) -> Result<Vec<PolicyVersionSummary>, StoreError> {
                    let rows = sqlx::query(
                        "SELECT version, name, digest, author, reason, created_at, published_at, rollback_of \
                         FROM policy_versions WHERE version < $1 ORDER BY version DESC LIMIT $2",
                    )
                    .bind(before.map_or(i64::MAX, to_i64))
                    .bind(i64::from(limit))
                    .fetch_all(self.reader())
                    .await?;
                    rows.iter().map(summary_from_row).collect()
                }
            }
        }
    };
}

pub(crate) use impl_policy_store;
