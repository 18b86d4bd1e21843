//! mcphub.nvim: `~/.config/mcphub/servers.json` and `<repo>/.mcphub/servers.json`, JSON5, with
//! servers under `servers` and/or `mcpServers`.

use crate::support::{ALL_OS, Image, assert_found, home, join, servers_in};
use muster_agent::platform::Os;

#[test]
fn user_and_project_files_on_every_os() {
    for os in ALL_OS {
        let img = Image::new(os);
        let h = home(os, "alice");
        let user_file = join(os, &h, ".config/mcphub/servers.json");
        let repo = join(os, &h, "src/dotfiles");
        let project_file = join(os, &repo, ".mcphub/servers.json");
        img.fixture(&user_file, "mcphub/servers.json");
        img.fixture(&project_file, "mcphub/project-servers.json");
        img.mkdir(&join(os, &repo, ".git"));
        let json = img.scan_json();
        let mut names = assert_found(&json, "mcphub", "user", &user_file);
        names.sort();
        // `github` is under both keys and reported once; `nativeMCPServers` are not servers.
        assert_eq!(names, ["fetch", "github"], "{os:?}");
        assert_eq!(assert_found(&json, "mcphub", "project", &project_file), ["todoist"], "{os:?}");
    }
}

#[test]
fn the_vscode_key_wins_for_a_name_under_both() {
    let img = Image::new(Os::Linux);
    let file = "/home/alice/.config/mcphub/servers.json";
    img.fixture(file, "mcphub/servers.json");
    let json = img.scan_json();
    let servers = servers_in(&json, file);
    let github = servers.iter().find(|s| s["name"] == "github").expect("github");
    assert_eq!(github["transport"], "http");
    let fetch = servers.iter().find(|s| s["name"] == "fetch").expect("fetch");
    assert_eq!(fetch["disabled"], true);
}

#[test]
fn normalised_output_snapshot() {
    let img = Image::new(Os::Linux);
    img.fixture("/home/alice/.config/mcphub/servers.json", "mcphub/servers.json");
    let json = img.scan_json();
    insta::assert_json_snapshot!(servers_in(&json, "/home/alice/.config/mcphub/servers.json"));
}
