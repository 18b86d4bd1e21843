//! The generated leak test (see `muster_e2e::leakgen`): fake secrets of every detector family,
//! credential pairs and unknown random tokens, placed in every field of four config formats, in
//! broken files and in directory names, on a real agent's image. The real `muster-agent` scans it
//! (`scan` in every output format at debug log level) and its daemon reports over real mTLS to
//! the in-process control plane, which announces findings to a webhook receiver. Then every byte
//! that left the agent is searched for each secret, its encodings and every 12-character window
//! of its random part: the scans' stdout and stderr, the daemon's log, the agent's state dir
//! (outbox, local inventory), the reports the control plane received, the database (SQLite
//! files or every PostgreSQL row), every GET route of the HTTP route table signed in as an
//! admin (every page, every `/api/v1` call, every export) plus every local link those pages
//! show, and every webhook body.
//!
//! It cannot pass by seeing nothing: every generated file's servers must be in the stored
//! inventory, the planted literal credentials must be stored with fingerprints, the pages must
//! name the planted servers, and at least one webhook must have been delivered.
//!
//! It fails when any one masking step is made a no-op (checked 2026-12-07 on SQLite, one step at
//! a time, `MUSTER_SKIP_POSTGRES=1 cargo test -p muster-e2e --test e2e
//! generated_secrets_never_leave_the_agent::sqlite`; leaks found): the gate
//! `inventory::scrub_snapshot` (9449), its token scan `scrub::suspect_tokens` (1020), URL
//! masking `mask::mask_url` (216), argument flag masking `mask::mask_args` (205), command
//! strings `scrub::scrub_command_line` word masking (150), package identity from masked text
//! `credentials::masked_identity` (412), `cwd` in the gate's field list (2665). The detector's
//! own ranges in `credentials::judge_shown`, made a no-op alone, leak nothing: the gate masks the
//! same tokens again, so that step is a second line, not the only one. Running processes'
//! command lines have their own generated test, `process_leaks`.

use std::collections::{BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};

use anyhow::{Context, anyhow, ensure};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use muster_control_plane::access::accounts;
use muster_control_plane::http::route_table;
use muster_control_plane::state::unix_now;
use muster_control_plane::store::Role;
use muster_control_plane::store::exports::NewWebhook;
use muster_e2e::leakgen::{self, find_leaks};
use muster_e2e::{Sandbox, agent_binary, eventually};
use muster_proto::prost::Message;

const PASSWORD: &str = "generated leak test password";

type Captured = Vec<(String, Vec<u8>)>;

async fn webhook_receiver() -> anyhow::Result<(String, Arc<Mutex<Vec<Bytes>>>)> {
    let bodies: Arc<Mutex<Vec<Bytes>>> = Arc::default();
    async fn hook(State(bodies): State<Arc<Mutex<Vec<Bytes>>>>, body: Bytes) -> &'static str {
        bodies.lock().map(|mut b| b.push(body)).ok();
        "ok"
    }
    let app = Router::new().route("/hook", post(hook)).with_state(bodies.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((format!("http://{addr}/hook"), bodies))
}

/// `scan` in every output format, at debug log level: stdout and stderr of each.
async fn local_scans(agent: &muster_e2e::Agent) -> anyhow::Result<Captured> {
    let mut out = Vec::new();
    for format in ["json", "table", "sarif"] {
        let output = tokio::process::Command::new(agent_binary()?)
            .args(["scan", "--offline", "--format", format, "--os", "linux", "--no-processes", "--root"])
            .arg(&agent.root)
            .arg("--state-dir")
            .arg(&agent.state_dir)
            .env("MUSTER_LOG", "debug")
            .output()
            .await?;
        ensure!(output.status.success(), "scan --format {format} failed: {}", String::from_utf8_lossy(&output.stderr));
        out.push((format!("scan --format {format} stdout"), output.stdout));
        out.push((format!("scan --format {format} stderr"), output.stderr));
    }
    Ok(out)
}

struct Session {
    client: reqwest::Client,
    base: String,
    cookie: String,
}

impl Session {
    async fn sign_in(cp: &muster_control_plane::testing::TestControlPlane) -> anyhow::Result<Session> {
        accounts::add_local_user(cp.store(), "leak-admin", Role::Admin, PASSWORD, "test", unix_now())
            .await
            .map_err(|e| anyhow!("{e}"))?;
        let client = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(cp.ca_pem().as_bytes())?)
            .tls_built_in_root_certs(false)
            .resolve("localhost", cp.http_addr)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let base = format!("https://localhost:{}", cp.http_addr.port());
        let form = client.get(format!("{base}/login")).send().await?;
        let login_cookie = cookie(&form, "muster_login_csrf").context("login CSRF cookie")?;
        let csrf = login_cookie.split_once('=').map(|(_, v)| v.to_string()).unwrap_or_default();
        let body =
            serde_urlencoded::to_string([("username", "leak-admin"), ("password", PASSWORD), ("csrf_token", &csrf)])?;
        let response = client
            .post(format!("{base}/login"))
            .header("cookie", &login_cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await?;
        ensure!(response.status() == 303, "sign-in answered {}", response.status());
        let cookie = cookie(&response, "muster_session").context("session cookie")?;
        Ok(Session { client, base, cookie })
    }

    async fn get(&self, path: &str) -> anyhow::Result<(u16, Vec<u8>)> {
        let response = self.client.get(format!("{}{path}", self.base)).header("cookie", &self.cookie).send().await?;
        let status = response.status().as_u16();
        Ok((status, response.bytes().await?.to_vec()))
    }
}

fn cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.split('=').next().is_some_and(|n| n.ends_with(name)) && !c.contains("Max-Age=0"))
        .and_then(|c| c.split(';').next())
        .map(str::to_string)
}

/// Local links (`href="/..."`) of a page, decoded from HTML attribute escaping.
fn links(html: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(|l| l.replace("&amp;", "&"))
        .filter(|l| l.starts_with('/') && !l.starts_with("//") && !l.starts_with("/logout") && !l.starts_with("/auth/"))
        .collect()
}

/// Every GET route of the route table, then every local link the answers show (bounded).
async fn every_page(session: &Session, agent_id: &str, webhook_id: &str) -> anyhow::Result<Captured> {
    let mut queue: VecDeque<String> = VecDeque::new();
    for route in route_table() {
        if route.method != http::Method::GET || route.path.starts_with("/auth/") {
            continue;
        }
        let path = if route.path.contains("webhooks/{id}") {
            route.path.replace("{id}", webhook_id)
        } else {
            route.path.replace("{id}", agent_id)
        };
        let path = if path.contains("cyclonedx") { format!("{path}?endpoint={agent_id}") } else { path };
        queue.push_back(path);
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    let mut ok = 0;
    while let Some(path) = queue.pop_front() {
        if seen.len() >= 400 || !seen.insert(path.clone()) {
            continue;
        }
        let (status, body) = session.get(&path).await?;
        if status == 200 {
            ok += 1;
        }
        if let Ok(text) = std::str::from_utf8(&body) {
            queue.extend(links(text));
        }
        out.push((format!("GET {path} ({status})"), body));
    }
    ensure!(ok >= 25, "only {ok} pages answered 200");
    Ok(out)
}

pub async fn generated_secrets_never_leave_the_agent(sb: Sandbox) -> anyhow::Result<Sandbox> {
    let plan = leakgen::plan(0x1EA4_6E4E_2026_0001);
    let mut agent = sb.enrolled_agent("generated").await?;
    let home = agent.root.join("home/dev");
    for (rel, text) in &plan.files {
        let path = home.join(rel);
        std::fs::create_dir_all(path.parent().context("file has a parent")?)?;
        std::fs::write(&path, text)?;
    }
    let cp = sb.cp()?;
    let (hook_url, hook_bodies) = webhook_receiver().await?;
    let webhook_id = "00000000-0000-4000-8000-00000000beef".to_string();
    cp.store()
        .create_webhook(&NewWebhook {
            id: webhook_id.clone(),
            url: hook_url,
            secret: "leak-test-webhook-signing-key".into(),
            min_severity: 0,
            created_at: unix_now(),
        })
        .await
        .map_err(|e| anyhow!("creating the webhook: {e}"))?;

    let mut captured = local_scans(&agent).await?;
    let id = agent.id()?;
    agent.spawn()?;

    // Every generated file's servers reach the store (so the search below is not blind).
    let expected_servers: usize = plan.servers_per_file.values().sum();
    let inventory = eventually("every generated server stored", || async {
        let inv = cp.store().host_inventory(&id).await.map_err(|e| anyhow!("{e}"))?;
        let planted = inv
            .servers
            .iter()
            .filter(|s| {
                plan.servers_per_file.keys().any(|f| s.config_path.ends_with(f.rsplit('/').next().unwrap_or("")))
            })
            .count();
        Ok((planted >= expected_servers).then_some(inv))
    })
    .await?;
    for (file, count) in &plan.servers_per_file {
        if file.starts_with("src/") {
            continue;
        }
        let stored = inventory.servers.iter().filter(|s| s.config_path.ends_with(file.as_str())).count();
        ensure!(stored == *count, "{file}: {stored} servers stored, {count} written");
    }
    let projects = plan.servers_per_file.keys().filter(|f| f.starts_with("src/")).count();
    let project_servers =
        inventory.servers.iter().filter(|s| s.config_path.contains("/src/") && s.name == "project-tool").count();
    ensure!(project_servers == projects, "{project_servers} of {projects} secret-named project dirs scanned");
    let literal = inventory.credentials.iter().filter(|c| !c.fingerprint.is_empty()).count();
    ensure!(
        literal >= plan.planted.len(),
        "only {literal} literal credentials stored for {} planted",
        plan.planted.len()
    );
    let bodies = eventually("a webhook delivery", || async {
        let bodies = hook_bodies.lock().map(|b| b.clone()).unwrap_or_default();
        Ok((!bodies.is_empty()).then_some(bodies))
    })
    .await?;

    let session = Session::sign_in(cp).await?;
    let pages = every_page(&session, &id, &webhook_id).await?;
    let endpoint_page = pages.iter().find(|(p, _)| p.starts_with(&format!("GET /endpoints/{id} ")));
    let endpoint_page = endpoint_page.context("the endpoint page was not fetched")?;
    ensure!(
        String::from_utf8_lossy(&endpoint_page.1).contains("arg-flag-space-0"),
        "the endpoint page does not list the planted servers: the page search would be blind"
    );
    captured.extend(pages);
    captured.extend(bodies.into_iter().enumerate().map(|(i, b)| (format!("webhook body {i}"), b.to_vec())));
    captured.push(("daemon log".into(), agent.log().into_bytes()));
    captured.extend(agent.state_files()?);
    for report in cp.received_reports().iter().filter(|r| r.agent_id == id) {
        captured.push((format!("received report {}", report.request.sequence), report.request.encode_to_vec()));
    }
    let stored = sb.stored_bytes().await?;
    let fingerprint = inventory
        .credentials
        .iter()
        .find(|c| !c.fingerprint.is_empty())
        .map(|c| c.fingerprint.clone())
        .unwrap_or_default();
    ensure!(
        stored.iter().any(|(_, b)| b.windows(fingerprint.len()).any(|w| w == fingerprint.as_bytes())),
        "a stored fingerprint is not in the database bytes: the database search would be blind"
    );
    captured.extend(stored);

    let leaks = find_leaks(&plan.planted, &captured);
    ensure!(leaks.is_empty(), "{} generated secrets left the agent:\n{}", leaks.len(), leaks.join("\n"));
    Ok(sb)
}
