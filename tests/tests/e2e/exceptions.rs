//! An exception request from the tray goes the whole way round with real processes: a real
//! `muster-agent run` on its `--root` image (enrolled, serving its local API on a socket of its
//! own) quarantines a server of the local API caller's by policy; the caller asks for an
//! exception through the local API; the request is in the analysts' queue
//! (`GET /api/v1/exception-requests` over real HTTPS) covering the agent of the certificate and
//! the caller's account; an admin approves it over the same API; the decision is pushed back to
//! the agent (`Exceptions.WatchExceptionRequests`) and shows as `approved` in the caller's
//! `LocalStatus`; and the approval's policy exception lifts the quarantine, the user's file
//! coming back byte-identical. A request the control plane refuses (an unknown rule) stores
//! nothing and says why; a denial comes back with its note.

use std::time::Duration;

use anyhow::{Context, ensure};
use muster_control_plane::access::api_tokens;
use muster_control_plane::policies;
use muster_control_plane::state::unix_now;
use muster_control_plane::store::Role;
use muster_e2e::{Sandbox, eventually};
use muster_proto::local::client;
use muster_proto::local::v1::{
    ExceptionStatus, GetStatusRequest, LocalStatus, QuarantineOrigin, RequestExceptionRequest,
};
use serde_json::Value;

const POLICY: &str = r#"version = 1
name = "e2e-exceptions"

[[rule]]
id = "retire-legacy"
action = "quarantine"
[rule.match]
name = ["legacy-gateway"]
"#;

async fn status(socket: &std::path::Path) -> anyhow::Result<LocalStatus> {
    let mut c = client::connect(socket).await?;
    Ok(c.get_status(GetStatusRequest {}).await?.into_inner())
}

/// `/api/v1` over real HTTPS with an API token of `role`.
struct Api {
    client: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    async fn new(cp: &muster_control_plane::testing::TestControlPlane, role: Role) -> anyhow::Result<Api> {
        let name = format!("e2e-{}", role.as_str());
        let issued =
            api_tokens::create_api_token(cp.store(), &name, role, Duration::from_secs(3600), "e2e", unix_now())
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        let client = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(cp.ca_pem().as_bytes())?)
            .tls_built_in_root_certs(false)
            .resolve("localhost", cp.http_addr)
            .build()?;
        Ok(Api { client, base: format!("https://localhost:{}", cp.http_addr.port()), token: issued.token })
    }

    async fn get(&self, path: &str) -> anyhow::Result<(u16, Value)> {
        let response = self.client.get(format!("{}{path}", self.base)).bearer_auth(&self.token).send().await?;
        Ok((response.status().as_u16(), serde_json::from_slice(&response.bytes().await?).unwrap_or(Value::Null)))
    }

    async fn post(&self, path: &str, body: Value) -> anyhow::Result<(u16, Value)> {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await?;
        Ok((response.status().as_u16(), serde_json::from_slice(&response.bytes().await?).unwrap_or(Value::Null)))
    }
}

pub async fn requested_from_the_tray_reaches_the_queue_and_the_decision_comes_back(
    sb: Sandbox,
) -> anyhow::Result<Sandbox> {
    let cp = sb.cp()?;
    let store = cp.state.store.clone();
    policies::publish(store.as_ref(), cp.state.as_ref(), POLICY, "e2e", "", unix_now()).await?;
    let mut agent = sb.enrolled_agent("exceptions").await?;
    // Servers of the account this test runs as (the local API caller), on the agent's image.
    let account = muster_agent::local_api::caller::account_name(muster_agent::state::effective_uid())
        .context("this test's account name")?;
    let home = if account == "root" { "root".to_string() } else { format!("home/{account}") };
    let config = agent.root.join(home).join(".cursor/mcp.json");
    std::fs::create_dir_all(config.parent().context("parent")?)?;
    let original = "{\n  \"mcpServers\": {\n    \"legacy-gateway\": {\"command\": \"npx\", \"args\": [\"-y\", \"@example/legacy-gateway@1.0.0\"]},\n    \"notes\": {\"command\": \"npx\", \"args\": [\"-y\", \"@example/notes@2.0.0\"]}\n  }\n}\n";
    std::fs::write(&config, original)?;
    let socket = agent.state_dir.with_file_name("local.sock");
    let socket_arg = socket.display().to_string();
    agent.spawn_with(&["--socket", &socket_arg])?;

    // The policy quarantines legacy-gateway; the caller sees it with its rule.
    let socket_ref = &socket;
    let quarantine = eventually("the policy's quarantine in the caller's status", || async move {
        let s = status(socket_ref).await?;
        Ok(s.quarantines
            .into_iter()
            .find(|q| q.server_name == "legacy-gateway" && q.origin == QuarantineOrigin::Policy as i32))
    })
    .await
    .with_context(|| agent.log())?;
    ensure!(quarantine.rule_id == "retire-legacy", "{quarantine:?}");
    ensure!(std::fs::read_to_string(&config)? != original, "the quarantine changed nothing on disk");

    let mut local = client::connect(&socket).await?;
    let ask = |server_id: &str, rule: &str| RequestExceptionRequest {
        server_id: server_id.into(),
        rule_id: rule.into(),
        reason: "the vendor ships its replacement in March; I need it for the migration".into(),
    };
    // Refused by the agent: not the caller's server. Refused by the control plane: an unknown
    // rule, its words coming back. Neither stores anything.
    let not_mine = local.request_exception(ask("no-such-server", "retire-legacy")).await.expect_err("not mine");
    ensure!(not_mine.code() == muster_proto::tonic::Code::NotFound, "{not_mine:?}");
    let refused = local.request_exception(ask(&quarantine.server_id, "no-such-rule")).await.expect_err("unknown rule");
    ensure!(refused.message().contains("no-such-rule"), "{}", refused.message());
    let analyst = Api::new(cp, Role::Analyst).await?;
    let (code, queue) = analyst.get("/api/v1/exception-requests?state=pending").await?;
    ensure!(code == 200 && queue.as_array().is_some_and(Vec::is_empty), "{code} {queue}");

    let filed = local
        .request_exception(ask(&quarantine.server_id, "retire-legacy"))
        .await?
        .into_inner()
        .request
        .context("the request")?;
    ensure!(filed.status == ExceptionStatus::Pending as i32, "{filed:?}");

    // In the analysts' queue: the endpoint is the certificate's, the user the caller's account.
    let (code, queue) = analyst.get("/api/v1/exception-requests?state=pending").await?;
    ensure!(code == 200, "{code} {queue}");
    let queued = queue.as_array().and_then(|items| items.iter().find(|r| r["id"] == filed.id.as_str()));
    let queued = queued.with_context(|| format!("not in the queue: {queue}"))?;
    ensure!(queued["agent_id"] == agent.id()?.as_str(), "{queued}");
    ensure!(queued["server_id"] == quarantine.server_id.as_str() && queued["user"] == account.as_str(), "{queued}");
    ensure!(queued["rules"] == serde_json::json!(["retire-legacy"]), "{queued}");
    ensure!(queued["requested_by"] == format!("agent:{}", agent.id()?).as_str(), "{queued}");

    // Deciding publishes policy: an analyst may not, an admin may.
    let expires_at = unix_now() + 7 * 86_400;
    let approve = format!("/api/v1/exception-requests/{}/approve", filed.id);
    let decision = serde_json::json!({"expires_at": expires_at, "note": "until the migration"});
    let (code, _) = analyst.post(&approve, decision.clone()).await?;
    ensure!(code == 403, "an analyst approved: {code}");
    let admin = Api::new(cp, Role::Admin).await?;
    let (code, outcome) = admin.post(&approve, decision).await?;
    ensure!(code == 200 && outcome["state"] == "approved", "{code} {outcome}");

    // Pushed back to the agent and on to the caller; the quarantine lifted byte-identical.
    let filed_id = filed.id.clone();
    let approved = eventually("the approval in the caller's status", || {
        let id = filed_id.clone();
        async move {
            let s = status(socket_ref).await?;
            Ok(s.exception_requests.into_iter().find(|r| r.id == id && r.status == ExceptionStatus::Approved as i32))
        }
    })
    .await
    .with_context(|| agent.log())?;
    ensure!(approved.answer == "until the migration" && approved.expires_at_unix == Some(expires_at), "{approved:?}");
    let config_ref = &config;
    eventually("the quarantine to be lifted byte-identical", || async move {
        Ok((std::fs::read_to_string(config_ref)? == original).then_some(()))
    })
    .await
    .with_context(|| agent.log())?;
    let after = status(&socket).await?;
    ensure!(after.quarantines.iter().all(|q| q.server_id != quarantine.server_id), "{:?}", after.quarantines);

    // A denial comes back with its note (the other server, every rule).
    let notes_id = after
        .clients
        .iter()
        .flat_map(|c| &c.servers)
        .find(|s| s.name == "notes")
        .map(|s| s.id.clone())
        .context("the notes server")?;
    let second =
        local.request_exception(ask(&notes_id, "")).await?.into_inner().request.context("the second request")?;
    let (code, _) = admin
        .post(&format!("/api/v1/exception-requests/{}/deny", second.id), serde_json::json!({"note": "not needed"}))
        .await?;
    ensure!(code == 200, "deny answered {code}");
    let second_id = second.id.clone();
    let denied = eventually("the denial in the caller's status", || {
        let id = second_id.clone();
        async move {
            let s = status(socket_ref).await?;
            Ok(s.exception_requests.into_iter().find(|r| r.id == id && r.status == ExceptionStatus::Denied as i32))
        }
    })
    .await
    .with_context(|| agent.log())?;
    ensure!(denied.answer == "not needed" && denied.rule_id == "*", "{denied:?}");
    agent.check_running()?;
    Ok(sb)
}
