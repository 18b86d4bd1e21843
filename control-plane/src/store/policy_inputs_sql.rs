//! The SQL of [`super::PolicyInputs`], shared by both backends: portable statements only. Reads
//! only, through `reader()`, except the one-time backfill of shape keys at start; nothing here
//! decides anything about a policy.

/// Implements [`super::PolicyInputs`] for `$store` (a struct with a `reader()` pool accessor).
macro_rules! impl_policy_inputs {
    ($store:ty, $db:ty) => {
        mod policy_inputs_impl {
            use muster_proto::prost::Message as _;
            use muster_proto::v1::{Host, InventorySnapshot, McpServer};
            use sqlx::Row as _;

            use crate::store::StoreError;
            use crate::store::policy_inputs::{
                FullServer, ShapedEndpoint, ShapedServer, StoredEndpoint, current_shape_key, shape_key,
            };

            /// Pairs per statement of `policy_servers` (two parameters each).
            const IDS_PER_READ: usize = 250;

            fn decode(row: &<$db as sqlx::Database>::Row) -> Result<McpServer, StoreError> {
                let detail: &[u8] = row.try_get("detail")?;
                McpServer::decode(detail).map_err(|_| {
                    let id: String = row.try_get("server_id").unwrap_or_default();
                    StoreError::Corrupt(format!("server detail of {id}"))
                })
            }

            /// Up to `limit` active endpoints with a stored host after `after`, servers empty.
            async fn hosts(pool: &sqlx::Pool<$db>, after: &str, limit: u32) -> Result<Vec<StoredEndpoint>, StoreError> {
                let hosts = sqlx::query(
                    "SELECT h.agent_id, h.hostname, h.os, h.os_version, h.arch, h.machine_id, h.scanned_root, \
                     h.scanned_at, h.tags FROM hosts h JOIN agents a ON a.id = h.agent_id \
                     WHERE a.status = 'active' AND h.agent_id > $1 ORDER BY h.agent_id LIMIT $2",
                )
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?;
                let mut endpoints = Vec::with_capacity(hosts.len());
                for row in &hosts {
                    let host = Host {
                        hostname: row.try_get("hostname")?,
                        os: i32::try_from(row.try_get::<i64, _>("os")?).unwrap_or(0),
                        os_version: row.try_get("os_version")?,
                        arch: row.try_get("arch")?,
                        machine_id: row.try_get("machine_id")?,
                        scanned_root: row.try_get("scanned_root")?,
                        // Stored as `,a,b,` (see migration 0010).
                        tags: row
                            .try_get::<String, _>("tags")?
                            .split(',')
                            .filter(|t| !t.is_empty())
                            .map(str::to_owned)
                            .collect(),
                    };
                    endpoints.push(StoredEndpoint {
                        agent_id: row.try_get("agent_id")?,
                        snapshot: InventorySnapshot {
                            host: Some(host),
                            scanned_at_unix: row.try_get("scanned_at")?,
                            ..InventorySnapshot::default()
                        },
                    });
                }
                Ok(endpoints)
            }

            /// Computes the shape key of every server stored before migration 0014, once (the
            /// row in `data_backfills` marks the work as pending), in batches of 500 in agent
            /// and server id order.
            pub(crate) async fn backfill_shape_keys(pool: &sqlx::Pool<$db>) -> Result<(), StoreError> {
                const PENDING: &str = "SELECT 1 AS one FROM data_backfills WHERE name = 'server_shape_keys'";
                if sqlx::query(PENDING).fetch_optional(pool).await?.is_none() {
                    return Ok(());
                }
                let (mut agent, mut server) = (String::new(), String::new());
                loop {
                    let mut tx = pool.begin().await?;
                    let rows = sqlx::query(
                        "SELECT agent_id, server_id, detail, shape_key FROM servers \
                         WHERE agent_id > $1 OR (agent_id = $1 AND server_id > $2) \
                         ORDER BY agent_id, server_id LIMIT 500",
                    )
                    .bind(&agent)
                    .bind(&server)
                    .fetch_all(&mut *tx)
                    .await?;
                    let Some(last) = rows.last() else {
                        break;
                    };
                    (agent, server) = (last.try_get("agent_id")?, last.try_get("server_id")?);
                    for row in &rows {
                        if row.try_get::<Option<Vec<u8>>, _>("shape_key")?.is_some() {
                            continue;
                        }
                        let key = shape_key(&decode(row)?);
                        sqlx::query("UPDATE servers SET shape_key = $3 WHERE agent_id = $1 AND server_id = $2")
                            .bind(row.try_get::<String, _>("agent_id")?)
                            .bind(row.try_get::<String, _>("server_id")?)
                            .bind(key)
                            .execute(&mut *tx)
                            .await?;
                    }
                    tx.commit().await?;
                }
                sqlx::query("DELETE FROM data_backfills WHERE name = 'server_shape_keys'").execute(pool).await?;
                Ok(())
            }

            #[async_trait::async_trait]
            impl crate::store::PolicyInputs for $store {
                async fn policy_endpoints(&self, after: &str, limit: u32) -> Result<Vec<StoredEndpoint>, StoreError> {
                    let mut endpoints = hosts(self.reader(), after, limit).await?;
                    let Some(last) = endpoints.last().map(|e| e.agent_id.clone()) else {
                        return Ok(endpoints);
                    };
                    // One range read for the whole page; servers of agents not in the page
                    // (revoked ones inside the range) are skipped by the merge below.
                    let rows = sqlx::query(
                        "SELECT agent_id, server_id, detail FROM servers WHERE agent_id > $1 AND agent_id <= $2 \
                         ORDER BY agent_id, server_id",
                    )
                    .bind(after)
                    .bind(&last)
                    .fetch_all(self.reader())
                    .await?;
                    let mut at = 0;
                    for row in &rows {
                        let agent_id: &str = row.try_get("agent_id")?;
                        while at < endpoints.len() && endpoints[at].agent_id.as_str() < agent_id {
                            at += 1;
                        }
                        let Some(endpoint) = endpoints.get_mut(at).filter(|e| e.agent_id == agent_id) else {
                            continue;
                        };
                        endpoint.snapshot.servers.push(decode(row)?);
                    }
                    Ok(endpoints)
                }

                async fn policy_shaped_endpoints(&self, after: &str, limit: u32) -> Result<Vec<ShapedEndpoint>, StoreError> {
                    let mut endpoints: Vec<ShapedEndpoint> = hosts(self.reader(), after, limit)
                        .await?
                        .into_iter()
                        .map(|e| ShapedEndpoint { agent_id: e.agent_id, snapshot: e.snapshot, servers: Vec::new() })
                        .collect();
                    let Some(last) = endpoints.last().map(|e| e.agent_id.clone()) else {
                        return Ok(endpoints);
                    };
                    let rows = sqlx::query(
                        "SELECT agent_id, server_id, name, client, user_name, shape_key FROM servers \
                         WHERE agent_id > $1 AND agent_id <= $2 ORDER BY agent_id, server_id",
                    )
                    .bind(after)
                    .bind(&last)
                    .fetch_all(self.reader())
                    .await?;
                    let mut at = 0;
                    for row in &rows {
                        let agent_id: &str = row.try_get("agent_id")?;
                        while at < endpoints.len() && endpoints[at].agent_id.as_str() < agent_id {
                            at += 1;
                        }
                        let Some(endpoint) = endpoints.get_mut(at).filter(|e| e.agent_id == agent_id) else {
                            continue;
                        };
                        endpoint.servers.push(ShapedServer {
                            server_id: row.try_get("server_id")?,
                            name: row.try_get("name")?,
                            client: row.try_get("client")?,
                            user: row.try_get("user_name")?,
                            shape_key: current_shape_key(row.try_get::<Option<&[u8]>, _>("shape_key")?),
                        });
                    }
                    Ok(endpoints)
                }

                async fn policy_servers(&self, ids: &[(&str, &str)]) -> Result<Vec<FullServer>, StoreError> {
                    let mut servers = Vec::with_capacity(ids.len());
                    for chunk in ids.chunks(IDS_PER_READ) {
                        let mut query = sqlx::QueryBuilder::<$db>::new(
                            "SELECT agent_id, server_id, detail, shape_key FROM servers WHERE (agent_id, server_id) IN (VALUES ",
                        );
                        let mut pairs = query.separated(", ");
                        for (agent_id, server_id) in chunk {
                            pairs.push("(");
                            pairs.push_bind_unseparated(agent_id.to_string());
                            pairs.push_unseparated(", ");
                            pairs.push_bind_unseparated(server_id.to_string());
                            pairs.push_unseparated(")");
                        }
                        query.push(")");
                        for row in query.build().fetch_all(self.reader()).await? {
                            servers.push(FullServer {
                                agent_id: row.try_get("agent_id")?,
                                shape_key: current_shape_key(row.try_get::<Option<&[u8]>, _>("shape_key")?),
                                server: decode(&row)?,
                            });
                        }
                    }
                    Ok(servers)
                }
            }
        }
    };
}

pub(crate) use impl_policy_inputs;
