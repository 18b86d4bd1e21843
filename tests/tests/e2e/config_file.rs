//! The installed config file (`agent.toml`) drives a silent first start: `run --config` enrolls
//! from it (skipping an unreachable first address), deletes the token file, reports with the
//! file's endpoint tags on its host, and on the next start reuses the identity; a refused token
//! is exit code 78 and keeps the token file; and `config check` names every problem of a bad file
//! at once.

use std::time::Duration;

use anyhow::{anyhow, ensure};
use muster_e2e::{Sandbox, stored_equals_scan};

fn config_text(addresses: &[String], pin: &str, token_file: &std::path::Path, state: &std::path::Path) -> String {
    let addresses: Vec<String> = addresses.iter().map(|a| format!("\"{a}\"")).collect();
    format!(
        "version = 1\nstate_dir = \"{}\"\nlog_level = \"info\"\ntags = [\"team:payments\", \"ring/canary\"]\n\n[control_plane]\naddresses = [{}]\n\
         ca_fingerprint = \"{pin}\"\nenroll_token_file = \"{}\"\n\n[scan]\nprocesses = false\n",
        state.display(),
        addresses.join(", "),
        token_file.display()
    )
}

pub async fn first_start_enrolls_from_the_config_file(sb: Sandbox) -> anyhow::Result<Sandbox> {
    let cp = sb.cp()?;
    let agent = sb.agent("configured")?;
    let dir = agent.state_dir.parent().ok_or_else(|| anyhow!("no agent dir"))?.to_path_buf();
    let token = cp.create_token(1, Duration::from_secs(3600)).await.map_err(|e| anyhow!("{e}"))?;
    let token_file = dir.join("enroll-token");
    std::fs::write(&token_file, format!("{}\n", token.token))?;
    // Nothing listens on port 1: the agent must move on to the second address.
    let addresses = ["https://127.0.0.1:1".to_string(), cp.grpc_url()];
    let config = dir.join("agent.toml");
    std::fs::write(&config, config_text(&addresses, cp.ca_fingerprint(), &token_file, &agent.state_dir))?;

    let out = agent.run_once_with_config(&config, true).await?;
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    ensure!(out.status.success(), "run --config --once failed: {log}");
    ensure!(!log.contains(&token.token), "the token was logged: {log}");
    ensure!(!token_file.exists(), "the token file was not deleted after enrolling");
    let id = agent.id()?;
    ensure!(cp.store().agent(&id).await?.is_some(), "agent {id} not stored");
    stored_equals_scan(cp, &agent).await?;
    let host = cp.store().host_inventory(&id).await?.host.ok_or_else(|| anyhow!("no host stored"))?;
    ensure!(host.tags == ["team:payments", "ring/canary"], "stored tags: {:?}", host.tags);

    // Second start: already enrolled, no token needed, same identity.
    let out = agent.run_once_with_config(&config, true).await?;
    ensure!(out.status.success(), "second start failed: {}", String::from_utf8_lossy(&out.stderr));
    ensure!(agent.id()? == id, "the agent id changed on the second start");

    // A used token is refused for good: exit code 78, the token file stays for the admin to see.
    let second = sb.agent("reused-token")?;
    std::fs::write(&token_file, &token.token)?;
    let config2 = dir.join("agent-reused.toml");
    std::fs::write(&config2, config_text(&[cp.grpc_url()], cp.ca_fingerprint(), &token_file, &second.state_dir))?;
    let out = second.run_once_with_config(&config2, true).await?;
    ensure!(
        out.status.code() == Some(78),
        "reused token: exit {:?}, {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    ensure!(token_file.exists(), "a refused token's file was deleted");
    ensure!(!second.is_enrolled()?, "enrolled with a used token");

    // `config check` names every problem at once and exits 1; a good file prints no token.
    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        "version = 1\nspeed = 3\ntags = [\"Team Payments\"]\n[control_plane]\naddresses = [\"http://x\"]\n[scan]\ninterval = \"soon\"\n",
    )?;
    let out = agent.run_command(&["config", "check", &bad.display().to_string()]).await?;
    let err = String::from_utf8_lossy(&out.stderr);
    ensure!(out.status.code() == Some(1), "config check of a bad file: {:?}", out.status);
    for needle in ["speed", "tags: tag 1", "control_plane.addresses", "control_plane.ca_fingerprint", "scan.interval"] {
        ensure!(err.contains(needle), "config check did not report {needle}: {err}");
    }
    let out = agent.run_command(&["config", "check", &config.display().to_string()]).await?;
    let text = String::from_utf8_lossy(&out.stdout);
    ensure!(out.status.success() && text.contains("configuration ok"), "config check of a good file: {text}");
    Ok(sb)
}
