//! JetBrains Junie: `~/.junie/mcp/mcp.json` (user) and `<repo>/.junie/mcp/mcp.json` (project).

use crate::support::{ALL_OS, Image, assert_found, home, join, servers_in};
use muster_agent::platform::Os;

#[test]
fn user_and_project_files_on_every_os() {
    for os in ALL_OS {
        let img = Image::new(os);
        let h = home(os, "alice");
        let user_file = join(os, &h, ".junie/mcp/mcp.json");
        let repo = join(os, &h, "src/orders");
        let project_file = join(os, &repo, ".junie/mcp/mcp.json");
        img.fixture(&user_file, "junie/mcp.json");
        img.fixture(&project_file, "junie/project-mcp.json");
        img.mkdir(&join(os, &repo, ".git"));
        let json = img.scan_json();
        let mut names = assert_found(&json, "junie", "user", &user_file);
        names.sort();
        assert_eq!(names, ["context7", "github"], "{os:?}");
        assert_eq!(assert_found(&json, "junie", "project", &project_file), ["postgres"], "{os:?}");
        assert_eq!(servers_in(&json, &project_file)[0]["project"], repo.as_str(), "{os:?}");
    }
}

#[test]
fn normalised_output_snapshot() {
    let img = Image::new(Os::Linux);
    img.fixture("/home/alice/.junie/mcp/mcp.json", "junie/mcp.json");
    let json = img.scan_json();
    insta::assert_json_snapshot!(servers_in(&json, "/home/alice/.junie/mcp/mcp.json"));
}
