//! The operations pages and their JSON API through real HTTPS against an in-process control plane
//! (`TestControlPlane`) holding an inventory reported over real mTLS gRPC: findings (filters,
//! acknowledge / waive / clear by form and by API, the open-redirect guard), activity, agents and
//! enrollment tokens, webhooks with a real delivery, the audit log, settings, and escaping of
//! hostile names. Every case runs on SQLite and on PostgreSQL.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use http::HeaderMap;
use muster_control_plane::config::HttpConfig;
use muster_control_plane::http::auth::{accounts, tokens};
use muster_control_plane::state::unix_now;
use muster_control_plane::store::Role;
use muster_control_plane::testing::{TestControlPlane, TestDatabase};
use muster_control_plane::webhook::signature::{self, DEFAULT_TOLERANCE};
use muster_proto::v1::{Finding, McpServer};
use reqwest::StatusCode;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";
const SCRIPT: &str = "<script>alert(1)</script>";
const IMG: &str = "\"><img src=x onerror=alert(1)>";

/// A running control plane, an HTTPS client trusting its CA, and the agent that reported.
struct Ops {
    cp: TestControlPlane,
    /// The PostgreSQL database's URL (None: SQLite in the control plane's data dir).
    pg_url: Option<String>,
    http: reqwest::Client,
    base: String,
    agent: support::Agent,
    sequence: u64,
}

/// A signed-in browser: the session cookie (`name=value`) and the page's CSRF token.
#[derive(Debug, Clone)]
struct Browser {
    cookie: String,
    csrf: String,
}

fn finding(id: &str, severity: i32, owasp: &str, message: &str, server: &str) -> Finding {
    Finding {
        id: id.into(),
        severity,
        owasp: owasp.into(),
        message: message.into(),
        server_ids: vec![server.into()],
        ..Default::default()
    }
}

/// Three servers: a high finding (cursor, alice, github), a low one (claude-code, bob) and a
/// critical one on a server and user named like an XSS payload.
fn fleet() -> Vec<McpServer> {
    let mut a = support::server("a", "npx");
    a.service = "github".into();
    a.findings = vec![finding("MUSTER-SECRET-ENV", 4, "MCP01", "literal secret in env", "a")];
    let mut b = support::server("b", "uvx");
    b.client = "claude-code".into();
    b.user = "bob".into();
    b.config_path = "/home/bob/.claude.json".into();
    b.credentials.clear();
    b.findings = vec![finding("MUSTER-UNPINNED", 2, "MCP05", "unpinned package", "b")];
    let mut x = support::server("x", "node");
    x.name = SCRIPT.into();
    x.user = SCRIPT.into();
    x.config_path = "/home/x/.cursor/mcp.json".into();
    x.findings = vec![finding("MUSTER-SHELL", 5, "MCP03", IMG, "x")];
    vec![a, b, x]
}

impl Ops {
    async fn start(pg_url: Option<String>) -> Self {
        let cp = TestControlPlane::start_with_db_and_http(pg_url.as_deref(), HttpConfig::default()).await.unwrap();
        let ca = reqwest::Certificate::from_pem(cp.ca_pem().as_bytes()).unwrap();
        let http = reqwest::Client::builder()
            .tls_built_in_root_certs(false)
            .add_root_certificate(ca)
            .resolve("localhost", cp.http_addr)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let base = format!("https://localhost:{}", cp.http_addr.port());
        let agent = support::enroll(&cp).await;
        let mut ops = Self { cp, pg_url, http, base, agent, sequence: 0 };
        ops.report(fleet()).await;
        for (name, role) in [("vera", Role::Viewer), ("ann", Role::Analyst), ("root", Role::Admin)] {
            accounts::add_local_user(ops.cp.store(), name, role, PASSWORD, "test", unix_now()).await.unwrap();
        }
        ops
    }

    /// Reports `servers` as the agent's full inventory over mTLS gRPC.
    async fn report(&mut self, servers: Vec<McpServer>) {
        self.sequence += 1;
        let mut client = support::inventory(&self.cp, &self.agent).await;
        client.report(support::full_report(&self.agent.id, self.sequence, servers)).await.unwrap();
    }

    async fn stop(self) {
        self.cp.stop().await.unwrap();
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn login(&self, name: &str) -> Browser {
        let form = self.http.get(self.url("/login")).send().await.unwrap();
        let pair = cookie_pair(form.headers(), "muster_login_csrf=").unwrap();
        let csrf = pair.split_once('=').unwrap().1.to_string();
        let response = self
            .http
            .post(self.url("/login"))
            .header("cookie", &pair)
            .form(&[("username", name), ("password", PASSWORD), ("csrf_token", &csrf)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303, "login of {name}");
        let cookie = cookie_pair(response.headers(), "muster_session=").unwrap();
        let page = self.http.get(self.url("/")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
        Browser { csrf: hidden(&page, "csrf_token").expect("csrf token in the page"), cookie }
    }

    async fn page(&self, browser: &Browser, path: &str) -> (StatusCode, String) {
        let response = self.http.get(self.url(path)).header("cookie", &browser.cookie).send().await.unwrap();
        let status = response.status();
        (status, response.text().await.unwrap())
    }

    async fn post_form(&self, browser: &Browser, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let mut fields = fields.to_vec();
        fields.push(("csrf_token", &browser.csrf));
        self.http.post(self.url(path)).header("cookie", &browser.cookie).form(&fields).send().await.unwrap()
    }

    async fn token(&self, role: Role) -> String {
        tokens::create_api_token(self.cp.store(), "test", role, Duration::from_secs(3600), "test", unix_now())
            .await
            .unwrap()
            .token
    }

    async fn api_get(&self, token: &str, path: &str) -> (StatusCode, Value) {
        let response = self.http.get(self.url(path)).bearer_auth(token).send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    async fn api_post(&self, token: &str, path: &str, body: &Value) -> (StatusCode, Value) {
        let request = self.http.post(self.url(path)).bearer_auth(token).header("content-type", "application/json");
        let response = request.body(body.to_string()).send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// The finding rows of the findings page at `path`, as their `data-finding` keys.
    async fn finding_rows(&self, browser: &Browser, path: &str) -> Vec<String> {
        let (status, page) = self.page(browser, path).await;
        assert_eq!(status, 200, "{path}");
        attribute_values(&page, "data-finding")
    }

    async fn audit_actions(&self) -> Vec<(String, String, String)> {
        let records = self.cp.store().list_audit(None, 500).await.unwrap();
        records.into_iter().map(|r| (r.entry.actor, r.entry.action, r.entry.outcome.as_str().to_string())).collect()
    }
}

fn cookie_pair(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.contains(name) && !c.contains("Max-Age=0"))
        .map(|c| c.split(';').next().unwrap().to_string())
}

/// The value of the first `name="NAME" value="..."` in a page.
fn hidden(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let at = html.find(&marker)? + marker.len();
    Some(html[at..].split('"').next()?.to_string())
}

/// Every value of `attr="..."` in a page, in order.
fn attribute_values(html: &str, attr: &str) -> Vec<String> {
    let marker = format!("{attr}=\"");
    html.match_indices(&marker)
        .map(|(at, _)| html[at + marker.len()..].split('"').next().unwrap().to_string())
        .collect()
}

/// The text of the first element with class `class`.
fn element_text(html: &str, class: &str) -> Option<String> {
    let at = html.find(&format!("class=\"{class}\""))?;
    let start = html[at..].find('>')? + at + 1;
    let end = html[start..].find('<')? + start;
    Some(html[start..end].to_string())
}

fn h1_count(html: &str) -> usize {
    html.matches("<h1>").count()
}

fn key_of(agent: &str, server: &str, finding: &str) -> String {
    format!("{agent}/{server}/{finding}")
}

/// A date `days` from today, as a date input sends it.
fn date_in(days: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(unix_now() + days * 86_400).unwrap();
    format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day())
}

// ---------------------------------------------------------------------------------------------
// Runners: every case on SQLite and on PostgreSQL.

async fn on_sqlite<F, Fut>(case: F)
where
    F: FnOnce(Ops) -> Fut,
    Fut: std::future::Future<Output = Ops>,
{
    let ops = Ops::start(None).await;
    case(ops).await.stop().await;
}

async fn on_postgres<F, Fut>(case: F)
where
    F: FnOnce(Ops) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Ops> + Send + 'static,
{
    let Some(db) = TestDatabase::create().await.unwrap() else {
        eprintln!("skipping PostgreSQL case: MUSTER_SKIP_POSTGRES=1");
        return;
    };
    let url = db.url.clone();
    // The case runs in its own task so a failing assertion still lets us drop the database.
    let outcome = tokio::spawn(async move { case(Ops::start(Some(url)).await).await.stop().await }).await;
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


#[derive(Debug, Default)]
struct Received {
    bodies: Mutex<Vec<(HeaderMap, Bytes)>>,
}

async fn receiver() -> (String, Arc<Received>) {
    let received = Arc::new(Received::default());
    async fn hook(
        axum::extract::State(received): axum::extract::State<Arc<Received>>,
        headers: HeaderMap,
        body: Bytes,
    ) -> StatusCode {
        received.bodies.lock().unwrap().push((headers, body));
        StatusCode::OK
    }
    let app = axum::Router::new().route("/hook", axum::routing::post(hook)).with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/hook"), received)
}


#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dump_pages() {
    on_sqlite(dump).await
}

async fn dump(mut ops: Ops) -> Ops {
    let mut servers = fleet();
    servers.retain(|s| s.id != "b");
    ops.report(servers).await;
    let admin = ops.login("root").await;
    let analyst_token = ops.token(Role::Analyst).await;
    let key = json!({"agent_id": ops.agent.id, "server_id": "a", "finding_id": "MUSTER-SECRET-ENV"});
    ops.api_post(&analyst_token, "/api/v1/findings/decisions", &json!({"key": key, "action": "waive", "reason": "vendor fix next sprint", "expires_at": unix_now() + 86400 * 7})).await;
    let (url, _r) = receiver().await;
    ops.post_form(&admin, "/webhooks", &[("url", &url), ("min_severity", "high")]).await;
    ops.post_form(&admin, "/agents/tokens", &[("max_uses", "2"), ("ttl", "1h")]).await;
    let mut servers = fleet();
    servers[0].findings.push(finding("MUSTER-NEW", 5, "MCP02", "new critical", "a"));
    ops.report(servers).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, list) = ops.page(&admin, "/webhooks").await;
    let id = attribute_values(&list, "data-webhook").pop().unwrap();
    let css = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/muster.css");
    let created = ops.post_form(&admin, "/settings/api-tokens", &[("name", "siem"), ("role", "viewer"), ("ttl", "30d")]).await.text().await.unwrap();
    let mut pages = vec![("created".to_string(), created)];
    let hook = format!("/webhooks/{id}");
    for path in ["/findings", "/activity", "/agents", "/webhooks", hook.as_str(), "/audit", "/settings"] {
        pages.push((path.trim_start_matches('/').replace('/', "_"), ops.page(&admin, path).await.1));
    }
    std::fs::create_dir_all("/tmp/dash-ops-pages").unwrap();
    for (name, html) in pages {
        let html = html.replace("href=\"/static/muster.css\"", &format!("href=\"file://{}\"", css.display()));
        std::fs::write(format!("/tmp/dash-ops-pages/{}.html", if name.len() > 30 { "deliveries" } else { &name }), html).unwrap();
    }
    ops
}
