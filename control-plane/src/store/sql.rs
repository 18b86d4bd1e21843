//! The SQL shared by both backends, written once as a macro instantiated per database type.
//!
//! Every statement here is portable between SQLite and PostgreSQL: numbered `$N` parameters,
//! `ON CONFLICT ... DO UPDATE`, `RETURNING`, integers as 64-bit, times as unix seconds. Dialect
//! differences (column types, identity columns) live only in the per-dialect migrations. This file
//! does not open connections or run migrations.
//!
//! Ingest is written for throughput: rows go in multi-row statements (one statement per table and
//! report, not one per row), unchanged servers are only touched, and the parts of a full snapshot
//! that repeat unchanged (users, sources, host-wide findings) are compared by hash and skipped.

/// Rows (or listed ids) per statement: at most 16 columns, so at most 8,000 bind parameters,
/// well under SQLite's 32,766 and PostgreSQL's 65,535. **Every** statement whose parameter count
/// grows with a report (multi-row inserts, `IN (...)` lists) is cut into chunks of this size, so
/// a report of any size can be stored (`store_conformance`: 40,000 servers on both backends).
pub(crate) const ROWS_PER_STATEMENT: usize = 500;

/// Pushes ` IN (VALUES ($n), ($n+1), ...)` with one bind per item; `items` must not be empty (a
/// chunk never is). A `VALUES` list rather than `IN ($n, ...)`: PostgreSQL compares a
/// parameter list linearly against every candidate row once it switches to a generic plan
/// (about a second per 500 ids on a 40,000-server host), while it hashes a `VALUES` list into a
/// semi-join. SQLite reads both forms the same way.
pub(crate) fn push_in_list<DB>(builder: &mut sqlx::QueryBuilder<DB>, items: impl IntoIterator<Item = String>)
where
    DB: sqlx::Database,
    for<'t> String: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
{
    builder.push(" IN (VALUES ");
    let mut list = builder.separated(", ");
    for item in items {
        list.push("(");
        list.push_bind_unseparated(item);
        list.push_unseparated(")");
    }
    builder.push(")");
}

/// Keeps the last of the items with equal keys, in first-seen order: a multi-row upsert may not
/// name one key twice, and sequential upserts would have kept the last anyway.
pub(crate) fn last_by_key<T, K: Ord>(items: &[T], key: impl Fn(&T) -> K) -> Vec<&T> {
    let mut index = std::collections::BTreeMap::new();
    let mut out: Vec<&T> = Vec::with_capacity(items.len());
    for item in items {
        match index.entry(key(item)) {
            std::collections::btree_map::Entry::Occupied(slot) => out[*slot.get()] = item,
            std::collections::btree_map::Entry::Vacant(slot) => {
                slot.insert(out.len());
                out.push(item);
            }
        }
    }
    out
}

/// Implements [`super::Store`] for `$store` (a struct with `writer()` and `reader()` accessors
/// returning `&sqlx::Pool<$db>`: every statement that writes goes to `writer`, plain reads to `reader`).
macro_rules! impl_store {
    ($store:ty, $db:ty, $conn:ty) => {
        use std::collections::{BTreeMap, BTreeSet};

        use muster_proto::prost::Message as _;
        use muster_proto::v1::{ConfigSource, Finding, Host, McpServer, OsUser};
        use sqlx::Row as _;

        use crate::ingest::{
            self, ChangeKind, Decision, IngestOutcome, KnownServer, Report, ReportBody, ServerChange,
        };
        use crate::store::sql::{ROWS_PER_STATEMENT, last_by_key, push_in_list};
        use crate::store::{
            AgentRecord, AgentStatus, ChangeEventRecord, CredentialRecord, FindingRecord, HostInventory,
            HostRecord, NewAgent, NewToken, ServerRecord, StoreError, TokenRecord, TokenRefusal,
        };

        type Row = <$db as sqlx::Database>::Row;
        type Builder = sqlx::QueryBuilder<$db>;

        fn to_u64(value: i64) -> u64 {
            u64::try_from(value).unwrap_or(0)
        }

        fn to_u32(value: i64) -> u32 {
            u32::try_from(value).unwrap_or(0)
        }

        fn to_i64(value: usize) -> i64 {
            i64::try_from(value).unwrap_or(i64::MAX)
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

        /// Runs `sql_head` + `(id, id, ...)` + `sql_tail` with `agent_id` bound as `$1`, in chunks.
        async fn execute_for_ids(conn: &mut $conn, sql_head: &str, sql_tail: &str, agent_id: &str, ids: &[&str]) -> Result<(), StoreError> {
            for chunk in ids.chunks(ROWS_PER_STATEMENT) {
                let mut builder = Builder::new(sql_head);
                builder.push_bind(agent_id.to_string());
                builder.push(" AND server_id");
                push_in_list(&mut builder, chunk.iter().map(|id| id.to_string()));
                builder.push(sql_tail);
                builder.build().execute(&mut *conn).await?;
            }
            Ok(())
        }

        /// The stored hashes of a host's users, sources and host-wide findings ("" when unknown).
        #[derive(Default)]
        struct PartHashes {
            users: String,
            sources: String,
            findings: String,
        }

        async fn part_hashes(conn: &mut $conn, agent_id: &str) -> Result<PartHashes, StoreError> {
            let row = sqlx::query("SELECT users_hash, sources_hash, findings_hash FROM hosts WHERE agent_id = $1")
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

        /// Upserts the host row of a full snapshot, with its counts and part hashes.
        async fn upsert_snapshot_host(conn: &mut $conn, agent_id: &str, host: &Host, scanned_at: i64, counts: (usize, usize), hashes: &PartHashes, now: i64) -> Result<(), StoreError> {
            sqlx::query(
                "INSERT INTO hosts (agent_id, hostname, os, os_version, arch, machine_id, scanned_root, \
                 scanned_at, process_count, problem_count, updated_at, users_hash, sources_hash, findings_hash) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
                 ON CONFLICT (agent_id) DO UPDATE SET hostname = excluded.hostname, os = excluded.os, \
                 os_version = excluded.os_version, arch = excluded.arch, machine_id = excluded.machine_id, \
                 scanned_root = excluded.scanned_root, scanned_at = excluded.scanned_at, \
                 process_count = excluded.process_count, problem_count = excluded.problem_count, \
                 updated_at = excluded.updated_at, users_hash = excluded.users_hash, \
                 sources_hash = excluded.sources_hash, findings_hash = excluded.findings_hash",
            )
            .bind(agent_id)
            .bind(&host.hostname)
            .bind(i64::from(host.os))
            .bind(&host.os_version)
            .bind(&host.arch)
            .bind(&host.machine_id)
            .bind(&host.scanned_root)
            .bind(scanned_at)
            .bind(to_i64(counts.0))
            .bind(to_i64(counts.1))
            .bind(now)
            .bind(&hashes.users)
            .bind(&hashes.sources)
            .bind(&hashes.findings)
            .execute(&mut *conn)
            .await?;
            Ok(())
        }

        /// Upserts the host row of a delta; counts and part hashes are left as they are.
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
                    .bind(to_i64(count))
                    .execute(&mut *conn)
                    .await?;
            }
            if let Some(count) = problems {
                sqlx::query("UPDATE hosts SET problem_count = $2 WHERE agent_id = $1")
                    .bind(agent_id)
                    .bind(to_i64(count))
                    .execute(&mut *conn)
                    .await?;
            }
            Ok(())
        }

        async fn replace_users(conn: &mut $conn, agent_id: &str, users: &[OsUser]) -> Result<(), StoreError> {
            sqlx::query("DELETE FROM os_users WHERE agent_id = $1").bind(agent_id).execute(&mut *conn).await?;
            let users = last_by_key(users, |u| u.name.clone());
            insert_rows(conn, "INSERT INTO os_users (agent_id, name, uid, home) ", "", &users, |row, user| {
                row.push_bind(agent_id.to_string())
                    .push_bind(user.name.clone())
                    .push_bind(user.uid.map(i64::from))
                    .push_bind(user.home.clone());
            })
            .await
        }

        async fn upsert_sources(conn: &mut $conn, agent_id: &str, sources: &[ConfigSource]) -> Result<(), StoreError> {
            let sources = last_by_key(sources, |s| s.path.clone());
            insert_rows(
                conn,
                "INSERT INTO config_sources (agent_id, path, client, scope, format, user_name, project, \
                 mtime_unix, owner, mode, size, client_accepts, server_count) ",
                " ON CONFLICT (agent_id, path) DO UPDATE SET client = excluded.client, scope = excluded.scope, \
                 format = excluded.format, user_name = excluded.user_name, project = excluded.project, \
                 mtime_unix = excluded.mtime_unix, owner = excluded.owner, mode = excluded.mode, \
                 size = excluded.size, client_accepts = excluded.client_accepts, \
                 server_count = excluded.server_count",
                &sources,
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

        /// Inserts findings, each with the server id it belongs to ("" for host-wide ones) and its
        /// decision subject (`store::read::finding_subject`).
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

        async fn replace_host_findings(conn: &mut $conn, agent_id: &str, findings: &[Finding]) -> Result<(), StoreError> {
            sqlx::query("DELETE FROM findings WHERE agent_id = $1 AND server_id = ''")
                .bind(agent_id)
                .execute(&mut *conn)
                .await?;
            let rows: Vec<(&str, &Finding)> = findings.iter().map(|f| ("", f)).collect();
            insert_findings(conn, agent_id, &rows).await
        }

        /// Deletes the credentials and findings of the named servers.
        async fn delete_server_children(conn: &mut $conn, agent_id: &str, ids: &[&str]) -> Result<(), StoreError> {
            execute_for_ids(conn, "DELETE FROM credentials WHERE agent_id = ", "", agent_id, ids).await?;
            execute_for_ids(conn, "DELETE FROM findings WHERE agent_id = ", "", agent_id, ids).await
        }

        /// Deletes the named servers with their credentials and findings.
        async fn delete_servers(conn: &mut $conn, agent_id: &str, ids: &[&str]) -> Result<(), StoreError> {
            delete_server_children(conn, agent_id, ids).await?;
            execute_for_ids(conn, "DELETE FROM servers WHERE agent_id = ", "", agent_id, ids).await
        }

        /// Inserts or replaces servers with their credentials and findings; `first_seen_at` is
        /// kept. The children of the `known` ones are deleted first.
        async fn upsert_servers(conn: &mut $conn, agent_id: &str, servers: &[&McpServer], hashes: &BTreeMap<&str, String>, known: &[&str], now: i64) -> Result<(), StoreError> {
            if servers.is_empty() {
                return Ok(());
            }
            insert_rows(
                conn,
                "INSERT INTO servers (agent_id, server_id, name, client, user_name, scope, config_path, \
                 project, transport, command, url, disabled, content_hash, detail, first_seen_at, last_seen_at) ",
                " ON CONFLICT (agent_id, server_id) DO UPDATE SET name = excluded.name, \
                 client = excluded.client, user_name = excluded.user_name, scope = excluded.scope, \
                 config_path = excluded.config_path, project = excluded.project, \
                 transport = excluded.transport, command = excluded.command, url = excluded.url, \
                 disabled = excluded.disabled, content_hash = excluded.content_hash, \
                 detail = excluded.detail, last_seen_at = excluded.last_seen_at",
                servers,
                |row, server| {
                    let hash = hashes.get(server.id.as_str()).cloned().unwrap_or_else(|| ingest::server_hash(server));
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
                        .push_bind(hash)
                        .push_bind(server.encode_to_vec())
                        .push_bind(now)
                        .push_bind(now);
                },
            )
            .await?;
            if !known.is_empty() {
                delete_server_children(conn, agent_id, known).await?;
            }
            let credentials: Vec<(&str, &muster_proto::v1::Credential)> = servers
                .iter()
                .flat_map(|server| {
                    last_by_key(&server.credentials, |c| c.location.clone())
                        .into_iter()
                        .map(move |credential| (server.id.as_str(), credential))
                })
                .collect();
            insert_rows(
                conn,
                "INSERT INTO credentials (agent_id, server_id, location, kind, source, fingerprint, \
                 provider, reference) ",
                "",
                &credentials,
                |row, (server_id, credential)| {
                    row.push_bind(agent_id.to_string())
                        .push_bind(server_id.to_string())
                        .push_bind(credential.location.clone())
                        .push_bind(credential.kind.clone())
                        .push_bind(i64::from(credential.source))
                        .push_bind(credential.fingerprint.clone())
                        .push_bind(credential.provider.clone())
                        .push_bind(credential.reference.clone());
                },
            )
            .await?;
            let findings: Vec<(&str, &Finding)> = servers
                .iter()
                .flat_map(|server| server.findings.iter().map(move |finding| (server.id.as_str(), finding)))
                .collect();
            insert_findings(conn, agent_id, &findings).await
        }

        /// What writing a report's servers did, for the clients refresh.
        struct ServersWritten {
            /// A server appeared, disappeared or moved to another client.
            client_set_may_change: bool,
        }

        /// Writes the servers whose content changed or that are new, and moves `last_seen_at` of
        /// the unchanged ones (all of the host's servers when `touch_all`).
        async fn write_servers(
            conn: &mut $conn,
            agent_id: &str,
            known: &BTreeMap<String, KnownServer>,
            servers: &[McpServer],
            touch_all: bool,
            now: i64,
        ) -> Result<ServersWritten, StoreError> {
            let servers = last_by_key(servers, |s| s.id.clone());
            let mut hashes: BTreeMap<&str, String> = BTreeMap::new();
            let (mut write, mut replaced, mut unchanged) = (Vec::new(), Vec::new(), Vec::new());
            let mut client_set_may_change = false;
            for server in servers {
                let hash = ingest::server_hash(server);
                match known.get(&server.id) {
                    Some(old) if old.content_hash == hash => unchanged.push(server.id.as_str()),
                    Some(old) => {
                        client_set_may_change |= old.client != server.client;
                        replaced.push(server.id.as_str());
                        write.push(server);
                    }
                    None => {
                        client_set_may_change = true;
                        write.push(server);
                    }
                }
                hashes.insert(server.id.as_str(), hash);
            }
            upsert_servers(conn, agent_id, &write, &hashes, &replaced, now).await?;
            if touch_all {
                sqlx::query("UPDATE servers SET last_seen_at = $2 WHERE agent_id = $1 AND last_seen_at <> $2")
                    .bind(agent_id)
                    .bind(now)
                    .execute(&mut *conn)
                    .await?;
            } else {
                for chunk in unchanged.chunks(ROWS_PER_STATEMENT) {
                    let mut builder = Builder::new("UPDATE servers SET last_seen_at = ");
                    builder.push_bind(now);
                    builder.push(" WHERE agent_id = ");
                    builder.push_bind(agent_id.to_string());
                    builder.push(" AND server_id");
                    push_in_list(&mut builder, chunk.iter().map(|id| id.to_string()));
                    builder.build().execute(&mut *conn).await?;
                }
            }
            Ok(ServersWritten { client_set_may_change })
        }

        /// The stored servers of a host: all of them, or only those named in `only`.
        async fn known_servers(conn: &mut $conn, agent_id: &str, only: Option<&[&str]>) -> Result<BTreeMap<String, KnownServer>, StoreError> {
            const COLUMNS: &str = "SELECT server_id, name, client, content_hash FROM servers WHERE agent_id = ";
            let mut rows = Vec::new();
            match only {
                None => {
                    let mut builder = Builder::new(COLUMNS);
                    builder.push_bind(agent_id.to_string());
                    rows = builder.build().fetch_all(&mut *conn).await?;
                }
                Some(ids) => {
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

        /// Brings the clients table in line with the clients named by sources and servers. When
        /// the report cannot have changed that set, one statement moves `last_seen_at`; otherwise
        /// rows are added and removed only where the set changed.
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
            let gone: Vec<&String> = stored.difference(&present).collect();
            for chunk in gone.chunks(ROWS_PER_STATEMENT) {
                let mut builder = Builder::new("DELETE FROM clients WHERE agent_id = ");
                builder.push_bind(agent_id.to_string());
                builder.push(" AND client");
                push_in_list(&mut builder, chunk.iter().map(|client| (*client).clone()));
                builder.build().execute(&mut *conn).await?;
            }
            let new: Vec<&String> = present.difference(&stored).collect();
            insert_rows(conn, "INSERT INTO clients (agent_id, client, first_seen_at, last_seen_at) ", "", &new, |row, client| {
                row.push_bind(agent_id.to_string()).push_bind((*client).clone()).push_bind(now).push_bind(now);
            })
            .await
        }

        async fn insert_changes(conn: &mut $conn, agent_id: &str, changes: &[ServerChange], sequence: i64, now: i64) -> Result<(), StoreError> {
            insert_rows(
                conn,
                "INSERT INTO change_events (agent_id, server_id, server_name, client, kind, sequence, at) ",
                "",
                changes,
                |row, change| {
                    row.push_bind(agent_id.to_string())
                        .push_bind(change.server_id.clone())
                        .push_bind(change.server_name.clone())
                        .push_bind(change.client.clone())
                        .push_bind(change.kind.as_str())
                        .push_bind(sequence)
                        .push_bind(now);
                },
            )
            .await
        }

        /// Applies `report` (already decided to be applied) and returns its change events.
        async fn apply_report(conn: &mut $conn, agent_id: &str, report: &Report, now: i64) -> Result<Vec<ServerChange>, StoreError> {
            match &report.body {
                ReportBody::Full(snapshot) => {
                    let known = known_servers(conn, agent_id, None).await?;
                    let changes = ingest::diff_servers(&known, &snapshot.servers, &[], true);
                    let stored = part_hashes(conn, agent_id).await?;
                    let hashes = PartHashes {
                        users: ingest::part_hash(&snapshot.users),
                        sources: ingest::part_hash(&snapshot.sources),
                        findings: ingest::part_hash(&snapshot.findings),
                    };
                    let host = snapshot.host.clone().unwrap_or_default();
                    let counts = (snapshot.processes.len(), snapshot.problems.len());
                    upsert_snapshot_host(conn, agent_id, &host, snapshot.scanned_at_unix, counts, &hashes, now).await?;
                    if hashes.users != stored.users {
                        replace_users(conn, agent_id, &snapshot.users).await?;
                    }
                    let sources_changed = hashes.sources != stored.sources;
                    if sources_changed {
                        sqlx::query("DELETE FROM config_sources WHERE agent_id = $1")
                            .bind(agent_id)
                            .execute(&mut *conn)
                            .await?;
                        upsert_sources(conn, agent_id, &snapshot.sources).await?;
                    }
                    let present: BTreeSet<&str> = snapshot.servers.iter().map(|s| s.id.as_str()).collect();
                    let gone: Vec<&str> =
                        known.keys().map(String::as_str).filter(|id| !present.contains(id)).collect();
                    delete_servers(conn, agent_id, &gone).await?;
                    let written = write_servers(conn, agent_id, &known, &snapshot.servers, true, now).await?;
                    if hashes.findings != stored.findings {
                        replace_host_findings(conn, agent_id, &snapshot.findings).await?;
                    }
                    let set_may_change = sources_changed || !gone.is_empty() || written.client_set_may_change;
                    refresh_clients(conn, agent_id, set_may_change, now).await?;
                    Ok(changes)
                }
                ReportBody::Delta(delta) => {
                    let named: Vec<&str> = delta
                        .upserted_servers
                        .iter()
                        .map(|s| s.id.as_str())
                        .chain(delta.removed_server_ids.iter().map(String::as_str))
                        .collect();
                    let known = known_servers(conn, agent_id, Some(&named)).await?;
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
                    // Parts this delta rewrote: their stored hashes must follow.
                    let mut hash_updates: Vec<(&str, String)> = Vec::new();
                    if !delta.users.is_empty() {
                        replace_users(conn, agent_id, &delta.users).await?;
                        hash_updates.push(("users_hash", ingest::part_hash(&delta.users)));
                    }
                    let sources_changed = !delta.removed_source_paths.is_empty() || !delta.upserted_sources.is_empty();
                    for chunk in delta.removed_source_paths.chunks(ROWS_PER_STATEMENT) {
                        let mut builder = Builder::new("DELETE FROM config_sources WHERE agent_id = ");
                        builder.push_bind(agent_id.to_string());
                        builder.push(" AND path");
                        push_in_list(&mut builder, chunk.iter().cloned());
                        builder.build().execute(&mut *conn).await?;
                    }
                    upsert_sources(conn, agent_id, &delta.upserted_sources).await?;
                    if sources_changed {
                        hash_updates.push(("sources_hash", String::new()));
                    }
                    let removed: Vec<&str> = delta.removed_server_ids.iter().map(String::as_str).collect();
                    delete_servers(conn, agent_id, &removed).await?;
                    // A set, not the list: a delta may remove tens of thousands of servers.
                    let removed_set: BTreeSet<&str> = removed.iter().copied().collect();
                    let still_known: BTreeMap<String, KnownServer> = known
                        .iter()
                        .filter(|(id, _)| !removed_set.contains(id.as_str()))
                        .map(|(id, server)| (id.clone(), server.clone()))
                        .collect();
                    let written =
                        write_servers(conn, agent_id, &still_known, &delta.upserted_servers, false, now).await?;
                    if delta.replace_findings {
                        replace_host_findings(conn, agent_id, &delta.findings).await?;
                        hash_updates.push(("findings_hash", ingest::part_hash(&delta.findings)));
                    }
                    if !hash_updates.is_empty() {
                        let mut builder = Builder::new("UPDATE hosts SET ");
                        let mut set = builder.separated(", ");
                        for (column, hash) in hash_updates {
                            set.push(format!("{column} = "));
                            set.push_bind_unseparated(hash);
                        }
                        builder.push(" WHERE agent_id = ");
                        builder.push_bind(agent_id.to_string());
                        builder.build().execute(&mut *conn).await?;
                    }
                    let set_may_change = sources_changed || !removed.is_empty() || written.client_set_may_change;
                    refresh_clients(conn, agent_id, set_may_change, now).await?;
                    Ok(changes)
                }
            }
        }

        /// The error for an agent that a statement restricted to active agents did not find.
        async fn inactive_agent(pool: &sqlx::Pool<$db>, id: &str) -> StoreError {
            let status = sqlx::query("SELECT status FROM agents WHERE id = $1").bind(id).fetch_optional(pool).await;
            match status {
                Ok(Some(row)) if row.try_get::<String, _>("status").is_ok_and(|s| s == AgentStatus::Revoked.as_str()) => {
                    StoreError::AgentRevoked(id.to_string())
                }
                Ok(_) => StoreError::UnknownAgent(id.to_string()),
                Err(error) => StoreError::Sql(error),
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
                .execute(self.writer())
                .await?;
                Ok(())
            }

            async fn list_tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
                let rows = sqlx::query(
                    "SELECT id, max_uses, uses, expires_at, created_at, revoked_at FROM enrollment_tokens \
                     ORDER BY created_at, id",
                )
                .fetch_all(self.reader())
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
                .execute(self.writer())
                .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn enroll_agent(&self, token_hash: &str, now: i64, agent: &NewAgent) -> Result<(), StoreError> {
                let mut tx = self.writer().begin().await?;
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
                let row = sqlx::query(sql).bind(id).fetch_optional(self.reader()).await?;
                row.as_ref().map(agent_from_row).transpose()
            }

            async fn list_agents(&self) -> Result<Vec<AgentRecord>, StoreError> {
                let sql = sqlx::AssertSqlSafe(format!("SELECT {AGENT_COLUMNS} FROM agents ORDER BY enrolled_at, id"));
                let rows = sqlx::query(sql).fetch_all(self.reader()).await?;
                rows.iter().map(agent_from_row).collect()
            }

            async fn revoke_agent(&self, id: &str, now: i64) -> Result<bool, StoreError> {
                let done = sqlx::query(
                    "UPDATE agents SET status = 'revoked', revoked_at = $2 WHERE id = $1 AND status = 'active'",
                )
                .bind(id)
                .bind(now)
                .execute(self.writer())
                .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn renew_agent_cert(&self, id: &str, cert_serial: &str, cert_not_after: i64) -> Result<(), StoreError> {
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
                .execute(self.writer())
                .await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::UnknownAgent(id.to_string()));
                }
                Ok(())
            }

            async fn confirm_agent_cert(&self, id: &str, cert_serial: &str) -> Result<bool, StoreError> {
                let done = sqlx::query(
                    "UPDATE agents SET previous_cert_serial = NULL WHERE id = $1 AND cert_serial = $2 \
                     AND previous_cert_serial IS NOT NULL",
                )
                .bind(id)
                .bind(cert_serial)
                .execute(self.writer())
                .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn heartbeat(&self, id: &str, agent_version: &str, now: i64) -> Result<u64, StoreError> {
                let row = sqlx::query(
                    "UPDATE agents SET last_seen_at = $2, agent_version = $3 WHERE id = $1 AND status = 'active' \
                     RETURNING last_sequence",
                )
                .bind(id)
                .bind(now)
                .bind(agent_version)
                .fetch_optional(self.writer())
                .await?;
                match row {
                    Some(row) => Ok(to_u64(row.try_get("last_sequence")?)),
                    // Refused: say whether the agent is revoked or unknown.
                    None => Err(inactive_agent(self.writer(), id).await),
                }
            }

            async fn ingest(&self, agent_id: &str, report: &Report, now: i64) -> Result<IngestOutcome, StoreError> {
                // Stored exactly or not at all: a clamped sequence would let the report apply twice.
                let sequence =
                    i64::try_from(report.sequence).map_err(|_| StoreError::SequenceOutOfRange(report.sequence))?;
                let mut tx = self.writer().begin().await?;
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
                insert_changes(&mut tx, agent_id, &changes, sequence, now).await?;
                read_models::after_ingest(&mut tx, agent_id, report, &changes, now).await?;
                sqlx::query("UPDATE agents SET last_sequence = $2 WHERE id = $1")
                    .bind(agent_id)
                    .bind(sequence)
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
                .fetch_optional(self.reader())
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
                    for row in sqlx::query(sql).bind(agent_id).fetch_all(self.reader()).await? {
                        target.push(row.try_get("v")?);
                    }
                }
                let rows = sqlx::query(
                    "SELECT server_id, name, client, user_name, config_path, command, url, content_hash, \
                     first_seen_at, last_seen_at FROM servers WHERE agent_id = $1 ORDER BY server_id",
                )
                .bind(agent_id)
                .fetch_all(self.reader())
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
                .fetch_all(self.reader())
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
                .fetch_all(self.reader())
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
                .fetch_all(self.reader())
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
