//! Refusals over the real binary: a revoked agent's next report is refused and not stored; an
//! impostor control plane (another CA) at the agent's configured address gets nothing, and once
//! the real one is back everything arrives exactly once; a
//! reused single-use token, an expired token and a wrong `--ca-fingerprint` each fail enrollment,
//! and with the wrong pin the agent never sends the token (it stays unspent and works afterwards
//! with the right pin). The TLS-level refusals (no client certificate, another CA, an expired
//! certificate, another agent's id, plaintext) are tested in `control-plane/tests/mtls.rs`.

use std::time::Duration;

use anyhow::{Context, anyhow, ensure};
use muster_e2e::{Sandbox, eventually, image};

use crate::deltas::running_agents;
use crate::outage::exactly_once;

const NOT_ACKNOWLEDGED: &str = "report not acknowledged";

pub async fn revoked_agent_is_refused(sb: Sandbox) -> anyhow::Result<Sandbox> {
    let mut agent = running_agents(&sb, 1, "revoked").await?.remove(0);
    let cp = sb.cp()?;
    let id = agent.id()?;
    ensure!(!agent.log().contains(NOT_ACKNOWLEDGED), "a report failed before the revocation");
    let before = cp.store().agent(&id).await?.context("agent")?;
    let events_before = cp.store().change_events(&id).await?.len();
    let received_before = cp.received_reports().len();

    ensure!(cp.revoke_agent(&id).await.map_err(|e| anyhow!("{e}"))?, "revocation failed");
    image::add_cursor_server(&agent.root, "after-revocation")?;
    // Until the agent logs the refusal, or (the check this test guards being gone) the report
    // reaches ingest, which the assertions below then name.
    let watched = &agent;
    let id_ref = id.as_str();
    eventually("the revoked agent's report to be refused", || async move {
        let reached = cp.received_reports()[received_before..].iter().any(|r| r.agent_id == id_ref);
        Ok((reached || watched.log().contains(NOT_ACKNOWLEDGED)).then_some(()))
    })
    .await
    .with_context(|| agent.log())?;

    agent.check_running()?;
    let after = cp.store().agent(&id).await?.context("agent")?;
    ensure!(after.last_sequence == before.last_sequence, "a report of the revoked agent was stored");
    ensure!(cp.store().change_events(&id).await?.len() == events_before, "the revoked agent changed the store");
    let names: Vec<String> = cp.store().host_inventory(&id).await?.servers.into_iter().map(|s| s.name).collect();
    ensure!(!names.iter().any(|n| n == "after-revocation"), "the revoked agent's server was stored");
    ensure!(
        cp.received_reports()[received_before..].iter().all(|r| r.agent_id != id),
        "the revoked agent's report reached ingest"
    );
    ensure!(!agent.pending_reports()?.is_empty(), "the refused report should stay queued");
    Ok(sb)
}

pub async fn enrollment_refusals(sb: Sandbox) -> anyhow::Result<Sandbox> {
    let cp = sb.cp()?;
    let day = Duration::from_secs(24 * 3600);
    let err = |e| anyhow!("{e}");

    // A single-use token works once.
    let token = cp.create_token(1, day).await.map_err(err)?;
    let first = sb.agent("first")?;
    let out = first.enroll(&cp.grpc_url(), &token.token, cp.ca_fingerprint()).await?;
    ensure!(out.status.success(), "first enrollment failed: {}", String::from_utf8_lossy(&out.stderr));
    let second = sb.agent("second")?;
    let out = second.enroll(&cp.grpc_url(), &token.token, cp.ca_fingerprint()).await?;
    ensure!(!out.status.success(), "a reused single-use token enrolled a second agent");
    ensure!(!second.is_enrolled()?, "the refused agent stored an identity");

    // An expired token.
    let expired = cp.create_expired_token().await.map_err(err)?;
    let late = sb.agent("late")?;
    let out = late.enroll(&cp.grpc_url(), &expired.token, cp.ca_fingerprint()).await?;
    ensure!(!out.status.success(), "an expired token enrolled an agent");
    ensure!(!late.is_enrolled()?, "the refused agent stored an identity");

    // A wrong CA pin: refused before the token is sent, so the token stays unspent.
    let token = cp.create_token(1, day).await.map_err(err)?;
    let wary = sb.agent("wary")?;
    let wrong_pin = "ab".repeat(32);
    ensure!(wrong_pin != cp.ca_fingerprint(), "the wrong pin is the right one");
    let out = wary.enroll(&cp.grpc_url(), &token.token, &wrong_pin).await?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure!(!out.status.success(), "enrollment with a wrong CA pin succeeded");
    ensure!(stderr.contains("refusing"), "the agent should say it refuses the server: {stderr}");
    ensure!(!stderr.contains(&token.token), "the token was printed");
    ensure!(!wary.is_enrolled()?, "the refusing agent stored an identity");
    let record = cp.store().list_tokens().await?.into_iter().find(|t| t.id == token.id).context("token")?;
    ensure!(record.uses == 0, "the token was spent although the agent refused the server");
    let out = wary.enroll(&cp.grpc_url(), &token.token, cp.ca_fingerprint()).await?;
    ensure!(
        out.status.success(),
        "the unspent token failed with the right pin: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let agents = cp.store().list_agents().await?;
    ensure!(agents.len() == 2, "expected exactly the two accepted agents, found {}", agents.len());
    Ok(sb)
}

pub async fn impostor_control_plane_gets_nothing(mut sb: Sandbox) -> anyhow::Result<Sandbox> {
    let mut agent = running_agents(&sb, 1, "pinned").await?.remove(0);
    sb.stop_control_plane().await?;
    let impostor = sb.start_impostor().await?;
    ensure!(!agent.log().contains(NOT_ACKNOWLEDGED), "a report failed before the impostor came");

    image::add_cursor_server(&agent.root, "sent-while-impostor")?;
    let watched = &agent;
    let fake = &impostor;
    eventually("the agent to refuse the impostor", || async move {
        let reached = !fake.received_reports().is_empty();
        Ok((reached || watched.log().contains(NOT_ACKNOWLEDGED)).then_some(()))
    })
    .await
    .with_context(|| agent.log())?;
    ensure!(impostor.received_reports().is_empty(), "the impostor received a report");
    ensure!(impostor.store().list_agents().await?.is_empty(), "the impostor learned of an agent");
    ensure!(!agent.pending_reports()?.is_empty(), "the report should stay queued for the real control plane");
    agent.check_running()?;
    impostor.stop().await.map_err(|e| anyhow!("{e}"))?;

    sb.restart_control_plane().await?;
    exactly_once(sb.cp()?, &agent).await?;
    Ok(sb)
}
