//! Continue: `~/.continue/config.yaml` (a list of servers), the legacy `config.json`, and block
//! files in `~/.continue/mcpServers/` and `<repo>/.continue/mcpServers/` (YAML lists and JSON
//! maps, walked recursively), on every OS layout.

use muster_agent::platform::Os;

use crate::support::{ALL_OS, Image, assert_found, home, join, servers_in};

#[test]
fn config_and_block_files_on_every_os() {
    for os in ALL_OS {
        let img = Image::new(os);
        let h = home(os, "alice");
        let config = join(os, &h, ".continue/config.yaml");
        let legacy = join(os, &h, ".continue/config.json");
        let block_yaml = join(os, &h, ".continue/mcpServers/postgres.yaml");
        let block_json = join(os, &h, ".continue/mcpServers/team/memory.json");
        img.fixture(&config, "continue/config.yaml");
        img.fixture(&legacy, "continue/config.json");
        img.fixture(&block_yaml, "continue/block.yaml");
        img.fixture(&block_json, "continue/block.json");
        let repo = join(os, &h, "src/analytics");
        img.mkdir(&join(os, &repo, ".git"));
        let project_block = join(os, &repo, ".continue/mcpServers/postgres.yaml");
        let project_json = join(os, &repo, ".continue/mcpServers/memory.json");
        img.fixture(&project_block, "continue/block.yaml");
        img.fixture(&project_json, "continue/block.json");
        let json = img.scan_json();

        assert_eq!(assert_found(&json, "continue", "user", &config), ["SQLite", "Exa", "Browser"], "{os:?}");
        let legacy_servers = servers_in(&json, &legacy);
        assert_eq!(assert_found(&json, "continue", "user", &legacy), ["#0"], "{os:?}");
        assert_eq!(legacy_servers[0]["command"], "uvx");
        assert_eq!(legacy_servers[0]["transport"], "stdio");
        assert_eq!(assert_found(&json, "continue", "user", &block_yaml), ["postgres"], "{os:?}");
        assert_eq!(assert_found(&json, "continue", "user", &block_json), ["memory"], "{os:?}");
        assert_eq!(assert_found(&json, "continue", "project", &project_block), ["postgres"], "{os:?}");
        assert_eq!(assert_found(&json, "continue", "project", &project_json), ["memory"], "{os:?}");
    }
}

#[test]
fn normalised_output_snapshot() {
    let img = Image::new(Os::Linux);
    img.fixture("/home/alice/.continue/config.yaml", "continue/config.yaml");
    img.fixture("/home/alice/.continue/mcpServers/postgres.yaml", "continue/block.yaml");
    let json = img.scan_json();
    let mut servers = servers_in(&json, "/home/alice/.continue/config.yaml");
    servers.extend(servers_in(&json, "/home/alice/.continue/mcpServers/postgres.yaml"));
    insta::assert_json_snapshot!(servers);
}
