//! Enroll → `run --once` → the control plane holds exactly the agent's inventory: the same
//! servers (id, name, client), credentials (with fingerprints), clients and config sources as the
//! agent's own `scan --format json` of the same image, and one "appeared" event per server.

use anyhow::ensure;
use muster_control_plane::ingest::ChangeKind;
use muster_e2e::{InventoryView, Sandbox, stored_view};

pub async fn run_stores_exactly_the_inventory(sb: Sandbox) -> anyhow::Result<Sandbox> {
    let agent = sb.enrolled_agent("solo").await?;
    let id = agent.id()?;
    let cp = sb.cp()?;
    let record = cp.store().agent(&id).await?.ok_or_else(|| anyhow::anyhow!("agent {id} not stored"))?;
    ensure!(record.last_sequence == 0, "nothing reported yet, stored sequence {}", record.last_sequence);
    ensure!(stored_view(cp, &id).await?.servers.is_empty(), "servers stored before any report");

    let out = agent.run_once().await?;
    ensure!(out.status.success(), "run --once failed: {}", String::from_utf8_lossy(&out.stderr));

    // `--once` returns only after the acknowledgement, so the store holds the report now.
    let expected = InventoryView::from_scan(&agent.scan_json().await?)?;
    let stored = stored_view(cp, &id).await?;
    ensure!(stored == expected, "stored inventory differs from the agent's scan:\n{}", stored.diff(&expected));
    ensure!(
        stored.servers.len() == agent.servers_written,
        "{} servers stored, the image generator wrote {}",
        stored.servers.len(),
        agent.servers_written
    );
    ensure!(!stored.credentials.is_empty(), "the image's credential references were not stored");

    let events = cp.store().change_events(&id).await?;
    ensure!(
        events.len() == stored.servers.len(),
        "{} change events for {} servers",
        events.len(),
        stored.servers.len()
    );
    ensure!(events.iter().all(|e| e.kind == ChangeKind::Appeared && e.sequence == 1), "first report: appeared at 1");

    // A second run sends a new full snapshot of the same state: nothing changes.
    let out = agent.run_once().await?;
    ensure!(out.status.success(), "second run --once failed: {}", String::from_utf8_lossy(&out.stderr));
    ensure!(stored_view(cp, &id).await? == expected, "an unchanged image changed the store");
    ensure!(cp.store().change_events(&id).await?.len() == events.len(), "an unchanged image produced events");
    let record = cp.store().agent(&id).await?.ok_or_else(|| anyhow::anyhow!("agent gone"))?;
    ensure!(record.last_sequence == 2, "two reports, stored sequence {}", record.last_sequence);
    Ok(sb)
}
