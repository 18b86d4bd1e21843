//! Devin CLI (Devin Local): `~/.config/devin/mcp_config.json`, the pre-v3000.3 `config.json`, and
//! `<repo>/.devin/mcp_config.json` with its git-ignored `mcp_config.local.json` overlay.

use std::path::Path;

use serde_json::Value;

use super::{Candidate, ClientSource, Parsed, add_all, parse_map_at};
use crate::discovery::entry::Dialect;
use crate::discovery::formats::FileFormat;
use crate::platform::{Os, SystemCtx, UserCtx};
use muster_proto::v1::Scope;

pub struct Devin;

impl ClientSource for Devin {
    fn id(&self) -> &'static str {
        "devin"
    }

    fn user_files(&self, user: &UserCtx, out: &mut Vec<Candidate>) {
        let dir = user.home.join(".config/devin");
        add_all(out, &dir, &["mcp_config.json", "config.json"], Scope::User, FileFormat::Json, "mcp");
    }

    fn project_files(&self, project: &Path, os: Os, out: &mut Vec<Candidate>) {
        let _ = os;
        add_all(
            out,
            project,
            &[".devin/mcp_config.json", ".devin/mcp_config.local.json"],
            Scope::Project,
            FileFormat::Json,
            "mcp",
        );
    }

    fn managed_files(&self, sys: &SystemCtx, out: &mut Vec<Candidate>) {
        let _ = (sys, out);
    }

    fn parse(&self, file: &Candidate, doc: &Value) -> Parsed {
        let _ = file;
        parse_map_at(doc, "mcpServers", Dialect::default())
    }
}
