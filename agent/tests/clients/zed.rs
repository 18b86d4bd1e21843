//! Zed: `context_servers` in the user `settings.json` (Linux XDG and Flatpak dirs, macOS
//! `~/.config/zed`, Windows `%APPDATA%\Zed`) and `<repo>/.zed/settings.json`, with extension
//! servers that carry only `settings`, on every OS layout.

use muster_agent::platform::Os;

use crate::support::{ALL_OS, Image, assert_found, home, join, servers_in};

#[test]
fn user_and_project_settings_on_every_os() {
    for os in ALL_OS {
        let img = Image::new(os);
        let h = home(os, "alice");
        let user_files = match os {
            Os::Linux => vec![
                join(os, &h, ".config/zed/settings.json"),
                join(os, &h, ".var/app/dev.zed.Zed/config/zed/settings.json"),
            ],
            Os::Macos => vec![join(os, &h, ".config/zed/settings.json")],
            Os::Windows => vec![join(os, &h, "AppData/Roaming/Zed/settings.json")],
        };
        for f in &user_files {
            img.fixture(f, "zed/settings.json");
        }
        let repo = join(os, &h, "git/editor-plugin");
        img.mkdir(&join(os, &repo, ".git"));
        let project = join(os, &repo, ".zed/settings.json");
        img.fixture(&project, "zed/project-settings.json");
        let json = img.scan_json();
        for f in &user_files {
            let names = assert_found(&json, "zed", "user", f);
            assert_eq!(names, ["filesystem", "linear", "mcp-server-github", "postgres-context-server"], "{os:?}");
            let servers = servers_in(&json, f);
            let by_name = |n: &str| servers.iter().find(|s| s["name"] == n).cloned().expect("server");
            assert_eq!(by_name("mcp-server-github")["origin"], "extension");
            assert_eq!(by_name("postgres-context-server")["origin"], "extension");
            assert_eq!(by_name("postgres-context-server")["command"], serde_json::Value::Null);
            assert_eq!(by_name("linear")["disabled"], true);
            assert_eq!(by_name("filesystem")["origin"], serde_json::Value::Null);
        }
        assert_eq!(assert_found(&json, "zed", "project", &project), ["nx-mcp"], "{os:?}");
        assert!(json["problems"].as_array().expect("problems").is_empty(), "{os:?}: {}", json["problems"]);
    }
}

#[test]
fn very_old_nested_command_form() {
    let img = Image::new(Os::Linux);
    let f = "/home/alice/.config/zed/settings.json";
    let entry = r#"{"command": {"path": "uvx", "args": ["mcp-server-git"], "env": {"GIT_DIR": "/x"}}, "settings": {}}"#;
    img.write(f, &format!(r#"{{"context_servers": {{"git": {entry}}}}}"#));
    let json = img.scan_json();
    let s = &servers_in(&json, f)[0];
    assert_eq!(s["command"], "uvx");
    assert_eq!(s["args"], serde_json::json!(["mcp-server-git"]));
    assert_eq!(s["env_names"], serde_json::json!(["GIT_DIR"]));
    assert_eq!(s["origin"], serde_json::Value::Null, "a launch command makes it a custom server");
}

#[test]
fn normalised_output_snapshot() {
    let img = Image::new(Os::Macos);
    let f = "/Users/alice/.config/zed/settings.json";
    img.fixture(f, "zed/settings.json");
    let json = img.scan_json();
    insta::assert_json_snapshot!(servers_in(&json, f));
}

/// Regression (issue 16): a key inside an extension's `settings` block, or deeper in another
/// nested block of a custom server, was never searched.
#[test]
fn keys_in_nested_settings_blocks_are_found() {
    let img = Image::new(Os::Linux);
    let f = "/home/alice/.config/zed/settings.json";
    img.write(
        f,
        r#"{"context_servers": {
            "mcp-server-context7": {"source": "extension", "settings": {"context7_api_key": "ctx7sk-3f9c2a1e-7b4d-4e8f-9a0c-1d2e3f4a5b6c"}},
            "search": {"command": "npx", "args": ["-y", "tavily-mcp@0.2.1"], "config": {"auth": {"key": "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"}}}
        }}"#,
    );
    let json = img.scan_json();
    let servers = servers_in(&json, f);
    let creds = |n: &str| {
        let s = servers.iter().find(|s| s["name"] == n).expect("server");
        s["credentials"].as_array().expect("credentials").clone()
    };
    let c7 = creds("mcp-server-context7");
    assert!(
        c7.iter().any(|c| c["location"] == "field:settings.context7_api_key"
            && c["kind"] == "context7-api-key"
            && c["provider"] == "context7"
            && c["source"] == "literal"),
        "{c7:#?}"
    );
    let tavily = creds("search");
    assert!(
        tavily.iter().any(|c| c["location"] == "field:config.auth.key" && c["provider"] == "tavily"),
        "{tavily:#?}"
    );
    let text = json.to_string();
    assert!(!text.contains("3f9c2a1e-7b4d") && !text.contains("Qm3Xr8TzLw2V"), "no value leaves the agent");
}
