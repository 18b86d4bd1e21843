//! Ingest's SQL: reads what [`crate::ingest::plan`] needs, and executes an
//! [`IngestPlan`](crate::ingest::plan::IngestPlan) in the ingest transaction. It decides nothing
//! itself: which rows a report rewrites is the plan's business, unit-tested without a database.
//!
//! Written for throughput: rows go in multi-row statements (one statement per table and report,
//! not one per row), every statement whose parameters grow with a report is cut into chunks of
//! [`ROWS_PER_STATEMENT`](super::portable::ROWS_PER_STATEMENT), and parts the plan leaves alone cost
//! no statement. One macro instantiated per backend, like the other per-feature SQL modules.

/// Defines `ingest_sql::ingest` for `$store` inside an `ingest_sql` child module.
macro_rules! impl_ingest {
    ($store:ident, $db:ty, $conn:ty) => {
        pub(crate) mod ingest_sql {
            use std::collections::BTreeMap;

            use muster_proto::prost::Message as _;
            use muster_proto::v1::Finding;
            use sqlx::Row as _;

            use crate::ingest::plan::{self, HostWrite, IngestPlan, PartHashes, ServersToRead, Stored, Touch};
            use crate::ingest::{self, Decision, IngestOutcome, KnownServer, Report, ServerChange};
            use crate::store::portable::{ROWS_PER_STATEMENT, push_in_list, to_i64, to_u64};
            use crate::store::{AgentStatus, StoreError};

            type Builder = sqlx::QueryBuilder<$db>;

            /// Applies a report following [`crate::ingest::decide`] and [`crate::ingest::plan`], in
            /// one transaction.
            pub(crate) async fn ingest(
                store: &super::$store,
                agent_id: &str,
                report: &Report,
                now: i64,
            ) -> Result<IngestOutcome, StoreError> {
                // Stored exactly or not at all: a clamped sequence would let the report apply twice.
                let sequence =
                    i64::try_from(report.sequence).map_err(|_| StoreError::SequenceOutOfRange(report.sequence))?;
                let mut tx = store.writer().begin().await?;
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
                let stored_sequence = to_u64(row.try_get("last_sequence")?);
                let decision = ingest::decide(stored_sequence, report);
                if decision != Decision::Apply {
                    tx.commit().await?;
                    return Ok(IngestOutcome {
                        acked_sequence: stored_sequence,
                        resync_required: decision == Decision::Resync,
                        decision,
                    });
                }
                let stored = read_stored(&mut tx, agent_id, report).await?;
                let plan = plan::plan(&stored, report);
                let contributed = super::read_models::rollup_contribution(&mut tx, agent_id).await?;
                execute(&mut tx, agent_id, &plan, sequence, now).await?;
                super::read_models::after_ingest(&mut tx, agent_id, report, &plan.touched_servers, now).await?;
                // An agent without policy support sends no policy part: its rows stay as they are.
                if let Some(policy) = &report.policy {
                    super::compliance_sql::write(&mut tx, agent_id, &crate::ingest::policy::plan(policy), now).await?;
                }
                super::read_models::update_rollups(&mut tx, agent_id, &contributed).await?;
                sqlx::query("UPDATE agents SET last_sequence = $2 WHERE id = $1")
                    .bind(agent_id)
                    .bind(sequence)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(IngestOutcome { acked_sequence: report.sequence, resync_required: false, decision })
            }

            /// What the plan of `report` needs to know about the agent's stored inventory.
            async fn read_stored(conn: &mut $conn, agent_id: &str, report: &Report) -> Result<Stored, StoreError> {
                let servers = known_servers(conn, agent_id, &plan::servers_to_read(report)).await?;
                let part_hashes = if plan::needs_part_hashes(report) {
                    part_hashes(conn, agent_id).await?
                } else {
                    PartHashes::default()
                };
                let previous = previous_servers(conn, agent_id, &plan::previous_to_read(&servers, report)).await?;
                let host_findings = if plan::needs_host_findings(&part_hashes, report) {
                    stored_host_findings(conn, agent_id).await?
                } else {
                    Vec::new()
                };
                Ok(Stored { servers, part_hashes, previous, host_findings })
            }

            /// The stored messages of the named servers (the `detail` column). A message that no
            /// longer decodes is left out: its change event then says less, and nothing is lost.
            async fn previous_servers(
                conn: &mut $conn,
                agent_id: &str,
                ids: &[String],
            ) -> Result<BTreeMap<String, muster_proto::v1::McpServer>, StoreError> {
                let mut previous = BTreeMap::new();
                for chunk in ids.chunks(ROWS_PER_STATEMENT) {
                    let mut builder = Builder::new("SELECT server_id, detail FROM servers WHERE agent_id = ");
                    builder.push_bind(agent_id.to_string());
                    builder.push(" AND server_id");
                    push_in_list(&mut builder, chunk.iter().cloned());
                    for row in builder.build().fetch_all(&mut *conn).await? {
                        let detail: Vec<u8> = row.try_get("detail")?;
                        if let Ok(server) = muster_proto::v1::McpServer::decode(detail.as_slice()) {
                            previous.insert(row.try_get("server_id")?, server);
                        }
                    }
                }
                Ok(previous)
            }

            /// The host-wide findings stored for the agent, as the agent reported them.
            async fn stored_host_findings(conn: &mut $conn, agent_id: &str) -> Result<Vec<Finding>, StoreError> {
                let rows = sqlx::query(
                    "SELECT finding_id, severity, owasp, message, client, user_name, server_ids FROM findings \
                     WHERE agent_id = $1 AND server_id = ''",
                )
                .bind(agent_id)
                .fetch_all(&mut *conn)
                .await?;
                rows.iter()
                    .map(|row| {
                        let server_ids: String = row.try_get("server_ids")?;
                        Ok(Finding {
                            id: row.try_get("finding_id")?,
                            severity: i32::try_from(row.try_get::<i64, _>("severity")?).unwrap_or(0),
                            owasp: row.try_get("owasp")?,
                            message: row.try_get("message")?,
                            server_ids: server_ids.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect(),
                            client: row.try_get("client")?,
                            user: row.try_get("user_name")?,
                        })
                    })
                    .collect()
            }

            /// Executes `plan` in its field order, then records its change events.
            async fn execute(
                conn: &mut $conn,
                agent_id: &str,
                plan: &IngestPlan<'_>,
                sequence: i64,
                now: i64,
            ) -> Result<(), StoreError> {
                write_host(conn, agent_id, &plan.host, now).await?;
                if let Some(users) = &plan.users {
                    sqlx::query("DELETE FROM os_users WHERE agent_id = $1").bind(agent_id).execute(&mut *conn).await?;
                    insert_rows(conn, "INSERT INTO os_users (agent_id, name, uid, home) ", "", users, |row, user| {
                        row.push_bind(agent_id.to_string())
                            .push_bind(user.name.clone())
                            .push_bind(user.uid.map(i64::from))
                            .push_bind(user.home.clone());
                    })
                    .await?;
                }
                write_sources(conn, agent_id, &plan.sources).await?;
                write_servers(conn, agent_id, &plan.servers, now).await?;
                if let Some(findings) = plan.host_findings {
                    sqlx::query("DELETE FROM findings WHERE agent_id = $1 AND server_id = ''")
                        .bind(agent_id)
                        .execute(&mut *conn)
                        .await?;
                    let rows: Vec<(&str, &Finding)> = findings.iter().map(|f| ("", f)).collect();
                    insert_findings(conn, agent_id, &rows).await?;
                }
                if !plan.hash_updates.is_empty() {
                    let mut builder = Builder::new("UPDATE hosts SET ");
                    let mut set = builder.separated(", ");
                    for (column, hash) in [
                        ("users_hash", &plan.hash_updates.users),
                        ("sources_hash", &plan.hash_updates.sources),
                        ("findings_hash", &plan.hash_updates.findings),
                    ] {
                        if let Some(hash) = hash {
                            set.push(format!("{column} = "));
                            set.push_bind_unseparated(hash.clone());
                        }
                    }
                    builder.push(" WHERE agent_id = ");
                    builder.push_bind(agent_id.to_string());
                    builder.build().execute(&mut *conn).await?;
                }
                refresh_clients(conn, agent_id, plan.client_set_may_change, now).await?;
                insert_changes(conn, agent_id, &plan.changes, sequence, now).await
            }

            /// Runs `sql_head` + `VALUES (...), (...)` + `sql_tail` for `rows`, in chunks.
            async fn insert_rows<T>(
                conn: &mut $conn,
                sql_head: &str,
                sql_tail: &str,
                rows: &[T],
                mut push: impl FnMut(&mut sqlx::query_builder::Separated<'_, $db, &'static str>, &T),
            ) -> Result<(), StoreError> {
                for chunk in rows.chunks(ROWS_PER_STATEMENT) {
                    let mut builder = Builder::new(sql_head);
                    builder.push_values(chunk, |mut row, item| push(&mut row, item));
                    builder.push(sql_tail);
                    builder.build().execute(&mut *conn).await?;
                }
                Ok(())
            }

            /// Runs `sql_head` + `$1 AND <column> IN (...)` + `sql_tail` with `agent_id` bound as
            /// `$1`, in chunks.
            async fn execute_for_ids(
                conn: &mut $conn,
                sql_head: &str,
                column: &str,
                agent_id: &str,
                ids: &[&str],
            ) -> Result<(), StoreError> {
                for chunk in ids.chunks(ROWS_PER_STATEMENT) {
                    let mut builder = Builder::new(sql_head);
                    builder.push_bind(agent_id.to_string());
                    builder.push(format!(" AND {column}"));
                    push_in_list(&mut builder, chunk.iter().map(|id| id.to_string()));
                    builder.build().execute(&mut *conn).await?;
                }
                Ok(())
            }

            async fn part_hashes(conn: &mut $conn, agent_id: &str) -> Result<PartHashes, StoreError> {
                let row =
                    sqlx::query("SELECT users_hash, sources_hash, findings_hash FROM hosts WHERE agent_id = $1")
                        .bind(agent_id)
                        .fetch_optional(&mut *conn)
                        .await?;
                Ok(match row {
                    Some(row) => PartHashes {
                        users: row.try_get("users_hash")?,
                        sources: row.try_get("sources_hash")?,
                        findings: row.try_get("findings_hash")?,
                    },
                    None => PartHashes::default(),
                })
            }

            /// The stored servers of a host: all of them, or only the named ones.
            async fn known_servers(
                conn: &mut $conn,
                agent_id: &str,
                which: &ServersToRead<'_>,
            ) -> Result<BTreeMap<String, KnownServer>, StoreError> {
                const COLUMNS: &str = "SELECT server_id, name, client, content_hash FROM servers WHERE agent_id = ";
                let mut rows = Vec::new();
                match which {
                    ServersToRead::All => {
                        let mut builder = Builder::new(COLUMNS);
                        builder.push_bind(agent_id.to_string());
                        rows = builder.build().fetch_all(&mut *conn).await?;
                    }
                    ServersToRead::Named(ids) => {
                        for chunk in ids.chunks(ROWS_PER_STATEMENT) {
                            let mut builder = Builder::new(COLUMNS);
                            builder.push_bind(agent_id.to_string());
                            builder.push(" AND server_id");
                            push_in_list(&mut builder, chunk.iter().map(|id| id.to_string()));
                            rows.extend(builder.build().fetch_all(&mut *conn).await?);
                        }
                    }
                }
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

            /// `,a,b,`: the stored form of a host's tags (see migration 0010).
            fn tags_key(host: &muster_proto::v1::Host) -> String {
                crate::store::read::member_key(host.tags.iter().map(String::as_str))
            }

            async fn write_host(conn: &mut $conn, agent_id: &str, host: &HostWrite<'_>, now: i64) -> Result<(), StoreError> {
                match host {
                    HostWrite::Snapshot { host, scanned_at, process_count, processes, problem_count, hashes } => {
                        sqlx::query(
                            "INSERT INTO hosts (agent_id, hostname, os, os_version, arch, machine_id, scanned_root, \
                             scanned_at, process_count, problem_count, updated_at, users_hash, sources_hash, findings_hash, \
                             tags, processes) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
                             ON CONFLICT (agent_id) DO UPDATE SET hostname = excluded.hostname, os = excluded.os, \
                             os_version = excluded.os_version, arch = excluded.arch, machine_id = excluded.machine_id, \
                             scanned_root = excluded.scanned_root, scanned_at = excluded.scanned_at, tags = excluded.tags, \
                             process_count = excluded.process_count, problem_count = excluded.problem_count, \
                             updated_at = excluded.updated_at, users_hash = excluded.users_hash, \
                             sources_hash = excluded.sources_hash, findings_hash = excluded.findings_hash, \
                             processes = excluded.processes",
                        )
                        .bind(agent_id)
                        .bind(&host.hostname)
                        .bind(i64::from(host.os))
                        .bind(&host.os_version)
                        .bind(&host.arch)
                        .bind(&host.machine_id)
                        .bind(&host.scanned_root)
                        .bind(*scanned_at)
                        .bind(to_i64(*process_count))
                        .bind(to_i64(*problem_count))
                        .bind(now)
                        .bind(&hashes.users)
                        .bind(&hashes.sources)
                        .bind(&hashes.findings)
                        .bind(tags_key(host))
                        .bind(processes.as_slice())
                        .execute(&mut *conn)
                        .await?;
                    }
                    HostWrite::Delta { host, scanned_at, process_count, processes, problem_count } => {
                        if let Some(host) = host {
                            sqlx::query(
                                "INSERT INTO hosts (agent_id, hostname, os, os_version, arch, machine_id, scanned_root, \
                                 scanned_at, process_count, problem_count, updated_at, tags) \
                                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, 0, $9, $10) \
                                 ON CONFLICT (agent_id) DO UPDATE SET hostname = excluded.hostname, os = excluded.os, \
                                 os_version = excluded.os_version, arch = excluded.arch, machine_id = excluded.machine_id, \
                                 scanned_root = excluded.scanned_root, scanned_at = excluded.scanned_at, \
                                 updated_at = excluded.updated_at, tags = excluded.tags",
                            )
                            .bind(agent_id)
                            .bind(&host.hostname)
                            .bind(i64::from(host.os))
                            .bind(&host.os_version)
                            .bind(&host.arch)
                            .bind(&host.machine_id)
                            .bind(&host.scanned_root)
                            .bind(*scanned_at)
                            .bind(now)
                            .bind(tags_key(host))
                            .execute(&mut *conn)
                            .await?;
                        }
                        if let Some(processes) = processes {
                            sqlx::query("UPDATE hosts SET processes = $2 WHERE agent_id = $1")
                                .bind(agent_id)
                                .bind(processes.as_slice())
                                .execute(&mut *conn)
                                .await?;
                        }
                        for (column, count) in [("process_count", process_count), ("problem_count", problem_count)] {
                            if let Some(count) = count {
                                let sql = format!("UPDATE hosts SET {column} = $2 WHERE agent_id = $1");
                                sqlx::query(sqlx::AssertSqlSafe(sql))
                                    .bind(agent_id)
                                    .bind(to_i64(*count))
                                    .execute(&mut *conn)
                                    .await?;
                            }
                        }
                    }
                }
                // One host, one name: the agent row takes the scanned host's name, so the agent
                // list and the activity feed say what the endpoint page says.
                let scanned = match host {
                    HostWrite::Snapshot { host, .. } => Some(host),
                    HostWrite::Delta { host, .. } => *host,
                };
                if let Some(host) = scanned.filter(|h| !h.hostname.is_empty()) {
                    sqlx::query("UPDATE agents SET hostname = $2 WHERE id = $1 AND hostname <> $2")
                        .bind(agent_id)
                        .bind(&host.hostname)
                        .execute(&mut *conn)
                        .await?;
                }
                Ok(())
            }

            async fn write_sources(conn: &mut $conn, agent_id: &str, sources: &plan::SourceWrites<'_>) -> Result<(), StoreError> {
                if sources.delete_all {
                    sqlx::query("DELETE FROM config_sources WHERE agent_id = $1").bind(agent_id).execute(&mut *conn).await?;
                }
                let paths: Vec<&str> = sources.delete_paths.iter().map(String::as_str).collect();
                execute_for_ids(conn, "DELETE FROM config_sources WHERE agent_id = ", "path", agent_id, &paths).await?;
                insert_rows(
                    conn,
                    "INSERT INTO config_sources (agent_id, path, client, scope, format, user_name, project, \
                     mtime_unix, owner, mode, size, client_accepts, server_count) ",
                    " ON CONFLICT (agent_id, path) DO UPDATE SET client = excluded.client, scope = excluded.scope, \
                     format = excluded.format, user_name = excluded.user_name, project = excluded.project, \
                     mtime_unix = excluded.mtime_unix, owner = excluded.owner, mode = excluded.mode, \
                     size = excluded.size, client_accepts = excluded.client_accepts, \
                     server_count = excluded.server_count",
                    &sources.upsert,
                    |row, source| {
                        row.push_bind(agent_id.to_string())
                            .push_bind(source.path.clone())
                            .push_bind(source.client.clone())
                            .push_bind(i64::from(source.scope))
                            .push_bind(i64::from(source.format))
                            .push_bind(source.user.clone())
                            .push_bind(source.project.clone())
                            .push_bind(source.mtime_unix)
                            .push_bind(source.owner.clone())
                            .push_bind(source.mode.map(i64::from))
                            .push_bind(i64::try_from(source.size).unwrap_or(i64::MAX))
                            .push_bind(source.client_accepts)
                            .push_bind(i64::from(source.server_count));
                    },
                )
                .await
            }

            /// Inserts findings, each with the server id it belongs to ("" for host-wide ones) and
            /// its decision subject (`store::read::finding_subject`).
            async fn insert_findings(conn: &mut $conn, agent_id: &str, findings: &[(&str, &Finding)]) -> Result<(), StoreError> {
                insert_rows(
                    conn,
                    "INSERT INTO findings (agent_id, server_id, finding_id, severity, owasp, message, client, \
                     user_name, server_ids, subject) ",
                    "",
                    findings,
                    |row, (server_id, finding)| {
                        let server_ids = finding.server_ids.join(",");
                        let subject = crate::store::read::finding_subject(
                            agent_id,
                            server_id,
                            &finding.id,
                            &finding.client,
                            &finding.user,
                            &server_ids,
                            &finding.message,
                        );
                        row.push_bind(agent_id.to_string())
                            .push_bind(server_id.to_string())
                            .push_bind(finding.id.clone())
                            .push_bind(i64::from(finding.severity))
                            .push_bind(finding.owasp.clone())
                            .push_bind(finding.message.clone())
                            .push_bind(finding.client.clone())
                            .push_bind(finding.user.clone())
                            .push_bind(server_ids)
                            .push_bind(subject);
                    },
                )
                .await
            }

            /// Deletes the credentials and findings of the named servers.
            async fn delete_server_children(conn: &mut $conn, agent_id: &str, ids: &[&str]) -> Result<(), StoreError> {
                execute_for_ids(conn, "DELETE FROM credentials WHERE agent_id = ", "server_id", agent_id, ids).await?;
                execute_for_ids(conn, "DELETE FROM findings WHERE agent_id = ", "server_id", agent_id, ids).await
            }

            async fn write_servers(conn: &mut $conn, agent_id: &str, servers: &plan::ServerWrites<'_>, now: i64) -> Result<(), StoreError> {
                delete_server_children(conn, agent_id, &servers.delete).await?;
                execute_for_ids(conn, "DELETE FROM servers WHERE agent_id = ", "server_id", agent_id, &servers.delete).await?;
                if !servers.write.is_empty() {
                    insert_rows(
                        conn,
                        "INSERT INTO servers (agent_id, server_id, name, client, user_name, scope, config_path, \
                         project, transport, command, url, disabled, content_hash, detail, shape_key, first_seen_at, \
                         last_seen_at) ",
                        " ON CONFLICT (agent_id, server_id) DO UPDATE SET name = excluded.name, \
                         client = excluded.client, user_name = excluded.user_name, scope = excluded.scope, \
                         config_path = excluded.config_path, project = excluded.project, \
                         transport = excluded.transport, command = excluded.command, url = excluded.url, \
                         disabled = excluded.disabled, content_hash = excluded.content_hash, \
                         detail = excluded.detail, shape_key = excluded.shape_key, \
                         last_seen_at = excluded.last_seen_at",
                        &servers.write,
                        |row, write| {
                            let server = write.server;
                            row.push_bind(agent_id.to_string())
                                .push_bind(server.id.clone())
                                .push_bind(server.name.clone())
                                .push_bind(server.client.clone())
                                .push_bind(server.user.clone())
                                .push_bind(i64::from(server.scope))
                                .push_bind(server.config_path.clone())
                                .push_bind(server.project.clone())
                                .push_bind(i64::from(server.transport))
                                .push_bind(server.command.clone())
                                .push_bind(server.url.clone())
                                .push_bind(server.disabled)
                                .push_bind(write.content_hash.clone())
                                .push_bind(server.encode_to_vec())
                                .push_bind(crate::store::policy_inputs::shape_key(server))
                                .push_bind(now)
                                .push_bind(now);
                        },
                    )
                    .await?;
                    delete_server_children(conn, agent_id, &servers.replace_children_of).await?;
                    insert_rows(
                        conn,
                        "INSERT INTO credentials (agent_id, server_id, location, kind, source, fingerprint, \
                         provider, reference, reference_kind) ",
                        "",
                        &servers.credentials,
                        |row, (server_id, credential)| {
                            row.push_bind(agent_id.to_string())
                                .push_bind(server_id.to_string())
                                .push_bind(credential.location.clone())
                                .push_bind(credential.kind.clone())
                                .push_bind(i64::from(credential.source))
                                .push_bind(credential.fingerprint.clone())
                                .push_bind(credential.provider.clone())
                                .push_bind(credential.reference.clone())
                                .push_bind(i64::from(credential.reference_kind));
                        },
                    )
                    .await?;
                    insert_findings(conn, agent_id, &servers.findings).await?;
                }
                match &servers.touch {
                    Touch::All => {
                        sqlx::query("UPDATE servers SET last_seen_at = $2 WHERE agent_id = $1 AND last_seen_at <> $2")
                            .bind(agent_id)
                            .bind(now)
                            .execute(&mut *conn)
                            .await?;
                    }
                    Touch::Only(ids) => {
                        for chunk in ids.chunks(ROWS_PER_STATEMENT) {
                            let mut builder = Builder::new("UPDATE servers SET last_seen_at = ");
                            builder.push_bind(now);
                            builder.push(" WHERE agent_id = ");
                            builder.push_bind(agent_id.to_string());
                            builder.push(" AND server_id");
                            push_in_list(&mut builder, chunk.iter().map(|id| id.to_string()));
                            builder.build().execute(&mut *conn).await?;
                        }
                    }
                }
                Ok(())
            }

            /// Brings the clients table in line with the clients named by sources and servers. When
            /// the plan says that set cannot have changed, one statement moves `last_seen_at`;
            /// otherwise rows are added and removed only where the set changed.
            async fn refresh_clients(conn: &mut $conn, agent_id: &str, set_may_change: bool, now: i64) -> Result<(), StoreError> {
                sqlx::query("UPDATE clients SET last_seen_at = $2 WHERE agent_id = $1")
                    .bind(agent_id)
                    .bind(now)
                    .execute(&mut *conn)
                    .await?;
                if !set_may_change {
                    return Ok(());
                }
                let rows = sqlx::query(
                    "SELECT client FROM config_sources WHERE agent_id = $1 \
                     UNION SELECT client FROM servers WHERE agent_id = $1",
                )
                .bind(agent_id)
                .fetch_all(&mut *conn)
                .await?;
                let mut present = std::collections::BTreeSet::new();
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
                let mut stored = std::collections::BTreeSet::new();
                for row in rows {
                    stored.insert(row.try_get::<String, _>("client")?);
                }
                let gone: Vec<&str> = stored.difference(&present).map(String::as_str).collect();
                execute_for_ids(conn, "DELETE FROM clients WHERE agent_id = ", "client", agent_id, &gone).await?;
                let new: Vec<&String> = present.difference(&stored).collect();
                insert_rows(conn, "INSERT INTO clients (agent_id, client, first_seen_at, last_seen_at) ", "", &new, |row, client| {
                    row.push_bind(agent_id.to_string()).push_bind((*client).clone()).push_bind(now).push_bind(now);
                })
                .await
            }

            async fn insert_changes(conn: &mut $conn, agent_id: &str, changes: &[ServerChange], sequence: i64, now: i64) -> Result<(), StoreError> {
                insert_rows(
                    conn,
                    "INSERT INTO change_events (agent_id, server_id, server_name, client, kind, sequence, at, \
                     finding_id, severity, detail) ",
                    "",
                    changes,
                    |row, change| {
                        let (finding_id, severity) =
                            change.finding.as_ref().map_or((String::new(), 0), |f| (f.finding_id.clone(), f.severity));
                        // The field changes hold names and vocabulary only (`ingest::activity`).
                        let detail = if change.fields.is_empty() {
                            String::new()
                        } else {
                            serde_json::to_string(&change.fields).unwrap_or_default()
                        };
                        row.push_bind(agent_id.to_string())
                            .push_bind(change.server_id.clone())
                            .push_bind(change.server_name.clone())
                            .push_bind(change.client.clone())
                            .push_bind(change.kind.as_str())
                            .push_bind(sequence)
                            .push_bind(now)
                            .push_bind(finding_id)
                            .push_bind(i64::from(severity))
                            .push_bind(detail);
                    },
                )
                .await
            }
        }
    };
}

pub(crate) use impl_ingest;
