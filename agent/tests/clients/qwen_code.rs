//! Qwen Code (a Gemini CLI fork): `~/.qwen/settings.json` and `<repo>/.qwen/settings.json`, in
//! Gemini's schema (bare `url` = SSE, `httpUrl` = streamable HTTP, `mcp.excluded`, `trust`).

use crate::support::{ALL_OS, Image, assert_found, home, join, servers_in};
use muster_agent::platform::Os;

#[test]
fn user_and_project_files_on_every_os() {
    for os in ALL_OS {
        let img = Image::new(os);
        let h = home(os, "alice");
        let user_file = join(os, &h, ".qwen/settings.json");
        let repo = join(os, &h, "code/backend");
        let project_file = join(os, &repo, ".qwen/settings.json");
        img.fixture(&user_file, "qwen-code/settings.json");
        img.fixture(&project_file, "qwen-code/project-settings.json");
        img.mkdir(&join(os, &repo, ".git"));
        let json = img.scan_json();
        let mut names = assert_found(&json, "qwen-code", "user", &user_file);
        names.sort();
        assert_eq!(names, ["dashscope-search", "docs", "sequential-thinking"], "{os:?}");
        assert_eq!(assert_found(&json, "qwen-code", "project", &project_file), ["pytest-runner"], "{os:?}");
    }
}

#[test]
fn gemini_schema_rules_apply() {
    let img = Image::new(Os::Linux);
    let file = "/home/alice/.qwen/settings.json";
    img.fixture(file, "qwen-code/settings.json");
    let json = img.scan_json();
    let servers = servers_in(&json, file);
    let by = |n: &str| servers.iter().find(|s| s["name"] == n).cloned().expect(n);
    assert_eq!(by("dashscope-search")["transport"], "sse");
    assert_eq!(by("docs")["transport"], "http");
    assert_eq!(by("docs")["disabled"], true, "listed in mcp.excluded");
    assert!(!by("sequential-thinking")["auto_approve"].is_null(), "trust: true");
}

#[test]
fn normalised_output_snapshot() {
    let img = Image::new(Os::Linux);
    img.fixture("/home/alice/.qwen/settings.json", "qwen-code/settings.json");
    let json = img.scan_json();
    insta::assert_json_snapshot!(servers_in(&json, "/home/alice/.qwen/settings.json"));
}
