//! The Linux packages, installed for real on this machine (CI runs the tests as root on a
//! throwaway machine): `cargo xtask dist` builds two revisions; the agent, control-plane and tray
//! debs are installed with `dpkg -i` and their files, owners and modes checked (the tray's XDG
//! autostart entry with `desktop-file-validate`); `systemd-analyze
//! verify` checks the units; the agent unit's own `ExecStart` line runs with the installed config
//! against a control plane on port 0 and enrolls and reports; the upgrade keeps the agent id and
//! the config; remove keeps the state and purge deletes it. The rpms are checked with `rpm -qp`,
//! the MSI's tables (service, tray logon start, config-writing properties) with `msiinfo`.
//!
//! PID 1 here is not systemd, so the maintainer scripts skip starting services (as in a chroot);
//! the unit's command line is run directly instead.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use muster_control_plane::testing::TestControlPlane;
use muster_e2e::eventually;

#[path = "support/packaging.rs"]
mod packaging;
use packaging::{dist, one_file, run, running_as_root};

const STATE: &str = "/var/lib/muster-agent";
const CONFIG: &str = "/etc/muster/agent.toml";
const TOKEN_FILE: &str = "/etc/muster/enroll-token";
const TRAY_AUTOSTART: &str = "/etc/xdg/autostart/muster-tray.desktop";

/// (mode & 0o7777, uid, gid) of a path.
fn owner_mode(path: &str) -> anyhow::Result<(u32, u32, u32)> {
    let meta = std::fs::metadata(path).with_context(|| format!("{path} is missing"))?;
    Ok((meta.mode() & 0o7777, meta.uid(), meta.gid()))
}

fn uid_of(user: &str) -> anyhow::Result<u32> {
    let line = run(Command::new("getent").args(["passwd", user]))?;
    Ok(line.split(':').nth(2).context("no uid")?.parse()?)
}

fn installed_version(package: &str) -> anyhow::Result<String> {
    run(Command::new("dpkg-query").args(["-W", "-f", "${Version}", package]))
}

fn agent_id() -> anyhow::Result<Option<String>> {
    let state = muster_agent::state::StateDir::open(Path::new(STATE))?;
    Ok(state.load_identity()?.map(|id| id.agent_id.clone()))
}

/// The `ExecStart=` command line of an installed unit, split on spaces (ours quote nothing).
fn exec_start(unit: &str) -> anyhow::Result<Vec<String>> {
    let text = std::fs::read_to_string(unit)?;
    let line = text.lines().find_map(|l| l.strip_prefix("ExecStart=")).context("no ExecStart")?;
    Ok(line.split_whitespace().map(str::to_string).collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deb_install_enroll_upgrade_remove_purge() {
    scenario().await.expect("package scenario");
}

async fn scenario() -> anyhow::Result<()> {
    ensure!(
        running_as_root(),
        "the package tests install debs with dpkg and must run as root (CI does, on a throwaway machine)"
    );
    for package in ["muster-tray", "muster-agent", "muster-server"] {
        // A leftover of an interrupted earlier run of this test.
        let _ = Command::new("dpkg").args(["--purge", package]).stdout(Stdio::null()).status();
    }
    ensure!(
        !Path::new(STATE).exists(),
        "{STATE} exists without the package (an agent was run as root by hand?); remove it first"
    );
    let work = tempfile::tempdir()?;
    let (first, second) = (work.path().join("r1"), work.path().join("r2"));
    dist(&first, 1, "deb,rpm,msi,macos")?;
    dist(&second, 2, "deb,rpm,msi,macos")?;

    // The rpms: contents and scriptlets. The MSI: tables, and its config-writing command line.
    rpm_checks(&first)?;
    msi_checks(&first)?;
    // The macOS tree (its plists were parsed and checked by xtask while building it): the tray and
    // its LaunchAgent are in the payload beside the agent's LaunchDaemon.
    let tree = one_file(&first, "muster-agent_", "_macos_STAND-IN")?;
    for rel in [
        "payload/Library/LaunchDaemons/com.muster.agent.plist",
        "payload/Library/LaunchAgents/com.muster.tray.plist",
        "payload/Applications/Muster.app/Contents/MacOS/muster-tray",
        "payload/Applications/Muster.app/Contents/MacOS/muster-window",
    ] {
        ensure!(tree.join(rel).is_file(), "{rel} missing from the macOS tree {}", tree.display());
    }

    // The admin's config is there before the package, as on a machine managed by configuration
    // management; the package must keep it and the agent must enroll from it.
    let cp = TestControlPlane::start().await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let token = cp.create_token(1, Duration::from_secs(3600)).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    std::fs::create_dir_all("/etc/muster")?;
    std::fs::write(TOKEN_FILE, &token.token)?;
    let config = format!(
        "version = 1\nlog_level = \"info\"\ntags = [\"team:payments\"]\n[control_plane]\naddresses = [\"{}\"]\n\
         ca_fingerprint = \"{}\"\n\
         enroll_token_file = \"{TOKEN_FILE}\"\n[scan]\nprocesses = false\n",
        cp.grpc_url(),
        cp.ca_fingerprint()
    );
    std::fs::write(CONFIG, &config)?;

    let agent_deb = one_file(&first, "muster-agent_", ".deb")?;
    let server_deb = one_file(&first, "muster-server_", ".deb")?;
    let tray_deb = one_file(&first, "muster-tray_", ".deb")?;
    let depends = run(Command::new("dpkg-deb").args(["-f"]).arg(&tray_deb).arg("Depends"))?;
    for needed in ["muster-agent", "libwebkit2gtk-4.1-0", "libayatana-appindicator3-1"] {
        ensure!(depends.contains(needed), "the tray deb does not depend on {needed}: {depends}");
    }
    run(Command::new("dpkg").arg("-i").arg(&agent_deb).arg(&server_deb).arg(&tray_deb))?;
    ensure!(installed_version("muster-agent")? == format!("{}-1", env!("CARGO_PKG_VERSION")));

    // Files, owners and modes.
    let server_gid = uid_of("muster-server").and_then(|_| {
        let line = run(Command::new("getent").args(["group", "muster-server"]))?;
        Ok(line.split(':').nth(2).context("no gid")?.parse::<u32>()?)
    })?;
    let server_uid = uid_of("muster-server")?;
    for (path, expected) in [
        ("/usr/bin/muster-agent", (0o755, 0, 0)),
        ("/lib/systemd/system/muster-agent.service", (0o644, 0, 0)),
        ("/usr/share/muster-agent/agent.toml.example", (0o644, 0, 0)),
        (STATE, (0o700, 0, 0)),
        ("/usr/bin/muster-server", (0o755, 0, 0)),
        ("/lib/systemd/system/muster-server.service", (0o644, 0, 0)),
        ("/etc/muster/server.toml", (0o640, 0, server_gid)),
        ("/var/lib/muster-server", (0o700, server_uid, server_gid)),
        ("/usr/bin/muster-tray", (0o755, 0, 0)),
        ("/usr/bin/muster-window", (0o755, 0, 0)),
        (TRAY_AUTOSTART, (0o644, 0, 0)),
    ] {
        ensure!(owner_mode(path)? == expected, "{path}: {:?}, expected {expected:?}", owner_mode(path)?);
    }
    ensure!(std::fs::read_to_string(CONFIG)? == config, "the package replaced the admin's {CONFIG}");
    // The tray's XDG autostart entry: valid, starting the installed tray at every graphical login.
    run(Command::new("desktop-file-validate").arg(TRAY_AUTOSTART))?;
    let entry = std::fs::read_to_string(TRAY_AUTOSTART)?;
    for line in ["Type=Application", "Exec=/usr/bin/muster-tray", "X-GNOME-Autostart-enabled=true"] {
        ensure!(entry.lines().any(|l| l == line), "{TRAY_AUTOSTART} lacks {line:?}:\n{entry}");
    }
    ensure!(!entry.lines().any(|l| l.starts_with("Hidden=")), "the autostart entry must not be hidden");
    let listed = run(Command::new("dpkg").args(["-L", "muster-agent"]))?;
    ensure!(!listed.contains(CONFIG), "{CONFIG} must not be a package file (purge owns it):\n{listed}");

    // The units as systemd reads them.
    run(Command::new("systemd-analyze").args([
        "verify",
        "/lib/systemd/system/muster-agent.service",
        "/lib/systemd/system/muster-server.service",
    ]))?;
    // The service user can read its installed config.
    run(Command::new("runuser").args([
        "-u",
        "muster-server",
        "--",
        "/usr/bin/muster-server",
        "--config",
        "/etc/muster/server.toml",
        "config",
        "check",
    ]))?;

    // The agent unit's command line, as systemd would start it: enroll from the config, report.
    let id = run_unit_until_reported(&cp).await?;
    ensure!(!Path::new(TOKEN_FILE).exists(), "the token file survived a successful enrollment");
    let host = cp.store().host_inventory(&id).await?.host.context("no host stored")?;
    ensure!(host.tags == ["team:payments"], "the config's tags were not reported: {:?}", host.tags);

    // Upgrade: same identity and config, no re-enrollment (the token is gone and single-use).
    run(Command::new("dpkg").arg("-i").arg(one_file(&second, "muster-agent_", ".deb")?))?;
    ensure!(installed_version("muster-agent")? == format!("{}-2", env!("CARGO_PKG_VERSION")));
    ensure!(agent_id()?.as_deref() == Some(id.as_str()), "the upgrade changed the agent id");
    ensure!(std::fs::read_to_string(CONFIG)? == config, "the upgrade changed {CONFIG}");
    let again = run_unit_until_reported(&cp).await?;
    ensure!(again == id, "after the upgrade the agent reported as {again}, not {id}");

    // Remove keeps identity and config; purge deletes them.
    run(Command::new("dpkg").args(["--remove", "muster-tray", "muster-agent", "muster-server"]))?;
    ensure!(!Path::new(TRAY_AUTOSTART).exists(), "remove left the tray's autostart entry");
    ensure!(!Path::new("/usr/bin/muster-agent").exists(), "remove left the binary");
    ensure!(agent_id()?.as_deref() == Some(id.as_str()), "remove lost the identity");
    ensure!(Path::new(CONFIG).exists(), "remove deleted {CONFIG}");
    ensure!(Path::new("/var/lib/muster-server").exists(), "remove deleted the control plane's data");
    run(Command::new("dpkg").args(["--purge", "muster-tray", "muster-agent", "muster-server"]))?;
    for gone in [STATE, CONFIG, "/var/lib/muster-server", "/etc/muster/server.toml"] {
        ensure!(!Path::new(gone).exists(), "purge left {gone}");
    }
    cp.stop().await.map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(())
}

/// Starts the installed unit's `ExecStart` line and waits until the control plane has a report
/// from the agent it enrolled as; returns that agent id.
async fn run_unit_until_reported(cp: &TestControlPlane) -> anyhow::Result<String> {
    let argv = exec_start("/lib/systemd/system/muster-agent.service")?;
    let log = tempfile::NamedTempFile::new()?;
    let child = tokio::process::Command::new(&argv[0])
        .args(&argv[1..])
        .env_remove("MUSTER_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log.reopen()?)
        .kill_on_drop(true)
        .spawn()?;
    let child = std::sync::Mutex::new(child);
    let result = eventually("the packaged agent to enroll and report", || {
        let child = &child;
        async move {
            let exited = child.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.try_wait()?;
            if let Some(status) = exited {
                bail!("the agent exited with {status}");
            }
            let Some(id) = agent_id()? else { return Ok(None) };
            let record = cp.store().agent(&id).await?;
            Ok(record.filter(|r| r.last_sequence >= 1).map(|_| id))
        }
    })
    .await;
    let mut child = child.into_inner().map_err(|_| anyhow::anyhow!("poisoned"))?;
    child.start_kill()?;
    child.wait().await?;
    result.with_context(|| format!("agent log:\n{}", std::fs::read_to_string(log.path()).unwrap_or_default()))
}

fn rpm_checks(dir: &Path) -> anyhow::Result<()> {
    let agent = one_file(dir, "muster-agent-", ".rpm")?;
    let files = run(Command::new("rpm").arg("-qlp").arg(&agent))?;
    for expected in [
        "/usr/bin/muster-agent",
        "/usr/lib/systemd/system/muster-agent.service",
        "/usr/share/muster-agent/agent.toml.example",
    ] {
        ensure!(files.lines().any(|l| l == expected), "{expected} not in the agent rpm:\n{files}");
    }
    let scripts = run(Command::new("rpm").args(["-qp", "--scripts"]).arg(&agent))?;
    for expected in [
        "postinstall scriptlet",
        "systemctl enable muster-agent.service",
        "preuninstall scriptlet",
        "systemctl stop muster-agent.service",
        "postuninstall scriptlet",
        "systemctl try-restart muster-agent.service",
    ] {
        ensure!(scripts.contains(expected), "agent rpm scriptlets lack {expected:?}:\n{scripts}");
    }
    let tray = one_file(dir, "muster-tray-", ".rpm")?;
    let files = run(Command::new("rpm").arg("-qlp").arg(&tray))?;
    for expected in ["/usr/bin/muster-tray", "/usr/bin/muster-window", TRAY_AUTOSTART] {
        ensure!(files.lines().any(|l| l == expected), "{expected} not in the tray rpm:\n{files}");
    }
    let requires = run(Command::new("rpm").arg("-qpR").arg(&tray))?;
    ensure!(requires.lines().any(|l| l.trim() == "muster-agent"), "the tray rpm must require the agent:\n{requires}");
    let server = one_file(dir, "muster-server-", ".rpm")?;
    let config = run(Command::new("rpm").args(["-qp", "--configfiles"]).arg(&server))?;
    ensure!(config.trim() == "/etc/muster/server.toml", "server rpm config files: {config}");
    let scripts = run(Command::new("rpm").args(["-qp", "--scripts"]).arg(&server))?;
    ensure!(scripts.contains("preinstall scriptlet") && scripts.contains("useradd --system"), "{scripts}");
    let modes = run(Command::new("rpm")
        .args(["-qp", "--qf", "[%{FILEMODES:perms} %{FILEGROUPNAME} %{FILENAMES}\n]"])
        .arg(&server))?;
    ensure!(modes.contains("-rw-r----- muster-server /etc/muster/server.toml"), "server rpm modes:\n{modes}");
    Ok(())
}

fn msi_export(msi: &Path, table: &str) -> anyhow::Result<Vec<Vec<String>>> {
    let text = run(Command::new("msiinfo").arg("export").arg(msi).arg(table))?;
    // Three header lines: column names, column types, table name and keys.
    Ok(text.lines().skip(3).map(|l| l.split('\t').map(str::to_string).collect()).collect())
}

/// Splits a Windows Installer command line on spaces outside double quotes; `""` is an empty
/// argument, as Windows passes it (an empty property must not shift the arguments after it).
fn split_command_line(line: &str) -> Vec<String> {
    let (mut out, mut cur, mut quoted, mut started) = (Vec::new(), String::new(), false, false);
    for c in line.chars() {
        match c {
            '"' => (quoted, started) = (!quoted, true),
            ' ' if !quoted => {
                if started {
                    out.push(std::mem::take(&mut cur));
                    started = false;
                }
            }
            c => {
                cur.push(c);
                started = true;
            }
        }
    }
    if started {
        out.push(cur);
    }
    out
}

fn msi_checks(dir: &Path) -> anyhow::Result<()> {
    let msi = one_file(dir, "muster-agent_", "_x64_STAND-IN.msi")?;
    let services = msi_export(&msi, "ServiceInstall")?;
    ensure!(services.len() == 1, "one service expected: {services:?}");
    let service = &services[0];
    // Name, ServiceType 16 (own process), StartType 2 (automatic), account, arguments.
    ensure!(service[1] == "MusterAgent" && service[3] == "16" && service[4] == "2", "{service:?}");
    ensure!(service[8] == "LocalSystem", "the agent service must run as LocalSystem: {service:?}");
    ensure!(service[10] == r#"run --config "[CommonAppDataFolder]Muster\agent.toml""#, "{service:?}");
    let controls = msi_export(&msi, "ServiceControl")?;
    // Start on install (1), stop on install and uninstall (2|32), remove on uninstall (128).
    ensure!(controls.len() == 1 && controls[0][2] == "163", "{controls:?}");
    let files = msi_export(&msi, "File")?;
    ensure!(files.iter().any(|f| f[2] == "muster-agent.exe"), "{files:?}");
    ensure!(files.iter().any(|f| f[2] == "muster-tray.exe"), "{files:?}");
    ensure!(files.iter().any(|f| f[2] == "muster-window.exe"), "{files:?}");
    // The tray starts at every user's logon: the machine-wide Run key (root 2 is HKLM).
    let registry = msi_export(&msi, "Registry")?;
    ensure!(
        registry.iter().any(|r| r[1] == "2"
            && r[2] == r"Software\Microsoft\Windows\CurrentVersion\Run"
            && r[3] == "MusterTray"
            && r[4] == r#""[INSTALLDIR]muster-tray.exe""#),
        "no logon start for the tray: {registry:?}"
    );
    let properties = msi_export(&msi, "Property")?;
    ensure!(
        properties.iter().any(|p| p[0] == "MsiHiddenProperties" && p[1] == "ENROLL_TOKEN"),
        "the token property must be hidden from the installer log: {properties:?}"
    );
    let actions = msi_export(&msi, "CustomAction")?;
    let recovery = actions.iter().find(|a| a[0] == "SetRecovery").context("no recovery action")?;
    ensure!(recovery[3].starts_with("failure MusterAgent") && recovery[3].contains("restart/"), "{recovery:?}");
    let write = actions.iter().find(|a| a[0] == "WriteConfig").context("no WriteConfig action")?;
    let sequence = msi_export(&msi, "InstallExecuteSequence")?;
    let at = |name: &str| sequence.iter().find(|r| r[0] == name).and_then(|r| r[2].parse::<u32>().ok());
    ensure!(at("WriteConfig") < at("StartServices"), "the config must be written before the service starts");

    // The MSI's own command line, with the properties an admin passes, run through the Linux
    // build of the same agent: it writes a config that loads with the TAGS given (none when the
    // property is empty), and refuses a bad fingerprint or a bad tag.
    let work = tempfile::tempdir()?;
    let agent = muster_e2e::agent_binary()?;
    let pin = "ab".repeat(32);
    let cases = [
        (pin.as_str(), "team:payments,ring/canary", Some(&["team:payments", "ring/canary"][..])),
        (pin.as_str(), "", Some(&[][..])),
        ("not-a-fingerprint", "", None),
        (pin.as_str(), "Team Payments", None),
    ];
    for (n, (fingerprint, tags, expected)) in cases.into_iter().enumerate() {
        let config = work.path().join(format!("agent-{n}.toml"));
        let line = write[3]
            .replace("[SERVER_URL]", "https://muster.example.com:7443")
            .replace("[CA_FINGERPRINT]", fingerprint)
            .replace("[ENROLL_TOKEN]", "token-from-msiexec")
            .replace("[TAGS]", tags)
            .replace(r"[CommonAppDataFolder]Muster\agent.toml", &config.display().to_string());
        let out = Command::new(&agent).args(split_command_line(&line)).output()?;
        ensure!(out.status.success() == expected.is_some(), "config write with {fingerprint} and TAGS={tags}: {out:?}");
        match expected {
            Some(wanted) => {
                run(Command::new(&agent).args(["config", "check"]).arg(&config))?;
                ensure!(std::fs::metadata(&config)?.mode() & 0o777 == 0o600, "the written config must be 0600");
                let loaded = muster_agent::config::load_file(&config).map_err(|e| anyhow::anyhow!("{e}"))?;
                ensure!(loaded.tags == wanted, "TAGS={tags:?} wrote {:?}", loaded.tags);
            }
            None => ensure!(!config.exists(), "a refused config was written"),
        }
    }
    Ok(())
}
