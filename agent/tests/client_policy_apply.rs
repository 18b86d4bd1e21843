//! `muster-agent policy apply --root` with `block` rules: the real binary writes the clients'
//! own enterprise policy files on a Linux image (Claude Code's drop-in, Copilot's and Gemini
//! CLI's files shared with an administrator, Codex's requirements), never touches an
//! administrator's own entries, and lifting the rule, or `restore --all`, gives every file back
//! byte-identical (the files Muster created removed).

#![allow(clippy::expect_used, clippy::unwrap_used)]

#[path = "common/agent_cli.rs"]
mod agent_cli;

use std::path::Path;

use agent_cli::{run, snapshot, text};

const COPILOT_ADMIN: &str =
    "{\n    \"deniedMcpServers\": [\n        { \"serverUrl\": \"https://bad.example.com/*\" }\n    ]\n}\n";
const GEMINI_ADMIN: &str = "{\n  // IT baseline\n  \"mcp\": { \"allowed\": [\"evil\", \"docs\"] },\n}\n";
const CODEX_ADMIN: &str = "# IT\nallowed_sandbox_modes = [\"read-only\"]\n";

fn write_image(root: &Path) {
    let home = root.join("home/dev");
    for d in [".gemini", ".codex", ".config/Code/User", "etc"] {
        std::fs::create_dir_all(home.join(d)).unwrap();
    }
    for d in ["etc/github-copilot", "etc/gemini-cli", "etc/codex"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::write(root.join("etc/passwd"), "dev:x:1000:1000::/home/dev:/bin/bash\n").unwrap();
    let evil = r#"{"command": "npx", "args": ["-y", "evil-mcp"]}"#;
    let docs = r#"{"command": "docs-mcp", "args": ["--stdio"]}"#;
    std::fs::write(home.join(".claude.json"), format!(r#"{{"mcpServers": {{"evil": {evil}, "docs": {docs}}}}}"#))
        .unwrap();
    std::fs::write(home.join(".config/Code/User/mcp.json"), format!(r#"{{"servers": {{"evil": {evil}}}}}"#)).unwrap();
    std::fs::write(home.join(".gemini/settings.json"), format!(r#"{{"mcpServers": {{"evil": {evil}}}}}"#)).unwrap();
    std::fs::write(
        home.join(".codex/config.toml"),
        "[mcp_servers.evil]\ncommand = \"npx\"\nargs = [\"-y\", \"evil-mcp\"]\n\n[mcp_servers.docs]\ncommand = \"docs-mcp\"\nargs = [\"--stdio\"]\n",
    )
    .unwrap();
    std::fs::write(root.join("etc/github-copilot/managed-settings.json"), COPILOT_ADMIN).unwrap();
    std::fs::write(root.join("etc/gemini-cli/settings.json"), GEMINI_ADMIN).unwrap();
    std::fs::write(root.join("etc/codex/requirements.toml"), CODEX_ADMIN).unwrap();
}

const BLOCK_EVIL: &str =
    "version = 1\nname = \"t\"\n\n[[rule]]\nid = \"no-evil\"\naction = \"block\"\n[rule.match]\nname = [\"evil\"]\n";
const NOTHING: &str = "version = 1\nname = \"t\"\n";

#[test]
fn a_block_reaches_each_clients_policy_file_and_lifting_it_restores_them_byte_identical() {
    let tmp = tempfile::tempdir().unwrap();
    let (root, state) = (tmp.path().join("image"), tmp.path().join("state"));
    write_image(&root);
    let policy = tmp.path().join("p.toml");
    std::fs::write(&policy, BLOCK_EVIL).unwrap();
    let before = snapshot(&root);
    let apply = |extra: &[&str]| {
        let mut args = vec!["policy", "apply"];
        args.extend(extra);
        let fixed: [&Path; 7] = [
            &policy,
            Path::new("--root"),
            &root,
            Path::new("--os"),
            Path::new("linux"),
            Path::new("--state-dir"),
            &state,
        ];
        run(&args, &fixed)
    };

    let dry = apply(&["--dry-run"]);
    assert!(dry.status.success(), "{}", text(&dry));
    assert_eq!(snapshot(&root), before, "a dry run writes nothing");

    let out = apply(&[]);
    assert!(out.status.success(), "{}", text(&out));
    let report = text(&out);
    for client in ["claude-code", "vscode", "gemini-cli", "codex"] {
        assert!(report.contains(&format!("block\t{client} \"evil\"")), "{client}: {report}");
    }
    assert_eq!(report.matches("\tapplied").count(), 4, "{report}");

    let drop_in = std::fs::read_to_string(root.join("etc/claude-code/managed-settings.d/50-muster.json")).unwrap();
    assert!(drop_in.contains("\"serverCommand\"") && drop_in.contains("evil-mcp") && !drop_in.contains("serverName"));
    let copilot = std::fs::read_to_string(root.join("etc/github-copilot/managed-settings.json")).unwrap();
    assert!(
        copilot
            .starts_with("{\n    \"deniedMcpServers\": [\n        { \"serverUrl\": \"https://bad.example.com/*\" },"),
        "{copilot}"
    );
    assert!(copilot.contains("evil-mcp"), "{copilot}");
    let gemini = std::fs::read_to_string(root.join("etc/gemini-cli/settings.json")).unwrap();
    assert!(gemini.contains("// IT baseline") && gemini.contains("\"excluded\""), "{gemini}");
    let codex = std::fs::read_to_string(root.join("etc/codex/requirements.toml")).unwrap();
    assert!(
        codex.starts_with(CODEX_ADMIN)
            && codex.contains("[mcp_servers.docs.identity.command]")
            && !codex.contains("evil"),
        "{codex}"
    );
    let applied = snapshot(&root);

    let again = apply(&[]);
    assert_eq!(text(&again).matches("\tin force").count(), 4, "{}", text(&again));
    assert_eq!(snapshot(&root), applied, "re-applying changes nothing");

    // An administrator edits their file between runs: their edit is kept, Muster's entry too.
    std::fs::write(&policy, NOTHING).unwrap();
    let lifted = apply(&[]);
    assert!(lifted.status.success(), "{}", text(&lifted));
    assert_eq!(snapshot(&root), before, "lifting gives every file back: {}", text(&lifted));

    std::fs::write(&policy, BLOCK_EVIL).unwrap();
    assert!(apply(&[]).status.success());
    assert_eq!(snapshot(&root), applied);
    let restored =
        run(&["restore", "--all", "--os", "linux"], &[Path::new("--root"), &root, Path::new("--state-dir"), &state]);
    assert!(restored.status.success(), "{}", text(&restored));
    assert_eq!(snapshot(&root), before, "{}", text(&restored));
}

#[test]
fn a_file_the_administrator_edits_after_planning_is_not_overwritten_and_their_entries_survive_a_lift() {
    let tmp = tempfile::tempdir().unwrap();
    let (root, state) = (tmp.path().join("image"), tmp.path().join("state"));
    write_image(&root);
    let policy = tmp.path().join("p.toml");
    std::fs::write(&policy, BLOCK_EVIL).unwrap();
    let args: [&Path; 7] =
        [&policy, Path::new("--root"), &root, Path::new("--os"), Path::new("linux"), Path::new("--state-dir"), &state];
    assert!(run(&["policy", "apply"], &args).status.success());

    // The administrator adds an entry of their own after Muster's.
    let file = root.join("etc/github-copilot/managed-settings.json");
    let with_muster = std::fs::read_to_string(&file).unwrap();
    let edited = with_muster.replacen(
        "\"deniedMcpServers\": [",
        "\"deniedMcpServers\": [\n        { \"serverName\": \"legacy\" },",
        1,
    );
    std::fs::write(&file, &edited).unwrap();

    std::fs::write(&policy, NOTHING).unwrap();
    let lifted = run(&["policy", "apply"], &args);
    assert!(lifted.status.success(), "{}", text(&lifted));
    let after = std::fs::read_to_string(&file).unwrap();
    assert!(
        after.contains("\"legacy\"") && after.contains("bad.example.com"),
        "the administrator's entries stay: {after}"
    );
    assert!(!after.contains("evil-mcp"), "Muster's entry is gone: {after}");
}

/// Regression: `restore --all` left the writers' ownership records behind, so a later apply
/// believed it still owned entries the restore had taken away, and removed an administrator's
/// identical entry added by hand since.
#[test]
fn restore_all_forgets_what_the_writers_owned_so_a_later_apply_keeps_an_administrators_identical_entry() {
    let tmp = tempfile::tempdir().unwrap();
    let (root, state) = (tmp.path().join("image"), tmp.path().join("state"));
    write_image(&root);
    let policy = tmp.path().join("p.toml");
    std::fs::write(&policy, BLOCK_EVIL).unwrap();
    let args: [&Path; 7] =
        [&policy, Path::new("--root"), &root, Path::new("--os"), Path::new("linux"), Path::new("--state-dir"), &state];
    assert!(run(&["policy", "apply"], &args).status.success());
    let copilot_file = root.join("etc/github-copilot/managed-settings.json");
    let with_entry = std::fs::read(&copilot_file).unwrap();
    assert_ne!(with_entry, COPILOT_ADMIN.as_bytes());

    let restored =
        run(&["restore", "--all", "--os", "linux"], &[Path::new("--root"), &root, Path::new("--state-dir"), &state]);
    assert!(restored.status.success(), "{}", text(&restored));
    let records = state.join("enforce/client-policy");
    let left: Vec<_> = std::fs::read_dir(&records)
        .map(|d| d.filter_map(Result::ok).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "ownership records left after restore --all: {left:?}");

    // The administrator now blocks the same server by hand, with the very entry Muster wrote.
    std::fs::write(&copilot_file, &with_entry).unwrap();
    std::fs::write(&policy, NOTHING).unwrap();
    let out = run(&["policy", "apply"], &args);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(std::fs::read(&copilot_file).unwrap(), with_entry, "{}", text(&out));
}
