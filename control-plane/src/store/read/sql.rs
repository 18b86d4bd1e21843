//! The read-model SQL shared by both backends, instantiated per database type like `store/sql.rs`
//! and under the same rules: portable statements only (row-value comparisons for keyset paging,
//! `CAST(SUM(..) AS BIGINT)` because PostgreSQL sums integers as NUMERIC, string lists built in
//! Rust rather than with `group_concat`/`string_agg`). Dynamic filters go through
//! `sqlx::QueryBuilder`, which numbers placeholders for each dialect; no user text is ever
//! spliced into SQL.
//!
//! Each read model is a small macro in its own file (`summary_sql.rs`, the read-model step of
//! ingest; `overview_sql.rs`, `servers_sql.rs`, `endpoints_sql.rs`, `credentials_sql.rs`,
//! `findings_sql.rs`, `activity_sql.rs`, `agent_list_sql.rs`, `rollups_sql.rs`, `live_sql.rs`), instantiated
//! here inside one `read_models` module per backend that holds their shared imports and helpers;
//! the [`ReadModels`](crate::store::read::ReadModels) impl below hands each method to its module
//! (`docs/adr/0005-store-per-feature-sql-modules.md`). Nothing here opens connections or runs
//! migrations.

/// Implements [`crate::store::read::ReadModels`] for `$store` inside a `read_models` child
/// module (so its imports cannot collide with the store's other feature modules).
macro_rules! impl_read_models {
    ($store:ident, $db:ty, $conn:ty) => {
        pub(crate) mod read_models {
            use std::collections::{BTreeMap, BTreeSet};

            use muster_proto::prost::Message as _;
            use sqlx::Row as _;

            use crate::ingest::{ChangeKind, Report, ReportBody};
            use crate::store::StoreError;
            use crate::store::read::{
                ADVISORY_FINDINGS, ActivityEvent, ActivityQuery, AgentQuery, AgentRow, AuthCounts, CredentialLocation,
                CredentialQuery, Cursor, DailyPoint, DecisionKind, EndpointDetail, EndpointQuery, EndpointRow,
                EndpointSort, FindingDecision, FindingKey, FindingQuery, FindingStateFilter, FindingView,
                FingerprintQuery, FingerprintReuse, GroupKind, HISTORY_LIMIT, MAX_PAGE, Overview, Page, PostureCounts,
                ReadModels, RollupStats, SecretGroup, SecretTotals, ServerCredential, ServerFacts, ServerGroup,
                ServerGroupQuery, ServerQuery, ServerRow, ServerView, ServiceRow, SharedFingerprint, VersionCount,
                advisory_id, contains_pattern, day_start, finding_subject, into_page, member_key, members, page_limit,
                process_views,
            };

            type Row = <$db as sqlx::Database>::Row;
            type Builder = sqlx::QueryBuilder<$db>;

            const SEVERITY_HIGH: i64 = 4;
            const SEVERITY_CRITICAL: i64 = 5;

            fn to_i32(value: i64) -> i32 {
                i32::try_from(value).unwrap_or(0)
            }

            fn split_lines(text: &str) -> Vec<String> {
                text.lines().filter(|s| !s.is_empty()).map(str::to_string).collect()
            }

            fn group_id(kind: &str, ecosystem: i64, name: &str) -> String {
                format!("{kind}\u{1e}{ecosystem}\u{1e}{name}")
            }

            crate::store::read::summary_sql::impl_summary!($store, $db, $conn);
            crate::store::read::overview_sql::impl_overview!($store, $db, $conn);
            crate::store::read::servers_sql::impl_servers!($store, $db, $conn);
            crate::store::read::endpoints_sql::impl_endpoints!($store, $db, $conn);
            crate::store::read::credentials_sql::impl_credentials!($store, $db, $conn);
            crate::store::read::findings_sql::impl_findings!($store, $db, $conn);
            crate::store::read::activity_sql::impl_activity!($store, $db, $conn);
            crate::store::read::agent_list_sql::impl_agent_list!($store, $db, $conn);
            crate::store::read::rollups_sql::impl_rollups!($store, $db, $conn);
            crate::store::read::live_sql::impl_live!($store, $db, $conn);

            pub(crate) use live::backfill_live_rollups;
            pub(crate) use summary::{
                after_ingest, backfill_finding_subjects, backfill_remote_auth_posture, refresh_endpoint,
            };

            /// What `agent_id` contributes to the fleet-wide rollups, read before ingest writes.
            pub(crate) async fn rollup_contribution(
                conn: &mut $conn,
                agent_id: &str,
            ) -> Result<crate::store::read::live::Contribution, StoreError> {
                live::contribution(conn, agent_id).await
            }

            /// Brings the rollups up to date with what ingest wrote for `agent_id`, given what it
            /// contributed before (`rollup_contribution`). Runs inside the ingest transaction.
            pub(crate) async fn update_rollups(
                conn: &mut $conn,
                agent_id: &str,
                before: &crate::store::read::live::Contribution,
            ) -> Result<(), StoreError> {
                let after = live::contribution(&mut *conn, agent_id).await?;
                live::apply(conn, &crate::store::read::live::Contribution::difference(before, &after)).await
            }

            #[async_trait::async_trait]
            impl ReadModels for super::$store {
                async fn overview(&self, now: i64, online_since: i64) -> Result<Overview, StoreError> {
                    overview::overview(self, now, online_since).await
                }
                async fn services(&self) -> Result<Vec<ServiceRow>, StoreError> {
                    overview::services(self).await
                }
                async fn server_groups(&self, query: &ServerGroupQuery) -> Result<Page<ServerGroup>, StoreError> {
                    servers::server_groups(self, query).await
                }
                async fn endpoints(&self, query: &EndpointQuery) -> Result<Page<EndpointRow>, StoreError> {
                    endpoints::endpoints(self, query).await
                }
                async fn server_list(&self, query: &ServerQuery) -> Result<Page<ServerRow>, StoreError> {
                    servers::server_list(self, query).await
                }
                async fn credential_locations(
                    &self,
                    query: &CredentialQuery,
                ) -> Result<Page<CredentialLocation>, StoreError> {
                    credentials::credential_locations(self, query).await
                }
                async fn endpoint_detail(
                    &self,
                    agent_id: &str,
                    online_since: i64,
                    now: i64,
                ) -> Result<Option<EndpointDetail>, StoreError> {
                    endpoints::endpoint_detail(self, agent_id, online_since, now).await
                }
                async fn secret_groups(&self) -> Result<Vec<SecretGroup>, StoreError> {
                    credentials::secret_groups(self).await
                }
                async fn secret_totals(&self) -> Result<SecretTotals, StoreError> {
                    credentials::secret_totals(self).await
                }
                async fn shared_fingerprints(
                    &self,
                    query: &FingerprintQuery,
                ) -> Result<Page<SharedFingerprint>, StoreError> {
                    credentials::shared_fingerprints(self, query).await
                }
                async fn findings(&self, query: &FindingQuery) -> Result<Page<FindingView>, StoreError> {
                    findings::findings(self, query).await
                }
                async fn decide_finding(
                    &self,
                    key: &FindingKey,
                    kind: DecisionKind,
                    reason: &str,
                    expires_at: Option<i64>,
                    who: &str,
                    now: i64,
                ) -> Result<bool, StoreError> {
                    findings::decide_finding(self, key, kind, reason, expires_at, who, now).await
                }
                async fn clear_finding_decision(&self, key: &FindingKey, now: i64) -> Result<bool, StoreError> {
                    findings::clear_finding_decision(self, key, now).await
                }
                async fn activity(&self, query: &ActivityQuery) -> Result<Page<ActivityEvent>, StoreError> {
                    activity::activity(self, query).await
                }
                async fn agents_page(&self, query: &AgentQuery) -> Result<Page<AgentRow>, StoreError> {
                    agent_list::agents_page(self, query).await
                }
                async fn agent_versions(&self) -> Result<Vec<VersionCount>, StoreError> {
                    agent_list::agent_versions(self).await
                }
                async fn refresh_rollups(&self, now: i64, online_since: i64) -> Result<RollupStats, StoreError> {
                    rollups::refresh_rollups(self, now, online_since).await
                }
                async fn rebuild_rollups(&self) -> Result<(), StoreError> {
                    let mut tx = self.writer().begin().await?;
                    live::rebuild(&mut tx).await?;
                    tx.commit().await?;
                    Ok(())
                }
            }
        }
    };
}

pub(crate) use impl_read_models;
