//! End-to-end tests of `muster-agent scan --root DIR --os OS --format json|table`: the real
//! binary on synthetic machine images of every OS, with two users each, repositories under the
//! code roots, a project reachable only through Claude Code's records, and a managed file.

#![allow(clippy::expect_used, clippy::unwrap_used)]

#[path = "common/synthetic.rs"]
mod synthetic;

use std::process::Command;

use serde_json::Value;
use synthetic::{ImageOs, write_image};

fn scan(root: &std::path::Path, os: ImageOs, format: &str) -> (String, String, bool) {
    let out = Command::new(env!("CARGO_BIN_EXE_muster-agent"))
        .args(["scan", "--offline", "--root"])
        .arg(root)
        .args(["--os", os.as_str(), "--format", format])
        .output()
        .expect("run muster-agent");
    (
        String::from_utf8(out.stdout).expect("utf8 stdout"),
        String::from_utf8(out.stderr).expect("utf8 stderr"),
        out.status.success(),
    )
}

#[test]
fn json_contract_on_every_os_layout() {
    for os in [ImageOs::Linux, ImageOs::Macos, ImageOs::Windows] {
        let dir = tempfile::tempdir().expect("tempdir");
        let written = write_image(dir.path(), os, &["alice", "bob"], 2);
        let (stdout, stderr, ok) = scan(dir.path(), os, "json");
        assert!(ok, "{os:?}: scan failed: {stderr}");
        let json: Value = serde_json::from_str(&stdout).expect("stdout is JSON");
        let servers = json["servers"].as_array().expect("servers");
        assert_eq!(json["problems"], Value::Array(vec![]), "{os:?}: a clean image has no problems");
        assert_eq!(servers.len(), written.servers, "{os:?}: every written server is found once");

        // The contract's names and types, on every server.
        for s in servers {
            for key in ["client", "scope", "config_path", "name", "transport", "disabled", "args"] {
                assert!(!s[key].is_null(), "{os:?}: {key} missing in {s}");
            }
            assert!(s["user"].is_string() || s["user"].is_null());
            assert!(["user", "project", "managed"].contains(&s["scope"].as_str().unwrap()));
            assert!(["stdio", "sse", "http", "ws"].contains(&s["transport"].as_str().unwrap()), "{s}");
            // Zed extension servers are launched by the extension: no command in the file.
            assert!(s["command"].is_string() || s["url"].is_string() || s["origin"] == "extension", "{s}");
            if let Some(p) = s["package"].as_object() {
                assert!(p["ecosystem"].is_string() && p["name"].is_string() && p["pinned"].is_boolean());
                assert!(p["version"].is_string() || p["version"].is_null());
            }
        }

        // Both users, each attributed.
        for user in ["alice", "bob"] {
            assert!(servers.iter().any(|s| s["user"] == user && s["client"] == "cursor"), "{os:?}: {user}");
        }

        // Managed: no user, managed scope, path as on the machine.
        let managed: Vec<&Value> = servers.iter().filter(|s| s["scope"] == "managed").collect();
        assert_eq!(managed.len(), 1, "{os:?}");
        assert_eq!(managed[0]["config_path"], written.managed_file.as_str());
        assert!(managed[0]["user"].is_null());

        // Projects known only from ~/.claude.json: their .mcp.json is read as project scope,
        // and the per-project (local) entry carries the project path.
        for (user, project) in &written.recorded_only_projects {
            let sep = if os == ImageOs::Windows { "\\" } else { "/" };
            let file = format!("{project}{sep}.mcp.json");
            let found: Vec<&Value> = servers.iter().filter(|s| s["config_path"] == file.as_str()).collect();
            assert_eq!(found.len(), 2, "{os:?}: {file}");
            assert!(found.iter().all(|s| s["scope"] == "project" && s["user"] == user.as_str()));
            let local =
                servers.iter().find(|s| s["name"] == "jira" && s["user"] == user.as_str()).expect("local-scope entry");
            assert_eq!(local["project"], project.as_str());
            // `type: http` on Atlassian's `/v1/sse` endpoint: the legacy SSE transport (issue 16).
            assert_eq!(local["transport"], "sse");
        }

        // Paths are written the scanned machine's way.
        let cursor = servers.iter().find(|s| s["client"] == "cursor").unwrap();
        let path = cursor["config_path"].as_str().unwrap();
        match os {
            ImageOs::Windows => assert!(path.starts_with("C:\\Users\\"), "{path}"),
            ImageOs::Macos => assert!(path.starts_with("/Users/"), "{path}"),
            ImageOs::Linux => assert!(path.starts_with("/home/"), "{path}"),
        }
        // Disabled toggles survive (Goose `enabled: false`).
        assert!(servers.iter().any(|s| s["client"] == "goose" && s["disabled"] == true));
    }
}

#[test]
fn table_lists_users_clients_and_problems() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_image(dir.path(), ImageOs::Linux, &["alice", "bob"], 1);
    std::fs::write(dir.path().join("home/bob/.cursor/mcp.json"), "{\"mcpServers\": {").expect("break a file");
    let (stdout, stderr, ok) = scan(dir.path(), ImageOs::Linux, "table");
    assert!(ok, "{stderr}");
    assert!(stdout.contains("alice") && stdout.contains("bob") && stdout.contains("claude-desktop"), "{stdout}");
    assert!(stdout.contains("/home/bob/.cursor/mcp.json"), "the broken file is listed under problems: {stdout}");
    // The summary has one row per user and client, before the server rows.
    let lines: Vec<&str> = stdout.lines().collect();
    let header = lines.iter().position(|l| l.contains("SERVERS") && l.contains("LITERAL SECRETS")).expect("summary");
    let summary: Vec<(&str, &str)> = lines[header + 1..]
        .iter()
        .take_while(|l| !l.is_empty())
        .map(|l| {
            let mut cells = l.split_whitespace();
            (cells.next().unwrap(), cells.next().unwrap())
        })
        .collect();
    for row in [("alice", "cursor"), ("bob", "claude-desktop"), ("(managed)", "claude-code")] {
        assert!(summary.contains(&row), "{row:?} in {summary:?}");
    }
}

#[test]
fn root_that_is_not_a_directory_is_a_clear_error() {
    let file = tempfile::NamedTempFile::new().expect("tempfile");
    let out = Command::new(env!("CARGO_BIN_EXE_muster-agent"))
        .args(["scan", "--offline", "--root"])
        .arg(file.path())
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a directory"));
}
