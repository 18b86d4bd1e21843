//! Claude Code: `~/.claude.json` (user scope, and local scope under `projects[<path>]` with
//! `disabledMcpServers`), projects reachable only through that map, `<repo>/.mcp.json`, managed
//! `managed-mcp.json`, installed plugins and subagents, on every OS layout.

use muster_agent::platform::Os;

use crate::support::{ALL_OS, Image, assert_found, fixture, home, join, servers_in};

/// Servers of one client from one file (some files are read by several clients, so tests of
/// shared files pick the client they are about).
pub fn found_for(json: &serde_json::Value, client: &str, scope: &str, config_path: &str) -> Vec<serde_json::Value> {
    let found: Vec<serde_json::Value> =
        servers_in(json, config_path).into_iter().filter(|s| s["client"] == client).collect();
    assert!(!found.is_empty(), "no {client} server from {config_path}; problems: {}", json["problems"]);
    for s in &found {
        assert_eq!(s["scope"], scope, "scope of {} in {config_path}", s["name"]);
    }
    found
}

pub fn names(servers: &[serde_json::Value]) -> Vec<&str> {
    servers.iter().map(|s| s["name"].as_str().unwrap_or_default()).collect()
}

/// A home as Claude Code writes it in `projects` keys (forward slashes on Windows too).
fn key_home(os: Os) -> &'static str {
    match os {
        Os::Linux => "/home/alice",
        Os::Macos => "/Users/alice",
        Os::Windows => "C:/Users/alice",
    }
}

/// `~/.claude.json` with project keys written for `os`.
fn claude_json(os: Os) -> String {
    fixture("claude-code/claude.json").replace("/home/alice", key_home(os))
}

#[test]
fn user_and_local_scope_with_disabled_servers_on_every_os() {
    for os in ALL_OS {
        let img = Image::new(os);
        let h = home(os, "alice");
        let file = join(os, &h, ".claude.json");
        img.write(&file, &claude_json(os));
        let json = img.scan_json();
        let servers = found_for(&json, "claude-code", "user", &file);
        assert_eq!(names(&servers), ["github", "memory", "postgres", "sentry"], "{os:?}");
        let api = format!("{}/work/api", key_home(os));
        for s in &servers {
            let local = s["name"] == "postgres" || s["name"] == "sentry";
            let expected = if local { serde_json::json!(api) } else { serde_json::Value::Null };
            assert_eq!(s["project"], expected, "{os:?} project of {}", s["name"]);
            assert_eq!(s["disabled"], s["name"] == "sentry", "{os:?} disabled of {}", s["name"]);
        }
    }
}

#[test]
fn project_reachable_only_through_the_projects_map_is_scanned() {
    for os in ALL_OS {
        let img = Image::new(os);
        let h = home(os, "alice");
        img.write(&join(os, &h, ".claude.json"), &claude_json(os));
        // Outside every code root and without `.git`: only `projects` names it.
        let listed = join(os, &h, "elsewhere/payments/.mcp.json");
        let unlisted = join(os, &h, "elsewhere/unlisted/.mcp.json");
        img.fixture(&listed, "claude-code/project-mcp.json");
        img.fixture(&unlisted, "claude-code/project-mcp.json");
        let json = img.scan_json();
        let servers = found_for(&json, "claude-code", "project", &listed);
        assert_eq!(names(&servers), ["docs", "stripe"], "{os:?}");
        assert_eq!(servers[0]["project"], join(os, &h, "elsewhere/payments"), "{os:?}");
        assert_eq!(servers[0]["user"], "alice");
        assert!(servers_in(&json, &unlisted).is_empty(), "{os:?}: unlisted project was read");
    }
}

#[test]
fn windows_project_keys_with_backslashes_resolve() {
    let os = Os::Windows;
    let img = Image::new(os);
    let h = home(os, "alice");
    img.write(&join(os, &h, ".claude.json"), r#"{"projects": {"C:\\Users\\alice\\elsewhere\\billing": {}}}"#);
    let file = join(os, &h, "elsewhere/billing/.mcp.json");
    img.fixture(&file, "claude-code/project-mcp.json");
    let json = img.scan_json();
    assert_eq!(names(&found_for(&json, "claude-code", "project", &file)), ["docs", "stripe"]);
}

#[test]
fn project_mcp_json_in_a_code_root() {
    for os in ALL_OS {
        let img = Image::new(os);
        let repo = join(os, &home(os, "alice"), "src/shop");
        img.mkdir(&join(os, &repo, ".git"));
        let file = join(os, &repo, ".mcp.json");
        img.fixture(&file, "claude-code/project-mcp.json");
        let json = img.scan_json();
        assert_eq!(names(&found_for(&json, "claude-code", "project", &file)), ["docs", "stripe"], "{os:?}");
    }
}

#[test]
fn managed_mcp_json_has_no_user_and_legacy_programdata_is_not_read() {
    for os in ALL_OS {
        let img = Image::new(os);
        img.mkdir(&home(os, "alice"));
        let file = match os {
            Os::Linux => "/etc/claude-code/managed-mcp.json",
            Os::Macos => "/Library/Application Support/ClaudeCode/managed-mcp.json",
            Os::Windows => "C:\\Program Files\\ClaudeCode\\managed-mcp.json",
        };
        img.fixture(file, "claude-code/managed-mcp.json");
        let legacy = "C:\\ProgramData\\ClaudeCode\\managed-mcp.json";
        if os == Os::Windows {
            img.fixture(legacy, "claude-code/managed-mcp.json");
        }
        let json = img.scan_json();
        assert_eq!(assert_found(&json, "claude-code", "managed", file), ["company-tools"], "{os:?}");
        assert_eq!(servers_in(&json, file)[0]["user"], serde_json::Value::Null, "{os:?}");
        assert!(servers_in(&json, legacy).is_empty());
    }
}

#[test]
fn installed_plugins_and_subagents() {
    for os in ALL_OS {
        let img = Image::new(os);
        let h = home(os, "alice");
        let cache = join(os, &h, ".claude/plugins/cache/acme-tools");
        let plugin_mcp = join(os, &cache, "playwright-kit/1.2.0/.mcp.json");
        let plugin_manifest = join(os, &cache, "db-tools/1.0.0/.claude-plugin/plugin.json");
        img.fixture(&plugin_mcp, "claude-code/plugin.mcp.json");
        img.fixture(&plugin_manifest, "claude-code/plugin.json");
        // A marketplace clone holds plugins that were never installed.
        let not_installed = join(os, &h, ".claude/plugins/marketplaces/acme-tools/plugins/extra/.mcp.json");
        img.fixture(&not_installed, "claude-code/plugin.mcp.json");
        let user_agent = join(os, &h, ".claude/agents/release-manager.md");
        img.fixture(&user_agent, "claude-code/subagent.md");
        let repo = join(os, &h, "src/shop");
        img.mkdir(&join(os, &repo, ".git"));
        let project_agent = join(os, &repo, ".claude/agents/release-manager.md");
        img.fixture(&project_agent, "claude-code/subagent.md");
        let json = img.scan_json();

        assert_eq!(assert_found(&json, "claude-code", "user", &plugin_mcp), ["playwright"], "{os:?}");
        assert_eq!(servers_in(&json, &plugin_mcp)[0]["origin"], "plugin:playwright-kit");
        assert_eq!(assert_found(&json, "claude-code", "user", &plugin_manifest), ["db-inspector"], "{os:?}");
        assert_eq!(servers_in(&json, &plugin_manifest)[0]["origin"], "plugin:db-tools");
        assert!(servers_in(&json, &not_installed).is_empty(), "{os:?}: marketplace clone read");

        // Only the inline definition is a server; `- github` refers to one defined elsewhere.
        assert_eq!(assert_found(&json, "claude-code", "user", &user_agent), ["jira"], "{os:?}");
        assert_eq!(servers_in(&json, &user_agent)[0]["origin"], "subagent:release-manager");
        assert_eq!(servers_in(&json, &user_agent)[0]["transport"], "http");
        assert_eq!(assert_found(&json, "claude-code", "project", &project_agent), ["jira"], "{os:?}");
    }
}

#[test]
fn normalised_output_snapshot() {
    let img = Image::new(Os::Linux);
    img.fixture("/home/alice/.claude.json", "claude-code/claude.json");
    let json = img.scan_json();
    insta::assert_json_snapshot!(servers_in(&json, "/home/alice/.claude.json"));
}

/// Regression (issue 16): a plugin manifest whose `mcpServers` is a path to another file; a path
/// leaving the plugin root is refused, not read.
#[test]
fn a_plugin_manifest_naming_a_servers_file_by_relative_path() {
    for os in ALL_OS {
        let img = Image::new(os);
        let h = home(os, "alice");
        let root = join(os, &h, ".claude/plugins/cache/acme/db-tools/2.0.0");
        img.write(
            &join(os, &root, ".claude-plugin/plugin.json"),
            r#"{"name": "db-tools", "mcpServers": "./config/servers.json"}"#,
        );
        let linked = join(os, &root, "config/servers.json");
        img.write(&linked, r#"{"mcpServers": {"pg": {"command": "npx", "args": ["-y", "@acme/pg-mcp@1.0.0"]}}}"#);
        let other = join(os, &h, ".claude/plugins/cache/acme/evil/1.0.0");
        img.write(
            &join(os, &other, ".claude-plugin/plugin.json"),
            r#"{"name": "evil", "mcpServers": "../../../../../.ssh/x.json"}"#,
        );
        let json = img.scan_json();
        assert_eq!(assert_found(&json, "claude-code", "user", &linked), ["pg"], "{os:?}");
        assert_eq!(servers_in(&json, &linked)[0]["origin"], "plugin:db-tools", "{os:?}");
        let problems = json["problems"].as_array().expect("problems");
        assert!(
            problems.iter().any(|p| p["message"].as_str().is_some_and(|m| m.contains("outside plugin"))),
            "{os:?}: {problems:?}"
        );
    }
}

/// Regression (issue 16): `disabledMcpjsonServers` (in `~/.claude.json` per project, or in the
/// project's `.claude/settings.local.json`) turns a project's `.mcp.json` entries off.
#[test]
fn project_servers_disabled_outside_their_entries() {
    for os in ALL_OS {
        let img = Image::new(os);
        let h = home(os, "alice");
        let shop = join(os, &h, "src/shop");
        let blog = join(os, &h, "src/blog");
        let servers = r#"{"mcpServers": {"a": {"command": "npx", "args": ["a@1.0.0"]}, "b": {"command": "npx", "args": ["b@1.0.0"]}}}"#;
        for repo in [&shop, &blog] {
            img.mkdir(&join(os, repo, ".git"));
            img.write(&join(os, repo, ".mcp.json"), servers);
        }
        let claude_json = serde_json::json!({"projects": {shop.clone(): {"disabledMcpjsonServers": ["b"]}}});
        img.write(&join(os, &h, ".claude.json"), &claude_json.to_string());
        img.write(&join(os, &blog, ".claude/settings.local.json"), r#"{"disabledMcpjsonServers": ["a"]}"#);
        let json = img.scan_json();
        let disabled = |repo: &str, name: &str| {
            let s = servers_in(&json, &join(os, repo, ".mcp.json"));
            s.iter().find(|s| s["name"] == name).expect("server")["disabled"].clone()
        };
        assert_eq!(disabled(&shop, "a"), false, "{os:?}");
        assert_eq!(disabled(&shop, "b"), true, "{os:?}");
        assert_eq!(disabled(&blog, "a"), true, "{os:?}");
        assert_eq!(disabled(&blog, "b"), false, "{os:?}");
    }
}
