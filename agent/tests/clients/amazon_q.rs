//! Amazon Q Developer: `default.json`, legacy `mcp.json` and `cli-agents/*.json` under
//! `~/.aws/amazonq/` and `<repo>/.amazonq/`, on every OS layout.

use muster_agent::platform::Os;

use crate::support::{ALL_OS, Image, assert_found, home, join, servers_in};

#[test]
fn user_workspace_and_agent_files_on_every_os() {
    for os in ALL_OS {
        let img = Image::new(os);
        let h = home(os, "alice");
        let repo = join(os, &h, "projects/cdk-app");
        img.mkdir(&join(os, &repo, ".git"));
        for (base, scope) in [(join(os, &h, ".aws/amazonq"), "user"), (join(os, &repo, ".amazonq"), "project")] {
            let default = join(os, &base, "default.json");
            let legacy = join(os, &base, "mcp.json");
            let agent = join(os, &base, "cli-agents/infra.json");
            img.fixture(&default, "amazon-q/mcp.json");
            img.fixture(&legacy, "amazon-q/mcp.json");
            img.fixture(&agent, "amazon-q/agent.json");
            let json = img.scan_json();
            for f in [&default, &legacy] {
                assert_eq!(assert_found(&json, "amazon-q", scope, f), ["aws-docs", "git", "jira"], "{os:?} {f}");
                let git = servers_in(&json, f).into_iter().find(|s| s["name"] == "git").expect("git");
                assert_eq!(git["disabled"], true);
            }
            assert_eq!(assert_found(&json, "amazon-q", scope, &agent), ["terraform"], "{os:?}");
            assert_eq!(servers_in(&json, &agent)[0]["origin"], "agent:infra");
        }
    }
}

#[test]
fn normalised_output_snapshot() {
    let img = Image::new(Os::Linux);
    img.fixture("/home/alice/.aws/amazonq/mcp.json", "amazon-q/mcp.json");
    let json = img.scan_json();
    insta::assert_json_snapshot!(servers_in(&json, "/home/alice/.aws/amazonq/mcp.json"));
}
