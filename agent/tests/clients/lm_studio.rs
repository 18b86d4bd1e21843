//! LM Studio: `~/.lmstudio/mcp.json` and, for installs that keep only that copy,
//! `~/.cache/lm-studio/mcp.json` (reference §8.16), on every OS.

use crate::support::{ALL_OS, Image, assert_found, home, join, servers_in};
use muster_agent::platform::Os;

#[test]
fn both_user_paths_on_every_os() {
    for os in ALL_OS {
        for rel in [".lmstudio/mcp.json", ".cache/lm-studio/mcp.json"] {
            let img = Image::new(os);
            let file = join(os, &home(os, "alice"), rel);
            img.fixture(&file, "lm-studio/mcp.json");
            let json = img.scan_json();
            let mut names = assert_found(&json, "lm-studio", "user", &file);
            names.sort();
            assert_eq!(names, ["fetch", "filesystem", "hf-mcp-server"], "{os:?} {rel}");
        }
    }
}

#[test]
fn a_url_entry_is_streamable_http_with_its_header_named_not_shown() {
    let img = Image::new(Os::Windows);
    let file = "C:\\Users\\alice\\.lmstudio\\mcp.json";
    img.fixture(file, "lm-studio/mcp.json");
    let json = img.scan_json();
    let hf = servers_in(&json, file).into_iter().find(|s| s["name"] == "hf-mcp-server").expect("hf server");
    assert_eq!(hf["transport"], "http");
    assert_eq!(hf["header_names"], serde_json::json!(["Authorization"]));
    assert!(!json.to_string().contains("hf_FAKE"), "a header value leaked into the output");
}

#[test]
fn normalised_output_snapshot() {
    let img = Image::new(Os::Linux);
    img.fixture("/home/alice/.lmstudio/mcp.json", "lm-studio/mcp.json");
    let json = img.scan_json();
    insta::assert_json_snapshot!(servers_in(&json, "/home/alice/.lmstudio/mcp.json"));
}
