//! Policies reach real agent processes: a published version is in force on every running agent
//! (verified and stored in its state dir) within 2 s; an agent keeps it across a restart, gets
//! what was published while it was down when it comes back, and does not trust a stored bundle
//! that was altered on disk (it takes the control plane's current version again instead).
//! Compliance in the API is not covered yet: agents do not report decisions yet.

use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use muster_control_plane::policies::{self, NoListener};
use muster_e2e::{Agent, Sandbox, eventually};
use muster_proto::prost::Message as _;
use muster_proto::v1::PolicyBundle;

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
