//! Crush: the `mcp` map in `/etc/crush/crush.json` (managed, Linux and macOS), the user config and
//! data dirs (Windows: `%LOCALAPPDATA%\crush`), and the project files `.crush.json`,
//! `crush.json` and `.crush/crush.json`.

use crate::support::{ALL_OS, Image, assert_found, home, join, servers_in};
use muster_agent::platform::Os;

fn user_files(os: Os) -> Vec<String> {
    let h = home(os, "alice");
    match os {
        Os::Windows => vec![join(os, &h, "AppData/Local/crush/crush.json")],
        _ => vec![join(os, &h, ".config/crush/crush.json"), join(os, &h, ".local/share/crush/crush.json")],
    }
}

#[test]
fn user_files_on_every_os() {
    for os in ALL_OS {
        for file in user_files(os) {
            let img = Image::new(os);
            img.fixture(&file, "crush/crush.json");
            let json = img.scan_json();
            let mut names = assert_found(&json, "crush", "user", &file);
            names.sort();
            assert_eq!(names, ["filesystem", "github", "streaming-service"], "{file}");
        }
    }
}

#[test]
fn project_files_on_every_os() {
    for os in ALL_OS {
        for rel in [".crush.json", "crush.json", ".crush/crush.json"] {
            let img = Image::new(os);
            let repo = join(os, &home(os, "alice"), "src/gateway");
            let file = join(os, &repo, rel);
            img.fixture(&file, "crush/project-crush.json");
            img.mkdir(&join(os, &repo, ".git"));
            let json = img.scan_json();
            assert_eq!(assert_found(&json, "crush", "project", &file), ["gopls"], "{os:?} {rel}");
        }
    }
}

#[test]
fn managed_file_on_linux_and_macos() {
    for os in [Os::Linux, Os::Macos] {
        let img = Image::new(os);
        img.mkdir(&home(os, "alice"));
        img.fixture("/etc/crush/crush.json", "crush/managed-crush.json");
        let json = img.scan_json();
        assert_eq!(assert_found(&json, "crush", "managed", "/etc/crush/crush.json"), ["corp-search"], "{os:?}");
    }
}

#[test]
fn types_and_disabled_flag_normalise() {
    let img = Image::new(Os::Linux);
    let file = "/home/alice/.config/crush/crush.json";
    img.fixture(file, "crush/crush.json");
    let json = img.scan_json();
    let servers = servers_in(&json, file);
    let by = |n: &str| servers.iter().find(|s| s["name"] == n).cloned().expect(n);
    assert_eq!(by("filesystem")["transport"], "stdio");
    assert_eq!(by("github")["transport"], "http");
    assert_eq!(by("streaming-service")["transport"], "sse");
    assert_eq!(by("streaming-service")["disabled"], true);
    assert_eq!(by("filesystem")["disabled"], false);
}

#[test]
fn normalised_output_snapshot() {
    let img = Image::new(Os::Linux);
    img.fixture("/home/alice/.config/crush/crush.json", "crush/crush.json");
    let json = img.scan_json();
    insta::assert_json_snapshot!(servers_in(&json, "/home/alice/.config/crush/crush.json"));
}
