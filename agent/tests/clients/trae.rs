//! Trae: `<Trae user dir>/mcp.json` (also the China build `Trae CN`) and `<repo>/.trae/mcp.json`.

use crate::support::{ALL_OS, Image, assert_found, home, join, servers_in};
use muster_agent::platform::Os;

fn user_file(os: Os, product: &str) -> String {
    let h = home(os, "alice");
    match os {
        Os::Linux => join(os, &h, &format!(".config/{product}/User/mcp.json")),
        Os::Macos => join(os, &h, &format!("Library/Application Support/{product}/User/mcp.json")),
        Os::Windows => join(os, &h, &format!("AppData/Roaming/{product}/User/mcp.json")),
    }
}

#[test]
fn user_files_of_both_builds_and_project_file_on_every_os() {
    for os in ALL_OS {
        let img = Image::new(os);
        let repo = join(os, &home(os, "alice"), "projects/shop");
        let project_file = join(os, &repo, ".trae/mcp.json");
        img.fixture(&user_file(os, "Trae"), "trae/mcp.json");
        img.fixture(&user_file(os, "Trae CN"), "trae/mcp.json");
        img.fixture(&project_file, "trae/project-mcp.json");
        img.mkdir(&join(os, &repo, ".git"));
        let json = img.scan_json();
        for product in ["Trae", "Trae CN"] {
            let mut names = assert_found(&json, "trae", "user", &user_file(os, product));
            names.sort();
            assert_eq!(names, ["amap-maps", "figma"], "{os:?} {product}");
        }
        assert_eq!(assert_found(&json, "trae", "project", &project_file), ["mysql"], "{os:?}");
    }
}

#[test]
fn normalised_output_snapshot() {
    let img = Image::new(Os::Linux);
    let file = user_file(Os::Linux, "Trae");
    img.fixture(&file, "trae/mcp.json");
    let json = img.scan_json();
    insta::assert_json_snapshot!(servers_in(&json, &file));
}
