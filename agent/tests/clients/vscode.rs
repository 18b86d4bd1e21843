//! VS Code family builds: user `mcp.json` and legacy `settings.json` in every build's `User` dir
//! and every profile, remote-server dirs, workspace `.vscode/` files, dev containers, and
//! folders recorded in `workspaceStorage/*/workspace.json`, on every OS layout.

use muster_agent::platform::Os;

use crate::support::{ALL_OS, Image, assert_found, home, join, servers_in};

/// `<VSC-USER>` of one product on `os`.
pub fn user_dir(os: Os, h: &str, product: &str) -> String {
    match os {
        Os::Linux => join(os, h, &format!(".config/{product}/User")),
        Os::Macos => join(os, h, &format!("Library/Application Support/{product}/User")),
        Os::Windows => join(os, h, &format!("AppData/Roaming/{product}/User")),
    }
}

const BUILDS: [&str; 5] = ["Code", "Code - Insiders", "VSCodium", "Code - OSS", "Positron"];

#[test]
fn user_files_of_every_build_and_profile_on_every_os() {
    for os in ALL_OS {
        let img = Image::new(os);
        let h = home(os, "alice");
        let mut dirs: Vec<String> = BUILDS.iter().map(|p| user_dir(os, &h, p)).collect();
        dirs.push(join(os, &user_dir(os, &h, "Code"), "profiles/-4f2a91c3"));
        if os != Os::Windows {
            dirs.push(join(os, &h, ".vscode-server/data/User"));
            dirs.push(join(os, &h, ".vscode-server-insiders/data/User"));
        }
        for dir in &dirs {
            img.fixture(&join(os, dir, "mcp.json"), "vscode/mcp.json");
            img.fixture(&join(os, dir, "settings.json"), "vscode/settings.json");
        }
        let json = img.scan_json();
        for dir in &dirs {
            let mcp = join(os, dir, "mcp.json");
            assert_eq!(
                assert_found(&json, "vscode", "user", &mcp),
                ["brave-search", "fetch", "github"],
                "{os:?} {mcp}"
            );
            let settings = join(os, dir, "settings.json");
            assert_eq!(assert_found(&json, "vscode", "user", &settings), ["time"], "{os:?} {settings}");
        }
    }
}

#[test]
fn forks_with_their_own_id_are_not_vscode() {
    for os in ALL_OS {
        let img = Image::new(os);
        let h = home(os, "alice");
        let cursor = join(os, &user_dir(os, &h, "Cursor"), "settings.json");
        img.fixture(&cursor, "vscode/settings.json");
        let json = img.scan_json();
        assert!(servers_in(&json, &cursor).iter().all(|s| s["client"] != "vscode"), "{os:?}");
    }
}

#[test]
fn workspace_files_and_devcontainers() {
    for os in ALL_OS {
        let img = Image::new(os);
        let repo = join(os, &home(os, "alice"), "src/web");
        img.mkdir(&join(os, &repo, ".git"));
        let mcp = join(os, &repo, ".vscode/mcp.json");
        let settings = join(os, &repo, ".vscode/settings.json");
        let dc = join(os, &repo, ".devcontainer/devcontainer.json");
        let dc_root = join(os, &repo, ".devcontainer.json");
        img.fixture(&mcp, "vscode/workspace-mcp.json");
        img.fixture(&settings, "vscode/settings.json");
        img.fixture(&dc, "vscode/devcontainer.json");
        img.fixture(&dc_root, "vscode/devcontainer.json");
        let json = img.scan_json();
        assert_eq!(assert_found(&json, "vscode", "project", &mcp), ["playwright"], "{os:?}");
        assert_eq!(assert_found(&json, "vscode", "project", &settings), ["time"], "{os:?}");
        for f in [&dc, &dc_root] {
            assert_eq!(assert_found(&json, "vscode", "project", f), ["redis"], "{os:?}");
            let s = &servers_in(&json, f)[0];
            assert_eq!(s["origin"], "devcontainer");
            assert_eq!(s["project"], repo.as_str());
            // The password in the connection string is masked.
            let args = s["args"].to_string();
            assert!(!args.contains("FAKE-redis-pass"), "{args}");
        }
    }
}

#[test]
fn folders_recorded_in_workspace_storage_are_scanned() {
    for os in ALL_OS {
        let img = Image::new(os);
        let h = home(os, "alice");
        let folder_uri = match os {
            Os::Linux => "file:///home/alice/elsewhere/app",
            Os::Macos => "file:///Users/alice/elsewhere/app",
            Os::Windows => "file:///c%3A/Users/alice/elsewhere/app",
        };
        let ws =
            join(os, &user_dir(os, &h, "Code"), "workspaceStorage/9f3c2b1a0e4d5c6b7a8f9e0d1c2b3a4f/workspace.json");
        img.write(&ws, &format!("{{\n  \"folder\": \"{folder_uri}\"\n}}\n"));
        let recorded = join(os, &h, "elsewhere/app/.vscode/mcp.json");
        let unrecorded = join(os, &h, "elsewhere/other/.vscode/mcp.json");
        img.fixture(&recorded, "vscode/workspace-mcp.json");
        img.fixture(&unrecorded, "vscode/workspace-mcp.json");
        let json = img.scan_json();
        assert_eq!(assert_found(&json, "vscode", "project", &recorded), ["playwright"], "{os:?}");
        assert_eq!(servers_in(&json, &recorded)[0]["project"], join(os, &h, "elsewhere/app"));
        assert!(servers_in(&json, &unrecorded).is_empty(), "{os:?}: unrecorded folder read");
    }
}

#[test]
fn normalised_output_snapshot() {
    let img = Image::new(Os::Linux);
    img.fixture("/home/alice/.config/Code/User/mcp.json", "vscode/mcp.json");
    let json = img.scan_json();
    insta::assert_json_snapshot!(servers_in(&json, "/home/alice/.config/Code/User/mcp.json"));
}

/// Regression (issue 16): a window opened on a `.code-workspace` file is recorded as
/// `{"workspace": "file://…/x.code-workspace"}`; its folders (relative to that file, absolute, or
/// URIs) are projects too.
#[test]
fn folders_of_a_recorded_code_workspace_file_are_scanned() {
    for os in ALL_OS {
        let img = Image::new(os);
        let h = home(os, "alice");
        let (ws_uri, abs_folder) = match os {
            Os::Linux => ("file:///home/alice/ws/team.code-workspace", "/home/alice/far/lib"),
            Os::Macos => ("file:///Users/alice/ws/team.code-workspace", "/Users/alice/far/lib"),
            Os::Windows => ("file:///c%3A/Users/alice/ws/team.code-workspace", "C:\\\\Users\\\\alice\\\\far\\\\lib"),
        };
        let ws =
            join(os, &user_dir(os, &h, "Cursor"), "workspaceStorage/0a1b2c3d4e5f60718293a4b5c6d7e8f9/workspace.json");
        img.write(&ws, &format!("{{\"workspace\": \"{ws_uri}\"}}"));
        img.write(
            &join(os, &h, "ws/team.code-workspace"),
            &format!(
                "{{\n  // a comment, as VS Code writes them\n  \"folders\": [{{\"path\": \"../elsewhere/app\"}}, {{\"path\": \"{abs_folder}\"}}],\n}}\n"
            ),
        );
        let relative = join(os, &h, "elsewhere/app/.vscode/mcp.json");
        let absolute = join(os, &h, "far/lib/.vscode/mcp.json");
        img.fixture(&relative, "vscode/workspace-mcp.json");
        img.fixture(&absolute, "vscode/workspace-mcp.json");
        let json = img.scan_json();
        assert_eq!(assert_found(&json, "vscode", "project", &relative), ["playwright"], "{os:?}");
        assert_eq!(assert_found(&json, "vscode", "project", &absolute), ["playwright"], "{os:?}");
    }
}
