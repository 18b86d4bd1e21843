//! The SQL of [`super::ExceptionRequestStore`], shared by both backends: portable statements
//! only; the column types per dialect are in migration `0011_policy_exception_requests`. It
//! decides nothing.

/// Implements [`super::ExceptionRequestStore`] for `$store` (a struct with `writer()` and `reader()`).
macro_rules! impl_exception_request_store {
    ($store:ty, $db:ty) => {
        mod exception_request_store_impl {
            use sqlx::Row as _;

            use crate::store::StoreError;
            use crate::store::exception_requests::{ExceptionRequestRecord, RequestDecision, RequestState};
            use crate::store::portable::to_u64;

            type Row = <$db as sqlx::Database>::Row;

            fn from_row(row: &Row) -> Result<ExceptionRequestRecord, StoreError> {
                let state: String = row.try_get("state")?;
                let rules: String = row.try_get("rules")?;
                Ok(ExceptionRequestRecord {
                    id: row.try_get("id")?,
                    requested_by: row.try_get("requested_by")?,
                    created_at: row.try_get("created_at")?,
                    rules: rules.split(',').filter(|r| !r.is_empty()).map(str::to_string).collect(),
                    agent_id: row.try_get("agent_id")?,
                    server_id: row.try_get("server_id")?,
                    user: row.try_get("user_name")?,
                    reason: row.try_get("reason")?,
                    state: RequestState::parse(&state)
                        .ok_or_else(|| StoreError::Corrupt(format!("exception request state {state}")))?,
                    decided_by: row.try_get("decided_by")?,
                    decided_at: row.try_get("decided_at")?,
                    note: row.try_get("note")?,
                    expires_at: row.try_get("expires_at")?,
                    policy_version: row.try_get::<Option<i64>, _>("policy_version")?.map(to_u64),
                })
            }

            #[async_trait::async_trait]
            impl crate::store::exception_requests::ExceptionRequestStore for $store {
                async fn insert_exception_request(&self, r: &ExceptionRequestRecord) -> Result<(), StoreError> {
                    sqlx::query(
                        "INSERT INTO policy_exception_requests (id, requested_by, created_at, rules, agent_id, \
                         server_id, user_name, reason, state, decided_by, decided_at, note, expires_at, policy_version) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
                    )
                    .bind(&r.id)
                    .bind(&r.requested_by)
                    .bind(r.created_at)
                    .bind(r.rules.join(","))
                    .bind(&r.agent_id)
                    .bind(&r.server_id)
                    .bind(&r.user)
                    .bind(&r.reason)
                    .bind(r.state.as_str())
                    .bind(&r.decided_by)
                    .bind(r.decided_at)
                    .bind(&r.note)
                    .bind(r.expires_at)
                    .bind(r.policy_version.map(|v| i64::try_from(v).unwrap_or(i64::MAX)))
                    .execute(self.writer())
                    .await?;
                    Ok(())
                }

                async fn exception_request(&self, id: &str) -> Result<Option<ExceptionRequestRecord>, StoreError> {
                    let row = sqlx::query(
                        "SELECT id, requested_by, created_at, rules, agent_id, server_id, user_name, reason, state, \
                         decided_by, decided_at, note, expires_at, policy_version FROM policy_exception_requests \
                         WHERE id = $1",
                    )
                        .bind(id)
                        .fetch_optional(self.reader())
                        .await?;
                    row.as_ref().map(from_row).transpose()
                }

                async fn exception_requests(
                    &self,
                    state: Option<RequestState>,
                    limit: u32,
                ) -> Result<Vec<ExceptionRequestRecord>, StoreError> {
                    let rows = sqlx::query(
                        "SELECT id, requested_by, created_at, rules, agent_id, server_id, user_name, reason, state, \
                         decided_by, decided_at, note, expires_at, policy_version FROM policy_exception_requests \
                         WHERE ($1 = '' OR state = $1) ORDER BY created_at DESC, id DESC LIMIT $2",
                    )
                    .bind(state.map_or("", RequestState::as_str))
                    .bind(i64::from(limit))
                    .fetch_all(self.reader())
                    .await?;
                    rows.iter().map(from_row).collect()
                }

                async fn exception_requests_of_agent(
                    &self,
                    agent_id: &str,
                    limit: u32,
                ) -> Result<Vec<ExceptionRequestRecord>, StoreError> {
                    let rows = sqlx::query(
                        "SELECT id, requested_by, created_at, rules, agent_id, server_id, user_name, reason, state, \
                         decided_by, decided_at, note, expires_at, policy_version FROM policy_exception_requests \
                         WHERE agent_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
                    )
                    .bind(agent_id)
                    .bind(i64::from(limit))
                    .fetch_all(self.reader())
                    .await?;
                    rows.iter().map(from_row).collect()
                }

                async fn decide_exception_request(&self, id: &str, d: &RequestDecision) -> Result<bool, StoreError> {
                    let done = sqlx::query(
                        "UPDATE policy_exception_requests SET state = $2, decided_by = $3, decided_at = $4, note = $5, \
                         expires_at = $6, policy_version = $7 WHERE id = $1 AND state = 'pending'",
                    )
                    .bind(id)
                    .bind(d.state.as_str())
                    .bind(&d.decided_by)
                    .bind(d.decided_at)
                    .bind(&d.note)
                    .bind(d.expires_at)
                    .bind(d.policy_version.map(|v| i64::try_from(v).unwrap_or(i64::MAX)))
                    .execute(self.writer())
                    .await?;
                    Ok(done.rows_affected() == 1)
                }
            }
        }
    };
}

pub(crate) use impl_exception_request_store;
