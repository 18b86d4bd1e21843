//! The endpoint list (search, filters, three sorts, keyset pages) and one endpoint's detail.
//!
//! Portable SQL under the rules of `read/sql.rs`; a macro instantiated per backend inside
//! `read_models` (whose imports and helpers it shares through `use super::*`).

macro_rules! impl_endpoints {
    ($store:ident, $db:ty, $conn:ty) => {
        pub(crate) mod endpoints {
            use super::*;

            const ENDPOINT_COLUMNS: &str = "e.agent_id, e.hostname, e.hostname_key, e.os, e.users_key, \
                 e.clients_key, e.server_count, e.literal_secrets, e.findings_open, e.findings_high, \
                 e.findings_critical, e.max_severity, e.risk, e.tags_key, a.last_seen_at";

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
                    tags: members(&row.try_get::<String, _>("tags_key")?),
                    servers: row.try_get("server_count")?,
                    literal_secrets: row.try_get("literal_secrets")?,
                    open_findings: row.try_get("findings_open")?,
                    findings_high: row.try_get("findings_high")?,
                    findings_critical: row.try_get("findings_critical")?,
                    max_severity: to_i32(row.try_get("max_severity")?),
                })
            }

            pub(crate) async fn endpoints(
                store: &super::super::$store,
                query: &EndpointQuery,
            ) -> Result<Page<EndpointRow>, StoreError> {
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
                if let Some(service) = &query.service {
                    qb.push(" AND EXISTS (SELECT 1 FROM servers s WHERE s.service = ")
                        .push_bind(service.clone())
                        .push(" AND s.agent_id = e.agent_id)");
                }
                if let Some(package) = &query.package {
                    qb.push(" AND EXISTS (SELECT 1 FROM servers s WHERE s.package_name = ").push_bind(package.clone());
                    if let Some(version) = &query.version {
                        qb.push(" AND s.package_version = ").push_bind(version.clone());
                    }
                    if let Some(ecosystem) = query.ecosystem {
                        // `+`: not the index to read (`servers_package` cannot seek the agent).
                        qb.push(" AND +s.package_ecosystem = ").push_bind(i64::from(ecosystem));
                    }
                    qb.push(" AND s.agent_id = e.agent_id)");
                }
                if let Some(remote) = &query.remote {
                    qb.push(" AND EXISTS (SELECT 1 FROM servers s WHERE s.endpoint_host = ")
                        .push_bind(remote.clone())
                        .push(" AND s.agent_id = e.agent_id)");
                }
                if let Some(posture) = query.auth_posture {
                    qb.push(" AND EXISTS (SELECT 1 FROM servers s WHERE s.auth_posture = ")
                        .push_bind(i64::from(posture))
                        .push(" AND s.agent_id = e.agent_id)");
                }
                if let Some(tag) = &query.tag {
                    qb.push(" AND e.tags_key LIKE ")
                        .push_bind(contains_pattern(&member_key([tag.as_str()])))
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
                let rows = qb.build().fetch_all(store.reader()).await?;
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

            pub(crate) async fn endpoint_detail(
                store: &super::super::$store,
                agent_id: &str,
                online_since: i64,
                now: i64,
            ) -> Result<Option<EndpointDetail>, StoreError> {
                let sql = sqlx::AssertSqlSafe(format!(
                    "SELECT {ENDPOINT_COLUMNS}, a.agent_version, a.status, a.cert_not_after, \
                     COALESCE(h.os_version, '') AS os_version, COALESCE(h.arch, '') AS arch, \
                     COALESCE(h.scanned_at, 0) AS scanned_at, h.processes FROM endpoint_summary e \
                     JOIN agents a ON a.id = e.agent_id LEFT JOIN hosts h ON h.agent_id = e.agent_id \
                     WHERE e.agent_id = $1"
                ));
                let Some(row) = sqlx::query(sql).bind(agent_id).fetch_optional(store.reader()).await? else {
                    return Ok(None);
                };
                let endpoint = endpoint_from_row(&row, online_since)?;
                let rows = sqlx::query(
                    "SELECT s.server_id, s.name, s.client, s.user_name, s.transport, s.command, s.url, \
                     s.service, s.package_ecosystem, s.package_name, s.package_version, s.pinned, \
                     s.endpoint_host, s.auth, s.auth_posture, s.auth_verified, s.auth_missing, s.auth_reason, \
                     s.first_seen_at, s.last_seen_at, s.scope, s.config_path, s.project, s.detail, \
                     (SELECT COUNT(*) FROM credentials c WHERE c.agent_id = s.agent_id \
                       AND c.server_id = s.server_id AND c.source = 1) AS literal \
                     FROM servers s WHERE s.agent_id = $1 ORDER BY s.name, s.server_id",
                )
                .bind(agent_id)
                .fetch_all(store.reader())
                .await?;
                let mut servers = Vec::with_capacity(rows.len());
                for server in &rows {
                    let server_id: String = server.try_get("server_id")?;
                    let detail: Vec<u8> = server.try_get("detail")?;
                    // The stored entry as the agent sent it: names and fingerprints only.
                    let entry = muster_proto::v1::McpServer::decode(detail.as_slice())
                        .map_err(|_| StoreError::Corrupt(format!("server detail of {server_id}")))?;
                    servers.push(ServerView {
                        server_id,
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
                        auth_posture: to_i32(server.try_get("auth_posture")?),
                        auth_verified: server.try_get::<i64, _>("auth_verified")? != 0,
                        auth_missing: server
                            .try_get::<String, _>("auth_missing")?
                            .split(',')
                            .filter(|m| !m.is_empty())
                            .map(str::to_string)
                            .collect(),
                        auth_reason: server.try_get("auth_reason")?,
                        literal_secrets: server.try_get("literal")?,
                        first_seen_at: server.try_get("first_seen_at")?,
                        last_seen_at: server.try_get("last_seen_at")?,
                        scope: to_i32(server.try_get("scope")?),
                        config_path: server.try_get("config_path")?,
                        project: server.try_get("project")?,
                        env_names: entry.env_names,
                        header_names: entry.header_names,
                        credentials: entry
                            .credentials
                            .into_iter()
                            .map(|c| ServerCredential {
                                location: c.location,
                                kind: c.kind,
                                provider: c.provider,
                                source: c.source,
                                reference_kind: c.reference_kind,
                                fingerprint: c.fingerprint,
                            })
                            .collect(),
                    });
                }
                let processes = match row.try_get::<Option<Vec<u8>>, _>("processes")? {
                    None => Vec::new(),
                    Some(bytes) => {
                        process_views(&bytes).map_err(|_| StoreError::Corrupt(format!("processes of {agent_id}")))?
                    }
                };
                let findings = store
                    .findings(&FindingQuery {
                        agent_id: Some(agent_id.to_string()),
                        now,
                        limit: MAX_PAGE,
                        ..Default::default()
                    })
                    .await?
                    .items;
                let history = store
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
                    processes,
                    findings,
                    history,
                }))
            }
        }
    };
}

pub(crate) use impl_endpoints;
