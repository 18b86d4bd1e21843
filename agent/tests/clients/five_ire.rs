//! 5ire: the legacy `mcp.json` in the app's data dir (`~/.config/5ire`, `~/Library/Application
//! Support/5ire`, `%APPDATA%\5ire`): servers keyed by `key`, switched by `isActive`.

use crate::support::{ALL_OS, Image, assert_found, home, join, servers_in};
use muster_agent::platform::Os;

fn user_file(os: Os) -> String {
    let h = home(os, "alice");
    match os {
        Os::Linux => join(os, &h, ".config/5ire/mcp.json"),
        Os::Macos => join(os, &h, "Library/Application Support/5ire/mcp.json"),
        Os::Windows => join(os, &h, "AppData/Roaming/5ire/mcp.json"),
    }
}

#[test]
fn user_file_on_every_os() {
    for os in ALL_OS {
        let img = Image::new(os);
        let file = user_file(os);
        img.fixture(&file, "5ire/mcp.json");
        let json = img.scan_json();
        let mut names = assert_found(&json, "5ire", "user", &file);
        names.sort();
        assert_eq!(names, ["brave-search", "deepwiki", "filesystem"], "{os:?}");
    }
}

#[test]
fn is_active_false_disables_and_approval_never_auto_approves() {
    let img = Image::new(Os::Macos);
    let file = user_file(Os::Macos);
    img.fixture(&file, "5ire/mcp.json");
    let json = img.scan_json();
    let servers = servers_in(&json, &file);
    let by = |n: &str| servers.iter().find(|s| s["name"] == n).cloned().expect(n);
    assert_eq!(by("brave-search")["disabled"], true);
    assert_eq!(by("filesystem")["disabled"], false);
    assert_eq!(by("deepwiki")["transport"], "http");
    assert!(!by("deepwiki")["auto_approve"].is_null(), "approvalPolicy never = no confirmation");
    assert!(by("filesystem")["auto_approve"].is_null());
}

#[test]
fn normalised_output_snapshot() {
    let img = Image::new(Os::Linux);
    let file = user_file(Os::Linux);
    img.fixture(&file, "5ire/mcp.json");
    let json = img.scan_json();
    insta::assert_json_snapshot!(servers_in(&json, &file));
}
