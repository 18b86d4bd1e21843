//! The read-model step of ingest (`after_ingest`: derived server facts, denormalised finding
//! columns, the endpoint's `endpoint_summary` row), the recount of one endpoint's summary, and the
//! one-time finding-subject backfill of migration `0007`.
//!
//! Portable SQL under the rules of `read/sql.rs`; a macro instantiated per backend inside
//! `read_models` (whose imports and helpers it shares through `use super::*`).

macro_rules! impl_summary {
    ($store:ident, $db:ty, $conn:ty) => {
        pub(crate) mod summary {
            use super::*;

            /// Stores the derived facts of the servers that appeared or changed (`touched`, from
            /// the ingest plan), denormalises their findings, and recounts the endpoint. Runs
            /// inside the ingest transaction.
            pub(crate) async fn after_ingest(
                conn: &mut $conn,
                agent_id: &str,
                report: &Report,
                touched: &BTreeSet<&str>,
                now: i64,
            ) -> Result<(), StoreError> {
                let servers = match &report.body {
                    ReportBody::Full(snapshot) => &snapshot.servers,
                    ReportBody::Delta(delta) => &delta.upserted_servers,
                };
                // One statement per chunk of servers (`UPDATE ... FROM (VALUES ...)`, portable since
                // SQLite 3.33), not one per server: a host's first snapshot may name tens of thousands.
                // The last of equal ids, as ingest stored it (`last_by_key`).
                let facts: Vec<(&str, ServerFacts)> = crate::store::portable::last_by_key(servers, |s| s.id.clone())
                    .into_iter()
                    .filter(|s| touched.contains(s.id.as_str()))
                    .map(|s| (s.id.as_str(), ServerFacts::of(s)))
                    .collect();
                for chunk in facts.chunks(crate::store::portable::ROWS_PER_STATEMENT) {
                    let mut update = Builder::new(
                        "UPDATE servers SET service = v.column2, package_ecosystem = v.column3, \
                         package_name = v.column4, package_version = v.column5, pinned = v.column6, \
                         endpoint_host = v.column7, auth = v.column8, auth_posture = v.column9, \
                         auth_verified = v.column10, auth_missing = v.column11, auth_reason = v.column12 FROM (",
                    );
                    update.push_values(chunk, |mut row, (server_id, facts)| {
                        row.push_bind(server_id.to_string())
                            .push_bind(facts.service.clone())
                            .push_bind(i64::from(facts.package_ecosystem))
                            .push_bind(facts.package_name.clone())
                            .push_bind(facts.package_version.clone())
                            .push_bind(i64::from(facts.pinned))
                            .push_bind(facts.endpoint_host.clone())
                            .push_bind(facts.auth.as_str())
                            .push_bind(i64::from(facts.posture.posture))
                            .push_bind(i64::from(facts.posture.verified))
                            .push_bind(facts.posture.missing.clone())
                            .push_bind(facts.posture.reason.clone());
                    });
                    update.push(") AS v WHERE servers.agent_id = ").push_bind(agent_id.to_string());
                    update.push(" AND servers.server_id = v.column1");
                    update.build().execute(&mut *conn).await?;
                }
                // Only findings ingest may have written: those of servers that appeared or changed
                // (an unchanged server keeps its findings rows) and the host-wide ones. The others
                // already carry their server's facts.
                // The host-wide findings in one statement, then the touched servers' in chunks
                // (one statement naming every touched server would pass SQLite's and PostgreSQL's
                // bind-parameter limits on a large host).
                const FINDINGS_UPDATE: &str = "UPDATE findings SET \
                     service = COALESCE((SELECT s.service FROM servers s WHERE s.agent_id = findings.agent_id \
                       AND s.server_id = findings.server_id), ''), \
                     eff_client = CASE WHEN client <> '' THEN client ELSE COALESCE((SELECT s.client FROM servers s \
                       WHERE s.agent_id = findings.agent_id AND s.server_id = findings.server_id), '') END, \
                     eff_user = CASE WHEN user_name <> '' THEN user_name ELSE COALESCE((SELECT s.user_name FROM servers s \
                       WHERE s.agent_id = findings.agent_id AND s.server_id = findings.server_id), '') END \
                     WHERE agent_id = ";
                let mut host_wide = Builder::new(FINDINGS_UPDATE);
                host_wide.push_bind(agent_id.to_string()).push(" AND server_id = ''");
                host_wide.build().execute(&mut *conn).await?;
                for chunk in touched.iter().copied().collect::<Vec<_>>().chunks(crate::store::portable::ROWS_PER_STATEMENT) {
                    let mut findings_update = Builder::new(FINDINGS_UPDATE);
                    findings_update.push_bind(agent_id.to_string()).push(" AND server_id");
                    crate::store::portable::push_in_list(&mut findings_update, chunk.iter().map(|id| id.to_string()));
                    findings_update.build().execute(&mut *conn).await?;
                }
                let rows = sqlx::query(
                    "SELECT id, message FROM findings WHERE agent_id = $1 AND advisory = '' \
                     AND finding_id IN ($2, $3)",
                )
                .bind(agent_id)
                .bind(ADVISORY_FINDINGS[0])
                .bind(ADVISORY_FINDINGS[1])
                .fetch_all(&mut *conn)
                .await?;
                for row in rows {
                    let advisory = advisory_id(&row.try_get::<String, _>("message")?);
                    if !advisory.is_empty() {
                        sqlx::query("UPDATE findings SET advisory = $2 WHERE id = $1")
                            .bind(row.try_get::<i64, _>("id")?)
                            .bind(advisory)
                            .execute(&mut *conn)
                            .await?;
                    }
                }
                refresh_endpoint(conn, agent_id, now).await
            }

            /// Finishes migration `0007` once (its row in `data_backfills` says it is pending):
            /// gives host-wide findings stored before it their subject (a SHA-256 neither SQL
            /// dialect computes portably), then copies each legacy host-wide decision (subject '',
            /// shared by every host-wide finding with its finding id) onto each finding it covered
            /// and drops it. Counts do not change: every finding keeps the decision it had. Runs
            /// at open, after migrations; safe to repeat.
            pub(crate) async fn backfill_finding_subjects(pool: &sqlx::Pool<$db>) -> Result<(), StoreError> {
                const PENDING: &str = "SELECT 1 AS one FROM data_backfills WHERE name = 'finding_subjects'";
                if sqlx::query(PENDING).fetch_optional(pool).await?.is_none() {
                    return Ok(());
                }
                loop {
                    let mut tx = pool.begin().await?;
                    let rows = sqlx::query(
                        "SELECT id, agent_id, finding_id, client, user_name, server_ids, message FROM findings \
                         WHERE server_id = '' AND subject = '' ORDER BY id LIMIT 500",
                    )
                    .fetch_all(&mut *tx)
                    .await?;
                    if rows.is_empty() {
                        break;
                    }
                    for row in &rows {
                        let subject = finding_subject(
                            &row.try_get::<String, _>("agent_id")?,
                            "",
                            &row.try_get::<String, _>("finding_id")?,
                            &row.try_get::<String, _>("client")?,
                            &row.try_get::<String, _>("user_name")?,
                            &row.try_get::<String, _>("server_ids")?,
                            &row.try_get::<String, _>("message")?,
                        );
                        sqlx::query("UPDATE findings SET subject = $2 WHERE id = $1")
                            .bind(row.try_get::<i64, _>("id")?)
                            .bind(subject)
                            .execute(&mut *tx)
                            .await?;
                    }
                    tx.commit().await?;
                }
                let mut tx = pool.begin().await?;
                sqlx::query(
                    "INSERT INTO finding_states (agent_id, server_id, finding_id, subject, state, reason, \
                     expires_at, decided_by, decided_at) \
                     SELECT st.agent_id, st.server_id, st.finding_id, f.subject, st.state, st.reason, \
                     st.expires_at, st.decided_by, st.decided_at FROM finding_states st \
                     JOIN findings f ON f.agent_id = st.agent_id AND f.server_id = '' \
                       AND f.finding_id = st.finding_id \
                     WHERE st.server_id = '' AND st.subject = '' AND f.subject <> '' \
                     ON CONFLICT DO NOTHING",
                )
                .execute(&mut *tx)
                .await?;
                sqlx::query("DELETE FROM finding_states WHERE server_id = '' AND subject = ''")
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("DELETE FROM data_backfills WHERE name = 'finding_subjects'").execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(())
            }

            /// Finishes migration `0015` once (its row in `data_backfills` says it is pending):
            /// servers stored before it carry their remote auth posture only in `detail` (the
            /// encoded `muster.v1.McpServer`), so their posture columns and `auth` are derived
            /// from it, 500 remote servers per transaction; the rollups are rebuilt after (the
            /// migration also marks `live_rollups` pending). Runs at open, after migrations,
            /// before the rollup backfill; safe to repeat.
            pub(crate) async fn backfill_remote_auth_posture(pool: &sqlx::Pool<$db>) -> Result<(), StoreError> {
                use prost::Message as _;
                const PENDING: &str = "SELECT 1 AS one FROM data_backfills WHERE name = 'remote_auth_posture'";
                if sqlx::query(PENDING).fetch_optional(pool).await?.is_none() {
                    return Ok(());
                }
                let (mut after_agent, mut after_server) = (String::new(), String::new());
                loop {
                    let mut tx = pool.begin().await?;
                    let rows = sqlx::query(
                        "SELECT agent_id, server_id, detail FROM servers WHERE endpoint_host <> '' \
                         AND (agent_id > $1 OR (agent_id = $1 AND server_id > $2)) \
                         ORDER BY agent_id, server_id LIMIT 500",
                    )
                    .bind(&after_agent)
                    .bind(&after_server)
                    .fetch_all(&mut *tx)
                    .await?;
                    let Some(last) = rows.last() else { break };
                    after_agent = last.try_get("agent_id")?;
                    after_server = last.try_get("server_id")?;
                    for row in &rows {
                        let detail: &[u8] = row.try_get("detail")?;
                        let server_id: String = row.try_get("server_id")?;
                        let server = muster_proto::v1::McpServer::decode(detail)
                            .map_err(|_| StoreError::Corrupt(format!("server detail of {server_id}")))?;
                        let facts = ServerFacts::of(&server);
                        sqlx::query(
                            "UPDATE servers SET auth = $3, auth_posture = $4, auth_verified = $5, auth_missing = $6, \
                             auth_reason = $7 WHERE agent_id = $1 AND server_id = $2",
                        )
                        .bind(row.try_get::<String, _>("agent_id")?)
                        .bind(server_id)
                        .bind(facts.auth.as_str())
                        .bind(i64::from(facts.posture.posture))
                        .bind(i64::from(facts.posture.verified))
                        .bind(facts.posture.missing)
                        .bind(facts.posture.reason)
                        .execute(&mut *tx)
                        .await?;
                    }
                    tx.commit().await?;
                }
                sqlx::query("DELETE FROM data_backfills WHERE name = 'remote_auth_posture'").execute(pool).await?;
                Ok(())
            }

            /// Recomputes one endpoint's `endpoint_summary` row from its stored inventory.
            pub(crate) async fn refresh_endpoint(conn: &mut $conn, agent_id: &str, now: i64) -> Result<(), StoreError> {
                // `+c.source`: without statistics SQLite otherwise picks `credentials_literal`
                // (source, ...) over the primary key (agent_id, ...) and counts by walking every
                // literal credential of the fleet, on every report (EXPLAIN QUERY PLAN). The unary
                // plus keeps the term out of index selection; PostgreSQL reads it as the same value.
                let Some(head) = sqlx::query(
                    "SELECT COALESCE(h.hostname, a.hostname) AS hostname, COALESCE(h.os, 0) AS os, \
                     COALESCE(h.tags, ',') AS tags, \
                     (SELECT COUNT(*) FROM servers s WHERE s.agent_id = a.id) AS servers, \
                     (SELECT COUNT(*) FROM credentials c WHERE c.agent_id = a.id AND +c.source = 1) AS literal \
                     FROM agents a LEFT JOIN hosts h ON h.agent_id = a.id WHERE a.id = $1",
                )
                .bind(agent_id)
                .fetch_optional(&mut *conn)
                .await?
                else {
                    return Err(StoreError::UnknownAgent(agent_id.to_string()));
                };
                // Users and clients in one round trip (each statement costs a hand-off to the
                // SQLite worker thread or a round trip to PostgreSQL).
                let (mut users, mut clients) = (Vec::new(), Vec::new());
                for row in sqlx::query(
                    "SELECT 0 AS part, name AS member FROM os_users WHERE agent_id = $1 \
                     UNION ALL SELECT 1 AS part, client AS member FROM clients WHERE agent_id = $1 \
                     ORDER BY part, member",
                )
                .bind(agent_id)
                .fetch_all(&mut *conn)
                .await?
                {
                    let member = row.try_get::<String, _>("member")?;
                    if row.try_get::<i32, _>("part")? == 0 { users.push(member) } else { clients.push(member) }
                }
                let (mut open, mut high, mut critical, mut max_severity) = (0i64, 0i64, 0i64, 0i64);
                for row in sqlx::query(
                    "SELECT f.severity, COUNT(*) AS n FROM findings f \
                     LEFT JOIN finding_states st ON st.agent_id = f.agent_id AND st.server_id = f.server_id \
                       AND st.finding_id = f.finding_id AND st.subject = f.subject AND st.state = 'waived' \
                       AND (st.expires_at IS NULL OR st.expires_at > $2) \
                     WHERE f.agent_id = $1 AND st.agent_id IS NULL GROUP BY f.severity",
                )
                .bind(agent_id)
                .bind(now)
                .fetch_all(&mut *conn)
                .await?
                {
                    let severity: i64 = row.try_get("severity")?;
                    let n: i64 = row.try_get("n")?;
                    open += n;
                    max_severity = max_severity.max(severity);
                    if severity == SEVERITY_HIGH {
                        high += n;
                    } else if severity >= SEVERITY_CRITICAL {
                        critical += n;
                    }
                }
                let hostname: String = head.try_get("hostname")?;
                sqlx::query(
                    "INSERT INTO endpoint_summary (agent_id, hostname, hostname_key, os, users_key, clients_key, \
                     user_count, client_count, server_count, literal_secrets, findings_open, findings_high, \
                     findings_critical, max_severity, risk, updated_at, tags_key) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) \
                     ON CONFLICT (agent_id) DO UPDATE SET hostname = excluded.hostname, \
                     hostname_key = excluded.hostname_key, os = excluded.os, users_key = excluded.users_key, \
                     clients_key = excluded.clients_key, user_count = excluded.user_count, \
                     client_count = excluded.client_count, server_count = excluded.server_count, \
                     literal_secrets = excluded.literal_secrets, findings_open = excluded.findings_open, \
                     findings_high = excluded.findings_high, findings_critical = excluded.findings_critical, \
                     max_severity = excluded.max_severity, risk = excluded.risk, updated_at = excluded.updated_at, \
                     tags_key = excluded.tags_key",
                )
                .bind(agent_id)
                .bind(&hostname)
                .bind(hostname.to_lowercase())
                .bind(head.try_get::<i64, _>("os")?)
                .bind(member_key(users.iter().map(String::as_str)))
                .bind(member_key(clients.iter().map(String::as_str)))
                .bind(i64::try_from(users.len()).unwrap_or(i64::MAX))
                .bind(i64::try_from(clients.len()).unwrap_or(i64::MAX))
                .bind(head.try_get::<i64, _>("servers")?)
                .bind(head.try_get::<i64, _>("literal")?)
                .bind(open)
                .bind(high)
                .bind(critical)
                .bind(max_severity)
                .bind(max_severity * 1_000_000 + open.min(999_999))
                .bind(now)
                .bind(head.try_get::<String, _>("tags")?)
                .execute(&mut *conn)
                .await?;
                Ok(())
            }
        }
    };
}

pub(crate) use impl_summary;
