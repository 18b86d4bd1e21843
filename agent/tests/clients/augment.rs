//! Augment: `~/.augment/settings.json`, `<repo>/.augment/settings.json` and
//! `settings.local.json`, and the older extension's `augment.advanced.mcpServers` list in VS
//! Code's user `settings.json`.

use crate::support::{ALL_OS, Image, assert_found, home, join, servers_in};
use muster_agent::platform::Os;

fn vscode_settings(os: Os) -> String {
    let h = home(os, "alice");
    match os {
        Os::Linux => join(os, &h, ".config/Code/User/settings.json"),
        Os::Macos => join(os, &h, "Library/Application Support/Code/User/settings.json"),
        Os::Windows => join(os, &h, "AppData/Roaming/Code/User/settings.json"),
    }
}

#[test]
fn user_project_and_local_files_on_every_os() {
    for os in ALL_OS {
        let img = Image::new(os);
        let h = home(os, "alice");
        let user_file = join(os, &h, ".augment/settings.json");
        let repo = join(os, &h, "src/cache");
        let project_file = join(os, &repo, ".augment/settings.json");
        let local_file = join(os, &repo, ".augment/settings.local.json");
        img.fixture(&user_file, "augment/settings.json");
        img.fixture(&project_file, "augment/project-settings.json");
        img.fixture(&local_file, "augment/project-settings.local.json");
        img.mkdir(&join(os, &repo, ".git"));
        let json = img.scan_json();
        let mut names = assert_found(&json, "augment", "user", &user_file);
        names.sort();
        assert_eq!(names, ["atlassian", "stripe"], "{os:?}");
        assert_eq!(assert_found(&json, "augment", "project", &project_file), ["redis"], "{os:?}");
        // The overlay uses the `mcp.servers` shape (reference §8.9).
        assert_eq!(assert_found(&json, "augment", "project", &local_file), ["my-scratch"], "{os:?}");
    }
}

#[test]
fn older_extension_list_in_vscode_settings_on_every_os() {
    for os in ALL_OS {
        let img = Image::new(os);
        let file = vscode_settings(os);
        img.fixture(&file, "augment/vscode-settings.json");
        let json = img.scan_json();
        assert_eq!(assert_found(&json, "augment", "user", &file), ["sqlite"], "{os:?}");
    }
}

#[test]
fn secret_in_args_is_masked() {
    let img = Image::new(Os::Linux);
    img.fixture("/home/alice/.augment/settings.json", "augment/settings.json");
    let json = img.scan_json();
    assert!(!json.to_string().contains("sk_test_FAKE"), "an argument secret leaked into the output");
}

#[test]
fn normalised_output_snapshot() {
    let img = Image::new(Os::Linux);
    img.fixture("/home/alice/.augment/settings.json", "augment/settings.json");
    let json = img.scan_json();
    insta::assert_json_snapshot!(servers_in(&json, "/home/alice/.augment/settings.json"));
}
