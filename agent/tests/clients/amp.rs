//! Amp: the flat dotted key `"amp.mcpServers"` in `~/.config/amp/settings.json(c)` (Windows:
//! `%APPDATA%\amp`), `<repo>/.amp/settings.json(c)` and VS Code's user `settings.json`.

use crate::support::{ALL_OS, Image, assert_found, home, join, servers_in};
use muster_agent::platform::Os;

fn user_dir(os: Os) -> String {
    let h = home(os, "alice");
    match os {
        Os::Windows => join(os, &h, "AppData/Roaming/amp"),
        _ => join(os, &h, ".config/amp"),
    }
}

fn vscode_settings(os: Os) -> String {
    let h = home(os, "alice");
    match os {
        Os::Linux => join(os, &h, ".config/Code/User/settings.json"),
        Os::Macos => join(os, &h, "Library/Application Support/Code/User/settings.json"),
        Os::Windows => join(os, &h, "AppData/Roaming/Code/User/settings.json"),
    }
}

#[test]
fn user_files_on_every_os() {
    for os in ALL_OS {
        for name in ["settings.json", "settings.jsonc"] {
            let img = Image::new(os);
            let file = join(os, &user_dir(os), name);
            img.fixture(&file, "amp/settings.json");
            let json = img.scan_json();
            let mut names = assert_found(&json, "amp", "user", &file);
            names.sort();
            assert_eq!(names, ["playwright", "semgrep"], "{os:?} {name}");
        }
        let img = Image::new(os);
        let file = vscode_settings(os);
        img.fixture(&file, "amp/vscode-settings.json");
        let json = img.scan_json();
        assert_eq!(assert_found(&json, "amp", "user", &file), ["sourcegraph"], "{os:?}");
    }
}

#[test]
fn project_files_on_every_os() {
    for os in ALL_OS {
        for name in ["settings.json", "settings.jsonc"] {
            let img = Image::new(os);
            let repo = join(os, &home(os, "alice"), "src/ci");
            let file = join(os, &repo, &format!(".amp/{name}"));
            img.fixture(&file, "amp/project-settings.jsonc");
            img.mkdir(&join(os, &repo, ".git"));
            let json = img.scan_json();
            assert_eq!(assert_found(&json, "amp", "project", &file), ["buildkite"], "{os:?} {name}");
        }
    }
}

#[test]
fn normalised_output_snapshot() {
    let img = Image::new(Os::Linux);
    img.fixture("/home/alice/.config/amp/settings.json", "amp/settings.json");
    let json = img.scan_json();
    insta::assert_json_snapshot!(servers_in(&json, "/home/alice/.config/amp/settings.json"));
}
