//! `muster-agent policy check FILE --root DIR --os OS`: the real binary scans a machine image,
//! evaluates a policy file against what it found and prints the decisions (text and JSON),
//! changing nothing; a malformed file is refused with every problem's line and column.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

/// A Linux image with one user whose Cursor config has an SSE server, an unpinned npm server,
/// a pinned one and a plain-HTTP one.
fn write_image(root: &Path) {
    let home = root.join("home/dev");
    std::fs::create_dir_all(home.join(".cursor")).unwrap();
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::write(root.join("etc/passwd"), "dev:x:1000:1000::/home/dev:/bin/bash\n").unwrap();
    std::fs::write(
        home.join(".cursor/mcp.json"),
        r#"{"mcpServers": {
  "legacy-crm": {"url": "https://crm.example.com/sse", "transport": "sse"},
  "github": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-github"]},
  "filesystem": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem@1.4.2", "/home/dev/src"]},
  "intranet": {"url": "http://tools.corp.example/mcp"}
}}"#,
    )
    .unwrap();
}

const POLICY: &str = r#"version = 1
name = "acme"

[[rule]]
id = "no-sse"
action = "quarantine"
[rule.match]
transport = ["sse"]

[[rule]]
id = "pin-packages"
action = "block"
grace = "14d"
builtin = "MUSTER-PKG-UNPINNED"

[[rule]]
id = "no-plain-http"
action = "block"
[rule.match]
plaintext_remote = true

[[exception]]
id = "intranet-until-2099"
rules = ["no-plain-http"]
server = "intranet"
reason = "TLS lands with the proxy upgrade"
approver = "ciso@acme.example"
expires = 2099-01-01T00:00:00Z
"#;

fn policy_check(file: &Path, root: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_muster-agent"))
        .args(["policy", "check"])
        .arg(file)
        .arg("--root")
        .arg(root)
        .args(["--os", "linux", "--no-processes"])
        .args(extra)
        .output()
        .expect("run muster-agent")
}

/// Every file under `dir` with its bytes, to show nothing was changed.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((p.display().to_string(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn prints_what_the_policy_would_do_to_each_server_and_changes_nothing() {
    let image = tempfile::tempdir().unwrap();
    write_image(image.path());
    let files = tempfile::tempdir().unwrap();
    let policy = files.path().join("acme.toml");
    std::fs::write(&policy, POLICY).unwrap();
    let before = snapshot(image.path());

    let out = policy_check(&policy, image.path(), &["--format", "json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    assert_eq!(json["policy"], "acme");
    let servers = json["servers"].as_array().unwrap();
    let rules_of = |name: &str| -> Vec<String> {
        let s = servers.iter().find(|s| s["name"] == name).unwrap_or_else(|| panic!("{name} in {json}"));
        s["violations"].as_array().unwrap().iter().map(|v| v["rule"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(servers.len(), 4, "{json}");
    assert_eq!(rules_of("legacy-crm"), ["no-sse"]);
    assert_eq!(rules_of("github"), ["pin-packages"]);
    assert!(rules_of("filesystem").is_empty());
    assert_eq!(rules_of("intranet"), ["no-plain-http"]);
    let github = servers.iter().find(|s| s["name"] == "github").unwrap();
    assert_eq!(github["violations"][0]["action"], "block");
    assert_eq!(github["violations"][0]["due"]["when"], "at", "an unpublished file's grace counts from now");
    let intranet = servers.iter().find(|s| s["name"] == "intranet").unwrap();
    assert_eq!(intranet["violations"][0]["exception"]["exception"], "intranet-until-2099");

    let out = policy_check(&policy, image.path(), &[]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("legacy-crm (cursor, user dev): quarantine now"), "{text}");
    assert!(text.contains("github (cursor, user dev): in grace period"), "{text}");
    assert!(text.contains("filesystem (cursor, user dev): allowed\n"), "{text}");
    assert!(text.contains("intranet (cursor, user dev): allowed by exception"), "{text}");
    assert!(text.contains("lifted by exception intranet-until-2099 until 2099-01-01T00:00:00Z"), "{text}");

    assert_eq!(snapshot(image.path()), before, "policy check changed the image");
}

#[test]
fn a_malformed_policy_is_refused_with_every_problem_and_exit_2() {
    let image = tempfile::tempdir().unwrap();
    write_image(image.path());
    let files = tempfile::tempdir().unwrap();
    let policy = files.path().join("bad.toml");
    std::fs::write(
        &policy,
        "version = 1\n[[rule]]\nid = \"r\"\naction = \"block\"\n[rule.match]\necosystem = [\"npm\"]\nversion = \">= banana\"\n\
         [[rule]]\nid = \"s\"\naction = \"notify\"\n[rule.match]\ntransport = [\"stdio\"]\nurl_host = [\"x\"]\n",
    )
    .unwrap();
    let out = policy_check(&policy, image.path(), &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "nothing evaluated");
    let stderr = String::from_utf8(out.stderr).unwrap();
    let shown = policy.display().to_string();
    assert!(stderr.contains(&format!("{shown}:7:11: \">= banana\" is not an npm version range")), "{stderr}");
    assert!(stderr.contains(&format!("{shown}:11:1: stdio servers have no URL")), "{stderr}");

    std::fs::write(&policy, "version = 1\n[[rule]]\nid = \"r\"\naction = \"block\"\ncolour = \"red\"\n").unwrap();
    let out = policy_check(&policy, image.path(), &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains(":5:1: unknown field `colour`"));
}
