//! opencode: `opencode.json(c)` in the user config dir (Windows also `%APPDATA%\opencode`), in
//! projects (also under `.opencode/`) and in the managed dirs; the newer bare-map
//! `.agents/mcp.json` (user and project) and `mcp-local.json` keyed by project path.

use crate::support::{ALL_OS, Image, assert_found, fixture, home, join, servers_in};
use muster_agent::platform::Os;

/// The managed `opencode.json` of the scanned machine.
fn managed_file(os: Os) -> &'static str {
    match os {
        Os::Linux => "/etc/opencode/opencode.json",
        Os::Macos => "/Library/Application Support/opencode/opencode.json",
        Os::Windows => "C:\\ProgramData\\opencode\\opencode.json",
    }
}

/// `mcp-local.json` with its one project key rewritten to `project` (a machine path).
fn mcp_local_for(project: &str) -> String {
    let key = serde_json::Value::String(project.to_string()).to_string();
    fixture("opencode/mcp-local.json").replace("\"/home/alice/scratch/api\"", &key)
}

#[test]
fn user_files_on_every_os() {
    for os in ALL_OS {
        let h = home(os, "alice");
        let mut user_files =
            vec![join(os, &h, ".config/opencode/opencode.jsonc"), join(os, &h, ".config/opencode/opencode.json")];
        if os == Os::Windows {
            user_files.push(join(os, &h, "AppData/Roaming/opencode/opencode.json"));
        }
        for file in user_files {
            let img = Image::new(os);
            img.fixture(&file, "opencode/opencode.jsonc");
            let json = img.scan_json();
            let mut names = assert_found(&json, "opencode", "user", &file);
            names.sort();
            assert_eq!(names, ["context7", "github", "playwright"], "{file}");
        }
        let img = Image::new(os);
        let agents = join(os, &h, ".agents/mcp.json");
        img.fixture(&agents, "opencode/agents-mcp.json");
        let json = img.scan_json();
        let mut names = assert_found(&json, "opencode", "user", &agents);
        names.sort();
        assert_eq!(names, ["linear", "memory"], "{os:?}");
    }
}

#[test]
fn project_files_on_every_os() {
    for os in ALL_OS {
        for rel in ["opencode.json", "opencode.jsonc", ".opencode/opencode.json", ".opencode/opencode.jsonc"] {
            let img = Image::new(os);
            let repo = join(os, &home(os, "alice"), "src/api");
            let file = join(os, &repo, rel);
            img.fixture(&file, "opencode/project-opencode.json");
            img.mkdir(&join(os, &repo, ".git"));
            let json = img.scan_json();
            // `"github": {"enabled": false}` only switches off the user-level server.
            assert_eq!(assert_found(&json, "opencode", "project", &file), ["sqlite"], "{os:?} {rel}");
        }
        let img = Image::new(os);
        let repo = join(os, &home(os, "alice"), "src/api");
        let file = join(os, &repo, ".agents/mcp.json");
        img.fixture(&file, "opencode/agents-mcp.json");
        let json = img.scan_json();
        let mut names = assert_found(&json, "opencode", "project", &file);
        names.sort();
        assert_eq!(names, ["linear", "memory"], "{os:?}");
    }
}

#[test]
fn managed_file_on_every_os() {
    for os in ALL_OS {
        let img = Image::new(os);
        img.mkdir(&home(os, "alice"));
        let file = managed_file(os);
        img.fixture(file, "opencode/managed-opencode.json");
        let json = img.scan_json();
        assert_eq!(assert_found(&json, "opencode", "managed", file), ["corp-gateway"], "{os:?}");
        assert!(servers_in(&json, file)[0]["user"].is_null());
    }
}

#[test]
fn mcp_local_entries_carry_their_project_which_is_scanned() {
    for os in ALL_OS {
        let img = Image::new(os);
        let h = home(os, "alice");
        // `~/scratch` is not a code root: only `mcp-local.json` leads there.
        let repo = join(os, &h, "scratch/api");
        let local = join(os, &h, ".local/share/opencode/mcp-local.json");
        img.write(&local, &mcp_local_for(&repo));
        let project_file = join(os, &repo, "opencode.json");
        img.fixture(&project_file, "opencode/project-opencode.json");
        let json = img.scan_json();
        assert_eq!(assert_found(&json, "opencode", "user", &local), ["local-db"], "{os:?}");
        assert_eq!(servers_in(&json, &local)[0]["project"], repo.as_str(), "{os:?}");
        assert_eq!(assert_found(&json, "opencode", "project", &project_file), ["sqlite"], "{os:?}");
    }
}

#[test]
fn command_arrays_environment_and_toggles_normalise() {
    let img = Image::new(Os::Linux);
    let file = "/home/alice/.config/opencode/opencode.jsonc";
    img.fixture(file, "opencode/opencode.jsonc");
    let json = img.scan_json();
    let servers = servers_in(&json, file);
    let by = |n: &str| servers.iter().find(|s| s["name"] == n).cloned().expect(n);
    assert_eq!(by("github")["command"], "bunx");
    assert_eq!(by("github")["env_names"], serde_json::json!(["GITHUB_PERSONAL_ACCESS_TOKEN"]));
    assert_eq!(by("github")["disabled"], false);
    assert_eq!(by("context7")["transport"], "http");
    assert_eq!(by("playwright")["disabled"], true);
    assert_eq!(by("playwright")["transport"], "stdio");
}

#[test]
fn normalised_output_snapshot() {
    let img = Image::new(Os::Linux);
    img.fixture("/home/alice/.config/opencode/opencode.jsonc", "opencode/opencode.jsonc");
    let json = img.scan_json();
    insta::assert_json_snapshot!(servers_in(&json, "/home/alice/.config/opencode/opencode.jsonc"));
}

#[test]
fn mcp_local_snapshot() {
    let img = Image::new(Os::Linux);
    img.fixture("/home/alice/.local/share/opencode/mcp-local.json", "opencode/mcp-local.json");
    let json = img.scan_json();
    insta::assert_json_snapshot!(servers_in(&json, "/home/alice/.local/share/opencode/mcp-local.json"));
}
