//! An exception request from the tray reaches the analysts' queue and its decision comes back:
//! a real `muster-agent run` (enrolled, serving its local API on a socket of its own) files the
//! request the local API caller makes about one of their servers with the control plane over
//! mTLS; the stored request covers the agent of the certificate and the caller's account; the
//! analyst's denial comes back in the caller's `LocalStatus` with its note. A request the
//! control plane refuses (an unknown rule) stores nothing and says why.

use anyhow::{Context, ensure};
use muster_control_plane::exception_requests as requests;
use muster_control_plane::policies::{self, NoListener};
use muster_control_plane::store::ExceptionRequestStore as _;
use muster_e2e::{Sandbox, eventually};
use muster_proto::local::client;
use muster_proto::local::v1::{ExceptionStatus, GetStatusRequest, LocalStatus, RequestExceptionRequest};

const POLICY: &str = "version = 1\nname = \"e2e\"\n[[rule]]\nid = \"no-sse\"\naction = \"notify\"\n[rule.match]\ntransport = [\"sse\"]\n";

async fn status(socket: &std::path::Path) -> anyhow::Result<LocalStatus> {
    let mut c = client::connect(socket).await?;
    Ok(c.get_status(GetStatusRequest {}).await?.into_inner())
}

pub async fn requested_from_the_tray_reaches_the_queue_and_the_decision_comes_back(
    sb: Sandbox,
) -> anyhow::Result<Sandbox> {
    let cp = sb.cp()?;
    let store = cp.state.store.clone();
    policies::publish(store.as_ref(), &NoListener, POLICY, "admin", "", muster_control_plane::state::unix_now())
        .await?;
    let mut agent = sb.enrolled_agent("exceptions").await?;
    // A server of the account this test runs as (the local API caller), on the agent's image.
    let account = muster_agent::local_api::caller::account_name(muster_agent::state::effective_uid())
        .context("this test's account name")?;
    let home = if account == "root" { "root".to_string() } else { format!("home/{account}") };
    let config = agent.root.join(home).join(".cursor/mcp.json");
    std::fs::create_dir_all(config.parent().context("parent")?)?;
    std::fs::write(&config, r#"{"mcpServers": {"legacy-gateway": {"url": "https://legacy.example.com/sse"}}}"#)?;
    let socket = agent.state_dir.with_file_name("local.sock");
    let socket_arg = socket.display().to_string();
    agent.spawn_with(&["--socket", &socket_arg, "--exception-refresh", "200ms"])?;

    let socket_ref = &socket;
    let server_id = eventually("the agent's local API to list the server", || async move {
        let s = status(socket_ref).await?;
        Ok(s.clients.iter().flat_map(|c| &c.servers).find(|s| s.name == "legacy-gateway").map(|s| s.id.clone()))
    })
    .await
    .with_context(|| agent.log())?;

    let mut local = client::connect(&socket).await?;
    let ask = |rule: &str| RequestExceptionRequest {
        server_id: server_id.clone(),
        rule_id: rule.into(),
        reason: "the vendor ships SSE only until March".into(),
    };
    // Refused by the control plane: its words come back, nothing is stored.
    let refused = local.request_exception(ask("no-such-rule")).await.expect_err("an unknown rule is refused");
    ensure!(refused.message().contains("no-such-rule"), "{}", refused.message());
    ensure!(requests::list(store.as_ref(), None, 10).await?.is_empty(), "a refused request was stored");

    let filed = local.request_exception(ask("no-sse")).await?.into_inner().request.context("the request")?;
    ensure!(filed.status == ExceptionStatus::Pending as i32, "{filed:?}");
    let stored = store.exception_request(&filed.id).await?.context("in the analysts' queue")?;
    ensure!(stored.agent_id == agent.id()?, "the endpoint is the certificate's: {stored:?}");
    ensure!(stored.user == account && stored.server_id == server_id, "{stored:?}");

    requests::deny(
        store.as_ref(),
        &filed.id,
        "analyst",
        "use the https gateway",
        muster_control_plane::state::unix_now(),
    )
    .await?;
    let filed_id = filed.id.clone();
    let decided = eventually("the denial in the caller's status", || {
        let id = filed_id.clone();
        async move {
            let s = status(socket_ref).await?;
            Ok(s.exception_requests.into_iter().find(|r| r.id == id && r.status == ExceptionStatus::Denied as i32))
        }
    })
    .await
    .with_context(|| agent.log())?;
    ensure!(decided.answer == "use the https gateway", "{decided:?}");
    agent.check_running()?;
    Ok(sb)
}
