//! Windsurf: `~/.codeium/windsurf/mcp_config.json`, the Next channel, the JetBrains plugin's
//! `~/.codeium/mcp_config.json` and the project `.windsurf/mcp_config.json`, on every OS layout.

use muster_agent::platform::Os;

use crate::support::{ALL_OS, Image, assert_found, home, join, servers_in};

#[test]
fn user_next_plugin_and_project_files_on_every_os() {
    for os in ALL_OS {
        let img = Image::new(os);
        let h = home(os, "alice");
        let files = [
            (join(os, &h, ".codeium/windsurf/mcp_config.json"), serde_json::Value::Null),
            (join(os, &h, ".codeium/windsurf-next/mcp_config.json"), serde_json::Value::Null),
            (join(os, &h, ".codeium/mcp_config.json"), "jetbrains-plugin".into()),
        ];
        for (f, _) in &files {
            img.fixture(f, "windsurf/mcp_config.json");
        }
        let repo = join(os, &h, "code/site");
        img.mkdir(&join(os, &repo, ".git"));
        let project = join(os, &repo, ".windsurf/mcp_config.json");
        img.fixture(&project, "windsurf/mcp_config.json");
        let json = img.scan_json();
        for (f, origin) in &files {
            assert_eq!(assert_found(&json, "windsurf", "user", f), ["figma", "github", "puppeteer"], "{os:?} {f}");
            assert_eq!(&servers_in(&json, f)[0]["origin"], origin);
        }
        assert_found(&json, "windsurf", "project", &project);
    }
}

#[test]
fn normalised_output_snapshot() {
    let img = Image::new(Os::Macos);
    let f = "/Users/alice/.codeium/windsurf/mcp_config.json";
    img.fixture(f, "windsurf/mcp_config.json");
    let json = img.scan_json();
    insta::assert_json_snapshot!(servers_in(&json, f));
}
