//! The SQL of [`super::PolicyInputs`], shared by both backends: portable statements only. Reads
//! only, through `reader()`; nothing here decides anything about a policy.

/// Implements [`super::PolicyInputs`] for `$store` (a struct with a `reader()` pool accessor).
macro_rules! impl_policy_inputs {
    ($store:ty, $db:ty) => {
        mod policy_inputs_impl {
            use muster_proto::prost::Message as _;
            use muster_proto::v1::{Host, InventorySnapshot, McpServer};
            use sqlx::Row as _;

            use crate::store::StoreError;
            use crate::store::policy_inputs::StoredEndpoint;

            #[async_trait::async_trait]
            impl crate::store::PolicyInputs for $store {
                async fn policy_endpoints(&self, after: &str, limit: u32) -> Result<Vec<StoredEndpoint>, StoreError> {
                    let hosts = sqlx::query(
                        "SELECT h.agent_id, h.hostname, h.os, h.os_version, h.arch, h.machine_id, h.scanned_root, \
                         h.scanned_at, h.tags FROM hosts h JOIN agents a ON a.id = h.agent_id \
                         WHERE a.status = 'active' AND h.agent_id > $1 ORDER BY h.agent_id LIMIT $2",
                    )
                    .bind(after)
                    .bind(i64::from(limit))
                    .fetch_all(self.reader())
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
                        let detail: &[u8] = row.try_get("detail")?;
                        let server = McpServer::decode(detail).map_err(|_| {
                            let id: String = row.try_get("server_id").unwrap_or_default();
                            StoreError::Corrupt(format!("server detail of {id}"))
                        })?;
                        endpoint.snapshot.servers.push(server);
                    }
                    Ok(endpoints)
                }
            }
        }
    };
}

pub(crate) use impl_policy_inputs;
