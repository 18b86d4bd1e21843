//! The macOS package tree: what `pkgbuild`/`productbuild` turn into a flat package on a Mac
//! (`packaging/macos/README.md` has the recipe; Debian has no tool that writes one). Lays out
//! `payload/` (the agent, its LaunchDaemon, the tray in `/Applications/Muster.app` with its
//! LaunchAgent, the example or baked config) and `scripts/`, copies
//! the MDM profile, and parses every plist with the `plist` crate so a broken one fails here.
//! Without `--macos-agent` the binary is a stand-in and the tree's name says so.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, ensure};

pub(super) fn build(
    version: &str,
    macos_agent: Option<&Path>,
    macos_tray: Option<&Path>,
    baked: Option<&[u8]>,
    root: &Path,
    out: &Path,
) -> anyhow::Result<PathBuf> {
    let src = root.join("packaging/macos");
    let suffix = if macos_agent.is_some() && macos_tray.is_some() { "" } else { "_STAND-IN" };
    let tree = out.join(format!("muster-agent_{version}_macos{suffix}"));
    if tree.exists() {
        std::fs::remove_dir_all(&tree)?;
    }
    let payload = tree.join("payload");
    let put = |rel: &str, bytes: &[u8], mode: u32| -> anyhow::Result<()> {
        let path = tree.join(rel);
        std::fs::create_dir_all(path.parent().context("no parent")?)?;
        std::fs::write(&path, bytes)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))?;
        Ok(())
    };
    let agent = match macos_agent {
        Some(path) => std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
        None => b"STAND-IN: not a macOS program; the macOS CI job passes the real one with --macos-agent.\n".to_vec(),
    };
    put("payload/usr/local/bin/muster-agent", &agent, 0o755)?;
    // Claude Code runs its policyHelper without arguments (docs/adr/0017).
    put(
        "payload/usr/local/lib/muster-agent/claude-policy-helper",
        b"#!/bin/sh\nexec /usr/local/bin/muster-agent hook claude-code\n",
        0o755,
    )?;
    let tray = match macos_tray {
        Some(path) => std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
        None => b"STAND-IN: not a macOS program; the macOS CI job passes the real one with --macos-tray.\n".to_vec(),
    };
    put("payload/Applications/Muster.app/Contents/MacOS/muster-tray", &tray, 0o755)?;
    // The window program the tray starts on "Open", from beside the given tray (ADR 0027).
    let window = match macos_tray {
        Some(path) => {
            let window = path.with_file_name("muster-window");
            std::fs::read(&window).with_context(|| format!("reading {} (beside the tray)", window.display()))?
        }
        None => b"STAND-IN: not a macOS program; the macOS CI job passes the real one beside --macos-tray.\n".to_vec(),
    };
    put("payload/Applications/Muster.app/Contents/MacOS/muster-window", &window, 0o755)?;
    let tray_agent = std::fs::read(src.join("com.muster.tray.plist"))?;
    put("payload/Library/LaunchAgents/com.muster.tray.plist", &tray_agent, 0o644)?;
    let daemon = std::fs::read(src.join("com.muster.agent.plist"))?;
    put("payload/Library/LaunchDaemons/com.muster.agent.plist", &daemon, 0o644)?;
    let example = std::fs::read(root.join("packaging/linux/agent.toml"))?;
    put("payload/Library/Application Support/Muster/agent.toml.example", &example, 0o644)?;
    if let Some(bytes) = baked {
        put("payload/Library/Application Support/Muster/agent.toml.baked", bytes, 0o600)?;
    }
    for script in ["preinstall", "postinstall"] {
        put(&format!("scripts/{script}"), &std::fs::read(src.join("scripts").join(script))?, 0o755)?;
    }
    put("muster-agent.mobileconfig", &std::fs::read(src.join("muster-agent.mobileconfig"))?, 0o644)?;
    put("README.md", &std::fs::read(src.join("README.md"))?, 0o644)?;
    check_launch_daemon(&payload.join("Library/LaunchDaemons/com.muster.agent.plist"))?;
    check_tray_launch_agent(&payload.join("Library/LaunchAgents/com.muster.tray.plist"))?;
    check_profile(&tree.join("muster-agent.mobileconfig"))?;
    check_managed_preferences_are_read(&tree.join("scripts/postinstall"))?;
    Ok(tree)
}

/// The LaunchDaemon must name itself, run the installed binary with the installed config and
/// start at load.
fn check_launch_daemon(path: &Path) -> anyhow::Result<()> {
    let value = plist::Value::from_file(path).with_context(|| format!("parsing {}", path.display()))?;
    let dict = value.as_dictionary().context("the LaunchDaemon is not a dictionary")?;
    ensure!(dict.get("Label").and_then(|v| v.as_string()) == Some("com.muster.agent"), "Label");
    let args: Vec<&str> = dict
        .get("ProgramArguments")
        .and_then(|v| v.as_array())
        .context("ProgramArguments")?
        .iter()
        .filter_map(|v| v.as_string())
        .collect();
    ensure!(
        args == ["/usr/local/bin/muster-agent", "run", "--config", "/Library/Application Support/Muster/agent.toml"],
        "ProgramArguments: {args:?}"
    );
    ensure!(dict.get("RunAtLoad").and_then(|v| v.as_boolean()) == Some(true), "RunAtLoad");
    Ok(())
}

/// The tray's LaunchAgent must start the tray in each user's graphical (Aqua) session at login.
fn check_tray_launch_agent(path: &Path) -> anyhow::Result<()> {
    let value = plist::Value::from_file(path).with_context(|| format!("parsing {}", path.display()))?;
    let dict = value.as_dictionary().context("the LaunchAgent is not a dictionary")?;
    ensure!(dict.get("Label").and_then(|v| v.as_string()) == Some("com.muster.tray"), "Label");
    let args: Vec<&str> = dict
        .get("ProgramArguments")
        .and_then(|v| v.as_array())
        .context("ProgramArguments")?
        .iter()
        .filter_map(|v| v.as_string())
        .collect();
    ensure!(args == ["/Applications/Muster.app/Contents/MacOS/muster-tray"], "ProgramArguments: {args:?}");
    ensure!(dict.get("RunAtLoad").and_then(|v| v.as_boolean()) == Some(true), "RunAtLoad");
    ensure!(dict.get("LimitLoadToSessionType").and_then(|v| v.as_string()) == Some("Aqua"), "LimitLoadToSessionType");
    Ok(())
}

/// The settings the profile's managed preferences (domain `com.muster.agent`) carry; the
/// postinstall script reads each into `muster-agent config write`.
const MANAGED_KEYS: [&str; 4] = ["ServerURL", "CAFingerprint", "EnrollToken", "Tags"];

/// The postinstall must read every managed-preference key the profile sets.
fn check_managed_preferences_are_read(postinstall: &Path) -> anyhow::Result<()> {
    let script = std::fs::read_to_string(postinstall)?;
    for key in MANAGED_KEYS {
        ensure!(script.contains(&format!("pref {key}")), "the postinstall does not read the managed preference {key}");
    }
    Ok(())
}

/// The profile must carry a PPPC payload granting SystemPolicyAllFiles to the agent, and managed
/// preferences for the agent's configuration.
fn check_profile(path: &Path) -> anyhow::Result<()> {
    let value = plist::Value::from_file(path).with_context(|| format!("parsing {}", path.display()))?;
    let payloads = value
        .as_dictionary()
        .and_then(|d| d.get("PayloadContent"))
        .and_then(|v| v.as_array())
        .context("PayloadContent")?;
    let pppc = payloads
        .iter()
        .filter_map(|p| p.as_dictionary())
        .find(|p| {
            p.get("PayloadType").and_then(|v| v.as_string()) == Some("com.apple.TCC.configuration-profile-policy")
        })
        .context("no PPPC payload")?;
    let grants = pppc
        .get("Services")
        .and_then(|v| v.as_dictionary())
        .and_then(|s| s.get("SystemPolicyAllFiles"))
        .and_then(|v| v.as_array())
        .context("no SystemPolicyAllFiles")?;
    ensure!(
        grants.iter().filter_map(|g| g.as_dictionary()).any(|g| {
            g.get("Identifier").and_then(|v| v.as_string()) == Some("/usr/local/bin/muster-agent")
                && g.get("Authorization").and_then(|v| v.as_string()) == Some("Allow")
        }),
        "Full Disk Access is not granted to /usr/local/bin/muster-agent"
    );
    let settings = payloads
        .iter()
        .filter_map(|p| p.as_dictionary())
        .find(|p| p.get("PayloadType").and_then(|v| v.as_string()) == Some("com.apple.ManagedClient.preferences"))
        .and_then(|p| p.get("PayloadContent"))
        .and_then(|v| v.as_dictionary())
        .and_then(|d| d.get("com.muster.agent"))
        .and_then(|v| v.as_dictionary())
        .and_then(|d| d.get("Forced"))
        .and_then(|v| v.as_array())
        .and_then(|a| a.first())
        .and_then(|v| v.as_dictionary())
        .and_then(|d| d.get("mcx_preference_settings"))
        .and_then(|v| v.as_dictionary())
        .context("no managed preferences (com.apple.ManagedClient.preferences) for com.muster.agent")?;
    for key in MANAGED_KEYS {
        ensure!(
            settings.get(key).and_then(|v| v.as_string()).is_some(),
            "the managed preferences lack the string {key}"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn packaging() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../packaging/macos")
    }

    #[test]
    fn the_shipped_plists_pass_their_checks() {
        check_launch_daemon(&packaging().join("com.muster.agent.plist")).unwrap();
        check_tray_launch_agent(&packaging().join("com.muster.tray.plist")).unwrap();
        assert!(check_tray_launch_agent(&packaging().join("com.muster.agent.plist")).is_err());
        check_profile(&packaging().join("muster-agent.mobileconfig")).unwrap();
    }

    #[test]
    fn a_launch_daemon_with_other_arguments_or_a_profile_without_fda_is_refused() {
        let dir = std::env::temp_dir().join(format!("xtask-plist-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let daemon = std::fs::read_to_string(packaging().join("com.muster.agent.plist")).unwrap();
        let bad = dir.join("daemon.plist");
        std::fs::write(&bad, daemon.replace("<string>--config</string>", "<string>--verbose</string>")).unwrap();
        assert!(check_launch_daemon(&bad).is_err());
        std::fs::write(&bad, daemon.replace("</dict>\n</plist>", "")).unwrap();
        assert!(check_launch_daemon(&bad).is_err(), "a truncated plist must not parse");
        let profile = std::fs::read_to_string(packaging().join("muster-agent.mobileconfig")).unwrap();
        let no_fda = dir.join("profile.mobileconfig");
        std::fs::write(&no_fda, profile.replace("SystemPolicyAllFiles", "SystemPolicyDocumentsFolder")).unwrap();
        assert!(check_profile(&no_fda).is_err());
        let no_prefs = dir.join("prefs.mobileconfig");
        std::fs::write(&no_prefs, profile.replace("com.apple.ManagedClient.preferences", "com.example.other")).unwrap();
        assert!(check_profile(&no_prefs).is_err(), "a profile without managed preferences must be refused");
        let script = std::fs::read_to_string(packaging().join("scripts/postinstall")).unwrap();
        let no_tags = dir.join("postinstall");
        std::fs::write(&no_tags, script.replace("pref Tags", "pref Labels")).unwrap();
        assert!(check_managed_preferences_are_read(&no_tags).is_err());
        check_managed_preferences_are_read(&packaging().join("scripts/postinstall")).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_tree_holds_payload_scripts_and_says_stand_in() {
        let out = std::env::temp_dir().join(format!("xtask-macos-{}", std::process::id()));
        std::fs::create_dir_all(&out).unwrap();
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let tree = build("1.2.3", None, None, Some(b"version = 1\n"), &root, &out).unwrap();
        assert!(tree.ends_with("muster-agent_1.2.3_macos_STAND-IN"));
        for (rel, mode) in [
            ("payload/usr/local/bin/muster-agent", 0o755),
            ("payload/usr/local/lib/muster-agent/claude-policy-helper", 0o755),
            ("payload/Library/LaunchDaemons/com.muster.agent.plist", 0o644),
            ("payload/Applications/Muster.app/Contents/MacOS/muster-tray", 0o755),
            ("payload/Applications/Muster.app/Contents/MacOS/muster-window", 0o755),
            ("payload/Library/LaunchAgents/com.muster.tray.plist", 0o644),
            ("payload/Library/Application Support/Muster/agent.toml.example", 0o644),
            ("payload/Library/Application Support/Muster/agent.toml.baked", 0o600),
            ("scripts/preinstall", 0o755),
            ("scripts/postinstall", 0o755),
        ] {
            let meta = std::fs::metadata(tree.join(rel)).unwrap();
            assert_eq!(meta.permissions().mode() & 0o777, mode, "{rel}");
        }
        std::fs::remove_dir_all(&out).unwrap();
    }
}
