//! The end-to-end sandbox: a control plane in-process on 127.0.0.1:0 with real certificates
//! (`muster_control_plane::testing`), on SQLite or on a fresh PostgreSQL database, and agents that
//! are real `muster-agent` processes, each with its own state dir and its own `--root` synthetic
//! machine image. The agent binary is built once per test run with cargo (`escargot`).
//!
//! It also holds what the scenarios share: polling with a deadline, reading an agent's own view
//! of its image (`scan --format json`), editing images, and looking for canary bytes in captured
//! payloads and database files. It asserts nothing itself; `tests/e2e/` does.

#![forbid(unsafe_code)]

pub mod canary;
pub mod image;
pub mod leakgen;

use std::collections::BTreeSet;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use muster_control_plane::config::Limits;
use muster_control_plane::store::HostInventory;
use muster_control_plane::testing::{StoppedControlPlane, TestControlPlane, TestDatabase};
use tokio::process::{Child, Command};

/// How long any one expectation may take to come true before a scenario fails.
pub const DEADLINE: Duration = Duration::from_secs(30);
/// Pause between two looks at a polled condition (polling, not synchronisation).
const POLL_INTERVAL: Duration = Duration::from_millis(25);

/// The database behind the control plane.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Variables cargo sets for a test process (besides `CARGO_PKG_*` and `CARGO_BIN_EXE_*`).
const INHERITED_FROM_CARGO_TEST: &[&str] = &[
    "CARGO_MANIFEST_DIR",
    "CARGO_MANIFEST_PATH",
    "CARGO_CRATE_NAME",
    "CARGO_BIN_NAME",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_TARGET_TMPDIR",
    "CARGO_RUSTC_CURRENT_DIR",
    "OUT_DIR",
];

/// Removes the variables cargo set for this test process from a nested `cargo` command: build
/// scripts that watch them (ring watches CARGO_MANIFEST_DIR) would otherwise be rebuilt by the
/// nested build and again by the next outer `cargo test`, each time.
pub fn without_test_cargo_env(cmd: &mut std::process::Command) -> &mut std::process::Command {
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if INHERITED_FROM_CARGO_TEST.contains(&name.as_ref())
            || name.starts_with("CARGO_PKG_")
            || name.starts_with("CARGO_BIN_EXE_")
        {
            cmd.env_remove(name.as_ref());
        }
    }
    cmd
}

/// The `muster-agent` binary, built once per test run from this workspace.
pub fn agent_binary() -> anyhow::Result<PathBuf> {
    static BINARY: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
            let mut build =
                escargot::CargoBuild::new().manifest_path(manifest).package("muster-agent").bin("muster-agent");
            // The variables cargo set for this test process describe this package; build scripts
            // that watch them (ring watches CARGO_MANIFEST_DIR) would otherwise be rebuilt here
            // and again by the next outer `cargo test`, each time.
            for (name, _) in std::env::vars_os() {
                let name = name.to_string_lossy();
                if INHERITED_FROM_CARGO_TEST.contains(&name.as_ref())
                    || name.starts_with("CARGO_PKG_")
                    || name.starts_with("CARGO_BIN_EXE_")
                {
                    build = build.env_remove(name.as_ref());
                }
            }
            build.run().map(|run| run.path().to_path_buf()).map_err(|e| format!("building muster-agent: {e}"))
        })
        .clone()
        .map_err(|e| anyhow!(e))
}

/// Polls `check` until it yields `Some`, or fails naming `what` after [`DEADLINE`].
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Option<T>>>,
{
    let end = tokio::time::Instant::now() + DEADLINE;
    let mut last_error = None;
    loop {
        match check().await {
            Ok(Some(value)) => return Ok(value),
            Ok(None) => {}
            Err(e) => last_error = Some(e),
        }
        if tokio::time::Instant::now() >= end {
            let detail = last_error.map(|e| format!(" (last error: {e:#})")).unwrap_or_default();
            bail!("timed out after {DEADLINE:?} waiting for {what}{detail}");
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// A control plane (running or stopped) and the agents' working directory.
#[derive(Debug)]
pub struct Sandbox {
    pub backend: Backend,
    running: Option<TestControlPlane>,
    stopped: Option<StoppedControlPlane>,
    database: Option<TestDatabase>,
    work: tempfile::TempDir,
}

impl Sandbox {
    /// Starts a control plane on `backend`. `Ok(None)` only for PostgreSQL with
    /// `MUSTER_SKIP_POSTGRES=1`; an unset `MUSTER_TEST_POSTGRES_URL` is an error.
    pub async fn start(backend: Backend) -> anyhow::Result<Option<Self>> {
        let database = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => match TestDatabase::create().await.map_err(|e| anyhow!("{e}"))? {
                Some(db) => Some(db),
                None => return Ok(None),
            },
        };
        let url = database.as_ref().map(|db| db.url.as_str());
        let cp = TestControlPlane::start_with(url, Limits::default())
            .await
            .map_err(|e| anyhow!("starting the control plane: {e}"))?;
        Ok(Some(Self { backend, running: Some(cp), stopped: None, database, work: tempfile::tempdir()? }))
    }

    /// The running control plane.
    pub fn cp(&self) -> anyhow::Result<&TestControlPlane> {
        self.running.as_ref().context("the control plane is stopped")
    }

    /// Stops the control plane, keeping its data dir, database and port.
    pub async fn stop_control_plane(&mut self) -> anyhow::Result<()> {
        let cp = self.running.take().context("the control plane is already stopped")?;
        self.stopped = Some(cp.stop_keeping_data().await.map_err(|e| anyhow!("stopping: {e}"))?);
        Ok(())
    }

    /// Starts the stopped control plane again on the same data, database and gRPC port.
    pub async fn restart_control_plane(&mut self) -> anyhow::Result<()> {
        let stopped = self.stopped.take().context("the control plane is not stopped")?;
        self.running = Some(stopped.start().await.map_err(|e| anyhow!("restarting: {e}"))?);
        Ok(())
    }

    /// While the control plane is stopped: another control plane, with its own CA and database,
    /// listening on the stopped one's gRPC port, where the agents will find it.
    pub async fn start_impostor(&self) -> anyhow::Result<TestControlPlane> {
        let port = self.stopped.as_ref().context("stop the control plane first")?.grpc_port();
        TestControlPlane::start_on_port(port).await.map_err(|e| anyhow!("starting the impostor: {e}"))
    }

    /// A new agent with its own state dir and a synthetic Linux image (one user, one repo).
    pub fn agent(&self, name: &str) -> anyhow::Result<Agent> {
        let dir = self.work.path().join(name);
        let root = dir.join("root");
        std::fs::create_dir_all(&root)?;
        let written = image::write(&root);
        Ok(Agent {
            name: name.to_string(),
            state_dir: dir.join("state"),
            root,
            logs: dir.join("logs"),
            servers_written: written,
            runs: 0,
            daemon: None,
        })
    }

    /// A new agent enrolled with a fresh single-use token.
    pub async fn enrolled_agent(&self, name: &str) -> anyhow::Result<Agent> {
        let agent = self.agent(name)?;
        let cp = self.cp()?;
        let token = cp.create_token(1, Duration::from_secs(3600)).await.map_err(|e| anyhow!("{e}"))?;
        let out = agent.enroll(&cp.grpc_url(), &token.token, cp.ca_fingerprint()).await?;
        if !out.status.success() {
            bail!("enrolling {name} failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(agent)
    }

    /// Everything the database holds, as byte blobs to search: for SQLite every file in the data
    /// dir (database, WAL, shared memory); for PostgreSQL every row of every table as text.
    pub async fn stored_bytes(&self) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
        match &self.database {
            Some(db) => {
                let rows = db.dump_rows_as_text().await.map_err(|e| anyhow!("dumping the database: {e}"))?;
                anyhow::ensure!(!rows.is_empty(), "the PostgreSQL dump is empty");
                Ok(rows.into_iter().map(|row| ("postgres row".to_string(), row.into_bytes())).collect())
            }
            None => {
                let dir = match (&self.running, &self.stopped) {
                    (Some(cp), _) => cp.data_dir().to_path_buf(),
                    (None, Some(stopped)) => stopped.data_dir().to_path_buf(),
                    (None, None) => bail!("no control plane"),
                };
                let mut out = Vec::new();
                for entry in std::fs::read_dir(&dir)? {
                    let path = entry?.path();
                    if path.is_file() {
                        out.push((path.display().to_string(), std::fs::read(&path)?));
                    }
                }
                anyhow::ensure!(
                    out.iter().any(|(p, _)| p.ends_with("muster.db")),
                    "no SQLite file in {}",
                    dir.display()
                );
                Ok(out)
            }
        }
    }

    /// Stops the control plane and drops the PostgreSQL database.
    pub async fn finish(mut self) -> anyhow::Result<()> {
        if let Some(cp) = self.running.take() {
            cp.stop().await.map_err(|e| anyhow!("stopping: {e}"))?;
        }
        self.stopped = None;
        if let Some(db) = self.database.take() {
            db.drop_database().await.map_err(|e| anyhow!("dropping the test database: {e}"))?;
        }
        Ok(())
    }
}

/// One agent: a real `muster-agent` process (when running) over its own state dir and image.
#[derive(Debug)]
pub struct Agent {
    pub name: String,
    pub state_dir: PathBuf,
    /// The image root given as `--root` (Linux layout, user `dev`).
    pub root: PathBuf,
    logs: PathBuf,
    /// How many servers the image generator wrote.
    pub servers_written: usize,
    runs: usize,
    daemon: Option<Child>,
}

impl Agent {
    fn command(&self, args: &[&str]) -> anyhow::Result<Command> {
        let mut cmd = Command::new(agent_binary()?);
        cmd.args(args)
            .env("MUSTER_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        Ok(cmd)
    }

    fn state_arg(&self) -> String {
        self.state_dir.display().to_string()
    }

    fn root_arg(&self) -> String {
        self.root.display().to_string()
    }

    /// `muster-agent enroll`; the caller judges the exit status.
    pub async fn enroll(&self, server: &str, token: &str, ca_fingerprint: &str) -> anyhow::Result<Output> {
        let state = self.state_arg();
        let args =
            ["enroll", "--server", server, "--token", token, "--ca-fingerprint", ca_fingerprint, "--state-dir", &state];
        Ok(self.command(&args)?.output().await?)
    }

    /// The agent id from the stored identity.
    pub fn id(&self) -> anyhow::Result<String> {
        let state = muster_agent::state::StateDir::open(&self.state_dir)?;
        Ok(state.load_identity()?.context("the agent is not enrolled")?.agent_id.clone())
    }

    pub fn is_enrolled(&self) -> anyhow::Result<bool> {
        Ok(muster_agent::state::StateDir::open(&self.state_dir)?.load_identity()?.is_some())
    }

    /// The fleet fingerprint key the agent uses (the control plane's once enrolled).
    pub fn fingerprint_key(&self) -> anyhow::Result<muster_agent::secrets::fingerprint::FleetKey> {
        Ok(muster_agent::state::StateDir::open(&self.state_dir)?.fingerprint_key()?)
    }

    fn run_args(&self) -> Vec<String> {
        // `--offline`: the images name real remote hosts; scenarios make no network call.
        let args = ["run", "--offline", "--state-dir", &self.state_arg(), "--root", &self.root_arg(), "--os", "linux"];
        args.into_iter().chain(["--debounce", "100ms"]).map(str::to_string).collect()
    }

    /// `muster-agent run --once`.
    pub async fn run_once(&self) -> anyhow::Result<Output> {
        let mut args = self.run_args();
        args.push("--once".into());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Ok(self.command(&args)?.output().await?)
    }

    /// `muster-agent run --config FILE --once` over this agent's image (the state dir comes from
    /// the file unless `state_from_file` is false).
    pub async fn run_once_with_config(&self, config: &Path, state_from_file: bool) -> anyhow::Result<Output> {
        let config = config.display().to_string();
        let (state, root) = (self.state_arg(), self.root_arg());
        let mut args = vec!["run", "--offline", "--config", &config, "--root", &root, "--os", "linux", "--once"];
        if !state_from_file {
            args.extend(["--state-dir", &state]);
        }
        Ok(self.command(&args)?.output().await?)
    }

    /// `muster-agent ARGS…` with this agent's environment; the caller judges the exit status.
    pub async fn run_command(&self, args: &[&str]) -> anyhow::Result<Output> {
        Ok(self.command(args)?.output().await?)
    }

    /// Starts `muster-agent run` as a daemon; its stderr goes to a log file of this run.
    pub fn spawn(&mut self) -> anyhow::Result<()> {
        self.spawn_with(&[])
    }

    /// [`Agent::spawn`] with more `run` arguments (e.g. `--socket PATH`).
    pub fn spawn_with(&mut self, extra: &[&str]) -> anyhow::Result<()> {
        anyhow::ensure!(self.daemon.is_none(), "{} is already running", self.name);
        std::fs::create_dir_all(&self.logs)?;
        self.runs += 1;
        let log = std::fs::File::create(self.log_path(self.runs))?;
        let mut args = self.run_args();
        args.extend(extra.iter().map(|a| a.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut cmd = self.command(&args)?;
        cmd.stdout(Stdio::null()).stderr(log);
        self.daemon = Some(cmd.spawn().with_context(|| format!("starting {}", self.name))?);
        Ok(())
    }

    fn log_path(&self, run: usize) -> PathBuf {
        self.logs.join(format!("run-{run}.log"))
    }

    /// The stderr of the current (or last) daemon run.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path(self.runs)).unwrap_or_default()
    }

    /// SIGKILL: no shutdown path runs, as when a laptop loses power.
    pub async fn kill(&mut self) -> anyhow::Result<()> {
        let mut child = self.daemon.take().with_context(|| format!("{} is not running", self.name))?;
        child.start_kill()?;
        child.wait().await?;
        Ok(())
    }

    /// Fails if the daemon exited on its own.
    pub fn check_running(&mut self) -> anyhow::Result<()> {
        let child = self.daemon.as_mut().with_context(|| format!("{} is not running", self.name))?;
        if let Some(status) = child.try_wait()? {
            bail!("{} exited with {status}: {}", self.name, self.log());
        }
        Ok(())
    }

    /// The agent's own view of its image, `scan --format json` with its fingerprint key.
    pub async fn scan_json(&self) -> anyhow::Result<serde_json::Value> {
        let (state, root) = (self.state_arg(), self.root_arg());
        let args = ["scan", "--offline", "--format", "json", "--root", &root, "--os", "linux", "--state-dir", &state];
        let out = self.command(&args)?.output().await?;
        anyhow::ensure!(out.status.success(), "scan failed: {}", String::from_utf8_lossy(&out.stderr));
        Ok(serde_json::from_slice(&out.stdout)?)
    }

    /// Report entries waiting in the outbox (not yet acknowledged).
    pub fn pending_reports(&self) -> anyhow::Result<Vec<PathBuf>> {
        let dir = self.state_dir.join("outbox");
        let mut out = Vec::new();
        if dir.is_dir() {
            for entry in std::fs::read_dir(&dir)? {
                let path = entry?.path();
                if path.extension().is_some_and(|e| e == "report") {
                    out.push(path);
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// Every file under the state dir except the identity (which holds the agent's own key).
    pub fn state_files(&self) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
        fn walk(dir: &Path, out: &mut Vec<(String, Vec<u8>)>) -> anyhow::Result<()> {
            for entry in std::fs::read_dir(dir)? {
                let path = entry?.path();
                if path.is_dir() {
                    walk(&path, out)?;
                } else if path.file_name().is_some_and(|n| n != muster_agent::state::IDENTITY_FILE) {
                    out.push((path.display().to_string(), std::fs::read(&path)?));
                }
            }
            Ok(())
        }
        let mut out = Vec::new();
        walk(&self.state_dir, &mut out)?;
        Ok(out)
    }
}

/// The comparable part of an inventory: servers as (id, name, client), credentials as
/// (server id, location, kind, fingerprint), clients, config source paths.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InventoryView {
    pub servers: BTreeSet<(String, String, String)>,
    pub credentials: BTreeSet<(String, String, String, String)>,
    pub clients: BTreeSet<String>,
    pub sources: BTreeSet<String>,
}

impl InventoryView {
    /// From `muster-agent scan --format json`.
    pub fn from_scan(json: &serde_json::Value) -> anyhow::Result<Self> {
        let text =
            |v: &serde_json::Value, key: &str| v.get(key).and_then(|s| s.as_str()).unwrap_or_default().to_string();
        let mut view = Self::default();
        for server in json["servers"].as_array().context("scan json has no servers")? {
            let id = text(server, "id");
            view.servers.insert((id.clone(), text(server, "name"), text(server, "client")));
            view.clients.insert(text(server, "client"));
            for cred in server["credentials"].as_array().into_iter().flatten() {
                view.credentials.insert((
                    id.clone(),
                    text(cred, "location"),
                    text(cred, "kind"),
                    text(cred, "fingerprint"),
                ));
            }
        }
        for source in json["sources"].as_array().context("scan json has no sources")? {
            view.sources.insert(text(source, "path"));
        }
        Ok(view)
    }

    /// What differs between `self` and `other`, for failure messages.
    pub fn diff(&self, other: &Self) -> String {
        fn side<T: Ord + std::fmt::Debug>(what: &str, a: &BTreeSet<T>, b: &BTreeSet<T>) -> String {
            let only_a: Vec<&T> = a.difference(b).collect();
            let only_b: Vec<&T> = b.difference(a).collect();
            if only_a.is_empty() && only_b.is_empty() {
                String::new()
            } else {
                format!("{what}: only in the first {only_a:?}; only in the second {only_b:?}\n")
            }
        }
        [
            side("servers", &self.servers, &other.servers),
            side("credentials", &self.credentials, &other.credentials),
            side("clients", &self.clients, &other.clients),
            side("sources", &self.sources, &other.sources),
        ]
        .concat()
    }

    /// From what the control plane stored.
    pub fn from_store(inv: &HostInventory) -> Self {
        Self {
            servers: inv.servers.iter().map(|s| (s.server_id.clone(), s.name.clone(), s.client.clone())).collect(),
            credentials: inv
                .credentials
                .iter()
                .map(|c| (c.server_id.clone(), c.location.clone(), c.kind.clone(), c.fingerprint.clone()))
                .collect(),
            clients: inv.clients.iter().cloned().collect(),
            sources: inv.source_paths.iter().cloned().collect(),
        }
    }
}

/// The control plane's stored view of `agent`.
pub async fn stored_view(cp: &TestControlPlane, agent_id: &str) -> anyhow::Result<InventoryView> {
    let inv = cp.store().host_inventory(agent_id).await?;
    Ok(InventoryView::from_store(&inv))
}

/// Waits until the stored inventory of `agent` equals its own scan of its image, and returns it.
pub async fn stored_equals_scan(cp: &TestControlPlane, agent: &Agent) -> anyhow::Result<InventoryView> {
    let expected = InventoryView::from_scan(&agent.scan_json().await?)?;
    let id = agent.id()?;
    eventually(&format!("{}'s inventory in the store", agent.name), || {
        let (expected, id) = (&expected, &id);
        async move {
            let stored = stored_view(cp, id).await?;
            Ok((stored == *expected).then_some(stored))
        }
    })
    .await
    .with_context(|| format!("{} log:\n{}", agent.name, agent.log()))
}
