//! The inventory pages and their JSON API over real HTTPS, on SQLite and PostgreSQL: a realistic
//! fleet put in through the store's real ingest (with HTML in server, host and user names), a
//! viewer signed in through the login form, then every page and API call: status, `<h1>`, the
//! names shown, the canaries escaped in HTML and intact in JSON, pagination carrying filters, and
//! 400 for bad parameters.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

use std::collections::BTreeSet;

use muster_control_plane::access::accounts;
use muster_control_plane::config::HttpConfig;
use muster_control_plane::enroll::{create_token, hash_token};
use muster_control_plane::ingest::{Report, ReportBody};
use muster_control_plane::state::unix_now;
use muster_control_plane::store::{DynStore, NewAgent, Role};
use muster_control_plane::testing::{TestControlPlane, TestDatabase};
use muster_proto::v1::{
    AuthPosture, ConfigSource, Credential, CredentialSource, Finding, Host, InventorySnapshot, Listener, McpProcess,
    McpServer, OsUser, Package, ReferenceKind, RemoteAuth, RemoteEndpoint, Transport,
};
use reqwest::redirect::Policy;
use serde_json::Value;

const DAY: i64 = 86_400;
const PASSWORD: &str = "correct horse battery staple";
const SCRIPT: &str = "<script>alert(1)</script>";
const IMG: &str = "\"><img src=x onerror=alert(1)>";
const HOST: &str = "dev<b>&\"box'";
const USER: &str = "o'brien<i>";
const SHARED_FP: &str = "5f1e0c2d9a8b7c6d5e4f3a2b1c0d9e8f";

// ---------------------------------------------------------------------------------------------
// Running on both backends

async fn with_control_plane<F, Fut>(postgres: bool, case: F)
where
    F: FnOnce(TestControlPlane) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    if !postgres {
        let cp = TestControlPlane::start_with_http(HttpConfig::default()).await.unwrap();
        return case(cp).await;
    }
    let database = TestDatabase::create().await.unwrap().expect("PostgreSQL test database");
    let cp = TestControlPlane::start_with_db_and_http(Some(&database.url), HttpConfig::default()).await.unwrap();
    let outcome = tokio::spawn(case(cp)).await;
    database.drop_database().await.unwrap();
    if let Err(error) = outcome {
        std::panic::resume_unwind(error.into_panic());
    }
}

macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test] async fn $case() { super::with_control_plane(false, super::$case).await })*
        }
        mod postgres {
            $(#[tokio::test] async fn $case() { super::with_control_plane(true, super::$case).await })*
        }
    };
}

on_both_backends!(
    every_inventory_page_renders_escaped_names_and_the_api_returns_them_intact,
    endpoint_detail_shows_servers_findings_history_and_exports,
    endpoint_pages_follow_next_and_prev_links_with_their_filters,
    findings_filter_ignoring_case_and_each_has_a_page_with_its_fix,
    bad_parameters_are_refused_with_400,
    a_report_is_on_every_summary_page_at_once_and_a_service_leads_to_its_endpoints,
    every_drill_down_filter_answers_alike_on_page_and_api,
    remote_auth_posture_is_on_the_services_and_endpoint_pages_the_api_and_the_filter,
    references_say_where_the_secret_is_kept_and_secrets_are_counted_distinct_and_by_use,
    a_fresh_install_with_one_reporting_agent_shows_one_endpoint_on_the_card_and_the_chart,
);

// ---------------------------------------------------------------------------------------------
// Fleet

struct Srv {
    id: &'static str,
    name: &'static str,
    user: &'static str,
    client: &'static str,
    service: &'static str,
    package: Option<(&'static str, &'static str, bool)>,
    remote: Option<&'static str>,
    credential: Option<(CredentialSource, &'static str)>,
    finding: Option<(&'static str, i32, &'static str)>,
}

const fn srv(id: &'static str, name: &'static str) -> Srv {
    Srv {
        id,
        name,
        user: "alice",
        client: "cursor",
        service: "",
        package: None,
        remote: None,
        credential: None,
        finding: None,
    }
}

impl Srv {
    fn build(&self) -> McpServer {
        McpServer {
            id: self.id.into(),
            name: self.name.into(),
            client: self.client.into(),
            user: self.user.into(),
            config_path: format!("/home/{}/.{}/mcp.json", self.user, self.client),
            command: if self.remote.is_some() { String::new() } else { "npx".into() },
            url: self.remote.map(|h| format!("https://{h}/mcp")).unwrap_or_default(),
            transport: if self.remote.is_some() { Transport::Http as i32 } else { Transport::Stdio as i32 },
            service: self.service.into(),
            package: self.package.map(|(name, version, pinned)| Package {
                ecosystem: 1,
                name: name.into(),
                version: Some(version.into()),
                pinned,
            }),
            endpoint: self.remote.map(|h| RemoteEndpoint { host: h.into(), ..Default::default() }),
            credentials: self
                .credential
                .iter()
                .map(|(source, fingerprint)| Credential {
                    location: "env:GITHUB_TOKEN".into(),
                    kind: "github-pat".into(),
                    source: *source as i32,
                    fingerprint: fingerprint.to_string(),
                    provider: "github".into(),
                    ..Default::default()
                })
                .collect(),
            findings: self
                .finding
                .iter()
                .map(|(id, severity, message)| Finding {
                    id: id.to_string(),
                    severity: *severity,
                    owasp: "MCP01".into(),
                    message: message.to_string(),
                    server_ids: vec![self.id.into()],
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }
}

fn snapshot(hostname: &str, os: i32, users: &[&str], servers: &[Srv], at: i64) -> InventorySnapshot {
    let servers: Vec<McpServer> = servers.iter().map(Srv::build).collect();
    let clients: BTreeSet<&str> = servers.iter().map(|s| s.client.as_str()).collect();
    InventorySnapshot {
        host: Some(Host {
            hostname: hostname.into(),
            os,
            os_version: "14.5".into(),
            arch: "aarch64".into(),
            ..Default::default()
        }),
        users: users
            .iter()
            .map(|u| OsUser { name: u.to_string(), uid: Some(501), home: format!("/home/{u}") })
            .collect(),
        sources: clients
            .iter()
            .map(|c| ConfigSource { path: format!("/etc/{c}.json"), client: c.to_string(), ..Default::default() })
            .collect(),
        servers,
        scanned_at_unix: at,
        agent_version: "0.1.0".into(),
        ..Default::default()
    }
}

/// Enrolls an agent through the store and ingests its first snapshot at `at`; returns its id.
async fn ingest(store: &DynStore, snapshot: InventorySnapshot, at: i64) -> String {
    let now = unix_now();
    let token =
        create_token(store.as_ref(), 1, std::time::Duration::from_secs(DAY as u64), now - 60 * DAY).await.unwrap();
    let id = uuid::Uuid::new_v4().to_string();
    let hostname = snapshot.host.as_ref().map(|h| h.hostname.clone()).unwrap_or_default();
    let agent = NewAgent {
        id: id.clone(),
        hostname,
        cert_serial: "01".into(),
        cert_not_after: now + 30 * DAY,
        agent_version: "0.1.0".into(),
        enrolled_at: now - 60 * DAY,
    };
    store.enroll_agent(&hash_token(&token.token), now - 60 * DAY, &agent).await.unwrap();
    let report = Report { sequence: 1, base_sequence: 0, body: ReportBody::Full(snapshot), policy: None };
    store.ingest(&id, &report, at).await.unwrap();
    id
}

struct Fleet {
    /// The endpoint with the canaries in its names.
    canary: String,
}

async fn seed(cp: &TestControlPlane) -> Fleet {
    let store = cp.state.store.clone();
    // The server refreshes the rollups once at start (then every five minutes): wait for that
    // refresh, or its write could land after ours and replace them with an empty fleet's.
    let started = support::eventually(std::time::Duration::from_secs(30), || {
        let store = store.clone();
        async move { store.overview(unix_now(), 0).await.unwrap().rollup_refreshed_at.is_some() }
    })
    .await;
    assert!(started, "the startup rollup refresh did not run");
    let now = unix_now();
    let canary_servers = [
        Srv {
            user: USER,
            service: "github",
            package: Some(("@modelcontextprotocol/server-github", "1.2.3", true)),
            credential: Some((CredentialSource::Literal, SHARED_FP)),
            finding: Some(("MUSTER-SECRET-ENV", 4, "literal GitHub token in env")),
            ..srv("s-script", SCRIPT)
        },
        Srv {
            user: USER,
            client: "claude-code",
            service: "linear",
            remote: Some("mcp.linear.app"),
            credential: Some((CredentialSource::Reference, "0000aaaa1111bbbb2222cccc3333dddd")),
            ..srv("s-img", IMG)
        },
        Srv {
            package: Some(("mcp-fs-helper", "0.3.0", false)),
            finding: Some(("MUSTER-PKG-VULNERABLE", 5, "known malicious package: MAL-2025-1234")),
            ..srv("s-fs", "filesystem")
        },
    ];
    let mut canary_snapshot = snapshot(HOST, 2, &[USER, "alice"], &canary_servers, now);
    canary_snapshot.host.as_mut().unwrap().tags = vec!["team:payments".into(), "ring/canary".into()];
    let canary = ingest(&store, canary_snapshot, now).await;
    let bob = [Srv {
        user: "bob",
        service: "github",
        package: Some(("@modelcontextprotocol/server-github", "1.2.4", true)),
        credential: Some((CredentialSource::Literal, SHARED_FP)),
        ..srv("b-gh", "github")
    }];
    ingest(&store, snapshot("laptop-bob", 3, &["bob"], &bob, now - 3 * DAY), now - 3 * DAY).await;
    for n in 1..=5 {
        let servers = [Srv { package: Some(("mcp-fs-helper", "0.3.0", false)), ..srv("f-fs", "filesystem") }];
        ingest(&store, snapshot(&format!("fleet-{n:02}"), 1, &["ci"], &servers, now), now).await;
    }
    // Two daily points for the trend, then today's.
    let window = 15 * 60;
    for at in [now - 2 * DAY, now - DAY, now] {
        store.refresh_rollups(at, at - window).await.unwrap();
    }
    Fleet { canary }
}

// ---------------------------------------------------------------------------------------------
// A browser over real HTTPS

struct Browser {
    client: reqwest::Client,
    base: String,
    cookie: String,
}

fn client(cp: &TestControlPlane) -> reqwest::Client {
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cp.ca_pem().as_bytes()).unwrap())
        .tls_built_in_root_certs(false)
        .resolve("localhost", cp.http_addr)
        .redirect(Policy::none())
        .build()
        .unwrap()
}

fn cookie_pair(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|c| c.split('=').next().is_some_and(|n| n.ends_with(name)))
        .map(|c| c.split(';').next().unwrap().to_string())
}

async fn sign_in(cp: &TestControlPlane, role: Role) -> Browser {
    let name = format!("{role}-user");
    accounts::add_local_user(cp.store(), &name, role, PASSWORD, "test", unix_now()).await.unwrap();
    let client = client(cp);
    let base = format!("https://localhost:{}", cp.http_addr.port());
    let form = client.get(format!("{base}/login")).send().await.unwrap();
    let login_cookie = cookie_pair(&form, "muster_login_csrf").expect("login CSRF cookie");
    let csrf = login_cookie.split_once('=').unwrap().1.to_string();
    let body =
        serde_urlencoded::to_string([("username", name.as_str()), ("password", PASSWORD), ("csrf_token", &csrf)])
            .unwrap();
    let response = client
        .post(format!("{base}/login"))
        .header("cookie", &login_cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303, "login");
    let cookie = cookie_pair(&response, "muster_session").expect("session cookie");
    Browser { client, base, cookie }
}

impl Browser {
    async fn get(&self, path: &str) -> (u16, String) {
        let response =
            self.client.get(format!("{}{path}", self.base)).header("cookie", &self.cookie).send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    /// A page that must answer 200 with `h1` as its only `<h1>`, inside `<main>`.
    async fn page(&self, path: &str, h1: &str) -> String {
        let (status, html) = self.get(path).await;
        assert_eq!(status, 200, "{path}: {html}");
        let main = &html[html.find("<main>").expect("a main element")..html.find("</main>").unwrap()];
        assert_eq!(main.matches("<h1").count(), 1, "{path}: exactly one h1");
        let title = &main[main.find("<h1>").unwrap() + 4..main.find("</h1>").unwrap()];
        assert_eq!(title, h1, "{path}");
        assert_no_raw_canary(path, &html);
        html
    }

    async fn json(&self, path: &str) -> Value {
        let (status, text) = self.get(path).await;
        assert_eq!(status, 200, "{path}: {text}");
        serde_json::from_str(&text).unwrap()
    }
}

fn assert_no_raw_canary(path: &str, html: &str) {
    for canary in [SCRIPT, IMG, "<img", "<script", HOST, USER, "<b>", "<i>"] {
        assert!(!html.contains(canary), "{path} shows {canary:?} unescaped");
    }
    assert!(!html.contains("style="), "{path} has an inline style");
}

/// The hostnames of the `a.endpoint-link`s of a page, in order.
fn endpoint_names(html: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut at = 0;
    while let Some(found) = html[at..].find("class=\"endpoint-link\"") {
        at += found + 1;
        let text = &html[at..];
        names.push(text[text.find('>').unwrap() + 1..text.find("</a>").unwrap()].to_string());
    }
    names
}

/// The `href` of the first `<a ... rel="{rel}" ...>`, unescaped.
fn link_with_rel(html: &str, rel: &str) -> Option<String> {
    let at = html.find(&format!("rel=\"{rel}\""))?;
    let tag_start = html[..at].rfind("<a")?;
    let tag = &html[tag_start..tag_start + html[tag_start..].find('>')?];
    let href = tag.split("href=\"").nth(1)?.split('"').next()?;
    Some(href.replace("&amp;", "&"))
}

/// Every string anywhere in a JSON value.
fn strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
        Value::Object(map) => map.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

fn contains_string(value: &Value, wanted: &str) -> bool {
    let mut all = Vec::new();
    strings(value, &mut all);
    all.iter().any(|s| s == wanted)
}

// ---------------------------------------------------------------------------------------------
// Cases

async fn every_inventory_page_renders_escaped_names_and_the_api_returns_them_intact(cp: TestControlPlane) {
    let fleet = seed(&cp).await;
    let viewer = sign_in(&cp, Role::Viewer).await;

    let overview = viewer.page("/", "Overview").await;
    for card in ["Endpoints online", "Endpoints offline", "MCP servers", "Literal secret uses", "Critical findings"] {
        assert!(overview.contains(card), "overview card {card}");
    }
    assert!(overview.contains(r#"href="/endpoints?status=offline""#) && overview.contains(r#"href="/services""#));
    assert!(overview.contains("<svg") && overview.contains("<polyline") && overview.contains("Day (UTC)"));
    assert!(overview.contains("class=\"legend\""));
    // The viewer's navigation: inventory and security pages, no admin pages.
    assert!(overview.contains(r#"href="/findings""#) && !overview.contains(r#"href="/settings""#));

    let services = viewer.page("/services", "Services").await;
    assert!(services.contains("github") && services.contains("linear"), "{services}");
    assert!(services.contains("Literal key") && services.contains("Other reference"));
    assert!(services.contains("<table class=\"data\">"));

    let servers = viewer.page("/servers", "Servers").await;
    for name in
        ["@modelcontextprotocol/server-github", "mcp-fs-helper", "mcp.linear.app", "1.2.3", "1.2.4", "MAL-2025-1234"]
    {
        assert!(servers.contains(name), "servers page lists {name}");
    }
    assert!(servers.contains("unpinned") && servers.contains("pinned"));

    let endpoints = viewer.page("/endpoints", "Endpoints").await;
    assert!(endpoints.contains(&format!(r#"<a class="endpoint-link" href="/endpoints/{}">"#, fleet.canary)));
    assert!(endpoints.contains(HOST_ESCAPED), "escaped hostname");
    assert!(endpoints.contains("o'brien&lt;i&gt;") && endpoints.contains("laptop-bob"));
    assert!(endpoints.contains("<form class=\"filters\" method=\"get\""));

    let credentials = viewer.page("/credentials", "Credentials").await;
    assert!(credentials.contains("github") && credentials.contains(&SHARED_FP[..12]));
    // Issue 15: fingerprints in full, not cut to 12 characters.
    assert!(credentials.contains(&format!(r#"<code class="fingerprint">{SHARED_FP}</code>"#)), "{credentials}");

    let detail = viewer.page(&format!("/endpoints/{}", fleet.canary), HOST_ESCAPED).await;
    assert!(detail.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(detail.contains("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"));

    // The API returns the same names as JSON strings, unescaped.
    let endpoints = viewer.json("/api/v1/endpoints").await;
    assert!(endpoints["items"].as_array().unwrap().len() >= 7);
    assert!(endpoints["next_cursor"].is_null());
    assert!(contains_string(&endpoints, HOST) && contains_string(&endpoints, USER));
    let detail = viewer.json(&format!("/api/v1/endpoints/{}", fleet.canary)).await;
    assert!(contains_string(&detail, SCRIPT) && contains_string(&detail, IMG));
    assert_eq!(detail["endpoint"]["hostname"], HOST);
    let overview = viewer.json("/api/v1/overview").await;
    assert_eq!(overview["endpoints"], 7);
    assert_eq!((overview["endpoints_online"].as_i64(), overview["endpoints_offline"].as_i64()), (Some(6), Some(1)));
    assert_eq!((overview["findings_high"].as_i64(), overview["findings_critical"].as_i64()), (Some(1), Some(1)));
    assert!(overview["trend"].as_array().unwrap().len() >= 2);
    let services = viewer.json("/api/v1/services").await;
    let github = services["items"].as_array().unwrap().iter().find(|s| s["service"] == "github").unwrap();
    assert_eq!(
        (github["servers"].as_i64(), github["endpoints"].as_i64(), github["auth"]["literal"].as_i64()),
        (Some(2), Some(2), Some(2))
    );
    let servers = viewer.json("/api/v1/servers?kind=remote").await;
    let names: Vec<&str> = servers["items"].as_array().unwrap().iter().map(|g| g["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["mcp.linear.app"]);
    let credentials = viewer.json("/api/v1/credentials").await;
    assert!(contains_string(&credentials, "github"));
    let shared = viewer.json("/api/v1/credentials/shared").await;
    let items = shared["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{shared}");
    assert_eq!((items[0]["fingerprint"].as_str(), items[0]["hosts"].as_i64()), (Some(SHARED_FP), Some(2)));

    cp.stop().await.unwrap();
}

/// The canary hostname as maud escapes it in text.
const HOST_ESCAPED: &str = "dev&lt;b&gt;&amp;&quot;box'";

async fn endpoint_detail_shows_servers_findings_history_and_exports(cp: TestControlPlane) {
    let fleet = seed(&cp).await;
    let viewer = sign_in(&cp, Role::Viewer).await;
    let html = viewer.page(&format!("/endpoints/{}", fleet.canary), HOST_ESCAPED).await;
    for text in [
        "@modelcontextprotocol/server-github",
        "1.2.3",
        "mcp.linear.app",
        "pinned",
        "unpinned",
        "Literal key",
        "Other reference",
        "MUSTER-SECRET-ENV",
        "MAL-2025-1234",
        "critical",
        "14.5",
        "aarch64",
        "Change history",
        "appeared",
    ] {
        assert!(html.contains(text), "detail shows {text}");
    }
    assert_eq!(html.matches("badge change-appeared").count(), 3, "one appeared event per server");
    let tags = html.split("<dt>Tags</dt>").nth(1).and_then(|rest| rest.split("</dd>").next()).unwrap_or_default();
    assert!(tags.contains("team:payments") && tags.contains("ring/canary"), "the Host card lists the tags: {tags}");
    let json = viewer.json(&format!("/api/v1/endpoints/{}", fleet.canary)).await;
    assert_eq!(json["endpoint"]["tags"], serde_json::json!(["team:payments", "ring/canary"]));
    let tagged = viewer.json("/api/v1/endpoints?tag=ring/canary").await;
    let ids: Vec<&str> = tagged["items"].as_array().unwrap().iter().map(|e| e["agent_id"].as_str().unwrap()).collect();
    assert_eq!(ids, [fleet.canary.as_str()], "the tag filter keeps the tagged endpoint only");
    let list = viewer.page("/endpoints?tag=team:payments", "Endpoints").await;
    assert!(list.contains(&format!("/endpoints/{}", fleet.canary)) && !list.contains("laptop-bob"), "{list}");
    assert!(list.contains(r#"value="team:payments""#), "the filter form keeps the tag");
    assert!(html.contains(&format!(r#"href="/api/v1/export/cyclonedx.json?endpoint={}""#, fleet.canary)));
    let (status, _) = viewer.get("/endpoints/00000000-0000-4000-8000-000000000000").await;
    assert_eq!(status, 404);
    let (status, body) = viewer.get("/api/v1/endpoints/00000000-0000-4000-8000-000000000000").await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = viewer.get("/endpoints/%3Cscript%3Ealert(1)%3C%2Fscript%3E").await;
    assert_eq!(status, 404);
    assert_no_raw_canary("/endpoints/<script>", &body);
    cp.stop().await.unwrap();
}

async fn endpoint_pages_follow_next_and_prev_links_with_their_filters(cp: TestControlPlane) {
    seed(&cp).await;
    let viewer = sign_in(&cp, Role::Viewer).await;
    let mut path = "/endpoints?os=linux&sort=hostname&limit=2".to_string();
    let mut pages: Vec<Vec<String>> = Vec::new();
    loop {
        let html = viewer.page(&path, "Endpoints").await;
        pages.push(endpoint_names(&html));
        // rel=prev (and rel=first) only past page one.
        assert_eq!(html.contains("rel=\"prev\""), pages.len() > 1, "{path}");
        match link_with_rel(&html, "next") {
            Some(next) => {
                assert!(next.starts_with("/endpoints?"), "{next}");
                for filter in ["os=linux", "sort=hostname", "limit=2", "cursor="] {
                    assert!(next.contains(filter), "next link {next} carries {filter}");
                }
                path = next;
            }
            None => break,
        }
        assert!(pages.len() < 10, "pagination does not end");
    }
    assert_eq!(pages.concat(), vec!["fleet-01", "fleet-02", "fleet-03", "fleet-04", "fleet-05"]);
    assert_eq!(pages.len(), 3);
    // Back again with rel=prev, keeping the filters, to the same pages.
    for expected in pages.iter().rev().skip(1) {
        let html = viewer.page(&path, "Endpoints").await;
        let prev = link_with_rel(&html, "prev").expect("a previous page");
        assert!(prev.contains("os=linux") && prev.contains("limit=2"), "{prev}");
        path = prev;
        assert_eq!(&endpoint_names(&viewer.page(&path, "Endpoints").await), expected, "{path}");
    }
    assert!(!path.contains("cursor="), "back on page one: {path}");

    // The API pages the same way.
    let first = viewer.json("/api/v1/endpoints?os=linux&limit=3").await;
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = viewer.json(&format!("/api/v1/endpoints?os=linux&limit=3&cursor={cursor}")).await;
    let names: Vec<&str> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["items"].as_array().unwrap())
        .map(|e| e["hostname"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["fleet-01", "fleet-02", "fleet-03", "fleet-04", "fleet-05"]);
    assert!(second["next_cursor"].is_null());

    // Servers page with a filter: the offline Windows laptop's package is found by name.
    let html = viewer.page("/servers?q=server-github&kind=package", "Servers").await;
    assert!(html.contains("@modelcontextprotocol/server-github") && !html.contains("mcp-fs-helper"));
    let html = viewer.page("/endpoints?status=offline", "Endpoints").await;
    assert!(html.contains("laptop-bob") && !html.contains("fleet-01"));
    let html = viewer.page("/endpoints?severity=critical&q=", "Endpoints").await;
    assert!(html.contains(HOST_ESCAPED) && !html.contains("laptop-bob"));
    cp.stop().await.unwrap();
}

async fn bad_parameters_are_refused_with_400(cp: TestControlPlane) {
    let viewer = sign_in(&cp, Role::Viewer).await;
    for path in [
        "/endpoints?os=beos",
        "/endpoints?limit=0",
        "/endpoints?cursor=zz",
        "/endpoints?colour=red",
        "/endpoints?tag=Team%20Payments",
        "/api/v1/endpoints?tag=a,b",
        "/servers?advisories=maybe",
        "/credentials?min_hosts=0",
        "/credentials?q=not-hex",
        "/services?x=1",
        "/?page=2",
        "/api/v1/endpoints?sort=random",
        "/api/v1/endpoints?limit=100000",
        "/api/v1/servers?kind=local",
        "/api/v1/credentials/shared?cursor=00",
        "/api/v1/overview?x=1",
    ] {
        let (status, body) = viewer.get(path).await;
        assert_eq!(status, 400, "{path}: {body}");
        if path.starts_with("/api/") {
            let json: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(json["code"], "invalid_argument", "{path}");
        } else {
            assert!(body.contains("<h1>Bad Request</h1>") && body.contains("class=\"flash error\""), "{path}: {body}");
        }
    }
    let (_, body) = viewer.get("/endpoints?os=beos").await;
    assert!(body.contains("beos"), "the message names the value: {body}");
    let (_, body) = viewer.get("/api/v1/endpoints?colour=red").await;
    assert!(body.contains("unknown parameter `colour`"), "{body}");
    cp.stop().await.unwrap();
}

/// Issue 15: a report is on Services, Servers, Credentials and the Overview (pages and API) as
/// soon as ingest returns: no rollup refresh is awaited or run. A service's name links to the
/// endpoints running it, and reuse of one secret within a host can be asked for.
async fn a_report_is_on_every_summary_page_at_once_and_a_service_leads_to_its_endpoints(cp: TestControlPlane) {
    let store = cp.state.store.clone();
    let now = unix_now();
    let fingerprint = "cccc0000111122223333444455556666";
    let live = [
        Srv {
            service: "zz-live",
            package: Some(("@zz/live-mcp", "9.9.9", true)),
            credential: Some((CredentialSource::Literal, fingerprint)),
            ..srv("l1", "live-one")
        },
        Srv { service: "zz-live", credential: Some((CredentialSource::Literal, fingerprint)), ..srv("l2", "live-two") },
    ];
    ingest(&store, snapshot("live-host", 1, &["dana"], &live, now), now).await;
    let other = [Srv { service: "github", ..srv("o1", "other") }];
    ingest(&store, snapshot("other-host", 1, &["erin"], &other, now), now).await;
    let viewer = sign_in(&cp, Role::Viewer).await;

    let services = viewer.page("/services", "Services").await;
    assert!(services.contains(r#"href="/endpoints?service=zz-live""#), "{services}");
    let (_, body) = viewer.get("/api/v1/services").await;
    let json: Value = serde_json::from_str(&body).unwrap();
    let row = json["items"].as_array().unwrap().iter().find(|s| s["service"] == "zz-live").expect("zz-live listed");
    assert_eq!((row["servers"].as_i64(), row["endpoints"].as_i64()), (Some(2), Some(1)));
    let (_, body) = viewer.get("/api/v1/overview").await;
    let overview: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(overview["services"].as_u64(), Some(json["items"].as_array().unwrap().len() as u64));

    assert!(viewer.page("/servers", "Servers").await.contains("@zz/live-mcp"));
    let (_, body) = viewer.get("/api/v1/servers?q=zz").await;
    assert!(body.contains("@zz/live-mcp"), "{body}");
    let (_, body) = viewer.get("/api/v1/credentials").await;
    let groups: Value = serde_json::from_str(&body).unwrap();
    let secrets: i64 = groups["items"].as_array().unwrap().iter().map(|g| g["secrets"].as_i64().unwrap()).sum();
    assert_eq!(Some(secrets), overview["literal_secrets"].as_i64(), "Credentials and the Overview agree");
    assert_eq!(secrets, 2);

    // The link leads to the one laptop running the service, and keeps its filter in the form.
    let endpoints = viewer.page("/endpoints?service=zz-live", "Endpoints").await;
    assert!(endpoints.contains("live-host") && !endpoints.contains("other-host"), "{endpoints}");
    assert!(endpoints.contains(r#"name="service" value="zz-live""#));
    let (_, body) = viewer.get("/api/v1/endpoints?service=zz-live").await;
    assert!(body.contains("live-host") && !body.contains("other-host"), "{body}");

    // One secret in two servers of one host: listed in full, found by its start.
    let credentials = viewer.page("/credentials?reuse=within_host&q=CCCC0000", "Credentials").await;
    assert!(credentials.contains(fingerprint), "{credentials}");
    let (status, body) = viewer.get("/api/v1/credentials/shared?reuse=within_host").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(fingerprint), "{body}");
    cp.stop().await.unwrap();
}

/// Issue 15, drill-down: every new filter of the server list, the credential locations and the
/// endpoint list answers the same rows on the page and in `/api/v1`, pages without repeats,
/// refuses what it cannot mean with a 400, and the pages link each count and name to them. The
/// endpoint page names each server's config file, env names and fingerprints, and the process
/// running it with its listening socket.
async fn every_drill_down_filter_answers_alike_on_page_and_api(cp: TestControlPlane) {
    let store = cp.state.store.clone();
    let now = unix_now();
    let secret = "abcdef0011223344556677889900aabb";
    let literal = Some((CredentialSource::Literal, secret));
    let a_servers = [
        Srv {
            service: "github",
            package: Some(("@drill/gh", "1.0.0", true)),
            credential: literal,
            ..srv("s1", "gh-a")
        },
        Srv {
            service: "slack",
            client: "claude-desktop",
            package: Some(("@drill/slack", "2.0.0", true)),
            credential: literal,
            ..srv("s2", "slack-a")
        },
    ];
    let mut a_snapshot = snapshot("drill-a", 1, &["alice"], &a_servers, now);
    a_snapshot.processes = vec![McpProcess {
        pid: 4242,
        user: "alice".into(),
        exe: "node".into(),
        args: vec!["gh-server.js".into()],
        parent_client: "cursor".into(),
        server_ids: vec!["s1".into()],
        listeners: vec![Listener { address: "127.0.0.1".into(), port: 3000, protocol: "tcp".into() }],
        ..Default::default()
    }];
    let a = ingest(&store, a_snapshot, now).await;
    let b_servers = [
        Srv {
            service: "github",
            user: "bob",
            package: Some(("@drill/gh", "1.1.0", false)),
            credential: literal,
            ..srv("s3", "gh-b")
        },
        Srv { user: "bob", client: "vscode", remote: Some("mcp.linear.example"), ..srv("s4", "linear-b") },
    ];
    let b = ingest(&store, snapshot("drill-b", 1, &["bob"], &b_servers, now), now).await;
    let viewer = sign_in(&cp, Role::Viewer).await;

    // (query, expected (agent, server id) rows in page order: by agent id, then server id)
    let mut by_id = [(a.as_str(), "s1"), (a.as_str(), "s2"), (b.as_str(), "s3"), (b.as_str(), "s4")];
    by_id.sort();
    let only = |wanted: &[&str]| -> Vec<(String, String)> {
        by_id.iter().filter(|(_, s)| wanted.contains(s)).map(|(a, s)| (a.to_string(), s.to_string())).collect()
    };
    let rows = |page: &Value, server: &str| -> Vec<(String, String)> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| (i["agent_id"].as_str().unwrap().to_string(), i[server].as_str().unwrap().to_string()))
            .collect()
    };
    for (query, wanted) in [
        ("service=github", vec!["s1", "s3"]),
        ("package=%40drill%2Fgh", vec!["s1", "s3"]),
        ("package=%40drill%2Fgh&ecosystem=npm", vec!["s1", "s3"]),
        ("package=%40drill%2Fgh&ecosystem=pypi", vec![]),
        ("package=%40drill%2Fgh&version=1.1.0", vec!["s3"]),
        ("remote=mcp.linear.example", vec!["s4"]),
        ("client=cursor", vec!["s1", "s3"]),
        ("user=alice", vec!["s1", "s2"]),
        (&format!("agent={b}"), vec!["s3", "s4"]),
        ("service=github&user=bob", vec!["s3"]),
    ] {
        let page = viewer.json(&format!("/api/v1/servers/list?{query}")).await;
        assert_eq!(rows(&page, "server_id"), only(&wanted), "/api/v1/servers/list?{query}");
        let html = viewer.page(&format!("/servers/list?{query}"), "Servers on endpoints").await;
        for (agent, server) in only(&wanted) {
            assert!(html.contains(&format!(r#"href="/endpoints/{agent}#server-{server}""#)), "{query}: {server}");
        }
        assert_eq!(html.matches("class=\"server-link\"").count(), wanted.len(), "/servers/list?{query}");
    }
    let row = &viewer.json("/api/v1/servers/list?remote=mcp.linear.example").await["items"][0];
    assert_eq!(
        (row["hostname"].as_str(), row["scope"].as_str(), row["transport"].as_str()),
        (Some("drill-b"), Some("unspecified"), Some("http"))
    );
    assert_eq!(row["config_path"], "/home/bob/.vscode/mcp.json");
    // Pages of one row walk every server once.
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = viewer.json(&format!("/api/v1/servers/list?limit=1{cursor}")).await;
        seen.extend(rows(&page, "server_id"));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(seen, only(&["s1", "s2", "s3", "s4"]));

    // A package and a version lead to the endpoints running them.
    for (query, hosts) in [
        ("package=%40drill%2Fgh", vec!["drill-a", "drill-b"]),
        ("package=%40drill%2Fgh&ecosystem=npm&version=1.0.0", vec!["drill-a"]),
        ("package=%40drill%2Fslack", vec!["drill-a"]),
        ("remote=mcp.linear.example", vec!["drill-b"]),
    ] {
        let page = viewer.json(&format!("/api/v1/endpoints?{query}")).await;
        let names: Vec<&str> =
            page["items"].as_array().unwrap().iter().map(|e| e["hostname"].as_str().unwrap()).collect();
        assert_eq!(names, hosts, "/api/v1/endpoints?{query}");
        let html = viewer.page(&format!("/endpoints?{query}"), "Endpoints").await;
        assert_eq!(endpoint_names(&html), hosts, "/endpoints?{query}");
    }

    // A fingerprint leads to every place it is used: twice on one host, once on another.
    for query in [format!("fingerprint={secret}"), format!("fingerprint={}", secret.to_uppercase())] {
        let page = viewer.json(&format!("/api/v1/credentials/locations?{query}")).await;
        assert_eq!(rows(&page, "server_id"), only(&["s1", "s2", "s3"]), "{query}");
        let item = &page["items"][0];
        assert_eq!((item["source"].as_str(), item["location_type"].as_str()), (Some("literal"), Some("env")));
        assert_eq!(item["location"], "env:GITHUB_TOKEN");
        let html = viewer.page(&format!("/credentials/locations?{query}"), "Where credentials are used").await;
        assert!(html.contains("drill-a") && html.contains("drill-b"), "{html}");
        assert_eq!(html.matches("class=\"server-link\"").count(), 3);
    }
    for (query, wanted) in [
        ("provider=github&source=literal".to_string(), vec!["s1", "s2", "s3"]),
        ("provider=github&kind=github-pat&location=env".to_string(), vec!["s1", "s2", "s3"]),
        ("provider=github&location=header".to_string(), vec![]),
        ("source=reference".to_string(), vec![]),
        (format!("agent={b}"), vec!["s3"]),
    ] {
        let page = viewer.json(&format!("/api/v1/credentials/locations?{query}")).await;
        assert_eq!(rows(&page, "server_id"), only(&wanted), "{query}");
    }

    // The summary pages link their names and counts to these lists.
    let services = viewer.page("/services", "Services").await;
    assert!(services.contains(r#"href="/servers/list?service=github""#), "{services}");
    let servers = viewer.page("/servers", "Servers").await;
    assert!(servers.contains(r#"href="/servers/list?package=%40drill%2Fgh&amp;ecosystem=npm""#), "{servers}");
    assert!(servers.contains(r#"href="/endpoints?package=%40drill%2Fgh&amp;ecosystem=npm&amp;version=1.1.0""#));
    assert!(servers.contains(r#"href="/servers/list?remote=mcp.linear.example""#));
    let credentials = viewer.page("/credentials?reuse=any", "Credentials").await;
    assert!(credentials.contains(&format!(r#"href="/credentials/locations?fingerprint={secret}""#)), "{credentials}");
    assert!(credentials.contains(r#"href="/credentials/locations?source=literal&amp;provider=github""#));
    let endpoints = viewer.page("/endpoints", "Endpoints").await;
    assert!(
        endpoints.contains(r#"href="/servers/list?user=alice""#)
            && endpoints.contains(r#"href="/servers/list?client=vscode""#)
    );
    assert!(endpoints.contains(&format!(r#"href="/servers/list?agent={a}""#)));

    // The endpoint page: config file, env names, fingerprints, the running process and socket.
    let detail = viewer.json(&format!("/api/v1/endpoints/{a}")).await;
    let s1 = detail["servers"].as_array().unwrap().iter().find(|s| s["server_id"] == "s1").unwrap().clone();
    assert_eq!(s1["config_path"], "/home/alice/.cursor/mcp.json");
    assert_eq!(s1["credentials"][0]["fingerprint"], secret);
    assert_eq!(s1["credentials"][0]["source"], "literal");
    assert_eq!(detail["processes"][0]["listeners"][0], "tcp 127.0.0.1:3000");
    assert_eq!(detail["processes"][0]["server_ids"][0], "s1");
    let html = viewer.get(&format!("/endpoints/{a}")).await.1;
    assert!(html.contains(r#"id="server-s1""#) && html.contains("/home/alice/.cursor/mcp.json"), "{html}");
    assert!(html.contains(&format!(r#"href="/credentials/locations?fingerprint={secret}""#)));
    assert!(html.contains("pid 4242") && html.contains("tcp 127.0.0.1:3000"), "{html}");

    for path in [
        "/api/v1/servers/list?ecosystem=npm",
        "/api/v1/servers/list?version=1.0.0",
        "/api/v1/servers/list?host=x",
        "/api/v1/endpoints?version=1.0.0",
        "/api/v1/credentials/locations?fingerprint=not-hex",
        "/api/v1/credentials/locations?location=body",
        "/api/v1/credentials/locations?source=unspecified",
        "/api/v1/credentials/locations?kind=github-pat",
        "/servers/list?cursor=zz",
        "/credentials/locations?source=4",
    ] {
        assert_eq!(viewer.get(path).await.0, 400, "{path}");
    }
    cp.stop().await.unwrap();
}

async fn findings_filter_ignoring_case_and_each_has_a_page_with_its_fix(cp: TestControlPlane) {
    seed(&cp).await;
    let viewer = sign_in(&cp, Role::Viewer).await;
    let items = |page: &Value| page["items"].as_array().unwrap().clone();

    // The API: rule, text and host filters ignore case; every finding carries its fix.
    let env = items(&viewer.json("/api/v1/findings?rule=muster-secret-env").await);
    assert_eq!(env.len(), 1);
    let fix = muster_control_plane::finding_catalog::remediation("MUSTER-SECRET-ENV");
    assert_eq!(env[0]["remediation"], fix);
    assert_eq!(env[0]["title"], muster_control_plane::finding_catalog::title("MUSTER-SECRET-ENV"));
    assert_eq!(env[0]["server_name"], SCRIPT);
    assert!(env[0]["config_path"].as_str().unwrap().ends_with("mcp.json"), "{}", env[0]);
    let vulnerable = items(&viewer.json("/api/v1/findings?q=mal-2025").await);
    assert_eq!(vulnerable.len(), 1);
    assert_eq!(vulnerable[0]["key"]["finding_id"], "MUSTER-PKG-VULNERABLE");
    let on_host = items(&viewer.json(&format!("/api/v1/findings?host={}", urlencode(&HOST.to_uppercase()))).await);
    assert_eq!(on_host.len(), 2, "the canary host's two findings");
    assert!(items(&viewer.json("/api/v1/findings?host=laptop-BOB").await).is_empty());

    // The list page names the fix and links each finding to its page.
    let list = viewer.page("/findings?rule=Muster-Secret-Env", "Findings").await;
    assert_eq!(list.matches("data-finding=").count(), 1);
    assert!(list.contains(r#"class="remediation""#) && list.contains("href=\"/findings/detail?key="), "{list}");

    // The finding's page: what, where, why, how to fix.
    let key = &env[0]["key"];
    let key =
        format!("{}/{}/{}", key["agent_id"].as_str().unwrap(), key["server_id"].as_str().unwrap(), "MUSTER-SECRET-ENV");
    let path = format!("/findings/detail?key={}", urlencode(&key));
    let (status, detail) = viewer.get(&path).await;
    assert_eq!(status, 200, "{detail}");
    for part in ["What", "Where", "Why it matters", "How to fix", "OWASP MCP01", "Token Mismanagement", "mcp.json"] {
        assert!(detail.contains(part), "{part} missing from the finding page");
    }
    assert!(detail.contains("No decision has been taken on this finding."));
    assert_no_raw_canary(&path, &detail);
    // A key of no finding is a 404 page; a malformed one or an unknown parameter a 400.
    let missing = format!("/findings/detail?key={}", urlencode(&key.replace("MUSTER-SECRET-ENV", "MUSTER-NOPE")));
    assert_eq!(viewer.get(&missing).await.0, 404);
    assert_eq!(viewer.get("/findings/detail?key=only-an-agent").await.0, 400);
    assert_eq!(viewer.get(&format!("{path}&x=1")).await.0, 400);
}

fn urlencode(text: &str) -> String {
    serde_urlencoded::to_string([("v", text)]).unwrap()[2..].to_string()
}

/// Issue 16: what the agents verified about each remote server's authentication is stored and
/// shown: per server on the endpoint page and in `/api/v1/endpoints/{id}` (posture word, what an
/// `oauth_partial` server lacks, why one is unknown, verified or not), per service on the
/// Services page and `/api/v1/services`, and as the endpoint list's `auth_posture` filter. An
/// `mcp-remote` bridge with no key, "None" from its configuration alone, reads OAuth once its
/// remote was verified to use it.
async fn remote_auth_posture_is_on_the_services_and_endpoint_pages_the_api_and_the_filter(cp: TestControlPlane) {
    let store = cp.state.store.clone();
    let now = unix_now();
    let auth = |posture: AuthPosture, verified: bool, missing: &[&str], reason: &str| RemoteAuth {
        posture: posture as i32,
        verified,
        missing: missing.iter().map(|m| m.to_string()).collect(),
        reason: reason.into(),
        ..Default::default()
    };
    let servers = [
        Srv { service: "zz-auth", remote: Some("mcp.partial.example"), ..srv("p1", "partial") },
        Srv { service: "zz-auth", remote: Some("mcp.offline.example"), ..srv("p2", "offline") },
        Srv { service: "zz-auth", ..srv("p3", "bridge") },
    ];
    let mut snap = snapshot("auth-host", 1, &["dana"], &servers, now);
    snap.servers[0].endpoint.as_mut().unwrap().auth =
        Some(auth(AuthPosture::OauthPartial, true, &["pkce_s256"], "refused without credentials (401)"));
    snap.servers[1].endpoint.as_mut().unwrap().auth =
        Some(auth(AuthPosture::Unknown, false, &[], "not probed: offline"));
    // `npx mcp-remote https://mcp.atlassian.com/v1/sse`: stdio, no key, its remote uses OAuth.
    snap.servers[2].endpoint = Some(RemoteEndpoint {
        host: "mcp.atlassian.com".into(),
        auth: Some(auth(AuthPosture::Oauth, true, &[], "")),
        ..Default::default()
    });
    let id = ingest(&store, snap, now).await;
    let other = [Srv { service: "zz-auth", remote: Some("open.example"), ..srv("o1", "open") }];
    let mut open = snapshot("open-host", 1, &["erin"], &other, now);
    open.servers[0].endpoint.as_mut().unwrap().auth =
        Some(auth(AuthPosture::None, true, &[], "answered initialize without credentials"));
    ingest(&store, open, now).await;
    let viewer = sign_in(&cp, Role::Viewer).await;

    let json = viewer.json(&format!("/api/v1/endpoints/{id}")).await;
    let server = |name: &str| {
        json["servers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("{name}"))
            .clone()
    };
    let partial = server("partial");
    assert_eq!(partial["auth_posture"], "oauth_partial");
    assert_eq!(partial["auth_verified"], true);
    assert_eq!(partial["auth_missing"], serde_json::json!(["pkce_s256"]));
    let offline = server("offline");
    assert_eq!((offline["auth_posture"].as_str(), offline["auth_verified"].as_bool()), (Some("unknown"), Some(false)));
    assert_eq!(offline["auth_reason"], "not probed: offline");
    let bridge = server("bridge");
    assert_eq!((bridge["auth_posture"].as_str(), bridge["auth"].as_str()), (Some("oauth"), Some("oauth")));

    let html = viewer.page(&format!("/endpoints/{id}"), "auth-host").await;
    let row = |name: &str| {
        let start = html.find(&format!(r#"<strong class="name">{name}</strong>"#)).unwrap_or_else(|| panic!("{name}"));
        html[start..start + html[start..].find("</tr>").unwrap()].to_string()
    };
    assert!(
        row("partial").contains("OAuth (partial)") && row("partial").contains("missing pkce_s256"),
        "{}",
        row("partial")
    );
    let offline_row = row("offline");
    assert!(offline_row.contains("Unknown") && offline_row.contains("not probed: offline"), "{offline_row}");
    assert!(offline_row.contains("(not verified)"), "{offline_row}");
    let bridge_row = row("bridge");
    assert!(bridge_row.contains(">OAuth<") && !bridge_row.contains(">None<"), "{bridge_row}");

    let services = viewer.json("/api/v1/services").await;
    let zz = services["items"].as_array().unwrap().iter().find(|s| s["service"] == "zz-auth").unwrap().clone();
    assert_eq!(
        zz["remote_auth"],
        serde_json::json!({"oauth": 1, "oauth_partial": 1, "static_key": 0, "none": 1, "unknown": 1})
    );
    // partial (verified), bridge (verified), offline (not verified: the configuration's guess for
    // a remote entry without credentials); the open one is verified none.
    assert_eq!((zz["auth"]["oauth"].as_i64(), zz["auth"]["none"].as_i64()), (Some(3), Some(1)), "{zz}");
    let page = viewer.page("/services", "Services").await;
    assert!(page.contains(r#"href="/endpoints?service=zz-auth&amp;auth_posture=oauth_partial""#), "{page}");
    assert!(page.contains("OAuth (partial) <strong>1</strong>"), "{page}");

    let listed = viewer.json("/api/v1/endpoints?auth_posture=none").await;
    let hosts: Vec<&str> =
        listed["items"].as_array().unwrap().iter().map(|e| e["hostname"].as_str().unwrap()).collect();
    assert_eq!(hosts, ["open-host"]);
    let list = viewer.page("/endpoints?auth_posture=oauth_partial", "Endpoints").await;
    assert!(list.contains("auth-host") && !list.contains("open-host"), "{list}");
    let (status, body) = viewer.get("/api/v1/endpoints?auth_posture=oauth-partial").await;
    assert_eq!(status, 400, "{body}");
    cp.stop().await.unwrap();
}

/// A reference credential of the given kind under `location` (no fingerprint: not a value).
fn reference(location: &str, kind: ReferenceKind) -> Credential {
    Credential {
        location: location.into(),
        kind: "reference".into(),
        source: CredentialSource::Reference as i32,
        provider: "github".into(),
        reference: "GITHUB_TOKEN".into(),
        reference_kind: kind as i32,
        ..Default::default()
    }
}

/// The numbers marked `distinct-secrets` and `secret-uses` (classes) on a page.
fn secret_counts(html: &str) -> (i64, i64) {
    let number_after = |marker: &str| -> i64 {
        let at = html.find(marker).unwrap_or_else(|| panic!("no {marker} in {html}")) + marker.len();
        html[at..].chars().take_while(char::is_ascii_digit).collect::<String>().parse().unwrap()
    };
    (number_after(r#"distinct-secrets">"#), number_after(r#"secret-uses">"#))
}

/// Issue 15, labels: a `${GITHUB_TOKEN}` reference was labelled "Secret store" like a 1Password
/// one, and "Literal secrets 4" counted uses, not the 3 distinct secrets. References say where
/// the secret is kept (an agent too old to say: kind unknown) on the Services and endpoint pages,
/// the credential list and the API; the Overview, the Credentials page, the endpoint page and the
/// API count distinct secrets and uses alike, live after each report and equal to a recount.
async fn references_say_where_the_secret_is_kept_and_secrets_are_counted_distinct_and_by_use(cp: TestControlPlane) {
    let store = cp.state.store.clone();
    let now = unix_now();
    let (one, two) = ("aaaa0000111122223333444455556666", "bbbb0000111122223333444455556666");
    let literal = |fingerprint: &'static str| Some((CredentialSource::Literal, fingerprint));
    let servers = |with_second_use: bool| {
        let mut s = vec![
            Srv { credential: literal(one), ..srv("k1", "keyed-one") },
            Srv { credential: literal(two), ..srv("k3", "keyed-three") },
            Srv { service: "zz-refs", ..srv("r1", "env-ref") },
            Srv { service: "zz-refs", ..srv("r2", "vault-ref") },
            Srv { service: "zz-refs", ..srv("r3", "old-agent-ref") },
        ];
        if with_second_use {
            s.push(Srv { credential: literal(one), ..srv("k2", "keyed-two") });
        }
        s
    };
    let with_references = |mut snapshot: InventorySnapshot| {
        for server in &mut snapshot.servers {
            match server.id.as_str() {
                "r1" => server.credentials = vec![reference("env:GITHUB_TOKEN", ReferenceKind::Environment)],
                "r2" => server.credentials = vec![reference("env:GITHUB_TOKEN", ReferenceKind::SecretManager)],
                "r3" => server.credentials = vec![reference("env:GITHUB_TOKEN", ReferenceKind::Unspecified)],
                _ => {}
            }
        }
        snapshot
    };
    let id = ingest(&store, with_references(snapshot("labels-host", 1, &["alice"], &servers(true), now)), now).await;
    let viewer = sign_in(&cp, Role::Viewer).await;

    // Labels: where each reference's secret is kept, on every page that shows it.
    let services = viewer.page("/services", "Services").await;
    assert!(!services.contains("Secret store"), "{services}");
    for label in ["Environment reference", "Secret manager", "Other reference"] {
        assert!(services.contains(&format!("{label} <strong>1</strong>")), "{label}: {services}");
    }
    let (_, body) = viewer.get("/api/v1/services").await;
    let json: Value = serde_json::from_str(&body).unwrap();
    let row = json["items"].as_array().unwrap().iter().find(|s| s["service"] == "zz-refs").expect("zz-refs listed");
    let auth = &row["auth"];
    assert_eq!(
        (auth["env_reference"].as_i64(), auth["secret_manager"].as_i64(), auth["reference"].as_i64()),
        (Some(1), Some(1), Some(1))
    );
    let endpoint = viewer.page(&format!("/endpoints/{id}"), "labels-host").await;
    for label in ["Environment reference", "Secret manager reference", "Reference (kind unknown)"] {
        assert!(endpoint.contains(label), "{label}: {endpoint}");
    }
    let (_, body) = viewer.get(&format!("/api/v1/endpoints/{id}")).await;
    for word in [
        r#""reference_kind":"environment""#,
        r#""reference_kind":"secret_manager""#,
        r#""reference_kind":"unspecified""#,
    ] {
        assert!(body.contains(word), "{word}: {body}");
    }
    let places = viewer.page("/credentials/locations?source=reference", "Where credentials are used").await;
    assert!(places.contains("Environment reference") && places.contains("Secret manager reference"), "{places}");
    let (_, body) = viewer.get("/api/v1/credentials/locations?source=reference").await;
    assert!(body.contains(r#""reference_kind":"secret_manager""#), "{body}");

    // Counts: 2 distinct secrets in 3 uses, the same on every page and in the API.
    let agree = |distinct: i64, uses: i64| {
        let viewer = &viewer;
        let id = id.clone();
        async move {
            let overview = viewer.page("/", "Overview").await;
            assert_eq!(secret_counts(&overview), (distinct, uses), "Overview");
            let credentials = viewer.page("/credentials", "Credentials").await;
            assert_eq!(secret_counts(&credentials), (distinct, uses), "Credentials");
            let endpoint = viewer.page(&format!("/endpoints/{id}"), "labels-host").await;
            assert_eq!(secret_counts(&endpoint), (distinct, uses), "endpoint page");
            let overview: Value = serde_json::from_str(&viewer.get("/api/v1/overview").await.1).unwrap();
            assert_eq!(
                (overview["literal_secrets_distinct"].as_i64(), overview["literal_secrets"].as_i64()),
                (Some(distinct), Some(uses))
            );
        }
    };
    agree(2, 3).await;
    assert!(viewer.page("/", "Overview").await.contains("Literal secrets"), "the card's label");

    // A report that drops one use of a secret keeps it distinct; one that drops a secret's last
    // use drops it: at once, and as a recount says.
    let report = |sequence: u64, servers: &[Srv]| Report {
        sequence,
        base_sequence: 0,
        body: ReportBody::Full(with_references(snapshot("labels-host", 1, &["alice"], servers, now))),
        policy: None,
    };
    store.ingest(&id, &report(2, &servers(false)), now).await.unwrap();
    agree(2, 2).await;
    let without_two: Vec<Srv> = servers(false).into_iter().filter(|s| s.id != "k3").collect();
    store.ingest(&id, &report(3, &without_two), now).await.unwrap();
    agree(1, 1).await;
    let live = store.secret_totals().await.unwrap();
    store.rebuild_rollups().await.unwrap();
    assert_eq!(store.secret_totals().await.unwrap(), live, "the live counts equal a recount");
    cp.stop().await.unwrap();
}

/// Issue 15: on a fresh install the trend chart showed 0 endpoints online while the card above
/// it said 1 (the chart read the daily point the startup rollup wrote before the first report),
/// and the text said "1 endpoints enrolled". The chart's last point is the cards' numbers.
async fn a_fresh_install_with_one_reporting_agent_shows_one_endpoint_on_the_card_and_the_chart(cp: TestControlPlane) {
    let store = cp.state.store.clone();
    // The startup rollup writes today's point of the empty fleet, as a fresh install's does.
    let started = support::eventually(std::time::Duration::from_secs(30), || {
        let store = store.clone();
        async move { store.overview(unix_now(), 0).await.unwrap().rollup_refreshed_at.is_some() }
    })
    .await;
    assert!(started, "the startup rollup refresh did not run");
    let now = unix_now();
    ingest(&store, snapshot("first-laptop", 1, &["alice"], &[srv("f1", "first")], now), now).await;
    let viewer = sign_in(&cp, Role::Viewer).await;
    let overview = viewer.page("/", "Overview").await;
    assert!(overview.contains("1 endpoint enrolled."), "{overview}");
    let card = {
        let at = overview.find("Endpoints online</span>").expect("the card");
        let value = &overview[at..];
        let start = value.find(r#"class="stat-value">"#).unwrap() + r#"class="stat-value">"#.len();
        value[start..].chars().take_while(char::is_ascii_digit).collect::<String>()
    };
    assert_eq!(card, "1", "{overview}");
    // The chart's online series: its last point's tooltip names its value.
    let series = &overview[overview.find(r#"class="series s-online""#).expect("the online series")..];
    let series = &series[..series.find("</g>").unwrap()];
    let last = series.rsplit("<title>").next().unwrap();
    let last = &last[..last.find("</title>").unwrap()];
    assert!(last.ends_with(&format!(": {card} Endpoints online")), "card {card}, chart's last point {last}");
    cp.stop().await.unwrap();
}
