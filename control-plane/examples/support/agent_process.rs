//! Shared by the agent benchmarks (`config_edit`, `agent_idle`): a small synthetic machine image,
//! and a real `muster-agent` process enrolled with an in-process control plane and running on
//! that image. Benchmark support only; tests have their own helpers.

#![allow(dead_code)] // each benchmark uses a part

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail, ensure};
use muster_control_plane::testing::TestControlPlane;

/// The release agent next to this workspace's target dir (`cargo build --release -p muster-agent`).
pub fn default_agent_bin() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/muster-agent")
}

/// What every agent benchmark starts from: a fresh work dir holding the image (`root`) and the
/// agent's state, a control plane, and `muster-agent run` enrolled with it (log in
/// `work/agent.log`).
pub struct Running {
    pub work: tempfile::TempDir,
    pub root: PathBuf,
    pub cp: TestControlPlane,
    pub agent_id: String,
    pub child: Child,
}

/// Starts [`Running`] with `agent_bin` (default: [`default_agent_bin`]) and extra `run` flags.
pub async fn start(agent_bin: Option<PathBuf>, agent_args: &[String]) -> Result<Running> {
    let agent_bin = agent_bin.unwrap_or_else(default_agent_bin);
    ensure!(agent_bin.is_file(), "no agent binary at {} (cargo build --release -p muster-agent)", agent_bin.display());
    let work = tempfile::tempdir()?;
    let (root, state) = (work.path().join("image"), work.path().join("state"));
    write_image(&root)?;
    let cp = TestControlPlane::start().await.map_err(|e| anyhow::anyhow!("{e}")).context("start control plane")?;
    let agent_id = enroll(&agent_bin, &cp, &state).await?;
    let child = spawn_run(&agent_bin, &state, &root, agent_args, &work.path().join("agent.log"))?;
    Ok(Running { work, root, cp, agent_id, child })
}

/// The config file the benchmarks edit, relative to the image root.
pub const EDITED: &str = "home/alice/.cursor/mcp.json";

/// Cursor's config with three servers; the first one's command is `command`.
pub fn cursor_config(command: &str) -> String {
    format!(
        r#"{{"mcpServers": {{
  "edited": {{"command": "{command}", "args": ["--stdio"]}},
  "github": {{"command": "npx", "args": ["-y", "@modelcontextprotocol/server-github"], "env": {{"GITHUB_TOKEN": "${{env:GITHUB_TOKEN}}"}}}},
  "files": {{"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/home/alice/src"]}}
}}}}
"#
    )
}

/// Writes a Linux image with two users and four config files (8 servers) under `root`.
pub fn write_image(root: &Path) -> Result<()> {
    let files = [
        (EDITED.to_string(), cursor_config("tool-0")),
        (
            "home/alice/.config/Claude/claude_desktop_config.json".to_string(),
            r#"{"mcpServers": {"notes": {"command": "uvx", "args": ["notes-mcp"]}, "web": {"url": "https://mcp.example.com/sse"}}}"#
                .to_string(),
        ),
        ("home/bob/.cursor/mcp.json".to_string(), r#"{"mcpServers": {"db": {"command": "npx", "args": ["-y", "db-mcp"]}}}"#.to_string()),
        ("home/bob/.codex/config.toml".to_string(), "[mcp_servers.search]\ncommand = \"search-mcp\"\n".to_string()),
    ];
    for (rel, text) in files {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().context("config path has a parent")?)?;
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// Enrolls a state dir with `cp` through the real `muster-agent enroll`; returns the agent id.
pub async fn enroll(agent_bin: &Path, cp: &TestControlPlane, state_dir: &Path) -> Result<String> {
    let token = cp.create_token(1, Duration::from_secs(600)).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let out = Command::new(agent_bin)
        .arg("enroll")
        .args(["--server", &cp.grpc_url(), "--token", &token.token, "--ca-fingerprint", cp.ca_fingerprint()])
        .arg("--state-dir")
        .arg(state_dir)
        .output()
        .with_context(|| format!("running {}", agent_bin.display()))?;
    ensure!(out.status.success(), "enroll failed: {}", String::from_utf8_lossy(&out.stderr));
    let agents = cp.store().list_agents().await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let Some(agent) = agents.last() else { bail!("enrolled, but the store lists no agent") };
    Ok(agent.id.clone())
}

/// Starts `muster-agent run` on the image (logs to `log`).
pub fn spawn_run(agent_bin: &Path, state_dir: &Path, root: &Path, extra: &[String], log: &Path) -> Result<Child> {
    let log = std::fs::File::create(log)?;
    Command::new(agent_bin)
        .args(["run", "--offline"])
        .arg("--state-dir")
        .arg(state_dir)
        .arg("--root")
        .arg(root)
        .args(["--os", "linux"])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .with_context(|| format!("starting {}", agent_bin.display()))
}

/// Polls the store every `every` until `check` holds for the agent's stored servers, or fails
/// after `deadline`. Returns when it first held.
pub async fn wait_for_servers(
    cp: &TestControlPlane,
    agent_id: &str,
    every: Duration,
    deadline: Duration,
    mut check: impl FnMut(&[muster_control_plane::store::ServerRecord]) -> bool,
) -> Result<Instant> {
    let end = Instant::now() + deadline;
    loop {
        let inventory = cp.store().host_inventory(agent_id).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        if check(&inventory.servers) {
            return Ok(Instant::now());
        }
        if Instant::now() >= end {
            bail!("the store did not show the expected servers within {deadline:?}");
        }
        tokio::time::sleep(every).await;
    }
}

/// Stops the agent with SIGTERM-free `kill` (the benchmark owns the process).
pub fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}
