//! The read-model SQL shared by both backends, instantiated per database type like `store/sql.rs`
//! and under the same rules: portable statements only (row-value comparisons for keyset paging,
//! `CAST(SUM(..) AS BIGINT)` because PostgreSQL sums integers as NUMERIC, string lists built in
//! Rust rather than with `group_concat`/`string_agg`). Dynamic filters go through
//! `sqlx::QueryBuilder`, which numbers placeholders for each dialect; no user text is ever
//! spliced into SQL.
//!
//! Also holds the small step ingest runs after applying a report (`after_ingest`). It does not
//! open connections or run migrations.

/// Implements [`crate::store::read::ReadModels`] for `$store` inside a `read_models` child
/// module (so its imports cannot collide with `impl_store!`'s).
macro_rules! impl_read_models {
    ($store:ident, $db:ty, $conn:ty) => {
        pub(crate) mod read_models {
            use std::collections::{BTreeMap, BTreeSet};

            use sqlx::Row as _;

            use crate::ingest::{ChangeKind, Report, ReportBody, ServerChange};
            use crate::store::StoreError;
            use crate::store::read::{
                ActivityEvent, ActivityQuery, AgentQuery, AgentRow, AuthCounts, Cursor, DailyPoint, DecisionKind,
                EndpointDetail, EndpointQuery, EndpointRow, EndpointSort, FindingDecision, FindingKey, FindingQuery,
                FindingStateFilter, FindingView, FingerprintQuery, GroupKind, HISTORY_LIMIT, MAX_PAGE, Overview, Page,
                ReadModels, RollupStats, SecretGroup, ServerFacts, ServerGroup, ServerGroupQuery, ServerView,
                ServiceRow, SharedFingerprint, VersionCount, ADVISORY_FINDINGS, advisory_id, finding_subject, contains_pattern, day_start, into_page,
                member_key, members, page_limit,
            };

            type Row = <$db as sqlx::Database>::Row;
            type Builder = sqlx::QueryBuilder<$db>;

            const SEVERITY_HIGH: i64 = 4;
            const SEVERITY_CRITICAL: i64 = 5;

            fn to_i32(value: i64) -> i32 {
                i32::try_from(value).unwrap_or(0)
            }

            /// Stores the derived facts of servers that appeared or changed, denormalises their
            /// findings, and recounts the endpoint. Runs inside the ingest transaction.
            pub(crate) async fn after_ingest(
                conn: &mut $conn,
                agent_id: &str,
                report: &Report,
                changes: &[ServerChange],
                now: i64,
            ) -> Result<(), StoreError> {
                let touched: BTreeSet<&str> = changes
                    .iter()
                    .filter(|c| c.kind != ChangeKind::Disappeared)
                    .map(|c| c.server_id.as_str())
                    .collect();
                let servers = match &report.body {
                    ReportBody::Full(snapshot) => &snapshot.servers,
                    ReportBody::Delta(delta) => &delta.upserted_servers,
                };
                // One statement per chunk of servers (`UPDATE ... FROM (VALUES ...)`, portable since
                // SQLite 3.33), not one per server: a host's first snapshot may name tens of thousands.
                // The last of equal ids, as ingest stored it (`last_by_key`).
                let facts: Vec<(&str, ServerFacts)> = crate::store::sql::last_by_key(servers, |s| s.id.clone())
                    .into_iter()
                    .filter(|s| touched.contains(s.id.as_str()))
                    .map(|s| (s.id.as_str(), ServerFacts::of(s)))
                    .collect();
                for chunk in facts.chunks(crate::store::sql::ROWS_PER_STATEMENT) {
                    let mut update = Builder::new(
                        "UPDATE servers SET service = v.column2, package_ecosystem = v.column3, \
                         package_name = v.column4, package_version = v.column5, pinned = v.column6, \
                         endpoint_host = v.column7, auth = v.column8 FROM (",
                    );
                    update.push_values(chunk, |mut row, (server_id, facts)| {
                        row.push_bind(server_id.to_string())
                            .push_bind(facts.service.clone())
                            .push_bind(i64::from(facts.package_ecosystem))
                            .push_bind(facts.package_name.clone())
                            .push_bind(facts.package_version.clone())
                            .push_bind(i64::from(facts.pinned))
                            .push_bind(facts.endpoint_host.clone())
                            .push_bind(facts.auth.as_str());
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
                for chunk in touched.iter().copied().collect::<Vec<_>>().chunks(crate::store::sql::ROWS_PER_STATEMENT) {
                    let mut findings_update = Builder::new(FINDINGS_UPDATE);
                    findings_update.push_bind(agent_id.to_string()).push(" AND server_id");
                    crate::store::sql::push_in_list(&mut findings_update, chunk.iter().map(|id| id.to_string()));
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

            /// Recomputes one endpoint's `endpoint_summary` row from its stored inventory.
            pub(crate) async fn refresh_endpoint(conn: &mut $conn, agent_id: &str, now: i64) -> Result<(), StoreError> {
                // `+c.source`: without statistics SQLite otherwise picks `credentials_literal`
                // (source, ...) over the primary key (agent_id, ...) and counts by walking every
                // literal credential of the fleet, on every report (EXPLAIN QUERY PLAN). The unary
                // plus keeps the term out of index selection; PostgreSQL reads it as the same value.
                let Some(head) = sqlx::query(
                    "SELECT COALESCE(h.hostname, a.hostname) AS hostname, COALESCE(h.os, 0) AS os, \
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
                     findings_critical, max_severity, risk, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
                     ON CONFLICT (agent_id) DO UPDATE SET hostname = excluded.hostname, \
                     hostname_key = excluded.hostname_key, os = excluded.os, users_key = excluded.users_key, \
                     clients_key = excluded.clients_key, user_count = excluded.user_count, \
                     client_count = excluded.client_count, server_count = excluded.server_count, \
                     literal_secrets = excluded.literal_secrets, findings_open = excluded.findings_open, \
                     findings_high = excluded.findings_high, findings_critical = excluded.findings_critical, \
                     max_severity = excluded.max_severity, risk = excluded.risk, updated_at = excluded.updated_at",
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
                .execute(&mut *conn)
                .await?;
                Ok(())
            }

            const ENDPOINT_COLUMNS: &str = "e.agent_id, e.hostname, e.hostname_key, e.os, e.users_key, \
                 e.clients_key, e.server_count, e.literal_secrets, e.findings_open, e.findings_high, \
                 e.findings_critical, e.max_severity, e.risk, a.last_seen_at";

            fn endpoint_from_row(row: &Row, online_since: i64) -> Result<EndpointRow, StoreError> {
                let last_seen_at: Option<i64> = row.try_get("last_seen_at")?;
                Ok(EndpointRow {
                    agent_id: row.try_get("agent_id")?,
                    hostname: row.try_get("hostname")?,
                    os: to_i32(row.try_get("os")?),
                    last_seen_at,
                    online: last_seen_at.is_some_and(|at| at >= online_since),
                    users: members(&row.try_get::<String, _>("users_key")?),
                    clients: members(&row.try_get::<String, _>("clients_key")?),
                    servers: row.try_get("server_count")?,
                    literal_secrets: row.try_get("literal_secrets")?,
                    open_findings: row.try_get("findings_open")?,
                    findings_high: row.try_get("findings_high")?,
                    findings_critical: row.try_get("findings_critical")?,
                    max_severity: to_i32(row.try_get("max_severity")?),
                })
            }

            fn finding_from_row(row: &Row, now: i64) -> Result<FindingView, StoreError> {
                let state: Option<String> = row.try_get("state")?;
                let decision = match state {
                    None => None,
                    Some(state) => {
                        let kind = DecisionKind::parse(&state)
                            .ok_or_else(|| StoreError::Corrupt(format!("finding state {state}")))?;
                        let expires_at: Option<i64> = row.try_get("expires_at")?;
                        Some(FindingDecision {
                            kind,
                            reason: row.try_get("reason")?,
                            expires_at,
                            decided_by: row.try_get("decided_by")?,
                            decided_at: row.try_get("decided_at")?,
                            active: expires_at.is_none_or(|at| at > now),
                        })
                    }
                };
                Ok(FindingView {
                    id: row.try_get("id")?,
                    key: FindingKey {
                        agent_id: row.try_get("agent_id")?,
                        server_id: row.try_get("server_id")?,
                        finding_id: row.try_get("finding_id")?,
                        subject: row.try_get("subject")?,
                    },
                    hostname: row.try_get("hostname")?,
                    severity: to_i32(row.try_get("severity")?),
                    owasp: row.try_get("owasp")?,
                    message: row.try_get("message")?,
                    service: row.try_get("service")?,
                    client: row.try_get("eff_client")?,
                    user: row.try_get("eff_user")?,
                    advisory: row.try_get("advisory")?,
                    decision,
                })
            }

            fn activity_from_row(row: &Row) -> Result<ActivityEvent, StoreError> {
                let kind: String = row.try_get("kind")?;
                Ok(ActivityEvent {
                    id: row.try_get("id")?,
                    agent_id: row.try_get("agent_id")?,
                    hostname: row.try_get("hostname")?,
                    server_id: row.try_get("server_id")?,
                    server_name: row.try_get("server_name")?,
                    client: row.try_get("client")?,
                    kind: ChangeKind::parse(&kind).ok_or_else(|| StoreError::Corrupt(format!("change kind {kind}")))?,
                    sequence: row.try_get("sequence")?,
                    at: row.try_get("at")?,
                })
            }

            fn push_findings_query(qb: &mut Builder, query: &FindingQuery, limit: u32) -> Result<(), StoreError> {
                qb.push(
                    "SELECT f.id, f.agent_id, COALESCE(e.hostname, '') AS hostname, f.server_id, f.finding_id, \
                     f.subject, f.severity, f.owasp, f.message, f.service, f.eff_client, f.eff_user, f.advisory, st.state, \
                     st.reason, st.expires_at, st.decided_by, st.decided_at FROM findings f \
                     LEFT JOIN endpoint_summary e ON e.agent_id = f.agent_id ",
                );
                qb.push(
                    "LEFT JOIN finding_states st ON st.agent_id = f.agent_id AND st.server_id = f.server_id \
                     AND st.finding_id = f.finding_id AND st.subject = f.subject WHERE f.severity >= ",
                );
                qb.push_bind(i64::from(query.min_severity.unwrap_or(0)));
                for (column, value) in [
                    ("f.owasp", &query.owasp),
                    ("f.service", &query.service),
                    ("f.eff_client", &query.client),
                    ("f.eff_user", &query.user),
                    ("f.agent_id", &query.agent_id),
                    ("f.finding_id", &query.finding_id),
                ] {
                    if let Some(value) = value {
                        qb.push(format_args!(" AND {column} = ")).push_bind(value.clone());
                    }
                }
                // State filters are (NOT) EXISTS on the decision's primary key, not conditions on
                // the LEFT JOIN: PostgreSQL misestimates `st.x IS NULL OR ...` as one row and
                // hash-joins every finding, where an anti-join walks the severity index.
                let decision = |qb: &mut Builder, negate: bool, state: Option<&'static str>| {
                    qb.push(if negate { " AND NOT EXISTS" } else { " AND EXISTS" });
                    qb.push(
                        " (SELECT 1 FROM finding_states d WHERE d.agent_id = f.agent_id \
                         AND d.server_id = f.server_id AND d.finding_id = f.finding_id AND d.subject = f.subject",
                    );
                    if let Some(state) = state {
                        qb.push(" AND d.state = ").push_bind(state);
                    }
                    qb.push(" AND (d.expires_at IS NULL OR d.expires_at > ").push_bind(query.now).push("))");
                };
                match query.state {
                    None => {}
                    Some(FindingStateFilter::Open) => decision(qb, true, None),
                    Some(FindingStateFilter::Counting) => decision(qb, true, Some("waived")),
                    Some(FindingStateFilter::Acknowledged) => decision(qb, false, Some("acknowledged")),
                    Some(FindingStateFilter::Waived) => decision(qb, false, Some("waived")),
                }
                if let Some(cursor) = &query.cursor {
                    let cursor = Cursor::decode(cursor)?;
                    qb.push(" AND (f.severity, f.id) < (")
                        .push_bind(cursor.int_key()?)
                        .push(", ")
                        .push_bind(cursor.int_id()?)
                        .push(")");
                }
                qb.push(" ORDER BY f.severity DESC, f.id DESC LIMIT ").push_bind(i64::from(limit) + 1);
                Ok(())
            }

            fn push_activity_query(qb: &mut Builder, query: &ActivityQuery, limit: u32) -> Result<(), StoreError> {
                qb.push(
                    "SELECT c.id, c.agent_id, COALESCE(a.hostname, '') AS hostname, c.server_id, c.server_name, \
                     c.client, c.kind, c.sequence, c.at FROM change_events c \
                     LEFT JOIN agents a ON a.id = c.agent_id WHERE 1 = 1",
                );
                if let Some(kind) = query.kind {
                    qb.push(" AND c.kind = ").push_bind(kind.as_str());
                }
                if let Some(client) = &query.client {
                    qb.push(" AND c.client = ").push_bind(client.clone());
                }
                if let Some(agent_id) = &query.agent_id {
                    qb.push(" AND c.agent_id = ").push_bind(agent_id.clone());
                }
                if let Some(since) = query.since {
                    qb.push(" AND c.at >= ").push_bind(since);
                }
                if let Some(until) = query.until {
                    qb.push(" AND c.at < ").push_bind(until);
                }
                if let Some(cursor) = &query.cursor {
                    qb.push(" AND c.id < ").push_bind(Cursor::decode(cursor)?.int_id()?);
                }
                qb.push(" ORDER BY c.id DESC LIMIT ").push_bind(i64::from(limit) + 1);
                Ok(())
            }

            fn split_lines(text: &str) -> Vec<String> {
                text.lines().filter(|s| !s.is_empty()).map(str::to_string).collect()
            }

            fn group_id(kind: &str, ecosystem: i64, name: &str) -> String {
                format!("{kind}\u{1e}{ecosystem}\u{1e}{name}")
            }

            /// One fleet-wide group of servers before it is written to `package_rollup`.
            #[derive(Default)]
            struct GroupAcc {
                servers: i64,
                endpoints: i64,
                pinned: i64,
                versions: BTreeSet<String>,
                advisories: BTreeSet<String>,
            }

            #[async_trait::async_trait]
            impl ReadModels for super::$store {
                async fn overview(&self, now: i64, online_since: i64) -> Result<Overview, StoreError> {
                    let totals = sqlx::query(
                        "SELECT COUNT(*) AS endpoints, \
                         CAST(COALESCE(SUM(server_count), 0) AS BIGINT) AS servers, \
                         CAST(COALESCE(SUM(client_count), 0) AS BIGINT) AS clients, \
                         CAST(COALESCE(SUM(literal_secrets), 0) AS BIGINT) AS literal_secrets, \
                         CAST(COALESCE(SUM(findings_high), 0) AS BIGINT) AS findings_high, \
                         CAST(COALESCE(SUM(findings_critical), 0) AS BIGINT) AS findings_critical \
                         FROM endpoint_summary",
                    )
                    .fetch_one(self.reader())
                    .await?;
                    // Offline endpoints are the minority: counting them walks a short stretch of the
                    // last-seen index instead of joining the whole fleet.
                    let offline: i64 = sqlx::query(
                        "SELECT COUNT(*) AS n FROM agents a WHERE a.last_seen_at < $1 \
                         AND EXISTS (SELECT 1 FROM endpoint_summary e WHERE e.agent_id = a.id)",
                    )
                    .bind(online_since)
                    .fetch_one(self.reader())
                    .await?
                    .try_get("n")?;
                    let services: i64 = sqlx::query("SELECT COUNT(*) AS n FROM service_rollup")
                        .fetch_one(self.reader())
                        .await?
                        .try_get("n")?;
                    let refreshed = sqlx::query("SELECT refreshed_at FROM rollup_state WHERE id = 1")
                        .fetch_optional(self.reader())
                        .await?;
                    let rollup_refreshed_at = match refreshed {
                        Some(row) => Some(row.try_get::<i64, _>("refreshed_at")?),
                        None => None,
                    };
                    let rows = sqlx::query(
                        "SELECT day, endpoints, endpoints_online, servers, clients, services, literal_secrets, \
                         findings_high, findings_critical FROM fleet_daily WHERE day > $1 ORDER BY day",
                    )
                    .bind(day_start(now) - 30 * 86_400)
                    .fetch_all(self.reader())
                    .await?;
                    let trend = rows
                        .iter()
                        .map(|row| {
                            Ok(DailyPoint {
                                day: row.try_get("day")?,
                                endpoints: row.try_get("endpoints")?,
                                endpoints_online: row.try_get("endpoints_online")?,
                                servers: row.try_get("servers")?,
                                clients: row.try_get("clients")?,
                                services: row.try_get("services")?,
                                literal_secrets: row.try_get("literal_secrets")?,
                                findings_high: row.try_get("findings_high")?,
                                findings_critical: row.try_get("findings_critical")?,
                            })
                        })
                        .collect::<Result<Vec<_>, StoreError>>()?;
                    let endpoints: i64 = totals.try_get("endpoints")?;
                    Ok(Overview {
                        endpoints,
                        endpoints_online: endpoints - offline,
                        endpoints_offline: offline,
                        servers: totals.try_get("servers")?,
                        clients: totals.try_get("clients")?,
                        services,
                        literal_secrets: totals.try_get("literal_secrets")?,
                        findings_high: totals.try_get("findings_high")?,
                        findings_critical: totals.try_get("findings_critical")?,
                        trend,
                        rollup_refreshed_at,
                    })
                }

                async fn services(&self) -> Result<Vec<ServiceRow>, StoreError> {
                    let rows = sqlx::query(
                        "SELECT service, servers, endpoints, users, auth_oauth, auth_reference, auth_literal, \
                         auth_none FROM service_rollup ORDER BY endpoints DESC, service",
                    )
                    .fetch_all(self.reader())
                    .await?;
                    rows.iter()
                        .map(|row| {
                            Ok(ServiceRow {
                                service: row.try_get("service")?,
                                servers: row.try_get("servers")?,
                                endpoints: row.try_get("endpoints")?,
                                users: row.try_get("users")?,
                                auth: AuthCounts {
                                    oauth: row.try_get("auth_oauth")?,
                                    reference: row.try_get("auth_reference")?,
                                    literal: row.try_get("auth_literal")?,
                                    none: row.try_get("auth_none")?,
                                },
                            })
                        })
                        .collect()
                }

                async fn server_groups(&self, query: &ServerGroupQuery) -> Result<Page<ServerGroup>, StoreError> {
                    let limit = page_limit(query.limit);
                    let mut qb = Builder::new(
                        "SELECT kind, ecosystem, name, servers, endpoints, pinned_servers, versions, advisories \
                         FROM package_rollup WHERE 1 = 1",
                    );
                    if let Some(kind) = query.kind {
                        qb.push(" AND kind = ").push_bind(kind.as_str());
                    }
                    if let Some(ecosystem) = query.ecosystem {
                        qb.push(" AND ecosystem = ").push_bind(i64::from(ecosystem));
                    }
                    if let Some(text) = &query.name_contains {
                        qb.push(" AND LOWER(name) LIKE ").push_bind(contains_pattern(text)).push(" ESCAPE '\\'");
                    }
                    if query.with_advisories {
                        qb.push(" AND advisories <> ''");
                    }
                    if let Some(cursor) = &query.cursor {
                        let cursor = Cursor::decode(cursor)?;
                        let mut parts = cursor.id.splitn(3, '\u{1e}');
                        let (Some(kind), Some(ecosystem), Some(name)) = (parts.next(), parts.next(), parts.next())
                        else {
                            return Err(StoreError::InvalidCursor(cursor.encode()));
                        };
                        let ecosystem: i64 =
                            ecosystem.parse().map_err(|_| StoreError::InvalidCursor(cursor.encode()))?;
                        qb.push(" AND (servers, kind, ecosystem, name) < (")
                            .push_bind(cursor.int_key()?)
                            .push(", ")
                            .push_bind(kind.to_string())
                            .push(", ")
                            .push_bind(ecosystem)
                            .push(", ")
                            .push_bind(name.to_string())
                            .push(")");
                    }
                    qb.push(" ORDER BY servers DESC, kind DESC, ecosystem DESC, name DESC LIMIT ")
                        .push_bind(i64::from(limit) + 1);
                    let rows = qb.build().fetch_all(self.reader()).await?;
                    let mut items = Vec::with_capacity(rows.len());
                    for row in &rows {
                        let kind: String = row.try_get("kind")?;
                        let servers: i64 = row.try_get("servers")?;
                        let pinned: i64 = row.try_get("pinned_servers")?;
                        items.push(ServerGroup {
                            kind: GroupKind::parse(&kind)
                                .ok_or_else(|| StoreError::Corrupt(format!("group kind {kind}")))?,
                            ecosystem: to_i32(row.try_get("ecosystem")?),
                            name: row.try_get("name")?,
                            servers,
                            endpoints: row.try_get("endpoints")?,
                            pinned_servers: pinned,
                            unpinned_servers: servers - pinned,
                            versions: split_lines(&row.try_get::<String, _>("versions")?),
                            advisories: split_lines(&row.try_get::<String, _>("advisories")?),
                        });
                    }
                    Ok(into_page(items, limit, |g| Cursor {
                        key: g.servers.to_string(),
                        id: group_id(g.kind.as_str(), i64::from(g.ecosystem), &g.name),
                    }))
                }

                async fn endpoints(&self, query: &EndpointQuery) -> Result<Page<EndpointRow>, StoreError> {
                    let limit = page_limit(query.limit);
                    let mut qb = Builder::new(format!(
                        "SELECT {ENDPOINT_COLUMNS} FROM endpoint_summary e JOIN agents a ON a.id = e.agent_id \
                         WHERE 1 = 1"
                    ));
                    if let Some(text) = &query.search {
                        let pattern = contains_pattern(text);
                        qb.push(" AND (e.hostname_key LIKE ")
                            .push_bind(pattern.clone())
                            .push(" ESCAPE '\\' OR e.users_key LIKE ")
                            .push_bind(pattern)
                            .push(" ESCAPE '\\')");
                    }
                    if let Some(user) = &query.user {
                        qb.push(" AND e.users_key LIKE ")
                            .push_bind(contains_pattern(&member_key([user.as_str()])))
                            .push(" ESCAPE '\\'");
                    }
                    if let Some(client) = &query.client {
                        qb.push(" AND e.clients_key LIKE ")
                            .push_bind(contains_pattern(&member_key([client.as_str()])))
                            .push(" ESCAPE '\\'");
                    }
                    if let Some(os) = query.os {
                        qb.push(" AND e.os = ").push_bind(i64::from(os));
                    }
                    match query.online {
                        Some(true) => {
                            qb.push(" AND a.last_seen_at >= ").push_bind(query.online_since);
                        }
                        Some(false) => {
                            qb.push(" AND (a.last_seen_at IS NULL OR a.last_seen_at < ")
                                .push_bind(query.online_since)
                                .push(")");
                        }
                        None => {}
                    }
                    if let Some(severity) = query.min_severity {
                        qb.push(" AND e.max_severity >= ").push_bind(i64::from(severity));
                    }
                    let cursor = query.cursor.as_deref().map(Cursor::decode).transpose()?;
                    match query.sort {
                        EndpointSort::Hostname => {
                            if let Some(cursor) = cursor {
                                qb.push(" AND (e.hostname_key, e.agent_id) > (")
                                    .push_bind(cursor.key)
                                    .push(", ")
                                    .push_bind(cursor.id)
                                    .push(")");
                            }
                            qb.push(" ORDER BY e.hostname_key, e.agent_id");
                        }
                        EndpointSort::LastSeen => {
                            if let Some(cursor) = cursor {
                                qb.push(" AND (a.last_seen_at, a.id) < (")
                                    .push_bind(cursor.int_key()?)
                                    .push(", ")
                                    .push_bind(cursor.id)
                                    .push(")");
                            }
                            qb.push(" AND a.last_seen_at IS NOT NULL ORDER BY a.last_seen_at DESC, a.id DESC");
                        }
                        EndpointSort::Findings => {
                            if let Some(cursor) = cursor {
                                qb.push(" AND (e.risk, e.agent_id) < (")
                                    .push_bind(cursor.int_key()?)
                                    .push(", ")
                                    .push_bind(cursor.id)
                                    .push(")");
                            }
                            qb.push(" ORDER BY e.risk DESC, e.agent_id DESC");
                        }
                    }
                    qb.push(" LIMIT ").push_bind(i64::from(limit) + 1);
                    let rows = qb.build().fetch_all(self.reader()).await?;
                    let mut items = Vec::with_capacity(rows.len());
                    let mut keys = BTreeMap::new();
                    for row in &rows {
                        let item = endpoint_from_row(row, query.online_since)?;
                        let key = match query.sort {
                            EndpointSort::Hostname => row.try_get::<String, _>("hostname_key")?,
                            EndpointSort::LastSeen => item.last_seen_at.unwrap_or(0).to_string(),
                            EndpointSort::Findings => row.try_get::<i64, _>("risk")?.to_string(),
                        };
                        keys.insert(item.agent_id.clone(), key);
                        items.push(item);
                    }
                    Ok(into_page(items, limit, |e| Cursor {
                        key: keys.get(&e.agent_id).cloned().unwrap_or_default(),
                        id: e.agent_id.clone(),
                    }))
                }

                async fn endpoint_detail(
                    &self,
                    agent_id: &str,
                    online_since: i64,
                    now: i64,
                ) -> Result<Option<EndpointDetail>, StoreError> {
                    let sql = sqlx::AssertSqlSafe(format!(
                        "SELECT {ENDPOINT_COLUMNS}, a.agent_version, a.status, a.cert_not_after, \
                         COALESCE(h.os_version, '') AS os_version, COALESCE(h.arch, '') AS arch, \
                         COALESCE(h.scanned_at, 0) AS scanned_at FROM endpoint_summary e \
                         JOIN agents a ON a.id = e.agent_id LEFT JOIN hosts h ON h.agent_id = e.agent_id \
                         WHERE e.agent_id = $1"
                    ));
                    let Some(row) = sqlx::query(sql).bind(agent_id).fetch_optional(self.reader()).await? else {
                        return Ok(None);
                    };
                    let endpoint = endpoint_from_row(&row, online_since)?;
                    let rows = sqlx::query(
                        "SELECT s.server_id, s.name, s.client, s.user_name, s.transport, s.command, s.url, \
                         s.service, s.package_ecosystem, s.package_name, s.package_version, s.pinned, \
                         s.endpoint_host, s.auth, s.first_seen_at, s.last_seen_at, \
                         (SELECT COUNT(*) FROM credentials c WHERE c.agent_id = s.agent_id \
                           AND c.server_id = s.server_id AND c.source = 1) AS literal \
                         FROM servers s WHERE s.agent_id = $1 ORDER BY s.name, s.server_id",
                    )
                    .bind(agent_id)
                    .fetch_all(self.reader())
                    .await?;
                    let mut servers = Vec::with_capacity(rows.len());
                    for server in &rows {
                        servers.push(ServerView {
                            server_id: server.try_get("server_id")?,
                            name: server.try_get("name")?,
                            client: server.try_get("client")?,
                            user: server.try_get("user_name")?,
                            transport: to_i32(server.try_get("transport")?),
                            command: server.try_get("command")?,
                            url: server.try_get("url")?,
                            service: server.try_get("service")?,
                            package_ecosystem: to_i32(server.try_get("package_ecosystem")?),
                            package_name: server.try_get("package_name")?,
                            package_version: server.try_get("package_version")?,
                            pinned: server.try_get::<i64, _>("pinned")? != 0,
                            endpoint_host: server.try_get("endpoint_host")?,
                            auth: server.try_get("auth")?,
                            literal_secrets: server.try_get("literal")?,
                            first_seen_at: server.try_get("first_seen_at")?,
                            last_seen_at: server.try_get("last_seen_at")?,
                        });
                    }
                    let findings = self
                        .findings(&FindingQuery {
                            agent_id: Some(agent_id.to_string()),
                            now,
                            limit: MAX_PAGE,
                            ..Default::default()
                        })
                        .await?
                        .items;
                    let history = self
                        .activity(&ActivityQuery {
                            agent_id: Some(agent_id.to_string()),
                            limit: HISTORY_LIMIT,
                            ..Default::default()
                        })
                        .await?
                        .items;
                    Ok(Some(EndpointDetail {
                        endpoint,
                        agent_version: row.try_get("agent_version")?,
                        agent_status: row.try_get("status")?,
                        cert_not_after: row.try_get("cert_not_after")?,
                        os_version: row.try_get("os_version")?,
                        arch: row.try_get("arch")?,
                        scanned_at: row.try_get("scanned_at")?,
                        servers,
                        findings,
                        history,
                    }))
                }

                async fn secret_groups(&self) -> Result<Vec<SecretGroup>, StoreError> {
                    let rows = sqlx::query(
                        "SELECT provider, kind, location_type, secrets, endpoints FROM secret_rollup \
                         ORDER BY secrets DESC, provider, kind, location_type",
                    )
                    .fetch_all(self.reader())
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

                async fn shared_fingerprints(
                    &self,
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
                    let rows = qb.build().fetch_all(self.reader()).await?;
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

                async fn findings(&self, query: &FindingQuery) -> Result<Page<FindingView>, StoreError> {
                    let limit = page_limit(query.limit);
                    let mut qb = Builder::new("");
                    push_findings_query(&mut qb, query, limit)?;
                    let rows = qb.build().fetch_all(self.reader()).await?;
                    let items =
                        rows.iter().map(|row| finding_from_row(row, query.now)).collect::<Result<Vec<_>, _>>()?;
                    Ok(into_page(items, limit, |f| Cursor { key: f.severity.to_string(), id: f.id.to_string() }))
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
                    let mut tx = self.writer().begin().await?;
                    let exists = sqlx::query(
                        "SELECT 1 AS one FROM findings WHERE agent_id = $1 AND server_id = $2 AND finding_id = $3 \
                         AND subject = $4 LIMIT 1",
                    )
                    .bind(&key.agent_id)
                    .bind(&key.server_id)
                    .bind(&key.finding_id)
                    .bind(&key.subject)
                    .fetch_optional(&mut *tx)
                    .await?;
                    if exists.is_none() {
                        return Ok(false);
                    }
                    sqlx::query(
                        "INSERT INTO finding_states (agent_id, server_id, finding_id, subject, state, reason, \
                         expires_at, decided_by, decided_at) VALUES ($1, $2, $3, $9, $4, $5, $6, $7, $8) \
                         ON CONFLICT (agent_id, server_id, finding_id, subject) DO UPDATE SET state = excluded.state, \
                         reason = excluded.reason, expires_at = excluded.expires_at, \
                         decided_by = excluded.decided_by, decided_at = excluded.decided_at",
                    )
                    .bind(&key.agent_id)
                    .bind(&key.server_id)
                    .bind(&key.finding_id)
                    .bind(kind.as_str())
                    .bind(reason)
                    .bind(expires_at)
                    .bind(who)
                    .bind(now)
                    .bind(&key.subject)
                    .execute(&mut *tx)
                    .await?;
                    refresh_endpoint(&mut tx, &key.agent_id, now).await?;
                    tx.commit().await?;
                    Ok(true)
                }

                async fn clear_finding_decision(&self, key: &FindingKey, now: i64) -> Result<bool, StoreError> {
                    let mut tx = self.writer().begin().await?;
                    let done = sqlx::query(
                        "DELETE FROM finding_states WHERE agent_id = $1 AND server_id = $2 AND finding_id = $3 \
                         AND subject = $4",
                    )
                    .bind(&key.agent_id)
                    .bind(&key.server_id)
                    .bind(&key.finding_id)
                    .bind(&key.subject)
                    .execute(&mut *tx)
                    .await?;
                    if done.rows_affected() > 0 {
                        refresh_endpoint(&mut tx, &key.agent_id, now).await?;
                    }
                    tx.commit().await?;
                    Ok(done.rows_affected() > 0)
                }

                async fn activity(&self, query: &ActivityQuery) -> Result<Page<ActivityEvent>, StoreError> {
                    let limit = page_limit(query.limit);
                    let mut qb = Builder::new("");
                    push_activity_query(&mut qb, query, limit)?;
                    let rows = qb.build().fetch_all(self.reader()).await?;
                    let items = rows.iter().map(activity_from_row).collect::<Result<Vec<_>, _>>()?;
                    Ok(into_page(items, limit, |e| Cursor { key: String::new(), id: e.id.to_string() }))
                }

                async fn agents_page(&self, query: &AgentQuery) -> Result<Page<AgentRow>, StoreError> {
                    let limit = page_limit(query.limit);
                    let mut qb = Builder::new(
                        "SELECT id, hostname, status, agent_version, cert_serial, cert_not_after, enrolled_at, \
                         enrolled_with_token, last_seen_at, revoked_at FROM agents WHERE 1 = 1",
                    );
                    if let Some(status) = &query.status {
                        qb.push(" AND status = ").push_bind(status.clone());
                    }
                    if let Some(version) = &query.version {
                        qb.push(" AND agent_version = ").push_bind(version.clone());
                    }
                    if let Some(text) = &query.search {
                        qb.push(" AND LOWER(hostname) LIKE ").push_bind(contains_pattern(text)).push(" ESCAPE '\\'");
                    }
                    if let Some(cursor) = &query.cursor {
                        let cursor = Cursor::decode(cursor)?;
                        qb.push(" AND (hostname, id) > (")
                            .push_bind(cursor.key)
                            .push(", ")
                            .push_bind(cursor.id)
                            .push(")");
                    }
                    qb.push(" ORDER BY hostname, id LIMIT ").push_bind(i64::from(limit) + 1);
                    let rows = qb.build().fetch_all(self.reader()).await?;
                    let items = rows
                        .iter()
                        .map(|row| {
                            let last_seen_at: Option<i64> = row.try_get("last_seen_at")?;
                            Ok(AgentRow {
                                id: row.try_get("id")?,
                                hostname: row.try_get("hostname")?,
                                status: row.try_get("status")?,
                                agent_version: row.try_get("agent_version")?,
                                cert_serial: row.try_get("cert_serial")?,
                                cert_not_after: row.try_get("cert_not_after")?,
                                enrolled_at: row.try_get("enrolled_at")?,
                                enrolled_with_token: row.try_get("enrolled_with_token")?,
                                last_seen_at,
                                online: last_seen_at.is_some_and(|at| at >= query.online_since),
                                revoked_at: row.try_get("revoked_at")?,
                            })
                        })
                        .collect::<Result<Vec<_>, StoreError>>()?;
                    Ok(into_page(items, limit, |a| Cursor { key: a.hostname.clone(), id: a.id.clone() }))
                }

                async fn agent_versions(&self) -> Result<Vec<VersionCount>, StoreError> {
                    let rows = sqlx::query(
                        "SELECT agent_version, COUNT(*) AS n FROM agents GROUP BY agent_version \
                         ORDER BY n DESC, agent_version",
                    )
                    .fetch_all(self.reader())
                    .await?;
                    rows.iter()
                        .map(|row| Ok(VersionCount { version: row.try_get("agent_version")?, agents: row.try_get("n")? }))
                        .collect()
                }

                async fn refresh_rollups(&self, now: i64, online_since: i64) -> Result<RollupStats, StoreError> {
                    // Read phase: plain reads, no transaction held open.
                    let rows = sqlx::query(
                        "SELECT service, COUNT(*) AS servers, COUNT(DISTINCT agent_id) AS endpoints, \
                         COUNT(DISTINCT agent_id || '/' || user_name) AS users, \
                         CAST(SUM(CASE WHEN auth = 'oauth' THEN 1 ELSE 0 END) AS BIGINT) AS oauth, \
                         CAST(SUM(CASE WHEN auth = 'reference' THEN 1 ELSE 0 END) AS BIGINT) AS reference, \
                         CAST(SUM(CASE WHEN auth = 'literal' THEN 1 ELSE 0 END) AS BIGINT) AS literal, \
                         CAST(SUM(CASE WHEN auth = 'none' THEN 1 ELSE 0 END) AS BIGINT) AS none \
                         FROM servers WHERE service <> '' GROUP BY service",
                    )
                    .fetch_all(self.reader())
                    .await?;
                    let mut services = Vec::with_capacity(rows.len());
                    for row in &rows {
                        services.push((
                            row.try_get::<String, _>("service")?,
                            [
                                row.try_get::<i64, _>("servers")?,
                                row.try_get("endpoints")?,
                                row.try_get("users")?,
                                row.try_get("oauth")?,
                                row.try_get("reference")?,
                                row.try_get("literal")?,
                                row.try_get("none")?,
                            ],
                        ));
                    }
                    let mut groups: BTreeMap<(String, i64, String), GroupAcc> = BTreeMap::new();
                    for row in sqlx::query(
                        "SELECT package_ecosystem, package_name, package_version, COUNT(*) AS servers, \
                         CAST(SUM(pinned) AS BIGINT) AS pinned FROM servers WHERE package_name <> '' \
                         GROUP BY package_ecosystem, package_name, package_version",
                    )
                    .fetch_all(self.reader())
                    .await?
                    {
                        let key = ("package".to_string(), row.try_get("package_ecosystem")?, row.try_get("package_name")?);
                        let group = groups.entry(key).or_default();
                        group.servers += row.try_get::<i64, _>("servers")?;
                        group.pinned += row.try_get::<i64, _>("pinned")?;
                        let version: String = row.try_get("package_version")?;
                        if !version.is_empty() {
                            group.versions.insert(version);
                        }
                    }
                    for row in sqlx::query(
                        "SELECT package_ecosystem, package_name, COUNT(DISTINCT agent_id) AS endpoints FROM servers \
                         WHERE package_name <> '' GROUP BY package_ecosystem, package_name",
                    )
                    .fetch_all(self.reader())
                    .await?
                    {
                        let key = ("package".to_string(), row.try_get("package_ecosystem")?, row.try_get("package_name")?);
                        groups.entry(key).or_default().endpoints = row.try_get("endpoints")?;
                    }
                    for row in sqlx::query(
                        "SELECT DISTINCT s.package_ecosystem, s.package_name, f.advisory FROM findings f \
                         JOIN servers s ON s.agent_id = f.agent_id AND s.server_id = f.server_id \
                         WHERE f.advisory <> '' AND s.package_name <> ''",
                    )
                    .fetch_all(self.reader())
                    .await?
                    {
                        let key = ("package".to_string(), row.try_get("package_ecosystem")?, row.try_get("package_name")?);
                        groups.entry(key).or_default().advisories.insert(row.try_get("advisory")?);
                    }
                    for row in sqlx::query(
                        "SELECT endpoint_host, COUNT(*) AS servers, COUNT(DISTINCT agent_id) AS endpoints \
                         FROM servers WHERE endpoint_host <> '' GROUP BY endpoint_host",
                    )
                    .fetch_all(self.reader())
                    .await?
                    {
                        let key = ("remote".to_string(), 0, row.try_get("endpoint_host")?);
                        let group = groups.entry(key).or_default();
                        group.servers = row.try_get("servers")?;
                        group.endpoints = row.try_get("endpoints")?;
                    }
                    let rows = sqlx::query(
                        "SELECT provider, kind, CASE WHEN location LIKE 'env:%' THEN 'env' \
                         WHEN location LIKE 'header:%' THEN 'header' WHEN location LIKE 'arg:%' THEN 'arg' \
                         WHEN location = 'url' THEN 'url' ELSE 'other' END AS location_type, \
                         COUNT(*) AS secrets, COUNT(DISTINCT agent_id) AS endpoints FROM credentials \
                         WHERE source = 1 GROUP BY provider, kind, location_type",
                    )
                    .fetch_all(self.reader())
                    .await?;
                    let mut secrets = Vec::with_capacity(rows.len());
                    for row in &rows {
                        secrets.push((
                            row.try_get::<String, _>("provider")?,
                            row.try_get::<String, _>("kind")?,
                            row.try_get::<String, _>("location_type")?,
                            row.try_get::<i64, _>("secrets")?,
                            row.try_get::<i64, _>("endpoints")?,
                        ));
                    }
                    let rows = sqlx::query(
                        "SELECT fingerprint, MIN(provider) AS provider, MIN(kind) AS kind, \
                         COUNT(DISTINCT agent_id) AS hosts, COUNT(*) AS servers FROM credentials \
                         WHERE fingerprint <> '' GROUP BY fingerprint HAVING COUNT(DISTINCT agent_id) >= 2",
                    )
                    .fetch_all(self.reader())
                    .await?;
                    let mut fingerprints = Vec::with_capacity(rows.len());
                    for row in &rows {
                        fingerprints.push((
                            row.try_get::<String, _>("fingerprint")?,
                            row.try_get::<String, _>("provider")?,
                            row.try_get::<String, _>("kind")?,
                            row.try_get::<i64, _>("hosts")?,
                            row.try_get::<i64, _>("servers")?,
                        ));
                    }

                    // Write phase: one short transaction.
                    let mut tx = self.writer().begin().await?;
                    let last: Option<i64> = match sqlx::query("SELECT refreshed_at FROM rollup_state WHERE id = 1")
                        .fetch_optional(&mut *tx)
                        .await?
                    {
                        Some(row) => Some(row.try_get("refreshed_at")?),
                        None => None,
                    };
                    let expired = sqlx::query(
                        "SELECT DISTINCT agent_id FROM finding_states WHERE state = 'waived' \
                         AND expires_at > $1 AND expires_at <= $2",
                    )
                    .bind(last.unwrap_or(i64::MIN))
                    .bind(now)
                    .fetch_all(&mut *tx)
                    .await?;
                    for row in &expired {
                        refresh_endpoint(&mut tx, &row.try_get::<String, _>("agent_id")?, now).await?;
                    }
                    for table in ["service_rollup", "package_rollup", "secret_rollup", "fingerprint_rollup"] {
                        sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table}"))).execute(&mut *tx).await?;
                    }
                    for chunk in services.chunks(500) {
                        let mut qb = Builder::new(
                            "INSERT INTO service_rollup (service, servers, endpoints, users, auth_oauth, \
                             auth_reference, auth_literal, auth_none) ",
                        );
                        qb.push_values(chunk, |mut b, (service, n)| {
                            b.push_bind(service.clone());
                            for value in n {
                                b.push_bind(*value);
                            }
                        });
                        qb.build().execute(&mut *tx).await?;
                    }
                    let group_rows: Vec<_> = groups.iter().collect();
                    for chunk in group_rows.chunks(500) {
                        let mut qb = Builder::new(
                            "INSERT INTO package_rollup (kind, ecosystem, name, servers, endpoints, pinned_servers, \
                             versions, advisories) ",
                        );
                        qb.push_values(chunk, |mut b, ((kind, ecosystem, name), group)| {
                            b.push_bind(kind.clone())
                                .push_bind(*ecosystem)
                                .push_bind(name.clone())
                                .push_bind(group.servers)
                                .push_bind(group.endpoints)
                                .push_bind(group.pinned)
                                .push_bind(group.versions.iter().cloned().collect::<Vec<_>>().join("\n"))
                                .push_bind(group.advisories.iter().cloned().collect::<Vec<_>>().join("\n"));
                        });
                        qb.build().execute(&mut *tx).await?;
                    }
                    for chunk in secrets.chunks(500) {
                        let mut qb = Builder::new(
                            "INSERT INTO secret_rollup (provider, kind, location_type, secrets, endpoints) ",
                        );
                        qb.push_values(chunk, |mut b, (provider, kind, location, n, endpoints)| {
                            b.push_bind(provider.clone())
                                .push_bind(kind.clone())
                                .push_bind(location.clone())
                                .push_bind(*n)
                                .push_bind(*endpoints);
                        });
                        qb.build().execute(&mut *tx).await?;
                    }
                    for chunk in fingerprints.chunks(500) {
                        let mut qb =
                            Builder::new("INSERT INTO fingerprint_rollup (fingerprint, provider, kind, hosts, servers) ");
                        qb.push_values(chunk, |mut b, (fingerprint, provider, kind, hosts, servers)| {
                            b.push_bind(fingerprint.clone())
                                .push_bind(provider.clone())
                                .push_bind(kind.clone())
                                .push_bind(*hosts)
                                .push_bind(*servers);
                        });
                        qb.build().execute(&mut *tx).await?;
                    }
                    sqlx::query(
                        "INSERT INTO rollup_state (id, refreshed_at) VALUES (1, $1) \
                         ON CONFLICT (id) DO UPDATE SET refreshed_at = excluded.refreshed_at",
                    )
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;

                    let overview = self.overview(now, online_since).await?;
                    sqlx::query(
                        "INSERT INTO fleet_daily (day, endpoints, endpoints_online, servers, clients, services, \
                         literal_secrets, findings_high, findings_critical, taken_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                         ON CONFLICT (day) DO UPDATE SET endpoints = excluded.endpoints, \
                         endpoints_online = excluded.endpoints_online, servers = excluded.servers, \
                         clients = excluded.clients, services = excluded.services, \
                         literal_secrets = excluded.literal_secrets, findings_high = excluded.findings_high, \
                         findings_critical = excluded.findings_critical, taken_at = excluded.taken_at",
                    )
                    .bind(day_start(now))
                    .bind(overview.endpoints)
                    .bind(overview.endpoints_online)
                    .bind(overview.servers)
                    .bind(overview.clients)
                    .bind(overview.services)
                    .bind(overview.literal_secrets)
                    .bind(overview.findings_high)
                    .bind(overview.findings_critical)
                    .bind(now)
                    .execute(self.writer())
                    .await?;
                    Ok(RollupStats {
                        services: services.len(),
                        server_groups: groups.len(),
                        secret_groups: secrets.len(),
                        shared_fingerprints: fingerprints.len(),
                        expired_waiver_endpoints: expired.len(),
                    })
                }
            }
        }
    };
}

pub(crate) use impl_read_models;
