//! `muster-agent policy apply FILE --root DIR` and `muster-agent restore --all --root DIR`: the
//! real binary enforces a local policy on a machine image with no control plane, writes only
//! under the image root (and its state dir), lifts a quarantine when the rule goes, and restore
//! brings every file back byte-identical.

#![allow(clippy::expect_used, clippy::unwrap_used)]

#[path = "common/agent_cli.rs"]
mod agent_cli;

use std::path::Path;

use agent_cli::{run, snapshot, text};

/// A Linux image: Cursor (no switch: sidecar), Codex (TOML `enabled`), Cline (`disabled`).
fn write_image(root: &Path) {
    let home = root.join("home/dev");
    for d in [".cursor", ".codex", ".config/Code/User/globalStorage/saoudrizwan.claude-dev/settings"] {
        std::fs::create_dir_all(home.join(d)).unwrap();
    }
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::write(root.join("etc/passwd"), "dev:x:1000:1000::/home/dev:/bin/bash\n").unwrap();
    std::fs::write(
        home.join(".cursor/mcp.json"),
        "{\r\n  // work servers\r\n  \"mcpServers\": {\r\n    \"legacy-crm\": {\"url\": \"https://crm.example.com/sse\", \"transport\": \"sse\"},\r\n    \"docs\": {\"command\": \"docs-server\"},\r\n  },\r\n}\r\n",
    )
    .unwrap();
    std::fs::write(
        home.join(".codex/config.toml"),
        "# my codex\nmodel = \"gpt-5\"\n\n[mcp_servers.old-sse]\nurl = \"https://old.example.com/sse\"  # keep\n",
    )
    .unwrap();
}

const QUARANTINE_SSE: &str = r#"version = 1
name = "offline"

[[rule]]
id = "no-sse"
action = "quarantine"
[rule.match]
transport = ["sse"]

[[rule]]
id = "retired-servers"
action = "quarantine"
[rule.match]
name = ["old-sse"]

[[rule]]
id = "no-docs"
action = "block"
[rule.match]
name = ["docs"]
"#;

const NOTHING: &str = "version = 1\nname = \"offline\"\n";

#[test]
fn policy_apply_quarantines_on_an_image_and_restore_brings_it_back_byte_identical() {
    let tmp = tempfile::tempdir().unwrap();
    let (root, state, outside) = (tmp.path().join("image"), tmp.path().join("state"), tmp.path().join("outside"));
    write_image(&root);
    std::fs::create_dir_all(&outside).unwrap();
    let policy = tmp.path().join("p.toml");
    std::fs::write(&policy, QUARANTINE_SSE).unwrap();
    let before = snapshot(&root);
    let apply = |extra: &[&str]| {
        let mut args = vec!["policy", "apply"];
        args.extend(extra);
        run(
            &args,
            &[
                &policy,
                Path::new("--root"),
                &root,
                Path::new("--os"),
                Path::new("linux"),
                Path::new("--state-dir"),
                &state,
            ],
        )
    };

    // A dry run changes nothing and says what it would write.
    let dry = apply(&["--dry-run"]);
    assert!(dry.status.success(), "{}", text(&dry));
    assert!(text(&dry).contains("would write"), "{}", text(&dry));
    assert_eq!(snapshot(&root), before);

    let out = apply(&[]);
    assert!(out.status.success(), "{}", text(&out));
    let report = text(&out);
    assert_eq!(report.matches("\tapplied").count(), 2, "{report}");
    // The block goes to Cursor's system hooks; the image has no agent binary for the hook.
    assert!(report.contains("block\tcursor \"docs\"") && report.contains("not in force"), "{report}");
    assert!(std::fs::read_to_string(root.join("etc/cursor/hooks.json")).unwrap().contains("hook cursor"));
    let cursor = std::fs::read_to_string(root.join("home/dev/.cursor/mcp.json")).unwrap();
    assert!(
        !cursor.contains("legacy-crm") && cursor.contains("// work servers") && cursor.contains("\"docs\""),
        "{cursor}"
    );
    assert!(root.join("home/dev/.cursor/mcp.json.muster-quarantined").exists());
    let codex = std::fs::read_to_string(root.join("home/dev/.codex/config.toml")).unwrap();
    assert!(codex.contains("enabled = false") && codex.contains("# keep") && codex.contains("# my codex"), "{codex}");
    // Every write stayed under the image (the state dir aside).
    assert!(std::fs::read_dir(&outside).unwrap().next().is_none());
    assert!(std::fs::read_dir(tmp.path()).unwrap().count() == 4, "something was written beside the image");

    // Applying again changes nothing (the sidecar'd server is still judged, from its record).
    let again = apply(&[]);
    assert!(text(&again).matches("\tin force").count() == 2, "{}", text(&again));
    let quarantined = snapshot(&root);

    // The rule is lifted: the quarantines are undone by themselves, byte-identical.
    std::fs::write(&policy, NOTHING).unwrap();
    let lifted = apply(&[]);
    assert!(lifted.status.success(), "{}", text(&lifted));
    // Two quarantines, and Cursor's hooks file and decision table, which Muster created.
    assert_eq!(text(&lifted).matches("lifted").count(), 3, "{}", text(&lifted));
    assert_eq!(snapshot(&root), before);

    // Quarantine again, then `restore --all` undoes it.
    std::fs::write(&policy, QUARANTINE_SSE).unwrap();
    assert!(apply(&[]).status.success());
    assert_eq!(snapshot(&root), quarantined);
    let restored =
        run(&["restore", "--all", "--os", "linux"], &[Path::new("--root"), &root, Path::new("--state-dir"), &state]);
    assert!(restored.status.success(), "{}", text(&restored));
    assert_eq!(snapshot(&root), before, "{}", text(&restored));
}

#[test]
fn with_root_and_no_state_dir_every_write_stays_under_the_image() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("image");
    write_image(&root);
    let policy = tmp.path().join("p.toml");
    std::fs::write(&policy, QUARANTINE_SSE).unwrap();
    let before = snapshot(&root);
    let out = run(&["policy", "apply"], &[&policy, Path::new("--root"), &root, Path::new("--os"), Path::new("linux")]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(text(&out).matches("\tapplied").count(), 2, "{}", text(&out));
    // Beside the image there is still only the policy file; the journal is the image's own.
    let names: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(root.join("var/lib/muster-agent/enforce/journal").is_dir());
    let restored = run(&["restore", "--all"], &[Path::new("--root"), &root]);
    assert!(restored.status.success(), "{}", text(&restored));
    let after: Vec<_> = snapshot(&root).into_iter().filter(|(p, _)| !p.starts_with("var/lib/muster-agent")).collect();
    assert_eq!(after, before);
}

#[test]
fn restore_takes_the_quarantine_out_of_a_file_edited_since_and_refuses_an_edit_on_its_lines() {
    let tmp = tempfile::tempdir().unwrap();
    let (root, state) = (tmp.path().join("image"), tmp.path().join("state"));
    write_image(&root);
    let policy = tmp.path().join("p.toml");
    std::fs::write(&policy, QUARANTINE_SSE).unwrap();
    let apply = || {
        run(
            &["policy", "apply"],
            &[
                &policy,
                Path::new("--root"),
                &root,
                Path::new("--os"),
                Path::new("linux"),
                Path::new("--state-dir"),
                &state,
            ],
        )
    };
    let restore = || run(&["restore", "--all"], &[Path::new("--root"), &root, Path::new("--state-dir"), &state]);
    let codex = root.join("home/dev/.codex/config.toml");
    let original = std::fs::read_to_string(&codex).unwrap();

    // Edited far from Muster's line: the quarantine comes out, the developer's edit stays.
    assert!(apply().status.success());
    let edited = std::fs::read_to_string(&codex).unwrap().replace("model = \"gpt-5\"", "model = \"gpt-6\" # mine");
    std::fs::write(&codex, &edited).unwrap();
    let out = restore();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        std::fs::read_to_string(&codex).unwrap(),
        original.replace("model = \"gpt-5\"", "model = \"gpt-6\" # mine")
    );

    // Edited on the lines Muster changed: left alone, and said so.
    std::fs::write(&codex, &original).unwrap();
    assert!(apply().status.success());
    let edited = std::fs::read_to_string(&codex).unwrap().replace("enabled = false", "enabled = false # ok by me");
    std::fs::write(&codex, &edited).unwrap();
    let out = restore();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("left as it is"), "{}", text(&out));
    assert_eq!(std::fs::read_to_string(&codex).unwrap(), edited);
}

#[cfg(unix)]
#[test]
fn with_root_a_config_linked_outside_the_image_is_not_written() {
    let tmp = tempfile::tempdir().unwrap();
    let (root, state, outside) = (tmp.path().join("image"), tmp.path().join("state"), tmp.path().join("outside"));
    write_image(&root);
    std::fs::create_dir_all(&outside).unwrap();
    let codex = root.join("home/dev/.codex/config.toml");
    std::fs::rename(&codex, outside.join("config.toml")).unwrap();
    std::os::unix::fs::symlink(outside.join("config.toml"), &codex).unwrap();
    let before = std::fs::read(outside.join("config.toml")).unwrap();
    let policy = tmp.path().join("p.toml");
    std::fs::write(&policy, QUARANTINE_SSE).unwrap();
    let out = run(
        &["policy", "apply"],
        &[&policy, Path::new("--root"), &root, Path::new("--os"), Path::new("linux"), Path::new("--state-dir"), &state],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("outside"), "{}", text(&out));
    assert_eq!(std::fs::read(outside.join("config.toml")).unwrap(), before);
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 1);
}

/// Every example under docs/policies/ passes `policy check` (the real binary), and together they
/// exercise every action.
#[test]
fn every_example_policy_file_passes_policy_check() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/policies");
    let tmp = tempfile::tempdir().unwrap();
    write_image(tmp.path());
    let mut actions = std::collections::BTreeSet::new();
    let mut files = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let path = e.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        files += 1;
        let out =
            run(&["policy", "check", "--os", "linux", "--no-processes"], &[&path, Path::new("--root"), tmp.path()]);
        assert!(out.status.success(), "{}: {}", path.display(), text(&out));
        let body = std::fs::read_to_string(&path).unwrap();
        for a in ["notify", "require-approval", "deny-tools", "quarantine", "block"] {
            if body.contains(&format!("action = \"{a}\"")) {
                actions.insert(a);
            }
        }
    }
    assert!(files >= 5, "{files}");
    assert_eq!(actions.len(), 5, "{actions:?}");
}
