//! Builders shared by the daemon tests: small inventories with a chosen set of servers.

use muster_proto::v1::{ConfigSource, Host, InventorySnapshot, McpServer};

/// An inventory of one host with one source holding servers named by `ids`.
pub fn inventory(ids: &[&str]) -> InventorySnapshot {
    InventorySnapshot {
        host: Some(Host { hostname: "laptop".into(), ..Default::default() }),
        sources: vec![ConfigSource {
            path: "/home/dev/.cursor/mcp.json".into(),
            server_count: ids.len() as u32,
            ..Default::default()
        }],
        servers: ids
            .iter()
            .map(|id| McpServer { id: (*id).into(), name: (*id).into(), command: "npx".into(), ..Default::default() })
            .collect(),
        agent_version: "test".into(),
        ..Default::default()
    }
}
