//! JetBrains AI Assistant: `~/.ai/mcp/mcp.json` and `<repo>/.ai/mcp/mcp.json`, plus the IDEs'
//! `recentProjects.xml`, which makes projects outside the usual code roots reachable for every
//! client's project files.

use crate::support::{ALL_OS, Image, assert_found, home, join, servers_in};
use muster_agent::platform::Os;

/// Where one JetBrains IDE keeps `recentProjects.xml` for `alice`.
fn recent_projects_xml(os: Os) -> String {
    let h = home(os, "alice");
    match os {
        Os::Linux => join(os, &h, ".config/JetBrains/IntelliJIdea2025.2/options/recentProjects.xml"),
        Os::Macos => {
            join(os, &h, "Library/Application Support/JetBrains/IntelliJIdea2025.2/options/recentProjects.xml")
        }
        Os::Windows => join(os, &h, "AppData/Roaming/JetBrains/IntelliJIdea2025.2/options/recentProjects.xml"),
    }
}

#[test]
fn user_and_project_files_on_every_os() {
    for os in ALL_OS {
        let img = Image::new(os);
        let h = home(os, "alice");
        let user_file = join(os, &h, ".ai/mcp/mcp.json");
        let repo = join(os, &h, "code/gradle-app");
        let project_file = join(os, &repo, ".ai/mcp/mcp.json");
        img.fixture(&user_file, "jetbrains-ai/mcp.json");
        img.fixture(&project_file, "jetbrains-ai/project-mcp.json");
        img.mkdir(&join(os, &repo, ".git"));
        let json = img.scan_json();
        let mut names = assert_found(&json, "jetbrains-ai", "user", &user_file);
        names.sort();
        assert_eq!(names, ["jetbrains", "sentry"], "{os:?}");
        assert_eq!(assert_found(&json, "jetbrains-ai", "project", &project_file), ["gradle-docs"], "{os:?}");
    }
}

#[test]
fn a_project_known_only_from_recent_projects_xml_is_scanned() {
    for os in ALL_OS {
        let img = Image::new(os);
        let h = home(os, "alice");
        // `~/elsewhere` is not a code root: only the IDE's record leads there.
        let repo = join(os, &h, "elsewhere/app");
        img.fixture(&recent_projects_xml(os), "jetbrains-ai/recentProjects.xml");
        let ai_file = join(os, &repo, ".ai/mcp/mcp.json");
        let cursor_file = join(os, &repo, ".cursor/mcp.json");
        img.fixture(&ai_file, "jetbrains-ai/project-mcp.json");
        img.fixture(&cursor_file, "cursor/project-mcp.json");
        let json = img.scan_json();
        assert_eq!(assert_found(&json, "jetbrains-ai", "project", &ai_file), ["gradle-docs"], "{os:?}");
        assert_found(&json, "cursor", "project", &cursor_file);
        assert_eq!(servers_in(&json, &ai_file)[0]["project"], repo.as_str(), "{os:?}");
    }
}

#[test]
fn without_the_recent_projects_record_the_elsewhere_project_is_not_found() {
    // Guards the test above: the project is reachable through the XML and nothing else.
    let os = Os::Linux;
    let img = Image::new(os);
    let ai_file = "/home/alice/elsewhere/app/.ai/mcp/mcp.json";
    img.fixture(ai_file, "jetbrains-ai/project-mcp.json");
    let json = img.scan_json();
    assert!(servers_in(&json, ai_file).is_empty());
}

#[test]
fn normalised_output_snapshot() {
    let img = Image::new(Os::Linux);
    img.fixture("/home/alice/.ai/mcp/mcp.json", "jetbrains-ai/mcp.json");
    let json = img.scan_json();
    insta::assert_json_snapshot!(servers_in(&json, "/home/alice/.ai/mcp/mcp.json"));
}
