//! Warp's file-based MCP configuration: `~/.warp/.mcp.json` and `<repo>/.warp/.mcp.json`. Servers added
//! in Warp's UI live in Warp Drive, not in a file, and cannot be read here.

use std::path::Path;

use serde_json::Value;

use super::{Candidate, ClientSource, Parsed, add_all, parse_map_at};
use crate::discovery::entry::Dialect;
use crate::discovery::formats::FileFormat;
use crate::platform::{Os, SystemCtx, UserCtx};
use muster_proto::v1::Scope;

pub struct Warp;

impl ClientSource for Warp {
    fn id(&self) -> &'static str {
        "warp"
    }

    fn user_files(&self, user: &UserCtx, out: &mut Vec<Candidate>) {
        add_all(out, &user.home, &[".warp/.mcp.json"], Scope::User, FileFormat::Json, "mcp");
    }

    fn project_files(&self, project: &Path, os: Os, out: &mut Vec<Candidate>) {
        let _ = os;
        add_all(out, project, &[".warp/.mcp.json"], Scope::Project, FileFormat::Json, "mcp");
    }

    fn managed_files(&self, sys: &SystemCtx, out: &mut Vec<Candidate>) {
        let _ = (sys, out);
    }

    fn parse(&self, file: &Candidate, doc: &Value) -> Parsed {
        let _ = file;
        parse_map_at(doc, "mcpServers", Dialect::default())
    }
}
