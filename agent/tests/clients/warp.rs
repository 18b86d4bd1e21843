//! Warp's file-based configuration: `~/.warp/.mcp.json` and `<repo>/.warp/.mcp.json`.

use crate::support::{ALL_OS, Image, assert_found, home, join, servers_in};
use muster_agent::platform::Os;

#[test]
fn user_and_project_files_on_every_os() {
    for os in ALL_OS {
        let img = Image::new(os);
        let h = home(os, "alice");
        let user_file = join(os, &h, ".warp/.mcp.json");
        let repo = join(os, &h, "work/infra");
        let project_file = join(os, &repo, ".warp/.mcp.json");
        img.fixture(&user_file, "warp/mcp.json");
        img.fixture(&project_file, "warp/project-mcp.json");
        img.mkdir(&join(os, &repo, ".git"));
        let json = img.scan_json();
        let mut names = assert_found(&json, "warp", "user", &user_file);
        names.sort();
        assert_eq!(names, ["notion", "puppeteer"], "{os:?}");
        assert_eq!(assert_found(&json, "warp", "project", &project_file), ["terraform"], "{os:?}");
    }
}

#[test]
fn normalised_output_snapshot() {
    let img = Image::new(Os::Linux);
    img.fixture("/home/alice/.warp/.mcp.json", "warp/mcp.json");
    let json = img.scan_json();
    insta::assert_json_snapshot!(servers_in(&json, "/home/alice/.warp/.mcp.json"));
}
