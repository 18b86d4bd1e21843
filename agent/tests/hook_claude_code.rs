//! `muster-agent hook claude-code`, the real binary as Claude Code runs its `policyHelper`: a
//! `block` applied with `policy apply --claude-code-policy-helper` configures the helper in the
//! administrator's `managed-settings.json` and comes back from the helper as `serverCommand`
//! entries merged with the administrator's settings; with no Muster entries, or corrupt files,
//! the helper still exits 0 with a valid answer; named `muster-claude-policy` the binary answers
//! as the helper without arguments (the Windows install).

#![allow(clippy::expect_used, clippy::unwrap_used)]

#[path = "common/agent_cli.rs"]
mod agent_cli;

use std::path::Path;
use std::process::{Command, Output};

use agent_cli::{run, snapshot, text};
use serde_json::{Value, json};

const ADMIN: &str =
    "{\n  \"deniedMcpServers\": [{ \"serverUrl\": \"https://*.pastebin.example/*\" }],\n  \"model\": \"x\"\n}\n";
const BLOCK_EVIL: &str =
    "version = 1\nname = \"t\"\n\n[[rule]]\nid = \"no-evil\"\naction = \"block\"\n[rule.match]\nname = [\"evil\"]\n";
const NOTHING: &str = "version = 1\nname = \"t\"\n";

fn helper(dir: &Path) -> Output {
    run(&["hook", "claude-code", "--dir"], &[dir])
}

/// The helper's answer: exit 0, one JSON object with `managedSettings`.
fn managed(o: &Output) -> Value {
    assert!(o.status.success(), "the helper always exits 0: {}", text(o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(o)));
    v["managedSettings"].as_object().unwrap_or_else(|| panic!("no managedSettings: {v}"));
    v["managedSettings"].clone()
}

#[test]
fn a_block_applied_with_the_helper_on_comes_back_from_the_helper_with_the_administrators_settings() {
    let tmp = tempfile::tempdir().unwrap();
    let (root, state) = (tmp.path().join("image"), tmp.path().join("state"));
    let home = root.join("home/dev");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(root.join("etc/claude-code")).unwrap();
    std::fs::create_dir_all(root.join("usr/lib/muster-agent")).unwrap();
    std::fs::write(root.join("etc/passwd"), "dev:x:1000:1000::/home/dev:/bin/bash\n").unwrap();
    std::fs::write(
        home.join(".claude.json"),
        r#"{"mcpServers": {"evil": {"command": "npx", "args": ["-y", "evil-mcp"]}, "docs": {"command": "docs-mcp"}}}"#,
    )
    .unwrap();
    let settings = root.join("etc/claude-code/managed-settings.json");
    std::fs::write(&settings, ADMIN).unwrap();
    let policy = tmp.path().join("p.toml");
    let apply = |body: &str, helper_on: bool| -> Output {
        std::fs::write(&policy, body).unwrap();
        let mut args = vec!["policy", "apply"];
        if helper_on {
            args.push("--claude-code-policy-helper");
        }
        let fixed: [&Path; 7] = [
            &policy,
            Path::new("--root"),
            &root,
            Path::new("--os"),
            Path::new("linux"),
            Path::new("--state-dir"),
            &state,
        ];
        let out = run(&args, &fixed);
        assert!(out.status.success(), "{}", text(&out));
        out
    };

    // Off (the default): the administrator's file is not touched.
    apply(BLOCK_EVIL, false);
    assert_eq!(std::fs::read_to_string(&settings).unwrap(), ADMIN);

    // On, but the helper program is not installed: Claude Code would not start, so nothing is
    // configured and the report says why.
    let missing = apply(BLOCK_EVIL, true);
    assert_eq!(std::fs::read_to_string(&settings).unwrap(), ADMIN);
    let said = String::from_utf8_lossy(&missing.stderr);
    assert!(said.contains("helper program is not installed") && said.contains("claude-policy-helper"), "{said}");

    std::fs::write(root.join("usr/lib/muster-agent/claude-policy-helper"), "#!/bin/sh\n").unwrap();
    // Applied twice with the helper off and on: Muster's drop-in is in; the image as it will be
    // once every decision lifts is the image without it.
    let drop_in = root.join("etc/claude-code/managed-settings.d/50-muster.json");
    let before: Vec<_> = snapshot(&root).into_iter().filter(|(p, _)| !root.join(p).eq(&drop_in)).collect();
    apply(BLOCK_EVIL, true);
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&settings).unwrap()).unwrap();
    assert_eq!(written["policyHelper"]["path"], "/usr/lib/muster-agent/claude-policy-helper");
    assert_eq!(written["model"], "x", "the administrator's keys stay");

    let m = managed(&helper(&root.join("etc/claude-code")));
    assert_eq!(
        m["deniedMcpServers"],
        json!([{ "serverUrl": "https://*.pastebin.example/*" }, { "serverCommand": ["npx", "-y", "evil-mcp"] }]),
        "the bundle's block as a serverCommand entry, after the administrator's: {m}"
    );
    assert!(m.get("policyHelper").is_none(), "{m}");

    // Lifted: the helper key goes, the administrator's file is back byte for byte.
    apply(NOTHING, true);
    assert_eq!(std::fs::read_to_string(&settings).unwrap(), ADMIN);
    assert_eq!(snapshot(&root), before, "every file of the image is as it was");
    assert_eq!(managed(&helper(&root.join("etc/claude-code")))["deniedMcpServers"].as_array().unwrap().len(), 1);
}

#[test]
fn the_helper_never_blocks_a_launch_on_missing_or_corrupt_files() {
    let tmp = tempfile::tempdir().unwrap();
    // No directory at all.
    assert_eq!(managed(&helper(&tmp.path().join("absent"))), json!({}));

    // Only the administrator's settings.
    let dir = tmp.path().join("claude-code");
    std::fs::create_dir_all(dir.join("managed-settings.d")).unwrap();
    std::fs::write(dir.join("managed-settings.json"), ADMIN).unwrap();
    assert_eq!(managed(&helper(&dir))["model"], "x");

    // A corrupt Muster drop-in: the administrator's settings alone, the file named on stderr.
    std::fs::write(dir.join("managed-settings.d/50-muster.json"), "{ \"deniedMcpServers\": [ CANARY-77").unwrap();
    let out = helper(&dir);
    let m = managed(&out);
    assert_eq!(m["deniedMcpServers"].as_array().unwrap().len(), 1, "{m}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("50-muster.json") && !stderr.contains("CANARY"), "{stderr}");

    // Everything corrupt: still exit 0 and a valid, empty answer.
    std::fs::write(dir.join("managed-settings.json"), [0xff, 0x00, 0x7b]).unwrap();
    assert_eq!(managed(&helper(&dir)), json!({}));
}

#[test]
fn named_muster_claude_policy_the_agent_answers_as_the_helper_without_arguments() {
    // A hard link in the target dir (same filesystem as the binary).
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let link = dir.path().join("muster-claude-policy");
    std::fs::hard_link(env!("CARGO_BIN_EXE_muster-agent"), &link)
        .or_else(|_| std::fs::copy(env!("CARGO_BIN_EXE_muster-agent"), &link).map(|_| ()))
        .unwrap();
    let out = Command::new(&link).output().unwrap();
    // The default directory (/etc/claude-code on this host) may or may not exist: either way
    // the answer is a valid envelope and the exit 0.
    managed(&out);
}
