//! GitHub Copilot for JetBrains (and Eclipse / Xcode): one `mcp.json` per host IDE, with PATs in
//! `requestInit.headers`, on every OS layout.

use muster_agent::platform::Os;

use crate::support::{ALL_OS, Image, assert_found, home, join, servers_in};

#[test]
fn intellij_eclipse_and_xcode_files_on_every_os() {
    for os in ALL_OS {
        let img = Image::new(os);
        let h = home(os, "alice");
        let mut files: Vec<(String, serde_json::Value)> = match os {
            Os::Windows => vec![
                (join(os, &h, "AppData/Local/github-copilot/intellij/mcp.json"), serde_json::Value::Null),
                (join(os, &h, "AppData/Roaming/github-copilot/eclipse/mcp.json"), "eclipse".into()),
            ],
            _ => vec![
                (join(os, &h, ".config/github-copilot/intellij/mcp.json"), serde_json::Value::Null),
                (join(os, &h, ".config/github-copilot/eclipse/mcp.json"), "eclipse".into()),
            ],
        };
        if os == Os::Macos {
            files.push((join(os, &h, ".config/github-copilot/xcode/mcp.json"), "xcode".into()));
        }
        for (f, _) in &files {
            img.fixture(f, "copilot-jetbrains/mcp.json");
        }
        let json = img.scan_json();
        for (f, origin) in &files {
            assert_eq!(assert_found(&json, "copilot-jetbrains", "user", f), ["github", "jetbrains-docs"], "{os:?}");
            let servers = servers_in(&json, f);
            assert_eq!(&servers[0]["origin"], origin, "{os:?} {f}");
            assert_eq!(servers[0]["header_names"], serde_json::json!(["Authorization"]));
            assert_eq!(servers[0]["transport"], "http");
        }
    }
}

#[test]
fn normalised_output_snapshot() {
    let img = Image::new(Os::Windows);
    let f = "C:\\Users\\alice\\AppData\\Local\\github-copilot\\intellij\\mcp.json";
    img.fixture(f, "copilot-jetbrains/mcp.json");
    let json = img.scan_json();
    insta::assert_json_snapshot!(servers_in(&json, f));
}
