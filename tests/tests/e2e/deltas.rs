//! A config edit in the image of a running daemon arrives as a delta: the new server appears
//! (one "appeared" event at a sequence beyond the first), carried by a report whose body is a
//! delta chained on the previous sequence and holding only that server; a removal likewise
//! arrives as a "disappeared". Three agents run at once; the others see no change.

use anyhow::{Context, ensure};
use muster_control_plane::ingest::ChangeKind;
use muster_control_plane::testing::TestControlPlane;
use muster_e2e::{Agent, Sandbox, eventually, image, stored_equals_scan};
use muster_proto::v1::report_request::Body;

/// The report that carried `sequence` of `agent_id`, as the control plane received it.
pub fn received(
    cp: &TestControlPlane,
    agent_id: &str,
    sequence: u64,
) -> anyhow::Result<muster_proto::v1::ReportRequest> {
    cp.received_reports()
        .into_iter()
        .find(|r| r.agent_id == agent_id && r.request.sequence == sequence)
        .map(|r| r.request)
        .with_context(|| format!("no report {sequence} of {agent_id} received"))
}

/// Starts `n` enrolled daemons and waits until each one's inventory is stored.
pub async fn running_agents(sb: &Sandbox, n: usize, prefix: &str) -> anyhow::Result<Vec<Agent>> {
    let mut agents = Vec::new();
    for i in 0..n {
        let mut agent = sb.enrolled_agent(&format!("{prefix}-{i}")).await?;
        agent.spawn()?;
        agents.push(agent);
    }
    for agent in &agents {
        stored_equals_scan(sb.cp()?, agent).await?;
    }
    Ok(agents)
}

pub async fn config_edit_arrives_as_a_delta(sb: Sandbox) -> anyhow::Result<Sandbox> {
    let mut agents = running_agents(&sb, 3, "delta").await?;
    let cp = sb.cp()?;
    let mut before = Vec::new();
    for agent in &agents {
        before.push(cp.store().change_events(&agent.id()?).await?.len());
    }
    let edited = &agents[1];
    let id = edited.id()?;
    let id = id.as_str();
    let first_sequence = cp.store().agent(id).await?.context("agent")?.last_sequence;

    image::add_cursor_server(&edited.root, "e2e-added")?;
    let appeared = eventually("the added server's change event", || async move {
        let events = cp.store().change_events(id).await?;
        Ok(events.into_iter().find(|e| e.server_name == "e2e-added"))
    })
    .await
    .with_context(|| edited.log())?;
    ensure!(appeared.kind == ChangeKind::Appeared, "expected appeared, got {:?}", appeared.kind);
    ensure!(appeared.sequence > first_sequence, "the sequence did not advance past {first_sequence}");
    let report = received(cp, id, appeared.sequence)?;
    let Some(Body::Delta(delta)) = &report.body else { anyhow::bail!("the edit was sent as a full snapshot") };
    ensure!(report.base_sequence == appeared.sequence - 1, "delta not chained on the previous report");
    let names: Vec<&str> = delta.upserted_servers.iter().map(|s| s.name.as_str()).collect();
    ensure!(names == ["e2e-added"], "the delta should carry only the new server, carried {names:?}");
    ensure!(delta.removed_server_ids.is_empty(), "the delta removed servers");
    let stored = stored_equals_scan(cp, edited).await?;
    let new_events = cp.store().change_events(id).await?.len() - before[1];
    ensure!(new_events == 1, "one edit, {new_events} change events");

    image::remove_cursor_server(&edited.root, "e2e-added")?;
    let gone = eventually("the removed server's change event", || async move {
        let events = cp.store().change_events(id).await?;
        Ok(events.into_iter().find(|e| e.server_name == "e2e-added" && e.kind == ChangeKind::Disappeared))
    })
    .await?;
    let report = received(cp, id, gone.sequence)?;
    let Some(Body::Delta(delta)) = &report.body else { anyhow::bail!("the removal was sent as a full snapshot") };
    ensure!(delta.upserted_servers.is_empty() && delta.removed_server_ids.len() == 1, "removal delta: {delta:?}");
    let after = stored_equals_scan(cp, edited).await?;
    ensure!(after.servers.len() + 1 == stored.servers.len(), "the removed server is still stored");

    for (i, agent) in agents.iter_mut().enumerate() {
        agent.check_running()?;
        if i != 1 {
            let events = cp.store().change_events(&agent.id()?).await?.len();
            ensure!(events == before[i], "{} changed although its image did not", agent.name);
        }
    }
    Ok(sb)
}
