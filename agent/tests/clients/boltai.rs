//! BoltAI, a macOS-only app: `~/.boltai/mcp.json` (reference §8.11: unconfirmed, probed).

use crate::support::{ALL_OS, Image, assert_found, home, join, servers_in};
use muster_agent::platform::Os;

#[test]
fn user_file_on_macos_only() {
    for os in ALL_OS {
        let img = Image::new(os);
        let file = join(os, &home(os, "alice"), ".boltai/mcp.json");
        img.fixture(&file, "boltai/mcp.json");
        let json = img.scan_json();
        if os == Os::Macos {
            let mut names = assert_found(&json, "boltai", "user", &file);
            names.sort();
            assert_eq!(names, ["apple-notes", "exa"]);
        } else {
            assert!(servers_in(&json, &file).is_empty(), "BoltAI does not exist on {os:?}");
        }
    }
}

#[test]
fn normalised_output_snapshot() {
    let img = Image::new(Os::Macos);
    img.fixture("/Users/alice/.boltai/mcp.json", "boltai/mcp.json");
    let json = img.scan_json();
    insta::assert_json_snapshot!(servers_in(&json, "/Users/alice/.boltai/mcp.json"));
}
