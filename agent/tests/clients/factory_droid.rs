//! Factory Droid: `~/.factory/mcp.json` and `<repo>/.factory/mcp.json`.

use crate::support::{ALL_OS, Image, assert_found, home, join, servers_in};
use muster_agent::platform::Os;

#[test]
fn user_and_project_files_on_every_os() {
    for os in ALL_OS {
        let img = Image::new(os);
        let h = home(os, "alice");
        let user_file = join(os, &h, ".factory/mcp.json");
        let repo = join(os, &h, "repos/web");
        let project_file = join(os, &repo, ".factory/mcp.json");
        img.fixture(&user_file, "factory-droid/mcp.json");
        img.fixture(&project_file, "factory-droid/project-mcp.json");
        img.mkdir(&join(os, &repo, ".git"));
        let json = img.scan_json();
        let mut names = assert_found(&json, "factory-droid", "user", &user_file);
        names.sort();
        assert_eq!(names, ["linear", "sentry"], "{os:?}");
        assert_eq!(assert_found(&json, "factory-droid", "project", &project_file), ["supabase"], "{os:?}");
    }
}

#[test]
fn normalised_output_snapshot() {
    let img = Image::new(Os::Linux);
    img.fixture("/home/alice/.factory/mcp.json", "factory-droid/mcp.json");
    let json = img.scan_json();
    insta::assert_json_snapshot!(servers_in(&json, "/home/alice/.factory/mcp.json"));
}
