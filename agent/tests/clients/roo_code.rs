//! Roo Code: `mcp_settings.json` in the `rooveterinaryinc.roo-cline` global storage of every VS
//! Code family editor (remote servers included) and `<repo>/.roo/mcp.json`, on every OS layout.

use muster_agent::platform::Os;

use crate::support::{ALL_OS, Image, assert_found, home, join, servers_in};
use crate::vscode::user_dir;

const REL: &str = "globalStorage/rooveterinaryinc.roo-cline/settings/mcp_settings.json";

#[test]
fn global_storage_of_every_editor_and_project_file_on_every_os() {
    for os in ALL_OS {
        let img = Image::new(os);
        let h = home(os, "alice");
        let mut files: Vec<String> =
            ["Code", "Cursor", "Windsurf", "VSCodium"].iter().map(|p| join(os, &user_dir(os, &h, p), REL)).collect();
        if os != Os::Windows {
            files.push(join(os, &h, &format!(".vscode-server/data/User/{REL}")));
        }
        for f in &files {
            img.fixture(f, "roo-code/mcp_settings.json");
        }
        let repo = join(os, &h, "repos/api");
        img.mkdir(&join(os, &repo, ".git"));
        let project = join(os, &repo, ".roo/mcp.json");
        img.fixture(&project, "roo-code/project-mcp.json");
        let json = img.scan_json();
        for f in &files {
            let names = assert_found(&json, "roo-code", "user", f);
            assert_eq!(names, ["context7", "filesystem", "sequential-thinking"], "{os:?} {f}");
        }
        assert_eq!(assert_found(&json, "roo-code", "project", &project), ["supabase"], "{os:?}");
    }
}

#[test]
fn normalised_output_snapshot() {
    let img = Image::new(Os::Linux);
    let f = format!("/home/alice/.config/Code/User/{REL}");
    img.fixture(&f, "roo-code/mcp_settings.json");
    let json = img.scan_json();
    insta::assert_json_snapshot!(servers_in(&json, &f));
}
