//! The catalog's rules on hand-made endpoints: what is served, what a block or quarantine
//! anywhere removes, what is never served (unpinned, unexpressible, secrets), and paging.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use muster_policy::Endpoint;
use muster_proto::v1::{Credential, Ecosystem, Host, InventorySnapshot, McpServer, Package, RemoteEndpoint, Transport};

use super::*;

const NOW: i64 = 1_800_000_000;

fn npm(id: &str, name: &str, version: Option<&str>) -> McpServer {
    McpServer {
        id: id.into(),
        name: "fs".into(),
        client: "cursor".into(),
        user: "alice".into(),
        transport: Transport::Stdio as i32,
        command: "npx".into(),
        args: vec!["-y".into(), name.into()],
        env_names: vec!["GITHUB_TOKEN".into(), "LOG_LEVEL".into()],
        credentials: vec![Credential {
            location: "env:GITHUB_TOKEN".into(),
            kind: "github-pat".into(),
            ..Default::default()
        }],
        package: Some(Package {
            ecosystem: Ecosystem::Npm as i32,
            name: name.into(),
            version: version.map(Into::into),
            pinned: version.is_some(),
        }),
        ..Default::default()
    }
}

fn remote(id: &str, host: &str) -> McpServer {
    McpServer {
        id: id.into(),
        name: "linear".into(),
        client: "cursor".into(),
        transport: Transport::Http as i32,
        url: format!("https://***@{host}/mcp?key=***"),
        header_names: vec!["Authorization".into()],
        credentials: vec![Credential { location: "header:Authorization".into(), ..Default::default() }],
        endpoint: Some(RemoteEndpoint {
            scheme: "https".into(),
            host: host.into(),
            path: "/mcp".into(),
            port: None,
            auth: None,
        }),
        ..Default::default()
    }
}

fn endpoint(hostname: &str, servers: Vec<McpServer>) -> InventorySnapshot {
    InventorySnapshot {
        host: Some(Host { hostname: hostname.into(), os: 1, ..Default::default() }),
        servers,
        ..Default::default()
    }
}

fn build(policy: Option<&str>, fleet: &[InventorySnapshot]) -> Catalog {
    let bundle = policy.map(|p| muster_policy::parse(p).unwrap());
    let mut builder = CatalogBuilder::default();
    for (n, snapshot) in fleet.iter().enumerate() {
        let agent_id = format!("agent-{n}");
        let decisions = bundle.as_ref().map(|b| {
            muster_policy::evaluate(b, &Endpoint { inventory: snapshot, agent_id: &agent_id, tags: &[] }, NOW)
        });
        builder.add(snapshot, decisions.as_ref());
    }
    builder.build(Some(NOW))
}

fn names(catalog: &Catalog) -> Vec<(String, String)> {
    catalog.entries().iter().map(|e| (e.server.name.clone(), e.server.version.clone())).collect()
}

const BLOCK_EVIL: &str = r#"
version = 1
name = "t"
[[rule]]
id = "no-evil"
title = "no evil"
action = "block"
[rule.match]
package = ["evil-mcp"]
"#;

#[test]
fn without_a_policy_every_expressible_server_is_served_and_nothing_else() {
    let mut local_script = npm("c", "x", Some("1.0.0"));
    local_script.package.as_mut().unwrap().ecosystem = Ecosystem::Local as i32;
    let fleet = [endpoint(
        "lap-1",
        vec![
            npm("a", "@acme/mcp", Some("1.2.0")),
            npm("b", "unpinned-mcp", None),
            local_script,
            remote("d", "mcp.linear.app"),
        ],
    )];
    let catalog = build(None, &fleet);
    assert_eq!(
        names(&catalog),
        vec![
            ("local.muster/acme-mcp".to_string(), "1.2.0".to_string()),
            ("local.muster/mcp.linear.app".to_string(), "0.0.0".to_string()),
        ]
    );
}

#[test]
fn a_block_or_quarantine_on_any_endpoint_removes_the_server_even_under_an_exception_or_a_grace_period() {
    let fleet = [
        endpoint("lap-1", vec![npm("a", "@acme/mcp", Some("1.2.0"))]),
        endpoint("lap-2", vec![npm("b", "evil-mcp", Some("0.1.0")), npm("c", "@acme/mcp", Some("1.2.0"))]),
    ];
    assert_eq!(build(None, &fleet).entries().len(), 2);
    assert_eq!(names(&build(Some(BLOCK_EVIL), &fleet)), vec![("local.muster/acme-mcp".into(), "1.2.0".into())]);
    let quarantine_in_grace = BLOCK_EVIL.replace("\"block\"", "\"quarantine\"\ngrace = \"30d\"");
    assert_eq!(build(Some(&quarantine_in_grace), &fleet).entries().len(), 1);
    let notify = BLOCK_EVIL.replace("\"block\"", "\"notify\"");
    assert_eq!(build(Some(&notify), &fleet).entries().len(), 2, "notify does not refuse a server");
}

#[test]
fn entries_carry_names_of_inputs_never_values_and_remotes_lose_query_and_user_info() {
    let fleet = [endpoint("lap-1", vec![npm("a", "@acme/mcp", Some("1.2.0")), remote("d", "mcp.linear.app")])];
    let catalog = build(None, &fleet);
    let json = serde_json::to_string(&catalog.page(None, None, false, None).unwrap()).unwrap();
    assert!(!json.contains("***") && !json.contains("key="), "{json}");
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    let package = &value["servers"][0]["server"]["packages"][0];
    assert_eq!(package["registryType"], "npm");
    assert_eq!(package["identifier"], "@acme/mcp");
    assert_eq!(package["version"], "1.2.0");
    assert_eq!(package["runtimeHint"], "npx");
    assert_eq!(package["transport"]["type"], "stdio");
    assert_eq!(
        package["environmentVariables"],
        serde_json::json!([{"name": "GITHUB_TOKEN", "isSecret": true}, {"name": "LOG_LEVEL", "isSecret": false}])
    );
    let remote = &value["servers"][1]["server"]["remotes"][0];
    assert_eq!(remote["type"], "streamable-http");
    assert_eq!(remote["url"], "https://mcp.linear.app/mcp");
    assert_eq!(remote["headers"], serde_json::json!([{"name": "Authorization", "isSecret": true}]));
    assert_eq!(value["servers"][0]["server"]["$schema"], SCHEMA);
    assert_eq!(value["servers"][0]["_meta"][OFFICIAL_META]["status"], "active");
    assert_eq!(value["metadata"]["count"], 2);
    assert!(value["metadata"].get("nextCursor").is_none());
}

#[test]
fn versions_of_one_package_share_a_name_and_the_highest_is_latest() {
    let fleet = [endpoint(
        "lap-1",
        vec![
            npm("a", "@acme/mcp", Some("1.9.2")),
            npm("b", "@acme/mcp", Some("1.10.0")),
            npm("c", "acme-mcp", Some("1.0.0")),
        ],
    )];
    let catalog = build(None, &fleet);
    assert_eq!(
        names(&catalog),
        vec![
            ("local.muster/acme-mcp".into(), "1.9.2".into()),
            ("local.muster/acme-mcp".into(), "1.10.0".into()),
            ("local.muster/acme-mcp-2".into(), "1.0.0".into()),
        ]
    );
    assert_eq!(catalog.latest("local.muster/acme-mcp").unwrap().server.version, "1.10.0");
    let latest = catalog.page(None, None, true, None).unwrap();
    assert_eq!(latest.servers.len(), 2);
    assert!(catalog.version("local.muster/acme-mcp", "1.9.2").is_some());
}

#[test]
fn pages_follow_the_cursor_to_the_end_without_repeats_or_gaps() {
    let servers: Vec<McpServer> =
        (0..23).map(|n| npm(&format!("s{n}"), &format!("pkg-{}", n % 7), Some(&format!("1.{n}.0")))).collect();
    let catalog = build(None, &[endpoint("lap-1", servers)]);
    assert_eq!(catalog.entries().len(), 23);
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = catalog.page(cursor.as_deref(), Some(5), false, None).unwrap();
        assert_eq!(page.metadata.count, page.servers.len());
        assert!(page.servers.len() <= 5);
        seen.extend(page.servers.iter().map(|e| (e.server.name.clone(), e.server.version.clone())));
        match page.metadata.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, names(&catalog));
    assert!(matches!(catalog.page(None, Some(0), false, None), Err(RegistryError::Limit)));
    assert!(matches!(catalog.page(None, Some(MAX_LIMIT + 1), false, None), Err(RegistryError::Limit)));
    let found = catalog.page(None, None, false, Some("PKG-3")).unwrap();
    assert!(!found.servers.is_empty() && found.servers.iter().all(|e| e.server.name.ends_with("pkg-3")));
}

#[test]
fn slugs_are_valid_registry_name_parts() {
    assert_eq!(slug("@modelcontextprotocol/server-filesystem"), "modelcontextprotocol-server-filesystem");
    assert_eq!(slug("ghcr.io/github/github-mcp-server"), "ghcr.io-github-github-mcp-server");
    assert_eq!(slug("@@//"), "server");
}
