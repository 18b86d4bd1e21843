//! Docker MCP Toolkit: the servers enabled behind the gateway, from `~/.docker/mcp/registry.yaml`.

use crate::support::{ALL_OS, Image, assert_found, home, join, servers_in};
use muster_agent::platform::Os;

#[test]
fn registry_on_every_os() {
    for os in ALL_OS {
        let img = Image::new(os);
        let file = join(os, &home(os, "alice"), ".docker/mcp/registry.yaml");
        img.fixture(&file, "docker-mcp-toolkit/registry.yaml");
        let json = img.scan_json();
        let mut names = assert_found(&json, "docker-mcp-toolkit", "user", &file);
        names.sort();
        assert_eq!(names, ["duckduckgo", "github-official", "playwright"], "{os:?}");
        for s in servers_in(&json, &file) {
            assert_eq!(s["origin"], "docker-gateway");
            assert_eq!(s["transport"], "stdio");
        }
    }
}

#[test]
fn normalised_output_snapshot() {
    let img = Image::new(Os::Linux);
    img.fixture("/home/alice/.docker/mcp/registry.yaml", "docker-mcp-toolkit/registry.yaml");
    let json = img.scan_json();
    insta::assert_json_snapshot!(servers_in(&json, "/home/alice/.docker/mcp/registry.yaml"));
}
