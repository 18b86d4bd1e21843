//! GitHub Copilot CLI: `~/.copilot/mcp-config.json` (moved by `$COPILOT_HOME`) and, per repository,
//! `.github/mcp.json` (CLI 1.0.61+).
//!
//! Decision: the CLI is also reported to read a repository's `.mcp.json`, but that file is Claude
//! Code's project file; attributing every server in it to Copilot CLI as well, on machines where
//! Copilot CLI may not even be installed, would double every count a security team sees. It is
//! reported once, under `claude-code`.

use std::path::Path;

use serde_json::Value;

use super::{Candidate, ClientSource, Parsed, add_all, parse_map_at};
use crate::discovery::entry::Dialect;
use crate::discovery::formats::FileFormat;
use crate::platform::{Os, SystemCtx, UserCtx};
use muster_proto::v1::Scope;

pub struct CopilotCli;

impl ClientSource for CopilotCli {
    fn id(&self) -> &'static str {
        "copilot-cli"
    }

    fn user_files(&self, user: &UserCtx, out: &mut Vec<Candidate>) {
        let dir = user.env_path("COPILOT_HOME").unwrap_or_else(|| user.home.join(".copilot"));
        add_all(out, &dir, &["mcp-config.json"], Scope::User, FileFormat::Json, "mcp");
    }

    fn project_files(&self, project: &Path, os: Os, out: &mut Vec<Candidate>) {
        let _ = os;
        add_all(out, project, &[".github/mcp.json"], Scope::Project, FileFormat::Json, "mcp");
    }

    fn managed_files(&self, sys: &SystemCtx, out: &mut Vec<Candidate>) {
        let _ = (sys, out);
    }

    fn parse(&self, file: &Candidate, doc: &Value) -> Parsed {
        let _ = file;
        parse_map_at(doc, "mcpServers", Dialect::default())
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{paths, user_with};
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn copilot_home_moves_the_config() {
        assert_eq!(paths(&CopilotCli, &user_with(&[])), [PathBuf::from("/home/alice/.copilot/mcp-config.json")]);
        let moved = user_with(&[("COPILOT_HOME", "/data/copilot")]);
        assert_eq!(paths(&CopilotCli, &moved), [PathBuf::from("/data/copilot/mcp-config.json")]);
    }
}
