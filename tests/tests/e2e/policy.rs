//! Policies reach real agent processes: a published version is in force on every running agent
//! (verified and stored in its state dir) within 2 s; an agent keeps it across a restart, gets
//! what was published while it was down when it comes back, and does not trust a stored bundle
//! that was altered on disk (it takes the control plane's current version again instead).
//! A published `quarantine` and `block` are carried out by a real agent process on its image,
//! reported back as applied, and undone byte-identical when lifted.

use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use muster_control_plane::compliance;
use muster_control_plane::policies::{self, NoListener};
use muster_e2e::{Agent, Sandbox, eventually, image};
use muster_proto::prost::Message as _;
use muster_proto::v1::{PolicyActionState, PolicyBundle};

const POLICY: &str = "version = 1\nname = \"e2e\"\n[[rule]]\nid = \"no-sse\"\naction = \"notify\"\n[rule.match]\ntransport = [\"sse\"]\n";

/// The bundle an agent holds in force (its state dir's copy), if any.
fn held(agent: &Agent) -> anyhow::Result<Option<PolicyBundle>> {
    match std::fs::read(agent.state_dir.join(muster_agent::policy::BUNDLE_FILE)) {
        Ok(bytes) => Ok(Some(PolicyBundle::decode(bytes.as_slice())?)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

pub async fn published_policy_reaches_running_agents(sb: Sandbox) -> anyhow::Result<Sandbox> {
    let mut agents = crate::deltas::running_agents(&sb, 2, "policy").await?;
    let cp = sb.cp()?;
    let store = cp.state.store.clone();

    // Every running agent holds version 1 within 2 s of the publish.
    let started = Instant::now();
    policies::publish(store.as_ref(), cp.state.as_ref(), POLICY, "e2e", "", muster_control_plane::state::unix_now())
        .await?;
    for agent in &agents {
        loop {
            if held(agent)?.is_some_and(|b| b.version == 1) {
                break;
            }
            ensure!(
                started.elapsed() < Duration::from_secs(2),
                "{} did not take version 1 in 2 s:\n{}",
                agent.name,
                agent.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    // Down while version 2 is published: back up, it keeps version 1 until the stream brings 2.
    agents[0].kill().await?;
    policies::publish(store.as_ref(), &NoListener, POLICY, "cli", "", muster_control_plane::state::unix_now()).await?;
    ensure!(held(&agents[0])?.is_some_and(|b| b.version == 1), "the stopped agent's policy changed");
    agents[0].spawn()?;
    let agent = &agents[0];
    eventually("the restarted agent to take version 2", || async move { Ok(held(agent)?.filter(|b| b.version == 2)) })
        .await
        .with_context(|| agent.log())?;

    // An altered stored bundle is not trusted at start; the control plane's version replaces it.
    agents[1].kill().await?;
    let path = agents[1].state_dir.join(muster_agent::policy::BUNDLE_FILE);
    let mut bundle = held(&agents[1])?.context("a stored bundle")?;
    bundle.document = String::from_utf8(bundle.document)?.replace("notify", "block").into_bytes();
    std::fs::write(&path, bundle.encode_to_vec())?;
    agents[1].spawn()?;
    let agent = &agents[1];
    eventually("the agent to replace its altered bundle with version 2", || async move {
        Ok(held(agent)?.filter(|b| b.version == 2 && !String::from_utf8_lossy(&b.document).contains("block")))
    })
    .await
    .with_context(|| agent.log())?;
    ensure!(agents[1].log().contains("stored policy not used"), "the refusal is logged:\n{}", agents[1].log());
    for agent in &mut agents {
        agent.check_running()?;
    }
    Ok(sb)
}

/// The enforcement scenario's policy: quarantine one Cursor server, block one Claude Code server.
const ENFORCE: &str = r#"version = 1
name = "e2e-enforce"

[[rule]]
id = "retire-crm"
action = "quarantine"
[rule.match]
name = ["e2e-retire"]

[[rule]]
id = "no-shell"
action = "block"
[rule.match]
name = ["e2e-blocked"]
"#;

/// The same policy with both rules gone.
const LIFTED: &str = "version = 1\nname = \"e2e-enforce\"\n";

/// Claude Code's managed-settings drop-in Muster writes (under the agent's image root).
const CLAUDE_DROP_IN: &str = "etc/claude-code/managed-settings.d/50-muster.json";

/// A `quarantine` and a `block` published from the control plane are carried out by a real agent
/// process on its `--root` image (the entry disabled in the user's own file, Claude Code's managed
/// drop-in written) and shown as applied in compliance within 2 s of publishing; the dry run
/// taken before publishing matches, rule by rule, what the agents report; lifting both restores
/// the user's file byte-identical and removes the drop-in.
pub async fn published_enforcement_is_applied_and_lifted(sb: Sandbox) -> anyhow::Result<Sandbox> {
    // Two agents: the first gets the servers the policy acts on, the second breaks no rule.
    let mut agents = crate::deltas::running_agents(&sb, 2, "enforce").await?;
    let cp = sb.cp()?;
    let store = cp.state.store.clone();
    let agent = &agents[0];
    let root = agent.root.clone();
    image::add_cursor_server(&root, "e2e-retire")?;
    image::edit_mcp_servers(&image::claude_config(&root), |servers| {
        servers.insert("e2e-blocked".into(), serde_json::json!({"command": "shell-server", "args": ["--all"]}));
    })?;
    let cursor = image::cursor_config(&root);
    let before = std::fs::read(&cursor)?;
    let id = agent.id()?;
    let id = id.as_str();
    eventually("the added servers to be stored", || async move {
        let inv = cp.store().host_inventory(id).await?;
        let find = |name: &str| inv.servers.iter().find(|s| s.name == name).map(|s| s.server_id.clone());
        Ok(find("e2e-retire").zip(find("e2e-blocked")).map(|_| ()))
    })
    .await
    .with_context(|| agent.log())?;

    // What the dry run says the policy would hit, before it is published.
    let dry = muster_control_plane::policy_preview::dry_run::dry_run(
        store.as_ref(),
        ENFORCE,
        muster_control_plane::state::unix_now(),
    )
    .await?;
    let published = Instant::now();
    policies::publish(store.as_ref(), cp.state.as_ref(), ENFORCE, "e2e", "", muster_control_plane::state::unix_now())
        .await?;

    // Compliance in the API: the endpoint on version 1 with both actions applied.
    let view = eventually("compliance showing both actions applied", || async move {
        let view = compliance::endpoint(cp.store(), id).await?;
        let applied = |rule: &str| {
            view.compliance
                .actions
                .iter()
                .any(|a| a.rule_id == rule && a.action_state == PolicyActionState::Applied as i32)
        };
        Ok((view.compliance.endpoint.applied_version == 1 && applied("retire-crm") && applied("no-shell"))
            .then_some(view))
    })
    .await
    .with_context(|| agent.log())?;
    let took = published.elapsed();
    ensure!(took < Duration::from_secs(2), "compliance took {took:?} to show (goal: 2 s)");
    ensure!(view.compliance.endpoint.on_current && view.compliance.endpoint.violations == 2, "{view:?}");
    // The dry run matched what the agents then reported, rule by rule: the same endpoints and
    // servers (the second agent reports version 1 and nothing broken).
    eventually("every agent to report version 1", || async move {
        let page =
            compliance::endpoints(cp.store(), compliance::EndpointFilter { limit: 50, ..Default::default() }).await?;
        Ok((page.items.len() == 2 && page.items.iter().all(|e| e.applied_version == 1)).then_some(()))
    })
    .await?;
    let rules = compliance::rules(cp.store(), None, 50).await?.items;
    for impact in &dry.rules {
        let reported = rules.iter().find(|r| r.rule_id == impact.rule);
        let (endpoints, servers) = reported.map_or((0, 0), |r| {
            let s = &r.servers;
            (r.endpoints, s.pending + s.applied + s.failed + s.excepted + s.not_in_force)
        });
        ensure!(
            (endpoints, servers) == (impact.affected.endpoints, impact.affected.servers),
            "rule {}: the dry run said {} endpoints / {} servers, the agents reported {endpoints} / {servers}",
            impact.rule,
            impact.affected.endpoints,
            impact.affected.servers
        );
    }
    ensure!(dry.rules.iter().all(|r| r.affected.servers == 1), "the dry run missed a rule: {dry:?}");

    let drop_in = root.join(CLAUDE_DROP_IN);
    let (cursor_path, drop_in_path) = (&cursor, &drop_in);
    eventually("the quarantine and the block to be written", || async move {
        let text = std::fs::read_to_string(cursor_path)?;
        let quarantined = !text.contains("e2e-retire") || text.contains("\"disabled\": true");
        let blocked = std::fs::read_to_string(drop_in_path).is_ok_and(|t| t.contains("shell-server"));
        Ok((quarantined && blocked).then_some(()))
    })
    .await
    .with_context(|| agent.log())?;
    policies::publish(store.as_ref(), cp.state.as_ref(), LIFTED, "e2e", "", muster_control_plane::state::unix_now())
        .await?;
    let before = &before;
    eventually("the quarantine to be lifted byte-identical and the drop-in removed", || async move {
        let restored = std::fs::read(cursor_path)? == *before;
        let removed = !drop_in_path.exists() || !std::fs::read_to_string(drop_in_path)?.contains("shell-server");
        Ok((restored && removed).then_some(()))
    })
    .await
    .with_context(|| agent.log())?;
    for agent in &mut agents {
        agent.check_running()?;
    }
    Ok(sb)
}
