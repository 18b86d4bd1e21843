//! Control plane stopped → three agents keep running and queue their edits (two chained deltas for
//! one of them) → the control plane restarts on the same data dir or database and port →
//! everything arrives exactly once: each server has exactly one "appeared" event, no sequence is
//! applied twice, the outboxes drain, and each stored inventory equals its image.

use std::collections::BTreeMap;

use anyhow::ensure;
use muster_control_plane::ingest::{ChangeKind, Decision};
use muster_control_plane::testing::TestControlPlane;
use muster_e2e::{Agent, Sandbox, eventually, image, stored_equals_scan};

use crate::deltas::running_agents;

/// Waits until `agent` has at least `n` reports queued.
pub async fn queued(agent: &Agent, n: usize) -> anyhow::Result<()> {
    eventually(&format!("{} reports queued by {}", n, agent.name), || async move {
        Ok((agent.pending_reports()?.len() >= n).then_some(()))
    })
    .await
}

/// Every server of `agent` appeared exactly once and nothing else happened to servers that are
/// still stored; no (agent, sequence) was applied twice.
pub async fn exactly_once(cp: &TestControlPlane, agent: &Agent) -> anyhow::Result<()> {
    let id = agent.id()?;
    let stored = stored_equals_scan(cp, agent).await?;
    let mut appeared: BTreeMap<String, usize> = BTreeMap::new();
    for event in cp.store().change_events(&id).await? {
        ensure!(event.kind == ChangeKind::Appeared, "unexpected {:?} of {}", event.kind, event.server_name);
        *appeared.entry(event.server_id).or_default() += 1;
    }
    let stored_ids: Vec<&String> = stored.servers.iter().map(|(id, _, _)| id).collect();
    ensure!(appeared.keys().collect::<Vec<_>>() == stored_ids, "appeared events do not match the stored servers");
    let duplicated: Vec<_> = appeared.iter().filter(|(_, n)| **n > 1).collect();
    ensure!(duplicated.is_empty(), "servers that appeared more than once: {duplicated:?}");
    let mut applied: BTreeMap<u64, usize> = BTreeMap::new();
    for report in cp.received_reports().into_iter().filter(|r| r.agent_id == id) {
        if report.outcome.is_some_and(|o| o.decision == Decision::Apply) {
            *applied.entry(report.request.sequence).or_default() += 1;
        }
    }
    ensure!(applied.values().all(|n| *n == 1), "a sequence was applied twice: {applied:?}");
    eventually(&format!("{}'s outbox to drain", agent.name), || async move {
        Ok(agent.pending_reports()?.is_empty().then_some(()))
    })
    .await
}

pub async fn queues_then_delivers_exactly_once(mut sb: Sandbox) -> anyhow::Result<Sandbox> {
    let mut agents = running_agents(&sb, 3, "outage").await?;
    sb.stop_control_plane().await?;

    for (i, agent) in agents.iter().enumerate() {
        image::add_cursor_server(&agent.root, &format!("queued-{i}"))?;
    }
    for agent in &agents {
        queued(agent, 1).await?;
    }
    // A second edit while the first is still queued: a delta chained on an unsent one.
    image::add_cursor_server(&agents[0].root, "queued-0-again")?;
    queued(&agents[0], 2).await?;
    for agent in &mut agents {
        agent.check_running()?;
    }

    sb.restart_control_plane().await?;
    let cp = sb.cp()?;
    for agent in &agents {
        exactly_once(cp, agent).await?;
    }
    let names: Vec<String> =
        cp.store().host_inventory(&agents[0].id()?).await?.servers.into_iter().map(|s| s.name).collect();
    ensure!(names.iter().any(|n| n == "queued-0-again"), "the second queued edit is missing");
    Ok(sb)
}
