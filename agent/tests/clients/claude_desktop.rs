//! Claude Desktop: `claude_desktop_config.json` in every data dir the reference gives (Linux
//! `~/.config/Claude` and the lower-case `claude`, macOS Application Support, Windows classic
//! `%APPDATA%` and the MSIX `Packages\Claude_*` copy), desktop extension manifests beside it,
//! and the strict-JSON rule (a trailing comma means the client ignores the file).

use muster_agent::platform::Os;

use crate::support::{ALL_OS, Image, assert_found, home, join};

/// Every directory holding `claude_desktop_config.json` on `os`, as the machine spells it.
fn data_dirs(os: Os, h: &str) -> Vec<String> {
    match os {
        Os::Linux => vec![join(os, h, ".config/Claude"), join(os, h, ".config/claude")],
        Os::Macos => vec![join(os, h, "Library/Application Support/Claude")],
        Os::Windows => vec![
            join(os, h, "AppData/Roaming/Claude"),
            join(os, h, "AppData/Local/Packages/Claude_pzs8sxrjxfjjc/LocalCache/Roaming/Claude"),
        ],
    }
}

#[test]
fn config_and_extensions_in_every_data_dir_on_every_os() {
    for os in ALL_OS {
        let img = Image::new(os);
        let h = home(os, "alice");
        let dirs = data_dirs(os, &h);
        for dir in &dirs {
            img.fixture(&join(os, dir, "claude_desktop_config.json"), "claude-desktop/claude_desktop_config.json");
            img.fixture(
                &join(os, dir, "Claude Extensions/ant.dir.notion/manifest.json"),
                "claude-desktop/extension-manifest.json",
            );
        }
        let json = img.scan_json();
        for dir in &dirs {
            let config = join(os, dir, "claude_desktop_config.json");
            let names = assert_found(&json, "claude-desktop", "user", &config);
            assert_eq!(names, ["filesystem", "github", "linear"], "{os:?} {config}");
            let manifest = join(os, dir, "Claude Extensions/ant.dir.notion/manifest.json");
            assert_eq!(assert_found(&json, "claude-desktop", "user", &manifest), ["notion"], "{os:?}");
            let ext = crate::support::servers_in(&json, &manifest);
            assert_eq!(ext[0]["origin"], "extension:ant.dir.notion");
            assert_eq!(ext[0]["command"], "node");
        }
        assert!(json["problems"].as_array().expect("problems").is_empty(), "{os:?}: {}", json["problems"]);
    }
}

#[test]
fn msix_package_dirs_of_other_apps_are_not_read() {
    let os = Os::Windows;
    let img = Image::new(os);
    let h = home(os, "alice");
    let other =
        join(os, &h, "AppData/Local/Packages/NotClaude_123/LocalCache/Roaming/Claude/claude_desktop_config.json");
    img.fixture(&other, "claude-desktop/claude_desktop_config.json");
    let json = img.scan_json();
    assert!(crate::support::servers_in(&json, &other).is_empty());
}

#[test]
fn trailing_comma_lists_servers_and_says_the_client_ignores_the_file() {
    for os in ALL_OS {
        let img = Image::new(os);
        let h = home(os, "alice");
        let config = join(os, &data_dirs(os, &h)[0], "claude_desktop_config.json");
        img.fixture(&config, "claude-desktop/trailing-comma.json");
        let json = img.scan_json();
        assert_eq!(assert_found(&json, "claude-desktop", "user", &config), ["sqlite"], "{os:?}");
        let problems: Vec<&serde_json::Value> =
            json["problems"].as_array().expect("problems").iter().filter(|p| p["path"] == config.as_str()).collect();
        assert_eq!(problems.len(), 1, "{os:?}: {}", json["problems"]);
        assert_eq!(problems[0]["kind"], "client-will-ignore");
        assert_eq!(problems[0]["client"], "claude-desktop");
        assert!(problems[0]["message"].as_str().is_some_and(|m| m.contains("will ignore")));
        let source =
            json["sources"].as_array().expect("sources").iter().find(|s| s["path"] == config.as_str()).cloned();
        assert_eq!(source.expect("source")["client_accepts"], false);
    }
}

#[test]
fn normalised_output_snapshot() {
    let img = Image::new(Os::Macos);
    let dir = "/Users/alice/Library/Application Support/Claude";
    img.fixture(&format!("{dir}/claude_desktop_config.json"), "claude-desktop/claude_desktop_config.json");
    img.fixture(
        &format!("{dir}/Claude Extensions/ant.dir.notion/manifest.json"),
        "claude-desktop/extension-manifest.json",
    );
    let json = img.scan_json();
    let mut servers = crate::support::servers_in(&json, &format!("{dir}/claude_desktop_config.json"));
    servers.extend(crate::support::servers_in(&json, &format!("{dir}/Claude Extensions/ant.dir.notion/manifest.json")));
    insta::assert_json_snapshot!(servers);
}

/// Regression (issue 16): an extension turned off in the app keeps its manifest; the off switch
/// is `"isEnabled": false` in `Claude Extensions Settings/<id>.json`.
#[test]
fn an_extension_turned_off_in_its_settings_file_is_disabled() {
    let img = Image::new(Os::Macos);
    let dir = "/Users/alice/Library/Application Support/Claude";
    for id in ["ant.dir.notion", "ant.dir.other"] {
        img.fixture(&format!("{dir}/Claude Extensions/{id}/manifest.json"), "claude-desktop/extension-manifest.json");
    }
    img.write(
        &format!("{dir}/Claude Extensions Settings/ant.dir.notion.json"),
        r#"{"isEnabled": false, "userConfig": {}}"#,
    );
    img.write(&format!("{dir}/Claude Extensions Settings/ant.dir.other.json"), r#"{"isEnabled": true}"#);
    let json = img.scan_json();
    let off = crate::support::servers_in(&json, &format!("{dir}/Claude Extensions/ant.dir.notion/manifest.json"));
    let on = crate::support::servers_in(&json, &format!("{dir}/Claude Extensions/ant.dir.other/manifest.json"));
    assert_eq!(off[0]["disabled"], true);
    assert_eq!(on[0]["disabled"], false);
}
