//! The MCP Registry served by a real control plane (HTTPS on port 0, SQLite and PostgreSQL): an
//! agent reports its servers over mTLS, an admin publishes a policy, and an anonymous client
//! reads `/v0.1/servers` page by page: the allowed servers are there in the registry format, the
//! blocked one is gone, no secret value is in any byte, and the answer carries CORS.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

use muster_control_plane::config::HttpConfig;
use muster_control_plane::policies;
use muster_control_plane::state::unix_now;
use muster_control_plane::testing::{TestControlPlane, TestDatabase};
use muster_proto::v1::{Credential, Ecosystem, McpServer, Package, RemoteEndpoint, Transport};
use reqwest::StatusCode;
use serde_json::Value;

/// A value the agent found in a config: it must never reach the registry.
const CANARY: &str = "ghp_registryCanary0123456789abcdef0123";

fn package_server(id: &str, package: &str, version: &str) -> McpServer {
    let mut server = support::server(id, "npx");
    server.transport = Transport::Stdio as i32;
    server.args = vec!["-y".into(), format!("{package}@{version}")];
    server.package = Some(Package {
        ecosystem: Ecosystem::Npm as i32,
        name: package.into(),
        version: Some(version.into()),
        pinned: true,
    });
    server
}

fn fleet() -> Vec<McpServer> {
    let mut remote = support::server("r", "");
    remote.transport = Transport::Http as i32;
    remote.url = "https://***@mcp.linear.app/mcp?token=***".into();
    remote.header_names = vec!["Authorization".into()];
    remote.env_names.clear();
    remote.credentials = vec![Credential {
        location: "header:Authorization".into(),
        kind: "bearer".into(),
        fingerprint: "0".repeat(32),
        ..Default::default()
    }];
    remote.endpoint = Some(RemoteEndpoint {
        scheme: "https".into(),
        host: "mcp.linear.app".into(),
        port: None,
        path: "/mcp".into(),
        auth: None,
    });
    let mut servers = vec![package_server("a", "@acme/mcp", "1.2.0"), package_server("e", "evil-mcp", "6.6.6"), remote];
    for n in 0..5 {
        servers.push(package_server(&format!("p{n}"), &format!("pkg-{n}"), "1.0.0"));
    }
    servers
}

const POLICY: &str = r#"
version = 1
name = "registry"
[[rule]]
id = "no-evil"
title = "no evil"
action = "block"
[rule.match]
package = ["evil-mcp"]
"#;

struct Registry {
    cp: TestControlPlane,
    http: reqwest::Client,
    base: String,
}

impl Registry {
    async fn start(pg_url: Option<&str>) -> Self {
        let cp = TestControlPlane::start_with_db_and_http(pg_url, HttpConfig::default()).await.unwrap();
        let ca = reqwest::Certificate::from_pem(cp.ca_pem().as_bytes()).unwrap();
        let http = reqwest::Client::builder()
            .tls_built_in_root_certs(false)
            .add_root_certificate(ca)
            .resolve("localhost", cp.http_addr)
            .build()
            .unwrap();
        let base = format!("https://localhost:{}", cp.http_addr.port());
        let agent = support::enroll(&cp).await;
        let mut client = support::inventory(&cp, &agent).await;
        let mut request = support::full_report(&agent.id, 1, fleet());
        if let Some(muster_proto::v1::report_request::Body::Full(snapshot)) = request.body.as_mut() {
            // The canary sits where a careless reader would find it: a user name and a finding.
            snapshot.servers[0].findings[0].message = format!("literal secret {CANARY}");
        }
        client.report(request).await.unwrap();
        Self { cp, http, base }
    }

    async fn get(&self, path: &str) -> (StatusCode, reqwest::header::HeaderMap, String) {
        let response = self.http.get(format!("{}{path}", self.base)).send().await.unwrap();
        (response.status(), response.headers().clone(), response.text().await.unwrap())
    }

    /// Every entry of the list, following `nextCursor`, as (name, version).
    async fn walk(&self, limit: usize) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut cursor = String::new();
        loop {
            let query = if cursor.is_empty() {
                format!("?limit={limit}")
            } else {
                format!("?limit={limit}&cursor={}", urlencode(&cursor))
            };
            let (status, _, body) = self.get(&format!("/v0.1/servers{query}")).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            let page: Value = serde_json::from_str(&body).unwrap();
            let servers = page["servers"].as_array().unwrap();
            assert!(servers.len() <= limit);
            assert_eq!(page["metadata"]["count"], servers.len());
            for entry in servers {
                out.push((
                    entry["server"]["name"].as_str().unwrap().to_string(),
                    entry["server"]["version"].as_str().unwrap().to_string(),
                ));
            }
            match page["metadata"]["nextCursor"].as_str() {
                Some(next) => cursor = next.to_string(),
                None => return out,
            }
        }
    }
}

fn urlencode(text: &str) -> String {
    serde_urlencoded::to_string([("c", text)]).unwrap().trim_start_matches("c=").to_string()
}

async fn the_registry_serves_what_the_published_policy_allows_to_anonymous_clients(registry: Registry) {
    // No policy yet: every expressible server is served, the blocked-to-be one included.
    let before = registry.walk(3).await;
    assert_eq!(before.len(), 8, "{before:?}");
    assert!(before.iter().any(|(name, _)| name == "local.muster/evil-mcp"));

    policies::publish(registry.cp.store(), &policies::NoListener, POLICY, "admin", "test", unix_now()).await.unwrap();
    let after = registry.walk(3).await;
    assert_eq!(after.len(), 7, "{after:?}");
    assert!(!after.iter().any(|(name, _)| name == "local.muster/evil-mcp"));
    let mut sorted = after.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), after.len(), "a page repeated an entry");

    let (status, headers, body) = registry.get("/v0.1/servers?limit=100").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers.get("access-control-allow-origin").unwrap(), "*");
    assert_eq!(headers.get("access-control-allow-methods").unwrap(), "GET, OPTIONS");
    let preflight = registry
        .http
        .request(reqwest::Method::OPTIONS, format!("{}/v0.1/servers", registry.base))
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), StatusCode::NO_CONTENT);
    assert_eq!(preflight.headers().get("access-control-allow-origin").unwrap(), "*");
    assert!(!body.contains(CANARY) && !body.contains("***") && !body.contains("token="), "{body}");
    let page: Value = serde_json::from_str(&body).unwrap();
    let acme =
        page["servers"].as_array().unwrap().iter().find(|e| e["server"]["name"] == "local.muster/acme-mcp").unwrap();
    assert_eq!(acme["server"]["packages"][0]["identifier"], "@acme/mcp");
    assert_eq!(acme["server"]["packages"][0]["version"], "1.2.0");
    assert_eq!(acme["_meta"]["io.modelcontextprotocol.registry/official"]["isLatest"], true);
    let linear = page["servers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["server"]["name"] == "local.muster/mcp.linear.app")
        .unwrap();
    assert_eq!(linear["server"]["remotes"][0]["url"], "https://mcp.linear.app/mcp");

    let (status, _, body) = registry.get("/v0.1/servers/local.muster%2Facme-mcp/versions/latest").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let entry: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(entry["server"]["version"], "1.2.0");
    let (status, _, _) = registry.get("/v0.1/servers/local.muster%2Fevil-mcp/versions/latest").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a blocked server is not served");
    let (status, _, _) = registry.get("/v0.1/servers/local.muster%2Facme-mcp/versions/1.2.0").await;
    assert_eq!(status, StatusCode::OK);

    for bad in ["?limit=0", "?limit=101", "?version=1.0.0", "?updated_since=2025-01-01T00:00:00Z"] {
        let (status, _, body) = registry.get(&format!("/v0.1/servers{bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
    // Read-only: nothing but GET is routed.
    let posted = registry.http.post(format!("{}/v0.1/servers", registry.base)).body("{}").send().await.unwrap();
    assert_eq!(posted.status(), StatusCode::METHOD_NOT_ALLOWED);
    registry.cp.stop().await.unwrap();
}

async fn registry_reads_are_rate_limited_per_address(registry: Registry) {
    let mut refused = None;
    for n in 0..200 {
        let (status, _, _) = registry.get("/v0.1/servers?limit=1").await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            refused = Some(n);
            break;
        }
        assert_eq!(status, StatusCode::OK);
    }
    let refused = refused.expect("200 reads in a row were never refused");
    assert!(refused >= 50, "refused after only {refused} reads");
    registry.cp.stop().await.unwrap();
}

async fn on_sqlite(case: impl AsyncFnOnce(Registry)) {
    case(Registry::start(None).await).await;
}

async fn on_postgres<F, Fut>(case: F)
where
    F: FnOnce(Registry) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let Some(db) = TestDatabase::create().await.unwrap() else {
        eprintln!("skipping PostgreSQL case: MUSTER_SKIP_POSTGRES=1");
        return;
    };
    let url = db.url.clone();
    let outcome = tokio::spawn(async move { case(Registry::start(Some(&url)).await).await }).await;
    db.drop_database().await.unwrap();
    if let Err(error) = outcome {
        std::panic::resume_unwind(error.into_panic());
    }
}

macro_rules! on_both {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $case() { super::on_sqlite(super::$case).await })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $case() { super::on_postgres(super::$case).await })*
        }
    };
}

on_both!(
    the_registry_serves_what_the_published_policy_allows_to_anonymous_clients,
    registry_reads_are_rate_limited_per_address
);
