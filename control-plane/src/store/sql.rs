//! The SQL shared by both backends, written once as a macro instantiated per database type.
//!
//! Every statement here is portable between SQLite and PostgreSQL: numbered `$N` parameters,
//! `ON CONFLICT ... DO UPDATE`, `RETURNING`, integers as 64-bit, times as unix seconds. Dialect
//! differences (column types, identity columns) live only in the per-dialect migrations. This file
//! does not open connections or run migrations.

/// Implements [`super::Store`] for `$store` (a struct with a `pool: sqlx::Pool<$db>` field).
macro_rules! impl_store {
    ($store:ty, $db:ty, $conn:ty) => {
        use std::collections::{BTreeMap, BTreeSet};

        use muster_proto::prost::Message as _;
        use muster_proto::v1::{Finding, Host, McpServer};
        use sqlx::Row as _;

        use crate::ingest::{
            self, ChangeKind, Decision, IngestOutcome, KnownServer, Report, ReportBody, ServerChange,
        };
        use crate::store::{
            AgentRecord, AgentStatus, ChangeEventRecord, CredentialRecord, FindingRecord, HostInventory,
            HostRecord, NewAgent, NewToken, ServerRecord, StoreError, TokenRecord, TokenRefusal,
        };

        type Row = <$db as sqlx::Database>::Row;

        fn to_u64(value: i64) -> u64 {
            u64::try_from(value).unwrap_or(0)
        }

        fn to_u32(value: i64) -> u32 {
            u32::try_from(value).unwrap_or(0)
        }

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
                status,
                agent_version: row.try_get("agent_version")?,
                enrolled_at: row.try_get("enrolled_at")?,
                enrolled_with_token: row.try_get("enrolled_with_token")?,
                last_seen_at: row.try_get("last_seen_at")?,
                last_sequence: to_u64(row.try_get("last_sequence")?),
                revoked_at: row.try_get("revoked_at")?,
            })
        }

        const AGENT_COLUMNS: &str = "id, hostname, cert_serial, cert_not_after, status, agent_version, \
             enrolled_at, enrolled_with_token, last_seen_at, last_sequence, revoked_at";

        async fn upsert_host(conn: &mut $conn, agent_id: &str, host: &Host, scanned_at: i64, now: i64) -> Result<(), StoreError> {
            sqlx::query(
                "INSERT INTO hosts (agent_id, hostname, os, os_version, arch, machine_id, scanned_root, \
                 scanned_at, process_count, problem_count, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, 0, $9) \
                 ON CONFLICT (agent_id) DO UPDATE SET hostname = excluded.hostname, os = excluded.os, \
                 os_version = excluded.os_version, arch = excluded.arch, machine_id = excluded.machine_id, \
                 scanned_root = excluded.scanned_root, scanned_at = excluded.scanned_at, \
                 updated_at = excluded.updated_at",
            )
            .bind(agent_id)
            .bind(&host.hostname)
            .bind(i64::from(host.os))
            .bind(&host.os_version)
            .bind(&host.arch)
            .bind(&host.machine_id)
            .bind(&host.scanned_root)
            .bind(scanned_at)
            .bind(now)
            .execute(&mut *conn)
            .await?;
            Ok(())
        }

        async fn set_counts(conn: &mut $conn, agent_id: &str, processes: Option<usize>, problems: Option<usize>) -> Result<(), StoreError> {
            if let Some(count) = processes {
                sqlx::query("UPDATE hosts SET process_count = $2 WHERE agent_id = $1")
                    .bind(agent_id)
                    .bind(i64::try_from(count).unwrap_or(i64::MAX))
                    .execute(&mut *conn)
                    .await?;
            }
            if let Some(count) = problems {
                sqlx::query("UPDATE hosts SET problem_count = $2 WHERE agent_id = $1")
                    .bind(agent_id)
                    .bind(i64::try_from(count).unwrap_or(i64::MAX))
                    .execute(&mut *conn)
                    .await?;
            }
            Ok(())
        }

        async fn replace_users(conn: &mut $conn, agent_id: &str, users: &[muster_proto::v1::OsUser]) -> Result<(), StoreError> {
            sqlx::query("DELETE FROM os_users WHERE agent_id = $1").bind(agent_id).execute(&mut *conn).await?;
            for user in users {
                sqlx::query(
                    "INSERT INTO os_users (agent_id, name, uid, home) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (agent_id, name) DO UPDATE SET uid = excluded.uid, home = excluded.home",
                )
                .bind(agent_id)
                .bind(&user.name)
                .bind(user.uid.map(i64::from))
                .bind(&user.home)
                .execute(&mut *conn)
                .await?;
            }
            Ok(())
        }

        async fn upsert_source(conn: &mut $conn, agent_id: &str, source: &muster_proto::v1::ConfigSource) -> Result<(), StoreError> {
            sqlx::query(
                "INSERT INTO config_sources (agent_id, path, client, scope, format, user_name, project, \
                 mtime_unix, owner, mode, size, client_accepts, server_count) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
                 ON CONFLICT (agent_id, path) DO UPDATE SET client = excluded.client, scope = excluded.scope, \
                 format = excluded.format, user_name = excluded.user_name, project = excluded.project, \
                 mtime_unix = excluded.mtime_unix, owner = excluded.owner, mode = excluded.mode, \
                 size = excluded.size, client_accepts = excluded.client_accepts, \
                 server_count = excluded.server_count",
            )
            .bind(agent_id)
            .bind(&source.path)
            .bind(&source.client)
            .bind(i64::from(source.scope))
            .bind(i64::from(source.format))
            .bind(&source.user)
            .bind(&source.project)
            .bind(source.mtime_unix)
            .bind(&source.owner)
            .bind(source.mode.map(i64::from))
            .bind(i64::try_from(source.size).unwrap_or(i64::MAX))
            .bind(source.client_accepts)
            .bind(i64::from(source.server_count))
            .execute(&mut *conn)
            .await?;
            Ok(())
        }

        async fn insert_findings(conn: &mut $conn, agent_id: &str, server_id: &str, findings: &[Finding]) -> Result<(), StoreError> {
            for finding in findings {
                sqlx::query(
                    "INSERT INTO findings (agent_id, server_id, finding_id, severity, owasp, message, client, \
                     user_name, server_ids) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(agent_id)
                .bind(server_id)
                .bind(&finding.id)
                .bind(i64::from(finding.severity))
                .bind(&finding.owasp)
                .bind(&finding.message)
                .bind(&finding.client)
                .bind(&finding.user)
                .bind(finding.server_ids.join(","))
                .execute(&mut *conn)
                .await?;
            }
            Ok(())
        }

        async fn delete_server_children(conn: &mut $conn, agent_id: &str, server_id: &str) -> Result<(), StoreError> {
            sqlx::query("DELETE FROM credentials WHERE agent_id = $1 AND server_id = $2")
                .bind(agent_id)
                .bind(server_id)
                .execute(&mut *conn)
                .await?;
            sqlx::query("DELETE FROM findings WHERE agent_id = $1 AND server_id = $2")
                .bind(agent_id)
                .bind(server_id)
                .execute(&mut *conn)
                .await?;
            Ok(())
        }

        async fn delete_server(conn: &mut $conn, agent_id: &str, server_id: &str) -> Result<(), StoreError> {
            delete_server_children(conn, agent_id, server_id).await?;
            sqlx::query("DELETE FROM servers WHERE agent_id = $1 AND server_id = $2")
                .bind(agent_id)
                .bind(server_id)
                .execute(&mut *conn)
                .await?;
            Ok(())
        }

        /// Inserts or replaces a server with its credentials and findings; `first_seen_at` is kept.
        async fn upsert_server(conn: &mut $conn, agent_id: &str, server: &McpServer, known: bool, now: i64) -> Result<(), StoreError> {
            sqlx::query(
                "INSERT INTO servers (agent_id, server_id, name, client, user_name, scope, config_path, \
                 project, transport, command, url, disabled, content_hash, detail, first_seen_at, last_seen_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15) \
                 ON CONFLICT (agent_id, server_id) DO UPDATE SET name = excluded.name, \
                 client = excluded.client, user_name = excluded.user_name, scope = excluded.scope, \
                 config_path = excluded.config_path, project = excluded.project, \
                 transport = excluded.transport, command = excluded.command, url = excluded.url, \
                 disabled = excluded.disabled, content_hash = excluded.content_hash, \
                 detail = excluded.detail, last_seen_at = excluded.last_seen_at",
            )
            .bind(agent_id)
            .bind(&server.id)
            .bind(&server.name)
            .bind(&server.client)
            .bind(&server.user)
            .bind(i64::from(server.scope))
            .bind(&server.config_path)
            .bind(&server.project)
            .bind(i64::from(server.transport))
            .bind(&server.command)
            .bind(&server.url)
            .bind(server.disabled)
            .bind(ingest::server_hash(server))
            .bind(server.encode_to_vec())
            .bind(now)
            .execute(&mut *conn)
            .await?;
            if known {
                delete_server_children(conn, agent_id, &server.id).await?;
            }
            for credential in &server.credentials {
                sqlx::query(
                    "INSERT INTO credentials (agent_id, server_id, location, kind, source, fingerprint, \
                     provider, reference) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                     ON CONFLICT (agent_id, server_id, location) DO UPDATE SET kind = excluded.kind, \
                     source = excluded.source, fingerprint = excluded.fingerprint, \
                     provider = excluded.provider, reference = excluded.reference",
                )
                .bind(agent_id)
                .bind(&server.id)
                .bind(&credential.location)
                .bind(&credential.kind)
                .bind(i64::from(credential.source))
                .bind(&credential.fingerprint)
                .bind(&credential.provider)
                .bind(&credential.reference)
                .execute(&mut *conn)
                .await?;
            }
            insert_findings(conn, agent_id, &server.id, &server.findings).await?;
            Ok(())
        }

        /// Writes the servers whose content changed or that are new; an unchanged server only has
        /// its `last_seen_at` moved (by the caller), which keeps steady-state reports cheap.
        async fn write_changed_servers(
            conn: &mut $conn,
            agent_id: &str,
            known: &BTreeMap<String, KnownServer>,
            servers: &[McpServer],
            now: i64,
        ) -> Result<(), StoreError> {
            for server in servers {
                match known.get(&server.id) {
                    Some(old) if old.content_hash == ingest::server_hash(server) => {}
                    Some(_) => upsert_server(conn, agent_id, server, true, now).await?,
                    None => upsert_server(conn, agent_id, server, false, now).await?,
                }
            }
            Ok(())
        }

        async fn touch_servers(conn: &mut $conn, agent_id: &str, ids: Option<&[McpServer]>, now: i64) -> Result<(), StoreError> {
            match ids {
                None => {
                    sqlx::query("UPDATE servers SET last_seen_at = $2 WHERE agent_id = $1")
                        .bind(agent_id)
                        .bind(now)
                        .execute(&mut *conn)
                        .await?;
                }
                Some(servers) => {
                    for server in servers {
                        sqlx::query("UPDATE servers SET last_seen_at = $3 WHERE agent_id = $1 AND server_id = $2")
                            .bind(agent_id)
                            .bind(&server.id)
                            .bind(now)
                            .execute(&mut *conn)
                            .await?;
                    }
                }
            }
            Ok(())
        }

        async fn known_servers(conn: &mut $conn, agent_id: &str) -> Result<BTreeMap<String, KnownServer>, StoreError> {
            let rows = sqlx::query("SELECT server_id, name, client, content_hash FROM servers WHERE agent_id = $1")
                .bind(agent_id)
                .fetch_all(&mut *conn)
                .await?;
            let mut known = BTreeMap::new();
            for row in rows {
                known.insert(
                    row.try_get("server_id")?,
                    KnownServer {
                        name: row.try_get("name")?,
                        client: row.try_get("client")?,
                        content_hash: row.try_get("content_hash")?,
                    },
                );
            }
            Ok(known)
        }

        /// Brings the clients table in line with the clients named by sources and servers: rows
        /// are added and removed only where the set changed; one statement moves `last_seen_at`.
        async fn refresh_clients(conn: &mut $conn, agent_id: &str, now: i64) -> Result<(), StoreError> {
            let rows = sqlx::query(
                "SELECT client FROM config_sources WHERE agent_id = $1 \
                 UNION SELECT client FROM servers WHERE agent_id = $1",
            )
            .bind(agent_id)
            .fetch_all(&mut *conn)
            .await?;
            let mut present = BTreeSet::new();
            for row in rows {
                let client: String = row.try_get("client")?;
                if !client.is_empty() {
                    present.insert(client);
                }
            }
            let rows = sqlx::query("SELECT client FROM clients WHERE agent_id = $1")
                .bind(agent_id)
                .fetch_all(&mut *conn)
                .await?;
            let mut stored = BTreeSet::new();
            for row in rows {
                stored.insert(row.try_get::<String, _>("client")?);
            }
            for gone in stored.difference(&present) {
                sqlx::query("DELETE FROM clients WHERE agent_id = $1 AND client = $2")
                    .bind(agent_id)
                    .bind(gone)
                    .execute(&mut *conn)
                    .await?;
            }
            sqlx::query("UPDATE clients SET last_seen_at = $2 WHERE agent_id = $1")
                .bind(agent_id)
                .bind(now)
                .execute(&mut *conn)
                .await?;
            for new in present.difference(&stored) {
                sqlx::query(
                    "INSERT INTO clients (agent_id, client, first_seen_at, last_seen_at) VALUES ($1, $2, $3, $3)",
                )
                .bind(agent_id)
                .bind(new)
                .bind(now)
                .execute(&mut *conn)
                .await?;
            }
            Ok(())
        }

        async fn insert_changes(conn: &mut $conn, agent_id: &str, changes: &[ServerChange], sequence: u64, now: i64) -> Result<(), StoreError> {
            for change in changes {
                sqlx::query(
                    "INSERT INTO change_events (agent_id, server_id, server_name, client, kind, sequence, at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(agent_id)
                .bind(&change.server_id)
                .bind(&change.server_name)
                .bind(&change.client)
                .bind(change.kind.as_str())
                .bind(i64::try_from(sequence).unwrap_or(i64::MAX))
                .bind(now)
                .execute(&mut *conn)
                .await?;
            }
            Ok(())
        }

        /// Applies `report` (already decided to be applied) and returns its change events.
        async fn apply_report(conn: &mut $conn, agent_id: &str, report: &Report, now: i64) -> Result<Vec<ServerChange>, StoreError> {
            let known = known_servers(conn, agent_id).await?;
            match &report.body {
                ReportBody::Full(snapshot) => {
                    let changes = ingest::diff_servers(&known, &snapshot.servers, &[], true);
                    let host = snapshot.host.clone().unwrap_or_default();
                    upsert_host(conn, agent_id, &host, snapshot.scanned_at_unix, now).await?;
                    set_counts(conn, agent_id, Some(snapshot.processes.len()), Some(snapshot.problems.len())).await?;
                    replace_users(conn, agent_id, &snapshot.users).await?;
                    sqlx::query("DELETE FROM config_sources WHERE agent_id = $1").bind(agent_id).execute(&mut *conn).await?;
                    for source in &snapshot.sources {
                        upsert_source(conn, agent_id, source).await?;
                    }
                    let present: BTreeSet<&str> = snapshot.servers.iter().map(|s| s.id.as_str()).collect();
                    for id in known.keys().filter(|id| !present.contains(id.as_str())) {
                        delete_server(conn, agent_id, id).await?;
                    }
                    write_changed_servers(conn, agent_id, &known, &snapshot.servers, now).await?;
                    touch_servers(conn, agent_id, None, now).await?;
                    delete_server_children(conn, agent_id, "").await?;
                    insert_findings(conn, agent_id, "", &snapshot.findings).await?;
                    Ok(changes)
                }
                ReportBody::Delta(delta) => {
                    let changes =
                        ingest::diff_servers(&known, &delta.upserted_servers, &delta.removed_server_ids, false);
                    if let Some(host) = &delta.host {
                        upsert_host(conn, agent_id, host, delta.scanned_at_unix, now).await?;
                    }
                    set_counts(
                        conn,
                        agent_id,
                        delta.replace_processes.then_some(delta.processes.len()),
                        delta.replace_problems.then_some(delta.problems.len()),
                    )
                    .await?;
                    if !delta.users.is_empty() {
                        replace_users(conn, agent_id, &delta.users).await?;
                    }
                    for path in &delta.removed_source_paths {
                        sqlx::query("DELETE FROM config_sources WHERE agent_id = $1 AND path = $2")
                            .bind(agent_id)
                            .bind(path)
                            .execute(&mut *conn)
                            .await?;
                    }
                    for source in &delta.upserted_sources {
                        upsert_source(conn, agent_id, source).await?;
                    }
                    for id in &delta.removed_server_ids {
                        delete_server(conn, agent_id, id).await?;
                    }
                    let still_known: BTreeMap<String, KnownServer> = known
                        .iter()
                        .filter(|(id, _)| !delta.removed_server_ids.contains(id))
                        .map(|(id, server)| (id.clone(), server.clone()))
                        .collect();
                    write_changed_servers(conn, agent_id, &still_known, &delta.upserted_servers, now).await?;
                    touch_servers(conn, agent_id, Some(&delta.upserted_servers), now).await?;
                    if delta.replace_findings {
                        delete_server_children(conn, agent_id, "").await?;
                        insert_findings(conn, agent_id, "", &delta.findings).await?;
                    }
                    Ok(changes)
                }
            }
        }

        #[async_trait::async_trait]
        impl crate::store::Store for $store {
            async fn create_token(&self, token: &NewToken) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO enrollment_tokens (id, token_hash, max_uses, uses, expires_at, created_at) \
                     VALUES ($1, $2, $3, 0, $4, $5)",
                )
                .bind(&token.id)
                .bind(&token.token_hash)
                .bind(i64::from(token.max_uses))
                .bind(token.expires_at)
                .bind(token.created_at)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn list_tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
                let rows = sqlx::query(
                    "SELECT id, max_uses, uses, expires_at, created_at, revoked_at FROM enrollment_tokens \
                     ORDER BY created_at, id",
                )
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|row| {
                        Ok(TokenRecord {
                            id: row.try_get("id")?,
                            max_uses: to_u32(row.try_get("max_uses")?),
                            uses: to_u32(row.try_get("uses")?),
                            expires_at: row.try_get("expires_at")?,
                            created_at: row.try_get("created_at")?,
                            revoked_at: row.try_get("revoked_at")?,
                        })
                    })
                    .collect()
            }

            async fn revoke_token(&self, id: &str, now: i64) -> Result<bool, StoreError> {
                let done = sqlx::query(
                    "UPDATE enrollment_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
                )
                .bind(id)
                .bind(now)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn enroll_agent(&self, token_hash: &str, now: i64, agent: &NewAgent) -> Result<(), StoreError> {
                let mut tx = self.pool.begin().await?;
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

            async fn agent(&self, id: &str) -> Result<Option<AgentRecord>, StoreError> {
                let sql = sqlx::AssertSqlSafe(format!("SELECT {AGENT_COLUMNS} FROM agents WHERE id = $1"));
                let row = sqlx::query(sql).bind(id).fetch_optional(&self.pool).await?;
                row.as_ref().map(agent_from_row).transpose()
            }

            async fn list_agents(&self) -> Result<Vec<AgentRecord>, StoreError> {
                let sql = sqlx::AssertSqlSafe(format!("SELECT {AGENT_COLUMNS} FROM agents ORDER BY enrolled_at, id"));
                let rows = sqlx::query(sql).fetch_all(&self.pool).await?;
                rows.iter().map(agent_from_row).collect()
            }

            async fn revoke_agent(&self, id: &str, now: i64) -> Result<bool, StoreError> {
                let done = sqlx::query(
                    "UPDATE agents SET status = 'revoked', revoked_at = $2 WHERE id = $1 AND status = 'active'",
                )
                .bind(id)
                .bind(now)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn renew_agent_cert(&self, id: &str, cert_serial: &str, cert_not_after: i64) -> Result<(), StoreError> {
                let done = sqlx::query(
                    "UPDATE agents SET cert_serial = $2, cert_not_after = $3 WHERE id = $1 AND status = 'active'",
                )
                .bind(id)
                .bind(cert_serial)
                .bind(cert_not_after)
                .execute(&self.pool)
                .await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::UnknownAgent(id.to_string()));
                }
                Ok(())
            }

            async fn heartbeat(&self, id: &str, agent_version: &str, now: i64) -> Result<u64, StoreError> {
                let row = sqlx::query(
                    "UPDATE agents SET last_seen_at = $2, agent_version = $3 WHERE id = $1 AND status = 'active' \
                     RETURNING last_sequence",
                )
                .bind(id)
                .bind(now)
                .bind(agent_version)
                .fetch_optional(&self.pool)
                .await?;
                match row {
                    Some(row) => Ok(to_u64(row.try_get("last_sequence")?)),
                    None => Err(StoreError::UnknownAgent(id.to_string())),
                }
            }

            async fn ingest(&self, agent_id: &str, report: &Report, now: i64) -> Result<IngestOutcome, StoreError> {
                let mut tx = self.pool.begin().await?;
                // Writing the agent row first takes the write lock in both dialects, so concurrent
                // reports of one agent are serialised and see the same stored sequence.
                let row = sqlx::query(
                    "UPDATE agents SET last_seen_at = $2 WHERE id = $1 RETURNING status, last_sequence",
                )
                .bind(agent_id)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(row) = row else {
                    return Err(StoreError::UnknownAgent(agent_id.to_string()));
                };
                let status: String = row.try_get("status")?;
                if status != AgentStatus::Active.as_str() {
                    return Err(StoreError::AgentRevoked(agent_id.to_string()));
                }
                let stored = to_u64(row.try_get("last_sequence")?);
                let decision = ingest::decide(stored, report);
                if decision != Decision::Apply {
                    tx.commit().await?;
                    return Ok(IngestOutcome {
                        acked_sequence: stored,
                        resync_required: decision == Decision::Resync,
                        decision,
                    });
                }
                let changes = apply_report(&mut tx, agent_id, report, now).await?;
                insert_changes(&mut tx, agent_id, &changes, report.sequence, now).await?;
                refresh_clients(&mut tx, agent_id, now).await?;
                read_models::after_ingest(&mut tx, agent_id, report, &changes, now).await?;
                sqlx::query("UPDATE agents SET last_sequence = $2 WHERE id = $1")
                    .bind(agent_id)
                    .bind(i64::try_from(report.sequence).unwrap_or(i64::MAX))
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(IngestOutcome { acked_sequence: report.sequence, resync_required: false, decision })
            }

            async fn host_inventory(&self, agent_id: &str) -> Result<HostInventory, StoreError> {
                let mut inventory = HostInventory::default();
                let host = sqlx::query(
                    "SELECT hostname, os, os_version, arch, machine_id, scanned_at, process_count, problem_count \
                     FROM hosts WHERE agent_id = $1",
                )
                .bind(agent_id)
                .fetch_optional(&self.pool)
                .await?;
                if let Some(row) = host {
                    inventory.host = Some(HostRecord {
                        agent_id: agent_id.to_string(),
                        hostname: row.try_get("hostname")?,
                        os: i32::try_from(row.try_get::<i64, _>("os")?).unwrap_or(0),
                        os_version: row.try_get("os_version")?,
                        arch: row.try_get("arch")?,
                        machine_id: row.try_get("machine_id")?,
                        scanned_at: row.try_get("scanned_at")?,
                        process_count: to_u32(row.try_get("process_count")?),
                        problem_count: to_u32(row.try_get("problem_count")?),
                    });
                }
                for (sql, target) in [
                    ("SELECT name AS v FROM os_users WHERE agent_id = $1 ORDER BY name", &mut inventory.users),
                    ("SELECT client AS v FROM clients WHERE agent_id = $1 ORDER BY client", &mut inventory.clients),
                    ("SELECT path AS v FROM config_sources WHERE agent_id = $1 ORDER BY path", &mut inventory.source_paths),
                ] {
                    for row in sqlx::query(sql).bind(agent_id).fetch_all(&self.pool).await? {
                        target.push(row.try_get("v")?);
                    }
                }
                let rows = sqlx::query(
                    "SELECT server_id, name, client, user_name, config_path, command, url, content_hash, \
                     first_seen_at, last_seen_at FROM servers WHERE agent_id = $1 ORDER BY server_id",
                )
                .bind(agent_id)
                .fetch_all(&self.pool)
                .await?;
                for row in rows {
                    inventory.servers.push(ServerRecord {
                        server_id: row.try_get("server_id")?,
                        name: row.try_get("name")?,
                        client: row.try_get("client")?,
                        user: row.try_get("user_name")?,
                        config_path: row.try_get("config_path")?,
                        command: row.try_get("command")?,
                        url: row.try_get("url")?,
                        content_hash: row.try_get("content_hash")?,
                        first_seen_at: row.try_get("first_seen_at")?,
                        last_seen_at: row.try_get("last_seen_at")?,
                    });
                }
                let rows = sqlx::query(
                    "SELECT server_id, location, kind, fingerprint, provider FROM credentials \
                     WHERE agent_id = $1 ORDER BY server_id, location",
                )
                .bind(agent_id)
                .fetch_all(&self.pool)
                .await?;
                for row in rows {
                    inventory.credentials.push(CredentialRecord {
                        server_id: row.try_get("server_id")?,
                        location: row.try_get("location")?,
                        kind: row.try_get("kind")?,
                        fingerprint: row.try_get("fingerprint")?,
                        provider: row.try_get("provider")?,
                    });
                }
                let rows = sqlx::query(
                    "SELECT server_id, finding_id, severity, message FROM findings WHERE agent_id = $1 \
                     ORDER BY server_id, finding_id, id",
                )
                .bind(agent_id)
                .fetch_all(&self.pool)
                .await?;
                for row in rows {
                    inventory.findings.push(FindingRecord {
                        server_id: row.try_get("server_id")?,
                        finding_id: row.try_get("finding_id")?,
                        severity: i32::try_from(row.try_get::<i64, _>("severity")?).unwrap_or(0),
                        message: row.try_get("message")?,
                    });
                }
                Ok(inventory)
            }

            async fn change_events(&self, agent_id: &str) -> Result<Vec<ChangeEventRecord>, StoreError> {
                let rows = sqlx::query(
                    "SELECT server_id, server_name, client, kind, sequence, at FROM change_events \
                     WHERE agent_id = $1 ORDER BY id",
                )
                .bind(agent_id)
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|row| {
                        let kind: String = row.try_get("kind")?;
                        Ok(ChangeEventRecord {
                            server_id: row.try_get("server_id")?,
                            server_name: row.try_get("server_name")?,
                            client: row.try_get("client")?,
                            kind: ChangeKind::parse(&kind)
                                .ok_or_else(|| StoreError::Corrupt(format!("change kind {kind}")))?,
                            sequence: to_u64(row.try_get("sequence")?),
                            at: row.try_get("at")?,
                        })
                    })
                    .collect()
            }
        }
    };
}

pub(crate) use impl_store;
