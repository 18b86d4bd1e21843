//! Visual Studio (Windows only): `%USERPROFILE%\.mcp.json` and the solution's `.mcp.json` /
//! `.vs\mcp.json`, including solutions in the default `source\repos` folder.

use muster_agent::platform::Os;

use crate::support::{ALL_OS, Image, assert_found, home, join, servers_in};

#[test]
fn user_and_solution_files_on_windows() {
    let os = Os::Windows;
    let img = Image::new(os);
    let h = home(os, "alice");
    let user = join(os, &h, ".mcp.json");
    img.fixture(&user, "visual-studio/mcp.json");
    // `source\repos` is Visual Studio's default location; no `.git` needed.
    let solution = join(os, &h, "source/repos/Shop");
    let sln_file = join(os, &solution, ".mcp.json");
    let vs_file = join(os, &solution, ".vs/mcp.json");
    img.fixture(&sln_file, "visual-studio/solution-mcp.json");
    img.fixture(&vs_file, "visual-studio/solution-mcp.json");
    let json = img.scan_json();
    assert_eq!(assert_found(&json, "visual-studio", "user", &user), ["azure-devops", "microsoft-docs"]);
    assert_eq!(assert_found(&json, "visual-studio", "project", &sln_file), ["nuget"]);
    assert_eq!(assert_found(&json, "visual-studio", "project", &vs_file), ["nuget"]);
    assert_eq!(servers_in(&json, &sln_file)[0]["project"], solution.as_str());
}

#[test]
fn not_read_on_linux_or_macos() {
    for os in ALL_OS.into_iter().filter(|os| *os != Os::Windows) {
        let img = Image::new(os);
        let user = join(os, &home(os, "alice"), ".mcp.json");
        img.fixture(&user, "visual-studio/mcp.json");
        let json = img.scan_json();
        assert!(servers_in(&json, &user).iter().all(|s| s["client"] != "visual-studio"), "{os:?}");
    }
}

#[test]
fn normalised_output_snapshot() {
    let img = Image::new(Os::Windows);
    img.fixture("C:\\Users\\alice\\.mcp.json", "visual-studio/mcp.json");
    let json = img.scan_json();
    insta::assert_json_snapshot!(servers_in(&json, "C:\\Users\\alice\\.mcp.json"));
}
