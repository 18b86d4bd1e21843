//! Antigravity: `~/.gemini/antigravity/mcp_config.json` (1.x) and `~/.gemini/config/mcp_config.json`
//! (2.0), both read (reference §8.13), and `<repo>/.agents/mcp_config.json`; remote servers use
//! `serverUrl`.

use crate::support::{ALL_OS, Image, assert_found, home, join, servers_in};
use muster_agent::platform::Os;

#[test]
fn both_user_paths_and_project_file_on_every_os() {
    for os in ALL_OS {
        let img = Image::new(os);
        let h = home(os, "alice");
        let v1 = join(os, &h, ".gemini/antigravity/mcp_config.json");
        let v2 = join(os, &h, ".gemini/config/mcp_config.json");
        let repo = join(os, &h, "src/storefront");
        let project_file = join(os, &repo, ".agents/mcp_config.json");
        img.fixture(&v1, "antigravity/mcp_config.json");
        img.fixture(&v2, "antigravity/mcp_config.json");
        img.fixture(&project_file, "antigravity/project-mcp_config.json");
        img.mkdir(&join(os, &repo, ".git"));
        let json = img.scan_json();
        for file in [&v1, &v2] {
            let mut names = assert_found(&json, "antigravity", "user", file);
            names.sort();
            assert_eq!(names, ["firebase", "github"], "{file}");
        }
        assert_eq!(assert_found(&json, "antigravity", "project", &project_file), ["cloud-run"], "{os:?}");
    }
}

#[test]
fn server_url_is_a_streamable_http_endpoint() {
    let img = Image::new(Os::Windows);
    let file = "C:\\Users\\alice\\.gemini\\config\\mcp_config.json";
    img.fixture(file, "antigravity/mcp_config.json");
    let json = img.scan_json();
    let github = servers_in(&json, file).into_iter().find(|s| s["name"] == "github").expect("github");
    assert_eq!(github["transport"], "http");
    assert_eq!(github["url"], "https://api.githubcopilot.com/mcp/");
    assert_eq!(github["endpoint"]["host"], "api.githubcopilot.com");
}

#[test]
fn normalised_output_snapshot() {
    let img = Image::new(Os::Linux);
    img.fixture("/home/alice/.gemini/antigravity/mcp_config.json", "antigravity/mcp_config.json");
    let json = img.scan_json();
    insta::assert_json_snapshot!(servers_in(&json, "/home/alice/.gemini/antigravity/mcp_config.json"));
}
