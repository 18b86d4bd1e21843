//! `muster-server quickstart` with the real `muster-agent` next to it: the newcomer's command
//! enrolls the local agent, which scans this machine (no `--root`) and reports; the embedded
//! SQLite database then holds this machine as an endpoint.

use std::time::Duration;

use muster_control_plane::config::{self, Overrides};

pub async fn enrolls_the_local_agent_and_stores_this_machine() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let overrides = Overrides { data_dir: Some(dir.path().join("muster-data")), ..Overrides::default() };
    let config = config::load(None, &Default::default(), &overrides)?;
    let agent = muster_e2e::agent_binary()?;
    let grpc = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let http = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let config_for_task = config.clone();
    let task = tokio::spawn(async move {
        muster_control_plane::quickstart::quickstart_on(&config_for_task, Some(&agent), grpc, http, async move {
            let _ = stopped.await;
        })
        .await
    });

    // Quickstart creates and migrates the database before it enrolls the agent: open it (a second
    // migrator racing the first would fail) once the agent's state dir holds its enrollment.
    let enrollment = config.data_dir.join("agent/identity.json");
    muster_e2e::eventually("the local agent's enrollment", || async { Ok(enrollment.is_file().then_some(())) }).await?;
    let store = muster_control_plane::store::open(&config.database_url).await?;
    let host = muster_e2e::eventually("the local agent's first report", || async {
        let agents = store.list_agents().await?;
        let Some(agent) = agents.first() else { return Ok(None) };
        Ok(store.host_inventory(&agent.id).await?.host)
    })
    .await?;
    let this_machine = gethostname::gethostname().to_string_lossy().into_owned();
    assert_eq!(host.hostname, this_machine, "the stored endpoint is this machine");
    assert_eq!(store.list_agents().await?.len(), 1, "exactly one agent enrolled");

    stop.send(()).map_err(|()| anyhow::anyhow!("quickstart already stopped"))?;
    tokio::time::timeout(Duration::from_secs(30), task).await???;
    Ok(())
}
