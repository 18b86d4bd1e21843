//! Devin CLI: `~/.config/devin/mcp_config.json`, the pre-v3000.3 `~/.config/devin/config.json`,
//! and `<repo>/.devin/mcp_config.json` with its `mcp_config.local.json` overlay.

use crate::support::{ALL_OS, Image, assert_found, home, join, servers_in};
use muster_agent::platform::Os;

#[test]
fn user_files_on_every_os() {
    for os in ALL_OS {
        let img = Image::new(os);
        let h = home(os, "alice");
        let current = join(os, &h, ".config/devin/mcp_config.json");
        let legacy = join(os, &h, ".config/devin/config.json");
        img.fixture(&current, "devin/mcp_config.json");
        img.fixture(&legacy, "devin/config.json");
        let json = img.scan_json();
        let mut names = assert_found(&json, "devin", "user", &current);
        names.sort();
        assert_eq!(names, ["datadog", "deepwiki"], "{os:?}");
        assert_eq!(assert_found(&json, "devin", "user", &legacy), ["legacy-notes"], "{os:?}");
    }
}

#[test]
fn project_and_local_overlay_on_every_os() {
    for os in ALL_OS {
        let img = Image::new(os);
        let repo = join(os, &home(os, "alice"), "src/app");
        let shared = join(os, &repo, ".devin/mcp_config.json");
        let local = join(os, &repo, ".devin/mcp_config.local.json");
        img.fixture(&shared, "devin/project-mcp_config.json");
        img.fixture(&local, "devin/project-mcp_config.local.json");
        img.mkdir(&join(os, &repo, ".git"));
        let json = img.scan_json();
        assert_eq!(assert_found(&json, "devin", "project", &shared), ["playwright"], "{os:?}");
        assert_eq!(assert_found(&json, "devin", "project", &local), ["staging-db"], "{os:?}");
    }
}

#[test]
fn normalised_output_snapshot() {
    let img = Image::new(Os::Linux);
    img.fixture("/home/alice/.config/devin/mcp_config.json", "devin/mcp_config.json");
    let json = img.scan_json();
    insta::assert_json_snapshot!(servers_in(&json, "/home/alice/.config/devin/mcp_config.json"));
}
