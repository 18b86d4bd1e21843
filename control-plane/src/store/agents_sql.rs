//! Agents' SQL: enrollment (one use of a token and the agent row, in one transaction), lookup,
//! revocation, certificate renewal and its confirmation, heartbeats. Every write an agent can
//! cause re-checks its status in the same statement. One macro instantiated per backend.

/// Defines the agent functions for `$store` inside an `agents_sql` child module.
macro_rules! impl_agents {
    ($store:ident, $db:ty) => {
        pub(crate) mod agents_sql {
            use sqlx::Row as _;

            use crate::store::portable::to_u64;
            use crate::store::{AgentRecord, AgentStatus, NewAgent, StoreError, TokenRefusal};

            type Row = <$db as sqlx::Database>::Row;

            fn agent_from_row(row: &Row) -> Result<AgentRecord, StoreError> {
                let status: String = row.try_get("status")?;
                let status = match status.as_str() {
                    "active" => AgentStatus::Active,
                    "revoked" => AgentStatus::Revoked,
                    other => return Err(StoreError::Corrupt(format!("agent status {other}"))),
                };
                Ok(AgentRecord {
                    id: row.try_get("id")?,
                    hostname: row.try_get("hostname")?,
                    cert_serial: row.try_get("cert_serial")?,
                    cert_not_after: row.try_get("cert_not_after")?,
                    previous_cert_serial: row.try_get("previous_cert_serial")?,
                    status,
                    agent_version: row.try_get("agent_version")?,
                    enrolled_at: row.try_get("enrolled_at")?,
                    enrolled_with_token: row.try_get("enrolled_with_token")?,
                    last_seen_at: row.try_get("last_seen_at")?,
                    last_sequence: to_u64(row.try_get("last_sequence")?),
                    revoked_at: row.try_get("revoked_at")?,
                })
            }

            const AGENT_COLUMNS: &str = "id, hostname, cert_serial, cert_not_after, previous_cert_serial, status, \
                 agent_version, enrolled_at, enrolled_with_token, last_seen_at, last_sequence, revoked_at";

            /// The error for an agent that a statement restricted to active agents did not find.
            async fn inactive_agent(pool: &sqlx::Pool<$db>, id: &str) -> StoreError {
                let status = sqlx::query("SELECT status FROM agents WHERE id = $1").bind(id).fetch_optional(pool).await;
                match status {
                    Ok(Some(row))
                        if row.try_get::<String, _>("status").is_ok_and(|s| s == AgentStatus::Revoked.as_str()) =>
                    {
                        StoreError::AgentRevoked(id.to_string())
                    }
                    Ok(_) => StoreError::UnknownAgent(id.to_string()),
                    Err(error) => StoreError::Sql(error),
                }
            }

            pub(crate) async fn enroll_agent(
                store: &super::$store,
                token_hash: &str,
                now: i64,
                agent: &NewAgent,
            ) -> Result<(), StoreError> {
                let mut tx = store.writer().begin().await?;
                let used = sqlx::query(
                    "UPDATE enrollment_tokens SET uses = uses + 1 WHERE token_hash = $1 AND revoked_at IS NULL \
                     AND expires_at > $2 AND (max_uses = 0 OR uses < max_uses) RETURNING id",
                )
                .bind(token_hash)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(used) = used else {
                    let row = sqlx::query(
                        "SELECT max_uses, uses, expires_at, revoked_at FROM enrollment_tokens WHERE token_hash = $1",
                    )
                    .bind(token_hash)
                    .fetch_optional(&mut *tx)
                    .await?;
                    let refusal = match row {
                        None => TokenRefusal::Unknown,
                        Some(row) if row.try_get::<Option<i64>, _>("revoked_at")?.is_some() => TokenRefusal::Revoked,
                        Some(row) if row.try_get::<i64, _>("expires_at")? <= now => TokenRefusal::Expired,
                        Some(_) => TokenRefusal::Exhausted,
                    };
                    return Err(StoreError::TokenRefused(refusal));
                };
                let token_id: String = used.try_get("id")?;
                sqlx::query(
                    "INSERT INTO agents (id, hostname, cert_serial, cert_not_after, status, agent_version, \
                     enrolled_at, enrolled_with_token, last_sequence) \
                     VALUES ($1, $2, $3, $4, 'active', $5, $6, $7, 0)",
                )
                .bind(&agent.id)
                .bind(&agent.hostname)
                .bind(&agent.cert_serial)
                .bind(agent.cert_not_after)
                .bind(&agent.agent_version)
                .bind(agent.enrolled_at)
                .bind(&token_id)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            pub(crate) async fn agent(store: &super::$store, id: &str) -> Result<Option<AgentRecord>, StoreError> {
                let sql = sqlx::AssertSqlSafe(format!("SELECT {AGENT_COLUMNS} FROM agents WHERE id = $1"));
                let row = sqlx::query(sql).bind(id).fetch_optional(store.reader()).await?;
                row.as_ref().map(agent_from_row).transpose()
            }

            pub(crate) async fn list_agents(store: &super::$store) -> Result<Vec<AgentRecord>, StoreError> {
                let sql = sqlx::AssertSqlSafe(format!("SELECT {AGENT_COLUMNS} FROM agents ORDER BY enrolled_at, id"));
                let rows = sqlx::query(sql).fetch_all(store.reader()).await?;
                rows.iter().map(agent_from_row).collect()
            }

            pub(crate) async fn revoke_agent(store: &super::$store, id: &str, now: i64) -> Result<bool, StoreError> {
                let mut tx = store.writer().begin().await?;
                let done = sqlx::query(
                    "UPDATE agents SET status = 'revoked', revoked_at = $2 WHERE id = $1 AND status = 'active'",
                )
                .bind(id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                // A revoked agent reports nothing any more: its last policy state leaves the
                // compliance counts (so no compliance read needs to join the agents table).
                for sql in [
                    "DELETE FROM policy_compliance_actions WHERE agent_id = $1",
                    "DELETE FROM policy_compliance WHERE agent_id = $1",
                ] {
                    sqlx::query(sql).bind(id).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(done.rows_affected() > 0)
            }

            pub(crate) async fn renew_agent_cert(
                store: &super::$store,
                id: &str,
                cert_serial: &str,
                cert_not_after: i64,
            ) -> Result<(), StoreError> {
                // SET expressions read the row as it was: the replaced serial becomes the previous
                // one, unless a renewal is still unconfirmed (then the previous one is the
                // certificate the agent still uses, and the unconfirmed one is dropped).
                let done = sqlx::query(
                    "UPDATE agents SET previous_cert_serial = COALESCE(previous_cert_serial, cert_serial), \
                     cert_serial = $2, cert_not_after = $3 WHERE id = $1 AND status = 'active'",
                )
                .bind(id)
                .bind(cert_serial)
                .bind(cert_not_after)
                .execute(store.writer())
                .await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::UnknownAgent(id.to_string()));
                }
                Ok(())
            }

            pub(crate) async fn confirm_agent_cert(
                store: &super::$store,
                id: &str,
                cert_serial: &str,
            ) -> Result<bool, StoreError> {
                let done = sqlx::query(
                    "UPDATE agents SET previous_cert_serial = NULL WHERE id = $1 AND cert_serial = $2 \
                     AND previous_cert_serial IS NOT NULL",
                )
                .bind(id)
                .bind(cert_serial)
                .execute(store.writer())
                .await?;
                Ok(done.rows_affected() > 0)
            }

            pub(crate) async fn heartbeat(
                store: &super::$store,
                id: &str,
                agent_version: &str,
                now: i64,
            ) -> Result<u64, StoreError> {
                let row = sqlx::query(
                    "UPDATE agents SET last_seen_at = $2, agent_version = $3 WHERE id = $1 AND status = 'active' \
                     RETURNING last_sequence",
                )
                .bind(id)
                .bind(now)
                .bind(agent_version)
                .fetch_optional(store.writer())
                .await?;
                match row {
                    Some(row) => Ok(to_u64(row.try_get("last_sequence")?)),
                    // Refused: say whether the agent is revoked or unknown.
                    None => Err(inactive_agent(store.writer(), id).await),
                }
            }
        }
    };
}

pub(crate) use impl_agents;
