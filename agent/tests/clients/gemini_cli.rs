//! Gemini CLI: user, project and system `settings.json` / `system-defaults.json`, and extension
//! manifests, on every OS layout; `mcp.excluded` / `mcp.allowed`, `httpUrl` vs `url`, and the
//! trailing-comma rule of its comment-stripping parser.

use muster_agent::platform::Os;

use crate::support::{ALL_OS, Image, assert_found, home, join, servers_in};

#[test]
fn user_project_extension_and_system_files_on_every_os() {
    for os in ALL_OS {
        let img = Image::new(os);
        let h = home(os, "alice");
        let user = join(os, &h, ".gemini/settings.json");
        img.fixture(&user, "gemini-cli/settings.json");
        let ext = join(os, &h, ".gemini/extensions/cloud-sql/gemini-extension.json");
        img.fixture(&ext, "gemini-cli/gemini-extension.json");
        let repo = join(os, &h, "work/pipeline");
        img.mkdir(&join(os, &repo, ".git"));
        let project = join(os, &repo, ".gemini/settings.json");
        img.fixture(&project, "gemini-cli/settings.json");
        let system_dir = match os {
            Os::Linux => "/etc/gemini-cli",
            Os::Macos => "/Library/Application Support/GeminiCli",
            Os::Windows => "C:\\ProgramData\\gemini-cli",
        };
        let system = [join(os, system_dir, "settings.json"), join(os, system_dir, "system-defaults.json")];
        for f in &system {
            img.fixture(f, "gemini-cli/system-settings.json");
        }
        let json = img.scan_json();

        let expected = ["atlassian", "cloud-run", "filesystem", "github", "legacy-search"];
        assert_eq!(assert_found(&json, "gemini-cli", "user", &user), expected, "{os:?}");
        assert_eq!(assert_found(&json, "gemini-cli", "project", &project), expected, "{os:?}");
        assert_eq!(assert_found(&json, "gemini-cli", "user", &ext), ["cloud-sql-postgres"], "{os:?}");
        assert_eq!(servers_in(&json, &ext)[0]["origin"], "extension:cloud-sql");
        for f in &system {
            assert_eq!(assert_found(&json, "gemini-cli", "managed", f), ["corp-knowledge"], "{os:?}");
            assert_eq!(servers_in(&json, f)[0]["user"], serde_json::Value::Null);
        }

        let servers = servers_in(&json, &user);
        let by_name = |n: &str| servers.iter().find(|s| s["name"] == n).cloned().expect("server");
        assert_eq!(by_name("legacy-search")["disabled"], true, "mcp.excluded");
        assert_eq!(by_name("github")["disabled"], false);
        assert_eq!(by_name("github")["transport"], "http", "httpUrl is streamable HTTP");
        assert_eq!(by_name("atlassian")["transport"], "sse", "a bare url is SSE");
        assert_eq!(by_name("cloud-run")["transport"], "http", "type wins over the url default");
        assert_eq!(by_name("filesystem")["auto_approve"]["all"], true, "trust");
    }
}

#[test]
fn allow_list_disables_servers_not_on_it() {
    let img = Image::new(Os::Linux);
    let f = "/home/alice/.gemini/settings.json";
    img.write(
        f,
        r#"{"mcpServers": {"a": {"command": "a-mcp"}, "b": {"command": "b-mcp"}, "w": {"tcp": "ws://localhost:9000"}},
            "mcp": {"allowed": ["a", "w"]}}"#,
    );
    let json = img.scan_json();
    let servers = servers_in(&json, f);
    let by_name = |n: &str| servers.iter().find(|s| s["name"] == n).cloned().expect("server");
    assert_eq!(by_name("a")["disabled"], false);
    assert_eq!(by_name("b")["disabled"], true);
    assert_eq!(by_name("w")["transport"], "ws");
    assert_eq!(by_name("w")["disabled"], false);
}

#[test]
fn trailing_comma_is_rejected_by_gemini_but_comments_are_not() {
    let img = Image::new(Os::Linux);
    let f = "/home/alice/.gemini/settings.json";
    img.write(f, "{\n  // comment\n  \"mcpServers\": {\"a\": {\"command\": \"a-mcp\"},}\n}\n");
    let json = img.scan_json();
    assert_eq!(assert_found(&json, "gemini-cli", "user", f), ["a"]);
    let kinds: Vec<&str> = json["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .filter(|p| p["path"] == f)
        .filter_map(|p| p["kind"].as_str())
        .collect();
    assert_eq!(kinds, ["client-will-ignore"]);

    let img = Image::new(Os::Linux);
    img.fixture(f, "gemini-cli/settings.json");
    let json = img.scan_json();
    assert!(json["problems"].as_array().expect("problems").is_empty(), "{}", json["problems"]);
}

#[test]
fn normalised_output_snapshot() {
    let img = Image::new(Os::Linux);
    img.fixture("/home/alice/.gemini/settings.json", "gemini-cli/settings.json");
    let json = img.scan_json();
    insta::assert_json_snapshot!(servers_in(&json, "/home/alice/.gemini/settings.json"));
}
