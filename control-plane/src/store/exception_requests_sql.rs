//! The SQL of [`super::ExceptionRequestStore`], shared by both backends: portable statements
//! only; the column types per dialect are in migration `0011_policy_exception_requests`. It
//! decides nothing.

/// Implements [`super::ExceptionRequestStore`] for `$store` (a struct with `writer()` and `reader()`).
macro_rules! impl_exception_request_store {
    ($store:ty, $db:ty) => {
        mod exception_request_store_impl {
            use sqlx::Row as _;

            use crate::store::StoreError;
            use crate::store::exception_requests::{
                ExceptionRequestRecord, RequestDecision, RequestQuery, RequestRow, RequestState,
            };
            use crate::store::portable::to_u64;
            use crate::store::read::{Cursor, Page, contains_pattern, into_page, page_limit};

            type Row = <$db as sqlx::Database>::Row;

            /// The queue's order: waiting first (rank 0, oldest first), then decided (rank 1,
            /// most recently decided first), then id; a cursor is the last row's rank and key.
            const RANK: &str = "CAST(CASE WHEN r.state = 'pending' THEN 0 ELSE 1 END AS BIGINT)";
            const KEY: &str =
                "CAST(CASE WHEN r.state = 'pending' THEN r.created_at ELSE -COALESCE(r.decided_at, 0) END AS BIGINT)";

            /// A request with its endpoint's hostname and its server's name and client.
            fn row_select() -> String {
                format!(
                    "SELECT r.id, r.requested_by, r.created_at, r.rules, r.agent_id, r.server_id, r.user_name, \
                     r.reason, r.state, r.decided_by, r.decided_at, r.note, r.expires_at, r.policy_version, \
                     COALESCE(a.hostname, '') AS hostname, COALESCE(s.name, '') AS server_name, \
                     COALESCE(s.client, '') AS client, {RANK} AS queue_rank, {KEY} AS queue_key \
                     FROM policy_exception_requests r LEFT JOIN agents a ON a.id = r.agent_id \
                     LEFT JOIN servers s ON s.agent_id = r.agent_id AND s.server_id = r.server_id WHERE 1 = 1"
                )
            }

            fn queue_row(row: &Row) -> Result<(RequestRow, Cursor), StoreError> {
                let request = from_row(row)?;
                let rank: i64 = row.try_get("queue_rank")?;
                let key: i64 = row.try_get("queue_key")?;
                let cursor = Cursor { key: format!("{rank}:{key}"), id: request.id.clone() };
                let view = RequestRow {
                    request,
                    hostname: row.try_get("hostname")?,
                    server_name: row.try_get("server_name")?,
                    client: row.try_get("client")?,
                };
                Ok((view, cursor))
            }

            fn decode_cursor(text: &str) -> Result<(i64, i64, String), StoreError> {
                let cursor = Cursor::decode(text)?;
                let invalid = || StoreError::InvalidCursor(text.chars().take(64).collect());
                let (rank, key) = cursor.key.split_once(':').ok_or_else(invalid)?;
                Ok((rank.parse().map_err(|_| invalid())?, key.parse().map_err(|_| invalid())?, cursor.id))
            }

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

                async fn exception_request_page(
                    &self,
                    query: &RequestQuery,
                ) -> Result<Page<RequestRow>, StoreError> {
                    let limit = page_limit(query.limit);
                    let mut qb = sqlx::QueryBuilder::<$db>::new(row_select());
                    if let Some(state) = query.state {
                        qb.push(" AND r.state = ").push_bind(state.as_str());
                    }
                    if let Some(agent_id) = &query.agent_id {
                        qb.push(" AND r.agent_id = ").push_bind(agent_id.clone());
                    }
                    if let Some(host) = &query.host {
                        qb.push(" AND LOWER(COALESCE(a.hostname, '')) LIKE ")
                            .push_bind(contains_pattern(host))
                            .push(" ESCAPE '\\'");
                    }
                    if let Some(text) = &query.text {
                        let pattern = contains_pattern(text);
                        let fields = [
                            "r.reason", "r.note", "r.user_name", "r.server_id", "COALESCE(s.name, '')",
                            "COALESCE(s.client, '')", "r.rules", "r.requested_by", "r.decided_by", "r.id",
                        ];
                        qb.push(" AND (1 = 0");
                        for field in fields {
                            qb.push(format!(" OR LOWER({field}) LIKE "))
                                .push_bind(pattern.clone())
                                .push(" ESCAPE '\\'");
                        }
                        qb.push(")");
                    }
                    if let Some(cursor) = &query.cursor {
                        let (rank, key, id) = decode_cursor(cursor)?;
                        qb.push(format!(" AND ({RANK}, {KEY}, r.id) > ("))
                            .push_bind(rank)
                            .push(", ")
                            .push_bind(key)
                            .push(", ")
                            .push_bind(id)
                            .push(")");
                    }
                    qb.push(format!(" ORDER BY {RANK}, {KEY}, r.id LIMIT ")).push_bind(i64::from(limit) + 1);
                    let rows = qb.build().fetch_all(self.reader()).await?;
                    let rows = rows.iter().map(queue_row).collect::<Result<Vec<_>, StoreError>>()?;
                    let page = into_page(rows, limit, |(_, cursor)| cursor.clone());
                    Ok(Page { items: page.items.into_iter().map(|(row, _)| row).collect(), next_cursor: page.next_cursor })
                }

                async fn exception_request_row(&self, id: &str) -> Result<Option<RequestRow>, StoreError> {
                    let mut qb = sqlx::QueryBuilder::<$db>::new(row_select());
                    qb.push(" AND r.id = ").push_bind(id.to_string());
                    let row = qb.build().fetch_optional(self.reader()).await?;
                    Ok(row.as_ref().map(queue_row).transpose()?.map(|(row, _)| row))
                }

                async fn count_exception_requests(
                    &self,
                    state: RequestState,
                    agent_id: Option<&str>,
                ) -> Result<u64, StoreError> {
                    let n: i64 = sqlx::query_scalar(
                        "SELECT COUNT(*) FROM policy_exception_requests WHERE state = $1 AND ($2 = '' OR agent_id = $2)",
                    )
                    .bind(state.as_str())
                    .bind(agent_id.unwrap_or(""))
                    .fetch_one(self.reader())
                    .await?;
                    Ok(to_u64(n))
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
