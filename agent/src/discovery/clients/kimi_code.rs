//! Kimi Code: `~/.kimi-code/mcp.json` (moved by `$KIMI_CODE_HOME`), the older Kimi CLI's
//! `~/.kimi/mcp.json`, and `<repo>/.kimi-code/mcp.json`.

use std::path::Path;

use serde_json::Value;

use super::{Candidate, ClientSource, Parsed, add_all, parse_map_at};
use crate::discovery::entry::Dialect;
use crate::discovery::formats::FileFormat;
use crate::platform::{Os, SystemCtx, UserCtx};
use muster_proto::v1::Scope;

pub struct KimiCode;

impl ClientSource for KimiCode {
    fn id(&self) -> &'static str {
        "kimi-code"
    }

    fn user_files(&self, user: &UserCtx, out: &mut Vec<Candidate>) {
        let dir = user.env_path("KIMI_CODE_HOME").unwrap_or_else(|| user.home.join(".kimi-code"));
        add_all(out, &dir, &["mcp.json"], Scope::User, FileFormat::Json, "mcp");
        add_all(out, &user.home, &[".kimi/mcp.json"], Scope::User, FileFormat::Json, "mcp");
    }

    fn project_files(&self, project: &Path, os: Os, out: &mut Vec<Candidate>) {
        let _ = os;
        add_all(out, project, &[".kimi-code/mcp.json"], Scope::Project, FileFormat::Json, "mcp");
    }

    fn managed_files(&self, sys: &SystemCtx, out: &mut Vec<Candidate>) {
        let _ = (sys, out);
    }

    fn parse(&self, file: &Candidate, doc: &Value) -> Parsed {
        let _ = file;
        parse_map_at(doc, "mcpServers", Dialect::default())
    }
}
