//! Canary secrets planted in an agent's image never leave it: not in the reports it queued
//! (outbox files, read while the control plane is down so they are still there), not in what the
//! control plane's ingest received, not in the database (SQLite files including the WAL, or every
//! row of every PostgreSQL table). Meanwhile the store holds, for each canary, a literal
//! credential whose fingerprint is the fleet-keyed HMAC of the secret, so the test cannot pass by
//! the agent seeing nothing; and the fingerprints are found in the database bytes, so the search
//! cannot pass by looking at the wrong bytes.

use anyhow::{Context, ensure};
use muster_agent::secrets::Secret;
use muster_agent::secrets::fingerprint::fingerprint;
use muster_e2e::canary::{self, find_leaks};
use muster_e2e::{Sandbox, stored_equals_scan};
use muster_proto::prost::Message;
use muster_proto::v1::CredentialSource;
use muster_proto::v1::report_request::Body;

use crate::outage::queued;

pub async fn canaries_never_leave_the_agent(mut sb: Sandbox) -> anyhow::Result<Sandbox> {
    let canaries = canary::canaries(0xC0FF_EE00_E2E0_0001);
    let mut agent = sb.enrolled_agent("canary").await?;
    canary::plant(&agent.root, &canaries)?;

    // Queue the first report while the control plane is down, to read it on disk.
    sb.stop_control_plane().await?;
    agent.spawn()?;
    queued(&agent, 1).await?;
    let mut captured = agent.state_files()?;
    ensure!(captured.iter().any(|(p, _)| p.ends_with(".report")), "no outbox entry captured");
    sb.restart_control_plane().await?;
    let cp = sb.cp()?;
    let id = agent.id()?;
    stored_equals_scan(cp, &agent).await?;

    let received = cp.received_reports();
    let ours: Vec<_> = received.iter().filter(|r| r.agent_id == id).collect();
    ensure!(!ours.is_empty(), "no report received");
    for report in &ours {
        captured.push((format!("received report {}", report.request.sequence), report.request.encode_to_vec()));
    }
    captured.extend(agent.state_files()?);
    let stored_bytes = sb.stored_bytes().await?;
    let cp = sb.cp()?;

    // The canaries were seen: a literal credential with the keyed fingerprint for each.
    let key = agent.fingerprint_key()?;
    let inventory = cp.store().host_inventory(&id).await?;
    let full = ours
        .iter()
        .find_map(|r| match &r.request.body {
            Some(Body::Full(snapshot)) => Some(snapshot.clone()),
            _ => None,
        })
        .context("no full snapshot received")?;
    let mut fingerprints = Vec::new();
    for c in &canaries {
        let server = inventory
            .servers
            .iter()
            .find(|s| s.name == c.server)
            .with_context(|| format!("{} not stored", c.server))?;
        let stored = inventory
            .credentials
            .iter()
            .find(|cr| cr.server_id == server.server_id && cr.location == c.location)
            .with_context(|| format!("no credential stored at {} of {}", c.location, c.server))?;
        ensure!(stored.kind == c.kind, "{}: stored kind {} instead of {}", c.label, stored.kind, c.kind);
        let candidates =
            [fingerprint(&key, &Secret::new(c.secret.clone())), fingerprint(&key, &Secret::new(c.value.clone()))];
        ensure!(
            candidates.contains(&stored.fingerprint),
            "{}: stored fingerprint {:?} is not the keyed HMAC of the secret",
            c.label,
            stored.fingerprint
        );
        let wire = full
            .servers
            .iter()
            .find(|s| s.name == c.server)
            .and_then(|s| s.credentials.iter().find(|cr| cr.location == c.location))
            .with_context(|| format!("{} missing from the received snapshot", c.label))?;
        ensure!(wire.source == CredentialSource::Literal as i32, "{} not reported as a literal", c.label);
        fingerprints.push(stored.fingerprint.clone());
    }

    // The search looks at the right bytes: the fingerprints are in the database.
    for fp in &fingerprints {
        ensure!(
            stored_bytes.iter().any(|(_, b)| b.windows(fp.len()).any(|w| w == fp.as_bytes())),
            "fingerprint {fp} not found in the database bytes: the leak search would be blind"
        );
    }

    let mut leaks = find_leaks(&canaries, &captured);
    leaks.extend(find_leaks(&canaries, &stored_bytes));
    ensure!(leaks.is_empty(), "canary secrets left the agent:\n{}", leaks.join("\n"));
    Ok(sb)
}
