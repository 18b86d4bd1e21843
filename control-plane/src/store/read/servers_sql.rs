//! Server groups (by package or remote host) with their paging, and the server list: one row
//! per MCP server on one endpoint, filtered exactly by service, package (and version), remote
//! host, client, user or endpoint, paged by (endpoint id, server id) on an index per filter
//! (migration `0017_drill_down_indexes`).
//!
//! Portable SQL under the rules of `read/sql.rs`; a macro instantiated per backend inside
//! `read_models` (whose imports and helpers it shares through `use super::*`).

macro_rules! impl_servers {
    ($store:ident, $db:ty, $conn:ty) => {
        pub(crate) mod servers {
            use super::*;

            pub(crate) async fn server_groups(
                store: &super::super::$store,
                query: &ServerGroupQuery,
            ) -> Result<Page<ServerGroup>, StoreError> {
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
                    let (Some(kind), Some(ecosystem), Some(name)) = (parts.next(), parts.next(), parts.next()) else {
                        return Err(StoreError::InvalidCursor(cursor.encode()));
                    };
                    let ecosystem: i64 = ecosystem.parse().map_err(|_| StoreError::InvalidCursor(cursor.encode()))?;
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
                let rows = qb.build().fetch_all(store.reader()).await?;
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

            pub(crate) async fn server_list(
                store: &super::super::$store,
                query: &ServerQuery,
            ) -> Result<Page<ServerRow>, StoreError> {
                let limit = page_limit(query.limit);
                // The page is chosen from `servers` alone, in page order, then joined to its
                // endpoints by primary key (as `credential_locations`): written as one join,
                // SQLite 3.51 started from `endpoint_summary` and sorted (300-480 ms for a page
                // 100 pages deep on the 100,000-endpoint seed) and PostgreSQL merge-joined the
                // whole summary index up to the page.
                let mut qb = Builder::new(
                    "SELECT s.agent_id, e.hostname, s.server_id, s.name, s.client, s.user_name, s.scope, \
                     s.config_path, s.transport, s.service, s.package_ecosystem, s.package_name, \
                     s.package_version, s.pinned, s.endpoint_host, s.auth \
                     FROM (SELECT s.agent_id, s.server_id, s.name, s.client, s.user_name, s.scope, s.config_path, \
                     s.transport, s.service, s.package_ecosystem, s.package_name, s.package_version, s.pinned, \
                     s.endpoint_host, s.auth FROM servers s WHERE 1 = 1",
                );
                if let Some(service) = &query.service {
                    qb.push(" AND s.service = ").push_bind(service.clone());
                }
                if let Some(package) = &query.package {
                    qb.push(" AND s.package_name = ").push_bind(package.clone());
                    if let Some(version) = &query.version {
                        qb.push(" AND s.package_version = ").push_bind(version.clone());
                    }
                }
                if let Some(ecosystem) = query.ecosystem {
                    // `+`: checked on the index rows, never chosen as the index to read
                    // (SQLite without statistics would pick `servers_package` and sort).
                    qb.push(" AND +s.package_ecosystem = ").push_bind(i64::from(ecosystem));
                }
                if let Some(remote) = &query.remote {
                    qb.push(" AND s.endpoint_host = ").push_bind(remote.clone());
                }
                if let Some(client) = &query.client {
                    qb.push(" AND s.client = ").push_bind(client.clone());
                }
                if let Some(user) = &query.user {
                    qb.push(" AND s.user_name = ").push_bind(user.clone());
                }
                if let Some(agent_id) = &query.agent_id {
                    qb.push(" AND s.agent_id = ").push_bind(agent_id.clone());
                }
                if let Some(cursor) = &query.cursor {
                    let cursor = Cursor::decode(cursor)?;
                    qb.push(" AND (s.agent_id, s.server_id) > (")
                        .push_bind(cursor.key)
                        .push(", ")
                        .push_bind(cursor.id)
                        .push(")");
                }
                qb.push(" ORDER BY s.agent_id, s.server_id LIMIT ").push_bind(i64::from(limit) + 1);
                qb.push(") s JOIN endpoint_summary e ON e.agent_id = s.agent_id ORDER BY s.agent_id, s.server_id");
                let rows = qb.build().fetch_all(store.reader()).await?;
                let mut items = Vec::with_capacity(rows.len());
                for row in &rows {
                    items.push(ServerRow {
                        agent_id: row.try_get("agent_id")?,
                        hostname: row.try_get("hostname")?,
                        server_id: row.try_get("server_id")?,
                        name: row.try_get("name")?,
                        client: row.try_get("client")?,
                        user: row.try_get("user_name")?,
                        scope: to_i32(row.try_get("scope")?),
                        config_path: row.try_get("config_path")?,
                        transport: to_i32(row.try_get("transport")?),
                        service: row.try_get("service")?,
                        package_ecosystem: to_i32(row.try_get("package_ecosystem")?),
                        package_name: row.try_get("package_name")?,
                        package_version: row.try_get("package_version")?,
                        pinned: row.try_get::<i64, _>("pinned")? != 0,
                        endpoint_host: row.try_get("endpoint_host")?,
                        auth: row.try_get("auth")?,
                    });
                }
                Ok(into_page(items, limit, |s| Cursor { key: s.agent_id.clone(), id: s.server_id.clone() }))
            }
        }
    };
}

pub(crate) use impl_servers;
