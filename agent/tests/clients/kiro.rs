//! Kiro: `~/.kiro/settings/mcp.json`, `<repo>/.kiro/settings/mcp.json` and CLI agents in
//! `.kiro/agents/*.json` at both levels, on every OS layout.

use muster_agent::platform::Os;

use crate::support::{ALL_OS, Image, assert_found, home, join, servers_in};

#[test]
fn user_workspace_and_agent_files_on_every_os() {
    for os in ALL_OS {
        let img = Image::new(os);
        let h = home(os, "alice");
        let repo = join(os, &h, "code/lambda");
        img.mkdir(&join(os, &repo, ".git"));
        for (base, scope) in [(join(os, &h, ".kiro"), "user"), (join(os, &repo, ".kiro"), "project")] {
            let settings = join(os, &base, "settings/mcp.json");
            let agent = join(os, &base, "agents/reviewer.json");
            img.fixture(&settings, "kiro/mcp.json");
            img.fixture(&agent, "kiro/agent.json");
            let json = img.scan_json();
            assert_eq!(assert_found(&json, "kiro", scope, &settings), ["aws-knowledge", "fetch", "slack"], "{os:?}");
            assert_eq!(assert_found(&json, "kiro", scope, &agent), ["github"], "{os:?}");
            assert_eq!(servers_in(&json, &agent)[0]["origin"], "agent:reviewer");
        }
    }
}

#[test]
fn normalised_output_snapshot() {
    let img = Image::new(Os::Linux);
    img.fixture("/home/alice/.kiro/settings/mcp.json", "kiro/mcp.json");
    let json = img.scan_json();
    insta::assert_json_snapshot!(servers_in(&json, "/home/alice/.kiro/settings/mcp.json"));
}
