//! Cursor: `~/.cursor/mcp.json` (user) and `<repo>/.cursor/mcp.json` (project) on every OS.

use crate::support::{ALL_OS, Image, assert_found, home, join};

#[test]
fn user_and_project_files_on_every_os() {
    for os in ALL_OS {
        let img = Image::new(os);
        let h = home(os, "alice");
        let user_file = join(os, &h, ".cursor/mcp.json");
        let repo = join(os, &h, "src/shop");
        let project_file = join(os, &repo, ".cursor/mcp.json");
        img.fixture(&user_file, "cursor/mcp.json");
        img.fixture(&project_file, "cursor/project-mcp.json");
        img.mkdir(&join(os, &repo, ".git"));
        let json = img.scan_json();
        let names = assert_found(&json, "cursor", "user", &user_file);
        assert_eq!(names, ["github", "linear", "postgres"], "{os:?}");
        assert_found(&json, "cursor", "project", &project_file);
    }
}

#[test]
fn normalised_output_snapshot() {
    let img = Image::new(muster_agent::platform::Os::Linux);
    img.fixture("/home/alice/.cursor/mcp.json", "cursor/mcp.json");
    let json = img.scan_json();
    insta::assert_json_snapshot!(crate::support::servers_in(&json, "/home/alice/.cursor/mcp.json"));
}
