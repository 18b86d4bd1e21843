//! Server groups (by package or remote host) with their paging.
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
        }
    };
}

pub(crate) use impl_servers;
