//! Cline: the current `~/.cline/data/settings/cline_mcp_settings.json`, the legacy copy in the
//! `saoudrizwan.claude-dev` global storage of every VS Code family editor (remote servers
//! included) and `~/Documents/Cline/MCP/`, on every OS layout; a `url` without `type` is SSE.

use muster_agent::platform::Os;

use crate::support::{ALL_OS, Image, assert_found, home, join, servers_in};
use crate::vscode::user_dir;

const FILE: &str = "cline_mcp_settings.json";

fn files(os: Os, h: &str) -> Vec<String> {
    let mut out = vec![join(os, h, &format!(".cline/data/settings/{FILE}"))];
    for product in ["Code", "Code - Insiders", "Cursor", "Windsurf", "VSCodium"] {
        out.push(join(os, &user_dir(os, h, product), &format!("globalStorage/saoudrizwan.claude-dev/settings/{FILE}")));
    }
    if os != Os::Windows {
        out.push(join(
            os,
            h,
            &format!(".vscode-server/data/User/globalStorage/saoudrizwan.claude-dev/settings/{FILE}"),
        ));
    }
    out.push(join(os, h, &format!("Documents/Cline/MCP/{FILE}")));
    out
}

#[test]
fn current_and_legacy_files_on_every_os() {
    for os in ALL_OS {
        let img = Image::new(os);
        let h = home(os, "alice");
        let files = files(os, &h);
        for f in &files {
            img.fixture(f, "cline/cline_mcp_settings.json");
        }
        let json = img.scan_json();
        for f in &files {
            let names = assert_found(&json, "cline", "user", f);
            assert_eq!(
                names,
                [
                    "docs-search",
                    "github.com/modelcontextprotocol/servers/tree/main/src/github",
                    "perplexity",
                    "weather"
                ],
                "{os:?} {f}"
            );
            let servers = servers_in(&json, f);
            let by_name = |n: &str| servers.iter().find(|s| s["name"] == n).cloned().expect("server");
            assert_eq!(by_name("weather")["transport"], "sse", "url without type is SSE");
            assert_eq!(by_name("docs-search")["transport"], "http");
            assert_eq!(by_name("docs-search")["disabled"], true);
            assert_eq!(by_name("perplexity")["transport"], "stdio");
        }
    }
}

#[test]
fn normalised_output_snapshot() {
    let img = Image::new(Os::Linux);
    let f = "/home/alice/.cline/data/settings/cline_mcp_settings.json";
    img.fixture(f, "cline/cline_mcp_settings.json");
    let json = img.scan_json();
    insta::assert_json_snapshot!(servers_in(&json, f));
}
