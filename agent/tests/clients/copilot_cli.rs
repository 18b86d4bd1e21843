//! GitHub Copilot CLI: `~/.copilot/mcp-config.json` and per-repository `.github/mcp.json`, on every
//! OS layout. A repository's `.mcp.json` is reported once, under Claude Code (see the module).

use muster_agent::platform::Os;

use crate::claude_code::{found_for, names};
use crate::support::{ALL_OS, Image, assert_found, home, join, servers_in};

#[test]
fn user_and_repository_files_on_every_os() {
    for os in ALL_OS {
        let img = Image::new(os);
        let h = home(os, "alice");
        let user = join(os, &h, ".copilot/mcp-config.json");
        img.fixture(&user, "copilot-cli/mcp-config.json");
        let repo = join(os, &h, "projects/infra");
        img.mkdir(&join(os, &repo, ".git"));
        let github = join(os, &repo, ".github/mcp.json");
        let root = join(os, &repo, ".mcp.json");
        img.fixture(&github, "copilot-cli/repo-mcp.json");
        img.fixture(&root, "copilot-cli/repo-mcp.json");
        let json = img.scan_json();
        assert_eq!(assert_found(&json, "copilot-cli", "user", &user), ["context7", "playwright"], "{os:?}");
        assert_eq!(assert_found(&json, "copilot-cli", "project", &github), ["azure"], "{os:?}");
        let copilot_from_root = servers_in(&json, &root).into_iter().filter(|s| s["client"] == "copilot-cli").count();
        assert_eq!(copilot_from_root, 0, "{os:?}: .mcp.json is Claude Code's");
        assert_eq!(names(&found_for(&json, "claude-code", "project", &root)), ["azure"], "{os:?}");
        // `type: local` is stdio.
        let playwright = servers_in(&json, &user).into_iter().find(|s| s["name"] == "playwright").expect("playwright");
        assert_eq!(playwright["transport"], "stdio");
    }
}

#[test]
fn normalised_output_snapshot() {
    let img = Image::new(Os::Linux);
    img.fixture("/home/alice/.copilot/mcp-config.json", "copilot-cli/mcp-config.json");
    let json = img.scan_json();
    insta::assert_json_snapshot!(servers_in(&json, "/home/alice/.copilot/mcp-config.json"));
}
