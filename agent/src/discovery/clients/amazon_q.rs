//! Amazon Q Developer (CLI and IDE): `default.json` and the legacy `mcp.json` under `~/.aws/amazonq/` and
//! `<repo>/.amazonq/`, plus CLI agent files (`cli-agents/*.json`) whose `mcpServers` are reported
//! with origin `agent:<name>`. Amazon Q parses with serde_json: strict JSON.

use std::path::Path;

use serde_json::Value;

use super::{Candidate, ClientSource, Parsed, add_all, add_dir_files, file_stem, parse_map_at, with_origin};
use crate::discovery::entry::Dialect;
use crate::discovery::formats::FileFormat;
use crate::platform::{Os, SystemCtx, UserCtx};
use muster_proto::v1::Scope;

pub struct AmazonQ;

impl ClientSource for AmazonQ {
    fn id(&self) -> &'static str {
        "amazon-q"
    }

    fn user_files(&self, user: &UserCtx, out: &mut Vec<Candidate>) {
        let dir = user.home.join(".aws/amazonq");
        add_all(out, &dir, &["default.json", "mcp.json"], Scope::User, FileFormat::Json, "mcp");
        add_dir_files(out, &dir.join("cli-agents"), ".json", Scope::User, FileFormat::Json, "agent");
    }

    fn project_files(&self, project: &Path, os: Os, out: &mut Vec<Candidate>) {
        let _ = os;
        let dir = project.join(".amazonq");
        add_all(out, &dir, &["default.json", "mcp.json"], Scope::Project, FileFormat::Json, "mcp");
        add_dir_files(out, &dir.join("cli-agents"), ".json", Scope::Project, FileFormat::Json, "agent");
    }

    fn managed_files(&self, sys: &SystemCtx, out: &mut Vec<Candidate>) {
        let _ = (sys, out);
    }

    fn parse(&self, file: &Candidate, doc: &Value) -> Parsed {
        let parsed = parse_map_at(doc, "mcpServers", Dialect::default());
        if file.kind == "agent" { with_origin(parsed, format!("agent:{}", file_stem(file))) } else { parsed }
    }
}
