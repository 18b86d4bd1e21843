//! The activity feed (change events: servers appearing, changing and disappearing, findings
//! appearing and resolved) with its filters and time range, newest first by (at, id).
//!
//! Portable SQL under the rules of `read/sql.rs`; a macro instantiated per backend inside
//! `read_models` (whose imports and helpers it shares through `use super::*`).

macro_rules! impl_activity {
    ($store:ident, $db:ty, $conn:ty) => {
        pub(crate) mod activity {
            use super::*;

            fn activity_from_row(row: &Row) -> Result<ActivityEvent, StoreError> {
                let kind: String = row.try_get("kind")?;
                let detail: String = row.try_get("detail")?;
                let finding_id: String = row.try_get("finding_id")?;
                let finding_title = if finding_id.is_empty() { "" } else { crate::finding_catalog::title(&finding_id) };
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
                    changes: if detail.is_empty() { Vec::new() } else { serde_json::from_str(&detail).unwrap_or_default() },
                    finding_title: finding_title.to_string(),
                    finding_id,
                    severity: i32::try_from(row.try_get::<i64, _>("severity")?).unwrap_or(0),
                })
            }

            fn push_activity_query(qb: &mut Builder, query: &ActivityQuery, limit: u32) -> Result<(), StoreError> {
                qb.push(
                    "SELECT c.id, c.agent_id, COALESCE(a.hostname, '') AS hostname, c.server_id, c.server_name, \
                     c.client, c.kind, c.sequence, c.at, c.finding_id, c.severity, c.detail FROM change_events c \
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
                    // Keyset on (at, id), newest first; a cursor from before time ranges (id only)
                    // reads as "this id at any time up to now".
                    let cursor = Cursor::decode(cursor)?;
                    let id = cursor.int_id()?;
                    let at = if cursor.key.is_empty() { i64::MAX } else { cursor.int_key()? };
                    qb.push(" AND (c.at < ").push_bind(at).push(" OR (c.at = ").push_bind(at);
                    qb.push(" AND c.id < ").push_bind(id).push("))");
                }
                qb.push(" ORDER BY c.at DESC, c.id DESC LIMIT ").push_bind(i64::from(limit) + 1);
                Ok(())
            }

            pub(crate) async fn activity(
                store: &super::super::$store,
                query: &ActivityQuery,
            ) -> Result<Page<ActivityEvent>, StoreError> {
                let limit = page_limit(query.limit);
                let mut qb = Builder::new("");
                push_activity_query(&mut qb, query, limit)?;
                let rows = qb.build().fetch_all(store.reader()).await?;
                let items = rows.iter().map(activity_from_row).collect::<Result<Vec<_>, _>>()?;
                Ok(into_page(items, limit, |e| Cursor { key: e.at.to_string(), id: e.id.to_string() }))
            }
        }
    };
}

pub(crate) use impl_activity;
