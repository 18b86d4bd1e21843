//! The agent deb under a real systemd: the unit's hardening is only real if systemd enforces it.
//! A Debian 12 root made with `debootstrap` (built once, kept under the target dir) gets a user
//! with MCP configs, the agent and tray debs installed with `dpkg -i`, and the installed config
//! pointing at a control plane on this machine; then `systemd-nspawn --boot` boots it with its own
//! systemd. The test sees the service start from the package's enablement, run under its sandbox
//! (no new privileges, a seccomp filter, the bounding set the unit names, its own cgroup), read the
//! user's configs, enroll and report, carry out a published policy (a Claude Code managed drop-in
//! written, an entry quarantined in the user's own file) and the tray's autostart entry in place.
//!
//! Needs root, `debootstrap` and `systemd-nspawn` (scripts/install-deps.sh installs them) and the
//! Debian mirror (`MUSTER_DEBIAN_MIRROR`, default deb.debian.org) the first time.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use muster_control_plane::testing::TestControlPlane;

#[path = "support/packaging.rs"]
mod packaging;
use packaging::{dist, one_file, run, running_as_root};

/// The user of the booted machine and their uid.
const USER: &str = "dev";
const UID: u32 = 1000;

/// How long booting, enrolling and enforcing may take (a cold debug agent on 2 busy cores).
const DEADLINE: Duration = Duration::from_secs(180);

/// A pristine Debian 12 root with systemd, built once under the target dir and then copied.
fn base_root() -> anyhow::Result<PathBuf> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let base = target.join("tools/debian-boot-root");
    if base.join("usr/lib/systemd/systemd").exists() {
        return Ok(base);
    }
    let building = target.join("tools/debian-boot-root.partial");
    let _ = std::fs::remove_dir_all(&building);
    std::fs::create_dir_all(&building)?;
    let mirror = std::env::var("MUSTER_DEBIAN_MIRROR").unwrap_or_else(|_| "http://deb.debian.org/debian".into());
    run(Command::new("debootstrap")
        .args(["--variant=minbase", "--include=systemd,systemd-sysv,dbus,init-system-helpers,passwd", "bookworm"])
        .arg(&building)
        .arg(&mirror))
    .context("debootstrap (is the Debian mirror reachable?)")?;
    std::fs::rename(&building, &base)?;
    Ok(base)
}

/// Runs `script` with /bin/sh inside `root` (not booted).
fn in_root(root: &Path, script: &str) -> anyhow::Result<String> {
    run(Command::new("systemd-nspawn")
        .args(["-q", "--register=no", "--keep-unit", "--pipe", "-D"])
        .arg(root)
        .args(["/bin/sh", "-c", script]))
}

/// Writes a user's file in the image, owned by the user, private.
fn write_user_file(root: &Path, rel: &str, text: &str) -> anyhow::Result<PathBuf> {
    let path = root.join("home").join(USER).join(rel);
    std::fs::create_dir_all(path.parent().context("parent")?)?;
    std::fs::write(&path, text)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    std::os::unix::fs::chown(&path, Some(UID), Some(UID))?;
    if let Some(dir) = path.parent().filter(|d| d.file_name().is_some_and(|n| n != USER)) {
        std::os::unix::fs::chown(dir, Some(UID), Some(UID))?;
    }
    Ok(path)
}

const POLICY: &str = r#"version = 1
name = "boot"

[[rule]]
id = "no-shell"
action = "block"
[rule.match]
name = ["e2e-blocked"]

[[rule]]
id = "retire-crm"
action = "quarantine"
[rule.match]
name = ["e2e-retire"]
"#;

/// The kind of container this test runs in, if any (what systemd records for its services).
fn container() -> Option<String> {
    let kind = std::fs::read_to_string("/run/systemd/container").ok().or_else(|| std::env::var("container").ok())?;
    let kind = kind.trim().to_string();
    (!kind.is_empty()).then_some(kind)
}

/// The agent process of the booted machine, found from the host: the agent binary in the
/// `muster-agent.service` cgroup (only the booted machine's systemd makes one; PID 1 here is not
/// systemd, and other tests run the agent outside any such unit).
fn agent_pid() -> Option<u32> {
    std::fs::read_dir("/proc").ok()?.filter_map(Result::ok).find_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok()?;
        let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
        (cgroup.contains("muster-agent.service") && exe.ends_with("usr/bin/muster-agent")).then_some(pid)
    })
}

fn status_field(pid: u32, field: &str) -> anyhow::Result<String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field).and_then(|v| v.strip_prefix(':')))
        .map(|v| v.trim().to_string())
        .with_context(|| format!("no {field} in /proc/{pid}/status"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_deb_boots_under_systemd_sandboxed_enrolls_reports_and_enforces() {
    scenario().await.expect("boot scenario");
}

async fn scenario() -> anyhow::Result<()> {
    ensure!(running_as_root(), "the boot test makes a Debian root and boots it with systemd-nspawn: run as root");
    // Inside a container (e.g. the fresh-Debian check, itself a systemd-nspawn machine) a nested
    // machine cannot be booted; CI and development machines are not containers.
    if let Some(kind) = container() {
        eprintln!("SKIPPED: running inside a {kind} container, where systemd-nspawn cannot boot a nested machine");
        return Ok(());
    }
    let base = base_root()?;
    let work = tempfile::tempdir_in("/var/tmp")?;
    let root = work.path().join("root");
    run(Command::new("cp").arg("-a").arg(&base).arg(&root))?;
    let out = work.path().join("dist");
    dist(&out, 1, "deb")?;
    for (deb, name) in [("muster-agent_", "agent.deb"), ("muster-tray_", "tray.deb")] {
        std::fs::copy(one_file(&out, deb, ".deb")?, root.join("opt").join(name))?;
    }

    // A minimal root has no /etc/hosts: name localhost as any installed system does.
    std::fs::write(root.join("etc/hosts"), "127.0.0.1 localhost\n::1 localhost ip6-localhost\n")?;

    // The user and their configs: a Claude Code server to block, a Cursor server to quarantine.
    in_root(&root, &format!("useradd -m -u {UID} -s /bin/bash {USER}"))?;
    write_user_file(
        &root,
        ".claude.json",
        "{\"mcpServers\": {\"e2e-blocked\": {\"command\": \"shell-server\", \"args\": [\"--all\"]}}}\n",
    )?;
    let cursor_text = "{\n  // mine\n  \"mcpServers\": {\n    \"e2e-retire\": {\"command\": \"crm-server\"},\n    \"docs\": {\"command\": \"docs-server\"}\n  }\n}\n";
    let cursor = write_user_file(&root, ".cursor/mcp.json", cursor_text)?;

    // The control plane on this machine (the container shares its network), a token, the policy.
    let cp = TestControlPlane::start().await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let token = cp.create_token(1, Duration::from_secs(3600)).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    muster_control_plane::policies::publish(
        cp.state.store.as_ref(),
        cp.state.as_ref(),
        POLICY,
        "boot-test",
        "",
        muster_control_plane::state::unix_now(),
    )
    .await?;
    std::fs::create_dir_all(root.join("etc/muster"))?;
    std::fs::write(root.join("etc/muster/enroll-token"), &token.token)?;
    std::fs::write(
        root.join("etc/muster/agent.toml"),
        format!(
            "version = 1\ntags = [\"boot:test\"]\n[control_plane]\naddresses = [\"{}\"]\nca_fingerprint = \"{}\"\n\
             enroll_token_file = \"/etc/muster/enroll-token\"\n[scan]\nprocesses = true\n",
            cp.grpc_url(),
            cp.ca_fingerprint()
        ),
    )?;

    // Installed as IT would: dpkg -i. The tray's GUI libraries are not in this minimal root, so
    // its deb is installed without them (its files are what is checked).
    in_root(
        &root,
        "dpkg -i /opt/agent.deb && dpkg -i --force-depends /opt/tray.deb && rm /opt/agent.deb /opt/tray.deb",
    )?;
    ensure!(
        // The link points into the image (/lib/...): look at the link itself, not through it.
        std::fs::symlink_metadata(root.join("etc/systemd/system/multi-user.target.wants/muster-agent.service")).is_ok(),
        "the package did not enable the agent unit"
    );
    ensure!(root.join("etc/xdg/autostart/muster-tray.desktop").is_file(), "the tray's autostart entry is missing");

    // Boot.
    let log_path = work.path().join("boot.log");
    let log = std::fs::File::create(&log_path)?;
    let mut machine = tokio::process::Command::new("systemd-nspawn")
        .args(["-q", "--register=no", "--keep-unit", "-D"])
        .arg(&root)
        .arg("--boot")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .kill_on_drop(true)
        .spawn()?;
    let outcome = watch_the_machine(&cp, &root, &cursor, cursor_text, &mut machine).await;

    // Power off: nspawn turns SIGTERM into an orderly shutdown of the container's systemd.
    if let Some(pid) = machine.id() {
        let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status();
    }
    if tokio::time::timeout(Duration::from_secs(60), machine.wait()).await.is_err() {
        machine.start_kill()?;
        machine.wait().await?;
    }
    cp.stop().await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let journal = in_root(&root, "journalctl --no-pager -u muster-agent 2>/dev/null | tail -n 60").unwrap_or_default();
    outcome.with_context(|| {
        format!(
            "console:\n{}\nagent journal:\n{journal}",
            std::fs::read_to_string(&log_path)
                .unwrap_or_default()
                .lines()
                .rev()
                .take(60)
                .collect::<Vec<_>>()
                .join("\n")
        )
    })
}

/// Polls `check` until it holds, the machine stops, or [`DEADLINE`] since `started` passes.
async fn wait_for(
    machine: &mut tokio::process::Child,
    started: Instant,
    what: &str,
    mut check: impl AsyncFnMut() -> anyhow::Result<bool>,
) -> anyhow::Result<()> {
    loop {
        if let Some(status) = machine.try_wait()? {
            bail!("the machine stopped ({status}) while waiting for {what}");
        }
        if check().await? {
            return Ok(());
        }
        ensure!(started.elapsed() < DEADLINE, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Waits for each thing the booted machine must do, in order, up to [`DEADLINE`] in all.
async fn watch_the_machine(
    cp: &TestControlPlane,
    root: &Path,
    cursor: &Path,
    cursor_text: &str,
    machine: &mut tokio::process::Child,
) -> anyhow::Result<()> {
    let started = Instant::now();

    // The service runs, started by systemd from the package's enablement, inside its sandbox.
    wait_for(machine, started, "the agent service to start", async || Ok(agent_pid().is_some())).await?;
    let pid = agent_pid().context("the agent stopped")?;
    let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))?;
    ensure!(cgroup.contains("muster-agent.service"), "not in the unit's cgroup: {cgroup}");
    ensure!(status_field(pid, "NoNewPrivs")? == "1", "NoNewPrivileges is not in force");
    ensure!(status_field(pid, "Seccomp")? == "2", "no seccomp filter (SystemCallFilter) in force");
    // CAP_CHOWN (0), CAP_DAC_OVERRIDE (1), CAP_DAC_READ_SEARCH (2), CAP_FOWNER (3), CAP_SYS_PTRACE (19).
    let bounding = u64::from_str_radix(&status_field(pid, "CapBnd")?, 16)?;
    ensure!(bounding == 0b1111 | 1 << 19, "bounding set {bounding:#x}, expected the unit's five capabilities");

    // It read the user's configs, enrolled and reported them.
    let store = cp.store();
    let mut reported = None;
    wait_for(machine, started, "the agent to enroll and report the user's servers", async || {
        for agent in store.list_agents().await? {
            let inv = store.host_inventory(&agent.id).await?;
            let names: Vec<&str> = inv.servers.iter().map(|s| s.name.as_str()).collect();
            if names.contains(&"e2e-blocked") && names.contains(&"e2e-retire") {
                reported = Some(agent.id.clone());
                return Ok(true);
            }
        }
        Ok(false)
    })
    .await?;
    let id = reported.context("no agent reported")?;
    let host = store.host_inventory(&id).await?.host.context("no host")?;
    ensure!(host.tags == ["boot:test"], "tags from the installed config not reported: {:?}", host.tags);
    ensure!(!root.join("etc/muster/enroll-token").exists(), "the token file survived enrollment");

    // The published policy carried out under the sandbox: Claude Code's managed drop-in written,
    // the Cursor entry quarantined in the user's own file, which keeps its owner and mode.
    let drop_in = root.join("etc/claude-code/managed-settings.d/50-muster.json");
    wait_for(machine, started, "the Claude Code drop-in", async || {
        Ok(std::fs::read_to_string(&drop_in).is_ok_and(|t| t.contains("shell-server")))
    })
    .await?;
    wait_for(machine, started, "the Cursor entry to be quarantined", async || {
        let text = std::fs::read_to_string(cursor)?;
        Ok(text != cursor_text && (!text.contains("e2e-retire") || text.contains("\"disabled\": true")))
    })
    .await?;
    let meta = std::fs::metadata(cursor)?;
    ensure!(
        (std::os::unix::fs::MetadataExt::uid(&meta), meta.permissions().mode() & 0o777) == (UID, 0o600),
        "the quarantined file lost its owner or mode"
    );
    ensure!(std::fs::read_to_string(cursor)?.contains("// mine"), "the user's comment was lost");
    Ok(())
}
