//! Mistral Vibe: `[[mcp_servers]]` (an array of tables with `name`) in `~/.vibe/config.toml` and
//! `<repo>/.vibe/config.toml`.

use crate::support::{ALL_OS, Image, assert_found, home, join, servers_in};
use muster_agent::platform::Os;

#[test]
fn user_and_project_files_on_every_os() {
    for os in ALL_OS {
        let img = Image::new(os);
        let h = home(os, "alice");
        let user_file = join(os, &h, ".vibe/config.toml");
        let repo = join(os, &h, "src/ml");
        let project_file = join(os, &repo, ".vibe/config.toml");
        img.fixture(&user_file, "mistral-vibe/config.toml");
        img.fixture(&project_file, "mistral-vibe/project-config.toml");
        img.mkdir(&join(os, &repo, ".git"));
        let json = img.scan_json();
        let mut names = assert_found(&json, "mistral-vibe", "user", &user_file);
        names.sort();
        assert_eq!(names, ["fetch", "jira", "mistral-docs"], "{os:?}");
        assert_eq!(assert_found(&json, "mistral-vibe", "project", &project_file), ["local-tools"], "{os:?}");
    }
}

#[test]
fn transport_field_and_disabled_normalise() {
    let img = Image::new(Os::Linux);
    let file = "/home/alice/.vibe/config.toml";
    img.fixture(file, "mistral-vibe/config.toml");
    let json = img.scan_json();
    let servers = servers_in(&json, file);
    let by = |n: &str| servers.iter().find(|s| s["name"] == n).cloned().expect(n);
    assert_eq!(by("fetch")["transport"], "stdio");
    assert_eq!(by("mistral-docs")["transport"], "http");
    assert_eq!(by("jira")["disabled"], true);
    assert_eq!(by("jira")["header_names"], serde_json::json!(["X-Api-Token"]));
}

#[test]
fn normalised_output_snapshot() {
    let img = Image::new(Os::Linux);
    img.fixture("/home/alice/.vibe/config.toml", "mistral-vibe/config.toml");
    let json = img.scan_json();
    insta::assert_json_snapshot!(servers_in(&json, "/home/alice/.vibe/config.toml"));
}
