//! Goose: the `extensions` map of `config.yaml` (`~/.config/goose/` on Linux and macOS,
//! `%APPDATA%\Block\goose\config\` on Windows), with built-in extensions skipped.

use muster_agent::platform::Os;

use crate::support::{ALL_OS, Image, assert_found, home, join, servers_in};

#[test]
fn config_yaml_on_every_os_skips_builtins() {
    for os in ALL_OS {
        let img = Image::new(os);
        let h = home(os, "alice");
        let f = match os {
            Os::Windows => join(os, &h, "AppData/Roaming/Block/goose/config/config.yaml"),
            _ => join(os, &h, ".config/goose/config.yaml"),
        };
        img.fixture(&f, "goose/config.yaml");
        let json = img.scan_json();
        // `developer` and `memory` are builtin: not MCP servers on the machine.
        assert_eq!(assert_found(&json, "goose", "user", &f), ["asana", "github", "tavily"], "{os:?}");
        let servers = servers_in(&json, &f);
        let by_name = |n: &str| servers.iter().find(|s| s["name"] == n).cloned().expect("server");
        assert_eq!(by_name("asana")["transport"], "http");
        assert_eq!(by_name("asana")["url"], "https://mcp.asana.com/mcp");
        assert_eq!(by_name("tavily")["disabled"], true);
        assert_eq!(by_name("github")["command"], "npx");
        assert_eq!(by_name("github")["env_names"], serde_json::json!(["GITHUB_PERSONAL_ACCESS_TOKEN"]));
    }
}

#[test]
fn normalised_output_snapshot() {
    let img = Image::new(Os::Linux);
    img.fixture("/home/alice/.config/goose/config.yaml", "goose/config.yaml");
    let json = img.scan_json();
    insta::assert_json_snapshot!(servers_in(&json, "/home/alice/.config/goose/config.yaml"));
}
