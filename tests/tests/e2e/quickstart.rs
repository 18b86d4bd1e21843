//! `muster-server quickstart` with the real `muster-agent` next to it: the newcomer's command
//! enrolls the local agent, which scans this machine (no `--root`) and reports; the embedded
//! SQLite database then holds this machine as an endpoint. A re-run on the same data dir prints
//! the first-report line again and mints no enrollment token.

use std::sync::Arc;
use std::time::Duration;

use muster_control_plane::config::{self, Overrides, ServerConfig};
use tokio::sync::mpsc;

/// One quickstart run: its printed lines, and the sender that stops it.
struct Run {
    lines: mpsc::UnboundedReceiver<String>,
    seen: Vec<String>,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), muster_control_plane::quickstart::QuickstartError>>,
}

impl Run {
    async fn start(config: &ServerConfig) -> anyhow::Result<Self> {
        let agent = muster_e2e::agent_binary()?;
        let grpc = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let http = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (say, lines) = mpsc::unbounded_channel();
        let say: muster_control_plane::quickstart::Say = Arc::new(move |line| {
            let _ = say.send(line);
        });
        let config = config.clone();
        let task = tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.await;
            };
            muster_control_plane::quickstart::quickstart_saying(&config, Some(&agent), grpc, http, shutdown, say).await
        });
        Ok(Self { lines, seen: Vec::new(), stop, task })
    }

    /// The first printed line starting with `prefix`, waiting for it up to the e2e deadline.
    async fn line(&mut self, prefix: &str) -> anyhow::Result<String> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(line) = self.seen.iter().find(|l| l.trim_start().starts_with(prefix)) {
                return Ok(line.clone());
            }
            match tokio::time::timeout_at(deadline, self.lines.recv()).await {
                Ok(Some(line)) => self.seen.push(line),
                Ok(None) => anyhow::bail!("quickstart ended before printing {prefix:?}: {:#?}", self.seen),
                Err(_) => anyhow::bail!("no {prefix:?} line within 60 s: {:#?}", self.seen),
            }
        }
    }

    async fn stop(self) -> anyhow::Result<()> {
        self.stop.send(()).map_err(|()| anyhow::anyhow!("quickstart already stopped"))?;
        tokio::time::timeout(Duration::from_secs(30), self.task).await???;
        Ok(())
    }
}

pub async fn enrolls_the_local_agent_and_stores_this_machine() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let overrides = Overrides { data_dir: Some(dir.path().join("muster-data")), ..Overrides::default() };
    let config = config::load(None, &Default::default(), &overrides)?;
    let mut run = Run::start(&config).await?;
    let first = run.line("first report:").await?;
    let this_machine = gethostname::gethostname().to_string_lossy().into_owned();
    assert!(first.contains(&format!("first report:       {this_machine}: ")), "{first}");

    // Quickstart created and migrated the database before it enrolled the agent.
    let store = muster_control_plane::store::open(&config.database_url).await?;
    let agents = store.list_agents().await?;
    assert_eq!(agents.len(), 1, "exactly one agent enrolled");
    let host = store.host_inventory(&agents[0].id).await?.host.expect("the first report is stored");
    assert_eq!(host.hostname, this_machine, "the stored endpoint is this machine");
    run.stop().await?;

    // Issue 15: a re-run printed no first-report line (the report was stored already) and minted
    // a new token each time. Now it says the report is there, and needs no token.
    let mut rerun = Run::start(&config).await?;
    let token = rerun.line("enrollment token:").await?;
    assert!(token.contains("none needed"), "{token}");
    let again = rerun.line("first report:").await?;
    assert!(again.contains(&format!("first report:       {this_machine}: ")), "{again}");
    rerun.stop().await?;
    assert_eq!(store.list_tokens().await?.len(), 1, "the re-run minted no token");
    assert_eq!(store.list_agents().await?.len(), 1, "the re-run enrolled no second agent");
    Ok(())
}
