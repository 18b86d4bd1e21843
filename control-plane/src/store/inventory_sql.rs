//! Reads of one host's stored inventory and change events, as ingest wrote them (for tests, the
//! e2e sandbox and the CLI). The dashboard's read models are in `read/`. One macro instantiated
//! per backend.

/// Defines the inventory reads for `$store` inside an `inventory_sql` child module.
macro_rules! impl_inventory {
    ($store:ident, $db:ty) => {
        pub(crate) mod inventory_sql {
            use sqlx::Row as _;

            use crate::ingest::ChangeKind;
            use crate::store::portable::{to_u32, to_u64};
            use crate::store::{
                ChangeEventRecord, CredentialRecord, FindingRecord, HostInventory, HostRecord, ServerRecord, StoreError,
            };

            pub(crate) async fn host_inventory(
                store: &super::$store,
                agent_id: &str,
            ) -> Result<HostInventory, StoreError> {
                let mut inventory = HostInventory::default();
                let host = sqlx::query(
                    "SELECT hostname, os, os_version, arch, machine_id, tags, scanned_at, process_count, problem_count \
                     FROM hosts WHERE agent_id = $1",
                )
                .bind(agent_id)
                .fetch_optional(store.reader())
                .await?;
                if let Some(row) = host {
                    inventory.host = Some(HostRecord {
                        agent_id: agent_id.to_string(),
                        hostname: row.try_get("hostname")?,
                        os: i32::try_from(row.try_get::<i64, _>("os")?).unwrap_or(0),
                        os_version: row.try_get("os_version")?,
                        arch: row.try_get("arch")?,
                        machine_id: row.try_get("machine_id")?,
                        tags: crate::store::read::members(&row.try_get::<String, _>("tags")?),
                        scanned_at: row.try_get("scanned_at")?,
                        process_count: to_u32(row.try_get("process_count")?),
                        problem_count: to_u32(row.try_get("problem_count")?),
                    });
                }
                for (sql, target) in [
                    ("SELECT name AS v FROM os_users WHERE agent_id = $1 ORDER BY name", &mut inventory.users),
                    ("SELECT client AS v FROM clients WHERE agent_id = $1 ORDER BY client", &mut inventory.clients),
                    (
                        "SELECT path AS v FROM config_sources WHERE agent_id = $1 ORDER BY path",
                        &mut inventory.source_paths,
                    ),
                ] {
                    for row in sqlx::query(sql).bind(agent_id).fetch_all(store.reader()).await? {
                        target.push(row.try_get("v")?);
                    }
                }
                let rows = sqlx::query(
                    "SELECT server_id, name, client, user_name, config_path, command, url, content_hash, \
                     first_seen_at, last_seen_at FROM servers WHERE agent_id = $1 ORDER BY server_id",
                )
                .bind(agent_id)
                .fetch_all(store.reader())
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
                .fetch_all(store.reader())
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
                .fetch_all(store.reader())
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

            pub(crate) async fn change_events(
                store: &super::$store,
                agent_id: &str,
            ) -> Result<Vec<ChangeEventRecord>, StoreError> {
                let rows = sqlx::query(
                    "SELECT server_id, server_name, client, kind, sequence, at FROM change_events \
                     WHERE agent_id = $1 AND kind IN ('appeared', 'changed', 'disappeared') ORDER BY id",
                )
                .bind(agent_id)
                .fetch_all(store.reader())
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

pub(crate) use impl_inventory;
