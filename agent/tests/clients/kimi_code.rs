//! Kimi Code: `~/.kimi-code/mcp.json`, the older Kimi CLI's `~/.kimi/mcp.json`, and
//! `<repo>/.kimi-code/mcp.json`.

use crate::support::{ALL_OS, Image, assert_found, home, join, servers_in};
use muster_agent::platform::Os;

#[test]
fn user_files_and_project_file_on_every_os() {
    for os in ALL_OS {
        let img = Image::new(os);
        let h = home(os, "alice");
        let current = join(os, &h, ".kimi-code/mcp.json");
        let older = join(os, &h, ".kimi/mcp.json");
        let repo = join(os, &h, "dev/tool");
        let project_file = join(os, &repo, ".kimi-code/mcp.json");
        img.fixture(&current, "kimi-code/mcp.json");
        img.fixture(&older, "kimi-code/mcp.json");
        img.fixture(&project_file, "kimi-code/project-mcp.json");
        img.mkdir(&join(os, &repo, ".git"));
        let json = img.scan_json();
        for file in [&current, &older] {
            let mut names = assert_found(&json, "kimi-code", "user", file);
            names.sort();
            assert_eq!(names, ["chrome-devtools", "context7"], "{file}");
        }
        assert_eq!(assert_found(&json, "kimi-code", "project", &project_file), ["git"], "{os:?}");
    }
}

#[test]
fn enabled_false_disables() {
    let img = Image::new(Os::Linux);
    let file = "/home/alice/.kimi-code/mcp.json";
    img.fixture(file, "kimi-code/mcp.json");
    let json = img.scan_json();
    let chrome = servers_in(&json, file).into_iter().find(|s| s["name"] == "chrome-devtools").expect("chrome");
    assert_eq!(chrome["disabled"], true);
}

#[test]
fn normalised_output_snapshot() {
    let img = Image::new(Os::Linux);
    img.fixture("/home/alice/.kimi-code/mcp.json", "kimi-code/mcp.json");
    let json = img.scan_json();
    insta::assert_json_snapshot!(servers_in(&json, "/home/alice/.kimi-code/mcp.json"));
}
