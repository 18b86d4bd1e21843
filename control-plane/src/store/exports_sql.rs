//! The SQL of [`super::ExportStore`], shared by both backends like `sql.rs`: portable statements
//! only (`$N` parameters, `ON CONFLICT`, `RETURNING`); dialect differences live in migration
//! 0004. This file does not open connections or run migrations.

/// Implements [`super::ExportStore`] for `$store` (a struct with `writer()` and `reader()` pool accessors).
macro_rules! impl_export_store {
    ($store:ty, $db:ty) => {
        mod export_store_impl {
            use muster_proto::prost::Message as _;
            use muster_proto::v1::McpServer;
            use sqlx::Row as _;

            use crate::store::StoreError;
            use crate::store::exports::{DeliveryAttempt, DeliveryStatus, NewWebhook, StoredFinding, WebhookRecord};

            type Row = <$db as sqlx::Database>::Row;

            fn webhook_from_row(row: &Row) -> Result<WebhookRecord, StoreError> {
                Ok(WebhookRecord {
                    id: row.try_get("id")?,
                    url: row.try_get("url")?,
                    secret: row.try_get("secret")?,
                    min_severity: i32::try_from(row.try_get::<i64, _>("min_severity")?).unwrap_or(0),
                    enabled: row.try_get("enabled")?,
                    created_at: row.try_get("created_at")?,
                })
            }

            fn delivery_from_row(row: &Row) -> Result<DeliveryAttempt, StoreError> {
                let status: String = row.try_get("status")?;
                Ok(DeliveryAttempt {
                    endpoint_id: row.try_get("endpoint_id")?,
                    event_id: row.try_get("event_id")?,
                    attempt: u32::try_from(row.try_get::<i64, _>("attempt")?).unwrap_or(0),
                    status: DeliveryStatus::parse(&status)
                        .ok_or_else(|| StoreError::Corrupt(format!("delivery status {status}")))?,
                    response_code: row
                        .try_get::<Option<i64>, _>("response_code")?
                        .and_then(|code| u16::try_from(code).ok()),
                    latency_ms: u64::try_from(row.try_get::<i64, _>("latency_ms")?).unwrap_or(0),
                    error: row.try_get("error")?,
                    attempted_at: row.try_get("attempted_at")?,
                    next_retry_at: row.try_get("next_retry_at")?,
                })
            }

            /// The finding keys already announced for `agent_id`.
            async fn notified_keys<'c, E>(
                executor: E,
                agent_id: &str,
            ) -> Result<std::collections::BTreeSet<String>, StoreError>
            where
                E: sqlx::Executor<'c, Database = $db>,
            {
                let rows = sqlx::query("SELECT finding_key FROM notified_findings WHERE agent_id = $1")
                    .bind(agent_id)
                    .fetch_all(executor)
                    .await?;
                let mut stored = std::collections::BTreeSet::new();
                for row in rows {
                    stored.insert(row.try_get::<String, _>("finding_key")?);
                }
                Ok(stored)
            }

            #[async_trait::async_trait]
            impl crate::store::ExportStore for $store {
                async fn server_details(&self, agent_id: &str) -> Result<Vec<McpServer>, StoreError> {
                    let rows =
                        sqlx::query("SELECT server_id, detail FROM servers WHERE agent_id = $1 ORDER BY server_id")
                            .bind(agent_id)
                            .fetch_all(self.reader())
                            .await?;
                    rows.iter()
                        .map(|row| {
                            let detail: Vec<u8> = row.try_get("detail")?;
                            McpServer::decode(detail.as_slice()).map_err(|_| {
                                let id: String = row.try_get("server_id").unwrap_or_default();
                                StoreError::Corrupt(format!("server detail of {id}"))
                            })
                        })
                        .collect()
                }

                async fn agent_findings(&self, agent_id: &str) -> Result<Vec<StoredFinding>, StoreError> {
                    let rows = sqlx::query(
                        "SELECT server_id, finding_id, severity, owasp, message, client, user_name, server_ids \
                         FROM findings WHERE agent_id = $1 ORDER BY server_id, finding_id, id",
                    )
                    .bind(agent_id)
                    .fetch_all(self.reader())
                    .await?;
                    rows.iter()
                        .map(|row| {
                            let ids: String = row.try_get("server_ids")?;
                            Ok(StoredFinding {
                                server_id: row.try_get("server_id")?,
                                finding_id: row.try_get("finding_id")?,
                                severity: i32::try_from(row.try_get::<i64, _>("severity")?).unwrap_or(0),
                                owasp: row.try_get("owasp")?,
                                message: row.try_get("message")?,
                                client: row.try_get("client")?,
                                user: row.try_get("user_name")?,
                                server_ids: ids.split(',').filter(|id| !id.is_empty()).map(str::to_string).collect(),
                            })
                        })
                        .collect()
                }

                async fn create_webhook(&self, webhook: &NewWebhook) -> Result<(), StoreError> {
                    sqlx::query(
                        "INSERT INTO webhook_endpoints (id, url, secret, min_severity, enabled, created_at) \
                         VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(&webhook.id)
                    .bind(&webhook.url)
                    .bind(&webhook.secret)
                    .bind(i64::from(webhook.min_severity))
                    .bind(true)
                    .bind(webhook.created_at)
                    .execute(self.writer())
                    .await?;
                    Ok(())
                }

                async fn list_webhooks(&self) -> Result<Vec<WebhookRecord>, StoreError> {
                    let rows = sqlx::query(
                        "SELECT id, url, secret, min_severity, enabled, created_at FROM webhook_endpoints \
                         ORDER BY created_at, id",
                    )
                    .fetch_all(self.reader())
                    .await?;
                    rows.iter().map(webhook_from_row).collect()
                }

                async fn delete_webhook(&self, id: &str) -> Result<bool, StoreError> {
                    let mut tx = self.writer().begin().await?;
                    // Explicit rather than ON DELETE CASCADE: SQLite enforces it only with
                    // foreign keys on, and the log must not outlive its endpoint either way.
                    sqlx::query("DELETE FROM webhook_deliveries WHERE endpoint_id = $1")
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    let done =
                        sqlx::query("DELETE FROM webhook_endpoints WHERE id = $1").bind(id).execute(&mut *tx).await?;
                    tx.commit().await?;
                    Ok(done.rows_affected() > 0)
                }

                async fn sync_notified_findings(
                    &self,
                    agent_id: &str,
                    present: &[String],
                    now: i64,
                ) -> Result<Vec<String>, StoreError> {
                    // Steady state (nothing new, nothing gone) costs one SELECT on a reader: this
                    // runs after every applied report, and on SQLite the single writer is ingest's.
                    let stored = notified_keys(self.reader(), agent_id).await?;
                    let keep: std::collections::BTreeSet<&str> = present.iter().map(String::as_str).collect();
                    if present.iter().all(|key| stored.contains(key))
                        && stored.iter().all(|key| keep.contains(key.as_str()))
                    {
                        return Ok(Vec::new());
                    }
                    let mut tx = self.writer().begin().await?;
                    let stored = notified_keys(&mut *tx, agent_id).await?;
                    let mut fresh = Vec::new();
                    for key in present.iter().filter(|key| !stored.contains(*key)) {
                        // ON CONFLICT keeps a concurrent sync from announcing the same key twice.
                        let inserted = sqlx::query(
                            "INSERT INTO notified_findings (agent_id, finding_key, notified_at) VALUES ($1, $2, $3) \
                             ON CONFLICT (agent_id, finding_key) DO NOTHING RETURNING finding_key",
                        )
                        .bind(agent_id)
                        .bind(key)
                        .bind(now)
                        .fetch_optional(&mut *tx)
                        .await?;
                        if inserted.is_some() && !fresh.contains(key) {
                            fresh.push(key.clone());
                        }
                    }
                    for key in stored.iter().filter(|key| !keep.contains(key.as_str())) {
                        sqlx::query("DELETE FROM notified_findings WHERE agent_id = $1 AND finding_key = $2")
                            .bind(agent_id)
                            .bind(key)
                            .execute(&mut *tx)
                            .await?;
                    }
                    tx.commit().await?;
                    Ok(fresh)
                }

                async fn record_delivery(&self, attempt: &DeliveryAttempt) -> Result<(), StoreError> {
                    sqlx::query(
                        "INSERT INTO webhook_deliveries (endpoint_id, event_id, attempt, status, response_code, \
                         latency_ms, error, attempted_at, next_retry_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    )
                    .bind(&attempt.endpoint_id)
                    .bind(&attempt.event_id)
                    .bind(i64::from(attempt.attempt))
                    .bind(attempt.status.as_str())
                    .bind(attempt.response_code.map(i64::from))
                    .bind(i64::try_from(attempt.latency_ms).unwrap_or(i64::MAX))
                    .bind(&attempt.error)
                    .bind(attempt.attempted_at)
                    .bind(attempt.next_retry_at)
                    .execute(self.writer())
                    .await?;
                    Ok(())
                }

                async fn list_deliveries(
                    &self,
                    endpoint_id: &str,
                    limit: u32,
                ) -> Result<Vec<DeliveryAttempt>, StoreError> {
                    let rows = sqlx::query(
                        "SELECT endpoint_id, event_id, attempt, status, response_code, latency_ms, error, \
                         attempted_at, next_retry_at FROM webhook_deliveries WHERE endpoint_id = $1 \
                         ORDER BY id DESC LIMIT $2",
                    )
                    .bind(endpoint_id)
                    .bind(i64::from(limit))
                    .fetch_all(self.reader())
                    .await?;
                    let mut attempts = rows.iter().map(delivery_from_row).collect::<Result<Vec<_>, _>>()?;
                    attempts.reverse();
                    Ok(attempts)
                }
            }
        }
    };
}

pub(crate) use impl_export_store;
