//! SIGKILL of an agent, twice: right after it queued a report (control plane down, so nothing was
//! sent), and mid-send (the control plane holds the report in ingest, the agent dies, the report
//! is then stored but its acknowledgement is lost). After a restart nothing is lost and nothing
//! is duplicated: the resent report keeps its sequence and is recognised as already stored.

use anyhow::{Context, ensure};
use muster_control_plane::ingest::Decision;
use muster_e2e::{Sandbox, eventually, image};

use crate::deltas::running_agents;
use crate::outage::{exactly_once, queued};

pub async fn after_queuing_loses_nothing(mut sb: Sandbox) -> anyhow::Result<Sandbox> {
    let mut agent = running_agents(&sb, 1, "killq").await?.remove(0);
    sb.stop_control_plane().await?;
    image::add_cursor_server(&agent.root, "queued-then-killed")?;
    queued(&agent, 1).await?;
    agent.kill().await?;
    sb.restart_control_plane().await?;
    agent.spawn()?;
    let cp = sb.cp()?;
    exactly_once(cp, &agent).await?;
    let events = cp.store().change_events(&agent.id()?).await?;
    ensure!(events.iter().filter(|e| e.server_name == "queued-then-killed").count() == 1, "the queued edit was lost");
    Ok(sb)
}

pub async fn mid_send_loses_nothing(sb: Sandbox) -> anyhow::Result<Sandbox> {
    let mut agent = running_agents(&sb, 1, "killm").await?.remove(0);
    let cp = sb.cp()?;
    let id = agent.id()?;
    let id = id.as_str();
    let stored_sequence = cp.store().agent(id).await?.context("agent")?.last_sequence;

    cp.hold_ingest();
    image::add_cursor_server(&agent.root, "killed-mid-send")?;
    let in_flight = eventually("the edit's report to reach ingest", || async move {
        Ok(cp.received_reports().into_iter().find(|r| r.agent_id == id && r.request.sequence > stored_sequence))
    })
    .await
    .with_context(|| agent.log())?;
    let sequence = in_flight.request.sequence;
    agent.kill().await?;
    cp.release_ingest();
    // The report is stored although nobody is left to receive the acknowledgement.
    eventually("the held report to be stored", || async move {
        let stored = cp.store().agent(id).await?.context("agent")?.last_sequence;
        Ok((stored >= sequence).then_some(()))
    })
    .await?;
    ensure!(agent.pending_reports()?.len() == 1, "the unacknowledged report should still be queued");

    agent.spawn()?;
    exactly_once(cp, &agent).await?;
    let copies: Vec<_> =
        cp.received_reports().into_iter().filter(|r| r.agent_id == id && r.request.sequence == sequence).collect();
    ensure!(copies.len() == 2, "expected the report and its resend, got {} copies", copies.len());
    ensure!(copies[0].request == copies[1].request, "the resend differs from the original");
    let decisions: Vec<_> = copies.iter().map(|c| c.outcome.map(|o| o.decision)).collect();
    ensure!(
        decisions == [Some(Decision::Apply), Some(Decision::AlreadyStored)],
        "expected apply then already-stored, got {decisions:?}"
    );
    let events = cp.store().change_events(id).await?;
    ensure!(events.iter().filter(|e| e.server_name == "killed-mid-send").count() == 1, "lost or duplicated");
    Ok(sb)
}
