//! Kilo Code: v7 `~/.config/kilo/kilo.json(c)` and `<repo>/kilo.json(c)` in opencode's shape, and
//! the legacy extension's global storage and `<repo>/.kilocode/mcp.json`, on every OS layout.

use muster_agent::platform::Os;

use crate::support::{ALL_OS, Image, assert_found, home, join, servers_in};
use crate::vscode::user_dir;

#[test]
fn v7_and_legacy_files_on_every_os() {
    for os in ALL_OS {
        let img = Image::new(os);
        let h = home(os, "alice");
        let v7 = [join(os, &h, ".config/kilo/kilo.json"), join(os, &h, ".config/kilo/kilo.jsonc")];
        for f in &v7 {
            img.fixture(f, "kilo-code/kilo.jsonc");
        }
        let legacy: Vec<String> = ["Code", "Cursor"]
            .iter()
            .map(|p| join(os, &user_dir(os, &h, p), "globalStorage/kilocode.kilo-code/settings/mcp_settings.json"))
            .collect();
        for f in &legacy {
            img.fixture(f, "kilo-code/legacy-mcp_settings.json");
        }
        let repo = join(os, &h, "dev/tool");
        img.mkdir(&join(os, &repo, ".git"));
        let project_v7 = [join(os, &repo, "kilo.jsonc"), join(os, &repo, "kilo.json")];
        for f in &project_v7 {
            img.fixture(f, "kilo-code/kilo.jsonc");
        }
        let project_legacy = join(os, &repo, ".kilocode/mcp.json");
        img.fixture(&project_legacy, "kilo-code/legacy-mcp_settings.json");
        let json = img.scan_json();

        for f in &v7 {
            // `"jira": {"enabled": false}` only switches off another layer's server.
            assert_eq!(assert_found(&json, "kilo-code", "user", f), ["git", "sentry"], "{os:?} {f}");
        }
        for f in &legacy {
            assert_eq!(assert_found(&json, "kilo-code", "user", f), ["brave-search"], "{os:?} {f}");
        }
        for f in &project_v7 {
            assert_eq!(assert_found(&json, "kilo-code", "project", f), ["git", "sentry"], "{os:?} {f}");
        }
        assert_eq!(assert_found(&json, "kilo-code", "project", &project_legacy), ["brave-search"], "{os:?}");
        let problems = json["problems"].as_array().expect("problems");
        assert!(problems.is_empty(), "{os:?}: {}", json["problems"]);
    }
}

#[test]
fn normalised_output_snapshot() {
    let img = Image::new(Os::Linux);
    let f = "/home/alice/.config/kilo/kilo.jsonc";
    img.fixture(f, "kilo-code/kilo.jsonc");
    let json = img.scan_json();
    insta::assert_json_snapshot!(servers_in(&json, f));
}
