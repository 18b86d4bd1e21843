//! Kiro IDE and CLI: `~/.kiro/settings/mcp.json`, `<repo>/.kiro/settings/mcp.json` (workspace wins),
//! and CLI agents `.kiro/agents/*.json` (origin `agent:<name>`).

use std::path::Path;

use serde_json::Value;

use super::{Candidate, ClientSource, Parsed, add_all, add_dir_files, file_stem, parse_map_at, with_origin};
use crate::discovery::entry::Dialect;
use crate::discovery::formats::FileFormat;
use crate::platform::{Os, SystemCtx, UserCtx};
use muster_proto::v1::Scope;

pub struct Kiro;

impl ClientSource for Kiro {
    fn id(&self) -> &'static str {
        "kiro"
    }

    fn user_files(&self, user: &UserCtx, out: &mut Vec<Candidate>) {
        let dir = user.home.join(".kiro");
        add_all(out, &dir, &["settings/mcp.json"], Scope::User, FileFormat::Json, "mcp");
        add_dir_files(out, &dir.join("agents"), ".json", Scope::User, FileFormat::Json, "agent");
    }

    fn project_files(&self, project: &Path, os: Os, out: &mut Vec<Candidate>) {
        let _ = os;
        let dir = project.join(".kiro");
        add_all(out, &dir, &["settings/mcp.json"], Scope::Project, FileFormat::Json, "mcp");
        add_dir_files(out, &dir.join("agents"), ".json", Scope::Project, FileFormat::Json, "agent");
    }

    fn managed_files(&self, sys: &SystemCtx, out: &mut Vec<Candidate>) {
        let _ = (sys, out);
    }

    fn parse(&self, file: &Candidate, doc: &Value) -> Parsed {
        let parsed = parse_map_at(doc, "mcpServers", Dialect::default());
        if file.kind == "agent" { with_origin(parsed, format!("agent:{}", file_stem(file))) } else { parsed }
    }
}
