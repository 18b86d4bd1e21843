//! The operations pages and their JSON API through real HTTPS against an in-process control plane
//! (`TestControlPlane`) holding an inventory reported over real mTLS gRPC: findings (filters,
//! acknowledge / waive / clear by form and by API, the open-redirect guard), activity, agents and
//! enrollment tokens, webhooks with a real delivery, the audit log, settings, the exception
//! queue (list, filters, request page, admin-only approve and deny forms), and escaping of
//! hostile names. Every case runs on SQLite and on PostgreSQL.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use http::HeaderMap;
use muster_control_plane::access::{accounts, api_tokens};
use muster_control_plane::config::HttpConfig;
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
        self.report_with_host_findings(servers, vec![]).await;
    }

    /// Reports `servers` and host-wide `findings` (no server id) as the agent's full inventory.
    async fn report_with_host_findings(&mut self, servers: Vec<McpServer>, findings: Vec<Finding>) {
        self.sequence += 1;
        let mut client = support::inventory(&self.cp, &self.agent).await;
        let mut request = support::full_report(&self.agent.id, self.sequence, servers);
        if let Some(muster_proto::v1::report_request::Body::Full(snapshot)) = request.body.as_mut() {
            snapshot.findings = findings;
        }
        client.report(request).await.unwrap();
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
        api_tokens::create_api_token(self.cp.store(), "test", role, Duration::from_secs(3600), "test", unix_now())
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

on_both!(
    pages_answer_their_role_and_refuse_lower_ones,
    findings_filters_narrow_the_page_and_the_api,
    decisions_round_trip_through_the_form_and_are_audited,
    decisions_round_trip_through_the_api,
    decision_redirects_go_only_to_local_paths,
    activity_lists_change_events_filtered_by_kind_and_host,
    enrollment_tokens_are_shown_once_and_stored_hashed,
    agents_are_listed_and_revoked_only_when_confirmed,
    webhooks_are_created_deleted_and_log_a_real_delivery,
    settings_add_users_and_api_tokens,
    audit_log_pages_newest_first,
    hostile_names_render_as_text,
    host_wide_findings_are_decided_one_by_one,
    exception_queue_lists_waiting_first_filters_and_escapes,
    exception_requests_are_decided_by_admins_through_the_forms_and_audited,
);

// ---------------------------------------------------------------------------------------------
// Cases

async fn pages_answer_their_role_and_refuse_lower_ones(ops: Ops) -> Ops {
    let hook = muster_control_plane::webhook::register(
        ops.cp.store(),
        "https://hooks.example.test/x",
        muster_proto::v1::Severity::High,
    )
    .await
    .unwrap();
    let webhook_page = format!("/webhooks/{}", hook.id);
    let pages: [(&str, &str, Role); 7] = [
        ("/findings", "Findings", Role::Viewer),
        ("/activity", "Activity", Role::Viewer),
        ("/agents", "Agents", Role::Viewer),
        ("/webhooks", "Webhooks", Role::Admin),
        (&webhook_page, "Webhook deliveries", Role::Admin),
        ("/audit", "Audit log", Role::Admin),
        ("/settings", "Settings", Role::Admin),
    ];
    let browsers = [
        (Role::Viewer, ops.login("vera").await),
        (Role::Analyst, ops.login("ann").await),
        (Role::Admin, ops.login("root").await),
    ];
    for (path, title, least) in pages {
        for (role, browser) in &browsers {
            let (status, page) = ops.page(browser, path).await;
            if *role >= least {
                assert_eq!(status, 200, "{role} on {path}");
                assert_eq!(h1_count(&page), 1, "{path}: one h1");
                assert!(page.contains(&format!("<h1>{title}</h1>")), "{path}: title {title}");
                assert!(page.contains("<table class=\"data") || page.contains("class=\"empty\""), "{path}");
            } else {
                assert_eq!(status, 403, "{role} on {path}");
            }
        }
        // Anonymous browsers are sent to sign in.
        let anonymous = ops.http.get(ops.url(path)).send().await.unwrap();
        assert_eq!(anonymous.status(), 303, "{path}");
    }
    ops
}

async fn findings_filters_narrow_the_page_and_the_api(ops: Ops) -> Ops {
    let viewer = ops.login("vera").await;
    let token = ops.token(Role::Viewer).await;
    let id = ops.agent.id.clone();
    let a = key_of(&id, "a", "MUSTER-SECRET-ENV");
    let b = key_of(&id, "b", "MUSTER-UNPINNED");
    let x = key_of(&id, "x", "MUSTER-SHELL");
    let cases: [(&str, Vec<&String>); 8] = [
        ("", vec![&x, &a, &b]),
        ("severity=high", vec![&x, &a]),
        ("severity=critical", vec![&x]),
        ("owasp=MCP05", vec![&b]),
        ("client=claude-code", vec![&b]),
        ("user=bob", vec![&b]),
        ("service=github", vec![&a]),
        ("severity=high&client=claude-code", vec![]),
    ];
    for (query, expected) in cases {
        let rows = ops.finding_rows(&viewer, &format!("/findings?{query}")).await;
        assert_eq!(rows.iter().collect::<Vec<_>>(), expected, "page ?{query}");
        let (status, body) = ops.api_get(&token, &format!("/api/v1/findings?{query}")).await;
        assert_eq!(status, 200, "{body}");
        let keys: Vec<String> = body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                key_of(
                    f["key"]["agent_id"].as_str().unwrap(),
                    f["key"]["server_id"].as_str().unwrap(),
                    f["key"]["finding_id"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(keys.iter().collect::<Vec<_>>(), expected, "api ?{query}");
    }
    // The filter form keeps what was chosen; an empty result says so.
    let (_, page) = ops.page(&viewer, "/findings?severity=high&client=claude-code").await;
    assert!(page.contains("<form class=\"filters\" method=\"get\""));
    assert!(page.contains("<option value=\"high\" selected>"), "severity stays selected");
    assert!(page.contains("value=\"claude-code\""));
    assert!(page.contains("class=\"empty\""));
    // Keyset pages: one finding per page, following rel=next, without gaps or repeats.
    let mut seen = Vec::new();
    let mut path = "/findings?limit=1".to_string();
    loop {
        let (_, page) = ops.page(&viewer, &path).await;
        seen.extend(attribute_values(&page, "data-finding"));
        let Some(next) = page.split("rel=\"next\" href=\"").nth(1) else { break };
        path = next.split('"').next().unwrap().replace("&amp;", "&");
        assert!(path.contains("limit=1"), "next keeps the filters: {path}");
    }
    assert_eq!(seen, vec![x.clone(), a.clone(), b.clone()]);
    // Bad filters are refused, not ignored.
    assert_eq!(ops.api_get(&token, "/api/v1/findings?severity=urgent").await.0, 400);
    assert_eq!(ops.api_get(&token, "/api/v1/findings?state=closed").await.0, 400);
    // The OCSF download is offered and works for this viewer's session.
    assert!(page.contains("href=\"/api/v1/export/findings.ocsf.jsonl\""));
    let ocsf = ops
        .http
        .get(ops.url("/api/v1/export/findings.ocsf.jsonl"))
        .header("cookie", &viewer.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(ocsf.status(), 200);
    assert_eq!(ocsf.text().await.unwrap().lines().count(), 3);
    ops
}

async fn decisions_round_trip_through_the_form_and_are_audited(ops: Ops) -> Ops {
    let analyst = ops.login("ann").await;
    let viewer = ops.login("vera").await;
    let id = ops.agent.id.clone();
    let key = key_of(&id, "a", "MUSTER-SECRET-ENV");
    let fields = |action: &'static str| {
        vec![
            ("agent_id", id.clone()),
            ("server_id", "a".to_string()),
            ("finding_id", "MUSTER-SECRET-ENV".to_string()),
            ("action", action.to_string()),
            ("next", "/findings?severity=high".to_string()),
        ]
    };
    let post = |extra: Vec<(&'static str, String)>| {
        let ops = &ops;
        let analyst = analyst.clone();
        async move {
            let pairs: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
            ops.post_form(&analyst, "/findings/decision", &pairs).await
        }
    };
    let state_of = |page: &str| {
        let row =
            page.split(&format!("data-finding=\"{key}\"")).nth(1).unwrap().split("</tr>").next().unwrap().to_string();
        ["acknowledged", "waived", "open"].into_iter().find(|s| row.contains(&format!("state-{s}\""))).unwrap()
    };

    // The analyst sees the forms of the agreed markup.
    let (_, page) = ops.page(&analyst, "/findings").await;
    for needle in [
        "action=\"/findings/decision\"",
        "name=\"action\" value=\"acknowledge\"",
        "name=\"action\" value=\"waive\"",
        "name=\"reason\"",
        "type=\"date\" name=\"expires\"",
    ] {
        assert!(page.contains(needle), "missing {needle}");
    }
    assert_eq!(state_of(&page), "open");

    // Acknowledge: 303 back to where the form came from.
    let response = post(fields("acknowledge")).await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/findings?severity=high");
    let (_, page) = ops.page(&analyst, "/findings").await;
    assert_eq!(state_of(&page), "acknowledged");
    assert!(page.contains("name=\"action\" value=\"clear\""), "decided findings offer clear");

    // A waiver needs a reason and a future expiry.
    let mut no_reason = fields("waive");
    no_reason.push(("expires", date_in(7)));
    let response = post(no_reason).await;
    assert_eq!(response.status(), 400);
    assert!(response.text().await.unwrap().contains("a waiver needs a reason"));
    let mut past = fields("waive");
    past.extend([("reason", "accepted".to_string()), ("expires", date_in(-2))]);
    assert_eq!(post(past).await.status(), 400);
    let mut no_date = fields("waive");
    no_date.push(("reason", "accepted".to_string()));
    assert_eq!(post(no_date).await.status(), 400);
    let (_, page) = ops.page(&analyst, "/findings").await;
    assert_eq!(state_of(&page), "acknowledged", "refused waivers change nothing");

    let mut waive = fields("waive");
    waive.extend([("reason", "vendor fix due next sprint".to_string()), ("expires", date_in(7))]);
    assert_eq!(post(waive).await.status(), 303);
    let (_, page) = ops.page(&viewer, "/findings").await;
    assert_eq!(state_of(&page), "waived");
    assert!(page.contains("vendor fix due next sprint"));
    assert_eq!(ops.finding_rows(&viewer, "/findings?state=waived").await, vec![key.clone()]);
    assert!(!ops.finding_rows(&viewer, "/findings?state=open").await.contains(&key));
    // Viewers see the state but get no forms, and cannot post one.
    assert!(!page.contains("action=\"/findings/decision\""));
    let refused = ops
        .post_form(
            &viewer,
            "/findings/decision",
            &[("agent_id", &id), ("server_id", "a"), ("finding_id", "MUSTER-SECRET-ENV"), ("action", "clear")],
        )
        .await;
    assert_eq!(refused.status(), 403);

    // Without the session's CSRF token the form is refused.
    let forged = ops
        .http
        .post(ops.url("/findings/decision"))
        .header("cookie", &analyst.cookie)
        .form(&[
            ("agent_id", id.as_str()),
            ("server_id", "a"),
            ("finding_id", "MUSTER-SECRET-ENV"),
            ("action", "clear"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    let (_, page) = ops.page(&analyst, "/findings").await;
    assert_eq!(state_of(&page), "waived");

    assert_eq!(post(fields("clear")).await.status(), 303);
    let (_, page) = ops.page(&analyst, "/findings").await;
    assert_eq!(state_of(&page), "open");

    // Everything is in the audit log, under the analyst's name, and on the admin's audit page.
    let audit = ops.audit_actions().await;
    for action in ["finding.acknowledge", "finding.waive", "finding.clear"] {
        assert!(
            audit.iter().any(|(who, what, outcome)| who == "ann" && what == action && outcome == "success"),
            "{action}: {audit:?}"
        );
    }
    assert!(audit.iter().any(|(who, what, outcome)| who == "ann" && what == "finding.waive" && outcome == "failure"));
    let admin = ops.login("root").await;
    let (_, page) = ops.page(&admin, "/audit").await;
    assert!(page.contains("finding.waive") && page.contains("vendor fix due next sprint"));
    assert!(page.contains(&key), "the audit page names the finding");
    ops
}

async fn decisions_round_trip_through_the_api(ops: Ops) -> Ops {
    let analyst = ops.token(Role::Analyst).await;
    let viewer = ops.token(Role::Viewer).await;
    let key = json!({"agent_id": ops.agent.id, "server_id": "b", "finding_id": "MUSTER-UNPINNED"});
    let in_week = unix_now() + 7 * 86_400;
    let path = "/api/v1/findings/decisions";
    let waive = json!({"key": key, "action": "waive", "reason": "internal mirror", "expires_at": in_week});
    assert_eq!(ops.api_post(&viewer, path, &waive).await.0, 403, "viewers do not decide");
    let (status, body) =
        ops.api_post(&analyst, path, &json!({"key": key, "action": "waive", "expires_at": in_week})).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("reason"));
    let (status, _) = ops.api_post(&analyst, path, &json!({"key": key, "action": "waive", "reason": "x"})).await;
    assert_eq!(status, 400, "a waiver needs an expiry");
    let (status, _) = ops
        .api_post(&analyst, path, &json!({"key": key, "action": "waive", "reason": "x", "expires_at": unix_now() - 1}))
        .await;
    assert_eq!(status, 400, "a waiver expires in the future");
    let (status, body) = ops.api_post(&analyst, path, &waive).await;
    assert_eq!((status, body["state"].as_str()), (StatusCode::OK, Some("waived")), "{body}");

    let (_, listed) = ops.api_get(&viewer, "/api/v1/findings?state=waived").await;
    let items = listed["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["key"], key);
    assert_eq!(items[0]["decision"]["kind"], "waived");
    assert_eq!(items[0]["decision"]["reason"], "internal mirror");
    assert_eq!(items[0]["decision"]["expires_at"], in_week);
    assert!(items[0]["decision"]["decided_by"].as_str().unwrap().starts_with("token:"));
    // And on the page.
    let browser = ops.login("vera").await;
    let (_, page) = ops.page(&browser, "/findings?state=waived").await;
    assert!(page.contains("badge state-waived") && page.contains("internal mirror"));

    let ack = json!({"key": key, "action": "acknowledge"});
    assert_eq!(ops.api_post(&analyst, path, &ack).await.1["state"], "acknowledged");
    let clear = json!({"key": key, "action": "clear"});
    assert_eq!(ops.api_post(&analyst, path, &clear).await.1["state"], "open");
    assert_eq!(ops.api_post(&analyst, path, &clear).await.0, 404, "nothing left to clear");
    let unknown =
        json!({"key": {"agent_id": ops.agent.id, "server_id": "b", "finding_id": "NOPE"}, "action": "acknowledge"});
    assert_eq!(ops.api_post(&analyst, path, &unknown).await.0, 404);
    let (status, _) = ops.api_post(&analyst, path, &json!({"key": key, "action": "ignore"})).await;
    assert!(status.is_client_error());
    let audit = ops.audit_actions().await;
    for action in ["finding.waive", "finding.acknowledge", "finding.clear"] {
        assert!(audit.iter().any(|(who, what, _)| who.starts_with("token:") && what == action), "{action}");
    }
    ops
}

async fn decision_redirects_go_only_to_local_paths(ops: Ops) -> Ops {
    let analyst = ops.login("ann").await;
    let id = ops.agent.id.clone();
    for (next, expected) in [
        ("//evil.example", "/findings"),
        ("/\\evil", "/findings"),
        ("https://evil", "/findings"),
        ("javascript:alert(1)", "/findings"),
        ("/findings?state=open", "/findings?state=open"),
    ] {
        let fields = [
            ("agent_id", id.as_str()),
            ("server_id", "a"),
            ("finding_id", "MUSTER-SECRET-ENV"),
            ("action", "acknowledge"),
            ("next", next),
        ];
        let response = ops.post_form(&analyst, "/findings/decision", &fields).await;
        assert_eq!(response.status(), 303, "{next}");
        assert_eq!(response.headers()["location"], expected, "{next}");
    }
    ops
}

async fn activity_lists_change_events_filtered_by_kind_and_host(mut ops: Ops) -> Ops {
    // Server b disappears, a changes.
    let mut servers = fleet();
    servers.retain(|s| s.id != "b");
    servers[0].command = "npx-changed".into();
    ops.report(servers).await;
    let viewer = ops.login("vera").await;
    let token = ops.token(Role::Viewer).await;
    // Server events only: findings appearing and resolving have their own test.
    let kinds = |page: &str| -> Vec<String> {
        page.match_indices("class=\"badge change-")
            .map(|(at, _)| page[at + 20..].split('"').next().unwrap().to_string())
            .filter(|kind| !kind.starts_with("finding_"))
            .collect()
    };
    let (_, page) = ops.page(&viewer, "/activity").await;
    let all = kinds(&page);
    assert_eq!(all.iter().filter(|k| *k == "appeared").count(), 3, "{all:?}");
    assert_eq!(all.iter().filter(|k| *k == "disappeared").count(), 1);
    assert_eq!(all.iter().filter(|k| *k == "changed").count(), 1);
    assert!(page.contains(&format!("href=\"/endpoints/{}\"", ops.agent.id)));
    let mut newest: Vec<&str> = all[..2].iter().map(String::as_str).collect();
    newest.sort_unstable();
    assert_eq!(newest, ["changed", "disappeared"], "newest first: {all:?}");
    let (_, page) = ops.page(&viewer, "/activity?kind=disappeared").await;
    assert_eq!(kinds(&page), vec!["disappeared"]);
    assert!(page.contains("server-b"));
    let (_, page) = ops.page(&viewer, "/activity?host=LAPTOP-1").await;
    assert_eq!(kinds(&page).len(), 5, "hostnames match without case");
    let (_, page) = ops.page(&viewer, "/activity?host=other-laptop").await;
    assert!(kinds(&page).is_empty() && page.contains("class=\"empty\""));
    let (status, body) =
        ops.api_get(&token, &format!("/api/v1/activity?kind=appeared&host={}&limit=2", ops.agent.id)).await;
    assert_eq!(status, 200);
    assert_eq!(body["items"].as_array().unwrap().len(), 2);
    let cursor = body["next_cursor"].as_str().expect("a next page").to_string();
    let (_, rest) = ops.api_get(&token, &format!("/api/v1/activity?kind=appeared&limit=2&cursor={cursor}")).await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    assert!(rest["next_cursor"].is_null());
    assert_eq!(ops.api_get(&token, "/api/v1/activity?kind=exploded").await.0, 400);

    // What changed, and time ranges, in the API and the page.
    let (_, changed) = ops.api_get(&token, "/api/v1/activity?kind=changed").await;
    assert_eq!(changed["items"][0]["changes"][0]["field"], "command", "{changed}");
    assert!(changed["items"][0]["changes"][0].get("after").is_none(), "no value of an unknown command: {changed}");
    let (_, resolved) = ops.api_get(&token, "/api/v1/activity?kind=finding_resolved").await;
    assert!(!resolved["items"].as_array().unwrap().is_empty(), "server b's findings resolved: {resolved}");
    assert_eq!(resolved["items"][0]["finding_id"].as_str().map(|id| id.starts_with("MUSTER-")), Some(true));
    let count = |body: &serde_json::Value| body["items"].as_array().unwrap().len();
    let (_, all) = ops.api_get(&token, "/api/v1/activity?limit=500").await;
    let (_, today) = ops.api_get(&token, "/api/v1/activity?range=today&limit=500").await;
    let (_, week) = ops.api_get(&token, "/api/v1/activity?range=7d&limit=500").await;
    assert_eq!((count(&today), count(&week)), (count(&all), count(&all)));
    let (_, old) = ops.api_get(&token, "/api/v1/activity?range=custom&from=2001-01-01&to=2001-01-31").await;
    assert_eq!(count(&old), 0);
    let (_, open_ended) = ops.api_get(&token, "/api/v1/activity?from=2001-01-01").await;
    assert_eq!(count(&open_ended), count(&all).min(50));
    for bad in ["range=yesterday", "from=2001-02-30", "from=2001-02-02&to=2001-02-01", "range=today&from=2001-01-01"] {
        assert_eq!(ops.api_get(&token, &format!("/api/v1/activity?{bad}")).await.0, 400, "{bad}");
    }
    let (_, page) = ops.page(&viewer, "/activity?range=custom&from=2001-01-01&to=2001-01-31").await;
    assert!(kinds(&page).is_empty() && page.contains("From 2001-01-01 00:00 UTC until 2001-02-01 00:00 UTC"));
    let (_, page) = ops.page(&viewer, "/activity?kind=changed").await;
    assert!(page.contains("<li data-field=\"command\">command changed</li>"), "{page}");
    ops
}

async fn enrollment_tokens_are_shown_once_and_stored_hashed(ops: Ops) -> Ops {
    let admin = ops.login("root").await;
    let response = ops.post_form(&admin, "/agents/tokens", &[("max_uses", "2"), ("ttl", "1h")]).await;
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let page = response.text().await.unwrap();
    let token = element_text(&page, "secret").expect("the token on the result page");
    assert!(token.starts_with("mst_"), "{token}");
    let secret_part = token.rsplit('_').next().unwrap().to_string();
    assert!(page.contains(ops.cp.ca_fingerprint()), "the enroll command carries the CA pin");

    // Never again: not on the agents page, not in the API, not in the database.
    let (_, agents) = ops.page(&admin, "/agents").await;
    assert!(!agents.contains(&secret_part));
    let id = token.split('_').nth(1).unwrap().to_string();
    assert!(agents.contains(&format!("data-token=\"{id}\"")));
    let admin_token = ops.token(Role::Admin).await;
    let (_, listed) = ops.api_get(&admin_token, "/api/v1/admin/enrollment-tokens").await;
    assert!(!listed.to_string().contains(&secret_part));
    assert!(listed.as_array().unwrap().iter().any(|t| t["id"] == id.as_str() && t["max_uses"] == 2 && t["uses"] == 0));
    assert_database_lacks(&ops, &secret_part).await;

    // It is a real token: an agent enrolls with it, and not after it is revoked.
    support::try_enroll(&ops.cp, &token).await.expect("enrollment with the new token");
    let response = ops.post_form(&admin, &format!("/agents/tokens/{id}/revoke"), &[]).await;
    assert_eq!(response.status(), 303);
    assert!(support::try_enroll(&ops.cp, &token).await.is_err());
    let (_, agents) = ops.page(&admin, "/agents").await;
    assert!(agents.contains("token-revoked"));

    // The API: create (shown once), bad lifetimes refused, revoke.
    let path = "/api/v1/admin/enrollment-tokens";
    let (status, created) = ops.api_post(&admin_token, path, &json!({"max_uses": 0, "ttl": "7d"})).await;
    assert_eq!(status, 201);
    let api_token = created["token"].as_str().unwrap().to_string();
    assert_database_lacks(&ops, api_token.rsplit('_').next().unwrap()).await;
    assert_eq!(ops.api_post(&admin_token, path, &json!({"max_uses": 1, "ttl": "400d"})).await.0, 400);
    assert_eq!(ops.api_post(&admin_token, path, &json!({"max_uses": 1, "ttl": "soon"})).await.0, 400);
    let revoke = format!("{path}/{}/revoke", created["id"].as_str().unwrap());
    assert_eq!(ops.api_post(&admin_token, &revoke, &json!({})).await.0, 204);
    assert_eq!(ops.api_post(&admin_token, &revoke, &json!({})).await.0, 404);
    let analyst = ops.login("ann").await;
    let (_, page) = ops.page(&analyst, "/agents").await;
    assert!(!page.contains("Enrollment tokens"), "only admins see tokens");
    let audit = ops.audit_actions().await;
    assert!(audit.iter().any(|(who, what, _)| who == "root" && what == "enrollment_token.create"));
    assert!(audit.iter().any(|(who, what, _)| who == "root" && what == "enrollment_token.revoke"));
    ops
}

/// Neither the SQLite files nor any PostgreSQL row holds `needle`.
async fn assert_database_lacks(ops: &Ops, needle: &str) {
    match &ops.pg_url {
        Some(url) => {
            let rows = muster_control_plane::store::PostgresStore::dump_rows_as_text(url).await.unwrap();
            assert!(!rows.is_empty());
            assert!(!rows.iter().any(|row| row.contains(needle)), "a token is stored in clear");
        }
        None => {
            let mut checked = 0;
            for entry in std::fs::read_dir(ops.cp.data_dir()).unwrap() {
                let path = entry.unwrap().path();
                if path.file_name().unwrap().to_string_lossy().starts_with("muster.db") {
                    let bytes = std::fs::read(&path).unwrap();
                    assert!(!String::from_utf8_lossy(&bytes).contains(needle), "{} holds a token", path.display());
                    checked += 1;
                }
            }
            assert!(checked > 0);
        }
    }
}

async fn agents_are_listed_and_revoked_only_when_confirmed(ops: Ops) -> Ops {
    let admin = ops.login("root").await;
    let viewer = ops.login("vera").await;
    let id = ops.agent.id.clone();
    let (_, page) = ops.page(&viewer, "/agents").await;
    let row = page.split(&format!("data-agent=\"{id}\"")).nth(1).unwrap().split("</tr>").next().unwrap().to_string();
    assert!(row.contains("status-online"), "{row}");
    assert!(row.contains("0.1.0-test") && row.contains("laptop-1"));
    assert!(page.contains("class=\"bars\""), "version distribution");
    assert!(!page.contains("/revoke\""), "viewers get no revoke button");
    let (_, page) = ops.page(&admin, "/agents").await;
    assert!(page.contains(&format!("action=\"/agents/{id}/revoke\"")));
    assert!(page.contains("name=\"confirm\""));

    let unconfirmed = ops.post_form(&admin, &format!("/agents/{id}/revoke"), &[]).await;
    assert_eq!(unconfirmed.status(), 400);
    assert_eq!(ops.cp.store().agent(&id).await.unwrap().unwrap().status.as_str(), "active");
    let analyst = ops.login("ann").await;
    assert_eq!(ops.post_form(&analyst, &format!("/agents/{id}/revoke"), &[("confirm", "yes")]).await.status(), 403);
    let revoked = ops.post_form(&admin, &format!("/agents/{id}/revoke"), &[("confirm", "yes")]).await;
    assert_eq!(revoked.status(), 303);
    assert_eq!(revoked.headers()["location"], "/agents");
    assert_eq!(ops.cp.store().agent(&id).await.unwrap().unwrap().status.as_str(), "revoked");
    // The control plane refuses the revoked agent's reports at once.
    let refused = support::try_report_with(
        &ops.cp,
        Some((&ops.agent.chain_pem, &ops.agent.key_pem)),
        support::full_report(&id, 99, fleet()),
    )
    .await;
    assert!(refused.is_err());
    let (_, page) = ops.page(&viewer, "/agents?status=revoked").await;
    assert!(page.contains("status-revoked") && page.contains(&id));
    let (_, page) = ops.page(&viewer, "/agents?status=active").await;
    assert!(!page.contains(&format!("data-agent=\"{id}\"")));

    let token = ops.token(Role::Viewer).await;
    let (_, body) = ops.api_get(&token, "/api/v1/agents").await;
    assert_eq!(body["items"][0]["id"], id.as_str());
    assert_eq!(body["items"][0]["status"], "revoked");
    let (_, versions) = ops.api_get(&token, "/api/v1/agents/versions").await;
    assert_eq!(versions, json!([{"version": "0.1.0-test", "agents": 1}]));
    assert!(
        ops.audit_actions()
            .await
            .iter()
            .any(|(who, what, outcome)| who == "root" && what == "agent.revoke" && outcome == "success")
    );
    ops
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

async fn webhooks_are_created_deleted_and_log_a_real_delivery(mut ops: Ops) -> Ops {
    let admin = ops.login("root").await;
    let (url, received) = receiver().await;
    let response = ops.post_form(&admin, "/webhooks", &[("url", &url), ("min_severity", "high")]).await;
    assert_eq!(response.status(), 201);
    let page = response.text().await.unwrap();
    let secret = element_text(&page, "secret").unwrap();
    assert!(secret.starts_with("whsec_"));
    let (_, list) = ops.page(&admin, "/webhooks").await;
    assert!(list.contains(&url) && !list.contains(&secret));
    let id = attribute_values(&list, "data-webhook").pop().unwrap();

    // A new critical finding is announced to the receiver, signed with that secret.
    let mut servers = fleet();
    servers[0].findings.push(finding("MUSTER-NEW", 5, "MCP02", "new critical", "a"));
    ops.report(servers).await;
    let delivered = support::eventually(Duration::from_secs(20), || async {
        let (_, page) = ops.page(&admin, &format!("/webhooks/{id}")).await;
        page.contains("delivery-delivered")
    })
    .await;
    assert!(delivered, "the delivery log shows a delivery");
    let bodies = received.bodies.lock().unwrap().clone();
    let (headers, body) = bodies.iter().find(|(_, body)| String::from_utf8_lossy(body).contains("MUSTER-NEW")).unwrap();
    let header = headers[signature::SIGNATURE_HEADER].to_str().unwrap();
    signature::verify(secret.as_bytes(), header, body, unix_now(), DEFAULT_TOLERANCE).unwrap();
    let (_, log) = ops.page(&admin, &format!("/webhooks/{id}")).await;
    assert_eq!(element_text(&log, "response-code").as_deref(), Some("200"));
    assert!(!log.contains(&secret));
    let token = ops.token(Role::Admin).await;
    let (status, deliveries) = ops.api_get(&token, &format!("/api/v1/admin/webhooks/{id}/deliveries")).await;
    assert_eq!(status, 200);
    assert_eq!(deliveries[0]["status"], "delivered");
    assert_eq!(deliveries[0]["response_code"], 200);
    assert_eq!(deliveries[0]["attempt"], 1);
    let (_, hooks) = ops.api_get(&token, "/api/v1/admin/webhooks").await;
    assert!(!hooks.to_string().contains(&secret));

    // Delete through the page; the API create / delete pair too.
    assert_eq!(ops.post_form(&admin, &format!("/webhooks/{id}/delete"), &[]).await.status(), 303);
    let (_, list) = ops.page(&admin, "/webhooks").await;
    assert!(!list.contains(&id));
    assert_eq!(ops.page(&admin, &format!("/webhooks/{id}")).await.0, 404);
    let path = "/api/v1/admin/webhooks";
    assert_eq!(ops.api_post(&token, path, &json!({"url": "ftp://x.example/h"})).await.0, 400);
    assert_eq!(ops.api_post(&token, path, &json!({"url": "https://x.example/h", "min_severity": "low"})).await.0, 400);
    let (status, created) =
        ops.api_post(&token, path, &json!({"url": "https://x.example/h", "min_severity": "critical"})).await;
    assert_eq!(status, 201);
    assert_eq!(created["min_severity"], "critical");
    let delete = |id: String| {
        let ops = &ops;
        let token = token.clone();
        async move { ops.http.delete(ops.url(&format!("{path}/{id}"))).bearer_auth(&token).send().await.unwrap().status() }
    };
    assert_eq!(delete(created["id"].as_str().unwrap().to_string()).await, 204);
    assert_eq!(delete(created["id"].as_str().unwrap().to_string()).await, 404);
    let audit = ops.audit_actions().await;
    assert!(audit.iter().any(|(who, what, _)| who == "root" && what == "webhook.create"));
    assert!(audit.iter().any(|(who, what, _)| who == "root" && what == "webhook.delete"));
    ops
}

async fn settings_add_users_and_api_tokens(ops: Ops) -> Ops {
    let admin = ops.login("root").await;
    let fields = [("username", "newbie"), ("role", "analyst"), ("password", PASSWORD)];
    let response = ops.post_form(&admin, "/settings/users", &fields).await;
    assert_eq!(response.status(), 303);
    let newbie = ops.login("newbie").await;
    let (status, _) = ops.page(&newbie, "/findings").await;
    assert_eq!(status, 200);
    assert_eq!(ops.page(&newbie, "/settings").await.0, 403);
    let stored = ops.cp.store().user("newbie").await.unwrap().unwrap();
    assert!(stored.password_hash.unwrap().starts_with("$argon2id$"));
    assert_eq!(ops.post_form(&admin, "/settings/users", &fields).await.status(), 400, "no duplicate users");
    let short = [("username", "shorty"), ("role", "viewer"), ("password", "short")];
    assert_eq!(ops.post_form(&admin, "/settings/users", &short).await.status(), 400);
    let bad_role = [("username", "x1"), ("role", "root"), ("password", PASSWORD)];
    assert_eq!(ops.post_form(&admin, "/settings/users", &bad_role).await.status(), 400);

    let response =
        ops.post_form(&admin, "/settings/api-tokens", &[("name", "siem"), ("role", "viewer"), ("ttl", "30d")]).await;
    assert_eq!(response.status(), 201);
    let token = element_text(&response.text().await.unwrap(), "secret").unwrap();
    let (status, whoami) = ops.api_get(&token, "/api/v1/whoami").await;
    assert_eq!((status, whoami["role"].as_str()), (StatusCode::OK, Some("viewer")));
    let (_, page) = ops.page(&admin, "/settings").await;
    assert!(page.contains("data-user=\"newbie\"") && page.contains("siem"));
    assert!(!page.contains(&token));
    let id = token.split('_').nth(1).unwrap();
    assert_eq!(ops.post_form(&admin, &format!("/settings/api-tokens/{id}/revoke"), &[]).await.status(), 303);
    assert_eq!(ops.api_get(&token, "/api/v1/whoami").await.0, 401);
    let (_, page) = ops.page(&admin, "/settings").await;
    assert!(page.contains("token-revoked"));

    // The audit page shows who did it and from where.
    let (_, audit) = ops.page(&admin, "/audit").await;
    for action in ["user.create", "api_token.create", "api_token.revoke", "session.login"] {
        assert!(audit.contains(&format!("<code>{action}</code>")), "{action}");
    }
    assert!(audit.contains("<td>127.0.0.1</td>"), "source address");
    assert!(audit.contains("outcome-failure"), "the refused duplicate is logged");
    ops
}

async fn audit_log_pages_newest_first(ops: Ops) -> Ops {
    for i in 0..150 {
        let entry = muster_control_plane::store::AuditEntry {
            at: unix_now(),
            actor: "cli".into(),
            action: format!("test.action{i:03}"),
            target: String::new(),
            source_addr: "local".into(),
            outcome: muster_control_plane::store::AuditOutcome::Success,
            detail: String::new(),
        };
        ops.cp.store().append_audit(&entry).await.unwrap();
    }
    let admin = ops.login("root").await;
    let mut actions = Vec::new();
    let mut path = "/audit".to_string();
    let mut pages = 0;
    loop {
        let (status, page) = ops.page(&admin, &path).await;
        assert_eq!(status, 200);
        pages += 1;
        actions.extend(page.match_indices("<code>test.action").map(|(at, _)| page[at + 6..at + 20].to_string()));
        let Some(next) = page.split("rel=\"next\" href=\"").nth(1) else { break };
        path = next.split('"').next().unwrap().replace("&amp;", "&");
    }
    assert_eq!(pages, 2);
    let expected: Vec<String> = (0..150).rev().map(|i| format!("test.action{i:03}")).collect();
    assert_eq!(actions, expected, "newest first, no gaps or repeats");
    ops
}

async fn hostile_names_render_as_text(ops: Ops) -> Ops {
    let admin = ops.login("root").await;
    let escaped_script = "&lt;script&gt;alert(1)&lt;/script&gt;";
    for path in ["/findings", "/activity", "/findings?user=%3Cscript%3Ealert(1)%3C%2Fscript%3E"] {
        let (status, page) = ops.page(&admin, path).await;
        assert_eq!(status, 200);
        assert!(!page.contains(SCRIPT) && !page.contains(IMG), "{path} renders a payload as markup");
        assert!(page.contains(escaped_script), "{path} shows the name as text");
    }
    let (_, page) = ops.page(&admin, "/findings").await;
    assert!(page.contains("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"));
    assert!(!page.contains("<script"), "no script element at all");
    // The hostile user filter narrows to that user's finding and is echoed escaped in the form.
    let rows = ops.finding_rows(&admin, "/findings?user=%3Cscript%3Ealert(1)%3C%2Fscript%3E").await;
    assert_eq!(rows, vec![key_of(&ops.agent.id, "x", "MUSTER-SHELL")]);
    ops
}

/// Regression: host-wide findings with one catalog id (the lethal trifecta of two clients) shared
/// one decision, so waiving windsurf's through the API or the page also waived gemini-cli's and
/// took it out of the counts, and clearing one cleared both.
async fn host_wide_findings_are_decided_one_by_one(mut ops: Ops) -> Ops {
    let trifecta = |client: &str, server: &str| Finding {
        id: "MUSTER-LETHAL-TRIFECTA".into(),
        severity: 5,
        owasp: "MCP03".into(),
        message: format!("{client} for user alice runs servers that together bring all three legs"),
        server_ids: vec![server.into()],
        client: client.into(),
        user: "alice".into(),
    };
    ops.report_with_host_findings(fleet(), vec![trifecta("windsurf", "a"), trifecta("gemini-cli", "b")]).await;
    let analyst = ops.token(Role::Analyst).await;
    let viewer = ops.token(Role::Viewer).await;
    let trifectas = |state: &'static str| {
        let (ops, viewer) = (&ops, viewer.clone());
        async move {
            let (status, listed) = ops.api_get(&viewer, &format!("/api/v1/findings?limit=500{state}")).await;
            assert_eq!(status, 200, "{listed}");
            let mut found: Vec<(String, Value, Value)> = listed["items"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|f| f["key"]["finding_id"] == "MUSTER-LETHAL-TRIFECTA")
                .map(|f| (f["client"].as_str().unwrap().to_string(), f["key"].clone(), f["decision"]["kind"].clone()))
                .collect();
            found.sort_by(|a, b| a.0.cmp(&b.0));
            found
        }
    };
    let critical = || {
        let (ops, viewer) = (&ops, viewer.clone());
        async move { ops.api_get(&viewer, "/api/v1/overview").await.1["findings_critical"].clone() }
    };
    let all = trifectas("").await;
    assert_eq!(all.len(), 2);
    let (gemini, windsurf) = (all[0].1.clone(), all[1].1.clone());
    assert_ne!(gemini, windsurf, "each finding has its own key");
    assert!(windsurf["subject"].as_str().is_some_and(|s| !s.is_empty()), "{windsurf}");
    assert_eq!(critical().await, json!(3), "two trifectas and one critical server finding");

    // Waive windsurf's over the API: gemini-cli's stays open and counted.
    let path = "/api/v1/findings/decisions";
    let in_week = unix_now() + 7 * 86_400;
    let waive = json!({"key": windsurf, "action": "waive", "reason": "sandboxed", "expires_at": in_week});
    assert_eq!(ops.api_post(&analyst, path, &waive).await.0, StatusCode::OK);
    let states: Vec<(String, Value)> = trifectas("").await.into_iter().map(|(c, _, kind)| (c, kind)).collect();
    assert_eq!(states, [("gemini-cli".to_string(), Value::Null), ("windsurf".to_string(), json!("waived"))]);
    assert_eq!(trifectas("&state=open").await.iter().map(|f| f.0.as_str()).collect::<Vec<_>>(), ["gemini-cli"]);
    assert_eq!(trifectas("&state=waived").await.iter().map(|f| f.0.as_str()).collect::<Vec<_>>(), ["windsurf"]);
    assert_eq!(critical().await, json!(2), "only the waived finding stops counting");

    // Acknowledge gemini-cli's through the page's own form.
    let browser = ops.login("ann").await;
    let (_, page) = ops.page(&browser, "/findings").await;
    let gemini_row = format!(
        "{}//MUSTER-LETHAL-TRIFECTA/{}",
        gemini["agent_id"].as_str().unwrap(),
        gemini["subject"].as_str().unwrap()
    );
    assert!(ops.finding_rows(&browser, "/findings").await.contains(&gemini_row), "{gemini_row}");
    let row = page.split(&format!("data-finding=\"{gemini_row}\"")).nth(1).unwrap().split("</tr>").next().unwrap();
    assert!(row.contains(&format!("name=\"subject\" value=\"{}\"", gemini["subject"].as_str().unwrap())));
    let fields = [
        ("agent_id", gemini["agent_id"].as_str().unwrap()),
        ("server_id", ""),
        ("finding_id", "MUSTER-LETHAL-TRIFECTA"),
        ("subject", gemini["subject"].as_str().unwrap()),
        ("action", "acknowledge"),
        ("next", "/findings"),
    ];
    assert_eq!(ops.post_form(&browser, "/findings/decision", &fields).await.status(), 303);

    // Clearing windsurf's leaves gemini-cli's acknowledgement alone.
    let clear = json!({"key": windsurf, "action": "clear"});
    assert_eq!(ops.api_post(&analyst, path, &clear).await.1["state"], "open");
    let states: Vec<(String, Value)> = trifectas("").await.into_iter().map(|(c, _, kind)| (c, kind)).collect();
    assert_eq!(states, [("gemini-cli".to_string(), json!("acknowledged")), ("windsurf".to_string(), Value::Null)]);
    assert_eq!(critical().await, json!(3), "acknowledged findings still count");
    // The old three-part key names no single finding: refused, nothing changes.
    let legacy = json!({"agent_id": ops.agent.id, "server_id": "", "finding_id": "MUSTER-LETHAL-TRIFECTA"});
    let (status, _) = ops
        .api_post(&analyst, path, &json!({"key": legacy, "action": "waive", "reason": "x", "expires_at": in_week}))
        .await;
    assert_eq!(status, 404);
    assert_eq!(critical().await, json!(3));
    ops
}

// ---------------------------------------------------------------------------------------------
// The exception queue

const EXCEPTION_POLICY: &str = "version = 1\nname = \"acme\"\n[[rule]]\nid = \"no-npx\"\naction = \"block\"\n\
                                [rule.match]\ncommand = [\"npx\"]\n[[rule]]\nid = \"no-sse\"\naction = \"notify\"\n\
                                [rule.match]\ntransport = [\"sse\"]\n";

/// Publishes [`EXCEPTION_POLICY`] (v1) and files three requests through the use-case, oldest
/// first: server `a` for alice with a hostile, over-long reason; server `x` (named like a script)
/// for bob; and one for a server on any endpoint, which an admin denies. Their ids.
async fn file_requests(ops: &Ops) -> [String; 3] {
    use muster_control_plane::exception_requests::{self as requests, NewRequest};
    use muster_control_plane::policies::{self, NoListener};
    let store = ops.cp.store();
    policies::publish(store, &NoListener, EXCEPTION_POLICY, "root", "first", unix_now()).await.unwrap();
    let now = unix_now();
    let long = format!("{SCRIPT} {}", "the vendor's installer needs npx until the March release; ".repeat(7));
    let asks = [
        (vec!["no-npx"], ops.agent.id.as_str(), "a", "alice", long.as_str(), now - 3 * 86_400),
        (
            vec!["no-npx", "no-sse"],
            ops.agent.id.as_str(),
            "x",
            "bob",
            "Legacy SSE bridge for the ticket system",
            now - 3_600,
        ),
        (vec!["*"], "", "zz-shared", "", "a shared server on every laptop", now - 7_200),
    ];
    let mut ids = Vec::new();
    for (rules, agent_id, server_id, user, reason, at) in asks {
        let new = NewRequest {
            rules: rules.into_iter().map(String::from).collect(),
            agent_id: agent_id.into(),
            server_id: server_id.into(),
            user: user.into(),
            reason: reason.into(),
        };
        ids.push(requests::create(store, &NoListener, "dev", &new, at).await.unwrap().0.id);
    }
    requests::deny(store, &NoListener, &ids[2], "root", "use the <em>registry</em> copy", now - 60).await.unwrap();
    [ids[0].clone(), ids[1].clone(), ids[2].clone()]
}

async fn exception_queue_lists_waiting_first_filters_and_escapes(ops: Ops) -> Ops {
    let [old, new, denied] = file_requests(&ops).await;
    let viewer = ops.login("vera").await;

    // The queue: waiting requests first, longest waiting first, then the decided one.
    let (status, page) = ops.page(&viewer, "/exceptions").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("<h1>Exception requests</h1>") && h1_count(&page) == 1);
    assert!(page.contains(r#"<a href="/exceptions" aria-current="page">Exceptions</a>"#), "in the navigation");
    assert_eq!(attribute_values(&page, "data-request"), [old.clone(), new.clone(), denied.clone()]);
    assert_eq!(attribute_values(&page, "data-state"), ["pending", "pending", "denied"]);
    assert!(page.contains("2 exception requests waiting"), "{page}");
    for shown in
        ["laptop-1", "server-a", "cursor", "alice", "bob", "no-npx", "3 days", "1 h", "every rule", "zz-shared"]
    {
        assert!(page.contains(shown), "{shown} missing from the queue");
    }
    assert!(page.contains(&format!(r#"href="/endpoints/{}""#, ops.agent.id)), "the endpoint is a link");
    // Developer text is escaped, and cut in the list (the request's page has all of it).
    assert!(!page.contains(SCRIPT) && !page.contains("<em>"), "raw developer text on the queue");
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt;")
            && page.contains("use the &lt;em&gt;registry&lt;/em&gt; copy")
    );
    assert!(
        page.contains("…") && !page.contains(&"the vendor's installer needs npx until the March release; ".repeat(3))
    );
    // A viewer reads: no decision control anywhere.
    assert!(!page.contains("/approve") && !page.contains("/deny"));

    // Filters: status, host and text, each ignoring case, kept in the form.
    let rows = |page: &str| attribute_values(page, "data-request");
    let (_, page) = ops.page(&viewer, "/exceptions?status=denied").await;
    assert_eq!(rows(&page), std::slice::from_ref(&denied));
    assert!(page.contains(r#"<option value="denied" selected>Denied</option>"#), "the filter is kept");
    let (_, page) = ops.page(&viewer, "/exceptions?host=LAPTOP").await;
    assert_eq!(rows(&page), [old.clone(), new.clone()], "a request for any endpoint has no host");
    assert!(page.contains(r#"name="host" value="LAPTOP""#));
    let (_, page) = ops.page(&viewer, "/exceptions?q=legacy+SSE").await;
    assert_eq!(rows(&page), std::slice::from_ref(&new));
    let (_, page) = ops.page(&viewer, "/exceptions?q=REGISTRY").await;
    assert_eq!(rows(&page), std::slice::from_ref(&denied), "the decision's note is searched");
    let (_, page) = ops.page(&viewer, &format!("/exceptions?agent={}&status=pending", ops.agent.id)).await;
    assert_eq!(rows(&page), [old.clone(), new.clone()]);
    let (_, page) = ops.page(&viewer, "/exceptions?q=nobody-asked-this").await;
    assert!(rows(&page).is_empty() && page.contains("No exception request matches these filters."));

    // Pages of one, carrying the filter: next, next, then back.
    let (_, first) = ops.page(&viewer, "/exceptions?status=pending&limit=1").await;
    assert_eq!(rows(&first), std::slice::from_ref(&old));
    let next = attribute_after(&first, "rel=\"next\"", "href").expect("a next link").replace("&amp;", "&");
    assert!(next.contains("status=pending") && next.contains("limit=1"), "{next}");
    let (_, second) = ops.page(&viewer, &next).await;
    assert_eq!(rows(&second), std::slice::from_ref(&new));
    assert!(attribute_after(&second, "rel=\"next\"", "href").is_none(), "two waiting, two pages");
    let prev = attribute_after(&second, "rel=\"prev\"", "href").expect("a prev link").replace("&amp;", "&");
    assert_eq!(rows(&ops.page(&viewer, &prev).await.1), std::slice::from_ref(&old));

    // Bad parameters: 400 naming them.
    for bad in ["/exceptions?status=open", "/exceptions?sort=x", "/exceptions?cursor=zz", "/exceptions?limit=0"] {
        let (status, page) = ops.page(&viewer, bad).await;
        assert_eq!(status, 400, "{bad}: {page}");
    }

    // One request's page: everything it covers, the whole reason (escaped), read-only for a viewer.
    let (status, page) = ops.page(&viewer, &format!("/exceptions/{old}")).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("<h1>Exception request</h1>"));
    for shown in ["laptop-1", "server-a", "cursor", "alice", "no-npx", "dev", "Waiting", "3 days"] {
        assert!(page.contains(shown), "{shown} missing from the request's page");
    }
    assert!(
        page.contains(
            &"the vendor&#39;s installer needs npx until the March release; ".repeat(7).trim_end().to_string()
        ) || page
            .contains(&"the vendor's installer needs npx until the March release; ".repeat(7).trim_end().to_string())
    );
    assert!(!page.contains(SCRIPT) && page.contains("&lt;script&gt;"));
    assert!(!page.contains("form class=\"approve\"") && !page.contains("form class=\"deny\""));
    assert!(page.contains("only admins approve or deny"));
    let (_, page) = ops.page(&viewer, &format!("/exceptions/{denied}")).await;
    assert!(page.contains("request-denied") && page.contains("use the &lt;em&gt;registry&lt;/em&gt; copy"));
    assert!(page.contains("root") && page.contains("The audit log has no entry about this request."));
    for missing in ["/exceptions/0123456789abcdef", "/exceptions/no%0Asuch"] {
        assert_eq!(ops.page(&viewer, missing).await.0, 404, "{missing}");
    }

    // An admin gets the forms: presets, a bounded date, notes, the session's CSRF token.
    let admin = ops.login("root").await;
    let (_, page) = ops.page(&admin, &format!("/exceptions/{old}")).await;
    assert!(
        page.contains(&format!(r#"<form class="approve" method="post" action="/exceptions/{old}/approve">"#)),
        "{page}"
    );
    assert!(page.contains(&format!(r#"<form class="deny" method="post" action="/exceptions/{old}/deny">"#)));
    for preset in ["7", "30", "90", "date"] {
        assert!(page.contains(&format!(r#"name="expiry" value="{preset}""#)), "preset {preset}");
    }
    assert!(page.contains(&format!(r#"min="{}" max="{}""#, date_in(1), date_in(365))), "the date is bounded");
    assert!(page.contains(&format!(r#"name="csrf_token" value="{}""#, admin.csrf)));

    // Counts that lead to the queue: overview, compliance, the endpoint's page.
    for path in ["/", "/compliance"] {
        let (_, page) = ops.page(&viewer, path).await;
        assert!(
            page.contains(
                r#"<a class="waiting-requests" href="/exceptions?status=pending">2 exception requests waiting</a>"#
            ),
            "{path}: {page}"
        );
    }
    let (_, page) = ops.page(&viewer, &format!("/endpoints/{}", ops.agent.id)).await;
    let section = page.split("endpoint-exceptions").nth(1).expect("the endpoint's requests");
    assert_eq!(attribute_values(section, "data-request"), [old.clone(), new.clone()]);
    assert!(section.contains("2 waiting") && section.contains(&format!("/exceptions?agent={}", ops.agent.id)));
    ops
}

/// The value of `attr` in the tag holding `marker`.
fn attribute_after(html: &str, marker: &str, attr: &str) -> Option<String> {
    let at = html.find(marker)?;
    let start = html[..at].rfind('<')?;
    let tag = &html[start..start + html[start..].find('>')?];
    Some(tag.split(&format!("{attr}=\"")).nth(1)?.split('"').next()?.to_string())
}

async fn exception_requests_are_decided_by_admins_through_the_forms_and_audited(ops: Ops) -> Ops {
    use muster_control_plane::store::exception_requests::RequestState;
    let [old, new, denied] = file_requests(&ops).await;
    let store = ops.cp.store();

    // A viewer's and an analyst's POSTs are refused by role; an admin's without the CSRF token too.
    for name in ["vera", "ann"] {
        let browser = ops.login(name).await;
        let response = ops.post_form(&browser, &format!("/exceptions/{old}/approve"), &[("expiry", "30")]).await;
        assert_eq!(response.status(), 403, "{name} approved");
        let response = ops.post_form(&browser, &format!("/exceptions/{old}/deny"), &[("note", "no")]).await;
        assert_eq!(response.status(), 403, "{name} denied");
    }
    let admin = ops.login("root").await;
    let forged = ops
        .http
        .post(ops.url(&format!("/exceptions/{old}/approve")))
        .header("cookie", &admin.cookie)
        .form(&[("expiry", "30")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403, "no CSRF token");
    assert_eq!(store.exception_request(&old).await.unwrap().unwrap().state, RequestState::Pending);
    assert_eq!(store.last_policy_version().await.unwrap(), 1, "nothing published");

    // An expiry out of bounds is refused with the reason, and nothing is published.
    for (expiry, until) in
        [("date", date_in(400)), ("date", date_in(-1)), ("365", String::new()), ("date", "soon".into())]
    {
        let fields = [("expiry", expiry), ("until", until.as_str()), ("note", "")];
        let response = ops.post_form(&admin, &format!("/exceptions/{old}/approve"), &fields).await;
        assert_eq!(response.status(), 400, "{expiry} {until}");
        assert!(response.text().await.unwrap().contains("expiry:"));
    }
    assert_eq!(store.last_policy_version().await.unwrap(), 1);

    // Approved for 30 days: published as a policy exception, as the API does, back on its page.
    let before = unix_now();
    let response = ops
        .post_form(&admin, &format!("/exceptions/{old}/approve"), &[("expiry", "30"), ("note", "until March")])
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], format!("/exceptions/{old}").as_str());
    let approved = store.exception_request(&old).await.unwrap().unwrap();
    assert_eq!((approved.state, approved.policy_version), (RequestState::Approved, Some(2)));
    let expires = approved.expires_at.unwrap();
    assert!((before + 30 * 86_400..=unix_now() + 30 * 86_400).contains(&expires), "{expires}");
    let current = store.current_policy().await.unwrap().unwrap();
    assert_eq!(current.version, 2);
    let block = muster_control_plane::exception_requests::exception_block(
        &store.exception_request(&old).await.unwrap().unwrap(),
        "root",
        expires,
    );
    assert!(current.source_text.ends_with(&block), "the API's exception block:\n{}", current.source_text);
    let (_, page) = ops.page(&admin, &format!("/exceptions/{old}")).await;
    assert!(
        page.contains("request-approved") && page.contains(r#"href="/policies/2""#) && page.contains("until March")
    );
    assert!(!page.contains("form class=\"approve\""), "decided: no form");
    let history = page.split("class=\"data history\"").nth(1).expect("the request's audit entries");
    assert!(history.contains("approve") && history.contains("published as policy v2"), "{history}");

    // A custom date: the exception holds through that day (UTC).
    let until = date_in(10);
    let fields = [("expiry", "date"), ("until", until.as_str())];
    assert_eq!(ops.post_form(&admin, &format!("/exceptions/{new}/approve"), &fields).await.status(), 303);
    let approved = store.exception_request(&new).await.unwrap().unwrap();
    assert_eq!(approved.expires_at, muster_control_plane::timefmt::end_of_day(&until));
    assert_eq!(approved.policy_version, Some(3));

    // Decided once: another approval or denial is refused, and publishes nothing.
    let response = ops.post_form(&admin, &format!("/exceptions/{denied}/approve"), &[("expiry", "7")]).await;
    assert_eq!(response.status(), 400);
    let response = ops.post_form(&admin, &format!("/exceptions/{old}/deny"), &[("note", "late")]).await;
    assert_eq!(response.status(), 400);
    assert_eq!(store.last_policy_version().await.unwrap(), 3);

    // A denial with a note, through its form.
    use muster_control_plane::exception_requests::{self as requests, NewRequest};
    let ask = NewRequest {
        rules: vec!["no-sse".into()],
        agent_id: ops.agent.id.clone(),
        server_id: "b".into(),
        user: "bob".into(),
        reason: "please".into(),
    };
    let third = requests::create(store, &muster_control_plane::policies::NoListener, "dev", &ask, unix_now())
        .await
        .unwrap()
        .0
        .id;
    let response = ops.post_form(&admin, &format!("/exceptions/{third}/deny"), &[("note", "use HTTP")]).await;
    assert_eq!(response.status(), 303);
    let refused = store.exception_request(&third).await.unwrap().unwrap();
    assert_eq!(
        (refused.state, refused.note.as_str(), refused.decided_by.as_str()),
        (RequestState::Denied, "use HTTP", "root")
    );
    assert_eq!(store.last_policy_version().await.unwrap(), 3, "a denial publishes nothing");

    // Audited as the API audits: the use-cases' actions, refusals included.
    let audit = ops.audit_actions().await;
    let has = |actor: &str, action: &str, outcome: &str| {
        audit.iter().any(|(a, b, c)| a == actor && b == action && c == outcome)
    };
    assert!(has("root", "exception_request.approve", "success"), "{audit:?}");
    assert!(has("root", "exception_request.deny", "success"), "{audit:?}");
    assert!(has("root", "exception_request.approve", "failure"), "the refused expiry: {audit:?}");
    assert!(has("vera", "POST /exceptions/{id}/approve", "denied"), "{audit:?}");
    assert!(has("ann", "POST /exceptions/{id}/deny", "denied"), "{audit:?}");
    let records = store.list_audit(None, 500).await.unwrap();
    let approval = records
        .iter()
        .find(|r| {
            r.entry.action == "exception_request.approve"
                && r.entry.outcome.as_str() == "success"
                && r.entry.target == format!("exception-request/{old}")
        })
        .expect("the approval's audit entry, with its request as target");
    assert!(approval.entry.detail.contains("published as policy v2"), "{}", approval.entry.detail);
    ops
}
