//! Cline (VS Code extension, JetBrains plugin and CLI): the current
//! `~/.cline/data/settings/cline_mcp_settings.json` (moved by `$CLINE_MCP_SETTINGS_PATH`,
//! `$CLINE_DATA_DIR` or `$CLINE_DIR`), the legacy copy in the `saoudrizwan.claude-dev` global
//! storage of every VS Code family editor, and `~/Documents/Cline/MCP/`. Cline parses with
//! `JSON.parse` (strict) and treats a `url` without `type` as SSE.

use serde_json::Value;

use super::{Candidate, ClientSource, Parsed, parse_map_at};
use crate::discovery::entry::Dialect;
use crate::discovery::formats::FileFormat;
use crate::platform::UserCtx;

pub struct Cline;

const FILE: &str = "cline_mcp_settings.json";

impl ClientSource for Cline {
    fn id(&self) -> &'static str {
        "cline"
    }

    fn user_files(&self, user: &UserCtx, out: &mut Vec<Candidate>) {
        let current = if let Some(p) = user.env_path("CLINE_MCP_SETTINGS_PATH") {
            p
        } else if let Some(d) = user.env_path("CLINE_DATA_DIR") {
            d.join("settings").join(FILE)
        } else if let Some(d) = user.env_path("CLINE_DIR") {
            d.join("data/settings").join(FILE)
        } else {
            user.home.join(".cline/data/settings").join(FILE)
        };
        out.push(Candidate::user(current, FileFormat::Json, "mcp"));
        for (_, dir) in user.vscode_user_dirs() {
            out.push(Candidate::user(
                dir.join("globalStorage/saoudrizwan.claude-dev/settings").join(FILE),
                FileFormat::Json,
                "mcp",
            ));
        }
        out.push(Candidate::user(user.home.join("Documents/Cline/MCP").join(FILE), FileFormat::Json, "mcp"));
    }

    fn parse(&self, _file: &Candidate, doc: &Value) -> Parsed {
        parse_map_at(doc, "mcpServers", Dialect::SSE_URLS)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{paths, user_with};
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn relocating_variables_in_precedence_order() {
        let first = |env: &[(&str, &str)]| paths(&Cline, &user_with(env))[0].clone();
        assert_eq!(first(&[]), PathBuf::from("/home/alice/.cline/data/settings/cline_mcp_settings.json"));
        assert_eq!(first(&[("CLINE_DIR", "/c")]), PathBuf::from("/c/data/settings/cline_mcp_settings.json"));
        assert_eq!(
            first(&[("CLINE_DIR", "/c"), ("CLINE_DATA_DIR", "/d")]),
            PathBuf::from("/d/settings/cline_mcp_settings.json")
        );
        assert_eq!(
            first(&[("CLINE_DATA_DIR", "/d"), ("CLINE_MCP_SETTINGS_PATH", "/etc-alice/mcp.json")]),
            PathBuf::from("/etc-alice/mcp.json")
        );
    }
}
