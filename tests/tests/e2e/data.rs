//! Data bundles reach real agent processes: a service catalog row published at runtime (not in
//! the agent's built-in catalog) changes what a running agent reports about a server it already
//! knew, without a restart or an upgrade; the agent keeps the bundle across a restart; a
//! malformed bundle is refused at publish and stores nothing.

use anyhow::{Context, ensure};
use muster_control_plane::data_bundles::{self, DataParts};
use muster_control_plane::state::unix_now;
use muster_e2e::{Sandbox, eventually, image};
use muster_proto::prost::Message as _;
use muster_proto::v1::DataBundle;

/// A catalog row for a package the built-in catalog does not know.
const ROW: &str = "\n[[server]]\nid = \"e2e-acme-tickets\"\nservice = \"e2e-acme\"\ncategory = \"ticketing\"\nauth = \"api-key\"\nnpm = [\"@example/e2e-acme\"]\nlegs = [\"private_data\"]\nreason = \"reads tickets\"\nsource = \"e2e\"\n";

/// The service the stored inventory of `agent_id` names for server `name` ("" when none).
async fn stored_service(sb: &Sandbox, agent_id: &str, name: &str) -> anyhow::Result<Option<String>> {
    let endpoints = sb.cp()?.store().policy_endpoints("", 100).await?;
    let Some(endpoint) = endpoints.into_iter().find(|e| e.agent_id == agent_id) else { return Ok(None) };
    Ok(endpoint.snapshot.servers.iter().find(|s| s.name == name).map(|s| s.service.clone()))
}

pub async fn published_catalog_changes_detection_on_running_agents(sb: Sandbox) -> anyhow::Result<Sandbox> {
    let mut agent = sb.enrolled_agent("data").await?;
    image::add_cursor_server(&agent.root, "e2e-acme")?;
    agent.spawn()?;
    let id = agent.id()?;
    let id = id.as_str();
    let sbr = &sb;
    let before = eventually("the server reported with the built-in catalog", || async move {
        stored_service(sbr, id, "e2e-acme").await
    })
    .await
    .with_context(|| agent.log())?;
    ensure!(before != "e2e-acme", "the built-in catalog already knows the package");

    // A malformed bundle is refused at publish and changes nothing.
    let cp = sb.cp()?;
    let store = cp.state.store.clone();
    let broken = DataParts { services_toml: Some("version = 1\n[[server]\n".into()), advisories_osv_json: None };
    let refused = data_bundles::publish(store.as_ref(), cp.state.as_ref(), &broken, "e2e", "", unix_now()).await;
    ensure!(refused.is_err(), "a malformed catalog was published");
    ensure!(store.current_data_bundle().await?.is_none(), "a refused bundle was stored");

    let mut parts = DataParts::builtin();
    parts.services_toml = parts.services_toml.map(|text| text + ROW);
    let (published, _) =
        data_bundles::publish(store.as_ref(), cp.state.as_ref(), &parts, "e2e", "", unix_now()).await?;
    eventually("the running agent to report the service from the published catalog", || async move {
        Ok(stored_service(sbr, id, "e2e-acme").await?.filter(|s| s == "e2e-acme"))
    })
    .await
    .with_context(|| agent.log())?;
    let held =
        DataBundle::decode(std::fs::read(agent.state_dir.join(muster_agent::data_bundle::BUNDLE_FILE))?.as_slice())?;
    ensure!(held.version == published.version, "the agent holds version {}", held.version);

    // Kept across a restart: the restarted agent analyses with the stored bundle (verified again
    // from its state dir) before its stream could bring anything, so its reports still name the
    // service; with the built-in data it would report the server's guessed service again.
    agent.kill().await?;
    image::add_cursor_server(&agent.root, "e2e-later")?;
    agent.spawn()?;
    eventually("the restarted agent to report the server added while it was down", || async move {
        stored_service(sbr, id, "e2e-later").await
    })
    .await
    .with_context(|| agent.log())?;
    let after = stored_service(sbr, id, "e2e-acme").await?;
    ensure!(after.as_deref() == Some("e2e-acme"), "after a restart the server reads {after:?}:\n{}", agent.log());
    ensure!(!agent.log().contains("stored data bundle not used"), "{}", agent.log());
    agent.check_running()?;
    Ok(sb)
}
