//! The agents page (status, version, search) and the version distribution.
//!
//! Portable SQL under the rules of `read/sql.rs`; a macro instantiated per backend inside
//! `read_models` (whose imports and helpers it shares through `use super::*`).

macro_rules! impl_agent_list {
    ($store:ident, $db:ty, $conn:ty) => {
        pub(crate) mod agent_list {
            use super::*;

            pub(crate) async fn agents_page(
                store: &super::super::$store,
                query: &AgentQuery,
            ) -> Result<Page<AgentRow>, StoreError> {
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
                    qb.push(" AND (hostname, id) > (").push_bind(cursor.key).push(", ").push_bind(cursor.id).push(")");
                }
                qb.push(" ORDER BY hostname, id LIMIT ").push_bind(i64::from(limit) + 1);
                let rows = qb.build().fetch_all(store.reader()).await?;
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

            pub(crate) async fn agent_versions(store: &super::super::$store) -> Result<Vec<VersionCount>, StoreError> {
                let rows = sqlx::query(
                    "SELECT agent_version, COUNT(*) AS n FROM agents GROUP BY agent_version \
                     ORDER BY n DESC, agent_version",
                )
                .fetch_all(store.reader())
                .await?;
                rows.iter()
                    .map(|row| Ok(VersionCount { version: row.try_get("agent_version")?, agents: row.try_get("n")? }))
                    .collect()
            }
        }
    };
}

pub(crate) use impl_agent_list;
